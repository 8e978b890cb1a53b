package mqtt

import (
	"context"
	"errors"
	"strings"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
	"github.com/enmasse-go/enmasse/internal/mqtt/packets"
)

// handleSubscribe attaches one AMQP receiver per new topic filter and
// answers with SUBACK [MQTT-3.8.4-1].
func (c *conn) handleSubscribe(p *packets.Subscribe) bool {
	var subID uint32 // MQTT 5.0 §3.8.2.1.2: at most one, 1..268435455 (the codec checks)
	if ids := p.Properties.SubscriptionIdentifiers; len(ids) > 0 {
		subID = ids[0]
	}
	ack := &packets.Suback{PacketID: p.PacketID, ReasonCodes: make([]packets.ReasonCode, len(p.Subscriptions))}
	var started []*sub
	for i, o := range p.Subscriptions {
		granted := min(o.QoS, 2)
		c.mu.Lock()
		old := c.subs[o.Filter]
		c.mu.Unlock()
		if old != nil {
			// The same filter replaces the subscription's options and
			// QoS [MQTT-3.8.4-3]; its link stays, so that the flow of
			// messages is not interrupted (deliver takes the QoS of a
			// message on a pre-settled link from its annotation).
			old.qos.Store(uint32(granted))
			old.setOptions(o, subID)
			ack.ReasonCodes[i] = packets.ReasonCode(granted)
			if o.RetainHandling == 0 && !strings.HasPrefix(o.Filter, packets.SharePrefix) {
				// Its retained messages are sent again [MQTT-3.8.4-3]
				// [MQTT-3.3.1-9].
				if s := c.resendRetained(old, o, granted, subID); s != nil {
					started = append(started, s)
				}
			}
			continue
		}
		s, rc := c.subscribe(o, granted, subID)
		ack.ReasonCodes[i] = rc
		if s != nil {
			started = append(started, s)
		}
	}
	c.recordSubscriptions(p, ack.ReasonCodes)
	if err := c.write(ack); err != nil {
		return false
	}
	for _, s := range started {
		c.wg.Add(1)
		go c.receiveLoop(s)
	}
	return true
}

// setOptions sets the options a SUBSCRIBE gives a subscription besides
// its QoS: Retain As Published, No Local [MQTT-3.8.3-3] and the
// Subscription Identifier (0: none; MQTT 5.0 §3.8.2.1.2).
func (s *sub) setOptions(o packets.Subscription, subID uint32) {
	s.retainAsPublished.Store(o.RetainAsPublished)
	s.noLocal.Store(o.NoLocal)
	s.subID.Store(subID)
}

// subscribe attaches the receiver of one filter. Wildcards pass through:
// the broker's topic subscriptions match `+` and `#` themselves.
func (c *conn) subscribe(o packets.Subscription, granted byte, subID uint32) (*sub, packets.ReasonCode) {
	filter, share := o.Filter, ""
	if strings.HasPrefix(o.Filter, packets.SharePrefix) {
		// The v5 codec refused bad ones already; 3.1.1 gets 0x80.
		name, f, _, err := packets.SplitShared(o.Filter)
		if err != nil {
			c.log.Debug("subscription refused", "filter", o.Filter, "err", err)
			return nil, packets.ReasonTopicFilterInvalid // [MQTT-4.8.2-1] [MQTT-4.8.2-2]
		}
		filter, share = f, name
	}
	if err := c.ensureRoot(filter); err != nil {
		c.log.Debug("subscription refused", "filter", o.Filter, "err", err)
		return nil, packets.ReasonUnspecifiedError
	}
	ctx, cancel := context.WithTimeout(c.ctx, closeTimeout)
	defer cancel()
	// QoS 0 deliveries are written to the client and dropped at once:
	// they may share their allocations (PackDeliveries).
	ro := transport.ReceiverOptions{Credit: c.window, PreSettled: granted == 0, PackDeliveries: granted == 0}
	switch {
	case share != "":
		// One shared subscription per (ShareName, filter) in the address
		// space, whose members compete for its messages (MQTT 5.0
		// §4.8.2); it gets no retained messages (§3.3.1.3).
		ro.Name = o.Filter
		ro.Source = &frames.Source{Address: filter, Capabilities: []types.Symbol{capabilityShared, capabilityGlobal}}
	case o.RetainHandling != 2:
		// A new subscription gets the retained messages first
		// [MQTT-3.3.1-6] [MQTT-3.3.1-9]; Retain Handling 1 and 0 both
		// mean that here, as the subscription did not exist
		// [MQTT-3.3.1-10]; 2 means none [MQTT-3.3.1-11].
		ro.Source = &frames.Source{Address: filter, Capabilities: []types.Symbol{capabilityRetained}}
	}
	if share == "" {
		// A persistent session's subscription is durable (session.go);
		// its shared ones stay the group's.
		c.durableSource(&ro, filter)
	}
	r, err := c.newReceiver(ctx, filter, ro)
	if err != nil {
		c.log.Debug("subscription refused", "filter", o.Filter, "err", err)
		var re *transport.RemoteError
		if errors.As(err, &re) && re.Err != nil {
			return nil, codeFor(re.Err)
		}
		return nil, codeFor(err)
	}
	sctx, scancel := context.WithCancel(c.ctx)
	s := &sub{filter: filter, r: r, ctx: sctx, cancel: scancel}
	s.qos.Store(uint32(granted))
	s.setOptions(o, subID)
	if o.NoLocal {
		// From now on this connection's publications carry its client
		// identifier.
		c.noLocalSubs.Add(1)
	}
	c.mu.Lock()
	if c.subs == nil {
		c.subs = map[string]*sub{}
	}
	c.subs[o.Filter] = s
	c.mu.Unlock()
	return s, packets.ReasonCode(granted)
}

