package exercise

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/rule"
)

// History is what an exercise replays: the stations (SensorThings Things with their Location
// and Datastreams), the observations of each datastream in the exercise window, and the
// warning rules over them. It is read once, before the replay, from the embedded demo data
// (Demo) or from a running node (Remote).
type History struct {
	// Source says where the history comes from, for the report ("demo", or the node's URL).
	Source string
	Things []Thing
	// Rules are the source's rules as a rules file writes them; their Datastreams are
	// Datastream.SourceID values, or forecast datastreams of the source named in
	// ForecastStations. The exercise forces their status to Exercise.
	Rules []rule.View
	// Network, when not nil, is the source's river network (the document of
	// /api/v1/forecast/network) with Thing and Discharge given as the source's ids (a Thing
	// id may be 0: the exercise takes the Thing of the discharge Datastream). The exercise
	// node stores it, so it forecasts as the readings arrive.
	Network *forecasting.Document
	// ForecastStations maps the source's forecast Datastreams (which are not replayed: the
	// exercise node makes its own) to their network station, so that forecast rules read the
	// exercise node's forecast of the same station.
	ForecastStations map[int64]string
}

// Thing is a station: a SensorThings Thing with one Location (a point, WGS 84 degrees).
type Thing struct {
	Name, Description string
	Properties        map[string]any
	Lat, Lon          float64
	Datastreams       []Datastream
}

// Datastream is one observed series of a Thing, with its observations in the window.
type Datastream struct {
	// SourceID is the datastream's id at the source (the demo: its position, from 1); the
	// rules refer to it.
	SourceID          int64
	Name, Description string
	ObservationType   string
	Unit              Unit
	// ObservedProperty and Definition name the observed property (e.g. "Discharge" and its URI).
	ObservedProperty, Definition string
	Properties                   map[string]any
	// Obs are the observations with From ≤ time ≤ To, sorted by time, strictly increasing.
	Obs []Reading
}

// Unit is a SensorThings unitOfMeasurement.
type Unit struct {
	Name       string `json:"name"`
	Symbol     string `json:"symbol"`
	Definition string `json:"definition"`
}

// Reading is one numeric observation: phenomenon time (an instant) and result.
type Reading struct {
	Time  time.Time
	Value float64
}

// Count is how many observations the history holds.
func (h *History) Count() int {
	n := 0
	for _, t := range h.Things {
		for _, d := range t.Datastreams {
			n += len(d.Obs)
		}
	}
	return n
}

