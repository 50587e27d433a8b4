package postgres_test

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestConformance runs the suites both stores must pass, each test in a fresh schema.
func TestConformance(t *testing.T) { storetest.Conformance(t, open) }

// BenchmarkIngest: batches of 1000 observations (the same rows on both stores).
func BenchmarkIngest(b *testing.B) { storetest.BenchIngest(b, storetest.Fresh(b, open), 1000) }

// BenchmarkIngestSingle: 8 concurrent callers, one observation per call (group commit).
func BenchmarkIngestSingle(b *testing.B) { storetest.BenchIngestSingle(b, storetest.Fresh(b, open), 8) }

// BenchmarkRemoteView: a page of 100 Observations of one Datastream, read by a viewer who is not
// the node-wide admin (the remote data read boundary, sqlq's remoteview.go).
func BenchmarkRemoteView(b *testing.B) { storetest.BenchRemoteView(b, open) }

func open(t testing.TB) (sqlq.Engine, func(func() time.Time)) {
	db := testDB(t)
	return db, func(now func() time.Time) { db.Now = now }
}
