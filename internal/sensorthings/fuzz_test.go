package sensorthings

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

func FuzzDecodeDataArray(f *testing.F) {
	f.Add([]byte(`[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[["2025-08-27T12:00:00+05:00",1001480]]}]`))
	f.Add([]byte(`[{"Datastream":{"@iot.id":"7"},"components":["result","parameters","FeatureOfInterest/id"],"dataArray@iot.count":1,"dataArray":[[{"a":1},{"b":2},3]]}]`))
	f.Add([]byte(`[{"Datastream":{},"components":[],"dataArray":[]}]`))
	f.Add([]byte(`[`))
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
		for i, o := range obs {
			if errs[i] != nil {
				continue
			}
			if o.DatastreamID <= 0 || (o.ResultNum == nil) == (o.ResultJSON == nil) || o.PhenEnd.Before(o.PhenStart) {
				t.Fatalf("row %d accepted but invalid: %+v", i, o)
			}
		}
	})
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"Things", "Things(1)", "Things(1)/Datastreams", "Observations(1)/Datastream/Thing/name/$value",
		"Things('12')/Locations/$ref", "Things(1)/Datastreams(2)/Observations", "$batch", "Things(1", "Things(1)/nope", "/"} {
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
	f.Fuzz(func(t *testing.T, set string, b []byte) {
		if _, ok := sensing.Sets[set]; !ok {
			return
		}
		e, err := decodeEntity(set, b, true)
		if err != nil {
			return
		}
		if set == sensing.Observations && e.Obs == nil {
			t.Fatal("observation without typed form")
		}
	})
}

func FuzzDecodeIngestMessage(f *testing.F) {
	for _, s := range []string{`42.5`, `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":1001480}`, `{"result":"x"}`, `{"result":1,"Datastream":{"@iot.id":1}}`, `null`, `[1]`, `1e999`} {
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
