package main

import (
	"context"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
)

// openPostgres opens the PostgreSQL store (one database for the node; several Rabta processes
// may share it).
func openPostgres(ctx context.Context, dsn string, qc sensing.Checker) (*stores, error) {
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	ents := postgres.NewEntities(db, qc)
	return &stores{
		ents: ents, keys: postgres.NewAuth(db), alerts: postgres.NewAlerts(db), outbox: storeOutbox{ents},
		configure: func(outbox bool, node string, after func(int)) {
			ents.Outbox, ents.Node, ents.AfterCommit = outbox, node, after
		},
		ping: db.Ping, close: db.Close,
	}, nil
}
