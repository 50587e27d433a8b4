package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/wis2"
)

// OpenData keeps which organisations' data is open (table open_organisations) and reads what
// package wis2 describes: datasets for the catalogue, ranges of observations for data links.
type OpenData struct{ eng Engine }

// NewOpenData returns the open-data store over eng.
func NewOpenData(eng Engine) *OpenData { return &OpenData{eng: eng} }

// Open marks org's data open (by whom, when); opening an open organisation changes nothing and
// reports false.
func (s *OpenData) Open(ctx context.Context, org, by string, at time.Time) (bool, error) {
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `INSERT INTO open_organisations (organisation, opened_us, opened_by) VALUES (?, ?, ?) ON CONFLICT (organisation) DO NOTHING`, org, us(at), by)
		return err
	})
	return n > 0, err
}

// Close marks org's data closed again; false when it was not open.
func (s *OpenData) Close(ctx context.Context, org string) (bool, error) {
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.Exec(ctx, `DELETE FROM open_organisations WHERE organisation = ?`, org)
		return err
	})
	return n > 0, err
}

// Known reports whether this node knows organisation org: it has (or had) an API key, owns
// Things, Datastreams or MultiDatastreams, has rules or subscribers, or its data is open.
// Organisations have no register of their own: they come into being with their first key
// (auth.Create) or, for the node's own, with the node.
func (s *OpenData) Known(ctx context.Context, org string) (bool, error) {
	var n int64
	err := readRow(ctx, s.eng, `SELECT CASE WHEN
		EXISTS (SELECT 1 FROM organisations WHERE name = ?) OR
		EXISTS (SELECT 1 FROM open_organisations WHERE organisation = ?) OR
		EXISTS (SELECT 1 FROM things WHERE organisation = ?) OR
		EXISTS (SELECT 1 FROM datastreams WHERE organisation = ?) OR
		EXISTS (SELECT 1 FROM multi_datastreams WHERE organisation = ?) OR
		EXISTS (SELECT 1 FROM rules WHERE organisation = ?) OR
		EXISTS (SELECT 1 FROM subscribers WHERE org = ?)
		THEN 1 ELSE 0 END`, []any{org, org, org, org, org, org, org}, &n)
	return n == 1, err
}

// Opened returns the open organisations and when each was opened.
func (s *OpenData) Opened(ctx context.Context) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var org string
		var at int64
		if err := r.Scan(&org, &at); err != nil {
			return err
		}
		out[org] = time.UnixMicro(at).UTC()
		return nil
	}, `SELECT organisation, opened_us FROM open_organisations ORDER BY organisation`)
	return out, err
}

// Datasets returns one dataset per organisation and observed property, with their
// Datastreams (by id) and the phenomenon time they span; at most limit Datastreams are read.
// Remote Datastreams (received from a partner under an agreement) are not this node's to
// offer: they are left out.
func (s *OpenData) Datasets(ctx context.Context, limit int) ([]wis2.Dataset, error) {
	opened, err := s.Opened(ctx)
	if err != nil {
		return nil, err
	}
	var out []wis2.Dataset
	idx := map[string]int{}
	err = readEach(ctx, s.eng, func(r Rows) error {
		var org, opName, opDef, dsName, thing, uom string
		var op, id int64
		var start, end *int64
		var loc *string
		if err := r.Scan(&org, &op, &opName, &opDef, &id, &dsName, &uom, &start, &end, &thing, &loc); err != nil {
			return err
		}
		k := org + "\x00" + strconv.FormatInt(op, 10)
		i, ok := idx[k]
		if !ok {
			d := wis2.Dataset{Organisation: org, Property: op, PropertyName: opName, PropertyDefinition: opDef}
			if at, open := opened[org]; open {
				d.Open, d.Opened = true, at
			}
			out = append(out, d)
			i = len(out) - 1
			idx[k] = i
		}
		d := &out[i]
		st := wis2.Stream{ID: id, Name: dsName, Station: thing, Unit: unitSymbol(uom)}
		st.Lon, st.Lat, st.HasPoint = point(loc)
		d.Streams = append(d.Streams, st)
		if start != nil && (d.Start.IsZero() || time.UnixMicro(*start).Before(d.Start)) {
			d.Start = time.UnixMicro(*start).UTC()
		}
		if end != nil && time.UnixMicro(*end).After(d.End) {
			d.End = time.UnixMicro(*end).UTC()
		}
		return nil
	}, `SELECT d.organisation, o.id, o.name, o.definition, d.id, d.name, d.unit_of_measurement, d.phenomenon_time_start, d.phenomenon_time_end, t.name,
		(SELECT l.location FROM thing_locations tl JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1)
		FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id JOIN things t ON t.id = d.thing_id
		WHERE NOT EXISTS (SELECT 1 FROM fed_remote r WHERE r.datastream_id = d.id)
		ORDER BY d.organisation, o.id, d.id LIMIT ?`, limit)
	return out, err
}

