package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
	"github.com/enmasse-go/enmasse/internal/store"
)

func policyNode(t *testing.T, p broker.Policy) (*node, *amqp.Session) {
	t.Helper()
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) {
		for _, a := range []struct {
			name string
			typ  router.Type
		}{{"orders", router.Queue}, {"dlq", router.Deadletter}, {"expired", router.Deadletter}} {
			if err := r.SetAddress("default", a.name, a.typ); err != nil {
				t.Fatal(err)
			}
		}
	})
	if err := n.b.SetPolicy("default", "orders", p); err != nil {
		t.Fatal(err)
	}
	return n, session(t, n.addr)
}

func TestBrokerMaxDeliveryAttemptsToDeadLetter(t *testing.T) {
	n, s := policyNode(t, broker.Policy{DeadLetter: "dlq", MaxDeliveryAttempts: 3})
	send(t, s, "orders", "poison")
	rcv, err := s.NewReceiver(ctx5(t), "orders", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for attempt := range 3 {
		m, err := rcv.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatalf("attempt %d: %v", attempt+1, err)
		}
		if got := m.Header.DeliveryCount; got != uint32(attempt) {
			t.Fatalf("attempt %d carries delivery-count %d", attempt+1, got)
		}
		rcv.ModifyMessage(ctx5(t), m, &amqp.ModifyMessageOptions{DeliveryFailed: true})
	}
	nothingMore(t, rcv)
	dlq, err := s.NewReceiver(ctx5(t), "dlq", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	m, err := dlq.Receive(ctx5(t), nil)
	if err != nil || string(m.GetData()) != "poison" {
		t.Fatalf("dead-letter queue: %v %v", m, err)
	}
	if st, _ := n.b.Stats("default", "orders"); st.DeadLettered != 1 || st.Depth != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBrokerRejectedToDeadLetter(t *testing.T) {
	_, s := policyNode(t, broker.Policy{DeadLetter: "dlq"})
	send(t, s, "orders", "bad")
	rcv, _ := s.NewReceiver(ctx5(t), "orders", &amqp.ReceiverOptions{Credit: 10})
	m, err := rcv.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv.RejectMessage(ctx5(t), m, &amqp.Error{Condition: "app:invalid"})
	dlq, _ := s.NewReceiver(ctx5(t), "dlq", &amqp.ReceiverOptions{Credit: 10})
	if got := receiveN(t, dlq, 1); got[0] != "bad" {
		t.Fatalf("got %v", got)
	}
}

func TestBrokerRedeliveryDelay(t *testing.T) {
	_, s := policyNode(t, broker.Policy{RedeliveryDelay: 300 * time.Millisecond, RedeliveryMultiplier: 2})
	send(t, s, "orders", "retry")
	rcv, _ := s.NewReceiver(ctx5(t), "orders", &amqp.ReceiverOptions{Credit: 10})
	m, err := rcv.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	failedAt := time.Now()
	rcv.ModifyMessage(ctx5(t), m, &amqp.ModifyMessageOptions{DeliveryFailed: true})
	if _, err := rcv.Receive(ctx5(t), nil); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(failedAt); waited < 250*time.Millisecond {
		t.Fatalf("redelivered after %v, want the 300 ms delay", waited)
	}
}

func TestBrokerTTLExpiry(t *testing.T) {
	n, s := policyNode(t, broker.Policy{Expiry: "expired", MaxTTL: 200 * time.Millisecond})
	snd, _ := s.NewSender(ctx5(t), "orders", nil)
	short := amqp.NewMessage([]byte("short"))
	short.Header = &amqp.MessageHeader{TTL: 50 * time.Millisecond}
	if err := snd.Send(ctx5(t), short, nil); err != nil {
		t.Fatal(err)
	}
	// No TTL of its own: the address's maximum applies.
	if err := snd.Send(ctx5(t), amqp.NewMessage([]byte("capped")), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // both expire while nobody consumes
	rcv, _ := s.NewReceiver(ctx5(t), "orders", &amqp.ReceiverOptions{Credit: 10})
	nothingMore(t, rcv) // never delivered after expiry
	exp, _ := s.NewReceiver(ctx5(t), "expired", &amqp.ReceiverOptions{Credit: 10})
	if got := receiveN(t, exp, 2); got[0] != "short" || got[1] != "capped" {
		t.Fatalf("expiry queue got %v", got)
	}
	if st, _ := n.b.Stats("default", "orders"); st.Expired != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBrokerStatsAndPurge(t *testing.T) {
	n, s := policyNode(t, broker.Policy{})
	send(t, s, "orders", "a", "bb", "ccc")
	if _, err := s.NewSender(ctx5(t), "orders", nil); err != nil {
		t.Fatal(err)
	}
	var st broker.QueueStats
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		// The closed sender of send() detaches asynchronously.
		if st, _ = n.b.Stats("default", "orders"); st.Producers == 1 {
			break
		}
	}
	if st.Depth != 3 || st.Enqueued != 3 || st.Bytes <= 0 || st.OldestAge <= 0 || st.Producers != 1 {
		t.Fatalf("stats %+v", st)
	}
	if got, err := n.b.Purge("default", "orders"); err != nil || got != 3 {
		t.Fatalf("purge %d %v", got, err)
	}
	if st, _ := n.b.Stats("default", "orders"); st.Depth != 0 || st.Bytes != 0 {
		t.Fatalf("after purge %+v", st)
	}
}

func TestBrokerFullPolicyFail(t *testing.T) {
	_, s := policyNode(t, broker.Policy{MaxBytes: 3100, FullPolicy: broker.Fail})
	snd, _ := s.NewSender(ctx5(t), "orders", nil)
	body := make([]byte, 1000)
	var rejected int
	for range 6 {
		err := snd.Send(ctx5(t), amqp.NewMessage(body), nil)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Condition == amqp.ErrCondResourceLimitExceeded {
			rejected++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if rejected != 3 {
		t.Fatalf("%d messages rejected, want 3 (the queue holds three messages of about 1 KB)", rejected)
	}
}

func TestBrokerFullPolicyBlock(t *testing.T) {
	dir := t.TempDir()
	n := startNodeWith(t, dir, func(r *router.Router) { r.SetAddress("default", "orders", router.Queue) })
	n.b.SetPolicy("default", "orders", broker.Policy{MaxBytes: 5000, FullPolicy: broker.Block})
	s := session(t, n.addr)
	snd, _ := s.NewSender(ctx5(t), "orders", nil)
	body := make([]byte, 1000)
	sent := 0
	for range 400 {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		err := snd.Send(ctx, amqp.NewMessage(body), nil)
		cancel()
		if err != nil {
			break // no credit: blocked
		}
		sent++
	}
	if sent >= 400 {
		t.Fatal("the producer was never blocked")
	}
	// A consumer drains the queue and the producer gets credit again.
	rcv, _ := s.NewReceiver(ctx5(t), "orders", &amqp.ReceiverOptions{Credit: 500})
	receiveN(t, rcv, sent)
	if err := snd.Send(ctx5(t), amqp.NewMessage(body), nil); err != nil {
		t.Fatalf("after draining: %v", err)
	}
}

func TestBrokerPagedMessagesDelivered(t *testing.T) {
	dir := t.TempDir()
	log, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Open(broker.Options{Store: log, MaxMemory: 20_000})
	if err != nil {
		t.Fatal(err)
	}
	n := serveBroker(t, b)
	s := session(t, n)
	snd, _ := s.NewSender(ctx5(t), "big", nil)
	for i := range 200 {
		m := amqp.NewMessage(append([]byte(fmt.Sprintf("%04d", i)), make([]byte, 996)...))
		if err := snd.Send(ctx5(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := b.Stats("default", "big"); st.Depth != 200 || st.Bytes < 200_000 {
		t.Fatalf("stats %+v", st)
	}
	rcv, _ := s.NewReceiver(ctx5(t), "big", &amqp.ReceiverOptions{Credit: 300})
	for i := range 200 {
		m, err := rcv.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := string(m.GetData()[:4]); got != fmt.Sprintf("%04d", i) {
			t.Fatalf("message %d is %q", i, got)
		}
		rcv.AcceptMessage(ctx5(t), m)
	}
}
