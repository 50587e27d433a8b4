package sqlq

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// The MultiDatastream extension (OGC 18-088 §9) over the shared tables: what ingest needs to
// know of a MultiDatastream, quality control per component, the shape checks after a write,
// and its phenomenon and result time extents.

// multiInfo is what ingest needs to know about a MultiDatastream: its Thing, and per
// component (ObservedProperty, in rank order) a DatastreamInfo for QC with that component's
// unit, ObservedProperty and recent values.
type multiInfo struct {
	ID, ThingID int64
	Comps       []*sensing.DatastreamInfo
}

// multiDatastream returns what ingest needs to know of MultiDatastream id, cached like
// datastream's facts (until a failed transaction or a change to the sensing entities).
//
// QC per component: component i gets the default limits of its ObservedProperty and unit, and
// properties.qc[i] of the MultiDatastream (sensing.MultiQC: an array with one override object,
// or null, per component; checked when the MultiDatastream is written).
func (s *Entities) multiDatastream(ctx context.Context, tx Tx, id int64) (*multiInfo, error) {
	if m, ok := s.mdCache[id]; ok {
		return m, nil
	}
	m := &multiInfo{ID: id}
	var units, types string
	var props *string
	err := tx.QueryRow(ctx, `SELECT thing_id, unit_of_measurements, multi_observation_data_types, properties FROM multi_datastreams WHERE id = ?`, id).
		Scan(&m.ThingID, &units, &types, &props)
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "MultiDatastreams(%d) does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load MultiDatastream %d: %w", id, err)
	}
	shape, err := sensing.ParseMultiShape(json.RawMessage(units), json.RawMessage(types))
	if err != nil {
		return nil, fmt.Errorf("load MultiDatastream %d: %w", id, err)
	}
	var qc []json.RawMessage
	if props != nil {
		qc, _ = sensing.MultiQC(json.RawMessage(*props), len(shape.Units)) // refused on write when wrong
	}
	err = each(ctx, tx, func(r Rows) error {
		i := len(m.Comps)
		c := &sensing.DatastreamInfo{ID: id, ThingID: m.ThingID, UnitSymbol: shape.UnitSymbol(i)}
		if i < len(shape.Types) {
			c.ObservationType = shape.Types[i]
		}
		if i < len(qc) {
			c.Properties = qc[i]
		}
		m.Comps = append(m.Comps, c)
		return r.Scan(&c.ObservedPropertyName, &c.ObservedPropertyDef)
	}, `SELECT o.name, o.definition FROM multi_datastream_observed_properties r JOIN observed_properties o ON o.id = r.observed_property_id
		WHERE r.multi_datastream_id = ? ORDER BY r.rank`, id)
	if err != nil {
		return nil, fmt.Errorf("load MultiDatastream %d: %w", id, err)
	}
	// the latest results, oldest first, so that each component's QC state survives a restart
	var recent []struct {
		t    int64
		vals []json.RawMessage
	}
	err = each(ctx, tx, func(r Rows) error {
		var t int64
		var js *string
		if err := r.Scan(&t, &js); err != nil {
			return err
		}
		if js != nil {
			if vals, err := sensing.MultiResult(json.RawMessage(*js), len(m.Comps)); err == nil {
				recent = append(recent, struct {
					t    int64
					vals []json.RawMessage
				}{t, vals})
			}
		}
		return nil
	}, `SELECT phen_start, result_json FROM observations WHERE multi_datastream_id = ? ORDER BY phen_start DESC, id DESC LIMIT ?`, id, recentPoints)
	if err != nil {
		return nil, err
	}
	for k := len(recent) - 1; k >= 0; k-- {
		for i, v := range recent[k].vals {
			if f, ok := number(v); ok {
				m.Comps[i].Recent = append(m.Comps[i].Recent, sensing.Point{T: time.UnixMicro(recent[k].t).UTC(), V: f})
			}
		}
	}
	s.mdCache[id] = m
	return m, nil
}

