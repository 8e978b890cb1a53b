package broker

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// Policy is an address's delivery policy (EnMasse plan/address settings:
// messageRedelivery, messageTtl, deadletter, expiry). The zero value
// redelivers forever, never expires messages and has no dead-letter or
// expiry address.
type Policy struct {
	// DeadLetter receives messages that were rejected or exhausted
	// MaxDeliveryAttempts; it must be a queue or deadletter address of the
	// same space. Empty: such messages are dropped.
	DeadLetter string
	// Expiry receives expired messages; empty: they are dropped.
	Expiry string
	// MaxDeliveryAttempts: after this many failed deliveries
	// (modified{delivery-failed}, or rejected without a DeadLetter) the
	// message goes to DeadLetter. 0: unlimited.
	MaxDeliveryAttempts uint32
	// RedeliveryDelay before a failed message is offered again, multiplied
	// by RedeliveryMultiplier for each further attempt and capped at
	// MaxRedeliveryDelay.
	RedeliveryDelay      time.Duration
	RedeliveryMultiplier float64
	MaxRedeliveryDelay   time.Duration
	// MinTTL and MaxTTL clamp a message's time to live (header.ttl or
	// properties.absolute-expiry-time); MaxTTL also applies to messages
	// without one. 0: no clamp.
	MinTTL, MaxTTL time.Duration
	// MaxBytes bounds the message bytes the queue holds; 0: only the
	// broker's global limit applies. FullPolicy says what happens beyond it
	// (EnMasse address-full policies): PAGE (default) moves message bodies
	// to disk and keeps accepting, BLOCK stops giving producers credit,
	// FAIL rejects new messages with amqp:resource-limit-exceeded.
	MaxBytes   int64
	FullPolicy FullPolicy
}

// FullPolicy is what a full queue does with new messages.
type FullPolicy string

const (
	Page  FullPolicy = "PAGE"
	Block FullPolicy = "BLOCK"
	Fail  FullPolicy = "FAIL"
)

// redeliveryDelay is the delay before attempt n+1 (n ≥ 1 failures).
func (p *Policy) redeliveryDelay(n uint32) time.Duration {
	if p.RedeliveryDelay <= 0 {
		return 0
	}
	mult := p.RedeliveryMultiplier
	if mult < 1 {
		mult = 1
	}
	d := float64(p.RedeliveryDelay) * math.Pow(mult, float64(n-1))
	if p.MaxRedeliveryDelay > 0 && d > float64(p.MaxRedeliveryDelay) {
		return p.MaxRedeliveryDelay
	}
	if d > float64(time.Hour*24*365) {
		d = float64(time.Hour * 24 * 365)
	}
	return time.Duration(d)
}

type msg struct {
	seq       uint64
	payload   []byte // nil while paged out
	size      int64  // payload length, also while paged
	paged     bool   // the body is only in the journal (under key)
	paging    bool   // being written out by the pager
	attempts  uint32 // failed delivery attempts (header delivery-count)
	key       uint64 // journal key; 0 when the message is not journaled
	stored    bool   // the first journal write completed (guarded by queue.mu)
	writing   int    // journal writes in flight (guarded by queue.mu)
	done      bool   // consumed or dropped; its record is to be deleted
	expires   int64  // Unix nanoseconds; 0 = never
	notBefore int64  // Unix nanoseconds before which it is not offered (redelivery delay)
	arrived   int64  // Unix nanoseconds of enqueue, for the oldest-message age
	// Consumers that answered modified{undeliverable-here}: m is not
	// offered to them again (AMQP 1.0 §3.4.5).
	refused []*consumer
}

type consumer struct {
	link    *transport.Link
	unacked map[*transport.Delivery]*msg
}

// queue holds messages for competing consumers; mu guards everything below
// it.
type queue struct {
	b     *Broker
	space string
	name  string
	typ   string
	key   uint64 // journal key of the queue definition
	// A durable subscription's filter and consumer limit and whether a
	// receiver's attach created it, journaled with its definition (set
	// before persistQueue).
	subFilter       string
	subMaxConsumers int
	subOnAttach     bool

	mu        sync.Mutex
	policy    Policy
	msgs      []*msg            // ordered by seq
	bytes     int64             // payload bytes of the waiting messages
	mem       int64             // payload bytes of waiting messages held in memory
	blocked   []*transport.Link // producers denied credit while the queue is full (BLOCK)
	consumers []*consumer
	producers int
	next      int // round-robin position
	seq       uint64
	enqueued  uint64
	dequeued  uint64
	expired   uint64
	deadLet   uint64
	timer     *time.Timer // wakes dispatch for delayed redeliveries
	expiring  []*msg      // expired, waiting to be moved to the expiry address
	moving    bool        // a goroutine runs moveExpired
}

