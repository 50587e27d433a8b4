package demo

import (
	"fmt"
	"strings"

	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/rule"
)

// NetworkName is the name of the demo's river network.
const NetworkName = "punjab-indus"

// ForecastNetwork returns the demo's river network: Punjab's Indus system with its calibrated
// routing (forecast.PunjabIndusModel), each station with a demo discharge series tied to that
// series' Datastream (ids by Series.Key, as Seed returns them) and its Thing (thing gives a
// Datastream's Thing). A network station id is the PDMA name in lower case with "_" for the
// dots of G.S.Wala; the demo's key drops them ("pdma-gswala"). Guddu, Sukkur and Kotri have no
// demo data: they stay unobserved.
func ForecastNetwork(ids map[string]int64, thing func(ds int64) (int64, error)) (*forecasting.Network, error) {
	m, err := forecast.PunjabIndusModel()
	if err != nil {
		return nil, fmt.Errorf("demo: forecast model: %w", err)
	}
	n := forecasting.FromModel(NetworkName, m)
	for i := range n.Stations {
		st := &n.Stations[i]
		ds, ok := ids["pdma-"+strings.ReplaceAll(st.ID, "_", "")+"/discharge"]
		if !ok {
			continue
		}
		th, err := thing(ds)
		if err != nil {
			return nil, err
		}
		st.Thing, st.Discharge = th, ds
	}
	return n, nil
}

// ForecastRules returns a forecast rule per station of n that has a forecast Datastream and
// flood classes: the station's five classes read on its forecast, certainty Likely (a forecast
// is not Observed), the gauge rule's area and audience, status Exercise, drafts that wait for
// an approver. Their messages say when the level is expected ({{.In}}), in English; the
// gauge rules' other languages are not written for them yet.
func ForecastRules(ds *Dataset, n *forecasting.Network) ([]rule.Rule, error) {
	// the gauge rules give the classes, area and audience (their datastreams are replaced)
	any := map[string]int64{}
	for _, s := range ds.Series {
		any[s.Key] = 0
	}
	gauges, err := Rules(ds, any)
	if err != nil {
		return nil, err
	}
	byKey := map[string]rule.Rule{}
	for _, g := range gauges {
		byKey[strings.TrimPrefix(g.ID, "flood-")] = g
	}
	var out []rule.Rule
	for _, st := range n.Stations {
		g, ok := byKey[strings.ReplaceAll(st.ID, "_", "")]
		if st.Forecast == 0 || !ok {
			continue
		}
		r := g
		r.ID, r.Name = "forecast-"+strings.TrimPrefix(g.ID, "flood-"), "Forecast flood classes at "+strings.TrimPrefix(g.Name, "Flood classes at ")
		r.Datastreams, r.Forecast, r.AutoIssue = []int64{st.Forecast}, true, false
		r.Levels = append([]rule.Level(nil), g.Levels...)
		for i := range r.Levels {
			r.Levels[i].Certainty = rule.Likely
		}
		r.Templates = forecastTemplates
		out = append(out, r)
	}
	return out, nil
}

// forecastTemplates are the forecast rules' messages (English only for now).
var forecastTemplates = map[string]rule.Template{
	"en": {
		Headline:    "{{if .Cancel}}Forecast flood at {{.Station}} no longer expected{{else}}{{.Level}} flood expected at {{.Station}} {{.In}}{{end}}",
		Description: "{{if .Cancel}}The latest forecast for {{.Station}} stays below the flood classes.{{else}}Rabta forecasts a discharge of {{.Quantity}} at {{.Station}} at {{.ObservedAt}}, {{.In}}, from the readings upstream: {{.Level}} flood class.{{end}}",
		Instruction: "{{if .Cancel}}Stay careful near the river banks and follow the instructions of the PDMA and district administration.{{else}}Prepare to move people, livestock and valuables away from the river banks and low-lying areas. Follow the instructions of the PDMA and district administration.{{end}}",
	},
}
