package node

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// DataDirMode is the mode a data directory is created with: its owner's only, as is every file
// in it (the store, its WAL, the lock, the signing and contacts keys), for the store holds key
// hashes and sealed personal data. A directory that exists already keeps its mode.
const DataDirMode = 0o700

// warnIfShared logs a warning for each of the data directory and its store file that its group
// or others may read or enter (one made before Rabta made them private, or by hand): the store
// holds key hashes and sealed personal data. It changes no mode: that is the operator's call.
func warnIfShared(dir string, log *slog.Logger) {
	for _, p := range []string{dir, filepath.Join(dir, "rabta.db")} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		want := "0600"
		if fi.IsDir() {
			want = "0700"
		}
		log.Warn("data_dir_not_private", "path", p, "mode", fmt.Sprintf("%#o", fi.Mode().Perm()), "want", want,
			"why", "its group or others may read the store (key hashes, sealed contacts)")
	}
}

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
