package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/go-amqp"
)

// jmsTopicYAML is the topic prices in the default space and a named
// subscription resource on it.
const jmsTopicYAML = `apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: default.prices
spec:
  address: prices
  type: topic
  plan: standard-small-topic
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: default.prices-archive
spec:
  address: archive
  topic: prices
  type: subscription
  plan: standard-small-subscription
`

// TestJMSDurableSubscriptionSurvivesRestart: JMS-style durable
// subscriptions created on attach (a durable source on the topic, the
// link name as subscription name; one per container, one shared and
// global) keep a durable message sent while their receivers are away
// across a graceful restart and a kill -9; a receiver attaching again
// with the same link name and capabilities gets it. The control plane
// does not turn them into Address resources (EnMasse: JMS subscriptions
// are the broker's, not addresses), and the subscription resource on
// the same topic is not adopted a second time.
func TestJMSDurableSubscriptionSurvivesRestart(t *testing.T) {
	bin := buildBinary(t)
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			dataDir := t.TempDir()
			cmd, amqpAddr, httpAddr := startServeHTTP(t, bin, dataDir)
			server := "http://" + httpAddr
			file := filepath.Join(t.TempDir(), "prices.yaml")
			must(t, os.WriteFile(file, []byte(jmsTopicYAML), 0o600))
			enmasse(t, bin, "apply", "-f", file, "--server", server)
			waitAllActive(t, bin, server, 2)

			subs := []*amqp.ReceiverOptions{
				{Name: "sub1", SourceDurability: amqp.DurabilityUnsettledState, SourceExpiryPolicy: amqp.ExpiryPolicyNever,
					SourceCapabilities: []string{"topic"}, Credit: 5},
				{Name: "sub2", SourceDurability: amqp.DurabilityUnsettledState, SourceExpiryPolicy: amqp.ExpiryPolicyNever,
					SourceCapabilities: []string{"topic", "shared", "global"}, Credit: 5},
			}
			s := dialJMS(t, amqpAddr)
			ctx := ctxFor(t, 30*time.Second)
			var first []*amqp.Receiver
			for _, o := range subs {
				r, err := s.NewReceiver(ctx, "prices", o)
				must(t, err)
				first = append(first, r)
			}
			sendOne(t, s, "prices", "live", true)
			for _, r := range first {
				expectBody(t, r, "live")
			}
			// The session ends under the receivers: detached, not
			// closed (go-amqp's Close closes a link, which is JMS's
			// unsubscribe), so the subscriptions stay.
			must(t, s.Close(ctx))
			sendOne(t, dialJMS(t, amqpAddr), "prices", "while-away", true)

			if sig == syscall.SIGKILL {
				must(t, cmd.Process.Signal(sig))
			} else {
				must(t, cmd.Process.Signal(os.Interrupt))
			}
			cmd.Wait()
			_, amqpAddr, httpAddr = startServeHTTP(t, bin, dataDir)
			server = "http://" + httpAddr
			waitAllActive(t, bin, server, 2)
			out := enmasse(t, bin, "get", "addresses", "-n", "default", "--server", server)
			if n := strings.Count(out, "\n") - 1; n != 2 || strings.Contains(out, "Failed") || strings.Contains(out, "sub1") || strings.Contains(out, "sub2") {
				t.Fatalf("after the restart the addresses are (want prices and archive only):\n%s", out)
			}

			s = dialJMS(t, amqpAddr)
			ctx = ctxFor(t, 30*time.Second)
			var rs []*amqp.Receiver
			for _, o := range subs {
				r, err := s.NewReceiver(ctx, "prices", o)
				must(t, err)
				expectBody(t, r, "while-away")
				rs = append(rs, r)
			}
			archive, err := s.NewReceiver(ctx, "prices::archive", &amqp.ReceiverOptions{Credit: 5})
			must(t, err)
			expectBody(t, archive, "live")
			expectBody(t, archive, "while-away")
			// Still bound to the topic: a new message reaches both.
			sendOne(t, s, "prices", "after", true)
			for _, r := range rs {
				expectBody(t, r, "after")
			}
			out = enmasse(t, bin, "get", "addresses", "-n", "default", "--server", server)
			if strings.Contains(out, "Failed") || strings.Contains(out, "Pending") {
				t.Fatalf("addresses after reattaching:\n%s", out)
			}
		})
	}
}

// dialJMS opens an anonymous session with a fixed container id, as a JMS
// client with a client id does.
func dialJMS(t *testing.T, addr string) *amqp.Session {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	c, err := amqp.Dial(ctx, "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), ContainerID: "jms-client"})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	must(t, err)
	return s
}
