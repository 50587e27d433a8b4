package place

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestCheckGeoJSON(t *testing.T) {
	cases := []struct{ doc, want string }{
		{`{"type":"Point","coordinates":[74.3,31.5]}`, ""},
		{`{"type":"Point","coordinates":[180,90]}`, ""},
		{`{"type":"Point","coordinates":[-180,-90,12]}`, ""},
		{`{"type":"Point","coordinates":[999,999]}`, "longitude 999"},
		{`{"type":"Point","coordinates":[180.0001,0]}`, "longitude 180.0001"},
		{`{"type":"Point","coordinates":[0,-90.5]}`, "latitude -90.5"},
		{`{"type":"Point","coordinates":[]}`, "empty"},
		{`{"type":"Point"}`, "Point"},
		{`{"type":"LineString","coordinates":[[0,0]]}`, "invalid LineString"},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}`, ""},
		{`{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`, "invalid Polygon"},
		{`{"type":"Polygon","coordinates":[[[1,1],[1,1],[1,1],[1,1]]]}`, "invalid Polygon"},
		{`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[10,10],[11,10],[11,100],[10,10]]]]}`, "latitude 100"},
		{`{"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[1,2]}}`, ""},
		{`{"type":"Feature","properties":null,"geometry":{"type":"Point","coordinates":[1,200]}}`, "geometry: latitude 200"},
		{`{"type":"FeatureCollection","features":[]}`, `type "FeatureCollection" is not a GeoJSON geometry`},
		{`{"type":"GeometryCollection","geometries":[]}`, "empty"},
		{`[1,2]`, "want a GeoJSON object"},
	}
	for _, c := range cases {
		err := CheckGeoJSON([]byte(c.doc))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.doc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
}

// FuzzCheckGeoJSON: no input makes CheckGeoJSON panic, and what it accepts is on the globe.
func FuzzCheckGeoJSON(f *testing.F) {
	for _, s := range []string{`{"type":"Point","coordinates":[74.3,31.5]}`, `{"type":"Point","coordinates":[999,999]}`,
		`{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}`, `{"type":"Feature","geometry":{"type":"Point","coordinates":[1,2]}}`,
		`{"type":"GeometryCollection","geometries":[{"type":"Feature"}]}`, `{"type":"MultiPoint","coordinates":[[1e400,1]]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckGeoJSON(b) != nil {
			return
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("accepted %q, which is not JSON", b)
		}
		// every position under "coordinates" is on the globe
		var pos func(c any)
		pos = func(c any) {
			a, ok := c.([]any)
			if !ok {
				return
			}
			if len(a) >= 2 {
				x, okx := a[0].(float64)
				y, oky := a[1].(float64)
				if okx && oky {
					if x < -180 || x > 180 || y < -90 || y > 90 {
						t.Fatalf("accepted %s with position [%g, %g]", b, x, y)
					}
					return
				}
			}
			for _, e := range a {
				pos(e)
			}
		}
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case map[string]any:
				for k, e := range v {
					if k == "coordinates" {
						pos(e)
					} else if k != "properties" { // a Feature's properties are free

						walk(e)
					}
				}
			case []any:
				for _, e := range v {
					walk(e)
				}
			}
		}
		walk(v)
	})
}