// point reads a GeoJSON Point's longitude and latitude.
func point(loc *string) (lon, lat float64, ok bool) {
	if loc == nil {
		return 0, 0, false
	}
	var p struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"`
	}
	if json.Unmarshal([]byte(*loc), &p) != nil || p.Type != "Point" || len(p.Coordinates) < 2 {
		return 0, 0, false
	}
	return p.Coordinates[0], p.Coordinates[1], true
}

// StreamInfo is a Datastream as WIS2 describes it: its organisation, its observed property
// (id, name, definition) and the wis2.Stream; Remote when it was received from a partner
// under an agreement (never open data of this node's: not announced, not served to anyone
// but the consumer organisation's viewers).
type StreamInfo struct {
	Remote             bool
	Organisation       string
	Property           int64
	PropertyName       string
	PropertyDefinition string
	Stream             wis2.Stream
}

// Stream returns Datastream id as WIS2 describes it; NotFound when there is none.
func (s *OpenData) Stream(ctx context.Context, id int64) (StreamInfo, error) {
	var si StreamInfo
	var uom string
	var loc *string
	var remote int64
	err := readRow(ctx, s.eng, `SELECT d.organisation, d.observed_property_id, o.name, o.definition, d.name, d.unit_of_measurement, t.name,
		(SELECT l.location FROM thing_locations tl JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1),
		(SELECT count(*) FROM fed_remote r WHERE r.datastream_id = d.id)
		FROM datastreams d JOIN things t ON t.id = d.thing_id JOIN observed_properties o ON o.id = d.observed_property_id WHERE d.id = ?`, []any{id},
		&si.Organisation, &si.Property, &si.PropertyName, &si.PropertyDefinition, &si.Stream.Name, &uom, &si.Stream.Station, &loc, &remote)
	if errors.Is(err, ErrNoRows) {
		return si, apperr.E(apperr.NotFound, "no Datastream %d", id)
	}
	si.Stream.ID, si.Stream.Unit, si.Remote = id, unitSymbol(uom), remote > 0
	si.Stream.Lon, si.Stream.Lat, si.Stream.HasPoint = point(loc)
	return si, err
}

// Observations returns Datastream ds's observations with from ≤ id ≤ to, by id, at most
// limit, as a data link serves them (a numeric result as JSON number, any other as stored).
func (s *OpenData) Observations(ctx context.Context, ds, from, to int64, limit int) ([]wis2.Obs, error) {
	var out []wis2.Obs
	err := readEach(ctx, s.eng, func(r Rows) error {
		var o wis2.Obs
		var num *float64
		var js *string
		if err := r.Scan(&o.ID, &o.PhenomenonTime, &num, &js); err != nil {
			return err
		}
		switch {
		case js != nil:
			o.Result = json.RawMessage(*js)
		case num != nil:
			o.Result = json.RawMessage(strconv.FormatFloat(*num, 'g', -1, 64))
		default:
			o.Result = json.RawMessage("null")
		}
		out = append(out, o)
		return nil
	}, `SELECT id, phen_text, result_num, result_json FROM observations WHERE datastream_id = ? AND id >= ? AND id <= ? ORDER BY id LIMIT ?`, ds, from, to, limit)
	if err != nil {
		return nil, fmt.Errorf("observations of Datastream %d: %w", ds, err)
	}
	return out, nil
}
