package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/store/sqlq"
)

func funcsDB(t *testing.T) *sql.DB {
	t.Helper()
	if err := RegisterFuncs(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "funcs.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestGeoFuncs(t *testing.T) {
	db := funcsDB(t)
	square := "POLYGON((0 0,10 0,10 10,0 10,0 0))"
	tests := []struct {
		q    string
		args []any
		want any
	}{
		{"SELECT rabta_st_within(?, ?)", []any{`{"type":"Point","coordinates":[5,5]}`, square}, int64(1)},
		{"SELECT rabta_st_within(?, ?)", []any{`{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[5,5]}}`, square}, int64(1)},
		{"SELECT rabta_st_within(?, ?)", []any{"POINT(11 5)", square}, int64(0)},
		{"SELECT rabta_st_contains(?, ?)", []any{square, "POINT(1 1)"}, int64(1)},
		{"SELECT rabta_st_intersects(?, ?)", []any{square, "LINESTRING(-1 5,11 5)"}, int64(1)},
		{"SELECT rabta_st_crosses(?, ?)", []any{"LINESTRING(-1 5,11 5)", square}, int64(1)},
		{"SELECT rabta_st_touches(?, ?)", []any{"POINT(0 5)", square}, int64(1)},
		{"SELECT rabta_st_disjoint(?, ?)", []any{"POINT(20 20)", square}, int64(1)},
		{"SELECT rabta_st_overlaps(?, ?)", []any{"POLYGON((5 5,15 5,15 15,5 15,5 5))", square}, int64(1)},
		{"SELECT rabta_st_equals(?, ?)", []any{"POLYGON((0 0,0 10,10 10,10 0,0 0))", square}, int64(1)},
		{"SELECT rabta_st_relate(?, ?, ?)", []any{"POINT(5 5)", square, "0FFFFF212"}, int64(1)},
		{"SELECT rabta_st_relate(?, ?, ?)", []any{"POINT(5 5)", square, "t*f**f***"}, int64(1)},
		{"SELECT rabta_geo_distance(?, ?)", []any{"POINT(0 0)", "POINT(3 4)"}, 5.0},
		{"SELECT rabta_geo_length(?)", []any{`{"type":"LineString","coordinates":[[0,0],[0,2]]}`}, 2.0},
		// bad input is NULL, never a panic
		{"SELECT rabta_st_within(?, ?)", []any{"not a geometry", square}, nil},
		{"SELECT rabta_st_within(?, ?)", []any{`{"type":"Feature","geometry":null}`, square}, nil},
		{"SELECT rabta_st_within(?, ?)", []any{`{"type":`, square}, nil},
		{"SELECT rabta_st_within(NULL, ?)", []any{square}, nil},
		{"SELECT rabta_st_within(?, ?)", []any{int64(3), square}, nil},
		{"SELECT rabta_st_within(?, ?)", []any{"POLYGON((0 0,10 10,10 0,0 10,0 0))", square}, nil}, // self-intersecting
		{"SELECT rabta_geo_distance(?, ?)", []any{"POINT EMPTY", square}, nil},
	}
	for _, tt := range tests {
		var got any
		if err := db.QueryRow(tt.q, tt.args...).Scan(&got); err != nil {
			t.Errorf("%s %v: %v", tt.q, tt.args, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s %v = %#v, want %#v", tt.q, tt.args, got, tt.want)
		}
	}
	if err := db.QueryRow("SELECT rabta_st_relate('POINT(1 1)', 'POINT(1 1)', 'bad')").Scan(new(any)); err == nil {
		t.Error("st_relate with a bad pattern: no error")
	}
	if err := RegisterFuncs(); err != nil {
		t.Errorf("RegisterFuncs again: %v", err)
	}
}

// TestGeoFilters compiles geometry $filters with sqlq against this store's Schema.
func TestGeoFilters(t *testing.T) {
	db := funcsDB(t)
	ddl, err := sqlq.SQLiteDDL.Expand("--include sensing")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{ddl,
		`INSERT INTO locations (id, name, description, encoding_type, location) VALUES
			(1, 'in', '', 'application/geo+json', '{"type":"Point","coordinates":[30,10]}'),
			(2, 'feature in', '', 'application/geo+json', '{"type":"Feature","properties":{},"geometry":{"type":"Point","coordinates":[31,11]}}'),
			(3, 'out', '', 'application/geo+json', '{"type":"Point","coordinates":[50,50]}'),
			(4, 'broken', '', 'application/geo+json', 'nonsense')`,
		`INSERT INTO things (id, name, description) VALUES (1, 'a', ''), (2, 'b', '')`,
		`INSERT INTO thing_locations VALUES (1, 1), (2, 3)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	c := &sqlq.Compiler{Schema: sqlq.Sensing, Dialect: sqlq.SQLite}
	area := "geography'POLYGON((25 5,35 5,35 15,25 15,25 5))'"
	tests := []struct {
		set, filter string
		want        []int64
	}{
		{"Locations", "st_within(location, " + area + ")", []int64{1, 2}},
		{"Locations", "st_contains(" + area + ", location)", []int64{1, 2}},
		{"Locations", "st_intersects(location, " + area + ") eq false", []int64{3}},
		{"Locations", "geo.intersects(location, " + area + ")", []int64{1, 2}},
		{"Locations", "st_disjoint(location, " + area + ")", []int64{3}},
		{"Locations", "not st_within(location, " + area + ")", []int64{3, 4}},
		{"Locations", "st_equals(location, geography'POINT(30 10)')", []int64{1}},
		{"Locations", "st_touches(location, geography'LINESTRING(30 0,30 20)')", []int64{}},
		{"Locations", "st_crosses(geography'LINESTRING(0 0,40 20)', " + area + ")", []int64{1, 2, 3, 4}},
		{"Locations", "st_overlaps(location, " + area + ")", []int64{}},
		{"Locations", "st_relate(location, " + area + ", 'T*F**F***')", []int64{1, 2}},
		{"Locations", "geo.distance(location, geography'POINT(30 13)') le 3", []int64{1, 2}},
		{"Locations", "geo.distance(location, geography'POINT(30 13)') eq 3", []int64{1}},
		{"Locations", "geo.length(geography'LINESTRING(0 0,3 4)') eq 5 and id eq 1", []int64{1}},
		{"Things", "st_within(Locations/location, " + area + ")", []int64{1}},
	}
	for _, tt := range tests {
		e, err := odata.ParseFilter(tt.filter)
		if err != nil {
			t.Fatalf("%s: %v", tt.filter, err)
		}
		where, args, err := c.Where(tt.set, "e", e)
		if err != nil {
			t.Errorf("%s: %v", tt.filter, err)
			continue
		}
		rows, err := db.Query("SELECT e.id FROM "+sqlq.Sensing[tt.set].Name+" e WHERE "+where+" ORDER BY e.id", args...)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.filter, err, where)
		}
		got := []int64{}
		for rows.Next() {
			var id int64
			rows.Scan(&id)
			got = append(got, id)
		}
		rows.Close()
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s?$filter=%s: got %v, want %v\n%s", tt.set, tt.filter, got, tt.want, where)
		}
	}
	e, _ := odata.ParseFilter("st_within(location, geography'POLYGON((0 0,1 1))')")
	_, _, err = c.Where("Locations", "e", e)
	var oe *odata.Error
	if !errors.As(err, &oe) || !strings.Contains(oe.Msg, "invalid well-known text") {
		t.Errorf("invalid polygon literal: %v", err)
	}
}
