package transport

// Interoperability of the accepting side with github.com/Azure/go-amqp
// v1.7.0, an AMQP 1.0 client written independently of this engine. The
// client connects to serveTest running testNode, so every message goes
// go-amqp sender → engine (receiving link) → testNode → engine (sending
// link) → go-amqp receiver, and every outcome travels back the same way.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	amqp "github.com/Azure/go-amqp"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
)

// serveCapture is serveTest that also reports each server-side connection
// once its open has arrived (after SASL, so its Identity is set).
func serveCapture(t testing.TB, opts Options) (string, <-chan *Conn) {
	t.Helper()
	conns := make(chan *Conn, 16)
	prev := opts.OnOpen
	opts.OnOpen = func(c *Conn, o *frames.Open) error {
		if prev != nil {
			if err := prev(c, o); err != nil {
				return err
			}
		}
		select {
		case conns <- c:
		default:
		}
		return nil
	}
	return serveTest(t, opts), conns
}

func nextConn(t testing.TB, conns <-chan *Conn) *Conn {
	t.Helper()
	select {
	case c := <-conns:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no server-side connection opened")
		return nil
	}
}

// goamqpDial connects with go-amqp; nil opts authenticate with ANONYMOUS,
// as the servers of anonymousServer require.
func goamqpDial(t testing.TB, addr string, opts *amqp.ConnOptions) (*amqp.Conn, *amqp.Session) {
	t.Helper()
	ctx := ctxT(t)
	if opts == nil {
		opts = &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()}
	}
	c, err := amqp.Dial(ctx, "amqp://"+addr, opts)
	if err != nil {
		t.Fatalf("go-amqp dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatalf("go-amqp session: %v", err)
	}
	return c, s
}

func goamqpSender(t testing.TB, s *amqp.Session, addr string, o *amqp.SenderOptions) *amqp.Sender {
	t.Helper()
	snd, err := s.NewSender(ctxT(t), addr, o)
	if err != nil {
		t.Fatalf("go-amqp sender to %q: %v", addr, err)
	}
	return snd
}

func goamqpReceiver(t testing.TB, s *amqp.Session, addr string, o *amqp.ReceiverOptions) *amqp.Receiver {
	t.Helper()
	rcv, err := s.NewReceiver(ctxT(t), addr, o)
	if err != nil {
		t.Fatalf("go-amqp receiver from %q: %v", addr, err)
	}
	return rcv
}

// receiveWithin receives one message or fails the test.
func receiveWithin(t testing.TB, r *amqp.Receiver, d time.Duration) *amqp.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := r.Receive(ctx, nil)
	if err != nil {
		t.Fatalf("go-amqp receive: %v", err)
	}
	return m
}

