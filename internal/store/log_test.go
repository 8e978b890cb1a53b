package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	big := dataFor(99, 0, 3000) // larger than the segment size below
	tests := []struct {
		name string
		ops  func(t *testing.T, l *Log)
		want map[uint64][]byte
	}{
		{
			name: "empty log",
			ops:  func(t *testing.T, l *Log) {},
			want: map[uint64][]byte{},
		},
		{
			name: "put",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 1, []byte("one")))
				must(t, l.Put(ctx, 2, []byte("two")))
			},
			want: map[uint64][]byte{1: []byte("one"), 2: []byte("two")},
		},
		{
			name: "empty data and extreme keys",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 0, nil))
				must(t, l.Put(ctx, ^uint64(0), []byte{0}))
			},
			want: map[uint64][]byte{0: {}, ^uint64(0): {0}},
		},
		{
			name: "supersede",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 7, []byte("v1")))
				must(t, l.Put(ctx, 7, []byte("version two")))
			},
			want: map[uint64][]byte{7: []byte("version two")},
		},
		{
			name: "delete",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 1, []byte("a")))
				must(t, l.Put(ctx, 2, []byte("b")))
				must(t, l.Delete(ctx, 1))
			},
			want: map[uint64][]byte{2: []byte("b")},
		},
		{
			name: "delete missing key and delete twice",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Delete(ctx, 5))
				must(t, l.Put(ctx, 6, []byte("x")))
				must(t, l.Delete(ctx, 6))
				must(t, l.Delete(ctx, 6))
			},
			want: map[uint64][]byte{},
		},
		{
			name: "put after delete",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 3, []byte("old")))
				must(t, l.Delete(ctx, 3))
				must(t, l.Put(ctx, 3, []byte("new")))
			},
			want: map[uint64][]byte{3: []byte("new")},
		},
		{
			name: "delete async then close",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 1, []byte("a")))
				must(t, l.Put(ctx, 2, []byte("b")))
				must(t, l.DeleteAsync(1))
				must(t, l.Sync(ctx))
			},
			want: map[uint64][]byte{2: []byte("b")},
		},
		{
			name: "put batch with a superseded key",
			ops: func(t *testing.T, l *Log) {
				must(t, l.PutBatch(ctx, []Record{{1, []byte("a")}, {2, []byte("b")}, {1, []byte("c")}}))
				must(t, l.PutBatch(ctx, nil))
			},
			want: map[uint64][]byte{1: []byte("c"), 2: []byte("b")},
		},
		{
			name: "record larger than a segment",
			ops: func(t *testing.T, l *Log) {
				must(t, l.Put(ctx, 1, []byte("small")))
				must(t, l.Put(ctx, 99, big))
				must(t, l.Put(ctx, 2, []byte("after")))
			},
			want: map[uint64][]byte{1: []byte("small"), 99: big, 2: []byte("after")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 1024})
			tt.ops(t, l)
			wantContents(t, l, tt.want)
			l = reopen(t, l)
			if r := l.Recovery(); !r.Clean() {
				t.Errorf("recovery after a clean close: %+v", r)
			}
			wantContents(t, l, tt.want)
			if _, err := l.Get(12345); !errors.Is(err, ErrNotFound) {
				t.Errorf("Get(absent) = %v, want ErrNotFound", err)
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStoreSegmentRolling(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	const segSize = 1024
	l := openLog(t, Options{Dir: dir, SegmentSize: segSize})
	want := map[uint64][]byte{}
	for k := range uint64(100) {
		want[k] = dataFor(k, 0, 100)
		must(t, l.Put(ctx, k, want[k]))
	}
	st := l.Stats()
	// 100 records of 117 bytes, at most 8 per 1 KiB segment.
	if st.Segments < 13 {
		t.Errorf("Stats().Segments = %d, want >= 13", st.Segments)
	}
	files := segFiles(t, dir)
	if len(files) != st.Segments {
		t.Errorf("%d segment files, Stats says %d", len(files), st.Segments)
	}
	for _, name := range files {
		fi, err := os.Stat(filepath.Join(dir, name))
		must(t, err)
		if fi.Size() > segSize {
			t.Errorf("%s is %d bytes, over SegmentSize %d", name, fi.Size(), segSize)
		}
	}
	if files[0] != "0000000000000001.seg" {
		t.Errorf("first segment %q", files[0])
	}
	l = reopen(t, l)
	wantContents(t, l, want)
	if got := l.Stats().Segments; got != st.Segments {
		t.Errorf("after reopen: %d segments, want %d", got, st.Segments)
	}
}

func TestStoreStats(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir, SegmentSize: 4096})
	for k := range uint64(10) {
		must(t, l.Put(ctx, k, make([]byte, 100)))
	}
	must(t, l.Put(ctx, 0, make([]byte, 50)))      // supersede
	must(t, l.Delete(ctx, 1))                     // its Put is in the same segment: not tracked
	must(t, l.Delete(ctx, 1000))                  // hides nothing: not tracked
	must(t, l.Put(ctx, 2000, make([]byte, 3500))) // a second segment
	must(t, l.Delete(ctx, 2))                     // hides a Put in the first: tracked
	st := l.Stats()
	want := Stats{
		Segments:    2,
		LiveRecords: 9,
		LiveBytes:   7*(recHeaderSize+100) + recHeaderSize + 50 + recHeaderSize + 3500,
		Tombstones:  1,
		Bytes:       2*segHeaderSize + 12*recHeaderSize + 10*100 + 50 + 3500 + 3*recHeaderSize,
	}
	if st.Segments != want.Segments || st.LiveRecords != want.LiveRecords || st.LiveBytes != want.LiveBytes ||
		st.Tombstones != want.Tombstones || st.Bytes != want.Bytes {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
	if st.Bytes != dirBytes(t, dir) {
		t.Errorf("Stats().Bytes = %d, files hold %d", st.Bytes, dirBytes(t, dir))
	}
	if st.Syncs == 0 || st.Commits == 0 || st.Appended != 15 {
		t.Errorf("counters: %+v", st)
	}
}

