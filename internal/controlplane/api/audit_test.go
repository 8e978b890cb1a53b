package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/enmasse-go/enmasse/internal/controlplane/registry"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditResourceChanges: every change through the API is one audit
// line with verb, kind, namespace, name and user; reads are not audited.
func TestAuditResourceChanges(t *testing.T) {
	reg, err := registry.Open(registry.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf syncBuffer
	s := New(Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	if err := s.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(WithUser(r.Context(), "alice@default")))
	}))
	t.Cleanup(func() { srv.Close(); reg.Close() })
	a := &testAPI{t: t, srv: srv, reg: reg}
	a.mustDo("POST", addrPath, "application/yaml", `
kind: Address
apiVersion: enmasse.io/v1beta1
metadata: {name: default.orders}
spec: {address: orders, type: queue, plan: standard-small-queue}
`, 201)
	a.mustDo("PATCH", addrPath+"/default.orders", "application/merge-patch+json", `{"metadata":{"labels":{"a":"b"}}}`, 200)
	a.mustDo("GET", addrPath+"/default.orders", "", "", 200)
	a.mustDo("DELETE", addrPath+"/default.orders", "", "", 200)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var audit []string
	for _, l := range lines {
		if strings.Contains(l, "audit=true") {
			audit = append(audit, l)
		}
	}
	if len(audit) != 3 {
		t.Fatalf("%d audit lines, want 3 (create, patch, delete):\n%s", len(audit), buf.String())
	}
	for i, verb := range []string{"create", "patch", "delete"} {
		for _, want := range []string{"verb=" + verb, "kind=Address", "namespace=default", "name=default.orders", "user=alice@default"} {
			if !strings.Contains(audit[i], want) {
				t.Errorf("audit line %d lacks %q: %s", i, want, audit[i])
			}
		}
	}
}
