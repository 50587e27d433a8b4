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

// pgSeconds is the start of the second holding x microseconds, as a UTC timestamp (exact for
// negative times too: the floor is taken in numeric).
func pgSeconds(x string) string {
	return fmt.Sprintf("(to_timestamp(floor((%s)::numeric / 1000000)::float8) AT TIME ZONE 'UTC')", x)
}

var pgDateParts = map[string]string{"year": "YEAR", "month": "MONTH", "day": "DAY", "hour": "HOUR", "minute": "MINUTE", "second": "SECOND"}

var pgGeoFuncs = map[string]string{
	"geo.distance": "ST_Distance", "geo.length": "ST_Length", "geo.intersects": "ST_Intersects",
	"st_equals": "ST_Equals", "st_disjoint": "ST_Disjoint", "st_touches": "ST_Touches",
	"st_within": "ST_Within", "st_overlaps": "ST_Overlaps", "st_crosses": "ST_Crosses",
	"st_intersects": "ST_Intersects", "st_contains": "ST_Contains",
}

func (postgresDialect) Func(name string, a []string) (string, error) {
	if f, ok := pgDateParts[name]; ok {
		return fmt.Sprintf("EXTRACT(%s FROM %s)::int8", f, pgSeconds(a[0])), nil
	}
	if f, ok := pgGeoFuncs[name]; ok {
		return f + "(" + strings.Join(a, ", ") + ")", nil
	}
	switch name {
	case "st_relate":
		return fmt.Sprintf("ST_Relate(%s, %s, upper(%s))", a[0], a[1], a[2]), nil
	case "substringof":
		return fmt.Sprintf("(strpos(%s, %s) > 0)", a[1], a[0]), nil
	case "contains":
		return fmt.Sprintf("(strpos(%s, %s) > 0)", a[0], a[1]), nil
	case "startswith":
		return fmt.Sprintf("starts_with(%s, %s)", a[0], a[1]), nil
	case "endswith":
		return fmt.Sprintf("(length(%s) = 0 OR right(%s, length(%s)) = %s)", a[1], a[0], a[1], a[1]), nil
	case "length":
		return "length(" + a[0] + ")", nil
	case "indexof":
		return fmt.Sprintf("(strpos(%s, %s) - 1)", a[0], a[1]), nil
	case "substring":
		if len(a) == 3 {
			return fmt.Sprintf("substr(%s, ((%s) + 1)::int, greatest((%s)::int, 0))", a[0], a[1], a[2]), nil
		}
		return fmt.Sprintf("substr(%s, ((%s) + 1)::int)", a[0], a[1]), nil
	case "tolower":
		return "lower(" + a[0] + ")", nil
	case "toupper":
		return "upper(" + a[0] + ")", nil
	case "trim":
		return "trim(" + a[0] + ")", nil
	case "concat":
		return "(" + a[0] + " || " + a[1] + ")", nil
	case "fractionalseconds":
		return fmt.Sprintf("((((%s) %% 1000000 + 1000000) %% 1000000) / 1000000.0)::float8", a[0]), nil
	case "date":
		return fmt.Sprintf("to_char(%s, 'YYYY-MM-DD')", pgSeconds(a[0])), nil
	case "time":
		return fmt.Sprintf("to_char(%s, 'HH24:MI:SS')", pgSeconds(a[0])), nil
	case "round": // half away from zero, as SQLite (float8 round is half to even)
		return "round((" + a[0] + ")::numeric)::float8", nil
	case "floor":
		return "floor((" + a[0] + ")::float8)", nil
	case "ceiling":
		return "ceil((" + a[0] + ")::float8)", nil
	case "div": // NULL on division by zero, as SQLite
		return fmt.Sprintf("((%s)::float8 / NULLIF((%s)::float8, 0))", a[0], a[1]), nil
	case "mod": // the floating-point remainder (fmod), NULL on division by zero
		return fmt.Sprintf("((%s)::float8 - (%s)::float8 * trunc((%s)::float8 / NULLIF((%s)::float8, 0)))", a[0], a[1], a[0], a[1]), nil
	}
	return "", fmt.Errorf("function %s is not supported by PostgreSQL", name)
}
