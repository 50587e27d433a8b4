package sensorthings

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/sensing"
)

// maxDepth bounds deep inserts, so a hostile body cannot recurse without end.
const maxDepth = 16

// readJSON reads one JSON value from r and refuses trailing data, reporting where a syntax
// error is.
func readJSON(r io.Reader) (json.RawMessage, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, apperr.E(apperr.TooLarge, "request body is larger than the limit of %d bytes", mbe.Limit)
		}
		return nil, apperr.Wrap(apperr.Invalid, err, "the request body could not be read")
	}
	return checkJSON(b)
}

func checkJSON(b []byte) (json.RawMessage, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, apperr.E(apperr.Invalid, "request body is empty; send a JSON object")
	}
	if !json.Valid(b) {
		var v any
		err := json.Unmarshal(b, &v)
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, apperr.E(apperr.Invalid, "malformed JSON at byte %d: %s", se.Offset, se.Error())
		}
		return nil, apperr.E(apperr.Invalid, "malformed JSON: %v", err)
	}
	if err := sensing.CheckJSON(b); err != nil { // not UTF-8, a member twice, 1e400 ...
		return nil, apperr.Wrap(apperr.Invalid, err, "JSON body")
	}
	return b, nil
}

// decodeEntity decodes a JSON object into an entity of set for a create (create=true: required
// properties must be there) or an update.
func decodeEntity(set string, raw json.RawMessage, create bool) (*sensing.Entity, error) {
	return decode(sensing.Sets[set], raw, create, sensing.Sets[set].Single, 0, "")
}

// decodeUpdate decodes the body of a PATCH (replace=false) or PUT (replace=true) of an entity
// of set. An update changes properties and links only (SensorThings 1.1, 10.3): a navigation
// property must hold links to existing entities, {"@iot.id": <id>} (an array of them for a
// to-many one). An inline entity — a new Location, Datastream, Sensor, ObservedProperty,
// Observation or FeatureOfInterest inside the body — is refused with Invalid naming the
// property, e.g. `Thing.Locations[0]: PATCH links existing entities only ...`; nothing is
// created or changed.
func decodeUpdate(set string, raw json.RawMessage, method string, replace bool) (*sensing.Entity, error) {
	es := sensing.Sets[set]
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err == nil {
		for k, v := range obj {
			n, ok := es.NavTo(k)
			if !ok {
				continue
			}
			where := es.Single + "." + k
			items := []json.RawMessage{v}
			if n.Many {
				items = nil
				if err := json.Unmarshal(v, &items); err != nil {
					return nil, apperr.E(apperr.Invalid, "%s: %s links to many, want a JSON array", where, k)
				}
			}
			for i, it := range items {
				at := where
				if n.Many {
					at = fmt.Sprintf("%s[%d]", where, i)
				}
				if !linkOnly(it) {
					return nil, apperr.E(apperr.Invalid, "%s: %s links existing entities only, as {\"@iot.id\": <id>}; create a new %s with POST",
						at, method, sensing.Sets[n.Target].Single)
				}
			}
		}
	}
	return decodeEntity(set, raw, replace)
}

// linkOnly reports whether raw is a JSON object holding @iot.id and nothing else but
// annotations (@iot.selfLink and the like).
func linkOnly(raw json.RawMessage) bool {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return false
	}
	if _, ok := obj["@iot.id"]; !ok {
		return false
	}
	for k := range obj {
		if !strings.HasPrefix(k, "@") && !strings.Contains(k, "@iot.") {
			return false
		}
	}
	return true
}

