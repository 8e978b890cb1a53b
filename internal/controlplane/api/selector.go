package api

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

// requirement is one term of a label selector.
type requirement struct {
	key    string
	op     string // "=", "!=", "in", "notin", "exists", "!"
	values []string
}

// selector matches labels; the zero value matches everything.
type selector []requirement

var (
	setTerm = regexp.MustCompile(`^\s*([^\s!=(),]+)\s+(in|notin)\s+\(([^)]*)\)\s*`)
)

// parseLabelSelector parses the Kubernetes label selector syntax:
// `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`,
// separated by commas.
func parseLabelSelector(s string) (selector, error) {
	var sel selector
	rest := strings.TrimSpace(s)
	for rest != "" {
		var term string
		if m := setTerm.FindStringSubmatch(rest); m != nil {
			var vals []string
			for _, v := range strings.Split(m[3], ",") {
				if v = strings.TrimSpace(v); v != "" {
					vals = append(vals, v)
				}
			}
			sel = append(sel, requirement{key: m[1], op: m[2], values: vals})
			rest = strings.TrimSpace(rest[len(m[0]):])
			if rest != "" {
				if rest[0] != ',' {
					return nil, fmt.Errorf("labelSelector %q: expected ',' after %q", s, strings.TrimSpace(m[0]))
				}
				rest = strings.TrimSpace(rest[1:])
			}
			continue
		}
		term, rest, _ = strings.Cut(rest, ",")
		term = strings.TrimSpace(term)
		rest = strings.TrimSpace(rest)
		r, err := parseTerm(term)
		if err != nil {
			return nil, fmt.Errorf("labelSelector %q: %v", s, err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

func parseTerm(t string) (requirement, error) {
	switch {
	case t == "":
		return requirement{}, fmt.Errorf("empty term")
	case strings.HasPrefix(t, "!"):
		k := strings.TrimSpace(t[1:])
		return requirement{key: k, op: "!"}, checkKey(k)
	case strings.Contains(t, "!="):
		k, v, _ := strings.Cut(t, "!=")
		return requirement{key: strings.TrimSpace(k), op: "!=", values: []string{strings.TrimSpace(v)}}, checkKey(strings.TrimSpace(k))
	case strings.Contains(t, "=="):
		k, v, _ := strings.Cut(t, "==")
		return requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}, checkKey(strings.TrimSpace(k))
	case strings.Contains(t, "="):
		k, v, _ := strings.Cut(t, "=")
		return requirement{key: strings.TrimSpace(k), op: "=", values: []string{strings.TrimSpace(v)}}, checkKey(strings.TrimSpace(k))
	}
	return requirement{key: t, op: "exists"}, checkKey(t)
}

func checkKey(k string) error {
	if k == "" || strings.ContainsAny(k, " \t()!=,") {
		return fmt.Errorf("invalid label key %q", k)
	}
	return nil
}

func (s selector) matches(labels map[string]string) bool {
	for _, r := range s {
		v, ok := labels[r.key]
		switch r.op {
		case "=":
			if !ok || v != r.values[0] {
				return false
			}
		case "!=":
			if ok && v == r.values[0] {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!":
			if ok {
				return false
			}
		case "in":
			if !ok || !contains(r.values, v) {
				return false
			}
		case "notin":
			if ok && contains(r.values, v) {
				return false
			}
		}
	}
	return true
}

func contains(l []string, v string) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// parseFieldSelector supports metadata.name and metadata.namespace with =,
// == and !=, as Kubernetes does for custom resources.
func parseFieldSelector(s string) (func(model.Object) bool, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	type term struct {
		field, value string
		neg          bool
	}
	var terms []term
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		var f, v string
		neg := false
		switch {
		case strings.Contains(t, "!="):
			f, v, _ = strings.Cut(t, "!=")
			neg = true
		case strings.Contains(t, "=="):
			f, v, _ = strings.Cut(t, "==")
		case strings.Contains(t, "="):
			f, v, _ = strings.Cut(t, "=")
		default:
			return nil, fmt.Errorf("fieldSelector %q: want field=value", s)
		}
		f = strings.TrimSpace(f)
		if f != "metadata.name" && f != "metadata.namespace" {
			return nil, fmt.Errorf("fieldSelector %q: field %q is not supported (metadata.name, metadata.namespace)", s, f)
		}
		terms = append(terms, term{f, strings.TrimSpace(v), neg})
	}
	return func(o model.Object) bool {
		m := o.GetMeta()
		for _, t := range terms {
			got := m.Name
			if t.field == "metadata.namespace" {
				got = m.Namespace
			}
			if (got == t.value) == t.neg {
				return false
			}
		}
		return true
	}, nil
}
