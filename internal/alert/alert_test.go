package alert_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/i18n"
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
		"zh": {Headline: "{{.Station}}：{{.Level}}洪水"},
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
	if err := alert.CheckTemplates(bad); err == nil || !strings.Contains(err.Error(), "templates.en.headline: no field .Stattion; a template sees .Rule, .Station") ||
		strings.Contains(err.Error(), "templateData") {
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

// gaugeLabels labels the demo's discharge datastreams: id → station name, unit cusecs (UCUM).
type gaugeLabels map[int64]string

func (g gaugeLabels) DatastreamLabel(_ context.Context, id int64) (string, string, error) {
	if s, ok := g[id]; ok {
		return s, "[cft_i]/s", nil
	}
	return "", "", apperr.E(apperr.NotFound, "no datastream %d", id)
}

// demoService is a service over the demo's gauge rules (every one auto-issuing, so that each
// level and the all clear are composed and issued) with the demo's names.
func demoService(t *testing.T) (*alert.Service, []rule.Rule, *i18n.Names, gaugeLabels) {
	t.Helper()
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	ids, labels := map[string]int64{}, gaugeLabels{}
	for i, st := range ds.Stations {
		if strings.HasPrefix(st.Key, "pdma-") {
			ids[st.Key+"/discharge"] = int64(i + 1)
			labels[int64(i+1)] = st.Name
		}
	}
	rules, err := demo.Rules(ds, ids)
	if err != nil {
		t.Fatal(err)
	}
	names, err := demo.Names(ds)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]rule.Rule{}
	for i := range rules {
		rules[i].AutoIssue = true
		byID[rules[i].ID] = rules[i]
	}
	s, _, _ := newService(t)
	s.Rules = func(id string) (rule.Rule, bool) { r, ok := byID[id]; return r, ok }
	s.Labels = labels
	s.Config.FourEyes = false
	s.Config.Names = names
	s.Config.SenderName = demo.SenderName
	return s, rules, names, labels
}

