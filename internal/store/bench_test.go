package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
)

// BenchmarkPutParallel: durable 1 KiB Puts from many goroutines, as a
// broker's producers would issue them; group commit shares the fsyncs.
func BenchmarkPutParallel(b *testing.B) {
	for _, p := range []int{1, 16, 64} {
		writers := p * runtime.GOMAXPROCS(0)
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			ctx := context.Background()
			l := openLog(b, Options{Dir: b.TempDir()})
			data := dataFor(1, 0, 1024)
			var next atomic.Uint64
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			b.SetParallelism(p)
			syncs := l.Stats().Syncs
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.Put(ctx, next.Add(1), data); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(l.Stats().Syncs-syncs)/float64(b.N), "fsyncs/record")
		})
	}
}

// BenchmarkPutSerial: one writer, so one fsync per Put: the disk's
// fsync latency.
func BenchmarkPutSerial(b *testing.B) {
	ctx := context.Background()
	l := openLog(b, Options{Dir: b.TempDir()})
	data := dataFor(1, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := l.Put(ctx, uint64(i), data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkPutNoSync: the cost of the write path without the disk:
// framing, CRC, the committer hand-off, write(2), index update.
func BenchmarkPutNoSync(b *testing.B) {
	ctx := context.Background()
	l := openLog(b, Options{Dir: b.TempDir(), NoSync: true})
	data := dataFor(1, 0, 1024)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := l.Put(ctx, uint64(i), data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDeleteAsync: acks, which do not wait for an fsync.
func BenchmarkDeleteAsync(b *testing.B) {
	ctx := context.Background()
	l := openLog(b, Options{Dir: b.TempDir()})
	for i := 0; b.Loop(); i++ {
		if err := l.DeleteAsync(uint64(i)); err != nil {
			b.Fatal(err)
		}
	}
	must(b, l.Sync(ctx))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkGet: random 1 KiB reads from a log of 10,000 records (page
// cache warm).
func BenchmarkGet(b *testing.B) {
	ctx := context.Background()
	l := openLog(b, Options{Dir: b.TempDir(), NoSync: true})
	const n = 10000
	fillBatches(b, l, n, 1024)
	must(b, l.Sync(ctx))
	rng := rand.New(rand.NewPCG(1, 2))
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := l.Get(uint64(rng.IntN(n))); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReplay: reading back 100,000 live 1 KiB records at start-up.
func BenchmarkReplay(b *testing.B) {
	l := openLog(b, Options{Dir: b.TempDir(), NoSync: true})
	const n = 100000
	fillBatches(b, l, n, 1024)
	b.SetBytes(n * 1024)
	for b.Loop() {
		must(b, l.Replay(func(uint64, []byte) error { return nil }))
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkOpen: recovery of 100,000 records (scan, CRC, index).
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(Options{Dir: dir, NoSync: true})
	must(b, err)
	const n = 100000
	fillBatches(b, l, n, 1024)
	must(b, l.Close())
	b.SetBytes(n * (1024 + recHeaderSize))
	for b.Loop() {
		l, err := Open(Options{Dir: dir, NoSync: true})
		must(b, err)
		must(b, l.Close())
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

func fillBatches(tb testing.TB, l *Log, n, size int) {
	recs := make([]Record, 0, 1000)
	data := make([]byte, size)
	for k := range uint64(n) {
		recs = append(recs, Record{Key: k, Data: data})
		if len(recs) == cap(recs) || int(k) == n-1 {
			must(tb, l.PutBatch(context.Background(), recs))
			recs = recs[:0]
		}
	}
}

// TestStoreIndexMemory measures the heap the index takes per live record.
// Records are 1 byte: the data is on disk, never in memory.
func TestStoreIndexMemory(t *testing.T) {
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	l := openLog(t, Options{Dir: t.TempDir(), NoSync: true})
	before := heapAlloc()
	fillBatches(t, l, n, 1)
	after := heapAlloc()
	perRecord := float64(after-before) / float64(n)
	t.Logf("index: %.1f bytes of heap per live record (%d records, %.1f MiB)", perRecord, n, float64(after-before)/(1<<20))
	if perRecord > 64 {
		t.Errorf("index takes %.1f bytes per live record, want <= 64", perRecord)
	}
	runtime.KeepAlive(l)
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
