package broker

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/enmasse-go/enmasse/internal/amqp/frames"
	"github.com/enmasse-go/enmasse/internal/amqp/transport"
)

// Journal records (values of store records):
//
//	message  key 1 … queueKeyBase-1, allocated in enqueue order
//	         0x01 | uvarint len | space | uvarint len | queue | uvarint attempts |
//	         uvarint expiry (Unix ms, 0 = never) | message bytes
//	queue    key queueKeyBase+n
//	         0x02 | uvarint len | space | uvarint len | queue | uvarint len | type
//	         [| uvarint len | filter | uvarint max consumers]   (subscriptions;
//	         without them, older records: {topic}/# and 1)
//	paged    like message, type 0x03: the body of a non-durable message
//	         paged out of memory; discarded on replay
//	retained key 1 … queueKeyBase-1, type 0x04 (retained.go): the retained
//	         message of one topic name
//
// Replay runs in key order, so messages come back in enqueue order (queue
// definitions sort after all messages; a message names its queue, which is
// created on the fly when replay meets it first).
const (
	recMessage   = 0x01
	recQueue     = 0x02
	recPaged     = 0x03
	queueKeyBase = uint64(1) << 62
)

// journalTimeout bounds one journal write.
const journalTimeout = 30 * time.Second

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func readString(b []byte) (string, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return "", nil, errors.New("broker journal: bad string length")
	}
	return string(b[k : k+int(n)]), b[k+int(n):], nil
}

// messageRecord is the journal record of m on q with the given body.
func messageRecord(q *queue, m *msg, payload []byte) []byte {
	return bodyRecord(recMessage, q, m.attempts, m.expires, payload)
}

func pagedRecord(q *queue, payload []byte) []byte {
	return bodyRecord(recPaged, q, 0, 0, payload)
}

func bodyRecord(typ byte, q *queue, attempts uint32, expires int64, payload []byte) []byte {
	b := make([]byte, 0, 24+len(q.space)+len(q.name)+len(payload))
	b = append(b, typ)
	b = appendString(b, q.space)
	b = appendString(b, q.name)
	b = binary.AppendUvarint(b, uint64(attempts))
	b = binary.AppendUvarint(b, uint64(expires/int64(time.Millisecond)))
	return append(b, payload...)
}

// record is a decoded journal record.
type record struct {
	typ         byte
	space, name string
	attempts    uint32
	expires     int64  // Unix nanoseconds, 0 = never
	payload     []byte // aliases the record data
	addrType    string
	filter      string // subscription definitions; "" = not recorded
	maxCons     int
	onAttach    bool // a subscription a receiver's attach created
}

func parseRecord(data []byte) (record, error) {
	if len(data) == 0 {
		return record{}, errors.New("broker journal: empty record")
	}
	r := record{typ: data[0]}
	var err error
	var rest []byte
	if r.space, rest, err = readString(data[1:]); err != nil {
		return r, err
	}
	if r.name, rest, err = readString(rest); err != nil {
		return r, err
	}
	switch r.typ {
	case recQueue:
		if r.addrType, rest, err = readString(rest); err != nil || len(rest) == 0 {
			return r, err
		}
		if r.filter, rest, err = readString(rest); err != nil {
			return r, err
		}
		n, k := binary.Uvarint(rest)
		if k <= 0 {
			return r, errors.New("broker journal: bad consumer limit")
		}
		r.maxCons = int(n)
		// Journals before the flag end here.
		if rest = rest[k:]; len(rest) > 0 {
			r.onAttach = rest[0]&queueOnAttach != 0
		}
		return r, nil
	case recRetained:
		expires, k := binary.Uvarint(rest)
		if k <= 0 {
			return r, errors.New("broker journal: bad expiry")
		}
		r.expires, r.payload = msToNanos(expires), rest[k:]
		return r, nil
	case recMessage, recPaged:
		attempts, k := binary.Uvarint(rest)
		if k <= 0 {
			return r, errors.New("broker journal: bad delivery count")
		}
		rest = rest[k:]
		expires, k := binary.Uvarint(rest)
		if k <= 0 {
			return r, errors.New("broker journal: bad expiry")
		}
		r.attempts, r.expires, r.payload = uint32(attempts), msToNanos(expires), rest[k:]
		return r, nil
	}
	return r, fmt.Errorf("broker journal: unknown record type %#x", r.typ)
}

// msToNanos converts a journaled expiry (Unix ms) to Unix nanoseconds,
// saturating instead of overflowing on a corrupt value.
func msToNanos(ms uint64) int64 {
	if ms > math.MaxInt64/uint64(time.Millisecond) {
		return math.MaxInt64 / int64(time.Millisecond) * int64(time.Millisecond)
	}
	return int64(ms) * int64(time.Millisecond)
}

