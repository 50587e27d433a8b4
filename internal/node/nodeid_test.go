package node

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestResolveID: an id of the node's own choosing is recorded in its data directory the first
// time; then a command given none runs under it, and one given another is refused, naming both.
func TestResolveID(t *testing.T) {
	dir := t.TempDir()
	if id, err := ResolveID(dir, DefaultID); err != nil || id != DefaultID {
		t.Fatalf("no id, none recorded: %q %v", id, err)
	}
	if _, err := os.Stat(filepath.Join(dir, NodeIDFile)); err == nil {
		t.Error("the default id was recorded")
	}
	missing := filepath.Join(dir, "not-yet")
	if id, err := ResolveID(missing, "islamabad"); err != nil || id != "islamabad" {
		t.Fatalf("a data directory not made yet: %q %v", id, err)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("ResolveID made the data directory")
	}
	if id, err := ResolveID(dir, "islamabad"); err != nil || id != "islamabad" {
		t.Fatalf("first id: %q %v", id, err)
	}
	if id, err := ResolveID(dir, DefaultID); err != nil || id != "islamabad" {
		t.Errorf("no id given after islamabad's: %q %v", id, err)
	}
	if id, err := ResolveID(dir, "islamabad"); err != nil || id != "islamabad" {
		t.Errorf("the same id again: %q %v", id, err)
	}
	_, err := ResolveID(dir, "karachi")
	if err == nil || !strings.Contains(err.Error(), `"islamabad"`) || !strings.Contains(err.Error(), `"karachi"`) || !strings.Contains(err.Error(), NodeIDFile) {
		t.Errorf("another id: %v", err)
	}
}
