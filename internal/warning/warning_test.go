package warning_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/warning"
)

const rules = `rules:
  - id: trimmu-forecast
    name: Trimmu forecast
    kind: threshold
    forecast: true
    horizon: 48h
    datastreams: [2]
    levels:
      - {name: High, value: 300000, severity: Severe, urgency: Expected, certainty: Likely, event: Flood}
    area: {desc: Chenab at Trimmu, circles: [{center: [31.14, 72.15], radiusKm: 25}]}
    autoIssue: true
    templates:
      en: {headline: "{{.Level}} flood expected at {{.Station}} in {{.LeadTime}}"}
`

// A forecast datastream's values for future times make a forecast rule fire with the lead
// time in the alert; the engine's state is saved and restored.
func TestForecastRuleIssuesWithLeadTime(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewAlerts(db)
	now := time.Date(2025, 8, 28, 6, 0, 0, 0, time.UTC)
	r := &warning.Runner{Store: st, Now: func() time.Time { return now }}
	svc := &alert.Service{Store: st, Rules: r.Rule, Now: func() time.Time { return now }, Config: alert.Config{Node: "t"}}
	r.Alerts = svc
	parsed, err := rule.ParseYAML("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	if err := warning.Apply(ctx, st, "", "admin/key-1", parsed); err != nil {
		t.Fatal(err)
	}
	if err := r.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// the routed wave: 320,000 cusecs expected at Trimmu in 30 hours
	at := now.Add(30 * time.Hour)
	res, _ := json.Marshal(320000)
	b := &sensing.ObsBatch{V: 1, Datastream: 2, Accepted: now, Obs: []sensing.ObsItem{{ID: 1, PhenomenonTime: at.Format(time.RFC3339), Start: at, End: at, Result: res}}}
	if err := r.Handle(ctx, b); err != nil {
		t.Fatal(err)
	}
	as, err := st.ListAlerts(ctx, alert.Filter{})
	if err != nil || len(as) != 1 {
		t.Fatalf("alerts: %v %v", as, err)
	}
	a, _ := st.GetAlert(ctx, as[0].ID)
	if a.State != alert.Issued {
		t.Fatalf("state %s", a.State)
	}
	xml := string(a.Issued[0].XML)
	if !strings.Contains(xml, "<onset>2025-08-29T12:00:00-00:00</onset>") || !strings.Contains(xml, "<certainty>Likely</certainty>") {
		t.Errorf("forecast alert lacks the onset 30 h ahead:\n%s", xml)
	}
	if err := r.Save(ctx); err != nil {
		t.Fatal(err)
	}
	if snap, err := st.LoadEngineState(ctx); err != nil || len(snap) == 0 {
		t.Errorf("state not saved: %v", err)
	}
	// a datastream cannot be both forecast and observed
	bad := append(parsed, rule.Rule{ID: "trimmu-observed", Name: "x", Kind: rule.Threshold, Datastreams: []int64{2},
		Levels: parsed[0].Levels, Area: parsed[0].Area})
	bad[1].Levels = []rule.Level{{Name: "High", Value: 300000, Severity: rule.Severe, Urgency: rule.Immediate, Certainty: rule.Observed, Event: "Flood"}}
	if err := warning.Apply(ctx, st, "", "admin/key-1", bad); err == nil || !strings.Contains(err.Error(), "forecast") {
		t.Errorf("mixed forecast/observed datastream: %v", err)
	}
}

// A stored rule that no longer validates — a circle of radius 0 was accepted before degenerate
// areas were refused — is left out with an error logged; the node's other rules still load.
func TestLoadSkipsAStoredRuleThatNoLongerValidates(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewAlerts(db)
	parsed, err := rule.ParseYAML("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	old := parsed[0]
	old.ID, old.Area.Circles = "saved-before", []rule.Circle{{Center: rule.LatLon{Lat: 31.14, Lon: 72.15}, RadiusKm: 0}}
	if err := warning.Apply(ctx, st, "", "admin/key-1", []rule.Rule{parsed[0], old}); err == nil || !strings.Contains(err.Error(), "area.circles[0].radiusKm: radius 0 km") {
		t.Fatalf("Apply took a circle of radius 0: %v", err)
	}
	if err := st.SaveRules(ctx, "", "admin/key-1", []rule.Rule{parsed[0], old}); err != nil { // as an earlier version saved them
		t.Fatal(err)
	}
	var log strings.Builder
	r := &warning.Runner{Store: st, Log: slog.New(slog.NewTextHandler(&log, nil))}
	if err := r.Load(ctx); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if _, ok := r.Rule("trimmu-forecast"); !ok {
		t.Error("the valid rule was not loaded")
	}
	if _, ok := r.Rule("saved-before"); ok {
		t.Error("the rule with a circle of radius 0 was loaded")
	}
	if !strings.Contains(log.String(), "level=ERROR msg=rule_not_loaded rule=saved-before") {
		t.Errorf("log: %s", log.String())
	}
}
