package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// A database made before migration 0007 (tables without AUTOINCREMENT, as the migrations made
// them then) reused the newest id after a delete; once opened by this version it never does.
// The legacy database is made by undoing 0007 by hand on a fresh one, the way 0007 does it.
func TestIDsNotReusedAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	ents := sqlq.NewEntities(db, nil)
	sensor := func() *sensing.Entity {
		return &sensing.Entity{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "d", "encodingType": "text/html", "metadata": "x"}}
	}
	for range 3 {
		if _, err := ents.Create(ctx, sensor()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`PRAGMA writable_schema = ON`,
		`UPDATE sqlite_schema SET sql = replace(sql, 'INTEGER PRIMARY KEY AUTOINCREMENT,', 'INTEGER PRIMARY KEY,') WHERE type = 'table' AND name IN ('sensors', 'observations')`,
		`PRAGMA writable_schema = RESET`,
		`DELETE FROM sqlite_sequence WHERE name IN ('sensors', 'observations')`,
		`DELETE FROM schema_migrations WHERE version = '0007_ids'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// the legacy behaviour, so that this test can tell: the newest id comes again
	var a, b int64
	raw.QueryRow(`INSERT INTO sensors (name, description, encoding_type, metadata) VALUES ('s', 'd', 'x', 'x') RETURNING id`).Scan(&a)
	raw.Exec(`DELETE FROM sensors WHERE id = ?`, a)
	raw.QueryRow(`INSERT INTO sensors (name, description, encoding_type, metadata) VALUES ('s', 'd', 'x', 'x') RETURNING id`).Scan(&b)
	raw.Exec(`DELETE FROM sensors WHERE id = ?`, b)
	if a != 4 || b != 4 {
		t.Fatalf("the legacy schema gave ids %d then %d, want 4 twice (reused)", a, b)
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path) // migrates
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ents = sqlq.NewEntities(db, nil)
	if err := ents.Delete(ctx, sensing.Sensors, 3); err != nil {
		t.Fatal(err)
	}
	for want := int64(4); want <= 5; want++ {
		id, err := ents.Create(ctx, sensor())
		if err != nil {
			t.Fatal(err)
		}
		if id != want {
			t.Fatalf("after the upgrade, Sensor 3 deleted: new id %d, want %d", id, want)
		}
		if err := ents.Delete(ctx, sensing.Sensors, id); err != nil {
			t.Fatal(err)
		}
	}
	var auto int
	db.Read(ctx, func(tx sqlq.Tx) error {
		return tx.QueryRow(ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('sensors', 'observations') AND sql LIKE '%AUTOINCREMENT%'`).Scan(&auto)
	})
	if auto != 2 {
		t.Errorf("%d of sensors and observations have AUTOINCREMENT after the upgrade, want 2", auto)
	}
}
