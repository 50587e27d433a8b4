package bus

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlite"
)

// BenchmarkOutbox: what the outbox and relay add to ingest, on real parts (SQLite store,
// embedded JetStream). One op is one batch of 10,000 observations of one datastream (ten
// outbox entries), stored and — with the outbox on — published; the timer stops when the relay
// has published everything (and, in mode consumers, each consumer has handled every message).
// off: no outbox; readback: outbox rows written, the relay reads them back and encodes them
// (the path after a restart or an overflow); handoff: the batches reach the relay in memory;
// consumers: handoff, and four durable consumers as a node runs them (warning, forecast, wis2,
// sta-mqtt through ConsumeObsValues/ConsumeObs), none of which wants the datastream (no rule,
// network, open data or subscriber: the usual case). cpu-µs/obs is the process's CPU time
// (getrusage: the store, the relay, the embedded server and the consumers) per observation,
// which a loaded machine disturbs less than obs/s.
// Compare: go test -run X -bench Outbox -benchtime 40x ./internal/bus/
func BenchmarkOutbox(b *testing.B) {
	for _, mode := range []string{"off", "readback", "handoff", "consumers"} {
		b.Run(mode, func(b *testing.B) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			dir := b.TempDir()
			bus, err := Open(ctx, Options{Node: "bench", DataDir: dir})
			if err != nil {
				b.Fatal(err)
			}
			defer bus.Close()
			db, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ents := sqlite.NewEntities(db, &ingest.QC{})
			ents.Outbox, ents.Node = mode != "off", "bench"
			if _, err := ents.Create(ctx, &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"},
				Links: map[string][]*sensing.Entity{
					"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json", "location": []byte(`{"type":"Point","coordinates":[1,2]}`)}}},
					"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "d", "description": "d", "observationType": "x", "unitOfMeasurement": []byte(`{}`)},
						Links: map[string][]*sensing.Entity{
							"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "s", "encodingType": "t", "metadata": []byte(`"m"`)}}},
							"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "o", "definition": "d", "description": "d"}}},
						}}},
				}}); err != nil {
				b.Fatal(err)
			}
			r := NewRelay(bus, adapter{ents}, nil)
			if mode == "handoff" || mode == "consumers" {
				ents.Handoff = sink{r}
			}
			var handled atomic.Int64 // messages the consumers passed over, summed
			if mode == "consumers" {
				no := func(int64) bool { return false }
				fn := func(context.Context, *sensing.ObsBatch) error { return nil }
				for _, name := range []string{"warning", "forecast", "wis2"} {
					c, err := bus.ConsumeObsValues(ctx, name, false, func(ds int64) bool { handled.Add(1); return no(ds) }, fn)
					if err != nil {
						b.Fatal(err)
					}
					defer c.Stop()
				}
				c, err := bus.ConsumeObs(ctx, "sta-mqtt", true, func(ds int64) bool { handled.Add(1); return no(ds) }, fn)
				if err != nil {
					b.Fatal(err)
				}
				defer c.Stop()
			}
			rctx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			if mode != "off" {
				go func() { r.Run(rctx); close(done) }()
			} else {
				close(done)
			}
			defer func() { stop(); <-done }()
			const n = 10_000
			batch := make([]sensing.Observation, n)
			t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			cpu0 := cpuTime()
			b.ResetTimer()
			for i := range b.N {
				for j := range batch {
					v := float64(j % 977)
					ts := t0.Add(time.Duration(i*n+j) * time.Minute)
					batch[j] = sensing.Observation{DatastreamID: 1, PhenStart: ts, PhenEnd: ts, PhenText: ts.Format(time.RFC3339), ResultNum: &v}
				}
				if _, _, err := ents.Ingest(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			if mode != "off" {
				for r.Published() < int64(b.N*n/outboxEntryObs) {
					time.Sleep(time.Millisecond)
				}
			}
			for mode == "consumers" && handled.Load() < int64(4*b.N*n/outboxEntryObs) {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N*n), "cpu-µs/obs")
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "obs/s")
			b.ReportMetric(float64(r.ReadBack()), "entries-read-back")
		})
	}
}

// outboxEntryObs is how many observations one outbox entry carries at most (sqlq's outboxChunk).
const outboxEntryObs = 1000

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
