package transport

import (
	"context"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// Session is an AMQP session (AMQP 1.0 §2.5). Its state is guarded by the
// connection's mutex.
type Session struct {
	c         *Conn
	local     uint16
	remote    uint16
	beginSent bool
	beginRcvd bool
	endSent   bool
	endRcvd   bool
	ended     bool
	err       error
	beginWait chan struct{} // closed when the peer's begin arrived (or the conn ended)
	endWait   chan struct{} // closed when the session has ended

	// Transfer-id bookkeeping, AMQP 1.0 §2.5.6.
	nextIncomingID       uint32
	incomingWindow       uint32
	remoteOutgoingWindow uint32
	nextOutgoingID       uint32
	remoteIncomingWindow uint32
	nextDeliveryID       uint32
	remoteHandleMax      uint32

	links        map[uint32]*Link // by local handle
	remoteLinks  map[uint32]*Link // by remote handle
	unsettledOut map[uint32]*Delivery
	unsettledIn  map[uint32]*Delivery
	pending      []*Delivery // outgoing deliveries waiting for the peer's incoming window
	nextContext  any         // Context for the next link attached by us

	// Context is free for the owner of the session.
	Context any
}

func newSession(c *Conn, local uint16) *Session {
	return &Session{
		c:              c,
		local:          local,
		beginWait:      make(chan struct{}),
		endWait:        make(chan struct{}),
		incomingWindow: c.opts.IncomingWindow,
		links:          map[uint32]*Link{},
		remoteLinks:    map[uint32]*Link{},
		unsettledOut:   map[uint32]*Delivery{},
		unsettledIn:    map[uint32]*Delivery{},
	}
}

// Conn returns the session's connection.
func (s *Session) Conn() *Conn { return s.c }

func (s *Session) remoteBeginLocked(ch uint16, b *frames.Begin) {
	s.remote = ch
	s.beginRcvd = true
	s.c.remoteChans[ch] = s
	s.remoteIncomingWindow = b.IncomingWindow
	s.remoteOutgoingWindow = b.OutgoingWindow
	s.nextIncomingID = b.NextOutgoingID
	s.remoteHandleMax = b.HandleMax
}

func (s *Session) sendBeginLocked() {
	if s.beginSent {
		return
	}
	s.beginSent = true
	b := &frames.Begin{
		NextOutgoingID: s.nextOutgoingID,
		IncomingWindow: s.incomingWindow,
		OutgoingWindow: 1<<31 - 1,
		HandleMax:      s.c.opts.HandleMax,
	}
	if s.beginRcvd {
		b.RemoteChannel, b.HasRemoteChannel = s.remote, true
	}
	s.c.writeFrameLocked(frames.TypeAMQP, s.local, b)
}

// NewSession begins a session and waits for the peer's begin.
func (c *Conn) NewSession(ctx context.Context) (*Session, error) {
	c.mu.Lock()
	if c.err != nil || c.closeOut {
		c.mu.Unlock()
		return nil, c.errOrClosed()
	}
	local, ok := c.freeChannelLocked()
	if !ok {
		c.mu.Unlock()
		return nil, fmt.Errorf("amqp: all %d channels are in use", int(c.channelMax)+1)
	}
	s := newSession(c, local)
	c.sessions[local] = s
	s.sendBeginLocked()
	c.mu.Unlock()
	select {
	case <-s.beginWait:
	case <-ctx.Done():
		s.End(context.Background(), nil)
		return nil, ctx.Err()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.beginRcvd {
		return nil, c.errOrClosedLocked()
	}
	return s, nil
}

func (c *Conn) errOrClosed() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errOrClosedLocked()
}

func (c *Conn) errOrClosedLocked() error {
	if c.err != nil {
		return c.err
	}
	return ErrConnClosed
}

// End ends the session, with an optional error, and waits for the peer's end.
func (s *Session) End(ctx context.Context, e *frames.Error) error {
	s.c.mu.Lock()
	s.endWithErrorLocked(e)
	s.c.mu.Unlock()
	select {
	case <-s.endWait:
	case <-s.c.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// endWithErrorLocked sends end (once) and detaches all links locally.
func (s *Session) endWithErrorLocked(e *frames.Error) {
	if s.endSent || s.c.closeOut {
		return
	}
	s.endSent = true
	s.c.writeFrameLocked(frames.TypeAMQP, s.local, &frames.End{Error: e})
	if s.endRcvd {
		s.finishLocked()
	}
}

func (s *Session) onEndLocked(b *frames.End, cbs []callback) []callback {
	s.endRcvd = true
	if b.Error != nil {
		s.err = &RemoteError{Scope: "session", Err: b.Error}
	} else {
		s.err = ErrSessionEnded
	}
	if !s.endSent {
		s.endSent = true
		s.c.writeFrameLocked(frames.TypeAMQP, s.local, &frames.End{})
	}
	return s.finishCallbacksLocked(cbs, s.err)
}

// finishLocked releases the session's channel numbers once both ends were
// exchanged.
func (s *Session) finishLocked() {
	if s.ended {
		return
	}
	s.ended = true
	delete(s.c.sessions, s.local)
	if s.beginRcvd {
		delete(s.c.remoteChans, s.remote)
	}
	close(s.endWait)
}

func (s *Session) finishCallbacksLocked(cbs []callback, err error) []callback {
	links := make([]*Link, 0, len(s.links))
	for _, l := range s.links {
		links = append(links, l)
	}
	for _, l := range links {
		cbs = l.endedLocked(cbs, err)
	}
	s.finishLocked()
	h := s.c.opts.Handler
	return append(cbs, callback{fn: func() { h.OnEnd(s, err) }})
}

// connEnded is called without the lock when the connection has ended.
func (s *Session) connEnded(err error) {
	s.c.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	cbs := s.finishCallbacksLocked(nil, err)
	if !s.beginRcvd {
		select {
		case <-s.beginWait:
		default:
			close(s.beginWait)
		}
	}
	s.c.mu.Unlock()
	for _, cb := range cbs {
		cb.run(s.c.opts.Handler)
	}
}

// sessionErrorLocked ends the session because of a protocol error by the
// peer.
func (s *Session) sessionErrorLocked(cond frames.Error) {
	e := cond
	s.c.opts.Logger.Debug("ending session", "error", &e)
	s.endWithErrorLocked(&e)
}

// sendFlowLocked sends the session's flow state, with l's link state when l
// is not nil.
func (s *Session) sendFlowLocked(l *Link, echo bool) {
	f := &frames.Flow{
		NextIncomingID:    s.nextIncomingID,
		HasNextIncomingID: s.beginRcvd,
		IncomingWindow:    s.incomingWindow,
		NextOutgoingID:    s.nextOutgoingID,
		OutgoingWindow:    1<<31 - 1,
		Echo:              echo,
	}
	if l != nil {
		f.Handle, f.HasHandle = l.handle, true
		f.DeliveryCount, f.HasDeliveryCount = l.deliveryCount, true
		f.LinkCredit, f.HasLinkCredit = l.credit, true
		f.Drain = l.drain
		if l.role == frames.RoleSender {
			f.Available, f.HasAvailable = l.available, true
		}
	}
	s.c.writeFrameLocked(frames.TypeAMQP, s.local, f)
}

func (s *Session) onFlowLocked(f *frames.Flow, cbs []callback) []callback {
	// AMQP 1.0 §2.5.6: remote-incoming-window = next-incoming-id(flow) +
	// incoming-window(flow) - next-outgoing-id(endpoint).
	if f.HasNextIncomingID {
		s.remoteIncomingWindow = f.NextIncomingID + f.IncomingWindow - s.nextOutgoingID
	} else {
		s.remoteIncomingWindow = f.IncomingWindow
	}
	s.remoteOutgoingWindow = f.OutgoingWindow
	s.pumpLocked()
	if !f.HasHandle {
		if f.Echo {
			s.sendFlowLocked(nil, false)
		}
		return cbs
	}
	l := s.remoteLinks[f.Handle]
	if l == nil {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrUnattachedHandle, Description: fmt.Sprintf("flow for handle %d, which is not attached", f.Handle)})
		return cbs
	}
	return l.onFlowLocked(f, cbs)
}

func (s *Session) onAttachLocked(a *frames.Attach, cbs []callback) []callback {
	if s.remoteLinks[a.Handle] != nil {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrHandleInUse, Description: fmt.Sprintf("handle %d is already attached", a.Handle)})
		return cbs
	}
	// An answer to an attach of ours: same name, opposite role.
	for _, l := range s.links {
		if l.name == a.Name && l.role != a.Role && l.attachSent && !l.attachRcvd {
			l.remoteAttachLocked(a)
			close(l.attachWait)
			return cbs
		}
	}
	handle, ok := s.freeHandleLocked()
	if !ok {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrResourceLimitExceeded, Description: "no free link handle"})
		return cbs
	}
	l := newLink(s, handle, a.Name, !a.Role)
	l.remoteAttachLocked(a)
	close(l.attachWait)
	s.links[handle] = l
	h := s.c.opts.Handler
	return append(cbs, callback{fn: func() {
		var err error
		if len(a.Unsettled) > 0 {
			// Link recovery (AMQP 1.0 §2.6.13) is not supported; refuse
			// it rather than pretend the unsettled state was restored.
			err = frames.Errorf(frames.ErrNotImplemented, "link resume with an unsettled map is not supported")
		} else {
			err = h.OnAttach(l)
		}
		if err == ErrAttachLater {
			return
		}
		l.CompleteAttach(err)
	}})
}

