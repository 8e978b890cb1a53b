package cli

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
	"github.com/eclipse/paho.golang/paho"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/oidc/oidctest"
)

const oidcAudience = "enmasse-test"

// oidcUsersYAML: alice is a password user (a Keycloak token for "alice"
// logs her in, as with EnMasse's standard authservice); fred is a
// federated user whose identity provider calls him "fred.external".
const oidcUsersYAML = `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.alice}
spec:
  username: alice
  authentication: {type: password, password: c2VjcmV0}
  authorization:
  - addresses: ["*"]
    operations: ["send", "recv"]
---
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.fred}
spec:
  username: fred
  authentication: {type: federated, provider: keycloak, federatedUsername: fred.external}
  authorization:
  - addresses: ["fred*"]
    operations: ["send", "recv"]
  - operations: ["view"]
`

func startServeOIDC(t *testing.T, iss *oidctest.Issuer) *testServe {
	t.Helper()
	return startServeWithUsersArgs(t, []string{"--oidc-issuer", iss.URL, "--oidc-audience", oidcAudience},
		strings.Split(oidcUsersYAML, "---\n")...)
}

// dialFrom opens a go-amqp connection to addr from the loopback address
// 127.0.0.<from>, so that failures of one test case do not slow down the
// next through the per-address backoff.
func dialFrom(t *testing.T, addr net.Addr, from byte, opts *amqp.ConnOptions) (*amqp.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, from)}}
	nc, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	c, err := amqp.NewConn(ctx, nc, opts)
	if err != nil {
		nc.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func xoauth2(t *testing.T, user, token string) *amqp.ConnOptions {
	return &amqp.ConnOptions{SASLType: amqp.SASLTypeXOAUTH2(user, token, 0), HostName: "localhost"}
}

// TestServeOAuthGoAMQP: go-amqp's XOAUTH2 logs a password user in with an
// RS256 or ES256 token, and a federated user by federatedUsername; the
// rights are the MessagingUser's.
func TestServeOAuthGoAMQP(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	addr := srv.addrs["amqp"]
	for i, tok := range []string{iss.Token(t, iss.Claims("alice", oidcAudience)), iss.ECToken(t, iss.Claims("alice", oidcAudience))} {
		c, err := dialFrom(t, addr, byte(2+i), xoauth2(t, "", tok))
		if err != nil {
			t.Fatalf("token %d: %v", i, err)
		}
		sendReceive(t, c, "orders", "by token")
	}
	// fred by federatedUsername; his rights cover fred* only.
	c, err := dialFrom(t, addr, 4, xoauth2(t, "fred@default", iss.Token(t, iss.Claims("fred.external", oidcAudience))))
	if err != nil {
		t.Fatal(err)
	}
	sendReceive(t, c, "fred-inbox", "federated")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewSender(ctx, "orders", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("fred sending to orders: %v, want amqp:unauthorized-access", err)
	}
}

// TestServeOAuthRefused: bad tokens get the XOAUTH2 error response and
// outcome auth, an audit line says why, and the server keeps serving
// everyone else.
func TestServeOAuthRefused(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	addr := srv.addrs["amqp"]
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := iss.Claims("alice", oidcAudience)
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := claims(nil)
	tests := []struct {
		name, token, reason string
	}{
		{"expired", iss.Token(t, claims(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })), "invalid token: expired"},
		{"wrong signature", oidctest.Sign(t, jose.RS256, other, "rsa", good), "invalid token: bad signature"},
		{"unknown key", oidctest.Sign(t, jose.RS256, other, "nobody", good), "invalid token: signing key not in the issuer's key set"},
		{"wrong audience", iss.Token(t, claims(func(c map[string]any) { c["aud"] = "another-service" })), "invalid token: wrong audience"},
		{"wrong issuer", iss.Token(t, claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), "invalid token: wrong issuer"},
		{"alg none", oidctest.Unsigned(good), "invalid token: signature algorithm not accepted"},
		{"unknown user", iss.Token(t, iss.Claims("mallory", oidcAudience)), "matches no MessagingUser"},
		{"other authzid", iss.Token(t, good), "may not act as"},
	}
	const want = `SASL XOAUTH2 auth failed with code 0x1:  : {"status":"401","schemes":"bearer"}`
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user := ""
			if tc.name == "other authzid" {
				user = "fred"
			}
			_, err := dialFrom(t, addr, byte(10+i), xoauth2(t, user, tc.token))
			if err == nil || err.Error() != want {
				t.Fatalf("err %v, want %q", err, want)
			}
			// Everyone else is still served.
			c, err := dialFrom(t, addr, byte(100+i), xoauth2(t, "", iss.Token(t, good)))
			if err != nil {
				t.Fatalf("good token after %s: %v", tc.name, err)
			}
			sendReceive(t, c, "orders", "still here")
			if !strings.Contains(srv.logs.String(), fmt.Sprintf("remote=127.0.0.%d:", 10+i)) {
				t.Fatalf("no audit line for 127.0.0.%d", 10+i)
			}
		})
	}
	logs := srv.logs.String()
	for _, tc := range tests {
		if !strings.Contains(logs, tc.reason) {
			t.Errorf("no audit reason %q in the logs", tc.reason)
		}
	}
	if !strings.Contains(logs, "audit=true") || !strings.Contains(logs, "mechanism=XOAUTH2") {
		t.Error("audit lines missing audit=true or mechanism=XOAUTH2")
	}
	// Tokens are secrets: none of them is logged.
	for _, tc := range tests {
		if strings.Contains(logs, tc.token[:40]) {
			t.Fatalf("the %s token appears in the logs", tc.name)
		}
	}
}

