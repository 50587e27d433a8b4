package bus

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// Observations of a MultiDatastream (18-088 §9) go from the store's outbox through the relay
// on a subject of their own (rabta.<node>.obs.m<id>); a consumer sees which MultiDatastream
// before decoding, ConsumeObs asks want with 0 for it, and the batch decodes with its
// MultiDatastream and array results.
func TestRelayMultiDatastream(t *testing.T) {
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
	unit := map[string]any{"name": "metre", "symbol": "m", "definition": "d"}
	if _, err := ents.Create(ctx, &sensing.Entity{Set: sensing.MultiDatastreams, Props: map[string]any{"name": "m", "description": "m",
		"observationType": sensing.ComplexObservation, "unitOfMeasurements": []any{unit, unit}, "multiObservationDataTypes": []any{"t", "t"}},
		Links: map[string][]*sensing.Entity{
			"Thing": {{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"}, Links: map[string][]*sensing.Entity{
				"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}}}}},
			"Sensor": {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
			"ObservedProperties": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "level", "definition": "d", "description": "d"}},
				{Set: sensing.ObservedProperties, Props: map[string]any{"name": "temperature", "definition": "d", "description": "d"}}},
		}}); err != nil {
		t.Fatal(err)
	}
	subjects := make(chan Delivery, 10)
	raw, err := b.Consume(ctx, "raw", false, func(_ context.Context, d Delivery) error { subjects <- d; return nil })
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Stop()
	asked := make(chan int64, 10)
	batches := make(chan *sensing.ObsBatch, 10)
	cons, err := b.ConsumeObs(ctx, "decoding", false, func(ds int64) bool { asked <- ds; return true }, func(_ context.Context, batch *sensing.ObsBatch) error {
		batches <- batch
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()
	ts := time.Date(2025, 8, 27, 7, 0, 0, 0, time.UTC)
	o := sensing.Observation{MultiDatastreamID: 1, PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultJSON: []byte(`[8.9,31.5]`)}
	if _, errs, err := ents.Ingest(ctx, []sensing.Observation{o}); err != nil || errs[0] != nil {
		t.Fatal(err, errs)
	}
	if n, err := NewRelay(b, adapter{ents}, nil).round(ctx, time.Time{}); err != nil || n != 1 {
		t.Fatalf("relay round: %d %v", n, err)
	}
	select {
	case d := <-subjects:
		if d.Subject != "rabta.test.obs.m1" || d.MultiDatastream != 1 || d.Datastream != 0 {
			t.Errorf("delivery: subject %q, datastream %d, MultiDatastream %d", d.Subject, d.Datastream, d.MultiDatastream)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered")
	}
	select {
	case batch := <-batches:
		if batch.MultiDatastream != 1 || batch.Datastream != 0 || len(batch.Obs) != 1 || string(batch.Obs[0].Result) != `[8.9,31.5]` {
			t.Errorf("decoded batch: %+v", batch)
		}
		if ds := <-asked; ds != 0 {
			t.Errorf("want was asked with %d, want 0 for a MultiDatastream", ds)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing handed on")
	}
}
