package transport

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
)

// Delivery is one message transfer on a link (AMQP 1.0 §2.6.12), incoming or
// outgoing. Its fields are guarded by the connection's mutex; read them in
// handler callbacks or through the accessor methods.
type Delivery struct {
	l       *Link
	id      uint32
	tag     []byte
	tagBuf  [32]byte // backs tag up to the maximum tag size (AMQP 1.0 §2.8.7)
	format  uint32
	payload []byte

	remoteState   frames.DeliveryState
	remoteSettled bool
	localState    frames.DeliveryState
	localSettled  bool
	finished      bool // settled on both ends, or abandoned with its link
	outOff        int  // bytes of payload already framed (outgoing)
	started       bool // first frame sent (outgoing)
	waiters       []chan struct{}

	// Context is free for the owner of the delivery (the router links a
	// forwarded delivery to its origin here).
	Context any
}

// Link returns the delivery's link.
func (d *Delivery) Link() *Link { return d.l }

// ID returns the delivery-id.
func (d *Delivery) ID() uint32 { return d.id }

// Tag returns the delivery-tag.
func (d *Delivery) Tag() []byte { return d.tag }

// MessageFormat returns the message-format of the transfer (0 for AMQP).
func (d *Delivery) MessageFormat() uint32 { return d.format }

// Payload returns the message bytes. For incoming deliveries they belong to
// the delivery and stay valid.
func (d *Delivery) Payload() []byte { return d.payload }

// RemoteState returns the delivery state last reported by the peer, and
// whether the peer has settled the delivery.
func (d *Delivery) RemoteState() (frames.DeliveryState, bool) {
	d.l.s.c.mu.Lock()
	defer d.l.s.c.mu.Unlock()
	return d.remoteState, d.remoteSettled
}

// Settled reports whether we have settled the delivery.
func (d *Delivery) Settled() bool {
	d.l.s.c.mu.Lock()
	defer d.l.s.c.mu.Unlock()
	return d.localSettled
}

// Done returns a channel closed when the delivery is settled by the peer or
// abandoned because its link ended. For outgoing deliveries this is when the
// outcome is known.
func (d *Delivery) Done() <-chan struct{} {
	d.l.s.c.mu.Lock()
	defer d.l.s.c.mu.Unlock()
	ch := make(chan struct{})
	if d.finished || d.remoteSettled {
		close(ch)
	} else {
		d.waiters = append(d.waiters, ch)
	}
	return ch
}

func (d *Delivery) wakeLocked() {
	for _, w := range d.waiters {
		close(w)
	}
	d.waiters = nil
}

func (d *Delivery) finishLocked() {
	if d.finished {
		return
	}
	d.finished = true
	d.wakeLocked()
}

// SendOptions are the per-message options of Link.Send.
type SendOptions struct {
	Tag           []byte // default: a sequence number
	Settled       bool   // pre-settled (at-most-once)
	MessageFormat uint32
	Context       any
}

// Send transfers a message on a link where we send. It consumes one credit
// and fails with ErrNoCredit without it; payload must not be modified until
// the delivery's frames are written (Send copies nothing). Messages larger
// than the peer's max-message-size fail with ErrMessageTooLarge.
func (l *Link) Send(payload []byte, o SendOptions) (*Delivery, error) {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if l.role != frames.RoleSender {
		return nil, errors.New("amqp: Send on a receiving link")
	}
	if l.detachSent || l.detached || !l.attachRcvd {
		return nil, l.errLocked()
	}
	if l.credit == 0 {
		return nil, ErrNoCredit
	}
	if l.maxMsgOut != 0 && uint64(len(payload)) > l.maxMsgOut {
		return nil, fmt.Errorf("%w: %d bytes, link allows %d", ErrMessageTooLarge, len(payload), l.maxMsgOut)
	}
	settled := o.Settled || l.sndSettle == frames.SndSettled
	if l.sndSettle == frames.SndUnsettled {
		settled = false
	}
	d := &Delivery{
		l:             l,
		id:            l.s.nextDeliveryID,
		format:        o.MessageFormat,
		payload:       payload,
		localSettled:  settled,
		remoteSettled: false,
		Context:       o.Context,
	}
	if o.Tag != nil {
		d.tag = o.Tag
	} else {
		l.nextTag++
		d.tag = binary.BigEndian.AppendUint64(d.tagBuf[:0], l.nextTag)
	}
	l.s.nextDeliveryID++
	l.deliveryCount++
	l.credit--
	if !settled {
		l.s.unsettledOut[d.id] = d
	}
	l.s.pending = append(l.s.pending, d)
	l.s.pumpLocked()
	return d, nil
}

