package forecasting

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecast"
)

const doc = `name: chenab
step_h: 1
warmup_h: 48
stations:
  - id: marala
    name: Marala Headworks
    lat: 32.67
    lon: 74.46
    thing: 1
    discharge: 1
  - id: khanki
    thing: 2
    discharge: 2
    forecast: 7        # read only
reaches:
  - from: marala
    to: khanki
    length_km: 60
    travel_time_h: 6
    model: {k_h: 7.5, x: 0.25, m: 1.2, scheme: rk4, lag_h: 3, gain: 0.9, rmse: 1200, n: 400}
`

func TestParse(t *testing.T) {
	n, pos, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if n.Name != "chenab" || n.Step != time.Hour || n.Settings.Warmup != 48*time.Hour || len(n.Stations) != 2 || len(n.Reaches) != 1 {
		t.Fatalf("parsed %+v", n)
	}
	if s := n.Stations[0]; s.ID != "marala" || !s.HasPosition || s.Lat != 32.67 || s.Thing != 1 || s.Discharge != 1 {
		t.Errorf("station 0 %+v", s)
	}
	if n.Stations[1].Forecast != 0 {
		t.Errorf("the read-only forecast id was taken: %d", n.Stations[1].Forecast)
	}
	want := forecast.ReachModel{Muskingum: forecast.Muskingum{K: 7.5, X: 0.25, M: 1.2}, Scheme: forecast.SchemeRK4, Lag: 3 * time.Hour, Gain: 0.9, RMSE: 1200, N: 400}
	if r := n.Reaches[0]; r.TravelTime != 6*time.Hour || r.Model == nil || *r.Model != want {
		t.Errorf("reach %+v %+v, want %+v", r.Reach, r.Model, want)
	}
	if pos["stations[1].discharge"] != 13 || pos["reaches[0].model"] != 20 {
		t.Errorf("positions %v", pos)
	}
	// the view goes back in as the same network (JSON is YAML)
	v, err := View(n)
	if err != nil {
		t.Fatal(err)
	}
	if h := v.Stations[1].Horizon; h == nil || h.Shortest != 3 || h.Longest != 3 {
		t.Errorf("khanki's horizon %+v, want 3 h (the reach's lag)", h)
	}
	b, _ := json.Marshal(v)
	n2, _, err := Parse(b)
	if err != nil {
		t.Fatalf("the view does not parse: %v\n%s", err, b)
	}
	v2, _ := View(n2)
	b2, _ := json.Marshal(v2)
	if string(b) != string(b2) {
		t.Errorf("round trip differs:\n%s\n%s", b, b2)
	}
}

func TestParseErrors(t *testing.T) {
	for _, c := range []struct{ name, doc, want string }{
		{"unknown station", strings.Replace(doc, "to: khanki", "to: khanky", 1), `line 17: reaches[0].to: unknown station "khanky"`},
		{"a cycle", doc + "  - {from: khanki, to: marala}\n", "cycle through stations marala, khanki"},
		{"thing without discharge", strings.Replace(doc, "    discharge: 2\n", "", 1), "line 11: stations[1]: give both thing and discharge"},
		{"a bad id", strings.Replace(doc, "discharge: 2", "discharge: -2", 1), "line 13: stations[1].discharge: -2: want an id > 0"},
		{"an unknown key", strings.Replace(doc, "length_km: 60", "lenght_km: 60", 1), "line 18: reaches[0].lenght_km: unknown key"},
		{"K missing", strings.Replace(doc, "k_h: 7.5, ", "", 1), "line 20: reaches[0].model.k_h: required"},
		{"x out of range", strings.Replace(doc, "x: 0.25", "x: 1.5", 1), "line 20: reaches[0].model: x must lie in [0, 1)"},
		{"a lag of part of a step", strings.Replace(doc, "lag_h: 3", "lag_h: 2.5", 1), "line 20: reaches[0].model.lag_h: 2h30m0s: want whole routing steps"},
		{"an unknown scheme", strings.Replace(doc, "scheme: rk4", "scheme: rk5", 1), `line 20: reaches[0].model.scheme: unknown routing scheme "rk5"`},
		{"no name", strings.Replace(doc, "name: chenab\n", "", 1), "name: required"},
		{"no stations", "name: x\nstations: []\n", "stations: want at least one station"},
		{"not YAML", "name: [", "not YAML or JSON"},
		{"a list", "- 1\n", "line 1: want a mapping"},
		{"NaN", strings.Replace(doc, "length_km: 60", "length_km: .nan", 1), `line 18: reaches[0].length_km: ".nan" is not a finite number`},
		{"twice", strings.Replace(doc, "name: chenab\n", "name: chenab\nname: again\n", 1), "line 2: name: given twice"},
	} {
		_, _, err := Parse([]byte(c.doc))
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), c.want) {
			t.Errorf("%s: %v (kind %v), want Invalid naming %q", c.name, err, apperr.KindOf(err), c.want)
		}
	}
	if _, _, err := Parse(make([]byte, MaxDocument+1)); apperr.KindOf(err) != apperr.TooLarge {
		t.Errorf("an oversized document: %v, want TooLarge", err)
	}
}

