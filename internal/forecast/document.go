package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// The YAML of a river network, shared by LoadNetwork (the network file) and package
// forecasting (the stored network document, which adds keys of its own): walkers that refuse
// unknown and repeated keys and name the line and the field of every mistake.

// Fields maps the fields of a parsed document — "stations[2].lat", and "stations[2]" for the
// station itself — to their lines (1-based), so that an error found after parsing can name
// the line.
type Fields map[string]int

// at is the line of field of the i-th station or reach (its own line when the field was not
// given; 0 when unknown).
func (f Fields) at(list string, i int, field string) int {
	item := fmt.Sprintf("%s[%d]", list, i)
	if n, ok := f[item+"."+field]; ok && field != "" {
		return n
	}
	return f[item]
}

// Lengths of a station's free text, in bytes.
const (
	MaxStationText = 200  // name, river
	MaxSourceText  = 2000 // source
)

// Mapping walks the mapping node item at path ("" for the document itself), recording each
// field's line in pos and calling f for each key; unknown and repeated keys are refused. An
// error of f becomes a *NetworkError of doc at the value's line and field, unless it is one
// already (from a nested mapping).
func Mapping(doc string, item *yaml.Node, path string, pos Fields, allowed []string, f func(key string, val *yaml.Node) error) error {
	if item.Kind != yaml.MappingNode {
		return &NetworkError{Doc: doc, Line: item.Line, Field: path, Msg: "want a mapping"}
	}
	if path != "" {
		pos[path] = item.Line
	}
	seen := map[string]bool{}
	for k := 0; k+1 < len(item.Content); k += 2 {
		key, val := item.Content[k], item.Content[k+1]
		field := key.Value
		if path != "" {
			field = path + "." + key.Value
		}
		if !slices.Contains(allowed, key.Value) {
			return &NetworkError{Doc: doc, Line: key.Line, Field: field, Msg: "unknown key (want " + strings.Join(allowed, ", ") + ")"}
		}
		if seen[key.Value] {
			return &NetworkError{Doc: doc, Line: key.Line, Field: field, Msg: "given twice"}
		}
		seen[key.Value] = true
		pos[field] = val.Line
		if err := f(key.Value, val); err != nil {
			var ne *NetworkError
			if errors.As(err, &ne) {
				return err
			}
			return &NetworkError{Doc: doc, Line: val.Line, Field: field, Msg: err.Error()}
		}
	}
	return nil
}

// List calls f for each item of the sequence node val.
func List(val *yaml.Node, f func(i int, item *yaml.Node) error) error {
	if val.Kind != yaml.SequenceNode {
		return errors.New("want a list")
	}
	for i, item := range val.Content {
		if err := f(i, item); err != nil {
			return err
		}
	}
	return nil
}

// Scalar decodes the single value val into out (*string, *float64 — finite —, *int64, *bool).
func Scalar(val *yaml.Node, out any) error {
	if val.Kind != yaml.ScalarNode {
		return errors.New("want a single value")
	}
	if err := val.Decode(out); err != nil {
		switch out.(type) {
		case *float64:
			return fmt.Errorf("%q is not a number", val.Value)
		case *int64:
			return fmt.Errorf("%q is not a whole number", val.Value)
		case *bool:
			return fmt.Errorf("%q is not true or false", val.Value)
		}
		return fmt.Errorf("%q is not text", val.Value)
	}
	if f, ok := out.(*float64); ok && (math.IsNaN(*f) || math.IsInf(*f, 0)) {
		return fmt.Errorf("%q is not a finite number", val.Value)
	}
	return nil
}

// CheckText refuses text that is not UTF-8, has control characters, is over max bytes, or
// (empty false) is blank.
func CheckText(s string, max int, empty bool) error {
	switch {
	case len(s) > max:
		return fmt.Errorf("%d bytes, over the limit of %d", len(s), max)
	case !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0:
		return errors.New("not UTF-8 text without control characters")
	case !empty && strings.TrimSpace(s) == "":
		return errors.New("empty")
	}
	return nil
}

// text decodes a free-text value of at most max bytes into out.
func text(val *yaml.Node, out *string, max int) error {
	if err := Scalar(val, out); err != nil {
		return err
	}
	return CheckText(*out, max, true)
}

// DecodeStation decodes the i-th item of a document's stations (id, name, river, lat, lon,
// approx, source — the network file's keys) at "stations[i]"; the keys in extra are the
// caller's, passed to more (nil: ignored). Errors are *NetworkError of doc.
func DecodeStation(doc string, i int, item *yaml.Node, pos Fields, extra []string, more func(key string, val *yaml.Node) error) (Station, error) {
	var s Station
	var hasLat, hasLon bool
	path := fmt.Sprintf("stations[%d]", i)
	err := Mapping(doc, item, path, pos, append([]string{"id", "name", "river", "lat", "lon", "approx", "source"}, extra...), func(key string, val *yaml.Node) error {
		switch key {
		case "id":
			return Scalar(val, &s.ID)
		case "name":
			return text(val, &s.Name, MaxStationText)
		case "river":
			return text(val, &s.River, MaxStationText)
		case "lat":
			hasLat = true
			return Scalar(val, &s.Lat)
		case "lon":
			hasLon = true
			return Scalar(val, &s.Lon)
		case "approx":
			return Scalar(val, &s.Approx)
		case "source":
			return text(val, &s.Source, MaxSourceText)
		}
		if more != nil {
			return more(key, val)
		}
		return nil
	})
	if err != nil {
		return s, err
	}
	if hasLat != hasLon {
		return s, &NetworkError{Doc: doc, Line: item.Line, Field: path, Msg: "give both lat and lon, or neither"}
	}
	s.HasPosition = hasLat
	return s, nil
}

// DecodeReach decodes the i-th item of a document's reaches (from, to, length_km,
// travel_time_h — hours > 0 and at most a year, or null when unknown —, source) at
// "reaches[i]"; the keys in extra are the caller's, passed to more (nil: ignored). Errors are
// *NetworkError of doc.
func DecodeReach(doc string, i int, item *yaml.Node, pos Fields, extra []string, more func(key string, val *yaml.Node) error) (Reach, error) {
	var r Reach
	path := fmt.Sprintf("reaches[%d]", i)
	err := Mapping(doc, item, path, pos, append([]string{"from", "to", "length_km", "travel_time_h", "source"}, extra...), func(key string, val *yaml.Node) error {
		switch key {
		case "from":
			return Scalar(val, &r.From)
		case "to":
			return Scalar(val, &r.To)
		case "length_km":
			return Scalar(val, &r.LengthKM)
		case "travel_time_h":
			if val.Tag == "!!null" {
				return nil
			}
			var h float64
			if err := Scalar(val, &h); err != nil {
				return err
			}
			if !(h > 0 && h <= 24*365) {
				return fmt.Errorf("%v: want hours > 0 and at most a year, or null when unknown", h)
			}
			r.TravelTime = time.Duration(h * float64(time.Hour))
			return nil
		case "source":
			var s string
			return text(val, &s, MaxSourceText)
		}
		if more != nil {
			return more(key, val)
		}
		return nil
	})
	return r, err
}
