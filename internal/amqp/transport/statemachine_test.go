package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/amqptest"
	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/sasl"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// These tests drive the accepting side of the engine with a scripted fake
// peer (package amqptest) over net.Pipe, frame by frame, and check what the
// engine answers: in particular which error condition it sends and at which
// scope (detach, end or close).

// smNode is testNode with knobs for the state machine tests: the credit and
// max-message-size it gives links where it receives.
type smNode struct {
	*testNode
	credit uint32
	maxMsg uint64
}

func newSMNode() *smNode {
	n := &smNode{testNode: newTestNode(), credit: 100, maxMsg: 64 << 20}
	n.received = make(chan *Delivery, 100)
	return n
}

func (n *smNode) OnAttach(l *Link) error {
	if err := n.testNode.OnAttach(l); err != nil {
		return err
	}
	if !l.IsSender() {
		l.SetMaxMessageSize(n.maxMsg)
		l.Flow(n.credit, false)
	}
	return nil
}

type acceptResult struct {
	c   *Conn
	err error
}

// smAccept runs Accept on one end of a net.Pipe in the background and
// returns a peer on the other end. The server connection is closed when the
// test ends.
func smAccept(t testing.TB, opts Options, popts ...amqptest.Option) (*amqptest.Peer, <-chan acceptResult) {
	t.Helper()
	srv, cli := net.Pipe()
	res := make(chan acceptResult, 1)
	done := make(chan struct{})
	var c *Conn
	go func() {
		defer close(done)
		var err error
		c, err = Accept(context.Background(), srv, opts)
		res <- acceptResult{c, err}
	}()
	p := amqptest.NewPeer(t, cli, popts...)
	t.Cleanup(func() {
		// Hang up first, so the engine ends at once instead of waiting
		// for an answer to its close.
		cli.Close()
		<-done
		if c != nil {
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Error("connection still running after the peer hung up")
			}
		}
	})
	return p, res
}

func waitAccept(t testing.TB, res <-chan acceptResult) acceptResult {
	t.Helper()
	select {
	case r := <-res:
		return r
	case <-time.After(5 * time.Second):
		t.Fatal("Accept did not return")
	}
	panic("unreachable")
}

// smEnv is one connection under test: the peer, the engine's Conn and the
// node behind it, with session 0 begun (the engine answers on channel
// ch).
type smEnv struct {
	p    *amqptest.Peer
	c    *Conn
	node *smNode
	ch   uint16
}

func plainAuthenticator(t testing.TB) sasl.Authenticator {
	creds, err := sasl.NewPasswordCredentials("secret")
	if err != nil {
		t.Fatal(err)
	}
	return sasl.NewAuthenticator(sasl.Config{Users: sasl.MemoryUsers{"user": creds}, AllowPlainWithoutTLS: true})
}

func sender(name string, h uint32, addr string) *frames.Attach {
	return &frames.Attach{Name: name, Handle: h, Role: frames.RoleSender, SndSettleMode: frames.SndMixed,
		Source: &frames.Source{Address: "peer"}, Target: &frames.Target{Address: addr},
		InitialDeliveryCount: 0, HasInitialDeliveryCount: true}
}

func receiver(name string, h uint32, addr string) *frames.Attach {
	return &frames.Attach{Name: name, Handle: h, Role: frames.RoleReceiver, SndSettleMode: frames.SndMixed,
		Source: &frames.Source{Address: addr}, Target: &frames.Target{Address: "peer"}}
}

// attachSender attaches a link on which the peer sends to addr and returns
// the engine's attach and its first flow (the node's credit).
func (x *smEnv) attachSender(t testing.TB, h uint32, addr string) (*frames.Attach, *frames.Flow) {
	t.Helper()
	a := amqptest.AttachLink(t, x.p, 0, sender(fmt.Sprintf("snd-%d", h), h, addr))
	f := amqptest.Expect[*frames.Flow](t, x.p)
	if !f.HasHandle || f.Handle != a.Handle {
		t.Fatalf("flow after attach is not for handle %d: %v", a.Handle, f)
	}
	return a, f
}

