package forecast

import (
	"cmp"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

var t0 = time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)

func at(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }

// confluenceModel: a (lag 2 h) and b (lag 5 h) join at c, pure lag (K one step, x 0.5 makes
// the linear Muskingum a pure translation by K: here x 0.5 and K 1 h shift by one more hour).
func confluenceModel(t *testing.T, hold bool) Model {
	t.Helper()
	n, err := NewNetwork([]Station{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		[]Reach{{From: "a", To: "c"}, {From: "b", To: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	p := Muskingum{K: 1, X: 0.2, M: 1}
	return Model{Network: n, Step: time.Hour, HoldBranches: hold, Correction: CorrectNone, Reaches: []ReachModel{
		{From: "a", To: "c", Muskingum: p, Scheme: SchemeRK4, Lag: 2 * time.Hour, Gain: 0.5, RMSE: 3, N: 10},
		{From: "b", To: "c", Muskingum: p, Scheme: SchemeRK4, Lag: 5 * time.Hour, Gain: 1, RMSE: 4, N: 10},
	}}
}

// TestForecasterConfluence: a steady state is forecast as the gain-weighted sum of the
// branches, as far as the shorter branch is known (2 h) or, holding branches, as far as the
// longer one (5 h) with the held points suspect; the band is the branches' RMSEs in quadrature.
func TestForecasterConfluence(t *testing.T) {
	for _, hold := range []bool{false, true} {
		f, err := NewForecaster(confluenceModel(t, hold))
		if err != nil {
			t.Fatal(err)
		}
		for h := 0; h <= 20; h++ {
			f.Observe("a", at(h), 100, sensing.FlagGood)
			f.Observe("b", at(h), 40, sensing.FlagGood)
		}
		fc := f.Update(at(20))
		if len(fc) != 1 || fc[0].Station != "c" {
			t.Fatalf("hold %v: forecasts %+v, want one for c", hold, fc)
		}
		pts := fc[0].Points
		want := 2
		if hold {
			want = 5
		}
		if len(pts) != want {
			t.Fatalf("hold %v: %d points, want %d", hold, len(pts), want)
		}
		for i, p := range pts {
			if math.Abs(p.Value-90) > 1e-9 {
				t.Errorf("hold %v: point %d = %v, want 0.5·100 + 40 = 90", hold, i, p.Value)
			}
			if sd := (p.Upper - p.Value) / z90; math.Abs(sd-5) > 1e-9 {
				t.Errorf("hold %v: point %d: σ %v, want √(3²+4²) = 5", hold, i, sd)
			}
			if wantFlag := sensing.FlagGood; i >= 2 && hold && p.Flag != sensing.FlagSuspect || i < 2 && p.Flag != wantFlag {
				t.Errorf("hold %v: point %d flag %v", hold, i, p.Flag)
			}
		}
	}
}

// TestForecasterCorrection: the simulation says 90 at c, the station reads 100; the additive
// correction adds 10·e^(−lead/τ), the ratio one scales by 1 + (100/90 − 1)·e^(−lead/τ), none
// leaves 90.
func TestForecasterCorrection(t *testing.T) {
	for _, c := range []Correction{CorrectNone, CorrectAdditive, CorrectRatio} {
		m := confluenceModel(t, false)
		m.Correction, m.CorrectionDecay = c, 10*time.Hour
		f, _ := NewForecaster(m)
		for h := 0; h <= 20; h++ {
			f.Observe("a", at(h), 100, sensing.FlagGood)
			f.Observe("b", at(h), 40, sensing.FlagGood)
		}
		f.Observe("c", at(20), 100, sensing.FlagGood)
		pts := f.Update(at(20))[0].Points
		for i, p := range pts {
			d := math.Exp(-float64(i+1) / 10)
			want := map[Correction]float64{CorrectNone: 90, CorrectAdditive: 90 + 10*d, CorrectRatio: 90 * (1 + (100.0/90-1)*d)}[c]
			if math.Abs(p.Value-want) > 1e-6 {
				t.Errorf("%v: point %d = %v, want %v", c, i, p.Value, want)
			}
		}
	}
}

// TestForecasterGaps: a gap longer than MaxGap breaks the series: the routing starts after it;
// a headwater whose last reading is older than the issue time is forecast only as far as that
// reading plus the lag.
func TestForecasterGaps(t *testing.T) {
	m := chainModel(t)
	m.MaxGap = 6 * time.Hour
	f, _ := NewForecaster(m)
	f.Observe("a", at(0), 500, sensing.FlagGood) // before a 10 h gap: not interpolated across
	f.Observe("a", at(10), 100, sensing.FlagGood)
	f.Observe("a", at(12), 100, sensing.FlagGood)
	fc := f.Update(at(13), "a")
	if len(fc) == 0 || fc[0].Station != "b" {
		t.Fatalf("forecasts %+v", fc)
	}
	// a known to 12 h, lag 3 h: b known to 15 h, i.e. points at 14 and 15 h
	if n := len(fc[0].Points); n != 2 {
		t.Fatalf("%d points at b, want 2", n)
	}
	for _, p := range fc[0].Points {
		if math.Abs(p.Value-100) > 1e-9 {
			t.Errorf("b at %v: %v, want 100 (the 500 before the gap is not used)", p.Time, p.Value)
		}
	}
}

// TestForecasterObserve: errors, bad readings, replacement, suspect flags and memory.
func TestForecasterObserve(t *testing.T) {
	f, _ := NewForecaster(chainModel(t))
	if err := f.Observe("nowhere", at(0), 1, sensing.FlagGood); !errors.Is(err, ErrUnknownStation) {
		t.Errorf("unknown station: %v", err)
	}
	for _, q := range []float64{-1, math.NaN(), math.Inf(1)} {
		if err := f.Observe("a", at(0), q, sensing.FlagGood); !errors.Is(err, ErrReading) {
			t.Errorf("value %v: %v, want ErrReading", q, err)
		}
	}
	if err := f.Observe("a", time.Time{}, 1, sensing.FlagGood); !errors.Is(err, ErrReading) {
		t.Errorf("zero time: %v", err)
	}
	if err := f.Observe("a", at(0), 1, sensing.Flag(7)); !errors.Is(err, ErrReading) {
		t.Errorf("unknown flag: %v", err)
	}
	if err := f.Observe("a", at(0), math.NaN(), sensing.FlagBad); err != nil {
		t.Errorf("a bad NaN is ignored, got %v", err)
	}
	for h := 0; h <= 10; h++ {
		f.Observe("a", at(h), 100, sensing.FlagGood)
	}
	f.Observe("a", at(10), 200, sensing.FlagSuspect) // replaces the 100 at 10 h
	pts := f.Update(at(10), "a")[0].Points
	last := pts[len(pts)-1]
	if !(last.Value > 100) || last.Flag != sensing.FlagSuspect {
		t.Errorf("after a suspect 200 at 10 h, b at +3 h = %v flagged %v, want > 100 and suspect", last.Value, last.Flag)
	}
	f.Observe("a", at(10), 0, sensing.FlagBad) // a bad correction removes the reading at 10 h
	if fc := f.Update(at(10), "a"); len(fc) == 0 || len(fc[0].Points) != 2 {
		t.Errorf("after removing the 10 h reading: %+v, want b known 2 h ahead (a to 9 h, lag 3 h)", fc)
	}
	// memory: a reading older than the window before the newest one is not kept
	f.Observe("a", at(0).Add(-f.Window()-time.Hour), 100, sensing.FlagGood)
	if got := len(f.readings[f.idx["a"]]); got != 10 {
		t.Errorf("%d readings held at a, want 10", got)
	}
}

// TestModelValidate: the JSON form refuses what Validate refuses, naming the field.
func TestModelValidate(t *testing.T) {
	good, err := json.Marshal(chainModel(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ from, to, want string }{
		{`"step_h":1`, `"step_h":0`, "step"},
		{`"gain":1`, `"gain":-1`, "gain"},
		{`"lag_h":3`, `"lag_h":2.5`, "lag"},
		{`"K":1`, `"K":0`, "K must be"},
		{`"scheme":"rk4"`, `"scheme":"rk5"`, "unknown routing scheme"},
		{`"to":"b","K"`, `"to":"c","K"`, "no such reach"},
		{`"step_h":1`, `"step_h":1,"extra":2`, "unknown field"},
		{`"correction":"additive"`, `"correction":"magic"`, "unknown forecast correction"},
	} {
		if !strings.Contains(string(good), c.from) {
			t.Fatalf("%s not in %s", c.from, good)
		}
		var m Model
		err := json.Unmarshal([]byte(strings.Replace(string(good), c.from, c.to, 1)), &m)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.to, err, c.want)
		}
	}
	// the network may be the YAML text of a network file
	var m Model
	yml, _ := json.Marshal(string(PunjabIndusYAML()))
	if err := json.Unmarshal([]byte(`{"network":`+string(yml)+`,"step_h":1,"reaches":[]}`), &m); err != nil || len(m.Network.Reaches()) != 20 {
		t.Errorf("network as YAML text: %v", err)
	}
}

// FuzzModelJSON: whatever Model.UnmarshalJSON accepts is valid, makes a Forecaster, and
// survives a round trip unchanged.
func FuzzModelJSON(f *testing.F) {
	n, _ := NewNetwork([]Station{{ID: "a"}, {ID: "b"}}, []Reach{{From: "a", To: "b", TravelTime: time.Hour}})
	seed, _ := json.Marshal(Model{Network: n, Step: time.Hour, Reaches: []ReachModel{
		{From: "a", To: "b", Muskingum: Muskingum{K: 2, X: 0.1, M: 1.1}, Lag: time.Hour, Gain: 0.9, RMSE: 5, N: 4}}})
	f.Add(seed)
	f.Add([]byte(`{"network":"stations: [{id: a}, {id: b}]\nreaches: [{from: a, to: b}]","step_h":0.5,"reaches":[]}`))
	f.Add([]byte(`{"network":{"stations":[{"id":"a"}],"reaches":[]},"step_h":1,"reaches":[],"hold_branches":true}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Model
		if err := json.Unmarshal(data, &m); err != nil {
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted an invalid model: %v", err)
		}
		if _, err := NewForecaster(m); err != nil {
			t.Fatalf("accepted model makes no forecaster: %v", err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		var back Model
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Fatalf("round trip changed the model:\n%s\n%s", b, b2)
		}
	})
}

// TestResample: linear interpolation on the hour grid, gaps break segments, bad readings
// dropped, the later of two readings at one time wins, nothing extrapolated.
func TestResample(t *testing.T) {
	rs := []Reading{
		{Time: at(0).Add(30 * time.Minute), Value: 10},
		{Time: at(2).Add(30 * time.Minute), Value: 30},
		{Time: at(1), Value: 999, Flag: sensing.FlagBad},
		{Time: at(3), Value: 40, Flag: sensing.FlagSuspect},
		{Time: at(3), Value: 50}, // replaces the suspect 40
		{Time: at(20), Value: 5}, // after a 17 h gap: a segment of its own
	}
	segs, err := Resample(rs, time.Hour, 6*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) != 2 {
		t.Fatalf("%d segments, want 2", len(segs))
	}
	s := segs[0]
	want := []float64{15, 25, 50}
	if !s.Start.Equal(at(1)) || len(s.Values) != len(want) {
		t.Fatalf("first segment from %v, %v; want from %v, %v", s.Start, s.Values, at(1), want)
	}
	for i := range want {
		if math.Abs(s.Values[i]-want[i]) > 1e-9 || s.Suspect[i] {
			t.Errorf("value %d: %v (suspect %v), want %v", i, s.Values[i], s.Suspect[i], want[i])
		}
	}
	if !segs[1].Start.Equal(at(20)) || len(segs[1].Values) != 1 {
		t.Errorf("second segment %+v", segs[1])
	}
	if _, err := Resample([]Reading{{Time: at(0), Value: -1}}, time.Hour, time.Hour); err == nil {
		t.Error("a negative discharge was accepted")
	}
}

// TestUpdateDownstreamOnly: on the demo model after the 2025 season up to the Chenab flood, a
// new reading at Marala updates exactly the stations downstream of it (Khanki … Kotri), in
// network order, every point after the issue time, one step apart, its band around it.
func TestUpdateDownstreamOnly(t *testing.T) {
	m, err := PunjabIndusModel()
	if err != nil {
		t.Fatal(err)
	}
	f, _ := NewForecaster(m)
	issued := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	for h := -400; h <= 0; h += 6 { // more than the 336 h of lags from Taunsa to Kotri
		for _, s := range m.Network.Stations() {
			f.Observe(s.ID, issued.Add(time.Duration(h)*time.Hour), 100000, sensing.FlagGood)
		}
	}
	f.Observe("marala", issued, 550000, sensing.FlagGood)
	fcs := f.Update(issued, "marala")
	var got []string
	for _, fc := range fcs {
		got = append(got, fc.Station)
		for i, p := range fc.Points {
			if want := issued.Add(time.Duration(i+1) * m.Step); !p.Time.Equal(want) && i == 0 || i > 0 && p.Time.Sub(fc.Points[i-1].Time) != m.Step {
				t.Fatalf("%s point %d at %v", fc.Station, i, p.Time)
			}
			if !(p.Lower <= p.Value && p.Value <= p.Upper) || p.Lower < 0 {
				t.Fatalf("%s point %d: %v outside its band %v–%v", fc.Station, i, p.Value, p.Lower, p.Upper)
			}
		}
	}
	want := []string{"khanki", "qadirabad", "trimmu", "panjnad", "guddu", "sukkur", "kotri"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("updated %v, want %v", got, want)
	}
	// the rise at Marala reaches Khanki: its forecast goes above the steady 100,000
	if peak := slices.MaxFunc(fcs[0].Points, func(a, b ForecastPoint) int { return cmp.Compare(a.Value, b.Value) }); !(peak.Value > 150000) {
		t.Errorf("Khanki's forecast peaks at %v, want the Marala rise to arrive", peak.Value)
	}
}
