package sasl

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// Test users. Deriving credentials costs PBKDF2 runs, so they are made once.
var testUsers = sync.OnceValue(func() MemoryUsers {
	users := MemoryUsers{}
	for user, pass := range map[string]string{"alice": "secret", "bob": "hunter2"} {
		c, err := NewPasswordCredentials(pass)
		if err != nil {
			panic(err)
		}
		users[user] = c
	}
	// carol has only SCRAM-SHA-256 credentials.
	users["carol"] = only256{users["alice"]}
	return users
})

// only256 hides a user's SCRAM-SHA-512 credentials.
type only256 struct{ Credentials }

func (o only256) Scram(mech string) (scram.StoredCredentials, bool) {
	if mech != ScramSHA256 {
		return scram.StoredCredentials{}, false
	}
	return o.Credentials.Scram(mech)
}

// testAuth is an Authenticator offering everything, shared by tests that do
// not depend on the configuration.
var testAuth = sync.OnceValue(func() Authenticator {
	return NewAuthenticator(Config{AllowAnonymous: true, Users: testUsers(), AllowPlainWithoutTLS: true, Tokens: fakeTokens{}})
})

// fakeTokens accepts the token "good-token" for "alice" (or for whoever the
// client asks to act as, if that is "alice@space"); "down" is a temporary
// failure; everything else is refused.
type fakeTokens struct{}

func (fakeTokens) VerifyToken(token, authzid string, _ ConnInfo) (string, time.Time, error) {
	switch {
	case token == "down":
		return "", time.Time{}, &Error{Code: CodeSysTemp, Reason: "issuer down"}
	case token != "good-token":
		return "", time.Time{}, errors.New("bad token")
	case authzid == "" || authzid == "alice":
		return "alice", fakeExpiry, nil
	case authzid == "alice@space":
		return authzid, fakeExpiry, nil
	}
	return "", time.Time{}, refine(ErrAuthzDenied, "alice may not act as %q", authzid)
}

// fakeExpiry is when fakeTokens' good token expires.
var fakeExpiry = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

var loopback = ConnInfo{RemoteAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}}

// exchange drives c against a, as the transport does: sasl-init with the
// initial response, challenges and responses, then Verify on success.
func exchange(t *testing.T, a Authenticator, info ConnInfo, c ClientMech) (Identity, error) {
	t.Helper()
	srv, err := a.Start(c.Name(), info)
	if err != nil {
		return Identity{}, err
	}
	resp, err := c.InitialResponse()
	if err != nil {
		t.Fatalf("%s InitialResponse: %v", c.Name(), err)
	}
	for range 5 {
		challenge, done, err := srv.Step(resp)
		if err != nil {
			if !done {
				t.Errorf("%s Step failed with done=false", c.Name())
			}
			return srv.Identity(), err
		}
		if done {
			if err := c.Verify(challenge); err != nil {
				t.Fatalf("%s Verify: %v", c.Name(), err)
			}
			return srv.Identity(), nil
		}
		if resp, err = c.Step(challenge); err != nil {
			t.Fatalf("%s Step: %v", c.Name(), err)
		}
	}
	t.Fatalf("%s: exchange did not finish", c.Name())
	return Identity{}, nil
}

// selfSigned returns a self-signed certificate usable for TLS client and
// server authentication.
func selfSigned(t testing.TB, cn string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"enmasse test"}},
		DNSNames:              []string{cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// tlsState runs a real TLS handshake over net.Pipe and returns the server's
// connection state. clientCert may be nil (no certificate presented).
func tlsState(t *testing.T, clientAuth tls.ClientAuthType, trusted, clientCert *tls.Certificate) *tls.ConnectionState {
	t.Helper()
	serverCert := selfSigned(t, "broker.test")
	pool := x509.NewCertPool()
	if trusted != nil {
		pool.AddCert(trusted.Leaf)
	}
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	srv := tls.Server(sc, &tls.Config{
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   clientAuth,
		ClientCAs:    pool,
		// net.Pipe is unbuffered: a ticket written after the handshake
		// would block, since nobody reads the client side.
		SessionTicketsDisabled: true,
	})
	roots := x509.NewCertPool()
	roots.AddCert(serverCert.Leaf)
	cfg := &tls.Config{RootCAs: roots, ServerName: "broker.test"}
	if clientCert != nil {
		// Present the certificate even if the server's CA list does not
		// name its issuer, so untrusted certificates reach the server.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return clientCert, nil
		}
	}
	// A failed handshake must fail the test, not hang on the unbuffered pipe.
	deadline := time.Now().Add(10 * time.Second)
	cc.SetDeadline(deadline)
	sc.SetDeadline(deadline)
	cli := tls.Client(cc, cfg)
	errc := make(chan error, 1)
	go func() { errc <- cli.Handshake() }()
	if err := srv.Handshake(); err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	st := srv.ConnectionState()
	return &st
}
