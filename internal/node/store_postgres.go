package node

import (
	"context"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// PostgresNode reports whether the PostgreSQL database at dsn holds a node's store, changing
// nothing (OpenStores makes one in an empty database), and names the database for messages
// (user@host:port/database, never its password).
func PostgresNode(ctx context.Context, dsn string) (ok bool, name string, err error) {
	ok, err = postgres.Exists(ctx, dsn)
	return ok, postgres.Name(dsn), err
}

// openPostgres opens the PostgreSQL store (one database for the node; several Rabta processes
// may share it).
func openPostgres(ctx context.Context, dsn string, qc sensing.Checker) (*Stores, error) {
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	ents := postgres.NewEntities(db, qc)
	return &Stores{
		Entities: ents, ents: ents, Keys: postgres.NewAuth(db), Alerts: postgres.NewAlerts(db), Outbox: storeOutbox{ents},
		Dissemination: postgres.NewDissemination(db), Places: postgres.NewPlaces(db), Idempotency: sqlq.NewIdempotency(db),
		TwoWay: sqlq.NewTwoWay(db), Audit: sqlq.NewAudit(db), Open: sqlq.NewOpenData(db), Federation: sqlq.NewFederation(db),
		configure: func(outbox bool, node string, after func(int)) {
			ents.Outbox, ents.Node, ents.AfterCommit = outbox, node, after
		},
		ping: db.Ping, close: db.Close,
	}, nil
}
