package federation_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/federation"
)

// punjab is a box around Khanki (73.97 E, 32.40 N) and Marala (74.46 E, 32.67 N).
const punjab = `{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}`

// An area is a valid WGS 84 Polygon or MultiPolygon within the limits; the agreement's error
// names selection.area and says what is wrong.
func TestParseArea(t *testing.T) {
	withArea := func(area string) string {
		return strings.Replace(good, `"selection":{"datastreams":[1,2],"observedProperties":[1]}`, `"selection":{"area":`+area+`}`, 1)
	}
	a, err := federation.ParseAgreement([]byte(withArea(punjab)))
	if err != nil {
		t.Fatal(err)
	}
	if a.Selection.Area == nil || !a.Selection.Data() {
		t.Fatalf("area not kept: %+v", a.Selection)
	}
	b, _ := json.Marshal(a.Selection)
	if !strings.Contains(string(b), `"area":`+punjab) {
		t.Errorf("marshalled selection %s does not give the area back as written", b)
	}
	var back federation.Selection
	if err := json.Unmarshal(b, &back); err != nil || back.Area == nil {
		t.Errorf("selection round trip: %+v %v", back, err)
	}
	// a big but allowed area: a MaxAreaVertices-position ring
	ring := make([][2]float64, 0, federation.MaxAreaVertices)
	for i := range federation.MaxAreaVertices - 1 {
		// a circle, so no self-intersection
		x, y := circle(i, federation.MaxAreaVertices-1)
		ring = append(ring, [2]float64{x, y})
	}
	ring = append(ring, ring[0])
	big, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}})
	if _, err := federation.ParseAgreement([]byte(withArea(string(big)))); err != nil {
		t.Errorf("an area of %d positions: %v", federation.MaxAreaVertices, err)
	}
	over := append(ring[:len(ring)-1:len(ring)-1], [2]float64{ring[0][0] + 1e-4, ring[0][1] + 1e-4}, ring[0])
	tooBig, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{over}})
	for _, c := range []struct{ area, want string }{
		{string(tooBig), fmt.Sprintf("at most %d", federation.MaxAreaVertices)},
		{`{"type":"Point","coordinates":[73.9,32.4]}`, `type "Point"`},
		{`{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,32.0]]]}`, ""},                                      // fine: a triangle
		{`{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0]]]}`, "invalid Polygon"},                                   // ring not closed
		{`{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}`, "invalid Polygon"},                                         // bow tie
		{`{"type":"Polygon","coordinates":[[[32.0,73.5],[32.0,100],[33,100],[33,73.5],[32.0,73.5]]]}`, "latitude 100 is outside -90..90"}, // lat, lon swapped
		{`{"type":"MultiPolygon","coordinates":[[[[200,0],[201,0],[201,1],[200,0]]]]}`, "longitude 200"},
		{`{"type":"Polygon","coordinates":[]}`, "empty"},
		{`"Punjab"`, "GeoJSON Polygon or MultiPolygon"},
		{`{"type":"Polygon","coordinates":[[[` + strings.Repeat("1,", federation.MaxAreaBytes/2) + `1]]]}`, "bytes of GeoJSON"},
	} {
		_, err := federation.ParseAgreement([]byte(withArea(c.area)))
		if c.want == "" {
			if err != nil {
				t.Errorf("%.80s: %v", c.area, err)
			}
			continue
		}
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "selection.area") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%.80s: %v (want Invalid naming selection.area and %q)", c.area, err, c.want)
		}
	}
	// alerts only is a selection; nothing at all is not
	if _, err := federation.ParseAgreement([]byte(withArea(punjab + `,"alerts":true`))); err != nil {
		t.Errorf("area and alerts: %v", err)
	}
	alertsOnly := strings.Replace(good, `"selection":{"datastreams":[1,2],"observedProperties":[1]}`, `"selection":{"alerts":true}`, 1)
	if a, err := federation.ParseAgreement([]byte(alertsOnly)); err != nil || a.Selection.Data() || !a.Selection.Alerts {
		t.Errorf("alerts only: %+v %v", a, err)
	}
}

