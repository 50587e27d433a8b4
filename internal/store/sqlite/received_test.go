package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// A node that received under an agreement before migration 0025 lists it after the upgrade:
// from its remote Datastreams, with the values they hold, its consumer organisation, and the
// state unknown (until the link next reaches the provider). The database from before is made
// by undoing 0025 on a fresh one (dropping its table and its row).
func TestReceivedAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ds := &sensing.Entity{Set: sensing.Datastreams, Props: map[string]any{"name": "islamabad: q", "description": "q",
		"observationType":   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		"unitOfMeasurement": map[string]any{"name": "cusec", "symbol": "[cft_i]/s", "definition": "q"},
		"properties":        map[string]any{"remote": map[string]any{"node": "islamabad", "agreement": 7, "datastream": 3, "resolution": "raw"}}}, Links: map[string][]*sensing.Entity{
		"Thing":            {{Set: sensing.Things, Props: map[string]any{"name": "Khanki", "description": "gauge"}, Links: map[string][]*sensing.Entity{}}},
		"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "text/html", "metadata": "x"}, Links: map[string][]*sensing.Entity{}}},
		"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "Discharge", "definition": "d", "description": "d"}, Links: map[string][]*sensing.Entity{}}},
	}}
	id, err := sqlq.NewEntities(db, nil).Create(ctx, ds)
	if err != nil {
		t.Fatal(err)
	}
	if err := sqlq.NewFederation(db).SaveRemote(ctx, "islamabad", 7, 3, id); err != nil {
		t.Fatal(err)
	}
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DROP TABLE fed_received`, nil},
		{`INSERT OR REPLACE INTO observation_counts (datastream_id, n) VALUES (?, 42)`, []any{id}}, // what it holds
		{`DELETE FROM schema_migrations WHERE version = '0025_federation_received'`, nil},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := sqlq.NewFederation(db).Received(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Provider != "islamabad" || rs[0].Agreement != 7 || rs[0].State != federation.ReceivedUnknown || rs[0].Values != 42 ||
		rs[0].ConsumerOrg != "admin" || rs[0].StateSince != nil || len(rs[0].Datastreams) != 1 || rs[0].Datastreams[0].ID != id || rs[0].Datastreams[0].Provider != 3 {
		t.Errorf("received after the upgrade: %+v (want islamabad's agreement 7, unknown, 42 values, consumer admin, Datastream %d holding its 3)", rs, id)
	}
}
