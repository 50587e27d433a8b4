package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestConformance runs the suite both stores must pass on a fresh SQLite file per test.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Stores { return stores(t) })
}

// BenchmarkIngest: batches of 1000 observations (the same rows on both stores).
func BenchmarkIngest(b *testing.B) {
	storetest.BenchIngest(b, stores(b), 1000)
}

func stores(t testing.TB) storetest.Stores {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return storetest.Core(sqlite.NewEntities(db, nil), sqlite.NewAuth(db), func(now func() time.Time) { db.Now = now })
}
