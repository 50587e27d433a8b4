package sensing

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

func fp(v float64) *float64             { return &v }
func ip(v int) *int                     { return &v }
func dp(v time.Duration) *time.Duration { return &v }
func bp(v bool) *bool                   { return &v }

var t0 = time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC)

func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

type obs struct {
	t    time.Time
	v    float64
	flag Flag
	// checks that must have failed (all others must have passed)
	checks []Check
}

func runQC(t *testing.T, cfg QCConfig, seq []obs) *QCState {
	t.Helper()
	var s QCState
	for i, o := range seq {
		r := s.Check(cfg, o.t, o.v)
		var got []Check
		for _, is := range r.Issues {
			got = append(got, is.Check)
			if is.Reason == "" {
				t.Errorf("obs %d: %s issue without a reason", i, is.Check)
			}
		}
		if r.Flag != o.flag || !reflect.DeepEqual(got, o.checks) {
			t.Errorf("obs %d (%v, %v): flag %v issues %+v; want %v %v", i, o.t.Format(time.RFC3339), o.v, r.Flag, r.Issues, o.flag, o.checks)
		}
	}
	return &s
}

func TestQCRange(t *testing.T) {
	cfg := QCConfig{Min: fp(0), Max: fp(100), Unit: "%"}
	runQC(t, cfg, []obs{
		{at(0), 50, FlagGood, nil},
		{at(1), 0, FlagGood, nil},   // equal to min
		{at(2), 100, FlagGood, nil}, // equal to max
		{at(3), -0.001, FlagBad, []Check{CheckRange}},
		{at(4), 100.5, FlagBad, []Check{CheckRange}},
		{at(5), -9999, FlagBad, []Check{CheckRange}},
	})
	// Only one bound set.
	runQC(t, QCConfig{Min: fp(0)}, []obs{{at(0), 1e12, FlagGood, nil}, {at(1), -1, FlagBad, []Check{CheckRange}}})
	// Unbounded by an override null (±Inf).
	runQC(t, QCConfig{Min: fp(math.Inf(-1)), Max: fp(math.Inf(1))}, []obs{{at(0), -1e300, FlagGood, nil}, {at(1), 1e300, FlagGood, nil}})
	// No config: everything finite is good.
	runQC(t, QCConfig{}, []obs{{at(0), -1e300, FlagGood, nil}, {at(1), 1e300, FlagGood, nil}, {at(2), 1e300, FlagGood, nil}})
}

func TestQCRangeReason(t *testing.T) {
	var s QCState
	r := s.Check(QCConfig{Min: fp(-60), Max: fp(60), Unit: "°C"}, at(0), 61.5)
	if want := "61.5 above maximum 60 °C"; len(r.Issues) != 1 || r.Issues[0].Reason != want {
		t.Errorf("issues %+v, want reason %q", r.Issues, want)
	}
}

func TestQCNonFinite(t *testing.T) {
	cfg := QCConfig{Min: fp(0), Max: fp(10), MaxRatePerHour: fp(1)}
	s := runQC(t, cfg, []obs{
		{at(0), 5, FlagGood, nil},
		{at(1), math.NaN(), FlagBad, []Check{CheckFinite}},
		{at(2), math.Inf(1), FlagBad, []Check{CheckFinite}},
		{at(3), math.Inf(-1), FlagBad, []Check{CheckFinite}},
		{at(4), 5.5, FlagGood, nil}, // compared with 5 at hour 0: state untouched by NaN/Inf
	})
	if !s.LastSeen.Equal(at(4)) {
		t.Errorf("LastSeen %v", s.LastSeen)
	}
}

func TestQCRate(t *testing.T) {
	cfg := QCConfig{MaxRatePerHour: fp(10)}
	runQC(t, cfg, []obs{
		{at(0), 100, FlagGood, nil},                     // first: nothing to compare with
		{at(1), 110, FlagGood, nil},                     // exactly the limit
		{at(2), 120.5, FlagSuspect, []Check{CheckRate}}, // 10.5 per hour
		{at(2.5), 115.5, FlagGood, nil},                 // 5 in half an hour = 10/h
		{at(2.75), 112, FlagSuspect, []Check{CheckRate}},
		{at(26.75), 200, FlagGood, nil}, // 88 over a day
	})
	// Δt is floored at RateMinInterval: 0.1 in one second is 0.1 per minute = 6/h, under 10.
	runQC(t, cfg, []obs{{t0, 20, FlagGood, nil}, {t0.Add(time.Second), 20.1, FlagGood, nil}, {t0.Add(2 * time.Second), 20.3, FlagSuspect, []Check{CheckRate}}})
}

