// Package postgres is Rabta's PostgreSQL store, for national deployments where several Rabta
// processes share one database. DB is an sqlq.Engine: the stores are the SQL core's (package
// sqlq), as on SQLite, with the same behaviour (package store/storetest holds both to it), and
// it is selected by configuration (a postgres:// DSN), not by code. This package keeps only what
// is PostgreSQL's own: pgx and its '?'-numbering executor, COPY with reserved ids, monthly
// partitions and Retain, advisory locks, the published-outbox set, SQLSTATE classification.
//
// It talks to PostgreSQL through pgx's native interface: bulk ingest uses COPY (pgx
// CopyFrom), which database/sql cannot express, and $filter queries send their arguments typed
// by their Go values. Connections are kept in a small pool of its own (pool.go).
//
// Observations are partitioned by phenomenon time, one partition per calendar month (UTC),
// created when a month is first written; Retain drops whole partitions, which is how a
// deployment keeps a bounded history cheaply. Needs PostGIS (geometry filters) in the database.
//
// Several processes: every write is one transaction (READ COMMITTED; rows that two
// transactions both touch — a datastream's time span, a Feature of Interest made from a
// Location — are written so that the second waits for the first instead of failing). Reads of
// one page (count, rows, expands) see one snapshot (REPEATABLE READ, read only). What stays
// per process is the cache of datastream facts that QC uses, with its Recent values and
// Checker State: when two processes ingest observations of the same datastream, each checks
// them against what it has seen itself (and what was stored when it filled its cache), so
// spike, rate and flat-line checks see part of the series. Route each datastream's ingest to
// one process (by MQTT topic, by datastream) for exact QC; range checks are exact anyway.
// Ids, and so the paging cursor's snapshot (ids up to the largest when the listing began), are
// in commit order only within one process: a row committed by another process with an id
// below that snapshot can still appear in a listing that began before it.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rabta/rabta/internal/apperr"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open PostgreSQL store.
type DB struct {
	dsn  string
	pool *pool
	Now  func() time.Time // the clock of HistoricalLocations, outbox entries and keys

	partMu sync.Mutex
	parts  map[int64]bool // months (µs at their start) whose observations partition exists

	locks sqlq.Mutexes // one holder per process before the advisory lock

	outbox publishedSet // published outbox entries
	idMu   sync.Mutex
	idLock int64 // advisory lock key of observation id reservation (0: not known yet)
}

// Options tune Open.
type Options struct {
	// MaxConns bounds open connections (default 16).
	MaxConns int
}

// Open connects to the database at dsn (postgres://user@host:port/db?sslmode=...; any pgx
// connection string) and applies pending migrations.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	db := &DB{dsn: dsn, pool: newPool(cfg, o.MaxConns), Now: time.Now, parts: map[int64]bool{}}
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// Exists reports whether the database at dsn holds a Rabta store — its schema_migrations
// lists the first of the embedded migrations — without changing anything (Open would make
// one in an empty database): for the commands that read a node's store and must not make one.
func Exists(ctx context.Context, dsn string) (bool, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false, fmt.Errorf("open store: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil || len(names) == 0 {
		return false, fmt.Errorf("migrations: %v %w", names, err)
	}
	sort.Strings(names)
	first := strings.TrimSuffix(path.Base(names[0]), ".sql")
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, apperr.Wrap(apperr.Unavailable, err, "the store (PostgreSQL database %s) cannot be reached", Name(dsn))
	}
	defer c.Close(context.WithoutCancel(ctx))
	var ok bool
	err = c.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&ok)
	if err != nil || !ok {
		return false, err
	}
	err = c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, first).Scan(&ok)
	return ok, err
}

// Name names dsn's database in messages: user@host:port/database, never its password.
func Name(dsn string) string {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return "(a connection string that does not parse)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

// Close closes every connection.
func (db *DB) Close() error {
	db.pool.close()
	return nil
}

// Ping checks that the store answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	return db.conn(ctx, func(c *pgx.Conn) error { return c.Ping(ctx) })
}

// conn runs fn on a pooled connection.
func (db *DB) conn(ctx context.Context, fn func(c *pgx.Conn) error) error {
	c, err := db.pool.acquire(ctx)
	if err != nil {
		return apperr.Wrap(apperr.Unavailable, err, "the store cannot be reached; try again")
	}
	defer db.pool.release(c)
	return fn(c)
}

