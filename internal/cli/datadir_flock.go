//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// dataDirLock is the exclusive lock a serve process holds on its data dir:
// flock(2) on DIR/LOCK, which also records the holder's pid. The kernel
// drops the lock when the process dies, so a crash never leaves it stale.
type dataDirLock struct {
	f *os.File
}

// lockDataDir creates dir if needed and locks it, or says which process
// holds it.
func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	path := filepath.Join(dir, "LOCK")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("data dir %s is in use by another enmasse process (pid %s)", dir, lockHolder(f))
		}
		return nil, fmt.Errorf("data dir: lock %s: %w", path, err)
	}
	pid := []byte(strconv.Itoa(os.Getpid()) + "\n")
	if err := f.Truncate(0); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir: %w", err)
	}
	if _, err := f.WriteAt(pid, 0); err != nil {
		f.Close()
		return nil, fmt.Errorf("data dir: %w", err)
	}
	return &dataDirLock{f: f}, nil
}

// lockHolder reads the pid the holder wrote, or "unknown" if it has not
// written it yet.
func lockHolder(f *os.File) string {
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return "unknown"
	}
	if pid, err := strconv.Atoi(string(bytes.TrimSpace(b))); err == nil {
		return strconv.Itoa(pid)
	}
	return "unknown"
}

// release clears the pid and unlocks. The file stays: removing it would
// race with a process that has just opened it.
func (l *dataDirLock) release() {
	_ = l.f.Truncate(0)
	_ = l.f.Close()
}
