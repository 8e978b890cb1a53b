package router_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/tlsconfig"
)

// startTLSRouter serves r over amqps (TLS from the first byte) with a
// development certificate naming hosts, and returns the address and the CA
// pool that verifies it.
func startTLSRouter(t *testing.T, r *router.Router, hosts ...string) (string, *x509.CertPool) {
	t.Helper()
	pki, err := tlsconfig.SelfSigned(t.TempDir(), hosts)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := tlsconfig.New(tlsconfig.Options{CertFile: pki.ServerCert, KeyFile: pki.ServerKey})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(tls.NewListener(ln, tc.ServerConfig()), transport.Options{
		Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true}), AllowNoSASL: true,
	})
	go srv.Serve(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	caPEM, err := os.ReadFile(pki.CACert)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return ln.Addr().String(), pool
}

// TestRouterPlacesBySNI: the TLS server name selects the address space,
// before the open hostname (SPEC §4); a server name that is no space's
// falls through to the open hostname, then to the default space.
func TestRouterPlacesBySNI(t *testing.T) {
	r := router.New(router.Options{Broker: broker.New(broker.Options{})})
	r.SetSpace(router.SpaceConfig{Name: "default", Namespace: "default"})
	r.SetSpace(router.SpaceConfig{Name: "myspace", Namespace: "ns1"})
	r.SetSpace(router.SpaceConfig{Name: "other"})
	for sp, addr := range map[string]string{"default": "in-default", "myspace": "in-myspace", "other": "in-other"} {
		if err := r.SetAddress(sp, addr, router.Anycast); err != nil {
			t.Fatal(err)
		}
	}
	addr, pool := startTLSRouter(t, r, "myspace", "myspace.ns1", "other")

	tests := map[string]struct {
		sni, hostname string
		want          string // the space's address a sender can attach to
	}{
		"sni":                    {"myspace", "", "in-myspace"},
		"sni with namespace":     {"myspace.ns1", "", "in-myspace"},
		"sni before hostname":    {"myspace", "other", "in-myspace"},
		"unknown sni, hostname":  {"localhost", "myspace", "in-myspace"},
		"unknown sni, no other":  {"localhost", "", "in-default"},
		"hostname without sni":   {"", "other", "in-other"},
		"sni other, hostname my": {"other", "myspace", "in-other"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: pool, ServerName: tc.sni}
			if tc.sni == "" {
				cfg.ServerName = "127.0.0.1" // verified against the IP SAN; Go sends no SNI for an IP
			}
			c, err := amqp.Dial(ctxT(t, 10*time.Second), "amqps://"+addr, &amqp.ConnOptions{
				TLSConfig: cfg, HostName: tc.hostname, SASLType: amqp.SASLTypeAnonymous(),
			})
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			t.Cleanup(func() { c.Close() })
			s, err := c.NewSession(ctxT(t, 5*time.Second), nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []string{"in-default", "in-myspace", "in-other"} {
				_, err := s.NewSender(ctxT(t, 5*time.Second), a, nil)
				var ae *amqp.Error
				switch {
				case a == tc.want && err != nil:
					t.Errorf("attach to %s: %v, want the connection in its space", a, err)
				case a != tc.want && !(errors.As(err, &ae) && ae.Condition == amqp.ErrCondNotFound):
					t.Errorf("attach to %s: %v, want amqp:not-found (connection in the space of %s)", a, err, tc.want)
				}
			}
		})
	}
}
