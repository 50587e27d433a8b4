package storetest

import (
	"fmt"
	"io/fs"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Migration 0027 (what readers outside an alert's organisation see of it, alert.Shown) on a
// store made before it: AlertsBeforeShown writes, with exec, alerts as the migrations before
// it left them; AlertsShownFilled checks what the migration filled in — an issued alert with
// no draft waiting shows its level and time; one with a draft waiting no level (its level is
// the draft's) and the time of its last message; a draft never issued no level and its own
// time (nobody else reads it; issuing it sets both).

func shownUS(min int) int64 { return time.Date(2025, 8, 1, 0, min, 0, 0, time.UTC).UnixMicro() }

// AlertsBeforeShown inserts three alerts and their messages with exec (one statement each,
// values written into the text, so that every engine runs them as they are).
func AlertsBeforeShown(exec func(q string, args ...any)) {
	// ids 1, 2, 3 in this order (an identity column on PostgreSQL takes no value of ours)
	exec(fmt.Sprintf(`INSERT INTO alerts (rule_id, organisation, state, status, level, level_name, draft, created_us, updated_us) VALUES
		('plain', 'pdma', 'issued', 'Actual', 1, 'Low', NULL, %d, %d),
		('waiting', 'pdma', 'issued', 'Actual', 2, 'High', '{"identifier":"d"}', %d, %d),
		('draft', 'pdma', 'draft', 'Actual', 1, 'Low', '{"identifier":"e"}', %d, %d)`,
		shownUS(0), shownUS(1), shownUS(0), shownUS(9), shownUS(5), shownUS(5)))
	exec(fmt.Sprintf(`INSERT INTO alert_messages (alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml) VALUES
		(1, 'm1', 's', %d, %d, 'Alert', 'Actual', false, 'h', ''), (2, 'm2', 's', %d, %d, 'Alert', 'Actual', false, 'h', ''),
		(2, 'm3', 's', %d, %d, 'Update', 'Actual', false, 'h', '')`,
		shownUS(1), shownUS(60), shownUS(2), shownUS(60), shownUS(4), shownUS(60)))
}

// AlertsShownFilled checks, after the migration, what s reads of AlertsBeforeShown's alerts.
func AlertsShownFilled(t *testing.T, s alert.Store) {
	t.Helper()
	for _, c := range []struct {
		id    int64
		level int
		name  string
		at    int
	}{{1, 1, "Low", 1}, {2, -1, "", 4}, {3, -1, "", 5}} {
		a, err := s.GetAlert(ctx(), c.id)
		if err != nil {
			t.Fatal(err)
		}
		if a.Shown.Level != c.level || a.Shown.LevelName != c.name || a.Shown.Updated.UnixMicro() != shownUS(c.at) {
			t.Errorf("alert %d shows %+v, want level %d %q at minute %d", c.id, a.Shown, c.level, c.name, c.at)
		}
	}
}

// MigratedBefore makes, with exec, the schema the migrations of fsys (migrations/*.sql,
// spelled by ddl) left before the first whose name ends in suffix ("_alerts_shown"), and
// records them in schema_migrations: a store from before that migration, for the tests of
// what it does to data already there.
func MigratedBefore(t *testing.T, fsys fs.FS, ddl sqlq.DDL, suffix string, exec func(q string, args ...any)) {
	t.Helper()
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	exec(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		if strings.HasSuffix(version, suffix) { // the migrations before it, whatever its number
			return
		}
		src, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		body, err := ddl.Expand(string(src))
		if err != nil {
			t.Fatal(err)
		}
		exec(body)
		exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES ('%s', 0)`, version))
	}
	t.Fatalf("no migration named *%s", suffix)
}
