package main

import (
	"context"
	"net"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestStartServerPortTaken: a server whose HTTP port was taken between the moment it was found
// free and the moment the server listens on it (as happened in a compare run, to Rabta on
// PostgreSQL) is started again on new ports instead of ending the benchmark.
func TestStartServerPortTaken(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rabta")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := testBinary(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	calls := 0
	pickPort = func() (int, error) {
		calls++
		if calls == 1 {
			return takenPort, nil // the first server's HTTP port: in use
		}
		return freePort()
	}
	defer func() { pickPort = freePort }()

	s, err := startServerOn(ctx, bin, filepath.Join(t.TempDir(), "data"), true, "", "RABTA_WRITE_RATE=0")
	if err != nil {
		t.Fatalf("startServerOn with its HTTP port taken: %v", err)
	}
	defer s.kill()
	if s.base == "http://127.0.0.1:"+strconv.Itoa(takenPort) {
		t.Errorf("the server is on the taken port %d", takenPort)
	}
	if calls != 6 {
		t.Errorf("%d ports picked, want 6 (two starts of three ports each)", calls)
	}

	// a server that cannot start for another reason is not started again
	calls = 0
	if _, err := startServerOn(ctx, filepath.Join(t.TempDir(), "no-such-binary"), t.TempDir(), true, ""); err == nil {
		t.Error("a missing binary started")
	}
	if calls != 3 {
		t.Errorf("%d ports picked for a binary that does not exist, want 3 (one try)", calls)
	}
}
