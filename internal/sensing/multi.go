package sensing

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MultiShape is what the MultiDatastream extension holds in line (OGC 18-088 §9.2, requirement
// multi-datastream/constraints): a MultiDatastream's unitOfMeasurements, its
// multiObservationDataTypes and its ObservedProperties have one element each per component,
// in the same order, and its Observations' results are arrays of that many values.
type MultiShape struct {
	// Units are the unitOfMeasurements, each a JSON object {name, symbol, definition}.
	Units []json.RawMessage
	// Types are the multiObservationDataTypes, each an observation type URI.
	Types []string
}

// ParseMultiShape reads unitOfMeasurements (a JSON array of objects) and
// multiObservationDataTypes (a JSON array of non-empty strings). Either may be nil when it is
// not given (an update that leaves it alone); the error names the property and the element.
func ParseMultiShape(units, types json.RawMessage) (MultiShape, error) {
	var m MultiShape
	if units != nil {
		if err := json.Unmarshal(units, &m.Units); err != nil || m.Units == nil {
			return m, fmt.Errorf("unitOfMeasurements: want a JSON array of {name, symbol, definition} objects")
		}
		for i, u := range m.Units {
			var o map[string]json.RawMessage
			if err := json.Unmarshal(u, &o); err != nil || o == nil {
				return m, fmt.Errorf("unitOfMeasurements[%d]: want a JSON object {name, symbol, definition}", i)
			}
		}
	}
	if types != nil {
		var raw []json.RawMessage
		if err := json.Unmarshal(types, &raw); err != nil || raw == nil {
			return m, fmt.Errorf("multiObservationDataTypes: want a JSON array of observation type URIs")
		}
		for i, r := range raw {
			var s string
			if err := json.Unmarshal(r, &s); err != nil || s == "" {
				return m, fmt.Errorf("multiObservationDataTypes[%d]: want an observation type URI (a non-empty string)", i)
			}
			m.Types = append(m.Types, s)
		}
	}
	return m, nil
}

// Check holds the shape to n ObservedProperties: there is at least one, and unitOfMeasurements
// and multiObservationDataTypes have n elements each. The error names what differs.
func (m MultiShape) Check(n int) error {
	switch {
	case n == 0:
		return fmt.Errorf("ObservedProperties: a MultiDatastream needs at least one ObservedProperty")
	case len(m.Units) != n:
		return fmt.Errorf("unitOfMeasurements has %d elements but there are %d ObservedProperties: give one unit per ObservedProperty, in the same order", len(m.Units), n)
	case len(m.Types) != n:
		return fmt.Errorf("multiObservationDataTypes has %d elements but there are %d ObservedProperties: give one type per ObservedProperty, in the same order", len(m.Types), n)
	}
	return nil
}

// UnitSymbol returns the symbol of the i-th unit ("" when it has none).
func (m MultiShape) UnitSymbol(i int) string {
	var u struct {
		Symbol string `json:"symbol"`
	}
	if i < len(m.Units) {
		_ = json.Unmarshal(m.Units[i], &u)
	}
	return u.Symbol
}

// MultiResult splits the result of an Observation of a MultiDatastream with n components: a
// JSON array of exactly n values (18-088 §9.2: the result's size and order match the
// ObservedProperties). The error says what the result is instead.
func MultiResult(result json.RawMessage, n int) ([]json.RawMessage, error) {
	var vals []json.RawMessage
	if t := bytes.TrimSpace(result); len(t) == 0 || t[0] != '[' || json.Unmarshal(t, &vals) != nil {
		return nil, fmt.Errorf("the result of an Observation of a MultiDatastream is a JSON array with one value per ObservedProperty (%d)", n)
	}
	if len(vals) != n {
		return nil, fmt.Errorf("result has %d values but the MultiDatastream has %d ObservedProperties", len(vals), n)
	}
	return vals, nil
}

// MultiQC reads the quality-control overrides of a MultiDatastream's n components from its
// properties JSON object: properties.qc, when given, is an array of n elements, each null (the
// defaults) or an override object as a Datastream's properties.qc (ParseQCOverride). It
// returns, per component, a properties object {"qc": …} for ParseQCOverride, or nil; nil
// altogether when there is no properties.qc. The error names the element that is wrong.
func MultiQC(properties json.RawMessage, n int) ([]json.RawMessage, error) {
	var p map[string]json.RawMessage
	if t := bytes.TrimSpace(properties); len(t) == 0 || string(t) == "null" || json.Unmarshal(t, &p) != nil {
		return nil, nil
	}
	raw, ok := p["qc"]
	if !ok || string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil || len(elems) != n {
		return nil, fmt.Errorf("properties.qc of a MultiDatastream is an array with one override object (or null) per ObservedProperty (%d)", n)
	}
	out := make([]json.RawMessage, n)
	for i, e := range elems {
		if string(bytes.TrimSpace(e)) == "null" {
			continue
		}
		out[i] = json.RawMessage(`{"qc":` + string(e) + `}`)
		if _, err := ParseQCOverride(out[i]); err != nil {
			// properties.qc.max: want a number … → properties.qc[1].max: want a number …
			if rest, ok := strings.CutPrefix(err.Error(), "properties.qc"); ok {
				return nil, fmt.Errorf("properties.qc[%d]%s", i, rest)
			}
			return nil, fmt.Errorf("properties.qc[%d]: %w", i, err)
		}
	}
	return out, nil
}