// handleUnsubscribe detaches the filters' links and answers UNSUBACK
// [MQTT-3.10.4-4].
func (c *conn) handleUnsubscribe(p *packets.Unsubscribe) {
	ack := &packets.Unsuback{PacketID: p.PacketID, ReasonCodes: make([]packets.ReasonCode, len(p.Filters))}
	for i, f := range p.Filters {
		c.mu.Lock()
		s := c.subs[f]
		delete(c.subs, f)
		c.mu.Unlock()
		if s != nil {
			s.cancel()
			ctx, cancel := context.WithTimeout(c.ctx, closeTimeout)
			s.r.Close(ctx)
			cancel()
		}
		if !c.dropSubscription(f) && s == nil {
			ack.ReasonCodes[i] = packets.ReasonNoSubscriptionExisted
		}
	}
	c.write(ack)
}

// resendRetained attaches a one-shot receiver for the retained messages
// matching an existing subscription's filter (broker capability
// `retained-only`); its loop ends at the broker's end marker.
func (c *conn) resendRetained(old *sub, o packets.Subscription, granted byte, subID uint32) *sub {
	ctx, cancel := context.WithTimeout(c.ctx, closeTimeout)
	defer cancel()
	r, err := c.sess.NewReceiver(ctx, old.filter, transport.ReceiverOptions{Credit: c.window, PreSettled: granted == 0,
		Source: &frames.Source{Address: old.filter, Capabilities: []types.Symbol{capabilityRetainedOnly}}})
	if err != nil {
		c.log.Debug("retained messages not re-sent", "filter", old.filter, "err", err)
		return nil
	}
	sctx, scancel := context.WithCancel(c.ctx)
	s := &sub{filter: old.filter, r: r, ctx: sctx, cancel: scancel, retainedOnly: true}
	s.qos.Store(uint32(granted))
	s.setOptions(o, subID)
	return s
}

// receiveLoop forwards the messages of one subscription to the client.
func (c *conn) receiveLoop(s *sub) {
	defer c.wg.Done()
	defer s.cancel()
	if s.retainedOnly {
		defer func() {
			ctx, cancel := context.WithTimeout(c.ctx, closeTimeout)
			s.r.Close(ctx)
			cancel()
		}()
	}
	// PUBLISH packets wait in the write buffer while more deliveries are
	// at hand and go out in one write before Receive would block.
	defer c.flush()
	// QoS 0 PUBLISH packets are built here, one at a time: encoded into
	// the write buffer and never kept, they need no allocation each.
	var scratch packets.Publish
	var decoded message.Decoded
	for {
		d, err := s.r.Receive(s.ctx)
		if err != nil {
			if s.ctx.Err() == nil {
				c.log.Debug("subscription ended", "filter", s.filter, "err", err)
			}
			return
		}
		if !c.deliver(s, d, &scratch, &decoded) {
			return
		}
		if s.r.Buffered() == 0 && c.flush() != nil {
			return
		}
	}
}

