package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A store made before the MultiDatastream migration (0009: observations copied into a table
// whose datastream_id may be NULL) keeps every observation, id and index, and takes
// Observations of MultiDatastreams after it.
func TestMigrateToMultiDatastreams(t *testing.T) {
	ctx := context.Background()
	path, exec, raw := storeBefore(t, "_multidatastreams")
	exec(`INSERT INTO things (id, name, description) VALUES (1, 'Khanki', 'gauge')`)
	exec(`INSERT INTO locations (id, name, description, encoding_type, location) VALUES (1, 'Khanki', 'site', 'application/geo+json', '{"type":"Point","coordinates":[73.97,32.4]}')`)
	exec(`INSERT INTO thing_locations VALUES (1, 1)`)
	exec(`INSERT INTO sensors (id, name, description, encoding_type, metadata) VALUES (1, 's', 's', 'text/html', '"m"')`)
	exec(`INSERT INTO observed_properties (id, name, definition, description) VALUES (1, 'Discharge', 'd', 'd'), (2, 'Level', 'l', 'l')`)
	exec(`INSERT INTO datastreams (id, name, description, unit_of_measurement, observation_type, thing_id, sensor_id, observed_property_id)
		VALUES (1, 'd', 'd', '{"symbol":"[cft_i]/s"}', 'OM_Measurement', 1, 1, 1)`)
	for i, id := range []int{3, 10, 42} { // ids with gaps, as deletes leave them
		exec(`INSERT INTO observations (id, datastream_id, phen_start, phen_end, phen_text, result_num, qc) VALUES (?, 1, ?, ?, ?, ?, 1)`,
			id, int64(i)*3600e6, int64(i)*3600e6, fmt.Sprintf("1970-01-01T0%d:00:00Z", i), float64(100*i))
	}
	// the newest deleted: its id is not to be given again, after the migration either
	exec(`DELETE FROM observations WHERE id = 42`)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	all := &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: 1, Nav: "Observations"}, Opts: &odata.Options{}, Top: 100}
	p, err := s.List(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range p.Entities {
		got = append(got, fmt.Sprintf("%d:%v:%v:%s", e.ID, e.Props["result"], e.Props[sensing.DatastreamIDProp], e.Props["resultQuality"]))
	}
	if want := `3:0:1:{"flag":"suspect"} 10:100:1:{"flag":"suspect"}`; strings.Join(got, " ") != want {
		t.Errorf("observations after the migration: %s, want %s", strings.Join(got, " "), want)
	}
	var idx int
	if err := db.r.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
		('observations_datastream_time', 'observations_foi', 'observations_multi_datastream_time')`).Scan(&idx); err != nil || idx != 3 {
		t.Errorf("indexes on observations after the migration: %d %v", idx, err)
	}
	var fk int
	if err := db.r.QueryRow(`SELECT count(*) FROM pragma_foreign_key_check`).Scan(&fk); err != nil || fk != 0 {
		t.Errorf("foreign key check: %d violations, %v", fk, err)
	}
	// a MultiDatastream and an Observation of it; ids go on after the largest ever given (42)
	storetest.IngestIntoNewMultiDatastream(t, s, "1970-01-01T05:00:00Z", 43)
	// a row with neither stream, or both, is refused by the table itself
	for _, q := range []string{
		`INSERT INTO observations (datastream_id, multi_datastream_id, phen_start, phen_end, phen_text) VALUES (NULL, NULL, 0, 0, 'x')`,
		`INSERT INTO observations (datastream_id, multi_datastream_id, phen_start, phen_end, phen_text) VALUES (1, 1, 0, 0, 'x')`,
	} {
		if _, err := db.w.Exec(q); err == nil || !strings.Contains(err.Error(), "CHECK") {
			t.Errorf("%s: %v, want a CHECK failure", q, err)
		}
	}
}

// The read of a MultiDatastream's Observations in a time window uses its index, as the
// Datastream's does (TestObservationWindowUsesIndex).
func TestMultiObservationWindowUsesIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	opts, err := odata.ParseOptions(map[string][]string{"$orderby": {"phenomenonTime desc"}, "$filter": {"phenomenonTime ge 2025-01-01T00:00:00Z"}})
	if err != nil {
		t.Fatal(err)
	}
	text, args, err := s.PageSQL(&sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.MultiDatastreams, ID: 1, Nav: "Observations"}, Opts: opts, Top: 100})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		rows.Scan(&id, &parent, &notused, &detail)
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX observations_multi_datastream_time (multi_datastream_id=?") || strings.Contains(p, "TEMP B-TREE") {
		t.Errorf("plan of a MultiDatastream's time window: %s", p)
	}
}

// storeBefore makes a new SQLite file as the migrations before the one named *suffix left it,
// and returns its path, a function that runs a statement on it, and the connection (to close
// before Open migrates it); for the tests of what a migration does to data already there.
func storeBefore(t *testing.T, suffix string) (string, func(q string, args ...any), *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	storetest.MigratedBefore(t, migrations, sqlq.SQLiteDDL, suffix, exec)
	return path, exec, raw
}
