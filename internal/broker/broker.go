// Package broker gives broker-backed addresses their store-and-forward
// meaning. This first part implements queues in memory: competing
// consumers served round-robin by credit, a message leaves the queue only
// when its consumer settles it accepted, released and modified messages are
// redelivered ahead of newer ones (modified{delivery-failed} counts a
// delivery attempt, carried in the header's delivery-count), and a consumer
// that goes away returns its unsettled messages to the queue in their
// original order. FIFO holds for a single consumer without redeliveries.
//
// The broker plugs into the router as its Endpoint: it receives the client's
// own links and message bytes (no copy, no re-encoding on the way in).
//
// # Durability
//
// With Options.Store, messages whose header says durable are written to the
// journal (package store) and accepted only once the fsync covering them
// returned (SPEC §6); concurrent producers share fsyncs (group commit in the
// store). A message is offered to consumers as soon as it is in memory; its
// acknowledgement deletes the record (a tombstone written with the next
// fsync, so an acknowledged message can come back after a crash: at least
// once). Queue definitions are journaled too, and Open replays the journal
// in enqueue order. Record formats are in durable.go.
//
// # Locking
//
// Broker.mu guards the queue table and the link map; queue.mu guards one
// queue's messages and consumers. Order: Broker.mu → queue.mu → transport
// Conn.mu. Broker.mu is never held while a queue is worked on.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/store"
)

// Options configure a Broker.
type Options struct {
	// ProducerWindow is the credit kept open for each producer. Default 250.
	ProducerWindow uint32
	// Store journals durable messages and queue definitions; nil keeps
	// everything in memory.
	Store  *store.Log
	Logger *slog.Logger
}

// Broker hosts queues. Safe for concurrent use.
type Broker struct {
	opts      Options
	nextKey   atomic.Uint64 // last journal key of a message
	nextQueue atomic.Uint64 // last queue definition number (key queueKeyBase+n)
	mu        sync.Mutex
	queues    map[key]*queue // queues and subscription queues
	topics    map[key]*topic
	links     map[*transport.Link]*binding
}

type key struct{ space, name string }

// binding is what a link is attached to: a queue (as consumer or producer),
// a topic (as producer, with the link's address as subject) or a private
// subscription queue on a topic (as consumer).
type binding struct {
	q        *queue
	consumer *consumer // nil for producers
	topic    *topic
	subject  string // producer on a topic: the subject of its messages
	private  bool   // q is a non-durable subscription owned by this link
}

