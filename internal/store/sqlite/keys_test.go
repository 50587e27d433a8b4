package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// A database made before keys could expire (migration 0010) keeps its keys valid, without an
// expiry, and takes keys that expire after the upgrade.
func TestKeyExpiryAfterUpgrade(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "rabta.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	old, oldID, err := auth.Create(ctx, sqlite.NewAuth(db), "pdma", auth.Operator, "before")
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`ALTER TABLE api_keys DROP COLUMN expires_at`, `DELETE FROM schema_migrations WHERE version = '0010_auth_expiry'`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a := sqlite.NewAuth(db)
	k, err := a.KeyByHash(ctx, auth.Hash(old))
	if err != nil || k.ID != oldID || k.ExpiresAt != nil {
		t.Errorf("a key from before the upgrade: %+v %v", k, err)
	}
	exp := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	_, id, err := auth.CreateUntil(ctx, a, "pdma", auth.Viewer, "after", exp)
	if err != nil {
		t.Fatal(err)
	}
	if k, err := a.KeyByID(ctx, id); err != nil || k.ExpiresAt == nil || !k.ExpiresAt.Equal(exp) {
		t.Errorf("a key made after the upgrade: %+v %v", k, err)
	}
}