func TestStoreReplay(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 512})
	// Written out of key order, across segments, with an overwrite.
	for _, k := range []uint64{50, 3, 40, 10, 3, 7} {
		must(t, l.Put(ctx, k, dataFor(k, 0, 60)))
	}
	t.Run("key order", func(t *testing.T) {
		var keys []uint64
		must(t, l.Replay(func(k uint64, _ []byte) error { keys = append(keys, k); return nil }))
		if want := []uint64{3, 7, 10, 40, 50}; !equalKeys(keys, want) {
			t.Errorf("Replay order %v, want %v", keys, want)
		}
	})
	t.Run("callback error stops", func(t *testing.T) {
		stop := errors.New("stop")
		n := 0
		err := l.Replay(func(uint64, []byte) error { n++; return stop })
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("Replay = %v after %d calls, want stop after 1", err, n)
		}
	})
	t.Run("callback may write", func(t *testing.T) {
		must(t, l.Replay(func(k uint64, data []byte) error {
			return l.Put(ctx, k+1000, data)
		}))
		if n := l.Stats().LiveRecords; n != 10 {
			t.Errorf("%d live records, want 10", n)
		}
	})
}

func equalKeys(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("options", func(t *testing.T) {
		for _, o := range []Options{{}, {Dir: t.TempDir(), SegmentSize: 10}, {Dir: t.TempDir(), SegmentSize: 2 << 30}} {
			if l, err := Open(o); err == nil {
				l.Close()
				t.Errorf("Open(%+v) succeeded", o)
			}
		}
	})
	t.Run("too large", func(t *testing.T) {
		l := openLog(t, Options{Dir: t.TempDir(), NoSync: true})
		big := make([]byte, MaxDataSize+1)
		if err := l.Put(ctx, 1, big); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Put = %v", err)
		}
		if err := l.PutBatch(ctx, []Record{{1, nil}, {2, big}}); !errors.Is(err, ErrTooLarge) {
			t.Errorf("PutBatch = %v", err)
		}
	})
	t.Run("locked", func(t *testing.T) {
		dir := t.TempDir()
		openLog(t, Options{Dir: dir})
		if l, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
			if err == nil {
				l.Close()
			}
			t.Errorf("second Open = %v, want ErrLocked", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		l, err := Open(Options{Dir: t.TempDir()})
		must(t, err)
		must(t, l.Put(ctx, 1, []byte("x")))
		must(t, l.Close())
		must(t, l.Close())
		for name, err := range map[string]error{
			"Put":         l.Put(ctx, 1, nil),
			"PutBatch":    l.PutBatch(ctx, []Record{{1, nil}}),
			"Delete":      l.Delete(ctx, 1),
			"DeleteAsync": l.DeleteAsync(1),
			"Sync":        l.Sync(ctx),
			"Compact":     l.Compact(ctx),
			"Replay":      l.Replay(func(uint64, []byte) error { return nil }),
			"Check":       l.Check(),
		} {
			if !errors.Is(err, ErrClosed) {
				t.Errorf("%s after Close = %v, want ErrClosed", name, err)
			}
		}
		if _, err := l.Get(1); !errors.Is(err, ErrClosed) {
			t.Errorf("Get after Close = %v", err)
		}
	})
	t.Run("cancelled context", func(t *testing.T) {
		l := openLog(t, Options{Dir: t.TempDir()})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Put(cctx, 1, nil); !errors.Is(err, context.Canceled) {
			t.Errorf("Put = %v", err)
		}
		if _, err := l.Get(1); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after cancelled Put = %v", err)
		}
	})
}

