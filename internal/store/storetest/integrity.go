package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// setNames are the eight entity sets, in an order that creates what later ones link to.
var setNames = []string{sensing.Things, sensing.Locations, sensing.HistoricalLocations, sensing.Sensors,
	sensing.ObservedProperties, sensing.FeaturesOfInterest, sensing.Datastreams, sensing.Observations}

// fresh holds, per entity set, an entity the suite can create on a seeded store (seed).
var fresh = map[string]string{
	sensing.Things:              `{"name":"t","description":"d"}`,
	sensing.Locations:           `{"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74,31]}}`,
	sensing.HistoricalLocations: `{"time":"2025-08-27T12:00:00Z","Thing":{"@iot.id":1},"Locations":[{"@iot.id":1}]}`,
	sensing.Sensors:             `{"name":"s","description":"d","encodingType":"text/html","metadata":"x"}`,
	sensing.ObservedProperties:  `{"name":"o","definition":"x","description":"d"}`,
	sensing.FeaturesOfInterest:  `{"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[74,31]}}`,
	sensing.Datastreams: `{"name":"ds","description":"d","observationType":"x","unitOfMeasurement":{"name":"cusec"},
		"Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`,
	sensing.Observations: `{"phenomenonTime":"2025-08-30T00:00:00Z","result":5,"Datastream":{"@iot.id":1}}`,
}

// testIDsNeverReused: an id, once given, is never given again, even after its entity was
// deleted (the newest one: SQLite without AUTOINCREMENT gave max(id)+1), so an old URL or
// MQTT topic never names another entity. Every entity set, by create and (Observations) by
// the ingest path.
func testIDsNeverReused(t *testing.T, s Stores) {
	seed(t, s)
	for _, set := range setNames {
		js, ok := fresh[set]
		if !ok {
			t.Errorf("no entity of %s to create", set)
			continue
		}
		a, err := s.Entities.Create(ctx(), entity(t, set, js))
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		if err := s.Entities.Delete(ctx(), set, a); err != nil {
			t.Fatalf("%s: delete %d: %v", set, a, err)
		}
		b, err := s.Entities.Create(ctx(), entity(t, set, js))
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		if b <= a {
			t.Errorf("%s: created %d, deleted it, the next one got %d: an id used again", set, a, b)
		}
	}
	ids, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Entities.Delete(ctx(), sensing.Observations, ids[0]); err != nil {
		t.Fatal(err)
	}
	again, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if again[0] <= ids[0] {
		t.Errorf("ingest: observation %d deleted, the next one got %d", ids[0], again[0])
	}
}

// checkSpans holds every Datastream's phenomenonTime and resultTime to what its Observations
// say (SensorThings 1.1, 8.2.4: the spans of its Observations' times; null with none): the
// expected value is computed from the Observations as read back, not written down.
func checkSpans(t *testing.T, s Stores, after string) {
	t.Helper()
	for _, ds := range list(t, s, sensing.Datastreams, nil, "$top=1000").Entities {
		var ps, pe, rs, re time.Time
		page := list(t, s, sensing.Observations, under(sensing.Datastreams, ds.ID, "Observations"), "$top=1000")
		for _, o := range page.Entities {
			a, b, err := sensing.ParseTimeOrInterval(o.Props["phenomenonTime"].(string))
			if err != nil {
				t.Fatal(err)
			}
			if ps.IsZero() || a.Before(ps) {
				ps = a
			}
			if pe.IsZero() || b.After(pe) {
				pe = b
			}
			if txt, ok := o.Props["resultTime"].(string); ok {
				r, _, err := sensing.ParseTimeOrInterval(txt)
				if err != nil {
					t.Fatal(err)
				}
				if rs.IsZero() || r.Before(rs) {
					rs = r
				}
				if re.IsZero() || r.After(re) {
					re = r
				}
			}
		}
		// the span as the Datastream gives it, as instants: "" for null
		span := func(v any) string {
			txt, ok := v.(string)
			if !ok {
				return ""
			}
			a, b, err := sensing.ParseTimeOrInterval(txt)
			if err != nil {
				t.Fatalf("Datastream(%d): span %q: %v", ds.ID, txt, err)
			}
			return a.UTC().Format(time.RFC3339Nano) + "/" + b.UTC().Format(time.RFC3339Nano)
		}
		want := func(a, b time.Time) string {
			if a.IsZero() {
				return ""
			}
			return a.UTC().Format(time.RFC3339Nano) + "/" + b.UTC().Format(time.RFC3339Nano)
		}
		got := get(t, s, sensing.Datastreams, ds.ID, "")
		if g, w := span(got.Props["phenomenonTime"]), want(ps, pe); g != w {
			t.Errorf("after %s: Datastream(%d).phenomenonTime %q, its %d Observations say %q", after, ds.ID, g, len(page.Entities), w)
		}
		if g, w := span(got.Props["resultTime"]), want(rs, re); g != w {
			t.Errorf("after %s: Datastream(%d).resultTime %q, its %d Observations say %q", after, ds.ID, g, len(page.Entities), w)
		}
	}
}

