package forecast_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/demo"
	. "github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/rule"
)

// season2025 bounds the 2025 season of the demo's PDMA reports (5 Jul – 20 Sep 2025).
var season2025 = [2]time.Time{time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}

// demoStationID is the network's id of a PDMA gauge name (as cmd/calibrate-demo).
func demoStationID(pdma string) string {
	if pdma == "G.S.Wala" {
		return "gs_wala"
	}
	return strings.ToLower(pdma)
}

// demoReadings returns the demo's discharge readings in [from, to) by network station id.
func demoReadings(t testing.TB, ds *demo.Dataset, from, to time.Time) map[string][]Reading {
	t.Helper()
	out := map[string][]Reading{}
	for _, s := range ds.Series {
		if !strings.HasPrefix(s.Key, "pdma-") || !strings.HasSuffix(s.Key, "/discharge") {
			continue
		}
		id := demoStationID(ds.Station(s.StationKey).Properties["pdmaName"].(string))
		for _, o := range s.Obs {
			if !o.Time.Before(from) && o.Time.Before(to) {
				out[id] = append(out[id], Reading{Time: o.Time, Value: o.Value})
			}
		}
	}
	return out
}

// demoClasses returns each gauge's flood classes as demo.Rules gives them.
func demoClasses(t testing.TB, ds *demo.Dataset) map[string][]rule.Level {
	t.Helper()
	ids := map[string]int64{}
	station := map[int64]string{}
	for i, s := range ds.Series {
		ids[s.Key] = int64(i + 1)
		if st := ds.Station(s.StationKey); st != nil {
			if name, ok := st.Properties["pdmaName"].(string); ok {
				station[int64(i+1)] = demoStationID(name)
			}
		}
	}
	rules, err := demo.Rules(ds, ids)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]rule.Level{}
	for _, r := range rules {
		out[station[r.Datastreams[0]]] = r.Levels
	}
	return out
}

// TestHindcastExplore is the measurement behind docs/forecast.md's table of corrections: the
// 2025 hindcast of the model in HC_MODEL (a path from internal/forecast, e.g.
// data/punjab_model.json or testdata/punjab_model_2025.json) with each correction and decay,
// branches held when HC_HOLD is set; HC_TABLE prints one full table. Skipped without HC_MODEL.
func TestHindcastExplore(t *testing.T) {
	path := os.Getenv("HC_MODEL")
	if path == "" {
		t.Skip("HC_MODEL not set")
	}
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, corr := range []Correction{CorrectNone, CorrectAdditive, CorrectRatio} {
		for _, decay := range []time.Duration{24 * time.Hour, 72 * time.Hour, 240 * time.Hour, 1000 * time.Hour} {
			for _, hold := range []bool{os.Getenv("HC_HOLD") != ""} {
				var m Model
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				m.Correction, m.CorrectionDecay, m.HoldBranches = corr, decay, hold
				res, err := Hindcast(m, demoReadings(t, ds, season2025[0], season2025[1]), demoClasses(t, ds), HindcastOptions{})
				if err != nil {
					t.Fatal(err)
				}
				var h, mi, fa int
				for _, r := range res.Rows {
					h, mi, fa = h+r.Hits, mi+r.Misses, fa+r.FalseAlarms
				}
				line := fmt.Sprintf("%v decay %v hold %v: hits %d misses %d FA %d |", corr, decay, hold, h, mi, fa)
				for _, v := range res.Verify {
					line += fmt.Sprintf(" ≤%.0fh n%d bias %.0f rmse %.0f (pers %.0f) in %.2f;", v.Lead.Hours(), v.N, v.Bias/1000, v.RMSE/1000, v.PersistRMSE/1000, v.Inside)
				}
				t.Log(line)
				if os.Getenv("HC_TABLE") != "" && corr == CorrectRatio && hold && decay == 72*time.Hour {
					t.Log("\n" + res.Table("cusecs"))
				}
			}
		}
	}
}

// TestForecastNoLeakDemo: at sampled report times of the 2025 season, the forecasts of a
// Forecaster fed the whole season equal those of one fed only the readings up to the issue
// time: nothing from the future leaks into a forecast. Both keep the whole season in memory
// (SetWindow), so the comparison is of Update alone.
func TestForecastNoLeakDemo(t *testing.T) {
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err := PunjabIndusModel()
	if err != nil {
		t.Fatal(err)
	}
	all := demoReadings(t, ds, season2025[0], season2025[1])
	var times []time.Time
	for _, r := range all["khanki"] {
		times = append(times, r.Time)
	}
	full, err := NewForecaster(m)
	if err != nil {
		t.Fatal(err)
	}
	full.SetWindow(400 * 24 * time.Hour)
	for id, rs := range all {
		for _, r := range rs {
			if err := full.Observe(id, r.Time, r.Value, r.Flag); err != nil {
				t.Fatal(err)
			}
		}
	}
	compared := 0
	for i := 3; i < len(times); i += 4 {
		issued := times[i]
		part, _ := NewForecaster(m)
		part.SetWindow(400 * 24 * time.Hour)
		for id, rs := range all {
			for _, r := range rs {
				if !r.Time.After(issued) {
					part.Observe(id, r.Time, r.Value, r.Flag)
				}
			}
		}
		want := part.Update(issued)
		got := full.Update(issued)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("issued %s: the forecast of a forecaster holding later readings differs", issued)
		}
		compared += len(want)
	}
	if compared == 0 {
		t.Fatal("no forecasts compared")
	}
}

