package store

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"
)

var seedFlag = flag.Uint64("seed", 0, "seed for the randomized tests (0: from the clock); printed by each test")

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	if code == 0 {
		if err := checkLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// checkLeaks fails if a Log's goroutine outlives the tests.
func checkLeaks() error {
	var stacks []byte
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		stacks = make([]byte, 1<<20)
		stacks = stacks[:runtime.Stack(stacks, true)]
		if !bytes.Contains(stacks, []byte("store.(*Log).run")) {
			return nil
		}
	}
	return fmt.Errorf("leaked store goroutines:\n%s", stacks)
}

// testSeed returns the seed for a randomized test and logs it.
func testSeed(t testing.TB) uint64 {
	s := *seedFlag
	if s == 0 {
		s = uint64(time.Now().UnixNano())
	}
	t.Logf("seed=%d (replay with -seed=%d)", s, s)
	return s
}

// openLog opens a Log and registers Check and Close for the end of the
// test, as bbolt's btesting does.
func openLog(t testing.TB, opts Options) *Log {
	t.Helper()
	l, err := Open(opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { checkAndClose(t, l) })
	return l
}

func checkAndClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Check(); err != nil && !errors.Is(err, ErrClosed) {
		t.Errorf("Check: %v", err)
	}
	if err := l.Close(); err != nil && !errors.Is(err, ErrFailed) {
		t.Errorf("Close: %v", err)
	}
}

// reopen checks and closes l and opens its directory again.
func reopen(t testing.TB, l *Log) *Log {
	t.Helper()
	checkAndClose(t, l)
	return openLog(t, l.opts)
}

// dataFor returns n deterministic bytes for key and version v.
func dataFor(key uint64, v, n int) []byte {
	r := rand.New(rand.NewPCG(key, uint64(v)))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// contents returns every live record via Replay, checking key order.
func contents(t testing.TB, l *Log) map[uint64][]byte {
	t.Helper()
	got := map[uint64][]byte{}
	var last uint64
	err := l.Replay(func(k uint64, data []byte) error {
		if len(got) > 0 && k <= last {
			t.Errorf("Replay: key %d after %d", k, last)
		}
		last = k
		got[k] = bytes.Clone(data)
		return nil
	})
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return got
}

// wantContents checks Replay, Get and Stats against want.
func wantContents(t testing.TB, l *Log, want map[uint64][]byte) {
	t.Helper()
	got := contents(t, l)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("key %d missing", k)
		} else if !bytes.Equal(g, w) {
			t.Errorf("key %d: %d bytes %.8x..., want %d bytes %.8x...", k, len(g), g, len(w), w)
		}
		if g, err := l.Get(k); err != nil || !bytes.Equal(g, w) {
			t.Errorf("Get(%d) = %.8x, %v; want %.8x", k, g, err, w)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("key %d present, want absent", k)
			if _, err := l.Get(k); err != nil {
				t.Errorf("Get(%d): %v, but Replay returned it", k, err)
			}
		}
	}
	if n := l.Stats().LiveRecords; n != len(want) {
		t.Errorf("Stats().LiveRecords = %d, want %d", n, len(want))
	}
	if t.Failed() {
		t.FailNow()
	}
}

// segFiles returns the segment file names in dir, sorted.
func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	slices.Sort(m)
	return m
}

// dirBytes returns the total size of the segment files in dir.
func dirBytes(t testing.TB, dir string) int64 {
	t.Helper()
	var n int64
	for _, name := range segFiles(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		n += fi.Size()
	}
	return n
}

// copyDir copies the regular files of src into a new directory.
func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := t.TempDir()
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || e.Name() == "LOCK" {
			continue
		}
		copyFile(t, filepath.Join(src, e.Name()), filepath.Join(dst, e.Name()))
	}
	return dst
}

// copyFile copies src to dst. A src that vanished meanwhile (a .tmp file
// renamed by a live Log) is skipped: the copy is a state from before.
func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

func sortedKeys[V any](m map[uint64]V) []uint64 { return slices.Sorted(maps.Keys(m)) }