// attachReceiver attaches a link on which the peer receives from addr.
func (x *smEnv) attachReceiver(t testing.TB, h uint32, addr string) *frames.Attach {
	t.Helper()
	return amqptest.AttachLink(t, x.p, 0, receiver(fmt.Sprintf("rcv-%d", h), h, addr))
}

func xfer(h, id uint32, payload []byte, more bool) *frames.Transfer {
	return &frames.Transfer{Handle: h, DeliveryID: id, HasDeliveryID: true, DeliveryTag: []byte{byte(id)},
		MessageFormat: 0, HasMessageFormat: true, More: more, Payload: payload}
}

// sync sends a session flow with echo and waits for the answer, so every
// frame sent before has been processed.
func (x *smEnv) sync(t testing.TB) {
	t.Helper()
	x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Echo: true})
	for {
		f := amqptest.Expect[*frames.Flow](t, x.p)
		if !f.HasHandle {
			return
		}
	}
}

// expectAfterFlows is amqptest.Expect that skips flow frames (credit
// top-ups the node sends as it consumes).
func expectAfterFlows[T frames.Body](t testing.TB, p *amqptest.Peer) T {
	t.Helper()
	for {
		_, body, err := p.Next()
		if err != nil {
			var zero T
			t.Fatalf("expected %T: %v", zero, err)
		}
		if _, ok := body.(*frames.Flow); ok || body == nil {
			continue
		}
		v, ok := body.(T)
		if !ok {
			var zero T
			t.Fatalf("expected %T, got %v", zero, body)
		}
		return v
	}
}

// sessionLocked returns the engine's session 0; x.c.mu is held.
func (x *smEnv) sessionLocked(t testing.TB) *Session {
	t.Helper()
	s := x.c.sessions[x.ch]
	if s == nil {
		t.Fatalf("no session on channel %d", x.ch)
	}
	return s
}

const (
	scopeDetach = "detach"
	scopeEnd    = "end"
	scopeClose  = "close"
)

// expectError reads the engine's frames until a detach, end or close, which
// must carry cond and be of the given scope; flows, dispositions,
// transfers and attaches before it are skipped. It then checks that the
// scopes above are untouched: after a detach the session still answers,
// after an end the connection still begins sessions, and after a close the
// connection ends with cond as its error.
func expectError(t *testing.T, x *smEnv, scope string, cond types.Symbol) {
	t.Helper()
	var got string
	var e *frames.Error
	for got == "" {
		_, body, err := x.p.Next()
		if err != nil {
			t.Fatalf("expected %s with %s: %v", scope, cond, err)
		}
		switch b := body.(type) {
		case *frames.Detach:
			got, e = scopeDetach, b.Error
		case *frames.End:
			got, e = scopeEnd, b.Error
		case *frames.Close:
			got, e = scopeClose, b.Error
		case nil, *frames.Flow, *frames.Disposition, *frames.Transfer, *frames.Attach:
		default:
			t.Fatalf("expected %s with %s, got %v", scope, cond, body)
		}
	}
	if got != scope || e == nil || e.Condition != cond {
		t.Fatalf("got %s with error %v, want %s with %s", got, e, scope, cond)
	}
	t.Logf("%s: %v", got, e)
	switch scope {
	case scopeDetach:
		x.sync(t)
	case scopeEnd:
		amqptest.BeginSession(t, x.p, 1, nil)
	case scopeClose:
		x.p.Send(0, &frames.Close{})
		if _, err := amqptest.WaitClosed(t, x.p); !amqptest.IsClosed(err) {
			t.Fatalf("connection not closed: %v", err)
		}
		select {
		case <-x.c.Done():
		case <-time.After(5 * time.Second):
			t.Fatal("Conn not done after close")
		}
		var fe *frames.Error
		if err := x.c.Err(); !errors.As(err, &fe) || fe.Condition != cond {
			t.Fatalf("Conn.Err() = %v, want the local error %s", err, cond)
		}
	}
}

