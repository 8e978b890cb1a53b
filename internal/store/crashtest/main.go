// Command crashtest drives a store.Log for the crash tests in package
// store, which build it, run it, and kill -9 it (or let a failpoint kill
// it, with -tags failpoints and ENMASSE_STORE_FAILPOINTS).
//
// Each worker goroutine owns the keys k with k % workers == worker and
// writes one line to stdout per step, unbuffered:
//
//	p KEY LEN CRC   about to Put KEY with LEN bytes of CRC32-C CRC (hex)
//	P KEY           that Put returned nil: it is durable
//	d KEY           about to Delete KEY
//	D KEY           that Delete returned nil: KEY is gone for good
//	a KEY           DeleteAsync(KEY) returned nil: KEY may come back
//	C               a Compact finished
//
// A line is written only after the call it reports returned, so every
// P and D line the test reads is a promise the log must keep after the
// crash.
package main

import (
	"context"
	"flag"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/enmasse-go/enmasse/internal/store"
)

func main() {
	dir := flag.String("dir", "", "log directory")
	workers := flag.Int("workers", 8, "concurrent writers")
	segSize := flag.Int64("segsize", 64<<10, "Options.SegmentSize")
	churn := flag.Bool("churn", false, "also delete and overwrite keys, and compact continuously")
	seed := flag.Uint64("seed", 1, "random seed")
	timeout := flag.Duration("timeout", time.Minute, "exit after this long")
	flag.Parse()

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	l, err := store.Open(store.Options{Dir: *dir, SegmentSize: *segSize, Logger: logger})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crashtest:", err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	out := &printer{}
	var wg sync.WaitGroup
	for w := range *workers {
		wg.Go(func() {
			wk := &worker{l: l, out: out, id: uint64(w), n: uint64(*workers),
				rng: rand.New(rand.NewPCG(*seed, uint64(w))), churn: *churn}
			if err := wk.run(ctx); err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "crashtest:", err)
				os.Exit(1)
			}
		})
	}
	if *churn {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := l.Compact(ctx); err != nil && ctx.Err() == nil {
					fmt.Fprintln(os.Stderr, "crashtest: compact:", err)
					os.Exit(1)
				}
				out.printf("C\n")
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	l.Close()
}

// printer writes whole lines to stdout without buffering.
type printer struct{ mu sync.Mutex }

func (p *printer) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(os.Stdout, format, args...)
}

type worker struct {
	l       *store.Log
	out     *printer
	id, n   uint64
	rng     *rand.Rand
	churn   bool
	live    []uint64 // keys this worker put and has not deleted
	nextIdx uint64
}

func (w *worker) run(ctx context.Context) error {
	for ctx.Err() == nil {
		key := w.id + w.n*w.nextIdx
		w.nextIdx++
		if err := w.put(ctx, key); err != nil {
			return err
		}
		w.live = append(w.live, key)
		if !w.churn || len(w.live) < 4 {
			continue
		}
		// Like a queue: mostly the oldest keys are acked, so old segments
		// empty out and compaction has work.
		i := w.rng.IntN(min(len(w.live), 8))
		switch k := w.live[i]; w.rng.IntN(4) {
		case 0: // overwrite
			if err := w.put(ctx, k); err != nil {
				return err
			}
		case 1: // delete, durably
			w.out.printf("d %d\n", k)
			if err := w.l.Delete(ctx, k); err != nil {
				return err
			}
			w.out.printf("D %d\n", k)
			w.live = append(w.live[:i], w.live[i+1:]...)
		case 2: // ack-style delete
			if err := w.l.DeleteAsync(k); err != nil {
				return err
			}
			w.out.printf("a %d\n", k)
			w.live = append(w.live[:i], w.live[i+1:]...)
		}
	}
	return nil
}

func (w *worker) put(ctx context.Context, key uint64) error {
	data := make([]byte, 1+w.rng.IntN(3000))
	for i := range data {
		data[i] = byte(w.rng.Uint32())
	}
	w.out.printf("p %d %d %08x\n", key, len(data), crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli)))
	if err := w.l.Put(ctx, key, data); err != nil {
		return err
	}
	w.out.printf("P %d\n", key)
	return nil
}
