package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A store made before migration 0027 (what readers outside an alert's organisation see of
// it) fills it in for the alerts already there (storetest.AlertsShownFilled).
func TestMigrateToAlertsShown(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if strings.HasSuffix(version, "_alerts_shown") {
			break
		}
		src, _ := fs.ReadFile(migrations, name)
		body, err := sqlq.SQLiteDDL.Expand(string(src))
		if err != nil {
			t.Fatal(err)
		}
		exec(body)
		exec(`INSERT INTO schema_migrations VALUES (?, 0)`, version)
	}
	storetest.AlertsBeforeShown(exec)
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	storetest.AlertsShownFilled(t, NewAlerts(db))
}
