package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/store/postgres"
)

// testDSN returns RABTA_TEST_POSTGRES (set by eval "$(scripts/postgres.sh start)"). Without it
// the test skips, except under CI, where it fails: CI must not skip PostgreSQL silently.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RABTA_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("RABTA_TEST_POSTGRES is not set under CI: start PostgreSQL with eval \"$(scripts/postgres.sh start)\"")
		}
		t.Skip("RABTA_TEST_POSTGRES not set (eval \"$(scripts/postgres.sh start)\")")
	}
	return dsn
}

// testDSNSchema makes a fresh schema and returns a DSN whose connections use it (with public
// on the search path, for PostGIS); the schema is dropped when the test ends.
func testDSNSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	name := fmt.Sprintf("t_%d_%d", time.Now().UnixNano(), rand.IntN(1e6))
	if _, err := c.Exec(ctx, "CREATE SCHEMA "+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), "DROP SCHEMA "+name+" CASCADE")
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name+",public")
	u.RawQuery = q.Encode()
	return u.String()
}

// testDB opens a store in a fresh schema.
func testDB(t testing.TB) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), testDSNSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func opts(t testing.TB, kv ...string) *odata.Options {
	t.Helper()
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	o, err := odata.ParseOptions(v)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// dsnOf returns the DSN db was opened with.
func dsnOf(t testing.TB, db *postgres.DB) string {
	t.Helper()
	return postgres.DSN(db)
}