// TestServeOAuthBearerClient: our own OAUTHBEARER client, with the space
// as authorization identity; a refused token shows the RFC 7628 error
// response in the client's error.
func TestServeOAuthBearerClient(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	url := srv.addrs["amqp"].String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, url, transport.Options{SASL: sasl.NewOAuthBearerClient("alice@default", iss.ECToken(t, iss.Claims("alice", oidcAudience)))})
	if err != nil {
		t.Fatal(err)
	}
	if id := c.Identity(); id.Mechanism != sasl.OAuthBearer {
		t.Errorf("identity %+v", id)
	}
	c.Close(context.Background(), nil)

	expired := iss.Claims("alice", oidcAudience)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	_, err = transport.Dial(ctx, url, transport.Options{SASL: sasl.NewOAuthBearerClient("", iss.Token(t, expired))})
	want := fmt.Sprintf(`amqp: SASL authentication failed (outcome auth): {"status":"invalid_token","openid-configuration":"%s/.well-known/openid-configuration"}`, iss.URL)
	var se *transport.SASLError
	if !errors.As(err, &se) || err.Error() != want {
		t.Fatalf("expired token: %v, want %q", err, want)
	}
}

// TestServeOAuthNotOffered: without --oidc-issuer neither mechanism is
// offered.
func TestServeOAuthNotOffered(t *testing.T) {
	srv := startServeWithUsers(t, userYAML)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := transport.Dial(ctx, srv.addrs["amqp"].String(), transport.Options{SASL: sasl.NewOAuthBearerClient("", "x.y.z")})
	if !errors.Is(err, sasl.ErrNoCommonMechanism) || strings.Contains(err.Error(), "OAUTHBEARER XOAUTH2") {
		t.Fatalf("OAUTHBEARER without OIDC: %v", err)
	}
}

// TestServeOAuthIssuerDown: keys that cannot be fetched are a temporary
// failure (outcome sys-temp), not bad credentials.
func TestServeOAuthIssuerDown(t *testing.T) {
	iss := oidctest.New(t)
	tok := iss.Token(t, iss.Claims("alice", oidcAudience))
	iss.Server.Close()
	srv := startServeOIDC(t, iss)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := transport.Dial(ctx, srv.addrs["amqp"].String(), transport.Options{SASL: sasl.NewOAuthBearerClient("", tok)})
	var se *transport.SASLError
	if !errors.As(err, &se) || se.Code != sasl.CodeSysTemp {
		t.Fatalf("issuer down: %v, want outcome sys-temp", err)
	}
}

