package node_test

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
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
	var logs bytes.Buffer
	n, err := node.New(t.Context(), node.Options{ID: "perm", DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminKey: adminKey,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
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
	if bytes.Contains(logs.Bytes(), []byte("data_dir_not_private")) {
		t.Errorf("a private data directory is said to be shared:\n%s", logs.String())
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

// A data directory made before (or by hand) with a mode its group or others may read keeps its
// mode, and the log says so, for the directory and for the store file.
func TestDataDirSharedWarned(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rabta.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "rabta.db"), 0o644) // whatever the umask
	var logs bytes.Buffer
	n, err := node.New(t.Context(), node.Options{ID: "shared", DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminKey: adminKey,
		Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	n.Close()
	for _, want := range []string{"path=" + dir + " mode=0755 want=0700", "path=" + filepath.Join(dir, "rabta.db") + " mode=0644 want=0600"} {
		if !strings.Contains(logs.String(), "msg=data_dir_not_private "+want) {
			t.Errorf("no warning with %q:\n%s", want, logs.String())
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("the directory's mode was changed: %v %v", fi, err)
	}
}
