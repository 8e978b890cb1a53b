package store

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// written is one acknowledged operation and where its records ended.
type written struct {
	seq   uint32 // segment holding the operation's records
	start int64  // offset of its first record
	end   int64  // offset just past its last record
	apply func(m map[uint64][]byte)
}

// headPos returns the head segment and its committed size. Only
// meaningful between operations.
func headPos(l *Log) (uint32, int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.head.seq, l.head.size
}

// journal runs ops one after another and records where each ended.
type journal struct {
	t   *testing.T
	l   *Log
	ops []written
}

func (j *journal) do(apply func(m map[uint64][]byte), call func() error) {
	j.t.Helper()
	seq0, start := headPos(j.l)
	must(j.t, call())
	seq, end := headPos(j.l)
	if seq != seq0 {
		start = segHeaderSize
	}
	j.ops = append(j.ops, written{seq: seq, start: start, end: end, apply: apply})
}

func (j *journal) put(k uint64, data []byte) {
	j.do(func(m map[uint64][]byte) { m[k] = data }, func() error { return j.l.Put(context.Background(), k, data) })
}

func (j *journal) del(k uint64) {
	j.do(func(m map[uint64][]byte) { delete(m, k) }, func() error { return j.l.Delete(context.Background(), k) })
}

func (j *journal) batch(recs []Record) {
	j.do(func(m map[uint64][]byte) {
		for _, r := range recs {
			m[r.Key] = r.Data
		}
	}, func() error { return j.l.PutBatch(context.Background(), recs) })
}

// state returns the contents expected when every operation that ended
// before (seq, cut) survived and no later one did.
func (j *journal) state(seq uint32, cut int64) map[uint64][]byte {
	m := map[uint64][]byte{}
	for _, o := range j.ops {
		if o.seq < seq || (o.seq == seq && o.end <= cut) {
			o.apply(m)
		}
	}
	return m
}

// writeMixed fills a log with puts, overwrites, deletes and batches across
// a few segments of 1 KiB.
func writeMixed(t *testing.T, dir string) *journal {
	l, err := Open(Options{Dir: dir, SegmentSize: mixedSegSize, NoSync: true})
	must(t, err)
	j := &journal{t: t, l: l}
	for k := range uint64(30) {
		j.put(k, dataFor(k, 0, 10+int(k*7)%140))
		switch {
		case k%7 == 3:
			j.del(k - 2)
		case k%5 == 4:
			j.put(k-1, dataFor(k-1, 1, 33))
		case k%9 == 8:
			j.batch([]Record{{k + 100, dataFor(k+100, 0, 20)}, {k + 101, dataFor(k+101, 0, 1)}, {k, nil}})
		}
	}
	j.batch([]Record{{500, dataFor(500, 0, 40)}, {501, dataFor(501, 0, 40)}, {502, dataFor(502, 0, 40)}})
	must(t, l.Check())
	must(t, l.Close())
	return j
}

// TestStoreTruncationSweep cuts the log at every byte offset it ever had:
// for segment i and offset k, segments after i are removed and segment i
// is truncated to k, which is the state of the disk at the moment the head
// was segment i and held k bytes. Recovery must keep every operation that
// ended before the cut, drop the rest, and report the loss.
func TestStoreTruncationSweep(t *testing.T) {
	base := t.TempDir()
	j := writeMixed(t, base)
	files := segFiles(t, base)
	if len(files) < 3 {
		t.Fatalf("want several segments, got %v", files)
	}
	var total int64
	for i, name := range files {
		if testing.Short() && i < len(files)-1 {
			continue // -short: only the newest segment
		}
		full, err := os.ReadFile(filepath.Join(base, name))
		must(t, err)
		// Segments before i are copied once: recovery does not change
		// sealed, valid segments. Everything else is rewritten per cut.
		dir := t.TempDir()
		for _, older := range files[:i] {
			copyFile(t, filepath.Join(base, older), filepath.Join(dir, older))
		}
		for cut := range int64(len(full)) + 1 {
			ents, err := os.ReadDir(dir)
			must(t, err)
			for _, e := range ents {
				if !slices.Contains(files[:i], e.Name()) {
					must(t, os.Remove(filepath.Join(dir, e.Name())))
				}
			}
			must(t, os.WriteFile(filepath.Join(dir, name), full[:cut], 0o644))
			sweepOne(t, j, dir, uint32(i+1), name, cut)
			total++
		}
	}
	t.Logf("%d segments, %d cuts", len(files), total)
}

