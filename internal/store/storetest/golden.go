package storetest

import (
	"os"
	"path/filepath"
	"testing"
)

// Golden compares got with the file testdata/name, or writes it when update is set (a test's
// -update flag: this package defines no flags, as packages that import it have their own).
func Golden(t *testing.T, name, got string, update bool) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from what the migrations make; if that is meant, run with -update and review the diff.\ngot:\n%s", path, got)
	}
}
