package storetest

import (
	"context"
	"testing"

	"github.com/rabta/rabta/internal/store/sqlq"
)

// SeedDatastreams makes Datastreams with the given ids, owned by organisation org (with one
// Thing, Sensor and ObservedProperty of org for all of them), straight in the store: for tests
// whose rules name datastreams by id and need no observations (rules must name datastreams
// that exist and that their organisation owns). Ids already taken fail the test. It does not
// move the stores' id sequences: use it on stores where nothing else creates datastreams.
func SeedDatastreams(t testing.TB, eng sqlq.Engine, org string, ids ...int64) {
	t.Helper()
	err := eng.Write(context.Background(), func(tx sqlq.Tx) error {
		var thing, sensor, prop int64
		for _, q := range []struct {
			sql string
			out *int64
		}{
			{"INSERT INTO things (name, description, organisation) VALUES ('seeded', 'seeded by a test', ?) RETURNING id", &thing},
			{"INSERT INTO sensors (name, description, encoding_type, metadata, organisation) VALUES ('seeded', 'seeded by a test', 'text/plain', '', ?) RETURNING id", &sensor},
			{"INSERT INTO observed_properties (name, definition, description, organisation) VALUES ('seeded', 'urn:seeded', 'seeded by a test', ?) RETURNING id", &prop},
		} {
			if err := tx.QueryRow(context.Background(), q.sql, org).Scan(q.out); err != nil {
				return err
			}
		}
		for _, id := range ids {
			if _, err := tx.Exec(context.Background(), `INSERT INTO datastreams (id, name, description, unit_of_measurement, observation_type, thing_id, sensor_id, observed_property_id, organisation)
				VALUES (?, 'seeded', 'seeded by a test', '{}', 'http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement', ?, ?, ?, ?)`, id, thing, sensor, prop, org); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("seed datastreams %v of %s: %v", ids, org, err)
	}
}
