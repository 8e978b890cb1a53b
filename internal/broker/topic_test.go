package broker_test

import (
	"context"
	"errors"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

func receiveN(t *testing.T, r *amqp.Receiver, n int) []string {
	t.Helper()
	var out []string
	for range n {
		m, err := r.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatalf("after %v: %v", out, err)
		}
		r.AcceptMessage(ctx5(t), m)
		out = append(out, string(m.GetData()))
	}
	return out
}

func nothingMore(t *testing.T, r *amqp.Receiver) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if m, err := r.Receive(ctx, nil); err == nil {
		t.Fatalf("unexpected message %q", m.GetData())
	}
}

func send(t *testing.T, s *amqp.Session, addr string, bodies ...string) {
	t.Helper()
	snd, err := s.NewSender(ctx5(t), addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bodies {
		m := amqp.NewMessage([]byte(b))
		m.Header = &amqp.MessageHeader{Durable: true}
		if err := snd.Send(ctx5(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	snd.Close(ctx5(t))
}

func TestBrokerTopicFanoutAndWildcards(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) {
		if err := r.SetAddress("default", "sensors", router.Topic); err != nil {
			t.Fatal(err)
		}
	})
	s := session(t, n.addr)
	all, err := s.NewReceiver(ctx5(t), "sensors/#", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	temps, err := s.NewReceiver(ctx5(t), "sensors/+/temp", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	exact, err := s.NewReceiver(ctx5(t), "sensors", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	p := session(t, n.addr)
	send(t, p, "sensors/a/temp", "a-temp")
	send(t, p, "sensors/a/hum", "a-hum")
	send(t, p, "sensors", "root")
	if got := receiveN(t, all, 3); got[0] != "a-temp" || got[1] != "a-hum" || got[2] != "root" {
		t.Fatalf("sensors/# got %v", got)
	}
	if got := receiveN(t, temps, 1); got[0] != "a-temp" {
		t.Fatalf("sensors/+/temp got %v", got)
	}
	nothingMore(t, temps)
	if got := receiveN(t, exact, 1); got[0] != "root" {
		t.Fatalf("sensors got %v", got)
	}
	// A subscriber attached later gets only later messages.
	late, err := s.NewReceiver(ctx5(t), "sensors/#", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	nothingMore(t, late)
	// Wildcards are for subscribers.
	if _, err := p.NewSender(ctx5(t), "sensors/+/x", nil); err == nil {
		t.Fatal("publishing to a wildcard was accepted")
	}
	if _, err := s.NewReceiver(ctx5(t), "sensors/#/x", nil); err == nil {
		t.Fatal("a filter with # before the last level was accepted")
	}
}

func TestBrokerDurableSubscription(t *testing.T) {
	dir := t.TempDir()
	setup := func(r *router.Router) {
		if err := r.SetAddress("default", "news", router.Topic); err != nil {
			t.Fatal(err)
		}
		if err := r.SetAddress("default", "news::archive", router.Subscription); err != nil {
			t.Fatal(err)
		}
	}
	n := startNodeWith(t, dir, setup)
	// Messages published while nobody is attached are kept.
	send(t, session(t, n.addr), "news", "one", "two")
	s := session(t, n.addr)
	rcv, err := s.NewReceiver(ctx5(t), "news::archive", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Exclusive (maxConsumers 1).
	_, err = session(t, n.addr).NewReceiver(ctx5(t), "news::archive", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondResourceLocked {
		t.Fatalf("second consumer: %v, want amqp:resource-locked", err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "one" {
		t.Fatalf("got %v", got)
	}
	waitDequeued(t, n, "news::archive", 1)
	n.stop()
	// The subscription and its unconsumed message survive a restart.
	n = startNodeWith(t, dir, setup)
	rcv, err = session(t, n.addr).NewReceiver(ctx5(t), "news::archive", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "two" {
		t.Fatalf("after restart got %v", got)
	}
	for _, q := range n.b.Queues() {
		if q.OnAttach {
			t.Fatalf("the subscription address %+v is marked created on attach", q)
		}
	}
	if _, err := session(t, n.addr).NewSender(ctx5(t), "news::archive", nil); err == nil {
		t.Fatal("sending to a subscription was accepted")
	}
}

func TestBrokerJMSDurableSubscriber(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "prices", router.Topic) })
	dial := func() *amqp.Session {
		c, err := amqp.Dial(ctx5(t), "amqp://"+n.addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), ContainerID: "jms-client-1"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		s, _ := c.NewSession(ctx5(t), nil)
		return s
	}
	// Qpid JMS asks for a durable source (terminus durability 2, expiry never).
	opts := &amqp.ReceiverOptions{Name: "my-sub", SourceDurability: amqp.DurabilityUnsettledState, SourceExpiryPolicy: amqp.ExpiryPolicyNever, Credit: 10}
	s := dial()
	rcv, err := s.NewReceiver(ctx5(t), "prices", opts)
	if err != nil {
		t.Fatal(err)
	}
	send(t, session(t, n.addr), "prices", "p1")
	receiveN(t, rcv, 1)
	// The session ends under the link: detached, not closed, as Qpid
	// JMS detaches a durable subscriber it closes (go-amqp's Close
	// closes the link).
	s.Close(ctx5(t))
	// Published while the durable subscriber is away: kept for it.
	send(t, session(t, n.addr), "prices", "p2")
	s = dial()
	rcv, err = s.NewReceiver(ctx5(t), "prices", opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "p2" {
		t.Fatalf("got %v", got)
	}
	s.Close(ctx5(t))
	send(t, session(t, n.addr), "prices", "p3")

	// Qpid JMS's unsubscribe: a durable source with no address and the
	// subscription's link name reattaches to it (the answer names its
	// address), and closing the link deletes it with its messages.
	rcv, err = dial().NewReceiver(ctx5(t), "", opts)
	if err != nil {
		t.Fatalf("reattaching by link name: %v", err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "p3" {
		t.Fatalf("reattached by name, got %v", got)
	}
	// Kept for the reattached receiver until the close deletes it.
	send(t, session(t, n.addr), "prices", "p4")
	if _, ok := n.b.Stats("default", "prices::jms-client-1:my-sub"); !ok {
		t.Fatal("subscription gone before the close")
	}
	if err := rcv.Close(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	waitGone(t, n, "prices::jms-client-1:my-sub")
	var ae *amqp.Error
	if _, err := dial().NewReceiver(ctx5(t), "", opts); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotFound {
		t.Fatalf("reattaching a deleted subscription: %v, want amqp:not-found", err)
	}
	// Attaching to the topic again makes a new, empty subscription.
	rcv, err = dial().NewReceiver(ctx5(t), "prices", opts)
	if err != nil {
		t.Fatal(err)
	}
	if st, ok := n.b.Stats("default", "prices::jms-client-1:my-sub"); !ok || st.Depth != 0 || st.Unacked != 0 {
		t.Fatalf("new subscription: exists %v, %+v; want it empty (p4 went with the old one)", ok, st)
	}
}

// waitGone waits until the broker no longer has the queue or
// subscription addr (a link's close is applied after its detach is
// answered).
func waitGone(t *testing.T, nd *node, addr string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, ok := nd.b.Stats("default", addr); !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists", addr)
		}
	}
}

// TestBrokerDurableSubscriptionClose: closing a durable subscriber's
// link deletes its subscription only when no other consumer is attached
// (a shared one lives on with the others), never a subscription that is
// an address of its own (type subscription); detaching never deletes.
func TestBrokerDurableSubscriptionClose(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) {
		r.SetAddress("default", "prices", router.Topic)
		r.SetAddress("default", "prices::archive", router.Subscription)
	})
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// applied waits until the broker has handled everything s sent so
	// far: the connection's events are handled in order, so once an
	// attach after them is answered, they were.
	applied := func(s *amqp.Session) {
		t.Helper()
		r, err := s.NewReceiver(ctx5(t), "prices", nil)
		must(err)
		must(r.Close(ctx5(t)))
	}
	shared := &amqp.ReceiverOptions{Name: "pool", SourceDurability: amqp.DurabilityUnsettledState,
		SourceCapabilities: []string{"shared", "global"}, Credit: 10}
	sa := session(t, n.addr)
	a, err := sa.NewReceiver(ctx5(t), "prices", shared)
	must(err)
	shared2 := *shared
	shared2.Name = "pool|2"
	b, err := session(t, n.addr).NewReceiver(ctx5(t), "prices", &shared2)
	must(err)
	must(a.Close(ctx5(t)))
	applied(sa)
	if _, ok := n.b.Stats("default", "prices::pool"); !ok {
		t.Fatal("shared subscription deleted while a consumer was still attached")
	}
	must(b.Close(ctx5(t)))
	waitGone(t, n, "prices::pool")

	// A subscription an attach made, then adopted by an Address
	// resource of the same name, is the address's.
	adopt := &amqp.ReceiverOptions{Name: "adopted", SourceDurability: amqp.DurabilityUnsettledState,
		SourceCapabilities: []string{"global"}, Credit: 10}
	sd := session(t, n.addr)
	d, err := sd.NewReceiver(ctx5(t), "prices", adopt)
	must(err)
	must(n.b.EnsureAddress("default", "prices::adopted", "subscription"))
	must(d.Close(ctx5(t)))
	applied(sd)
	if _, ok := n.b.Stats("default", "prices::adopted"); !ok {
		t.Fatal("closing a consumer deleted the subscription an address adopted")
	}

	sr := session(t, n.addr)
	arch, err := sr.NewReceiver(ctx5(t), "prices::archive", &amqp.ReceiverOptions{Credit: 10})
	must(err)
	must(arch.Close(ctx5(t)))
	applied(sr)
	if _, ok := n.b.Stats("default", "prices::archive"); !ok {
		t.Fatal("closing a consumer deleted the subscription address")
	}
}

// waitDequeued waits until the broker applied n acknowledgements on addr
// (accepts travel asynchronously).
func waitDequeued(t *testing.T, nd *node, addr string, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := nd.b.Stats("default", addr); st.Dequeued >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the broker did not apply %d accepts on %s", n, addr)
		}
	}
}

// TestBrokerSharedNonDurable: JMS 2.0 shared non-durable consumers (and
// MQTT share groups): members compete for the messages; the subscription
// ends with its last member.
func TestBrokerSharedNonDurable(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "jobs", router.Topic) })
	opts := &amqp.ReceiverOptions{Name: "workers", SourceCapabilities: []string{"shared", "global"}, Credit: 20}
	a, err := session(t, n.addr).NewReceiver(ctx5(t), "jobs/#", opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Name = "workers|2" // Qpid JMS numbers further shared consumers
	b, err := session(t, n.addr).NewReceiver(ctx5(t), "jobs/#", opts)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := n.b.TopicStats("default", "jobs"); st.Subscriptions != 1 {
		t.Fatalf("%d subscriptions, want 1 shared", st.Subscriptions)
	}
	bodies := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
	send(t, session(t, n.addr), "jobs/x", bodies...)
	seen := map[string]int{}
	for _, r := range []*amqp.Receiver{a, b} {
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			m, err := r.Receive(ctx, nil)
			cancel()
			if err != nil {
				break
			}
			r.AcceptMessage(ctx5(t), m)
			seen[string(m.GetData())]++
		}
	}
	if len(seen) != 10 {
		t.Fatalf("members got %v, want each of 10", seen)
	}
	for body, k := range seen {
		if k != 1 {
			t.Fatalf("message %s delivered %d times", body, k)
		}
	}
	a.Close(ctx5(t))
	b.Close(ctx5(t))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := n.b.TopicStats("default", "jobs"); st.Subscriptions == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the shared subscription outlived its members")
		}
	}
}

// TestBrokerDeleteMissingKeepsProducers: deleting a queue that does not
// exist (a subscription deleted meanwhile by its consumer's close) is an
// error and changes nothing: a topic's producers, bound with no queue,
// keep publishing.
func TestBrokerDeleteMissingKeepsProducers(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "prices", router.Topic) })
	rcv, err := session(t, n.addr).NewReceiver(ctx5(t), "prices", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	snd, err := session(t, n.addr).NewSender(ctx5(t), "prices", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.b.DeleteAddress("default", "prices::gone"); err == nil {
		t.Fatal("deleting a missing subscription succeeded")
	}
	if err := snd.Send(ctx5(t), amqp.NewMessage([]byte("after")), nil); err != nil {
		t.Fatalf("producer after the failed delete: %v", err)
	}
	if got := receiveN(t, rcv, 1); got[0] != "after" {
		t.Fatalf("got %v", got)
	}
}

// TestBrokerMQTTSubscriptionNamesReserved: a durable subscription name
// starting with mqtt: belongs to an MQTT session of the in-process
// gateway; another AMQP client can neither attach to it by naming its
// link so (to drain it) nor reattach to it by name (to close and delete
// it).
func TestBrokerMQTTSubscriptionNamesReserved(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "sensors", router.Topic) })
	opts := &amqp.ReceiverOptions{Name: broker.MQTTSubscriptionPrefix + "dev1:sensors/#", SourceDurability: amqp.DurabilityUnsettledState,
		SourceCapabilities: []string{"global"}, Credit: 10}
	var ae *amqp.Error
	if _, err := session(t, n.addr).NewReceiver(ctx5(t), "sensors/#", opts); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("durable attach with an MQTT session's name: %v, want amqp:unauthorized-access", err)
	}
	if _, ok := n.b.Stats("default", "sensors::"+opts.Name); ok {
		t.Fatal("the refused attach made a subscription")
	}
	if _, err := session(t, n.addr).NewReceiver(ctx5(t), "", opts); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotFound {
		t.Fatalf("reattach by an MQTT session's name: %v, want amqp:not-found", err)
	}
	// A JMS client whose container id starts so is refused the same way.
	c, err := amqp.Dial(ctx5(t), "amqp://"+n.addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), ContainerID: "mqtt:dev1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	jms := &amqp.ReceiverOptions{Name: "sensors/#", SourceDurability: amqp.DurabilityUnsettledState, Credit: 10}
	if _, err := s.NewReceiver(ctx5(t), "sensors/#", jms); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("durable attach from container mqtt:dev1: %v, want amqp:unauthorized-access", err)
	}
}

