package router_test

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/router"
)

// willClient is a go-amqp connection over a socket the test can cut, with
// a sender attached to $lwt.
type willClient struct {
	nc   net.Conn
	conn *amqp.Conn
	snd  *amqp.Sender
}

func dialWill(t *testing.T, addr string) *willClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := amqp.NewConn(ctxT(t, 10*time.Second), nc, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); nc.Close() })
	s, err := c.NewSession(ctxT(t, 10*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	snd, err := s.NewSender(ctxT(t, 10*time.Second), router.LWTAddress, nil)
	if err != nil {
		t.Fatalf("attach to $lwt: %v", err)
	}
	return &willClient{nc: nc, conn: c, snd: snd}
}

func (w *willClient) will(t *testing.T, to, body, subject string) error {
	t.Helper()
	m := amqp.NewMessage([]byte(body))
	m.Properties = &amqp.MessageProperties{}
	if to != "" {
		m.Properties.To = &to
	}
	if subject != "" {
		m.Properties.Subject = &subject
	}
	return w.snd.Send(ctxT(t, 10*time.Second), m, nil)
}

// expectWills receives from queue until the marker message and returns
// the bodies before it: the marker, sent after the event under test,
// shows that nothing else is coming.
func expectWills(t *testing.T, addr, queue string, rcv *amqp.Receiver) []string {
	t.Helper()
	marker := dial(t, addr, "")
	snd, err := marker.NewSender(ctxT(t, 5*time.Second), queue, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	// The will is published asynchronously: wait for it before the
	// marker when one is expected, by receiving with a short grace.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	if m, err := rcv.Receive(ctx, nil); err == nil {
		rcv.AcceptMessage(ctxT(t, 5*time.Second), m)
		got = append(got, string(m.GetData()))
	}
	cancel()
	if err := snd.Send(ctxT(t, 5*time.Second), amqp.NewMessage([]byte("marker")), nil); err != nil {
		t.Fatal(err)
	}
	for {
		m, err := rcv.Receive(ctxT(t, 10*time.Second), nil)
		if err != nil {
			t.Fatalf("receive: %v (so far %q)", err, got)
		}
		rcv.AcceptMessage(ctxT(t, 5*time.Second), m)
		if string(m.GetData()) == "marker" {
			return got
		}
		got = append(got, string(m.GetData()))
	}
}

func TestLWTPublishedOnAbruptClose(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "wills", router.Queue)
	rcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "wills", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := dialWill(t, addr)
	if err := w.will(t, "wills", "device 1 is gone", ""); err != nil {
		t.Fatalf("will: %v", err)
	}
	w.nc.Close() // no detach, no close: the socket drops
	m, err := rcv.Receive(ctxT(t, 10*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	rcv.AcceptMessage(ctxT(t, 5*time.Second), m)
	if string(m.GetData()) != "device 1 is gone" || m.Properties.To == nil || *m.Properties.To != "wills" {
		t.Fatalf("got %q to %v", m.GetData(), m.Properties.To)
	}
	if got := expectWills(t, addr, "wills", rcv); len(got) != 0 {
		t.Fatalf("more after the will: %q", got)
	}
}

func TestLWTCleanCloseAndDetachDiscard(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "wills", router.Queue)
	rcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "wills", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := dialWill(t, addr)
	w.will(t, "wills", "closed cleanly", "")
	if err := w.conn.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := dialWill(t, addr)
	w2.will(t, "wills", "detached cleanly", "")
	if err := w2.snd.Close(ctxT(t, 5*time.Second)); err != nil {
		t.Fatal(err)
	}
	w2.nc.Close() // the link is gone already: nothing to publish
	if got := expectWills(t, addr, "wills", rcv); len(got) != 0 {
		t.Fatalf("wills published after clean endings: %q", got)
	}
}

func TestLWTReplaceAndClear(t *testing.T) {
	r, addr := startRouter(t)
	r.SetAddress("default", "wills", router.Queue)
	r.SetAddress("default", "other", router.Queue)
	rcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "wills", nil)
	if err != nil {
		t.Fatal(err)
	}
	w := dialWill(t, addr)
	w.will(t, "other", "first", "")
	w.will(t, "wills", "second", "will") // replaces the first, another address
	w.nc.Close()
	if got := expectWills(t, addr, "wills", rcv); len(got) != 1 || got[0] != "second" {
		t.Fatalf("got %q, want only the replacement", got)
	}
	orcv, err := dial(t, addr, "").NewReceiver(ctxT(t, 5*time.Second), "other", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := expectWills(t, addr, "other", orcv); len(got) != 0 {
		t.Fatalf("the replaced will was published: %q", got)
	}

	w = dialWill(t, addr)
	w.will(t, "wills", "cleared", "")
	if err := w.will(t, "", "", router.WillClearSubject); err != nil {
		t.Fatalf("will-clear: %v", err)
	}
	w.nc.Close()
	if got := expectWills(t, addr, "wills", rcv); len(got) != 0 {
		t.Fatalf("a cleared will was published: %q", got)
	}
}

func TestLWTRefusals(t *testing.T) {
	_, addr := startRouter(t)
	w := dialWill(t, addr)
	var ae *amqp.Error
	if err := w.will(t, "", "no address", ""); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondInvalidField {
		t.Fatalf("will without to: %v, want invalid-field", err)
	}
	s := dial(t, addr, "")
	if _, err := s.NewReceiver(ctxT(t, 5*time.Second), router.LWTAddress, nil); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotAllowed {
		t.Fatalf("receiver on $lwt: %v, want not-allowed", err)
	}
	// The anonymous relay does not create a queue "$lwt".
	relay, err := dial(t, addr, "").NewSender(ctxT(t, 5*time.Second), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	to := router.LWTAddress
	m := amqp.NewMessage([]byte("x"))
	m.Properties = &amqp.MessageProperties{To: &to}
	if err := relay.Send(ctxT(t, 5*time.Second), m, nil); !errors.As(err, &ae) || ae.Condition != amqp.ErrCondNotAllowed {
		t.Fatalf("relay to $lwt: %v, want not-allowed", err)
	}
}
