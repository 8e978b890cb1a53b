package transport

import (
	"context"
	"errors"
	"sync"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// ClientHandler is the Handler for connections used through Sender and
// Receiver: it refuses links the peer initiates, queues messages for
// Receivers and completes settlement for Senders. Dial and NewClientConn use
// it when Options.Handler is nil.
type ClientHandler struct{ NopHandler }

// OnMessage queues d on its Receiver.
func (ClientHandler) OnMessage(l *Link, d *Delivery) {
	if r, ok := l.Context.(*Receiver); ok {
		r.push(d)
	}
}

// OnDisposition settles deliveries whose outcome arrived unsettled
// (receiver-settle-mode second, AMQP 1.0 §2.6.12).
func (ClientHandler) OnDisposition(l *Link, d *Delivery) {
	st, settled := d.RemoteState()
	if !settled && st != nil && frames.IsOutcome(st) {
		d.Settle(nil)
	}
}

// OnDetach wakes a Receiver blocked in Receive.
func (ClientHandler) OnDetach(l *Link, err error) {
	if r, ok := l.Context.(*Receiver); ok {
		r.push(nil)
	}
}

// ReceiverOptions configure NewReceiver.
type ReceiverOptions struct {
	// Credit is the number of messages the receiver keeps credit for,
	// topped up as messages are received. 0 means manual credit: call
	// IssueCredit.
	Credit uint32
	// SettleMode: frames.RcvFirst (default) or frames.RcvSecond.
	SettleMode frames.ReceiverSettleMode
	// PreSettled asks the sender to send pre-settled (at-most-once).
	PreSettled bool
	// Source overrides the source terminus (address, durability, filters,
	// dynamic); the address argument is used when it is nil.
	Source *frames.Source
	// Name is the link name; default random.
	Name string
	// MaxMessageSize announced; 0 = unlimited.
	MaxMessageSize uint64
	// DesiredCapabilities and Properties of the attach.
	DesiredCapabilities []string
	// PackDeliveries allocates the deliveries that arrive together (in
	// one read from the socket), and the payloads of those that fit in
	// one frame, in shared blocks: a few allocations per read instead of
	// two per message. A delivery or payload that is kept keeps its
	// blocks (at most one read's worth) alive, so this is for receivers
	// that are done with a message soon after Receive.
	PackDeliveries bool
}

// Receiver receives messages on a link. Safe for concurrent use.
type Receiver struct {
	l       *Link
	window  uint32
	mu      sync.Mutex
	queue   []*Delivery
	notify  chan struct{}
	pending uint32 // credit granted and not yet used, as we track it
}

// NewReceiver attaches a link on which we receive from addr.
func (s *Session) NewReceiver(ctx context.Context, addr string, o ReceiverOptions) (*Receiver, error) {
	src := o.Source
	if src == nil {
		src = &frames.Source{Address: addr}
	}
	a := frames.Attach{
		Name:           o.Name,
		Role:           frames.RoleReceiver,
		SndSettleMode:  frames.SndMixed,
		RcvSettleMode:  o.SettleMode,
		Source:         src,
		Target:         &frames.Target{},
		MaxMessageSize: o.MaxMessageSize,
	}
	if o.PreSettled {
		a.SndSettleMode = frames.SndSettled
	}
	r := &Receiver{window: o.Credit, notify: make(chan struct{}, 1)}
	l, err := s.attachWithContext(ctx, a, r)
	if err != nil {
		return nil, err
	}
	r.l = l
	if o.PackDeliveries {
		s.c.mu.Lock() // before any credit, so before any transfer
		l.pack = true
		s.c.mu.Unlock()
	}
	if o.Credit > 0 {
		r.pending = o.Credit
		if err := l.Flow(o.Credit, false); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// attachWithContext sets the link's Context before the peer can answer, so
// no event for the link is ever seen without it.
func (s *Session) attachWithContext(ctx context.Context, a frames.Attach, v any) (*Link, error) {
	s.c.mu.Lock()
	s.nextContext = v
	s.c.mu.Unlock()
	return s.Attach(ctx, a)
}

// Link returns the underlying link.
func (r *Receiver) Link() *Link { return r.l }

func (r *Receiver) push(d *Delivery) {
	r.mu.Lock()
	if d != nil {
		r.queue = append(r.queue, d)
	}
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Buffered reports how many received messages Receive returns without
// waiting; a caller that batches its own writes flushes when it is 0.
func (r *Receiver) Buffered() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.queue)
}

// Receive returns the next message, waiting for one.
func (r *Receiver) Receive(ctx context.Context) (*Delivery, error) {
	for {
		r.mu.Lock()
		if len(r.queue) > 0 {
			d := r.queue[0]
			r.queue[0] = nil
			r.queue = r.queue[1:]
			r.mu.Unlock()
			r.topUp()
			return d, nil
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
			continue
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-r.l.detachWait:
			r.mu.Lock()
			empty := len(r.queue) == 0
			r.mu.Unlock()
			if empty {
				return nil, r.l.errLockedSafe()
			}
		}
	}
}

func (l *Link) errLockedSafe() error {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.errLocked()
}

// topUp grants more credit once half the window was used.
func (r *Receiver) topUp() {
	if r.window == 0 {
		return
	}
	c := r.l.s.c
	c.mu.Lock()
	credit := r.l.credit
	c.mu.Unlock()
	r.mu.Lock()
	queued := uint32(len(r.queue))
	r.mu.Unlock()
	if credit+queued <= r.window/2 {
		r.l.Flow(r.window-queued, false)
	}
}

// IssueCredit adds n credits (manual credit mode).
func (r *Receiver) IssueCredit(n uint32) error { return r.l.AddCredit(n) }

// Drain asks the sender to use or give back all outstanding credit and
// waits until it has (AMQP 1.0 §2.6.7).
func (r *Receiver) Drain(ctx context.Context) error {
	l := r.l
	c := l.s.c
	c.mu.Lock()
	if l.detachSent || l.detached {
		c.mu.Unlock()
		return l.errLockedSafe()
	}
	l.drain = true
	l.s.sendFlowLocked(l, false)
	for l.drain && l.credit > 0 {
		w := make(chan struct{})
		l.flowWait = append(l.flowWait, w)
		c.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
		c.mu.Lock()
		if l.detached {
			c.mu.Unlock()
			return l.errLockedSafe()
		}
	}
	l.drain = false
	c.mu.Unlock()
	return nil
}

// Accept settles d with the accepted outcome.
func (r *Receiver) Accept(d *Delivery) error { return d.Settle(frames.Accepted{}) }

// Reject settles d with the rejected outcome.
func (r *Receiver) Reject(d *Delivery, e *frames.Error) error {
	return d.Settle(frames.Rejected{Error: e})
}

// Release settles d with the released outcome.
func (r *Receiver) Release(d *Delivery) error { return d.Settle(frames.Released{}) }

// Close detaches (closes) the link.
func (r *Receiver) Close(ctx context.Context) error { return r.l.Detach(ctx, nil, true) }

// SenderOptions configure NewSender.
type SenderOptions struct {
	// SettleMode: SndSettled or SndUnsettled; nil is SndMixed, where each
	// send chooses (SendOptions.Settled).
	SettleMode *frames.SenderSettleMode
	// RcvSettleMode requested from the receiver.
	RcvSettleMode frames.ReceiverSettleMode
	// Target overrides the target terminus; the address argument is used
	// when it is nil. An empty address attaches to the anonymous relay.
	Target *frames.Target
	// Name is the link name; default random.
	Name string
}

// Sender sends messages on a link. Safe for concurrent use.
type Sender struct {
	l *Link
}

// NewSender attaches a link on which we send to addr.
func (s *Session) NewSender(ctx context.Context, addr string, o SenderOptions) (*Sender, error) {
	tgt := o.Target
	if tgt == nil {
		tgt = &frames.Target{Address: addr}
	}
	a := frames.Attach{
		Name:          o.Name,
		Role:          frames.RoleSender,
		SndSettleMode: frames.SndMixed,
		RcvSettleMode: o.RcvSettleMode,
		Source:        &frames.Source{},
		Target:        tgt,
	}
	if o.SettleMode != nil {
		a.SndSettleMode = *o.SettleMode
	}
	sn := &Sender{}
	l, err := s.attachWithContext(ctx, a, sn)
	if err != nil {
		return nil, err
	}
	sn.l = l
	return sn, nil
}

// Link returns the underlying link.
func (sn *Sender) Link() *Link { return sn.l }

// SendAsync waits for credit and sends payload, returning the delivery
// without waiting for its outcome.
func (sn *Sender) SendAsync(ctx context.Context, payload []byte, o SendOptions) (*Delivery, error) {
	for {
		d, err := sn.l.Send(payload, o)
		if !errors.Is(err, ErrNoCredit) {
			return d, err
		}
		if err := sn.waitCredit(ctx); err != nil {
			return nil, err
		}
	}
}

// SendSettled sends payload pre-settled (at-most-once), waiting for credit
// like SendAsync, without a Delivery for the caller; kept as in
// Link.SendSettled.
func (sn *Sender) SendSettled(ctx context.Context, payload []byte) (kept bool, err error) {
	for {
		kept, err := sn.l.SendSettled(payload)
		if !errors.Is(err, ErrNoCredit) {
			return kept, err
		}
		if err := sn.waitCredit(ctx); err != nil {
			return false, err
		}
	}
}

// waitCredit returns once the link may have credit again (or has ended:
// the next send reports that).
func (sn *Sender) waitCredit(ctx context.Context) error {
	l := sn.l
	c := l.s.c
	c.mu.Lock()
	if l.credit > 0 || l.detached || l.detachSent {
		c.mu.Unlock()
		return nil
	}
	w := make(chan struct{})
	l.flowWait = append(l.flowWait, w)
	c.mu.Unlock()
	select {
	case <-w:
		return nil
	case <-c.done:
		return c.errOrClosed()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Send sends payload and, unless it is pre-settled, waits for the
// receiver's outcome, which it returns.
func (sn *Sender) Send(ctx context.Context, payload []byte, o SendOptions) (frames.DeliveryState, error) {
	d, err := sn.SendAsync(ctx, payload, o)
	if err != nil {
		return nil, err
	}
	c := sn.l.s.c
	c.mu.Lock()
	settled := d.localSettled
	c.mu.Unlock()
	if settled {
		return nil, nil
	}
	select {
	case <-d.Done():
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	st, remoteSettled := d.RemoteState()
	if st == nil && !remoteSettled {
		return nil, sn.l.errLockedSafe()
	}
	return st, nil
}

// Close detaches (closes) the link.
func (sn *Sender) Close(ctx context.Context) error { return sn.l.Detach(ctx, nil, true) }