// Every demo rule at every level, and its all clear, is written wholly in each info's
// language: no Latin letter in an Urdu, Sindhi, Pashto, Punjabi or Chinese info (a Chinese info
// may carry a station's English name only where no Chinese name is known), and no Western
// digit where the language's digits are not Western (Sindhi, Pashto, Punjabi).
func TestDemoMessagesWhollyInTheirLanguage(t *testing.T) {
	ctx := context.Background()
	s, rules, names, labels := demoService(t)
	at := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC) // 13:00 PKT
	checked := 0
	for _, r := range rules {
		ds := r.Datastreams[0]
		var msgs []*cap.Alert
		for li, lv := range r.Levels {
			kind := rule.Escalate
			if li == 0 {
				kind = rule.Fire
			}
			a, err := s.Trigger(ctx, rule.Trigger{RuleID: r.ID, Kind: kind, Level: li, LevelName: lv.Name, Value: lv.Value + 1234.5,
				Datastream: ds, ObservedAt: at, At: at, Cause: "test"})
			if err != nil {
				t.Fatalf("%s %s: %v", r.ID, lv.Name, err)
			}
			msgs = append(msgs, lastCAP(t, a))
		}
		a, err := s.Trigger(ctx, rule.Trigger{RuleID: r.ID, Kind: rule.Clear, Level: -1, PrevLevel: len(r.Levels) - 1, Value: 1000,
			Datastream: ds, ObservedAt: at, At: at, Cause: "test"})
		if err != nil {
			t.Fatalf("%s clear: %v", r.ID, err)
		}
		msgs = append(msgs, lastCAP(t, a))
		if got := msgs[len(msgs)-1].MsgType; got != cap.MsgCancel {
			t.Fatalf("%s: the clear issued %s, want Cancel", r.ID, got)
		}
		for _, m := range msgs {
			if len(m.Infos) != 6 {
				t.Fatalf("%s: %d infos, want 6 (en, pnb, ps, sd, ur, zh)", r.ID, len(m.Infos))
			}
			for _, in := range m.Infos {
				if in.Language == "en" {
					continue
				}
				station := labels[ds]
				if n, ok := names.Name(in.Language, station); ok || in.Language != "zh" {
					station = n
				} // else: no Chinese name known; the English one stands and is allowed
				for field, text := range map[string]string{"headline": in.Headline, "description": in.Description, "instruction": in.Instruction,
					"event": in.Event, "audience": in.Audience, "areaDesc": in.Areas[0].AreaDesc, "senderName": in.SenderName} {
					checked++
					rest := text
					if in.Language == "zh" {
						rest = strings.ReplaceAll(rest, station, "")
					}
					for _, c := range rest {
						if unicode.Is(unicode.Latin, c) {
							t.Errorf("%s %s %s %s: Latin letter %q in %q", r.ID, m.MsgType, in.Language, field, c, text)
							break
						}
						if c >= '0' && c <= '9' && in.Language != "zh" && in.Language != "ur" {
							t.Errorf("%s %s %s %s: Western digit in %q (the language's digits are not Western)", r.ID, m.MsgType, in.Language, field, text)
							break
						}
					}
					if text == "" {
						t.Errorf("%s %s %s %s is empty", r.ID, m.MsgType, in.Language, field)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

// The issue's own examples, now wholly in Urdu and Chinese, with the time in Pakistan.
func TestDemoMessageExamples(t *testing.T) {
	ctx := context.Background()
	s, rules, _, _ := demoService(t)
	at := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	want := map[string]map[string]string{
		"flood-qadirabad": {
			"ur": "قادر آباد بیراج پر نچلے درجے کا سیلاب",
			"zh": "Qadirabad Barrage：低等级洪水", // no Chinese name found: the English one stands
			"sd": "قادر آباد تي هيٺين سطح جي ٻوڏ",
			"en": "Low flood at Qadirabad Barrage"},
		// Pashto and Punjabi fall back to the Urdu-script name.
		"flood-tarbela": {"zh": "塔贝拉坝：低等级洪水", "ps": "په تربیلا ڈیم کې د ټیټې کچې سېلاب", "pnb": "تربیلا ڈیم تے نیویں درجے دا ہڑ"},
	}
	for _, r := range rules {
		w, ok := want[r.ID]
		if !ok {
			continue
		}
		a, err := s.Trigger(ctx, rule.Trigger{RuleID: r.ID, Kind: rule.Fire, Level: 0, LevelName: "Low", Value: 1001480, Datastream: r.Datastreams[0], ObservedAt: at, At: at})
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range lastCAP(t, a).Infos {
			if h, ok := w[in.Language]; ok && in.Headline != h {
				t.Errorf("%s %s headline %q, want %q", r.ID, in.Language, in.Headline, h)
			}
			if in.Language == "ur" && r.ID == "flood-qadirabad" {
				const d = "قادر آباد بیراج پر 27 اگست 2025، 13:00 (پاکستان کا معیاری وقت) کو پانی کا بہاؤ 1,001,480 کیوسک ریکارڈ کیا گیا: نچلے درجے کا سیلاب۔"
				if in.Description != d {
					t.Errorf("ur description\n got %q\nwant %q", in.Description, d)
				}
				if in.Areas[0].AreaDesc != "دریائے چناب، قادر آباد بیراج سے 25 کلومیٹر کے اندر" {
					t.Errorf("ur areaDesc %q", in.Areas[0].AreaDesc)
				}
			}
			if in.Language == "sd" && r.ID == "flood-qadirabad" && !strings.Contains(in.Description, "١٬٠٠١٬٤٨٠ ڪيوسڪ") {
				t.Errorf("sd description %q: want the value in Sindhi digits with its unit", in.Description)
			}
		}
	}
}

// A forecast trigger's lead time reaches the templates as "in 6 hours" in each language.
func TestLeadTimeLocalised(t *testing.T) {
	ctx := context.Background()
	s, _, _ := newService(t)
	r := khanki
	r.ID, r.AutoIssue, r.Status = "lead", true, rule.Actual
	r.Templates = map[string]rule.Template{"en": {Headline: "{{.Level}} {{.Event}} {{.In}}"}, "ur": {Headline: "{{.Level}} {{.Event}} {{.In}}"},
		"zh": {Headline: "{{.Level}}{{.Event}}{{.In}}"}}
	s.Rules = func(string) (rule.Rule, bool) { return r, true }
	s.Config.FourEyes = false
	at := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	a, err := s.Trigger(ctx, rule.Trigger{RuleID: "lead", Kind: rule.Fire, Level: 1, LevelName: "Exceptionally High", Value: 7e5, ObservedAt: at, At: at, LeadTime: 6 * time.Hour, Forecast: true})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"en": "Exceptionally High Flood in 6 hours", "ur": "انتہائی اونچے سیلاب 6 گھنٹے میں", "zh": "特高等级洪水6小时后"}
	for _, in := range lastCAP(t, a).Infos {
		if in.Headline != want[in.Language] {
			t.Errorf("%s: %q, want %q", in.Language, in.Headline, want[in.Language])
		}
	}
}

func lastCAP(t *testing.T, a *alert.Alert) *cap.Alert {
	t.Helper()
	if a == nil || a.Last() == nil {
		t.Fatalf("no issued message")
	}
	m, err := cap.Unmarshal(a.Last().XML)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// A rule whose area bounds nothing (stored before such areas were refused, or built in code
// without Validate) never issues: the bow tie, the polygon of four identical points and the
// circle of radius 0 are each refused at issue, naming the area, and nothing is issued.
func TestDegenerateAreaNeverIssued(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		area rule.Area
		want string
	}{
		{"bow tie", rule.Area{Desc: "x", Polygons: [][]rule.LatLon{{{Lat: 31, Lon: 74}, {Lat: 32, Lon: 75}, {Lat: 31, Lon: 75}, {Lat: 32, Lon: 74}, {Lat: 31, Lon: 74}}}}, "polygon[0]: crosses itself at 31.5,74.5"},
		{"four identical points", rule.Area{Desc: "x", Polygons: [][]rule.LatLon{{{Lat: 31, Lon: 74}, {Lat: 31, Lon: 74}, {Lat: 31, Lon: 74}, {Lat: 31, Lon: 74}}}}, "polygon[0]: has only 1 distinct point(s)"},
		{"radius 0", rule.Area{Desc: "x", Circles: []rule.Circle{{Center: rule.LatLon{Lat: 31, Lon: 74}}}}, "circle[0]: radius 0 km"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, st, c := newService(t)
			r := khanki
			r.AutoIssue, r.Area = true, tc.area
			if r.Validate() == nil {
				t.Fatal("Validate took the area")
			}
			s.Rules = func(id string) (rule.Rule, bool) { return r, id == r.ID }
			_, err := s.Trigger(ctx, trig(rule.Fire, 0, "Low", 150000, c.t))
			if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("auto-issue: %v, want Invalid with %q", err, tc.want)
			}
			if ms, _, _ := st.Feed(ctx, c.t, 0); len(ms) != 0 {
				t.Errorf("issued: %+v", ms)
			}
		})
	}
}

// A draft's authors: whoever posted the deciding value, kept while the draft waits (a second
// value that escalates it adds its poster, it does not replace the first), and cleared when
// the draft is issued; with four eyes on, each is refused with the reason, and another
// approver issues it.
func TestDraftAuthors(t *testing.T) {
	ctx := context.Background()
	s, st, c := newService(t)
	tr := trig(rule.Fire, 0, "Low", 150000, c.t)
	tr.PostedBy = []string{"pdma/key-7"}
	if _, err := s.Trigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	c.t = c.t.Add(10 * time.Minute)
	tr = trig(rule.Escalate, 1, "Exceptionally High", 700000, c.t)
	tr.PostedBy = []string{"pdma/key-8"}
	if _, err := s.Trigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	a, err := st.GetAlert(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(a.Authors); got != "[{pdma/key-7 value} {pdma/key-8 value}]" {
		t.Errorf("authors %s", got)
	}
	for who, why := range map[string]string{"pdma/key-7": "posted the value that decided it", "pdma/key-8": "posted the value that decided it", "rule:khanki": "drafted alert 1"} {
		if _, err := s.Approve(ctx, 1, who, "mine"); apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(err.Error(), why) {
			t.Errorf("%s approving: %v, want Forbidden with %q", who, err, why)
		}
	}
	if a, err = s.Approve(ctx, 1, "ndma/key-2", "checked"); err != nil || a.State != alert.Issued {
		t.Fatalf("approve: %+v %v", a, err)
	}
	if a, _ = st.GetAlert(ctx, 1); a.Authors != nil {
		t.Errorf("an issued alert keeps authors: %v", a.Authors)
	}
	// an Update draft of the issued alert has only its own trigger's authors
	c.t = c.t.Add(10 * time.Minute)
	tr = trig(rule.DeEscalate, 0, "Low", 200000, c.t)
	tr.PostedBy = []string{"pdma/key-9"}
	if _, err := s.Trigger(ctx, tr); err != nil {
		t.Fatal(err)
	}
	if a, _ = st.GetAlert(ctx, 1); fmt.Sprint(a.Authors) != "[{pdma/key-9 value}]" || a.DraftType != cap.MsgUpdate {
		t.Errorf("update draft: %s %v", a.DraftType, a.Authors)
	}
	if _, err := s.Approve(ctx, 1, "pdma/key-7", "now it is someone else's"); err != nil {
		t.Errorf("an earlier draft's author approving a later one: %v", err)
	}
}

// Edit changes a waiting draft's texts by language, refuses bad edits with what is wrong and
// where (changing nothing), and makes the editor an author: with four eyes on, the editor
// cannot approve, another approver can, and the issued CAP carries the edited texts.
func TestEdit(t *testing.T) {
	ctx := context.Background()
	s, st, c := newService(t)
	str := func(s string) *string { return &s }
	if _, err := s.Edit(ctx, 1, "ndma/key-7", "typo", []alert.InfoEdit{{Language: "en", Headline: str("x")}}); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("edit of no alert: %v", err)
	}
	if _, err := s.Trigger(ctx, trig(rule.Fire, 0, "Low", 150000, c.t)); err != nil {
		t.Fatal(err)
	}
	before, _ := st.GetAlert(ctx, 1)
	beforeTs, _ := st.Transitions(ctx, 1)
	long := strings.Repeat("ب", 201)
	for _, bad := range []struct {
		why   string
		edits []alert.InfoEdit
		want  string
	}{
		{"", []alert.InfoEdit{{Language: "en", Headline: str("x")}}, "why: an edit needs a reason"},
		{"w", nil, "infos: nothing to edit"},
		{"w", make([]alert.InfoEdit, 11), "infos: 11 edits, over the limit of 10"},
		{"w", []alert.InfoEdit{{Language: "fr", Headline: str("x")}}, `infos[0].language: alert 1's draft has no info in "fr"; it has en, zh`},
		{"w", []alert.InfoEdit{{Language: "en", Headline: str(" ")}}, "infos[0].headline: must not be empty"},
		{"w", []alert.InfoEdit{{Language: "zh", Headline: str(long)}}, "infos[0].headline: 201 characters, over the limit of 200"},
		{"w", []alert.InfoEdit{{Language: "en", Headline: str("ok")}, {Language: "zh", Description: str(strings.Repeat("x", 4001))}}, "infos[1].description: 4001 characters, over the limit of 4000"},
		{"w", []alert.InfoEdit{{Language: "en", Instruction: str(strings.Repeat("x", 4001))}}, "infos[0].instruction: 4001 characters, over the limit of 4000"},
		{"w", []alert.InfoEdit{{Language: "en", Headline: str("a")}, {Language: "EN", Headline: str("b")}}, `infos[1].language: "EN" is edited twice`},
		{"w", []alert.InfoEdit{{Language: "en"}}, "infos[0]: nothing to change"},
		{"w", []alert.InfoEdit{{Language: "en", Instruction: str("leave\x00now")}}, "not valid CAP: cap: alert/info[0]/instruction: text holds U+0000"},
	} {
		_, err := s.Edit(ctx, 1, "ndma/key-7", bad.why, bad.edits)
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), bad.want) {
			t.Errorf("edit %q %v: %v, want Invalid with %q", bad.why, bad.edits, err, bad.want)
		}
	}
	if a, _ := st.GetAlert(ctx, 1); !reflect.DeepEqual(a.Draft, before.Draft) || len(a.Authors) != len(before.Authors) {
		t.Errorf("a refused edit changed the draft")
	}
	if ts, _ := st.Transitions(ctx, 1); len(ts) != len(beforeTs) {
		t.Errorf("a refused edit was recorded")
	}
	// a 200-rune headline (2 bytes a rune) is within the limit
	ur := strings.Repeat("ب", 200)
	a, err := s.Edit(ctx, 1, "ndma/key-7", "clearer wording", []alert.InfoEdit{
		{Language: "en", Headline: str("Flood at Khanki: move to higher ground"), Instruction: str("Leave the river bank now.")},
		{Language: "zh", Headline: str(ur)}})
	if err != nil {
		t.Fatal(err)
	}
	if a.State != alert.Draft || a.Draft.Infos[0].Headline != "Flood at Khanki: move to higher ground" || a.Draft.Infos[1].Headline != ur {
		t.Errorf("edited: %s %+v", a.State, a.Draft.Infos)
	}
	if before.Draft.Infos[0].Headline == a.Draft.Infos[0].Headline {
		t.Errorf("the edit changed the draft it copied")
	}
	stored, _ := st.GetAlert(ctx, 1)
	if stored.Draft.Infos[0].Instruction != "Leave the river bank now." || stored.Draft.Infos[0].Description != before.Draft.Infos[0].Description ||
		stored.Draft.Infos[1].Headline != ur || stored.Draft.Infos[1].Instruction != before.Draft.Infos[1].Instruction {
		t.Errorf("stored draft: %+v", stored.Draft.Infos)
	}
	if got := fmt.Sprint(stored.Authors); !strings.Contains(got, "{ndma/key-7 edit}") {
		t.Errorf("authors %s", got)
	}
	ts, _ := st.Transitions(ctx, 1)
	if last := ts[len(ts)-1]; last.From != alert.Draft || last.To != alert.Draft || last.By != "ndma/key-7" || last.Why != "edited: clearer wording" {
		t.Errorf("transition %+v", last)
	}
	if _, err := s.Approve(ctx, 1, "ndma/key-7", "mine"); apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(err.Error(), "ndma/key-7 edited it") {
		t.Errorf("editor approving: %v", err)
	}
	if a, err = s.Approve(ctx, 1, "ndma/key-8", "checked"); err != nil || a.State != alert.Issued {
		t.Fatalf("approve: %v", err)
	}
	m, err := cap.Unmarshal(a.Last().XML)
	if err != nil {
		t.Fatal(err)
	}
	if m.Infos[0].Headline != "Flood at Khanki: move to higher ground" || m.Infos[0].Instruction != "Leave the river bank now." || a.Last().Headline != m.Infos[0].Headline {
		t.Errorf("issued: %q %q", m.Infos[0].Headline, m.Infos[0].Instruction)
	}
	if _, err := s.Edit(ctx, 1, "ndma/key-7", "late", []alert.InfoEdit{{Language: "en", Headline: str("x")}}); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("edit of an issued alert without a draft: %v", err)
	}
}

