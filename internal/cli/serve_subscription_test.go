package cli

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/controlplane/client"
)

const maxConsumersYAML = `apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.news}
spec: {address: news, type: topic, plan: standard-small-topic}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.news-shared}
spec: {address: shared, topic: news, type: subscription, plan: standard-small-subscription, subscription: {maxConsumers: 2}}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.news-excl}
spec: {address: excl, topic: news, type: subscription, plan: standard-small-subscription}
`

// TestSubscriptionMaxConsumers: spec.subscription.maxConsumers reaches
// the broker (SPEC §4): two receivers share `news::shared`
// (maxConsumers 2); `news::excl` (default 1, exclusive) refuses the
// second with amqp:resource-locked, and takes one again when the first
// has gone.
func TestSubscriptionMaxConsumers(t *testing.T) {
	srv := startServe(t, "--mqtt", "")
	server := "http://" + srv.addrs["http"].String()
	file := filepath.Join(t.TempDir(), "subs.yaml")
	writeFile(t, file, maxConsumersYAML)
	if code, out, errOut := runCLI(t, "apply", "-f", file, "--server", server); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitActive(t, client.New(server, nil), "default.news", "default.news-shared", "default.news-excl")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqp://"+srv.addrs["amqp"].String(), &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := s.NewReceiver(ctx, "news::shared", nil); err != nil {
			t.Fatalf("receiver %d of the shared subscription: %v", i+1, err)
		}
	}
	first, err := s.NewReceiver(ctx, "news::excl", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.NewReceiver(ctx, "news::excl", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLocked {
		t.Fatalf("second receiver of the exclusive subscription: %v, want %s", err, amqp.ErrCondResourceLocked)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewReceiver(ctx, "news::excl", nil); err != nil {
		t.Fatalf("receiver after the first detached: %v", err)
	}
}