var now = func() int64 { return time.Now().UnixNano() }

func (q *queue) enqueue(payload []byte) *msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enqueueLocked(payload, 0, 0)
}

func (q *queue) enqueueLocked(payload []byte, key uint64, attempts uint32) *msg {
	md := inspect(payload)
	return q.addLocked(payload, key, attempts, &md)
}

// meta is what the broker reads from a message's header and properties, in
// one parse per message whatever the number of queues it goes to.
type meta struct {
	durable   bool
	ttl       time.Duration // header.ttl; 0 = none
	absExpiry int64         // properties.absolute-expiry-time, Unix ms; 0 = none
	retain    bool          // message annotation x-opt-retain = true
}

func inspect(payload []byte) meta {
	raw, err := message.Parse(payload)
	if err != nil {
		return meta{}
	}
	return inspectRaw(&raw)
}

// inspectRaw is inspect of a parsed message.
func inspectRaw(raw *message.Raw) meta {
	var md meta
	if h, ok, err := raw.Header(); err == nil && ok {
		md.durable = h.Durable
		md.ttl = time.Duration(h.TTL) * time.Millisecond
	}
	if at, ok, err := raw.AbsoluteExpiry(); err == nil && ok {
		md.absExpiry = int64(at)
	}
	md.retain = retainOf(raw)
	return md
}

// addLocked appends a message. md gives its TTL; nil means it does not
// expire (dead-lettered and expired messages moved here, replayed messages
// whose deadline comes from the journal).
func (q *queue) addLocked(payload []byte, key uint64, attempts uint32, md *meta) *msg {
	q.seq++
	q.enqueued++
	t := now()
	m := &msg{seq: q.seq, payload: payload, size: int64(len(payload)), key: key, attempts: attempts, stored: key != 0, arrived: t}
	if md != nil {
		m.expires = q.expiryOf(md, t)
	}
	q.msgs = append(q.msgs, m)
	q.addBytesLocked(m, 1)
	q.dispatchLocked()
	return m
}

// sendNowLocked hands a message straight to a consumer when nothing waits
// before it and every consumer takes messages pre-settled (snd-settle-mode
// settled: MQTT QoS 0 subscribers, at-most-once AMQP receivers), without
// the msg that addLocked would queue and dispatchLocked would drop at once:
// the same consumer, counters and outcome, one allocation fewer per
// delivery of a topic's fan-out. It reports false when the message must go
// through addLocked: the queue holds messages, a consumer settles, no
// consumer has credit, the message has an absolute expiry time, or the
// send failed. (A header TTL gives at least a millisecond, which a
// dispatch right after enqueueing would not see pass either.)
func (q *queue) sendNowLocked(payload []byte, md *meta) bool {
	if len(q.msgs) != 0 || len(q.consumers) == 0 {
		return false
	}
	for _, c := range q.consumers {
		if c.link.SenderSettleMode() != frames.SndSettled {
			return false
		}
	}
	if md.absExpiry != 0 {
		// It may have passed already (expiryOf then gives it 1 ns to
		// live): such messages take the queue's path, which expires them.
		return false
	}
	c, _ := q.pickLocked(nil)
	if c == nil {
		return false
	}
	if _, err := c.link.SendSettled(payload); err != nil {
		return false
	}
	q.seq++
	q.enqueued++
	q.dequeued++ // pre-settled consumer: at-most-once
	q.unblockLocked()
	return true
}

// expiryOf computes when a message expires (AMQP 1.0 §3.2.1 ttl, §3.2.4
// absolute-expiry-time), clamped by the policy's TTL bounds.
func (q *queue) expiryOf(md *meta, arrived int64) int64 {
	p := &q.policy
	ttl := md.ttl
	if ttl == 0 && md.absExpiry > 0 {
		ttl = time.Duration(md.absExpiry*int64(time.Millisecond) - arrived)
		if ttl <= 0 {
			ttl = 1 // already expired
		}
	}
	if ttl > 0 && p.MinTTL > 0 && ttl < p.MinTTL {
		ttl = p.MinTTL
	}
	if p.MaxTTL > 0 && (ttl == 0 || ttl > p.MaxTTL) {
		ttl = p.MaxTTL
	}
	if ttl == 0 {
		return 0
	}
	return arrived + int64(ttl)
}

func (q *queue) dispatch() {
	q.mu.Lock()
	q.dispatchLocked()
	q.mu.Unlock()
}

