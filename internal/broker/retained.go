package broker

import (
	"cmp"
	"context"
	"encoding/binary"
	"math"
	"slices"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/amqp/types"
)

// Retained messages (MQTT 3.1.1 §3.3.1.3, MQTT 5.0 §3.3.1.3; SPEC §5): a
// message published to a topic with the message annotation
// x-opt-retain = true (the MQTT gateway sets it for the RETAIN flag; AMQP
// senders may set it too) is kept as the retained message of its full
// topic name (`sensors/a/temp`), replacing the previous one
// [MQTT-3.3.1-5]. One with an empty body (no body, empty data sections, or
// a null/empty amqp-value) is delivered as usual but removes the retained
// message of its name and is not stored itself [MQTT-3.3.1-6]
// [MQTT-3.3.1-10] [MQTT-3.3.1-11].
//
// A receiver attaching to the topic (or a name or wildcard filter below
// it) with the source capability `retained` first gets the retained
// messages its filter matches, oldest first, then the live ones: they are
// enqueued on its subscription queue under topic.mu, together with adding
// the subscription, so no publication slips between them
// [MQTT-3.3.1-6] [MQTT-3.3.1-9]. Those copies carry the message annotation
// x-opt-retained = true (live messages never do) and a header ttl of what
// is left of their time to live. A durable subscription gets them only
// when the attach creates it, journaled with it (those of durable
// messages), so a persistent MQTT session keeps them across a crash. With the capability `retained-only`
// instead, a receiver gets just the retained messages, then an end marker
// (no body, annotation x-opt-retained-end = true), and no live message:
// MQTT's re-sending of the retained messages to an existing subscription
// [MQTT-3.8.4-3].
//
// Retained messages are always journaled (record type 0x04, one per topic
// name; a newer one deletes the older record once the newer record is
// durable, never before: a crash at any point leaves the old or the new
// one, as replay keeps the highest key of a name), whatever their header's
// durable flag: an unsettled publication is accepted after that fsync, and
// the acceptance of a publication that clears one waits for the tombstones'
// fsync — also of records still being written when it arrived, whose
// tombstones can only follow their writes (clearWait). A retained message expires like any message (header ttl or
// absolute-expiry-time, counted from its arrival); an expired one is never
// delivered and is removed when next met. Retained bodies count against
// Options.MaxMemory; once journaled, a body is dropped from memory while
// the broker is over that limit and read back from the journal when a
// subscriber needs it, so what stays in memory per retained message is its
// name and about 100 bytes.

// Message annotations and the source capability of retained messages.
const (
	// AnnotationRetain on a published message asks the topic to retain it.
	AnnotationRetain types.Symbol = "x-opt-retain"
	// AnnotationRetained marks a retained message delivered because a
	// subscriber asked for the retained messages.
	AnnotationRetained types.Symbol = "x-opt-retained"
	// CapabilityRetained on a receiver's source asks for the retained
	// messages its address matches before the live ones.
	CapabilityRetained types.Symbol = "retained"
	// CapabilityRetainedOnly asks for the retained messages alone: they
	// are followed by an end marker, and no live message comes.
	CapabilityRetainedOnly types.Symbol = "retained-only"
	// AnnotationRetainedEnd marks the end marker of a retained-only link:
	// a message without body after the last retained message.
	AnnotationRetainedEnd types.Symbol = "x-opt-retained-end"
)

// retained is the retained message of one topic name; topic.mu guards it.
type retained struct {
	name    string
	seq     uint64 // arrival order within the topic
	payload []byte // nil while only in the journal
	size    int64
	expires int64  // Unix nanoseconds; 0 = never
	key     uint64 // journal key; 0 without a journal
	writing bool   // its journal write is in flight
	stored  bool   // the journal write completed
	done    bool   // replaced or cleared: its record is to be deleted
	// replaced: a newer retained message of the name took its place; the
	// newer one deletes this record once the newer record is durable. It
	// is reset when that happens while this record is still being written:
	// its write's completion deletes it then.
	replaced bool
	// older are the replaced retained messages of the name whose records
	// this one's deletes once it is durable itself.
	older []*retained
	// waiters are clearing publications whose acceptance waits for this
	// record's tombstone: the record was still being written when it was
	// cleared.
	waiters []*clearWait
}