func circle(i, n int) (float64, float64) {
	const r = 0.5
	t := 2 * math.Pi * float64(i) / float64(n)
	return math.Round((74+r*math.Cos(t))*1e5) / 1e5, math.Round((32.5+r*math.Sin(t))*1e5) / 1e5
}

// Locations inside or on the boundary are in; outside, malformed or missing are not; a CAP
// area meets the agreement's area by polygon or by circle.
func TestAreaContains(t *testing.T) {
	a, err := federation.ParseArea([]byte(punjab))
	if err != nil {
		t.Fatal(err)
	}
	for loc, want := range map[string]bool{
		`{"type":"Point","coordinates":[73.9744,32.4028]}`:                                               true,  // Khanki
		`{"type":"Feature","geometry":{"type":"Point","coordinates":[74.4597,32.6744]},"properties":{}}`: true,  // Marala, as a Feature
		`{"type":"Point","coordinates":[73.5,32.5]}`:                                                     true,  // on the boundary
		`{"type":"Point","coordinates":[67.0011,24.8607]}`:                                               false, // Karachi
		`{"type":"Point","coordinates":[32.4028,73.9744]}`:                                               false, // lat, lon swapped
		`{"type":"LineString","coordinates":[[70,32.5],[80,32.5]]}`:                                      true,
		`{"type":"Point"}`: false,
		`not json`:         false,
		``:                 false,
	} {
		if got := a.ContainsLocation([]byte(loc)); got != want {
			t.Errorf("ContainsLocation(%s) = %v, want %v", loc, got, want)
		}
	}
	for name, c := range map[string]struct {
		area cap.Area
		want bool
	}{
		"polygon inside":   {cap.Area{Polygons: []cap.Polygon{{{Lat: 32.3, Lon: 73.9}, {Lat: 32.3, Lon: 74.1}, {Lat: 32.5, Lon: 74.1}, {Lat: 32.3, Lon: 73.9}}}}, true},
		"polygon across":   {cap.Area{Polygons: []cap.Polygon{{{Lat: 31, Lon: 73}, {Lat: 31, Lon: 76}, {Lat: 33, Lon: 76}, {Lat: 31, Lon: 73}}}}, true},
		"polygon in Sindh": {cap.Area{Polygons: []cap.Polygon{{{Lat: 24, Lon: 67}, {Lat: 24, Lon: 68}, {Lat: 25, Lon: 68}, {Lat: 24, Lon: 67}}}}, false},
		"circle reaching":  {cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 32.5, Lon: 75.0}, RadiusKM: 30}}}, true},  // 0.2° east of the edge, ~19 km
		"circle short":     {cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 32.5, Lon: 75.0}, RadiusKM: 10}}}, false}, // ~19 km away
		"geocodes only":    {cap.Area{Geocodes: []cap.ValuePair{{ValueName: "PK-PB", Value: "Punjab"}}}, false},
	} {
		if got := a.MeetsCAP([]cap.Area{c.area}); got != c.want {
			t.Errorf("%s: MeetsCAP = %v, want %v", name, got, c.want)
		}
	}
	var none *federation.Area
	if none.ContainsLocation([]byte(`{"type":"Point","coordinates":[74,32.5]}`)) || none.MeetsCAP(nil) {
		t.Errorf("a nil area contains something")
	}
}

