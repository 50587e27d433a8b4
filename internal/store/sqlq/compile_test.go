package sqlq_test

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
	_ "modernc.org/sqlite"
)

// schema is the part of store/sqlite's Schema these tests use, copied so that this package's
// tests do not depend on the SQLite store compiling. The geometry functions are tested end to
// end in store/sqlite.
var schema = func() sqlq.Schema {
	str := func(c string) sqlq.Column { return sqlq.Column{Col: c, Kind: sensing.KindString} }
	js := func(c string) sqlq.Column { return sqlq.Column{Col: c, Kind: sensing.KindJSON} }
	geo := func(c string) sqlq.Column { return sqlq.Column{Col: c, Kind: sensing.KindGeometry} }
	id := sqlq.Column{Col: "id", Kind: sensing.KindID}
	return sqlq.Schema{
		sensing.Things: {Name: "things",
			Columns: map[string]sqlq.Column{"id": id, "name": str("name"), "description": str("description"), "properties": js("properties")},
			Links: map[string]sqlq.Link{
				"Locations":   {Target: sensing.Locations, Many: true, Via: &sqlq.Via{Table: "thing_locations", LocalCol: "thing_id", RemoteCol: "location_id"}},
				"Datastreams": {Target: sensing.Datastreams, Many: true, RemoteFK: "thing_id"},
			}},
		sensing.Locations: {Name: "locations",
			Columns: map[string]sqlq.Column{"id": id, "name": str("name"), "location": geo("location"), "properties": js("properties")},
			Links: map[string]sqlq.Link{
				"Things": {Target: sensing.Things, Many: true, Via: &sqlq.Via{Table: "thing_locations", LocalCol: "location_id", RemoteCol: "thing_id"}},
			}},
		sensing.Datastreams: {Name: "datastreams",
			Columns: map[string]sqlq.Column{"id": id, "name": str("name"), "description": str("description"), "unitOfMeasurement": js("unit_of_measurement"),
				"observedArea":   geo("observed_area"),
				"phenomenonTime": {Col: "phenomenon_time_start", End: "phenomenon_time_end", Kind: sensing.KindInterval},
				"properties":     js("properties")},
			Links: map[string]sqlq.Link{
				"Thing":            {Target: sensing.Things, LocalFK: "thing_id"},
				"ObservedProperty": {Target: sensing.ObservedProperties, LocalFK: "observed_property_id"},
				"Observations":     {Target: sensing.Observations, Many: true, RemoteFK: "datastream_id"},
			}},
		sensing.ObservedProperties: {Name: "observed_properties",
			Columns: map[string]sqlq.Column{"id": id, "name": str("name")},
			Links:   map[string]sqlq.Link{"Datastreams": {Target: sensing.Datastreams, Many: true, RemoteFK: "observed_property_id"}}},
		sensing.Observations: {Name: "observations",
			Columns: map[string]sqlq.Column{"id": id,
				"phenomenonTime": {Col: "phen_start", End: "phen_end", Kind: sensing.KindInterval},
				"resultTime":     {Col: "result_time_us", Kind: sensing.KindTime},
				"result":         {Col: "result_num", Text: "result_json", Kind: sensing.KindResult},
				"parameters":     js("parameters")},
			Links: map[string]sqlq.Link{"Datastream": {Target: sensing.Datastreams, LocalFK: "datastream_id"}}},
	}
}()

