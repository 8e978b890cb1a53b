package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// The crash tests run internal/store/crashtest in a child process, read
// what it reports as acknowledged, kill it with SIGKILL (or let a
// failpoint do it), reopen the log and check every promise.

var (
	helperDir  string // removed by TestMain
	helperPath string
	helperErr  error
	helperOnce sync.Once
)

func buildHelper(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: skipping the kill -9 tests")
	}
	helperOnce.Do(func() {
		helperDir, helperErr = os.MkdirTemp("", "store-crashtest-")
		if helperErr != nil {
			return
		}
		helperPath = filepath.Join(helperDir, "crashtest")
		out, err := exec.Command("go", "build", "-tags", "failpoints", "-o", helperPath, "./crashtest").CombinedOutput()
		if err != nil {
			helperErr = fmt.Errorf("go build ./crashtest: %v\n%s", err, out)
		}
	})
	if helperErr != nil {
		t.Fatal(helperErr)
	}
	return helperPath
}

// version is a key's state: absent, or present with data of a length and
// CRC.
type version struct {
	present bool
	n       int
	crc     uint32
}

func (v version) String() string {
	if !v.present {
		return "absent"
	}
	return fmt.Sprintf("%d bytes crc %08x", v.n, v.crc)
}

// fate is what the log may hold for a key after the crash.
type fate struct {
	acked     version  // after the last acknowledged operation
	pending   *version // an operation started but not acknowledged
	maybeGone bool     // DeleteAsync since the last acknowledged operation
}

func (f *fate) allows(v version) bool {
	return v == f.acked || (f.pending != nil && v == *f.pending) || (f.maybeGone && !v.present)
}

// crashModel tracks the helper's promises from its stdout.
type crashModel struct {
	keys     map[uint64]*fate
	acked    int // P and D lines
	compacts int
}

func (m *crashModel) fate(k uint64) *fate {
	f := m.keys[k]
	if f == nil {
		f = &fate{}
		m.keys[k] = f
	}
	return f
}

func (m *crashModel) line(s string) error {
	var op string
	var k uint64
	var n int
	var crc uint32
	if s == "C" {
		m.compacts++
		return nil
	}
	if _, err := fmt.Sscanf(s, "%s %d", &op, &k); err != nil {
		return fmt.Errorf("bad line %q", s)
	}
	f := m.fate(k)
	switch op {
	case "p":
		if _, err := fmt.Sscanf(s, "p %d %d %x", &k, &n, &crc); err != nil {
			return fmt.Errorf("bad line %q", s)
		}
		f.pending = &version{true, n, crc}
	case "d":
		f.pending = &version{}
	case "P", "D":
		if f.pending == nil {
			return fmt.Errorf("%q without its start", s)
		}
		f.acked, f.pending, f.maybeGone = *f.pending, nil, false
		m.acked++
	case "a":
		f.maybeGone = true
	default:
		return fmt.Errorf("bad line %q", s)
	}
	return nil
}

// settle makes what the log holds now the acknowledged state, before the
// next run.
func (m *crashModel) settle(got map[uint64]version) {
	for k, f := range m.keys {
		*f = fate{acked: got[k]}
	}
}

type crashRun struct {
	args      []string
	env       string // ENMASSE_STORE_FAILPOINTS
	killAfter int    // SIGKILL after this many acknowledgements; 0: never
}

// runHelper runs one crash round and returns how it ended.
func runHelper(t *testing.T, dir string, m *crashModel, run crashRun) {
	t.Helper()
	cmd := exec.Command(buildHelper(t), append([]string{"-dir", dir, "-timeout", "30s"}, run.args...)...)
	cmd.Env = append(os.Environ(), "ENMASSE_STORE_FAILPOINTS="+run.env)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	must(t, err)
	must(t, cmd.Start())
	start, killed := m.acked, false
	br := bufio.NewReader(out)
	for {
		s, err := br.ReadString('\n')
		if err != nil {
			if err != io.EOF {
				t.Fatal(err)
			}
			break // a line cut short by the kill is ignored
		}
		if err := m.line(strings.TrimSuffix(s, "\n")); err != nil {
			t.Fatal(err)
		}
		if !killed && run.killAfter > 0 && m.acked-start >= run.killAfter {
			killed = true
			must(t, syscall.Kill(cmd.Process.Pid, syscall.SIGKILL))
		}
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper ended with %v, want SIGKILL (failpoint not reached?)\nstderr:\n%s", err, stderr.String())
	}
	t.Logf("killed after %d acknowledgements, %d compactions so far", m.acked-start, m.compacts)
}