func TestAnnotate(t *testing.T) {
	_, pos, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	err = pos.Annotate(apperr.E(apperr.Forbidden, `stations[1].thing: Things(2) belongs to organisation "sindh"`))
	if apperr.KindOf(err) != apperr.Forbidden || apperr.Message(err) != `forecast network: line 12: stations[1].thing: Things(2) belongs to organisation "sindh"` {
		t.Errorf("annotated: %v", apperr.Message(err))
	}
	plain := apperr.E(apperr.Invalid, "something else: x")
	if pos.Annotate(plain) != plain {
		t.Error("an error naming no field was changed")
	}
}

// FuzzParse: no document panics the parser, and what it accepts makes a valid model and a
// view that parses back to the same view.
func FuzzParse(f *testing.F) {
	for _, s := range []string{doc, `{"name":"x","stations":[{"id":"a"},{"id":"b"}],"reaches":[{"from":"a","to":"b","model":{"k_h":1}}]}`,
		"name: x\nstations:\n  - id: a\n", "name: x\nstations: [{id: a, thing: 1, discharge: 2}, {id: b}]\nreaches: [{from: a, to: b, travel_time_h: null}]\n",
		"name: x\nstep_h: 0.5\ncorrection: ratio\nstations: [{id: a}]\n", "", "name: &a [*a]"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		n, _, err := Parse(b)
		if err != nil {
			if k := apperr.KindOf(err); k != apperr.Invalid && k != apperr.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		m, err := n.Model()
		if err != nil {
			t.Fatalf("accepted, but no model: %v", err)
		}
		if _, err := forecast.NewForecaster(m); err != nil {
			t.Fatalf("accepted, but no forecaster: %v", err)
		}
		v, err := View(n)
		if err != nil {
			t.Fatalf("accepted, but no view: %v", err)
		}
		js, _ := json.Marshal(v)
		n2, _, err := Parse(js)
		if err != nil {
			t.Fatalf("the view of an accepted document does not parse: %v\n%s", err, js)
		}
		v2, _ := View(n2)
		js2, _ := json.Marshal(v2)
		if string(js) != string(js2) {
			t.Fatalf("round trip differs:\n%s\n%s", js, js2)
		}
	})
}

// The demo model survives FromModel → Model, and its document parses back to the same model:
// no setting of forecast.Model is lost on the way to the store and the API.
func TestModelRoundTrip(t *testing.T) {
	m, err := forecast.PunjabIndusModel()
	if err != nil {
		t.Fatal(err)
	}
	canon := func(m forecast.Model) string { // the reaches' order does not matter
		slices.SortFunc(m.Reaches, func(a, b forecast.ReachModel) int { return strings.Compare(a.From+" "+a.To, b.From+" "+b.To) })
		b, _ := json.Marshal(m)
		return string(b)
	}
	want := canon(m)
	n := FromModel("punjab-indus", m)
	back, err := n.Model()
	if err != nil {
		t.Fatal(err)
	}
	if got := canon(back); got != want {
		t.Errorf("FromModel → Model:\n%s", firstDiff(got, want))
	}
	v, err := View(n)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v)
	n2, _, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	m2, err := n2.Model()
	if err != nil {
		t.Fatal(err)
	}
	if got := canon(m2); got != want {
		t.Errorf("through the document:\n%s", firstDiff(got, want))
	}
}

// firstDiff shows where two texts first differ.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-80)
	return fmt.Sprintf("got  …%.200s\nwant …%.200s", a[lo:], b[lo:])
}
