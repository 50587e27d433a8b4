package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestConformance runs the suites both stores must pass, on a fresh SQLite file per test.
func TestConformance(t *testing.T) { storetest.Conformance(t, open) }

// BenchmarkIngest: batches of 1000 observations (the same rows on both stores).
func BenchmarkIngest(b *testing.B) { storetest.BenchIngest(b, storetest.Fresh(b, open), 1000) }

// BenchmarkIngestSingle: 8 concurrent callers, one observation per call (group commit).
func BenchmarkIngestSingle(b *testing.B) { storetest.BenchIngestSingle(b, storetest.Fresh(b, open), 8) }

// BenchmarkRemoteView: a page of 100 Observations of one Datastream, read by a viewer who is not
// the node-wide admin (the remote data read boundary, sqlq's remoteview.go).
func BenchmarkRemoteView(b *testing.B) { storetest.BenchRemoteView(b, open) }

func open(t testing.TB) (sqlq.Engine, func(func() time.Time)) {
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, func(now func() time.Time) { db.Now = now }
}
