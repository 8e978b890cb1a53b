package transport

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

// testPKI is a throwaway CA with a server and a client certificate.
type testPKI struct {
	pool   *x509.CertPool
	server tls.Certificate
	client tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) tls.Certificate {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{
		pool:   pool,
		server: issue(2, "server", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")}),
		client: issue(3, "alice", x509.ExtKeyUsageClientAuth, nil),
	}
}

func (p *testPKI) serverConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool,
		ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
}

// serveTLSListener accepts amqps connections (TLS from the first byte) and
// reports each connection's identity.
func serveTLSListener(t *testing.T, cfg *tls.Config, opts Options) (string, <-chan sasl.Identity) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ids := make(chan sasl.Identity, 4)
	opts.OnOpen = func(c *Conn, o *frames.Open) error {
		if c.TLSState() == nil {
			t.Error("server connection has no TLS state")
		}
		ids <- c.Identity()
		return nil
	}
	srv := NewServer(tls.NewListener(ln, cfg), opts)
	go srv.Serve(context.Background())
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String(), ids
}

func TestAMQPTransportTLSExternal(t *testing.T) {
	pki := newTestPKI(t)
	addr, ids := serveTLSListener(t, pki.serverConfig(), Options{
		Handler:       newTestNode(),
		Authenticator: sasl.NewAuthenticator(sasl.Config{}),
	})
	c, err := Dial(ctxT(t), addr, Options{
		TLSConfig: &tls.Config{RootCAs: pki.pool, Certificates: []tls.Certificate{pki.client}},
		SASL:      sasl.NewExternalClient(""),
	})
	if err != nil {
		t.Fatalf("dial with a client certificate: %v", err)
	}
	defer c.Close(context.Background(), nil)
	if id := <-ids; id.User != "alice" || id.Mechanism != sasl.External {
		t.Fatalf("identity %+v, want alice by EXTERNAL", id)
	}
	// Without a client certificate EXTERNAL is not offered.
	_, err = Dial(ctxT(t), addr, Options{TLSConfig: &tls.Config{RootCAs: pki.pool}, SASL: sasl.NewExternalClient("")})
	if err == nil {
		t.Fatal("EXTERNAL accepted without a client certificate")
	}
}

func TestAMQPTransportTLSInBandUpgrade(t *testing.T) {
	pki := newTestPKI(t)
	users := sasl.MemoryUsers{}
	creds, err := sasl.NewPasswordCredentials("secret")
	if err != nil {
		t.Fatal(err)
	}
	users["bob"] = creds
	var serverTLS atomic.Bool
	node := newTestNode()
	addr := serveTest(t, Options{
		Handler:       node,
		TLSConfig:     pki.serverConfig(),
		Authenticator: sasl.NewAuthenticator(sasl.Config{Users: users}),
		OnOpen: func(c *Conn, o *frames.Open) error {
			serverTLS.Store(c.TLSState() != nil && c.Identity().User == "bob")
			return nil
		},
	})
	c, err := Dial(ctxT(t), addr, Options{
		TLSConfig: &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"},
		TLSInBand: true,
		SASL:      sasl.NewPlainClient("", "bob", "secret"),
	})
	if err != nil {
		t.Fatalf("in-band TLS upgrade: %v", err)
	}
	defer c.Close(context.Background(), nil)
	if c.TLSState() == nil || !serverTLS.Load() {
		t.Fatalf("TLS not in use (client %v, server ok %v)", c.TLSState() != nil, serverTLS.Load())
	}
	s, err := c.NewSession(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctxT(t), "secure", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctxT(t), "secure", ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	go snd.Send(ctxT(t), []byte{0x00, 0x53, 0x77, 0x40}, SendOptions{Settled: true})
	if _, err := rcv.Receive(ctxT(t)); err != nil {
		t.Fatal(err)
	}
}

func TestAMQPTransportTLSGoAMQP(t *testing.T) {
	pki := newTestPKI(t)
	users := sasl.MemoryUsers{}
	creds, _ := sasl.NewPasswordCredentials("pw")
	users["carol"] = creds
	addr, ids := serveTLSListener(t, pki.serverConfig(), Options{
		Handler:       newTestNode(),
		Authenticator: sasl.NewAuthenticator(sasl.Config{Users: users}),
	})
	c, err := amqp.Dial(ctxT(t), "amqps://"+addr, &amqp.ConnOptions{
		TLSConfig: &tls.Config{RootCAs: pki.pool, ServerName: "127.0.0.1"},
		SASLType:  amqp.SASLTypePlain("carol", "pw"),
	})
	if err != nil {
		t.Fatalf("go-amqp over amqps: %v", err)
	}
	defer c.Close()
	if id := <-ids; id.User != "carol" {
		t.Fatalf("identity %+v", id)
	}
}
