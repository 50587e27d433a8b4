package forecast

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Derived datastreams.
//
// A Datastream whose values are computed by the node from another's carries the recipe in its
// SensorThings properties (SensorThings 1.1, 8.2.4: properties is free JSON; docs/forecast.md
// "Derived discharge in the node"):
//
//	{"derivedFrom": {"datastream": 12,
//	                 "ratingCurve": {"a": 35.2, "b": 1.71, "h0": 0.42, "min_stage": 1.1, "max_stage": 8.9,
//	                                 "margin": 0.78, "rmse": 12.3, "r2": 0.994, "n": 240}}}
//
// datastream is the id of the stage (water level) Datastream; ratingCurve is a RatingCurve in
// its JSON form (what FitRating returns and `rabta forecast rating` prints): discharge in the
// curve's flow unit from stage in the stage Datastream's unit.

// Derivation is a Datastream's properties.derivedFrom: the stage Datastream its discharge is
// computed from and the rating curve that computes it.
type Derivation struct {
	Datastream  int64       `json:"datastream"`
	RatingCurve RatingCurve `json:"ratingCurve"`
}

// ErrDerivation marks a properties.derivedFrom that cannot be used; the message names the
// property path that is wrong (e.g. "properties.derivedFrom.ratingCurve.a: want a number > 0").
var ErrDerivation = errors.New("invalid derivation")

// derivationKeys and curveKeys are the keys accepted, in the order errors check them.
var (
	derivationKeys = []string{"datastream", "ratingCurve"}
	curveKeys      = []string{"a", "b", "h0", "min_stage", "max_stage", "margin", "rmse", "r2", "n"}
	curveRequired  = []string{"a", "b", "h0", "min_stage", "max_stage"}
)

// ParseDerivation reads properties.derivedFrom from a Datastream's properties JSON. Properties
// that are empty, null, or without derivedFrom (or with derivedFrom null) give nil and no
// error. Errors wrap ErrDerivation and name the path: properties not an object; derivedFrom
// not an object, an unknown key, datastream not a positive whole number, ratingCurve missing
// or not an object; in the curve an unknown key, a required one missing (a, b, h0, min_stage,
// max_stage), a value that is not a finite number, a ≤ 0, b ≤ 0, max_stage < min_stage,
// min_stage ≤ h0 (no flow at the bottom of the range), margin, rmse or n negative, n not a
// whole number, r2 > 1. Referential checks (the stage Datastream exists, belongs to the same
// organisation, is not itself derived) are the store's.
func ParseDerivation(properties json.RawMessage) (*Derivation, error) {
	raw := bytes.TrimSpace(properties)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var props map[string]json.RawMessage
	if err := json.Unmarshal(raw, &props); err != nil {
		return nil, fmt.Errorf("%w: properties: want a JSON object", ErrDerivation)
	}
	df, ok := props["derivedFrom"]
	if !ok || string(bytes.TrimSpace(df)) == "null" {
		return nil, nil
	}
	const p = "properties.derivedFrom"
	var m map[string]json.RawMessage
	if err := json.Unmarshal(df, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%w: %s: want an object {\"datastream\": id, \"ratingCurve\": {…}}", ErrDerivation, p)
	}
	if err := onlyKeys(p, m, derivationKeys); err != nil {
		return nil, err
	}
	var d Derivation
	ds, ok := m["datastream"]
	if !ok {
		return nil, fmt.Errorf("%w: %s.datastream: missing: give the @iot.id of the stage Datastream", ErrDerivation, p)
	}
	var id float64
	if err := json.Unmarshal(ds, &id); err != nil || id != math.Trunc(id) || id < 1 || id > 1<<53 {
		return nil, fmt.Errorf("%w: %s.datastream: want the @iot.id of a Datastream (a whole number ≥ 1), got %s", ErrDerivation, p, short(ds))
	}
	d.Datastream = int64(id)
	rc, ok := m["ratingCurve"]
	if !ok {
		return nil, fmt.Errorf("%w: %s.ratingCurve: missing: give the curve (rabta forecast rating prints one)", ErrDerivation, p)
	}
	c, err := parseCurve(p+".ratingCurve", rc)
	if err != nil {
		return nil, err
	}
	d.RatingCurve = c
	return &d, nil
}

