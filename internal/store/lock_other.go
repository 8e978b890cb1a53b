//go:build !unix

package store

import (
	"os"
	"path/filepath"
)

// lockDir only creates dir/LOCK: no advisory locking on this platform.
func lockDir(dir string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir, "LOCK"), os.O_RDWR|os.O_CREATE, 0o644)
}

func unlockDir(f *os.File) { f.Close() }