// SendSettled sends a message pre-settled (at-most-once) when the caller
// has no use for its Delivery: the broker's at-most-once consumers. It
// fails like Send, and on a link whose snd-settle-mode is unsettled.
// While the session can write the whole message at once (nothing queued
// before it, window open) it allocates no Delivery, and the payload is
// copied into the connection's output: kept reports the other case, in
// which payload must stay untouched until it is sent.
func (l *Link) SendSettled(payload []byte) (kept bool, err error) {
	c := l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case l.role != frames.RoleSender:
		return false, errors.New("amqp: Send on a receiving link")
	case l.sndSettle == frames.SndUnsettled:
		return false, errors.New("amqp: SendSettled on a link whose sender settle mode is unsettled")
	case l.detachSent || l.detached || !l.attachRcvd:
		return false, l.errLocked()
	case l.credit == 0:
		return false, ErrNoCredit
	case l.maxMsgOut != 0 && uint64(len(payload)) > l.maxMsgOut:
		return false, fmt.Errorf("%w: %d bytes, link allows %d", ErrMessageTooLarge, len(payload), l.maxMsgOut)
	}
	s := l.s
	// tmp stays on the stack: its tag is in the link (tmp pointing into
	// itself would move it to the heap), and it is written out before
	// this returns, or copied.
	var tmp Delivery
	l.nextTag++
	binary.BigEndian.PutUint64(l.tagScratch[:], l.nextTag)
	tmp.l, tmp.id, tmp.tag, tmp.payload, tmp.localSettled = l, s.nextDeliveryID, l.tagScratch[:], payload, true
	s.nextDeliveryID++
	l.deliveryCount++
	l.credit--
	if len(s.pending) == 0 {
		// pumpLocked's loop for one delivery, on tmp.
		for s.remoteIncomingWindow > 0 && !s.endSent {
			if tmp.sendFrameLocked() {
				return false, nil
			}
		}
	}
	// Queued, or partly sent: a Delivery of its own (not a copy of tmp,
	// whose tag points to the stack).
	d := &Delivery{l: l, id: tmp.id, payload: payload, localSettled: true, outOff: tmp.outOff, started: tmp.started}
	d.tag = d.tagBuf[:copy(d.tagBuf[:], l.tagScratch[:])]
	s.pending = append(s.pending, d)
	s.pumpLocked()
	return true, nil
}

// sendFrameLocked writes the next transfer frame of an outgoing delivery and
// reports whether the delivery is completely sent.
func (d *Delivery) sendFrameLocked() bool {
	s := d.l.s
	c := s.c
	t := frames.Transfer{Handle: d.l.handle}
	if !d.started {
		d.started = true
		t.DeliveryID, t.HasDeliveryID = d.id, true
		t.DeliveryTag = d.tag
		t.MessageFormat, t.HasMessageFormat = d.format, true
		t.Settled, t.HasSettled = d.localSettled, true
	}
	out, start := frames.BeginFrame(c.out)
	out = t.AppendPerformative(out)
	room := int(c.maxFrameOut) - (len(out) - start)
	if room < 1 {
		room = 1 // cannot happen with max-frame-size ≥ 512
	}
	rest := d.payload[d.outOff:]
	if len(rest) > room {
		// Re-encode with more=true: the flag adds at most two bytes,
		// which the room estimate leaves for.
		t.More = true
		out = t.AppendPerformative(out[:start+frames.HeaderSize])
		room = int(c.maxFrameOut) - (len(out) - start)
		rest = rest[:room]
	}
	out = append(out, rest...)
	c.out = frames.EndFrame(out, start, frames.TypeAMQP, s.local)
	c.kickLocked()
	d.outOff += len(rest)
	s.nextOutgoingID++
	s.remoteIncomingWindow--
	if d.outOff < len(d.payload) {
		return false
	}
	if d.localSettled {
		d.finishLocked()
	}
	return true
}

// Abort aborts an outgoing delivery that is not completely sent yet
// (AMQP 1.0 §2.6.14); it reports false when all frames are already out.
func (d *Delivery) Abort() bool {
	c := d.l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s := d.l.s
	if d.outOff >= len(d.payload) && d.started {
		return false
	}
	for i, p := range s.pending {
		if p == d {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			break
		}
	}
	if d.started {
		t := &frames.Transfer{Handle: d.l.handle, Aborted: true, Settled: true, HasSettled: true}
		c.writeFrameLocked(frames.TypeAMQP, s.local, t)
		s.nextOutgoingID++
	}
	delete(s.unsettledOut, d.id)
	d.localSettled = true
	d.finishLocked()
	return true
}

