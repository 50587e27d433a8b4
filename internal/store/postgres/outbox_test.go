package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
)

// TestOutboxConcurrentWriters: two processes (two DBs on one schema) ingesting the same
// datastreams at once. Every stored observation is published in exactly one outbox entry,
// and an entry below one already published stays pending.
func TestOutboxConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db1 := testDB(t)
	db2, err := postgres.Open(ctx, dsnOf(t, db1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	c, err := pgx.Connect(ctx, dsnOf(t, db1))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, `
		INSERT INTO things (name, description) VALUES ('t', 'd');
		INSERT INTO sensors (name, description, encoding_type, metadata) VALUES ('s', 'd', 'text/plain', 'm');
		INSERT INTO observed_properties (name, definition, description) VALUES ('p', 'd', 'd');
		INSERT INTO datastreams (name, description, unit_of_measurement, observation_type, thing_id, sensor_id, observed_property_id)
			VALUES ('a', 'd', '{}', 'x', 1, 1, 1), ('b', 'd', '{}', 'x', 1, 1, 1);
		INSERT INTO features_of_interest (name, description, encoding_type, feature) VALUES ('f', 'd', 'application/geo+json', '{"type":"Point","coordinates":[0,0]}')`,
		pgx.QueryExecModeSimpleProtocol); err != nil {
		t.Fatal(err)
	}
	e1, e2 := postgres.NewEntities(db1, nil), postgres.NewEntities(db2, nil)
	// a clock that stands still: the published entries wait for the next ingest, however
	// long this test takes on a loaded machine (after two seconds OutboxDone would purge)
	still := time.Now()
	e1.Now = func() time.Time { return still }
	e1.Outbox, e2.Outbox = true, true
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const rounds, size = 4, 2400 // 1200 per datastream a batch: two entries (1000 + 200), big enough to interleave
	var wg sync.WaitGroup
	var mu sync.Mutex
	stored := map[int64]bool{}
	for w, e := range []*sqlq.Entities{e1, e2, e1, e2} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				batch := make([]sensing.Observation, size)
				for i := range batch {
					ts := base.Add(time.Duration((w*rounds+r)*size+i) * time.Second)
					v := float64(i)
					batch[i] = sensing.Observation{DatastreamID: int64(1 + i%2), PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultNum: &v, FoIID: 1}
				}
				ids, errs, err := e.Ingest(ctx, batch)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for i, id := range ids {
					if errs[i] != nil {
						t.Error(errs[i])
					}
					stored[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	es, err := e1.OutboxPending(ctx, 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4*rounds*2*2 {
		t.Errorf("%d entries, want %d", len(es), 4*rounds*2*2)
	}
	seen := map[int64]int64{}
	for _, e := range es {
		b, err := sensing.DecodeObsBatch(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Obs) != 1000 && len(b.Obs) != 200 {
			t.Errorf("entry %d: %d observations", e.ID, len(b.Obs))
		}
		for _, it := range b.Obs {
			if prev, ok := seen[it.ID]; ok {
				t.Errorf("observation %d in entries %d and %d", it.ID, prev, e.ID)
			}
			seen[it.ID] = e.ID
		}
	}
	if len(seen) != len(stored) || len(stored) != 4*rounds*size {
		t.Errorf("published %d observations, stored %d", len(seen), len(stored))
	}
	// the newest entry published first: the older ones stay pending
	last := es[len(es)-1].ID
	if err := e1.OutboxDone(ctx, []int64{last}); err != nil {
		t.Fatal(err)
	}
	rest, err := e1.OutboxPending(ctx, 10000)
	if err != nil || len(rest) != len(es)-1 || rest[len(rest)-1].ID == last {
		t.Errorf("after done of the newest: %d entries %v", len(rest), err)
	}
	if n, _, err := e1.OutboxBacklog(ctx); err != nil || n != int64(len(es)-1) {
		t.Errorf("backlog %d %v", n, err)
	}
	// another process's relay still sees it until it is deleted, by the next ingest
	if other, _ := e2.OutboxPending(ctx, 10000); len(other) != len(es) {
		t.Errorf("other process: %d entries", len(other))
	}
	ts := base.Add(-time.Hour)
	v := 1.0
	if _, _, err := e1.Ingest(ctx, []sensing.Observation{{DatastreamID: 1, PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultNum: &v, FoIID: 1}}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := c.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM outbox WHERE id = %d`, last)).Scan(&n); err != nil || n != 0 {
		t.Errorf("published entry not deleted by the next ingest: %d %v", n, err)
	}
	if other, _ := e2.OutboxPending(ctx, 10000); len(other) != len(es) { // one gone, one new
		t.Errorf("other process after purge: %d entries", len(other))
	}
}
