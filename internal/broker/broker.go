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
// own links and message bytes (no copy, no re-encoding on the way in), and
// from the anonymous relay the message the router parsed already
// (ProduceParsed). A message for an empty queue whose consumers all take
// messages pre-settled (MQTT QoS 0 subscriptions) goes straight to one of
// them without being queued (sendNowLocked), and pre-settled consumers
// are sent to with Link.SendSettled: at most once, nothing to keep.
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
// # Retained messages
//
// A topic keeps the last message published with the annotation
// x-opt-retain = true per full topic name (MQTT retained messages; an
// empty body clears it), always journaled; receivers whose source has the
// capability `retained` get the matching ones first, marked
// x-opt-retained. Details in retained.go.
//
// # Locking
//
// Broker.mu guards the queue table and the link map; topic.mu guards a
// topic's subscriptions and retained messages; queue.mu guards one
// queue's messages and consumers. Order: Broker.mu → topic.mu → queue.mu →
// transport Conn.mu. Broker.mu is never held while a queue is worked on.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/store"
)

// Options configure a Broker.
type Options struct {
	// ProducerWindow is the credit kept open for each producer. Default 250.
	ProducerWindow uint32
	// Store journals durable messages and queue definitions, and receives
	// paged-out bodies; nil keeps everything in memory.
	Store store.Store
	// MaxMemory bounds the message bytes all queues hold in memory
	// together; beyond it queues page, block or fail per their policy.
	// 0: unlimited.
	MaxMemory int64
	Logger    *slog.Logger
}

// Broker hosts queues. Safe for concurrent use.
type Broker struct {
	opts      Options
	nextKey   atomic.Uint64 // last journal key of a message
	mem       atomic.Int64  // message bytes held in memory by all queues
	journal   journaler     // batches the message path's journal writes
	nextQueue atomic.Uint64 // last queue definition number (key queueKeyBase+n)
	mu        sync.Mutex
	// subMu serializes binding consumers to durable subscriptions with
	// deleting subscriptions (DeleteAddress, a consumer's close): a
	// consumer is never bound to a subscription as it is deleted, and
	// a close counts the consumers that are really there. Taken before
	// any other broker lock; attaches and deletions are rare.
	subMu  sync.Mutex
	queues map[key]*queue // queues and subscription queues
	topics map[key]*topic
	links  map[*transport.Link]*binding
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
	shared   string // q is the shared non-durable subscription of this name
}