// expectNoMessage checks that nothing arrives within d.
func expectNoMessage(t testing.TB, r *amqp.Receiver, d time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	m, err := r.Receive(ctx, nil)
	if err == nil {
		t.Fatalf("got a message %q although no credit was granted for it", m.GetData())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("receive: %v, want a timeout", err)
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// anonymousServer serves node (a new testNode when nil) with SASL ANONYMOUS.
func anonymousServer(node ...*testNode) Options {
	n := newTestNode()
	if len(node) > 0 {
		n = node[0]
	}
	return Options{Handler: n, Authenticator: sasl.NewAuthenticator(sasl.Config{AllowAnonymous: true})}
}

// goamqpRoundTrip sends one message through the node and checks it arrives.
func goamqpRoundTrip(t testing.TB, s *amqp.Session, addr string) {
	t.Helper()
	ctx := ctxT(t)
	snd := goamqpSender(t, s, addr, nil)
	rcv := goamqpReceiver(t, s, addr, nil)
	want := []byte("round trip to " + addr)
	errc := make(chan error, 1)
	go func() { errc <- snd.Send(ctx, amqp.NewMessage(want), nil) }()
	m := receiveWithin(t, rcv, 5*time.Second)
	if !bytes.Equal(m.GetData(), want) {
		t.Fatalf("got %q, want %q", m.GetData(), want)
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestGoAMQPConnectAnonymous(t *testing.T) {
	addr, conns := serveCapture(t, anonymousServer())
	_, s := goamqpDial(t, addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), ContainerID: "goamqp-anon"})
	c := nextConn(t, conns)
	if id := c.Identity(); !id.Anonymous || id.Mechanism != sasl.Anonymous {
		t.Fatalf("identity %+v, want anonymous via ANONYMOUS", id)
	}
	if got := c.RemoteOpen().ContainerID; got != "goamqp-anon" {
		t.Fatalf("container-id %q", got)
	}
	goamqpRoundTrip(t, s, "anon-q")
}

func plainUsers(t testing.TB) sasl.MemoryUsers {
	t.Helper()
	cred, err := sasl.NewPasswordCredentials("s3cret")
	if err != nil {
		t.Fatal(err)
	}
	return sasl.MemoryUsers{"alice": cred}
}

func TestGoAMQPConnectPlain(t *testing.T) {
	opts := Options{Handler: newTestNode(), Authenticator: sasl.NewAuthenticator(sasl.Config{Users: plainUsers(t), AllowPlainWithoutTLS: true})}
	addr, conns := serveCapture(t, opts)

	t.Run("good", func(t *testing.T) {
		_, s := goamqpDial(t, addr, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain("alice", "s3cret")})
		c := nextConn(t, conns)
		if id := c.Identity(); id.User != "alice" || id.Mechanism != sasl.Plain || id.Anonymous {
			t.Fatalf("identity %+v, want alice via PLAIN", id)
		}
		goamqpRoundTrip(t, s, "plain-q")
	})
	for _, tc := range []struct{ name, user, pass string }{
		{"wrong password", "alice", "wrong"},
		{"unknown user", "mallory", "s3cret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := amqp.Dial(ctxT(t), "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypePlain(tc.user, tc.pass)})
			if err == nil {
				c.Close()
				t.Fatal("go-amqp dial succeeded with bad credentials")
			}
			// go-amqp reports the sasl-outcome code: 1 is auth (RFC 4422,
			// AMQP 1.0 §5.3.3.6), never revealing which part was wrong.
			if !strings.Contains(err.Error(), "SASL") || !strings.Contains(err.Error(), "code 0x1") {
				t.Fatalf("dial error %q, want a SASL auth failure (code 0x1)", err)
			}
			select {
			case c := <-conns:
				t.Fatalf("connection %v opened despite failed SASL", c.RemoteAddr())
			case <-time.After(50 * time.Millisecond):
			}
		})
	}
	t.Run("anonymous not offered", func(t *testing.T) {
		c, err := amqp.Dial(ctxT(t), "amqp://"+addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous()})
		if err == nil {
			c.Close()
			t.Fatal("ANONYMOUS accepted by a server that offers only password mechanisms")
		}
	})
}

func TestGoAMQPSettleModes(t *testing.T) {
	const n = 20 // messages per combination
	node := newTestNode()
	node.received = make(chan *Delivery, 6*n)
	addr := serveTest(t, anonymousServer(node))
	_, s := goamqpDial(t, addr, nil)
	snds := []struct {
		name string
		mode amqp.SenderSettleMode
		ours frames.SenderSettleMode
	}{
		{"mixed", amqp.SenderSettleModeMixed, frames.SndMixed},
		{"settled", amqp.SenderSettleModeSettled, frames.SndSettled},
		{"unsettled", amqp.SenderSettleModeUnsettled, frames.SndUnsettled},
	}
	rcvs := []struct {
		name string
		mode amqp.ReceiverSettleMode
		ours frames.ReceiverSettleMode
	}{
		{"first", amqp.ReceiverSettleModeFirst, frames.RcvFirst},
		{"second", amqp.ReceiverSettleModeSecond, frames.RcvSecond},
	}
	for _, sm := range snds {
		for _, rm := range rcvs {
			t.Run(sm.name+"/"+rm.name, func(t *testing.T) {
				ctx := ctxT(t)
				q := "settle-" + sm.name + "-" + rm.name
				snd := goamqpSender(t, s, q, &amqp.SenderOptions{SettlementMode: &sm.mode, RequestedReceiverSettleMode: &rm.mode})
				rcv := goamqpReceiver(t, s, q, &amqp.ReceiverOptions{SettlementMode: &rm.mode, Credit: 10})
				presettled := func(i int) bool {
					return sm.mode == amqp.SenderSettleModeSettled || (sm.mode == amqp.SenderSettleModeMixed && i%2 == 1)
				}
				errc := make(chan error, n)
				go func() {
					for i := range n {
						m := amqp.NewMessage([]byte(fmt.Sprintf("%s-%d", q, i)))
						var so *amqp.SendOptions
						if sm.mode == amqp.SenderSettleModeMixed && presettled(i) {
							so = &amqp.SendOptions{Settled: true} // mixed: every other one pre-settled
						}
						errc <- snd.Send(ctx, m, so)
					}
				}()
				for i := range n {
					m := receiveWithin(t, rcv, 5*time.Second)
					if want := fmt.Sprintf("%s-%d", q, i); string(m.GetData()) != want {
						t.Fatalf("message %d: %q, want %q", i, m.GetData(), want)
					}
					if err := rcv.AcceptMessage(ctx, m); err != nil {
						t.Fatalf("accept %d: %v", i, err)
					}
				}
				for i := range n {
					if err := <-errc; err != nil {
						t.Fatalf("send %d: %v", i, err)
					}
				}
				// What the engine negotiated and saw on the producer's link.
				for i := range n {
					in := <-node.received
					l := in.Link()
					if l.SenderSettleMode() != sm.ours || l.ReceiverSettleMode() != rm.ours {
						t.Fatalf("engine link modes snd=%v rcv=%v, want %v/%v", l.SenderSettleMode(), l.ReceiverSettleMode(), sm.ours, rm.ours)
					}
					_, remoteSettled := in.RemoteState()
					if presettled(i) && !remoteSettled {
						t.Fatalf("message %d was sent pre-settled but the engine has it unsettled", i)
					}
					if !presettled(i) {
						// Unsettled at arrival; the engine settled it with the
						// consumer's outcome, and in mode second only after
						// the producer settled (AMQP 1.0 §2.6.12).
						waitFor(t, fmt.Sprintf("message %d settled", i), func() bool {
							_, rs := in.RemoteState()
							return in.Settled() && (rm.mode == amqp.ReceiverSettleModeFirst || rs)
						})
					}
				}
				if err := snd.Close(ctx); err != nil {
					t.Fatalf("close sender: %v", err)
				}
				if err := rcv.Close(ctx); err != nil {
					t.Fatalf("close receiver: %v", err)
				}
			})
		}
	}
}

