package broker

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/enmasse-go/enmasse/internal/amqp/message"
	"github.com/enmasse-go/enmasse/internal/store"
)

// crashLog is a store.Store that records its writes in the order the
// journal gets them: a Put or PutBatch is one all-or-nothing unit, a
// tombstone (Delete, DeleteAsync) another. The Log writes requests in the
// order they are submitted, and a kill -9 keeps what was written even
// without fsync, so after(n) is what a crash after n of them leaves.
type crashLog struct {
	store.Store // a Memory: the live state
	mu          sync.Mutex
	ops         []crashOp
}

type crashOp struct {
	recs []store.Record // a put unit; nil for a tombstone
	del  uint64
}

func (c *crashLog) Put(ctx context.Context, key uint64, data []byte) error {
	return c.PutBatch(ctx, []store.Record{{Key: key, Data: data}})
}

func (c *crashLog) PutBatch(ctx context.Context, recs []store.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	op := crashOp{}
	for _, r := range recs {
		op.recs = append(op.recs, store.Record{Key: r.Key, Data: append([]byte(nil), r.Data...)})
	}
	c.ops = append(c.ops, op)
	return c.Store.PutBatch(ctx, recs)
}

func (c *crashLog) Delete(ctx context.Context, key uint64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ops = append(c.ops, crashOp{del: key})
	return c.Store.Delete(ctx, key)
}

func (c *crashLog) DeleteAsync(key uint64) error { return c.Delete(context.Background(), key) }

// after returns the journal a crash after the first n writes leaves.
func (c *crashLog) after(t *testing.T, n int) store.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := store.NewMemory()
	for _, op := range c.ops[:n] {
		var err error
		if op.recs != nil {
			err = m.PutBatch(context.Background(), op.recs)
		} else {
			err = m.Delete(context.Background(), op.del)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// crashTopic is a broker over a crashLog with the topic r.
func crashTopic(t *testing.T) (*crashLog, *Broker, *topic) {
	t.Helper()
	cl := &crashLog{Store: store.NewMemory()}
	b, err := Open(Options{Store: cl})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.EnsureAddress("default", "r", "topic"); err != nil {
		t.Fatal(err)
	}
	return cl, b, b.topicFor("default", "r")
}

// TestRetainedReplaceCrashPoints replaces a journaled retained message
// several times (each replacement acknowledged, as publish does) and
// reopens the broker on the journal a crash after every single write
// leaves: once the first retained message was written, every crash point
// must have the old or the new one, never none; the last is there at the
// end.
func TestRetainedReplaceCrashPoints(t *testing.T) {
	cl, b, tp := crashTopic(t)
	retain := func(body string) {
		t.Helper()
		payload, err := (&message.Message{Data: [][]byte{[]byte(body)}}).Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		md := inspect(payload)
		tp.mu.Lock()
		job, _ := tp.retainLocked(b, "r/x", payload, false, &md, nil)
		tp.mu.Unlock()
		done := make(chan error, 1)
		b.journal.submit(func(err error) { done <- err }, *job)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	cl.mu.Lock()
	first := len(cl.ops) + 1 // the writes up to the first retained record
	cl.mu.Unlock()
	const n = 4
	for i := range n {
		retain(fmt.Sprint("v", i))
	}
	cl.mu.Lock()
	total := len(cl.ops)
	cl.mu.Unlock()
	for cut := first; cut <= total; cut++ {
		b2, err := Open(Options{Store: cl.after(t, cut)})
		if err != nil {
			t.Fatal(err)
		}
		t2 := b2.topicFor("default", "r")
		if t2 == nil {
			t.Fatalf("crash after write %d of %d: no topic", cut, total)
		}
		r := t2.retained["r/x"]
		if r == nil {
			t.Fatalf("crash after write %d of %d: no retained message (writes %+v)", cut, total, cl.ops)
		}
		body, err := b2.retainedBody(r)
		if err != nil {
			t.Fatal(err)
		}
		m, err := message.Unmarshal(body)
		if err != nil {
			t.Fatal(err)
		}
		if cut == total && string(m.Data[0]) != fmt.Sprint("v", n-1) {
			t.Fatalf("after all writes: retained %q, want v%d", m.Data[0], n-1)
		}
	}
}

// TestRetainedClearWaitsForWrite clears a retained message whose record
// is still being written: the clear may be accepted only once that
// record's tombstone is in the journal, which can only follow the write.
// Accepted earlier, a crash after the acceptance brought the cleared
// message back.
func TestRetainedClearWaitsForWrite(t *testing.T) {
	cl, b, tp := crashTopic(t)
	marshal := func(body string) []byte {
		t.Helper()
		m := &message.Message{}
		if body != "" {
			m.Data = [][]byte{[]byte(body)}
		}
		payload, err := m.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		return payload
	}
	// Two retained messages, neither written yet: v1 replaced by v2.
	var jobs []journalJob
	for _, body := range []string{"v1", "v2"} {
		payload := marshal(body)
		md := inspect(payload)
		tp.mu.Lock()
		job, _ := tp.retainLocked(b, "r/x", payload, false, &md, nil)
		tp.mu.Unlock()
		jobs = append(jobs, *job)
	}
	keys := []uint64{jobs[0].r.key, jobs[1].r.key}
	accepted := make(chan []crashOp, 1)
	cw := &clearWait{pending: 1, done: func(err error) {
		if err != nil {
			t.Errorf("clear: %v", err)
		}
		cl.mu.Lock()
		accepted <- append([]crashOp(nil), cl.ops...)
		cl.mu.Unlock()
	}}
	clear := marshal("")
	md := inspect(clear)
	tp.mu.Lock()
	if job, _ := tp.retainLocked(b, "r/x", clear, true, &md, cw); job != nil {
		t.Fatal("a clear wrote a record")
	}
	if cw.pending != 3 {
		t.Errorf("clear waits for %d holds, want 3 (itself and both writes)", cw.pending)
	}
	cw.releaseLocked(b, nil) // the publication's own hold
	tp.mu.Unlock()
	select {
	case <-accepted:
		t.Fatal("clear accepted while the records it clears were still being written")
	default:
	}
	for _, j := range jobs {
		done := make(chan error, 1)
		b.journal.submit(func(err error) { done <- err }, j)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	ops := <-accepted
	deleted := map[uint64]bool{}
	for _, op := range ops {
		if op.recs == nil {
			deleted[op.del] = true
		}
	}
	for _, k := range keys {
		if !deleted[k] {
			t.Errorf("clear accepted before the tombstone of record %d (writes %+v)", k, ops)
		}
	}
	if _, ok := tp.retained["r/x"]; ok {
		t.Error("cleared message still retained")
	}
}
