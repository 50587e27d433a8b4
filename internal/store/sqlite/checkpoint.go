package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// WAL checkpoints off the writer's path. SQLite's default runs a checkpoint inside the commit
// that finds the WAL past 1,000 pages: that commit (and every writer queued behind the one
// writer connection) waits while pages are copied into the database file and it is synced —
// tens of milliseconds on this machine, the tail of the write latency. Instead the writer
// never checkpoints (wal_autocheckpoint 0) and a connection of its own runs a PASSIVE
// checkpoint every checkpointEvery: it copies what no reader still needs, beside the writer,
// without waiting for readers or writers; once all is copied, the next write starts the WAL
// from its beginning again (SQLite's WAL reset), so the WAL stays the size of what is written
// between checkpoints. When the last connection closes, SQLite checkpoints what is left.

// checkpointEvery is how often the checkpointer runs.
const checkpointEvery = 200 * time.Millisecond

type checkpointer struct {
	db     *sql.DB
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// startCheckpointer opens the checkpointer's connection with dsn and starts it.
func startCheckpointer(ctx context.Context, dsn string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	c := &checkpointer{db: db, cancel: cancel}
	c.wg.Go(func() {
		t := time.NewTicker(checkpointEvery)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
			}
			// busy (another process's checkpoint, a backup) or failed: the next tick tries again
			_, _ = db.ExecContext(bg, "PRAGMA wal_checkpoint(PASSIVE)")
		}
	})
	return c, nil
}

// stop ends the checkpointer and closes its connection (nil: nothing to stop).
func (c *checkpointer) stop() error {
	if c == nil {
		return nil
	}
	c.cancel()
	c.wg.Wait()
	return c.db.Close()
}
