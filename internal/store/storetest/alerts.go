package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/warning"
)

// RunAlerts runs the alert store's conformance tests: open returns a fresh, empty store's
// alert store and warning store (both stores' Alerts implement both).
func RunAlerts(t *testing.T, open func(t *testing.T) (alert.Store, warning.Store)) {
	tests := []struct {
		name string
		fn   func(t *testing.T, a alert.Store)
	}{
		{"Lifecycle", testAlertLifecycle},
		{"ActiveAndExpired", testAlertActive},
		{"List", testAlertList},
		{"ListByReader", testAlertListByReader},
		{"Feed", testAlertFeed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, _ := open(t)
			tt.fn(t, a)
		})
	}
	t.Run("Rules", func(t *testing.T) {
		_, w := open(t)
		testRules(t, w)
	})
	t.Run("EngineState", func(t *testing.T) {
		_, w := open(t)
		testEngineState(t, w)
	})
	t.Run("Owners", func(t *testing.T) {
		a, w := open(t)
		testOwners(t, a, w)
	})
}

var t0 = time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.UTC)

func newAlert(ruleID string, at time.Time, operational bool) *alert.Alert {
	return &alert.Alert{RuleID: ruleID, State: alert.Draft, Status: cap.StatusActual, Operational: operational, Level: 1, LevelName: "warning",
		Draft: &cap.Alert{Identifier: "draft-" + ruleID, Sender: "rabta@example.org", Sent: at, Status: cap.StatusActual, MsgType: cap.MsgAlert,
			Codes: []string{"c1"}, Note: "note ü"},
		DraftType: cap.MsgAlert, DraftBy: "rule", Created: at, Updated: at}
}

// issue moves a to issued with a message expiring at exp.
func issue(t *testing.T, s alert.Store, a *alert.Alert, ident string, at, exp time.Time) {
	t.Helper()
	from := a.State
	a.State, a.Draft, a.DraftType, a.DraftBy, a.Updated = alert.Issued, nil, "", "", at
	msg := &alert.Message{AlertID: a.ID, Identifier: ident, Sender: "rabta@example.org", Sent: at, Expires: exp, MsgType: cap.MsgAlert,
		Status: cap.StatusActual, Operational: a.Operational, Headline: "Flood " + ident, XML: []byte("<alert>" + ident + "</alert>\x00\xff")}
	if err := s.SaveAlert(ctx(), a, alert.Transition{From: from, To: alert.Issued, By: "approver", Why: "approved", At: at, Identifier: ident}, msg); err != nil {
		t.Fatal(err)
	}
}