func decode(set *sensing.EntitySet, raw json.RawMessage, create bool, where string, depth int, parentNav string) (*sensing.Entity, error) {
	if depth > maxDepth {
		return nil, apperr.E(apperr.Invalid, "%s: deep insert nests more than %d levels", where, maxDepth)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, apperr.E(apperr.Invalid, "%s: want a JSON object", where)
	}
	e := &sensing.Entity{Set: set.Name, Props: map[string]any{}, Links: map[string][]*sensing.Entity{}}
	if rid, ok := obj["@iot.id"]; ok {
		id, err := decodeID(rid)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s: @iot.id", where)
		}
		e.ID = id
		delete(obj, "@iot.id")
		if depth > 0 {
			others := 0
			for k := range obj {
				if !strings.HasPrefix(k, "@") && !strings.Contains(k, "@iot.") {
					others++
				}
			}
			if others > 0 {
				return nil, apperr.E(apperr.Invalid, "%s: give either @iot.id alone, to link an existing %s, or its properties, to create one", where, set.Single)
			}
			e.Ref = true
			return e, nil
		}
	}
	for k, v := range obj {
		at := where + "." + k
		if strings.HasPrefix(k, "@iot.") || strings.Contains(k, "@iot.") {
			continue // selfLink, navigationLink and the like are informative
		}
		if p, ok := set.Prop(k); ok {
			if p.ReadOnly {
				if set.Name == sensing.Observations && k == "resultQuality" {
					if err := sensing.CheckSize(p, len(v)); err != nil {
						return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s", at)
					}
					e.Props[k] = v
					continue
				}
				continue // computed by the server: ignored, as the standard allows
			}
			val, err := decodeProp(p, v)
			if err != nil && set.Name == sensing.MultiDatastreams && strings.HasPrefix(err.Error(), k) {
				// MultiDatastream.unitOfMeasurements[1]: …
				return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s", where)
			}
			if err != nil {
				return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s", at)
			}
			e.Props[k] = val
			continue
		}
		if n, ok := set.NavTo(k); ok {
			target := sensing.Sets[n.Target]
			if n.Many {
				var items []json.RawMessage
				if err := json.Unmarshal(v, &items); err != nil {
					return nil, apperr.E(apperr.Invalid, "%s: %s links to many, want a JSON array", at, k)
				}
				for i, it := range items {
					c, err := decode(target, it, true, fmt.Sprintf("%s[%d]", at, i), depth+1, k)
					if err != nil {
						return nil, err
					}
					e.Links[k] = append(e.Links[k], c)
				}
				continue
			}
			c, err := decode(target, v, true, at, depth+1, k)
			if err != nil {
				return nil, err
			}
			e.Links[k] = []*sensing.Entity{c}
			continue
		}
		return nil, apperr.E(apperr.Invalid, "%s: %s has no property %q", where, set.Single, k)
	}
	if create {
		for _, p := range set.Props {
			if _, ok := e.Props[p.Name]; p.Required && !ok {
				return nil, apperr.E(apperr.Invalid, "%s: %s is required", where, p.Name)
			}
		}
	}
	if set.Name == sensing.Observations {
		o, err := observation(e.Props, create, where)
		if err != nil {
			return nil, err
		}
		e.Obs = o
	}
	return e, nil
}

// decodeID accepts 12 and "12".
func decodeID(raw json.RawMessage) (int64, error) {
	var n json.Number
	if err := json.Unmarshal(raw, &n); err == nil {
		id, err := strconv.ParseInt(n.String(), 10, 64)
		if err == nil && id > 0 {
			return id, nil
		}
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			return id, nil
		}
	}
	return 0, fmt.Errorf("%s is not an id: ids are positive integers, as a number or a string", raw)
}

