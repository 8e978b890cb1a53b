package transport

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

// holdAttach answers no attach (ErrAttachLater without CompleteAttach)
// and reports the links it holds and their detaches.
type holdAttach struct {
	NopHandler
	attached chan *Link
	detached chan *Link
}

func (h *holdAttach) OnAttach(l *Link) error { h.attached <- l; return ErrAttachLater }
func (h *holdAttach) OnDetach(l *Link, err error) {
	h.detached <- l
}

// TestAttachGivenUpDetachesWithoutClosing: an Attach whose context ends
// before the answer detaches the link without closing it (AMQP 1.0
// §2.6.6), so a durable terminus the peer has bound meanwhile (a durable
// subscription) is not ended by a client that stopped waiting; a
// Detach with closed set still reaches the peer as a close.
func TestAttachGivenUpDetachesWithoutClosing(t *testing.T) {
	s, c := net.Pipe()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := &holdAttach{attached: make(chan *Link, 2), detached: make(chan *Link, 2)}
	go Accept(ctx, s, Options{Handler: h, Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})})
	conn, err := NewClientConn(ctx, c, Options{SASL: sasl.NewAnonymousClient("")})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := conn.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	durable := frames.Attach{Name: "sub", Role: frames.RoleReceiver, Source: &frames.Source{Address: "topic", Durable: 2}, Target: &frames.Target{}}
	actx, acancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = sess.Attach(actx, durable)
	acancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Attach: %v, want the context's deadline", err)
	}
	<-h.attached
	if l := <-h.detached; l.RemoteClosed() {
		t.Fatal("an attach given up on closed the link")
	}

	// The other way round: a link closed by the client is RemoteClosed.
	done := make(chan *Link, 1)
	go func() {
		l := <-h.attached
		l.CompleteAttach(nil)
		done <- l
	}()
	durable.Name = "sub2"
	l, err := sess.Attach(ctx, durable)
	if err != nil {
		t.Fatal(err)
	}
	srv := <-done
	if srv.RemoteClosed() {
		t.Fatal("RemoteClosed while attached")
	}
	if err := l.Detach(ctx, nil, true); err != nil {
		t.Fatal(err)
	}
	if got := <-h.detached; got != srv || !got.RemoteClosed() {
		t.Fatal("a closing detach is not RemoteClosed")
	}
}