// number returns v as a float64 when it is a JSON number.
func number(v json.RawMessage) (float64, bool) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 || !(v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) {
		return 0, false
	}
	f, err := strconv.ParseFloat(string(v), 64)
	return f, err == nil
}

// checkMulti runs the checks an Observation of MultiDatastream m passes before it is stored:
// its result is an array with one value per component, and each non-null value goes through
// QC as an observation of that component would (its own limits, its own recent values). The
// flag is the worst of the components'; resultQuality is {"flag", "components": [one QC result
// or null per component], "reported"} — or NULL, read back as {"flag":"good"}, when every
// component passed without notes and the client reported none. A component QC refuses refuses
// the whole Observation, naming the component.
func (s *Entities) checkMulti(m *multiInfo, o *sensing.Observation) error {
	if o.ResultNum != nil {
		return apperr.E(apperr.Invalid, "Observation: result: the result of an Observation of a MultiDatastream is a JSON array with one value per ObservedProperty (%d)", len(m.Comps))
	}
	vals, err := sensing.MultiResult(o.ResultJSON, len(m.Comps))
	if err != nil {
		return apperr.Wrap(apperr.Invalid, apperr.Shown(err), "Observation: result")
	}
	o.Flag = sensing.FlagGood
	if s.QC == nil {
		return nil
	}
	comps := make([]json.RawMessage, len(vals))
	notes := false
	for i, v := range vals {
		if string(bytes.TrimSpace(v)) == "null" {
			continue
		}
		c := *o
		c.ResultNum, c.ResultJSON, c.Quality, c.Flag = nil, nil, nil, sensing.FlagGood // each component's own QC
		if f, ok := number(v); ok {
			c.ResultNum = &f
		} else {
			c.ResultJSON = v
		}
		if err := s.QC.Check(m.Comps[i], &c); err != nil {
			if apperr.KindOf(err) == apperr.Internal {
				return err
			}
			return apperr.Wrap(apperr.KindOf(err), err, "Observation: result[%d]: %s", i, apperr.Message(err))
		}
		o.Flag = max(o.Flag, c.Flag)
		comps[i] = c.Quality
		if len(c.Quality) > 0 {
			notes = true
		} else {
			comps[i] = json.RawMessage(`{"flag":"` + c.Flag.String() + `"}`)
		}
		if c.ResultNum != nil {
			m.Comps[i].Recent = append(m.Comps[i].Recent, sensing.Point{T: o.PhenStart, V: *c.ResultNum})
			if len(m.Comps[i].Recent) > recentPoints {
				m.Comps[i].Recent = m.Comps[i].Recent[len(m.Comps[i].Recent)-recentPoints:]
			}
		}
	}
	if !notes && len(o.Quality) == 0 && o.Flag == sensing.FlagGood {
		o.Quality = nil
		return nil
	}
	q := struct {
		Flag       sensing.Flag      `json:"flag"`
		Components []json.RawMessage `json:"components"`
		Reported   json.RawMessage   `json:"reported,omitempty"`
	}{o.Flag, comps, o.Quality}
	b, err := json.Marshal(q)
	if err != nil {
		return err
	}
	o.Quality = b
	return nil
}

// checkMultiShape holds MultiDatastream(id) as stored to the extension's constraints: its
// observationType, and as many unitOfMeasurements and multiObservationDataTypes as
// ObservedProperties, each ObservedProperty once (so that a client can pair the list of
// ObservedProperties with the units, element by element). Create and Update call it after
// writing, inside the transaction, so that a refused write leaves nothing behind.
func checkMultiShape(ctx context.Context, tx Tx, id int64) error {
	var units, types, otype string
	var props *string
	var n, distinct int
	err := tx.QueryRow(ctx, `SELECT unit_of_measurements, multi_observation_data_types, observation_type, properties,
		(SELECT count(*) FROM multi_datastream_observed_properties r WHERE r.multi_datastream_id = m.id),
		(SELECT count(DISTINCT r.observed_property_id) FROM multi_datastream_observed_properties r WHERE r.multi_datastream_id = m.id)
		FROM multi_datastreams m WHERE id = ?`, id).Scan(&units, &types, &otype, &props, &n, &distinct)
	if err != nil {
		return err
	}
	if distinct != n {
		return apperr.E(apperr.Invalid, "MultiDatastream: ObservedProperties: an ObservedProperty is given more than once; a MultiDatastream measures each once")
	}
	if otype != sensing.ComplexObservation {
		return apperr.E(apperr.Invalid, "MultiDatastream: observationType must be %s", sensing.ComplexObservation)
	}
	shape, err := sensing.ParseMultiShape(json.RawMessage(units), json.RawMessage(types))
	if err == nil {
		err = shape.Check(n)
	}
	if err == nil && props != nil {
		_, err = sensing.MultiQC(json.RawMessage(*props), n)
	}
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "MultiDatastream: %s", err.Error())
	}
	return nil
}

