package rule

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2025, 8, 27, 0, 0, 0, 0, time.FixedZone("PKT", 5*3600))

func at(d time.Duration) time.Time { return t0.Add(d) }

// step is one call: an observation (Observe at At) or, with Obs nil, a Tick at At.
type step struct {
	At  time.Duration
	Obs *Obs
}

func obs(at time.Duration, ds int64, v float64) step {
	return step{At: at, Obs: &Obs{Datastream: ds, Time: t0.Add(at), Value: v}}
}

func flagged(at time.Duration, ds int64, v float64, flag int) step {
	s := obs(at, ds, v)
	s.Obs.Flag = flag
	return s
}

// late is an observation with phenomenon time obsAt arriving at arrive.
func late(arrive, obsAt time.Duration, ds int64, v float64) step {
	return step{At: arrive, Obs: &Obs{Datastream: ds, Time: t0.Add(obsAt), Value: v}}
}

func fc(now, valid time.Duration, ds int64, v float64) step {
	return step{At: now, Obs: &Obs{Datastream: ds, Time: t0.Add(valid), Value: v, Forecast: true}}
}

func tick(at time.Duration) step { return step{At: at} }

// want is an expected trigger: "fire 0 @2h", with optional lead time.
type want struct {
	Kind  TriggerKind
	Level int
	At    time.Duration
	Lead  time.Duration
}

func (w want) String() string {
	return fmt.Sprintf("%s %d @%v lead %v", w.Kind, w.Level, w.At, w.Lead)
}

func levels(values ...float64) []Level {
	names := []string{"Low", "Medium", "High", "Very High", "Exceptionally High"}
	sev := []Severity{Minor, Moderate, Severe, Severe, Extreme}
	out := make([]Level, len(values))
	for i, v := range values {
		out[i] = Level{Name: names[i], Value: v, Severity: sev[i], Urgency: Immediate, Certainty: Observed, Event: "Flood"}
	}
	return out
}

func base(kind Kind, lv ...float64) Rule {
	return Rule{ID: "r", Name: "test", Kind: kind, Datastreams: []int64{1}, Levels: levels(lv...), Area: Area{Desc: "test area"}}
}

func run(t *testing.T, e *Engine, steps []step) []Trigger {
	t.Helper()
	var got []Trigger
	for _, s := range steps {
		if s.Obs != nil {
			got = append(got, e.Observe(t0.Add(s.At), *s.Obs)...)
		} else {
			got = append(got, e.Tick(t0.Add(s.At))...)
		}
	}
	return got
}

