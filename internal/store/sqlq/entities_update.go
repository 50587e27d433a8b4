package sqlq

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Update changes entity e.Set(e.ID): the properties in e.Props and the links in e.Links, which
// must be references to existing entities (Ref; an inline entity is Invalid, one that does not
// exist NotFound). With replace (PUT), properties not given are reset to null.
func (s *Entities) Update(ctx context.Context, e *sensing.Entity, replace bool) (err error) {
	set := sensing.Sets[e.Set]
	t := Sensing[e.Set]
	// a new phenomenon time may move an Observation to a month without a partition yet
	times := func() []time.Time {
		times := obsTimes(&sensing.Entity{Links: e.Links}, nil)
		if v, ok := e.Props["phenomenonTime"].(string); ok && e.Set == sensing.Observations {
			if start, _, err := sensing.ParseTimeOrInterval(v); err == nil {
				times = append(times, start)
			}
		}
		return times
	}
	if err := s.eng.Prepare(ctx, times); err != nil {
		return err
	}
	defer func() { s.entityWritten(ctx, e.Set, err) }() // derived.go
	if e.Set != sensing.Observations {
		defer viewWrite()() // remoteview.go: it may change what a RemoteView hides
	}
	return s.tx(ctx, fmt.Sprintf("%s(%d)", e.Set, e.ID), func(tx Tx) error {
		if err := s.exists(ctx, tx, e.Set, e.ID); err != nil {
			return err
		}
		if err := mayChange(ctx, tx, e.Set, e.ID); err != nil { // owner.go
			return err
		}
		var cols []string
		var vals []any
		var err error
		var before []obsSpan   // an Observation's Datastream and times before the change
		var beforeMulti *int64 // or its MultiDatastream
		if e.Set == sensing.Observations {
			if before, err = obsSpans(ctx, tx, "id = ?", e.ID); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT multi_datastream_id FROM observations WHERE id = ?`, e.ID).Scan(&beforeMulti); err != nil {
				return err
			}
			cols, vals, err = obsUpdate(e)
			// linked to a MultiDatastream it leaves its Datastream, and the other way round
			_, toDS := e.Links["Datastream"]
			if _, ok := e.Links["MultiDatastream"]; ok && toDS {
				return apperr.E(apperr.Invalid, "Observation: give a Datastream or a MultiDatastream, not both")
			} else if ok {
				cols, vals = append(cols, "datastream_id"), append(vals, nil)
			} else if toDS {
				cols, vals = append(cols, "multi_datastream_id"), append(vals, nil)
			}
		} else {
			if replace {
				for _, p := range set.Props {
					if _, ok := e.Props[p.Name]; !ok && !p.ReadOnly && !p.Required {
						e.Props[p.Name] = nil
					}
				}
			}
			cols, vals, err = rowValues(e, false)
		}
		if err != nil {
			return err
		}
		for _, n := range set.Navs {
			l := t.Links[n.Name]
			linked, ok := e.Links[n.Name]
			if !ok {
				continue
			}
			for _, c := range linked {
				if !c.Ref { // an update changes links, it creates nothing (SensorThings 1.1, 10.3)
					return apperr.E(apperr.Invalid, "%s.%s: an update links existing entities only, by @iot.id", set.Single, n.Name)
				}
			}
			switch {
			case l.LocalFK != "":
				if len(linked) != 1 {
					return apperr.E(apperr.Invalid, "%s: %s links to exactly one entity", set.Single, n.Name)
				}
				id, err := s.create(ctx, tx, linked[0], "", 0)
				if err != nil {
					return err
				}
				cols = append(cols, l.LocalFK)
				vals = append(vals, id)
			case l.Via != nil && l.Via.Table == multiObservedProperties.Table && l.Via.Rank == "":
				for _, c := range linked {
					if err := s.exists(ctx, tx, l.Target, c.ID); err != nil {
						return err
					}
				}
				return apperr.E(apperr.Invalid, "%s: %s: change a MultiDatastream's ObservedProperties on the MultiDatastream, in order", set.Single, n.Name)
			case l.Via != nil:
				var ids []int64
				for _, c := range linked {
					id, err := s.create(ctx, tx, c, "", 0)
					if err != nil {
						return err
					}
					ids = append(ids, id)
				}
				if l.Via.Rank != "" {
					if err := linkRanked(ctx, tx, l.Via, e.ID, ids); err != nil {
						return err
					}
					continue
				}
				if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", l.Via.Table, l.Via.LocalCol), e.ID); err != nil {
					return err
				}
				for _, id := range ids {
					if err := s.link(ctx, tx, l.Via, e.ID, id); err != nil {
						return err
					}
				}
				if e.Set == sensing.Things && n.Name == "Locations" && len(ids) > 0 {
					if err := s.historical(ctx, tx, e.ID, ids); err != nil {
						return err
					}
				}
			default:
				for _, c := range linked {
					if err := s.repoint(ctx, tx, l, e.ID, c.ID); err != nil {
						return err
					}
				}
			}
		}
		if len(cols) > 0 {
			sets := make([]string, len(cols))
			for i, c := range cols {
				sets[i] = c + " = ?"
			}
			q := fmt.Sprintf("UPDATE %s SET %s WHERE id = ?", t.Name, strings.Join(sets, ", "))
			if _, err := tx.Exec(ctx, q, append(vals, e.ID)...); err != nil {
				return fmt.Errorf("update %s: %w", set.Single, err)
			}
		}
		if e.Set == sensing.Datastreams || e.Set == sensing.ObservedProperties {
			clear(s.dsCache)
			s.forgetOwners() // streamcache.go
		}
		if e.Set == sensing.MultiDatastreams || e.Set == sensing.ObservedProperties {
			clear(s.mdCache)
			s.forgetOwners()
		}
		if e.Set == sensing.MultiDatastreams {
			if err := checkMultiShape(ctx, tx, e.ID); err != nil {
				return err
			}
		}
		if e.Set == sensing.Datastreams { // derived.go: properties.derivedFrom holds
			if err := checkDerived(ctx, tx, e.ID); err != nil {
				return err
			}
		}
		if e.Set == sensing.Observations {
			// the Datastream it was in loses its old times, the one it is in now gets the new
			after, err := obsSpans(ctx, tx, "id = ?", e.ID)
			if err != nil {
				return err
			}
			if err := countsMoved(ctx, tx, e.ID, before, beforeMulti); err != nil { // counts.go
				return err
			}
			if err := shrinkSpans(ctx, tx, before); err != nil {
				return err
			}
			if err := growSpans(ctx, tx, after); err != nil {
				return err
			}
			clear(s.dsCache)
			s.forgetOwners()
			if err := s.multiMoved(ctx, tx, e.ID, beforeMulti); err != nil {
				return err
			}
		}
		return nil
	})
}

// multiMoved holds Observation(id), just changed, to its MultiDatastream's shape and brings
// the time spans of the MultiDatastreams it was in (before) and is in now back in line.
func (s *Entities) multiMoved(ctx context.Context, tx Tx, id int64, before *int64) error {
	var after *int64
	if err := tx.QueryRow(ctx, `SELECT multi_datastream_id FROM observations WHERE id = ?`, id).Scan(&after); err != nil {
		return err
	}
	if before == nil && after == nil {
		return nil
	}
	if err := s.checkMultiObservation(ctx, tx, id); err != nil {
		return err
	}
	return refreshMultiSpans(ctx, tx, idOf(before), idOf(after))
}

// idOf returns the id p points to, 0 for NULL.
func idOf(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// obsUpdate turns the properties of an Observation PATCH into column values.
func obsUpdate(e *sensing.Entity) ([]string, []any, error) {
	var cols []string
	var vals []any
	for name, v := range e.Props {
		str, _ := v.(string)
		switch name {
		case "phenomenonTime", "validTime":
			if v == nil {
				if name == "phenomenonTime" {
					return nil, nil, apperr.E(apperr.Invalid, "Observation: phenomenonTime cannot be null")
				}
				cols = append(cols, "valid_start", "valid_end", "valid_text")
				vals = append(vals, nil, nil, nil)
				continue
			}
			a, b, err := sensing.ParseTimeOrInterval(str)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "Observation: %s", name)
			}
			if name == "phenomenonTime" {
				cols = append(cols, "phen_start", "phen_end", "phen_text")
			} else {
				cols = append(cols, "valid_start", "valid_end", "valid_text")
			}
			vals = append(vals, us(a), us(b), str)
		case "resultTime":
			if v == nil {
				cols = append(cols, "result_time_us", "result_time_text")
				vals = append(vals, nil, nil)
				continue
			}
			a, _, err := sensing.ParseTimeOrInterval(str)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "Observation: resultTime")
			}
			cols = append(cols, "result_time_us", "result_time_text")
			vals = append(vals, us(a), str)
		case "result":
			if f, ok := v.(float64); ok && !math.IsNaN(f) && !math.IsInf(f, 0) {
				cols = append(cols, "result_num", "result_json")
				vals = append(vals, f, nil)
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "Observation: result")
			}
			cols = append(cols, "result_num", "result_json")
			vals = append(vals, nil, string(raw))
		case "parameters":
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "Observation: parameters")
			}
			cols = append(cols, "parameters")
			vals = append(vals, nullStr(string(raw)))
		}
	}
	return cols, vals, nil
}

// Delete removes set(id) and what the standard says goes with it: a Thing takes its
// Datastreams and HistoricalLocations, a Datastream its Observations, a Sensor or
// ObservedProperty its Datastreams, a FeatureOfInterest its Observations (foreign keys with
// ON DELETE CASCADE do the work).
func (s *Entities) Delete(ctx context.Context, set string, id int64) (err error) {
	defer func() { s.entityWritten(ctx, set, err) }() // derived.go
	if set != sensing.Observations {
		defer viewWrite()() // remoteview.go: it may change what a RemoteView hides
	}
	return s.tx(ctx, fmt.Sprintf("%s(%d)", set, id), func(tx Tx) error {
		if err := mayDelete(ctx, tx, set, id); err != nil { // owner.go: its own, and nobody else's goes with it
			return err
		}
		// the Observations that go (alone, or by cascade with their FeatureOfInterest) leave
		// their Datastreams' time spans: read which before they go. A Datastream deleted, or
		// one that goes with its Thing, Sensor or ObservedProperty, takes its span with it.
		var gone []obsSpan
		var multis []int64 // the MultiDatastreams whose Observations go
		var err error
		switch set {
		case sensing.Observations:
			gone, err = obsSpans(ctx, tx, "id = ?", id)
			if err == nil {
				multis, err = multisOf(ctx, tx, "id = ?", id)
			}
		case sensing.FeaturesOfInterest:
			gone, err = obsSpans(ctx, tx, "foi_id = ?", id)
			if err == nil {
				multis, err = multisOf(ctx, tx, "foi_id = ?", id)
			}
		case sensing.ObservedProperties:
			// a MultiDatastream measuring it would be left with fewer ObservedProperties than
			// units: it goes, as a Datastream of the ObservedProperty does (18-088 §9)
			_, err = tx.Exec(ctx, `DELETE FROM multi_datastreams WHERE id IN
				(SELECT multi_datastream_id FROM multi_datastream_observed_properties WHERE observed_property_id = ?)`, id)
		}
		if err != nil {
			return err
		}
		switch set { // counts.go: the observations that go leave their streams' counts
		case sensing.Observations:
			err = countsGone(ctx, tx, "id = ?", id)
		case sensing.FeaturesOfInterest:
			err = countsGone(ctx, tx, "foi_id = ?", id)
		}
		if err != nil {
			return err
		}
		n, err := tx.Exec(ctx, "DELETE FROM "+Sensing[set].Name+" WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("delete %s(%d): %w", set, id, err)
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "%s(%d) does not exist", set, id)
		}
		if err := shrinkSpans(ctx, tx, gone); err != nil {
			return err
		}
		if err := refreshMultiSpans(ctx, tx, multis...); err != nil {
			return err
		}
		if set == sensing.Locations {
			// a HistoricalLocation left with no Location says nothing any more
			if _, err := tx.Exec(ctx, `DELETE FROM historical_locations WHERE NOT EXISTS
				(SELECT 1 FROM historical_location_locations h WHERE h.historical_location_id = historical_locations.id)`); err != nil {
				return err
			}
		}
		s.forgetStreams()
		return nil
	})
}

// multisOf returns the MultiDatastreams of the observations matching cond (with its args).
func multisOf(ctx context.Context, tx Tx, cond string, args ...any) ([]int64, error) {
	var out []int64
	err := each(ctx, tx, func(r Rows) error {
		var id int64
		err := r.Scan(&id)
		out = append(out, id)
		return err
	}, `SELECT DISTINCT multi_datastream_id FROM observations WHERE (`+cond+`) AND multi_datastream_id IS NOT NULL ORDER BY 1`, args...)
	return out, err
}

// obsSpan is the extent of some observations of one Datastream: phenomenon times from ps to
// pe and result times from rs to re (µs since the Unix epoch; rs, re nil when none has one).
type obsSpan struct {
	ds, ps, pe int64
	rs, re     *int64
}

// obsSpans returns, per Datastream, the extent of the observations matching cond (a condition
// on the observations table with its arguments), in Datastream id order.
func obsSpans(ctx context.Context, tx Tx, cond string, args ...any) ([]obsSpan, error) {
	rows, err := tx.Query(ctx, `SELECT datastream_id, min(phen_start), max(phen_end), min(result_time_us), max(result_time_us)
		FROM observations WHERE (`+cond+`) AND datastream_id IS NOT NULL GROUP BY datastream_id ORDER BY datastream_id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []obsSpan
	for rows.Next() {
		var sp obsSpan
		if err := rows.Scan(&sp.ds, &sp.ps, &sp.pe, &sp.rs, &sp.re); err != nil {
			return nil, err
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// shrinkSpans brings the phenomenonTime and resultTime of each Datastream of gone back in line
// with its observations, after observations with those extents left it (deleted, moved, their
// times changed; SensorThings 1.1, 8.2.4: the spans are those of the Datastream's
// Observations, null when it has none). A span is read again from the observations only where
// what left was on its edge — anything inside leaves it as it is and costs an indexed UPDATE
// that changes nothing — and each edge on its own: the start of the phenomenon time from the
// index of the Datastream's observations at once, its end by a scan of that index, the result
// time (in no index) by reading the Datastream's observations. On SQLite, for a Datastream of
// 2,000,000 observations (measured on a loaded 2-core machine): removing its oldest takes
// about 1 ms, its newest 0.4-0.6 s, and 0.8-1.4 s when the observations have result times.
func shrinkSpans(ctx context.Context, tx Tx, gone []obsSpan) error {
	for _, sp := range gone {
		// each edge read again only when what left was on it (CASE evaluates the branch taken)
		if _, err := tx.Exec(ctx, `UPDATE datastreams SET
			phenomenon_time_start = CASE WHEN phenomenon_time_start >= ?
				THEN (SELECT min(phen_start) FROM observations WHERE datastream_id = datastreams.id) ELSE phenomenon_time_start END,
			phenomenon_time_end = CASE WHEN phenomenon_time_end <= ?
				THEN (SELECT max(phen_end) FROM observations WHERE datastream_id = datastreams.id) ELSE phenomenon_time_end END
			WHERE id = ? AND (phenomenon_time_start >= ? OR phenomenon_time_end <= ?)`, sp.ps, sp.pe, sp.ds, sp.ps, sp.pe); err != nil {
			return fmt.Errorf("update datastream span: %w", err)
		}
		if sp.rs == nil {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE datastreams SET
			result_time_start = CASE WHEN result_time_start >= ?
				THEN (SELECT min(result_time_us) FROM observations WHERE datastream_id = datastreams.id) ELSE result_time_start END,
			result_time_end = CASE WHEN result_time_end <= ?
				THEN (SELECT max(result_time_us) FROM observations WHERE datastream_id = datastreams.id) ELSE result_time_end END
			WHERE id = ? AND (result_time_start >= ? OR result_time_end <= ?)`, *sp.rs, *sp.re, sp.ds, *sp.rs, *sp.re); err != nil {
			return fmt.Errorf("update datastream span: %w", err)
		}
	}
	return nil
}

// growSpans widens the phenomenonTime and resultTime of each Datastream of added to hold the
// observations that joined it.
func growSpans(ctx context.Context, tx Tx, added []obsSpan) error {
	for _, sp := range added {
		if _, err := tx.Exec(ctx, `UPDATE datastreams SET
			phenomenon_time_start = CASE WHEN phenomenon_time_start IS NULL OR phenomenon_time_start > ? THEN ? ELSE phenomenon_time_start END,
			phenomenon_time_end = CASE WHEN phenomenon_time_end IS NULL OR phenomenon_time_end < ? THEN ? ELSE phenomenon_time_end END
			WHERE id = ?`, sp.ps, sp.ps, sp.pe, sp.pe, sp.ds); err != nil {
			return fmt.Errorf("update datastream span: %w", err)
		}
		if sp.rs == nil {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE datastreams SET
			result_time_start = CASE WHEN result_time_start IS NULL OR result_time_start > ? THEN ? ELSE result_time_start END,
			result_time_end = CASE WHEN result_time_end IS NULL OR result_time_end < ? THEN ? ELSE result_time_end END
			WHERE id = ?`, *sp.rs, *sp.rs, *sp.re, *sp.re, sp.ds); err != nil {
			return fmt.Errorf("update datastream span: %w", err)
		}
	}
	return nil
}

// unitSymbol returns unitOfMeasurement.symbol from its JSON.
func unitSymbol(uom string) string {
	var u struct {
		Symbol string `json:"symbol"`
	}
	_ = json.Unmarshal([]byte(uom), &u)
	return u.Symbol
}
