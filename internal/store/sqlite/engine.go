package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ sqlq.Engine = (*DB)(nil)

// NewEntities returns the SensorThings entity store on db; qc checks every observation.
func NewEntities(db *DB, qc sensing.Checker) *sqlq.Entities { return sqlq.NewEntities(db, qc) }

// NewAuth returns the organisation and API key store on db.
func NewAuth(db *DB) *sqlq.Auth { return sqlq.NewAuth(db) }

// NewAlerts returns the store of alerts, rules and the rule engine's state on db.
func NewAlerts(db *DB) *sqlq.Alerts { return sqlq.NewAlerts(db) }

// Clock implements sqlq.Engine.
func (db *DB) Clock() time.Time { return db.Now() }

// Read implements sqlq.Engine: a read-only transaction on the read pool (a WAL snapshot).
func (db *DB) Read(ctx context.Context, fn func(sqlq.Tx) error) error {
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the store cannot begin a transaction; try again")
	}
	defer db.rstmts.prepareWanted(context.WithoutCancel(ctx)) // after the Rollback below
	defer tx.Rollback()
	if err := fn(execer{tx, &db.rstmts}); err != nil {
		return err
	}
	return tx.Commit()
}

// Do implements sqlq.Engine: statements on the read pool.
func (db *DB) Do(ctx context.Context, fn func(sqlq.Tx) error) error {
	defer db.rstmts.prepareWanted(context.WithoutCancel(ctx))
	return fn(execer{db.r, &db.rstmts})
}

// Write implements sqlq.Engine: a transaction on the one writer connection.
func (db *DB) Write(ctx context.Context, fn func(sqlq.Tx) error) error {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the store cannot begin a transaction; try again")
	}
	defer db.wstmts.prepareWanted(context.WithoutCancel(ctx)) // after the Rollback below: the writer is free
	defer tx.Rollback()
	if err := fn(execer{tx, &db.wstmts}); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// Dialect implements sqlq.Engine.
func (db *DB) Dialect() sqlq.Dialect { return sqlq.SQLite }

// Dynamic implements sqlq.Engine: SQLite takes '?' and any value as it is.
func (db *DB) Dynamic(query string, args []any) (string, []any) { return query, args }

// NoIndex implements sqlq.Engine: a unary + keeps SQLite from using an index (or the rowid)
// for a condition on col.
func (db *DB) NoIndex(col string) string { return "+" + col }

// CursorKey implements sqlq.Engine.
func (db *DB) CursorKey(v any) any { return v }

// QueryErr implements sqlq.Engine: a bad filter that only SQLite could see (an invalid
// geometry literal in a Go-registered function, a malformed JSON path) is the client's.
func (db *DB) QueryErr(err error) error {
	msg := err.Error()
	if strings.Contains(msg, "rabta_") || strings.Contains(msg, "malformed JSON") || strings.Contains(msg, "JSON path") {
		return apperr.Wrap(apperr.Invalid, err, "the query cannot be evaluated on this data (for example an invalid geometry literal, or a property path into something that is not JSON)")
	}
	// SQLite's own limits (https://www.sqlite.org/limits.html), should a query within Rabta's
	// (docs/sensorthings.md) still reach one: the client's query is too big, not the node broken
	for _, lim := range []string{"Expression tree is too large", "too many SQL variables", "at most 64 tables in a join", "too many terms in compound SELECT", "too many columns", "Recursion limit", "parser stack overflow"} {
		if strings.Contains(msg, lim) {
			return apperr.Wrap(apperr.Invalid, err, "the query is over a limit of the database (SQLite: %s); make $filter or $expand smaller", strings.ToLower(lim[:1])+lim[1:])
		}
	}
	return err
}

// WriteErr implements sqlq.Engine: a constraint SQLite enforces becomes the kind the client
// should see (SQLite result codes, https://www.sqlite.org/rescode.html).
func (db *DB) WriteErr(err error) error {
	var ae *apperr.Error
	if err == nil || errors.As(err, &ae) {
		return err
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return apperr.Wrap(apperr.Conflict, err, "already exists")
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return apperr.Wrap(apperr.NotFound, err, "a linked entity does not exist")
	case sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_CHECK:
		return apperr.Wrap(apperr.Invalid, err, "invalid value")
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return apperr.Wrap(apperr.Unavailable, err, "the store is busy; try again")
	}
	return err
}