func TestStoreDeleteAsync(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, Options{Dir: t.TempDir(), SyncInterval: 10 * time.Millisecond})
	must(t, l.Put(ctx, 1, []byte("m")))
	syncs := l.Stats().Syncs
	must(t, l.DeleteAsync(1))
	// It becomes invisible once written, and durable after SyncInterval
	// without anybody else writing.
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Syncs == syncs || l.Stats().LiveRecords != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("DeleteAsync not flushed: %+v", l.Stats())
		}
		time.Sleep(time.Millisecond)
	}
	if _, err := l.Get(1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after DeleteAsync = %v", err)
	}
	l = reopen(t, l)
	wantContents(t, l, map[uint64][]byte{})
}

func TestStoreGetCorrupt(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l := openLog(t, Options{Dir: dir})
	must(t, l.Put(ctx, 1, []byte("hello, world")))
	path := filepath.Join(dir, segFiles(t, dir)[0])
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("J"), segHeaderSize+recHeaderSize)
	must(t, err)
	f.Close()
	if _, err := l.Get(1); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Get of a flipped record = %v, want ErrCorrupt", err)
	}
	if err := l.Replay(func(uint64, []byte) error { return nil }); !errors.Is(err, ErrCorrupt) {
		t.Errorf("Replay of a flipped record = %v, want ErrCorrupt", err)
	}
	if err := l.Check(); err == nil {
		t.Error("Check passed over a flipped record")
	}
	// Undo, so that the cleanup's Check passes.
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("h"), segHeaderSize+recHeaderSize)
	must(t, err)
	f.Close()
}

func TestStoreConcurrentUse(t *testing.T) {
	ctx := context.Background()
	l := openLog(t, Options{Dir: t.TempDir(), SegmentSize: 4096, NoSync: true})
	var wg sync.WaitGroup
	const writers, each = 8, 50
	for w := range uint64(writers) {
		wg.Go(func() {
			for i := range uint64(each) {
				k := w*1000 + i
				if err := l.Put(ctx, k, dataFor(k, 0, 200)); err != nil {
					t.Error(err)
					return
				}
				if i%3 == 0 {
					if err := l.Delete(ctx, k); err != nil {
						t.Error(err)
						return
					}
				}
				if i%5 == 0 {
					if err := l.DeleteAsync(k); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Go(func() { // readers and compaction alongside
		for range 20 {
			if err := l.Compact(ctx); err != nil {
				t.Error(err)
			}
			l.Replay(func(k uint64, data []byte) error {
				if !bytes.Equal(data, dataFor(k, 0, 200)) {
					t.Errorf("key %d: wrong data", k)
				}
				return nil
			})
			l.Stats()
		}
	})
	wg.Wait()
	must(t, l.Sync(ctx))
	want := map[uint64][]byte{}
	for w := range uint64(writers) {
		for i := range uint64(each) {
			if i%3 != 0 && i%5 != 0 {
				k := w*1000 + i
				want[k] = dataFor(k, 0, 200)
			}
		}
	}
	wantContents(t, l, want)
	must(t, l.Compact(ctx))
	wantContents(t, reopen(t, l), want)
}

func TestStoreBackgroundCompaction(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(Options{Dir: dir, SegmentSize: 4096, CompactInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	data := make([]byte, 500)
	for k := range uint64(100) {
		if err := l.Put(ctx, k, data); err != nil {
			t.Fatal(err)
		}
	}
	for k := range uint64(100) {
		if err := l.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	before := l.Stats().Segments
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Segments >= before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // the compactor runs on its own timer
	}
	if after := l.Stats().Segments; after >= before {
		t.Fatalf("segments %d -> %d: the background compactor reclaimed nothing", before, after)
	}
}