// TestGoAMQPSettleModeSecondEndToEnd checks that with receiver-settle-mode
// second on the producer's link the producer's Send returns only after the
// consumer's outcome and that the engine settles after the producer does.
func TestGoAMQPSettleModeSecondEndToEnd(t *testing.T) {
	node := newTestNode()
	node.received = make(chan *Delivery, 1)
	addr := serveTest(t, anonymousServer(node))
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	second := amqp.ReceiverSettleModeSecond
	snd := goamqpSender(t, s, "second", &amqp.SenderOptions{RequestedReceiverSettleMode: &second})
	rcv := goamqpReceiver(t, s, "second", &amqp.ReceiverOptions{SettlementMode: &second})
	receipt, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte("two-phase")), nil)
	if err != nil {
		t.Fatal(err)
	}
	in := <-node.received
	if in.Link().ReceiverSettleMode() != frames.RcvSecond {
		t.Fatalf("engine's receiving link uses rcv-settle-mode %v, the producer asked for second", in.Link().ReceiverSettleMode())
	}
	m := receiveWithin(t, rcv, 5*time.Second)
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	st, err := receipt.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(*amqp.StateAccepted); !ok {
		t.Fatalf("producer saw %T, want accepted", st)
	}
	// The producer settles after seeing the outcome; the engine's delivery
	// then counts as settled on both ends.
	waitFor(t, "the engine to see the producer settle", func() bool {
		_, remote := in.RemoteState()
		return remote && in.Settled()
	})
}

func TestGoAMQPManualCredit(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, Options{Handler: node}) // no SASL layer at all
	_, s := goamqpDial(t, addr, &amqp.ConnOptions{})
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "credit", nil)
	var receipts []amqp.SendReceipt
	for i := range 3 {
		r, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte{'m', byte('0' + i)}), nil)
		if err != nil {
			t.Fatal(err)
		}
		receipts = append(receipts, r)
	}
	waitFor(t, "3 messages queued", func() bool { return node.queued("credit") == 3 })

	rcv := goamqpReceiver(t, s, "credit", &amqp.ReceiverOptions{Credit: -1})
	expectNoMessage(t, rcv, 200*time.Millisecond) // no credit at all yet
	if node.queued("credit") != 3 {
		t.Fatalf("a message left the queue without credit: %d queued", node.queued("credit"))
	}
	for i := range 3 {
		if err := rcv.IssueCredit(1); err != nil {
			t.Fatal(err)
		}
		m := receiveWithin(t, rcv, 5*time.Second)
		if want := []byte{'m', byte('0' + i)}; !bytes.Equal(m.GetData(), want) {
			t.Fatalf("got %q, want %q", m.GetData(), want)
		}
		// Exactly one per credit: the next one stays at the node.
		expectNoMessage(t, rcv, 250*time.Millisecond)
		if got, want := node.queued("credit"), 2-i; got != want {
			t.Fatalf("after %d credits %d messages queued, want %d", i+1, got, want)
		}
		if cr := node.consumerCredit("credit"); cr != 0 {
			t.Fatalf("engine thinks the consumer has %d credit left", cr)
		}
		if err := rcv.AcceptMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		st, err := receipts[i].Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := st.(*amqp.StateAccepted); !ok {
			t.Fatalf("message %d: producer saw %T, want accepted", i, st)
		}
	}
}

