package store

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// Group-commit limits: the committer stops gathering a batch at this many
// requests or bytes.
const (
	maxBatchRequests = 1024
	maxGatherBytes   = 4 << 20
	// keepBufBytes: a write buffer grown past this by a huge batch is
	// dropped afterwards rather than kept for reuse.
	keepBufBytes = 16 << 20
)

// request is one unit of work for the committer: the records of a Put,
// PutBatch, Delete, DeleteAsync, Sync or of a compaction copy, already
// framed by the caller's goroutine (so CRCs are computed in parallel).
type request struct {
	ctx     context.Context // never nil
	ops     []op
	enc     []byte // the framed records of ops, back to back
	sync    bool   // the caller waits for durability
	rewrite bool   // compaction copies: validated, applied as moves
	done    chan error
	err     error // set when the committer skips the request
}

// op describes one record of a request.
type op struct {
	typ  byte // as written, flag included
	key  uint64
	n    uint32
	skip bool // rewrite whose source changed meanwhile: not written
	// Rewrites only: the position the copied record must still have.
	fromSeg, fromOff uint32
}

// update is an index change to apply once the batch is durable.
type update struct {
	typ         byte // typePut or typeDelete
	move        bool
	key         uint64
	seg, off, n uint32
}

func newRequest(ctx context.Context, nops int, size int64) *request {
	if ctx == nil {
		ctx = context.Background()
	}
	return &request{
		ctx:  ctx,
		ops:  make([]op, 0, nops),
		enc:  make([]byte, 0, size),
		sync: true,
		done: make(chan error, 1),
	}
}

func (r *request) add(typ byte, key uint64, data []byte) {
	r.enc = appendRecord(r.enc, typ, key, data)
	r.ops = append(r.ops, op{typ: typ, key: key, n: uint32(len(data))})
}

func (r *request) finish(err error) {
	if r.done != nil {
		r.done <- err
	}
}

// run is the committer goroutine: it gathers queued requests into batches
// and commits them until Close, then commits what is left and fsyncs.
func (l *Log) run() {
	defer close(l.stopped)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	armed := false
	var batch []*request
	for {
		select {
		case r := <-l.reqs:
			batch = l.gather(append(batch[:0], r))
		case <-timer.C:
			armed = false
			l.flushDirty()
			continue
		case <-l.closing:
			l.drain()
			timer.Stop()
			return
		}
		l.commit(batch)
		clear(batch)
		if l.dirty && !armed {
			timer.Reset(l.opts.SyncInterval)
			armed = true
		}
	}
}

// gather adds whatever else is queued to batch, up to the limits.
func (l *Log) gather(batch []*request) []*request {
	bytes := len(batch[0].enc)
	for len(batch) < maxBatchRequests && bytes < maxGatherBytes {
		select {
		case r := <-l.reqs:
			batch = append(batch, r)
			bytes += len(r.enc)
		default:
			return batch
		}
	}
	return batch
}

// drain commits the requests still queued at Close and makes everything
// durable.
func (l *Log) drain() {
	for more := true; more; {
		select {
		case r := <-l.reqs:
			l.commit(l.gather([]*request{r}))
		default:
			more = false
		}
	}
	l.flushDirty()
}

// flushDirty fsyncs the head if it has unsynced writes (DeleteAsync).
func (l *Log) flushDirty() {
	if l.failErr() != nil || !l.dirty {
		return
	}
	if err := l.flush(true); err != nil {
		l.setFailed(err)
	}
}

// commit writes batch to the head (rolling segments as needed), fsyncs
// once if any request needs it, applies the index updates and answers
// every request.
func (l *Log) commit(batch []*request) {
	if err := l.failErr(); err != nil {
		for _, r := range batch {
			r.finish(err)
		}
		return
	}
	// Compaction copies go first: they were validated against the index
	// as it is now, and a newer write in the same batch must land after
	// them to supersede them.
	if slices.ContainsFunc(batch, func(r *request) bool { return r.rewrite }) {
		slices.SortStableFunc(batch, func(a, b *request) int {
			switch {
			case a.rewrite == b.rewrite:
				return 0
			case a.rewrite:
				return -1
			}
			return 1
		})
		l.validateRewrites(batch)
	}
	l.buf, l.pend = l.buf[:0], l.pend[:0]
	sync := false
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			continue
		}
		sync = sync || r.sync
		if err := l.place(r); err != nil {
			l.failBatch(err, batch)
			return
		}
	}
	if err := l.flush(sync); err != nil {
		l.failBatch(err, batch)
		return
	}
	l.apply()
	l.commits.Add(1)
	for _, r := range batch {
		r.finish(r.err)
	}
	if cap(l.buf) > keepBufBytes {
		l.buf = nil
	}
}

