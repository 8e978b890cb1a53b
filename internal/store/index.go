package store

import (
	"slices"
)

// entry locates the newest Put of a live key. 16 bytes, so that key and
// entry fill a 24-byte map slot without padding.
type entry struct {
	seg    uint32 // segment sequence number
	off    uint32 // offset of the record header in the segment
	n      uint32 // data length
	minSeg uint32 // no existing segment older than this holds a Put of the key
}

// tomb is a tombstone that may still guard older Puts of its key, which
// all lie in segments minSeg..maxSeg (maxSeg < seg).
type tomb struct {
	seg, off       uint32
	minSeg, maxSeg uint32
}

func recSize(n uint32) int64 { return recHeaderSize + int64(n) }

// state is the index plus the segment table. Recovery and Check build one
// by replaying segments in order; the Log keeps one up to date under
// Log.mu. The apply methods (put, del, movePut, moveTomb) are the only
// writers of live and tombs.
type state struct {
	live      map[uint64]entry
	tombs     map[uint64]tomb
	segs      map[uint32]*segment
	order     []uint32 // sequence numbers in segs, ascending
	liveBytes int64    // sum of recSize over live
}

func newState() state {
	return state{
		live:  make(map[uint64]entry),
		tombs: make(map[uint64]tomb),
		segs:  make(map[uint32]*segment),
	}
}

// addSeg appends s, which must be newer than every segment in st.
func (st *state) addSeg(s *segment) {
	st.segs[s.seq] = s
	st.order = append(st.order, s.seq)
}

// removeSeg drops s from the table. It must hold no live Put. Tombstones
// left in it are dead (compaction copied the live ones); expireTombs
// forgets them.
func (st *state) removeSeg(s *segment) {
	delete(st.segs, s.seq)
	if i, ok := slices.BinarySearch(st.order, s.seq); ok {
		st.order = slices.Delete(st.order, i, i+1)
	}
}

// ceil returns the oldest existing segment at or after seq, or MaxUint32.
func (st *state) ceil(seq uint32) uint32 {
	i, _ := slices.BinarySearch(st.order, seq)
	if i == len(st.order) {
		return ^uint32(0)
	}
	return st.order[i]
}

// needed reports whether some existing segment that is not in skip lies
// in t's range, i.e. could still hold a Put that t must hide.
func (st *state) needed(t tomb, skip map[uint32]bool) bool {
	i, _ := slices.BinarySearch(st.order, t.minSeg)
	for ; i < len(st.order) && st.order[i] <= t.maxSeg; i++ {
		if !skip[st.order[i]] {
			return true
		}
	}
	return false
}

func (st *state) addLive(seg uint32, bytes int64, puts int) {
	if s := st.segs[seg]; s != nil {
		s.live += bytes
		s.livePuts += puts
	}
}

// put applies a Put of key at (seg, off) with n data bytes.
func (st *state) put(key uint64, seg, off, n uint32) {
	minSeg := seg
	if old, ok := st.live[key]; ok {
		st.addLive(old.seg, -recSize(old.n), -1)
		st.liveBytes -= recSize(old.n)
		minSeg = min(st.ceil(old.minSeg), seg)
	} else if t, ok := st.tombs[key]; ok {
		st.addLive(t.seg, -recHeaderSize, 0)
		delete(st.tombs, key)
		if m := st.ceil(t.minSeg); m <= t.maxSeg {
			minSeg = m
		}
	}
	st.live[key] = entry{seg: seg, off: off, n: n, minSeg: minSeg}
	st.addLive(seg, recSize(n), 1)
	st.liveBytes += recSize(n)
}

// del applies a tombstone for key at (seg, off). A tombstone that hides
// nothing is not kept.
func (st *state) del(key uint64, seg, off uint32) {
	var t tomb
	if old, ok := st.live[key]; ok {
		st.addLive(old.seg, -recSize(old.n), -1)
		st.liveBytes -= recSize(old.n)
		delete(st.live, key)
		t = tomb{minSeg: old.minSeg, maxSeg: old.seg}
	} else if old, ok := st.tombs[key]; ok {
		st.addLive(old.seg, -recHeaderSize, 0)
		delete(st.tombs, key)
		t = old
	} else {
		return
	}
	t.seg, t.off = seg, off
	if t.minSeg == seg && t.maxSeg == seg {
		// Every Put of the key is in the tombstone's own segment, before
		// it: replaying the segment deletes the key, and compacting it
		// drops both. Nothing to keep (a record put and deleted soon
		// after, the usual case, costs the index no entry).
		return
	}
	if st.needed(t, nil) {
		st.tombs[key] = t
		st.addLive(seg, recHeaderSize, 0)
	}
}

// movePut moves the live Put of key to a copy at (seg, off).
func (st *state) movePut(key uint64, seg, off uint32) {
	e := st.live[key]
	st.addLive(e.seg, -recSize(e.n), -1)
	e.seg, e.off = seg, off
	st.live[key] = e
	st.addLive(seg, recSize(e.n), 1)
}

// moveTomb moves the tombstone of key to a copy at (seg, off).
func (st *state) moveTomb(key uint64, seg, off uint32) {
	t := st.tombs[key]
	st.addLive(t.seg, -recHeaderSize, 0)
	t.seg, t.off = seg, off
	st.tombs[key] = t
	st.addLive(seg, recHeaderSize, 0)
}

// expireTombs forgets tombstones that no longer hide anything because
// the segments in their range are gone, and those whose own segment is
// gone. The records of the former stay on disk until their segment is
// compacted; recovery will not keep them either.
func (st *state) expireTombs() {
	for k, t := range st.tombs {
		if st.segs[t.seg] == nil || !st.needed(t, nil) {
			st.addLive(t.seg, -recHeaderSize, 0)
			delete(st.tombs, k)
		}
	}
}

// applyScanned applies one unit (record or batch) found by scanSegment.
func (st *state) applyScanned(seg uint32, recs []scanned) {
	for _, r := range recs {
		if r.typ == typePut {
			st.put(r.key, seg, uint32(r.off), r.n)
		} else {
			st.del(r.key, seg, uint32(r.off))
		}
	}
}
