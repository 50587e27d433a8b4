package sensorthings

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/sensing"
)

func FuzzDecodeDataArray(f *testing.F) {
	f.Add([]byte(`[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[["2025-08-27T12:00:00+05:00",1001480]]}]`))
	f.Add([]byte(`[{"Datastream":{"@iot.id":"7"},"components":["result","parameters","FeatureOfInterest/id"],"dataArray@iot.count":1,"dataArray":[[{"a":1},{"b":2},3]]}]`))
	f.Add([]byte(`[{"Datastream":{},"components":[],"dataArray":[]}]`))
	f.Add([]byte(`[{"Datastream":{"@iot.id":1},"components":["result"],"dataArray":[[1],[2],[3]]},{"Datastream":{"@iot.id":2},"components":["result"],"dataArray":[[4],["x",5]]}]`))
	f.Add([]byte(`[`))
	// MultiDatastreams (18-088 §9): array results; a group names one stream, never both
	f.Add([]byte(`[{"MultiDatastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[["2025-08-27T12:00:00+05:00",[1001480,8.9]],["2025-08-27T18:00:00+05:00",[950000]]]}]`))
	f.Add([]byte(`[{"MultiDatastream":{"@iot.id":1},"Datastream":{"@iot.id":1},"components":["result"],"dataArray":[[[1]]]}]`))
	f.Add([]byte(`[{"MultiDatastream":{"@iot.id":0},"components":["result"],"dataArray":[[[null,"x",{}]]]}]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		obs, errs, err := DecodeDataArray(b)
		if err != nil {
			if obs != nil {
				t.Fatal("observations returned with a request error")
			}
			return
		}
		if len(obs) != len(errs) {
			t.Fatalf("%d observations, %d row errors", len(obs), len(errs))
		}
		if cap(obs) != len(obs) || cap(errs) != len(errs) { // made at their size, not grown
			t.Fatalf("%d rows in slices of %d and %d", len(obs), cap(obs), cap(errs))
		}
		for i, o := range obs {
			if errs[i] != nil {
				continue
			}
			if (o.DatastreamID > 0) == (o.MultiDatastreamID > 0) || o.DatastreamID < 0 || o.MultiDatastreamID < 0 || (o.ResultNum == nil) == (o.ResultJSON == nil) || o.PhenEnd.Before(o.PhenStart) {
				t.Fatalf("row %d accepted but invalid: %+v", i, o)
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"Things", "Things(1)", "Things(1)/Datastreams", "Observations(1)/Datastream/Thing/name/$value",
		"Things('12')/Locations/$ref", "Things(1)/Datastreams(2)/Observations", "Things(1)/Locations(3)/$ref", "Datastreams(1)/Sensor/$ref", "$batch", "Things(1", "Things(1)/nope", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		r, err := parsePath(p)
		if err != nil {
			return
		}
		if r.Special != "" {
			return
		}
		if len(r.Segs) == 0 {
			t.Fatalf("%q: parsed with no segments", p)
		}
		for _, s := range r.Segs {
			if _, ok := sensing.Sets[s.Set]; !ok {
				t.Fatalf("%q: unknown set %q accepted", p, s.Set)
			}
			if s.HasID && s.ID <= 0 {
				t.Fatalf("%q: id %d accepted", p, s.ID)
			}
		}
	})
}

func FuzzDecodeEntity(f *testing.F) {
	f.Add("Things", []byte(`{"name":"x","description":"y","Locations":[{"@iot.id":1}],"Datastreams":[{"name":"d","description":"d","observationType":"o","unitOfMeasurement":{},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":2}}]}`))
	f.Add("Observations", []byte(`{"result":1,"phenomenonTime":"2025-01-01T00:00:00Z/2025-01-02T00:00:00Z","Datastream":{"@iot.id":"3"}}`))
	f.Add("Locations", []byte(`{"name":"x","description":"y","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[1,2]}}`))
	// what the boundary refuses (sensing.CheckJSON, place.CheckGeoJSON, the size limits)
	f.Add("Things", []byte("{\"name\":\"a\xffb\",\"description\":\"y\"}"))
	f.Add("Things", []byte(`{"name":"a","name":"b","description":"y"}`))
	f.Add("Things", []byte(`{"name":"a\u0000","description":"y","properties":{"x":1e400}}`))
	f.Add("Locations", []byte(`{"name":"x","description":"y","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[999,999]}}`))
	f.Add("FeaturesOfInterest", []byte(`{"name":"x","description":"y","encodingType":"application/geo+json","feature":{"type":"Polygon","coordinates":[[[0,0],[1,1],[1,0],[0,1],[0,0]]]}}`))
	f.Fuzz(func(t *testing.T, set string, b []byte) {
		if _, ok := sensing.Sets[set]; !ok {
			return
		}
		raw, err := checkJSON(b) // as every path does first
		if err != nil {
			return
		}
		e, err := decodeEntity(set, raw, true)
		if err != nil {
			return
		}
		if set == sensing.Observations && e.Obs == nil {
			t.Fatal("observation without typed form")
		}
		for k, v := range e.Props {
			p, _ := sensing.Sets[set].Prop(k)
			var n int
			switch v := v.(type) {
			case string:
				if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
					t.Fatalf("%s.%s accepted: %q", set, k, v)
				}
				n = len(v)
			case json.RawMessage:
				n = len(v)
			}
			if n > sensing.LimitOf(p) {
				t.Fatalf("%s.%s of %d bytes accepted", set, k, n)
			}
			if p.Kind == sensing.KindGeometry && place.CheckGeoJSON(v.(json.RawMessage)) != nil {
				t.Fatalf("%s.%s accepted: %s", set, k, v)
			}
		}
	})
}

func FuzzDecodeIngestMessage(f *testing.F) {
	for _, s := range []string{`42.5`, `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":1001480}`, `{"result":"x"}`, `{"result":1,"Datastream":{"@iot.id":1}}`, `null`, `[1]`, `1e999`,
		"{\"result\":\"\xff\"}", `{"result":1,"result":2}`, `{"result":"\u0000"}`, `{"result":{"a":[1e400]}}`} {
		f.Add([]byte(s))
	}
	now := time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := DecodeIngestMessage(b, now)
		if err != nil {
			return
		}
		if (o.ResultNum == nil) == (o.ResultJSON == nil) || o.PhenText == "" || o.PhenEnd.Before(o.PhenStart) {
			t.Fatalf("accepted but invalid: %+v", o)
		}
		if o.ResultJSON != nil && (sensing.CheckJSON(o.ResultJSON) != nil || len(o.ResultJSON) > sensing.MaxResultBytes) {
			t.Fatalf("accepted result %q", o.ResultJSON)
		}
	})
}

// FuzzRefBody: the body of a $ref write never panics the decoder; an accepted one names a
// positive id, and one given by URL names an entity of the navigation property's set.
func FuzzRefBody(f *testing.F) {
	for _, s := range []string{`{"@iot.id":3}`, `{"@iot.id":"3"}`, `{"@iot.selfLink":"http://h/v1.1/Locations(3)"}`,
		`{"@odata.id":"Locations('3')"}`, `{"@odata.id":"../Locations(3)?x=1"}`, `{"@iot.id":0}`, `{"@iot.id":3,"x":1}`,
		`{"@iot.selfLink":"Things(3)"}`, `{"@iot.selfLink":"%zz"}`, `[]`, `null`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := refBody(b, sensing.Locations)
		if err != nil {
			return
		}
		if id <= 0 {
			t.Fatalf("%s: id %d accepted", b, id)
		}
		if bytes.Contains(b, []byte("Link")) || bytes.Contains(b, []byte("odata")) {
			if !bytes.Contains(b, []byte("Locations(")) {
				t.Fatalf("%s: a URL not of a Location accepted", b)
			}
		}
	})
}

// FuzzPrune: a JSON value pruned by a nested $select is valid JSON, null only when the value
// is, and an object holding no member that was not selected.
func FuzzPrune(f *testing.F) {
	for _, s := range [][2]string{{`{"river":"Indus","site":{"name":"x","code":7}}`, "river,site/name"},
		{`{"list":[1,{"a":2}]}`, "list/1/a,list/9"}, {`null`, "a"}, {`"text"`, "a"}, {`{"a":1}`, "a,a/b"}, {`[`, "a"}} {
		f.Add([]byte(s[0]), s[1])
	}
	f.Fuzz(func(t *testing.T, raw []byte, paths string) {
		if !json.Valid(raw) {
			return
		}
		sel := &selection{}
		for _, p := range strings.Split(paths, ",") {
			if p != "" {
				sel.add(strings.Split(p, "/"))
			}
		}
		if sel.all || len(sel.keys) == 0 {
			return
		}
		out := prune(raw, sel)
		if !json.Valid(out) {
			t.Fatalf("prune(%s, %q) = %s, not JSON", raw, paths, out)
		}
		var m map[string]json.RawMessage
		if string(bytes.TrimSpace(raw)) == "null" {
			if string(out) != "null" {
				t.Fatalf("prune(null) = %s", out)
			}
			return
		}
		if err := json.Unmarshal(out, &m); err != nil || m == nil {
			t.Fatalf("prune(%s, %q) = %s, not an object", raw, paths, out)
		}
		for k := range m {
			if sel.sub[k] == nil {
				t.Fatalf("prune(%s, %q) kept %q", raw, paths, k)
			}
		}
	})
}

// FuzzDecodeUpdate: whatever the body, an update that decodes links existing entities only —
// no inline entity gets through to the store — and a refusal is Invalid, never a panic.
func FuzzDecodeUpdate(f *testing.F) {
	f.Add("Things", []byte(`{"name":"x","Locations":[{"@iot.id":1}]}`), false)
	f.Add("Things", []byte(`{"Locations":[{"name":"l","description":"d","encodingType":"e","location":{"type":"Point","coordinates":[1,2]}}]}`), false)
	f.Add("Observations", []byte(`{"result":2,"FeatureOfInterest":{"@iot.id":"4","@iot.selfLink":"x"}}`), true)
	f.Add("Datastreams", []byte(`{"Sensor":{"name":"s"},"Thing":{"@iot.id":1}}`), false)
	f.Add("Locations", []byte(`{"Things":{"@iot.id":1}}`), false)
	f.Add("Sensors", []byte(`{"Datastreams":[{"@iot.id":1},{"@iot.id":2,"name":"x"}]}`), true)
	f.Fuzz(func(t *testing.T, set string, b []byte, replace bool) {
		if _, ok := sensing.Sets[set]; !ok {
			return
		}
		e, err := decodeUpdate(set, b, "PATCH", replace)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("refusal of kind %v: %v", apperr.KindOf(err), err)
			}
			return
		}
		for nav, linked := range e.Links {
			for _, c := range linked {
				if !c.Ref {
					t.Fatalf("%s: an inline %s got through: %s", nav, c.Set, b)
				}
			}
		}
	})
}

