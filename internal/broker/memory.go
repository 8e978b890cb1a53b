package broker

import (
	"context"
	"errors"
	"fmt"

	"github.com/enmasse-go/enmasse/internal/amqp/transport"
	"github.com/enmasse-go/enmasse/internal/store"
)

// Memory: every queue counts the bytes of its waiting messages (bytes) and
// the part of them held in memory (mem); the broker sums mem over all
// queues. A queue is full when its bytes pass Policy.MaxBytes, or when the
// broker's memory passes Options.MaxMemory. What happens then is the
// queue's FullPolicy (SPEC §6, EnMasse address-full policies):
//
//   - PAGE moves message bodies out of memory into the journal, newest
//     first (they are delivered last), and keeps accepting. A body already
//     journaled (a durable message) is simply dropped from memory; others
//     are written as "paged" records, which a restart discards, since the
//     messages were not durable. Delivery reads a paged body back. Without
//     a journal PAGE falls back to BLOCK.
//   - BLOCK gives producers no more credit until the queue is below the
//     limit again; messages in flight under earlier credit are accepted.
//   - FAIL rejects new messages with amqp:resource-limit-exceeded.
//
// What stays in memory per paged message is its metadata (about 150
// bytes) and the journal's index entry.

// pageBatch is how many bodies one paging pass writes at most.
const pageBatch = 512

func (q *queue) addBytesLocked(m *msg, sign int64) {
	q.bytes += sign * m.size
	if !m.paged {
		q.mem += sign * m.size
		q.b.mem.Add(sign * m.size)
	}
}

func (q *queue) fullPolicy() FullPolicy {
	if q.policy.FullPolicy == "" {
		return Page
	}
	return q.policy.FullPolicy
}

// overLocked reports whether the queue is over its own limit, and whether
// the broker is over its memory limit.
func (q *queue) overLocked() (queue, global bool) {
	queue = q.policy.MaxBytes > 0 && q.bytes > q.policy.MaxBytes
	global = q.b.opts.MaxMemory > 0 && q.b.mem.Load() > q.b.opts.MaxMemory
	return
}

// errFull is the rejection of FAIL.
func (q *queue) errFull() error {
	return fmt.Errorf("address %q is full", q.name)
}

// admit decides for a new message of size n under the queue's policy:
// ok=false means reject it (FAIL).
func (q *queue) admit(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fullPolicy() != Fail {
		return true
	}
	full := q.policy.MaxBytes > 0 && q.bytes+int64(n) > q.policy.MaxBytes ||
		q.b.opts.MaxMemory > 0 && q.b.mem.Load()+int64(n) > q.b.opts.MaxMemory
	return !full
}

// creditOK reports whether producers of the queue may get more credit
// (BLOCK, or PAGE without a journal, withholds it while full); when not,
// l is remembered and unblocked later.
func (q *queue) creditOK(l *transport.Link) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	p := q.fullPolicy()
	if p == Fail || (p == Page && q.b.opts.Store != nil) {
		return true
	}
	if own, global := q.overLocked(); !own && !global {
		return true
	}
	for _, x := range q.blocked {
		if x == l {
			return false
		}
	}
	q.blocked = append(q.blocked, l)
	return false
}

// unblockLocked gives blocked producers credit again once the queue is
// below its limits.
func (q *queue) unblockLocked() {
	if len(q.blocked) == 0 {
		return
	}
	if own, global := q.overLocked(); own || global {
		return
	}
	for _, l := range q.blocked {
		l.Flow(q.b.opts.ProducerWindow, false)
	}
	q.blocked = nil
}

// page moves bodies of the queue's newest in-memory messages to the
// journal while the queue or the broker is over its limit (PAGE). It runs
// on the producer's goroutine, after the message was enqueued, so a
// producer that fills memory waits for the disk: back-pressure.
func (q *queue) page() {
	log := q.b.opts.Store
	if log == nil {
		return
	}
	for {
		q.mu.Lock()
		own, global := q.overLocked()
		if q.fullPolicy() != Page || !own && !global {
			q.mu.Unlock()
			return
		}
		var batch []*msg
		var recs []store.Record
		var freed int64
		for i := len(q.msgs) - 1; i >= 0 && len(batch) < pageBatch; i-- {
			m := q.msgs[i]
			if m.paged || m.paging || m.payload == nil {
				continue
			}
			if m.key != 0 {
				if !m.stored || m.writing > 0 {
					continue // its journal write is still in flight
				}
				// Durable: the body is already in the journal.
				m.paged = true
				q.mem -= m.size
				q.b.mem.Add(-m.size)
				m.payload = nil
				freed += m.size
				continue
			}
			m.paging = true
			m.key = q.b.nextKey.Add(1)
			batch = append(batch, m)
			recs = append(recs, store.Record{Key: m.key, Data: pagedRecord(q, m.payload)})
			freed += m.size
		}
		if freed == 0 {
			q.mu.Unlock()
			return // nothing left to page in this queue
		}
		q.mu.Unlock()
		if len(recs) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), journalTimeout)
		err := log.PutBatch(ctx, recs)
		cancel()
		q.mu.Lock()
		for _, m := range batch {
			m.paging = false
			if err != nil {
				m.key = 0
				continue
			}
			m.stored = true
			if m.done {
				log.DeleteAsync(m.key) // consumed while it was being written
				continue
			}
			if !m.paged && m.payload != nil {
				m.paged = true
				q.mem -= m.size
				q.b.mem.Add(-m.size)
				m.payload = nil
			}
		}
		q.dispatchLocked()
		q.mu.Unlock()
		if err != nil {
			q.b.opts.Logger.Error("paging to the journal failed", "queue", q.name, "err", err)
			return
		}
	}
}

// bodyLocked returns a message's body, reading a paged one back from the
// journal.
func (q *queue) bodyLocked(m *msg) ([]byte, error) {
	if !m.paged {
		return m.payload, nil
	}
	data, err := q.b.opts.Store.Get(m.key)
	if err != nil {
		return nil, err
	}
	rec, err := parseRecord(data)
	if err != nil {
		return nil, err
	}
	return rec.payload, nil
}

var errNoBody = errors.New("broker: record has no message body")