// clearWait holds back the acceptance of a publication that clears a
// retained message until every tombstone of the records it clears is
// durable — also of records still being written when it arrived, whose
// tombstones can only follow their writes. Without it, a crash after the
// acceptance could bring the cleared message back. pending counts the
// records still being written plus one for the publication itself; it is
// guarded by the topic's mu.
type clearWait struct {
	pending int
	err     error
	done    func(error)
}

// releaseLocked drops one hold on w; the last one syncs the journal (the
// tombstones queued so far) and then runs w.done. t.mu is held.
func (w *clearWait) releaseLocked(b *Broker, err error) {
	if err != nil && w.err == nil {
		w.err = err
	}
	w.pending--
	if w.pending > 0 {
		return
	}
	if b.opts.Store == nil {
		w.done(w.err)
		return
	}
	werr := w.err
	b.syncThen(func(err error) {
		if werr != nil {
			err = werr
		}
		w.done(err)
	})
}

// recRetained is the journal record of a retained message:
//
//	0x04 | uvarint len | space | uvarint len | topic name |
//	uvarint expiry (Unix ms, 0 = never) | message bytes
//
// Its key comes from the message keys; on replay a later key for the same
// name replaces an earlier one.
const recRetained = 0x04

func retainedRecord(space string, r *retained, payload []byte) []byte {
	b := make([]byte, 0, 16+len(space)+len(r.name)+len(payload))
	b = append(b, recRetained)
	b = appendString(b, space)
	b = appendString(b, r.name)
	b = binary.AppendUvarint(b, uint64(r.expires/int64(time.Millisecond)))
	return append(b, payload...)
}

// retainOf reports whether a message asks to be retained.
func retainOf(raw *message.Raw) bool { return raw.AnnotationTrue(AnnotationRetain) }

// emptyBody reports whether a message has no payload: no body, data
// sections of zero bytes, an empty amqp-sequence, or an amqp-value that is
// null, an empty string or empty binary.
func emptyBody(payload []byte) bool {
	raw, err := message.Parse(payload)
	if err != nil {
		return false
	}
	if raw.BodyKind() == 0 {
		return true
	}
	if len(raw.Body()) > 16 {
		// An empty section encodes in at most 8 bytes (descriptor and an
		// empty vbin32/str32): a longer body counts as content without
		// decoding it (even if it were only empty sections).
		return false
	}
	m, err := raw.Decode()
	if err != nil {
		return false
	}
	switch {
	case len(m.Data) > 0:
		for _, d := range m.Data {
			if len(d) > 0 {
				return false
			}
		}
		return true
	case len(m.Sequence) > 0:
		for _, s := range m.Sequence {
			if len(s) > 0 {
				return false
			}
		}
		return true
	}
	switch v := m.Value.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []byte:
		return len(v) == 0
	}
	return false
}

// expiryAt is when a message arriving at t expires (header ttl, else
// absolute-expiry-time); 0 = never.
func expiryAt(md *meta, t int64) int64 {
	switch {
	case md.ttl > 0:
		return t + int64(md.ttl)
	case md.absExpiry > 0:
		return max(md.absExpiry*int64(time.Millisecond), 1)
	}
	return 0
}

// retainLocked makes payload the retained message of name, or clears it
// when clearing (its body is empty: the caller has asked emptyBody once).
// It returns the journal job of the new record (nil without a journal or
// when clearing) and whether a tombstone was queued for an older record. A clear registers cw (when not nil) with
// every record it deletes whose write is still in flight. t.mu is held.
func (t *topic) retainLocked(b *Broker, name string, payload []byte, clearing bool, md *meta, cw *clearWait) (job *journalJob, deleted bool) {
	old := t.retained[name]
	if clearing {
		if old != nil {
			delete(t.retained, name)
			deleted = t.dropRetainedLocked(b, old, cw)
		}
		return nil, deleted
	}
	var older []*retained
	if old != nil {
		// The new record replaces the old one: the old record (and those
		// it was to delete) is deleted only once the new one is durable,
		// so a tombstone never reaches the journal before it.
		delete(t.retained, name)
		if b.opts.Store != nil {
			old.replaced = true
			older = append(old.older, old)
			old.older = nil
		}
		t.dropRetainedLocked(b, old, nil)
	}
	if t.retained == nil {
		t.retained = map[string]*retained{}
	}
	t.retSeq++
	r := &retained{name: name, seq: t.retSeq, payload: payload, size: int64(len(payload)), expires: expiryAt(md, now())}
	t.retained[name] = r
	t.retainedBytes += r.size
	b.mem.Add(r.size)
	if b.opts.Store == nil {
		return nil, deleted
	}
	r.key = b.nextKey.Add(1)
	r.writing = true
	r.older = older
	return &journalJob{t: t, r: r, rec: retainedRecord(t.space, r, payload)}, deleted
}

