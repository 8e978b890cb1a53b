package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/enmasse-go/enmasse/internal/controlplane/model"
	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// MaxBodyBytes bounds a request body.
const MaxBodyBytes = 4 << 20

// Options configure a Server.
type Options struct {
	Registry *registry.Registry
	Logger   *slog.Logger
	// Authenticate, if set, is asked about every /apis request; nil
	// leaves the API open (anonymous access).
	Authenticate Authenticator
	// Bearer says Authenticate also takes `Authorization: Bearer` tokens
	// (RFC 6750): a 401 then offers both schemes.
	Bearer bool
}

// Server serves the REST API (SPEC §3) from a registry.
type Server struct {
	reg    *registry.Registry
	log    *slog.Logger
	audit  *slog.Logger // resource changes, with audit=true
	authn  Authenticator
	bearer bool
}

// New returns a Server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{reg: opts.Registry, log: opts.Logger, audit: opts.Logger.With("audit", true),
		authn: opts.Authenticate, bearer: opts.Bearer}
}

// Register adds the API's routes (/apis and below) to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.Handle("/apis", s)
	mux.Handle("/apis/", s)
}

// route is a parsed API path.
type route struct {
	group, version string
	kind           *model.KindInfo
	namespace      string // "" for all namespaces
	name           string
}

// ServeHTTP dispatches /apis paths:
//
//	/apis                                              discovery
//	/apis/{group}/{version}                            discovery
//	/apis/{group}/{version}/{plural}                   list in all namespaces
//	/apis/{group}/{version}/namespaces/{ns}/{plural}[/{name}]
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r, ok := s.authenticate(w, r)
	if !ok {
		return
	}
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/apis"), "/"), "/")
	if len(parts) == 1 && parts[0] == "" {
		parts = nil
	}
	switch {
	case len(parts) == 0:
		s.discoverGroups(w, r)
		return
	case len(parts) == 1:
		s.discoverGroup(w, r, parts[0])
		return
	case len(parts) == 2:
		s.discoverVersion(w, r, parts[0], parts[1])
		return
	}
	rt := route{group: parts[0], version: parts[1]}
	var plural string
	switch {
	case len(parts) == 3:
		plural = parts[2]
	case len(parts) >= 5 && len(parts) <= 6 && parts[2] == "namespaces":
		rt.namespace, plural = parts[3], parts[4]
		if len(parts) == 6 {
			rt.name = parts[5]
		}
	default:
		writeError(w, r, errorf(http.StatusNotFound, model.ReasonNotFound, "the server could not find the requested resource %s", r.URL.Path), nil, "")
		return
	}
	k, ok := model.LookupResource(rt.group, plural)
	if !ok || !k.Serves(rt.version) {
		writeError(w, r, errorf(http.StatusNotFound, model.ReasonNotFound,
			"the server does not serve %s in %s/%s (kinds: addressspaces, addresses in enmasse.io/v1beta1; messagingusers in user.enmasse.io/v1beta1; addressspaceplans, addressplans in admin.enmasse.io/v1beta2)",
			plural, rt.group, rt.version), nil, "")
		return
	}
	rt.kind = k
	if rt.namespace != "" {
		if fe := model.ValidateNamespace(rt.namespace); fe != nil {
			writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "invalid namespace %q in the path", rt.namespace), k, rt.name)
			return
		}
	}
	a := Access{Verb: verbOf(r, rt), Kind: k, Namespace: rt.namespace, Name: rt.name}
	if !allowed(r, a) {
		writeError(w, r, forbidden(r, a), k, rt.name)
		return
	}
	s.serveResource(w, r, rt)
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, rt route) {
	collection := rt.name == ""
	method := r.Method
	switch {
	case collection && (method == http.MethodGet || method == http.MethodHead):
		s.list(w, r, rt)
	case collection && method == http.MethodPost && rt.namespace != "":
		s.create(w, r, rt)
	case !collection && (method == http.MethodGet || method == http.MethodHead):
		s.get(w, r, rt)
	case !collection && method == http.MethodPut:
		s.replace(w, r, rt)
	case !collection && method == http.MethodPatch:
		s.patch(w, r, rt)
	case !collection && method == http.MethodDelete:
		s.delete(w, r, rt)
	default:
		allowed := "GET, POST"
		if !collection {
			allowed = "GET, PUT, PATCH, DELETE"
		} else if rt.namespace == "" {
			allowed = "GET"
		}
		w.Header().Set("Allow", allowed)
		writeError(w, r, errorf(http.StatusMethodNotAllowed, model.ReasonMethodNotAllowed,
			"the server does not allow %s on %s (allowed: %s)", method, r.URL.Path, allowed), rt.kind, rt.name)
	}
}

