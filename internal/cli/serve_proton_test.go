package cli

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
)

// protonClient runs testdata/proton/sasl_client.py with cfg and returns
// what it printed.
func protonClient(t *testing.T, cfg map[string]any) map[string]any {
	t.Helper()
	if err := exec.Command(protonPython, "-c", "import proton").Run(); err != nil {
		t.Skipf("python3-qpid-proton is missing (%v); apt-get install python3-qpid-proton", err)
	}
	arg, _ := json.Marshal(cfg)
	out, err := exec.Command(protonPython, "testdata/proton/sasl_client.py", string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("proton client: %v\n%s", err, out)
	}
	var r map[string]any
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("proton client printed %q", out)
	}
	return r
}

// TestServeProtonPlain: Qpid Proton logs a MessagingUser in with SASL
// PLAIN; a wrong password is refused and others are still served.
func TestServeProtonPlain(t *testing.T) {
	srv := startServeWithUsers(t, userYAML)
	url := "amqp://" + srv.addrs["amqp"].String()
	cfg := func(pass string) map[string]any {
		return map[string]any{"url": url, "address": "proton-plain", "body": "hello proton",
			"user": "alice", "password": pass, "allowed_mechs": "PLAIN"}
	}
	if r := protonClient(t, cfg("secret")); r["ok"] != true || r["body"] != "hello proton" {
		t.Fatalf("PLAIN as alice: %v", r)
	}
	r := protonClient(t, cfg("wrong"))
	if r["ok"] != false || r["type"] != "ConnectionException" || r["error"] != "Connection amqp://"+srv.addrs["amqp"].String()+" disconnected: Condition('amqp:unauthorized-access', 'Authentication failed [mech=PLAIN]')" {
		t.Fatalf("wrong password: %v", r)
	}
	if r := protonClient(t, cfg("secret")); r["ok"] != true {
		t.Fatalf("PLAIN after a failure: %v", r)
	}
}

// TestServeProtonExternal: Qpid Proton over amqps with a client
// certificate logs in with SASL EXTERNAL as the certificate's CN; a
// certificate from another CA fails the TLS handshake.
func TestServeProtonExternal(t *testing.T) {
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "127.0.0.1:0", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", writeUsersConfig(t, userYAML))
	ca, _ := s.caPool(t)
	dir := t.TempDir()
	certFile := func(ca *testCA, cn string) (string, string) {
		c, k, _ := ca.issue(t, cn, true)
		cf, kf := filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")
		writeFile(t, cf, c)
		writeFile(t, kf, k)
		return cf, kf
	}
	url := "amqps://" + s.addrs["amqps"].String()
	cert, key := certFile(clients, "alice")
	good := map[string]any{"url": url, "address": "proton-external", "body": "by certificate",
		"allowed_mechs": "EXTERNAL", "ca": ca, "cert": cert, "key": key}
	if r := protonClient(t, good); r["ok"] != true || r["body"] != "by certificate" {
		t.Fatalf("EXTERNAL as alice: %v", r)
	}
	rc, rk := certFile(newTestCA(t, "rogue CA"), "mallory")
	bad := map[string]any{"url": url, "address": "proton-external", "body": "x",
		"allowed_mechs": "EXTERNAL", "ca": ca, "cert": rc, "key": rk}
	if r := protonClient(t, bad); r["ok"] != false || r["type"] != "ConnectionException" {
		t.Fatalf("untrusted certificate: %v", r)
	}
	if r := protonClient(t, good); r["ok"] != true {
		t.Fatalf("EXTERNAL after the refused client: %v", r)
	}
}

// writeUsersConfig writes a --config file with docs as resources.
func writeUsersConfig(t *testing.T, docs ...string) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "users.yaml")
	writeFile(t, cfg, usersConfigText(docs...))
	return cfg
}
