package sqlite_test

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite testdata/schema.golden")

// The schema the migrations make, as SQLite describes it (columns, keys, indexes, foreign
// keys), held against testdata/schema.golden: a change to the migrations that changes the
// schema shows as a diff.
func TestSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	c, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out strings.Builder
	rows := func(q string, fn func(r *sql.Rows) string) {
		t.Helper()
		rs, err := c.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		for rs.Next() {
			out.WriteString(fn(rs))
		}
		if err := rs.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var tables []string
	rows(`SELECT name, sql LIKE '%AUTOINCREMENT%' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`, func(r *sql.Rows) string {
		var name string
		var auto bool
		r.Scan(&name, &auto)
		tables = append(tables, name)
		return ""
	})
	for _, tb := range tables {
		var auto bool
		c.QueryRow(`SELECT sql LIKE '%AUTOINCREMENT%' FROM sqlite_master WHERE name = ?`, tb).Scan(&auto)
		fmt.Fprintf(&out, "table %s autoincrement=%v\n", tb, auto)
		rows(`SELECT name, type, "notnull", coalesce(dflt_value, ''), pk FROM pragma_table_info('`+tb+`') ORDER BY cid`, func(r *sql.Rows) string {
			var name, typ, dflt string
			var notnull, pk int
			r.Scan(&name, &typ, &notnull, &dflt, &pk)
			return fmt.Sprintf("  column %s %s notnull=%d default=%q pk=%d\n", name, typ, notnull, dflt, pk)
		})
		rows(`SELECT "table", "from", "to", on_update, on_delete FROM pragma_foreign_key_list('`+tb+`') ORDER BY "from"`, func(r *sql.Rows) string {
			var to, from, col, upd, del string
			r.Scan(&to, &from, &col, &upd, &del)
			return fmt.Sprintf("  foreign key %s -> %s(%s) on update %s on delete %s\n", from, to, col, upd, del)
		})
		rows(`SELECT l.name, l."unique", group_concat(i.name, ',') FROM pragma_index_list('`+tb+`') l, pragma_index_info(l.name) i GROUP BY l.name ORDER BY l.name`, func(r *sql.Rows) string {
			var name, cols string
			var unique int
			r.Scan(&name, &unique, &cols)
			if strings.HasPrefix(name, "sqlite_autoindex_") {
				name = "(constraint)"
			}
			return fmt.Sprintf("  index %s unique=%d (%s)\n", name, unique, cols)
		})
	}
	storetest.Golden(t, "schema.golden", out.String(), *update)
}