// FuzzCheckEdits: CheckEdits never panics, and what it accepts is within every limit.
func FuzzCheckEdits(f *testing.F) {
	f.Add("why", "en", "Flood", "", "Leave now", 1)
	f.Add("", "ur", " ", "x", "", 11)
	f.Add("w", "zh", strings.Repeat("洪", 201), "", "", 2)
	f.Add("w", "", "a", "b", "c", 0)
	f.Fuzz(func(t *testing.T, why, lang, h, d, in string, n int) {
		n = n % 13
		if n < 0 {
			n = -n
		}
		edits := make([]alert.InfoEdit, n)
		for i := range edits {
			edits[i] = alert.InfoEdit{Language: fmt.Sprint(lang, i), Headline: &h, Description: &d, Instruction: &in}
		}
		if err := alert.CheckEdits(why, edits); err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if strings.TrimSpace(why) == "" || n == 0 || n > alert.MaxEdits ||
			utf8.RuneCountInString(h) > alert.MaxEditHeadline || strings.TrimSpace(h) == "" ||
			utf8.RuneCountInString(d) > alert.MaxEditDescription || utf8.RuneCountInString(in) > alert.MaxEditInstruction {
			t.Fatalf("accepted why %q, %d edits, headline %q", why, n, h)
		}
	})
}