func (l *Link) onTransferLocked(t *frames.Transfer, cbs []callback) []callback {
	if l.detachSent {
		return cbs // in flight while our detach travels
	}
	d := l.incoming
	if d == nil {
		if !t.HasDeliveryID {
			l.detachLocked(frames.Errorf(frames.ErrInvalidField, "first transfer of a delivery without delivery-id"), true)
			return cbs
		}
		if l.credit == 0 {
			l.detachLocked(frames.Errorf(frames.ErrTransferLimitExceeded, "transfer without link credit"), true)
			return cbs
		}
		l.credit--
		l.deliveryCount++
		if l.pack && !t.More {
			d = l.s.c.pack.delivery(len(t.Payload))
		} else {
			d = new(Delivery)
		}
		*d = Delivery{
			l:             l,
			id:            t.DeliveryID,
			format:        t.MessageFormat,
			remoteSettled: t.Settled || l.sndSettle == frames.SndSettled,
		}
		d.tag = append(d.tagBuf[:0], t.DeliveryTag...) // at most 32 bytes, checked by the decoder
		l.incoming = d
		l.incomingSize = 0
	} else {
		if t.HasDeliveryID && t.DeliveryID != d.id {
			l.detachLocked(frames.Errorf(frames.ErrInvalidField, "continuation transfer has delivery-id %d, delivery in progress is %d", t.DeliveryID, d.id), true)
			return cbs
		}
		if t.HasSettled && t.Settled {
			d.remoteSettled = true
		}
	}
	if t.Aborted {
		// §2.6.14: an aborted delivery is discarded; it still used its
		// credit.
		l.incoming = nil
		return cbs
	}
	l.incomingSize += uint64(len(t.Payload))
	limit := l.s.c.opts.MaxBufferedMessage
	if l.maxMsgIn != 0 && l.maxMsgIn < limit {
		limit = l.maxMsgIn
	}
	if l.incomingSize > limit {
		l.incoming = nil
		l.detachLocked(frames.Errorf(frames.ErrMessageSizeExceeded, "message of more than %d bytes", limit), true)
		return cbs
	}
	if t.More {
		d.payload = append(d.payload, t.Payload...)
		return cbs
	}
	switch {
	case d.payload == nil && l.pack:
		d.payload = l.s.c.pack.bytes(t.Payload)
	case d.payload == nil:
		d.payload = append(make([]byte, 0, len(t.Payload)), t.Payload...)
	default:
		d.payload = append(d.payload, t.Payload...)
	}
	l.incoming = nil
	if t.State != nil {
		d.remoteState = t.State
	}
	if !d.remoteSettled {
		l.s.unsettledIn[d.id] = d
	} else {
		d.finished = true
	}
	return append(cbs, callback{kind: cbMessage, l: l, d: d})
}

// Settle settles a delivery with an outcome (nil: settle without a state).
// For an incoming delivery on a link with receiver-settle-mode second it
// first sends the outcome unsettled and settles once the sender has
// (AMQP 1.0 §2.6.12). Settling twice is a no-op.
func (d *Delivery) Settle(state frames.DeliveryState) error {
	c := d.l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return d.settleLocked(state)
}

func (d *Delivery) settleLocked(state frames.DeliveryState) error {
	if d.localSettled {
		return nil
	}
	l := d.l
	s := l.s
	incoming := l.role == frames.RoleReceiver
	if d.finished && !incoming {
		d.localSettled = true
		return nil
	}
	d.localState = state
	if incoming && l.rcvSettle == frames.RcvSecond && !d.remoteSettled {
		if l.detachSent || l.detached {
			return l.errLocked()
		}
		c := s.c
		c.writeFrameLocked(frames.TypeAMQP, s.local, &frames.Disposition{Role: l.role, First: d.id, State: state})
		return nil
	}
	d.localSettled = true
	if incoming {
		delete(s.unsettledIn, d.id)
	} else {
		delete(s.unsettledOut, d.id)
	}
	if !d.remoteSettled && !l.detached && !s.endSent {
		s.c.writeFrameLocked(frames.TypeAMQP, s.local, &frames.Disposition{Role: l.role, First: d.id, Settled: true, State: state})
	}
	d.finishLocked()
	return nil
}

// Update sends a non-terminal delivery state (for example Received) without
// settling.
func (d *Delivery) Update(state frames.DeliveryState) {
	c := d.l.s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if d.localSettled || d.remoteSettled {
		return
	}
	c.writeFrameLocked(frames.TypeAMQP, d.l.s.local, &frames.Disposition{Role: d.l.role, First: d.id, State: state})
}

func (d *Delivery) onDispositionLocked(f *frames.Disposition, cbs []callback) []callback {
	if f.State != nil {
		d.remoteState = f.State
	}
	l := d.l
	if f.Settled {
		d.remoteSettled = true
		if l.role == frames.RoleReceiver {
			delete(l.s.unsettledIn, d.id)
			// Mode second: the sender settled after our outcome.
			d.localSettled = true
		} else {
			delete(l.s.unsettledOut, d.id)
		}
		d.finishLocked()
	} else {
		d.wakeLocked()
	}
	if l.role == frames.RoleReceiver {
		return cbs
	}
	return append(cbs, callback{kind: cbDisposition, l: l, d: d})
}