func us(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// testRows are the rows both dialects' tests query (testDB, pgTestConn).
func testRows() []string {
	return []string{
		`INSERT INTO things (id, name, description, properties) VALUES
		(1, 'alpha', 'first', '{"owner":{"name":"ann"},"depth":5,"active":true,"tags":["a","b"],"code":"07"}'),
		(2, 'beta', 'it''s second', '{"owner":{"name":"bob"},"depth":"deep","active":false}'),
		(3, 'Gamma', '', NULL)`,
		`INSERT INTO locations (id, name, description, encoding_type, location) VALUES
		(1, 'p1', '', 'application/geo+json', '{"type":"Point","coordinates":[30,10]}'),
		(2, 'p2', '', 'application/geo+json', '{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[5,5]}}')`,
		`INSERT INTO thing_locations VALUES (1, 1), (2, 2)`,
		`INSERT INTO sensors (id, name, description, encoding_type, metadata) VALUES (1, 's', '', 'text/plain', '""')`,
		`INSERT INTO observed_properties (id, name, definition, description) VALUES (1, 'temp', '', ''), (2, 'level', '', '')`,
		fmt.Sprintf(`INSERT INTO datastreams (id, name, description, unit_of_measurement, observation_type, phenomenon_time_start, phenomenon_time_end, properties, thing_id, sensor_id, observed_property_id) VALUES
		(1, 'ds-a', 'A', '{"symbol":"degC"}', 'x', %d, %d, '{"k":1}', 1, 1, 1),
		(2, 'ds-b', 'B', '{"symbol":"m"}', 'x', NULL, NULL, NULL, 2, 1, 2)`, us("2025-08-27T10:00:00Z"), us("2025-08-27T13:00:00Z")),
		fmt.Sprintf(`INSERT INTO observations (id, datastream_id, phen_start, phen_end, phen_text, result_time_us, result_num, result_json, parameters) VALUES
		(1, 1, %d, %d, '', %d, 21.5, NULL, '{"depth":1,"who":"ann"}'),
		(2, 1, %d, %d, '', NULL, 25, NULL, NULL),
		(3, 2, %d, %d, '', NULL, NULL, '"high"', '{"depth":"1"}'),
		(4, 2, %d, %d, '', NULL, NULL, 'true', NULL),
		(5, 2, %d, %d, '', NULL, NULL, '{"a":1,"b":"x"}', NULL),
		(6, 2, %d, %d, '', NULL, NULL, NULL, NULL)`,
			us("2025-08-27T10:00:00Z"), us("2025-08-27T10:00:00Z"), us("2025-08-27T10:00:00Z"),
			us("2025-08-27T12:00:00Z"), us("2025-08-27T13:00:00Z"),
			us("2025-08-28T00:00:00.5Z"), us("2025-08-28T00:00:00.5Z"),
			us("1969-12-31T23:59:59.25Z"), us("1969-12-31T23:59:59.25Z"),
			us("2025-08-27T00:00:00Z"), us("2025-08-27T00:00:00Z"),
			us("2025-08-29T00:00:00Z"), us("2025-08-29T00:00:00Z")),
	}
}

func testDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ddl, err := sqlq.SQLiteDDL.Expand("--include sensing")
	if err != nil {
		t.Fatal(err)
	}
	stmts := append([]string{string(ddl)}, testRows()...)
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%v\n%s", err, s)
		}
	}
	return db
}

func compiler() *sqlq.Compiler {
	return &sqlq.Compiler{Schema: schema, Dialect: sqlq.SQLite,
		Now: func() time.Time { return time.Date(2025, 8, 28, 12, 0, 0, 0, time.UTC) }}
}

func query(t *testing.T, db *sql.DB, set, filter string) ([]int64, error) {
	t.Helper()
	e, err := odata.ParseFilter(filter)
	if err != nil {
		return nil, err
	}
	where, args, err := compiler().Where(set, "e", e)
	if err != nil {
		return nil, err
	}
	q := "SELECT e.id FROM " + schema[set].Name + " e WHERE " + where + " ORDER BY e.id"
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s %v", filter, err, q, args)
	}
	defer rows.Close()
	ids := []int64{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v\n%s", filter, err, q)
	}
	return ids, nil
}