// FuzzMQTTObservation: an Observation published on a SensorThings topic never panics the
// decoder; what it takes for the durable batch path belongs to exactly one Datastream or one
// MultiDatastream — the one the topic names, when it names one.
func FuzzMQTTObservation(f *testing.F) {
	for _, c := range [][2]string{
		{"v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":1001480}`},
		{"v1.1/MultiDatastreams(3)/Observations", `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":[1001480,8.9]}`},
		{"v1.1/Observations", `{"result":[1],"MultiDatastream":{"@iot.id":2}}`},
		{"v1.1/Observations", `{"result":1,"Datastream":{"@iot.id":1},"MultiDatastream":{"@iot.id":2}}`},
		{"v1.1/MultiDatastreams(3)/Observations", `{"result":[1],"Datastream":{"@iot.id":1}}`},
		{"v1.1/FeaturesOfInterest(4)/Observations", `{"result":1,"Datastream":{"@iot.id":1}}`},
		{"v1.1/MultiDatastreams(0)/Observations", `{}`},
		{"v1.1/MultiDatastreams(3)/Observations?$select=result", `{"result":[1]}`},
	} {
		f.Add(c[0], c[1])
	}
	s := &Server{MaxBody: 1 << 16}
	topicID := regexp.MustCompile(`^v1\.1/(Multi)?Datastreams\((\d+)\)/Observations$`)
	f.Fuzz(func(t *testing.T, topic, body string) {
		o, ok, err := s.MQTTObservation(topic, []byte(body))
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("ok with an error: %v", err)
		}
		if (o.DatastreamID > 0) == (o.MultiDatastreamID > 0) || o.DatastreamID < 0 || o.MultiDatastreamID < 0 {
			t.Fatalf("taken with Datastream %d and MultiDatastream %d", o.DatastreamID, o.MultiDatastreamID)
		}
		if m := topicID.FindStringSubmatch(topic); m != nil {
			id, _ := strconv.ParseInt(m[2], 10, 64)
			if got := map[bool]int64{true: o.MultiDatastreamID, false: o.DatastreamID}[m[1] != ""]; got != id {
				t.Fatalf("topic %q names %d, taken for %d", topic, id, got)
			}
		}
	})
}
