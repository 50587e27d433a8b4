package node

import (
	"context"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
)

var (
	_ EntityStore = (*postgres.Entities)(nil)
	_ AlertStore  = (*postgres.Alerts)(nil)
	_ auth.Store  = (*postgres.Auth)(nil)
)

// openPostgres opens the PostgreSQL store (one database for the node; several Rabta processes
// may share it).
func openPostgres(ctx context.Context, dsn string, qc sensing.Checker) (*Stores, error) {
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	ents := postgres.NewEntities(db, qc)
	return &Stores{
		Entities: ents, Keys: postgres.NewAuth(db), Alerts: postgres.NewAlerts(db), Outbox: postgresOutbox{ents},
		configure: func(outbox bool, node string, after func(int)) {
			ents.Outbox, ents.Node, ents.AfterCommit = outbox, node, after
		},
		ping: db.Ping, close: db.Close,
	}, nil
}

// postgresOutbox adapts the PostgreSQL store's outbox to the relay.
type postgresOutbox struct{ s *postgres.Entities }

var _ bus.Outbox = postgresOutbox{}

// Pending implements bus.Outbox.
func (o postgresOutbox) Pending(ctx context.Context, limit int) ([]bus.Entry, error) {
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

// Done implements bus.Outbox.
func (o postgresOutbox) Done(ctx context.Context, ids []int64) error { return o.s.OutboxDone(ctx, ids) }
