package node

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/rule"
)

// Rules saved by another process (rabta rules apply writes the store, not the node) run in a
// running node within about a second, even with a long tick: the warning engine reads the
// rules' version every second and the rules when it changed.
func TestRulesFromAnotherProcessWithinASecond(t *testing.T) {
	dir := t.TempDir()
	n, err := New(t.Context(), Options{ID: "reload", DataDir: dir, HTTPAddr: "127.0.0.1:0", TickEvery: time.Hour,
		AdminKey: "reload-test-admin-key-0123456789", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	other, err := OpenStores(t.Context(), dir, "", nil) // the command line's own handle on the store
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	rules, err := rule.ParseYAML("rules.yaml", []byte(`rules:
  - {id: tarbela-high, name: Tarbela, kind: threshold, datastreams: [1], levels: [{name: High, value: 5, severity: Severe, urgency: Expected, certainty: Observed, event: Flood}],
     area: {desc: Tarbela, circles: [{center: [34.1, 72.7], radiusKm: 5}]}, templates: {en: {headline: "{{.Level}} at {{.Station}}"}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	saved := time.Now()
	if err := other.Alerts.SaveRules(t.Context(), "", "cli/test", rules); err != nil {
		t.Fatal(err)
	}
	for {
		if _, ok := n.runner.Rule("tarbela-high"); ok {
			break
		}
		if time.Since(saved) > 3*time.Second {
			t.Fatal("a rule saved by another process is not running after 3 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("running after %v", time.Since(saved).Round(time.Millisecond))
}
