package cli

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
)

const certViewerYAML = `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.alice}
spec:
  username: alice
  authentication: {type: password, password: c2VjcmV0}
  authorization:
  - operations: ["view"]
`

// TestServeHTTPSClientCertificate: over HTTPS with --tls-client-ca a
// verified client certificate is the MessagingUser of its common name for
// the REST API (view, not manage); a certificate naming nobody is 401 and
// audited; an Authorization header wins over the certificate.
func TestServeHTTPSClientCertificate(t *testing.T) {
	clients := newTestCA(t, "client CA")
	s := startServe(t, "--tls-self-signed", "--amqps", "", "--mqtts", "", "--http-tls", "--tls-client-ca", clients.file,
		"--allow-anonymous=false", "--config", writeUsersConfig(t, certViewerYAML))
	_, pool := s.caPool(t)
	base := "https://" + s.addrs["https"].String()
	get := func(cn, method, path, body string, basic bool) (int, string) {
		t.Helper()
		cfg := &tls.Config{RootCAs: pool}
		if cn != "" {
			cfg.Certificates = []tls.Certificate{clients.clientCert(t, cn)}
		}
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
		defer client.CloseIdleConnections()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/yaml")
		if basic {
			req.SetBasicAuth("alice", "wrong")
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	const users = "/apis/user.enmasse.io/v1beta1/namespaces/default/messagingusers"
	if code, body := get("alice", "GET", users, "", false); code != http.StatusOK || !strings.Contains(body, "default.alice") {
		t.Fatalf("alice by certificate: %d %s", code, body)
	}
	addr := "apiVersion: enmasse.io/v1beta1\nkind: Address\nmetadata: {name: default.a1}\nspec: {address: a1, type: queue, plan: standard-small-queue}\n"
	if code, _ := get("alice", "POST", "/apis/enmasse.io/v1beta1/namespaces/default/addresses", addr, false); code != http.StatusForbidden {
		t.Fatalf("alice (view only) creating an address: %d, want 403", code)
	}
	if code, _ := get("mallory", "GET", users, "", false); code != http.StatusUnauthorized {
		t.Fatalf("certificate of an unknown user: %d, want 401", code)
	}
	if code, _ := get("alice", "GET", users, "", true); code != http.StatusUnauthorized {
		t.Fatalf("wrong basic credentials with a good certificate: %d, want 401", code)
	}
	if code, _ := get("", "GET", users, "", false); code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d, want 401", code)
	}
	if !strings.Contains(s.logs.String(), `protocol=http remote=127.0.0.1:`) || !strings.Contains(s.logs.String(), `mechanism=client-certificate user=mallory reason="client certificate names no MessagingUser"`) {
		t.Error("no audit line for mallory's certificate")
	}
}
