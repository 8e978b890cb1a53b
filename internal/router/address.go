package router

import (
	"crypto/rand"
	"encoding/hex"
	"sync"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// address is one direct (anycast or multicast) address, or the router's
// record of a brokered one. mu guards the link lists and the buffer.
type address struct {
	space *space
	name  string
	typ   Type
	temp  bool

	mu        sync.Mutex
	deleted   bool
	consumers []*linkState
	producers []*linkState
	// buf holds anycast messages received under credit the router gave
	// but that no consumer could take yet; bounded by that credit.
	buf []*transport.Delivery
}

func newAddress(s *space, name string, t Type) *address {
	return &address{space: s, name: name, typ: t}
}

func (a *address) info() AddressInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	in := AddressInfo{Name: a.name, Type: a.typ, Consumers: len(a.consumers), Producers: len(a.producers), Buffered: len(a.buf)}
	for _, c := range a.consumers {
		in.Dropped += c.dropped.Load()
	}
	return in
}

func (a *address) capacity() uint32 { return a.space.r.opts.LinkCapacity }

// attach answers a bound link's attach and adds the link to the
// address, both under a.mu: nothing goes out on the link, nor is credit
// granted to it, before the answer, and a message that arrives once the
// client has the answer finds the link (a multicast consumer gets it; when
// the link was added after the answer, a producer on another connection
// could send in between and the consumer missed the message).
func (a *address) attach(ls *linkState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ls.link.CompleteAttach(nil)
	if a.deleted {
		go ls.link.Detach(ctxBackground, frames.Errorf(frames.ErrResourceDeleted, "address %q was deleted", a.name), true)
		return
	}
	if ls.link.IsSender() {
		ls.unsettled = map[*transport.Delivery]struct{}{}
		a.consumers = append(a.consumers, ls)
	} else {
		a.producers = append(a.producers, ls)
	}
	a.rebalanceLocked()
}

// rebalanceLocked gives producers the credit the address can take.
//
// anycast: the credit consumers granted, minus what is buffered, split
// among producers and capped at LinkCapacity each; with no consumer credit,
// producers' credit is withdrawn (AMQP 1.0 §2.6.7 lets a receiver lower
// credit at any time; messages already in flight are buffered).
// multicast: a steady LinkCapacity per producer, topped up at half.
func (a *address) rebalanceLocked() {
	if len(a.producers) == 0 {
		return
	}
	if a.typ == Multicast {
		for _, p := range a.producers {
			if cr, _ := p.link.Credit(); cr <= a.capacity()/2 {
				p.link.Flow(a.capacity(), false)
			}
		}
		return
	}
	var avail int64
	for _, c := range a.consumers {
		cr, _ := c.link.Credit()
		avail += int64(cr)
	}
	avail -= int64(len(a.buf))
	if avail <= 0 {
		for _, p := range a.producers {
			if cr, _ := p.link.Credit(); cr > 0 {
				p.link.Flow(0, false)
			}
		}
		return
	}
	per := avail / int64(len(a.producers))
	if per < 1 {
		per = 1
	}
	if per > int64(a.capacity()) {
		per = int64(a.capacity())
	}
	for _, p := range a.producers {
		if cr, _ := p.link.Credit(); int64(cr) <= per/2 {
			p.link.Flow(uint32(per), false)
		}
	}
}

// consumerFlow runs when a consumer's credit changed.
func (a *address) consumerFlow(c *linkState) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.typ == Multicast {
		a.drainBacklogLocked(c)
		return
	}
	a.pumpLocked()
	a.rebalanceLocked()
}

// pickLocked returns the consumer with credit and the fewest unsettled
// deliveries (Dispatch "balanced"), or nil.
func (a *address) pickLocked() *linkState {
	var best *linkState
	for _, c := range a.consumers {
		if cr, _ := c.link.Credit(); cr == 0 {
			continue
		}
		if best == nil || len(c.unsettled) < len(best.unsettled) {
			best = c
		}
	}
	return best
}

// forwardLocked sends d to a consumer; false if none can take it now.
func (a *address) forwardLocked(d *transport.Delivery) bool {
	for {
		c := a.pickLocked()
		if c == nil {
			return false
		}
		_, presettled := d.RemoteState()
		od, err := c.link.Send(d.Payload(), transport.SendOptions{Settled: presettled, Context: d})
		if err != nil {
			continue // the consumer raced away (detached or lost credit); try another
		}
		if !od.Settled() {
			c.unsettled[od] = struct{}{}
		} else if !presettled {
			// The consumer only takes pre-settled messages: the
			// producer's delivery is done once forwarded.
			d.Settle(frames.Accepted{})
		}
		return true
	}
}

func (a *address) pumpLocked() {
	for len(a.buf) > 0 {
		if !a.forwardLocked(a.buf[0]) {
			return
		}
		a.buf[0] = nil
		a.buf = a.buf[1:]
	}
}

