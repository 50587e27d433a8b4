package sqlq

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// Tx runs statements in one transaction (or, for Engine.Read, in one read-only snapshot). SQL
// text uses '?' placeholders; an engine whose driver numbers them ($1, $2 …) rewrites them
// outside quoted text. Values are Go values both drivers take: int64, float64, string,
// []byte, bool, nil, and pointers to them (nil pointer = NULL).
type Tx interface {
	// Exec runs a statement and returns the number of rows it affected.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// Query runs a query; the caller closes the Rows.
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow returns one row; its Scan returns ErrNoRows when there is none.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Rows is the result of Tx.Query. Nullable columns scan into pointers (*string, *int64,
// *float64), which database/sql and pgx both fill.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Row is the result of Tx.QueryRow.
type Row interface{ Scan(dest ...any) error }

// ErrNoRows is what Row.Scan returns when the query selected no row, whatever the engine.
var ErrNoRows = sql.ErrNoRows

// Engine is what a store engine (SQLite, PostgreSQL) gives the SQL core: transactions, its SQL
// dialect, and the few things it does its own way. Everything else — listing and keyset
// paging, $expand, deep insert, update, delete, ingest with QC and the outbox, alerts, rules,
// keys — is written once in this package over an Engine.
type Engine interface {
	// Read runs fn in a read-only transaction that sees one snapshot.
	Read(ctx context.Context, fn func(Tx) error) error
	// Do runs fn's statements outside a transaction, each on its own: single-statement reads
	// that need no snapshot (a key by its hash on every request).
	Do(ctx context.Context, fn func(Tx) error) error
	// Write runs fn in one write transaction, committed when fn returns nil. A transaction
	// that cannot begin is an apperr.Unavailable error.
	Write(ctx context.Context, fn func(Tx) error) error
	// Clock is the time of HistoricalLocations, outbox entries and keys.
	Clock() time.Time
	// Dialect spells the functions of compiled $filter and $orderby expressions.
	Dialect() Dialect
	// Dynamic prepares compiled query text and its arguments for running once (PostgreSQL
	// types each argument by its Go value; SQLite needs nothing).
	Dynamic(query string, args []any) (string, []any)
	// NoIndex spells column col so that the planner does not use an index on it for this
	// condition (SQLite: "+col"; PostgreSQL's planner needs no hint).
	NoIndex(col string) string
	// QueryErr gives errors of a read query their kind: what only the database could see of a
	// bad $filter is the client's mistake.
	QueryErr(err error) error
	// WriteErr gives the errors the database raises for a write (a constraint refused it)
	// their kind; the user sees only the message, never the constraint or the code.
	WriteErr(err error) error
	// CursorKey turns an order key as scanned into a value that survives the paging cursor's
	// JSON and compares the same when bound again.
	CursorKey(v any) any
	// InsertObservations writes obs (QC done, FoI set) in tx and sets each one's ID; the ids
	// grow with the order of obs in one unbroken run, so that outbox id ranges hold only
	// this transaction's rows.
	InsertObservations(ctx context.Context, tx Tx, obs []*sensing.Observation) error
	// CopyRows writes n rows into table in tx the fastest way the engine has (PostgreSQL's
	// COPY, SQLite's one prepared INSERT run per row); row(i) gives the i-th row's values in
	// the order of cols. The rows must not conflict with rows already there: there is no ON
	// CONFLICT clause.
	CopyRows(ctx context.Context, tx Tx, table string, cols []string, n int, row func(i int) []any) error
	// Prepare readies the engine for observations at the phenomenon times times returns,
	// outside any transaction (PostgreSQL creates missing monthly partitions; an engine with
	// nothing to prepare never calls times). Retry tells whether a write that failed with err is
	// worth one more attempt after Prepare (a partition was dropped meanwhile by another process).
	Prepare(ctx context.Context, times func() []time.Time) error
	Retry(err error) bool
	// Outbox is the engine's record of outbox entries published but not yet deleted.
	Outbox() OutboxLog
	// Lock runs fn holding the node-wide lock name (every process of the node).
	Lock(ctx context.Context, name string, fn func(context.Context) error) error
}

// ObservationQueuer is an Engine whose insert of a few observations can go with the other
// writes of an ingest transaction, sent together at its end (Queue; on PostgreSQL one round
// trip for the rows, counts, outbox entries and spans, where a COPY alone takes two) — the
// single-observation writes a group commit gathers.
type ObservationQueuer interface {
	// QueueObservations does what InsertObservations does (each one's ID set, in one unbroken
	// run of ids), but queues the INSERT on q instead of running it; false, having done
	// nothing, when obs are too many for one queued statement.
	QueueObservations(ctx context.Context, tx Tx, q Queue, obs []*sensing.Observation) (bool, error)
}

// Lateral is an Engine that reads an expanded collection of many entities with one statement
// joined LATERAL to the array of their ids, kept prepared (PostgreSQL; batch.go).
type Lateral interface {
	// Prepared is Dynamic for a statement run many times with the same text: it is kept
	// prepared on the connection, so that the database can plan it once.
	Prepared(query string, args []any) (string, []any)
	// Generic, on, makes the prepared statements tx runs from now on use one plan made for
	// any arguments, made once per connection; off gives the choice back to the database.
	// Outside a transaction it changes nothing.
	Generic(ctx context.Context, tx Tx, on bool) error
}

// OutboxLog remembers which outbox entries the relay has published until a write
// transaction deletes them. A single-writer engine keeps a watermark; an engine with several
// writers (several processes), whose entries commit out of id order, keeps the set of ids.
type OutboxLog interface {
	// Unpublished returns a condition on the outbox's id column that leaves out published
	// entries, and its arguments.
	Unpublished() (cond string, args []any)
	// Published records ids as published.
	Published(ids []int64)
	// Pending tells whether published entries wait to be deleted.
	Pending() bool
	// Purge deletes the published entries inside a write transaction.
	Purge(ctx context.Context, tx Tx) error
}

// each runs query in tx and calls fn for every row.
func each(ctx context.Context, tx Tx, fn func(Rows) error, query string, args ...any) error {
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// readEach runs one query outside a transaction and calls fn for every row.
func readEach(ctx context.Context, eng Engine, fn func(Rows) error, query string, args ...any) error {
	return eng.Do(ctx, func(tx Tx) error { return each(ctx, tx, fn, query, args...) })
}

// readRow runs one single-row query outside a transaction and scans it into dest.
func readRow(ctx context.Context, eng Engine, query string, args []any, dest ...any) error {
	return eng.Do(ctx, func(tx Tx) error { return tx.QueryRow(ctx, query, args...).Scan(dest...) })
}

// Mutexes serialises this process's callers by name: the whole of a node-wide lock for an
// engine one process owns, the first step of one for an engine shared by several processes.
// The zero value is ready to use.
type Mutexes struct{ m sync.Map }

// Do runs fn holding the mutex name.
func (l *Mutexes) Do(name string, fn func() error) error {
	m, _ := l.m.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	return fn()
}