func TestAMQPTransportStateMachine(t *testing.T) {
	payload := []byte{0x00, 0x53, 0x77, 0xa1, 0x02, 'h', 'i'}
	tests := map[string]struct {
		opts   Options
		popts  []amqptest.Option
		node   func(*smNode)
		sasl   bool // authenticate with SASL PLAIN first
		script func(t *testing.T, x *smEnv)
		scope  string // "": the script checks everything itself
		cond   types.Symbol
	}{
		"frame on a channel with no session": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(7, &frames.Flow{IncomingWindow: 10, OutgoingWindow: 10})
			},
			scope: scopeClose, cond: frames.ErrFramingError,
		},
		"begin on a channel already in use": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(0, &frames.Begin{IncomingWindow: 10, OutgoingWindow: 10})
			},
			scope: scopeClose, cond: frames.ErrFramingError,
		},
		"begin on a channel above channel-max": {
			opts: Options{ChannelMax: 3},
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(4, &frames.Begin{IncomingWindow: 10, OutgoingWindow: 10})
			},
			scope: scopeClose, cond: frames.ErrFramingError,
		},
		"attach on a handle already in use": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				x.p.Send(0, sender("other", 0, "q"))
			},
			scope: scopeEnd, cond: frames.ErrHandleInUse,
		},
		"attach with a handle above handle-max": {
			// AMQP 1.0 §2.7.2, handle-max: "A peer that receives a
			// handle outside the supported range MUST close the
			// connection with the framing-error error-code."
			opts: Options{HandleMax: 3},
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 3, "q")
				x.p.Send(0, sender("high", 4, "q"))
			},
			scope: scopeClose, cond: frames.ErrFramingError,
		},
		"flow for an unknown handle": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(0, &frames.Flow{IncomingWindow: 10, OutgoingWindow: 10, Handle: 9, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 10, HasLinkCredit: true})
			},
			scope: scopeEnd, cond: frames.ErrUnattachedHandle,
		},
		"transfer for an unknown handle": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				x.p.Send(0, xfer(1, 0, payload, false))
			},
			scope: scopeEnd, cond: frames.ErrUnattachedHandle,
		},
		"detach for an unknown handle": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(0, &frames.Detach{Handle: 5, Closed: true})
			},
			scope: scopeEnd, cond: frames.ErrUnattachedHandle,
		},
		"transfer beyond the incoming window": {
			opts: Options{IncomingWindow: 4},
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				// The engine widens its window again as soon as
				// half of it is used; see TestAMQPTransportIncomingWindow.
				// Here the window is exhausted from the inside.
				x.c.mu.Lock()
				x.sessionLocked(t).incomingWindow = 0
				x.c.mu.Unlock()
				x.p.Send(0, xfer(0, 0, payload, false))
			},
			scope: scopeEnd, cond: frames.ErrWindowViolation,
		},
		"transfer without credit": {
			node: func(n *smNode) { n.credit = 0 },
			script: func(t *testing.T, x *smEnv) {
				if _, f := x.attachSender(t, 0, "q"); f.LinkCredit != 0 {
					t.Fatalf("credit %d, want 0", f.LinkCredit)
				}
				x.p.Send(0, xfer(0, 0, payload, false))
			},
			scope: scopeDetach, cond: frames.ErrTransferLimitExceeded,
		},
		"message larger than max-message-size": {
			node: func(n *smNode) { n.maxMsg = 100 },
			script: func(t *testing.T, x *smEnv) {
				a, _ := x.attachSender(t, 0, "q")
				if a.MaxMessageSize != 100 {
					t.Fatalf("attach announces max-message-size %d, want 100", a.MaxMessageSize)
				}
				x.p.Send(0, xfer(0, 0, bytes.Repeat([]byte{'a'}, 60), true))
				x.p.Send(0, &frames.Transfer{Handle: 0, More: false, Payload: bytes.Repeat([]byte{'b'}, 41)})
			},
			scope: scopeDetach, cond: frames.ErrMessageSizeExceeded,
		},
		"second open": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(0, &frames.Open{ContainerID: "again"})
			},
			scope: scopeClose, cond: frames.ErrIllegalState,
		},
		"SASL frame after SASL": {
			sasl: true,
			script: func(t *testing.T, x *smEnv) {
				if u := x.c.Identity().User; u != "user" {
					t.Fatalf("identity %q, want user", u)
				}
				x.p.SendSASL(&frames.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00secret")})
			},
			scope: scopeClose, cond: frames.ErrFramingError,
		},
		"transfer on a link where the peer receives": {
			script: func(t *testing.T, x *smEnv) {
				x.attachReceiver(t, 0, "q")
				x.p.Send(0, xfer(0, 0, payload, false))
			},
			scope: scopeEnd, cond: frames.ErrErrantLink,
		},
		"attach with a non-empty unsettled map": {
			script: func(t *testing.T, x *smEnv) {
				a := sender("resume", 0, "q")
				a.Unsettled = types.Map{{Key: []byte("tag-1"), Value: nil}}
				x.p.Send(0, a)
				ra := amqptest.Expect[*frames.Attach](t, x.p)
				if ra.Target != nil {
					t.Fatalf("refusing attach has target %v, want null", ra.Target)
				}
				d := amqptest.Expect[*frames.Detach](t, x.p)
				if d.Handle != ra.Handle || !d.Closed || d.Error == nil || d.Error.Condition != frames.ErrNotImplemented {
					t.Fatalf("got %v, want a closing detach with %s", d, frames.ErrNotImplemented)
				}
				x.sync(t)
			},
		},
		"continuation transfer with a different delivery-id": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				x.p.Send(0, xfer(0, 0, payload, true))
				x.p.Send(0, xfer(0, 1, payload, false))
			},
			scope: scopeDetach, cond: frames.ErrInvalidField,
		},
		"aborted multi-frame transfer": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				x.p.Send(0, xfer(0, 0, payload, true))
				x.p.Send(0, &frames.Transfer{Handle: 0, More: true, Payload: payload})
				x.p.Send(0, &frames.Transfer{Handle: 0, Aborted: true, Settled: true, HasSettled: true})
				// The credit is used: the echoed link state shows it.
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 0, HasHandle: true,
					DeliveryCount: 1, HasDeliveryCount: true, Echo: true})
				f := amqptest.Expect[*frames.Flow](t, x.p)
				if !f.HasHandle || f.DeliveryCount != 1 || f.LinkCredit != 99 {
					t.Fatalf("echoed flow %v, want delivery-count 1 and credit 99", f)
				}
				select {
				case d := <-x.node.received:
					t.Fatalf("aborted delivery was delivered: %q", d.Payload())
				default:
				}
				// The link still works.
				x.p.Send(0, xfer(0, 1, []byte("after"), false))
				select {
				case d := <-x.node.received:
					if string(d.Payload()) != "after" || d.ID() != 1 {
						t.Fatalf("got delivery %d %q, want 1 %q", d.ID(), d.Payload(), "after")
					}
				case <-time.After(5 * time.Second):
					t.Fatal("message after the aborted one not delivered")
				}
			},
		},
		"multi-frame transfer arrives as one message": {
			popts: []amqptest.Option{amqptest.ChunkSize(7)},
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				var want []byte
				for i := range 20 {
					part := bytes.Repeat([]byte{byte('a' + i)}, 50+i)
					want = append(want, part...)
					t := &frames.Transfer{Handle: 0, More: i < 19, Payload: part}
					if i == 0 {
						t = xfer(0, 0, part, true)
					}
					x.p.Send(0, t)
				}
				select {
				case d := <-x.node.received:
					if !bytes.Equal(d.Payload(), want) {
						t.Fatalf("got %d bytes %q..., want %d bytes", len(d.Payload()), d.Payload()[:min(20, len(d.Payload()))], len(want))
					}
				case <-time.After(5 * time.Second):
					t.Fatal("message not delivered")
				}
				select {
				case d := <-x.node.received:
					t.Fatalf("second delivery %q", d.Payload())
				default:
				}
			},
		},
		"disposition range settles several deliveries": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "q")
				ra := x.attachReceiver(t, 1, "q")
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 1, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 3, HasLinkCredit: true})
				for i := range uint32(3) {
					x.p.Send(0, xfer(0, i, []byte{byte('0' + i)}, false))
				}
				for i := range uint32(3) {
					tr := expectAfterFlows[*frames.Transfer](t, x.p)
					if tr.Handle != ra.Handle || tr.DeliveryID != i || tr.Settled || string(tr.Payload) != string(rune('0'+i)) {
						t.Fatalf("transfer %d: %v %q", i, tr, tr.Payload)
					}
				}
				x.p.Send(0, &frames.Disposition{Role: frames.RoleReceiver, First: 0, Last: 2, HasLast: true, Settled: true, State: frames.Accepted{}})
				seen := map[uint32]bool{}
				for range 3 {
					d := expectAfterFlows[*frames.Disposition](t, x.p)
					if d.Role != frames.RoleReceiver || !d.Settled || d.LastID() != d.First {
						t.Fatalf("disposition to the producer: %v", d)
					}
					if _, ok := d.State.(frames.Accepted); !ok {
						t.Fatalf("disposition to the producer: %v", d)
					}
					seen[d.First] = true
				}
				if len(seen) != 3 || !seen[0] || !seen[1] || !seen[2] {
					t.Fatalf("producer deliveries settled: %v, want 0, 1, 2", seen)
				}
				x.sync(t)
				x.c.mu.Lock()
				defer x.c.mu.Unlock()
				s := x.sessionLocked(t)
				if len(s.unsettledOut) != 0 || len(s.unsettledIn) != 0 {
					t.Fatalf("unsettled after the range disposition: out %d, in %d", len(s.unsettledOut), len(s.unsettledIn))
				}
			},
		},
		"drain uses up the credit": {
			script: func(t *testing.T, x *smEnv) {
				x.attachSender(t, 0, "d")
				for i := range uint32(2) {
					tr := xfer(0, i, []byte{byte('0' + i)}, false)
					tr.Settled, tr.HasSettled = true, true
					x.p.Send(0, tr)
				}
				x.p.Send(0, &frames.Detach{Handle: 0, Closed: true})
				expectAfterFlows[*frames.Detach](t, x.p)
				ra := x.attachReceiver(t, 1, "d")
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 1, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 5, HasLinkCredit: true, Drain: true})
				for i := range uint32(2) {
					tr := amqptest.Expect[*frames.Transfer](t, x.p)
					if tr.Handle != ra.Handle || tr.DeliveryID != i {
						t.Fatalf("transfer %d: %v", i, tr)
					}
				}
				f := amqptest.Expect[*frames.Flow](t, x.p)
				if !f.HasHandle || f.Handle != ra.Handle || f.DeliveryCount != 5 || f.LinkCredit != 0 || !f.Drain {
					t.Fatalf("flow after drain %v, want delivery-count 5, credit 0, drain", f)
				}
				x.sync(t)
			},
		},
		"echo flow answered": {
			script: func(t *testing.T, x *smEnv) {
				x.p.Send(0, &frames.Flow{NextIncomingID: 0, HasNextIncomingID: true, IncomingWindow: 1000, OutgoingWindow: 1000, Echo: true})
				if f := amqptest.Expect[*frames.Flow](t, x.p); f.HasHandle || f.Echo || f.IncomingWindow == 0 {
					t.Fatalf("session echo answered with %v", f)
				}
				// The engine sends on this link: it answers with its
				// link state.
				ra := x.attachReceiver(t, 0, "e")
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 0, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 7, HasLinkCredit: true, Echo: true})
				if f := amqptest.Expect[*frames.Flow](t, x.p); !f.HasHandle || f.Handle != ra.Handle || f.LinkCredit != 7 || f.DeliveryCount != 0 || f.Echo {
					t.Fatalf("sender link echo answered with %v", f)
				}
				// The engine receives on this link.
				sa, _ := x.attachSender(t, 1, "e")
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 1, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, Available: 3, HasAvailable: true, Echo: true})
				if f := amqptest.Expect[*frames.Flow](t, x.p); !f.HasHandle || f.Handle != sa.Handle || f.LinkCredit != 100 || f.Echo {
					t.Fatalf("receiver link echo answered with %v", f)
				}
			},
		},
		"receiver-settle-mode second": {
			script: func(t *testing.T, x *smEnv) {
				a := sender("second", 0, "r2")
				a.RcvSettleMode = frames.RcvSecond
				if ra := amqptest.AttachLink(t, x.p, 0, a); ra.RcvSettleMode != frames.RcvSecond {
					t.Fatalf("attach answer has rcv-settle-mode %d, want second", ra.RcvSettleMode)
				}
				amqptest.Expect[*frames.Flow](t, x.p)
				x.attachReceiver(t, 1, "r2")
				x.p.Send(0, &frames.Flow{IncomingWindow: 1000, OutgoingWindow: 1000, Handle: 1, HasHandle: true,
					DeliveryCount: 0, HasDeliveryCount: true, LinkCredit: 1, HasLinkCredit: true})
				x.p.Send(0, xfer(0, 0, payload, false))
				tr := expectAfterFlows[*frames.Transfer](t, x.p)
				// The consumer accepts: the engine passes the outcome
				// to the producer unsettled (mode second).
				x.p.Send(0, &frames.Disposition{Role: frames.RoleReceiver, First: tr.DeliveryID, Settled: true, State: frames.Accepted{}})
				d := expectAfterFlows[*frames.Disposition](t, x.p)
				if d.Role != frames.RoleReceiver || d.First != 0 || d.Settled {
					t.Fatalf("disposition %v, want unsettled outcome for delivery 0", d)
				}
				if _, ok := d.State.(frames.Accepted); !ok {
					t.Fatalf("disposition %v, want accepted", d)
				}
				x.sync(t)
				x.c.mu.Lock()
				in := x.sessionLocked(t).unsettledIn[0]
				x.c.mu.Unlock()
				if in == nil || in.Settled() {
					t.Fatalf("delivery settled before the producer settled: %v", in)
				}
				// The producer settles; the engine settles too and sends
				// nothing more.
				x.p.Send(0, &frames.Disposition{Role: frames.RoleSender, First: 0, Settled: true})
				x.sync(t)
				if !in.Settled() {
					t.Fatal("delivery not settled after the producer settled")
				}
				x.c.mu.Lock()
				n := len(x.sessionLocked(t).unsettledIn)
				x.c.mu.Unlock()
				if n != 0 {
					t.Fatalf("%d deliveries still unsettled", n)
				}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			node := newSMNode()
			if tc.node != nil {
				tc.node(node)
			}
			opts := tc.opts
			opts.Handler = node
			if tc.sasl {
				opts.Authenticator = plainAuthenticator(t)
			}
			p, res := smAccept(t, opts, tc.popts...)
			if tc.sasl {
				if code := amqptest.SASLPlain(t, p, "user", "secret"); code != 0 {
					t.Fatalf("SASL outcome %d", code)
				}
			}
			amqptest.Handshake(t, p, nil)
			r := waitAccept(t, res)
			if r.err != nil {
				t.Fatal(r.err)
			}
			x := &smEnv{p: p, c: r.c, node: node}
			x.ch, _ = amqptest.BeginSession(t, p, 0, nil)
			tc.script(t, x)
			if tc.scope != "" {
				expectError(t, x, tc.scope, tc.cond)
			}
		})
	}
}