// New returns an empty broker.
func New(opts Options) *Broker {
	if opts.ProducerWindow == 0 {
		opts.ProducerWindow = 250
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Broker{opts: opts, queues: map[key]*queue{}, topics: map[key]*topic{}, links: map[*transport.Link]*binding{}}
	b.journal.b = b
	return b
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
		return b.ensureSubscription(t, address, levels(tn+"/#"), 1, false, false)
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
	b.subMu.Lock()
	defer b.subMu.Unlock()
	return b.deleteAddress(space, address)
}

// deleteAddress is DeleteAddress with subMu held.
func (b *Broker) deleteAddress(space, address string) error {
	b.mu.Lock()
	if t := b.topics[key{space, address}]; t != nil {
		delete(b.topics, key{space, address})
		b.mu.Unlock()
		t.mu.Lock()
		subs := t.subs
		t.subs = nil
		t.mu.Unlock()
		t.dropAllRetained(b)
		for _, sub := range subs {
			if sub.durable {
				b.deleteAddress(space, sub.q.name)
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
	if q == nil {
		// Checked before the links are looked at: a topic's producers
		// are bound with no queue, and must keep their bindings.
		b.mu.Unlock()
		return fmt.Errorf("queue %q does not exist", address)
	}
	delete(b.queues, key{space, address})
	var links []*transport.Link
	for l, bd := range b.links {
		if bd.q == q {
			links = append(links, l)
			delete(b.links, l)
		}
	}
	b.mu.Unlock()
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

// QueueStats describe one queue or subscription.
type QueueStats struct {
	Depth        int   // messages waiting
	Bytes        int64 // payload bytes waiting
	Unacked      int   // delivered, not yet settled
	Consumers    int
	Producers    int // links sending to the queue directly
	Enqueued     uint64
	Dequeued     uint64 // acknowledged, dropped, expired or dead-lettered
	Expired      uint64
	DeadLettered uint64
	OldestAge    time.Duration // age of the oldest waiting message
}

// Stats returns a queue's statistics.
func (b *Broker) Stats(space, address string) (QueueStats, bool) {
	q := b.lookup(space, address)
	if q == nil {
		return QueueStats{}, false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	st := QueueStats{Depth: len(q.msgs), Bytes: q.bytes, Consumers: len(q.consumers), Producers: q.producers,
		Enqueued: q.enqueued, Dequeued: q.dequeued, Expired: q.expired, DeadLettered: q.deadLet}
	for _, c := range q.consumers {
		st.Unacked += len(c.unacked)
	}
	if len(q.msgs) > 0 {
		st.OldestAge = time.Duration(now() - q.msgs[0].arrived)
	}
	return st, true
}

// SetPolicy sets the delivery policy of a queue or subscription; it applies
// to messages enqueued from then on (TTL) and to every later delivery.
func (b *Broker) SetPolicy(space, address string, p Policy) error {
	q := b.lookup(space, address)
	if q == nil {
		return fmt.Errorf("queue %q does not exist", address)
	}
	q.mu.Lock()
	q.policy = p
	q.mu.Unlock()
	return nil
}

// Purge drops the waiting messages of a queue or subscription.
func (b *Broker) Purge(space, address string) (int, error) {
	q := b.lookup(space, address)
	if q == nil {
		return 0, fmt.Errorf("queue %q does not exist", address)
	}
	return q.purge(), nil
}

func (b *Broker) lookup(space, address string) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.queues[key{space, address}]
}

// AttachLink binds a client link to a queue, subscription or topic.
func (b *Broker) AttachLink(l *transport.Link, space, address, addrType string) error {
	if l.IsSender() && (addrType == "subscription" || durableSource(l)) {
		b.subMu.Lock()
		defer b.subMu.Unlock()
	}
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
			q.mu.Lock()
			q.producers++
			q.mu.Unlock()
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
				t.mu.Lock() // SetMaxConsumers changes it
				limit = sub.maxConsumers
				t.mu.Unlock()
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
	md := inspect(d.Payload())
	if bd.topic != nil {
		bd.topic.publish(b, bd.subject, d, md)
	} else {
		bd.q.accept(d, md)
		if !bd.q.creditOK(l) {
			return // BLOCK: credit comes back when the queue drains
		}
	}
	if cr, _ := l.Credit(); cr <= b.opts.ProducerWindow/2 {
		l.Flow(b.opts.ProducerWindow, false)
	}
}

// Produce enqueues a message sent through the anonymous relay.
func (b *Broker) Produce(space, address string, d *transport.Delivery) {
	b.produce(space, address, d, inspect(d.Payload()))
}

// ProduceParsed is Produce for a message the caller has parsed already:
// raw is message.Parse(d.Payload()) (the router's anonymous relay parses
// every message for its properties.to), so the broker does not parse it
// again.
func (b *Broker) ProduceParsed(space, address string, d *transport.Delivery, raw message.Raw) {
	b.produce(space, address, d, inspectRaw(&raw))
}

// produce is Produce with the message's meta.
func (b *Broker) produce(space, address string, d *transport.Delivery, md meta) {
	if q := b.lookup(space, address); q != nil && q.typ != "subscription" {
		q.accept(d, md)
		return
	}
	if t := b.topicFor(space, address); t != nil {
		t.publish(b, address, d, md)
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
	if bd != nil && bd.consumer == nil && bd.q != nil {
		bd.q.mu.Lock()
		bd.q.producers--
		bd.q.mu.Unlock()
	}
	if bd == nil || bd.consumer == nil {
		return
	}
	bd.q.removeConsumer(bd.consumer)
	if bd.private {
		// A non-durable subscription ends with its link.
		bd.topic.remove(bd.q)
	}
	if bd.shared != "" {
		bd.topic.leaveShared(bd.shared)
	}
	if err == nil && bd.q.typ == "subscription" && l.RemoteClosed() {
		b.closeSubscription(bd.q)
	}
}

// closeSubscription ends a durable subscription created by a receiver's
// attach (JMS, MQTT sessions) whose consumer closed its link rather than
// detaching it (AMQP 1.0 §2.6.6; Qpid JMS's unsubscribe): it is deleted
// with its messages unless other consumers are still attached, as
// Artemis does. Subscriptions that are Address resources stay.
func (b *Broker) closeSubscription(q *queue) {
	b.subMu.Lock()
	defer b.subMu.Unlock()
	q.mu.Lock()
	others := len(q.consumers)
	q.mu.Unlock()
	if others > 0 {
		return
	}
	b.mu.Lock()
	ours := b.queues[key{q.space, q.name}] == q && q.subOnAttach // not deleted, nor an address's
	b.mu.Unlock()
	if ours {
		b.deleteAddress(q.space, q.name)
	}
}

// durableSource reports whether a consumer's link asks for a durable
// source (a JMS durable subscriber, an MQTT session's subscription).
func durableSource(l *transport.Link) bool {
	a := l.RemoteAttach()
	return a != nil && a.Source != nil && a.Source.Durable > 0
}

// QueueInfo names a queue.
type QueueInfo struct {
	Space, Name, Type string
	// OnAttach marks a durable subscription a receiver's attach created
	// (JMS durable subscribers, MQTT sessions): the broker's, not an
	// address.
	OnAttach bool
}

// Queues lists the broker's queues (for the router after a restart).
func (b *Broker) Queues() []QueueInfo {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]QueueInfo, 0, len(b.queues))
	for k, q := range b.queues {
		out = append(out, QueueInfo{Space: k.space, Name: k.name, Type: q.typ, OnAttach: q.subOnAttach})
	}
	return out
}