// withVersion returns o as served at version v: the apiVersion follows the
// request.
func withVersion(o model.Object, rt route) model.Object {
	want := rt.kind.Group + "/" + rt.version
	if o.GetTypeMeta().APIVersion == want {
		return o
	}
	c := model.Shallow(o)
	c.GetTypeMeta().APIVersion = want
	return c
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, rt route) {
	o, ok := s.reg.Get(rt.kind, rt.namespace, rt.name)
	if !ok {
		writeError(w, r, registry.ErrNotFound, rt.kind, rt.name)
		return
	}
	write(w, r, http.StatusOK, withVersion(o, rt))
}

// list is the answer to a collection GET.
type list struct {
	APIVersion string         `json:"apiVersion"`
	Kind       string         `json:"kind"`
	Metadata   model.ListMeta `json:"metadata"`
	Items      []model.Object `json:"items"`
}

func (s *Server) filter(r *http.Request) (func(model.Object) bool, error) {
	q := r.URL.Query()
	labels, err := parseLabelSelector(q.Get("labelSelector"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "%v", err)
	}
	fields, err := parseFieldSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "%v", err)
	}
	if len(labels) == 0 && fields == nil {
		return nil, nil
	}
	return func(o model.Object) bool {
		return labels.matches(o.GetMeta().Labels) && (fields == nil || fields(o))
	}, nil
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, rt route) {
	q := r.URL.Query()
	match, err := s.filter(r)
	if err != nil {
		writeError(w, r, err, rt.kind, "")
		return
	}
	if c := callerFrom(r.Context()); c != nil {
		// A caller sees only what it may read one by one.
		verb, sel := verbOf(r, rt), match
		match = func(o model.Object) bool {
			m := o.GetMeta()
			return c.Allowed(Access{Verb: verb, Kind: rt.kind, Namespace: m.Namespace, Name: m.Name}) && (sel == nil || sel(o))
		}
	}
	if v := q.Get("watch"); v == "true" || v == "1" {
		s.watch(w, r, rt, match)
		return
	}
	objs, rv := s.reg.List(rt.kind, rt.namespace)
	items := make([]model.Object, 0, len(objs))
	after := ""
	if c := q.Get("continue"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "invalid continue token"), rt.kind, "")
			return
		}
		after = string(b)
	}
	limit := 0
	if l := q.Get("limit"); l != "" {
		if limit, err = strconv.Atoi(l); err != nil || limit < 0 {
			writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "limit %q: want a non-negative integer", l), rt.kind, "")
			return
		}
	}
	var next string
	for _, o := range objs {
		m := o.GetMeta()
		if after != "" && m.Namespace+"/"+m.Name <= after {
			continue
		}
		if match != nil && !match(o) {
			continue
		}
		if limit > 0 && len(items) == limit {
			last := items[len(items)-1].GetMeta()
			next = base64.RawURLEncoding.EncodeToString([]byte(last.Namespace + "/" + last.Name))
			break
		}
		items = append(items, withVersion(o, rt))
	}
	write(w, r, http.StatusOK, &list{
		APIVersion: rt.kind.Group + "/" + rt.version, Kind: rt.kind.ListKind,
		Metadata: model.ListMeta{ResourceVersion: strconv.FormatUint(rv, 10), Continue: next},
		Items:    items,
	})
}