// checkMultiObservation holds Observation(id) as stored, after an update, to its
// MultiDatastream's shape (a result array with one value per ObservedProperty).
func (s *Entities) checkMultiObservation(ctx context.Context, tx Tx, id int64) error {
	var md *int64
	var num *float64
	var js *string
	if err := tx.QueryRow(ctx, `SELECT multi_datastream_id, result_num, result_json FROM observations WHERE id = ?`, id).Scan(&md, &num, &js); err != nil {
		return err
	}
	if md == nil {
		return nil
	}
	m, err := s.multiDatastream(ctx, tx, *md)
	if err != nil {
		return err
	}
	var res json.RawMessage
	if js != nil {
		res = json.RawMessage(*js)
	}
	if _, err := sensing.MultiResult(res, len(m.Comps)); num != nil || err != nil {
		if err == nil {
			err = fmt.Errorf("result is a number")
		}
		return apperr.Wrap(apperr.Invalid, err, "Observation: result: %s", err.Error())
	}
	return nil
}

// linkRanked links local to the remotes through v in their order (rank 0, 1, …), replacing
// the links local had.
func linkRanked(ctx context.Context, tx Tx, v *Via, local int64, remotes []int64) error {
	if _, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ?", v.Table, v.LocalCol), local); err != nil {
		return err
	}
	for i, r := range remotes {
		if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s, %s) VALUES (?, ?, ?)", v.Table, v.LocalCol, v.RemoteCol, v.Rank), local, r, i); err != nil {
			return err
		}
	}
	return nil
}

// rankTerm orders a listing through a ranked link (a MultiDatastream's ObservedProperties) by
// rank, when $orderby gives no order of its own.
func rankTerm(p *sensing.Parent, a string) []orderTerm {
	if p == nil {
		return nil
	}
	l, ok := Sensing[p.Set].Links[p.Nav]
	if !ok || l.Via == nil || l.Via.Rank == "" {
		return nil
	}
	v := l.Via
	return []orderTerm{{sql: fmt.Sprintf("(SELECT min(r.%s) FROM %s r WHERE r.%s = ? AND r.%s = %s.id)", v.Rank, v.Table, v.LocalCol, v.RemoteCol, a), args: []any{p.ID}}}
}

// refreshMultiSpans sets the phenomenonTime and resultTime of the MultiDatastreams ids to
// the extent of their Observations (NULL when none is left), after an Observation of theirs
// was changed or deleted.
func refreshMultiSpans(ctx context.Context, tx Tx, ids ...int64) error {
	for _, id := range ids {
		if id == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE multi_datastreams SET
			phenomenon_time_start = (SELECT min(phen_start) FROM observations WHERE multi_datastream_id = multi_datastreams.id),
			phenomenon_time_end = (SELECT max(phen_end) FROM observations WHERE multi_datastream_id = multi_datastreams.id),
			result_time_start = (SELECT min(result_time_us) FROM observations WHERE multi_datastream_id = multi_datastreams.id),
			result_time_end = (SELECT max(result_time_us) FROM observations WHERE multi_datastream_id = multi_datastreams.id)
			WHERE id = ?`, id); err != nil {
			return fmt.Errorf("update MultiDatastream span: %w", err)
		}
	}
	return nil
}