// TestAMQPTransportIncomingWindow checks the session window the engine
// grants: it announces Options.IncomingWindow in begin and widens it again
// with a session flow once half of it is used. Because it widens the window
// as soon as it has processed the transfers, a peer never finds it shut
// (the window-violation check is exercised from the inside in the state
// machine table).
func TestAMQPTransportIncomingWindow(t *testing.T) {
	node := newSMNode()
	p, res := smAccept(t, Options{Handler: node, IncomingWindow: 4})
	amqptest.Handshake(t, p, nil)
	r := waitAccept(t, res)
	if r.err != nil {
		t.Fatal(r.err)
	}
	x := &smEnv{p: p, c: r.c, node: node}
	var b *frames.Begin
	x.ch, b = amqptest.BeginSession(t, p, 0, nil)
	if b.IncomingWindow != 4 {
		t.Fatalf("begin announces incoming-window %d, want 4", b.IncomingWindow)
	}
	x.attachSender(t, 0, "w")
	for i := range uint32(6) {
		x.p.Send(0, xfer(0, i, []byte{byte(i)}, false))
		// Transfers 2 and 4 use up half the window: a session flow
		// follows, widening it back to 4 from the next transfer-id.
		if i%2 == 1 {
			for {
				f := amqptest.Expect[*frames.Flow](t, x.p)
				if f.HasHandle {
					continue // the node's credit top-up
				}
				if !f.HasNextIncomingID || f.NextIncomingID != i+1 || f.IncomingWindow != 4 {
					t.Fatalf("after transfer %d: %v, want next-incoming-id %d, incoming-window 4", i, f, i+1)
				}
				break
			}
		}
	}
	for range 6 {
		select {
		case <-node.received:
		case <-time.After(5 * time.Second):
			t.Fatal("message not delivered")
		}
	}
}

