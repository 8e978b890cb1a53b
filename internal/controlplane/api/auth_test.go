package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

// prefixCaller may do anything to names starting with prefix, and use
// every collection.
type prefixCaller struct{ prefix string }

func (c prefixCaller) Name() string { return "tester" }

func (c prefixCaller) Allowed(a Access) bool {
	return a.Name == "" || strings.HasPrefix(a.Name, c.prefix)
}

// TestAuthenticateHook: without credentials the API answers 401 with
// WWW-Authenticate; with them, what the caller may not do is a 403 Status,
// also for a create whose name is only in the body, and lists leave out
// what the caller may not see.
func TestAuthenticateHook(t *testing.T) {
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{Registry: reg, Authenticate: func(r *http.Request) (Caller, bool) {
		if r.Header.Get("X-Test-User") == "" {
			return nil, false
		}
		return prefixCaller{"myspace."}, true
	}})
	if err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	a := &testAPI{t: t, srv: srv, reg: reg}

	req, _ := http.NewRequest("GET", srv.URL+addrPath, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
		t.Fatalf("no credentials: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}

	const user = "X-Test-User"
	addr := func(name string) string {
		return "kind: Address\napiVersion: enmasse.io/v1beta1\nmetadata: {name: " + name +
			"}\nspec: {address: " + name[strings.IndexByte(name, '.')+1:] + ", type: queue, plan: standard-small-queue}\n"
	}
	if code, body := a.do("POST", addrPath, "application/yaml", addr("default.q1"), user, "x"); code != 403 ||
		!strings.Contains(body, `"reason":"Forbidden"`) || !strings.Contains(body, "default.q1") {
		t.Fatalf("create default.q1: %d %s", code, body)
	}
	if code, body := a.do("GET", addrPath+"/default.q1", "", "", user, "x"); code != 403 {
		t.Fatalf("get default.q1: %d %s", code, body)
	}
	// Created through an open server over the same registry, it stays
	// invisible in this caller's lists.
	open := httptest.NewServer(New(Options{Registry: reg}))
	t.Cleanup(open.Close)
	(&testAPI{t: t, srv: open, reg: reg}).mustDo("POST", addrPath, "application/yaml", addr("default.q1"), 201)
	if code, body := a.do("GET", "/apis/enmasse.io/v1beta1/addresses", "", "", "X-Test-User", "x"); code != 200 || strings.Contains(body, "default.q1") {
		t.Fatalf("list in all namespaces: %d %s", code, body)
	}
	if code, body := a.do("GET", addrPath, "", "", user, "x"); code != 200 || strings.Contains(body, "default.q1") {
		t.Fatalf("list: %d %s", code, body)
	}
}
