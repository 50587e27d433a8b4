package alert_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

var khanki = rule.Rule{ID: "khanki", Name: "Khanki", Kind: rule.Threshold, Datastreams: []int64{1}, Status: rule.Exercise,
	Levels: []rule.Level{
		{Name: "Low", Value: 100000, Severity: rule.Minor, Urgency: rule.Expected, Certainty: rule.Observed, Event: "Flood"},
		{Name: "Exceptionally High", Value: 600000, Severity: rule.Extreme, Urgency: rule.Immediate, Certainty: rule.Observed, Event: "Flood"},
	},
	Area: rule.Area{Desc: "Chenab near Khanki", Polygons: [][]rule.LatLon{{{Lat: 32.3, Lon: 73.9}, {Lat: 32.5, Lon: 73.9}, {Lat: 32.5, Lon: 74.1}, {Lat: 32.3, Lon: 73.9}}}},
	Templates: map[string]rule.Template{
		"en": {Headline: "{{.Level}} flood at {{.Station}}", Description: "{{.Value}} {{.Unit}}", Instruction: "Move to higher ground."},
		"zh": {Headline: "{{.Station}}：{{.Level}}级洪水"},
	}}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(t *testing.T) (*alert.Service, *sqlq.Alerts, *clock) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := sqlite.NewAlerts(db)
	c := &clock{t: time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)}
	s := &alert.Service{Store: st, Now: c.now, Config: alert.Config{Node: "test", FourEyes: true, Expiry: 6 * time.Hour},
		Rules: func(id string) (rule.Rule, bool) { return khanki, id == khanki.ID }}
	return s, st, c
}

func trig(kind rule.TriggerKind, level int, name string, v float64, at time.Time) rule.Trigger {
	return rule.Trigger{RuleID: "khanki", Kind: kind, Level: level, LevelName: name, Value: v, Datastream: 1, ObservedAt: at, At: at, Cause: "test"}
}

// The life cycle of one warning, step by step, with the CAP each step issues.
func TestLifeCycle(t *testing.T) {
	ctx := context.Background()
	s, st, c := newService(t)
	steps := []struct {
		do        func() (*alert.Alert, error)
		state     alert.State
		draftType cap.MsgType
		issued    int
	}{
		{func() (*alert.Alert, error) { return s.Trigger(ctx, trig(rule.Fire, 0, "Low", 150000, c.t)) }, alert.Draft, cap.MsgAlert, 0},
		{func() (*alert.Alert, error) {
			return s.Trigger(ctx, trig(rule.Escalate, 1, "Exceptionally High", 700000, c.t))
		}, alert.Draft, cap.MsgAlert, 0},
		{func() (*alert.Alert, error) { return s.Approve(ctx, 1, "ndma/key-2", "checked") }, alert.Issued, "", 1},
		{func() (*alert.Alert, error) { return s.Trigger(ctx, trig(rule.DeEscalate, 0, "Low", 200000, c.t)) }, alert.Issued, cap.MsgUpdate, 1},
		{func() (*alert.Alert, error) { return s.Trigger(ctx, trig(rule.Clear, -1, "", 50000, c.t)) }, alert.Issued, cap.MsgCancel, 1},
		{func() (*alert.Alert, error) { return s.Approve(ctx, 1, "ndma/key-2", "all clear confirmed") }, alert.Cancelled, "", 2},
	}
	for i, step := range steps {
		c.t = c.t.Add(10 * time.Minute)
		if _, err := step.do(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		a, err := st.GetAlert(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if a.State != step.state || a.DraftType != step.draftType || len(a.Issued) != step.issued {
			t.Fatalf("step %d: state %s draft %q issued %d; want %s %q %d", i, a.State, a.DraftType, len(a.Issued), step.state, step.draftType, step.issued)
		}
	}
	a, _ := st.GetAlert(ctx, 1)
	first, err := cap.Unmarshal(a.Issued[0].XML)
	if err != nil {
		t.Fatal(err)
	}
	if first.Status != cap.StatusExercise || first.Infos[0].Severity != "Extreme" || first.Infos[0].Headline != "Exceptionally High flood at Khanki" ||
		len(first.Infos) != 2 || first.Infos[1].Language != "zh" || len(first.Infos[0].Areas[0].Polygons) != 1 {
		t.Errorf("first message: %+v", first)
	}
	last, _ := cap.Unmarshal(a.Issued[1].XML)
	if last.MsgType != cap.MsgCancel || len(last.References) != 1 || last.References[0].Identifier != first.Identifier {
		t.Errorf("cancel: %+v", last)
	}
	ts, _ := st.Transitions(ctx, 1)
	if len(ts) != 6 || ts[2].By != "ndma/key-2" || !strings.Contains(ts[2].Why, "checked") || ts[2].Identifier == "" {
		t.Errorf("transitions: %+v", ts)
	}
	if _, err := s.Approve(ctx, 1, "x", ""); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("approving with no draft: %v", err)
	}
}

func TestFourEyesAndExpiry(t *testing.T) {
	ctx := context.Background()
	s, st, c := newService(t)
	khanki.AutoIssue = true
	defer func() { khanki.AutoIssue = false }()
	if _, err := s.Trigger(ctx, trig(rule.Fire, 0, "Low", 150000, c.t)); err != nil {
		t.Fatal(err)
	}
	a, _ := st.GetAlert(ctx, 1)
	if a.State != alert.Issued {
		t.Fatalf("auto-issue: %s", a.State)
	}
	// a person's cancel of a person's... the author of a draft may not approve it
	a.Draft, a.DraftType, a.DraftBy = &cap.Alert{}, cap.MsgUpdate, "ndma/key-7"
	if err := st.SaveAlert(ctx, a, alert.Transition{AlertID: 1, From: alert.Issued, To: alert.Issued, By: "ndma/key-7", Why: "manual draft", At: c.t}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approve(ctx, 1, "ndma/key-7", "mine"); apperr.KindOf(err) != apperr.Forbidden {
		t.Errorf("four eyes: %v", err)
	}
	if _, err := s.Reject(ctx, 1, "ndma/key-8", "not needed"); err != nil {
		t.Fatal(err)
	}
	// the feed lists it until it expires
	if ms, _ := st.ActiveMessages(ctx, c.t, false); len(ms) != 1 {
		t.Errorf("active: %d", len(ms))
	}
	c.t = c.t.Add(7 * time.Hour)
	if err := s.ExpireDue(ctx); err != nil {
		t.Fatal(err)
	}
	if a, _ := st.GetAlert(ctx, 1); a.State != alert.Expired {
		t.Errorf("after expiry: %s", a.State)
	}
	if ms, _ := st.ActiveMessages(ctx, c.t, false); len(ms) != 0 {
		t.Errorf("expired alert still active")
	}
}

func TestTemplatesCheckedWhenApplied(t *testing.T) {
	bad := khanki
	bad.Templates = map[string]rule.Template{"en": {Headline: "{{.Stattion}} flood"}}
	if err := alert.CheckTemplates(bad); err == nil || !strings.Contains(err.Error(), "templates.en.headline") {
		t.Errorf("misspelt template field: %v", err)
	}
	bad.Templates = map[string]rule.Template{"ur": {Headline: "{{.Station"}}
	if err := alert.CheckTemplates(bad); err == nil {
		t.Error("unclosed template accepted")
	}
	if err := alert.CheckTemplates(khanki); err != nil {
		t.Error(err)
	}
}
