package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/enmasse-go/enmasse"

// rule constrains the non-test imports of a package and the packages below
// it. Paths starting with "internal/" or "cmd/" are relative to the module;
// others are full import paths. A path prefix p matches p and p/...
type rule struct {
	pkg string
	// only, when non-nil, lists what pkg may import directly besides the
	// standard library and its own subtree. An empty non-nil list means
	// the standard library only.
	only []string
	// forbid lists what pkg must not depend on, directly or not.
	forbid []string
}

// rules is the import policy. Add a line here with every new package that
// has a row in STYLE table c.1.
var rules = []rule{
	{pkg: "internal/amqp/types", only: []string{}},
	{pkg: "internal/amqp/frames", only: []string{"internal/amqp/types"}},
	{pkg: "internal/amqp/message", only: []string{"internal/amqp/types"}},
	{pkg: "internal/amqp/sasl", only: []string{"github.com/xdg-go", "golang.org/x/text"}},
	{pkg: "internal/amqp", forbid: []string{"internal/cli", "internal/router", "internal/broker"}},
	{pkg: "internal/amqp/transport", forbid: []string{"internal/amqp/message"}},
	{pkg: "internal/router", forbid: []string{"internal/broker", "internal/cli"}},
	{pkg: "internal/broker", forbid: []string{"internal/router", "internal/cli"}},
	{pkg: "internal/store", only: []string{"internal/store"}},
	{pkg: "internal/mqtt/packets", only: []string{}},
	{pkg: "internal/mqtt", only: []string{
		"internal/mqtt/packets", "internal/amqp/transport", "internal/amqp/message", "internal/amqp/types", "internal/amqp/frames",
		"github.com/gorilla/websocket", // MQTT over WebSocket (MQTT 5.0 §6)
		"golang.org/x/sys/unix",        // epoll for parked idle connections (park_linux.go)
	}},
	{pkg: "internal/controlplane", forbid: []string{"internal/router", "internal/broker", "internal/amqp/transport"}},
	{pkg: "internal/version", only: []string{}},
	{pkg: "internal/telemetry", only: []string{}},
	{pkg: "internal/tlsconfig", only: []string{}},
	{pkg: "internal/oidc", only: []string{"github.com/go-jose/go-jose/v4"}},
	{pkg: "cmd/enmasse", only: []string{"internal/cli", "internal/version"}},
	{pkg: "internal/cli", forbid: []string{
		"internal/testenv", "internal/amqp/amqptest", "internal/store/storetest", "internal/archtest",
	}},
}

// pkgInfo is the part of `go list -json` output the rules need.
type pkgInfo struct {
	ImportPath string
	Standard   bool
	Imports    []string
}

func TestImportBoundaries(t *testing.T) {
	pkgs, err := listPackages()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			if len(packagesUnder(pkgs, full(r.pkg))) == 0 {
				t.Skipf("no package %s yet", r.pkg)
			}
			for _, v := range check(pkgs, r) {
				t.Error(v)
			}
		})
	}
}

// listPackages runs `go list -deps` over the whole module. Packages that
// fail to compile are still listed (-e): their imports are what counts.
func listPackages() (map[string]*pkgInfo, error) {
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Standard,Imports", module+"/...")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]*pkgInfo{}
	dec := json.NewDecoder(&stdout)
	for {
		var p pkgInfo
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs[p.ImportPath] = &p
	}
	return pkgs, nil
}

// full turns a rule path into an import path.
func full(p string) string {
	if strings.HasPrefix(p, "internal/") || strings.HasPrefix(p, "cmd/") {
		return module + "/" + p
	}
	return p
}

// short trims the module prefix for messages.
func short(p string) string {
	return strings.TrimPrefix(p, module+"/")
}

