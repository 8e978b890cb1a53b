package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"
)

// exampleYAML is EnMasse's example setup: an address space, a queue with a
// dead-letter address and a redelivery policy, a topic with a
// subscription, anycast and multicast addresses, and a user.
const exampleYAML = `apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata:
  name: myspace
spec:
  type: standard
  plan: standard-unlimited
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.dlq
spec:
  address: dlq
  type: deadletter
  plan: standard-deadletter
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.orders
spec:
  address: orders
  type: queue
  plan: standard-small-queue
  deadletter: dlq
  messageRedelivery:
    maximumDeliveryAttempts: 2
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.news
spec:
  address: news
  type: topic
  plan: standard-small-topic
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.news-archive
spec:
  address: archive
  topic: news
  type: subscription
  plan: standard-small-subscription
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.rpc
spec:
  address: rpc
  type: anycast
  plan: standard-small-anycast
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.events
spec:
  address: events
  type: multicast
  plan: standard-small-multicast
---
apiVersion: user.enmasse.io/v1beta1
kind: MessagingUser
metadata:
  name: myspace.app
spec:
  username: app
  authentication:
    type: password
    password: c2VjcmV0
  authorization:
  - addresses: ["*"]
    operations: ["send", "recv", "view", "manage"]
`

// startServeHTTP runs the binary with AMQP and HTTP on random ports and
// returns both addresses.
func startServeHTTP(t *testing.T, bin, dataDir string, extra ...string) (*exec.Cmd, string, string) {
	t.Helper()
	args := append([]string{"serve", "--amqp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--mqtt", "", "--data-dir", dataDir}, extra...)
	cmd := exec.Command(bin, args...)
	var logs syncBuffer
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		l := logs.String()
		a, h := findAddr(l, "amqp"), findAddr(l, "http")
		if a != "" && h != "" && strings.Contains(l, "msg=ready") {
			return cmd, a, h
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("serve did not start:\n%s", logs.String())
	return nil, "", ""
}

func findAddr(logs, proto string) string {
	for _, l := range strings.Split(logs, "\n") {
		if i := strings.Index(l, "proto="+proto+" addr="); i >= 0 {
			return strings.Fields(l[i+len("proto="+proto+" addr="):])[0]
		}
	}
	return ""
}

// enmasse runs a CLI command of the binary.
func enmasse(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("enmasse %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func waitAllActive(t *testing.T, bin, server string, n int) {
	t.Helper()
	var out string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out = enmasse(t, bin, "get", "addresses", "-n", "default", "--server", server)
		if strings.Count(out, "Active") >= n && !strings.Contains(out, "Pending") && !strings.Contains(out, "Configuring") {
			return
		}
	}
	t.Fatalf("not all %d addresses Active:\n%s", n, out)
}

// adminConfigYAML is a config file with the address space myspace and its
// administrator.
const adminConfigYAML = `resources:
- apiVersion: enmasse.io/v1beta1
  kind: AddressSpace
  metadata: {name: myspace}
  spec: {type: standard, plan: standard-unlimited}
- apiVersion: user.enmasse.io/v1beta1
  kind: MessagingUser
  metadata: {name: myspace.admin}
  spec:
    username: admin
    authentication: {type: password, password: YWRtaW4=}
    authorization:
    - operations: ["manage"]
`

// TestEndToEndEnMasseExample builds the binary, applies EnMasse's example
// resources, waits for every address to be Active, exchanges messages on
// each with go-amqp as the MessagingUser, restarts the server and checks
// that resources and durable messages survived.
func TestEndToEndEnMasseExample(t *testing.T) {
	bin := buildBinary(t)
	dataDir := t.TempDir()
	// With anonymous access off the API wants a MessagingUser: the
	// space's administrator comes from the config file.
	cfg := filepath.Join(t.TempDir(), "enmasse.yaml")
	if err := os.WriteFile(cfg, []byte(adminConfigYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ENMASSE_USER", "admin@myspace")
	t.Setenv("ENMASSE_PASSWORD", "admin")
	cmd, amqpAddr, httpAddr := startServeHTTP(t, bin, dataDir, "--allow-anonymous=false", "--config", cfg)
	server := "http://" + httpAddr
	file := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(file, []byte(exampleYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	enmasse(t, bin, "apply", "-f", file, "--server", server)
	waitAllActive(t, bin, server, 6)

	s := dialUser(t, amqpAddr)
	ctx := ctxFor(t, 30*time.Second)

	// anycast: request and reply.
	rpc, err := s.NewReceiver(ctx, "rpc", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	sent := make(chan error, 1)
	go func() { sent <- trySend(s, "rpc", "ping", false) }() // anycast: the consumer's outcome completes the send
	expectBody(t, rpc, "ping")
	must(t, <-sent)

	// multicast: two subscribers each get the message.
	ev1, err := s.NewReceiver(ctx, "events", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	ev2, err := s.NewReceiver(ctx, "events", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	sendOne(t, s, "events", "tick", false)
	expectBody(t, ev1, "tick")
	expectBody(t, ev2, "tick")

	// queue with redelivery policy and dead-letter address.
	sendOne(t, s, "orders", "good", true)
	sendOne(t, s, "orders", "poison", true)
	orders, err := s.NewReceiver(ctx, "orders", &amqp.ReceiverOptions{Credit: -1})
	must(t, err)
	must(t, orders.IssueCredit(1))
	expectBody(t, orders, "good")
	for range 2 {
		must(t, orders.IssueCredit(1))
		m, err := orders.Receive(ctx, nil)
		must(t, err)
		if string(m.GetData()) != "poison" {
			t.Fatalf("got %q", m.GetData())
		}
		must(t, orders.ModifyMessage(ctx, m, &amqp.ModifyMessageOptions{DeliveryFailed: true}))
	}
	dlq, err := s.NewReceiver(ctx, "dlq", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	expectBody(t, dlq, "poison")

	// topic + subscription: a durable message kept for the subscription,
	// also across the restart below.
	news, err := s.NewReceiver(ctx, "news", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	sendOne(t, s, "news", "headline", true)
	expectBody(t, news, "headline")
	sendOne(t, s, "orders", "durable-1", true)

	// Restart (SIGTERM, then start again over the same data dir).
	must(t, cmd.Process.Signal(os.Interrupt))
	cmd.Wait()
	_, amqpAddr, httpAddr = startServeHTTP(t, bin, dataDir, "--allow-anonymous=false", "--config", cfg)
	server = "http://" + httpAddr
	waitAllActive(t, bin, server, 6)
	if out := enmasse(t, bin, "get", "messagingusers", "--server", server); !strings.Contains(out, "myspace.app") {
		t.Fatalf("user lost in the restart:\n%s", out)
	}
	s = dialUser(t, amqpAddr)
	ctx = ctxFor(t, 30*time.Second)
	archive, err := s.NewReceiver(ctx, "news::archive", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	expectBody(t, archive, "headline")
	orders, err = s.NewReceiver(ctx, "orders", &amqp.ReceiverOptions{Credit: 5})
	must(t, err)
	expectBody(t, orders, "durable-1")
}

func dialUser(t *testing.T, addr string) *amqp.Session {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	c, err := amqp.Dial(ctx, "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("app@myspace", "secret")})
	must(t, err)
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	must(t, err)
	return s
}

func sendOne(t *testing.T, s *amqp.Session, addr, body string, durable bool) {
	t.Helper()
	must(t, trySend(s, addr, body, durable))
}

func trySend(s *amqp.Session, addr, body string, durable bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	snd, err := s.NewSender(ctx, addr, nil)
	if err != nil {
		return err
	}
	defer snd.Close(ctx)
	m := amqp.NewMessage([]byte(body))
	m.Header = &amqp.MessageHeader{Durable: durable}
	return snd.Send(ctx, m, nil)
}

func expectBody(t *testing.T, r *amqp.Receiver, want string) {
	t.Helper()
	ctx := ctxFor(t, 10*time.Second)
	m, err := r.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("waiting for %q: %v", want, err)
	}
	if got := string(m.GetData()); got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	must(t, r.AcceptMessage(ctx, m))
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		var ae *amqp.Error
		if errors.As(err, &ae) {
			t.Fatalf("%s: %s", ae.Condition, ae.Description)
		}
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