// tx runs fn in one transaction with opts, committed when fn returns nil.
func (db *DB) tx(ctx context.Context, opts pgx.TxOptions, fn func(tx pgx.Tx) error) error {
	return db.conn(ctx, func(c *pgx.Conn) error {
		tx, err := c.BeginTx(ctx, opts)
		if err != nil {
			return apperr.Wrap(apperr.Unavailable, err, "the store cannot begin a transaction; try again")
		}
		defer tx.Rollback(context.WithoutCancel(ctx))
		if err := fn(tx); err != nil {
			return err
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

// lockKey is the advisory lock key of name (migrations, partition creation), per schema.
func lockKey(ctx context.Context, c interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, name string) (int64, error) {
	var schema string
	if err := c.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return 0, err
	}
	h := fnv.New64a()
	h.Write([]byte("rabta:" + schema + ":" + name))
	return int64(h.Sum64()), nil
}

// migrate applies the embedded migrations not yet applied (sqlq.Migrate), holding an advisory
// lock so that processes starting together do not race.
func (db *DB) migrate(ctx context.Context) error {
	return db.conn(ctx, func(c *pgx.Conn) error {
		key, err := lockKey(ctx, c, "migrate")
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := c.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		defer c.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key)
		return sqlq.Migrate(ctx, db, migrations, sqlq.PostgresDDL, func(ctx context.Context, tx sqlq.Tx, body string) error {
			// several statements in one string: the simple protocol runs them all
			_, err := tx.(execer).q.Exec(ctx, body, pgx.QueryExecModeSimpleProtocol)
			return err
		})
	})
}

// month returns the start of the UTC month holding t, in µs, and the start of the next.
func month(t time.Time) (start, end int64) {
	t = t.UTC()
	m := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return m.UnixMicro(), m.AddDate(0, 1, 0).UnixMicro()
}

func partitionName(startUS int64) string {
	t := time.UnixMicro(startUS).UTC()
	return fmt.Sprintf("observations_p%04d%02d", t.Year(), int(t.Month()))
}

// ensurePartitions creates the monthly partitions of observations that times fall in and that
// do not exist yet, in a transaction of its own (creating a partition locks the whole table
// briefly; done inside an ingest transaction, the lock would last as long as it).
func (db *DB) ensurePartitions(ctx context.Context, times []time.Time) error {
	missing := db.missingPartitions(times)
	if len(missing) == 0 {
		return nil
	}
	err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error { return createPartitions(ctx, tx, missing) })
	if err != nil {
		return err
	}
	db.partMu.Lock()
	for _, s := range missing {
		db.parts[s] = true
	}
	db.partMu.Unlock()
	return nil
}

// missingPartitions returns the starts (µs) of the months of times with no known partition, in order.
func (db *DB) missingPartitions(times []time.Time) []int64 {
	db.partMu.Lock()
	defer db.partMu.Unlock()
	var missing []int64
	seen := map[int64]bool{}
	for _, t := range times {
		s, _ := month(t)
		if !db.parts[s] && !seen[s] {
			seen[s] = true
			missing = append(missing, s)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	return missing
}

// createPartitions creates the monthly partitions starting at missing in tx.
func createPartitions(ctx context.Context, tx pgx.Tx, missing []int64) error {
	key, err := lockKey(ctx, tx, "partitions")
	if err != nil {
		return err
	}
	// one creator at a time across processes: CREATE TABLE IF NOT EXISTS races otherwise
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", key); err != nil {
		return err
	}
	for _, s := range missing {
		_, e := month(time.UnixMicro(s))
		if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s PARTITION OF observations FOR VALUES FROM (%d) TO (%d)",
			partitionName(s), s, e)); err != nil {
			return fmt.Errorf("create partition %s: %w", partitionName(s), err)
		}
	}
	return nil
}

// forgetPartitions empties the cache of known partitions (after Retain, or when an insert
// finds one missing because another process dropped it).
func (db *DB) forgetPartitions() {
	db.partMu.Lock()
	clear(db.parts)
	db.partMu.Unlock()
}

// isNoPartition tells whether err is PostgreSQL's "no partition of relation found for row".
func isNoPartition(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23514" && strings.Contains(pe.Message, "no partition")
}