func under(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func packagesUnder(pkgs map[string]*pkgInfo, prefix string) []string {
	var out []string
	for path := range pkgs {
		if under(path, prefix) {
			out = append(out, path)
		}
	}
	slices.Sort(out)
	return out
}

// check returns one message per violation of r, each with its import chain.
func check(pkgs map[string]*pkgInfo, r rule) []string {
	var out []string
	root := full(r.pkg)
	for _, path := range packagesUnder(pkgs, root) {
		p := pkgs[path]
		if r.only != nil {
			for _, imp := range p.Imports {
				if !allowed(pkgs, root, r.only, imp) {
					out = append(out, fmt.Sprintf("%s imports %s; allowed: %s\n\tchain: %s",
						short(path), short(imp), describeAllowed(r), chainString([]string{path, imp})))
				}
			}
		}
		for _, f := range r.forbid {
			if chain := findChain(pkgs, path, full(f)); chain != nil {
				out = append(out, fmt.Sprintf("%s depends on %s, which is forbidden\n\tchain: %s",
					short(path), short(chain[len(chain)-1]), chainString(chain)))
			}
		}
	}
	return out
}

func allowed(pkgs map[string]*pkgInfo, root string, only []string, imp string) bool {
	if p, ok := pkgs[imp]; ok && p.Standard {
		return true
	}
	if under(imp, root) {
		return true
	}
	for _, a := range only {
		if under(imp, full(a)) {
			return true
		}
	}
	return false
}

func describeAllowed(r rule) string {
	s := "the standard library"
	for _, a := range r.only {
		s += ", " + a
	}
	return s
}

// findChain returns the shortest import chain from `from` to a package
// under target, or nil.
func findChain(pkgs map[string]*pkgInfo, from, target string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		if cur != from && under(cur, target) {
			var chain []string
			for p := cur; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		p, ok := pkgs[cur]
		if !ok {
			continue
		}
		for _, imp := range p.Imports {
			if _, seen := prev[imp]; !seen {
				prev[imp] = cur
				queue = append(queue, imp)
			}
		}
	}
	return nil
}

func chainString(chain []string) string {
	s := make([]string, len(chain))
	for i, p := range chain {
		s[i] = short(p)
	}
	return strings.Join(s, " → ")
}

// TestImportBoundariesChecker runs the checker on a made-up module, so the
// rules are known to bite even before the packages they name exist.
func TestImportBoundariesChecker(t *testing.T) {
	m := func(p string) string { return module + "/" + p }
	pkgs := map[string]*pkgInfo{}
	add := func(path string, std bool, imports ...string) {
		pkgs[path] = &pkgInfo{ImportPath: path, Standard: std, Imports: imports}
	}
	add("fmt", true)
	add("golang.org/x/text/unicode/norm", false)
	add("github.com/xdg-go/scram", false, "golang.org/x/text/unicode/norm")
	add(m("internal/amqp/types"), false, "fmt")
	add(m("internal/amqp/types/internal/buf"), false, "fmt", m("internal/amqp/types"))
	add(m("internal/amqp/frames"), false, "fmt", m("internal/amqp/types"), m("internal/amqp/transport"))
	add(m("internal/amqp/sasl"), false, "github.com/xdg-go/scram", "golang.org/x/text/unicode/norm")
	add(m("internal/amqp/transport"), false, m("internal/broker"))
	add(m("internal/broker"), false, m("internal/cli"))
	add(m("internal/cli"), false, "fmt")

	tests := map[string]struct {
		rule rule
		want []string
	}{
		"std only, own subtree allowed": {rules[0], nil},
		"direct violation": {rules[1], []string{
			"internal/amqp/frames imports internal/amqp/transport; allowed: the standard library, internal/amqp/types\n" +
				"\tchain: internal/amqp/frames → internal/amqp/transport",
		}},
		"third-party prefixes": {rules[3], nil},
		"transitive chain": {rule{pkg: "internal/amqp/transport", forbid: []string{"internal/cli"}}, []string{
			"internal/amqp/transport depends on internal/cli, which is forbidden\n" +
				"\tchain: internal/amqp/transport → internal/broker → internal/cli",
		}},
		"unlisted project packages refused": {
			rule{pkg: "internal/amqp/frames", only: []string{"github.com/xdg-go"}},
			[]string{
				"internal/amqp/frames imports internal/amqp/types; allowed: the standard library, github.com/xdg-go\n" +
					"\tchain: internal/amqp/frames → internal/amqp/types",
				"internal/amqp/frames imports internal/amqp/transport; allowed: the standard library, github.com/xdg-go\n" +
					"\tchain: internal/amqp/frames → internal/amqp/transport",
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := check(pkgs, tc.rule)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
