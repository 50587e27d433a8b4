package rule

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/advisory"
)

// A heatIndex rule pairs temperature and humidity by phenomenon time (within PairWithin) and
// compares the NWS heat index with its levels; a humidity value from another hour is not paired.
func TestHeatIndexRule(t *testing.T) {
	rules, err := Expand(Advisory{ID: "heat", Type: AdvisoryHeat, Place: "Lahore", Temperature: 1, Humidity: 2, Audiences: []string{"public"}})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(rules)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2025, 6, 10, 6, 0, 0, 0, time.UTC)
	obs := func(ds int64, at time.Time, v float64) []Trigger {
		return e.Observe(at.Add(time.Minute), Obs{Datastream: ds, Time: at, Value: v})
	}
	if tr := obs(1, t0, 36); len(tr) != 0 {
		t.Fatalf("temperature alone fired: %+v", tr)
	}
	if tr := obs(2, t0.Add(-2*time.Hour), 50); len(tr) != 0 {
		t.Fatalf("a humidity two hours earlier was paired: %+v", tr)
	}
	tr := obs(2, t0.Add(10*time.Minute), 50)
	want := advisory.HeatIndexC(36, 50)
	if len(tr) != 1 || tr[0].Kind != Fire || tr[0].LevelName != "Danger" || math.Abs(tr[0].Value-want) > 1e-9 || !tr[0].ObservedAt.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("got %+v, want a Danger fire at heat index %.2f", tr, want)
	}
	if !strings.Contains(tr[0].Cause, "heat index") {
		t.Errorf("cause %q", tr[0].Cause)
	}
	// cooler the next hour: 26 °C at 40 % → heat index below 27 °C: cleared only after clearHold (12 h)
	t1 := t0.Add(time.Hour)
	obs(1, t1, 26)
	if tr := obs(2, t1, 40); len(tr) != 0 {
		t.Fatalf("cleared before clearHold: %+v", tr)
	}
	if tr := e.Tick(t1.Add(13 * time.Hour)); len(tr) != 1 || tr[0].Kind != Clear {
		t.Fatalf("after clearHold: %+v", tr)
	}
	// a heatIndex rule needs exactly two datastreams
	bad := rules[0]
	bad.Datastreams = []int64{1}
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "two datastreams") {
		t.Errorf("one datastream: %v", err)
	}
}

