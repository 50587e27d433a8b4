package bus

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// sink hands a store's committed outbox entries to a relay, as the node does.
type sink struct{ r *Relay }

func (k sink) Handoff(rows []sqlq.OutboxEntry) {
	out := make([]Entry, len(rows))
	for i, e := range rows {
		out[i] = Entry{ID: e.ID, Kind: e.Kind, Key: e.Key, Payload: e.Payload, Created: e.Created}
	}
	k.r.Handoff(out)
}
func (k sink) Missed() { k.r.Missed() }

// The outbox hand-off on real parts (SQLite store, embedded JetStream, durable consumer):
//  1. entries handed to a relay that never publishes them (the node is killed after the
//     commit) are read back by the next relay at its start, and delivered once;
//  2. then committed batches reach the bus by hand-off, with nothing read back (ReadBack
//     stays put);
//  3. a hand-off that does not fit in the queue (overflow) is read back from the outbox,
//     and the hand-offs after it flow again; every observation is delivered once, in order.
func TestRelayHandoff(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := t.TempDir()
	b, err := Open(ctx, Options{Node: "test", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ents := sqlite.NewEntities(db, &ingest.QC{})
	ents.Outbox, ents.Node = true, "test"
	if _, err := ents.Create(ctx, &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"},
		Links: map[string][]*sensing.Entity{
			"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}},
			"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "d", "description": "d", "observationType": "x", "unitOfMeasurement": []byte(`{}`)},
				Links: map[string][]*sensing.Entity{
					"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
					"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "o", "definition": "d", "description": "d"}}},
				}}},
		}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[int64]int{}
	var order []int64
	cons, err := b.ConsumeObs(ctx, "test", false, nil, func(_ context.Context, batch *sensing.ObsBatch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, o := range batch.Obs {
			got[o.ID]++
			order = append(order, o.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	hour := 0
	var r *Relay // the relay under test, from step 1 on
	ingestN := func(n int) {
		t.Helper()
		obs := make([]sensing.Observation, n)
		for j := range obs {
			v := float64(j)
			ts := time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC).Add(time.Duration(hour) * time.Minute)
			hour++
			obs[j] = sensing.Observation{DatastreamID: 1, PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultNum: &v}
		}
		if _, errs, err := ents.Ingest(ctx, obs); err != nil || errs[0] != nil {
			t.Fatal(err, errs)
		}
	}
	// settle waits until the relay's counters reach published and readBack (they move just
	// after JetStream's acknowledgement, so possibly after the consumer saw the message)
	settle := func(published, readBack int64) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && (r.Published() < published || r.ReadBack() < readBack) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(50 * time.Millisecond) // and no further
	}
	waitFor := func(want int) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			n := len(got)
			mu.Unlock()
			if n >= want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("consumer got %d observations, want %d", len(got), want)
	}

	// 1. handed to a relay that dies before publishing
	dead := NewRelay(b, adapter{ents}, nil)
	ents.Handoff = sink{dead}
	ingestN(10)
	ingestN(10)
	if len(dead.queue) != 2 {
		t.Fatalf("dead relay's queue: %d entries, want 2", len(dead.queue))
	}
	r = NewRelay(b, adapter{ents}, nil)
	r.Poll = time.Minute // no look for stragglers during the test: every read below is a fallback
	r.QueueBytes = 4096  // ten observations fit (about 450 bytes), 1,000 (about 42 kB) do not
	ents.Handoff = sink{r}
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	waitFor(20)
	settle(2, 2)
	if r.ReadBack() != 2 {
		t.Errorf("after the restart: %d entries read back, want 2", r.ReadBack())
	}

	// 2. hand-offs, nothing read back
	for range 3 {
		ingestN(10)
	}
	waitFor(50)
	settle(5, 2)
	if r.ReadBack() != 2 || r.Published() != 5 {
		t.Errorf("hand-off: %d read back (want 2), %d published (want 5)", r.ReadBack(), r.Published())
	}

	// 3. 2,500 observations: three entries (1,000 at most each), more than the queue takes
	ingestN(2500)
	waitFor(2550)
	settle(8, 5)
	if r.ReadBack() != 5 {
		t.Errorf("overflow: %d entries read back, want 5 (2 + the 3 that did not fit)", r.ReadBack())
	}
	ingestN(10) // flows by hand-off again
	waitFor(2560)
	settle(9, 5)
	if r.ReadBack() != 5 || r.Published() != 9 {
		t.Errorf("after the overflow: %d read back (want 5), %d published (want 9)", r.ReadBack(), r.Published())
	}
	time.Sleep(100 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	for id, n := range got {
		if n != 1 {
			t.Errorf("observation %d delivered %d times", id, n)
		}
	}
	for i := 1; i < len(order); i++ {
		if order[i] <= order[i-1] {
			t.Fatalf("delivered out of order: %d after %d", order[i], order[i-1])
		}
	}
	if left, _, _ := ents.OutboxBacklog(ctx); left != 0 {
		t.Errorf("outbox has %d entries left", left)
	}
}