// validateRewrites marks the compaction copies whose source record is no
// longer the key's newest record.
func (l *Log) validateRewrites(batch []*request) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	for _, r := range batch {
		if !r.rewrite {
			break
		}
		for i := range r.ops {
			o := &r.ops[i]
			if o.typ == typePut {
				e, ok := l.st.live[o.key]
				o.skip = !ok || e.seg != o.fromSeg || e.off != o.fromOff
			} else {
				t, ok := l.st.tombs[o.key]
				o.skip = !ok || t.seg != o.fromSeg || t.off != o.fromOff
			}
		}
	}
}

// place appends r's records to the write buffer, first rolling to a new
// segment if they would take the head past SegmentSize.
func (l *Log) place(r *request) error {
	var need int64
	for _, o := range r.ops {
		if !o.skip {
			need += recSize(o.n)
		}
	}
	if need == 0 {
		return nil
	}
	used := l.headOff + int64(len(l.buf))
	if used > segHeaderSize && used+need > l.opts.SegmentSize {
		if err := l.flush(true); err != nil {
			return err
		}
		// Index what went into the old head (it is durable now) before it
		// stops being the head: compaction must never see a sealed
		// segment whose records are not all in the index yet.
		l.apply()
		if err := l.roll(); err != nil {
			return err
		}
	}
	pos := int64(0)
	for _, o := range r.ops {
		size := recSize(o.n)
		if !o.skip {
			l.pend = append(l.pend, update{
				typ: o.typ &^ flagBatchMore, move: r.rewrite, key: o.key,
				seg: l.head.seq, off: uint32(l.headOff + int64(len(l.buf))), n: o.n,
			})
			l.buf = append(l.buf, r.enc[pos:pos+size]...)
		}
		pos += size
	}
	return nil
}

// flush writes the buffer at the end of the head and, if sync, fsyncs the
// head when it has unsynced bytes.
func (l *Log) flush(sync bool) error {
	if len(l.buf) > 0 {
		if err := l.inject("store/beforeWrite"); err != nil {
			return err
		}
		n, err := l.head.f.WriteAt(l.buf, l.headOff)
		l.headOff += int64(n)
		if err != nil {
			return fmt.Errorf("write %s: %w", l.head.name(), err)
		}
		l.dirty = true
		l.unsynced.Add(int64(n))
		l.buf = l.buf[:0]
	}
	if sync && l.dirty {
		if err := l.inject("store/beforeSegmentSync"); err != nil {
			return err
		}
		if err := l.syncFile(l.head.f); err != nil {
			return fmt.Errorf("fsync %s: %w", l.head.name(), err)
		}
		l.dirty = false
		l.unsynced.Store(0)
	}
	return nil
}

// roll seals the head (already fsync'd by the caller) and makes a new one.
func (l *Log) roll() error {
	seq, err := checkSeq(l.nextSeq)
	if err != nil {
		return err
	}
	s, err := l.createSegment(seq)
	if err != nil {
		return err
	}
	l.nextSeq++
	l.mu.Lock()
	l.head.size = l.headOff
	l.st.addSeg(s)
	l.head = s
	l.mu.Unlock()
	l.headOff = segHeaderSize
	return nil
}

// apply makes the batch's records visible in the index.
func (l *Log) apply() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.pend {
		switch {
		case u.move && u.typ == typePut:
			l.st.movePut(u.key, u.seg, u.off)
		case u.move:
			l.st.moveTomb(u.key, u.seg, u.off)
		case u.typ == typePut:
			l.st.put(u.key, u.seg, u.off, u.n)
		default:
			l.st.del(u.key, u.seg, u.off)
		}
	}
	l.head.size = l.headOff
	l.appended.Add(uint64(len(l.pend)))
	l.pend = l.pend[:0]
}

// failBatch stops the Log after a write error and fails the whole batch.
// What reached the disk is sorted out by recovery at the next Open.
func (l *Log) failBatch(err error, batch []*request) {
	err = l.setFailed(err)
	for _, r := range batch {
		r.finish(err)
	}
}

func (l *Log) setFailed(err error) error {
	err = fmt.Errorf("%w: %w", ErrFailed, err)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failed == nil {
		l.failed = err
		l.log.Error("store: write failed; the log is stopped until reopened", "err", err)
	}
	return l.failed
}

func (l *Log) failErr() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.failed
}
