package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

var (
	_ sqlq.Engine     = (*DB)(nil)
	_ sqlq.TxPreparer = (*DB)(nil)
)

// NewEntities returns the SensorThings entity store on db; qc checks every observation.
func NewEntities(db *DB, qc sensing.Checker) *sqlq.Entities { return sqlq.NewEntities(db, qc) }

// NewAuth returns the organisation and API key store on db.
func NewAuth(db *DB) *sqlq.Auth { return sqlq.NewAuth(db) }

// NewAlerts returns the store of alerts, rules and the rule engine's state on db.
func NewAlerts(db *DB) *sqlq.Alerts { return sqlq.NewAlerts(db) }

// Clock implements sqlq.Engine.
func (db *DB) Clock() time.Time { return db.Now() }

// readTx: count, page and expands of one listing see one snapshot.
var readTx = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}

// Read implements sqlq.Engine: a REPEATABLE READ, read-only transaction.
func (db *DB) Read(ctx context.Context, fn func(sqlq.Tx) error) error {
	return db.tx(ctx, readTx, func(tx pgx.Tx) error { return fn(execer{tx}) })
}

// Do implements sqlq.Engine: statements on a pooled connection.
func (db *DB) Do(ctx context.Context, fn func(sqlq.Tx) error) error {
	return db.conn(ctx, func(c *pgx.Conn) error { return fn(execer{c}) })
}

// Write implements sqlq.Engine: one READ COMMITTED transaction. Rows two transactions both
// touch (a datastream's time span, a Feature of Interest made from a Location) are written
// so that the second waits for the first instead of failing.
func (db *DB) Write(ctx context.Context, fn func(sqlq.Tx) error) error {
	return db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error { return fn(execer{tx}) })
}

// Dialect implements sqlq.Engine: PostgreSQL's functions, with '?' placeholders that the
// executor numbers (a store query is put together from pieces, some repeated).
func (db *DB) Dialect() sqlq.Dialect { return qmark{sqlq.Postgres} }

// qmark spells sqlq.Postgres with '?' placeholders.
type qmark struct{ sqlq.Dialect }

func (qmark) Placeholder(int) string { return "?" }

// Dynamic implements sqlq.Engine: each '?' typed by its argument's Go value (PostgreSQL
// cannot type "$1 + $2" otherwise; strings stay untyped so that they take the type of what
// they are compared with), run with pgx's QueryExecModeExec: one round trip, no statement
// cached for a query seen once.
func (db *DB) Dynamic(query string, args []any) (string, []any) {
	n := 0
	return markers(query, func(b *strings.Builder) {
		b.WriteByte('?')
		if n < len(args) {
			b.WriteString(pgType(args[n]))
		}
		n++
	}), append([]any{pgx.QueryExecModeExec}, args...)
}

// Prepared implements sqlq.Lateral: Dynamic's text, run with pgx's QueryExecModeCacheStatement
// (prepared on the connection the first time, by name, and kept in its statement cache).
func (db *DB) Prepared(query string, args []any) (string, []any) {
	text, args := db.Dynamic(query, args)
	args[0] = pgx.QueryExecModeCacheStatement
	return text, args
}

// Generic implements sqlq.Lateral: plan_cache_mode force_generic_plan for the rest of tx
// (SET LOCAL), or the server's own setting again.
func (db *DB) Generic(ctx context.Context, tx sqlq.Tx, on bool) error {
	set := "SET LOCAL plan_cache_mode TO DEFAULT"
	if on {
		set = "SET LOCAL plan_cache_mode = force_generic_plan"
	}
	_, err := tx.Exec(ctx, set)
	return err
}

func pgType(v any) string {
	switch v.(type) {
	case int64, int:
		return "::int8"
	case float64:
		return "::float8"
	case bool:
		return "::boolean"
	}
	return ""
}

// number rewrites the '?' markers outside quotes as $1, $2, ….
func number(query string) string {
	if !strings.ContainsRune(query, '?') {
		return query
	}
	n := 0
	return markers(query, func(b *strings.Builder) {
		n++
		b.WriteString("$" + strconv.Itoa(n))
	})
}

// markers copies query, letting mark write what stands for each '?' marker outside quotes.
func markers(query string, mark func(b *strings.Builder)) string {
	var b strings.Builder
	start := 0
	sqlq.Unquoted(query, func(i int, c byte, _ int) {
		if c == '?' {
			b.WriteString(query[start:i])
			mark(&b)
			start = i + 1
		}
	})
	b.WriteString(query[start:])
	return b.String()
}

