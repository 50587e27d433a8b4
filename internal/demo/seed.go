package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// Creator creates SensorThings entities (deep insert) and resolves datastreams by name.
type Creator interface {
	Create(ctx context.Context, e *sensing.Entity) (int64, error)
	DatastreamByName(ctx context.Context, name string) (int64, error)
	CountThings(ctx context.Context) (int64, error)
}

// Ingester takes observations through the node's ingest path (QC and all).
type Ingester interface {
	Ingest(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error)
}

func raw(v any) json.RawMessage {
	b, _ := json.Marshal(v)
	return b
}

// Seed creates a Thing with its Location per station, and a Sensor, ObservedProperty and
// Datastream per series, unless the store already has Things. It returns the datastream id of
// every series by Series.Key, looked up by name when the store was seeded before.
func Seed(ctx context.Context, c Creator, ds *Dataset) (map[string]int64, error) {
	ids := map[string]int64{}
	n, err := c.CountThings(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		for _, s := range ds.Series {
			id, err := c.DatastreamByName(ctx, s.Name)
			if err != nil {
				return nil, fmt.Errorf("demo: the data directory has data but no datastream %q; use an empty --data-dir for the demo: %w", s.Name, err)
			}
			ids[s.Key] = id
		}
		return ids, nil
	}
	things := map[string]int64{}
	for _, st := range ds.Stations {
		props := map[string]any{"demoKey": st.Key, "coordinateSource": st.Source, "coordinateApproximate": st.Approx}
		for k, v := range st.Properties {
			props[k] = v
		}
		locDesc := "Position of " + st.Name
		if st.Approx {
			locDesc += " (approximate: " + st.Source + ")"
		}
		id, err := c.Create(ctx, &sensing.Entity{Set: sensing.Things, Props: map[string]any{
			"name": st.Name, "description": st.Description, "properties": raw(props),
		}, Links: map[string][]*sensing.Entity{"Locations": {{Set: sensing.Locations, Props: map[string]any{
			"name": st.Name, "description": locDesc, "encodingType": "application/geo+json",
			"location": raw(map[string]any{"type": "Point", "coordinates": []float64{st.Lon, st.Lat}}),
		}}}}})
		if err != nil {
			return nil, fmt.Errorf("demo: create %s: %w", st.Name, err)
		}
		things[st.Key] = id
	}
	ops := map[string]int64{}
	for _, s := range ds.Series {
		op, ok := ops[s.ObservedProperty]
		if !ok {
			op, err = c.Create(ctx, &sensing.Entity{Set: sensing.ObservedProperties, Props: map[string]any{
				"name": s.ObservedProperty, "definition": s.Definition, "description": s.ObservedProperty,
			}})
			if err != nil {
				return nil, err
			}
			ops[s.ObservedProperty] = op
		}
		props := map[string]any{"demoKey": s.Key}
		for k, v := range s.Properties {
			props[k] = v
		}
		id, err := c.Create(ctx, &sensing.Entity{Set: sensing.Datastreams, Props: map[string]any{
			"name": s.Name, "description": s.Description, "observationType": s.ObservationType,
			"unitOfMeasurement": raw(map[string]string{"name": s.Unit.Name, "symbol": s.Unit.Symbol, "definition": s.Unit.Definition}),
			"properties":        raw(props),
		}, Links: map[string][]*sensing.Entity{
			"Thing":            {{Set: sensing.Things, ID: things[s.StationKey], Ref: true}},
			"ObservedProperty": {{Set: sensing.ObservedProperties, ID: op, Ref: true}},
			"Sensor": {{Set: sensing.Sensors, Props: map[string]any{
				"name": s.ObservedProperty + " sensor at " + s.StationKey, "description": "Instrument reporting " + s.Name,
				"encodingType": "text/html", "metadata": raw("https://github.com/rabta/rabta/blob/main/internal/demo/data/PROVENANCE.md"),
			}}},
		}})
		if err != nil {
			return nil, fmt.Errorf("demo: create %s: %w", s.Name, err)
		}
		ids[s.Key] = id
	}
	return ids, nil
}

// Observations turns a replayed batch into observations of datastream id.
func Observations(id int64, b Batch) []sensing.Observation {
	out := make([]sensing.Observation, len(b.Obs))
	for i, o := range b.Obs {
		v := o.Value
		t := o.Time.UTC()
		out[i] = sensing.Observation{DatastreamID: id, PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339Nano), ResultNum: &v}
	}
	return out
}