func (s *Session) freeHandleLocked() (uint32, bool) {
	limit := min(s.remoteHandleMax, s.c.opts.HandleMax)
	for h := uint32(0); h <= limit; h++ {
		if s.links[h] == nil {
			return h, true
		}
	}
	return 0, false
}

func (s *Session) onDetachLocked(d *frames.Detach, cbs []callback) []callback {
	l := s.remoteLinks[d.Handle]
	if l == nil {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrUnattachedHandle, Description: fmt.Sprintf("detach of handle %d, which is not attached", d.Handle)})
		return cbs
	}
	return l.onDetachLocked(d, cbs)
}

func (s *Session) onTransferLocked(t *frames.Transfer, cbs []callback) []callback {
	if s.endSent {
		return cbs // in flight while our end travels; ignore (§2.5.5)
	}
	if s.incomingWindow == 0 {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrWindowViolation, Description: "transfer beyond the incoming window"})
		return cbs
	}
	s.nextIncomingID++
	s.incomingWindow--
	if s.incomingWindow <= s.c.opts.IncomingWindow/2 {
		s.incomingWindow = s.c.opts.IncomingWindow
		s.sendFlowLocked(nil, false)
	}
	l := s.remoteLinks[t.Handle]
	if l == nil {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrUnattachedHandle, Description: fmt.Sprintf("transfer on handle %d, which is not attached", t.Handle)})
		return cbs
	}
	if l.role != frames.RoleReceiver {
		s.sessionErrorLocked(frames.Error{Condition: frames.ErrErrantLink, Description: fmt.Sprintf("transfer on handle %d, where the peer is the receiver", t.Handle)})
		return cbs
	}
	return l.onTransferLocked(t, cbs)
}