// TestGoAMQPAutoCredit1 uses go-amqp's automatic credit of 1: the second
// message may only arrive once the first is settled, which is when go-amqp
// renews the credit.
func TestGoAMQPAutoCredit1(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, anonymousServer(node))
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "credit1", nil)
	rcv := goamqpReceiver(t, s, "credit1", &amqp.ReceiverOptions{Credit: 1})
	for i := range 2 {
		if _, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte{byte('a' + i)}), nil); err != nil {
			t.Fatal(err)
		}
	}
	m := receiveWithin(t, rcv, 5*time.Second)
	if string(m.GetData()) != "a" {
		t.Fatalf("first message %q", m.GetData())
	}
	expectNoMessage(t, rcv, 250*time.Millisecond)
	if node.queued("credit1") != 1 {
		t.Fatalf("%d queued, want 1", node.queued("credit1"))
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	m = receiveWithin(t, rcv, 5*time.Second)
	if string(m.GetData()) != "b" {
		t.Fatalf("second message %q", m.GetData())
	}
	rcv.AcceptMessage(ctx, m)
}

// TestGoAMQPDrainCredit: go-amqp's DrainCredit sends drain=true with
// link-credit 0 (it does not ask the sender to use up outstanding credit,
// it revokes it); the engine must answer with drain=true and its
// delivery-count so the drain completes, and keep nothing.
func TestGoAMQPDrainCredit(t *testing.T) {
	node := newTestNode()
	addr := serveTest(t, anonymousServer(node))
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "drain", nil)
	for i := range 2 {
		if _, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte{byte('a' + i)}), nil); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "2 messages queued", func() bool { return node.queued("drain") == 2 })
	rcv := goamqpReceiver(t, s, "drain", &amqp.ReceiverOptions{Credit: -1})
	if err := rcv.IssueCredit(5); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		m := receiveWithin(t, rcv, 5*time.Second)
		if want := string(rune('a' + i)); string(m.GetData()) != want {
			t.Fatalf("got %q, want %q", m.GetData(), want)
		}
		rcv.AcceptMessage(ctx, m)
	}
	waitFor(t, "3 credits left at the engine", func() bool { return node.consumerCredit("drain") == 3 })
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := rcv.DrainCredit(dctx, nil); err != nil {
		t.Fatalf("drain: %v", err)
	}
	if cr := node.consumerCredit("drain"); cr != 0 {
		t.Fatalf("engine kept %d credit after the drain", cr)
	}
	// With the credit drained a new message must stay at the node.
	if _, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte("c")), nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "message c queued", func() bool { return node.queued("drain") == 1 })
	expectNoMessage(t, rcv, 250*time.Millisecond)
	// Draining again with nothing outstanding completes too.
	if err := rcv.DrainCredit(dctx, nil); err != nil {
		t.Fatalf("second drain: %v", err)
	}
	if err := rcv.IssueCredit(1); err != nil {
		t.Fatal(err)
	}
	m := receiveWithin(t, rcv, 5*time.Second)
	if string(m.GetData()) != "c" {
		t.Fatalf("got %q, want c", m.GetData())
	}
	rcv.AcceptMessage(ctx, m)
}

func TestGoAMQPLargeMessage(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "big", nil)
	rcv := goamqpReceiver(t, s, "big", nil)
	payload := make([]byte, 10<<20)
	for i := range payload {
		payload[i] = byte(i * 7 / 3)
	}
	errc := make(chan error, 1)
	go func() { errc <- snd.Send(ctx, amqp.NewMessage(payload), nil) }()
	m := receiveWithin(t, rcv, 20*time.Second)
	if !bytes.Equal(m.GetData(), payload) {
		t.Fatalf("10 MiB payload differs (got %d bytes)", len(m.GetData()))
	}
	if err := rcv.AcceptMessage(ctx, m); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// TestGoAMQPOutcomes passes each outcome from a go-amqp consumer through the
