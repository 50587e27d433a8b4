// Package sqlite is Rabta's embedded store: one SQLite file in the data directory, opened with
// the pure-Go driver modernc.org/sqlite in WAL mode. DB is an sqlq.Engine: the stores are the SQL
// core's (package sqlq, shared with PostgreSQL) over it, and this package keeps only what is
// SQLite's own — the driver and migrations, the Go-registered geometry functions (funcs.go),
// the single writer, prepared observation inserts, the outbox watermark, in-process locks,
// SQLite's result codes, backup and integrity check.
//
// Writes go through a single connection (SQLite allows one writer at a time; queueing them in
// database/sql is cheaper than letting them fight over the lock), reads through a pool of
// read-only connections, so that a bulk ingest never blocks readers: WAL readers see the last
// committed state while the writer works. Every commit is synced (synchronous=FULL) before it is
// acknowledged.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

//go:embed migrations/*.sql
var migrations embed.FS

// writerCacheKiB is the writer connection's page cache in KiB (PRAGMA cache_size = -N).
const writerCacheKiB = 8192

// DB is an open SQLite store.
type DB struct {
	path string
	w    *sql.DB          // the one writer connection
	r    *sql.DB          // read-only pool
	Now  func() time.Time // the clock of HistoricalLocations, outbox entries and keys

	outbox watermark    // published outbox entries
	locks  sqlq.Mutexes // node-wide locks

	wstmts, rstmts stmtCache // statements prepared on w and r (stmts.go)
}

// Open opens (creating if needed) the database file at path and applies pending migrations.
// A new file is created readable and writable by its owner only (FileMode); SQLite gives its
// -wal and -shm files the database file's mode.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	if _, err := createPrivate(abs); err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	pragmas := "_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=journal_mode(WAL)"
	u := "file:" + (&url.URL{Path: abs}).EscapedPath()
	// the writer's page cache: 8 MiB (writerCacheKiB); ingest appends at the right end of each
	// datastream's range of the indexes, a few pages per datastream (docs/bench.md, footprint)
	w, err := sql.Open("sqlite", u+"?_txlock=immediate&"+pragmas+fmt.Sprintf("&_pragma=cache_size(-%d)", writerCacheKiB))
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	db := &DB{path: abs, w: w, Now: time.Now}
	db.wstmts.db = w
	if err := db.migrate(ctx); err != nil {
		w.Close()
		return nil, err
	}
	// each read connection keeps a page cache of 2 MiB (SQLite's own default): the reads that
	// dominate (a datastream's window, the latest of each, a count from observation_counts)
	// touch a few index pages, which the OS's file cache holds anyway; 8 MiB a connection
	// held up to 32 MiB more resident memory for no measurable gain (docs/bench.md, footprint)
	r, err := sql.Open("sqlite", u+"?mode=ro&"+pragmas+"&_pragma=cache_size(-2048)&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0)*2)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	db.r = r
	db.rstmts.db = r
	if err := r.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	return db, nil
}

// FileMode is the mode of the database files Open and Backup create: the owner's only, for they
// hold key hashes and sealed personal data.
const FileMode = 0o600

// createPrivate creates an empty file at path with FileMode unless a file is there (SQLite
// takes an empty file for an empty database, and VACUUM INTO writes into one), and reports
// whether it did.
func createPrivate(path string) (created bool, err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, FileMode)
	if errors.Is(err, fs.ErrExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, f.Close()
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close closes the database.
func (db *DB) Close() error {
	errs := []error{db.wstmts.close(), db.rstmts.close()}
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	errs = append(errs, db.w.Close())
	return errors.Join(errs...)
}

// Ping checks that the store answers, for readiness probes.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.r.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate applies the embedded migrations not yet applied (sqlq.Migrate), each on the writer.
func (db *DB) migrate(ctx context.Context) error {
	return sqlq.Migrate(ctx, db, migrations, sqlq.SQLiteDDL, func(ctx context.Context, tx sqlq.Tx, body string) error {
		_, err := tx.Exec(ctx, body) // the driver runs every statement of the file
		return err
	})
}

// Backup writes a consistent copy of the database to path while the node keeps running
// (VACUUM INTO reads one snapshot; writers are not blocked for long). path must not exist; the copy is created with FileMode.
func (db *DB) Backup(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// its own connection: the writer must go on, and the read pool is read-only (VACUUM INTO
	// writes the new file)
	c, err := sql.Open("sqlite", "file:"+(&url.URL{Path: db.path}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer c.Close()
	created, err := createPrivate(abs)
	if err != nil {
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	if _, err := c.ExecContext(ctx, "VACUUM INTO ?", abs); err != nil {
		if created {
			os.Remove(abs)
		}
		return fmt.Errorf("backup to %s: %w", path, err)
	}
	return nil
}

// Check runs SQLite's integrity check on the file at path (a backup, before restoring it) and
// makes sure it is a Rabta database.
func Check(ctx context.Context, path string) error {
	r, err := sql.Open("sqlite", "file:"+(&url.URL{Path: path}).EscapedPath()+"?mode=ro")
	if err != nil {
		return err
	}
	defer r.Close()
	var res string
	if err := r.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&res); err != nil {
		return fmt.Errorf("%s: not a readable SQLite database: %w", path, err)
	}
	if res != "ok" {
		return fmt.Errorf("%s: integrity check failed: %s", path, res)
	}
	var n int
	if err := r.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("%s: not a Rabta database (no schema_migrations)", path)
	}
	return nil
}