// produce handles a message from a producer link bound to a.
func (a *address) produce(p *linkState, d *transport.Delivery) {
	refused := a.refuseRetained(d, nil)
	a.mu.Lock()
	defer a.mu.Unlock()
	if refused {
		a.rebalanceLocked() // the producer's credit, as for any message
		return
	}
	if a.typ == Multicast {
		a.fanoutLocked(d)
		a.rebalanceLocked()
		return
	}
	if len(a.buf) > 0 || !a.forwardLocked(d) {
		if len(a.consumers) == 0 {
			// Nobody to take it (the last consumer left while the
			// message travelled): give it back.
			d.Settle(frames.Released{})
		} else {
			a.buf = append(a.buf, d)
			a.pumpLocked()
		}
	}
	a.rebalanceLocked()
}

// relayed handles a message that arrived through the anonymous relay, which
// gets credit independently of this address's consumers: it is forwarded,
// buffered while the buffer is within LinkCapacity, or released. raw is
// d's payload, which the relay parsed.
func (a *address) relayed(d *transport.Delivery, raw *message.Raw) {
	if a.refuseRetained(d, raw) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.typ == Multicast {
		a.fanoutLocked(d)
		return
	}
	if len(a.buf) == 0 && a.forwardLocked(d) {
		a.rebalanceLocked()
		return
	}
	if len(a.consumers) == 0 || len(a.buf) >= int(a.capacity()) {
		d.Settle(frames.Released{})
		return
	}
	a.buf = append(a.buf, d)
	a.rebalanceLocked()
}

// fanoutLocked copies a multicast message to every consumer, pre-settled;
// a consumer without credit buffers up to MulticastBuffer messages and
// then drops (counted per link).
func (a *address) fanoutLocked(d *transport.Delivery) {
	payload := d.Payload()
	limit := a.space.r.opts.MulticastBuffer
	for _, c := range a.consumers {
		if len(c.mcBuf) == 0 {
			if _, err := c.link.Send(payload, transport.SendOptions{Settled: true}); err == nil {
				continue
			}
		}
		if len(c.mcBuf) < limit {
			c.mcBuf = append(c.mcBuf, payload)
		} else {
			c.dropped.Add(1)
		}
	}
	// At-most-once: the producer's delivery is accepted on receipt.
	if _, settled := d.RemoteState(); !settled {
		d.Settle(frames.Accepted{})
	}
}

func (a *address) drainBacklogLocked(c *linkState) {
	for len(c.mcBuf) > 0 {
		if _, err := c.link.Send(c.mcBuf[0], transport.SendOptions{Settled: true}); err != nil {
			return
		}
		c.mcBuf[0] = nil
		c.mcBuf = c.mcBuf[1:]
	}
}

// outcome passes a consumer's disposition back to the producer's delivery.
func (a *address) outcome(c *linkState, od *transport.Delivery) {
	st, settled := od.RemoteState()
	if !settled && (st == nil || !frames.IsOutcome(st)) {
		return // a non-terminal state (received)
	}
	a.mu.Lock()
	_, tracked := c.unsettled[od]
	delete(c.unsettled, od)
	a.mu.Unlock()
	if origin, ok := od.Context.(*transport.Delivery); ok && tracked {
		origin.Settle(st)
	}
	if !settled {
		od.Settle(nil) // receiver-settle-mode second: we settle after the outcome
	}
	a.mu.Lock()
	a.pumpLocked()
	a.rebalanceLocked()
	a.mu.Unlock()
}

// detach removes a link. Unsettled deliveries of a departing consumer are
// answered modified{delivery-failed} (they may have been processed); when
// no consumer remains, buffered messages are released.
func (a *address) detach(ls *linkState) {
	a.mu.Lock()
	var orphans []*transport.Delivery
	var released []*transport.Delivery
	if ls.link.IsSender() {
		a.consumers = removeLink(a.consumers, ls)
		for od := range ls.unsettled {
			if origin, ok := od.Context.(*transport.Delivery); ok {
				orphans = append(orphans, origin)
			}
		}
		ls.unsettled = nil
		ls.mcBuf = nil
		if len(a.consumers) == 0 {
			released, a.buf = a.buf, nil
		}
	} else {
		a.producers = removeLink(a.producers, ls)
	}
	a.pumpLocked()
	a.rebalanceLocked()
	a.mu.Unlock()
	for _, d := range orphans {
		d.Settle(frames.Modified{DeliveryFailed: true})
	}
	for _, d := range released {
		d.Settle(frames.Released{})
	}
}

func removeLink(list []*linkState, ls *linkState) []*linkState {
	for i, x := range list {
		if x == ls {
			return append(list[:i:i], list[i+1:]...)
		}
	}
	return list
}

// delete detaches every link of a deleted address with e.
func (a *address) delete(e *frames.Error) {
	a.mu.Lock()
	a.deleted = true
	links := append(append([]*linkState{}, a.consumers...), a.producers...)
	buf := a.buf
	a.buf = nil
	a.mu.Unlock()
	for _, d := range buf {
		d.Settle(frames.Released{})
	}
	for _, ls := range links {
		go ls.link.Detach(ctxBackground, e, true)
	}
}