// testDerivedSpans: a Datastream's phenomenonTime and resultTime stay those of its
// Observations after every kind of write — creates (ingest, create, deep insert), updates (an
// Observation's times PATCHed outward, inward, to null; moved to another Datastream), deletes
// (at the edge of a span and inside it), and deletes by cascade (a FeatureOfInterest with
// Observations in two Datastreams, a Thing with its Datastreams).
func testDerivedSpans(t *testing.T, s Stores) {
	seed(t, s) // Datastream 1: Observations 1-4, Datastream 2: 5-6, no result times
	patch := func(set string, id int64, props map[string]any) func() error {
		return func() error {
			return s.Entities.Update(ctx(), &sensing.Entity{Set: set, ID: id, Props: props, Links: map[string][]*sensing.Entity{}}, false)
		}
	}
	del := func(set string, id int64) func() error {
		return func() error { return s.Entities.Delete(ctx(), set, id) }
	}
	create := func(set, js string) func() error {
		return func() error { _, err := s.Entities.Create(ctx(), entity(t, set, js)); return err }
	}
	var foi int64
	steps := []struct {
		name string
		do   func() error
	}{
		{"ingest with result times", func() error {
			o1, o2 := obs(1, "2025-08-24T00:00:00Z", 1), obs(2, "2025-08-29T00:00:00Z/2025-08-30T00:00:00Z", 2)
			r1, r2 := time.Date(2025, 8, 24, 1, 0, 0, 0, time.UTC), time.Date(2025, 8, 30, 1, 0, 0, 0, time.UTC)
			o1.ResultTime, o1.ResultTimeText = &r1, r1.Format(time.RFC3339)
			o2.ResultTime, o2.ResultTimeText = &r2, r2.Format(time.RFC3339)
			_, errs, err := s.Entities.Ingest(ctx(), []sensing.Observation{o1, o2}) // 7, 8
			if err == nil {
				err = errors.Join(errs...)
			}
			return err
		}},
		{"create with a FeatureOfInterest", func() error {
			var err error
			foi, err = s.Entities.Create(ctx(), entity(t, sensing.FeaturesOfInterest, fresh[sensing.FeaturesOfInterest]))
			if err != nil {
				return err
			}
			for _, js := range []string{ // 9 in Datastream 1, 10 in Datastream 2, both the latest of theirs
				`{"phenomenonTime":"2025-09-05T00:00:00Z","resultTime":"2025-09-06T00:00:00Z","result":3,"Datastream":{"@iot.id":1},"FeatureOfInterest":{"@iot.id":%d}}`,
				`{"phenomenonTime":"2025-09-07T00:00:00Z","resultTime":"2025-09-08T00:00:00Z","result":4,"Datastream":{"@iot.id":2},"FeatureOfInterest":{"@iot.id":%d}}`,
			} {
				if err := create(sensing.Observations, fmt.Sprintf(js, foi))(); err != nil {
					return err
				}
			}
			return nil
		}},
		{"PATCH phenomenonTime outward", patch(sensing.Observations, 1, map[string]any{"phenomenonTime": "2025-08-01T00:00:00Z"})},
		{"PATCH the edge phenomenonTime inward", patch(sensing.Observations, 1, map[string]any{"phenomenonTime": "2025-08-26T00:00:00Z"})},
		{"PATCH the edge resultTime inward", patch(sensing.Observations, 7, map[string]any{"resultTime": "2025-08-31T00:00:00Z"})},
		{"PATCH a resultTime to null", patch(sensing.Observations, 9, map[string]any{"resultTime": nil})},
		{"move the edge Observation to another Datastream", func() error {
			return s.Entities.Update(ctx(), &sensing.Entity{Set: sensing.Observations, ID: 8, Props: map[string]any{},
				Links: map[string][]*sensing.Entity{"Datastream": {{Set: sensing.Datastreams, ID: 1, Ref: true}}}}, false)
		}},
		{"PATCH a Datastream's Observations (the edge one of another Datastream joins it)", func() error {
			return s.Entities.Update(ctx(), &sensing.Entity{Set: sensing.Datastreams, ID: 2, Props: map[string]any{},
				Links: map[string][]*sensing.Entity{"Observations": {{Set: sensing.Observations, ID: 1, Ref: true}}}}, false)
		}},
		{"create a Datastream linking an existing Observation", create(sensing.Datastreams, `{"name":"ds","description":"d","observationType":"x",
			"unitOfMeasurement":{"name":"cusec"},"Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1},
			"Observations":[{"@iot.id":3}]}`)},
		{"delete an Observation inside the span", del(sensing.Observations, 2)},
		{"delete the Observation at the edge", del(sensing.Observations, 4)},
		{"delete a FeatureOfInterest (cascade into two Datastreams)", func() error { return del(sensing.FeaturesOfInterest, foi)() }},
		{"delete every Observation of Datastream 2", func() error {
			for _, o := range list(t, s, sensing.Observations, under(sensing.Datastreams, 2, "Observations"), "").Entities {
				if err := del(sensing.Observations, o.ID)(); err != nil {
					return err
				}
			}
			return nil
		}},
		{"deep insert a Datastream with Observations", create(sensing.Datastreams, `{"name":"ds","description":"d","observationType":"x",
			"unitOfMeasurement":{"name":"cusec"},"Thing":{"@iot.id":2},"Sensor":{"@iot.id":2},"ObservedProperty":{"@iot.id":2},
			"Observations":[{"phenomenonTime":"2025-07-01T00:00:00Z","resultTime":"2025-07-02T00:00:00Z","result":1},{"phenomenonTime":"2025-07-03T00:00:00Z","result":2}]}`)},
		{"delete a Thing (cascade: its Datastreams)", del(sensing.Things, 1)},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		checkSpans(t, s, st.name)
	}
	if n := len(list(t, s, sensing.Datastreams, nil, "").Entities); n != 2 {
		t.Errorf("%d Datastreams left, want 2 (the seeded one of Thing 2 and the deep-inserted one; Thing 1 took two)", n)
	}
}