func TestEngine(t *testing.T) {
	withHyst := func(r Rule, m Margin) Rule { r.Hysteresis = m; return r }
	tests := []struct {
		name  string
		rule  Rule
		steps []step
		want  []want
	}{
		{
			name:  "threshold up through every level",
			rule:  base(Threshold, 10, 20, 30),
			steps: []step{obs(0, 1, 5), obs(time.Hour, 1, 12), obs(2*time.Hour, 1, 25), obs(3*time.Hour, 1, 35), obs(4*time.Hour, 1, 36)},
			want:  []want{{Fire, 0, time.Hour, 0}, {Escalate, 1, 2 * time.Hour, 0}, {Escalate, 2, 3 * time.Hour, 0}},
		},
		{
			name:  "threshold jumps two levels at once",
			rule:  base(Threshold, 10, 20, 30),
			steps: []step{obs(0, 1, 31), obs(time.Hour, 1, 11), obs(2*time.Hour, 1, 1)},
			want:  []want{{Fire, 2, 0, 0}, {DeEscalate, 0, time.Hour, 0}, {Clear, -1, 2 * time.Hour, 0}},
		},
		{
			name: "threshold down with 10% hysteresis",
			rule: withHyst(base(Threshold, 10, 20), Margin{Value: 10, Percent: true}),
			// Exit thresholds: High... Medium 18, Low 9.
			steps: []step{obs(0, 1, 25), obs(time.Hour, 1, 19), obs(2*time.Hour, 1, 18), obs(3*time.Hour, 1, 17.9),
				obs(4*time.Hour, 1, 9.5), obs(5*time.Hour, 1, 9), obs(6*time.Hour, 1, 8.9)},
			want: []want{{Fire, 1, 0, 0}, {DeEscalate, 0, 3 * time.Hour, 0}, {Clear, -1, 6 * time.Hour, 0}},
		},
		{
			name:  "flapping without hysteresis fires and clears each time",
			rule:  base(Threshold, 10),
			steps: []step{obs(0, 1, 10), obs(time.Hour, 1, 9.5), obs(2*time.Hour, 1, 10.2), obs(3*time.Hour, 1, 9.1)},
			want:  []want{{Fire, 0, 0, 0}, {Clear, -1, time.Hour, 0}, {Fire, 0, 2 * time.Hour, 0}, {Clear, -1, 3 * time.Hour, 0}},
		},
		{
			name: "flapping with absolute hysteresis fires once",
			rule: withHyst(base(Threshold, 10), Margin{Value: 1}),
			steps: []step{obs(0, 1, 10), obs(time.Hour, 1, 9.5), obs(2*time.Hour, 1, 10.2), obs(3*time.Hour, 1, 9.1),
				obs(4*time.Hour, 1, 10), obs(5*time.Hour, 1, 8.9)},
			want: []want{{Fire, 0, 0, 0}, {Clear, -1, 5 * time.Hour, 0}},
		},
		{
			name: "hold: pending until the hold expires on a tick",
			rule: func() Rule { r := base(Threshold, 10, 20); r.Hold = time.Hour; return r }(),
			steps: []step{obs(0, 1, 12), tick(30 * time.Minute), tick(time.Hour),
				obs(2*time.Hour, 1, 25), tick(2*time.Hour + 59*time.Minute), tick(3 * time.Hour), obs(4*time.Hour, 1, 5)},
			want: []want{{Fire, 0, time.Hour, 0}, {Escalate, 1, 3 * time.Hour, 0}, {Clear, -1, 4 * time.Hour, 0}},
		},
		{
			name:  "hold: a condition that ends while pending never fires",
			rule:  func() Rule { r := base(Threshold, 10); r.Hold = time.Hour; return r }(),
			steps: []step{obs(0, 1, 12), obs(30*time.Minute, 1, 5), tick(time.Hour), obs(90*time.Minute, 1, 12), tick(2 * time.Hour), tick(150 * time.Minute)},
			want:  []want{{Fire, 0, 150 * time.Minute, 0}},
		},
		{
			name:  "clear hold keeps firing for a while",
			rule:  func() Rule { r := base(Threshold, 10, 20); r.ClearHold = 2 * time.Hour; return r }(),
			steps: []step{obs(0, 1, 25), obs(time.Hour, 1, 12), tick(2 * time.Hour), tick(3 * time.Hour), obs(4*time.Hour, 1, 1), tick(5 * time.Hour), tick(6 * time.Hour)},
			want:  []want{{Fire, 1, 0, 0}, {DeEscalate, 0, 3 * time.Hour, 0}, {Clear, -1, 6 * time.Hour, 0}},
		},
		{
			name: "direction below",
			rule: func() Rule {
				r := base(Threshold, 5, 2)
				r.Direction = Below
				r.Hysteresis = Margin{Value: 0.5}
				return r
			}(),
			steps: []step{obs(0, 1, 6), obs(time.Hour, 1, 4), obs(2*time.Hour, 1, 1), obs(3*time.Hour, 1, 2.4), obs(4*time.Hour, 1, 2.6), obs(5*time.Hour, 1, 5.6)},
			want:  []want{{Fire, 0, time.Hour, 0}, {Escalate, 1, 2 * time.Hour, 0}, {DeEscalate, 0, 4 * time.Hour, 0}, {Clear, -1, 5 * time.Hour, 0}},
		},
		{
			name: "rate of rise over 3h",
			rule: func() Rule { r := base(RateOfRise, 0.5, 1); r.Window = 3 * time.Hour; return r }(),
			// 3h: (3.0-1.0)/3h = 0.67/h; 4h: (5.0-1.2)/3h = 1.27/h; 7h: (5.1-5.0)/3h.
			steps: []step{obs(0, 1, 1.0), obs(time.Hour, 1, 1.2), obs(2*time.Hour, 1, 1.5), obs(3*time.Hour, 1, 3.0),
				obs(4*time.Hour, 1, 5.0), obs(7*time.Hour, 1, 5.1)},
			want: []want{{Fire, 0, 3 * time.Hour, 0}, {Escalate, 1, 4 * time.Hour, 0}, {Clear, -1, 7 * time.Hour, 0}},
		},
		{
			name: "accumulation over 24h slides on tick",
			rule: func() Rule { r := base(Accumulation, 50, 100); r.Window = 24 * time.Hour; return r }(),
			steps: []step{obs(0, 1, 30), obs(6*time.Hour, 1, 30), obs(7*time.Hour, 1, 45), tick(23 * time.Hour),
				tick(24 * time.Hour), tick(30 * time.Hour), tick(31 * time.Hour)},
			want: []want{{Fire, 0, 6 * time.Hour, 0}, {Escalate, 1, 7 * time.Hour, 0}, {DeEscalate, 0, 24 * time.Hour, 0}, {Clear, -1, 30 * time.Hour, 0}},
		},
		{
			name: "aggregation any",
			rule: func() Rule { r := base(Threshold, 10); r.Datastreams = []int64{1, 2, 3}; return r }(),
			steps: []step{obs(0, 1, 5), obs(time.Hour, 2, 12), obs(2*time.Hour, 3, 12), obs(3*time.Hour, 2, 5),
				obs(4*time.Hour, 3, 5)},
			want: []want{{Fire, 0, time.Hour, 0}, {Clear, -1, 4 * time.Hour, 0}},
		},
		{
			name: "aggregation all",
			rule: func() Rule { r := base(Threshold, 10); r.Datastreams = []int64{1, 2, 3}; r.Aggregate = All; return r }(),
			steps: []step{obs(0, 1, 12), obs(time.Hour, 2, 12), obs(2*time.Hour, 3, 12), obs(3*time.Hour, 2, 5),
				obs(4*time.Hour, 2, 11)},
			want: []want{{Fire, 0, 2 * time.Hour, 0}, {Clear, -1, 3 * time.Hour, 0}, {Fire, 0, 4 * time.Hour, 0}},
		},
		{
			name: "aggregation count ≥ 2",
			rule: func() Rule {
				r := base(Threshold, 10, 20)
				r.Datastreams = []int64{1, 2, 3}
				r.Aggregate, r.Count = Count, 2
				return r
			}(),
			steps: []step{obs(0, 1, 25), obs(time.Hour, 2, 12), obs(2*time.Hour, 3, 21), obs(3*time.Hour, 1, 5),
				obs(4*time.Hour, 2, 5)},
			want: []want{{Fire, 0, time.Hour, 0}, {Escalate, 1, 2 * time.Hour, 0}, {DeEscalate, 0, 3 * time.Hour, 0}, {Clear, -1, 4 * time.Hour, 0}},
		},
		{
			name: "forecast exceedance carries the lead time",
			rule: func() Rule {
				r := base(Threshold, 100, 200)
				r.Forecast = true
				for i := range r.Levels {
					r.Levels[i].Certainty, r.Levels[i].Urgency = Likely, Expected
				}
				return r
			}(),
			steps: []step{
				obs(0, 1, 500), // a measurement: not for a forecast rule
				fc(0, 6*time.Hour, 1, 150),
				fc(time.Hour, 12*time.Hour, 1, 250),
				tick(5 * time.Hour),    // the 6h point is 1h ahead now; the 12h point still 7h
				tick(12*time.Hour + 1), // every point is past: nothing forecast
			},
			want: []want{{Fire, 0, 0, 6 * time.Hour}, {Escalate, 1, time.Hour, 11 * time.Hour}, {Clear, -1, 12*time.Hour + 1, 0}},
		},
		{
			name: "forecast horizon ignores far forecasts",
			rule: func() Rule {
				r := base(Threshold, 100)
				r.Forecast, r.Horizon = true, 6*time.Hour
				r.Levels[0].Certainty = Likely
				return r
			}(),
			steps: []step{fc(0, 12*time.Hour, 1, 150), tick(5 * time.Hour), tick(6 * time.Hour)},
			want:  []want{{Fire, 0, 6 * time.Hour, 6 * time.Hour}},
		},
		{
			name: "silence raises an operational trigger",
			rule: Rule{ID: "s", Kind: Silence, Datastreams: []int64{1, 2}, MaxGap: 6 * time.Hour},
			steps: []step{obs(0, 1, 1), obs(0, 2, 1), tick(5 * time.Hour), tick(6 * time.Hour), obs(6*time.Hour, 2, 1),
				tick(6*time.Hour + time.Second), flagged(8*time.Hour, 1, -9999, FlagBad)},
			want: []want{{Operational, 0, 6*time.Hour + time.Second, 0}, {Operational, -1, 8 * time.Hour, 0}},
		},
		{
			name:  "silence of a datastream that never reported counts from the first evaluation",
			rule:  Rule{ID: "s", Kind: Silence, Datastreams: []int64{1}, MaxGap: time.Hour},
			steps: []step{tick(0), tick(time.Hour), tick(2 * time.Hour)},
			want:  []want{{Operational, 0, 2 * time.Hour, 0}},
		},
		{
			name:  "bad flag never triggers; suspect does",
			rule:  base(Threshold, 10),
			steps: []step{flagged(0, 1, 100, FlagBad), flagged(time.Hour, 1, 100, 7), flagged(2*time.Hour, 1, 100, FlagSuspect)},
			want:  []want{{Fire, 0, 2 * time.Hour, 0}},
		},
		{
			name:  "ignoreSuspect skips suspect values too",
			rule:  func() Rule { r := base(Threshold, 10); r.IgnoreSuspect = true; return r }(),
			steps: []step{flagged(0, 1, 100, FlagSuspect), flagged(time.Hour, 1, 100, FlagGood)},
			want:  []want{{Fire, 0, time.Hour, 0}},
		},
		{
			name: "bad value while firing does not clear",
			rule: base(Threshold, 10),
			steps: []step{obs(0, 1, 12), flagged(time.Hour, 1, -9999, FlagBad),
				{At: 2 * time.Hour, Obs: &Obs{Datastream: 1, Time: at(2 * time.Hour), Value: nan()}}, obs(3*time.Hour, 1, 2)},
			want: []want{{Fire, 0, 0, 0}, {Clear, -1, 3 * time.Hour, 0}},
		},
		{
			name: "out of order: a late older value does not move a threshold rule",
			rule: base(Threshold, 10, 20),
			steps: []step{obs(2*time.Hour, 1, 25), late(3*time.Hour, time.Hour, 1, 5),
				late(4*time.Hour, 2*time.Hour, 1, 15), // a correction of the 2h value
			},
			want: []want{{Fire, 1, 2 * time.Hour, 0}, {DeEscalate, 0, 4 * time.Hour, 0}},
		},
		{
			name: "out of order: a late value within the window counts for accumulation",
			rule: func() Rule { r := base(Accumulation, 50); r.Window = 24 * time.Hour; return r }(),
			steps: []step{obs(6*time.Hour, 1, 30), late(7*time.Hour, time.Hour, 1, 30),
				late(40*time.Hour, 10*time.Hour, 1, 100)}, // outside (16h, 40h]: ignored
			want: []want{{Fire, 0, 7 * time.Hour, 0}, {Clear, -1, 40 * time.Hour, 0}},
		},
		{
			name:  "out of order: now going back does not undo a hold",
			rule:  func() Rule { r := base(Threshold, 10); r.Hold = time.Hour; return r }(),
			steps: []step{obs(2*time.Hour, 1, 12), tick(30 * time.Minute), tick(3 * time.Hour)},
			want:  []want{{Fire, 0, 3 * time.Hour, 0}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := New([]Rule{tt.rule})
			if err != nil {
				t.Fatal(err)
			}
			got := run(t, e, tt.steps)
			var gs, ws []string
			for _, g := range got {
				gs = append(gs, want{g.Kind, g.Level, g.At.Sub(t0), g.LeadTime}.String())
				if g.Cause == "" {
					t.Errorf("trigger %+v has no cause", g)
				}
			}
			for _, w := range tt.want {
				ws = append(ws, w.String())
			}
			if strings.Join(gs, "\n") != strings.Join(ws, "\n") {
				t.Errorf("triggers:\n%s\nwant:\n%s", strings.Join(gs, "\n"), strings.Join(ws, "\n"))
				for _, g := range got {
					t.Logf("%s %s→%s level %d %q: %s", g.Kind, g.From, g.To, g.Level, g.LevelName, g.Cause)
				}
			}
		})
	}
}

