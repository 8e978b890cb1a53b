package tlsconfig

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testCA issues certificates for the tests.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
	pool *x509.CertPool
}

var serial int64

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns a PEM certificate and key for cn, a server certificate for
// 127.0.0.1 or a client certificate.
func (ca *testCA) issue(t *testing.T, cn string, client bool) (certPEM, keyPEM []byte, sn int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	if client {
		tmpl.ExtKeyUsage, tmpl.IPAddresses = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), serial
}

func (ca *testCA) clientCert(t *testing.T, cn string) tls.Certificate {
	t.Helper()
	c, k, _ := ca.issue(t, cn, true)
	pair, err := tls.X509KeyPair(c, k)
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	// Write and rename, as a well-behaved rotation would; the tests of
	// half-written files write them in place on purpose.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// logBuffer collects log output safely.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fixture is a server certificate pair on disk and a TLS echo listener
// serving it through a Reloader.
type fixture struct {
	dir, cert, key string
	ca             *testCA
	r              *Reloader
	addr           string
	logs           *logBuffer
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	f := &fixture{dir: t.TempDir(), ca: newTestCA(t, "server CA"), logs: &logBuffer{}}
	f.cert, f.key = filepath.Join(f.dir, "tls.crt"), filepath.Join(f.dir, "tls.key")
	c, k, _ := f.ca.issue(t, "server", false)
	writeFile(t, f.cert, c)
	writeFile(t, f.key, k)
	opts.CertFile, opts.KeyFile = f.cert, f.key
	opts.Logger = slog.New(slog.NewTextHandler(f.logs, nil))
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.r = r
	f.addr = serveEcho(t, r.ServerConfig())
	return f
}

// rotate writes a new server pair and returns its serial number.
func (f *fixture) rotate(t *testing.T) int64 {
	t.Helper()
	c, k, sn := f.ca.issue(t, "server", false)
	writeFile(t, f.key, k)
	writeFile(t, f.cert, c)
	return sn
}

// serveEcho accepts TLS connections on a loopback port; each connection
// answers every line with the client certificate's common name ("-" for
// none) and the line.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Go(func() {
				defer nc.Close()
				tc := tls.Server(nc, cfg)
				if tc.Handshake() != nil {
					return
				}
				cn := "-"
				if st := tc.ConnectionState(); len(st.VerifiedChains) > 0 {
					cn = st.VerifiedChains[0][0].Subject.CommonName
				}
				sc := bufio.NewScanner(tc)
				for sc.Scan() {
					fmt.Fprintf(tc, "%s %s\n", cn, sc.Text())
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func dialTLS(t *testing.T, addr string, cfg *tls.Config) (*tls.Conn, error) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close() })
	}
	return c, err
}

