package postgres

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A store made before the MultiDatastream migration (0009: the partitioned observations
// table altered in place) keeps its observations in their partitions, and takes Observations
// of MultiDatastreams after it; the table refuses a row with neither stream or both.
func TestMigrateToMultiDatastreams(t *testing.T) {
	ctx := context.Background()
	dsn, exec, c := storeBefore(t, "_multidatastreams")
	jan, feb := month(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
	exec(fmt.Sprintf(`CREATE TABLE %s PARTITION OF observations FOR VALUES FROM (%d) TO (%d)`, partitionName(jan), jan, feb))
	exec(`INSERT INTO things (id, name, description) VALUES (1, 'Khanki', 'gauge')`)
	exec(`INSERT INTO locations (id, name, description, encoding_type, location) VALUES (1, 'Khanki', 'site', 'application/geo+json', '{"type":"Point","coordinates":[73.97,32.4]}')`)
	exec(`INSERT INTO thing_locations VALUES (1, 1)`)
	exec(`INSERT INTO sensors (id, name, description, encoding_type, metadata) VALUES (1, 's', 's', 'text/html', '"m"')`)
	exec(`INSERT INTO observed_properties (id, name, definition, description) VALUES (1, 'Discharge', 'd', 'd'), (2, 'Level', 'l', 'l')`)
	exec(`INSERT INTO datastreams (id, name, description, unit_of_measurement, observation_type, thing_id, sensor_id, observed_property_id)
		VALUES (1, 'd', 'd', '{"symbol":"[cft_i]/s"}', 'OM_Measurement', 1, 1, 1)`)
	for i := 0; i < 3; i++ {
		exec(fmt.Sprintf(`INSERT INTO observations (datastream_id, phen_start, phen_end, phen_text, result_num) VALUES (1, %d, %d, 'x', %d)`, jan+int64(i), jan+int64(i), 100*i))
	}

	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	s := sqlq.NewEntities(db, nil)
	p, err := s.List(ctx, &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: 1, Nav: "Observations"}, Opts: &odata.Options{}, Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Entities {
		got = append(got, fmt.Sprintf("%d:%v:%v", e.ID, e.Props["result"], e.Props[sensing.DatastreamIDProp]))
	}
	if strings.Join(got, " ") != "1:0:1 2:100:1 3:200:1" {
		t.Errorf("observations after the migration: %v", got)
	}
	mid := storetest.IngestIntoNewMultiDatastream(t, s, "2025-01-01T05:00:00Z", 4)
	for _, q := range []string{
		fmt.Sprintf(`INSERT INTO observations (datastream_id, multi_datastream_id, phen_start, phen_end, phen_text) VALUES (NULL, NULL, %d, %d, 'x')`, jan, jan),
		fmt.Sprintf(`INSERT INTO observations (datastream_id, multi_datastream_id, phen_start, phen_end, phen_text) VALUES (1, %d, %d, %d, 'x')`, mid, jan, jan),
	} {
		if _, err := c.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "observations_one_stream") {
			t.Errorf("%s: %v, want the observations_one_stream check to refuse it", q, err)
		}
	}
}

// Retain drops whole months of a MultiDatastream's Observations too, and its phenomenonTime
// and resultTime follow what is left.
func TestRetainMultiDatastream(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, storetest.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := sqlq.NewEntities(db, nil)
	unit := map[string]any{"name": "metre", "symbol": "m", "definition": "d"}
	if _, err := s.Create(ctx, &sensing.Entity{Set: sensing.MultiDatastreams, Props: map[string]any{"name": "m", "description": "m",
		"observationType": sensing.ComplexObservation, "unitOfMeasurements": []any{unit, unit}, "multiObservationDataTypes": []any{"t", "t"}},
		Links: map[string][]*sensing.Entity{
			"Thing": {{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"}, Links: map[string][]*sensing.Entity{
				"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}}}}},
			"Sensor": {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
			"ObservedProperties": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "a", "definition": "d", "description": "d"}},
				{Set: sensing.ObservedProperties, Props: map[string]any{"name": "b", "definition": "d", "description": "d"}}},
		}}); err != nil {
		t.Fatal(err)
	}
	var obs []sensing.Observation
	for _, ts := range []string{"2025-01-15T00:00:00Z", "2025-02-15T00:00:00Z", "2025-03-15T00:00:00Z"} {
		tm, _ := time.Parse(time.RFC3339, ts)
		rt := tm.Add(time.Hour)
		obs = append(obs, sensing.Observation{MultiDatastreamID: 1, PhenStart: tm, PhenEnd: tm, PhenText: ts, ResultTime: &rt, ResultTimeText: rt.Format(time.RFC3339), ResultJSON: []byte(`[1,2]`)})
	}
	if _, errs, err := s.Ingest(ctx, obs); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if _, err := db.Retain(ctx, time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	md, err := s.Get(ctx, &sensing.Query{Set: sensing.MultiDatastreams, ID: 1, Opts: &odata.Options{}})
	if err != nil {
		t.Fatal(err)
	}
	if md.Props["phenomenonTime"] != "2025-02-15T00:00:00Z/2025-03-15T00:00:00Z" || md.Props["resultTime"] != "2025-02-15T01:00:00Z/2025-03-15T01:00:00Z" {
		t.Errorf("MultiDatastream times after Retain: %v / %v", md.Props["phenomenonTime"], md.Props["resultTime"])
	}
}

// storeBefore makes a fresh schema (storetest.PostgresSchema) as the migrations before the
// one named *suffix left it, and returns its DSN, a function that runs a statement on it
// (simple protocol: several statements at once, values in the text) and its connection; for
// the tests of what a migration does to data already there.
func storeBefore(t *testing.T, suffix string) (string, func(q string, args ...any), *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(ctx) })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	storetest.MigratedBefore(t, migrations, sqlq.PostgresDDL, suffix, exec)
	return dsn, exec, c
}
