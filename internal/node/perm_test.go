package node_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rabta/rabta/internal/node"
)

// A node's data directory and the files of its SQLite store are its owner's only: the directory
// 0700, the database, its -wal and -shm, the lock and a backup 0600, whatever the umask lets
// through otherwise (a group- and world-readable 0022 here).
func TestDataDirPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "new", "rabta-data")
	n, err := node.New(t.Context(), node.Options{ID: "perm", DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st, b := do(t, n, "POST", "/v1.1/Things", `{"name":"x","description":"y"}`); st != 201 {
		t.Fatalf("write: %d %s", st, b)
	}
	// a backup, through the store as rabta backup makes it
	st, err := node.OpenStores(t.Context(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := st.Backup(t.Context(), backup); err != nil {
		t.Fatal(err)
	}
	st.Close()
	want := map[string]fs.FileMode{
		dir: 0o700, filepath.Join(dir, "rabta.db"): 0o600, filepath.Join(dir, "rabta.db-wal"): 0o600,
		filepath.Join(dir, "rabta.db-shm"): 0o600, filepath.Join(dir, "rabta.lock"): 0o600, backup: 0o600,
	}
	for path, mode := range want {
		fi, err := os.Stat(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), mode)
		}
	}
}