// dispatchLocked hands messages to consumers with credit, round-robin, in
// queue order. Expired messages are moved out on the way (they are never
// delivered after expiry); messages waiting for a redelivery delay are
// skipped and a timer resumes dispatch when the first becomes due.
func (q *queue) dispatchLocked() {
	t := now()
	var wake int64
	for i := 0; i < len(q.msgs) && len(q.consumers) > 0; {
		m := q.msgs[i]
		if m.expires != 0 && t >= m.expires {
			q.removeAtLocked(i)
			q.expireLocked(m)
			continue
		}
		if m.notBefore > t {
			if wake == 0 || m.notBefore < wake {
				wake = m.notBefore
			}
			i++
			continue
		}
		c, credit := q.pickLocked(m.refused)
		if c == nil {
			if credit {
				i++ // only consumers that refused m have credit
				continue
			}
			break
		}
		if m.paging {
			break // its body is being written out; the pager resumes dispatch
		}
		payload, err := q.bodyLocked(m)
		if err != nil {
			q.b.opts.Logger.Error("paged message lost", "queue", q.name, "err", err)
			q.removeAtLocked(i)
			q.forgetLocked(m)
			continue
		}
		if m.attempts > 0 {
			payload = withDeliveryCount(payload, m.attempts)
		}
		if c.link.SenderSettleMode() == frames.SndSettled {
			// At-most-once: nothing to keep of the delivery
			// (SendSettled allocates none while it can write at once).
			if _, err := c.link.SendSettled(payload); err != nil {
				break
			}
			q.removeAtLocked(i)
			q.dequeued++
			q.forgetLocked(m)
			continue
		}
		d, err := c.link.Send(payload, transport.SendOptions{})
		if err != nil {
			break
		}
		q.removeAtLocked(i) // unsettled: a pre-settled consumer took the branch above
		if m.paged {
			// Keep the body read back for redelivery while it is out.
			m.payload, m.paged = payload, false
		}
		c.unacked[d] = m
	}
	if wake != 0 {
		q.wakeAtLocked(wake)
	}
	q.unblockLocked()
}

// removeAtLocked takes msgs[i] out of the queue.
func (q *queue) removeAtLocked(i int) {
	q.addBytesLocked(q.msgs[i], -1)
	if i == 0 {
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
		return
	}
	q.msgs = slices.Delete(q.msgs, i, i+1)
}

func (q *queue) wakeAtLocked(at int64) {
	d := time.Duration(at - now())
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.dispatch)
		return
	}
	q.timer.Reset(d)
}

// pickLocked chooses the next consumer with credit that is not among
// refused (the consumers that refused the message); credit reports
// whether any consumer has credit.
func (q *queue) pickLocked(refused []*consumer) (c *consumer, credit bool) {
	n := len(q.consumers)
	for i := range n {
		c := q.consumers[(q.next+i)%n]
		if cr, _ := c.link.Credit(); cr > 0 {
			credit = true
			if slices.Contains(refused, c) {
				continue
			}
			q.next = (q.next + i + 1) % n
			return c, true
		}
	}
	return nil, credit
}

// requeueLocked puts messages back in seq order, ahead of newer ones.
func (q *queue) requeueLocked(ms ...*msg) {
	for _, m := range ms {
		i, _ := slices.BinarySearchFunc(q.msgs, m.seq, func(x *msg, s uint64) int {
			switch {
			case x.seq < s:
				return -1
			case x.seq > s:
				return 1
			}
			return 0
		})
		q.msgs = slices.Insert(q.msgs, i, m)
		q.addBytesLocked(m, 1)
	}
}

func (q *queue) outcome(c *consumer, d *transport.Delivery, st frames.DeliveryState) {
	q.mu.Lock()
	m := c.unacked[d]
	if m == nil {
		q.mu.Unlock()
		return
	}
	delete(c.unacked, d)
	var move *msg
	switch s := st.(type) {
	case frames.Released:
		q.requeueLocked(m)
	case frames.Modified:
		if s.UndeliverableHere {
			// AMQP 1.0 §3.4.5: not to be redelivered to this link.
			m.refused = append(m.refused, c)
		}
		if s.DeliveryFailed {
			move = q.failedLocked(m)
		} else {
			q.requeueLocked(m)
		}
	case frames.Rejected:
		if q.policy.DeadLetter != "" {
			move = m
		} else if q.policy.MaxDeliveryAttempts > 0 {
			move = q.failedLocked(m)
		} else {
			q.dequeued++ // no dead-letter address and no policy: dropped
			q.forgetLocked(m)
		}
	default: // accepted (or settled without an outcome)
		q.dequeued++
		q.forgetLocked(m)
	}
	var dlq string
	if move != nil {
		dlq = q.policy.DeadLetter
		q.dequeued++
		q.deadLet++
	}
	q.dispatchLocked()
	q.mu.Unlock()
	if move != nil {
		q.moveTo(dlq, move)
	}
}