// InsertObservations implements sqlq.Engine: one prepared INSERT per transaction; the single
// writer hands out rowids in order.
func (db *DB) InsertObservations(ctx context.Context, tx sqlq.Tx, obs []*sensing.Observation) error {
	// the statement cache's (stmts.go), parsed once per pool; the first call prepares its own
	e := tx.(execer)
	q := e.q.(*sql.Tx)
	stmt, err := e.prepared(ctx, insertObservation) // q.StmtContext of the cached one: Close leaves that one open
	if err == nil && stmt == nil {
		stmt, err = q.PrepareContext(ctx, insertObservation)
	}
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, o := range obs {
		res, err := stmt.ExecContext(ctx, sqlq.ObservationRow(o)...)
		if err != nil {
			return err
		}
		if o.ID, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return nil
}

var insertObservation = "INSERT INTO observations (" + strings.Join(sqlq.ObservationColumns, ", ") + ") VALUES (" +
	strings.TrimSuffix(strings.Repeat("?, ", len(sqlq.ObservationColumns)), ", ") + ")"

// CopyRows implements sqlq.Engine: a multi-row INSERT of up to 256 rows, prepared once and
// run for every full batch (parsing the statement once, not once per batch, and binding many
// rows per call), then one for the rest.
func (db *DB) CopyRows(ctx context.Context, tx sqlq.Tx, table string, cols []string, n int, row func(i int) []any) error {
	q := tx.(execer).q.(*sql.Tx)
	if n > 100_000 {
		// a large plan writes several indexes at once: a page cache of 128 MiB for this
		// statement run keeps their pages in memory; the writer's usual writerCacheKiB afterwards
		if _, err := q.ExecContext(ctx, "PRAGMA cache_size = -131072"); err != nil {
			return err
		}
		defer q.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB))
	}
	per := min(256, 32766/len(cols))
	one := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + ")"
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	var stmt *sql.Stmt
	defer func() {
		if stmt != nil {
			stmt.Close()
		}
	}()
	args := make([]any, 0, per*len(cols))
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		args = args[:0]
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		if end-start < per { // the rest
			_, err := q.ExecContext(ctx, head+strings.TrimSuffix(strings.Repeat(one+", ", end-start), ", "), args...)
			return err
		}
		if stmt == nil {
			var err error
			if stmt, err = q.PrepareContext(ctx, head+strings.TrimSuffix(strings.Repeat(one+", ", per), ", ")); err != nil {
				return err
			}
		}
		if _, err := stmt.ExecContext(ctx, args...); err != nil {
			return err
		}
	}
	return nil
}

// Prepare implements sqlq.Engine: nothing to prepare.
func (db *DB) Prepare(context.Context, func() []time.Time) error { return nil }

// Retry implements sqlq.Engine: nothing is worth retrying.
func (db *DB) Retry(error) bool { return false }

// Outbox implements sqlq.Engine: one writer commits outbox entries in id order, so a
// watermark (the highest published id) is the whole record.
func (db *DB) Outbox() sqlq.OutboxLog { return &db.outbox }

// Lock implements sqlq.Engine. One process owns a SQLite store (the data directory is
// locked), so an in-process mutex is the whole story.
func (db *DB) Lock(ctx context.Context, name string, fn func(context.Context) error) error {
	return db.locks.Do(name, func() error { return fn(ctx) })
}

// watermark is the outbox record of a single-writer store.
type watermark struct {
	mu        sync.Mutex
	published int64 // the highest id the relay has published
	purged    int64 // the highest id deleted
}

func (w *watermark) Unpublished() (string, []any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "id > ?", []any{w.published}
}

func (w *watermark) Published(ids []int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		w.published = max(w.published, id)
	}
}

func (w *watermark) Pending() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.published > w.purged
}

func (w *watermark) Purge(ctx context.Context, tx sqlq.Tx) error {
	w.mu.Lock()
	upTo, purged := w.published, w.purged
	w.mu.Unlock()
	if upTo <= purged {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id <= ?`, upTo); err != nil {
		return err
	}
	w.mu.Lock()
	w.purged = max(w.purged, upTo)
	w.mu.Unlock()
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// execer is sqlq.Tx on database/sql; inside a transaction with stmts set, its statements
// come from that cache (stmts.go).
type execer struct {
	q     querier
	stmts *stmtCache
}

// uncancelled is ctx without its cancellation when it is sqlq.Short: the driver then watches
// nothing (no goroutine, no progress handler per statement).
func uncancelled(ctx context.Context) context.Context {
	if ctx.Done() != nil && sqlq.IsShort(ctx) {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (e execer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	ctx = uncancelled(ctx)
	q := e.q
	if st, err := e.prepared(ctx, query); err != nil {
		return 0, err
	} else if st != nil {
		q = stmtQuerier{st}
	}
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (e execer) Query(ctx context.Context, query string, args ...any) (sqlq.Rows, error) {
	ctx = uncancelled(ctx)
	q := e.q
	if st, err := e.prepared(ctx, query); err != nil {
		return nil, err
	} else if st != nil {
		q = stmtQuerier{st}
	}
	r, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows{r}, nil
}

func (e execer) QueryRow(ctx context.Context, query string, args ...any) sqlq.Row {
	ctx = uncancelled(ctx)
	if st, err := e.prepared(ctx, query); err != nil {
		return errRow{err}
	} else if st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return e.q.QueryRowContext(ctx, query, args...)
}

// stmtQuerier is a prepared statement as a querier (the query text is its own).
type stmtQuerier struct{ st *sql.Stmt }

func (s stmtQuerier) ExecContext(ctx context.Context, _ string, args ...any) (sql.Result, error) {
	return s.st.ExecContext(ctx, args...)
}

func (s stmtQuerier) QueryContext(ctx context.Context, _ string, args ...any) (*sql.Rows, error) {
	return s.st.QueryContext(ctx, args...)
}

func (s stmtQuerier) QueryRowContext(ctx context.Context, _ string, args ...any) *sql.Row {
	return s.st.QueryRowContext(ctx, args...)
}

// errRow is a Row whose Scan returns err (a statement that could not be prepared).
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

type rows struct{ *sql.Rows }

func (r rows) Close() { r.Rows.Close() }

// NewDissemination returns the store of subscribers and deliveries over db.
func NewDissemination(db *DB) *sqlq.Dissemination { return sqlq.NewDissemination(db) }

// NewPlaces returns the store of places over db.
func NewPlaces(db *DB) *sqlq.Places { return sqlq.NewPlaces(db) }
