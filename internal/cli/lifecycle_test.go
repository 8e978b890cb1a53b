package cli

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// fakeComponent records lifecycle calls into a shared log.
type fakeComponent struct {
	name     string
	calls    *[]string
	startErr error
	block    bool // Shutdown waits for ctx
}

func (f *fakeComponent) Name() string   { return f.name }
func (f *fakeComponent) Addr() net.Addr { return nil }

func (f *fakeComponent) Start(context.Context) error {
	*f.calls = append(*f.calls, "start "+f.name)
	return f.startErr
}

func (f *fakeComponent) Shutdown(ctx context.Context) error {
	*f.calls = append(*f.calls, "stop "+f.name)
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

func TestServeComponentsStopInReverse(t *testing.T) {
	var calls []string
	comps := []component{
		&fakeComponent{name: "a", calls: &calls},
		&fakeComponent{name: "b", calls: &calls},
		&fakeComponent{name: "c", calls: &calls},
	}
	addrs, started, err := startComponents(t.Context(), comps, discardLogger())
	if err != nil || started != 3 || len(addrs) != 3 {
		t.Fatalf("start: %v, %d started, addrs %v", err, started, addrs)
	}
	if err := stopComponents(comps, time.Second); err != nil {
		t.Fatal(err)
	}
	want := []string{"start a", "start b", "start c", "stop c", "stop b", "stop a"}
	if !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls %q, want %q", calls, want)
	}
}

func TestServeComponentStartFailure(t *testing.T) {
	var calls []string
	boom := errors.New("boom")
	comps := []component{
		&fakeComponent{name: "a", calls: &calls},
		&fakeComponent{name: "b", calls: &calls, startErr: boom},
		&fakeComponent{name: "c", calls: &calls},
	}
	_, started, err := startComponents(t.Context(), comps, discardLogger())
	if !errors.Is(err, boom) || err.Error() != "start b: boom" || started != 1 {
		t.Fatalf("err %v, started %d", err, started)
	}
}

func TestServeShutdownDeadline(t *testing.T) {
	var calls []string
	comps := []component{
		&fakeComponent{name: "a", calls: &calls},
		&fakeComponent{name: "slow", calls: &calls, block: true},
	}
	start := time.Now()
	err := stopComponents(comps, 50*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || err.Error() != "stop slow: context deadline exceeded" {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("shutdown took %v", d)
	}
	// Components after a slow one are still asked to stop.
	if want := []string{"stop slow", "stop a"}; !reflect.DeepEqual(calls, want) {
		t.Fatalf("calls %q, want %q", calls, want)
	}
}

func TestServeStartFailureReleasesEverything(t *testing.T) {
	// The HTTP port is taken: serve fails with exit code 1 and frees the lock.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := t.TempDir()
	opts := mustParseServe(t, "--http", ln.Addr().String(), "--amqp", "", "--mqtt", "", "--data-dir", dir)
	err = runServe(t.Context(), opts, io.Discard)
	if err == nil || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("err = %v, want address in use", err)
	}
	l, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock still held after failed start: %v", err)
	}
	l.release()
}
