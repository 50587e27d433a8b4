package postgres_test

import (
	"context"
	"github.com/rabta/rabta/internal/store/sqlq"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestConformance runs the suite both stores must pass, each test in a fresh schema.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(t) })
}

// BenchmarkIngest: batches of 1000 observations (the same rows on both stores).
func BenchmarkIngest(b *testing.B) {
	storetest.BenchIngest(b, stores(b), 1000)
}

func stores(t testing.TB) storetest.Stores {
	{
		db := testDB(t)
		ents := postgres.NewEntities(db, nil)
		return storetest.Stores{
			Entities: ents,
			Auth:     postgres.NewAuth(db),
			OutboxPending: func(ctx context.Context, limit int) ([]storetest.OutboxEntry, error) {
				rows, err := ents.OutboxPending(ctx, limit)
				out := make([]storetest.OutboxEntry, len(rows))
				for i, r := range rows {
					out[i] = storetest.OutboxEntry(r)
				}
				return out, err
			},
			ErrDuplicate: sqlq.ErrDuplicate,
			Configure: func(qc sensing.Checker, outbox bool, node string, after func(int)) {
				ents.QC, ents.Outbox, ents.Node, ents.AfterCommit = qc, outbox, node, after
			},
			SetNow: func(now func() time.Time) { db.Now = now },
		}
	}
}
