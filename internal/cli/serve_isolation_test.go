package cli

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

const isolationYAML = `apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata: {name: beta}
spec: {type: standard, plan: standard-unlimited}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: beta.vault}
spec: {address: vault, type: queue, plan: standard-small-queue}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.vault}
spec: {address: vault, type: queue, plan: standard-small-queue}
---
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: default.carol}
spec:
  username: carol
  authentication: {type: password, password: YQ==}
  authorization:
  - addresses: ["vault"]
    operations: ["send"]
---
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata: {name: beta.carol}
spec:
  username: carol
  authentication: {type: password, password: Yg==}
  authorization:
  - addresses: ["*"]
    operations: ["send", "recv"]
`

// TestServeUserRightsStayInTheirSpace: a user of one space who gets her
// connection placed in another space (by the AMQP hostname) has no rights
// there, even though that space has a user of the same name with every
// right; in her own space her own rights apply.
func TestServeUserRightsStayInTheirSpace(t *testing.T) {
	srv := startServeWithUsers(t, splitDocs(isolationYAML)...)
	url := "amqp://" + srv.addrs["amqp"].String()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	attach := func(user, pass, host, address string, recv bool) error {
		c, err := amqp.Dial(ctx, url, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain(user, pass), HostName: host})
		if err != nil {
			return err
		}
		defer c.Close()
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			return err
		}
		if recv {
			_, err = s.NewReceiver(ctx, address, nil)
		} else {
			_, err = s.NewSender(ctx, address, nil)
		}
		return err
	}
	unauthorized := func(what string, err error) {
		t.Helper()
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
			t.Fatalf("%s: %v, want amqp:unauthorized-access", what, err)
		}
	}
	// default's carol (password "a") placed in beta by hostname.
	unauthorized("default carol receiving in beta", attach("carol", "a", "beta", "vault", true))
	unauthorized("default carol sending in beta", attach("carol", "a", "beta", "vault", false))
	// In her own space she may send to vault but not receive.
	if err := attach("carol", "a", "", "vault", false); err != nil {
		t.Fatalf("default carol sending in default: %v", err)
	}
	unauthorized("default carol receiving in default", attach("carol", "a", "", "vault", true))
	// beta's carol (password "b") has every right in beta.
	if err := attach("carol@beta", "b", "", "vault", true); err != nil {
		t.Fatalf("beta carol receiving in beta: %v", err)
	}
}

// splitDocs splits a multi-document YAML string.
func splitDocs(s string) []string { return strings.Split(s, "---\n") }
