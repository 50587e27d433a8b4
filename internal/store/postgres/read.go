package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// readCols lists, per entity set, the columns read for an entity and how each becomes a property.
var readCols = map[string][]readCol{
	sensing.Things:              {{"name", "name", rStr}, {"description", "description", rStr}, {"properties", "properties", rJSON}},
	sensing.Locations:           {{"name", "name", rStr}, {"description", "description", rStr}, {"encodingType", "encoding_type", rStr}, {"location", "location", rJSON}, {"properties", "properties", rJSON}},
	sensing.HistoricalLocations: {{"time", "time_text", rStr}},
	sensing.Datastreams: {{"name", "name", rStr}, {"description", "description", rStr}, {"unitOfMeasurement", "unit_of_measurement", rJSON},
		{"observationType", "observation_type", rStr}, {"observedArea", "observed_area", rJSON},
		{"phenomenonTime", "phenomenon_time_start, %[1]s.phenomenon_time_end", rSpan}, {"resultTime", "result_time_start, %[1]s.result_time_end", rSpan},
		{"properties", "properties", rJSON}},
	sensing.Sensors:            {{"name", "name", rStr}, {"description", "description", rStr}, {"encodingType", "encoding_type", rStr}, {"metadata", "metadata", rJSON}, {"properties", "properties", rJSON}},
	sensing.ObservedProperties: {{"name", "name", rStr}, {"definition", "definition", rStr}, {"description", "description", rStr}, {"properties", "properties", rJSON}},
	sensing.Observations: {{"phenomenonTime", "phen_text", rStr}, {"resultTime", "result_time_text", rStr},
		{"result", "result_num, %[1]s.result_json", rResult}, {"resultQuality", "qc, %[1]s.result_quality", rQuality},
		{"validTime", "valid_text", rStr}, {"parameters", "parameters", rJSON}, {DatastreamIDProp, "datastream_id", rInt}},
	sensing.FeaturesOfInterest: {{"name", "name", rStr}, {"description", "description", rStr}, {"encodingType", "encoding_type", rStr}, {"feature", "feature", rJSON}, {"properties", "properties", rJSON}},
}

type readKind int

const (
	rStr     readKind = iota // nullable text → string or nil
	rJSON                    // nullable JSON text → json.RawMessage or nil
	rSpan                    // two nullable µs integers → "start/end" or nil
	rResult                  // result_num, result_json → float64 or json.RawMessage
	rQuality                 // qc flag, result_quality → json.RawMessage
	rInt                     // integer → int64
)

// DatastreamIDProp is the internal property holding an Observation's datastream id (for the
// dataArray result format); it is not a SensorThings property and is never written out as one.
const DatastreamIDProp = sensing.DatastreamIDProp

type readCol struct {
	prop string
	sql  string // column(s) on alias %[1]s; the first has no alias prefix
	kind readKind
}

// selectList returns the SELECT list for set on alias a: id first, then every readCol.
func selectList(set, a string) string {
	var b strings.Builder
	b.WriteString(a + ".id")
	for _, c := range readCols[set] {
		col := c.sql
		if strings.Contains(col, "%") {
			col = fmt.Sprintf(col, a)
		}
		b.WriteString(", " + a + "." + col)
	}
	return b.String()
}

// scanEntity scans a row produced by selectList (plus extra trailing columns into extra).
func scanEntity(set string, rows pgx.Rows, extra ...any) (*sensing.Entity, error) {
	cols := readCols[set]
	e := &sensing.Entity{Set: set, Props: make(map[string]any, len(cols))}
	dst := []any{&e.ID}
	type pair struct{ a, b any }
	holders := make([]pair, len(cols))
	for i, c := range cols {
		switch c.kind {
		case rStr, rJSON:
			holders[i].a = new(*string)
			dst = append(dst, holders[i].a)
		case rSpan:
			holders[i] = pair{new(*int64), new(*int64)}
			dst = append(dst, holders[i].a, holders[i].b)
		case rResult:
			holders[i] = pair{new(*float64), new(*string)}
			dst = append(dst, holders[i].a, holders[i].b)
		case rQuality:
			holders[i] = pair{new(int16), new(*string)}
			dst = append(dst, holders[i].a, holders[i].b)
		case rInt:
			holders[i].a = new(int64)
			dst = append(dst, holders[i].a)
		}
	}
	dst = append(dst, extra...)
	if err := rows.Scan(dst...); err != nil {
		return nil, fmt.Errorf("scan %s: %w", set, err)
	}
	for i, c := range cols {
		switch c.kind {
		case rStr:
			if s := *holders[i].a.(**string); s != nil {
				e.Props[c.prop] = *s
			} else {
				e.Props[c.prop] = nil
			}
		case rJSON:
			if s := *holders[i].a.(**string); s != nil {
				e.Props[c.prop] = json.RawMessage(*s)
			} else {
				e.Props[c.prop] = nil
			}
		case rSpan:
			a, b := *holders[i].a.(**int64), *holders[i].b.(**int64)
			if a != nil && b != nil {
				e.Props[c.prop] = sensing.FormatTimeOrInterval(time.UnixMicro(*a).UTC(), time.UnixMicro(*b).UTC())
				if *a == *b { // an interval of one instant is still an interval here
					t := time.UnixMicro(*a).UTC().Format(time.RFC3339Nano)
					e.Props[c.prop] = t + "/" + t
				}
			} else {
				e.Props[c.prop] = nil
			}
		case rResult:
			if f := *holders[i].a.(**float64); f != nil {
				e.Props[c.prop] = *f
			} else if s := *holders[i].b.(**string); s != nil {
				e.Props[c.prop] = json.RawMessage(*s)
			} else {
				e.Props[c.prop] = nil
			}
		case rInt:
			e.Props[c.prop] = *holders[i].a.(*int64)
		case rQuality:
			flag := sensing.Flag(*holders[i].a.(*int16))
			if s := *holders[i].b.(**string); s != nil {
				e.Props[c.prop] = json.RawMessage(*s)
			} else {
				e.Props[c.prop] = json.RawMessage(`{"flag":"` + flag.String() + `"}`)
			}
		}
	}
	return e, nil
}

// Navigate follows the to-one navigation nav from set(id) and returns the target's id.
func (s *Entities) Navigate(ctx context.Context, set string, id int64, nav string) (string, int64, error) {
	target, from, cond, err := Schema.Join(set, nav, "p", "t")
	if err != nil {
		return "", 0, apperr.Wrap(apperr.Invalid, err, "navigate")
	}
	var tid int64
	q := fmt.Sprintf("SELECT t.id FROM %s p, %s WHERE p.id = $1 AND %s", Schema[set].Name, from, cond)
	err = s.db.conn(ctx, func(c *pgx.Conn) error { return c.QueryRow(ctx, q, id).Scan(&tid) })
	if errors.Is(err, pgx.ErrNoRows) {
		if err := s.existsRead(ctx, set, id); err != nil {
			return "", 0, err
		}
		return target, 0, apperr.E(apperr.NotFound, "%s(%d) has no %s", set, id, nav)
	}
	if err != nil {
		return "", 0, err
	}
	return target, tid, nil
}

func (s *Entities) existsRead(ctx context.Context, set string, id int64) error {
	var one int
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, "SELECT 1 FROM "+Schema[set].Name+" WHERE id = $1", id).Scan(&one)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.E(apperr.NotFound, "%s(%d) does not exist", set, id)
	}
	return err
}
