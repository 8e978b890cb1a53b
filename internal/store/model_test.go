package store

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"testing"
)

// TestStoreModel runs random sequences of Put, PutBatch, Delete,
// DeleteAsync, Sync, Get, Replay, Compact, clean reopen and simulated
// process crash against a map (STYLE d.10). Replay a failure with -seed.
func TestStoreModel(t *testing.T) {
	seed := testSeed(t)
	rng := rand.New(rand.NewPCG(seed, seed>>32))
	steps := 4000
	if testing.Short() {
		steps = 800
	}
	ctx := context.Background()
	opts := Options{Dir: t.TempDir(), SegmentSize: int64(256 + rng.IntN(4096)), NoSync: rng.IntN(2) == 0}
	t.Logf("SegmentSize %d, NoSync %v", opts.SegmentSize, opts.NoSync)
	l := openLog(t, opts)
	model := map[uint64][]byte{}
	// async holds keys deleted with DeleteAsync since the last
	// synchronous write, with the data they had: until the next fsync
	// the key may still be visible, and may come back after a crash.
	async := map[uint64][]byte{}
	key := func() uint64 { return uint64(rng.IntN(64)) }
	data := func() []byte { return dataFor(rng.Uint64(), 0, rng.IntN(300)) }
	step := 0
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d step %d: "+format, append([]any{seed, step}, args...)...)
	}
	synced := func() { clear(async) }
	// allowed reports whether the log may return (v, ok) for k.
	allowed := func(k uint64, v []byte, ok bool) bool {
		if old, isAsync := async[k]; isAsync && (!ok || bytes.Equal(v, old)) {
			return true
		}
		want, wok := model[k]
		return ok == wok && bytes.Equal(v, want)
	}
	for step = range steps {
		switch p := rng.IntN(100); {
		case p < 35:
			k, d := key(), data()
			must(t, l.Put(ctx, k, d))
			model[k] = d
			synced()
		case p < 42:
			recs := make([]Record, 1+rng.IntN(5))
			for i := range recs {
				recs[i] = Record{key(), data()}
			}
			must(t, l.PutBatch(ctx, recs))
			for _, r := range recs {
				model[r.Key] = r.Data
			}
			synced()
		case p < 55:
			k := key()
			must(t, l.Delete(ctx, k))
			delete(model, k)
			synced()
		case p < 65:
			k := key()
			must(t, l.DeleteAsync(k))
			if d, ok := model[k]; ok {
				async[k] = d
				delete(model, k)
			}
		case p < 67:
			must(t, l.Sync(ctx))
			synced()
		case p < 77:
			k := key()
			v, err := l.Get(k)
			if err != nil && !errors.Is(err, ErrNotFound) {
				fail("Get(%d): %v", k, err)
			}
			if !allowed(k, v, err == nil) {
				fail("Get(%d) = %.8x, %v; model %.8x", k, v, err, model[k])
			}
		case p < 82:
			got := contents(t, l)
			for k := range 64 {
				v, ok := got[uint64(k)]
				if !allowed(uint64(k), v, ok) {
					fail("Replay: key %d = %.8x (%v), model %.8x", k, v, ok, model[uint64(k)])
				}
			}
		case p < 88:
			must(t, l.Compact(ctx))
		case p < 92:
			l = reopen(t, l)
			synced() // Close flushes
		case p < 95:
			// A process crash: copy the files as they are (the kernel's
			// view) while the Log is open, then continue from the copy.
			crashed := copyDir(t, opts.Dir)
			checkAndClose(t, l)
			opts.Dir = crashed
			l = openLog(t, opts)
			if c := l.Recovery().Corrupt; len(c) != 0 {
				fail("crash looks like corruption: %+v", c)
			}
			for k, old := range async {
				if v, err := l.Get(k); err == nil {
					if !bytes.Equal(v, old) {
						fail("key %d came back with other data", k)
					}
					model[k] = old // the tombstone was lost: at least once
				}
			}
			synced()
		default:
			if n := l.Stats().LiveRecords; n < len(model) || n > len(model)+len(async) {
				fail("Stats().LiveRecords = %d, model %d (+%d async)", n, len(model), len(async))
			}
		}
		if step%200 == 0 {
			if err := l.Check(); err != nil {
				fail("Check: %v", err)
			}
		}
	}
	must(t, l.Sync(ctx))
	wantContents(t, l, model)
	must(t, l.Compact(ctx))
	l = reopen(t, l)
	wantContents(t, l, model)
	t.Logf("%d steps; final %+v", steps, l.Stats())
}