// engine (both links) back to a go-amqp producer.
func TestGoAMQPOutcomes(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	cases := []struct {
		name    string
		settle  func(r *amqp.Receiver, m *amqp.Message) error
		check   func(t *testing.T, st amqp.DeliveryState)
		sendErr func(t *testing.T, err error) // what Send (not SendWithReceipt) returns
	}{
		{
			name:   "accept",
			settle: func(r *amqp.Receiver, m *amqp.Message) error { return r.AcceptMessage(ctx, m) },
			check: func(t *testing.T, st amqp.DeliveryState) {
				if _, ok := st.(*amqp.StateAccepted); !ok {
					t.Fatalf("state %T %+v, want accepted", st, st)
				}
			},
			sendErr: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			},
		},
		{
			name: "reject",
			settle: func(r *amqp.Receiver, m *amqp.Message) error {
				return r.RejectMessage(ctx, m, &amqp.Error{Condition: "com.example:bad-order", Description: "order 42 is malformed"})
			},
			check: func(t *testing.T, st amqp.DeliveryState) {
				rj, ok := st.(*amqp.StateRejected)
				if !ok {
					t.Fatalf("state %T %+v, want rejected", st, st)
				}
				if rj.Error == nil || rj.Error.Condition != "com.example:bad-order" || rj.Error.Description != "order 42 is malformed" {
					t.Fatalf("rejected error %+v", rj.Error)
				}
			},
			sendErr: func(t *testing.T, err error) {
				var ae *amqp.Error
				if !errors.As(err, &ae) || ae.Condition != "com.example:bad-order" || ae.Description != "order 42 is malformed" {
					t.Fatalf("Send returned %T %v, want *amqp.Error com.example:bad-order", err, err)
				}
			},
		},
		{
			name: "reject without error",
			settle: func(r *amqp.Receiver, m *amqp.Message) error {
				return r.RejectMessage(ctx, m, nil)
			},
			check: func(t *testing.T, st amqp.DeliveryState) {
				rj, ok := st.(*amqp.StateRejected)
				if !ok || rj.Error != nil {
					t.Fatalf("state %T %+v, want rejected without error", st, st)
				}
			},
			sendErr: func(t *testing.T, err error) {
				if err == nil {
					t.Fatal("Send of a rejected message returned nil")
				}
			},
		},
		{
			name:   "release",
			settle: func(r *amqp.Receiver, m *amqp.Message) error { return r.ReleaseMessage(ctx, m) },
			check: func(t *testing.T, st amqp.DeliveryState) {
				if _, ok := st.(*amqp.StateReleased); !ok {
					t.Fatalf("state %T %+v, want released", st, st)
				}
			},
			sendErr: func(t *testing.T, err error) {
				if err != nil { // go-amqp's Send reports only rejections
					t.Fatalf("Send: %v", err)
				}
			},
		},
		{
			name: "modify",
			settle: func(r *amqp.Receiver, m *amqp.Message) error {
				return r.ModifyMessage(ctx, m, &amqp.ModifyMessageOptions{
					DeliveryFailed: true, UndeliverableHere: true,
					Annotations: amqp.Annotations{"x-opt-reason": "try elsewhere", "x-opt-attempts": int64(3)},
				})
			},
			check: func(t *testing.T, st amqp.DeliveryState) {
				md, ok := st.(*amqp.StateModified)
				if !ok {
					t.Fatalf("state %T %+v, want modified", st, st)
				}
				if !md.DeliveryFailed || !md.UndeliverableHere {
					t.Fatalf("modified %+v, want delivery-failed and undeliverable-here", md)
				}
				if md.MessageAnnotations["x-opt-reason"] != "try elsewhere" || md.MessageAnnotations["x-opt-attempts"] != int64(3) {
					t.Fatalf("modified annotations %#v", md.MessageAnnotations)
				}
			},
			sendErr: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			},
		},
		{
			name: "modify plain",
			settle: func(r *amqp.Receiver, m *amqp.Message) error {
				return r.ModifyMessage(ctx, m, &amqp.ModifyMessageOptions{})
			},
			check: func(t *testing.T, st amqp.DeliveryState) {
				md, ok := st.(*amqp.StateModified)
				if !ok || md.DeliveryFailed || md.UndeliverableHere || len(md.MessageAnnotations) != 0 {
					t.Fatalf("state %T %+v, want a plain modified", st, st)
				}
			},
			sendErr: func(t *testing.T, err error) {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
			},
		},
	}
	for _, rm := range []amqp.ReceiverSettleMode{amqp.ReceiverSettleModeFirst, amqp.ReceiverSettleModeSecond} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%s/rcv-mode-%d", tc.name, rm), func(t *testing.T) {
				q := fmt.Sprintf("outcome-%s-%v", tc.name, rm)
				snd := goamqpSender(t, s, q, &amqp.SenderOptions{RequestedReceiverSettleMode: &rm})
				rcv := goamqpReceiver(t, s, q, &amqp.ReceiverOptions{SettlementMode: &rm})
				defer snd.Close(ctx)
				defer rcv.Close(ctx)

				receipt, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte("receipt")), nil)
				if err != nil {
					t.Fatal(err)
				}
				m := receiveWithin(t, rcv, 5*time.Second)
				if err := tc.settle(rcv, m); err != nil {
					t.Fatalf("settle: %v", err)
				}
				st, err := receipt.Wait(ctx)
				if err != nil {
					t.Fatalf("wait: %v", err)
				}
				tc.check(t, st)

				errc := make(chan error, 1)
				go func() { errc <- snd.Send(ctx, amqp.NewMessage([]byte("send")), nil) }()
				m = receiveWithin(t, rcv, 5*time.Second)
				if string(m.GetData()) != "send" {
					t.Fatalf("got %q", m.GetData())
				}
				if err := tc.settle(rcv, m); err != nil {
					t.Fatalf("settle: %v", err)
				}
				tc.sendErr(t, <-errc)
			})
		}
	}
}

