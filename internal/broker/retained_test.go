package broker_test

import (
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// sendRetained publishes body to addr with x-opt-retain = true; edit may
// change the message first.
func sendRetained(t *testing.T, s *amqp.Session, addr, body string, edit func(*amqp.Message)) {
	t.Helper()
	snd, err := s.NewSender(ctx5(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer snd.Close(ctx5(t))
	m := amqp.NewMessage([]byte(body))
	m.Annotations = amqp.Annotations{string(broker.AnnotationRetain): true}
	if edit != nil {
		edit(m)
	}
	if err := snd.Send(ctx5(t), m, nil); err != nil {
		t.Fatal(err)
	}
}

// retainedReceiver attaches to filter asking for the retained messages
// (or not).
func retainedReceiver(t *testing.T, s *amqp.Session, filter string, ask bool) *amqp.Receiver {
	t.Helper()
	opts := &amqp.ReceiverOptions{Credit: 10}
	if ask {
		opts.SourceCapabilities = []string{string(broker.CapabilityRetained)}
	}
	r, err := s.NewReceiver(ctx5(t), filter, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// receiveMarked receives n messages and returns "body" or "body(retained)".
func receiveMarked(t *testing.T, r *amqp.Receiver, n int) []string {
	t.Helper()
	var out []string
	for range n {
		m, err := r.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		r.AcceptMessage(ctx5(t), m)
		s := string(m.GetData())
		if m.Annotations[string(broker.AnnotationRetained)] == true {
			s += "(retained)"
		}
		out = append(out, s)
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBrokerRetainedMessages(t *testing.T) {
	dir := t.TempDir()
	setup := func(r *router.Router) {
		if err := r.SetAddress("default", "sensors", router.Topic); err != nil {
			t.Fatal(err)
		}
	}
	n := startNodeWith(t, dir, setup)
	p := session(t, n.addr)
	sendRetained(t, p, "sensors/a", "a1", nil)
	sendRetained(t, p, "sensors/b", "b1", nil)
	sendRetained(t, p, "sensors/a", "a2", nil) // replaces a1
	send(t, p, "sensors/c", "c-live")          // not retained

	// Wildcard subscriber asking for retained: oldest first, marked, then
	// live messages unmarked (even when they were published retained).
	s := session(t, n.addr)
	all := retainedReceiver(t, s, "sensors/#", true)
	if got := receiveMarked(t, all, 2); !equal(got, []string{"b1(retained)", "a2(retained)"}) {
		t.Fatalf("sensors/# got %v", got)
	}
	sendRetained(t, p, "sensors/a", "a3", nil)
	if got := receiveMarked(t, all, 1); got[0] != "a3" {
		t.Fatalf("live retained publication delivered as %v", got)
	}
	// Without the capability: no retained messages.
	plain := retainedReceiver(t, s, "sensors/#", false)
	exact := retainedReceiver(t, s, "sensors/b", true)
	if got := receiveMarked(t, exact, 1); got[0] != "b1(retained)" {
		t.Fatalf("sensors/b got %v", got)
	}
	nothingMore(t, plain)

	// An empty retained publication clears and is delivered as usual.
	sendRetained(t, p, "sensors/b", "", nil)
	if got := receiveMarked(t, exact, 1); got[0] != "" {
		t.Fatalf("clearing publication delivered as %v", got)
	}
	if st, ok := n.b.TopicStats("default", "sensors"); !ok || st.Retained != 1 || st.RetainedBytes == 0 {
		t.Fatalf("stats %+v %v, want 1 retained", st, ok)
	}
	if got := receiveMarked(t, retainedReceiver(t, s, "sensors/+", true), 1); got[0] != "a3(retained)" {
		t.Fatalf("after clearing got %v", got)
	}

	// A restart keeps the retained message, not the cleared one.
	n.stop()
	n = startNodeWith(t, dir, setup)
	s = session(t, n.addr)
	r := retainedReceiver(t, s, "sensors/#", true)
	if got := receiveMarked(t, r, 1); got[0] != "a3(retained)" {
		t.Fatalf("after restart got %v", got)
	}
	nothingMore(t, r)
	if st, _ := n.b.TopicStats("default", "sensors"); st.Retained != 1 {
		t.Fatalf("after restart stats %+v", st)
	}
}

func TestBrokerRetainedExpiry(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "s", router.Topic) })
	p := session(t, n.addr)
	sendRetained(t, p, "s/old", "gone", func(m *amqp.Message) {
		m.Properties = &amqp.MessageProperties{AbsoluteExpiryTime: ptr(time.Now().Add(-time.Second))}
	})
	sendRetained(t, p, "s/new", "kept", func(m *amqp.Message) {
		m.Header = &amqp.MessageHeader{TTL: time.Hour}
	})
	r := retainedReceiver(t, session(t, n.addr), "s/#", true)
	m, err := r.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "kept" || m.Header == nil || m.Header.TTL > time.Hour || m.Header.TTL < time.Hour-time.Minute {
		t.Fatalf("got %q header %+v, want kept with what is left of an hour", m.GetData(), m.Header)
	}
	nothingMore(t, r)
	if st, _ := n.b.TopicStats("default", "s"); st.Retained != 1 {
		t.Fatalf("expired retained message still counted: %+v", st)
	}
}

func ptr[T any](v T) *T { return &v }

// TestBrokerRetainedPaged: over the memory limit, retained bodies live in
// the journal and are read back for subscribers.
func TestBrokerRetainedPaged(t *testing.T) {
	n := startNodeOpts(t, t.TempDir(), broker.Options{MaxMemory: 1}, func(r *router.Router) { r.SetAddress("default", "big", router.Topic) })
	p := session(t, n.addr)
	want := []string{}
	for _, name := range []string{"x", "y", "z"} {
		sendRetained(t, p, "big/"+name, "body-"+name, nil)
		want = append(want, "body-"+name+"(retained)")
	}
	r := retainedReceiver(t, session(t, n.addr), "big/#", true)
	if got := receiveMarked(t, r, 3); !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// TestBrokerRetainedOnly: the capability `retained-only` gives the
// retained messages, then the end marker, and no live message.
func TestBrokerRetainedOnly(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "snap", router.Topic) })
	p := session(t, n.addr)
	sendRetained(t, p, "snap/a", "a", nil)
	sendRetained(t, p, "snap/b", "b", nil)
	r, err := session(t, n.addr).NewReceiver(ctx5(t), "snap/#", &amqp.ReceiverOptions{Credit: 10,
		SourceCapabilities: []string{string(broker.CapabilityRetainedOnly)}})
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveMarked(t, r, 2); !equal(got, []string{"a(retained)", "b(retained)"}) {
		t.Fatalf("got %v", got)
	}
	m, err := r.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	r.AcceptMessage(ctx5(t), m)
	if m.Annotations[string(broker.AnnotationRetainedEnd)] != true || len(m.GetData()) != 0 {
		t.Fatalf("want the end marker, got %q %v", m.GetData(), m.Annotations)
	}
	send(t, p, "snap/a", "live")
	nothingMore(t, r)
	if st, _ := n.b.TopicStats("default", "snap"); st.Subscriptions != 0 {
		t.Fatalf("retained-only receiver counted as %d subscription(s)", st.Subscriptions)
	}
}

// TestBrokerRetainedDurableSubscription: a durable subscription created
// with the capability `retained` gets the retained messages, journaled
// with it: unconsumed, they are still there after a restart.
func TestBrokerRetainedDurableSubscription(t *testing.T) {
	dir := t.TempDir()
	setup := func(r *router.Router) { r.SetAddress("default", "ds", router.Topic) }
	n := startNodeWith(t, dir, setup)
	sendRetained(t, session(t, n.addr), "ds/a", "kept", func(m *amqp.Message) { m.Header = &amqp.MessageHeader{Durable: true} })
	opts := &amqp.ReceiverOptions{Name: "sub", SourceDurability: amqp.DurabilityUnsettledState, SourceExpiryPolicy: amqp.ExpiryPolicyNever,
		SourceCapabilities: []string{"global", string(broker.CapabilityRetained)}, Credit: 10}
	r, err := session(t, n.addr).NewReceiver(ctx5(t), "ds/#", opts)
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "kept" {
		t.Fatalf("got %q", m.GetData())
	}
	// Not acknowledged: back in the subscription, and journaled.
	n.stop()
	n = startNodeWith(t, dir, setup)
	r, err = session(t, n.addr).NewReceiver(ctx5(t), "ds/#", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveMarked(t, r, 1); got[0] != "kept(retained)" {
		t.Fatalf("after restart got %v", got)
	}
	nothingMore(t, r) // the existing subscription is not seeded again
}
