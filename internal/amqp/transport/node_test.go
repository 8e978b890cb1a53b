package transport

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
)

// testNode is a small in-memory message node used to exercise the engine's
// accepting side: messages sent to an address are queued and delivered to
// receivers attached to it, with the consumer's outcome passed back to the
// producer (settlement end to end). A link where we receive with an empty
// target address is an anonymous relay (AMQP 1.0 §3.5.1 leaves the meaning of
// a null target to the node; brokers route by properties.to): each message
// goes to the queue named by its "to", and one without "to" is rejected with
// amqp:precondition-failed.
type testNode struct {
	mu        sync.Mutex
	queues    map[string][]*Delivery // waiting incoming deliveries
	consumers map[string][]*Link
	refuse    map[string]*frames.Error // addresses whose attach is refused
	received  chan *Delivery           // every message received, if non-nil
	// sendSettled: pre-settled messages go out with Link.SendSettled.
	sendSettled bool
}

func newTestNode() *testNode {
	return &testNode{queues: map[string][]*Delivery{}, consumers: map[string][]*Link{}, refuse: map[string]*frames.Error{}}
}

func (n *testNode) OnBegin(*Session) error { return nil }

func (n *testNode) OnAttach(l *Link) error {
	addr := l.Address()
	n.mu.Lock()
	defer n.mu.Unlock()
	if e := n.refuse[addr]; e != nil {
		return e
	}
	if l.IsSender() {
		a := l.RemoteAttach()
		if a.Source != nil && a.Source.Dynamic {
			src := *a.Source
			src.Address = "dynamic-" + randomID()
			l.SetLocalSource(&src)
			addr = src.Address
		}
		n.consumers[addr] = append(n.consumers[addr], l)
		l.Context = addr
		return nil
	}
	l.Context = addr
	// Give producers credit up front; the node queues without bound,
	// which is fine for tests.
	l.SetMaxMessageSize(64 << 20)
	l.Flow(100, false)
	return nil
}

func (n *testNode) OnFlow(l *Link) {
	if l.IsSender() {
		n.pump(l.Context.(string))
	}
}

func (n *testNode) OnMessage(l *Link, d *Delivery) {
	addr := l.Context.(string)
	if addr == "" {
		to, err := messageTo(d.Payload())
		if err != nil {
			d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrPreconditionFailed, "anonymous relay: %v", err)})
			l.AddCredit(1)
			return
		}
		addr = to
	}
	n.mu.Lock()
	n.queues[addr] = append(n.queues[addr], d)
	n.mu.Unlock()
	if n.received != nil {
		n.received <- d
	}
	l.AddCredit(1)
	n.pump(addr)
}

// messageTo returns the non-empty properties.to of an encoded message.
func messageTo(payload []byte) (string, error) {
	raw, err := message.Parse(payload)
	if err != nil {
		return "", err
	}
	to, ok, err := raw.To()
	if err != nil {
		return "", err
	}
	if !ok || to == "" {
		return "", errors.New("message has no to")
	}
	return to, nil
}

// queued returns the number of messages waiting at addr.
func (n *testNode) queued(addr string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queues[addr])
}

// consumerCredit returns the total credit the consumers of addr granted.
func (n *testNode) consumerCredit(addr string) uint32 {
	n.mu.Lock()
	cs := append([]*Link(nil), n.consumers[addr]...)
	n.mu.Unlock()
	var total uint32
	for _, c := range cs {
		cr, _ := c.Credit()
		total += cr
	}
	return total
}

func (n *testNode) pump(addr string) {
	for {
		n.mu.Lock()
		q := n.queues[addr]
		if len(q) == 0 {
			n.mu.Unlock()
			return
		}
		var out *Link
		for _, c := range n.consumers[addr] {
			if cr, _ := c.Credit(); cr > 0 {
				out = c
				break
			}
		}
		if out == nil {
			n.mu.Unlock()
			return
		}
		in := q[0]
		n.queues[addr] = q[1:]
		n.mu.Unlock()
		_, settled := in.RemoteState()
		if n.sendSettled && (settled || in.Settled()) {
			if _, err := out.SendSettled(in.Payload()); err != nil {
				n.mu.Lock()
				n.queues[addr] = append([]*Delivery{in}, n.queues[addr]...)
				n.mu.Unlock()
				return
			}
			in.Settle(frames.Accepted{})
			continue
		}
		od, err := out.Send(in.Payload(), SendOptions{Settled: settled || in.Settled(), Context: in})
		if err != nil {
			n.mu.Lock()
			n.queues[addr] = append([]*Delivery{in}, n.queues[addr]...)
			n.mu.Unlock()
			return
		}
		if od.localSettled {
			in.Settle(frames.Accepted{})
		}
	}
}

func (n *testNode) OnDisposition(l *Link, d *Delivery) {
	st, settled := d.RemoteState()
	if in, ok := d.Context.(*Delivery); ok && settled {
		in.Settle(st)
	}
	if !settled && st != nil && frames.IsOutcome(st) {
		if in, ok := d.Context.(*Delivery); ok {
			in.Settle(st)
		}
		d.Settle(nil)
	}
}

func (n *testNode) OnDetach(l *Link, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if addr, ok := l.Context.(string); ok && l.IsSender() {
		cs := n.consumers[addr]
		for i, c := range cs {
			if c == l {
				n.consumers[addr] = append(cs[:i:i], cs[i+1:]...)
				break
			}
		}
	}
}

func (n *testNode) OnEnd(*Session, error) {}
func (n *testNode) OnClose(*Conn, error)  {}

// serveTest accepts connections on a random loopback port until the test
// ends, and returns the address.
func serveTest(t testing.TB, opts Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []*Conn
	t.Cleanup(func() {
		cancel()
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			cctx, ccancel := context.WithTimeout(context.Background(), 2*time.Second)
			c.Close(cctx, nil)
			ccancel()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := Accept(ctx, nc, opts)
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}()
		}
	}()
	return ln.Addr().String()
}