// failedLocked counts a failed delivery of m and either requeues it (after
// the redelivery delay) or returns it for dead-lettering.
func (q *queue) failedLocked(m *msg) *msg {
	m.attempts++
	p := &q.policy
	if p.MaxDeliveryAttempts > 0 && m.attempts >= p.MaxDeliveryAttempts {
		return m
	}
	q.b.persistAttempts(q, m)
	if d := p.redeliveryDelay(m.attempts); d > 0 {
		m.notBefore = now() + int64(d)
	}
	q.requeueLocked(m)
	return nil
}

// expireLocked handles an expired message: to the expiry address or
// dropped. q.mu is held; the move runs after the lock is released.
func (q *queue) expireLocked(m *msg) {
	q.expired++
	q.dequeued++
	if q.policy.Expiry == "" {
		q.forgetLocked(m)
		return
	}
	q.expiring = append(q.expiring, m)
	if !q.moving {
		q.moving = true
		go q.moveExpired()
	}
}

// moveExpired moves expired messages to the expiry address, one at a time
// and in queue order.
func (q *queue) moveExpired() {
	for {
		q.mu.Lock()
		if len(q.expiring) == 0 {
			q.moving = false
			q.mu.Unlock()
			return
		}
		m := q.expiring[0]
		q.expiring[0] = nil
		q.expiring = q.expiring[1:]
		dest := q.policy.Expiry
		q.mu.Unlock()
		q.moveTo(dest, m)
	}
}

// moveTo transfers m to another queue of the same space (dead-letter or
// expiry), journaling the copy there before forgetting the original, so a
// crash never loses it (it may then exist in both queues: at least once).
// Without a destination queue the message is dropped. No queue lock is
// held by the caller.
func (q *queue) moveTo(dest string, m *msg) {
	target := q.b.lookup(q.space, dest)
	if target == nil || dest == "" {
		q.b.opts.Logger.Warn("message dropped: no such dead-letter/expiry queue", "queue", q.name, "target", dest)
		q.mu.Lock()
		q.forgetLocked(m)
		q.mu.Unlock()
		return
	}
	q.mu.Lock()
	body, err := q.bodyLocked(m)
	q.mu.Unlock()
	if err != nil {
		q.b.opts.Logger.Error("paged message lost on its way to "+dest, "queue", q.name, "err", err)
		return
	}
	payload := withDeliveryCount(body, m.attempts)
	// A paged non-durable message has a key too; its copy stays in memory.
	if m.key != 0 && q.b.opts.Store != nil && isDurable(body) {
		k := q.b.nextKey.Add(1)
		target.mu.Lock()
		nm := target.addLocked(payload, 0, m.attempts, nil)
		nm.key = k
		nm.writing++
		target.mu.Unlock()
		rec := messageRecord(target, nm, payload)
		target.write(nm, rec)
	} else {
		target.mu.Lock()
		target.addLocked(payload, 0, m.attempts, nil)
		target.mu.Unlock()
	}
	q.mu.Lock()
	q.forgetLocked(m)
	q.mu.Unlock()
}

func (q *queue) removeConsumer(c *consumer) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, x := range q.consumers {
		if x == c {
			q.consumers = append(q.consumers[:i:i], q.consumers[i+1:]...)
			break
		}
	}
	back := make([]*msg, 0, len(c.unacked))
	for _, m := range c.unacked {
		back = append(back, m)
	}
	c.unacked = map[*transport.Delivery]*msg{}
	q.requeueLocked(back...)
	q.dispatchLocked()
}

// purge drops every queued message (not those held by consumers) and
// returns how many.
func (q *queue) purge() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.msgs)
	for _, m := range q.msgs {
		q.addBytesLocked(m, -1)
		q.forgetLocked(m)
	}
	q.msgs = nil
	q.unblockLocked()
	q.dequeued += uint64(n)
	return n
}

// withDeliveryCount rewrites a message's header with the delivery-count
// (AMQP 1.0 §3.2.1), leaving the bare message untouched.
func withDeliveryCount(payload []byte, n uint32) []byte {
	if n == 0 {
		return payload
	}
	raw, err := message.Parse(payload)
	if err != nil {
		return payload
	}
	h, _, err := raw.Header()
	if err != nil {
		return payload
	}
	h.DeliveryCount = n
	out, err := raw.AppendRewrite(nil, &h, nil, false)
	if err != nil {
		return payload
	}
	return out
}
