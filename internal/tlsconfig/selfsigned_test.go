package tlsconfig

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func readFiles(t *testing.T, paths ...string) [][]byte {
	t.Helper()
	out := make([][]byte, len(paths))
	for i, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = b
	}
	return out
}

func (p *DevPKI) files() []string { return []string{p.CACert, p.CAKey, p.ServerCert, p.ServerKey} }

// verifyDevPKI checks that the server certificate chains to the CA for
// every host, at time now.
func verifyDevPKI(t *testing.T, p *DevPKI, now time.Time, hosts ...string) *x509.Certificate {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(readFiles(t, p.CACert)[0]) {
		t.Fatal("ca.crt holds no certificate")
	}
	pair, err := tls.LoadX509KeyPair(p.ServerCert, p.ServerKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	for _, h := range hosts {
		_, err := leaf.Verify(x509.VerifyOptions{DNSName: h, Roots: pool, CurrentTime: now})
		if err != nil {
			t.Errorf("server certificate for %q: %v", h, err)
		}
	}
	return leaf
}

func TestTLSSelfSignedCreatesThenReuses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	p, err := SelfSigned(dir, []string{"Broker.Example", "10.1.2.3", "0.0.0.0", "[::]", "", "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.CACreated || !p.ServerCreated {
		t.Fatalf("first run: %+v", p)
	}
	wantHosts := []string{"localhost", "127.0.0.1", "::1", "broker.example", "10.1.2.3"}
	if !slices.Equal(p.Hosts, wantHosts) {
		t.Errorf("hosts %q, want %q", p.Hosts, wantHosts)
	}
	leaf := verifyDevPKI(t, p, time.Now(), wantHosts...)
	if leaf.NotAfter != p.NotAfter || time.Until(p.NotAfter) < 300*24*time.Hour {
		t.Errorf("NotAfter %v (reported %v)", leaf.NotAfter, p.NotAfter)
	}
	if leaf.VerifyHostname("0.0.0.0") == nil {
		t.Error("the certificate names the wildcard address")
	}
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
		t.Error("server certificate lacks serverAuth")
	}
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v (%v), want 0700", st.Mode().Perm(), err)
	}
	for _, f := range []string{p.CAKey, p.ServerKey} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v (%v), want 0600", f, st.Mode().Perm(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 4 {
		t.Errorf("dir holds %d entries, want the 4 files (temporary files left?)", len(entries))
	}

	before := readFiles(t, p.files()...)
	again, err := SelfSigned(dir, []string{"broker.example"})
	if err != nil {
		t.Fatal(err)
	}
	if again.CACreated || again.ServerCreated {
		t.Fatalf("second run regenerated: %+v", again)
	}
	if !again.NotAfter.Equal(p.NotAfter) {
		t.Errorf("second run NotAfter %v, want %v", again.NotAfter, p.NotAfter)
	}
	for i, b := range readFiles(t, p.files()...) {
		if !bytes.Equal(b, before[i]) {
			t.Errorf("%s changed on reuse", p.files()[i])
		}
	}

	// A host the certificate does not name: a new server certificate from
	// the same CA.
	third, err := SelfSigned(dir, []string{"other.example"})
	if err != nil {
		t.Fatal(err)
	}
	if third.CACreated || !third.ServerCreated {
		t.Fatalf("new host: %+v", third)
	}
	after := readFiles(t, p.files()...)
	if !bytes.Equal(after[0], before[0]) || !bytes.Equal(after[1], before[1]) {
		t.Error("the CA changed when only the server certificate had to")
	}
	verifyDevPKI(t, third, time.Now(), "other.example", "localhost")
}

func TestTLSSelfSignedRenewsExpiringServerCert(t *testing.T) {
	dir := t.TempDir()
	// Created 360 days ago: the server certificate expires in 5 days.
	old, err := selfSigned(dir, nil, time.Now().Add(-360*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	caBefore := readFiles(t, old.CACert, old.CAKey)
	p, err := SelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.CACreated || !p.ServerCreated {
		t.Fatalf("expiring server certificate not renewed alone: %+v", p)
	}
	if !p.NotAfter.After(old.NotAfter.Add(300 * 24 * time.Hour)) {
		t.Errorf("renewed NotAfter %v, old %v", p.NotAfter, old.NotAfter)
	}
	caAfter := readFiles(t, p.CACert, p.CAKey)
	if !bytes.Equal(caBefore[0], caAfter[0]) || !bytes.Equal(caBefore[1], caAfter[1]) {
		t.Error("CA replaced")
	}
	verifyDevPKI(t, p, time.Now(), "localhost", "127.0.0.1", "::1")

	// A CA that expired (created 11 years ago) is replaced, with a new
	// server certificate.
	dir2 := t.TempDir()
	if _, err := selfSigned(dir2, nil, time.Now().Add(-11*365*24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	p2, err := SelfSigned(dir2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !p2.CACreated || !p2.ServerCreated {
		t.Fatalf("expired CA not replaced: %+v", p2)
	}
	verifyDevPKI(t, p2, time.Now(), "localhost")
}

func TestTLSSelfSignedDamagedCA(t *testing.T) {
	tests := map[string]struct {
		damage func(p *DevPKI) error
		want   string
	}{
		"key missing":  {func(p *DevPKI) error { return os.Remove(p.CAKey) }, "ca.key: no such file"},
		"cert missing": {func(p *DevPKI) error { return os.Remove(p.CACert) }, "ca.crt: no such file"},
		"garbage key": {func(p *DevPKI) error { return os.WriteFile(p.CAKey, []byte("garbage"), 0o600) },
			"delete " + "DIR" + " to create a new CA"},
		"server cert as CA": {func(p *DevPKI) error {
			files := readFilesNoT(p.ServerCert, p.ServerKey)
			if err := os.WriteFile(p.CACert, files[0], 0o644); err != nil {
				return err
			}
			return os.WriteFile(p.CAKey, files[1], 0o600)
		}, "is not a CA certificate"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			p, err := SelfSigned(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.damage(p); err != nil {
				t.Fatal(err)
			}
			_, err = SelfSigned(dir, nil)
			want := strings.ReplaceAll(tc.want, "DIR", dir)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want it to contain %q", err, want)
			}
		})
	}
}

func readFilesNoT(paths ...string) [][]byte {
	out := make([][]byte, len(paths))
	for i, p := range paths {
		out[i], _ = os.ReadFile(p)
	}
	return out
}

// A damaged server pair is simply issued again.
func TestTLSSelfSignedDamagedServerCert(t *testing.T) {
	dir := t.TempDir()
	p, err := SelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.ServerKey, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err = SelfSigned(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.CACreated || !p.ServerCreated {
		t.Fatalf("%+v", p)
	}
	verifyDevPKI(t, p, time.Now(), "localhost")
}

// The generated files work with New, and a client trusting ca.crt
// verifies the server.
func TestTLSSelfSignedServes(t *testing.T) {
	p, err := SelfSigned(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(Options{CertFile: p.ServerCert, KeyFile: p.ServerKey})
	if err != nil {
		t.Fatal(err)
	}
	addr := serveEcho(t, r.ServerConfig())
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(readFiles(t, p.CACert)[0])
	for _, name := range []string{"localhost", ""} { // "" verifies the IP 127.0.0.1
		c, err := dialTLS(t, addr, &tls.Config{RootCAs: pool, ServerName: name})
		if err != nil {
			t.Fatalf("ServerName %q: %v", name, err)
		}
		if got := echo(t, c, "ok"); got != "- ok" {
			t.Fatalf("echo %q", got)
		}
	}
}
