package cli

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// apiDo sends an HTTP request with basic credentials (none if user is "").
func apiDo(t *testing.T, srv *testServe, method, path, user, pass, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.url(path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestServeAdminGenerated: without anonymous access serve generates an
// administrator password in DATA-DIR/admin-password (0600), prints the
// path (never the password), and _admin may then manage everything,
// across namespaces and plans; the password survives a restart.
func TestServeAdminGenerated(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, "--allow-anonymous=false", "--data-dir", dir)
	path := filepath.Join(dir, "admin-password")
	if !strings.Contains(srv.logs.String(), "REST API administrator _admin, password in: "+path+"\n") {
		t.Fatalf("path not printed; logs:\n%s", srv.logs)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("password file: %v %v", st, err)
	}
	b, _ := os.ReadFile(path)
	pass := strings.TrimSpace(string(b))
	if len(pass) < 20 || strings.Contains(srv.logs.String(), pass) {
		t.Fatalf("password %q too short or logged", pass)
	}
	const space = "apiVersion: enmasse.io/v1beta1\nkind: AddressSpace\nmetadata: {name: team1, namespace: other}\nspec: {type: standard, plan: standard-unlimited}\n"
	if code, body := apiDo(t, srv, "POST", "/apis/enmasse.io/v1beta1/namespaces/other/addressspaces", adminUser, pass, space); code != http.StatusCreated {
		t.Fatalf("admin creates a space in another namespace: %d %s", code, body)
	}
	if code, body := apiDo(t, srv, "GET", "/apis/admin.enmasse.io/v1beta2/namespaces/default/addressspaceplans", adminUser, pass, ""); code != http.StatusOK || !strings.Contains(body, "standard-unlimited") {
		t.Fatalf("admin lists plans: %d %s", code, body)
	}
	if code, _ := apiDo(t, srv, "GET", "/apis/enmasse.io/v1beta1/addressspaces", adminUser, "wrong", ""); code != http.StatusUnauthorized {
		t.Fatalf("wrong admin password: %d, want 401", code)
	}
	if !regexp.MustCompile(`audit=true verb=create kind=AddressSpace namespace=other name=team1 user=_admin`).MatchString(srv.logs.String()) {
		t.Errorf("no audit line naming _admin")
	}
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	srv = startServe(t, "--allow-anonymous=false", "--data-dir", dir)
	if code, body := apiDo(t, srv, "GET", "/apis/enmasse.io/v1beta1/namespaces/other/addressspaces/team1", adminUser, pass, ""); code != http.StatusOK {
		t.Fatalf("same password after restart: %d %s", code, body)
	}
}

// TestServeAdminPasswordFile: --admin-password-file supplies the password;
// a missing file stops serve at start.
func TestServeAdminPasswordFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "pw")
	writeFile(t, file, "correct horse\n")
	srv := startServe(t, "--allow-anonymous=false", "--admin-password-file", file)
	if code, body := apiDo(t, srv, "GET", "/apis/enmasse.io/v1beta1/addressspaces", adminUser, "correct horse", ""); code != http.StatusOK {
		t.Fatalf("admin from file: %d %s", code, body)
	}
	opts := mustParseServe(t, "--allow-anonymous=false", "--admin-password-file", filepath.Join(t.TempDir(), "missing"),
		"--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--amqp", "", "--mqtt", "")
	if err := runServe(t.Context(), opts, io.Discard); err == nil || !strings.Contains(err.Error(), "administrator password") {
		t.Fatalf("missing password file: %v", err)
	}
}

// TestServeNoAdminWithAnonymous: with anonymous access on there is no
// administrator (the API is open) and no password file.
func TestServeNoAdminWithAnonymous(t *testing.T) {
	dir := t.TempDir()
	startServe(t, "--data-dir", dir)
	if _, err := os.Stat(filepath.Join(dir, "admin-password")); err == nil {
		t.Fatal("admin-password created with anonymous access on")
	}
}
