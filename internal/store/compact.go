package store

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"slices"
)

// move is a live record of a victim segment that compaction copies.
type move struct {
	typ      byte
	key      uint64
	seg, off uint32
	n        uint32
}

// Compact reclaims disk space. Sealed segments without live records are
// deleted; sparse ones (live bytes under 25% of the file) and damaged ones
// first have their live records, live tombstones included, copied to the
// head. doc.go explains why a crash at any point of it loses no live
// record and resurrects no deleted one. Compact may run concurrently with
// every other method; only one Compact runs at a time. A cancelled ctx
// stops it early, safely.
func (l *Log) Compact(ctx context.Context) error {
	l.compactMu.Lock()
	defer l.compactMu.Unlock()
	if err := l.err(); err != nil {
		return err
	}
	victims, moves := l.pickVictims()
	if len(victims) == 0 {
		return nil
	}
	defer func() {
		for _, v := range victims {
			v.release()
		}
	}()
	if err := l.copyLive(ctx, victims, moves); err != nil {
		return err
	}
	// Barrier: everything the index reflects, copies and DeleteAsync
	// tombstones included, must be durable before a victim goes.
	if err := l.Sync(ctx); err != nil {
		return err
	}
	var reclaimed int64
	for i, v := range victims {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := l.removeVictim(v); err != nil {
			return fmt.Errorf("store: compact: %w", err)
		}
		reclaimed += v.size
		if err := l.inject("store/compactAfterRemove"); err != nil {
			return err
		}
		l.log.Debug("store: compacted segment", "segment", v.name(), "left", len(victims)-i-1)
	}
	l.mu.Lock()
	l.st.expireTombs()
	l.mu.Unlock()
	l.log.Info("store: compacted", "segments", len(victims), "copied", len(moves), "reclaimed_bytes", reclaimed)
	return nil
}

// pickVictims chooses the segments to compact and lists their records
// that must be copied. The victims are acquired; the caller releases them.
func (l *Log) pickVictims() ([]*segment, []move) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.expireTombs()
	var victims []*segment
	skip := map[uint32]bool{}
	for _, seq := range l.st.order {
		s := l.st.segs[seq]
		if s != l.head && (s.damaged || s.live*4 < s.size) {
			s.acquire()
			victims = append(victims, s)
			skip[seq] = true
		}
	}
	if len(victims) == 0 {
		return nil, nil
	}
	var moves []move
	for k, e := range l.st.live {
		if skip[e.seg] {
			moves = append(moves, move{typ: typePut, key: k, seg: e.seg, off: e.off, n: e.n})
		}
	}
	for k, t := range l.st.tombs {
		// A tombstone whose range holds only victims is dropped: they are
		// older than it and are deleted first.
		if skip[t.seg] && l.st.needed(t, skip) {
			moves = append(moves, move{typ: typeDelete, key: k, seg: t.seg, off: t.off})
		}
	}
	slices.SortFunc(moves, func(a, b move) int {
		return cmp.Or(cmp.Compare(a.seg, b.seg), cmp.Compare(a.off, b.off))
	})
	return victims, moves
}

// copyLive appends copies of moves to the head through the committer, in
// requests of a few MiB. The committer drops a copy whose key changed
// since pickVictims.
func (l *Log) copyLive(ctx context.Context, victims []*segment, moves []move) error {
	segs := make(map[uint32]*segment, len(victims))
	for _, v := range victims {
		segs[v.seq] = v
	}
	var rd windowReader
	var r *request
	send := func() error {
		if r == nil {
			return nil
		}
		err := l.do(r)
		r = nil
		return err
	}
	for _, m := range moves {
		if r == nil {
			r = newRequest(ctx, 0, 0)
			r.rewrite, r.sync = true, false
		}
		var data []byte
		if m.typ == typePut {
			s := segs[m.seg]
			rec, err := rd.read(s, int64(m.off), recSize(m.n))
			if err != nil {
				return fmt.Errorf("store: compact: read %s: %w", s.name(), err)
			}
			if err := checkRecord(rec, m.key, m.n); err != nil {
				return fmt.Errorf("%w: compact: key %d in %s at offset %d: %v", ErrCorrupt, m.key, s.name(), m.off, err)
			}
			data = rec[recHeaderSize:]
		}
		r.add(m.typ, m.key, data)
		o := &r.ops[len(r.ops)-1]
		o.fromSeg, o.fromOff = m.seg, m.off
		if len(r.enc) >= maxGatherBytes {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return send()
}

// removeVictim deletes (or, if damaged, quarantines) a compacted segment
// and makes that durable before the next one goes.
func (l *Log) removeVictim(v *segment) error {
	l.mu.RLock()
	puts := v.livePuts
	l.mu.RUnlock()
	if puts != 0 {
		return fmt.Errorf("segment %s still has %d live records", v.name(), puts)
	}
	if err := l.inject("store/compactBeforeRemove"); err != nil {
		return err
	}
	var err error
	if v.damaged {
		err = os.Rename(v.path, v.path+".corrupt")
	} else {
		err = os.Remove(v.path)
	}
	if err != nil {
		return err
	}
	if err := l.syncDir(); err != nil {
		return err
	}
	l.mu.Lock()
	l.st.removeSeg(v)
	l.mu.Unlock()
	v.release()
	return nil
}