// New returns an empty broker.
func New(opts Options) *Broker {
	if opts.ProducerWindow == 0 {
		opts.ProducerWindow = 250
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Broker{opts: opts, queues: map[key]*queue{}, topics: map[key]*topic{}, links: map[*transport.Link]*binding{}}
}

// EnsureAddress creates a queue, deadletter queue, topic or subscription
// (idempotent). A subscription address is `{topic}::{name}` and needs its
// topic to exist.
func (b *Broker) EnsureAddress(space, address, addrType string) error {
	switch addrType {
	case "queue", "deadletter":
	case "topic":
		return b.ensureTopic(space, address)
	case "subscription":
		tn, _, ok := splitSubscription(address)
		if !ok {
			return fmt.Errorf("subscription address %q is not of the form {topic}::{subscription}", address)
		}
		t := b.topicFor(space, tn)
		if t == nil || t.name != tn {
			return fmt.Errorf("topic %q of subscription %q does not exist", tn, address)
		}
		return b.ensureSubscription(t, address, levels(tn+"/#"), 1)
	default:
		return fmt.Errorf("the broker does not host addresses of type %s", addrType)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key{space, address}
	if b.queues[k] != nil {
		return nil
	}
	q := &queue{b: b, space: space, name: address, typ: addrType}
	if err := b.persistQueue(q); err != nil {
		return err
	}
	b.queues[k] = q
	return nil
}

func (b *Broker) ensureTopic(space, name string) error {
	if err := validFilter(levels(name)); err != nil || strings.ContainsAny(name, "+#") {
		return fmt.Errorf("topic name %q must not contain wildcards", name)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key{space, name}
	if b.topics[k] != nil {
		return nil
	}
	// The definition is journaled like a queue's, with type "topic".
	if err := b.persistQueue(&queue{b: b, space: space, name: name, typ: "topic"}); err != nil {
		return err
	}
	b.topics[k] = &topic{space: space, name: name}
	return nil
}

// DeleteAddress removes a queue, subscription or topic and detaches its
// links.
func (b *Broker) DeleteAddress(space, address string) error {
	b.mu.Lock()
	if t := b.topics[key{space, address}]; t != nil {
		delete(b.topics, key{space, address})
		b.mu.Unlock()
		t.mu.Lock()
		subs := t.subs
		t.subs = nil
		t.mu.Unlock()
		for _, sub := range subs {
			if sub.durable {
				b.DeleteAddress(space, sub.q.name)
			}
		}
		b.mu.Lock()
		var links []*transport.Link
		for l, bd := range b.links {
			if bd.topic == t {
				links = append(links, l)
				delete(b.links, l)
			}
		}
		b.mu.Unlock()
		e := frames.Errorf(frames.ErrResourceDeleted, "topic %q was deleted", address)
		for _, l := range links {
			go l.Detach(context.Background(), e, true)
		}
		return nil
	}
	q := b.queues[key{space, address}]
	delete(b.queues, key{space, address})
	var links []*transport.Link
	for l, bd := range b.links {
		if bd.q == q {
			links = append(links, l)
			delete(b.links, l)
		}
	}
	b.mu.Unlock()
	if q == nil {
		return fmt.Errorf("queue %q does not exist", address)
	}
	q.mu.Lock()
	for _, m := range q.msgs {
		q.forgetLocked(m)
	}
	for _, c := range q.consumers {
		for _, m := range c.unacked {
			q.forgetLocked(m)
		}
	}
	q.msgs, q.consumers = nil, nil
	q.mu.Unlock()
	b.unpersistQueue(q)
	if tn, _, ok := splitSubscription(address); ok {
		if t := b.topicFor(space, tn); t != nil {
			t.remove(q)
		}
	}
	e := frames.Errorf(frames.ErrResourceDeleted, "queue %q was deleted", address)
	for _, l := range links {
		go l.Detach(context.Background(), e, true)
	}
	return nil
}

// QueueStats describe one queue.
type QueueStats struct {
	Depth     int
	Unacked   int
	Consumers int
	Enqueued  uint64
	Dequeued  uint64
}

// Stats returns a queue's statistics.
func (b *Broker) Stats(space, address string) (QueueStats, bool) {
	b.mu.Lock()
	q := b.queues[key{space, address}]
	b.mu.Unlock()
	if q == nil {
		return QueueStats{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{Depth: len(q.msgs), Consumers: len(q.consumers), Enqueued: q.enqueued, Dequeued: q.dequeued}
	for _, c := range q.consumers {
		st.Unacked += len(c.unacked)
	}
	return st, true
}

func (b *Broker) lookup(space, address string) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queues[key{space, address}]
}

// AttachLink binds a client link to a queue, subscription or topic.
func (b *Broker) AttachLink(l *transport.Link, space, address, addrType string) error {
	var bd *binding
	var err error
	switch addrType {
	case "topic":
		t := b.topicFor(space, address)
		if t == nil {
			return frames.Errorf(frames.ErrNotFound, "topic for %q does not exist", address)
		}
		bd, err = b.attachTopic(l, t, address)
	case "subscription":
		if !l.IsSender() {
			return frames.Errorf(frames.ErrNotAllowed, "cannot send to subscription %q; send to its topic", address)
		}
		q := b.lookup(space, address)
		if q == nil {
			return frames.Errorf(frames.ErrNotFound, "subscription %q does not exist", address)
		}
		bd, err = b.bindConsumer(l, q)
	default:
		q := b.lookup(space, address)
		if q == nil {
			return frames.Errorf(frames.ErrNotFound, "queue %q does not exist", address)
		}
		if l.IsSender() {
			bd, err = b.bindConsumer(l, q)
		} else {
			bd = &binding{q: q}
		}
	}
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.links[l] = bd
	b.mu.Unlock()
	if bd.consumer == nil {
		// Producer: credit is granted as soon as the attach is answered.
		l.Flow(b.opts.ProducerWindow, false)
	}
	return nil
}

// bindConsumer adds l as a consumer of q, respecting a subscription's
// maxConsumers.
func (b *Broker) bindConsumer(l *transport.Link, q *queue) (*binding, error) {
	var limit int
	if tn, _, ok := splitSubscription(q.name); ok {
		if t := b.topicFor(q.space, tn); t != nil {
			if sub := t.subscription(q); sub != nil {
				limit = sub.maxConsumers
			}
		}
	}
	c := &consumer{link: l, unacked: map[*transport.Delivery]*msg{}}
	q.mu.Lock()
	defer q.mu.Unlock()
	if limit > 0 && len(q.consumers) >= limit {
		return nil, frames.Errorf(frames.ErrResourceLocked, "subscription %q allows %d consumer(s) and has them", q.name, limit)
	}
	q.consumers = append(q.consumers, c)
	return &binding{q: q, consumer: c}, nil
}

func (b *Broker) binding(l *transport.Link) *binding {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.links[l]
}

// Flow dispatches to a consumer that gained credit.
func (b *Broker) Flow(l *transport.Link) {
	if bd := b.binding(l); bd != nil && bd.consumer != nil {
		bd.q.dispatch()
	}
}

// Message enqueues a message from a producer link and accepts it.
func (b *Broker) Message(l *transport.Link, d *transport.Delivery) {
	bd := b.binding(l)
	if bd == nil {
		d.Settle(frames.Released{})
		return
	}
	if bd.topic != nil {
		bd.topic.publish(b, bd.subject, d)
	} else {
		bd.q.accept(d)
	}
	if cr, _ := l.Credit(); cr <= b.opts.ProducerWindow/2 {
		l.Flow(b.opts.ProducerWindow, false)
	}
}

// Produce enqueues a message sent through the anonymous relay.
func (b *Broker) Produce(space, address string, d *transport.Delivery) {
	if q := b.lookup(space, address); q != nil && q.typ != "subscription" {
		q.accept(d)
		return
	}
	if t := b.topicFor(space, address); t != nil {
		t.publish(b, address, d)
		return
	}
	d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrNotFound, "address %q does not exist", address)})
}

// Disposition applies a consumer's outcome.
func (b *Broker) Disposition(l *transport.Link, d *transport.Delivery) {
	bd := b.binding(l)
	if bd == nil || bd.consumer == nil {
		return
	}
	st, settled := d.RemoteState()
	if !settled && (st == nil || !frames.IsOutcome(st)) {
		return
	}
	bd.q.outcome(bd.consumer, d, st)
	if !settled {
		d.Settle(nil)
	}
}

// Detach unbinds a link; a consumer's unsettled messages go back to the
// queue ahead of newer ones.
func (b *Broker) Detach(l *transport.Link, err error) {
	b.mu.Lock()
	bd := b.links[l]
	delete(b.links, l)
	b.mu.Unlock()
	if bd == nil || bd.consumer == nil {
		return
	}
	bd.q.removeConsumer(bd.consumer)
	if bd.private {
		// A non-durable subscription ends with its link.
		bd.topic.remove(bd.q)
	}
}

type msg struct {
	seq      uint64
	payload  []byte
	attempts uint32 // failed delivery attempts (header delivery-count)
	key      uint64 // journal key; 0 when the message is not journaled
	stored   bool   // the first journal write completed (guarded by queue.mu)
	writing  int    // journal writes in flight (guarded by queue.mu)
	done     bool   // consumed or dropped; its record is to be deleted
}

type consumer struct {
	link    *transport.Link
	unacked map[*transport.Delivery]*msg
}

type queue struct {
	b         *Broker
	space     string
	name      string
	typ       string
	key       uint64 // journal key of the queue definition
	mu        sync.Mutex
	msgs      []*msg // ordered by seq
	consumers []*consumer
	next      int // round-robin position
	seq       uint64
	enqueued  uint64
	dequeued  uint64
}

func (q *queue) enqueue(payload []byte) *msg {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.enqueueLocked(payload, 0, 0)
}

func (q *queue) enqueueLocked(payload []byte, key uint64, attempts uint32) *msg {
	q.seq++
	q.enqueued++
	m := &msg{seq: q.seq, payload: payload, key: key, attempts: attempts, stored: key != 0}
	q.msgs = append(q.msgs, m)
	q.dispatchLocked()
	return m
}

func (q *queue) dispatch() {
	q.mu.Lock()
	q.dispatchLocked()
	q.mu.Unlock()
}

// dispatchLocked hands messages to consumers with credit, round-robin.
func (q *queue) dispatchLocked() {
	for len(q.msgs) > 0 && len(q.consumers) > 0 {
		c := q.pickLocked()
		if c == nil {
			return
		}
		m := q.msgs[0]
		payload := m.payload
		if m.attempts > 0 {
			payload = withDeliveryCount(payload, m.attempts)
		}
		d, err := c.link.Send(payload, transport.SendOptions{})
		if err != nil {
			return
		}
		q.msgs[0] = nil
		q.msgs = q.msgs[1:]
		if d.Settled() {
			q.dequeued++ // pre-settled consumer: at-most-once
			q.forgetLocked(m)
			continue
		}
		c.unacked[d] = m
	}
}

func (q *queue) pickLocked() *consumer {
	n := len(q.consumers)
	for i := range n {
		c := q.consumers[(q.next+i)%n]
		if cr, _ := c.link.Credit(); cr > 0 {
			q.next = (q.next + i + 1) % n
			return c
		}
	}
	return nil
}

// requeueLocked puts messages back in seq order.
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
	}
}

