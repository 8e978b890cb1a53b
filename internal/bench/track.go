// Package bench is enmasse's load generator: producers and consumers
// against any AMQP 1.0 server, with throughput, latency percentiles from
// timestamps carried in the messages, and loss and duplicate detection from
// per-producer sequence numbers.
//
// Every message body starts with a 20-byte stamp: producer id (uint32),
// sequence number (uint64) and send time (uint64 Unix nanoseconds), all big
// endian, padded to the requested size. Consumers in the same process share
// the clock, so latencies are exact.
package bench

import (
	"encoding/binary"
	"errors"
	"math/bits"
	"slices"
	"sync"
	"time"
)

// stampSize is the size of the header every message body starts with.
const stampSize = 20

// ErrShortBody: a received body too short to carry a stamp.
var ErrShortBody = errors.New("bench: message body shorter than its stamp")

// putStamp writes the stamp at the start of body.
func putStamp(body []byte, producer uint32, seq uint64, at time.Time) {
	binary.BigEndian.PutUint32(body[0:], producer)
	binary.BigEndian.PutUint64(body[4:], seq)
	binary.BigEndian.PutUint64(body[12:], uint64(at.UnixNano()))
}

// readStamp reads the stamp of a received body.
func readStamp(body []byte) (producer uint32, seq uint64, sent time.Time, err error) {
	if len(body) < stampSize {
		return 0, 0, time.Time{}, ErrShortBody
	}
	producer = binary.BigEndian.Uint32(body[0:])
	seq = binary.BigEndian.Uint64(body[4:])
	sent = time.Unix(0, int64(binary.BigEndian.Uint64(body[12:])))
	return producer, seq, sent, nil
}

// Tracker records which sequence numbers of each producer arrived, to count
// losses and duplicates, and the latency of each message. Safe for
// concurrent use.
type Tracker struct {
	mu        sync.Mutex
	seen      map[uint32]*bitset
	received  uint64
	dups      uint64
	latencies []time.Duration
	// address is the index of the address a fan-out consumer's tracker
	// belongs to (Config.Addresses): it expects only that address's
	// producers.
	address int
}

// NewTracker returns an empty tracker.
func NewTracker() *Tracker { return &Tracker{seen: map[uint32]*bitset{}} }

// Observe records one received message and reports whether it was new
// (not a duplicate).
func (t *Tracker) Observe(producer uint32, seq uint64, latency time.Duration) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.seen[producer]
	if b == nil {
		b = &bitset{}
		t.seen[producer] = b
	}
	if !b.set(seq) {
		t.dups++
		return false
	}
	t.received++
	t.latencies = append(t.latencies, latency)
	return true
}

// Lost counts sequence numbers below sent[p] that never arrived, per the
// number of messages each producer reports having sent.
func (t *Tracker) Lost(sent map[uint32]uint64) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lost uint64
	for p, n := range sent {
		got := uint64(0)
		if b := t.seen[p]; b != nil {
			got = b.countBelow(n)
		}
		lost += n - got
	}
	return lost
}

// Counts returns the distinct messages received and the duplicates.
func (t *Tracker) Counts() (received, duplicates uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.received, t.dups
}

// Percentiles returns latency percentiles (each p in [0,100]) and the max.
func (t *Tracker) Percentiles(ps ...float64) (out []time.Duration, max time.Duration) {
	t.mu.Lock()
	l := slices.Clone(t.latencies)
	t.mu.Unlock()
	out = make([]time.Duration, len(ps))
	if len(l) == 0 {
		return out, 0
	}
	slices.Sort(l)
	for i, p := range ps {
		idx := int(p / 100 * float64(len(l)-1))
		out[i] = l[idx]
	}
	return out, l[len(l)-1]
}

// bitset is a growable set of sequence numbers.
type bitset struct{ words []uint64 }

// set adds n and reports whether it was new.
func (b *bitset) set(n uint64) bool {
	w := int(n / 64)
	if w >= len(b.words) {
		b.words = append(b.words, make([]uint64, w+1-len(b.words))...)
	}
	mask := uint64(1) << (n % 64)
	if b.words[w]&mask != 0 {
		return false
	}
	b.words[w] |= mask
	return true
}

// countBelow counts members below n.
func (b *bitset) countBelow(n uint64) uint64 {
	var c uint64
	for i, w := range b.words {
		base := uint64(i) * 64
		if base >= n {
			break
		}
		if base+64 > n {
			w &= (uint64(1) << (n - base)) - 1
		}
		c += uint64(bits.OnesCount64(w))
	}
	return c
}