func TestServeOIDCFlags(t *testing.T) {
	for args, want := range map[string]string{
		"--oidc-issuer https://kc.example/realms/r":  "needs --oidc-audience",
		"--oidc-audience a":                          "need --oidc-issuer",
		"--oidc-jwks keys.json --oidc-audience a":    "need --oidc-issuer",
		"--oidc-issuer kc.example --oidc-audience a": "not an http(s) URL",
	} {
		_, err := parseServeArgs(strings.Fields(args), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
	o := mustParseServe(t, "--oidc-issuer", "https://kc.example/realms/r", "--oidc-audience", "enmasse")
	if o.oidc.usernameClaim != "" || !o.oidc.configured() {
		t.Errorf("parsed %+v", o.oidc)
	}
	// The same as config file keys.
	cfg := filepath.Join(t.TempDir(), "oidc.yaml")
	writeFile(t, cfg, "oidc-issuer: https://kc.example/realms/r\noidc-audience: enmasse\noidc-username-claim: email\noidc-provider: keycloak\noidc-jwks: /etc/keys.json\n")
	o = mustParseServe(t, "--config", cfg)
	if o.oidc != (oidcOptions{issuer: "https://kc.example/realms/r", audience: "enmasse", usernameClaim: "email", provider: "keycloak", jwks: "/etc/keys.json"}) {
		t.Errorf("from the config file: %+v", o.oidc)
	}
}

// TestServeOAuthREST: the REST API takes `Authorization: Bearer` tokens;
// view and manage come from the mapped MessagingUser, and a bad token is
// 401 with a Bearer challenge naming invalid_token (RFC 6750 §3).
func TestServeOAuthREST(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	const fredURL = "/apis/user.enmasse.io/v1beta1/namespaces/default/messagingusers/default.fred"
	do := func(method, path, token, body string) (int, string, http.Header) {
		t.Helper()
		req, err := http.NewRequest(method, srv.url(path), strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/yaml")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.Header
	}
	fred := iss.Token(t, iss.Claims("fred.external", oidcAudience))
	// fred (view) reads his own user; the agent marks a federated user
	// Active once an issuer is configured.
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body, _ := do("GET", fredURL, fred, "")
		if code != http.StatusOK {
			t.Fatalf("fred GET: %d %s", code, body)
		}
		if strings.Contains(body, `"phase":"Active"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fred never Active: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// fred has no manage: writes are 403.
	addr := "apiVersion: enmasse.io/v1beta1\nkind: Address\nmetadata: {name: default.fredq}\nspec: {address: fredq, type: queue, plan: standard-small-queue}\n"
	if code, body, _ := do("POST", "/apis/enmasse.io/v1beta1/namespaces/default/addresses", fred, addr); code != http.StatusForbidden {
		t.Fatalf("fred POST: %d %s, want 403", code, body)
	}
	// alice has neither view nor manage.
	if code, _, _ := do("GET", fredURL, iss.Token(t, iss.Claims("alice", oidcAudience)), ""); code != http.StatusForbidden {
		t.Fatalf("alice GET: %d, want 403", code)
	}
	expired := iss.Claims("fred.external", oidcAudience)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	code, _, h := do("GET", fredURL, iss.Token(t, expired), "")
	if code != http.StatusUnauthorized || !slices.Contains(h.Values("WWW-Authenticate"), `Bearer realm="enmasse", error="invalid_token"`) {
		t.Fatalf("expired token: %d %q", code, h.Values("WWW-Authenticate"))
	}
	code, _, h = do("GET", fredURL, "", "")
	if code != http.StatusUnauthorized || !slices.Equal(h.Values("WWW-Authenticate"), []string{`Basic realm="enmasse", charset="UTF-8"`, `Bearer realm="enmasse"`}) {
		t.Fatalf("no credentials: %d %q", code, h.Values("WWW-Authenticate"))
	}
	logs := srv.logs.String()
	if !strings.Contains(logs, "protocol=http") || !strings.Contains(logs, "mechanism=bearer") || !strings.Contains(logs, "invalid token: expired") {
		t.Errorf("no audit line for the expired bearer token")
	}
	// Still served.
	if code, _, _ := do("GET", fredURL, fred, ""); code != http.StatusOK {
		t.Fatalf("fred after failures: %d", code)
	}
}

// TestCLIToken: enmasse send/receive and get take --token: OAUTHBEARER on
// AMQP (with --user naming the space), Authorization: Bearer on the API.
func TestCLIToken(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	url := srv.addrs["amqp"].String()
	alice := iss.Token(t, iss.Claims("alice", oidcAudience))
	if code, _, errOut := runCLI(t, "send", "tok-q", "--url", url, "--token", alice, "--body", "by token"); code != 0 {
		t.Fatalf("send --token: %s", errOut)
	}
	if code, out, errOut := runCLI(t, "receive", "tok-q", "--url", url, "--token", alice, "--user", "@default", "--count", "1"); code != 0 || !strings.Contains(out, "by token") {
		t.Fatalf("receive --token: %d %q %s", code, out, errOut)
	}
	if code, _, errOut := runCLI(t, "send", "tok-q", "--url", url, "--token", "not.a.token", "--body", "x", "--timeout", "3s"); code != 1 || !strings.Contains(errOut, `{"status":"invalid_token"`) {
		t.Fatalf("send with a bad token: %d %s", code, errOut)
	}
	fred := iss.Token(t, iss.Claims("fred.external", oidcAudience))
	if code, out, errOut := runCLI(t, "get", "messagingusers", "--server", "http://"+srv.addrs["http"].String(), "--token", fred); code != 0 || !strings.Contains(out, "default.fred") {
		t.Fatalf("get --token: %d %q %s", code, out, errOut)
	}
}

// TestServeMQTTToken: with an OIDC issuer an MQTT password that is a JWT
// logs in with OAUTHBEARER: paho 5.0 without a username, and with
// "@default" naming the space; a bad token is 0x86 and audited.
func TestServeMQTTToken(t *testing.T) {
	iss := oidctest.New(t)
	srv := startServeOIDC(t, iss)
	addr := srv.addrs["mqtt"].String()
	dial := func() net.Conn { return dialTCP(t, addr) }
	fred := iss.Token(t, iss.Claims("fred.external", oidcAudience))
	pc, rc, err := pahoOver(t, dial(), func(cp *paho.Connect) { cp.Password, cp.PasswordFlag = []byte(fred), true })
	if err != nil || rc != 0 {
		t.Fatalf("fred by token without username: %v %#x", err, rc)
	}
	pc.subscribe(t, "fred/news", 1)
	pc.publish(t, &paho.Publish{Topic: "fred/news", QoS: 1, Payload: []byte("by token")})
	pc.expect(t, "fred/news", "by token", 1)
	if _, rc, err := pahoOver(t, dial(), withUser("@default", fred)); err != nil || rc != 0 {
		t.Fatalf("fred by token with @default: %v %#x", err, rc)
	}
	expired := iss.Claims("fred.external", oidcAudience)
	expired["exp"] = time.Now().Add(-time.Hour).Unix()
	if _, rc, _ := pahoOver(t, dial(), withUser("fred", iss.Token(t, expired))); rc != 0x86 {
		t.Fatalf("expired token: reason %#x, want 0x86", rc)
	}
	if !strings.Contains(srv.logs.String(), "protocol=mqtt") || !strings.Contains(srv.logs.String(), "mechanism=OAUTHBEARER user=fred reason=") {
		t.Error("no MQTT audit line for the expired token")
	}
}