// TextKeys tells sqlq that a $skiptoken key of a JSON order term is bound as text here: the
// term is text, and Dynamic types a number or boolean by its Go type.
func (db *DB) TextKeys() bool { return true }

// NoIndex implements sqlq.Engine: PostgreSQL's planner needs no hint.
func (db *DB) NoIndex(col string) string { return col }

// CursorKey implements sqlq.Engine: an order key as scanned, as a value that survives the
// cursor's JSON and compares the same when bound.
func (db *DB) CursorKey(v any) any {
	switch v := v.(type) {
	case int16:
		return int64(v)
	case int32:
		return int64(v)
	case pgtype.Numeric:
		f, err := v.Float64Value()
		if err != nil || !f.Valid {
			return nil
		}
		return db.CursorKey(f.Float64)
	case float64:
		// not representable in JSON: bound as a string, PostgreSQL reads it as float8
		switch {
		case math.IsNaN(v):
			return "NaN"
		case math.IsInf(v, 1):
			return "Infinity"
		case math.IsInf(v, -1):
			return "-Infinity"
		}
	}
	return v
}

// QueryErr implements sqlq.Engine: what only PostgreSQL could see of a bad filter (a string
// where a number is compared, a geometry PostGIS refuses, a number out of range) is the
// client's mistake.
func (db *DB) QueryErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "22"), // data exception: invalid input, division, out of range
			pe.Code == "XX000" && strings.Contains(pe.Message, "GEOS"): // PostGIS refuses a geometry
			return apperr.Wrap(apperr.Invalid, err, "the query cannot be evaluated on this data (for example a string compared with a number, a number out of range, or an invalid geometry)")
		case strings.HasPrefix(pe.Code, "54"): // program limit exceeded: stack depth, too many arguments ...
			return apperr.Wrap(apperr.Invalid, err, "the query is over a limit of the database (PostgreSQL: %s); make $filter or $expand smaller", pe.Message)
		}
	}
	return err
}

// WriteErr implements sqlq.Engine (see writeErr).
func (db *DB) WriteErr(err error) error { return writeErr(err) }

var obsColumns = append([]string{"id"}, sqlq.ObservationColumns...)

// InsertObservations implements sqlq.Engine: ids first (one round trip), in item order, in one
// unbroken run however many processes insert at once (rabta_reserve_observation_ids), so that
// an outbox entry's id range takes in no other transaction's rows; then COPY.
func (db *DB) InsertObservations(ctx context.Context, tx sqlq.Tx, obs []*sensing.Observation) error {
	ptx := tx.(execer).q.(pgx.Tx)
	ids, err := db.reserveIDs(ctx, ptx, len(obs))
	if err != nil {
		return err
	}
	k := 0
	src := pgx.CopyFromFunc(func() ([]any, error) {
		if k == len(obs) {
			return nil, nil
		}
		o := obs[k]
		o.ID = ids[k]
		k++
		row := sqlq.ObservationRow(o)
		row[8] = int16(o.Flag) // qc is a smallint
		return append([]any{o.ID}, row...), nil
	})
	_, err = ptx.CopyFrom(ctx, pgx.Identifier{"observations"}, obsColumns, src)
	return err
}

