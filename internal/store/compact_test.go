package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// fill puts keys with 100-byte records; at SegmentSize 1024 a segment
// holds 8 of them.
func fill(t *testing.T, l *Log, want map[uint64][]byte, keys ...uint64) {
	t.Helper()
	for _, k := range keys {
		want[k] = dataFor(k, len(want), 100)
		must(t, l.Put(context.Background(), k, want[k]))
	}
}

func drop(t *testing.T, l *Log, want map[uint64][]byte, keys ...uint64) {
	t.Helper()
	for _, k := range keys {
		delete(want, k)
		must(t, l.Delete(context.Background(), k))
	}
}

func span(from, to uint64) []uint64 {
	var ks []uint64
	for k := from; k < to; k++ {
		ks = append(ks, k)
	}
	return ks
}

func TestStoreCompact(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		// ops leaves the log in a state to compact; it returns the
		// segment files that must survive compaction (nil: don't care).
		ops       func(t *testing.T, l *Log, want map[uint64][]byte) []string
		gone      []string // segment files that compaction must remove
		maxSegs   int      // segments left after compaction
		maxTombs  int      // tombstones left in the index
		minTombs  int
		maxGrowth float64 // Stats().Bytes after / before
	}{
		{
			name: "segments without live records are deleted",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(0, 40)...)
				drop(t, l, want, span(0, 40)...)
				return nil
			},
			maxSegs: 1, maxTombs: 0, maxGrowth: 0.2,
		},
		{
			name: "sparse segments are rewritten",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(0, 80)...)
				for k := range uint64(80) {
					if k%10 != 0 {
						drop(t, l, want, k)
					}
				}
				return nil
			},
			maxSegs: 3, maxTombs: 0, maxGrowth: 0.3,
		},
		{
			name: "dense segments stay",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(0, 40)...)
				return segFiles(t, l.opts.Dir)
			},
			maxSegs: 6, maxTombs: 0, maxGrowth: 1,
		},
		{
			name: "tombstone kept while an older segment holds its put",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(1, 9)...) // segment 1: keys 1-8, stays dense
				fill(t, l, want, span(100, 107)...)
				drop(t, l, want, 1) // in segment 2 with keys 100-106
				fill(t, l, want, span(200, 230)...)
				drop(t, l, want, span(100, 107)...) // segment 2 becomes sparse
				return []string{segName(1)}
			},
			gone:     []string{segName(2)},
			minTombs: 1, maxTombs: 1, maxSegs: 8, maxGrowth: 1,
		},
		{
			name: "tombstone dropped with the segments holding its put",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(1, 9)...)
				drop(t, l, want, span(1, 9)...)
				fill(t, l, want, span(100, 140)...)
				return nil
			},
			maxTombs: 0, maxSegs: 7, maxGrowth: 1,
		},
		{
			name: "tombstone guards a superseded put in an older segment",
			ops: func(t *testing.T, l *Log, want map[uint64][]byte) []string {
				fill(t, l, want, span(1, 9)...)     // segment 1, stays dense: key 1 v0
				fill(t, l, want, 1)                 // segment 2: key 1 v1...
				fill(t, l, want, span(100, 107)...) // ...and 100-106
				drop(t, l, want, 1)                 // segment 3: the tombstone...
				fill(t, l, want, span(300, 308)...) // ...and 300-307
				drop(t, l, want, span(100, 107)...)
				drop(t, l, want, span(300, 308)...) // segments 2 and 3 become sparse
				fill(t, l, want, span(200, 210)...)
				return []string{segName(1)}
			},
			gone:     []string{segName(2), segName(3)},
			minTombs: 1, maxTombs: 1, maxSegs: 5, maxGrowth: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			l := openLog(t, Options{Dir: dir, SegmentSize: 1024})
			want := map[uint64][]byte{}
			keep := tt.ops(t, l, want)
			before := l.Stats()
			must(t, l.Compact(ctx))
			after := l.Stats()
			t.Logf("before %+v\nafter  %+v", before, after)
			wantContents(t, l, want)
			if after.Segments > tt.maxSegs {
				t.Errorf("%d segments after compaction, want <= %d", after.Segments, tt.maxSegs)
			}
			if after.Tombstones > tt.maxTombs || after.Tombstones < tt.minTombs {
				t.Errorf("%d tombstones after compaction, want %d..%d", after.Tombstones, tt.minTombs, tt.maxTombs)
			}
			if g := float64(after.Bytes) / float64(before.Bytes); g > tt.maxGrowth {
				t.Errorf("bytes %d -> %d (x%.2f), want at most x%.2f", before.Bytes, after.Bytes, g, tt.maxGrowth)
			}
			if d := dirBytes(t, dir); d != after.Bytes {
				t.Errorf("segment files hold %d bytes, Stats %d", d, after.Bytes)
			}
			files := segFiles(t, dir)
			for _, name := range keep {
				if !slices.Contains(files, name) {
					t.Errorf("%s was compacted away; files %v", name, files)
				}
			}
			for _, name := range tt.gone {
				if slices.Contains(files, name) {
					t.Errorf("%s was not compacted; files %v", name, files)
				}
			}
			// A second pass finds nothing new to do.
			must(t, l.Compact(ctx))
			l = reopen(t, l)
			wantContents(t, l, want)
			// Deleted keys stay deleted even once compaction has removed
			// everything it can.
			must(t, l.Compact(ctx))
			wantContents(t, reopen(t, l), want)
		})
	}
}

