package store

import (
	"cmp"
	"fmt"
	"io"
	"slices"
)

// Replay calls fn for every live record, in ascending key order, with the
// data read back from disk and verified. Key order does not depend on
// where compaction moved records; a broker that allocates keys in
// enqueue order gets its messages back in that order.
//
// Replay works on a snapshot of the index taken when it starts: records
// written meanwhile may be missing, records deleted meanwhile are still
// passed. fn may call other methods of the Log. data is valid only until
// fn returns. An error from fn stops Replay and is returned.
func (l *Log) Replay(fn func(key uint64, data []byte) error) error {
	type item struct {
		key uint64
		e   entry
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	items := make([]item, 0, len(l.st.live))
	for k, e := range l.st.live {
		items = append(items, item{k, e})
	}
	segs := make(map[uint32]*segment, len(l.st.segs))
	for seq, s := range l.st.segs {
		s.acquire()
		segs[seq] = s
	}
	l.mu.RUnlock()
	defer func() {
		for _, s := range segs {
			s.release()
		}
	}()

	slices.SortFunc(items, func(a, b item) int { return cmp.Compare(a.key, b.key) })
	var rd windowReader
	for _, it := range items {
		s := segs[it.e.seg]
		rec, err := rd.read(s, int64(it.e.off), recSize(it.e.n))
		if err != nil {
			return fmt.Errorf("store: replay key %d from %s: %w", it.key, s.name(), err)
		}
		if err := checkRecord(rec, it.key, it.e.n); err != nil {
			return fmt.Errorf("%w: key %d in %s at offset %d: %v", ErrCorrupt, it.key, s.name(), it.e.off, err)
		}
		if err := fn(it.key, rec[recHeaderSize:]); err != nil {
			return err
		}
	}
	return nil
}

const windowSize = 256 << 10

// windowReader reads records through a read-ahead window, so reading
// records in (mostly) ascending offsets costs one pread per window.
type windowReader struct {
	seg  *segment
	base int64
	win  []byte
	big  []byte
}

// read returns n bytes at off in s, valid until the next call.
func (w *windowReader) read(s *segment, off, n int64) ([]byte, error) {
	if s == w.seg && off >= w.base && off+n <= w.base+int64(len(w.win)) {
		return w.win[off-w.base : off-w.base+n], nil
	}
	if n > windowSize {
		if int64(cap(w.big)) < n {
			w.big = make([]byte, n)
		}
		_, err := s.f.ReadAt(w.big[:n], off)
		return w.big[:n], err
	}
	if w.win == nil {
		w.win = make([]byte, windowSize)
	}
	k, err := s.f.ReadAt(w.win[:windowSize], off)
	w.seg, w.base, w.win = s, off, w.win[:k]
	if int64(k) < n {
		w.seg = nil
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return w.win[:n], nil
}
