package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresDSN returns RABTA_TEST_POSTGRES, the PostgreSQL the test script starts
// (eval "$(bash scripts/postgres.sh start)"). Without it the test skips, except under CI, where
// it fails: CI must not skip PostgreSQL silently.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("RABTA_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("RABTA_TEST_POSTGRES is not set under CI: start PostgreSQL with eval \"$(bash scripts/postgres.sh start)\"")
		}
		t.Skip("RABTA_TEST_POSTGRES not set (eval \"$(bash scripts/postgres.sh start)\")")
	}
	return dsn
}

// PostgresSchema makes a fresh schema in the PostgreSQL of PostgresDSN and returns a DSN whose
// connections use it (with public on the search path, for PostGIS); the schema is dropped when
// the test ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	dsn := PostgresDSN(t)
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
