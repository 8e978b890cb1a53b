package router_test

import (
	"context"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/router"
)

// TestRouterRelayCreditInBatches: the anonymous relay gives a producer its
// 250 credits back once half are used, not one flow per message, and the
// producer never runs dry.
func TestRouterRelayCreditInBatches(t *testing.T) {
	r, addr := startRouter(t)
	if err := r.SetAddress("default", "t", router.Multicast); err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, 10*time.Second)
	s := transportSession(t, ctx, addr, transport.Options{AllowNoSASL: true})
	snd, err := s.NewSender(ctx, "", transport.SenderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body, err := (&message.Message{Properties: &message.Properties{To: "t"}, Data: [][]byte{[]byte("x")}}).Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(n int) {
		t.Helper()
		for range n {
			st, err := snd.Send(ctx, body, transport.SendOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := st.(frames.Accepted); !ok {
				t.Fatalf("outcome %v", st)
			}
		}
	}
	// Once an outcome is back, the flow the router wrote before it (for
	// the message before) has been applied too.
	send(3)
	if cr, _ := snd.Link().Credit(); cr != 247 {
		t.Fatalf("credit after 3 messages: %d, want 247 (no flow per message)", cr)
	}
	send(600) // topped up at half again and again
	if cr, _ := snd.Link().Credit(); cr < 125 || cr > 250 {
		t.Fatalf("credit after 603 messages: %d, want within the half window", cr)
	}
}

// transportSession opens a session of this project's AMQP client to addr
// with opts; the connection closes at cleanup.
func transportSession(t *testing.T, ctx context.Context, addr string, opts transport.Options) *transport.Session {
	t.Helper()
	c, err := transport.Dial(ctx, addr, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background(), nil) })
	s, err := c.NewSession(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