func TestQCSpike(t *testing.T) {
	cfg := QCConfig{Spike: fp(10)}
	runQC(t, cfg, []obs{
		{at(0), 20, FlagGood, nil},
		{at(1), 21, FlagGood, nil},
		{at(2), 50, FlagGood, nil}, // fewer than 3 neighbours: not checked
		{at(3), 22, FlagGood, nil}, // median of 20,21,50 is 21
		{at(4), 45, FlagSuspect, []Check{CheckSpike}},
		{at(5), 21.5, FlagGood, nil},                  // median of 20,21,50,22,45 = 22
		{at(6), 32, FlagGood, nil},                    // median of 21,50,22,45,21.5 = 22: exactly the limit
		{at(7), 10, FlagSuspect, []Check{CheckSpike}}, // median of 50,22,45,21.5,32 = 32
	})
}

func TestQCFlatLine(t *testing.T) {
	runQC(t, QCConfig{FlatLineCount: ip(3)}, []obs{
		{at(0), 7, FlagGood, nil},
		{at(1), 7, FlagGood, nil},
		{at(2), 7, FlagSuspect, []Check{CheckFlatLine}}, // third in a row
		{at(3), 7, FlagSuspect, []Check{CheckFlatLine}},
		{at(4), 7.1, FlagGood, nil},
		{at(5), 7, FlagGood, nil},
	})
	runQC(t, QCConfig{FlatLineDuration: dp(6 * time.Hour)}, []obs{
		{at(0), 1013.2, FlagGood, nil},
		{at(3), 1013.2, FlagGood, nil},
		{at(6), 1013.2, FlagSuspect, []Check{CheckFlatLine}}, // exactly 6 h
		{at(7), 1013.3, FlagGood, nil},
		{at(20), 1013.3, FlagSuspect, []Check{CheckFlatLine}}, // two values 13 h apart
	})
	// 0 = off.
	runQC(t, QCConfig{FlatLineCount: ip(0), FlatLineDuration: dp(0)}, []obs{{at(0), 1, FlagGood, nil}, {at(1), 1, FlagGood, nil}, {at(2), 1, FlagGood, nil}})
	// A bad value does not break or join the run.
	runQC(t, QCConfig{FlatLineCount: ip(3), Max: fp(10)}, []obs{
		{at(0), 5, FlagGood, nil},
		{at(1), 5, FlagGood, nil},
		{at(2), 99, FlagBad, []Check{CheckRange}},
		{at(3), 5, FlagSuspect, []Check{CheckFlatLine}},
	})
}

func TestQCGap(t *testing.T) {
	cfg := QCConfig{ExpectedInterval: dp(time.Hour)}
	runQC(t, cfg, []obs{
		{at(0), 1, FlagGood, nil}, // first: no gap known
		{at(1), 2, FlagGood, nil}, // exactly the interval
		{at(3), 3, FlagGood, []Check{CheckGap}},
		{at(4), 4, FlagGood, nil},
	})
	// A gap does not hide other issues, and is not worse than them.
	runQC(t, QCConfig{ExpectedInterval: dp(time.Hour), Max: fp(3)}, []obs{
		{at(0), 1, FlagGood, nil},
		{at(5), 9, FlagBad, []Check{CheckRange, CheckGap}},
		{at(5.5), 2, FlagGood, nil}, // the bad value still counts as heard from
	})
}

func TestQCOutOfOrder(t *testing.T) {
	cfg := QCConfig{Min: fp(0), Max: fp(100), MaxRatePerHour: fp(10), FlatLineCount: ip(2), ExpectedInterval: dp(time.Hour)}
	var s QCState
	s.Check(cfg, at(0), 10)
	s.Check(cfg, at(1), 15)
	before := s
	before.Recent = append([]float64(nil), s.Recent...)

	r := s.Check(cfg, at(0.5), 90) // older than the newest: would be a rate and a gap
	if r.Flag != FlagGood || len(r.Issues) != 1 || r.Issues[0].Check != CheckOrder {
		t.Errorf("out of order: %+v", r)
	}
	r = s.Check(cfg, at(1), 15) // same time, same value: a duplicate, not a flat line
	if r.Flag != FlagGood || !r.Failed(CheckOrder) || r.Failed(CheckFlatLine) {
		t.Errorf("duplicate time: %+v", r)
	}
	r = s.Check(cfg, at(-1), 200) // older and out of range: range is still checked
	if r.Flag != FlagBad || !r.Failed(CheckRange) || !r.Failed(CheckOrder) {
		t.Errorf("old out of range: %+v", r)
	}
	if !reflect.DeepEqual(s, before) {
		t.Errorf("state changed by out-of-order observations:\n got %+v\nwant %+v", s, before)
	}
	// The next in-order observation is compared with the newest (15 at hour 1).
	if r := s.Check(cfg, at(2), 20); r.Flag != FlagGood || len(r.Issues) != 0 {
		t.Errorf("next in order: %+v", r)
	}
}