// verifyCrash reopens the log and checks every key against the model.
func verifyCrash(t *testing.T, dir string, m *crashModel) {
	t.Helper()
	l := openLog(t, Options{Dir: dir, SegmentSize: 64 << 10})
	got := map[uint64]version{}
	must(t, l.Replay(func(k uint64, data []byte) error {
		got[k] = version{true, len(data), crc32.Checksum(data, castagnoli)}
		return nil
	}))
	bad := 0
	for k, f := range m.keys {
		if v := got[k]; !f.allows(v) {
			if bad++; bad <= 10 {
				t.Errorf("key %d: %v after the crash; acknowledged %v, pending %v, maybe deleted %v",
					k, v, f.acked, f.pending, f.maybeGone)
			}
		}
	}
	for k := range got {
		if m.keys[k] == nil {
			t.Errorf("key %d present, never written", k)
		}
	}
	if bad > 0 || t.Failed() {
		t.Fatalf("%d keys broke their promise; recovery %+v", bad, l.Recovery())
	}
	t.Logf("recovery: %d live of %d keys; truncated %d bytes; %+v", len(got), len(m.keys), l.Recovery().TruncatedBytes, l.Recovery().Corrupt)
	if len(l.Recovery().Corrupt) != 0 {
		t.Errorf("a crash must not look like corruption: %+v", l.Recovery().Corrupt)
	}
	checkAndClose(t, l)
	m.settle(got)
}

func TestStoreCrashKill9(t *testing.T) {
	buildHelper(t)
	rng := rand.New(rand.NewPCG(testSeed(t), 0))
	dir := t.TempDir()
	m := &crashModel{keys: map[uint64]*fate{}}
	for round := range 3 {
		runHelper(t, dir, m, crashRun{
			args:      []string{"-seed", fmt.Sprint(rng.Uint64()), "-workers", "8"},
			killAfter: 200 + rng.IntN(600),
		})
		verifyCrash(t, dir, m)
		t.Logf("round %d: ok", round)
	}
}

func TestStoreCrashDuringCompaction(t *testing.T) {
	buildHelper(t)
	rng := rand.New(rand.NewPCG(testSeed(t), 1))
	dir := t.TempDir()
	m := &crashModel{keys: map[uint64]*fate{}}
	runs := []crashRun{
		{killAfter: 300 + rng.IntN(700)},
		{killAfter: 300 + rng.IntN(700)},
		{killAfter: 300 + rng.IntN(700)},
		{env: fmt.Sprintf("store/compactBeforeRemove=kill@%d", 1+rng.IntN(5))},
		{env: fmt.Sprintf("store/compactAfterRemove=kill@%d", 1+rng.IntN(5))},
		{env: fmt.Sprintf("store/beforeSegmentRename=kill@%d", 1+rng.IntN(5))},
		{env: fmt.Sprintf("store/afterRenameBeforeDirSync=kill@%d", 1+rng.IntN(5))},
		{env: fmt.Sprintf("store/beforeSegmentSync=kill@%d", 50+rng.IntN(200))},
	}
	for _, run := range runs {
		run.args = []string{"-seed", fmt.Sprint(rng.Uint64()), "-workers", "8", "-churn", "-segsize", "16384"}
		runHelper(t, dir, m, run)
		verifyCrash(t, dir, m)
		t.Logf("run %+v: ok", run)
	}
	if m.compacts == 0 {
		t.Error("no compaction finished in any run")
	}
}
