package bus

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
)

// duplicateKey returns the first key that a JSON object line holds twice ("" when none): the
// JSON handler writes what each With adds, so a logger derived twice with the same key writes
// it twice, which JSON decoders take as the last value or refuse.
func duplicateKey(t *testing.T, line []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("not a JSON object: %q", line)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		k := tok.(string)
		if seen[k] {
			return k
		}
		seen[k] = true
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
	}
	return ""
}

// The embedded NATS server's log lines go to the bus's logger as the node gives it (with its
// component) with "source":"nats", never a second "component": every line is JSON without a
// key given twice.
func TestNATSLogNoDuplicateKeys(t *testing.T) {
	keys, _ := keyStore(t, "sqlite")
	logs := &logBuf{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	b, err := Open(ctx, Options{Node: "n1", DataDir: t.TempDir(), ClientAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		Auth: &auth.Authenticator{Store: keys}, Keys: keys,
		Log: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("component", "bus")})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	nats := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		if k := duplicateKey(t, []byte(line)); k != "" {
			t.Errorf("key %q twice: %s", k, line)
		}
		if strings.Contains(line, `"source":"nats"`) {
			nats++
		}
	}
	if nats == 0 {
		t.Errorf("no NATS server line logged:\n%s", logs)
	}
}