func nan() float64 { var z float64; return z / z }

func TestTriggerFields(t *testing.T) {
	r := base(Threshold, 100000, 150000, 200000, 400000, 600000)
	r.ID, r.Datastreams, r.Hysteresis = "khanki", []int64{8}, Margin{Value: 5, Percent: true}
	e, err := New([]Rule{r})
	if err != nil {
		t.Fatal(err)
	}
	got := e.Observe(at(13*time.Hour), Obs{Datastream: 8, Time: at(13 * time.Hour), Value: 1001480})
	if len(got) != 1 {
		t.Fatalf("got %d triggers, want 1", len(got))
	}
	g := got[0]
	if g.Kind != Fire || g.From != Inactive || g.To != Firing || g.Level != 4 || g.LevelName != "Exceptionally High" ||
		g.PrevLevel != -1 || g.Value != 1001480 || g.Datastream != 8 || !g.ObservedAt.Equal(at(13*time.Hour)) {
		t.Errorf("trigger = %+v", g)
	}
	if want := "datastream 8: 1001480 ≥ 600000 (Exceptionally High)"; g.Cause != want {
		t.Errorf("cause = %q, want %q", g.Cause, want)
	}
	got = e.Observe(at(38*time.Hour), Obs{Datastream: 8, Time: at(38 * time.Hour), Value: 475088})
	if len(got) != 1 || got[0].Kind != DeEscalate || got[0].Level != 3 {
		t.Fatalf("got %+v, want a de-escalation to Very High", got)
	}
	if want := "datastream 8: 475088 < 570000, the exit threshold of Exceptionally High (600000 − 5%)"; got[0].Cause != want {
		t.Errorf("cause = %q, want %q", got[0].Cause, want)
	}
}