// Open returns a broker, replaying its journal when Options.Store is set.
func Open(opts Options) (*Broker, error) {
	b := New(opts)
	if opts.Store == nil {
		return b, nil
	}
	var maxMsg, maxQueue uint64
	var discard []uint64
	rets := map[key]*retained{}
	err := opts.Store.Replay(func(key uint64, data []byte) error {
		rec, err := parseRecord(data)
		if err != nil {
			return fmt.Errorf("record %d: %w", key, err)
		}
		switch rec.typ {
		case recQueue:
			if rec.addrType == "topic" {
				b.topics[k(rec.space, rec.name)] = &topic{space: rec.space, name: rec.name}
				b.nextQueue.Store(max(b.nextQueue.Load(), key-queueKeyBase))
				return nil
			}
			q := b.replayQueue(rec.space, rec.name, rec.addrType)
			q.typ = rec.addrType
			q.key = key
			q.subFilter, q.subMaxConsumers, q.subOnAttach = rec.filter, rec.maxCons, rec.onAttach
			maxQueue = max(maxQueue, key-queueKeyBase)
		case recMessage:
			payload := append([]byte(nil), rec.payload...)
			q := b.replayQueue(rec.space, rec.name, "queue")
			q.mu.Lock()
			m := q.addLocked(payload, key, rec.attempts, nil)
			m.expires = rec.expires // the original expiry, not a new TTL
			q.mu.Unlock()
			maxMsg = max(maxMsg, key)
		case recPaged:
			// The body of a non-durable message: gone with the restart.
			discard = append(discard, key)
			maxMsg = max(maxMsg, key)
		case recRetained:
			// Keys ascend: a later record of a name replaces an earlier one.
			kr := k(rec.space, rec.name)
			if old := rets[kr]; old != nil {
				discard = append(discard, old.key)
			}
			rets[kr] = &retained{name: rec.name, key: key, stored: true, expires: rec.expires,
				payload: append([]byte(nil), rec.payload...), size: int64(len(rec.payload))}
			maxMsg = max(maxMsg, key)
		}
		return nil
	})
	for _, key := range discard {
		opts.Store.DeleteAsync(key)
	}
	if err != nil {
		return nil, fmt.Errorf("replaying the broker journal: %w", err)
	}
	b.nextKey.Store(maxMsg)
	b.nextQueue.Store(max(maxQueue, b.nextQueue.Load()))
	b.replayRetained(rets)
	// Durable subscriptions bind to their topics again.
	for kq, q := range b.queues {
		if q.typ != "subscription" {
			continue
		}
		tn, _, ok := splitSubscription(kq.name)
		t := b.topics[k(kq.space, tn)]
		if !ok || t == nil {
			b.opts.Logger.Warn("journal has a subscription without its topic", "subscription", kq.name)
			continue
		}
		filter, maxConsumers := levels(tn+"/#"), 1
		if q.subFilter != "" {
			filter, maxConsumers = levels(q.subFilter), q.subMaxConsumers
		}
		t.add(&subscription{q: q, filter: filter, durable: true, maxConsumers: maxConsumers})
	}
	return b, nil
}

func k(space, name string) key { return key{space, name} }

// replayRetained gives the replayed retained messages to their topics, in
// journal order; those of deleted topics and expired ones are deleted.
func (b *Broker) replayRetained(rets map[key]*retained) {
	all := make([]key, 0, len(rets))
	for kr := range rets {
		all = append(all, kr)
	}
	slices.SortFunc(all, func(x, y key) int { return cmp.Compare(rets[x].key, rets[y].key) })
	tnow := now()
	for _, kr := range all {
		r := rets[kr]
		t := b.topicFor(kr.space, kr.name)
		if t == nil || r.expires != 0 && tnow >= r.expires {
			b.opts.Store.DeleteAsync(r.key)
			continue
		}
		t.mu.Lock()
		if t.retained == nil {
			t.retained = map[string]*retained{}
		}
		t.retSeq++
		r.seq = t.retSeq
		t.retained[r.name] = r
		t.retainedBytes += r.size
		b.mem.Add(r.size)
		t.pageRetainedLocked(b, r)
		t.mu.Unlock()
	}
}

// replayQueue returns the queue, creating it without journaling (it is
// being read from the journal).
func (b *Broker) replayQueue(space, name, typ string) *queue {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := key{space, name}
	q := b.queues[k]
	if q == nil {
		q = &queue{b: b, space: space, name: name, typ: typ}
		b.queues[k] = q
	}
	return q
}

// queueOnAttach flags a subscription definition the broker created for a
// receiver's attach (JMS durable, MQTT session), not for an address. The
// flags byte follows the consumer limit; journals written before it end
// after the limit.
const queueOnAttach = 1