// dropRetainedLocked forgets r (already out of t.retained) and, unless a
// newer record replaces it, deletes its record (and those r was to
// delete), now or once its write completes; it reports whether a
// tombstone was queued now. Records whose tombstone must wait for their
// write get cw (when not nil) as a waiter. t.mu is held.
func (t *topic) dropRetainedLocked(b *Broker, r *retained, cw *clearWait) bool {
	r.done = true
	t.retainedBytes -= r.size
	if r.payload != nil {
		b.mem.Add(-r.size)
		r.payload = nil
	}
	if r.replaced {
		return false
	}
	queued := deleteOlder(b, r, cw)
	if r.key != 0 && r.stored && !r.writing {
		b.opts.Store.DeleteAsync(r.key)
		return true
	}
	if r.writing && cw != nil {
		cw.pending++
		r.waiters = append(r.waiters, cw)
	}
	return queued
}

// deleteOlder deletes the records of the retained messages r replaced:
// at once when written, else when their write completes (registering cw
// then, when not nil). t.mu is held.
func deleteOlder(b *Broker, r *retained, cw *clearWait) bool {
	queued := false
	for _, o := range r.older {
		switch {
		case o.writing:
			o.replaced = false // deleted by its write's completion
			if cw != nil {
				cw.pending++
				o.waiters = append(o.waiters, cw)
			}
		case o.key != 0:
			b.opts.Store.DeleteAsync(o.key)
			queued = true
		}
	}
	r.older = nil
	return queued
}

// retainedWritten records the end of r's journal write: a record already
// replaced is deleted, and over the memory limit the body leaves memory.
func (t *topic) retainedWritten(b *Broker, r *retained, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.writing = false
	if ws := r.waiters; len(ws) > 0 {
		// Runs after the tombstone below is queued.
		r.waiters = nil
		defer func() {
			for _, w := range ws {
				w.releaseLocked(b, err)
			}
		}()
	}
	if err != nil {
		// Those r replaces stay in the journal: after a crash the
		// previous retained message is back, as is r's outcome.
		return
	}
	r.stored = true
	// r is durable: the records it replaces may go now.
	deleteOlder(b, r, nil)
	if r.done && !r.replaced {
		b.opts.Store.DeleteAsync(r.key)
		return
	}
	if r.done {
		return // the newer record deletes this one once it is durable
	}
	t.pageRetainedLocked(b, r)
}

// pageRetainedLocked drops a journaled retained body from memory while the
// broker is over its memory limit.
func (t *topic) pageRetainedLocked(b *Broker, r *retained) {
	if r.stored && r.payload != nil && b.opts.MaxMemory > 0 && b.mem.Load() > b.opts.MaxMemory {
		r.payload = nil
		b.mem.Add(-r.size)
	}
}

// retainedBody returns r's body, from the journal when it is paged out.
func (b *Broker) retainedBody(r *retained) ([]byte, error) {
	if r.payload != nil {
		return r.payload, nil
	}
	data, err := b.opts.Store.Get(r.key)
	if err != nil {
		return nil, err
	}
	rec, err := parseRecord(data)
	if err != nil {
		return nil, err
	}
	return rec.payload, nil
}

