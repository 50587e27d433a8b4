package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/warning"
)

// EntityStore is what a node needs of a SensorThings store; the SQLite and PostgreSQL stores
// both provide it (and pass the same conformance suite, internal/store/storetest).
type EntityStore interface {
	sensorthings.Store
	sensorthings.Seen
	ingest.Store
	DatastreamByName(ctx context.Context, ref string) (int64, error)
	DatastreamByPDMA(ctx context.Context, station string) (int64, error)
	CountThings(ctx context.Context) (int64, error)
	DatastreamLabel(ctx context.Context, id int64) (string, string, error)
	OutboxBacklog(ctx context.Context) (int64, time.Time, error)
	forecasting.Store // the river network and the readings that restore the forecaster
	bus.Owner         // which streams an organisation's MQTT clients may publish to
	// Owner returns the organisation owning set(id) (for MQTT creates, sensorthings.Server.Owner).
	Owner(ctx context.Context, set string, id int64) (string, error)
}

// AlertStore keeps alerts, rules and the rule engine's state.
type AlertStore interface {
	alert.Store
	warning.Store
}

var (
	_ EntityStore = (*sqlq.Entities)(nil)
	_ AlertStore  = (*sqlq.Alerts)(nil)
	_ auth.Store  = (*sqlq.Auth)(nil)
)

// Stores is one opened store, whichever engine: the node's entities, keys and alerts.
type Stores struct {
	Entities EntityStore
	Keys     auth.Store
	Alerts   AlertStore
	// Dissemination keeps subscribers, impacts and deliveries; Places the places alerts reach.
	Dissemination dissemination.Store
	Places        *sqlq.Places
	// Outbox is the store side of the transactional outbox, for the relay.
	Outbox bus.Outbox
	// Idempotency keeps the answers of observation POSTs made with an Idempotency-Key.
	Idempotency ingest.Idempotency
	// TwoWay records the SMS people send and the replies (package twoway).
	TwoWay *sqlq.TwoWay
	// Audit keeps the audit log (package audit); Open the organisations whose data is open (WIS2).
	Audit *sqlq.Audit
	Open  *sqlq.OpenData
	// Federation keeps partners, agreements and remote Datastreams (package federation).
	Federation *sqlq.Federation

	// ents is Entities as the SQL core's store (either engine's), for what needs its
	// transactions (Federation.CreateRemote).
	ents *sqlq.Entities

	// configure turns the outbox on or off, names the node in bus payloads and sets what runs
	// after each committed batch.
	configure func(outbox bool, node string, afterCommit func(int))
	ping      func(ctx context.Context) error
	backup    func(ctx context.Context, path string) error
	close     func() error
}

// DBFile is the SQLite store's file in a node's data directory.
const DBFile = "rabta.db"

// OpenStores opens a node's store: SQLite (rabta.db in dataDir) when dsn is empty, otherwise
// PostgreSQL at dsn. qc checks each ingested observation (nil: none).
func OpenStores(ctx context.Context, dataDir, dsn string, qc sensing.Checker) (*Stores, error) {
	if dsn != "" {
		return openPostgres(ctx, dsn, qc)
	}
	if err := os.MkdirAll(dataDir, DataDirMode); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	db, err := sqlite.Open(ctx, filepath.Join(dataDir, DBFile))
	if err != nil {
		return nil, err
	}
	ents := sqlite.NewEntities(db, qc)
	return &Stores{
		Entities: ents, ents: ents, Keys: sqlite.NewAuth(db), Alerts: sqlite.NewAlerts(db), Outbox: storeOutbox{ents},
		Dissemination: sqlite.NewDissemination(db), Places: sqlite.NewPlaces(db), Idempotency: sqlq.NewIdempotency(db),
		TwoWay: sqlq.NewTwoWay(db), Audit: sqlq.NewAudit(db), Open: sqlq.NewOpenData(db), Federation: sqlq.NewFederation(db),
		configure: func(outbox bool, node string, after func(int)) {
			ents.Outbox, ents.Node, ents.AfterCommit = outbox, node, after
		},
		ping: db.Ping, backup: db.Backup, close: db.Close,
	}, nil
}

// Ping checks that the store answers.
func (s *Stores) Ping(ctx context.Context) error { return s.ping(ctx) }

// Backup writes a consistent copy of the store to path, while the node runs (SQLite only).
func (s *Stores) Backup(ctx context.Context, path string) error {
	if s.backup == nil {
		return fmt.Errorf("backup: this store is backed up with its own tools (pg_dump)")
	}
	return s.backup(ctx, path)
}

// Close closes the store.
func (s *Stores) Close() error { return s.close() }

// storeOutbox adapts a store's outbox (either engine's: the SQL core's Entities) to the relay.
type storeOutbox struct{ s *sqlq.Entities }

var _ bus.Outbox = storeOutbox{}

// Pending implements bus.Outbox.
func (o storeOutbox) Pending(ctx context.Context, limit int, before time.Time) ([]bus.Entry, error) {
	rows, err := o.s.OutboxPendingBefore(ctx, limit, before)
	if err != nil {
		return nil, err
	}
	return busEntries(rows), nil
}

func busEntries(rows []sqlq.OutboxEntry) []bus.Entry {
	out := make([]bus.Entry, len(rows))
	for i, r := range rows {
		out[i] = bus.Entry{ID: r.ID, Kind: r.Kind, Key: r.Key, Payload: r.Payload, Created: r.Created}
	}
	return out
}

// relaySink hands a store's committed outbox entries to the relay in memory (sqlq.OutboxSink).
type relaySink struct{ r *bus.Relay }

func (k relaySink) Handoff(rows []sqlq.OutboxEntry) { k.r.Handoff(busEntries(rows)) }
func (k relaySink) Missed()                         { k.r.Missed() }

// Done implements bus.Outbox.
func (o storeOutbox) Done(ctx context.Context, ids []int64) error { return o.s.OutboxDone(ctx, ids) }