func testAlertLifecycle(t *testing.T, s alert.Store) {
	a := newAlert("r1", t0, false)
	id, err := s.CreateAlert(ctx(), a, alert.Transition{From: "", To: alert.Draft, By: "rule", Why: "level 1", At: t0})
	if err != nil || id <= 0 {
		t.Fatalf("create: %d %v", id, err)
	}
	a.ID = id
	// one open alert per rule
	if _, err := s.CreateAlert(ctx(), newAlert("r1", t0, false), alert.Transition{To: alert.Draft, At: t0}); kind(err) != apperr.Conflict {
		t.Errorf("second open alert of a rule: %v, want Conflict", err)
	}
	got, err := s.GetAlert(ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	if got.RuleID != "r1" || got.State != alert.Draft || got.Status != cap.StatusActual || got.Operational || got.Level != 1 || got.LevelName != "warning" ||
		got.DraftType != cap.MsgAlert || got.DraftBy != "rule" || !got.Created.Equal(t0) || !got.Updated.Equal(t0) || len(got.Issued) != 0 {
		t.Errorf("got %+v", got)
	}
	if got.Draft == nil || got.Draft.Identifier != "draft-r1" || got.Draft.Note != "note ü" || !got.Draft.Sent.Equal(t0) || fmt.Sprint(got.Draft.Codes) != "[c1]" {
		t.Errorf("draft %+v", got.Draft)
	}
	if o, err := s.OpenAlert(ctx(), "r1"); err != nil || o.ID != id {
		t.Errorf("open: %v %v", o, err)
	}
	if _, err := s.OpenAlert(ctx(), "r2"); kind(err) != apperr.NotFound {
		t.Errorf("open of a rule without alert: %v", err)
	}
	if _, err := s.GetAlert(ctx(), id+1000); kind(err) != apperr.NotFound {
		t.Errorf("get of a missing alert: %v", err)
	}
	missing := *a
	missing.ID = id + 1000
	if err := s.SaveAlert(ctx(), &missing, alert.Transition{To: alert.Issued, At: t0}, nil); kind(err) != apperr.NotFound {
		t.Errorf("save of a missing alert: %v", err)
	}

	t1 := t0.Add(time.Minute)
	issue(t, s, a, "msg-1", t1, t1.Add(time.Hour))
	// an update drafted, then issued
	t2 := t1.Add(time.Minute)
	a.State, a.Level, a.LevelName, a.Updated = alert.Draft, 2, "danger", t2
	a.Draft, a.DraftType, a.DraftBy = &cap.Alert{Identifier: "upd", MsgType: cap.MsgUpdate}, cap.MsgUpdate, "rule"
	if err := s.SaveAlert(ctx(), a, alert.Transition{From: alert.Issued, To: alert.Draft, By: "rule", Why: "level 2", At: t2}, nil); err != nil {
		t.Fatal(err)
	}
	got, err = s.GetAlert(ctx(), id)
	if err != nil || got.State != alert.Draft || got.Level != 2 || got.LevelName != "danger" || got.Draft == nil || got.Draft.MsgType != cap.MsgUpdate || len(got.Issued) != 1 {
		t.Fatalf("after update draft: %+v %v", got, err)
	}
	t3 := t2.Add(time.Minute)
	issue(t, s, a, "msg-2", t3, t3.Add(time.Hour))
	got, err = s.GetAlert(ctx(), id)
	if err != nil || got.State != alert.Issued || got.Draft != nil || got.DraftType != "" || got.DraftBy != "" || len(got.Issued) != 2 {
		t.Fatalf("after issue: %+v %v", got, err)
	}
	m := got.Issued[0]
	if m.AlertID != id || m.Identifier != "msg-1" || m.Sender != "rabta@example.org" || !m.Sent.Equal(t1) || !m.Expires.Equal(t1.Add(time.Hour)) ||
		m.MsgType != cap.MsgAlert || m.Status != cap.StatusActual || m.Operational || m.Headline != "Flood msg-1" || string(m.XML) != "<alert>msg-1</alert>\x00\xff" {
		t.Errorf("message %+v", m)
	}
	if got.Last().Identifier != "msg-2" {
		t.Errorf("last %+v", got.Last())
	}
	if m, err := s.MessageByIdentifier(ctx(), "msg-2"); err != nil || m.AlertID != id || !m.Sent.Equal(t3) {
		t.Errorf("by identifier: %+v %v", m, err)
	}
	if _, err := s.MessageByIdentifier(ctx(), "nope"); kind(err) != apperr.NotFound {
		t.Errorf("missing message: %v", err)
	}
	// an identifier is issued once
	dup := &alert.Message{Identifier: "msg-2", Sent: t3, Expires: t3, MsgType: cap.MsgAlert, Status: cap.StatusActual, XML: []byte("x")}
	if err := s.SaveAlert(ctx(), a, alert.Transition{From: alert.Issued, To: alert.Issued, At: t3}, dup); err == nil {
		t.Error("a message identifier was stored twice")
	}
	if got, _ := s.GetAlert(ctx(), id); got == nil || len(got.Issued) != 2 {
		t.Errorf("a failed save left a message: %+v", got)
	}

	// cancelled: no longer open; the rule can open a new alert
	t4 := t3.Add(time.Minute)
	a.State, a.Updated = alert.Cancelled, t4
	if err := s.SaveAlert(ctx(), a, alert.Transition{From: alert.Issued, To: alert.Cancelled, By: "approver", Why: "all clear", At: t4}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenAlert(ctx(), "r1"); kind(err) != apperr.NotFound {
		t.Errorf("cancelled alert still open: %v", err)
	}
	id2, err := s.CreateAlert(ctx(), newAlert("r1", t4, false), alert.Transition{To: alert.Draft, By: "rule", At: t4})
	if err != nil || id2 <= id {
		t.Errorf("new alert after cancel: %d %v", id2, err)
	}

	ts, err := s.Transitions(ctx(), id)
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for _, tr := range ts {
		if tr.AlertID != id {
			t.Errorf("transition of alert %d", tr.AlertID)
		}
		steps = append(steps, fmt.Sprintf("%s>%s/%s/%s/%s", tr.From, tr.To, tr.By, tr.Identifier, tr.At.Sub(t0)))
	}
	want := "[>draft/rule//0s draft>issued/approver/msg-1/1m0s issued>draft/rule//2m0s draft>issued/approver/msg-2/3m0s issued>cancelled/approver//4m0s]"
	if fmt.Sprint(steps) != want {
		t.Errorf("transitions\n got %v\nwant %s", steps, want)
	}
	if ts[0].Why != "level 1" || ts[4].Why != "all clear" || ts[0].At.Location() != time.UTC {
		t.Errorf("transition details %+v %+v", ts[0], ts[4])
	}
	if ts, err := s.Transitions(ctx(), id+1000); err != nil || len(ts) != 0 {
		t.Errorf("transitions of a missing alert: %v %v", ts, err)
	}
}

func testAlertActive(t *testing.T, s alert.Store) {
	now := t0.Add(2 * time.Hour)
	mk := func(ruleID string, operational bool, sent, exp time.Time) *alert.Alert {
		a := newAlert(ruleID, sent, operational)
		id, err := s.CreateAlert(ctx(), a, alert.Transition{To: alert.Draft, At: sent})
		if err != nil {
			t.Fatal(err)
		}
		a.ID = id
		issue(t, s, a, "m-"+ruleID, sent, exp)
		return a
	}
	pub := mk("public", false, t0, now.Add(time.Hour))
	op := mk("operational", true, t0.Add(time.Minute), now.Add(time.Hour))
	old := mk("expired", false, t0.Add(2*time.Minute), now) // expires exactly now
	// an alert whose first message expired but whose update did not is active
	upd := mk("updated", false, t0.Add(3*time.Minute), t0.Add(time.Hour))
	issue(t, s, upd, "m-updated-2", t0.Add(90*time.Minute), now.Add(time.Hour))
	// a draft (never issued) is neither active nor expired
	if _, err := s.CreateAlert(ctx(), newAlert("draft", t0, false), alert.Transition{To: alert.Draft, At: t0}); err != nil {
		t.Fatal(err)
	}
	// a cancelled alert with an unexpired message is not active
	gone := mk("cancelled", false, t0, now.Add(time.Hour))
	gone.State = alert.Cancelled
	if err := s.SaveAlert(ctx(), gone, alert.Transition{From: alert.Issued, To: alert.Cancelled, At: now}, nil); err != nil {
		t.Fatal(err)
	}

	idents := func(ms []alert.Message, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.Identifier)
		}
		return fmt.Sprint(out)
	}
	if got := idents(s.ActiveMessages(ctx(), now, false)); got != "[m-updated-2 m-public]" {
		t.Errorf("active public %s", got)
	}
	if got := idents(s.ActiveMessages(ctx(), now, true)); got != "[m-updated-2 m-operational m-public]" {
		t.Errorf("active all %s", got)
	}
	exp, err := s.ExpiredAlerts(ctx(), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(exp) != 1 || exp[0].ID != old.ID || len(exp[0].Issued) != 1 || exp[0].Issued[0].Identifier != "m-expired" {
		t.Errorf("expired %+v", exp)
	}
	exp, err = s.ExpiredAlerts(ctx(), now.Add(2*time.Hour))
	if err != nil || len(exp) != 4 {
		t.Errorf("expired later: %d %v", len(exp), err)
	}
	_ = pub
	_ = op
}

func testAlertList(t *testing.T, s alert.Store) {
	var ids []int64
	for i := range 5 {
		at := t0.Add(time.Duration(i) * time.Minute)
		a := newAlert(fmt.Sprintf("r%d", i%3), at, false)
		id, err := s.CreateAlert(ctx(), a, alert.Transition{To: alert.Draft, At: at})
		if err != nil {
			t.Fatal(err)
		}
		a.ID = id
		ids = append(ids, id)
		if i < 3 { // withdraw, so that the rule can open another
			a.State, a.Draft = alert.Withdrawn, nil
			if err := s.SaveAlert(ctx(), a, alert.Transition{From: alert.Draft, To: alert.Withdrawn, At: at}, nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	list := func(f alert.Filter) string {
		t.Helper()
		as, err := s.ListAlerts(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			if len(a.Issued) != 0 {
				t.Errorf("list loaded messages")
			}
			out = append(out, fmt.Sprintf("%d:%s:%s", a.ID-ids[0], a.RuleID, a.State))
		}
		return fmt.Sprint(out)
	}
	if got := list(alert.Filter{}); got != "[4:r1:draft 3:r0:draft 2:r2:withdrawn 1:r1:withdrawn 0:r0:withdrawn]" {
		t.Errorf("all %s", got)
	}
	if got := list(alert.Filter{State: alert.Withdrawn, Limit: 2}); got != "[2:r2:withdrawn 1:r1:withdrawn]" {
		t.Errorf("withdrawn %s", got)
	}
	if got := list(alert.Filter{RuleID: "r1"}); got != "[4:r1:draft 1:r1:withdrawn]" {
		t.Errorf("rule r1 %s", got)
	}
	if got := list(alert.Filter{RuleID: "r1", State: alert.Draft, Limit: 5000}); got != "[4:r1:draft]" {
		t.Errorf("rule r1 drafts %s", got)
	}
	if got := list(alert.Filter{RuleID: "none"}); got != "[]" {
		t.Errorf("no rule %s", got)
	}
}

// testAlertListByReader: Filter.Reader leaves out the alerts of other organisations than the
// reader's that never issued a message (a draft, one withdrawn before issue), before the limit
// counts; an issued alert stays, with the draft waiting on it (the caller redacts that).
func testAlertListByReader(t *testing.T, s alert.Store) {
	mk := func(ruleID, org string, i int) *alert.Alert {
		t.Helper()
		at := t0.Add(time.Duration(i) * time.Minute)
		a := newAlert(ruleID, at, false)
		a.Organisation = org
		id, err := s.CreateAlert(ctx(), a, alert.Transition{To: alert.Draft, At: at})
		if err != nil {
			t.Fatal(err)
		}
		a.ID = id
		return a
	}
	issued := mk("pdma-issued", "pdma", 0)
	issue(t, s, issued, "m-pdma", t0, t0.Add(time.Hour))
	waiting := mk("ndma-update", "ndma", 1) // issued, an Update draft waiting on it
	issue(t, s, waiting, "m-ndma", t0.Add(time.Minute), t0.Add(time.Hour))
	waiting.Draft, waiting.DraftType, waiting.Updated = &cap.Alert{Identifier: "d", MsgType: cap.MsgUpdate}, cap.MsgUpdate, t0.Add(2*time.Minute)
	if err := s.SaveAlert(ctx(), waiting, alert.Transition{From: alert.Issued, To: alert.Issued, At: waiting.Updated}, nil); err != nil {
		t.Fatal(err)
	}
	gone := mk("ndma-withdrawn", "ndma", 3)
	gone.State, gone.Draft, gone.Updated = alert.Withdrawn, nil, t0.Add(3*time.Minute)
	if err := s.SaveAlert(ctx(), gone, alert.Transition{From: alert.Draft, To: alert.Withdrawn, At: gone.Updated}, nil); err != nil {
		t.Fatal(err)
	}
	mk("pdma-draft", "pdma", 4)
	mk("ndma-draft", "ndma", 5)
	list := func(f alert.Filter) string {
		t.Helper()
		as, err := s.ListAlerts(ctx(), f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range as {
			out = append(out, a.RuleID)
		}
		return fmt.Sprint(out)
	}
	all := "[ndma-draft pdma-draft ndma-withdrawn ndma-update pdma-issued]"
	for _, c := range []struct {
		name string
		f    alert.Filter
		want string
	}{
		{"no reader", alert.Filter{}, all},
		{"node-wide admin", alert.Filter{Reader: &alert.Reader{All: true}}, all},
		{"pdma", alert.Filter{Reader: &alert.Reader{Org: "pdma"}}, "[pdma-draft ndma-update pdma-issued]"},
		{"ndma", alert.Filter{Reader: &alert.Reader{Org: "ndma"}}, "[ndma-draft ndma-withdrawn ndma-update pdma-issued]"},
		{"no organisation", alert.Filter{Reader: &alert.Reader{}}, "[ndma-update pdma-issued]"},
		{"pdma, limit 2", alert.Filter{Reader: &alert.Reader{Org: "pdma"}, Limit: 2}, "[pdma-draft ndma-update]"},
		{"other, limit 1", alert.Filter{Reader: &alert.Reader{Org: "other"}, Limit: 1}, "[ndma-update]"},
		{"other, drafts", alert.Filter{Reader: &alert.Reader{Org: "other"}, State: alert.Draft}, "[]"},
		{"other, withdrawn", alert.Filter{Reader: &alert.Reader{Org: "other"}, State: alert.Withdrawn}, "[]"},
		{"ndma, withdrawn", alert.Filter{Reader: &alert.Reader{Org: "ndma"}, State: alert.Withdrawn}, "[ndma-withdrawn]"},
	} {
		if got := list(c.f); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// what others see of an issued alert (alert.Shown) is its issue, not the draft waiting on
	// it: they read it as of minute 1, and list it by that time
	if a, err := s.GetAlert(ctx(), waiting.ID); err != nil || a.Shown.Level != 1 || a.Shown.LevelName != "warning" ||
		!a.Shown.Updated.Equal(t0.Add(time.Minute)) || !a.Updated.Equal(t0.Add(2*time.Minute)) {
		t.Errorf("the alert with an Update waiting: %+v (shown %+v) %v", a, a.Shown, err)
	}
	late := mk("pdma-late", "pdma", 1)
	issue(t, s, late, "m-late", t0.Add(90*time.Second), t0.Add(time.Hour))
	for _, c := range []struct {
		org, want string
	}{
		{"ndma", "[ndma-update pdma-late pdma-issued]"}, // its own by its own time (minute 2)
		{"other", "[pdma-late ndma-update pdma-issued]"},
		{"", "[pdma-late ndma-update pdma-issued]"},
	} {
		if got := list(alert.Filter{Reader: &alert.Reader{Org: c.org}, State: alert.Issued}); got != c.want {
			t.Errorf("issued, as %q reads them: %s, want %s", c.org, got, c.want)
		}
	}
	// it expires with an escalation drafted (the draft's level is the alert's): others read the
	// expiry's time and still the level issued
	waiting.Level, waiting.LevelName, waiting.Updated = 2, "severe", t0.Add(150*time.Second)
	if err := s.SaveAlert(ctx(), waiting, alert.Transition{From: alert.Issued, To: alert.Issued, At: waiting.Updated}, nil); err != nil {
		t.Fatal(err)
	}
	expired := t0.Add(3 * time.Minute)
	waiting.State, waiting.Updated = alert.Expired, expired
	if err := s.SaveAlert(ctx(), waiting, alert.Transition{From: alert.Issued, To: alert.Expired, At: expired}, nil); err != nil {
		t.Fatal(err)
	}
	if a, err := s.GetAlert(ctx(), waiting.ID); err != nil || a.Shown.Level != 1 || a.Shown.LevelName != "warning" || !a.Shown.Updated.Equal(expired) {
		t.Errorf("expired with an escalation waiting: shown %+v %v, want level 1 warning at minute 3", a.Shown, err)
	}
}

func testRules(t *testing.T, s warning.Store) {
	// RulesVersion, the cheap read, is LoadRules' version
	sameVersion := func(what string, want int64) {
		t.Helper()
		if v, err := s.RulesVersion(ctx()); err != nil || v != want {
			t.Errorf("%s: RulesVersion %d %v, LoadRules' %d", what, v, err, want)
		}
	}
	rs, v0, err := s.LoadRules(ctx())
	if err != nil || len(rs) != 0 {
		t.Fatalf("empty: %v %v", rs, err)
	}
	sameVersion("empty", v0)
	in := []rule.Rule{
		{ID: "b", Name: "Rain", Kind: rule.Accumulation, Datastreams: []int64{3}, Forecast: true, Horizon: 6 * time.Hour},
		{ID: "a", Name: "River ü", Kind: rule.Threshold, Datastreams: []int64{1, 2}, Aggregate: "count", Count: 2},
	}
	if err := s.SaveRules(ctx(), "", "admin/key-1", in); err != nil {
		t.Fatal(err)
	}
	rs, v1, err := s.LoadRules(ctx())
	if err != nil || len(rs) != 2 {
		t.Fatalf("load: %v %v", rs, err)
	}
	if rs[0].ID != "a" || rs[1].ID != "b" || rs[0].Name != "River ü" || fmt.Sprint(rs[0].Datastreams) != "[1 2]" || rs[0].Count != 2 ||
		!rs[1].Forecast || rs[1].Horizon != 6*time.Hour || rs[1].Kind != rule.Accumulation {
		t.Errorf("rules %+v", rs)
	}
	if v1 == v0 {
		t.Error("version did not change")
	}
	sameVersion("two rules", v1)
	if _, v, _ := s.LoadRules(ctx()); v != v1 {
		t.Errorf("version changed without a save: %d %d", v, v1)
	}
	time.Sleep(2 * time.Millisecond)
	if err := s.SaveRules(ctx(), "", "admin/key-1", in[1:]); err != nil {
		t.Fatal(err)
	}
	rs, v2, err := s.LoadRules(ctx())
	if err != nil || len(rs) != 1 || rs[0].ID != "a" || v2 == v1 {
		t.Errorf("after replace: %v %d %d %v", rs, v1, v2, err)
	}
	sameVersion("after replace", v2)
	// atomic: a failing save (two rules with one id) changes nothing
	if err := s.SaveRules(ctx(), "", "admin/key-1", []rule.Rule{{ID: "x"}, {ID: "x"}}); err == nil {
		t.Error("duplicate rule ids saved")
	}
	if rs, v, err := s.LoadRules(ctx()); err != nil || len(rs) != 1 || rs[0].ID != "a" || v != v2 {
		t.Errorf("after a failed save: %v %d %v", rs, v, err)
	}
	if err := s.SaveRules(ctx(), "", "admin/key-1", nil); err != nil {
		t.Fatal(err)
	}
	if rs, _, err := s.LoadRules(ctx()); err != nil || len(rs) != 0 {
		t.Errorf("after clearing: %v %v", rs, err)
	}
}

func testEngineState(t *testing.T, s warning.Store) {
	snap, err := s.LoadEngineState(ctx())
	if err != nil || snap != nil {
		t.Fatalf("none saved: %q %v", snap, err)
	}
	for _, want := range []string{`{"v":1,"state":"é"}`, `{"v":2}`} {
		if err := s.SaveEngineState(ctx(), []byte(want)); err != nil {
			t.Fatal(err)
		}
		got, err := s.LoadEngineState(ctx())
		if err != nil || string(got) != want {
			t.Errorf("load %q %v, want %q", got, err, want)
		}
	}
	if err := s.SaveEngineState(ctx(), []byte{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.LoadEngineState(ctx()); err != nil || got == nil || len(got) != 0 {
		t.Errorf("empty snapshot: %q (nil %v) %v", got, got == nil, err)
	}
}

// RunDatastreamLabel checks the Entities' DatastreamLabel (alert.Labeler): the Thing's name
// and the unit's symbol, and an error for a datastream that does not exist.
func RunDatastreamLabel(t *testing.T, open func(t *testing.T) Stores) {
	s := open(t)
	l := s.Entities
	seed(t, s)
	if station, unit, err := l.DatastreamLabel(ctx(), 2); err != nil || station != "Marala" || unit != "[cft_i]/s" {
		t.Errorf("label %q %q %v", station, unit, err)
	}
	if _, _, err := l.DatastreamLabel(ctx(), 99); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("label of a missing datastream: %v, want NotFound", err)
	}
}

// The public feed: a Cancel and each Update stay beside what they replace for keep; the
// feed's updated time never goes back, not after a Cancel empties it, not after everything
// has left it; operational messages never show; a feed that never had an entry is dated by
// the store's creation, not 1970.
func testAlertFeed(t *testing.T, s alert.Store) {
	const keep = 24 * time.Hour
	base := time.Now().UTC().Truncate(time.Second).Add(time.Hour) // after the store's creation
	feed := func(now time.Time) (string, time.Time) {
		t.Helper()
		ms, up, err := s.Feed(ctx(), now, keep)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range ms {
			ids = append(ids, m.Identifier)
		}
		return fmt.Sprint(ids), up
	}
	ids, up := feed(base)
	created := up
	if ids != "[]" || up.Year() < 2000 || up.After(time.Now().Add(time.Minute)) {
		t.Fatalf("empty feed: %s updated %v, want the store's creation", ids, up)
	}

	mk := func(ruleID string, operational bool, at time.Time) *alert.Alert {
		a := newAlert(ruleID, at, operational)
		id, err := s.CreateAlert(ctx(), a, alert.Transition{To: alert.Draft, At: at})
		if err != nil {
			t.Fatal(err)
		}
		a.ID = id
		return a
	}
	next := func(a *alert.Alert, ident string, typ cap.MsgType, at, exp time.Time) {
		t.Helper()
		from := a.State
		a.State, a.Updated = alert.Issued, at
		if typ == cap.MsgCancel {
			a.State = alert.Cancelled
		}
		msg := &alert.Message{AlertID: a.ID, Identifier: ident, Sender: "rabta@example.org", Sent: at, Expires: exp, MsgType: typ,
			Status: cap.StatusActual, Operational: a.Operational, Headline: ident, XML: []byte("<alert/>")}
		if err := s.SaveAlert(ctx(), a, alert.Transition{From: from, To: a.State, At: at, Identifier: ident}, msg); err != nil {
			t.Fatal(err)
		}
	}
	m := func(d time.Duration) time.Time { return base.Add(d) }

	w := mk("warn", false, base)
	next(w, "w1", cap.MsgAlert, m(0), m(6*time.Hour))
	op := mk("ops", true, base)
	next(op, "op1", cap.MsgAlert, m(time.Minute), m(6*time.Hour))
	next(op, "op2", cap.MsgCancel, m(2*time.Minute), m(time.Hour))

	steps := []struct {
		at      time.Duration
		do      func()
		want    string
		updated time.Duration
	}{
		{at: 0, want: "[w1]", updated: 0},
		{at: 5 * time.Minute, want: "[w1]", updated: 0}, // the operational Cancel moves nothing
		{at: 10 * time.Minute, do: func() { next(w, "w2", cap.MsgUpdate, m(10*time.Minute), m(6*time.Hour+10*time.Minute)) }, want: "[w2 w1]", updated: 10 * time.Minute},
		{at: 20 * time.Minute, do: func() { next(w, "w3", cap.MsgCancel, m(20*time.Minute), m(time.Hour+20*time.Minute)) }, want: "[w3 w2 w1]", updated: 20 * time.Minute},
		// the Cancel's own expiry (1 h) does not take it off: it stays for keep
		{at: 2 * time.Hour, want: "[w3 w2 w1]", updated: time.Hour + 20*time.Minute},
		// the Update's keep has passed: w1 (replaced by it) leaves; w2 stays beside the Cancel
		{at: keep + 11*time.Minute, want: "[w3 w2]", updated: keep + 10*time.Minute},
		// everything has left: updated is the last departure, never 1970, never earlier
		{at: keep + 21*time.Minute, want: "[]", updated: keep + 20*time.Minute},
		{at: 3 * keep, want: "[]", updated: keep + 20*time.Minute},
	}
	last := created
	for _, st := range steps {
		if st.do != nil {
			st.do()
		}
		ids, up := feed(m(st.at))
		if ids != st.want || !up.Equal(m(st.updated)) {
			t.Errorf("at +%v: feed %s updated +%v, want %s updated +%v", st.at, ids, up.Sub(base), st.want, st.updated)
		}
		if up.Before(last) {
			t.Errorf("at +%v: updated went back from %v to %v", st.at, last, up)
		}
		last = up
		// the same stored data gives the same answer (what a restart or another process sees)
		if ids2, up2 := feed(m(st.at)); ids2 != ids || !up2.Equal(up) {
			t.Errorf("at +%v: a second read differs: %s %v", st.at, ids2, up2)
		}
	}

	// an alert that simply expires leaves at its expiry, and updated says so
	x := mk("expires", false, m(3*keep))
	next(x, "x1", cap.MsgAlert, m(3*keep), m(3*keep+time.Hour))
	if ids, up := feed(m(3*keep + 30*time.Minute)); ids != "[x1]" || !up.Equal(m(3*keep)) {
		t.Errorf("before expiry: %s %v", ids, up.Sub(base))
	}
	if ids, up := feed(m(3*keep + 2*time.Hour)); ids != "[]" || !up.Equal(m(3*keep+time.Hour)) {
		t.Errorf("after expiry: %s +%v, want [] at the expiry", ids, up.Sub(base))
	}
	// keep 0 means the default, 24 h
	if ms, _, err := s.Feed(ctx(), m(keep+15*time.Minute), 0); err != nil || len(ms) != 2 {
		t.Errorf("default keep: %d messages, %v", len(ms), err)
	}
}

// testOwners: rules belong to organisations, each organisation's save replaces its own rules
// only, every change is recorded with who made it, and an alert keeps its organisation and its
// draft's authors.
func testOwners(t *testing.T, a alert.Store, w warning.Store) {
	r := func(id, name string) rule.Rule {
		return rule.Rule{ID: id, Name: name, Kind: rule.Threshold, Datastreams: []int64{1}}
	}
	owners := func() string {
		t.Helper()
		rs, _, err := w.LoadRules(ctx())
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range rs {
			out = append(out, x.ID+"@"+x.Organisation)
		}
		return fmt.Sprint(out)
	}
	if err := w.SaveRules(ctx(), "", "admin/key-1", []rule.Rule{r("n1", "node")}); err != nil {
		t.Fatal(err)
	}
	if err := w.SaveRules(ctx(), "pdma", "pdma/key-7", []rule.Rule{r("p1", "one"), r("p2", "two")}); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "[n1@admin p1@pdma p2@pdma]" {
		t.Errorf("owners %s", got)
	}
	// pdma's next save: p1 again unchanged (no change recorded), p2 changed, p3 new; n1 stays
	if err := w.SaveRules(ctx(), "pdma", "pdma/key-8", []rule.Rule{r("p1", "one"), r("p2", "two, changed"), r("p3", "three")}); err != nil {
		t.Fatal(err)
	}
	// then pdma drops p3: removed
	if err := w.SaveRules(ctx(), "pdma", "pdma/key-9", []rule.Rule{r("p1", "one"), r("p2", "two, changed")}); err != nil {
		t.Fatal(err)
	}
	if got := owners(); got != "[n1@admin p1@pdma p2@pdma]" {
		t.Errorf("owners after pdma's saves %s", got)
	}
	// another organisation's rule id: a Conflict, nothing saved
	err := w.SaveRules(ctx(), "ndma", "ndma/key-3", []rule.Rule{r("z", "z"), r("p1", "taken")})
	if apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("saving another organisation's rule id: %v, want a Conflict", err)
	}
	if got := owners(); got != "[n1@admin p1@pdma p2@pdma]" {
		t.Errorf("owners after a refused save %s", got)
	}
	changes := func(id string) string {
		t.Helper()
		cs, err := w.RuleChanges(ctx(), id)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			if c.RuleID != id || c.At.IsZero() {
				t.Errorf("change %+v", c)
			}
			out = append(out, c.Change+":"+c.By+"@"+c.Organisation)
		}
		return fmt.Sprint(out)
	}
	for id, want := range map[string]string{
		"p1": "[created:pdma/key-7@pdma]",
		"p2": "[created:pdma/key-7@pdma changed:pdma/key-8@pdma]",
		"p3": "[created:pdma/key-8@pdma removed:pdma/key-9@pdma]",
		"n1": "[created:admin/key-1@admin]",
		"z":  "[]",
	} {
		if got := changes(id); got != want {
			t.Errorf("changes of %s: %s, want %s", id, got, want)
		}
	}
	for id, want := range map[string]string{"p1": "[pdma/key-7]", "p2": "[pdma/key-7 pdma/key-8]", "p3": "[pdma/key-8]", "none": "[]"} {
		got, err := a.RuleAuthors(ctx(), id)
		if err != nil || fmt.Sprint(got) != want {
			t.Errorf("authors of %s: %v %v, want %s", id, got, err, want)
		}
	}
	// an alert keeps its organisation and its draft's authors; issuing drops the authors
	al := newAlert("p2", t0, false)
	al.Organisation = "pdma"
	al.Authors = []alert.Author{{Name: "pdma/key-7", As: alert.AsRule}, {Name: "pdma/key-12", As: alert.AsValue}}
	id, err := a.CreateAlert(ctx(), al, alert.Transition{To: alert.Draft, By: "rule:p2", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	got, err := a.GetAlert(ctx(), id)
	if err != nil || got.Organisation != "pdma" || fmt.Sprint(got.Authors) != "[{pdma/key-7 rule} {pdma/key-12 value}]" {
		t.Fatalf("stored alert: %+v %v", got, err)
	}
	got.ID = id
	issue(t, a, got, "p2-1", t0, t0.Add(time.Hour))
	if got, err = a.GetAlert(ctx(), id); err != nil || got.Organisation != "pdma" || got.Authors != nil {
		t.Errorf("issued alert: %+v %v", got, err)
	}
	// an alert made without an organisation is the node's own
	n := newAlert("n1", t0, false)
	if id, err = a.CreateAlert(ctx(), n, alert.Transition{To: alert.Draft, By: "rule:n1", At: t0}); err != nil {
		t.Fatal(err)
	}
	if got, err := a.GetAlert(ctx(), id); err != nil || got.Organisation != "admin" {
		t.Errorf("alert without an organisation: %+v %v", got, err)
	}
}

// BenchRulesPoll measures what noticing a rules change costs per poll: LoadRules (every rule's
// body read and decoded, what the warning engine's reload did every tick) against
// RulesVersion (one aggregate), with n rules stored.
func BenchRulesPoll(b *testing.B, s warning.Store, n int) {
	rs := make([]rule.Rule, n)
	for i := range rs {
		rs[i] = rule.Rule{ID: fmt.Sprintf("r%03d", i), Name: fmt.Sprintf("Rule %d", i), Kind: rule.Threshold, Datastreams: []int64{int64(i + 1)},
			Levels: []rule.Level{{Name: "High", Value: 5, Severity: "Severe", Urgency: "Expected", Certainty: "Observed", Event: "Flood"}}}
	}
	if err := s.SaveRules(ctx(), "", "bench", rs); err != nil {
		b.Fatal(err)
	}
	b.Run("LoadRules", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.LoadRules(ctx()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("RulesVersion", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.RulesVersion(ctx()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
