package cli

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/controlplane/client"
	"github.com/enmasse-go/enmasse/internal/controlplane/model"
)

const exampleYAML = `# EnMasse YAML, unchanged
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: myspace.direct
spec:
  address: direct
  type: anycast
  plan: standard-small-anycast
---
apiVersion: enmasse.io/v1beta1
kind: AddressSpace
metadata:
  name: myspace
spec:
  type: standard
  plan: standard-unlimited
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: myspace.orders}
spec: {address: orders, type: queue, plan: standard-small-queue}
`

// waitActive polls until every named address is Active.
func waitActive(t *testing.T, c *client.Client, names ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		pending := ""
		for _, n := range names {
			o, err := c.Get(context.Background(), model.AddressKind, "default", n)
			if err != nil {
				t.Fatal(err)
			}
			if a := o.(*model.Address); !a.Status.IsReady || a.Status.Phase != model.PhaseActive {
				pending = n + " " + string(a.Status.Phase) + " " + strings.Join(a.Status.Messages, ";")
			}
		}
		if pending == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not Active: %s", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func dialSpace(t *testing.T, addr, space string) *transport.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := transport.Dial(ctx, addr, transport.Options{SASL: sasl.NewAnonymousClient(""), Hostname: space})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background(), nil) })
	s, err := conn.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestResourcesEndToEnd(t *testing.T) {
	dir := t.TempDir()
	srv := startServe(t, "--data-dir", dir)
	server := "http://" + srv.addrs["http"].String()
	file := filepath.Join(t.TempDir(), "setup.yaml")
	writeFile(t, file, exampleYAML)

	code, out, errOut := runCLI(t, "apply", "-f", file, "--server", server)
	want := "addressspace.enmasse.io/myspace created\naddress.enmasse.io/myspace.direct created\naddress.enmasse.io/myspace.orders created\n"
	if code != 0 || out != want {
		t.Fatalf("apply: %d\n%s%s", code, out, errOut)
	}
	c := client.New(server, nil)
	waitActive(t, c, "myspace.direct", "myspace.orders")
	code, out, _ = runCLI(t, "get", "addresses", "--server", server)
	if code != 0 || !strings.Contains(out, "myspace.direct   direct    anycast   standard-small-anycast   true    Active") ||
		!strings.HasPrefix(out, "NAME             ADDRESS   TYPE      PLAN                     READY   PHASE    AGE") {
		t.Fatalf("get addresses:\n%s", out)
	}
	// applying again configures, and does not disturb anything
	if code, out, _ = runCLI(t, "apply", "-f", file, "--server", server); code != 0 || !strings.Contains(out, "myspace.orders configured") {
		t.Fatalf("re-apply: %d %s", code, out)
	}

	// An AMQP client of the space uses the anycast address.
	s := dialSpace(t, srv.addrs["amqp"].String(), "myspace")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rcv, err := s.NewReceiver(ctx, "direct", transport.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctx, "direct", transport.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := (&message.Message{Data: [][]byte{[]byte("hello")}}).Marshal(nil)
	sent := make(chan error, 1)
	go func() { // the outcome comes from the receiver (anycast)
		_, err := snd.Send(ctx, payload, transport.SendOptions{})
		sent <- err
	}()
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rcv.Accept(d)
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	// An address the space does not have is refused.
	if _, err := s.NewReceiver(ctx, "nosuch", transport.ReceiverOptions{}); err == nil {
		t.Error("attach to an unknown address of myspace succeeded")
	}

	// Deleting the address detaches its links with an error.
	if code, out, errOut := runCLI(t, "delete", "address", "myspace.direct", "--server", server); code != 0 ||
		out != "address.enmasse.io \"myspace.direct\" deleted\n" {
		t.Fatalf("delete: %d %s %s", code, out, errOut)
	}
	_, err = rcv.Receive(ctx)
	var fe *frames.Error
	if !errors.As(err, &fe) || fe.Condition != frames.ErrResourceDeleted {
		t.Fatalf("receive after delete: %v, want %s", err, frames.ErrResourceDeleted)
	}

	// Resources survive a restart and converge again.
	if err := srv.stop(t); err != nil {
		t.Fatal(err)
	}
	srv = startServe(t, "--data-dir", dir)
	c = client.New("http://"+srv.addrs["http"].String(), nil)
	waitActive(t, c, "myspace.orders")
	if _, err := c.Get(context.Background(), model.AddressKind, "default", "myspace.direct"); !client.IsNotFound(err) {
		t.Errorf("deleted address is back: %v", err)
	}
}

func TestAutoCreatedAddressBecomesResource(t *testing.T) {
	srv := startServe(t)
	server := "http://" + srv.addrs["http"].String()
	code, _, errOut := runCLI(t, "send", "Jobs/EU", "--url", srv.addrs["amqp"].String(), "--body", "x")
	if code != 0 {
		t.Fatalf("send: %s", errOut)
	}
	c := client.New(server, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		objs, err := c.List(context.Background(), model.AddressKind, "default", client.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var found *model.Address
		for _, o := range objs {
			if a := o.(*model.Address); a.Spec.Address == "Jobs/EU" {
				found = a
			}
		}
		if found != nil && found.Status.Phase == model.PhaseActive {
			if !strings.HasPrefix(found.Metadata.Name, "default.jobs-eu-") || found.Spec.Type != "queue" || found.Spec.Plan != "standard-small-queue" {
				t.Errorf("auto-created resource %+v", found)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Active resource for Jobs/EU: %+v", objs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// the message is still there for a receiver
	code, out, errOut := runCLI(t, "receive", "Jobs/EU", "--url", srv.addrs["amqp"].String(), "--count", "1", "--timeout", "5s")
	if code != 0 || out != "x\n" {
		t.Fatalf("receive: %d %q %s", code, out, errOut)
	}
}

func TestServeAppliesConfigResources(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "enmasse.yaml")
	writeFile(t, cfg, `resources:
- apiVersion: enmasse.io/v1beta1
  kind: Address
  metadata: {name: team.events}
  spec: {address: events, type: multicast}
- apiVersion: enmasse.io/v1beta1
  kind: AddressSpace
  metadata: {name: team}
  spec: {type: standard, plan: standard-small}
`)
	srv := startServe(t, "--config", cfg)
	waitActive(t, client.New("http://"+srv.addrs["http"].String(), nil), "team.events")

	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "resources:\n- apiVersion: enmasse.io/v1beta1\n  kind: Address\n  metadata: {name: nospace.x}\n  spec: {address: x, type: queue}\n")
	opts := mustParseServe(t, "--config", bad, "--amqp", "127.0.0.1:0", "--http", "127.0.0.1:0", "--mqtt", "", "--data-dir", t.TempDir())
	err := runServe(context.Background(), opts, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "resource at line 2") || !strings.Contains(err.Error(), `address space "nospace" does not exist`) {
		t.Fatalf("bad config resource: %v", err)
	}
}

func TestResourceCommandErrors(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"unknown kind":  {[]string{"get", "queues"}, 2, `unknown kind "queues"`},
		"no kind":       {[]string{"get"}, 2, "KIND is required"},
		"bad output":    {[]string{"get", "as", "-o", "xml"}, 2, `-o "xml"`},
		"apply without": {[]string{"apply"}, 2, "-f FILE is required"},
		"apply missing": {[]string{"apply", "-f", "/nonexistent.yaml"}, 2, "no such file"},
		"unreachable":   {[]string{"get", "as", "--server", "http://127.0.0.1:1"}, 1, "cannot reach the enmasse server at http://127.0.0.1:1"},
		"describe args": {[]string{"describe", "as"}, 2, "want KIND NAME"},
		"delete args":   {[]string{"delete"}, 2, "want KIND NAME... or -f FILE"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("code %d stderr %q", code, stderr)
			}
		})
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "apiVersion: enmasse.io/v1beta1\nkind: Address\nmetadata: {name: a.b}\nspec: {adress: x}\n")
	code, _, stderr := runCLI(t, "apply", "-f", bad)
	if code != 2 || !strings.Contains(stderr, "document at line 1: spec.adress: Unknown field") {
		t.Fatalf("bad document: %d %q", code, stderr)
	}
}

func TestGetTableGolden(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	created := now.Add(-5*time.Minute - 12*time.Second).Format(time.RFC3339)
	objs := []model.Object{
		&model.Address{
			Metadata: model.ObjectMeta{Name: "myspace.orders", Namespace: "default", CreationTimestamp: created},
			Spec:     model.AddressSpec{Address: "orders", Type: "queue", Plan: "standard-small-queue"},
			Status:   model.AddressStatus{IsReady: true, Phase: model.PhaseActive},
		},
		&model.Address{
			Metadata: model.ObjectMeta{Name: "myspace.q2", Namespace: "default", CreationTimestamp: created},
			Spec:     model.AddressSpec{Address: "q2", Type: "queue", Plan: "standard-small-queue"},
			Status:   model.AddressStatus{Phase: model.PhasePending, Messages: []string{"Quota exceeded"}},
		},
	}
	var out bytes.Buffer
	if err := printObjects(&out, &out, model.AddressKind, objs, "wide", false, false, "default", now); err != nil {
		t.Fatal(err)
	}
	want := `NAME             ADDRESS   TYPE    PLAN                   READY   PHASE     AGE     STATUS
myspace.orders   orders    queue   standard-small-queue   true    Active    5m12s   
myspace.q2       q2        queue   standard-small-queue   false   Pending   5m12s   Quota exceeded
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
	for d, want := range map[time.Duration]string{
		45 * time.Second: "45s", 3 * time.Minute: "3m", 30 * time.Minute: "30m", 5*time.Hour + 3*time.Minute: "5h3m",
		20 * time.Hour: "20h", 50 * time.Hour: "2d2h", 30 * 24 * time.Hour: "30d",
	} {
		if got := humanAge(now.Add(-d).Format(time.RFC3339), now); got != want {
			t.Errorf("age %v: %s, want %s", d, got, want)
		}
	}
}

const topicYAML = `apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: default.news
spec:
  address: news
  type: topic
  plan: standard-small-topic
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata:
  name: default.news-archive
spec:
  address: archive
  topic: news
  type: subscription
  plan: standard-small-subscription
`

// TestTopicAndSubscriptionResources: a subscription resource becomes the
// durable subscription `{topic}::{address}` consumers attach to, and keeps
// what is published while nobody is attached.
func TestTopicAndSubscriptionResources(t *testing.T) {
	srv := startServe(t)
	server := "http://" + srv.addrs["http"].String()
	file := filepath.Join(t.TempDir(), "topic.yaml")
	writeFile(t, file, topicYAML)
	if code, out, errOut := runCLI(t, "apply", "-f", file, "--server", server); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitActive(t, client.New(server, nil), "default.news", "default.news-archive")
	url := srv.addrs["amqp"].String()
	if code, _, errOut := runCLI(t, "send", "news", "--url", url, "--body", "breaking"); code != 0 {
		t.Fatalf("send: %s", errOut)
	}
	code, out, errOut := runCLI(t, "receive", "news::archive", "--url", url)
	if code != 0 || out != "breaking\n" {
		t.Fatalf("receive from the subscription: %d %q %s", code, out, errOut)
	}
}

const policyYAML = `apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.dlq}
spec: {address: dlq, type: deadletter, plan: standard-deadletter}
---
apiVersion: enmasse.io/v1beta1
kind: Address
metadata: {name: default.jobs}
spec:
  address: jobs
  type: queue
  plan: standard-small-queue
  deadletter: dlq
  messageRedelivery: {maximumDeliveryAttempts: 2}
`

// TestAddressDeliveryPolicy: an Address's messageRedelivery and deadletter
// reach the broker: a message that fails twice lands in the dead-letter
// queue.
func TestAddressDeliveryPolicy(t *testing.T) {
	srv := startServe(t)
	server := "http://" + srv.addrs["http"].String()
	file := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, file, policyYAML)
	if code, out, errOut := runCLI(t, "apply", "-f", file, "--server", server); code != 0 {
		t.Fatalf("apply: %d %s%s", code, out, errOut)
	}
	waitActive(t, client.New(server, nil), "default.dlq", "default.jobs")
	url := srv.addrs["amqp"].String()
	if code, _, errOut := runCLI(t, "send", "jobs", "--url", url, "--body", "poison"); code != 0 {
		t.Fatalf("send: %s", errOut)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := transport.Dial(ctx, url, transport.Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background(), nil)
	s, _ := c.NewSession(ctx)
	rcv, err := s.NewReceiver(ctx, "jobs", transport.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		d, err := rcv.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d.Settle(frames.Modified{DeliveryFailed: true})
	}
	code, out, errOut := runCLI(t, "receive", "dlq", "--url", url)
	if code != 0 || out != "poison\n" {
		t.Fatalf("dead-letter queue: %d %q %s", code, out, errOut)
	}
}