// seedRetainedLocked enqueues on q the retained messages that filter
// matches, oldest first, as retainedCopy makes them; expired ones are
// removed on the way. On a durable subscription (journal set) the copies
// of durable messages are journaled like published ones, in the
// background: the retained store still holds them meanwhile. t.mu is held.
func (t *topic) seedRetainedLocked(b *Broker, q *queue, filter []string, journal bool) {
	if len(t.retained) == 0 {
		return
	}
	tnow := now()
	var rs []*retained
	for name, r := range t.retained {
		if r.expires != 0 && tnow >= r.expires {
			delete(t.retained, name)
			t.dropRetainedLocked(b, r, nil)
			continue
		}
		if matches(filter, levels(name)) {
			rs = append(rs, r)
		}
	}
	slices.SortFunc(rs, func(a, b *retained) int { return cmp.Compare(a.seq, b.seq) })
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, r := range rs {
		body, err := b.retainedBody(r)
		if err != nil {
			b.opts.Logger.Error("retained message lost", "topic", r.name, "err", err)
			continue
		}
		out, err := retainedCopy(body, r.expires, tnow)
		if err != nil {
			continue
		}
		m := q.addLocked(out, 0, 0, nil)
		m.expires = r.expires
		if journal && b.opts.Store != nil && isDurable(out) {
			m.key = b.nextKey.Add(1)
			m.writing++
			b.journal.submit(nil, journalJob{q: q, m: m, rec: messageRecord(q, m, out)})
		}
	}
}

// retainedCopy is a retained message as delivered on subscribe: with the
// annotation x-opt-retained = true and, when it expires, a header ttl of
// the time it has left (MQTT 5.0 §3.3.2.3.3: the interval minus the time
// it waited).
func retainedCopy(body []byte, expires, tnow int64) ([]byte, error) {
	raw, err := message.Parse(body)
	if err != nil {
		return nil, err
	}
	h, _, err := raw.Header()
	if err != nil {
		return nil, err
	}
	if expires != 0 {
		ms := (expires - tnow + int64(time.Millisecond) - 1) / int64(time.Millisecond)
		h.TTL, h.HasTTL = uint32(min(max(ms, 1), math.MaxUint32)), true
	}
	ma, err := raw.MessageAnnotations()
	if err != nil {
		return nil, err
	}
	out := make(types.Map, 0, len(ma)+1)
	for _, kv := range ma {
		if kv.Key != AnnotationRetained {
			out = append(out, kv)
		}
	}
	out = append(out, types.KV{Key: AnnotationRetained, Value: true})
	return raw.AppendRewrite(nil, &h, out, false)
}

// retainedEnd is the end marker of a retained-only link.
var retainedEnd = func() []byte {
	m := message.Message{MessageAnnotations: types.Map{{Key: AnnotationRetainedEnd, Value: true}}}
	b, err := m.Marshal(nil)
	if err != nil {
		panic(err)
	}
	return b
}()

// attachRetainedOnly binds a receiver to a snapshot of the retained
// messages filter matches, followed by the end marker; it is not a
// subscription, so no live message reaches it.
func (b *Broker) attachRetainedOnly(l *transport.Link, t *topic, filter []string) *binding {
	q := &queue{b: b, space: t.space, name: t.name, typ: "subscription"}
	t.mu.Lock()
	t.seedRetainedLocked(b, q, filter, false)
	t.mu.Unlock()
	c := &consumer{link: l, unacked: map[*transport.Delivery]*msg{}}
	q.mu.Lock()
	q.addLocked(retainedEnd, 0, 0, nil)
	q.consumers = append(q.consumers, c)
	q.mu.Unlock()
	return &binding{q: q, consumer: c}
}

// hasCapability reports whether caps contains c.
func hasCapability(caps []types.Symbol, c types.Symbol) bool {
	return slices.Contains(caps, c)
}

// dropAllRetained forgets every retained message of a deleted topic.
func (t *topic) dropAllRetained(b *Broker) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, r := range t.retained {
		delete(t.retained, name)
		t.dropRetainedLocked(b, r, nil)
	}
}

// syncThen runs done after everything queued in the journal (a tombstone)
// is durable.
func (b *Broker) syncThen(done func(error)) {
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		defer cancel()
		done(b.opts.Store.Sync(ctx))
	}()
}

// TopicStats describe one topic address.
type TopicStats struct {
	Subscriptions int   // durable and non-durable, shared counted once
	Retained      int   // retained messages (expired ones not yet removed included)
	RetainedBytes int64 // their bodies' bytes, in memory or in the journal
}

// TopicStats returns a topic's statistics.
func (b *Broker) TopicStats(space, name string) (TopicStats, bool) {
	b.mu.Lock()
	t := b.topics[key{space, name}]
	b.mu.Unlock()
	if t == nil {
		return TopicStats{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return TopicStats{Subscriptions: len(t.subs), Retained: len(t.retained), RetainedBytes: t.retainedBytes}, true
}
