package sqlq

import (
	"fmt"
	"strconv"
	"strings"
)

// Postgres is the dialect of PostgreSQL (15 or later) with PostGIS 3. It expects the schema of
// package store/postgres: JSON documents in text columns (cast to jsonb where a filter looks
// inside them), times as BIGINT microseconds, text compared byte-wise (COLLATE "C", as in
// SQLite), and the function rabta_geom(text) from store/postgres's migrations, which turns
// GeoJSON text (a geometry or a Feature) into a PostGIS geometry, or NULL when it is not a
// valid one (as the SQLite functions do).
//
// Parameters are $n. Arguments should be sent with types taken from their Go values (pgx's
// QueryExecModeExec): a parameter compared with another parameter has nothing else to be
// typed by.
//
// One difference from SQLite cannot be expressed through Dialect: the compiler spells an
// Observation result as a value of any type as COALESCE(result_num, <JSON value>), which
// PostgreSQL refuses (a number and a text have no common type). For that one case — the
// whole document of a column named result_json, as JSONAny — this dialect returns a number:
// NULL for a null result and NaN for any non-numeric one. result eq null and ne null are
// therefore exact; $orderby=result sorts numbers, then all non-numeric results (in id order),
// then nulls, where SQLite also orders strings among themselves.
var Postgres Dialect = postgresDialect{}

type postgresDialect struct{}

func (postgresDialect) Placeholder(n int) string { return "$" + strconv.Itoa(n) }

func (postgresDialect) JSON(doc string, path []string, as JSONAs, bind func(any) string) string {
	if as == JSONAny && len(path) == 0 && (doc == "result_json" || strings.HasSuffix(doc, ".result_json")) {
		return fmt.Sprintf("(CASE WHEN %s IS NULL THEN NULL ELSE 'NaN'::float8 END)", doc)
	}
	j := "(" + doc + ")::jsonb"
	if len(path) > 0 {
		p := make([]string, len(path))
		copy(p, path)
		j = "(" + j + " #> " + bind(p) + "::text[])"
	}
	switch as {
	case JSONText:
		return fmt.Sprintf("(CASE WHEN jsonb_typeof(%s) = 'string' THEN (%s #>> '{}') END) COLLATE \"C\"", j, j)
	case JSONNumber:
		return fmt.Sprintf("(CASE WHEN jsonb_typeof(%s) = 'number' THEN (%s #>> '{}')::float8 END)", j, j)
	case JSONBool:
		return fmt.Sprintf("(CASE WHEN jsonb_typeof(%s) = 'boolean' THEN (%s #>> '{}')::boolean END)", j, j)
	}
	// a JSON null is SQL NULL, as in SQLite; an object or array is its JSON text
	return fmt.Sprintf("(%s #>> '{}') COLLATE \"C\"", j)
}

func (postgresDialect) Geometry(sql string, wkt bool) string {
	if wkt {
		return "ST_GeomFromText(" + sql + ", 4326)"
	}
	return "rabta_geom(" + sql + ")"
}

func (postgresDialect) Distinct(a, b string) string { return "(" + a + " IS DISTINCT FROM " + b + ")" }

func (postgresDialect) Func(name string, a []string) (string, error) { return spell(name, a, 1) }
