package sqlq

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/rabta/rabta/internal/sensing"
)

// A sensing.RemoteView leaves out the remote Datastreams (a partner's data, received under an
// agreement) of organisations other than the reader's, with all that hangs on them. What it
// hides is read once per List or Get (hiddenFor: two small queries on fed_remote, in the
// call's snapshot) and written into the statements as lists of ids, so that a node with no
// remote data, or a reader who may see all of it, runs exactly the statements it ran before,
// and the others a NOT IN of a few constants (a correlated or uncorrelated subquery instead
// doubled the time of a page of 1,000 Observations of one Datastream on SQLite, whose planner
// then chose another plan).

// viewed returns query with the RemoteView of ctx (sensing.RemoteViewFrom), unless it has
// one: the SensorThings API and the console set it on the context of each request.
func viewed(ctx context.Context, query *sensing.Query) *sensing.Query {
	if query.View != nil {
		return query
	}
	v, ok := sensing.RemoteViewFrom(ctx)
	if !ok || v.All {
		return query
	}
	c := *query
	v.Hidden = nil // read in this call's snapshot
	c.View = &v
	return &c
}

// hide reads, into query.View.Hidden, what the view leaves out (once per call: the queries of
// its expansions share the View).
func (s *Entities) hide(ctx context.Context, tx Tx, query *sensing.Query) error {
	v := query.View
	if v == nil || v.All || v.Hidden != nil {
		return nil
	}
	h := &sensing.RemoteHidden{}
	err := each(ctx, tx, func(r Rows) error {
		var ds, thing, sensor, prop int64
		if err := r.Scan(&ds, &thing, &sensor, &prop); err != nil {
			return err
		}
		h.Datastreams, h.Things = append(h.Datastreams, ds), append(h.Things, thing)
		h.Sensors, h.ObservedProperties = append(h.Sensors, sensor), append(h.ObservedProperties, prop)
		return nil
	}, `SELECT rd.id, rd.thing_id, rd.sensor_id, rd.observed_property_id FROM fed_remote r JOIN datastreams rd ON rd.id = r.datastream_id
		WHERE rd.organisation <> ? ORDER BY rd.id`, v.Org)
	if err != nil {
		return err
	}
	if len(h.Things) > 0 {
		err = each(ctx, tx, func(r Rows) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			h.Locations = append(h.Locations, id)
			return nil
		}, `SELECT DISTINCT location_id FROM thing_locations WHERE thing_id IN (`+ids(h.Things)+`)`)
		if err != nil {
			return err
		}
	}
	v.Hidden = h
	return nil
}

// ids is the SQL list of ids, sorted and without duplicates ("0" for none: no id is 0).
func ids(v []int64) string {
	v = slices.Compact(slices.Sorted(slices.Values(v)))
	if len(v) == 0 {
		return "0"
	}
	parts := make([]string, len(v))
	for i, id := range v {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// viewCond adds to x the condition that leaves out the entities of alias a (of query.Set)
// that query.View hides (read by hide).
func viewCond(x *q, query *sensing.Query, a string) {
	if query.View == nil || query.View.Hidden.None() {
		return
	}
	h := query.View.Hidden
	if p := query.Parent; query.Set == sensing.Observations && p != nil && p.Set == sensing.Datastreams && p.Nav == "Observations" {
		// one Datastream's Observations: all of them or none, as the Datastream
		if slices.Contains(h.Datastreams, p.ID) {
			x.add(" AND 0=1")
		}
		return
	}
	switch query.Set {
	case sensing.Datastreams:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Datastreams) + ")")
	case sensing.Observations: // an Observation of a MultiDatastream (no datastream_id) is not hidden
		x.add(" AND (" + a + ".datastream_id IS NULL OR " + a + ".datastream_id NOT IN (" + ids(h.Datastreams) + "))")
	case sensing.Things:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Things) + ")")
	case sensing.Sensors:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Sensors) + ")")
	case sensing.ObservedProperties:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.ObservedProperties) + ")")
	case sensing.HistoricalLocations:
		x.add(" AND " + a + ".thing_id NOT IN (" + ids(h.Things) + ")")
	case sensing.Locations:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Locations) + ")")
	case sensing.FeaturesOfInterest: // the one the receiver made of the remote Thing's Location
		x.add(" AND (" + a + ".location_id IS NULL OR " + a + ".location_id NOT IN (" + ids(h.Locations) + "))")
	}
}

// hiddenCount is how many Observations of the hidden Datastreams the counts hold (counts.go):
// what a count of all Observations leaves out.
func hiddenCount(ctx context.Context, tx Tx, query *sensing.Query) (int64, error) {
	if query.View == nil || query.View.Hidden.None() {
		return 0, nil
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM observation_counts WHERE datastream_id IN (`+ids(query.View.Hidden.Datastreams)+`)`).Scan(&n)
	return n, err
}

// RemoteHidden returns what the RemoteView of ctx (sensorthings.ReadView) leaves out, for the
// reads that do not go through List or Get (the quality-control and forecast-network
// endpoints, which name Datastreams and Things): nil when ctx has no view, when it shows
// everything, or when the reader may see every remote Datastream there is.
func (s *Entities) RemoteHidden(ctx context.Context) (*sensing.RemoteHidden, error) {
	query := viewed(ctx, &sensing.Query{})
	if query.View == nil {
		return nil, nil
	}
	if err := s.eng.Read(ctx, func(tx Tx) error { return s.hide(ctx, tx, query) }); err != nil {
		return nil, err
	}
	if query.View.Hidden.None() {
		return nil, nil
	}
	return query.View.Hidden, nil
}