func decodeProp(p sensing.Property, v json.RawMessage) (any, error) {
	if p.Kind != sensing.KindString && p.Kind != sensing.KindTime && p.Kind != sensing.KindInterval {
		if err := sensing.CheckSize(p, len(v)); err != nil {
			return nil, err
		}
	}
	switch p.Kind {
	case sensing.KindString, sensing.KindTime, sensing.KindInterval:
		var s *string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, fmt.Errorf("want a string, got %s", kindOfJSON(v))
		}
		if s == nil {
			if p.Required {
				return nil, errors.New("must not be null")
			}
			return nil, nil
		}
		if err := sensing.CheckSize(p, len(*s)); err != nil {
			return nil, err
		}
		if p.Kind != sensing.KindString {
			if _, _, err := sensing.ParseTimeOrInterval(*s); err != nil {
				return nil, err
			}
		}
		return *s, nil
	case sensing.KindGeometry:
		var g struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(v, &g); err != nil || g.Type == "" {
			return nil, fmt.Errorf("want a GeoJSON object with a \"type\", got %s", kindOfJSON(v))
		}
		if err := place.CheckGeoJSON(v); err != nil {
			return nil, err
		}
		return v, nil
	case sensing.KindJSON:
		if p.Name == "properties" || p.Name == "parameters" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil {
				return nil, fmt.Errorf("want a JSON object, got %s", kindOfJSON(v))
			}
			if m == nil {
				return nil, nil
			}
		}
		if p.Name == "unitOfMeasurements" { // a MultiDatastream's (18-088 §9.2); the error names the element
			if _, err := sensing.ParseMultiShape(v, nil); err != nil {
				return nil, err
			}
		}
		if p.Name == "multiObservationDataTypes" {
			if _, err := sensing.ParseMultiShape(nil, v); err != nil {
				return nil, err
			}
		}
		if p.Name == "unitOfMeasurement" {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(v, &m); err != nil || m == nil {
				return nil, fmt.Errorf("want a JSON object {name, symbol, definition}, got %s", kindOfJSON(v))
			}
		}
		return v, nil
	default: // result
		return v, nil
	}
}

func kindOfJSON(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "nothing"
	}
	switch v[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// observation builds the typed observation from decoded properties.
func observation(props map[string]any, create bool, where string) (*sensing.Observation, error) {
	o := &sensing.Observation{}
	if s, ok := props["phenomenonTime"].(string); ok {
		a, b, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.phenomenonTime", where)
		}
		o.PhenStart, o.PhenEnd, o.PhenText = a, b, s
	} else if create {
		// the standard: a missing phenomenonTime is the time the server receives it
		now := time.Now().UTC()
		o.PhenStart, o.PhenEnd, o.PhenText = now, now, now.Format(time.RFC3339Nano)
	}
	if s, ok := props["resultTime"].(string); ok {
		a, _, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.resultTime", where)
		}
		o.ResultTime, o.ResultTimeText = &a, s
	}
	if s, ok := props["validTime"].(string); ok {
		a, b, err := sensing.ParseTimeOrInterval(s)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.validTime", where)
		}
		o.ValidStart, o.ValidEnd, o.ValidText = &a, &b, s
	}
	if r, ok := props["result"].(json.RawMessage); ok {
		if err := setResult(o, r); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, apperr.Shown(err), "%s.result", where)
		}
	}
	if p, ok := props["parameters"].(json.RawMessage); ok {
		o.Parameters = p
	}
	if q, ok := props["resultQuality"].(json.RawMessage); ok {
		o.Quality = q
	}
	return o, nil
}

// setResult stores a JSON result: numbers as numbers, anything else as JSON.
func setResult(o *sensing.Observation, r json.RawMessage) error {
	r = bytes.TrimSpace(r)
	if len(r) == 0 || string(r) == "null" {
		return errors.New("result must not be null")
	}
	if kindOfJSON(r) == "a number" {
		f, err := strconv.ParseFloat(string(r), 64)
		if err != nil {
			return fmt.Errorf("number %s is out of range", r)
		}
		o.ResultNum = &f
		return nil
	}
	if len(r) > sensing.MaxResultBytes {
		return fmt.Errorf("%d bytes, over the limit of %d bytes for a result", len(r), sensing.MaxResultBytes)
	}
	o.ResultJSON = append(json.RawMessage(nil), r...)
	return nil
}
