package exercise

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/place"
)

// TestRemote stores a week of the demo's gauges and rules on a real node through its API (as
// an exercise seeds its own), then reads them back with Remote over a narrower window: the same
// stations, datastreams, units, readings in the window and rules.
func TestRemote(t *testing.T) {
	ctx := context.Background()
	from := time.Date(2025, 8, 21, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 8, 29, 0, 0, 0, 0, time.UTC)
	h, err := Demo(from, to)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := auth.NewKey()
	// the source's rules fire on these readings: a few districts' places keep it quick
	all, err := place.Load()
	if err != nil {
		t.Fatal(err)
	}
	var places []place.Place
	for _, p := range all {
		if p.Kind == place.District && (p.Name == "Gujranwala" || p.Name == "Mianwali") {
			places = append(places, p)
		}
	}
	src, err := node.New(ctx, node.Options{ID: "source", DataDir: filepath.Join(t.TempDir(), "src"), HTTPAddr: "127.0.0.1:0", AdminKey: key, Places: places})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if err := src.Start(ctx); err != nil {
		t.Fatal(err)
	}
	base := "http://" + src.Addr().String()
	r := &run{opts: Options{From: from, To: to, History: h, Console: io.Discard}, api: newClient(base, key), log: slog.New(slog.DiscardHandler)}
	if err := r.seed(ctx); err != nil {
		t.Fatal(err)
	}
	for _, s := range r.steps {
		if err := r.ingest(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	// read back 27 Aug 00:00 – 28 Aug 12:00 UTC: the reports of 27 and 28 Aug, not 21 nor 29
	wFrom, wTo := time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC), time.Date(2025, 8, 28, 12, 0, 0, 0, time.UTC)
	got, err := Remote(ctx, base, key, wFrom, wTo)
	if err != nil {
		t.Fatal(err)
	}
	if got.Source != base || len(got.Things) != len(h.Things) || len(got.Rules) != len(h.Rules) {
		t.Fatalf("Remote: source %q, %d things, %d rules; want %q, %d, %d", got.Source, len(got.Things), len(got.Rules), base, len(h.Things), len(h.Rules))
	}
	byName := map[string]Thing{}
	for _, th := range got.Things {
		byName[th.Name] = th
	}
	for _, want := range h.Things {
		th, ok := byName[want.Name]
		if !ok || th.Lat != want.Lat || th.Lon != want.Lon || len(th.Datastreams) != len(want.Datastreams) {
			t.Errorf("%s: read back %+v", want.Name, th)
			continue
		}
		d, w := th.Datastreams[0], want.Datastreams[0]
		inWindow := window(w.Obs, wFrom, wTo)
		if d.Name != w.Name || d.Unit != w.Unit || d.ObservedProperty != w.ObservedProperty || len(d.Obs) != len(inWindow) || len(inWindow) != 2 {
			t.Errorf("%s: datastream %q %v %q with %d readings; want %q %v %q with %d", want.Name, d.Name, d.Unit, d.ObservedProperty, len(d.Obs), w.Name, w.Unit, w.ObservedProperty, len(inWindow))
			continue
		}
		for i := range d.Obs {
			if !d.Obs[i].Time.Equal(inWindow[i].Time) || d.Obs[i].Value != inWindow[i].Value {
				t.Errorf("%s: reading %d = %+v, want %+v", want.Name, i, d.Obs[i], inWindow[i])
			}
		}
	}
	// the rules refer to the source's datastream ids, with the demo's classes
	ids := map[int64]bool{}
	for _, th := range got.Things {
		for _, d := range th.Datastreams {
			ids[d.SourceID] = true
		}
	}
	// (forecast rules: the source's forecast datastream of a network station, not replayed)
	forecastRules := 0
	for _, v := range got.Rules {
		ok := len(v.Datastreams) == 1 && len(v.Levels) == 5 && ids[v.Datastreams[0]]
		if v.Forecast {
			forecastRules++
			ok = len(v.Datastreams) == 1 && len(v.Levels) == 5 && got.ForecastStations[v.Datastreams[0]] != ""
		}
		if !ok {
			t.Errorf("rule %s: datastreams %v, %d levels", v.ID, v.Datastreams, len(v.Levels))
		}
	}
	// the river network, with the source's discharge datastreams
	observed := 0
	if got.Network != nil {
		for _, st := range got.Network.Stations {
			if st.Discharge != 0 {
				observed++
				if !ids[st.Discharge] {
					t.Errorf("network station %s: discharge %d is none of the source's replayed datastreams", st.ID, st.Discharge)
				}
			}
		}
	}
	if got.Network == nil || observed != 18 || forecastRules == 0 || forecastRules != len(got.ForecastStations) {
		t.Errorf("network %v with %d observed stations, %d forecast rules, forecast datastreams %v", got.Network != nil, observed, forecastRules, got.ForecastStations)
	}
	if _, err := Remote(ctx, "ftp://example.org", key, wFrom, wTo); err == nil {
		t.Error("Remote with an ftp URL: no error")
	}
	if _, err := Remote(ctx, base, "rbt_wrong_key_wrong_key_wrong", wFrom, wTo); err == nil {
		t.Error("Remote with a wrong key: no error")
	}
}