func TestAMQPTransportHandshakeRefused(t *testing.T) {
	badOpen := func(p *amqptest.Peer, body []byte) {
		h := frames.ProtoHeader(frames.ProtoAMQP)
		b, start := frames.BeginFrame(h[:])
		b = append(b, body...)
		p.Write(frames.EndFrame(b, start, frames.TypeAMQP, 0))
	}
	tests := map[string]struct {
		sasl    bool // an Authenticator is set
		script  func(t *testing.T, p *amqptest.Peer)
		header  byte         // the header the engine answers with
		cond    types.Symbol // the close before the hang-up, if any
		wantErr error        // what Accept returns (errors.Is); nil: any error
	}{
		"HTTP request instead of a protocol header": {
			script:  func(t *testing.T, p *amqptest.Peer) { p.Write([]byte("GET / HTTP/1.1\r\n\r\n")) },
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"HTTP request where SASL is required": {
			sasl:    true,
			script:  func(t *testing.T, p *amqptest.Peer) { p.Write([]byte("GET / HTTP/1.1\r\n\r\n")) },
			header:  frames.ProtoSASL,
			wantErr: ErrProtocolHeader,
		},
		"unsupported version": {
			script:  func(t *testing.T, p *amqptest.Peer) { p.Write([]byte("AMQP\x00\x02\x00\x00")) },
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"unknown protocol id": {
			script:  func(t *testing.T, p *amqptest.Peer) { p.Write([]byte("AMQP\x05\x01\x00\x00")) },
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"TLS header without TLS": {
			script:  func(t *testing.T, p *amqptest.Peer) { p.WriteHeader(frames.ProtoTLS) },
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"AMQP header where SASL is required": {
			sasl:    true,
			script:  func(t *testing.T, p *amqptest.Peer) { p.WriteHeader(frames.ProtoAMQP) },
			header:  frames.ProtoSASL,
			wantErr: ErrProtocolHeader,
		},
		"SASL header where SASL is not offered": {
			script:  func(t *testing.T, p *amqptest.Peer) { p.WriteHeader(frames.ProtoSASL) },
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"SASL PLAIN with a wrong password": {
			sasl: true,
			script: func(t *testing.T, p *amqptest.Peer) {
				if code := amqptest.SASLPlain(t, p, "user", "wrong"); code != uint8(sasl.CodeAuth) {
					t.Fatalf("sasl-outcome code %d, want %d", code, sasl.CodeAuth)
				}
			},
			header:  0xff, // checked by the script
			wantErr: sasl.ErrAuthFailed,
		},
		"SASL PLAIN with an unknown user": {
			sasl: true,
			script: func(t *testing.T, p *amqptest.Peer) {
				if code := amqptest.SASLPlain(t, p, "nobody", "secret"); code != uint8(sasl.CodeAuth) {
					t.Fatalf("sasl-outcome code %d, want %d", code, sasl.CodeAuth)
				}
			},
			header:  0xff,
			wantErr: sasl.ErrAuthFailed,
		},
		"SASL frame after the SASL outcome": {
			sasl: true,
			script: func(t *testing.T, p *amqptest.Peer) {
				if code := amqptest.SASLPlain(t, p, "user", "secret"); code != 0 {
					t.Fatalf("sasl-outcome code %d", code)
				}
				p.SendSASL(&frames.SASLInit{Mechanism: "PLAIN", InitialResponse: []byte("\x00user\x00secret")})
			},
			header:  frames.ProtoAMQP,
			wantErr: ErrProtocolHeader,
		},
		"begin instead of open": {
			script: func(t *testing.T, p *amqptest.Peer) {
				p.WriteHeader(frames.ProtoAMQP)
				p.Send(0, &frames.Begin{IncomingWindow: 1, OutgoingWindow: 1})
			},
			header: frames.ProtoAMQP,
			cond:   frames.ErrIllegalState,
		},
		"undecodable open": {
			script: func(t *testing.T, p *amqptest.Peer) {
				badOpen(p, []byte{0x00, 0x53, 0x10, 0xc0, 0x03, 0x01, 0xa1, 0xff})
			},
			header: frames.ProtoAMQP,
			cond:   frames.ErrDecodeError,
		},
		"open frame larger than max-frame-size": {
			script: func(t *testing.T, p *amqptest.Peer) {
				h := frames.ProtoHeader(frames.ProtoAMQP)
				p.Write(append(h[:], 0x40, 0, 0, 0, 2, 0, 0, 0))
			},
			header:  frames.ProtoAMQP,
			cond:    frames.ErrFramingError,
			wantErr: frames.ErrFrameTooLarge,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			opts := Options{Handler: newTestNode()}
			if tc.sasl {
				opts.Authenticator = plainAuthenticator(t)
			}
			p, res := smAccept(t, opts)
			tc.script(t, p)
			if tc.header != 0xff {
				amqptest.ExpectHeader(t, p, tc.header)
			}
			got, err := amqptest.WaitClosed(t, p)
			if !amqptest.IsClosed(err) {
				t.Fatalf("not closed: %v", err)
			}
			if tc.cond == "" {
				if len(got) != 0 {
					t.Fatalf("frames before the hang-up: %v", got)
				}
			} else {
				if len(got) != 2 {
					t.Fatalf("got %v, want open and close", got)
				}
				if _, ok := got[0].(*frames.Open); !ok {
					t.Fatalf("got %v, want open and close", got)
				}
				if cl, ok := got[1].(*frames.Close); !ok || cl.Error == nil || cl.Error.Condition != tc.cond {
					t.Fatalf("got %v, want close with %s", got[1], tc.cond)
				}
			}
			r := waitAccept(t, res)
			if r.err == nil || (tc.wantErr != nil && !errors.Is(r.err, tc.wantErr)) {
				t.Fatalf("Accept error %v, want %v", r.err, tc.wantErr)
			}
			t.Logf("Accept: %v", r.err)
		})
	}
}

// TestAMQPTransportHandshakeSASL checks the successful SASL paths: PLAIN,
// and no SASL at all where AllowNoSASL permits it.
func TestAMQPTransportHandshakeSASL(t *testing.T) {
	t.Run("PLAIN", func(t *testing.T) {
		p, res := smAccept(t, Options{Handler: newTestNode(), Authenticator: plainAuthenticator(t)})
		if code := amqptest.SASLPlain(t, p, "user", "secret"); code != 0 {
			t.Fatalf("sasl-outcome code %d", code)
		}
		amqptest.Handshake(t, p, nil)
		r := waitAccept(t, res)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if id := r.c.Identity(); id.User != "user" || id.Mechanism != sasl.Plain || id.Anonymous {
			t.Fatalf("identity %+v", id)
		}
	})
	t.Run("no SASL where AllowNoSASL", func(t *testing.T) {
		p, res := smAccept(t, Options{Handler: newTestNode(), Authenticator: plainAuthenticator(t), AllowNoSASL: true})
		amqptest.Handshake(t, p, nil)
		r := waitAccept(t, res)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if id := r.c.Identity(); !id.Anonymous {
			t.Fatalf("identity %+v, want anonymous", id)
		}
	})
}
