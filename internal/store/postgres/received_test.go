package postgres_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A node that received under an agreement before migration 0025 lists it after the upgrade
// (storetest.ReceivedAfterUpgrade), on PostgreSQL. The database from before is made by
// undoing 0025 on a fresh one (dropping its table and its row).
func TestReceivedAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	id := storetest.ReceivedBeforeUpgrade(t, db)
	db.Close()

	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DROP TABLE fed_received`, nil},
		{`INSERT INTO observation_counts (datastream_id, n) VALUES ($1, 42) ON CONFLICT (datastream_id) DO UPDATE SET n = 42`, []any{id}}, // what it holds
		{`DELETE FROM schema_migrations WHERE version = '0025_federation_received'`, nil},
	} {
		if _, err := c.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	c.Close(ctx)

	db, err = postgres.Open(ctx, dsn) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ReceivedAfterUpgrade(t, db, id)
}
