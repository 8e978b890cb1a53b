package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

const apiUsersYAML = `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.viewer}
spec:
  username: viewer
  authentication: {type: password, password: dmlldw==}
  authorization:
  - operations: ["view"]
---
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.admin}
spec:
  username: admin
  authentication: {type: password, password: YWRtaW4=}
  authorization:
  - operations: ["manage"]
---
apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: other}
spec: {type: standard, plan: standard-unlimited}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: other.secret}
spec: {address: secret, type: queue, plan: standard-small-queue}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.orders}
spec: {address: orders, type: queue, plan: standard-small-queue}
`

// TestServeAPIAuthentication: with anonymous access off the REST API wants
// HTTP basic credentials of a MessagingUser; view reads, manage writes,
// and a user sees and changes only its own address space.
func TestServeAPIAuthentication(t *testing.T) {
	srv := startServeWithUsers(t, strings.Split(apiUsersYAML, "---\n")...)
	base := "http://" + srv.addrs["http"].String()
	const addrs = "/apis/enmasse.io/v1beta1/namespaces/default/addresses"
	do := func(method, path, user, pass, body string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/yaml")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	newAddr := func(name string) string {
		return "apiVersion: enmasse.io/v1beta1\nkind: Address\nmetadata: {name: " + name +
			"}\nspec: {address: " + name[strings.IndexByte(name, '.')+1:] + ", type: queue, plan: standard-small-queue}\n"
	}

	if code, _, _ := do("GET", "/healthz", "", "", ""); code != 200 {
		t.Fatalf("/healthz without credentials: %d", code)
	}
	code, body, h := do("GET", addrs, "", "", "")
	if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Basic") || !strings.Contains(body, `"kind":"Status"`) {
		t.Fatalf("no credentials: %d %q %s", code, h.Get("WWW-Authenticate"), body)
	}
	if code, body, _ := do("GET", addrs, "viewer", "Xyzzy-wrong", ""); code != 401 {
		t.Fatalf("wrong password: %d %s", code, body)
	}
	if code, body, _ := do("GET", addrs, "nobody", "view", ""); code != 401 {
		t.Fatalf("unknown user: %d %s", code, body)
	}

	// viewer: reads its own space only, writes nothing.
	code, body, _ = do("GET", addrs, "viewer", "view", "")
	if code != 200 || !strings.Contains(body, "default.orders") || strings.Contains(body, "other.secret") {
		t.Fatalf("viewer lists addresses: %d %s", code, body)
	}
	code, body, _ = do("GET", "/apis/enmasse.io/v1beta1/addressspaces", "viewer", "view", "")
	if code != 200 || !strings.Contains(body, `"name":"default"`) || strings.Contains(body, `"name":"other"`) {
		t.Fatalf("viewer lists address spaces: %d %s", code, body)
	}
	code, body, _ = do("GET", addrs+"?watch=true&timeoutSeconds=1", "viewer", "view", "")
	if code != 200 || !strings.Contains(body, "default.orders") || strings.Contains(body, "other.secret") {
		t.Fatalf("viewer watches addresses: %d %s", code, body)
	}
	code, body, _ = do("GET", "/apis/enmasse.io/v1beta1/addresses?watch=true&timeoutSeconds=1", "viewer", "view", "")
	if code != 200 || !strings.Contains(body, "default.orders") || strings.Contains(body, "other.secret") {
		t.Fatalf("viewer watches addresses in all namespaces: %d %s", code, body)
	}
	for path, want := range map[string]int{
		addrs + "/default.orders": 200,
		addrs + "/other.secret":   403,
		addrs + "/other.missing":  403, // the same answer whether it exists or not
		"/apis/enmasse.io/v1beta1/namespaces/default/addressspaces/other": 403,
		"/apis/admin.enmasse.io/v1beta2/namespaces/default/addressplans":  200,
	} {
		code, body, _ := do("GET", path, "viewer", "view", "")
		if code != want {
			t.Errorf("viewer GET %s: %d, want %d: %s", path, code, want, body)
		}
		if code == 403 {
			var st struct{ Kind, Reason string }
			if json.Unmarshal([]byte(body), &st); st.Kind != "Status" || st.Reason != "Forbidden" {
				t.Errorf("viewer GET %s: body %s, want a Forbidden Status", path, body)
			}
		}
	}
	if code, body, _ := do("POST", addrs, "viewer", "view", newAddr("default.v1")); code != 403 {
		t.Fatalf("viewer creates an address: %d %s", code, body)
	}

	// admin (manage): writes in its own space, nowhere else; no plans.
	if code, body, _ := do("POST", addrs, "admin", "admin", newAddr("default.a1")); code != 201 {
		t.Fatalf("admin creates default.a1: %d %s", code, body)
	}
	if code, body, _ := do("POST", addrs, "admin", "admin", newAddr("other.a1")); code != 403 {
		t.Fatalf("admin creates other.a1: %d %s", code, body)
	}
	if code, body, _ := do("DELETE", addrs+"/other.secret", "admin", "admin", ""); code != 403 {
		t.Fatalf("admin deletes other.secret: %d %s", code, body)
	}
	if code, body, _ := do("DELETE", addrs+"/default.a1", "admin", "admin", ""); code != 200 {
		t.Fatalf("admin deletes default.a1: %d %s", code, body)
	}
	if code, body, _ := do("GET", addrs+"/default.orders", "admin", "admin", ""); code != 200 {
		t.Fatalf("manage implies view: %d %s", code, body)
	}
	plan := "apiVersion: admin.enmasse.io/v1beta2\nkind: AddressPlan\nmetadata: {name: p1}\nspec: {addressType: queue, resources: {broker: 0.1}}\n"
	if code, body, _ := do("POST", "/apis/admin.enmasse.io/v1beta2/namespaces/default/addressplans", "admin", "admin", plan); code != 403 {
		t.Fatalf("admin creates a plan: %d %s", code, body)
	}

	logs := srv.logs.String()
	for _, want := range []string{
		`msg="resource create" component=controlplane audit=true verb=create kind=Address namespace=default name=default.a1 user=admin`,
		`msg="resource delete" component=controlplane audit=true verb=delete kind=Address namespace=default name=default.a1 user=admin`,
		`msg="authentication failed" component=controlplane audit=true protocol=http`,
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	if strings.Contains(logs, "Xyzzy") {
		t.Errorf("a password in the logs")
	}

	// The CLI sends --user/--password, or ENMASSE_USER/ENMASSE_PASSWORD.
	if code, out, errOut := runCLI(t, "get", "addresses", "--server", base, "--user", "viewer", "--password", "view"); code != 0 ||
		!strings.Contains(out, "default.orders") || strings.Contains(out, "other.secret") {
		t.Fatalf("enmasse get --user viewer: %d %s%s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "get", "addresses", "--server", base); code == 0 || !strings.Contains(errOut, "authentication required") {
		t.Fatalf("enmasse get without credentials: %d %s", code, errOut)
	}
	t.Setenv("ENMASSE_USER", "admin")
	t.Setenv("ENMASSE_PASSWORD", "admin")
	if code, out, errOut := runCLI(t, "describe", "address", "default.orders", "--server", base); code != 0 {
		t.Fatalf("enmasse describe with ENMASSE_USER: %d %s%s", code, out, errOut)
	}
}

// adminConfig is a --config file with a MessagingUser admin (password
// admin) that may manage the default address space through the API.
func adminConfig(t *testing.T) string {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "admin.yaml")
	writeFile(t, cfg, `resources:
- apiVersion: user.enmasse.io/v1beta1
  kind: MessagingUser
  metadata: {name: default.admin}
  spec:
    username: admin
    authentication: {type: password, password: YWRtaW4=}
    authorization:
    - operations: ["manage"]
`)
	return cfg
}
