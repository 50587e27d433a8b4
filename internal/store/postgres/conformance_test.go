package postgres_test

import (
	"testing"
	"time"

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
	db := testDB(t)
	return storetest.Core(postgres.NewEntities(db, nil), postgres.NewAuth(db), func(now func() time.Time) { db.Now = now })
}