func FuzzParseArea(f *testing.F) {
	f.Add([]byte(punjab))
	f.Add([]byte(`{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]]]}`))
	f.Add([]byte(`{"type":"Polygon","coordinates":[[[0,0],[2,2],[2,0],[0,2],[0,0]]]}`))
	f.Add([]byte(`{"type":"Polygon","coordinates":[[[1e400,0],[1,0],[1,1],[1e400,0]]]}`))
	f.Add([]byte(`{"type":"Polygon"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := federation.ParseArea(b)
		if err != nil {
			return
		}
		out, err := json.Marshal(a)
		if err != nil || string(out) != string(b) {
			t.Fatalf("marshal: %s %v, want the input", out, err)
		}
		a.ContainsLocation([]byte(`{"type":"Point","coordinates":[74,32.5]}`))
		a.MeetsCAP([]cap.Area{{Circles: []cap.Circle{{Center: cap.Point{Lat: 89.9, Lon: 179.9}, RadiusKM: 500}}}})
	})
}

func alertMsg() federation.AlertMessage {
	return federation.AlertMessage{Kind: federation.AlertKind, V: 1, Provider: "islamabad", Agreement: 2, ConsumerOrg: "ndma",
		Alert: 5, Message: 9, Identifier: "rabta-islamabad-5-1", CAP: "<alert/>"}
}

// An alert message is told apart from a data message by its first bytes, and every member is
// checked.
func TestDecodeAlertMessage(t *testing.T) {
	m := alertMsg()
	b, _ := json.Marshal(m)
	if !federation.IsAlertMessage(b) {
		t.Fatalf("IsAlertMessage(%s) = false", b)
	}
	data, _ := json.Marshal(msg())
	if federation.IsAlertMessage(data) {
		t.Errorf("a data message taken for an alert: %s", data)
	}
	got, err := federation.DecodeAlertMessage(b)
	if err != nil || *got != m || got.MsgID() != "islamabad:a2:m9" {
		t.Fatalf("decode: %+v %v", got, err)
	}
	for name, change := range map[string]func(*federation.AlertMessage){
		"kind":                 func(m *federation.AlertMessage) { m.Kind = "obs" },
		"v":                    func(m *federation.AlertMessage) { m.V = 2 },
		"provider":             func(m *federation.AlertMessage) { m.Provider = "Isl amabad" },
		"agreement":            func(m *federation.AlertMessage) { m.Agreement = 0 },
		"alert":                func(m *federation.AlertMessage) { m.Alert = -1 },
		"consumerOrganisation": func(m *federation.AlertMessage) { m.ConsumerOrg = "" },
		"identifier":           func(m *federation.AlertMessage) { m.Identifier = "" },
		"cap":                  func(m *federation.AlertMessage) { m.CAP = "" },
	} {
		bad := alertMsg()
		change(&bad)
		b, _ := json.Marshal(bad)
		if _, err := federation.DecodeAlertMessage(b); apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), name) {
			t.Errorf("%s changed: %v, want Invalid naming it", name, err)
		}
	}
	if _, err := federation.DecodeAlertMessage([]byte(`{"kind":"cap","v":1,"extra":1}`)); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("an unknown member: %v", err)
	}
	if _, err := federation.DecodeAlertMessage(make([]byte, federation.MaxAlertMessage+1)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("over the limit: %v", err)
	}
}

func FuzzDecodeAlertMessage(f *testing.F) {
	b, _ := json.Marshal(alertMsg())
	f.Add(b)
	f.Add([]byte(`{"kind":"cap"}`))
	f.Add([]byte(`{"kind":"cap","v":1,"provider":"a","agreement":1e30}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := federation.DecodeAlertMessage(b)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("error of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		if m.Agreement <= 0 || m.CAP == "" || !federation.ValidName(m.Provider) {
			t.Fatalf("accepted %+v", m)
		}
	})
}

// BenchmarkParseArea: checking an area of MaxAreaVertices positions (what each read of an
// agreement would cost without the cache of UnmarshalJSON), and reading it again (cached).
func BenchmarkParseArea(b *testing.B) {
	ring := make([][2]float64, 0, federation.MaxAreaVertices)
	for i := range federation.MaxAreaVertices - 1 {
		x, y := circle(i, federation.MaxAreaVertices-1)
		ring = append(ring, [2]float64{x, y})
	}
	ring = append(ring, ring[0])
	big, _ := json.Marshal(map[string]any{"type": "Polygon", "coordinates": [][][2]float64{ring}})
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, err := federation.ParseArea(big); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unmarshal-cached", func(b *testing.B) {
		for b.Loop() {
			var a federation.Area
			if err := json.Unmarshal(big, &a); err != nil {
				b.Fatal(err)
			}
		}
	})
}
