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
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
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
	storetest.SeedDatastreams(t, db, "admin", 1, 2, 3)
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

// Rules of several organisations live side by side: each Apply replaces one organisation's
// rules, is checked with the others' (a datastream read both as a forecast and as
// observations, a rule id of another organisation: refused, nothing saved) and records who
// applied it; an organisation name rules cannot belong to is refused with the reason.
func TestApplyPerOrganisation(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := sqlite.NewAlerts(db)
	storetest.SeedDatastreams(t, db, "pdma", 2)
	storetest.SeedDatastreams(t, db, "ndma", 3)
	parsed, err := rule.ParseYAML("rules.yaml", []byte(rules))
	if err != nil {
		t.Fatal(err)
	}
	forecast := parsed[0] // reads datastream 2 as a forecast
	observed := rule.Rule{ID: "observed", Name: "x", Kind: rule.Threshold, Datastreams: []int64{2}, Area: forecast.Area,
		Levels: []rule.Level{{Name: "High", Value: 1, Severity: rule.Severe, Urgency: rule.Immediate, Certainty: rule.Observed, Event: "Flood"}}}
	other := observed
	other.ID, other.Datastreams = "other", []int64{3}
	missing := observed
	missing.ID, missing.Datastreams = "missing", []int64{3, 99}
	foreign := forecast
	foreign.ID = "ndma-forecast" // reads pdma's datastream 2
	if err := warning.Apply(ctx, st, "pdma", "pdma/key-7", []rule.Rule{forecast}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		org   string
		rules []rule.Rule
		want  string
	}{
		{"ndma", []rule.Rule{observed}, `datastream 2 is read as a forecast by one rule and as observations by rule trimmu-forecast of organisation "pdma"`},
		{"ndma", []rule.Rule{other, forecast}, `rule id "trimmu-forecast" is a rule of organisation "pdma"`},
		{"ndma", []rule.Rule{missing}, "rule missing: datastream 99 does not exist"},
		{"ndma", []rule.Rule{other, foreign}, `rule ndma-forecast: datastream 2 belongs to organisation "pdma"; a rule of organisation "ndma" reads only its own organisation's datastreams`},
		{strings.Repeat("x", 65), []rule.Rule{other}, "organisation: 65 bytes, over the limit of 64"},
		{" ndma", []rule.Rule{other}, "spaces at either end"},
		{"nd\x00ma", []rule.Rule{other}, "control characters"},
		{"nd\xffma", []rule.Rule{other}, "not UTF-8"},
	} {
		if err := warning.Apply(ctx, st, c.org, "x/key-1", c.rules); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Apply for %q: %v, want %q", c.org, err, c.want)
		}
	}
	if err := warning.Apply(ctx, st, "ndma", "ndma/key-3", []rule.Rule{other}); err != nil {
		t.Fatal(err)
	}
	rs, _, err := st.LoadRules(ctx)
	if err != nil || len(rs) != 2 || rs[0].ID != "other" || rs[0].Organisation != "ndma" || rs[1].ID != "trimmu-forecast" || rs[1].Organisation != "pdma" {
		t.Fatalf("rules: %+v %v", rs, err)
	}
	cs, err := st.RuleChanges(ctx, "other")
	if err != nil || len(cs) != 1 || cs[0].By != "ndma/key-3" || cs[0].Change != "created" || cs[0].Organisation != "ndma" {
		t.Errorf("changes: %+v %v", cs, err)
	}
	// the node-wide organisation's rules may read any organisation's datastreams
	nodeWide := other
	nodeWide.ID = "node-wide"
	if err := warning.Apply(ctx, st, auth.NodeOrganisation, "admin/key-1", []rule.Rule{nodeWide}); err != nil {
		t.Errorf("a node-wide rule on ndma's datastream: %v", err)
	}
	if got := warning.CLIName(""); got != "cli/unknown" {
		t.Errorf("CLIName: %s", got)
	}
}
