package transport

import (
	"context"
	"errors"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// ErrAttachLater is returned by Handler.OnAttach to answer the attach later
// with Link.CompleteAttach.
var ErrAttachLater = errors.New("amqp: attach answered later")

// Link is one link endpoint (AMQP 1.0 §2.6). Its state is guarded by the
// connection's mutex; the exported methods lock it themselves.
type Link struct {
	s      *Session
	name   string
	handle uint32
	role   frames.Role // our role

	remote       *frames.Attach // the peer's attach
	remoteHandle uint32
	source       *frames.Source // local terminus sent in our attach
	target       *frames.Target
	sndSettle    frames.SenderSettleMode
	rcvSettle    frames.ReceiverSettleMode
	maxMsgIn     uint64 // announced by us (receiving)
	maxMsgOut    uint64 // announced by the peer (we send)
	props        map[string]any
	offeredCaps  []string
	attachSent   bool
	attachRcvd   bool
	detachSent   bool
	detachRcvd   bool
	remoteClosed bool // the peer's detach had closed set (§2.6.6)
	detached     bool
	err          error
	attachWait   chan struct{}
	detachWait   chan struct{}
	flowPending  bool // credit was set before our attach went out
	flowWait     []chan struct{}
	incoming     *Delivery // multi-frame delivery being received
	incomingSize uint64
	pack         bool // ReceiverOptions.PackDeliveries

	// Link flow state, AMQP 1.0 §2.6.7.
	deliveryCount uint32
	credit        uint32
	available     uint32
	drain         bool

	nextTag    uint64
	tagScratch [8]byte // SendSettled's tag while it is written

	// Context is free for the owner of the link (the router keeps its
	// address binding here). Set it before CompleteAttach.
	Context any
}

func newLink(s *Session, handle uint32, name string, role frames.Role) *Link {
	return &Link{
		s:          s,
		name:       name,
		handle:     handle,
		role:       role,
		sndSettle:  frames.SndMixed,
		attachWait: make(chan struct{}),
		detachWait: make(chan struct{}),
		maxMsgIn:   s.c.opts.MaxMessageSize,
	}
}

// Name returns the link name.
func (l *Link) Name() string { return l.name }

// Session returns the link's session.
func (l *Link) Session() *Session { return l.s }

// IsSender reports whether we send on this link.
func (l *Link) IsSender() bool { return l.role == frames.RoleSender }

// RemoteAttach returns the peer's attach (nil until it arrived).
func (l *Link) RemoteAttach() *frames.Attach {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.remote
}

// Address returns the address the link is about: the source address for a
// link where we send, the target address for one where we receive, from the
// peer's attach.
func (l *Link) Address() string {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	if l.remote == nil {
		return ""
	}
	if l.role == frames.RoleSender {
		if l.remote.Source != nil {
			return l.remote.Source.Address
		}
	} else if l.remote.Target != nil {
		return l.remote.Target.Address
	}
	return ""
}

// SetLocalSource sets the source terminus of our attach (before
// CompleteAttach); by default it echoes the peer's.
func (l *Link) SetLocalSource(s *frames.Source) { l.source = s }

// SetLocalTarget sets the target terminus of our attach.
func (l *Link) SetLocalTarget(t *frames.Target) { l.target = t }

// SetMaxMessageSize sets the max-message-size we announce and enforce on a
// link where we receive (before CompleteAttach).
func (l *Link) SetMaxMessageSize(n uint64) { l.maxMsgIn = n }

// SetSettleModes overrides the settle modes of our attach.
func (l *Link) SetSettleModes(snd frames.SenderSettleMode, rcv frames.ReceiverSettleMode) {
	l.sndSettle, l.rcvSettle = snd, rcv
}

// SenderSettleMode returns the negotiated sender settle mode.
func (l *Link) SenderSettleMode() frames.SenderSettleMode { return l.sndSettle }

// ReceiverSettleMode returns the negotiated receiver settle mode.
func (l *Link) ReceiverSettleMode() frames.ReceiverSettleMode { return l.rcvSettle }

func (l *Link) remoteAttachLocked(a *frames.Attach) {
	l.remote = a
	l.remoteHandle = a.Handle
	l.attachRcvd = true
	l.s.remoteLinks[a.Handle] = l
	l.maxMsgOut = a.MaxMessageSize
	if l.role == frames.RoleReceiver {
		// The sender's settle mode rules; the receiver's mode is ours.
		l.sndSettle = a.SndSettleMode
		if a.HasInitialDeliveryCount {
			l.deliveryCount = a.InitialDeliveryCount
		}
		if !l.attachSent {
			l.rcvSettle = a.RcvSettleMode
		}
	} else {
		l.rcvSettle = a.RcvSettleMode
		if !l.attachSent {
			l.sndSettle = a.SndSettleMode
		}
	}
	if !l.attachSent {
		if l.source == nil && a.Source != nil {
			src := *a.Source
			l.source = &src
		}
		if l.target == nil && a.Target != nil {
			tgt := *a.Target
			l.target = &tgt
		}
	}
}

// CompleteAttach answers the peer's attach: nil accepts the link, an error
// refuses it with a null terminus followed by a detach carrying the error
// (AMQP 1.0 §2.6.3).
func (l *Link) CompleteAttach(err error) {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.attachSent || l.detached {
		return
	}
	if err != nil {
		if l.role == frames.RoleSender {
			l.source = nil
		} else {
			l.target = nil
		}
	}
	l.sendAttachLocked()
	if err != nil {
		l.detachLocked(toAMQPError(err, frames.ErrNotAllowed), true)
		return
	}
	if l.flowPending {
		l.flowPending = false
		l.s.sendFlowLocked(l, false)
	}
}

func (l *Link) sendAttachLocked() {
	l.attachSent = true
	a := &frames.Attach{
		Name:          l.name,
		Handle:        l.handle,
		Role:          l.role,
		SndSettleMode: l.sndSettle,
		RcvSettleMode: l.rcvSettle,
		Source:        l.source,
		Target:        l.target,
	}
	if l.role == frames.RoleSender {
		a.InitialDeliveryCount, a.HasInitialDeliveryCount = l.deliveryCount, true
	} else {
		a.MaxMessageSize = l.maxMsgIn
	}
	l.s.c.writeFrameLocked(frames.TypeAMQP, l.s.local, a)
}

// Credit returns the credit the peer granted a link where we send (or that we
// granted on a link where we receive) and whether the peer asks to drain.
func (l *Link) Credit() (credit uint32, drain bool) {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.credit, l.drain
}

// Available returns the peer's count of messages available (receiving links).
func (l *Link) Available() uint32 {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.available
}

// SetAvailable sets the available count announced on a link where we send.
func (l *Link) SetAvailable(n uint32) {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	l.available = n
}

// Flow grants credit on a link where we receive: the peer may send credit
// more messages from now on (AMQP 1.0 §2.6.7). drain asks the sender to use
// up the credit or give it back.
func (l *Link) Flow(credit uint32, drain bool) error {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.role != frames.RoleReceiver {
		return errors.New("amqp: Flow on a sending link")
	}
	if l.detachSent || l.detached {
		return l.errLocked()
	}
	l.credit, l.drain = credit, drain
	if !l.attachSent {
		l.flowPending = true
		return nil
	}
	l.s.sendFlowLocked(l, false)
	return nil
}

// AddCredit adds n to the credit of a link where we receive.
func (l *Link) AddCredit(n uint32) error {
	l.s.c.mu.Lock()
	credit := l.credit + n
	l.s.c.mu.Unlock()
	return l.Flow(credit, false)
}

func (l *Link) errLocked() error {
	if l.err != nil {
		return l.err
	}
	return ErrLinkClosed
}

func (l *Link) onFlowLocked(f *frames.Flow, cbs []callback) []callback {
	if l.role == frames.RoleSender {
		// link-credit(snd) = delivery-count(rcv) + link-credit(rcv) -
		// delivery-count(snd); an absent delivery-count means the
		// receiver has not seen our attach yet and uses our initial one.
		dc := l.deliveryCount
		if f.HasDeliveryCount {
			dc = f.DeliveryCount
		}
		if f.HasLinkCredit {
			l.credit = dc + f.LinkCredit - l.deliveryCount
			if int32(l.credit) < 0 {
				l.credit = 0
			}
		}
		l.drain = f.Drain
		for _, w := range l.flowWait {
			close(w)
		}
		l.flowWait = nil
		h := l.s.c.opts.Handler
		echo := f.Echo // f is reused for the next frame
		cbs = append(cbs, callback{fn: func() {
			h.OnFlow(l)
			l.afterSenderFlow(echo)
		}})
		return cbs
	}
	// We receive: the sender reports its delivery-count (advanced by a
	// drain) and available.
	if f.HasDeliveryCount {
		newCredit := l.deliveryCount + l.credit - f.DeliveryCount
		if int32(newCredit) < 0 {
			newCredit = 0
		}
		l.credit = newCredit
		l.deliveryCount = f.DeliveryCount
	}
	if f.HasAvailable {
		l.available = f.Available
	}
	if l.drain && l.credit == 0 {
		l.drain = false
	}
	if f.Echo {
		l.s.sendFlowLocked(l, false)
	}
	for _, w := range l.flowWait {
		close(w)
	}
	l.flowWait = nil
	return append(cbs, callback{kind: cbFlow, l: l})
}

// afterSenderFlow completes a drain (AMQP 1.0 §2.6.7: the sender uses up the
// remaining credit by advancing the delivery-count) and answers echo.
func (l *Link) afterSenderFlow(echo bool) {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.detachSent || l.detached {
		return
	}
	if l.drain {
		l.deliveryCount += l.credit
		l.credit = 0
		l.s.sendFlowLocked(l, false)
		l.drain = false
		return
	}
	if echo {
		l.s.sendFlowLocked(l, false)
	}
}

// Detach detaches the link (closed: closes it, §2.6.6) with an optional
// error and waits for the peer's detach.
func (l *Link) Detach(ctx context.Context, e *frames.Error, closed bool) error {
	c := l.s.c
	c.mu.Lock()
	l.detachLocked(e, closed)
	c.mu.Unlock()
	select {
	case <-l.detachWait:
	case <-c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

func (l *Link) detachLocked(e *frames.Error, closed bool) {
	if l.detachSent || l.detached || l.s.endSent {
		return
	}
	l.detachSent = true
	if e != nil && l.err == nil {
		l.err = &LinkError{Local: true, Err: e}
	}
	l.s.c.writeFrameLocked(frames.TypeAMQP, l.s.local, &frames.Detach{Handle: l.handle, Closed: closed, Error: e})
	if l.detachRcvd {
		l.finishLocked()
	}
}

// LinkError is a link detached with an error condition, by the peer or by
// us.
type LinkError struct {
	Local bool // we detached it
	Err   *frames.Error
}

func (e *LinkError) Error() string {
	who := "peer"
	if e.Local {
		who = "local"
	}
	return fmt.Sprintf("amqp: link detached (%s): %v", who, e.Err)
}

// Unwrap exposes the *frames.Error.
func (e *LinkError) Unwrap() error { return e.Err }

// RemoteClosed reports whether the peer detached the link with closed
// set: it closed the link rather than only detaching it (AMQP 1.0
// §2.6.6), so the terminus it was attached to need not outlive it (a JMS
// unsubscribe ends a durable subscription this way). It is false while
// the link is attached and after a detach without closed, or a session
// or connection that ended under it.
func (l *Link) RemoteClosed() bool {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	return l.remoteClosed
}

// Err reports why the link was detached (nil while attached or after a clean
// detach).
func (l *Link) Err() error {
	l.s.c.mu.Lock()
	defer l.s.c.mu.Unlock()
	if l.err == ErrLinkClosed {
		return nil
	}
	return l.err
}

func (l *Link) onDetachLocked(d *frames.Detach, cbs []callback) []callback {
	l.detachRcvd = true
	l.remoteClosed = d.Closed
	delete(l.s.remoteLinks, l.remoteHandle)
	if d.Error != nil && l.err == nil {
		l.err = &LinkError{Err: d.Error}
	}
	if !l.detachSent && !l.s.endSent {
		if !l.attachSent {
			// The peer gave up on an attach not answered yet (a
			// handler's ErrAttachLater): answer it, with no terminus,
			// before the detach, which would name a handle the peer
			// never learnt and end the session (§2.6.3).
			if l.role == frames.RoleSender {
				l.source = nil
			} else {
				l.target = nil
			}
			l.sendAttachLocked()
		}
		l.detachSent = true
		l.s.c.writeFrameLocked(frames.TypeAMQP, l.s.local, &frames.Detach{Handle: l.handle, Closed: d.Closed})
	}
	if !l.attachRcvd {
		close(l.attachWait)
	}
	return l.endedLocked(cbs, l.err)
}

// finishLocked frees the local handle once both detaches were exchanged.
func (l *Link) finishLocked() {
	if l.detached {
		return
	}
	l.detached = true
	if l.err == nil {
		l.err = ErrLinkClosed
	}
	delete(l.s.links, l.handle)
	if l.attachRcvd {
		if l.s.remoteLinks[l.remoteHandle] == l {
			delete(l.s.remoteLinks, l.remoteHandle)
		}
	}
	select {
	case <-l.attachWait:
	default:
		close(l.attachWait)
	}
	close(l.detachWait)
	for _, w := range l.flowWait {
		close(w)
	}
	l.flowWait = nil
}

// endedLocked finishes the link (peer detach, session end or connection
// loss), forgets its unsettled deliveries and schedules OnDetach.
func (l *Link) endedLocked(cbs []callback, err error) []callback {
	if l.detached {
		return cbs
	}
	if l.err == nil && err != nil && err != ErrSessionEnded {
		l.err = err
	}
	l.finishLocked()
	l.incoming = nil
	var orphans []*Delivery
	for id, d := range l.s.unsettledOut {
		if d.l == l {
			delete(l.s.unsettledOut, id)
			orphans = append(orphans, d)
		}
	}
	for id, d := range l.s.unsettledIn {
		if d.l == l {
			delete(l.s.unsettledIn, id)
		}
	}
	// Deliveries not yet fully sent are dropped from the session queue.
	kept := l.s.pending[:0]
	for _, d := range l.s.pending {
		if d.l != l {
			kept = append(kept, d)
		} else {
			orphans = append(orphans, d)
		}
	}
	clear(l.s.pending[len(kept):])
	l.s.pending = kept
	for _, d := range orphans {
		d.finishLocked()
	}
	h := l.s.c.opts.Handler
	reported := l.err
	if reported == ErrLinkClosed {
		reported = nil
	}
	return append(cbs, callback{fn: func() { h.OnDetach(l, reported) }})
}

// Attach attaches a new link on the session and waits for the peer's answer.
// a describes our end: Role, Source/Target, settle modes, capabilities
// (Name and Handle are filled in when empty). If the peer refuses the link
// (a null terminus followed by detach) the detach error is returned.
func (s *Session) Attach(ctx context.Context, a frames.Attach) (*Link, error) {
	c := s.c
	c.mu.Lock()
	if s.endSent || c.closeOut || c.err != nil {
		c.mu.Unlock()
		return nil, ErrSessionEnded
	}
	h, ok := s.freeHandleLocked()
	if !ok {
		c.mu.Unlock()
		return nil, errors.New("amqp: no free link handle")
	}
	if a.Name == "" {
		a.Name = "link-" + randomID()
	}
	l := newLink(s, h, a.Name, a.Role)
	l.Context, s.nextContext = s.nextContext, nil
	l.source, l.target = a.Source, a.Target
	l.sndSettle, l.rcvSettle = a.SndSettleMode, a.RcvSettleMode
	if a.MaxMessageSize != 0 {
		l.maxMsgIn = a.MaxMessageSize
	}
	s.links[h] = l
	a.Handle = h
	if a.Role == frames.RoleSender {
		a.InitialDeliveryCount, a.HasInitialDeliveryCount = 0, true
	} else {
		a.MaxMessageSize = l.maxMsgIn
	}
	l.attachSent = true
	c.writeFrameLocked(frames.TypeAMQP, s.local, &a)
	c.mu.Unlock()

	select {
	case <-l.attachWait:
	case <-ctx.Done():
		// Detached, not closed (§2.6.6): giving up waiting must not end
		// a terminus the peer may already have bound, such as a
		// durable subscription, which a close deletes.
		l.Detach(context.Background(), nil, false)
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !l.attachRcvd {
		return nil, l.errLocked()
	}
	refused := (l.role == frames.RoleSender && l.remote.Target == nil) ||
		(l.role == frames.RoleReceiver && l.remote.Source == nil)
	if refused {
		// §2.6.3: a detach with the reason follows; wait for it.
		c.mu.Unlock()
		select {
		case <-l.detachWait:
		case <-c.done:
		case <-ctx.Done():
		}
		c.mu.Lock()
		if l.err != nil && l.err != ErrLinkClosed {
			return nil, l.err
		}
		return nil, fmt.Errorf("amqp: attach of %q refused", a.Name)
	}
	return l, nil
}