// TestStoreCompactSyncsBeforeRemoving: a DeleteAsync tombstone that makes
// a segment dead must be durable before compaction deletes the segment
// holding the older tombstone, or a crash would bring the key back.
func TestStoreCompactSyncsBeforeRemoving(t *testing.T) {
	ctx := context.Background()
	var l *Log
	checked := 0
	hook := func(name string) error {
		if name == "store/compactBeforeRemove" {
			checked++
			if n := l.unsynced.Load(); n != 0 {
				return fmt.Errorf("%d unsynced bytes while removing a segment", n)
			}
		}
		return nil
	}
	l = openLog(t, Options{Dir: t.TempDir(), SegmentSize: 1024, failpoint: hook, SyncInterval: 1 << 40})
	want := map[uint64][]byte{}
	fill(t, l, want, span(1, 9)...) // segment 1 stays dense
	drop(t, l, want, 1)             // tombstone in segment 2
	fill(t, l, want, span(100, 116)...)
	must(t, l.DeleteAsync(1)) // moves the live tombstone to the head, unsynced
	drop(t, l, want, span(100, 116)...)
	must(t, l.DeleteAsync(2))
	delete(want, 2)
	// Wait until the committer wrote it (it is applied then).
	for contents(t, l)[2] != nil {
		time.Sleep(time.Millisecond)
	}
	must(t, l.Compact(ctx))
	if checked == 0 {
		t.Fatal("no segment was removed")
	}
	wantContents(t, l, want)
}

func TestStoreCompactDiskReclaimed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentSize: 64 << 10, NoSync: true})
	want := map[uint64][]byte{}
	for k := range uint64(400) {
		want[k] = dataFor(k, 0, 4096)
		must(t, l.Put(ctx, k, want[k]))
	}
	for k := range uint64(400) {
		if k%20 != 0 {
			must(t, l.DeleteAsync(k))
			delete(want, k)
		}
	}
	must(t, l.Sync(ctx))
	before := dirBytes(t, dir)
	must(t, l.Compact(ctx))
	after := dirBytes(t, dir)
	t.Logf("segment files: %d bytes before compaction, %d after (%d live records)", before, after, len(want))
	if after > before/10 {
		t.Errorf("compaction left %d of %d bytes for 5%% live data", after, before)
	}
	wantContents(t, reopen(t, l), want)
}

func TestStoreCompactDamagedSegment(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentSize: 1024})
	want := map[uint64][]byte{}
	fill(t, l, want, span(0, 24)...)
	checkAndClose(t, l)
	// Corrupt the last record of segment 1: keys 0-6 survive there.
	path := filepath.Join(dir, segName(1))
	fi, err := os.Stat(path)
	must(t, err)
	must(t, os.Truncate(path, fi.Size()-1))
	must(t, appendBytes(path, []byte{0xff}))
	delete(want, 7)
	l = openLog(t, Options{Dir: dir, SegmentSize: 1024})
	if c := l.Recovery().Corrupt; len(c) != 1 || c[0].Segment != segName(1) || c[0].Quarantined {
		t.Fatalf("recovery: %+v", l.Recovery())
	}
	wantContents(t, l, want)
	must(t, l.Compact(ctx))
	wantContents(t, l, want)
	if _, err := os.Stat(path + ".corrupt"); err != nil {
		t.Errorf("damaged segment not quarantined: %v", err)
	}
	l = reopen(t, l)
	if !l.Recovery().Clean() {
		t.Errorf("recovery after quarantine: %+v", l.Recovery())
	}
	wantContents(t, l, want)
}

func appendBytes(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	return errors.Join(err, f.Close())
}
