//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package cli

import (
	"fmt"
	"runtime"
)

type dataDirLock struct{}

func lockDataDir(dir string) (*dataDirLock, error) {
	return nil, fmt.Errorf("data dir %s: locking is not supported on %s", dir, runtime.GOOS)
}

func (l *dataDirLock) release() {}