func TestQCRecentWindow(t *testing.T) {
	var s QCState
	for i := range 20 {
		s.Check(QCConfig{}, at(float64(i)), float64(i))
	}
	if want := []float64{15, 16, 17, 18, 19}; !reflect.DeepEqual(s.Recent, want) {
		t.Errorf("Recent = %v, want %v", s.Recent, want)
	}
}

func TestQCCheckResult(t *testing.T) {
	cfg := QCConfig{Min: fp(0), Max: fp(10), ExpectedInterval: dp(time.Hour)}
	tests := []struct {
		result any
		flag   Flag
		checks []Check
	}{
		{5.0, FlagGood, nil},
		{11, FlagBad, []Check{CheckRange}},
		{json.Number("-1"), FlagBad, []Check{CheckRange}},
		{json.RawMessage(" 12 "), FlagBad, []Check{CheckRange}},
		{json.RawMessage(`"high"`), FlagGood, nil},
		{json.RawMessage(`true`), FlagGood, nil},
		{"99", FlagGood, nil}, // a Go string is text, not a number
		{map[string]any{"a": 1}, FlagGood, nil},
	}
	for i, tt := range tests {
		var s QCState
		r := s.CheckResult(cfg, at(0), tt.result)
		var got []Check
		for _, is := range r.Issues {
			got = append(got, is.Check)
		}
		if r.Flag != tt.flag || !reflect.DeepEqual(got, tt.checks) {
			t.Errorf("%d: %#v: %+v, want %v %v", i, tt.result, r, tt.flag, tt.checks)
		}
	}
	// Numeric required.
	var s QCState
	r := s.CheckResult(QCConfig{Numeric: bp(true), ExpectedInterval: dp(time.Hour)}, at(0), json.RawMessage(`"n/a"`))
	if r.Flag != FlagBad || !r.Failed(CheckNumeric) {
		t.Errorf("numeric required: %+v", r)
	}
	// Non-numeric results count for gaps and order, but leave the numeric state alone.
	r = s.CheckResult(QCConfig{ExpectedInterval: dp(time.Hour)}, at(3), json.RawMessage(`"x"`))
	if !r.Failed(CheckGap) || !s.LastSeen.Equal(at(3)) || !s.LastTime.IsZero() {
		t.Errorf("gap on text: %+v state %+v", r, s)
	}
	r = s.CheckResult(QCConfig{}, at(2), json.RawMessage(`"x"`))
	if !r.Failed(CheckOrder) {
		t.Errorf("order on text: %+v", r)
	}
}

