package sqlq

import "context"

// Stmt is one statement with its arguments, for ExecBatch. Scan, when set, is given the
// statement's first row (a RETURNING clause) once it has run; the statement must return one.
type Stmt struct {
	Query string
	Args  []any
	Scan  func(Row) error
}

// ExecBatcher is a Tx that can send several statements in one round trip (PostgreSQL: a pgx
// Batch, pipelined); the statements run in order in the transaction and the first error is
// returned. An engine whose statements cost no round trip (SQLite) need not have it.
type ExecBatcher interface {
	ExecBatch(ctx context.Context, stmts []Stmt) error
}

// deferred is a Tx whose Exec statements are only collected, to be sent together by flush
// (ExecBatch when the transaction has it, one by one otherwise). Used at the end of an ingest
// transaction for the statements whose answers nothing waits for (counts, outbox entries, the
// outbox purge, time spans): every error there fails the transaction anyway. Exec reports 0
// rows; Query and QueryRow send what is collected first, so order is kept.
type deferred struct {
	tx    Tx
	stmts []Stmt
}

func (d *deferred) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	d.stmts = append(d.stmts, Stmt{Query: query, Args: args})
	return 0, nil
}

// QueueRow collects a statement that returns one row (INSERT … RETURNING) to be sent with the
// others; scan is given that row when they are sent (flush), and its error fails the flush.
func (d *deferred) QueueRow(query string, args []any, scan func(Row) error) {
	d.stmts = append(d.stmts, Stmt{Query: query, Args: args, Scan: scan})
}

// Queue is a Tx whose Exec statements (and QueueRow's) are collected and sent together at
// the end of an ingest transaction (one round trip on PostgreSQL): the deferred Tx of
// insertParts, which engines given it may queue their writes on (ObservationQueuer).
type Queue interface {
	Tx
	QueueRow(query string, args []any, scan func(Row) error)
}

func (d *deferred) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	if err := d.flush(ctx); err != nil {
		return nil, err
	}
	return d.tx.Query(ctx, query, args...)
}

func (d *deferred) QueryRow(ctx context.Context, query string, args ...any) Row {
	if err := d.flush(ctx); err != nil {
		return errRow{err}
	}
	return d.tx.QueryRow(ctx, query, args...)
}

// flush sends the collected statements.
func (d *deferred) flush(ctx context.Context) error {
	stmts := d.stmts
	d.stmts = nil
	if len(stmts) == 0 {
		return nil
	}
	if b, ok := d.tx.(ExecBatcher); ok && len(stmts) > 1 {
		return b.ExecBatch(ctx, stmts)
	}
	for _, s := range stmts {
		if s.Scan != nil {
			if err := s.Scan(d.tx.QueryRow(ctx, s.Query, s.Args...)); err != nil {
				return err
			}
		} else if _, err := d.tx.Exec(ctx, s.Query, s.Args...); err != nil {
			return err
		}
	}
	return nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }
