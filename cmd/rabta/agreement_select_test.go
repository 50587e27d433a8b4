package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

// rabta federation agreements create says how many Datastreams the agreement selects now
// (selectedDatastreams, as the exporter resolves the selection) and warns on stderr when it
// is none — the agreement is kept all the same; an agreement for alerts only selects none by
// design, and is not warned about. It warns too of a retention shorter than the back-fill.
func TestAgreementsCreateSaysWhatItSelects(t *testing.T) {
	noDataDir(t)
	dir := t.TempDir()
	key, _, err := inProcess(t, "federation", "key", "--data-dir", t.TempDir()) // the partner's
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := inProcess(t, "federation", "partners", "add", "--node", "karachi", "--nkey", strings.TrimSpace(key), "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	storetest.SeedDatastreams(t, db, auth.NodeOrganisation, 1, 2) // Thing 1, ObservedProperty 1
	storetest.SeedDatastreams(t, db, auth.NodeOrganisation, 3)    // Thing 2, ObservedProperty 2
	db.Close()
	const head = `{"providerOrganisation":"admin","consumerOrganisation":"ndma","consumerNode":"karachi","purpose":"test","validFrom":"2026-01-01T00:00:00Z",`
	for i, c := range []struct {
		body     string
		selected string // the member in the answer; "" none
		warn     string // the warning's member; "" none
	}{
		{`"resolution":"raw","selection":{"things":[1]}}`, `"selectedDatastreams": 2`, ""},
		// Datastream 1 exists, and ObservedProperty 2, but 1 is not of 2: it selects nothing
		{`"resolution":"raw","selection":{"datastreams":[1],"observedProperties":[2]}}`, `"selectedDatastreams": 0`, "selection: picks no Datastream"},
		// no station there
		{`"resolution":"raw","selection":{"area":{"type":"Polygon","coordinates":[[[-30,10],[-29,10],[-29,11],[-30,11],[-30,10]]]}}}`, `"selectedDatastreams": 0`, "selection: picks no Datastream"},
		{`"selection":{"alerts":true}}`, "", ""},
		// kept for an hour, back-filled from January: the consumer would purge the back-fill
		{`"resolution":"raw","retention":"1h","selection":{"things":[1]}}`, `"selectedDatastreams": 2`, "retention: 1h is shorter than the back-fill from validFrom 2026-01-01T00:00:00Z"},
		// kept long enough: no warning
		{`"resolution":"raw","retention":"3650d","selection":{"things":[1]}}`, `"selectedDatastreams": 2`, ""},
	} {
		f := filepath.Join(t.TempDir(), "a.json")
		if err := os.WriteFile(f, []byte(head+c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := inProcess(t, "federation", "agreements", "create", f, "--data-dir", dir)
		var a struct {
			ID       int64 `json:"id"`
			Selected *int  `json:"selectedDatastreams"`
		}
		if err != nil || json.Unmarshal([]byte(out), &a) != nil || a.ID != int64(i+1) {
			t.Fatalf("create %s: %v\n%s%s", c.body, err, out, errOut)
		}
		if c.selected == "" && strings.Contains(out, "selectedDatastreams") || c.selected != "" && !strings.Contains(out, c.selected) {
			t.Errorf("create %s: %s, want %q", c.body, out, c.selected)
		}
		if warned := strings.Contains(errOut, "warning: agreement "); warned != (c.warn != "") || !strings.Contains(errOut, c.warn) ||
			strings.Contains(out, `"warnings"`) != (c.warn != "") {
			t.Errorf("create %s: stderr %q, answer %s, want the warning %q", c.body, errOut, out, c.warn)
		}
	}
	// kept all the same, and listed without the count (it is create's, not stored)
	out, _, err := inProcess(t, "federation", "agreements", "list", "--data-dir", dir)
	if err != nil || strings.Count(out, `"id"`) != 6 || strings.Contains(out, "selectedDatastreams") || strings.Contains(out, "warnings") {
		t.Errorf("agreements list: %v\n%s", err, out)
	}
}
