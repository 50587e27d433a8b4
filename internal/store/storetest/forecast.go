package storetest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/sensing"
)

// testForecastNetwork: the node's river network (sqlq forecast.go) is stored and read back
// whole; storing it makes a forecast Datastream for each observed station with an upstream
// reach (same Thing, ObservedProperty and unit as its discharge, owned by the caller, marked a
// forecast) and keeps it when the network is stored again; only an admin of the owning
// organisation replaces it, only with Things and Datastreams it owns, never with a forecast
// Datastream or another Thing's Datastream as a station's discharge; a refusal stores nothing.
// Readings returns a datastream's numeric observations in a time range, oldest first.
func testForecastNetwork(t *testing.T, s Stores) {
	e := s.Entities
	punjabAdmin, punjabOp, sindhAdmin := as("punjab", auth.Admin), as("punjab", auth.Operator), as("sindh", auth.Admin)
	if _, err := e.ForecastNetwork(ctx()); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("no network yet: %v, want NotFound", err)
	}
	// punjab's Marala (Thing 1, Datastream 1) upstream of Khanki (Thing 2, Datastream 2); sindh's Thing 3
	for i, g := range []string{marala(), gauge} {
		if id, err := e.Create(punjabOp, entity(t, sensing.Things, g)); err != nil || id != int64(i+1) {
			t.Fatalf("gauge %d: %d %v", i+1, id, err)
		}
	}
	if _, err := e.Create(as("sindh", auth.Operator), entity(t, sensing.Things, strings.ReplaceAll(gauge, "Khanki", "Guddu"))); err != nil {
		t.Fatal(err)
	}
	rm := forecast.ReachModel{Muskingum: forecast.Muskingum{K: 7.5, X: 0.25, M: 1.2}, Scheme: forecast.SchemeRK4, Lag: 3 * time.Hour, Gain: 0.9, RMSE: 1234.5, N: 400}
	network := func(khankiThing, khankiDS int64) *forecasting.Network {
		return &forecasting.Network{Name: "chenab", Step: time.Hour, By: "punjab/key-1",
			Settings: forecasting.Settings{Correction: forecast.CorrectRatio, Warmup: 48 * time.Hour},
			Stations: []forecasting.Station{
				{Station: forecast.Station{ID: "marala", Name: "Marala Headworks", River: "CHENAB", Lat: 32.67, Lon: 74.46, HasPosition: true}, Thing: 1, Discharge: 1},
				{Station: forecast.Station{ID: "khanki", Name: "Khanki Headworks", River: "CHENAB", Approx: true, Source: "test"}, Thing: khankiThing, Discharge: khankiDS},
				{Station: forecast.Station{ID: "qadirabad"}}, // routed through, not observed
			},
			Reaches: []forecasting.Reach{
				{Reach: forecast.Reach{From: "marala", To: "khanki", LengthKM: 60.5, TravelTime: 6 * time.Hour}, Model: &rm},
				{Reach: forecast.Reach{From: "khanki", To: "qadirabad", LengthKM: 30}},
			}}
	}
	newDS := func(st forecasting.Station, d forecasting.Discharge) *sensing.Entity {
		return forecasting.ForecastDatastream("chenab", st, d)
	}
	count := func() int {
		infos, err := e.DatastreamInfos(ctx())
		if err != nil {
			t.Fatal(err)
		}
		return len(infos)
	}

	// refusals first: nothing is stored by any of them
	for _, c := range []struct {
		what string
		ctx  func() *forecasting.Network
		as   string
		kind apperr.Kind
		msg  string
	}{
		{"an operator", func() *forecasting.Network { return network(2, 2) }, "op", apperr.Forbidden, "role admin"},
		{"another organisation's Thing", func() *forecasting.Network { return network(3, 3) }, "admin", apperr.Forbidden, `stations[1].thing: Things(3) belongs to organisation "sindh"`},
		{"another Thing's Datastream", func() *forecasting.Network { return network(2, 1) }, "admin", apperr.Invalid, "stations[1].discharge: Datastream(1) is a Datastream of Thing(1), not of Thing(2)"},
		{"a Thing that does not exist", func() *forecasting.Network { return network(99, 2) }, "admin", apperr.NotFound, "stations[1].thing: Things(99) does not exist"},
	} {
		c2 := punjabAdmin
		if c.as == "op" {
			c2 = punjabOp
		}
		err := e.SaveForecastNetwork(c2, c.ctx(), newDS)
		if apperr.KindOf(err) != c.kind || err == nil || !strings.Contains(apperr.Message(err), c.msg) {
			t.Errorf("%s: %v (kind %v), want %v naming %q", c.what, err, apperr.KindOf(err), c.kind, c.msg)
		}
	}
	if n := count(); n != 3 {
		t.Errorf("after refusals: %d datastreams, want the 3 there were", n)
	}
	if _, err := e.ForecastNetwork(ctx()); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("after refusals: %v, want no network", err)
	}

	// punjab's admin stores it: Khanki gets a forecast Datastream
	n := network(2, 2)
	if err := e.SaveForecastNetwork(punjabAdmin, n, newDS); err != nil {
		t.Fatal(err)
	}
	if n.Organisation != "punjab" || n.Stations[0].Forecast != 0 || n.Stations[1].Forecast == 0 || n.Stations[2].Forecast != 0 {
		t.Fatalf("stored: organisation %q, forecasts %d %d %d; want punjab, 0 x 0", n.Organisation, n.Stations[0].Forecast, n.Stations[1].Forecast, n.Stations[2].Forecast)
	}
	fc := n.Stations[1].Forecast
	infos, _ := e.DatastreamInfos(ctx())
	var info, dis sensing.DatastreamInfo
	for _, x := range infos {
		switch x.ID {
		case fc:
			info = x
		case 2:
			dis = x
		}
	}
	if info.ThingID != 2 || info.ObservedPropertyName != dis.ObservedPropertyName || info.UnitSymbol != dis.UnitSymbol || !forecasting.IsForecast(info.Properties) {
		t.Errorf("forecast Datastream %+v; want Thing 2, %s in %s, marked a forecast", info, dis.ObservedPropertyName, dis.UnitSymbol)
	}
	if org, err := e.Owner(ctx(), sensing.Datastreams, fc); err != nil || org != "punjab" {
		t.Errorf("forecast Datastream's organisation %q %v, want punjab", org, err)
	}
	got, err := e.ForecastNetwork(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "chenab" || got.Organisation != "punjab" || got.By != "punjab/key-1" || got.Step != time.Hour || got.Updated.IsZero() ||
		got.Settings != n.Settings || len(got.Stations) != 3 || len(got.Reaches) != 2 {
		t.Fatalf("read back %+v", got)
	}
	for i := range n.Stations {
		if got.Stations[i] != n.Stations[i] {
			t.Errorf("station %d read back %+v, stored %+v", i, got.Stations[i], n.Stations[i])
		}
	}
	want := rm
	want.From, want.To = "marala", "khanki"
	if got.Reaches[0].Reach != n.Reaches[0].Reach || got.Reaches[0].Model == nil || *got.Reaches[0].Model != want {
		t.Errorf("reach 0 read back %+v %+v, want %+v", got.Reaches[0].Reach, got.Reaches[0].Model, want)
	}
	if got.Reaches[1].Reach != n.Reaches[1].Reach || got.Reaches[1].Model != nil {
		t.Errorf("reach 1 read back %+v %+v, want no parameters", got.Reaches[1].Reach, got.Reaches[1].Model)
	}

	// stored again (by the node-wide admin): the forecast Datastream is kept
	again := network(2, 2)
	again.Reaches = again.Reaches[:1]
	again.Stations = again.Stations[:2]
	if err := e.SaveForecastNetwork(as(auth.NodeOrganisation, auth.Admin), again, newDS); err != nil {
		t.Fatal(err)
	}
	if again.Stations[1].Forecast != fc || count() != 4 {
		t.Errorf("stored again: forecast Datastream %d (want %d kept), %d datastreams (want 4)", again.Stations[1].Forecast, fc, count())
	}
	if got, _ := e.ForecastNetwork(ctx()); got == nil || len(got.Stations) != 2 || len(got.Reaches) != 1 || got.Organisation != auth.NodeOrganisation {
		t.Errorf("stored again: read back %+v", got)
	}
	// now the node's: punjab's admin may no longer replace it; sindh's never could
	for _, c := range []struct {
		what string
		ctx  context.Context
	}{{"punjab's admin", punjabAdmin}, {"sindh's admin", sindhAdmin}} {
		err := e.SaveForecastNetwork(c.ctx, network(2, 2), newDS)
		if apperr.KindOf(err) != apperr.Forbidden || !strings.Contains(apperr.Message(err), "the forecast network of organisation") {
			t.Errorf("%s replacing the node's network: %v, want Forbidden", c.what, err)
		}
	}
	// a forecast Datastream is no station's input
	loop := network(2, fc)
	err = e.SaveForecastNetwork(ctx(), loop, newDS)
	if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "stations[1].discharge: Datastream") || !strings.Contains(apperr.Message(err), "forecast Datastream") {
		t.Errorf("a forecast Datastream as input: %v, want Invalid naming stations[1].discharge", err)
	}

	// Readings: numeric observations in the range, oldest first, with their flags
	var batch []sensing.Observation
	for i, v := range []float64{100, 200, -5, 400} { // -5: flagged bad by the suite's Checker
		batch = append(batch, obs(1, time.Date(2025, 8, 26, i, 0, 0, 0, time.UTC).Format(time.RFC3339), v))
	}
	batch = append(batch, obs(1, "2025-08-26T05:00:00Z", "n/a"), obs(2, "2025-08-26T01:00:00Z", 9.0))
	s.Configure(&Checker{}, false, "", nil)
	if _, errs, err := e.Ingest(ctx(), batch); err != nil || slices.ContainsFunc(errs, func(e error) bool { return e != nil }) {
		t.Fatal(err, errs)
	}
	rs, err := e.Readings(ctx(), 1, time.Date(2025, 8, 26, 1, 0, 0, 0, time.UTC), time.Date(2025, 8, 26, 6, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var vs []float64
	var flags []sensing.Flag
	for _, r := range rs {
		vs, flags = append(vs, r.Value), append(flags, r.Flag)
	}
	if !slices.Equal(vs, []float64{200, -5, 400}) || !slices.Equal(flags, []sensing.Flag{sensing.FlagGood, sensing.FlagBad, sensing.FlagGood}) ||
		!rs[0].Time.Equal(time.Date(2025, 8, 26, 1, 0, 0, 0, time.UTC)) {
		t.Errorf("readings %+v, want 200, -5 (bad), 400 from 01:00", rs)
	}
}