func parseCurve(p string, raw json.RawMessage) (RatingCurve, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return RatingCurve{}, fmt.Errorf("%w: %s: want an object {\"a\": …, \"b\": …, \"h0\": …, \"min_stage\": …, \"max_stage\": …}", ErrDerivation, p)
	}
	if err := onlyKeys(p, m, curveKeys); err != nil {
		return RatingCurve{}, err
	}
	for _, k := range curveRequired {
		if _, ok := m[k]; !ok {
			return RatingCurve{}, fmt.Errorf("%w: %s.%s: missing", ErrDerivation, p, k)
		}
	}
	v := map[string]float64{}
	for _, k := range curveKeys {
		r, ok := m[k]
		if !ok {
			continue
		}
		var f float64
		if err := json.Unmarshal(r, &f); err != nil || !finite(f) {
			return RatingCurve{}, fmt.Errorf("%w: %s.%s: want a finite number, got %s", ErrDerivation, p, k, short(r))
		}
		v[k] = f
	}
	c := RatingCurve{A: v["a"], B: v["b"], H0: v["h0"], MinStage: v["min_stage"], MaxStage: v["max_stage"],
		Margin: v["margin"], RMSE: v["rmse"], R2: v["r2"], N: int(v["n"])}
	bad := func(k, why string) (RatingCurve, error) {
		return RatingCurve{}, fmt.Errorf("%w: %s.%s: %s", ErrDerivation, p, k, why)
	}
	switch {
	case c.A <= 0:
		return bad("a", fmt.Sprintf("want a number > 0, got %v", c.A))
	case c.B <= 0:
		return bad("b", fmt.Sprintf("want a number > 0, got %v", c.B))
	case c.MaxStage < c.MinStage:
		return bad("max_stage", fmt.Sprintf("%v is below min_stage %v", c.MaxStage, c.MinStage))
	case c.MinStage <= c.H0:
		return bad("min_stage", fmt.Sprintf("%v is at or below h0 %v (no flow there: the range must lie above h0)", c.MinStage, c.H0))
	case c.Margin < 0:
		return bad("margin", fmt.Sprintf("want a number ≥ 0, got %v", c.Margin))
	case c.RMSE < 0:
		return bad("rmse", fmt.Sprintf("want a number ≥ 0, got %v", c.RMSE))
	case c.R2 > 1:
		return bad("r2", fmt.Sprintf("want a number ≤ 1, got %v", c.R2))
	case v["n"] < 0 || v["n"] != math.Trunc(v["n"]) || v["n"] > 1<<31:
		return bad("n", fmt.Sprintf("want a whole number ≥ 0, got %v", v["n"]))
	}
	// a range reaching so far that a + margin overflows would make every stage "in range"
	if !finite(c.A * math.Pow(c.MaxStage+c.Margin-c.H0, c.B)) {
		return bad("b", "the curve overflows at the top of its range (max_stage + margin)")
	}
	return c, nil
}

// onlyKeys refuses a key of m not in keys, naming it and the accepted ones.
func onlyKeys(p string, m map[string]json.RawMessage, keys []string) error {
	var unknown []string
	for k := range m {
		if !slices.Contains(keys, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	slices.Sort(unknown)
	return fmt.Errorf("%w: %s.%s: unknown key (accepted: %s)", ErrDerivation, p, unknown[0], strings.Join(keys, ", "))
}

// short is a JSON value for an error message, cut to 40 bytes.
func short(v json.RawMessage) string {
	s := string(bytes.TrimSpace(v))
	if len(s) > 40 {
		return s[:40] + "…"
	}
	if s == "" {
		return "nothing"
	}
	return s
}