// readBody reads a request body into JSON, from JSON or YAML.
func readBody(r *http.Request, k *model.KindInfo, name string) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "reading the request body: %v", err)
	}
	if len(body) > MaxBodyBytes {
		return nil, errorf(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge", "the request body is larger than %d bytes", MaxBodyBytes)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "the request body is empty; send a %s as JSON or YAML", kindName(k))
	}
	ct := r.Header.Get("Content-Type")
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.TrimSpace(strings.ToLower(mt))
	switch {
	case model.IsYAML(mt):
		js, err := model.ToJSON(body)
		if err != nil {
			return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "the request body is not valid YAML: %v", err)
		}
		return js, nil
	case mt == "" || mt == "application/json" || mt == "application/merge-patch+json" ||
		mt == "application/strategic-merge-patch+json" || mt == "text/plain":
		if !json.Valid(body) {
			// Be lenient with clients that send YAML without saying so.
			if js, err := model.ToJSON(body); err == nil && mt != "application/json" {
				return js, nil
			}
			return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "the request body is not valid JSON (send YAML with Content-Type: application/yaml)")
		}
		return body, nil
	}
	return nil, errorf(http.StatusUnsupportedMediaType, model.ReasonUnsupportedMedia,
		"Content-Type %q is not supported; use application/json, application/yaml or application/merge-patch+json", ct)
}

// decodeFor decodes a body as an object of the route's kind, checking
// apiVersion, kind, namespace and name against the path.
func decodeFor(js []byte, rt route) (model.Object, error) {
	var tm model.TypeMeta
	_ = json.Unmarshal(js, &tm)
	if tm.Kind != "" && tm.Kind != rt.kind.Kind {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "kind %q does not match the path, which is for %s", tm.Kind, rt.kind.Kind)
	}
	if tm.APIVersion != "" {
		if k, ok := model.LookupTypeMeta(tm.APIVersion, rt.kind.Kind); !ok || k != rt.kind {
			return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest, "apiVersion %q does not match the path, which is for %s/%s", tm.APIVersion, rt.group, rt.version)
		}
	}
	obj := rt.kind.New()
	if err := model.DecodeJSON(js, obj); err != nil {
		return nil, badRequest(err, rt.kind, rt.name)
	}
	m := obj.GetMeta()
	if m.Namespace != "" && m.Namespace != rt.namespace {
		return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest,
			"metadata.namespace %q does not match the namespace of the request %q", m.Namespace, rt.namespace)
	}
	m.Namespace = rt.namespace
	if rt.name != "" {
		if m.Name != "" && m.Name != rt.name {
			return nil, errorf(http.StatusBadRequest, model.ReasonBadRequest,
				"metadata.name %q does not match the name in the path %q", m.Name, rt.name)
		}
		m.Name = rt.name
	}
	return obj, nil
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, rt route) {
	js, err := readBody(r, rt.kind, "")
	if err != nil {
		writeError(w, r, err, rt.kind, "")
		return
	}
	obj, err := decodeFor(js, rt)
	if err != nil {
		writeError(w, r, err, rt.kind, "")
		return
	}
	if a := (Access{Verb: "create", Kind: rt.kind, Namespace: rt.namespace, Name: obj.GetMeta().Name}); !allowed(r, a) {
		writeError(w, r, forbidden(r, a), rt.kind, a.Name)
		return
	}
	created, err := s.Create(r.Context(), obj)
	if err != nil {
		writeError(w, r, err, rt.kind, obj.GetMeta().Name)
		return
	}
	s.auditChange(r, "create", created)
	write(w, r, http.StatusCreated, withVersion(created, rt))
}

func (s *Server) replace(w http.ResponseWriter, r *http.Request, rt route) {
	js, err := readBody(r, rt.kind, rt.name)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	obj, err := decodeFor(js, rt)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	updated, err := s.Replace(r.Context(), obj)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	s.auditChange(r, "update", updated)
	write(w, r, http.StatusOK, withVersion(updated, rt))
}

