package sensorthings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// dataArrayGroup is one element of a CreateObservations request (SensorThings 1.1, 14.4):
// the Observations of one Datastream, or of one MultiDatastream (18-088 §9), whose results are
// arrays with one value per ObservedProperty.
type dataArrayGroup struct {
	Datastream *struct {
		ID json.RawMessage `json:"@iot.id"`
	} `json:"Datastream"`
	MultiDatastream *struct {
		ID json.RawMessage `json:"@iot.id"`
	} `json:"MultiDatastream"`
	Components []string          `json:"components"`
	Count      *int              `json:"dataArray@iot.count"`
	DataArray  []json.RawMessage `json:"dataArray"`
}

var dataArrayComponents = map[string]bool{
	"id": true, "phenomenonTime": true, "result": true, "resultTime": true, "resultQuality": true,
	"validTime": true, "parameters": true, "FeatureOfInterest/id": true,
}

// DecodeDataArray decodes a CreateObservations body into observations. Problems with the
// request as a whole (malformed JSON, unknown components) are an error; problems with one row
// are reported in rowErrs at the row's index in the returned slice, and that row is left out.
func DecodeDataArray(body []byte) (obs []sensing.Observation, rowErrs []error, err error) {
	var groups []dataArrayGroup
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&groups); err != nil {
		if why := sensing.JSONReason(err); why != "" {
			return nil, nil, apperr.Wrap(apperr.Invalid, err, "CreateObservations: want a JSON array of {Datastream, components, dataArray}: %s", why)
		}
		return nil, nil, apperr.Wrap(apperr.Invalid, err, "CreateObservations: want a JSON array of {Datastream, components, dataArray}")
	}
	// the rows' slices made at their size: grown by append they held up to twice a 10,000-row
	// request's 2.4 MB, live while it was stored, and allocated 4× that (docs/bench.md, footprint)
	rows := 0
	for _, g := range groups {
		rows += len(g.DataArray)
	}
	obs, rowErrs = make([]sensing.Observation, 0, rows), make([]error, 0, rows)
	for gi, g := range groups {
		where := fmt.Sprintf("CreateObservations[%d]", gi)
		stream, nav := g.Datastream, "Datastream"
		if g.MultiDatastream != nil {
			if g.Datastream != nil {
				return nil, nil, apperr.E(apperr.Invalid, "%s: give a Datastream or a MultiDatastream, not both", where)
			}
			stream, nav = g.MultiDatastream, "MultiDatastream"
		}
		if stream == nil || len(stream.ID) == 0 {
			return nil, nil, apperr.E(apperr.Invalid, "%s: Datastream (or MultiDatastream) with @iot.id is required", where)
		}
		dsID, err := decodeID(stream.ID)
		if err != nil {
			return nil, nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.%s", where, nav)
		}
		col := map[string]int{}
		for i, c := range g.Components {
			if !dataArrayComponents[c] {
				return nil, nil, apperr.E(apperr.Invalid, "%s.components[%d]: unknown component %q", where, i, c)
			}
			if _, dup := col[c]; dup {
				return nil, nil, apperr.E(apperr.Invalid, "%s.components[%d]: %q given twice", where, i, c)
			}
			col[c] = i
		}
		if _, ok := col["result"]; !ok {
			return nil, nil, apperr.E(apperr.Invalid, "%s.components: result is required", where)
		}
		if g.Count != nil && *g.Count != len(g.DataArray) {
			return nil, nil, apperr.E(apperr.Invalid, "%s: dataArray@iot.count is %d but dataArray has %d rows", where, *g.Count, len(g.DataArray))
		}
		now := time.Now().UTC()
		for ri, raw := range g.DataArray {
			o, err := dataArrayRow(raw, col, len(g.Components), dsID, now)
			if nav == "MultiDatastream" {
				o.DatastreamID, o.MultiDatastreamID = 0, dsID
			}
			if err != nil {
				obs = append(obs, sensing.Observation{})
				rowErrs = append(rowErrs, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.dataArray[%d]", where, ri))
				continue
			}
			obs = append(obs, o)
			rowErrs = append(rowErrs, nil)
		}
	}
	return obs, rowErrs, nil
}