// whereTests are filters over the rows of testDB (and of pgTestConn) with the ids they
// select, the same in both dialects: TestWhere runs them on SQLite, TestPostgresWhere on
// PostgreSQL (with the geometry cases, whose SQLite functions live in store/sqlite).
var whereTests = []struct {
	set, filter string
	want        []int64
}{
	// comparison and logic
	{"Things", "name eq 'alpha'", []int64{1}},
	{"Things", "name ne 'alpha'", []int64{2, 3}},
	{"Things", "name gt 'alpha'", []int64{2}}, // 'Gamma' < 'alpha' in binary order
	{"Things", "name ge 'beta' or name lt 'H'", []int64{2, 3}},
	{"Things", "name le 'alpha' and not (name eq 'Gamma')", []int64{1}},
	{"Things", "not name eq 'alpha'", []int64{2, 3}},
	{"Things", "description eq 'it''s second'", []int64{2}},
	{"Things", "id eq 2 or @iot.id eq '3'", []int64{2, 3}},
	{"Things", "id ge 1 add 1", []int64{2, 3}},
	{"Things", "true", []int64{1, 2, 3}},
	{"Things", "1 eq 2", []int64{}},
	// null
	{"Things", "properties eq null", []int64{3}},
	{"Things", "properties ne null", []int64{1, 2}},
	{"Things", "properties/owner/name eq null", []int64{3}},
	{"Things", "null eq null", []int64{1, 2, 3}},
	{"Datastreams", "phenomenonTime eq null", []int64{2}},
	{"Observations", "result eq null", []int64{6}},
	{"Observations", "result ne null", []int64{1, 2, 3, 4, 5}},
	// JSON paths
	{"Things", "properties/owner/name eq 'ann'", []int64{1}},
	{"Things", "properties/owner/name ne 'ann'", []int64{2, 3}},
	{"Things", "properties/depth gt 3", []int64{1}},
	{"Things", "properties/depth eq 'deep'", []int64{2}},
	{"Things", "properties/active eq true", []int64{1}},
	{"Things", "properties/active", []int64{1}},
	{"Things", "not properties/active", []int64{2, 3}},
	{"Things", "properties/tags[1] eq 'b'", []int64{1}},
	{"Things", "properties/tags/0 eq 'a'", []int64{1}},
	{"Things", "properties/code eq '07'", []int64{1}},
	{"Things", "properties/depth add 1 eq 6", []int64{1}},
	{"Things", "startswith(properties/owner/name, 'b')", []int64{2}},
	{"Datastreams", "unitOfMeasurement/symbol eq 'degC'", []int64{1}},
	{"Observations", "parameters/depth eq 1", []int64{1}},
	{"Observations", "parameters/depth eq '1'", []int64{3}},
	{"Observations", "parameters/who eq Datastream/Thing/properties/owner/name", []int64{1}},
	// results
	{"Observations", "result gt 22", []int64{2}},
	{"Observations", "result le 21.5", []int64{1}},
	{"Observations", "result eq 'high'", []int64{3}},
	{"Observations", "result eq true", []int64{4}},
	{"Observations", "result/a eq 1 and result/b eq 'x'", []int64{5}},
	{"Observations", "result mul 2 ge 50", []int64{2}},
	{"Observations", "result div 2 eq 12.5", []int64{2}},
	{"Observations", "result mod 2 eq 1.5", []int64{1}},
	{"Observations", "-result lt -22", []int64{2}},
	{"Observations", "round(result) eq 22 or floor(result) eq 25", []int64{1, 2}},
	{"Observations", "ceiling(result) eq 22", []int64{1}},
	// strings
	{"Things", "substringof('lph', name)", []int64{1}},
	{"Things", "contains(name, 'et')", []int64{2}},
	{"Things", "startswith(name, 'al')", []int64{1}},
	{"Things", "startswith(name, 'AL')", []int64{}},
	{"Things", "endswith(name, 'ta')", []int64{2}},
	{"Things", "endswith(name, '')", []int64{1, 2, 3}},
	{"Things", "length(name) eq 4", []int64{2}},
	{"Things", "indexof(name, 'ph') eq 2", []int64{1}},
	{"Things", "substring(name, 1) eq 'lpha'", []int64{1}},
	{"Things", "substring(name, 1, 2) eq 'et'", []int64{2}},
	{"Things", "tolower(name) eq 'gamma'", []int64{3}},
	{"Things", "toupper(name) eq 'BETA'", []int64{2}},
	{"Things", "trim(concat(' ', name)) eq 'beta'", []int64{2}},
	{"Things", "concat(concat(name, '-'), description) eq 'alpha-first'", []int64{1}},
	// times: instants, intervals, time zones
	{"Observations", "phenomenonTime eq 2025-08-27T10:00:00Z", []int64{1}},
	{"Observations", "phenomenonTime eq 2025-08-27T12:00:00+02:00", []int64{1}},
	{"Observations", "phenomenonTime eq 2025-08-27T12:00:00 02:00", []int64{1}},
	{"Observations", "phenomenonTime eq 2025-08-27T12:00:00Z/2025-08-27T13:00:00Z", []int64{2}},
	{"Observations", "phenomenonTime ne 2025-08-27T10:00:00Z", []int64{2, 3, 4, 5, 6}},
	{"Observations", "phenomenonTime lt 2025-08-27T12:30:00Z", []int64{1, 4, 5}},
	{"Observations", "phenomenonTime le 2025-08-27T12:00:00Z", []int64{1, 4, 5}},
	{"Observations", "phenomenonTime gt 2025-08-27T12:30:00Z", []int64{3, 6}},
	{"Observations", "phenomenonTime ge 2025-08-27T13:00:00Z", []int64{3, 6}}, // 2 starts before 13:00
	{"Observations", "phenomenonTime ge 2025-08-27T12:00:00Z", []int64{2, 3, 6}},
	{"Observations", "phenomenonTime gt 2025-08-27T08:00:00-03:00", []int64{2, 3, 6}},
	{"Observations", "phenomenonTime lt 2025-08-27T12:30:00.000001+00:00 and phenomenonTime ge 2025-08-27", []int64{1, 5}},
	{"Observations", "phenomenonTime eq 2025-08-27", []int64{5}},
	{"Observations", "resultTime eq 2025-08-27T10:00:00Z", []int64{1}},
	{"Observations", "resultTime eq null", []int64{2, 3, 4, 5, 6}},
	{"Observations", "phenomenonTime gt now() sub duration'P1D'", []int64{3, 6}},
	{"Observations", "phenomenonTime add duration'PT1H' eq 2025-08-27T11:00:00Z", []int64{1}},
	{"Observations", "phenomenonTime lt mindatetime() or phenomenonTime gt maxdatetime()", []int64{}},
	{"Observations", "year(phenomenonTime) eq 2025 and month(phenomenonTime) eq 8 and day(phenomenonTime) eq 28", []int64{3}},
	{"Observations", "year(phenomenonTime) eq 1969 and second(phenomenonTime) eq 59 and fractionalseconds(phenomenonTime) eq 0.25", []int64{4}},
	{"Observations", "hour(phenomenonTime) eq 12 and minute(phenomenonTime) eq 0", []int64{2}},
	{"Observations", "fractionalseconds(phenomenonTime) eq 0.5", []int64{3}},
	{"Observations", "date(phenomenonTime) eq 2025-08-27", []int64{1, 2, 5}},
	{"Observations", "date(phenomenonTime) eq '2025-08-28'", []int64{3}},
	{"Observations", "time(phenomenonTime) eq '10:00:00'", []int64{1}},
	{"Observations", "totaloffsetminutes(phenomenonTime) eq 0 and id eq 1", []int64{1}},
	{"Datastreams", "phenomenonTime lt 2025-08-27T14:00:00Z", []int64{1}},
	{"Datastreams", "phenomenonTime eq 2025-08-27T10:00:00Z/2025-08-27T13:00:00Z", []int64{1}},
	{"Datastreams", "phenomenonTime ne 2025-08-27T10:00:00Z/2025-08-27T13:00:00Z", []int64{2}},
	// navigation
	{"Observations", "Datastream/Thing/name eq 'alpha'", []int64{1, 2}},
	{"Observations", "Datastream/id eq 2 and Datastream/name eq 'ds-b'", []int64{3, 4, 5, 6}},
	{"Observations", "Datastream/ObservedProperty/name eq 'level' and result eq 'high'", []int64{3}},
	{"Observations", "Datastream/phenomenonTime gt 2025-08-27T09:00:00Z", []int64{1, 2}},
	{"Things", "Datastreams/ObservedProperty/name eq 'level'", []int64{2}},
	{"Things", "Datastreams/name eq 'ds-a' or Datastreams/name eq 'ds-b'", []int64{1, 2}},
	{"Things", "not (Datastreams/name eq 'ds-a')", []int64{2, 3}},
	{"Things", "Datastreams/Observations/result gt 24", []int64{1}},
	{"Things", "Datastreams/Observations/result eq 'high'", []int64{2}},
	{"Things", "startswith(Datastreams/name, 'ds')", []int64{1, 2}},
	{"Things", "Locations/name eq 'p2'", []int64{2}},
	{"Locations", "Things/Datastreams/name eq 'ds-a'", []int64{1}},
	{"ObservedProperties", "Datastreams/Thing/name eq 'beta'", []int64{2}},
	{"Observations", "Datastream/Thing/Datastreams/Observations/result eq 'high'", []int64{3, 4, 5, 6}},
	{"Observations", "result div 0 eq 1 or result mod 0 eq 1", []int64{}}, // NULL, not an error
	// lambda operators any and all (Thing 3 has no Datastreams and no Locations)
	{"Things", "Datastreams/any(d:d/name eq 'ds-a')", []int64{1}},
	{"Things", "Datastreams/any()", []int64{1, 2}},
	{"Things", "not Datastreams/any()", []int64{3}},
	{"Things", "Datastreams/all(d: d/name eq 'ds-a')", []int64{1, 3}},
	{"Things", "Datastreams/all(d: d/Observations/any(o: o/result gt 20))", []int64{1, 3}},
	{"Things", "Datastreams/all(d: d/Observations/all(o: o/result gt 22))", []int64{3}},
	{"Things", "Datastreams/any(d: d/Observations/all(o: o/result gt 22))", []int64{}},
	{"Things", "Datastreams/Observations/any(o: o/result eq 'high')", []int64{2}},
	{"Things", "Datastreams/Observations/all(o: o/result ne null)", []int64{1, 3}},
	{"Things", "Locations/any(l: l/name eq 'p2') and Datastreams/any(d: d/name eq 'ds-b')", []int64{2}},
	{"Things", "Datastreams/any(d: d/ObservedProperty/name eq 'level' and d/Thing/name eq name)", []int64{2}},
	{"Things", "Datastreams/any(d: $it/name eq 'alpha')", []int64{1}},
	{"Things", "Datastreams/any(d: d/Observations/any(o: o/result gt 24 and o/Datastream/id eq d/id))", []int64{1}},
	{"Things", "Datastreams/any(x: x/Observations/any(x: x/result eq 'high'))", []int64{2}},
	{"Things", "Datastreams/any(d: d/Observations/result gt 24)", []int64{1}},
	{"Observations", "Datastream/Thing/Datastreams/any(d: d/name eq 'ds-b')", []int64{3, 4, 5, 6}},
	{"Locations", "Things/any(t: t/Datastreams/any(d: d/name eq 'ds-a'))", []int64{1}},
	{"ObservedProperties", "Datastreams/all(d: d/Thing/name eq 'beta')", []int64{2}},
	{"Datastreams", "Observations/any(o: o/parameters/depth eq 1) or Observations/all(o: o/result eq 'nope')", []int64{1}},
	// in
	{"Things", "name in ('alpha', 'Gamma')", []int64{1, 3}},
	{"Things", "id in (1, 3)", []int64{1, 3}},
	{"Things", "not (name in ('alpha'))", []int64{2, 3}},
	{"Things", "properties/depth in (5, 'deep')", []int64{1, 2}},
	{"Things", "properties/owner/name in ('bob')", []int64{2}},
	{"Observations", "result in (25, 'high', true)", []int64{2, 3, 4}},
	{"Observations", "result in (null)", []int64{6}},
	{"Observations", "phenomenonTime in (2025-08-27T10:00:00Z, 2025-08-27)", []int64{1, 5}},
	{"Things", "Datastreams/name in ('ds-b')", []int64{2}},
	{"Things", "Datastreams/any(d: d/name in ('ds-a', 'x'))", []int64{1}},
	{"Things", "name in (tolower('ALPHA'), 'beta')", []int64{1, 2}},
}