func (s *Server) patch(w http.ResponseWriter, r *http.Request, rt route) {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if strings.HasPrefix(ct, "application/json-patch+json") {
		writeError(w, r, errorf(http.StatusUnsupportedMediaType, model.ReasonUnsupportedMedia,
			"JSON patch is not supported; send a merge patch (application/merge-patch+json or YAML)"), rt.kind, rt.name)
		return
	}
	js, err := readBody(r, rt.kind, rt.name)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	var p any
	if err := json.Unmarshal(js, &p); err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "the merge patch is not valid: %v", err), rt.kind, rt.name)
		return
	}
	pm, ok := p.(map[string]any)
	if !ok {
		writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "a merge patch must be an object"), rt.kind, rt.name)
		return
	}
	updated, err := s.Patch(r.Context(), rt.kind, rt.namespace, rt.name, pm)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	s.auditChange(r, "patch", updated)
	write(w, r, http.StatusOK, withVersion(updated, rt))
}

// deleteOptions is the part of Kubernetes DeleteOptions the API honours.
type deleteOptions struct {
	Preconditions *struct {
		ResourceVersion string `json:"resourceVersion,omitempty"`
		UID             string `json:"uid,omitempty"`
	} `json:"preconditions,omitempty"`
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, rt route) {
	var rv, uid string
	if body, _ := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes)); len(bytes.TrimSpace(body)) > 0 {
		js, err := model.ToJSON(body)
		var opts deleteOptions
		if err == nil {
			err = json.Unmarshal(js, &opts)
		}
		if err != nil {
			writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "the body of a DELETE must be DeleteOptions: %v", err), rt.kind, rt.name)
			return
		}
		if opts.Preconditions != nil {
			rv, uid = opts.Preconditions.ResourceVersion, opts.Preconditions.UID
		}
	}
	if v := r.URL.Query().Get("resourceVersion"); v != "" {
		rv = v
	}
	deleted, err := s.Delete(r.Context(), rt.kind, rt.namespace, rt.name, rv, uid)
	if err != nil {
		writeError(w, r, err, rt.kind, rt.name)
		return
	}
	s.auditChange(r, "delete", deleted)
	write(w, r, http.StatusOK, withVersion(deleted, rt))
}

// watchEvent is one line of a watch stream.
type watchEvent struct {
	Type   string `json:"type"`
	Object any    `json:"object"`
}

func (s *Server) watch(w http.ResponseWriter, r *http.Request, rt route, match func(model.Object) bool) {
	q := r.URL.Query()
	from, err := registry.ParseResourceVersion(q.Get("resourceVersion"))
	if err != nil {
		writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "resourceVersion %q: want a number", q.Get("resourceVersion")), rt.kind, "")
		return
	}
	ctx := r.Context()
	if t := q.Get("timeoutSeconds"); t != "" {
		secs, err := strconv.Atoi(t)
		if err != nil || secs < 0 {
			writeError(w, r, errorf(http.StatusBadRequest, model.ReasonBadRequest, "timeoutSeconds %q: want a non-negative integer", t), rt.kind, "")
			return
		}
		if secs > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, time.Duration(secs)*time.Second)
			defer cancel()
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	fl, _ := w.(http.Flusher)
	enc := json.NewEncoder(w)
	wt, err := s.reg.Watch(rt.kind, rt.namespace, from, match)
	if err != nil {
		w.WriteHeader(http.StatusOK)
		st := newStatus(http.StatusGone, "Expired", fmt.Sprintf("too old resource version: %d; list again and watch from the list's resourceVersion", from))
		if !errors.Is(err, registry.ErrGone) {
			st = toStatus(err, rt.kind, "")
		}
		_ = enc.Encode(watchEvent{Type: "ERROR", Object: st})
		return
	}
	defer wt.Stop()
	w.WriteHeader(http.StatusOK)
	if fl != nil {
		fl.Flush()
	}
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-wt.Events():
			if !ok {
				if err := wt.Err(); err != nil {
					_ = enc.Encode(watchEvent{Type: "ERROR", Object: newStatus(http.StatusGone, "Expired", err.Error())})
				}
				return
			}
			if err := enc.Encode(watchEvent{Type: string(ev.Type), Object: withVersion(ev.Object, rt)}); err != nil {
				return
			}
			// Send what is queued in one write.
			if len(wt.Events()) == 0 && fl != nil {
				fl.Flush()
			}
		}
	}
}