// Months keep an agromet rule quiet outside its crop stage: heavy rain in April (wheat
// harvest) fires; the same rain in August does not.
func TestAgrometMonths(t *testing.T) {
	rules, err := Expand(Advisory{ID: "rain-okara", Type: AdvisoryRainBeforeHarvest, Crop: "wheat", Place: "Okara district", Rain: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 1 || rules[0].ID != "rain-okara" || !slices.Equal(rules[0].Months, []int{4, 5}) || !slices.Equal(rules[0].Audiences, []string{"farmers"}) {
		t.Fatalf("expanded: %+v", rules)
	}
	for _, c := range []struct {
		month time.Month
		fires bool
	}{{time.April, true}, {time.August, false}} {
		e, _ := New(rules)
		at := time.Date(2025, c.month, 20, 0, 0, 0, 0, time.UTC)
		var got []Trigger
		for h := range 3 {
			got = append(got, e.Observe(at.Add(time.Duration(h)*time.Hour), Obs{Datastream: 7, Time: at.Add(time.Duration(h) * time.Hour), Value: 30})...)
		}
		if fired := len(got) > 0; fired != c.fires || (fired && got[0].LevelName != "Heavy rain") {
			t.Errorf("90 mm in 3 h in %v: triggers %+v, want fired=%v", c.month, got, c.fires)
		}
	}
}

// Expand gives each type its levels, category and audiences, texts in en, ur and zh, and refuses
// what is missing, naming the field.
func TestExpand(t *testing.T) {
	for _, c := range []struct {
		a        Advisory
		ids      []string
		category string
		levels   []float64
	}{
		{Advisory{ID: "h", Type: AdvisoryHeat, Place: "p", Temperature: 1, Humidity: 2}, []string{"h-hospitals", "h-clinics", "h-public"}, "Health", []float64{27, 32, 41, 54}},
		{Advisory{ID: "a", Type: AdvisoryAir, Place: "p", PM25: 3}, []string{"a-schools", "a-public"}, "Env", []float64{35.5, 55.5, 125.5, 225.5}},
		{Advisory{ID: "b", Type: AdvisoryAir, Standard: "hj633", Place: "p", PM25: 3}, []string{"b-schools", "b-public"}, "Env", []float64{75.1, 115.1, 150.1, 250.1}},
		{Advisory{ID: "f", Type: AdvisoryHeatAtFlowering, Crop: "rice", Place: "p", Temperature: 1}, []string{"f"}, "Met", []float64{35, 39}},
		{Advisory{ID: "g", Type: AdvisoryFrost, Crop: "wheat", Place: "p", Temperature: 1}, []string{"g"}, "Met", []float64{2, 0}},
	} {
		rules, err := Expand(c.a)
		if err != nil {
			t.Errorf("%s: %v", c.a.ID, err)
			continue
		}
		var ids []string
		for _, r := range rules {
			ids = append(ids, r.ID)
			var lv []float64
			for _, l := range r.Levels {
				lv = append(lv, l.Value)
			}
			if r.Category != c.category || !slices.Equal(lv, c.levels) {
				t.Errorf("%s: category %q levels %v", r.ID, r.Category, lv)
			}
			for _, lang := range []string{"en", "ur", "zh"} {
				if tp, ok := r.Templates[lang]; !ok || tp.Instruction == "" || strings.Contains(tp.Headline+tp.Description+tp.Instruction, "%") {
					t.Errorf("%s: template %s: %+v", r.ID, lang, tp)
				}
			}
		}
		if !slices.Equal(ids, c.ids) {
			t.Errorf("%s: ids %v, want %v", c.a.ID, ids, c.ids)
		}
	}
	if rs, _ := Expand(Advisory{ID: "g", Type: AdvisoryFrost, Crop: "wheat", Place: "p", Temperature: 1}); !slices.Equal(rs[0].Months, []int{1, 2, 3, 11, 12}) {
		t.Errorf("wheat frost months %v", rs[0].Months)
	}
	for _, c := range []struct {
		a    Advisory
		want string
	}{
		{Advisory{ID: "h", Type: AdvisoryHeat, Place: "p", Temperature: 1}, "humidity: is required for heat advisories"},
		{Advisory{ID: "h", Type: "smog", Place: "p"}, "type: must be heat, air"},
		{Advisory{ID: "h", Type: AdvisoryAir, Place: "p", PM25: 1, Standard: "who"}, "standard: must be epa or hj633"},
		{Advisory{ID: "h", Type: AdvisoryFrost, Crop: "maize", Place: "p", Temperature: 1}, `crop: crop "maize" is not in the Punjab crop calendar`},
		{Advisory{ID: "h", Type: AdvisoryFrost, Crop: "rice", Place: "p", Temperature: 1}, "crop: rice is not in the field in the frost months"},
		{Advisory{ID: "h", Type: AdvisoryAir, PM25: 1}, "place: is required"},
		{Advisory{ID: "h", Type: AdvisoryAir, Place: "p", PM25: 1, Audiences: []string{"bad audience"}}, `audiences[0]: audience "bad audience" is not one of public, farmers`},
		{Advisory{ID: "h", Type: AdvisoryAir, Place: "p", PM25: 1, Audiences: []string{"schools", "hospitalz"}}, `(h-hospitalz).audiences[0]: audience "hospitalz" is not one of`},
	} {
		if _, err := Expand(c.a); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.a, err, c.want)
		}
	}
}

// The rules file expands its advisories beside its rules, and positions an advisory's errors
// at the field.
func TestParseYAMLAdvisories(t *testing.T) {
	rules, err := ParseYAML("rules.yaml", []byte(`advisories:
  - id: aqi-beijing
    type: air
    standard: hj633
    place: Beijing
    pm25: 4
rules:
  - {id: quiet, kind: silence, maxGap: 1h, datastreams: [4]}
`))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rules {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"aqi-beijing-schools", "aqi-beijing-public", "quiet"}) {
		t.Errorf("ids %v", ids)
	}
	for _, c := range []struct{ src, want string }{
		{"advisories:\n  - id: h\n    type: heat\n    place: x\n    temperature: 1\n", "rules.yaml:2:5: advisories[0].humidity: is required for heat advisories"},
		{"advisories:\n  - id: h\n    type: air\n    place: x\n    pm25: 1\n    standrd: epa\n", `rules.yaml:6:5: advisories[0].standrd: unknown field (did you mean "standard"?)`},
		{"advisories:\n  - id: h\n    type: air\n    place: x\n    pm25: 1\n    standard: who\n", "rules.yaml:6:15: advisories[0].standard: must be epa or hj633"},
		{"advisories:\n  - {id: h, type: air, place: x, pm25: 1, audiences: [public]}\nrules:\n  - {id: h-public, kind: silence, maxGap: 1h, datastreams: [4]}\n", `rules[0].id: repeats advisories[0] ("h-public")`},
	} {
		_, err := ParseYAML("rules.yaml", []byte(c.src))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v, want %q", c.src, err, c.want)
		}
	}
}
