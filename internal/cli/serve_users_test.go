package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

const userYAML = `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.alice}
spec:
  username: alice
  authentication: {type: password, password: c2VjcmV0}
  authorization:
  - addresses: ["*"]
    operations: ["send", "recv"]
`

// TestServeMessagingUserAuthenticates: with anonymous access off, a
// MessagingUser created through the API logs in with PLAIN and SCRAM;
// a wrong password and unknown users are refused alike.
func TestServeMessagingUserAuthenticates(t *testing.T) {
	srv := startServeWithUsers(t, userYAML)
	url := srv.addrs["amqp"].String()
	if code, _, errOut := runCLI(t, "send", "q", "--url", url, "--user", "alice", "--password", "secret", "--body", "hi"); code != 0 {
		t.Fatalf("PLAIN as alice: %s", errOut)
	}
	for _, mech := range []string{sasl.ScramSHA256, sasl.ScramSHA512} {
		cm, _ := sasl.NewScramClient(mech, "alice", "secret")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := transport.Dial(ctx, url, transport.Options{SASL: cm})
		cancel()
		if err != nil {
			t.Fatalf("%s as alice: %v", mech, err)
		}
		c.Close(context.Background(), nil)
	}
	for _, creds := range [][2]string{{"alice", "wrong"}, {"mallory", "secret"}, {"alice@nowhere", "secret"}} {
		code, _, errOut := runCLI(t, "send", "q", "--url", url, "--user", creds[0], "--password", creds[1], "--body", "x", "--timeout", "3s")
		if code != 1 || !strings.Contains(errOut, "authentication failed") {
			t.Fatalf("%v: exit %d %q, want an authentication failure", creds, code, errOut)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := transport.Dial(ctx, url, transport.Options{SASL: sasl.NewAnonymousClient("")})
	var se *transport.SASLError
	if err == nil || (!errors.As(err, &se) && !strings.Contains(err.Error(), "mechanism")) {
		t.Fatalf("anonymous with --allow-anonymous=false: %v", err)
	}
}

const limitedUserYAML = `apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.bob}
spec:
  username: bob
  authentication: {type: password, password: cHc=}
  authorization:
  - addresses: ["orders", "audit*"]
    operations: ["send"]
  - addresses: ["replies"]
    operations: ["recv"]
`

// TestServeMessagingUserAuthorization: attaches and anonymous-relay
// messages outside a user's rights are refused with
// amqp:unauthorized-access, the same way whether the address exists.
func TestServeMessagingUserAuthorization(t *testing.T) {
	srv := startServeWithUsers(t, limitedUserYAML)
	url := srv.addrs["amqp"].String()
	tests := map[string]struct {
		args []string
		ok   bool
	}{
		"send to a granted address":       {[]string{"send", "orders", "--body", "x"}, true},
		"send under a granted prefix":     {[]string{"send", "audit-2026", "--body", "x"}, true},
		"send elsewhere":                  {[]string{"send", "payroll", "--body", "x"}, false},
		"receive where only send granted": {[]string{"receive", "orders"}, false},
		"receive where granted":           {[]string{"receive", "replies", "--count", "0", "--timeout", "300ms"}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			args := append(tc.args, "--url", url, "--user", "bob", "--password", "pw")
			code, _, errOut := runCLI(t, args...)
			if tc.ok && code != 0 {
				t.Fatalf("refused: %s", errOut)
			}
			if !tc.ok && (code == 0 || !strings.Contains(errOut, "amqp:unauthorized-access")) {
				t.Fatalf("exit %d %q, want amqp:unauthorized-access", code, errOut)
			}
		})
	}
}

// startServeWithUsers starts serve with anonymous access off and the
// given resources (YAML documents) applied from its --config file, since
// nobody may use the API before a MessagingUser exists.
func startServeWithUsers(t *testing.T, docs ...string) *testServe {
	t.Helper()
	return startServeWithUsersArgs(t, nil, docs...)
}

// startServeWithUsersArgs is startServeWithUsers with extra serve flags.
func startServeWithUsersArgs(t *testing.T, args []string, docs ...string) *testServe {
	t.Helper()
	return startServe(t, append([]string{"--allow-anonymous=false", "--config", writeUsersConfig(t, docs...)}, args...)...)
}

// usersConfigText is a config file whose resources are docs.
func usersConfigText(docs ...string) string {
	var b strings.Builder
	b.WriteString("resources:\n")
	for _, d := range docs {
		for i, line := range strings.Split(strings.TrimSpace(d), "\n") {
			if i == 0 {
				b.WriteString("- ")
			} else {
				b.WriteString("  ")
			}
			b.WriteString(line + "\n")
		}
	}
	return b.String()
}
