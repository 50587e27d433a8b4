package sensing

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestMultiShape(t *testing.T) {
	units := `[{"name":"cusec","symbol":"[cft_i]/s","definition":"d"},{"name":"metre","symbol":"m","definition":"d"}]`
	types := `["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"]`
	cases := []struct {
		units, types string
		n            int
		want         string // "" for accepted
	}{
		{units, types, 2, ""},
		{units, types, 3, "unitOfMeasurements has 2 elements but there are 3 ObservedProperties"},
		{units, `["a","b","c"]`, 2, "multiObservationDataTypes has 3 elements but there are 2"},
		{`[]`, `[]`, 0, "needs at least one ObservedProperty"},
		{`{"name":"cusec"}`, types, 2, "unitOfMeasurements: want a JSON array"},
		{`[{"name":"cusec"},"m"]`, types, 2, "unitOfMeasurements[1]: want a JSON object"},
		{`null`, types, 2, "unitOfMeasurements: want a JSON array"},
		{units, `["a",""]`, 2, "multiObservationDataTypes[1]: want an observation type URI"},
		{units, `["a",7]`, 2, "multiObservationDataTypes[1]"},
	}
	for _, c := range cases {
		m, err := ParseMultiShape(json.RawMessage(c.units), json.RawMessage(c.types))
		if err == nil {
			err = m.Check(c.n)
		}
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s %s n=%d: %v, want %q", c.units, c.types, c.n, err, c.want)
		}
	}
	m, _ := ParseMultiShape(json.RawMessage(units), nil)
	if m.UnitSymbol(1) != "m" || m.UnitSymbol(5) != "" || m.Types != nil {
		t.Errorf("UnitSymbol: %q %q, types %v", m.UnitSymbol(1), m.UnitSymbol(5), m.Types)
	}
	for _, c := range []struct {
		result string
		n      int
		want   string
	}{
		{`[1, null, "x"]`, 3, ""},
		{` [1,2] `, 2, ""},
		{`[1,2]`, 3, "result has 2 values but the MultiDatastream has 3"},
		{`5`, 1, "is a JSON array"},
		{`{"a":[1]}`, 1, "is a JSON array"},
		{``, 1, "is a JSON array"},
	} {
		vals, err := MultiResult(json.RawMessage(c.result), c.n)
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) || (err == nil && len(vals) != c.n) {
			t.Errorf("MultiResult(%s, %d): %v %v, want %q", c.result, c.n, vals, err, c.want)
		}
	}
}

func TestMultiQC(t *testing.T) {
	for _, c := range []struct {
		props   string
		n       int
		want    string // the overrides as JSON
		wantErr string
	}{
		{``, 2, "null", ""},
		{`{"river":"Chenab"}`, 2, "null", ""},
		{`{"qc":null}`, 2, "null", ""},
		{`{"qc":[null,{"max":10}]}`, 2, `[null,{"qc":{"max":10}}]`, ""},
		{`{"qc":{"max":10}}`, 2, "", "an array with one override object (or null) per ObservedProperty (2)"},
		{`{"qc":[{"max":10}]}`, 2, "", "per ObservedProperty (2)"},
		{`{"qc":[null,{"max":"ten"}]}`, 2, "", "properties.qc[1].max: want a number"},
		{`{"qc":[null,{"colour":1}]}`, 2, "", "properties.qc[1]"},
	} {
		got, err := MultiQC(json.RawMessage(c.props), c.n)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("MultiQC(%s, %d): %v, want an error naming %q", c.props, c.n, err, c.wantErr)
			}
			continue
		}
		b, _ := json.Marshal(got)
		if err != nil || string(b) != c.want {
			t.Errorf("MultiQC(%s, %d): %s %v, want %s", c.props, c.n, b, err, c.want)
		}
	}
}

// FuzzMultiShape: the MultiDatastream parsers never panic; what they accept has the shape they
// promise (objects for units, non-empty strings for types, exactly n values for a result).
func FuzzMultiShape(f *testing.F) {
	f.Add(`[{"name":"cusec","symbol":"[cft_i]/s","definition":"d"},{"name":"metre","symbol":"m"}]`, `["a","b"]`, `[1001480, 8.9]`, 2)
	f.Add(`[]`, `[]`, `[]`, 0)
	f.Add(`[7]`, `[""]`, `[null]`, 1)
	f.Add(`{`, `[1]`, `5`, 1)
	f.Add(`{"qc":[null,{"max":10,"expectedInterval":"PT1H"}]}`, `["a","b"]`, `[1,2]`, 2)
	f.Add(`{"qc":[{"max":"x"}]}`, `[]`, `[]`, 1)
	f.Fuzz(func(t *testing.T, units, types, result string, n int) {
		if qc, err := MultiQC(json.RawMessage(units), n); err == nil && qc != nil {
			if len(qc) != n {
				t.Fatalf("MultiQC(%q, %d) gave %d overrides", units, n, len(qc))
			}
			for i, o := range qc {
				if _, err := ParseQCOverride(o); o != nil && err != nil {
					t.Fatalf("override %d accepted but not valid: %v", i, err)
				}
			}
		}
		m, err := ParseMultiShape(json.RawMessage(units), json.RawMessage(types))
		if err == nil {
			for i, u := range m.Units {
				var o map[string]json.RawMessage
				if json.Unmarshal(u, &o) != nil || o == nil {
					t.Fatalf("unit %d accepted but not an object: %s", i, u)
				}
				_ = m.UnitSymbol(i)
			}
			for i, s := range m.Types {
				if s == "" {
					t.Fatalf("type %d accepted but empty", i)
				}
			}
			if m.Check(n) == nil && (n <= 0 || len(m.Units) != n || len(m.Types) != n) {
				t.Fatalf("Check(%d) accepted %d units and %d types", n, len(m.Units), len(m.Types))
			}
		}
		if vals, err := MultiResult(json.RawMessage(result), n); err == nil {
			if len(vals) != n {
				t.Fatalf("MultiResult(%q, %d) gave %d values", result, n, len(vals))
			}
			for _, v := range vals {
				if !json.Valid(v) {
					t.Fatalf("value %q is not JSON", v)
				}
			}
		}
	})
}
