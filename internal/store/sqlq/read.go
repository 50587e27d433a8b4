package sqlq

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// The read side both stores share: which columns make an entity, and how a row becomes one.
// Nullable columns scan into pointers, which database/sql and pgx both fill.

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
		{"validTime", "valid_text", rStr}, {"parameters", "parameters", rJSON}, {sensing.DatastreamIDProp, "datastream_id", rInt},
		{sensing.MultiDatastreamIDProp, "multi_datastream_id", rInt}},
	sensing.MultiDatastreams: {{"name", "name", rStr}, {"description", "description", rStr}, {"unitOfMeasurements", "unit_of_measurements", rJSON},
		{"observationType", "observation_type", rStr}, {"multiObservationDataTypes", "multi_observation_data_types", rJSON}, {"observedArea", "observed_area", rJSON},
		{"phenomenonTime", "phenomenon_time_start, %[1]s.phenomenon_time_end", rSpan}, {"resultTime", "result_time_start, %[1]s.result_time_end", rSpan},
		{"properties", "properties", rJSON}},
	sensing.FeaturesOfInterest: {{"name", "name", rStr}, {"description", "description", rStr}, {"encodingType", "encoding_type", rStr}, {"feature", "feature", rJSON}, {"properties", "properties", rJSON}},
}

type readKind int

const (
	rStr     readKind = iota // nullable text → string or nil
	rJSON                    // nullable JSON text → json.RawMessage or nil
	rSpan                    // two nullable µs integers → "start/end" or nil
	rResult                  // result_num, result_json → float64 or json.RawMessage
	rQuality                 // qc flag, result_quality → json.RawMessage
	rInt                     // nullable integer → int64, absent when NULL
)

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

// scanEntity scans a row produced by selectList (a *sql.Rows' or pgx.Rows' Scan) (plus extra trailing columns into extra).
func scanEntity(set string, scan func(dest ...any) error, extra ...any) (*sensing.Entity, error) {
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
			holders[i] = pair{new(int64), new(*string)}
			dst = append(dst, holders[i].a, holders[i].b)
		case rInt:
			holders[i].a = new(*int64)
			dst = append(dst, holders[i].a)
		}
	}
	dst = append(dst, extra...)
	if err := scan(dst...); err != nil {
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
			if v := *holders[i].a.(**int64); v != nil {
				e.Props[c.prop] = *v
			}
		case rQuality:
			flag := sensing.Flag(*holders[i].a.(*int64))
			if s := *holders[i].b.(**string); s != nil {
				e.Props[c.prop] = json.RawMessage(*s)
			} else {
				e.Props[c.prop] = json.RawMessage(`{"flag":"` + flag.String() + `"}`)
			}
		}
	}
	return e, nil
}