func TestGoAMQPIdleTimeout(t *testing.T) {
	opts := anonymousServer()
	opts.IdleTimeout = 500 * time.Millisecond
	addr, conns := serveCapture(t, opts)

	t.Run("heartbeats keep it open", func(t *testing.T) {
		// Both sides ask for frames every 500 ms: go-amqp must heartbeat
		// to us and the engine's writer to go-amqp.
		_, s := goamqpDial(t, addr, &amqp.ConnOptions{IdleTimeout: 500 * time.Millisecond, SASLType: amqp.SASLTypeAnonymous()})
		sc := nextConn(t, conns)
		// go-amqp announces half its idle timeout ("per spec").
		if got := sc.RemoteOpen().IdleTimeout; got == 0 || got > 500 {
			t.Fatalf("go-amqp announced idle-time-out %d ms, want 1..500", got)
		}
		select {
		case <-sc.Done():
			t.Fatalf("server closed the connection: %v", sc.Err())
		case <-time.After(2 * time.Second):
		}
		goamqpRoundTrip(t, s, "idle-q")
		if err := sc.Err(); err != nil {
			t.Fatalf("server side: %v", err)
		}
	})

	t.Run("silent peer is closed", func(t *testing.T) {
		// A peer that opens and then sends nothing, not even heartbeats,
		// is closed with resource-limit-exceeded (AMQP 1.0 §2.4.5). This
		// shows the test above would fail without go-amqp's heartbeats.
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		ph := frames.ProtoHeader(frames.ProtoAMQP)
		out := frames.AppendFrame(ph[:], frames.TypeAMQP, 0, &frames.Open{ContainerID: "silent", MaxFrameSize: 65536})
		// Without SASL: the server requires it, so go through ANONYMOUS.
		sph := frames.ProtoHeader(frames.ProtoSASL)
		init := frames.AppendFrame(sph[:], frames.TypeSASL, 0, &frames.SASLInit{Mechanism: "ANONYMOUS", InitialResponse: []byte{}})
		if _, err := nc.Write(append(init, out...)); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		nc.SetReadDeadline(time.Now().Add(8 * time.Second))
		fr := newFrameReader(nc, 1<<20)
		var closeFrame *frames.Close
		for _, want := range []byte{frames.ProtoSASL, frames.ProtoAMQP} {
			h, err := fr.protoHeader()
			if err != nil {
				t.Fatal(err)
			}
			if id, _ := frames.ParseProtoHeader(h); id != want {
				t.Fatalf("protocol header %q", h)
			}
			if want == frames.ProtoSASL {
				for range 2 { // mechanisms, outcome
					if _, err := fr.next(); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		for closeFrame == nil {
			f, err := fr.next()
			if err != nil {
				t.Fatalf("no close before the connection ended: %v", err)
			}
			if len(f.Body) == 0 {
				continue
			}
			b, err := frames.Decode(f.Type, f.Body)
			if err != nil {
				t.Fatal(err)
			}
			closeFrame, _ = b.(*frames.Close)
		}
		if closeFrame.Error == nil || closeFrame.Error.Condition != frames.ErrResourceLimitExceeded {
			t.Fatalf("close %+v, want resource-limit-exceeded", closeFrame.Error)
		}
		if el := time.Since(start); el < 400*time.Millisecond {
			t.Fatalf("closed after %v, before the 500 ms idle timeout", el)
		}
	})
}

func TestGoAMQPDynamicReceiver(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	rcv := goamqpReceiver(t, s, "", &amqp.ReceiverOptions{DynamicAddress: true})
	dyn := rcv.Address()
	if len(dyn) <= len("dynamic-") || dyn[:len("dynamic-")] != "dynamic-" {
		t.Fatalf("dynamic receiver got address %q, want one assigned by the node", dyn)
	}
	rcv2 := goamqpReceiver(t, s, "", &amqp.ReceiverOptions{DynamicAddress: true})
	if rcv2.Address() == dyn {
		t.Fatalf("two dynamic receivers share address %q", dyn)
	}
	snd := goamqpSender(t, s, dyn, nil)
	errc := make(chan error, 1)
	go func() { errc <- snd.Send(ctx, amqp.NewMessage([]byte("to the dynamic node")), nil) }()
	m := receiveWithin(t, rcv, 5*time.Second)
	if string(m.GetData()) != "to the dynamic node" {
		t.Fatalf("got %q", m.GetData())
	}
	rcv.AcceptMessage(ctx, m)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	expectNoMessage(t, rcv2, 100*time.Millisecond)
}

func TestGoAMQPAnonymousRelay(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	relay := goamqpSender(t, s, "", nil) // null target address
	r1 := goamqpReceiver(t, s, "relay-1", nil)
	r2 := goamqpReceiver(t, s, "relay-2", nil)
	for _, tc := range []struct {
		to  string
		rcv *amqp.Receiver
	}{{"relay-1", r1}, {"relay-2", r2}, {"relay-1", r1}} {
		to := tc.to
		m := amqp.NewMessage([]byte("for " + to))
		m.Properties = &amqp.MessageProperties{To: &to}
		errc := make(chan error, 1)
		go func() { errc <- relay.Send(ctx, m, nil) }()
		got := receiveWithin(t, tc.rcv, 5*time.Second)
		if string(got.GetData()) != "for "+to || got.Properties == nil || got.Properties.To == nil || *got.Properties.To != to {
			t.Fatalf("receiver of %s got %q (properties %+v)", to, got.GetData(), got.Properties)
		}
		tc.rcv.AcceptMessage(ctx, got)
		if err := <-errc; err != nil {
			t.Fatalf("relay send to %s: %v", to, err)
		}
	}
	// Without "to" the node cannot route: rejected, and go-amqp's Send
	// returns the rejection's error.
	err := relay.Send(ctx, amqp.NewMessage([]byte("nowhere")), nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCond(frames.ErrPreconditionFailed) {
		t.Fatalf("send without to: %T %v, want *amqp.Error %s", err, err, frames.ErrPreconditionFailed)
	}
	expectNoMessage(t, r1, 100*time.Millisecond)
}

// TestGoAMQPRefusedAttach checks that a link the node refuses reaches
// go-amqp as the node's error condition (null terminus, then detach).
func TestGoAMQPRefusedAttach(t *testing.T) {
	node := newTestNode()
	node.refuse["forbidden"] = frames.Errorf(frames.ErrUnauthorizedAccess, "no access to %s", "forbidden")
	addr := serveTest(t, anonymousServer(node))
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	_, err := s.NewSender(ctx, "forbidden", nil)
	var ae *amqp.Error
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess || ae.Description != "no access to forbidden" {
		t.Fatalf("sender attach: %T %v", err, err)
	}
	_, err = s.NewReceiver(ctx, "forbidden", nil)
	if !errors.As(err, &ae) || ae.Condition != amqp.ErrCondUnauthorizedAccess {
		t.Fatalf("receiver attach: %T %v", err, err)
	}
	// The session is still usable.
	goamqpRoundTrip(t, s, "allowed")
}

// TestGoAMQPRejectErrorInfo rejects with an error carrying info. go-amqp
// encodes Error.Info (a map[string]any) with string keys, where AMQP 1.0
// §2.8.14 requires "fields", whose keys are symbols; package frames refuses
// such a map, so the engine closes the whole connection with
// amqp:decode-error. Until frames accepts string keys this test skips when
// it sees that close, and otherwise checks the info arrives intact.
func TestGoAMQPRejectErrorInfo(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	_, s := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "info", nil)
	rcv := goamqpReceiver(t, s, "info", nil)
	receipt, err := snd.SendWithReceipt(ctx, amqp.NewMessage([]byte("x")), nil)
	if err != nil {
		t.Fatal(err)
	}
	m := receiveWithin(t, rcv, 5*time.Second)
	rerr := rcv.RejectMessage(ctx, m, &amqp.Error{Condition: "com.example:bad", Description: "bad", Info: map[string]any{"line": int64(7)}})
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := receipt.Wait(wctx)
	var ae *amqp.Error
	if err != nil && errors.As(err, &ae) && ae.Condition == amqp.ErrCondDecodeError && strings.Contains(ae.Description, "not a symbol") {
		t.Fatalf("go-amqp's string-keyed error info closed the connection: %v", err)
	}
	if rerr != nil || err != nil {
		t.Fatalf("reject: %v, wait: %v", rerr, err)
	}
	rj, ok := st.(*amqp.StateRejected)
	if !ok || rj.Error == nil || rj.Error.Info["line"] != int64(7) {
		t.Fatalf("producer saw %T %+v", st, st)
	}
}

// TestGoAMQPSmallFrames uses (nearly) the smallest max-frame-size both ways
// (512, AMQP 1.0 §2.7.1), so every message is split into many transfers by
// go-amqp and by the engine, whose transfer performative must leave room for
// the payload. go-amqp ignores a MaxFrameSize of exactly 512 (it only takes
// values above 512), so it announces 513.
func TestGoAMQPSmallFrames(t *testing.T) {
	opts := anonymousServer()
	opts.MaxFrameSize = 512
	addr, conns := serveCapture(t, opts)
	_, s := goamqpDial(t, addr, &amqp.ConnOptions{SASLType: amqp.SASLTypeAnonymous(), MaxFrameSize: 513})
	if sc := nextConn(t, conns); sc.MaxFrameSize() != 513 {
		t.Fatalf("engine sends frames of up to %d bytes, go-amqp accepts 513", sc.MaxFrameSize())
	}
	ctx := ctxT(t)
	snd := goamqpSender(t, s, "small", nil)
	rcv := goamqpReceiver(t, s, "small", &amqp.ReceiverOptions{Credit: 10})
	for _, size := range []int{0, 1, 400, 440, 450, 460, 470, 480, 490, 500, 511, 512, 1000, 100 << 10} {
		payload := patternBytes(size)
		errc := make(chan error, 1)
		go func() { errc <- snd.Send(ctx, amqp.NewMessage(payload), nil) }()
		m := receiveWithin(t, rcv, 10*time.Second)
		if !bytes.Equal(m.GetData(), payload) {
			t.Fatalf("%d-byte body arrived as %d bytes that differ", size, len(m.GetData()))
		}
		if err := rcv.AcceptMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
	}
}

// TestGoAMQPSessionsAndLinks spreads links over several go-amqp sessions
// (channels) and many handles, ends one session in the middle, and checks
// every message reaches the right receiver.
func TestGoAMQPSessionsAndLinks(t *testing.T) {
	addr := serveTest(t, anonymousServer())
	c, s0 := goamqpDial(t, addr, nil)
	ctx := ctxT(t)
	sessions := []*amqp.Session{s0}
	for range 3 {
		s, err := c.NewSession(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		sessions = append(sessions, s)
	}
	const links = 20
	type pair struct {
		snd *amqp.Sender
		rcv *amqp.Receiver
	}
	var pairs []pair
	for i := range links {
		q := fmt.Sprintf("multi-%d", i)
		// Sender and receiver of a queue on different sessions.
		pairs = append(pairs, pair{
			goamqpSender(t, sessions[i%4], q, nil),
			goamqpReceiver(t, sessions[(i+1)%4], q, &amqp.ReceiverOptions{Credit: 5}),
		})
	}
	check := func(round int, skip func(i int) bool) {
		t.Helper()
		for i, p := range pairs {
			if skip(i) {
				continue
			}
			body := fmt.Sprintf("round %d to %d", round, i)
			errc := make(chan error, 1)
			go func() { errc <- p.snd.Send(ctx, amqp.NewMessage([]byte(body)), nil) }()
			m := receiveWithin(t, p.rcv, 5*time.Second)
			if string(m.GetData()) != body {
				t.Fatalf("receiver %d got %q, want %q", i, m.GetData(), body)
			}
			p.rcv.AcceptMessage(ctx, m)
			if err := <-errc; err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
	}
	check(0, func(int) bool { return false })
	// End session 2: its links go; the others keep working.
	if err := sessions[2].Close(ctx); err != nil {
		t.Fatalf("ending a session: %v", err)
	}
	check(1, func(i int) bool { return i%4 == 2 || (i+1)%4 == 2 })
	// A new session reuses a channel.
	s, err := c.NewSession(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	goamqpRoundTrip(t, s, "after-end")
}
