package node_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
)

// bootstrapRun is one start of a node on dir with adminKey (empty: none), its console and its
// structured log (JSON) captured apart.
type bootstrapRun struct {
	console bytes.Buffer // written by New only
	log     lockedBuffer // written by the node's goroutines while the test reads it
	n       *node.Node
	err     error
}

// lockedBuffer is a bytes.Buffer that the node's goroutines may write while a test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// Bytes returns a copy of what was written so far.
func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

func (l *lockedBuffer) String() string { return string(l.Bytes()) }

func startBootstrap(t *testing.T, dir, adminKey string, serve bool) *bootstrapRun {
	t.Helper()
	r := &bootstrapRun{}
	r.n, r.err = node.New(t.Context(), node.Options{ID: "boot", DataDir: dir, HTTPAddr: "127.0.0.1:0", AdminKey: adminKey,
		Console: &r.console, Log: slog.New(slog.NewJSONHandler(&r.log, nil))})
	if r.err != nil {
		return r
	}
	if serve {
		if err := r.n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// events returns the log's records named msg.
func (r *bootstrapRun) events(t *testing.T, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(r.log.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("a log line that is not JSON: %q", sc.Text())
		}
		if m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

func status(t *testing.T, n *node.Node, key string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+n.Addr().String()+"/api/v1/rules", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// The bootstrap admin key: printed once on the console (the terminal), never in the structured
// log, which gives its id only. Setting RABTA_ADMIN_KEY replaces it, and changing
// RABTA_ADMIN_KEY replaces the earlier one: the old key is revoked (401 at once), the log says
// which key ids were revoked for which, and there is one valid bootstrap key, not two. The same
// RABTA_ADMIN_KEY again changes nothing; a revoked one is refused.
func TestBootstrapKeyReplaced(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := "first-admin-key-0123456789abcdef", "second-admin-key-0123456789abcdef"

	// first start, no key set: one printed on the console
	r := startBootstrap(t, dir, "", true)
	if r.err != nil {
		t.Fatal(r.err)
	}
	printed := regexp.MustCompile(`rbt_[0-9a-f]+_[A-Za-z0-9_-]+`).FindString(r.console.String())
	if printed == "" {
		t.Fatalf("no key on the console: %q", r.console.String())
	}
	// a console that is not a terminal (the file bootstrap-admin.key) holds the bare key, so
	// that KEY=$(cat FILE) works
	if r.console.String() != printed+"\n" {
		t.Errorf("console (not a terminal) = %q, want the bare key and a newline", r.console.String())
	}
	if strings.Contains(r.log.String(), printed) || strings.Contains(r.log.String(), strings.SplitN(printed, "_", 3)[2]) {
		t.Errorf("the bootstrap key is in the structured log:\n%s", r.log.String())
	}
	created := r.events(t, "admin_key_created")
	if len(created) != 1 || created[0]["key_id"] != float64(1) {
		t.Errorf("admin_key_created: %v", created)
	}
	if st := status(t, r.n, printed); st != 200 {
		t.Errorf("the printed key: %d", st)
	}
	r.n.Close()

	// RABTA_ADMIN_KEY set: it replaces the printed key
	r = startBootstrap(t, dir, keyA, true)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.console.Len() != 0 {
		t.Errorf("console with RABTA_ADMIN_KEY: %q", r.console.String())
	}
	if st := status(t, r.n, printed); st != 401 {
		t.Errorf("the replaced printed key: %d, want 401", st)
	}
	if st := status(t, r.n, keyA); st != 200 {
		t.Errorf("RABTA_ADMIN_KEY: %d", st)
	}
	rep := r.events(t, "admin_key_replaced")
	if len(rep) != 1 || rep[0]["key_id"] != float64(2) || rep[0]["level"] != "WARN" || !jsonEq(rep[0]["revoked_key_ids"], "[1]") {
		t.Errorf("admin_key_replaced: %v", rep)
	}
	r.n.Close()

	// RABTA_ADMIN_KEY changed: the new key replaces the old
	r = startBootstrap(t, dir, keyB, true)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if st := status(t, r.n, keyA); st != 401 {
		t.Errorf("the old RABTA_ADMIN_KEY: %d, want 401", st)
	}
	if st := status(t, r.n, keyB); st != 200 {
		t.Errorf("the new RABTA_ADMIN_KEY: %d", st)
	}
	if rep := r.events(t, "admin_key_replaced"); len(rep) != 1 || rep[0]["key_id"] != float64(3) || !jsonEq(rep[0]["revoked_key_ids"], "[2]") {
		t.Errorf("admin_key_replaced: %v", rep)
	}
	for _, k := range []string{keyA, keyB, printed} {
		if strings.Contains(r.log.String(), k) {
			t.Errorf("a key in the log:\n%s", r.log.String())
		}
	}
	r.n.Close()

	// the same key again: nothing changes
	r = startBootstrap(t, dir, keyB, false)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if ev := append(r.events(t, "admin_key_replaced"), r.events(t, "admin_key_imported")...); len(ev) != 0 {
		t.Errorf("the same RABTA_ADMIN_KEY again: %v", ev)
	}
	r.n.Close()

	// a revoked key is refused, with a message that says why
	r = startBootstrap(t, dir, keyA, false)
	if r.err == nil || !strings.Contains(r.err.Error(), "never valid again") || strings.Contains(r.err.Error(), keyA) {
		t.Errorf("a revoked RABTA_ADMIN_KEY: %v", r.err)
		if r.n != nil {
			r.n.Close()
		}
	}

	st, err := node.OpenStores(t.Context(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	keys, err := st.Keys.Keys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var valid, rows int
	for _, k := range keys {
		if k.Name == "bootstrap" {
			rows++
			if k.RevokedAt == nil {
				valid++
			}
		}
	}
	if rows != 3 || valid != 1 || keys[len(keys)-1].RevokedAt != nil || keys[len(keys)-1].Role != auth.Admin {
		t.Errorf("bootstrap keys: %d rows, %d valid; want 3 and 1: %+v", rows, valid, keys)
	}
}

func jsonEq(v any, want string) bool {
	b, _ := json.Marshal(v)
	return string(b) == want
}

// The bootstrap key file of a node whose stderr is not a terminal, as an operator uses it:
// KI=$(cat DIR/bootstrap-admin.key), then Authorization: Bearer $KI — one line, the key only.
func TestBootstrapKeyFileHoldsTheKey(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "bootstrap-admin.key")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(t.Context(), node.Options{ID: "boot", DataDir: dir, HTTPAddr: "127.0.0.1:0", Console: f, Log: slog.New(slog.DiscardHandler)})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSuffix(string(b), "\n") // what $(cat FILE) gives
	if !regexp.MustCompile(`^rbt_[0-9a-f]+_[A-Za-z0-9_-]+$`).MatchString(key) {
		t.Fatalf("%s holds %q, want the bare key on one line", path, b)
	}
	if st := status(t, n, key); st != 200 {
		t.Errorf("Authorization: Bearer $(cat %s): %d, want 200", path, st)
	}
}