// reserveIDs reserves n observation ids in one unbroken run (rabta_reserve_observation_ids),
// in ascending order.
func (db *DB) reserveIDs(ctx context.Context, ptx pgx.Tx, n int) ([]int64, error) {
	db.idMu.Lock()
	if db.idLock == 0 {
		k, err := lockKey(ctx, ptx, "observation-ids")
		if err != nil {
			db.idMu.Unlock()
			return nil, fmt.Errorf("reserve observation ids: %w", err)
		}
		db.idLock = k
	}
	key := db.idLock
	db.idMu.Unlock()
	rows, err := ptx.Query(ctx, `SELECT rabta_reserve_observation_ids($1, $2)`, n, key)
	if err != nil {
		return nil, fmt.Errorf("reserve observation ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("reserve observation ids: %w", err)
	}
	if len(ids) != n {
		return nil, fmt.Errorf("reserve observation ids: %d ids for %d observations", len(ids), n)
	}
	slices.Sort(ids)
	return ids, nil
}

// queueMax is the most observations QueueObservations sends as one queued INSERT; more go by
// COPY (InsertObservations), whose two round trips weigh less than binding thousands of rows.
const queueMax = 256

// insertUnnest inserts observation rows given as one array per column (obsColumns' order).
var insertUnnest = "INSERT INTO observations (" + strings.Join(obsColumns, ", ") + `) SELECT * FROM unnest(
	$1::bigint[], $2::bigint[], $3::bigint[], $4::bigint[], $5::text[], $6::bigint[], $7::text[], $8::float8[],
	$9::text[], $10::smallint[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::text[], $16::bigint[], $17::bigint[])`

// QueueObservations implements sqlq.ObservationQueuer: the ids are reserved now (one round
// trip), and the rows go as one INSERT of arrays queued on q, sent with the transaction's
// other writes — for at most queueMax observations.
func (db *DB) QueueObservations(ctx context.Context, tx sqlq.Tx, q sqlq.Queue, obs []*sensing.Observation) (bool, error) {
	if len(obs) > queueMax {
		return false, nil
	}
	ids, err := db.reserveIDs(ctx, tx.(execer).q.(pgx.Tx), len(obs))
	if err != nil {
		return false, err
	}
	n := len(obs)
	var (
		id, ds, ps, pe, rt, vs, ve, foi, md = make([]int64, n), make([]*int64, n), make([]int64, n), make([]int64, n),
			make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n), make([]*int64, n)
		pt                   = make([]string, n)
		rtt, rj, rq, vt, par = make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
		num                  = make([]*float64, n)
		qc                   = make([]int16, n)
	)
	for i, o := range obs {
		o.ID = ids[i]
		r := sqlq.ObservationRow(o) // ObservationColumns' order
		id[i], ds[i], ps[i], pe[i], pt[i] = o.ID, i64(r[0]), r[1].(int64), r[2].(int64), r[3].(string)
		rt[i], rtt[i], num[i], rj[i], qc[i], rq[i] = i64(r[4]), str(r[5]), f64(r[6]), str(r[7]), int16(o.Flag), str(r[9])
		vs[i], ve[i], vt[i], par[i], foi[i], md[i] = i64(r[10]), i64(r[11]), str(r[12]), str(r[13]), i64(r[14]), i64(r[15])
	}
	_, err = q.Exec(ctx, insertUnnest, id, ds, ps, pe, pt, rt, rtt, num, rj, qc, rq, vs, ve, vt, par, foi, md)
	return true, err
}

// i64, str and f64 give a value of ObservationRow as a pointer for an array with NULLs (nil:
// NULL).
func i64(v any) *int64 {
	if v == nil {
		return nil
	}
	x := v.(int64)
	return &x
}

func str(v any) *string {
	if v == nil {
		return nil
	}
	x := v.(string)
	return &x
}

func f64(v any) *float64 {
	if v == nil {
		return nil
	}
	x := v.(float64)
	return &x
}

// CopyRows implements sqlq.Engine with COPY.
func (db *DB) CopyRows(ctx context.Context, tx sqlq.Tx, table string, cols []string, n int, row func(i int) []any) error {
	k := 0
	_, err := tx.(execer).q.(pgx.Tx).CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if k == n {
			return nil, nil
		}
		k++
		return row(k - 1), nil
	}))
	return err
}

// Prepare implements sqlq.Engine: the monthly partitions the times fall in.
func (db *DB) Prepare(ctx context.Context, times func() []time.Time) error {
	return db.ensurePartitions(ctx, times())
}

// PrepareIn implements sqlq.TxPreparer: inside an open write transaction (a batch's change
// set) the missing partitions are created in it, holding the partition lock and the table's
// lock until it ends; they are not remembered as existing, since it may roll back (the next
// Prepare finds them and remembers them).
func (db *DB) PrepareIn(ctx context.Context, tx sqlq.Tx, times func() []time.Time) error {
	missing := db.missingPartitions(times())
	if len(missing) == 0 {
		return nil
	}
	return createPartitions(ctx, tx.(execer).q.(pgx.Tx), missing)
}

// Retry implements sqlq.Engine: another process dropped a partition this one thought was there.
func (db *DB) Retry(err error) bool {
	if isNoPartition(err) {
		db.forgetPartitions()
		return true
	}
	return false
}