// deliver sends one AMQP message to the client as a PUBLISH with QoS
// min(granted, message QoS) [MQTT-3.8.4-8]; a QoS 0 copy settles the AMQP
// delivery at once, QoS 1 and 2 when the client completes the exchange.
// A QoS 0 PUBLISH is built in scratch, which is cleared afterwards; the
// AMQP message is decoded into decoded.
func (c *conn) deliver(s *sub, d *transport.Delivery, scratch *packets.Publish, decoded *message.Decoded) bool {
	f, err := decodeAMQPInto(d.Payload(), decoded)
	if err != nil {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrDecodeError, "%v", err)})
		return true
	}
	_, preSettled := d.RemoteState()
	if f.end {
		// The end of a retained-only link.
		if !preSettled {
			d.Settle(frames.Accepted{})
		}
		return !s.retainedOnly
	}
	msgQoS := byte(1)
	switch {
	case f.hasQoS:
		// The QoS it was published with, also on a pre-settled link: a
		// QoS 0 subscription resubscribed at QoS 1 or 2 keeps its link,
		// and its messages go out at the new QoS [MQTT-3.8.4-3].
		msgQoS = f.qos
	case preSettled:
		msgQoS = 0 // an AMQP sender's pre-settled message (SPEC §5)
	}
	qos := min(byte(s.qos.Load()), msgQoS)
	// send and storeOut encode p at once and keep only the bytes.
	p := scratch
	*p = packets.Publish{Topic: topicFor(f.to, s.filter), QoS: qos, Payload: f.payload, Properties: f.properties}
	defer func() { *scratch = packets.Publish{} }() // keeps no payload alive
	switch {
	case f.retained:
		p.Retain = true // [MQTT-3.3.1-8]
	case s.retainAsPublished.Load():
		p.Retain = f.retain // [MQTT-3.3.1-13]
	}
	if f.origin != "" && f.origin == c.clientID && s.noLocal.Load() {
		// [MQTT-3.8.3-3]: not to the client that published it.
		if _, preSettled := d.RemoteState(); !preSettled {
			d.Settle(frames.Accepted{})
		}
		return true
	}
	if id := s.subID.Load(); id != 0 {
		// One PUBLISH per matching subscription, each with its own
		// identifier [MQTT-3.3.4-3] [MQTT-3.3.4-5].
		p.Properties.SubscriptionIdentifiers = []uint32{id}
	}
	if c.clientMaxPacket > 0 {
		if b, err := packets.Append(nil, p, c.version); err == nil && len(b)+2 > c.clientMaxPacket {
			// [MQTT-3.1.2-25]: too large for the client; discarded.
			c.log.Debug("message larger than the client's maximum packet size dropped", "topic", p.Topic)
			if !preSettled {
				d.Settle(frames.Accepted{})
			}
			return true
		}
	}
	if qos == 0 {
		err := c.send(p, c.version, false)
		if !preSettled {
			d.Settle(frames.Accepted{})
		}
		return err == nil
	}
	select {
	case c.sem <- struct{}{}:
	default:
		// The window is full: what waits in the write buffer must reach
		// the client for its acknowledgements to open it again.
		if c.flush() != nil {
			return false
		}
		select {
		case c.sem <- struct{}{}:
		case <-c.ctx.Done():
			return false
		}
	}
	c.mu.Lock()
	id := c.allocIDLocked()
	m := &outMsg{d: d, qos: qos, held: true}
	if preSettled {
		m.d = nil // nothing to settle (and a packed delivery is reused)
	}
	if c.session != nil {
		m.key, m.stored = c.s.sessions.nextKey.Add(1), make(chan struct{})
	}
	if c.inflight == nil {
		c.inflight = map[uint16]*outMsg{}
	}
	c.inflight[id] = m
	c.mu.Unlock()
	p.PacketID = id
	if c.session != nil {
		c.storeOut(id, m, p)
	}
	return c.send(p, c.version, false) == nil
}

// allocIDLocked returns a packet identifier not in use [MQTT-2.2.1-3].
// The in-flight window is far below 65535, so one is always free.
func (c *conn) allocIDLocked() uint16 {
	for {
		c.nextID++
		if c.nextID == 0 {
			c.nextID = 1
		}
		if _, used := c.inflight[c.nextID]; !used {
			return c.nextID
		}
	}
}

// completeOut ends a QoS 1 (PUBACK) or QoS 2 (PUBCOMP) exchange: the AMQP
// delivery is accepted, or rejected when a v5 client reports an error.
func (c *conn) completeOut(id uint16, rc packets.ReasonCode) {
	c.mu.Lock()
	m := c.inflight[id]
	delete(c.inflight, id)
	var d *transport.Delivery
	held := false
	if m != nil {
		d, m.d, m.done, held = m.d, nil, true, m.held
	}
	c.mu.Unlock()
	if m == nil {
		return
	}
	c.forgetOut(m)
	switch {
	case d == nil: // a persistent session's: the broker has it accepted
	case rc.IsError():
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrInternal, "MQTT client answered %v", rc)})
	default:
		d.Settle(frames.Accepted{})
	}
	if held {
		<-c.sem
	}
}

// handlePubrec answers PUBREC with PUBREL [MQTT-4.3.3-4]; a v5 error code
// ends the exchange.
func (c *conn) handlePubrec(p *packets.Pubrec) {
	c.mu.Lock()
	m := c.inflight[p.PacketID]
	c.mu.Unlock()
	if m == nil {
		c.write(&packets.Pubrel{PacketID: p.PacketID, ReasonCode: packets.ReasonPacketIdentifierNotFound})
		return
	}
	if p.ReasonCode.IsError() {
		c.completeOut(p.PacketID, p.ReasonCode)
		return
	}
	if !c.releaseOut(p.PacketID, m) {
		c.write(&packets.Pubrel{PacketID: p.PacketID})
	}
}
