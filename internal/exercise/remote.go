package exercise

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/rule"
)

// Remote reads a running node's history for an exercise: every Thing with its Location and
// Datastreams (SensorThings API 1.1: GET /v1.1/Things with $expand, following @iot.nextLink),
// each datastream's numeric Observations with phenomenonTime in [from, to], and the warning
// rules (GET /api/v1/rules) and river network (GET /api/v1/forecast/network, if any). The
// source's forecast Datastreams (properties.forecast) are not replayed: the exercise node
// forecasts itself, and the rules that read them read its forecasts of the same station. key is an API key of the source (viewer is enough; empty: the
// node must allow public reads). Observations whose result is not a number are left out (the
// rules read numbers only); a Thing without a Point location is placed at 0, 0.
func Remote(ctx context.Context, base, key string, from, to time.Time) (*History, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("source %q: want a node's base URL, http(s)://host[:port]", base)
	}
	c := newClient(base, key)
	h := &History{Source: c.base, ForecastStations: map[int64]string{}}
	q := url.Values{"$expand": {"Locations($select=location),Datastreams($expand=ObservedProperty)"}, "$top": {"100"}}
	next := "/v1.1/Things?" + q.Encode()
	for next != "" {
		var page struct {
			Value []struct {
				Name        string         `json:"name"`
				Description string         `json:"description"`
				Properties  map[string]any `json:"properties"`
				Locations   []struct {
					Location json.RawMessage `json:"location"`
				} `json:"Locations"`
				Datastreams []struct {
					ID               int64          `json:"@iot.id"`
					Name             string         `json:"name"`
					Description      string         `json:"description"`
					ObservationType  string         `json:"observationType"`
					Unit             Unit           `json:"unitOfMeasurement"`
					Properties       map[string]any `json:"properties"`
					ObservedProperty struct {
						Name       string `json:"name"`
						Definition string `json:"definition"`
					} `json:"ObservedProperty"`
				} `json:"Datastreams"`
			} `json:"value"`
			Next string `json:"@iot.nextLink"`
		}
		if err := c.get(ctx, next, &page); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		for _, t := range page.Value {
			th := Thing{Name: t.Name, Description: t.Description, Properties: t.Properties}
			for _, l := range t.Locations {
				var p struct {
					Type        string    `json:"type"`
					Coordinates []float64 `json:"coordinates"`
				}
				if json.Unmarshal(l.Location, &p) == nil && p.Type == "Point" && len(p.Coordinates) >= 2 {
					th.Lon, th.Lat = p.Coordinates[0], p.Coordinates[1]
					break
				}
			}
			for _, d := range t.Datastreams {
				if f, _ := d.Properties["forecast"].(bool); f {
					// the source's forecasts are not replayed: the exercise node makes its own
					if st, _ := d.Properties["forecastStation"].(string); st != "" {
						h.ForecastStations[d.ID] = st
					}
					continue
				}
				ds := Datastream{SourceID: d.ID, Name: d.Name, Description: d.Description, ObservationType: d.ObservationType, Unit: d.Unit,
					ObservedProperty: d.ObservedProperty.Name, Definition: d.ObservedProperty.Definition, Properties: d.Properties}
				if ds.Obs, err = remoteObservations(ctx, c, d.ID, from, to); err != nil {
					return nil, err
				}
				th.Datastreams = append(th.Datastreams, ds)
			}
			h.Things = append(h.Things, th)
		}
		next = page.Next
	}
	var rules struct {
		Value []rule.View `json:"value"`
	}
	if err := c.get(ctx, "/api/v1/rules", &rules); err != nil {
		return nil, fmt.Errorf("source: %w", err)
	}
	h.Rules = rules.Value
	// the river network, if the source has one (404: none)
	var doc forecasting.Document
	if err := c.get(ctx, "/api/v1/forecast/network", &doc); err == nil {
		h.Network = &doc
	} else if !strings.Contains(err.Error(), "404") {
		return nil, fmt.Errorf("source: %w", err)
	}
	if h.Count() == 0 {
		return nil, fmt.Errorf("source %s has no numeric observation from %s to %s", c.base, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return h, nil
}

// remoteObservations reads one datastream's numeric observations in [from, to], oldest first.
func remoteObservations(ctx context.Context, c *client, id int64, from, to time.Time) ([]Reading, error) {
	q := url.Values{"$select": {"phenomenonTime,result"}, "$orderby": {"phenomenonTime asc"}, "$top": {"10000"},
		"$filter": {fmt.Sprintf("phenomenonTime ge %s and phenomenonTime le %s", from.UTC().Format(time.RFC3339Nano), to.UTC().Format(time.RFC3339Nano))}}
	next := fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?%s", id, q.Encode())
	var out []Reading
	for next != "" {
		var page struct {
			Value []struct {
				Time   string          `json:"phenomenonTime"`
				Result json.RawMessage `json:"result"`
			} `json:"value"`
			Next string `json:"@iot.nextLink"`
		}
		if err := c.get(ctx, next, &page); err != nil {
			return nil, fmt.Errorf("source: %w", err)
		}
		for _, o := range page.Value {
			var v float64
			if json.Unmarshal(o.Result, &v) != nil {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, strings.SplitN(o.Time, "/", 2)[0])
			if err != nil {
				return nil, fmt.Errorf("source: datastream %d: phenomenonTime %q: %w", id, o.Time, err)
			}
			if n := len(out); n > 0 && !t.After(out[n-1].Time) {
				continue // an interval observation starting with the one before: the first is kept
			}
			out = append(out, Reading{Time: t.UTC(), Value: v})
		}
		next = page.Next
	}
	return out, nil
}