func (s *Session) onDispositionLocked(d *frames.Disposition, cbs []callback) []callback {
	m := s.unsettledIn
	if d.Role == frames.RoleReceiver {
		m = s.unsettledOut // the peer receives: these are our deliveries
	}
	first, last := d.First, d.LastID()
	n := last - first // serial-number range (RFC 1982 arithmetic on uint32)
	visit := func(del *Delivery) {
		if del == nil {
			return
		}
		cbs = del.onDispositionLocked(d, cbs)
	}
	if uint64(n) < uint64(len(m)) {
		for id := first; ; id++ {
			visit(m[id])
			if id == last {
				break
			}
		}
	} else {
		for id, del := range m {
			if id-first <= n {
				visit(del)
			}
		}
	}
	return cbs
}

// pumpLocked sends frames of pending outgoing deliveries while the peer's
// incoming window allows (AMQP 1.0 §2.5.6).
func (s *Session) pumpLocked() {
	n := 0
	for n < len(s.pending) && s.remoteIncomingWindow > 0 && !s.endSent {
		if s.pending[n].sendFrameLocked() {
			s.pending[n] = nil
			n++
		}
	}
	// Keep the backing array: in the steady state every delivery goes out
	// at once and the queue is reused without allocating.
	rest := copy(s.pending, s.pending[n:])
	clear(s.pending[rest:])
	s.pending = s.pending[:rest]
}