// Demo returns what the embedded demo data (internal/demo) holds in [from, to]; the window
// chooses what is replayed:
//
//   - the river gauges (PDMA Punjab discharge, cusecs; 5 Jul – mid Oct 2025 and June – July
//     2026) with the demo's flood-class rules, its river network (demo.ForecastNetwork) and
//     its forecast rules (demo.ForecastRules), when the window holds a gauge reading;
//   - the Beijing stations' PM2.5 (µg/m³), air temperature (°C) and relative humidity (%)
//     (the US Embassy in 2014, Aotizhongxin, Changping and Huairou from March 2016 to February
//     2017) with the demo's sector advisories over them (demo.Advisories: air quality to
//     schools and the public, heat to hospitals, clinics and the public), for each station
//     with a reading in the window.
//
// Other series (PMD climate, Beijing's other pollutants and dew point) are left out. It fails
// when the window holds neither.
func Demo(from, to time.Time) (*History, error) {
	ds, err := demo.Load()
	if err != nil {
		return nil, err
	}
	h := &History{Source: "demo"}
	ids := map[string]int64{}
	byStation := map[string]int{}
	var next int64
	inWindow := func(s *demo.Series) []Reading {
		var out []Reading
		lo := sort.Search(len(s.Obs), func(j int) bool { return !s.Obs[j].Time.Before(from) })
		for _, o := range s.Obs[lo:] {
			if o.Time.After(to) {
				break
			}
			out = append(out, Reading{Time: o.Time, Value: o.Value})
		}
		return out
	}
	// which part of the demo the window holds: gauges, and Beijing stations with a reading
	gauges, beijing := false, map[string]bool{}
	for i := range ds.Series {
		s := &ds.Series[i]
		st := ds.Station(s.StationKey)
		switch {
		case st == nil:
		case strings.HasPrefix(s.StationKey, "pdma-"):
			gauges = gauges || len(inWindow(s)) > 0
		case st.Properties["city"] == "Beijing" && advisorySeries(s.Key):
			if len(inWindow(s)) > 0 {
				beijing[st.Key] = true
			}
		}
	}
	if !gauges && len(beijing) == 0 {
		return nil, fmt.Errorf("the demo data has no reading from %s to %s (its river gauges cover 5 Jul – mid Oct 2025 and June – July 2026; "+
			"its Beijing air quality and weather 2014 (US Embassy) and March 2016 – February 2017)",
			from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	for i := range ds.Series {
		s := &ds.Series[i]
		st := ds.Station(s.StationKey)
		if st == nil || !(gauges && strings.HasPrefix(s.StationKey, "pdma-") || beijing[st.Key] && advisorySeries(s.Key)) {
			continue
		}
		next++
		ids[s.Key] = next
		ti, ok := byStation[st.Key]
		if !ok {
			props := map[string]any{"demoKey": st.Key, "coordinateSource": st.Source, "coordinateApproximate": st.Approx}
			for k, v := range st.Properties {
				props[k] = v
			}
			h.Things = append(h.Things, Thing{Name: st.Name, Description: st.Description, Properties: props, Lat: st.Lat, Lon: st.Lon})
			ti = len(h.Things) - 1
			byStation[st.Key] = ti
		}
		props := map[string]any{"demoKey": s.Key}
		for k, v := range s.Properties {
			props[k] = v
		}
		d := Datastream{SourceID: next, Name: s.Name, Description: s.Description, ObservationType: s.ObservationType,
			Unit: Unit(s.Unit), ObservedProperty: s.ObservedProperty, Definition: s.Definition, Properties: props, Obs: inWindow(s)}
		h.Things[ti].Datastreams = append(h.Things[ti].Datastreams, d)
	}
	if len(beijing) > 0 {
		advs, err := demo.Advisories(ds, ids)
		if err != nil {
			return nil, err
		}
		for _, r := range advs {
			h.Rules = append(h.Rules, r.View())
		}
	}
	if !gauges {
		return h, nil
	}
	rules, err := demo.Rules(ds, ids)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		h.Rules = append(h.Rules, r.View())
	}
	// the demo's river network (Punjab's Indus, calibrated) and its forecast rules: forecast
	// datastreams get ids of their own here, after the series'
	net, err := demo.ForecastNetwork(ids, func(int64) (int64, error) { return 0, nil })
	if err != nil {
		return nil, err
	}
	downstream := map[string]bool{}
	for _, r := range net.Reaches {
		downstream[r.To] = true
	}
	h.ForecastStations = map[int64]string{}
	for i := range net.Stations {
		st := &net.Stations[i]
		if st.Discharge != 0 && downstream[st.ID] {
			next++
			st.Forecast = next
			h.ForecastStations[next] = st.ID
		}
	}
	frules, err := demo.ForecastRules(ds, net)
	if err != nil {
		return nil, err
	}
	for _, r := range frules {
		h.Rules = append(h.Rules, r.View())
	}
	if h.Network, err = forecasting.View(net); err != nil {
		return nil, err
	}
	return h, nil
}

// advisorySeries tells whether a demo series is one the demo's advisories read (PM2.5, air
// temperature, relative humidity).
func advisorySeries(key string) bool {
	return strings.HasSuffix(key, "/pm25") || strings.HasSuffix(key, "/temperature") || strings.HasSuffix(key, "/relative-humidity")
}