func TestWhere(t *testing.T) {
	db := testDB(t)
	for _, tt := range whereTests {
		got, err := query(t, db, tt.set, tt.filter)
		if err != nil {
			t.Errorf("%s?$filter=%s: %v", tt.set, tt.filter, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			e, _ := odata.ParseFilter(tt.filter)
			w, args, _ := compiler().Where(tt.set, "e", e)
			t.Errorf("%s?$filter=%s: got %v, want %v\n%s %v", tt.set, tt.filter, got, tt.want, w, args)
		}
	}
}

func TestWhereErrors(t *testing.T) {
	db := testDB(t)
	tests := []struct {
		set, filter string
		pos         int
		msg         string
	}{
		{"Things", "nmae eq 'x'", 1, `Things has no property "nmae"`},
		{"Observations", "Datastream/Thing/nmae eq 'x'", 18, `Things has no property "nmae"`},
		{"Things", "name/x eq 'x'", 6, `has no sub-properties`},
		{"Things", "Datastreams eq 'x'", 1, `navigation property`},
		{"Things", "year(name) eq 1", 6, `year: name is a string, not a date-time`},
		{"Things", "name gt 5", 6, `cannot compare name (a string) with 5 (a number)`},
		{"Things", "name", 1, `not a condition`},
		{"Things", "name eq 'a' and 5", 17, `not a condition`},
		{"Things", "tolower(id) eq 'a'", 9, `tolower: argument 1 (id) is a number, not a string`},
		{"Things", "name gt null", 6, `null can only be compared with eq or ne`},
		{"Observations", "result eq 2025-08-27T00:00:00Z", 8, `cannot compare a JSON value`},
		{"Observations", "phenomenonTime add 1 eq 1", 16, `cannot add`},
		{"Things", "round(name) eq 1", 7, `round: name is a string, not a number`},
		{"Locations", "st_within(name, location)", 11, `not a geometry`},
		{"Locations", "st_within(location, geography'POINT(1)')", 21, `invalid well-known text`},
		{"Locations", "st_relate(location, location, 'xx')", 31, `not a DE-9IM pattern`},
		{"Locations", "location eq location", 10, `use st_equals`},
		{"Things", "name/any(n: n eq 'x')", 1, `"name" is a property of Things`},
		{"Observations", "Datastream/any(d: d/name eq 'x')", 1, `leads to one Datastream`},
		{"Things", "Datastreams/any(d: d/nmae eq 'x')", 22, `Datastreams has no property "nmae"`},
		{"Things", "Datastreams/any(d: e/name eq 'x')", 20, `Things has no property "e"`},
		{"Things", "Datastreams/any(d: d eq 1)", 20, `d is an entity`},
		{"Things", "Datastreams/any(d: d/name eq 'x') and d/name eq 'y'", 39, `Things has no property "d"`},
		{"Things", "Datastreamz/all(d: true)", 1, `no navigation property "Datastreamz"`},
		{"Things", "name in (1, 2)", 6, `cannot compare name (a string)`},
	}
	for _, tt := range tests {
		_, err := query(t, db, tt.set, tt.filter)
		var oe *odata.Error
		if !errors.As(err, &oe) || oe.Option != "$filter" || oe.Pos != tt.pos || !strings.Contains(oe.Msg, tt.msg) {
			t.Errorf("%s?$filter=%s: got %v, want position %d %q", tt.set, tt.filter, err, tt.pos, tt.msg)
		}
	}
}

func TestOrderBy(t *testing.T) {
	db := testDB(t)
	tests := []struct {
		set, orderby string
		want         []int64
	}{
		{"Things", "name", []int64{3, 1, 2}},
		{"Things", "name desc", []int64{2, 1, 3}},
		{"Things", "properties/owner/name desc", []int64{2, 1, 3}},
		{"Things", "length(name), name desc", []int64{2, 1, 3}},
		{"Observations", "phenomenonTime desc", []int64{6, 3, 2, 1, 5, 4}},
		{"Observations", "result", []int64{6, 4, 1, 2, 3, 5}}, // null, true (1), numbers, then JSON text
		{"Observations", "Datastream/Thing/name desc, phenomenonTime", []int64{4, 5, 3, 6, 1, 2}},
		{"Observations", "Datastream/ObservedProperty/name, result desc", []int64{5, 3, 4, 6, 2, 1}},
		{"Observations", "year(phenomenonTime), result gt 22 desc", []int64{4, 2, 1, 3, 5, 6}},
	}
	for _, tt := range tests {
		items, err := odata.ParseOrderBy(tt.orderby)
		if err != nil {
			t.Fatal(err)
		}
		ob, args, err := compiler().OrderBy(tt.set, "e", items)
		if err != nil {
			t.Errorf("%s?$orderby=%s: %v", tt.set, tt.orderby, err)
			continue
		}
		q := "SELECT e.id FROM " + schema[tt.set].Name + " e ORDER BY " + ob + ", e.id"
		rows, err := db.Query(q, args...)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		got := []int64{}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			got = append(got, id)
		}
		rows.Close()
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s?$orderby=%s: got %v, want %v\n%s", tt.set, tt.orderby, got, tt.want, q)
		}
	}
	items, _ := odata.ParseOrderBy("Datastreams/name")
	_, _, err := compiler().OrderBy("Things", "e", items)
	var oe *odata.Error
	if !errors.As(err, &oe) || oe.Option != "$orderby" || !strings.Contains(oe.Msg, "many entities") {
		t.Errorf("order by a to-many path: %v", err)
	}
}

type numbered struct{ sqlq.Dialect }

func (numbered) Placeholder(n int) string { return fmt.Sprintf("$%d", n) }

func TestPlaceholders(t *testing.T) {
	c := &sqlq.Compiler{Schema: schema, Dialect: numbered{sqlq.SQLite}}
	e, _ := odata.ParseFilter("name eq 'a' or properties/x eq 3")
	w, args, err := c.WhereAt("Things", "t", e, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := `((t.name = $3) OR ((CASE WHEN json_type(t.properties, $4) IN ('integer', 'real') THEN json_extract(t.properties, $5) END) = $6))`
	if w != want || !reflect.DeepEqual(args, []any{"a", `$."x"`, `$."x"`, int64(3)}) {
		t.Errorf("got %s %v\nwant %s", w, args, want)
	}
}
