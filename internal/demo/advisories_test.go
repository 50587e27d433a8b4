package demo

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/advisory"
	"github.com/rabta/rabta/internal/rule"
)

var update = flag.Bool("update", false, "rewrite testdata/advisories.txt (the figures docs/advisories.md quotes)")

// TestDemoAdvisories runs the demo's advisory rules for the public (each other audience's rule
// of an advisory raises the same) over the whole of the demo's Beijing data,
// in phenomenon-time order, and counts the advisories they raise (fire and escalate triggers;
// each is a draft) by rule and level. Every trigger is checked against the standard on its own:
// the AQI (EPA) or IAQI (HJ 633) of the deciding PM2.5 value, or the heat index, falls in the
// band the trigger names (or above it, with the hold). The table is testdata/advisories.txt;
// docs/advisories.md quotes it.
func TestDemoAdvisories(t *testing.T) {
	ds, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	streams := map[int64]*Series{}
	for i := range ds.Series {
		s := &ds.Series[i]
		ids[s.Key] = int64(i + 1)
		streams[int64(i+1)] = s
	}
	rules, err := Advisories(ds, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 4*2+3*3 {
		t.Fatalf("%d rules, want 17 (4 stations × 2 air audiences, 3 × 3 heat audiences)", len(rules))
	}
	// The audiences' rules of one advisory differ only in their texts: count the public's.
	rules = slices.DeleteFunc(rules, func(r rule.Rule) bool { return !strings.HasSuffix(r.ID, "-public") })
	e, err := rule.New(rules)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]rule.Rule{}
	var all []rule.Obs
	for _, r := range rules {
		byID[r.ID] = r
		for _, id := range r.Datastreams {
			for _, o := range streams[id].Obs {
				all = append(all, rule.Obs{Datastream: id, Time: o.Time, Value: o.Value})
			}
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	all = slices.CompactFunc(all, func(a, b rule.Obs) bool { return a == b }) // a datastream read by several rules
	count := map[string]map[string]int{}
	fires := map[string]int{}
	for _, o := range all {
		for _, tr := range e.Observe(o.Time, o) {
			if tr.Kind != rule.Fire && tr.Kind != rule.Escalate {
				continue
			}
			r := byID[tr.RuleID]
			if count[r.ID] == nil {
				count[r.ID] = map[string]int{}
			}
			count[r.ID][tr.LevelName]++
			// the deciding value is in the named band or above it (hold, hysteresis)
			if tr.Kind == rule.Fire {
				fires[r.ID]++
			}
			var band int
			var bands []advisory.Band
			v := tr.Value + r.Hysteresis.Of(r.Levels[tr.Level].Value) // a level is kept down to its exit threshold
			switch {
			case r.Kind == rule.HeatIndex:
				band, bands = advisory.BandOf(advisory.HeatBands, v), advisory.HeatBands
			case strings.Contains(r.ID, "usembassy"):
				band, bands = advisory.BandOf(advisory.AQIBands, float64(advisory.AQI(v))), advisory.AQIBands
			default:
				band, bands = advisory.BandOf(advisory.IAQIBands, float64(advisory.IAQI(v))), advisory.IAQIBands
			}
			want := slices.IndexFunc(bands, func(b advisory.Band) bool { return b.Name == tr.LevelName })
			if want < 0 || band < want {
				t.Errorf("%s %s at %v: value %.1f is in band %d (%v), below the named one", r.ID, tr.LevelName, tr.ObservedAt, tr.Value, band, bands[max(band, 0)].Name)
			}
		}
	}
	var b strings.Builder
	total := 0
	ruleIDs := make([]string, 0, len(count))
	for id := range count {
		ruleIDs = append(ruleIDs, id)
	}
	sort.Strings(ruleIDs)
	for _, id := range ruleIDs {
		r := byID[id]
		var parts []string
		for _, l := range r.Levels {
			if n := count[id][l.Name]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", l.Name, n))
				total += n
			}
		}
		fmt.Fprintf(&b, "%s: %d advisories, %d escalations; by level %s\n", id, fires[id], sum(count[id])-fires[id], strings.Join(parts, ", "))
	}
	nf := sum(fires)
	fmt.Fprintf(&b, "total: %d advisories (drafts: fire triggers) and %d escalations (updates) from %d rules\n", nf, total-nf, len(rules))
	got := b.String()
	const golden = "testdata/advisories.txt"
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if got != string(want) {
		t.Errorf("advisories raised:\n%s\nwant (%s):\n%s", got, golden, want)
	}
	for _, id := range []string{"air-usembassy-beijing-public", "air-prsa-aotizhongxin-public", "heat-prsa-aotizhongxin-public"} {
		if len(count[id]) == 0 {
			t.Errorf("%s raised nothing on a year of Beijing data", id)
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
