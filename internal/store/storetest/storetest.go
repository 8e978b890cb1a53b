// Package storetest is the conformance suite every store.Store
// implementation must pass (STYLE d.8): the semantics the broker relies on,
// run against each implementation by its own tests.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/enmasse-go/enmasse/internal/store"
)

// Factory opens an empty store for one subtest. Reopen, when not nil,
// closes and reopens it over the same data, for implementations that
// persist.
type Factory func(t *testing.T) (s store.Store, reopen func() store.Store)

// Run runs the conformance suite.
func Run(t *testing.T, open Factory) {
	ctx := context.Background()
	t.Run("PutGetSupersede", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		mustPut(t, s, 1, "one")
		mustPut(t, s, 2, "two")
		mustPut(t, s, 1, "uno")
		expectGet(t, s, 1, "uno")
		expectGet(t, s, 2, "two")
		if _, err := s.Get(3); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Get of a missing key: %v, want ErrNotFound", err)
		}
	})
	t.Run("GetReturnsACopy", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		data := []byte("abc")
		if err := s.Put(ctx, 1, data); err != nil {
			t.Fatal(err)
		}
		data[0] = 'X'
		got, _ := s.Get(1)
		got[1] = 'Y'
		expectGet(t, s, 1, "abc")
	})
	t.Run("DeleteAndDeleteAsync", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		for k := uint64(1); k <= 4; k++ {
			mustPut(t, s, k, fmt.Sprint(k))
		}
		if err := s.Delete(ctx, 2); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteAsync(3); err != nil {
			t.Fatal(err)
		}
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		expectKeys(t, s, 1, 4)
	})
	t.Run("ReplayInKeyOrder", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		for _, k := range []uint64{50, 3, 900, 7, 1 << 62} {
			mustPut(t, s, k, fmt.Sprint(k))
		}
		expectKeys(t, s, 3, 7, 50, 900, 1<<62)
	})
	t.Run("PutBatch", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		recs := []store.Record{{Key: 10, Data: []byte("a")}, {Key: 11, Data: []byte("b")}, {Key: 12, Data: []byte("c")}}
		if err := s.PutBatch(ctx, recs); err != nil {
			t.Fatal(err)
		}
		expectKeys(t, s, 10, 11, 12)
		expectGet(t, s, 11, "b")
	})
	t.Run("Concurrent", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 50 {
					k := uint64(w*1000 + i)
					if err := s.Put(ctx, k, []byte(fmt.Sprint(k))); err != nil {
						t.Error(err)
						return
					}
					if i%2 == 1 {
						s.DeleteAsync(k)
					}
				}
			}()
		}
		wg.Wait()
		// DeleteAsync tombstones take effect with the next sync.
		if err := s.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		n := 0
		s.Replay(func(k uint64, d []byte) error {
			if string(d) != fmt.Sprint(k) || k%2 == 1 {
				t.Errorf("key %d: %q", k, d)
			}
			n++
			return nil
		})
		if n != 8*25 {
			t.Fatalf("%d live records, want 200", n)
		}
	})
	t.Run("CompactKeepsLiveData", func(t *testing.T) {
		s, _ := open(t)
		defer s.Close()
		for k := range uint64(200) {
			mustPut(t, s, k, fmt.Sprint(k))
		}
		for k := range uint64(190) {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Compact(ctx); err != nil {
			t.Fatal(err)
		}
		expectKeys(t, s, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199)
	})
	t.Run("ClosedStoreRefuses", func(t *testing.T) {
		s, _ := open(t)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Put(ctx, 1, []byte("x")); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Put after Close: %v, want ErrClosed", err)
		}
		if _, err := s.Get(1); !errors.Is(err, store.ErrClosed) {
			t.Fatalf("Get after Close: %v, want ErrClosed", err)
		}
	})
	t.Run("Reopen", func(t *testing.T) {
		s, reopen := open(t)
		if reopen == nil {
			s.Close()
			t.Skip("this implementation does not persist")
		}
		mustPut(t, s, 1, "kept")
		mustPut(t, s, 2, "gone")
		if err := s.Delete(ctx, 2); err != nil {
			t.Fatal(err)
		}
		s = reopen()
		defer s.Close()
		expectKeys(t, s, 1)
		expectGet(t, s, 1, "kept")
	})
}

func mustPut(t *testing.T, s store.Store, k uint64, v string) {
	t.Helper()
	if err := s.Put(context.Background(), k, []byte(v)); err != nil {
		t.Fatalf("Put(%d): %v", k, err)
	}
}

func expectGet(t *testing.T, s store.Store, k uint64, want string) {
	t.Helper()
	got, err := s.Get(k)
	if err != nil || !bytes.Equal(got, []byte(want)) {
		t.Fatalf("Get(%d) = %q, %v; want %q", k, got, err, want)
	}
}

func expectKeys(t *testing.T, s store.Store, want ...uint64) {
	t.Helper()
	var got []uint64
	if err := s.Replay(func(k uint64, _ []byte) error { got = append(got, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("live keys %v, want %v", got, want)
	}
}
