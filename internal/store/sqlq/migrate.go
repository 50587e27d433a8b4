package sqlq

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"time"
)

// Migrate applies the migrations of fsys (files migrations/*.sql, in name order, each named by
// its version) that the schema_migrations table does not list yet, each in a write
// transaction of its own with its row in schema_migrations; run executes one file's
// statements. Migrations are append-only: a released file is never edited, a change is a new
// file.
func Migrate(ctx context.Context, eng Engine, fsys fs.FS, run func(ctx context.Context, tx Tx, body string) error) error {
	err := eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(path.Base(name), ".sql")
		err := eng.Write(ctx, func(tx Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			body, err := fs.ReadFile(fsys, name)
			if err != nil {
				return err
			}
			if err := run(ctx, tx, string(body)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, time.Now().Unix())
			return err
		})
		if err != nil {
			return fmt.Errorf("migrate %s: %w", version, err)
		}
	}
	return nil
}
