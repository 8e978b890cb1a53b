package cli

import (
	"context"
	"errors"
	"path/filepath"
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
`

// TestServeMessagingUserAuthenticates: with anonymous access off, a
// MessagingUser created through the API logs in with PLAIN and SCRAM;
// a wrong password and unknown users are refused alike.
func TestServeMessagingUserAuthenticates(t *testing.T) {
	srv := startServe(t, "--allow-anonymous=false")
	server := "http://" + srv.addrs["http"].String()
	file := filepath.Join(t.TempDir(), "user.yaml")
	writeFile(t, file, userYAML)
	if code, out, errOut := runCLI(t, "apply", "-f", file, "--server", server); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
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
