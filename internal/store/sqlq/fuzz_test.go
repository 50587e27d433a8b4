package sqlq_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/odata"
)

// FuzzWhere checks that whatever parses compiles to SQL that SQLite accepts, or gives an
// *odata.Error.
func FuzzWhere(f *testing.F) {
	for _, s := range []string{"name eq 'x'", "properties/a/b gt 1 and not startswith(name, 'x')",
		"Datastreams/Observations/result eq 'high' or Datastreams/phenomenonTime lt now() sub duration'P1D'",
		"year(Datastreams/phenomenonTime) add 1 eq 2026", "-properties/x mod 2 eq round(1.5)",
		"Locations/location eq null", "concat(name, description) eq properties/x",
		"Datastreams/any(d: d/name eq 'x')", "Datastreams/all(d: d/Observations/any(o: o/result gt 5))", "Locations/any()",
		"Datastream/Thing/Datastreams/any(d: d/id eq $it/Datastream/id)", "Datastreams/any(x: x/Observations/all(x: x/result in (1, 'a', true)))",
		"name in ('a', 'b') or properties/x in (1, 2.5)", "result in (null, 2025-08-27T00:00:00Z)", "id in (1, '2')"} {
		f.Add(s)
	}
	db := testDB(f)
	f.Fuzz(func(t *testing.T, s string) {
		e, err := odata.ParseFilter(s)
		if err != nil {
			return
		}
		for _, set := range []string{"Things", "Observations"} {
			where, args, err := compiler().Where(set, "e", e)
			if err != nil {
				var oe *odata.Error
				if !errors.As(err, &oe) {
					t.Fatalf("%s: %v is %T, not *odata.Error", s, err, err)
				}
				continue
			}
			rows, err := db.Query("SELECT e.id FROM "+schema[set].Name+" e WHERE "+where, args...)
			if err != nil {
				if strings.Contains(err.Error(), "syntax error") || strings.Contains(err.Error(), "no such") {
					t.Fatalf("%s: %v\n%s", s, err, where)
				}
				continue
			}
			rows.Close()
		}
	})
}
