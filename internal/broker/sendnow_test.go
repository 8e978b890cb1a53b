package broker_test

import (
	"fmt"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestBrokerPreSettledConsumers: a consumer taking messages pre-settled
// gets them straight from the producer's transfer while its queue is
// empty, and through the queue behind older messages: in order either way,
// counted like any delivery, and never after expiry.
func TestBrokerPreSettledConsumers(t *testing.T) {
	n := startNodeWith(t, t.TempDir(), func(r *router.Router) {
		if err := r.SetAddress("default", "jobs", router.Queue); err != nil {
			t.Fatal(err)
		}
		if err := r.SetAddress("default", "news", router.Topic); err != nil {
			t.Fatal(err)
		}
	})
	s := session(t, n.addr)
	snd, err := s.NewSender(ctx5(t), "", nil) // anonymous relay: every message names its address
	if err != nil {
		t.Fatal(err)
	}
	sendTo := func(to string, body string, expired bool) {
		t.Helper()
		m := amqp.NewMessage([]byte(body))
		m.Properties = &amqp.MessageProperties{To: &to}
		if expired {
			past := time.Now().Add(-time.Minute)
			m.Properties.AbsoluteExpiryTime = &past
		}
		if err := snd.Send(ctx5(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	preSettled := &amqp.ReceiverOptions{Credit: 100, RequestedSenderSettleMode: amqp.SenderSettleModeSettled.Ptr()}
	for i := range 5 { // no consumer yet: these wait in the queue
		sendTo("jobs", fmt.Sprint(i), false)
	}
	jobs, err := s.NewReceiver(ctx5(t), "jobs", preSettled)
	if err != nil {
		t.Fatal(err)
	}
	for i := 5; i < 10; i++ {
		sendTo("jobs", fmt.Sprint(i), false)
	}
	sendTo("jobs", "expired", true)
	sendTo("jobs", "10", false)
	all, err := s.NewReceiver(ctx5(t), "news/#", preSettled)
	if err != nil {
		t.Fatal(err)
	}
	acked, err := s.NewReceiver(ctx5(t), "news/+", &amqp.ReceiverOptions{Credit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		sendTo("news/a", fmt.Sprint(i), false)
	}
	sendTo("news/a", "expired", true)
	sendTo("news/a/b", "deep", false)
	want := func(r *amqp.Receiver, bodies ...string) {
		t.Helper()
		if got := receiveN(t, r, len(bodies)); fmt.Sprint(got) != fmt.Sprint(bodies) {
			t.Fatalf("got %v, want %v", got, bodies)
		}
	}
	var ten, twenty []string
	for i := range 20 {
		if i <= 10 {
			ten = append(ten, fmt.Sprint(i))
		}
		twenty = append(twenty, fmt.Sprint(i))
	}
	want(jobs, ten...)
	want(all, append(twenty, "deep")...)
	want(acked, twenty...)
	nothingMore(t, jobs)
	nothingMore(t, all)
	nothingMore(t, acked)
	st, _ := n.b.Stats("default", "jobs")
	if st.Depth != 0 || st.Enqueued != 12 || st.Dequeued != 12 || st.Expired != 1 {
		t.Fatalf("jobs stats %+v, want 12 enqueued and dequeued (one expired), none left", st)
	}
}

// The router's anonymous relay hands the broker its parsed message
// (every MQTT PUBLISH takes that way; the relay, retained and TTL tests
// of the router, broker and gateway cover it).
var _ router.ParsedProducer = (*broker.Broker)(nil)