// TestBrokerDurableCloseRacesAttach: a shared durable subscriber closes
// its link while another is between finding the subscription and being
// bound to it (held there by a hook): the close counts the newcomer and
// keeps the subscription, and the newcomer gets the next message.
func TestBrokerDurableCloseRacesAttach(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) { r.SetAddress("default", "prices", router.Topic) })
	opts := &amqp.ReceiverOptions{Name: "race", SourceDurability: amqp.DurabilityUnsettledState,
		SourceCapabilities: []string{"shared", "global"}, Credit: 10}
	a, err := session(t, n.addr).NewReceiver(ctx5(t), "prices", opts)
	if err != nil {
		t.Fatal(err)
	}
	held, release := make(chan struct{}), make(chan struct{})
	broker.SetDurableAttachHook(t, func(string) {
		close(held)
		<-release
	})
	late := *opts
	late.Name = "race|2"
	got := make(chan error, 1)
	var c *amqp.Receiver
	go func() {
		var err error
		c, err = session(t, n.addr).NewReceiver(ctx5(t), "prices", &late)
		got <- err
	}()
	<-held
	broker.SetDurableAttachHook(t, nil)
	if err := a.Close(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // an unguarded close deletes it now
	close(release)
	if err := <-got; err != nil {
		t.Fatalf("attach while the last consumer closed: %v", err)
	}
	send(t, session(t, n.addr), "prices", "next")
	if m := receiveN(t, c, 1); m[0] != "next" {
		t.Fatalf("got %v", m)
	}
}