func TestOperationalRuleTrigger(t *testing.T) {
	r := base(Threshold, 10)
	r.Operational = true
	e, _ := New([]Rule{r})
	got := e.Observe(t0, Obs{Datastream: 1, Time: t0, Value: 11})
	if len(got) != 1 || got[0].Kind != Operational || !got[0].Operational || got[0].To != Firing {
		t.Fatalf("got %+v", got)
	}
}

func TestNewRejectsInvalidAndDuplicateRules(t *testing.T) {
	good := base(Threshold, 10)
	bad := base(Threshold, 10, 5)
	bad.ID = "bad"
	_, err := New([]Rule{good, bad, good})
	if err == nil {
		t.Fatal("New accepted an invalid rule and a duplicate id")
	}
	want := "rules[1].levels[1].value: must be greater than the previous level (10)\nrules[2].id: repeats rule id \"r\""
	if err.Error() != want {
		t.Errorf("err = %q\nwant %q", err, want)
	}
}

func TestSnapshotRestore(t *testing.T) {
	r := base(Threshold, 10, 20)
	r.Hold = time.Hour
	acc := base(Accumulation, 50)
	acc.ID, acc.Window, acc.Datastreams = "acc", 24*time.Hour, []int64{2}
	e1, _ := New([]Rule{r, acc})
	run(t, e1, []step{obs(0, 1, 25), obs(0, 2, 30)}) // r pending; acc holds 30 mm

	b, err := json.Marshal(e1.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	var snap Snapshot
	if err := json.Unmarshal(b, &snap); err != nil {
		t.Fatal(err)
	}
	e2, _ := New([]Rule{r, acc})
	if err := e2.Restore(snap); err != nil {
		t.Fatal(err)
	}
	got := run(t, e2, []step{tick(time.Hour), obs(2*time.Hour, 2, 25)})
	if len(got) != 2 || got[0].RuleID != "r" || got[0].Kind != Fire || got[0].Level != 1 || got[1].RuleID != "acc" || got[1].Kind != Fire {
		t.Fatalf("after restore got %+v; want r to fire when its hold expires and acc to sum across the restart", got)
	}
	// A firing rule does not fire again after a restart.
	e3, _ := New([]Rule{r, acc})
	if err := e3.Restore(e2.Snapshot()); err != nil {
		t.Fatal(err)
	}
	if got := run(t, e3, []step{obs(3*time.Hour, 1, 26), tick(4 * time.Hour)}); len(got) != 0 {
		t.Errorf("after second restore got %+v, want nothing", got)
	}
	// Time does not go back across a restore either.
	if !e3.Snapshot().At.Equal(at(4 * time.Hour)) {
		t.Errorf("snapshot time = %v", e3.Snapshot().At)
	}
}

func TestRestoreRejectsInconsistentState(t *testing.T) {
	r := base(Threshold, 10)
	e, _ := New([]Rule{r})
	snap := e.Snapshot()
	snap.Rules[0].Level = 3
	if err := e.Restore(snap); err == nil {
		t.Error("Restore accepted level 3 of a one-level rule")
	}
	snap = e.Snapshot()
	snap.Version = 99
	if err := e.Restore(snap); err == nil {
		t.Error("Restore accepted version 99")
	}
	// A state for a rule whose levels changed is dropped, not an error.
	snap = e.Snapshot()
	snap.Rules[0].Levels = 2
	if err := e.Restore(snap); err != nil {
		t.Errorf("Restore of a changed rule: %v", err)
	}
}

func TestStateText(t *testing.T) {
	for _, s := range []State{Inactive, Pending, Firing} {
		b, err := s.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back State
		if err := back.UnmarshalText(b); err != nil || back != s {
			t.Errorf("%v round-trips to %v, %v", s, back, err)
		}
	}
	if err := new(State).UnmarshalText([]byte("on")); err == nil {
		t.Error("UnmarshalText accepted \"on\"")
	}
}

func TestEngineConcurrentUse(t *testing.T) {
	e, _ := New([]Rule{base(Threshold, 10)})
	done := make(chan bool)
	for g := range 4 {
		go func() {
			for i := range 200 {
				e.Observe(at(time.Duration(i)*time.Minute), Obs{Datastream: 1, Time: at(time.Duration(i) * time.Minute), Value: float64((i + g) % 20)})
				e.Tick(at(time.Duration(i) * time.Minute))
				_ = e.Snapshot()
			}
			done <- true
		}()
	}
	for range 4 {
		<-done
	}
}
