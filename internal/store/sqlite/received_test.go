package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A node that received under an agreement before migration 0025 lists it after the upgrade
// (storetest.ReceivedAfterUpgrade). The database from before is made by undoing 0025 on a
// fresh one (dropping its table and its row).
func TestReceivedAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	id := storetest.ReceivedBeforeUpgrade(t, db)
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`DROP TABLE fed_received`, nil},
		{`INSERT OR REPLACE INTO observation_counts (datastream_id, n) VALUES (?, 42)`, []any{id}}, // what it holds
		{`DELETE FROM schema_migrations WHERE version = '0025_federation_received'`, nil},
	} {
		if _, err := raw.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	storetest.ReceivedAfterUpgrade(t, db, id)
}
