package ingest

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

func obs(t time.Time, v float64) *sensing.Observation {
	return &sensing.Observation{PhenStart: t, PhenEnd: t, ResultNum: &v}
}

func TestQCChecker(t *testing.T) {
	q := &QC{}
	ds := &sensing.DatastreamInfo{ID: 1, ObservedPropertyName: "Air temperature", UnitSymbol: "°C",
		Properties: json.RawMessage(`{"qc":{"max":50,"expectedInterval":"PT1H"}}`)}
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		at   time.Duration
		v    float64
		flag sensing.Flag
		has  string
	}{
		{0, 30, sensing.FlagGood, ""},
		{time.Hour, 31, sensing.FlagGood, ""},
		{2 * time.Hour, 55, sensing.FlagBad, `"range"`},          // over the datastream's own max (50), under the default 60
		{5 * time.Hour, 31, sensing.FlagGood, `"gap"`},           // three hours of silence, expected hourly
		{6 * time.Hour, -70, sensing.FlagBad, `"range"`},         // under the default minimum
		{5*time.Hour + 30*time.Minute, 30, sensing.FlagGood, ""}, // out of order: noted, state untouched
	}
	for i, c := range cases {
		o := obs(t0.Add(c.at), c.v)
		if err := q.Check(ds, o); err != nil {
			t.Fatal(err)
		}
		if o.Flag != c.flag {
			t.Errorf("case %d: flag %v, want %v (%s)", i, o.Flag, c.flag, o.Quality)
		}
		if c.has != "" && (!json.Valid(o.Quality) || !strings.Contains(string(o.Quality), c.has)) {
			t.Errorf("case %d: resultQuality %s lacks %s", i, o.Quality, c.has)
		}
	}
	// the state lives with the datastream info: a fresh info (after a restart) rebuilds it from Recent
	fresh := &sensing.DatastreamInfo{ID: 1, ObservedPropertyName: "Air temperature", UnitSymbol: "°C",
		Recent: []sensing.Point{{T: t0, V: 20}, {T: t0.Add(time.Hour), V: 20.5}, {T: t0.Add(2 * time.Hour), V: 21}}}
	o := obs(t0.Add(2*time.Hour+time.Minute), 45) // +24 °C in a minute
	q.Check(fresh, o)
	if o.Flag != sensing.FlagSuspect {
		t.Errorf("after rebuilding state, a jump of 24 °C in a minute: %v %s", o.Flag, o.Quality)
	}
}
