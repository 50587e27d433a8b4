package postgres_test

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden")

// The schema the migrations make, as PostgreSQL's catalogue describes it (columns with types,
// collations, defaults and identities, constraints, indexes, functions), held against
// testdata/schema.golden: a change to the migrations that changes the schema shows as a diff.
func TestSchema(t *testing.T) {
	dsn := testDSNSchema(t)
	testDBAt(t, dsn) // applies the migrations
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var out strings.Builder
	dump := func(q string) {
		t.Helper()
		rows, err := c.Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if i > 0 {
					out.WriteString(" | ")
				}
				fmt.Fprint(&out, v)
			}
			out.WriteByte('\n')
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	dump(`SELECT table_name, column_name, data_type, coalesce(collation_name, ''), is_nullable,
		regexp_replace(coalesce(column_default, ''), 'sqlq?_?t_[0-9_]+\.', ''), is_identity, coalesce(identity_generation, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name NOT LIKE 'observations_p%'
		ORDER BY table_name, ordinal_position`)
	dump(`SELECT conrelid::regclass::text, contype::text, pg_get_constraintdef(oid) FROM pg_constraint
		WHERE connamespace = current_schema()::regnamespace ORDER BY 1, 3`)
	dump(`SELECT tablename, regexp_replace(indexdef, ' ON (ONLY )?[a-z0-9_]+\.', ' ON \1') FROM pg_indexes
		WHERE schemaname = current_schema() ORDER BY 1, 2`)
	dump(`SELECT p.proname, pg_get_function_identity_arguments(p.oid) FROM pg_proc p
		WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 1`)
	storetest.Golden(t, "schema.golden", out.String(), *update)
}
