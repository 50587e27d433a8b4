package sqlq

import "fmt"

// funcs spells each function of Dialect.Func in both dialects side by side: [SQLite,
// PostgreSQL]. A spelling is a fmt format over the compiled arguments (%[1]s is the first, and
// may stand more than once); a name with "/n" is the spelling for n arguments. Times are
// microseconds since the Unix epoch; SQLite's geometry functions are the rabta_* functions
// package store/sqlite registers, PostgreSQL's are PostGIS's.
var funcs = map[string][2]string{
	// strings (SQLite compares and measures bytes of UTF-8 text as PostgreSQL's "C" collation does)
	"substringof": {"(instr(%[2]s, %[1]s) > 0)", "(strpos(%[2]s, %[1]s) > 0)"},
	"contains":    {"(instr(%[1]s, %[2]s) > 0)", "(strpos(%[1]s, %[2]s) > 0)"},
	"startswith":  {"(substr(%[1]s, 1, length(%[2]s)) = %[2]s)", "starts_with(%[1]s, %[2]s)"},
	"endswith":    {"(length(%[2]s) = 0 OR substr(%[1]s, -length(%[2]s)) = %[2]s)", "(length(%[2]s) = 0 OR right(%[1]s, length(%[2]s)) = %[2]s)"},
	"length":      {"length(%[1]s)", "length(%[1]s)"},
	"indexof":     {"(instr(%[1]s, %[2]s) - 1)", "(strpos(%[1]s, %[2]s) - 1)"},
	"substring/2": {"substr(%[1]s, (%[2]s) + 1)", "substr(%[1]s, ((%[2]s) + 1)::int)"},
	"substring/3": {"substr(%[1]s, (%[2]s) + 1, %[3]s)", "substr(%[1]s, ((%[2]s) + 1)::int, greatest((%[3]s)::int, 0))"},
	"tolower":     {"lower(%[1]s)", "lower(%[1]s)"},
	"toupper":     {"upper(%[1]s)", "upper(%[1]s)"},
	"trim":        {"trim(%[1]s)", "trim(%[1]s)"},
	"concat":      {"(%[1]s || %[2]s)", "(%[1]s || %[2]s)"},

	// times, in UTC, from the start of the second holding the instant (exact for negative times too)
	"year":              {sqlitePart("%%Y"), pgPart("YEAR")},
	"month":             {sqlitePart("%%m"), pgPart("MONTH")},
	"day":               {sqlitePart("%%d"), pgPart("DAY")},
	"hour":              {sqlitePart("%%H"), pgPart("HOUR")},
	"minute":            {sqlitePart("%%M"), pgPart("MINUTE")},
	"second":            {sqlitePart("%%S"), pgPart("SECOND")},
	"date":              {"date(" + sqliteSeconds + ", 'unixepoch')", "to_char(" + pgSeconds + ", 'YYYY-MM-DD')"},
	"time":              {"time(" + sqliteSeconds + ", 'unixepoch')", "to_char(" + pgSeconds + ", 'HH24:MI:SS')"},
	"fractionalseconds": {"((((%[1]s %% 1000000) + 1000000) %% 1000000) / 1000000.0)", "((((%[1]s) %% 1000000 + 1000000) %% 1000000) / 1000000.0)::float8"},

	// numbers: round half away from zero (float8 round is half to even in PostgreSQL), NULL on
	// division by zero, mod the floating-point remainder (fmod)
	"round":   {"round(%[1]s)", "round((%[1]s)::numeric)::float8"},
	"floor":   {"floor(%[1]s)", "floor((%[1]s)::float8)"},
	"ceiling": {"ceil(%[1]s)", "ceil((%[1]s)::float8)"},
	"div":     {"(CAST(%[1]s AS REAL) / %[2]s)", "((%[1]s)::float8 / NULLIF((%[2]s)::float8, 0))"},
	"mod":     {"mod(%[1]s, %[2]s)", "((%[1]s)::float8 - (%[2]s)::float8 * trunc((%[1]s)::float8 / NULLIF((%[2]s)::float8, 0)))"},

	// geometries: planar, in the units of the coordinates
	"geo.distance":   {"rabta_geo_distance(%[1]s, %[2]s)", "ST_Distance(%[1]s, %[2]s)"},
	"geo.length":     {"rabta_geo_length(%[1]s)", "ST_Length(%[1]s)"},
	"geo.intersects": {"rabta_st_intersects(%[1]s, %[2]s)", "ST_Intersects(%[1]s, %[2]s)"},
	"st_equals":      {"rabta_st_equals(%[1]s, %[2]s)", "ST_Equals(%[1]s, %[2]s)"},
	"st_disjoint":    {"rabta_st_disjoint(%[1]s, %[2]s)", "ST_Disjoint(%[1]s, %[2]s)"},
	"st_touches":     {"rabta_st_touches(%[1]s, %[2]s)", "ST_Touches(%[1]s, %[2]s)"},
	"st_within":      {"rabta_st_within(%[1]s, %[2]s)", "ST_Within(%[1]s, %[2]s)"},
	"st_overlaps":    {"rabta_st_overlaps(%[1]s, %[2]s)", "ST_Overlaps(%[1]s, %[2]s)"},
	"st_crosses":     {"rabta_st_crosses(%[1]s, %[2]s)", "ST_Crosses(%[1]s, %[2]s)"},
	"st_intersects":  {"rabta_st_intersects(%[1]s, %[2]s)", "ST_Intersects(%[1]s, %[2]s)"},
	"st_contains":    {"rabta_st_contains(%[1]s, %[2]s)", "ST_Contains(%[1]s, %[2]s)"},
	"st_relate":      {"rabta_st_relate(%[1]s, %[2]s, %[3]s)", "ST_Relate(%[1]s, %[2]s, upper(%[3]s))"},
}

// sqliteSeconds is the floor of %[1]s microseconds in whole seconds.
const sqliteSeconds = "((%[1]s - ((%[1]s %% 1000000) + 1000000) %% 1000000) / 1000000)"

// pgSeconds is the start of the second holding %[1]s microseconds, as a UTC timestamp (the
// floor taken in numeric).
const pgSeconds = "(to_timestamp(floor((%[1]s)::numeric / 1000000)::float8) AT TIME ZONE 'UTC')"

func sqlitePart(f string) string {
	return "CAST(strftime('" + f + "', " + sqliteSeconds + ", 'unixepoch') AS INTEGER)"
}

func pgPart(f string) string { return "EXTRACT(" + f + " FROM " + pgSeconds + ")::int8" }

var dialectNames = [2]string{"SQLite", "PostgreSQL"}

// spell returns function name applied to args in dialect d (0 SQLite, 1 PostgreSQL).
func spell(name string, args []string, d int) (string, error) {
	f, ok := funcs[fmt.Sprintf("%s/%d", name, len(args))]
	if !ok {
		f, ok = funcs[name]
	}
	if !ok {
		return "", fmt.Errorf("function %s is not supported by %s", name, dialectNames[d])
	}
	a := make([]any, len(args))
	for i, x := range args {
		a[i] = x
	}
	return fmt.Sprintf(f[d], a...), nil
}
