package forecast

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

const goodCurve = `{"a": 35.2, "b": 1.71, "h0": 0.42, "min_stage": 1.1, "max_stage": 8.9, "margin": 0.78, "rmse": 12.3, "r2": 0.994, "n": 240}`

func TestParseDerivation(t *testing.T) {
	d, err := ParseDerivation(json.RawMessage(`{"qc": {"max": 10}, "derivedFrom": {"datastream": 12, "ratingCurve": ` + goodCurve + `}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := RatingCurve{A: 35.2, B: 1.71, H0: 0.42, MinStage: 1.1, MaxStage: 8.9, Margin: 0.78, RMSE: 12.3, R2: 0.994, N: 240}
	if d == nil || d.Datastream != 12 || d.RatingCurve != want {
		t.Fatalf("got %+v, want datastream 12 and %+v", d, want)
	}
	// the curve as FitRating returns it and json.Marshal writes it reads back the same
	c, err := FitRating([]float64{1, 2, 3, 4, 5}, []float64{10, 31, 60, 95, 140}, RatingOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"derivedFrom": Derivation{Datastream: 3, RatingCurve: c}})
	d, err = ParseDerivation(b)
	if err != nil || d.RatingCurve != c || d.Datastream != 3 {
		t.Fatalf("round trip of %s: %+v %v, want %+v", b, d, err, c)
	}
	// nothing to derive
	for _, p := range []string{``, `null`, `{}`, `{"qc": {}}`, `{"derivedFrom": null}`} {
		if d, err := ParseDerivation(json.RawMessage(p)); d != nil || err != nil {
			t.Errorf("%q: %+v %v, want nil, nil", p, d, err)
		}
	}
}

func TestParseDerivationErrors(t *testing.T) {
	curve := func(repl ...string) string { return strings.NewReplacer(repl...).Replace(goodCurve) }
	df := func(rc string) string { return `{"derivedFrom": {"datastream": 12, "ratingCurve": ` + rc + `}}` }
	for in, want := range map[string]string{
		`[1]`:                       "properties: want a JSON object",
		`{"derivedFrom": 12}`:       "properties.derivedFrom: want an object",
		`{"derivedFrom": {}}`:       "properties.derivedFrom.datastream: missing",
		`{"derivedFrom": {"x": 1}}`: "properties.derivedFrom.x: unknown key",
		`{"derivedFrom": {"datastream": "12", "ratingCurve": {}}}`: "properties.derivedFrom.datastream: want the @iot.id",
		`{"derivedFrom": {"datastream": 0, "ratingCurve": {}}}`:    "properties.derivedFrom.datastream: want the @iot.id",
		`{"derivedFrom": {"datastream": 1.5, "ratingCurve": {}}}`:  "properties.derivedFrom.datastream: want the @iot.id",
		`{"derivedFrom": {"datastream": 3}}`:                       "properties.derivedFrom.ratingCurve: missing",
		df(`[]`):                                                   "properties.derivedFrom.ratingCurve: want an object",
		df(`null`):                                                 "properties.derivedFrom.ratingCurve: want an object",
		df(curve(`"a": 35.2`, `"a": 0`)):                           "properties.derivedFrom.ratingCurve.a: want a number > 0",
		df(curve(`"a": 35.2`, `"a": -1`)):                          "properties.derivedFrom.ratingCurve.a: want a number > 0",
		df(curve(`"a": 35.2`, `"a": "x"`)):                         "properties.derivedFrom.ratingCurve.a: want a finite number",
		df(curve(`"b": 1.71`, `"b": 0`)):                           "properties.derivedFrom.ratingCurve.b: want a number > 0",
		df(curve(`"a": 35.2, `, ``)):                               "properties.derivedFrom.ratingCurve.a: missing",
		df(curve(`"max_stage": 8.9`, `"max_stage": 1`)):            "properties.derivedFrom.ratingCurve.max_stage: 1 is below min_stage",
		df(curve(`"h0": 0.42`, `"h0": 1.1`)):                       "properties.derivedFrom.ratingCurve.min_stage: 1.1 is at or below h0",
		df(curve(`"margin": 0.78`, `"margin": -1`)):                "properties.derivedFrom.ratingCurve.margin: want a number ≥ 0",
		df(curve(`"r2": 0.994`, `"r2": 1.5`)):                      "properties.derivedFrom.ratingCurve.r2: want a number ≤ 1",
		df(curve(`"n": 240`, `"n": 2.5`)):                          "properties.derivedFrom.ratingCurve.n: want a whole number",
		df(curve(`"n": 240`, `"n": 240, "minStage": 1`)):           "properties.derivedFrom.ratingCurve.minStage: unknown key",
		df(curve(`"b": 1.71`, `"b": 900`)):                         "properties.derivedFrom.ratingCurve.b: the curve overflows",
	} {
		d, err := ParseDerivation(json.RawMessage(in))
		if !errors.Is(err, ErrDerivation) || !strings.Contains(err.Error(), want) || d != nil {
			t.Errorf("%s:\n got %+v, %v\nwant an error containing %q", in, d, err, want)
		}
	}
}

// FuzzParseDerivation: no input panics; what is accepted is a usable curve (a, b > 0, a range
// above h0, finite discharge over it) and a positive datastream id.
func FuzzParseDerivation(f *testing.F) {
	for _, s := range []string{
		`{"derivedFrom": {"datastream": 12, "ratingCurve": ` + goodCurve + `}}`,
		`{"derivedFrom": {"datastream": 1, "ratingCurve": {"a": 1, "b": 1, "h0": 0, "min_stage": 1, "max_stage": 1}}}`,
		`{"derivedFrom": {"datastream": 1e300, "ratingCurve": {}}}`,
		`{"derivedFrom": {"datastream": 2, "ratingCurve": {"a": 1e308, "b": 3, "h0": -1e308, "min_stage": 1e308, "max_stage": 1e308}}}`,
		`{"derivedFrom": []}`, `{"derivedFrom": null}`, `null`, ``, `{`, `"x"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := ParseDerivation(b)
		if err != nil {
			if !errors.Is(err, ErrDerivation) || d != nil {
				t.Fatalf("error %v with %+v", err, d)
			}
			return
		}
		if d == nil {
			return
		}
		c := d.RatingCurve
		if d.Datastream < 1 || !(c.A > 0) || !(c.B > 0) || !(c.MinStage > c.H0) || c.MaxStage < c.MinStage || c.Margin < 0 {
			t.Fatalf("accepted %+v", d)
		}
		for _, h := range []float64{c.MinStage, c.MaxStage, c.MaxStage + c.Margin} {
			q, _, err := c.Discharge(h)
			if err != nil || math.IsNaN(q) || math.IsInf(q, 0) || q < 0 {
				t.Fatalf("accepted %+v: Discharge(%v) = %v, %v", c, h, q, err)
			}
		}
	})
}
