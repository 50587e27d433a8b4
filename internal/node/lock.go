package node

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// DataDirMode is the mode a data directory is created with: its owner's only, as is every file
// in it (the store, its WAL, the lock, the signing and contacts keys), for the store holds key
// hashes and sealed personal data. A directory that exists already keeps its mode.
const DataDirMode = 0o700

// LockDataDir takes an exclusive lock on the data directory, so that two `rabta serve` on the
// same directory, or a restore under a running node, are refused instead of corrupting it.
func LockDataDir(dir string) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(dir, "rabta.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another rabta process (stop it first)", dir)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
