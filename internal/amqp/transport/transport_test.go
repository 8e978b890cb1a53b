package transport

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func dialTest(t testing.TB, addr string, opts Options) (*Conn, *Session) {
	t.Helper()
	c, err := Dial(ctxT(t), addr, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background(), nil) })
	s, err := c.NewSession(ctxT(t))
	if err != nil {
		t.Fatalf("session: %v", err)
	}
	return c, s
}

func TestAMQPTransportSendReceiveOwnClient(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node})
	_, s := dialTest(t, addr, Options{})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "q1", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "q1", ReceiverOptions{Credit: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		payload := []byte{0x00, 0x53, 0x77, 0xa1, 1, byte('a' + i)}
		errc := make(chan error, 1)
		go func() {
			st, err := snd.Send(ctx, payload, SendOptions{})
			if err == nil {
				if _, ok := st.(frames.Accepted); !ok {
					err = &frames.Error{Condition: "unexpected", Description: st.String()}
				}
			}
			errc <- err
		}()
		d, err := rcv.Receive(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(d.Payload(), payload) {
			t.Fatalf("got %x want %x", d.Payload(), payload)
		}
		rcv.Accept(d)
		if err := <-errc; err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
}

func TestAMQPTransportLargeMessage(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node})
	_, s := dialTest(t, addr, Options{MaxFrameSize: 65536})
	ctx := ctxT(t)
	snd, err := s.NewSender(ctx, "big", SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rcv, err := s.NewReceiver(ctx, "big", ReceiverOptions{Credit: 1})
	if err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("0123456789abcdef"), 10<<20/16)
	errc := make(chan error, 1)
	go func() { _, err := snd.Send(ctx, payload, SendOptions{}); errc <- err }()
	d, err := rcv.Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.Payload(), payload) {
		t.Fatalf("payload of %d bytes differs", len(d.Payload()))
	}
	rcv.Accept(d)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
