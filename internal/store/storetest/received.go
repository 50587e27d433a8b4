package storetest

import (
	"testing"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Migration 0025 (what a receiving node received, agreement by agreement) on a store that
// received before it: ReceivedBeforeUpgrade makes, on eng, a remote Datastream received
// from islamabad under its agreement 7 (the provider's Datastream 3) and returns its id; the
// caller then undoes 0025 (drops fed_received and its schema_migrations row) and sets the
// Datastream's kept count to 42, as a node from before holds it; ReceivedAfterUpgrade checks
// what the migration filled in: the agreement, from its remote Datastreams, with the values
// they hold, its consumer organisation, and the state unknown (until the link next reaches
// the provider).

// ReceivedBeforeUpgrade makes the remote Datastream (see above) and returns its id.
func ReceivedBeforeUpgrade(t *testing.T, eng sqlq.Engine) int64 {
	t.Helper()
	ds := &sensing.Entity{Set: sensing.Datastreams, Props: map[string]any{"name": "islamabad: q", "description": "q",
		"observationType":   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		"unitOfMeasurement": map[string]any{"name": "cusec", "symbol": "[cft_i]/s", "definition": "q"},
		"properties":        map[string]any{"remote": map[string]any{"node": "islamabad", "agreement": 7, "datastream": 3, "resolution": "raw"}}}, Links: map[string][]*sensing.Entity{
		"Thing":            {{Set: sensing.Things, Props: map[string]any{"name": "Khanki", "description": "gauge"}, Links: map[string][]*sensing.Entity{}}},
		"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "text/html", "metadata": "x"}, Links: map[string][]*sensing.Entity{}}},
		"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "Discharge", "definition": "d", "description": "d"}, Links: map[string][]*sensing.Entity{}}},
	}}
	id, err := sqlq.NewEntities(eng, nil).Create(ctx(), ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlq.NewFederation(eng).SaveRemote(ctx(), "islamabad", 7, 3, id); err != nil {
		t.Fatal(err)
	}
	return id
}

// ReceivedAfterUpgrade checks what migration 0025 filled in for Datastream id (see above).
func ReceivedAfterUpgrade(t *testing.T, eng sqlq.Engine, id int64) {
	t.Helper()
	rs, err := sqlq.NewFederation(eng).Received(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Provider != "islamabad" || rs[0].Agreement != 7 || rs[0].State != federation.ReceivedUnknown || rs[0].Values != 42 ||
		rs[0].ConsumerOrg != "admin" || rs[0].StateSince != nil || len(rs[0].Datastreams) != 1 || rs[0].Datastreams[0].ID != id || rs[0].Datastreams[0].Provider != 3 {
		t.Errorf("received after the upgrade: %+v (want islamabad's agreement 7, unknown, 42 values, consumer admin, Datastream %d holding its 3)", rs, id)
	}
}