// servedSerial handshakes with the server and returns the serial number
// of the certificate it presented.
func (f *fixture) servedSerial(t *testing.T) int64 {
	t.Helper()
	c, err := dialTLS(t, f.addr, &tls.Config{RootCAs: f.ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

func echo(t *testing.T, c *tls.Conn, line string) string {
	t.Helper()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := fmt.Fprintf(c, "%s\n", line); err != nil {
		t.Fatal(err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSuffix(got, "\n")
}

// eventually polls cond until it returns nil or 5 s pass.
func eventually(t *testing.T, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestTLSReloadAfterRotation(t *testing.T) {
	f := newFixture(t, Options{ReloadInterval: 50 * time.Millisecond})
	first := f.servedSerial(t)
	old, err := dialTLS(t, f.addr, &tls.Config{RootCAs: f.ca.pool})
	if err != nil {
		t.Fatal(err)
	}
	if got := echo(t, old, "before"); got != "- before" {
		t.Fatalf("echo = %q", got)
	}

	second := f.rotate(t)
	eventually(t, func() error {
		if sn := f.servedSerial(t); sn != second {
			return fmt.Errorf("served serial %d after rotation, want %d (first was %d)", sn, second, first)
		}
		return nil
	})
	// The connection made before the rotation is unaffected.
	if got := echo(t, old, "after"); got != "- after" {
		t.Fatalf("old connection echo = %q", got)
	}
	if sn := old.ConnectionState().PeerCertificates[0].SerialNumber.Int64(); sn != first {
		t.Errorf("old connection's certificate changed to %d", sn)
	}
	if sn := f.r.Certificate().Leaf.SerialNumber.Int64(); sn != second {
		t.Errorf("Certificate() serial %d, want %d", sn, second)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `msg="TLS certificate reloaded" file=`+f.cert) {
		t.Errorf("no reload log line:\n%s", logs)
	}
}

func TestTLSReloadKeepsOldPairWhenNewOneIsBroken(t *testing.T) {
	f := newFixture(t, Options{ReloadInterval: -1}) // check at every handshake
	first := f.servedSerial(t)

	// A rotation caught half-way: new certificate, old key.
	c, k, second := f.ca.issue(t, "server", false)
	if err := os.WriteFile(f.cert, c, 0o600); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if sn := f.servedSerial(t); sn != first {
			t.Fatalf("served %d with a mismatched key, want the old %d", sn, first)
		}
	}
	logs := f.logs.String()
	if n := strings.Count(logs, "level=ERROR"); n != 1 {
		t.Errorf("%d error lines for one broken pair, want 1:\n%s", n, logs)
	}
	if !strings.Contains(logs, "private key does not match public key") || !strings.Contains(logs, f.cert) {
		t.Errorf("error does not say what is wrong with which file:\n%s", logs)
	}
	// Garbage is refused the same way, and logged again (new contents).
	if err := os.WriteFile(f.key, []byte("-----BEGIN PRIVATE KEY-----\nnot base64\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sn := f.servedSerial(t); sn != first {
		t.Fatalf("served %d with a garbage key", sn)
	}
	if err := f.r.Reload(); err == nil {
		t.Error("Reload() = nil with a garbage key")
	}
	if n := strings.Count(f.logs.String(), "level=ERROR"); n != 2 {
		t.Errorf("%d error lines, want 2:\n%s", n, f.logs)
	}
	// Finishing the rotation takes effect without anything else.
	writeFile(t, f.key, k)
	if sn := f.servedSerial(t); sn != second {
		t.Fatalf("served %d after the key was written, want %d", sn, second)
	}
	// A deleted file keeps the pair too.
	os.Remove(f.key)
	if sn := f.servedSerial(t); sn != second {
		t.Fatalf("served %d with the key file gone", sn)
	}
}

func TestTLSReloadIntervalLimitsChecks(t *testing.T) {
	f := newFixture(t, Options{ReloadInterval: time.Hour})
	first := f.servedSerial(t)
	second := f.rotate(t)
	if sn := f.servedSerial(t); sn != first {
		t.Fatalf("files re-read before the interval passed: served %d", sn)
	}
	if err := f.r.Reload(); err != nil {
		t.Fatal(err)
	}
	if sn := f.servedSerial(t); sn != second {
		t.Fatalf("served %d after Reload, want %d", sn, second)
	}
}

func TestTLSMinVersion12(t *testing.T) {
	f := newFixture(t, Options{})
	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		_, err := dialTLS(t, f.addr, &tls.Config{RootCAs: f.ca.pool, MinVersion: v, MaxVersion: v})
		if err == nil || !strings.Contains(err.Error(), "remote error: tls: protocol version not supported") {
			t.Errorf("client limited to %s: err = %v, want the server's protocol version alert", tls.VersionName(v), err)
		}
	}
	c, err := dialTLS(t, f.addr, &tls.Config{RootCAs: f.ca.pool, MaxVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS 1.2 client: %v", err)
	}
	if v := c.ConnectionState().Version; v != tls.VersionTLS12 {
		t.Errorf("negotiated %s", tls.VersionName(v))
	}
}

func TestTLSClientCertificates(t *testing.T) {
	clients := newTestCA(t, "client CA")
	caFile := filepath.Join(t.TempDir(), "clients.crt")
	writeFile(t, caFile, clients.pem)
	f := newFixture(t, Options{ClientCAFile: caFile, ReloadInterval: -1})
	if !f.r.ClientAuth() {
		t.Fatal("ClientAuth() = false with a client CA file")
	}

	tests := map[string]struct {
		certs   []tls.Certificate
		want    string // echo prefix
		wantErr bool
	}{
		"verified certificate": {certs: []tls.Certificate{clients.clientCert(t, "alice")}, want: "alice"},
		"no certificate":       {want: "-"},
		"untrusted issuer":     {certs: []tls.Certificate{newTestCA(t, "rogue CA").clientCert(t, "mallory")}, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: f.ca.pool}
			if len(tc.certs) > 0 {
				// Present the certificate even when its issuer is not among
				// the CAs the server names (Go's client would send none).
				cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
					return &tc.certs[0], nil
				}
			}
			c, err := dialTLS(t, f.addr, cfg)
			if err == nil {
				// TLS 1.3: the server's verdict on the client certificate
				// arrives with the first read.
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if _, err = fmt.Fprintf(c, "hi\n"); err == nil {
					var line string
					line, err = bufio.NewReader(c).ReadString('\n')
					if err == nil && line != tc.want+" hi\n" {
						t.Fatalf("echo = %q, want %q", line, tc.want+" hi\n")
					}
				}
			}
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error: %v", err, tc.wantErr)
			}
			if tc.wantErr && !strings.Contains(err.Error(), "certificate") {
				t.Errorf("err = %v, want a certificate alert", err)
			}
		})
	}

	// The client CA file is reloaded too: trust a second CA.
	other := newTestCA(t, "second client CA")
	writeFile(t, caFile, append(append([]byte{}, clients.pem...), other.pem...))
	c, err := dialTLS(t, f.addr, &tls.Config{RootCAs: f.ca.pool, Certificates: []tls.Certificate{other.clientCert(t, "bob")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := echo(t, c, "x"); got != "bob x" {
		t.Fatalf("echo = %q after adding the CA", got)
	}
	if !strings.Contains(f.logs.String(), `msg="TLS client CA reloaded" file=`+caFile+" certs=2") {
		t.Errorf("no client CA reload line:\n%s", f.logs)
	}
}

func TestTLSNewErrors(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, "ca")
	c, k, _ := ca.issue(t, "server", false)
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	writeFile(t, cert, c)
	writeFile(t, key, k)
	_, otherKey, _ := ca.issue(t, "other", false)
	wrongKey := filepath.Join(dir, "wrong.pem")
	writeFile(t, wrongKey, otherKey)
	empty := filepath.Join(dir, "empty.pem")
	writeFile(t, empty, []byte("# no certificates here\n"))

	tests := map[string]struct {
		opts Options
		want string
	}{
		"no files":         {Options{}, "a certificate file and a key file are both required"},
		"missing cert":     {Options{CertFile: filepath.Join(dir, "nope.pem"), KeyFile: key}, "nope.pem: no such file"},
		"mismatched key":   {Options{CertFile: cert, KeyFile: wrongKey}, "certificate " + cert + " with key " + wrongKey + ": tls: private key does not match public key"},
		"key as cert":      {Options{CertFile: key, KeyFile: key}, "certificate " + key},
		"empty client CA":  {Options{CertFile: cert, KeyFile: key, ClientCAFile: empty}, "client CA " + empty + ": no PEM certificate found"},
		"missing clientCA": {Options{CertFile: cert, KeyFile: key, ClientCAFile: filepath.Join(dir, "none")}, "client CA: open "},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.opts)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestTLSServerConfigALPN(t *testing.T) {
	f := newFixture(t, Options{})
	addr := serveEcho(t, f.r.ServerConfig("h2", "http/1.1"))
	c, err := dialTLS(t, addr, &tls.Config{RootCAs: f.ca.pool, NextProtos: []string{"h2"}})
	if err != nil {
		t.Fatal(err)
	}
	if p := c.ConnectionState().NegotiatedProtocol; p != "h2" {
		t.Errorf("ALPN = %q, want h2", p)
	}
}

// A client whose pool comes from CAPool verifies the server; a file
// without a certificate, or none, is an error naming the file.
func TestTLSCAPool(t *testing.T) {
	f := newFixture(t, Options{})
	caFile := filepath.Join(f.dir, "ca.pem")
	writeFile(t, caFile, f.ca.pem)
	pool, err := CAPool(caFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dialTLS(t, f.addr, &tls.Config{RootCAs: pool}); err != nil {
		t.Fatalf("dial with CAPool's pool: %v", err)
	}
	empty := filepath.Join(f.dir, "empty.pem")
	writeFile(t, empty, []byte("# none\n"))
	if _, err := CAPool(empty); err == nil || !strings.Contains(err.Error(), empty+": no PEM certificate found") {
		t.Fatalf("CAPool(empty): %v", err)
	}
	if _, err := CAPool(filepath.Join(f.dir, "nope.pem")); err == nil || !strings.Contains(err.Error(), "nope.pem") {
		t.Fatalf("CAPool(missing): %v", err)
	}
}

// TestTLSHandshakesShareConfig: handshakes get one configuration while the
// files stay the same (every connection keeps its own for its life), and
// a new one once the certificate rotated.
func TestTLSHandshakesShareConfig(t *testing.T) {
	f := newFixture(t, Options{ReloadInterval: 50 * time.Millisecond})
	get := f.r.ServerConfig().GetConfigForClient
	a, _ := get(nil)
	b, _ := get(nil)
	if a != b {
		t.Fatal("two handshakes with the same files got two configurations")
	}
	f.rotate(t)
	eventually(t, func() error {
		c, _ := get(nil)
		if c == a {
			return fmt.Errorf("the configuration from before the rotation is still served")
		}
		if sn := c.Certificates[0].Leaf.SerialNumber; sn.Cmp(a.Certificates[0].Leaf.SerialNumber) == 0 {
			return fmt.Errorf("a new configuration with the old certificate")
		}
		return nil
	})
}