func TestQCResultJSON(t *testing.T) {
	var s QCState
	r := s.Check(QCConfig{Max: fp(1)}, at(0), 2)
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"flag":"bad","issues":[{"check":"range","flag":"bad","reason":"2 above maximum 1"}]}`
	if string(b) != want {
		t.Errorf("got %s\nwant %s", b, want)
	}
	var back QCResult
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("round trip: %+v, %v", back, err)
	}
	if b, _ := json.Marshal(QCResult{}); string(b) != `{"flag":"good"}` {
		t.Errorf("good: %s", b)
	}
	if _, err := ParseFlag("ok"); err == nil {
		t.Error("ParseFlag(ok): no error")
	}
}

func TestParseQCOverride(t *testing.T) {
	tests := []struct {
		in   string
		want QCConfig
		err  string
	}{
		{in: ``},
		{in: `null`},
		{in: `{}`},
		{in: `{"owner":"WAPDA"}`},
		{in: `{"qc":null}`},
		{in: `{"qc":{"min":0,"max":500,"maxRatePerHour":50,"flatLineCount":12,"expectedInterval":"PT1H"}}`,
			want: QCConfig{Min: fp(0), Max: fp(500), MaxRatePerHour: fp(50), FlatLineCount: ip(12), ExpectedInterval: dp(time.Hour)}},
		{in: `{"qc":{"spike":3.5,"flatLineDuration":"PT6H","numeric":true}}`,
			want: QCConfig{Spike: fp(3.5), FlatLineDuration: dp(6 * time.Hour), Numeric: bp(true)}},
		{in: `{"qc":{"max":null,"maxRatePerHour":null,"flatLineCount":null,"flatLineDuration":null,"expectedInterval":null,"numeric":null,"min":null,"spike":null}}`,
			want: QCConfig{Min: fp(math.Inf(-1)), Max: fp(math.Inf(1)), MaxRatePerHour: fp(math.Inf(1)), Spike: fp(math.Inf(1)),
				FlatLineCount: ip(0), FlatLineDuration: dp(0), ExpectedInterval: dp(0), Numeric: bp(false)}},
		{in: `[1]`, err: "datastream properties: want a JSON object"},
		{in: `{"qc":[]}`, err: "properties.qc: want a JSON object"},
		{in: `{"qc":{"maxRate":5}}`, err: `unknown key "maxRate" (accepted: min, max, maxRatePerHour`},
		{in: `{"qc":{"max":"500"}}`, err: `properties.qc.max: want a number or null, got "500"`},
		{in: `{"qc":{"flatLineCount":2.5}}`, err: "properties.qc.flatLineCount: want a whole number"},
		{in: `{"qc":{"flatLineCount":1}}`, err: "want 0 (off) or at least 2"},
		{in: `{"qc":{"flatLineCount":-3}}`, err: "want 0 (off) or at least 2"},
		{in: `{"qc":{"expectedInterval":3600}}`, err: `properties.qc.expectedInterval: want an ISO 8601 duration string`},
		{in: `{"qc":{"expectedInterval":"1h"}}`, err: `properties.qc.expectedInterval: invalid duration "1h"`},
		{in: `{"qc":{"min":10,"max":5}}`, err: "properties.qc: min 10 is above max 5"},
		{in: `{"qc":{"maxRatePerHour":-1}}`, err: "properties.qc.maxRatePerHour: -1 is negative"},
		{in: `{"qc":{"numeric":"yes"}}`, err: "properties.qc.numeric: want true, false or null"},
	}
	for _, tt := range tests {
		got, err := ParseQCOverride(json.RawMessage(tt.in))
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: err = %v, want containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %s\nwant %s", tt.in, dumpCfg(got), dumpCfg(tt.want))
		}
	}
}

func dumpCfg(c QCConfig) string {
	var b strings.Builder
	f := func(name string, v any) {
		rv := reflect.ValueOf(v)
		if rv.IsNil() {
			return
		}
		b.WriteString(name + "=")
		b.WriteString(strings.TrimSpace(strings.ReplaceAll(strings.Trim(reflectString(rv.Elem()), " "), "\n", "")))
		b.WriteString(" ")
	}
	f("min", c.Min)
	f("max", c.Max)
	f("rate", c.MaxRatePerHour)
	f("spike", c.Spike)
	f("flatCount", c.FlatLineCount)
	f("flatDur", c.FlatLineDuration)
	f("interval", c.ExpectedInterval)
	f("numeric", c.Numeric)
	return b.String() + "unit=" + c.Unit
}

func reflectString(v reflect.Value) string {
	if d, ok := v.Interface().(time.Duration); ok {
		return d.String()
	}
	b, _ := json.Marshal(v.Interface())
	if b == nil {
		return "?"
	}
	return string(b)
}

func TestMerge(t *testing.T) {
	base := DefaultQC("Discharge", "", "cusecs")
	over, err := ParseQCOverride(json.RawMessage(`{"qc":{"max":1200000,"maxRatePerHour":100000,"expectedInterval":"PT6H"}}`))
	if err != nil {
		t.Fatal(err)
	}
	got := base.Merge(over)
	want := QCConfig{Min: fp(0), Max: fp(1_200_000), MaxRatePerHour: fp(100_000), ExpectedInterval: dp(6 * time.Hour), Unit: "cusecs"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %s\nwant %s", dumpCfg(got), dumpCfg(want))
	}
	// An override null removes a default bound.
	over, _ = ParseQCOverride(json.RawMessage(`{"qc":{"max":null}}`))
	if got := DefaultQC("Air temperature", "", "°C").Merge(over); !math.IsInf(*got.Max, 1) || *got.Min != -60 {
		t.Errorf("null max: %s", dumpCfg(got))
	}
	// Empty override: unchanged.
	if got := base.Merge(QCConfig{}); !reflect.DeepEqual(got, base) {
		t.Errorf("empty override changed the config: %s", dumpCfg(got))
	}
	// A merged config can be checked as a whole.
	over, _ = ParseQCOverride(json.RawMessage(`{"qc":{"min":5000000}}`))
	if err := base.Merge(over).Validate(); err == nil || !strings.Contains(err.Error(), "above max") {
		t.Errorf("Validate merged: %v", err)
	}
}

func TestDefaultQC(t *testing.T) {
	type lim struct {
		min, max  float64
		rate      float64 // 0 = nil
		flatDur   time.Duration
		unit      string
		noRange   bool
		noDefault bool
	}
	tests := []struct {
		name, def, unit string
		want            lim
	}{
		{"Discharge", "", "cusecs", lim{min: 0, max: 2_000_000, unit: "cusecs"}},
		{"River discharge", "", "m³/s", lim{min: 0, max: 60_000, unit: "m³/s"}},
		{"Q", "http://dbpedia.org/resource/Discharge_(hydrology)", "m3 s-1", lim{min: 0, max: 60_000, unit: "m³/s"}},
		{"Streamflow", "", "ft³/s", lim{min: 0, max: 2_000_000, unit: "cusecs"}},
		{"Water level", "", "m", lim{min: -500, max: 9_000, rate: 5, unit: "m"}},
		{"gauge_height", "", "cm", lim{min: -50_000, max: 900_000, rate: 500, unit: "cm"}},
		{"Air Temperature", "", "°C", lim{min: -60, max: 60, rate: 10, flatDur: 6 * time.Hour, unit: "°C"}},
		{"temp", "http://vocab.example/AirTemperature", "degC", lim{min: -60, max: 60, rate: 10, flatDur: 6 * time.Hour, unit: "°C"}},
		{"Water temperature", "", "°C", lim{min: -5, max: 50, rate: 5, unit: "°C"}},
		{"Air temperature", "", "K", lim{min: 213.15, max: 333.15, rate: 10, flatDur: 6 * time.Hour, unit: "K"}},
		{"Precipitation", "", "mm", lim{min: 0, max: 2_000, unit: "mm"}},
		{"Rain", "", "mm", lim{min: 0, max: 2_000, unit: "mm"}},
		{"Drainage", "", "mm", lim{noDefault: true}},
		{"Relative humidity", "", "%", lim{min: 0, max: 100, unit: "%"}},
		{"Atmospheric pressure", "", "hPa", lim{min: 300, max: 1_100, rate: 10, flatDur: 6 * time.Hour, unit: "hPa"}},
		{"Pressure", "", "mbar", lim{min: 300, max: 1_100, rate: 10, flatDur: 6 * time.Hour, unit: "hPa"}},
		{"Vapour pressure", "", "hPa", lim{noDefault: true}},
		{"PM2.5", "", "µg/m³", lim{min: 0, max: 2_000, flatDur: 12 * time.Hour, unit: "µg/m³"}},
		{"PM 2.5 mass concentration", "", "ug/m3", lim{min: 0, max: 2_000, flatDur: 12 * time.Hour, unit: "µg/m³"}},
		{"pm10", "", "μg/m3", lim{min: 0, max: 2_000, flatDur: 12 * time.Hour, unit: "µg/m³"}},
		{"NO₂", "", "µg/m³", lim{min: 0, max: 2_000, unit: "µg/m³"}},
		{"Nitrogen dioxide", "", "ppb", lim{min: 0, max: 1_000, unit: "ppb"}},
		{"O3", "", "ppb", lim{min: 0, max: 500, unit: "ppb"}},
		{"Ozone", "", "µg/m³", lim{min: 0, max: 1_000, unit: "µg/m³"}},
		{"NO3", "", "µg/m³", lim{noDefault: true}},
		{"Wind speed", "", "m/s", lim{min: 0, max: 120, unit: "m/s"}},
		{"Wind gust", "", "km/h", lim{min: 0, max: 432, unit: "km/h"}},
		{"Air temperature", "", "furlongs", lim{flatDur: 6 * time.Hour, noRange: true}},
		{"Soil moisture", "", "%", lim{noDefault: true}},
		{"", "", "", lim{noDefault: true}},
	}
	for _, tt := range tests {
		got := DefaultQC(tt.name, tt.def, tt.unit)
		if err := got.Validate(); err != nil {
			t.Errorf("%s/%s: invalid default: %v", tt.name, tt.unit, err)
		}
		if tt.want.noDefault {
			if !reflect.DeepEqual(got, QCConfig{}) {
				t.Errorf("%s/%s: got %s, want no default", tt.name, tt.unit, dumpCfg(got))
			}
			continue
		}
		want := QCConfig{Unit: tt.want.unit}
		if !tt.want.noRange {
			want.Min, want.Max = fp(tt.want.min), fp(tt.want.max)
		}
		if tt.want.rate != 0 {
			want.MaxRatePerHour = fp(tt.want.rate)
		}
		if tt.want.flatDur != 0 {
			want.FlatLineDuration = dp(tt.want.flatDur)
		}
		if tt.want.unit == "°C" && tt.name != "Water temperature" || tt.want.unit == "K" {
			want.Spike = fp(10)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s/%s/%s:\n got %s\nwant %s", tt.name, tt.def, tt.unit, dumpCfg(got), dumpCfg(want))
		}
	}
}

func TestSilent(t *testing.T) {
	now := at(10)
	seen := []LastSeen[int64]{
		{Datastream: 1, At: at(9.5), Expected: time.Hour},      // fine
		{Datastream: 2, At: at(9), Expected: time.Hour},        // exactly the interval: not silent
		{Datastream: 3, At: at(7), Expected: time.Hour},        // silent 3 h
		{Datastream: 4, At: time.Time{}, Expected: time.Hour},  // never reported
		{Datastream: 5, At: at(0), Expected: 0},                // not monitored
		{Datastream: 6, At: at(-14), Expected: 24 * time.Hour}, // exactly 24 h: not silent
		{Datastream: 7, At: at(-15), Expected: 24 * time.Hour}, // 25 h
	}
	got := Silent(now, seen)
	want := []Silence[int64]{
		{Datastream: 3, LastSeen: at(7), Expected: time.Hour, For: 3 * time.Hour},
		{Datastream: 7, LastSeen: at(-15), Expected: 24 * time.Hour, For: 25 * time.Hour},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if got := Silent[string](now, nil); got != nil {
		t.Errorf("nil input: %v", got)
	}
}

func FuzzParseQCOverride(f *testing.F) {
	for _, s := range []string{
		`{"qc":{"min":0,"max":500,"maxRatePerHour":50,"flatLineCount":12,"expectedInterval":"PT1H"}}`,
		`{"qc":{"max":null,"flatLineDuration":"P1DT6H","numeric":true,"spike":2}}`,
		`{"qc":{"flatLineCount":1e300}}`, `{"qc":[]}`, `null`, ``,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseQCOverride(json.RawMessage(in))
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: parsed config does not validate: %v", in, err)
		}
		// Whatever the override, checking values with it must not panic.
		var s QCState
		for i, v := range []float64{0, 1, 1, 1, -1e308, 1e308, math.NaN(), 5} {
			s.Check(DefaultQC("Discharge", "", "cusecs").Merge(c), at(float64(i)), v)
		}
	})
}

func FuzzQCCheck(f *testing.F) {
	f.Add(int64(0), 1.0, int64(3600), 2.0, int64(-60), 3.0, 1.0)
	f.Fuzz(func(t *testing.T, d1 int64, v1 float64, d2 int64, v2 float64, d3 int64, v3 float64, lim float64) {
		cfg := QCConfig{Min: fp(-lim), Max: fp(lim), MaxRatePerHour: fp(lim), Spike: fp(lim), FlatLineCount: ip(2),
			FlatLineDuration: dp(time.Hour), ExpectedInterval: dp(time.Hour)}
		var s QCState
		tt := t0
		for _, o := range []struct {
			d int64
			v float64
		}{{d1, v1}, {d2, v2}, {d3, v3}, {d1, v1}, {d2, v3}} {
			tt = tt.Add(time.Duration(o.d) * time.Second)
			before := s.LastSeen
			r := s.Check(cfg, tt, o.v)
			if r.Flag > FlagBad || len(s.Recent) > SpikeWindow {
				t.Fatalf("flag %v, %d recent", r.Flag, len(s.Recent))
			}
			if !before.IsZero() && !tt.After(before) && !s.LastSeen.Equal(before) {
				t.Fatalf("out-of-order observation moved LastSeen from %v to %v", before, s.LastSeen)
			}
			if (math.IsNaN(o.v) || math.IsInf(o.v, 0)) && r.Flag != FlagBad {
				t.Fatalf("non-finite %v flagged %v", o.v, r.Flag)
			}
		}
	})
}
