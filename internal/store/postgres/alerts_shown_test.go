package postgres

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// A store made before migration 0027 (what readers outside an alert's organisation see of
// it) fills it in for the alerts already there (storetest.AlertsShownFilled).
func TestMigrateToAlertsShown(t *testing.T) {
	ctx := context.Background()
	dsn := storetest.PostgresSchema(t)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := c.Exec(ctx, q, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...); err != nil {
			t.Fatalf("%.80s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	names, _ := fs.Glob(migrations, "migrations/*.sql")
	for _, name := range names {
		version := strings.TrimSuffix(filepath.Base(name), ".sql")
		if strings.HasSuffix(version, "_alerts_shown") {
			break
		}
		src, _ := fs.ReadFile(migrations, name)
		body, err := sqlq.PostgresDDL.Expand(string(src))
		if err != nil {
			t.Fatal(err)
		}
		exec(body)
		exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES ('%s', 0)`, version))
	}
	storetest.AlertsBeforeShown(exec)
	db, err := Open(ctx, dsn)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	storetest.AlertsShownFilled(t, NewAlerts(db))
}