// Partition is one monthly partition of the observations.
type Partition struct {
	Name       string
	Start, End time.Time // [Start, End) of phenomenon time (start)
}

// Partitions lists the observation partitions, oldest first.
func (db *DB) Partitions(ctx context.Context) ([]Partition, error) {
	var out []Partition
	err := db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'observations'::regclass ORDER BY c.relname`)
		if err != nil {
			return err
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		for _, n := range names {
			var y, m int
			if _, err := fmt.Sscanf(n, "observations_p%04d%02d", &y, &m); err != nil {
				continue // not one of ours
			}
			s := time.Date(y, time.Month(m), 1, 0, 0, 0, 0, time.UTC)
			out = append(out, Partition{Name: n, Start: s, End: s.AddDate(0, 1, 0)})
		}
		return nil
	})
	return out, err
}

// Retain drops every partition of observations that holds only observations whose phenomenon
// time starts before before (whole months: the month holding before is kept), then brings
// the datastreams' and MultiDatastreams' phenomenon and result time spans back in line with what is left. It
// returns the partitions dropped. Dropping a partition is cheap (no row is deleted one by
// one) and takes a short exclusive lock on the observations table.
func (db *DB) Retain(ctx context.Context, before time.Time) ([]string, error) {
	parts, err := db.Partitions(ctx)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, p := range parts {
		if p.End.After(before) {
			continue
		}
		err := db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "ALTER TABLE observations DETACH PARTITION "+p.Name); err != nil {
				return err
			}
			// its observations leave the counts (sqlq/counts.go), once detached: the lock on
			// observations comes first, as for every writer
			if err := retainCounts(ctx, tx, p.Name); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "DROP TABLE "+p.Name)
			return err
		})
		if err != nil {
			return dropped, fmt.Errorf("retain: drop %s: %w", p.Name, err)
		}
		dropped = append(dropped, p.Name)
	}
	db.forgetPartitions()
	if len(dropped) == 0 {
		return nil, nil
	}
	err = db.tx(ctx, pgx.TxOptions{}, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE datastreams d SET
			phenomenon_time_start = s.ps, phenomenon_time_end = s.pe, result_time_start = s.rs, result_time_end = s.re
			FROM (SELECT d2.id, min(o.phen_start) ps, max(o.phen_end) pe, min(o.result_time_us) rs, max(o.result_time_us) re
				FROM datastreams d2 LEFT JOIN observations o ON o.datastream_id = d2.id GROUP BY d2.id) s
			WHERE s.id = d.id AND d.phenomenon_time_start IS NOT NULL`)
		if err != nil {
			return err
		}
		// and the MultiDatastreams' likewise
		_, err = tx.Exec(ctx, `UPDATE multi_datastreams d SET
			phenomenon_time_start = s.ps, phenomenon_time_end = s.pe, result_time_start = s.rs, result_time_end = s.re
			FROM (SELECT d2.id, min(o.phen_start) ps, max(o.phen_end) pe, min(o.result_time_us) rs, max(o.result_time_us) re
				FROM multi_datastreams d2 LEFT JOIN observations o ON o.multi_datastream_id = d2.id GROUP BY d2.id) s
			WHERE s.id = d.id AND d.phenomenon_time_start IS NOT NULL`)
		return err
	})
	if err != nil {
		return dropped, fmt.Errorf("retain: update datastream spans: %w", err)
	}
	return dropped, nil
}

// retainCounts takes the observations of the detached partition part off the observation
// counts of their Datastreams and MultiDatastreams (sqlq/counts.go), in the transaction that
// drops it.
func retainCounts(ctx context.Context, tx pgx.Tx, part string) error {
	if _, err := tx.Exec(ctx, `UPDATE observation_counts c SET n = c.n - g.n
		FROM (SELECT datastream_id, count(*) n FROM `+part+` WHERE datastream_id IS NOT NULL GROUP BY datastream_id) g
		WHERE c.datastream_id = g.datastream_id`); err != nil {
		return fmt.Errorf("observation counts: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE multi_observation_counts c SET n = c.n - g.n
		FROM (SELECT multi_datastream_id, count(*) n FROM `+part+` WHERE multi_datastream_id IS NOT NULL GROUP BY multi_datastream_id) g
		WHERE c.multi_datastream_id = g.multi_datastream_id`); err != nil {
		return fmt.Errorf("observation counts: %w", err)
	}
	return nil
}