func sweepOne(t *testing.T, j *journal, dir string, seq uint32, name string, cut int64) {
	t.Helper()
	opts := Options{Dir: dir, SegmentSize: mixedSegSize, NoSync: true}
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("%s cut at %d: Open: %v", name, cut, err)
	}
	defer l.Close()
	want := j.state(seq, cut)
	if got := contents(t, l); !maps.EqualFunc(got, want, bytesEqual) {
		t.Fatalf("%s cut at %d: contents %v, want %v", name, cut, sortedKeys(got), sortedKeys(want))
	}
	validEnd := int64(segHeaderSize)
	for _, o := range j.ops {
		if o.seq == seq && o.end <= cut {
			validEnd = o.end
		}
	}
	r := l.Recovery()
	switch {
	case cut < segHeaderSize:
		if len(r.Corrupt) != 1 || !r.Corrupt[0].Quarantined || r.Corrupt[0].Segment != name {
			t.Fatalf("%s cut at %d, inside the header: recovery %+v", name, cut, r)
		}
	case cut == validEnd:
		if !r.Clean() {
			t.Fatalf("%s cut at %d, a record boundary: recovery %+v", name, cut, r)
		}
	default:
		if r.TruncatedBytes != cut-validEnd || r.TruncatedSegment != name || len(r.Corrupt) != 0 {
			t.Fatalf("%s cut at %d: recovery %+v, want %d bytes truncated", name, cut, r, cut-validEnd)
		}
	}
	if err := l.Check(); err != nil {
		t.Fatalf("%s cut at %d: Check: %v", name, cut, err)
	}
	// The log must accept writes after the cut and keep them.
	must(t, l.Put(context.Background(), 9999, []byte("after")))
	must(t, l.Close())
	l, err = Open(opts)
	must(t, err)
	defer l.Close()
	if !l.Recovery().Clean() {
		t.Fatalf("%s cut at %d: second recovery not clean: %+v", name, cut, l.Recovery())
	}
	want[9999] = []byte("after")
	if got := contents(t, l); !maps.EqualFunc(got, want, bytesEqual) {
		t.Fatalf("%s cut at %d: after a write and reopen: %v, want %v", name, cut, sortedKeys(got), sortedKeys(want))
	}
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func TestStoreBitFlips(t *testing.T) {
	base := t.TempDir()
	j := writeMixed(t, base)
	files := segFiles(t, base)
	first, last := files[0], files[len(files)-1]
	lastSeq, _ := parseSegName(last, segSuffix)
	// The third operation of the first segment is the victim.
	var victim written
	n := 0
	for _, o := range j.ops {
		if o.seq == 1 {
			if n++; n == 3 {
				victim = o
			}
		}
	}
	var lastOp written
	for _, o := range j.ops {
		if o.seq == uint32(lastSeq) && lastOp.end == 0 {
			lastOp = o
		}
	}
	tests := []struct {
		name    string
		file    string
		off     int64
		outcome string // "quarantine", "damage" or "truncate"
		at      written
	}{
		{"sealed: file magic", first, 0, "quarantine", written{}},
		{"sealed: sequence number in header", first, 16, "quarantine", written{}},
		{"sealed: header CRC", first, 25, "quarantine", written{}},
		{"sealed: record length", first, victim.start + 1, "damage", victim},
		{"sealed: record length high byte", first, victim.start + 3, "damage", victim},
		{"sealed: record type", first, victim.start + 4, "damage", victim},
		{"sealed: record key", first, victim.start + 7, "damage", victim},
		{"sealed: record CRC", first, victim.start + 14, "damage", victim},
		{"sealed: record data", first, victim.start + recHeaderSize + 2, "damage", victim},
		{"sealed: last byte", first, -1, "damage", written{}},
		{"head: record data", last, lastOp.start + recHeaderSize, "truncate", lastOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, base)
			path := filepath.Join(dir, tt.file)
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			must(t, err)
			fi, _ := f.Stat()
			off := tt.off
			if off < 0 {
				off = fi.Size() - 1
				// The damage starts at the last operation of the segment.
				for _, o := range j.ops {
					if o.seq == 1 && o.end == fi.Size() {
						tt.at = o
					}
				}
			}
			b := make([]byte, 1)
			f.ReadAt(b, off)
			b[0] ^= 0x5a
			f.WriteAt(b, off)
			f.Close()

			l := openLog(t, Options{Dir: dir, SegmentSize: mixedSegSize, NoSync: true})
			r := l.Recovery()
			seq, _ := parseSegName(tt.file, segSuffix)
			// Everything except what the damage hides.
			want := map[uint64][]byte{}
			for _, o := range j.ops {
				lost := o.seq == uint32(seq) && (tt.outcome == "quarantine" || o.end > tt.at.start)
				if !lost {
					o.apply(want)
				}
			}
			switch tt.outcome {
			case "quarantine":
				if len(r.Corrupt) != 1 || !r.Corrupt[0].Quarantined || r.Corrupt[0].Segment != tt.file {
					t.Fatalf("recovery %+v, want %s quarantined", r, tt.file)
				}
				if _, err := os.Stat(path + ".corrupt"); err != nil {
					t.Errorf("quarantined file: %v", err)
				}
			case "damage":
				c := r.Corrupt
				if len(c) != 1 || c[0].Quarantined || c[0].Segment != tt.file || c[0].Offset != tt.at.start ||
					c[0].LostBytes != fi.Size()-tt.at.start {
					t.Fatalf("recovery %+v, want %s damaged at %d", r, tt.file, tt.at.start)
				}
			case "truncate":
				if r.TruncatedBytes != fi.Size()-tt.at.start || r.TruncatedSegment != tt.file || len(r.Corrupt) != 0 {
					t.Fatalf("recovery %+v, want %s truncated at %d", r, tt.file, tt.at.start)
				}
			}
			wantContents(t, l, want)
			// Compaction copies what is left out of a damaged segment and
			// quarantines it; the next recovery is clean.
			must(t, l.Compact(context.Background()))
			wantContents(t, l, want)
			l = reopen(t, l)
			if !l.Recovery().Clean() {
				t.Errorf("recovery after compaction: %+v", l.Recovery())
			}
			wantContents(t, l, want)
		})
	}
}

func TestStoreRecoveryLeftovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir})
	must(t, l.Put(ctx, 1, []byte("x")))
	l = reopen(t, l)
	checkAndClose(t, l)
	// A crash while creating segment 2 leaves its .tmp file; foreign
	// files are ignored.
	must(t, os.WriteFile(filepath.Join(dir, "0000000000000002.seg.tmp"), []byte("half"), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644))
	// A .corrupt file from an earlier quarantine keeps its number taken.
	must(t, os.WriteFile(filepath.Join(dir, "0000000000000007.seg.corrupt"), nil, 0o644))
	// An empty segment file (no header): quarantined.
	must(t, os.WriteFile(filepath.Join(dir, "0000000000000005.seg"), nil, 0o644))
	// A number the index cannot hold: quarantined, and no obstacle.
	must(t, os.WriteFile(filepath.Join(dir, "ffffffffffffffff.seg"), segHeader(1<<64-1), 0o644))
	l = openLog(t, Options{Dir: dir})
	r := l.Recovery()
	if len(r.RemovedTemp) != 1 || r.RemovedTemp[0] != "0000000000000002.seg.tmp" {
		t.Errorf("RemovedTemp = %v", r.RemovedTemp)
	}
	if len(r.Corrupt) != 2 || r.Corrupt[0].Segment != "0000000000000005.seg" || !r.Corrupt[0].Quarantined ||
		r.Corrupt[1].Segment != "ffffffffffffffff.seg" || !r.Corrupt[1].Quarantined {
		t.Errorf("Corrupt = %+v", r.Corrupt)
	}
	wantContents(t, l, map[uint64][]byte{1: []byte("x")})
	must(t, l.Put(ctx, 2, []byte("y")))
	if got := segFiles(t, dir); fmt.Sprint(got) != "[0000000000000001.seg 0000000000000008.seg]" {
		t.Errorf("segments %v: the new head must not reuse a quarantined number", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "notes.txt")); err != nil {
		t.Error(err)
	}
}

const mixedSegSize = 1024