func (q *queue) outcome(c *consumer, d *transport.Delivery, st frames.DeliveryState) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m := c.unacked[d]
	if m == nil {
		return
	}
	delete(c.unacked, d)
	switch s := st.(type) {
	case frames.Released:
		q.requeueLocked(m)
	case frames.Modified:
		if s.DeliveryFailed {
			m.attempts++
			q.b.persistAttempts(q, m)
		}
		q.requeueLocked(m)
	case frames.Rejected:
		q.dequeued++ // dropped; dead-lettering comes with the redelivery policy
		q.forgetLocked(m)
	default: // accepted (or settled without an outcome)
		q.dequeued++
		q.forgetLocked(m)
	}
	q.dispatchLocked()
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

// withDeliveryCount rewrites a message's header with the delivery-count
// (AMQP 1.0 §3.2.1), leaving the bare message untouched.
func withDeliveryCount(payload []byte, n uint32) []byte {
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

// QueueInfo names a queue.
type QueueInfo struct{ Space, Name, Type string }

// Queues lists the broker's queues (for the router after a restart).
func (b *Broker) Queues() []QueueInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]QueueInfo, 0, len(b.queues))
	for k, q := range b.queues {
		out = append(out, QueueInfo{Space: k.space, Name: k.name, Type: q.typ})
	}
	return out
}