// persistQueue journals a queue definition (synchronously: it is rare).
func (b *Broker) persistQueue(q *queue) error {
	if b.opts.Store == nil {
		return nil
	}
	q.key = queueKeyBase + b.nextQueue.Add(1)
	rec := append([]byte{recQueue}, appendString(appendString(nil, q.space), q.name)...)
	rec = appendString(rec, q.typ)
	if q.subFilter != "" {
		rec = appendString(rec, q.subFilter)
		rec = binary.AppendUvarint(rec, uint64(q.subMaxConsumers))
		var flags byte
		if q.subOnAttach {
			flags |= queueOnAttach
		}
		rec = append(rec, flags)
	}
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	defer cancel()
	if err := b.opts.Store.Put(ctx, q.key, rec); err != nil {
		return fmt.Errorf("journaling queue %q: %w", q.name, err)
	}
	return nil
}

// rejournalLocked journals q's definition again after change has edited
// it (b.mu held): a later queue record replaces an earlier one of the same
// name, which is then deleted. On failure undo restores q.
func (b *Broker) rejournalLocked(q *queue, change, undo func()) error {
	old := q.key
	change()
	if err := b.persistQueue(q); err != nil {
		q.key = old
		undo()
		return err
	}
	if old != 0 && old != q.key {
		b.opts.Store.DeleteAsync(old)
	}
	return nil
}

func (b *Broker) unpersistQueue(q *queue) {
	if b.opts.Store != nil && q.key != 0 {
		b.opts.Store.DeleteAsync(q.key)
	}
}

// accept enqueues a message and settles it: at once when it is not
// journaled, after the fsync that covers it when it is.
func (q *queue) accept(d *transport.Delivery, md meta) {
	b := q.b
	payload := d.Payload()
	if !q.admit(len(payload)) {
		d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrResourceLimitExceeded, "%v", q.errFull())})
		return
	}
	defer q.page()
	if b.opts.Store == nil || !md.durable {
		q.mu.Lock()
		if !q.sendNowLocked(payload, &md) {
			q.addLocked(payload, 0, 0, &md)
		}
		q.mu.Unlock()
		d.Settle(frames.Accepted{})
		return
	}
	k := b.nextKey.Add(1)
	q.mu.Lock()
	m := q.addLocked(payload, 0, 0, &md)
	m.key = k
	m.writing++
	rec := messageRecord(q, m, payload)
	q.mu.Unlock()
	// The journaler writes it with whatever else is pending (one batch, one
	// fsync); the accepted outcome goes out after that fsync, and this
	// connection keeps reading meanwhile.
	b.journal.submit(func(err error) {
		if err != nil {
			b.opts.Logger.Error("journal write failed", "queue", q.name, "err", err)
			d.Settle(frames.Rejected{Error: frames.Errorf(frames.ErrInternal, "the message could not be stored: %v", err)})
			return
		}
		d.Settle(frames.Accepted{})
	}, journalJob{q: q, m: m, rec: rec})
}

// write journals rec for m (m.writing was raised by the caller).
func (q *queue) write(m *msg, rec []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
	err := q.b.opts.Store.Put(ctx, m.key, rec)
	cancel()
	q.written(m, err)
	return err
}

// written records the end of a journal write of m and, once no write of m
// is in flight any more, deletes the record of a message consumed
// meanwhile, so a tombstone never precedes a put of the same key.
func (q *queue) written(m *msg, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	m.writing--
	if err == nil {
		m.stored = true
	}
	if m.done && m.stored && m.writing == 0 {
		q.b.opts.Store.DeleteAsync(m.key)
	}
}

// forgetLocked deletes a consumed message's journal record. q.mu is held.
func (q *queue) forgetLocked(m *msg) {
	if m.key == 0 || m.done {
		return
	}
	m.done = true
	if m.stored && m.writing == 0 {
		q.b.opts.Store.DeleteAsync(m.key)
	}
}

// persistAttempts journals a message's new delivery count in the
// background; losing it in a crash only undercounts an attempt. q.mu is
// held.
func (b *Broker) persistAttempts(q *queue, m *msg) {
	if m.key == 0 || m.done {
		return
	}
	body, err := q.bodyLocked(m)
	// A non-durable message has a key only while its body is paged out (a
	// paged record, discarded on replay); rewriting that as a message
	// record would bring the message back after a restart.
	if err != nil || !isDurable(body) {
		return
	}
	m.writing++
	q.b.journal.submit(nil, journalJob{q: q, m: m, rec: messageRecord(q, m, body)})
}

// isDurable reports whether a message's header asks for durability.
func isDurable(payload []byte) bool { return inspect(payload).durable }
