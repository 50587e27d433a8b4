package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"
)

// A store made before migration 0027 (what readers outside an alert's organisation see of
// it) fills it in for the alerts already there: an issued alert with no draft waiting shows
// its level and time; one with a draft waiting shows no level (its level is the draft's) and
// the time of its last message; a draft never issued, no level and its own time (nobody else
// reads it; issuing it sets both).
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
	us := func(min int) int64 { return time.Date(2025, 8, 1, 0, min, 0, 0, time.UTC).UnixMicro() }
	exec(`INSERT INTO alerts (id, rule_id, organisation, state, status, level, level_name, draft, created_us, updated_us) VALUES
		(1, 'plain', 'pdma', 'issued', 'Actual', 1, 'Low', NULL, ?, ?),
		(2, 'waiting', 'pdma', 'issued', 'Actual', 2, 'High', '{"identifier":"d"}', ?, ?),
		(3, 'draft', 'pdma', 'draft', 'Actual', 1, 'Low', '{"identifier":"e"}', ?, ?)`, us(0), us(1), us(0), us(9), us(5), us(5))
	exec(`INSERT INTO alert_messages (alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml) VALUES
		(1, 'm1', 's', ?, ?, 'Alert', 'Actual', 0, 'h', ''), (2, 'm2', 's', ?, ?, 'Alert', 'Actual', 0, 'h', ''), (2, 'm3', 's', ?, ?, 'Update', 'Actual', 0, 'h', '')`,
		us(1), us(60), us(2), us(60), us(4), us(60))
	raw.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("migrate an old store: %v", err)
	}
	defer db.Close()
	s := NewAlerts(db)
	for _, c := range []struct {
		id    int64
		level int
		name  string
		at    int
	}{{1, 1, "Low", 1}, {2, -1, "", 4}, {3, -1, "", 5}} {
		a, err := s.GetAlert(ctx, c.id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Shown.Level != c.level || a.Shown.LevelName != c.name || a.Shown.Updated.UnixMicro() != us(c.at) {
			t.Errorf("alert %d shows %+v, want level %d %q at minute %d", c.id, a.Shown, c.level, c.name, c.at)
		}
	}
}