var update = flag.Bool("update", false, "rewrite README.md's hindcast section (TestHindcastTable)")

const (
	hindcastBegin = "<!-- hindcast:begin: written by TestHindcastTable (go test ./internal/forecast -run TestHindcastTable -update) -->"
	hindcastEnd   = "<!-- hindcast:end -->"
)

// TestHindcastTable runs the hindcast of the 2025 season with the demo model
// (PunjabIndusModel) and the demo's flood classes, and checks README.md's section "Hindcast:
// the 2025 season" against it; -update rewrites the section.
func TestHindcastTable(t *testing.T) {
	ds, err := demo.Load()
	if err != nil {
		t.Fatal(err)
	}
	m, err := PunjabIndusModel()
	if err != nil {
		t.Fatal(err)
	}
	readings := demoReadings(t, ds, season2025[0], season2025[1])
	res, err := Hindcast(m, readings, demoClasses(t, ds), HindcastOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// the replay saw every report time once
	seen := map[time.Time]bool{}
	for _, rs := range readings {
		for _, r := range rs {
			seen[r.Time] = true
		}
	}
	if res.Reports != len(seen) {
		t.Errorf("%d reports replayed, want %d", res.Reports, len(seen))
	}
	for _, r := range res.Rows {
		if r.Hits+r.Misses != r.Observed || len(r.Leads) != r.Hits {
			t.Errorf("%s %s: hits %d + misses %d ≠ observed %d (leads %d)", r.Station, r.Class, r.Hits, r.Misses, r.Observed, len(r.Leads))
		}
	}
	t.Logf("band growth estimated from these residuals: %.0f cusecs/h (the model has %.0f)", EstimateBandGrowth(res.Verify), m.BandGrowth)

	var b strings.Builder
	b.WriteString(hindcastBegin + "\n\n")
	fmt.Fprintf(&b, "%d report times of the 2025 season (%s – %s PKT) replayed; %d station forecasts issued. "+
		"Model: `forecast.PunjabIndusModel()` (step %v, correction %s with τ = %.0f h, hold branches %v, band growth %.0f cusecs/h). "+
		"Crossings at headwater gauges (no forecast possible, threshold-only): %d.\n\n",
		res.Reports, readings["khanki"][0].Time.In(demo.PKT).Format("2 Jan"), readings["khanki"][len(readings["khanki"])-1].Time.In(demo.PKT).Format("2 Jan 2006"),
		res.Forecasts, m.Step, m.Correction, m.EffectiveCorrectionDecay().Hours(), m.HoldBranches, m.BandGrowth, res.HeadwaterCrossings)
	b.WriteString(res.Table("cusecs"))
	b.WriteString("\nForecast error by lead time (thousand cusecs; forecast points compared with a reading at the same hour), against persistence (the last reading at the issue time):\n\n")
	b.WriteString("| lead | points | bias | RMSE | persistence RMSE | inside the 90 % band |\n|---|---:|---:|---:|---:|---:|\n")
	for _, v := range res.Verify {
		fmt.Fprintf(&b, "| %.0f–%.0f h | %d | %.0f | %.0f | %.0f | %.0f %% |\n", v.Lead.Hours()-24, v.Lead.Hours(), v.N, v.Bias/1000, v.RMSE/1000, v.PersistRMSE/1000, 100*v.Inside)
	}
	b.WriteString("\n" + hindcastEnd)
	section := b.String()

	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(hindcastBegin)), bytes.Index(readme, []byte(hindcastEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md has no hindcast markers %q … %q", hindcastBegin, hindcastEnd)
	}
	cur := string(readme[i : j+len(hindcastEnd)])
	if cur == section {
		return
	}
	if *update {
		out := append([]byte{}, readme[:i]...)
		out = append(out, section...)
		out = append(out, readme[j+len(hindcastEnd):]...)
		if err := os.WriteFile("../../README.md", out, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README.md's hindcast section differs from this run (go test ./internal/forecast -run TestHindcastTable -update rewrites it):\n%s", section)
}
