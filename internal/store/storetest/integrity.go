package storetest

import (
	"testing"

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
