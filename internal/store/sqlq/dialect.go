package sqlq

import (
	"fmt"
	"strings"
)

// JSONAs says which type of value an access into a JSON document should yield.
type JSONAs int

// JSON access types.
const (
	JSONAny    JSONAs = iota // the scalar value (JSON text for an object or array); NULL when absent or null
	JSONText                 // the string, or NULL when the value is not a JSON string
	JSONNumber               // the number, or NULL when the value is not a JSON number
	JSONBool                 // the boolean (as the database's boolean), or NULL when not a JSON boolean
)

// Dialect is everything in the SQL that differs between databases. The compiler decides the
// types and the semantics; a Dialect only spells them.
//
// Arguments given to a Dialect are SQL expressions already compiled (they may contain
// parameter markers, which the compiler turns into placeholders at the end: a Dialect may
// repeat or reorder its arguments freely). Times are INTEGER microseconds since the Unix epoch,
// UTC. Geometries are whatever Geometry returned.
type Dialect interface {
	// Placeholder returns the n-th (1-based) parameter placeholder: "?" or "$n".
	Placeholder(n int) string
	// JSON returns SQL for the value at path inside the JSON text doc (path empty: the whole
	// document), typed as as. Path keys are object member names, except that a key of digits
	// only indexes an array. bind adds a query parameter and returns its marker.
	JSON(doc string, path []string, as JSONAs, bind func(any) string) string
	// Geometry returns SQL turning a geometry into what the geometry functions of Func take:
	// sql is a column of GeoJSON text (a geometry or a Feature), or, with wkt set, a bound
	// well-known-text literal.
	Geometry(sql string, wkt bool) string
	// Distinct returns SQL for a null-safe "a differs from b" (true when exactly one is NULL).
	Distinct(a, b string) string
	// Func returns SQL for a function applied to args. Names are those of odata.Call
	// (substringof, year, round, geo.distance, st_within, ...) and "div" and "mod" for the
	// arithmetic operators. The compiler has checked the arity and the argument types; it
	// handles now, mindatetime, maxdatetime and totaloffsetminutes itself.
	Func(name string, args []string) (string, error)
}

// SQLite is the dialect of SQLite (3.45 or later, with JSON and math functions). Its geometry
// functions are the rabta_* functions that package store/sqlite registers with the driver.
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Placeholder(int) string { return "?" }

func (sqliteDialect) JSON(doc string, path []string, as JSONAs, bind func(any) string) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, k := range path {
		if k != "" && strings.Trim(k, "0123456789") == "" {
			b.WriteString("[" + k + "]")
		} else {
			b.WriteString(`."` + k + `"`)
		}
	}
	p := bind(b.String())
	switch as {
	case JSONText:
		return fmt.Sprintf("(CASE WHEN json_type(%s, %s) = 'text' THEN json_extract(%s, %s) END)", doc, p, doc, p)
	case JSONNumber:
		return fmt.Sprintf("(CASE WHEN json_type(%s, %s) IN ('integer', 'real') THEN json_extract(%s, %s) END)", doc, p, doc, p)
	case JSONBool:
		return fmt.Sprintf("(CASE json_type(%s, %s) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END)", doc, p)
	}
	return fmt.Sprintf("json_extract(%s, %s)", doc, p)
}

func (sqliteDialect) Geometry(sql string, wkt bool) string { return sql }

func (sqliteDialect) Distinct(a, b string) string { return "(" + a + " IS NOT " + b + ")" }

func (sqliteDialect) Func(name string, a []string) (string, error) { return spell(name, a, 0) }