// Outbox implements sqlq.Engine: several writers commit outbox entries out of id order, so an
// entry below the highest published id can still appear; the published ids are kept as a set.
func (db *DB) Outbox() sqlq.OutboxLog { return &db.outbox }

// Lock implements sqlq.Engine: a PostgreSQL advisory lock, held on one connection while fn
// runs. Callers in this process queue on a mutex first, so that waiting for the lock holds no
// pooled connection that the holder's fn may need.
func (db *DB) Lock(ctx context.Context, name string, fn func(context.Context) error) error {
	return db.locks.Do(name, func() error {
		return db.conn(ctx, func(c *pgx.Conn) error {
			if _, err := c.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, "rabta:"+name); err != nil {
				return fmt.Errorf("lock %s: %w", name, err)
			}
			defer c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, "rabta:"+name)
			return fn(ctx)
		})
	})
}

// publishedSet is the outbox record of a store with several writers.
type publishedSet struct {
	mu   sync.Mutex
	done map[int64]struct{} // published, not yet deleted
}

func (p *publishedSet) ids() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]int64, 0, len(p.done))
	for id := range p.done {
		ids = append(ids, id)
	}
	return ids
}

func (p *publishedSet) Unpublished() (string, []any) {
	return "id <> ALL(?::int8[])", []any{p.ids()}
}

func (p *publishedSet) Published(ids []int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		p.done = map[int64]struct{}{}
	}
	for _, id := range ids {
		p.done[id] = struct{}{}
	}
}

func (p *publishedSet) Pending() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.done) > 0
}

// Purge deletes the published entries. Entries another transaction is deleting (another
// process's relay published them too) are skipped, not waited for: an ingest never waits on,
// or deadlocks with, another's purge.
func (p *publishedSet) Purge(ctx context.Context, tx sqlq.Tx) error {
	ids := p.ids()
	if len(ids) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE id = ANY(?::int8[]) FOR UPDATE SKIP LOCKED)`, ids); err != nil {
		return err
	}
	p.mu.Lock()
	for _, id := range ids {
		delete(p.done, id)
	}
	p.mu.Unlock()
	return nil
}

// pgq is what *pgx.Conn and pgx.Tx have in common.
type pgq interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// execer is sqlq.Tx on pgx: '?' markers numbered, pgx.ErrNoRows reported as sqlq.ErrNoRows.
type execer struct{ q pgq }

func (e execer) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := e.q.Exec(ctx, number(query), args...)
	return tag.RowsAffected(), err
}

func (e execer) Query(ctx context.Context, query string, args ...any) (sqlq.Rows, error) {
	return e.q.Query(ctx, number(query), args...)
}

func (e execer) QueryRow(ctx context.Context, query string, args ...any) sqlq.Row {
	return row{e.q.QueryRow(ctx, number(query), args...)}
}

type row struct{ pgx.Row }

func (r row) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return sqlq.ErrNoRows
	}
	return err
}

// NewDissemination returns the store of subscribers and deliveries over db.
func NewDissemination(db *DB) *sqlq.Dissemination { return sqlq.NewDissemination(db) }

// NewPlaces returns the store of places over db.
func NewPlaces(db *DB) *sqlq.Places { return sqlq.NewPlaces(db) }

// ExecBatch implements sqlq.ExecBatcher: the statements pipelined in one pgx Batch (one
// round trip), in order, each with a Scan given its row; the first error is returned.
func (e execer) ExecBatch(ctx context.Context, stmts []sqlq.Stmt) error {
	var b pgx.Batch
	for _, s := range stmts {
		b.Queue(number(s.Query), s.Args...)
	}
	var br pgx.BatchResults
	switch q := e.q.(type) {
	case pgx.Tx:
		br = q.SendBatch(ctx, &b)
	case *pgx.Conn:
		br = q.SendBatch(ctx, &b)
	default:
		for _, s := range stmts {
			if s.Scan != nil {
				if err := s.Scan(e.QueryRow(ctx, s.Query, s.Args...)); err != nil {
					return err
				}
			} else if _, err := e.Exec(ctx, s.Query, s.Args...); err != nil {
				return err
			}
		}
		return nil
	}
	for _, s := range stmts {
		var err error
		if s.Scan != nil {
			err = s.Scan(row{br.QueryRow()})
		} else {
			_, err = br.Exec()
		}
		if err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}
