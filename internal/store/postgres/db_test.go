package postgres_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/storetest"
)

func testDSNSchema(t testing.TB) string { return storetest.PostgresSchema(t) }

// testDB opens a store in a fresh schema.
func testDB(t testing.TB) *postgres.DB {
	t.Helper()
	return testDBAt(t, testDSNSchema(t))
}

// testDBAt opens a store at dsn.
func testDBAt(t testing.TB, dsn string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), dsn)
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
