package store

import (
	"errors"
	"fmt"
)

// Check verifies the invariants listed in doc.go: it re-reads every
// segment, rebuilds the index from disk and compares it with the one in
// memory. It is slow (it reads everything) and meant for tests and
// debugging; it blocks writers while it runs.
func (l *Log) Check() error {
	l.compactMu.Lock()
	defer l.compactMu.Unlock()
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(format, args...))
	}
	disk := newState()
	for _, seq := range l.st.order {
		s := l.st.segs[seq]
		cp := newSegment(seq, s.path, s.f, segHeaderSize)
		disk.addSeg(cp)
		if err := l.checkSegment(s, &disk); err != nil {
			bad("%s: %v", s.name(), err)
		}
	}
	for k, e := range l.st.live {
		d, ok := disk.live[k]
		switch {
		case !ok:
			bad("key %d live in memory (%s) but not on disk", k, segName(e.seg))
		case d.seg != e.seg || d.off != e.off || d.n != e.n:
			bad("key %d at %d:%d/%d in memory, %d:%d/%d on disk", k, e.seg, e.off, e.n, d.seg, d.off, d.n)
		case e.minSeg > d.minSeg:
			bad("key %d: minSeg %d in memory above %d on disk", k, e.minSeg, d.minSeg)
		}
	}
	if len(disk.live) != len(l.st.live) {
		bad("%d live keys on disk, %d in memory", len(disk.live), len(l.st.live))
	}
	for k, d := range disk.tombs {
		t, ok := l.st.tombs[k]
		switch {
		case !ok:
			bad("tombstone of key %d in %s needed but not in memory", k, segName(d.seg))
		case t.seg != d.seg || t.off != d.off:
			bad("tombstone of key %d at %d:%d in memory, %d:%d on disk", k, t.seg, t.off, d.seg, d.off)
		case t.minSeg > d.minSeg || t.maxSeg < d.maxSeg:
			bad("tombstone of key %d: range %d..%d in memory narrower than %d..%d on disk", k, t.minSeg, t.maxSeg, d.minSeg, d.maxSeg)
		}
	}
	if disk.liveBytes != l.st.liveBytes {
		bad("live bytes: %d on disk, %d in memory", disk.liveBytes, l.st.liveBytes)
	}
	// Per-segment accounting must match the index in memory.
	live := map[uint32]int64{}
	puts := map[uint32]int{}
	for _, e := range l.st.live {
		live[e.seg] += recSize(e.n)
		puts[e.seg]++
	}
	for _, t := range l.st.tombs {
		if l.st.segs[t.seg] == nil {
			bad("tombstone in missing segment %d", t.seg)
		}
		live[t.seg] += recHeaderSize
	}
	for seq, s := range l.st.segs {
		if s.live != live[seq] || s.livePuts != puts[seq] {
			bad("%s: accounted %d live bytes in %d puts, index says %d in %d", s.name(), s.live, s.livePuts, live[seq], puts[seq])
		}
	}
	return errors.Join(errs...)
}

// checkSegment verifies one segment's header and records up to its size
// and applies them to disk.
func (l *Log) checkSegment(s *segment, disk *state) error {
	hdr := make([]byte, segHeaderSize)
	if _, err := s.f.ReadAt(hdr, 0); err != nil {
		return err
	}
	if err := checkSegHeader(hdr, uint64(s.seq)); err != nil {
		return err
	}
	fi, err := s.f.Stat()
	if err != nil {
		return err
	}
	switch {
	case s == l.head && fi.Size() < s.size:
		return fmt.Errorf("head file is %d bytes, committed size %d", fi.Size(), s.size)
	case s != l.head && !s.damaged && fi.Size() != s.size:
		return fmt.Errorf("sealed file is %d bytes, size %d", fi.Size(), s.size)
	}
	end, err := scanSegment(s.f, s.size, func(recs []scanned) { disk.applyScanned(s.seq, recs) })
	if err != nil {
		return err
	}
	if end != s.size {
		return fmt.Errorf("valid records end at %d, size %d", end, s.size)
	}
	return nil
}