func dataArrayRow(raw json.RawMessage, col map[string]int, n int, ds int64, now time.Time) (sensing.Observation, error) {
	o := sensing.Observation{DatastreamID: ds}
	var row []json.RawMessage
	if err := json.Unmarshal(raw, &row); err != nil {
		return o, fmt.Errorf("want an array of %d values", n)
	}
	if len(row) != n {
		return o, fmt.Errorf("has %d values, components lists %d", len(row), n)
	}
	str := func(name string) (string, bool, error) {
		i, ok := col[name]
		if !ok || string(row[i]) == "null" {
			return "", false, nil
		}
		var s string
		if err := json.Unmarshal(row[i], &s); err != nil {
			return "", false, fmt.Errorf("%s: want a string", name)
		}
		return s, true, nil
	}
	if s, ok, err := str("phenomenonTime"); err != nil {
		return o, err
	} else if ok {
		a, b, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return o, fmt.Errorf("phenomenonTime: %w", err)
		}
		o.PhenStart, o.PhenEnd, o.PhenText = a, b, s
	} else {
		o.PhenStart, o.PhenEnd, o.PhenText = now, now, now.Format(time.RFC3339Nano)
	}
	if s, ok, err := str("resultTime"); err != nil {
		return o, err
	} else if ok {
		a, _, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return o, fmt.Errorf("resultTime: %w", err)
		}
		o.ResultTime, o.ResultTimeText = &a, s
	}
	if s, ok, err := str("validTime"); err != nil {
		return o, err
	} else if ok {
		a, b, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return o, fmt.Errorf("validTime: %w", err)
		}
		o.ValidStart, o.ValidEnd, o.ValidText = &a, &b, s
	}
	if err := setResult(&o, row[col["result"]]); err != nil {
		return o, fmt.Errorf("result: %w", err)
	}
	if i, ok := col["parameters"]; ok && string(row[i]) != "null" {
		if kindOfJSON(row[i]) != "an object" {
			return o, fmt.Errorf("parameters: want a JSON object")
		}
		if len(row[i]) > sensing.MaxJSONBytes {
			return o, fmt.Errorf("parameters: %d bytes, over the limit of %d bytes", len(row[i]), sensing.MaxJSONBytes)
		}
		o.Parameters = row[i]
	}
	if i, ok := col["resultQuality"]; ok && string(row[i]) != "null" {
		if len(row[i]) > sensing.MaxJSONBytes {
			return o, fmt.Errorf("resultQuality: %d bytes, over the limit of %d bytes", len(row[i]), sensing.MaxJSONBytes)
		}
		o.Quality = row[i]
	}
	if i, ok := col["FeatureOfInterest/id"]; ok && string(row[i]) != "null" {
		id, err := decodeID(row[i])
		if err != nil {
			return o, fmt.Errorf("FeatureOfInterest/id: %w", err)
		}
		o.FoIID = id
	}
	return o, nil
}

// createObservations serves POST /CreateObservations. Valid rows are stored together in one
// transaction; each invalid row is answered "error: <reason>" at its place and not stored.
func (s *Server) createObservations(w http.ResponseWriter, r *http.Request) {
	body, err := readJSON(r.Body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	obs, rowErrs, err := DecodeDataArray(body)
	if err != nil {
		s.Error(w, r, err)
		return
	}
	// the valid rows, moved to the front of obs in place: a copy held a second 10,000
	// Observations per request in flight (docs/bench.md, footprint at 10 M)
	total := len(obs)
	var idx []int
	n := 0
	for i := range obs {
		if rowErrs[i] == nil {
			obs[n] = obs[i]
			idx = append(idx, i)
			n++
		}
	}
	good := obs[:n]
	var ids []int64
	var errs []error
	if len(good) > 0 {
		ids, errs, err = s.Ingest.Ingest(r.Context(), "http", good)
		if err != nil {
			s.Error(w, r, err)
			return
		}
	}
	out := &writer{base: s.base(r)}
	results := make([]string, total)
	for i, e := range rowErrs {
		if e != nil {
			results[i] = "error: " + apperr.Message(e)
		}
	}
	for j, i := range idx {
		if errs[j] != nil {
			results[i] = "error: " + apperr.Message(errs[j])
		} else {
			results[i] = out.base + "/Observations(" + strconv.FormatInt(ids[j], 10) + ")"
		}
	}
	writeJSON(w, http.StatusCreated, results)
}
