package broker_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/broker"
	"github.com/enmasse-go/enmasse/internal/router"
)

// node runs a router with a journaled broker over dir until stop is called.
type node struct {
	addr string
	stop func()
	b    *broker.Broker
}

func startNode(t *testing.T, dir string) *node {
	t.Helper()
	return startNodeWith(t, dir, nil)
}

// startNodeWith is startNode with addresses defined by setup.
func startNodeWith(t *testing.T, dir string, setup func(*router.Router)) *node {
	t.Helper()
	return startNodeOpts(t, dir, broker.Options{}, setup)
}

// serveBroker serves b behind a router with the auto-creating default
// space and returns the address.
func serveBroker(t *testing.T, b *broker.Broker) string {
	t.Helper()
	r := router.New(router.Options{Broker: b})
	r.SetSpace(router.SpaceConfig{Name: "default", AutoCreate: true})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(ln, transport.Options{Handler: r, OnOpen: r.OnOpen,
		Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})})
	go srv.Serve(context.Background())
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return ln.Addr().String()
}

func session(t *testing.T, addr string) *amqp.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := amqp.Dial(ctx, "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestBrokerDurableQueueSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	n := startNode(t, dir)
	s := session(t, n.addr)
	snd, err := s.NewSender(ctx5(t), "jobs", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		m := amqp.NewMessage([]byte(fmt.Sprintf("job %d", i)))
		m.Header = &amqp.MessageHeader{Durable: i%2 == 0} // odd ones are not durable
		if err := snd.Send(ctx5(t), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Consume and accept the first two (job 0 durable, job 1 not).
	rcv, err := s.NewReceiver(ctx5(t), "jobs", &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	rcv.IssueCredit(2)
	for range 2 {
		m, err := rcv.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		rcv.AcceptMessage(ctx5(t), m)
	}
	// The accepts travel asynchronously; wait until the broker applied them.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if st, _ := n.b.Stats("default", "jobs"); st.Dequeued == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the broker did not apply the two accepts")
		}
	}
	n.stop()

	// After the restart only the unconsumed durable messages are back, in order.
	n = startNode(t, dir)
	if st, ok := n.b.Stats("default", "jobs"); !ok || st.Depth != 4 {
		t.Fatalf("after restart: %+v %v, want 4 messages (jobs 2, 4, 6, 8)", st, ok)
	}
	rcv, err = session(t, n.addr).NewReceiver(ctx5(t), "jobs", &amqp.ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"job 2", "job 4", "job 6", "job 8"} {
		m, err := rcv.Receive(ctx5(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.GetData()) != want {
			t.Fatalf("got %q, want %q", m.GetData(), want)
		}
		rcv.AcceptMessage(ctx5(t), m)
	}
}

func TestBrokerRedeliveryCountAndOrder(t *testing.T) {
	n := startNode(t, t.TempDir())
	s := session(t, n.addr)
	snd, err := s.NewSender(ctx5(t), "work", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{"a", "b"} {
		if err := snd.Send(ctx5(t), amqp.NewMessage([]byte(body)), nil); err != nil {
			t.Fatal(err)
		}
	}
	rcv, err := s.NewReceiver(ctx5(t), "work", &amqp.ReceiverOptions{Credit: -1})
	if err != nil {
		t.Fatal(err)
	}
	rcv.IssueCredit(1)
	m, err := rcv.Receive(ctx5(t), nil)
	if err != nil || string(m.GetData()) != "a" {
		t.Fatalf("%v %v", m, err)
	}
	// A failed delivery goes back ahead of "b", with delivery-count 1.
	rcv.ModifyMessage(ctx5(t), m, &amqp.ModifyMessageOptions{DeliveryFailed: true})
	rcv.IssueCredit(1)
	m, err = rcv.Receive(ctx5(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.GetData()) != "a" || m.Header == nil || m.Header.DeliveryCount != 1 {
		t.Fatalf("redelivered %q with header %+v, want a with delivery-count 1", m.GetData(), m.Header)
	}
	rcv.AcceptMessage(ctx5(t), m)
}
