package main

import (
	"context"
	"fmt"
	"github.com/rabta/rabta/internal/store/sqlq"
	"os"
	"path/filepath"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/warning"
)

// entityStore is what the node needs of a SensorThings store; the SQLite and PostgreSQL
// stores both provide it (and pass the same conformance suite, internal/store/storetest).
type entityStore interface {
	sensorthings.Store
	Ingest(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error)
	IngestNew(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error)
	DatastreamByName(ctx context.Context, ref string) (int64, error)
	DatastreamByPDMA(ctx context.Context, station string) (int64, error)
	CountThings(ctx context.Context) (int64, error)
	DatastreamLabel(ctx context.Context, id int64) (string, string, error)
	LastSeen(ctx context.Context) (map[int64]time.Time, error)
	DatastreamInfos(ctx context.Context) ([]sensing.DatastreamInfo, error)
	OutboxBacklog(ctx context.Context) (int64, time.Time, error)
}

// alertStore keeps alerts, rules and the rule engine's state.
type alertStore interface {
	alert.Store
	warning.Store
}

// stores is one opened store, whichever engine.
type stores struct {
	ents   entityStore
	keys   auth.Store
	alerts alertStore
	outbox bus.Outbox
	// configure turns the outbox on or off, names the node in bus payloads and sets what runs
	// after each committed batch.
	configure func(outbox bool, node string, afterCommit func(int))
	ping      func(ctx context.Context) error
	backup    func(ctx context.Context, path string) error
	close     func() error
}

// openStores opens the configured store: SQLite in the data directory by default.
func (c *common) openStores(ctx context.Context, qc sensing.Checker) (*stores, error) {
	if c.cfg.DB != "" {
		return openPostgres(ctx, c.cfg.DB, qc)
	}
	if err := os.MkdirAll(c.cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(c.cfg.DataDir, "rabta.db"))
	if err != nil {
		return nil, err
	}
	ents := sqlite.NewEntities(db, qc)
	return &stores{
		ents: ents, keys: sqlite.NewAuth(db), alerts: sqlite.NewAlerts(db), outbox: storeOutbox{ents},
		configure: func(outbox bool, node string, after func(int)) {
			ents.Outbox, ents.Node, ents.AfterCommit = outbox, node, after
		},
		ping: db.Ping, backup: db.Backup, close: db.Close,
	}, nil
}

// storeOutbox adapts a store's outbox (either engine's: the SQL core's) to the relay.
type storeOutbox struct{ s *sqlq.Entities }

func (o storeOutbox) Pending(ctx context.Context, limit int) ([]bus.Entry, error) {
	rows, err := o.s.OutboxPending(ctx, limit)
	if err != nil {
		return nil, err
	}
	out := make([]bus.Entry, len(rows))
	for i, r := range rows {
		out[i] = bus.Entry{ID: r.ID, Kind: r.Kind, Key: r.Key, Payload: r.Payload, Created: r.Created}
	}
	return out, nil
}

func (o storeOutbox) Done(ctx context.Context, ids []int64) error { return o.s.OutboxDone(ctx, ids) }
