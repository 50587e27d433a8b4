package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// BenchIngest measures Ingest of batches of size observations (10 datastreams, one reading a
// minute each) on a store seeded with the suite's two gauges plus eight more Datastreams;
// it reports observations per second. Both stores run it on the same rows.
func BenchIngest(b *testing.B, s Stores, size int) {
	b.Helper()
	s.Configure(&Checker{}, true, "bench", nil)
	benchGauges(b, s, 5)
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := make([]sensing.Observation, size)
		for j := range batch {
			v := float64(n%1000) / 10
			t := start.Add(time.Duration(n/10) * time.Minute)
			batch[j] = sensing.Observation{DatastreamID: int64(n%10 + 1), PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339), ResultNum: &v}
			n++
		}
		_, errs, err := s.Entities.Ingest(ctx(), batch)
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range errs {
			if e != nil {
				b.Fatal(e)
			}
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "obs/s")
}

// benchGauges makes n Things of two Datastreams each (the second on the first's Sensor and
// ObservedProperty): Datastreams 1 to 2n, which BenchIngest and BenchIngestSingle write to.
func benchGauges(b *testing.B, s Stores, n int) {
	b.Helper()
	for i := range n {
		g := fmt.Sprintf(`{"name":"g%d","description":"d","Locations":[{"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73,32]}}],
		 "Datastreams":[{"name":"a%d","description":"d","observationType":"o","unitOfMeasurement":{"symbol":"m"},"Sensor":{"name":"s","description":"d","encodingType":"text/plain","metadata":"m"},"ObservedProperty":{"name":"Level","definition":"d","description":"d"}},
		 {"name":"b%d","description":"d","observationType":"o","unitOfMeasurement":{"symbol":"m"},"Sensor":{"@iot.id":%d},"ObservedProperty":{"@iot.id":%d}}]}`, i, i, i, i+1, i+1)
		if _, err := s.Entities.Create(ctx(), entity(b, sensing.Things, g)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchIngestSingle measures the path most loggers use: clients concurrent callers, each
// storing one observation per Ingest call on a Datastream of its own (a group commit
// coalesces them, group.go), with the outbox on and its entries handed off in memory. It
// reports observations per second, the p50 and p99 latency of a call (ms) and the calls per
// commit. Both stores run it on the same rows.
func BenchIngestSingle(b *testing.B, s Stores, clients int) {
	b.Helper()
	s.Configure(&Checker{}, true, "bench", nil)
	s.Entities.Handoff = discardSink{}
	benchGauges(b, s, (clients+1)/2)
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	g0, c0 := s.Entities.GroupStats()
	lat := make([][]time.Duration, clients)
	var next atomic.Int64
	b.ResetTimer()
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				v := float64(n%1000) / 10
				t := start.Add(time.Duration(n) * time.Second)
				obs := []sensing.Observation{{DatastreamID: int64(c + 1), PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339), ResultNum: &v}}
				t0 := time.Now()
				_, errs, err := s.Entities.Ingest(ctx(), obs)
				lat[c] = append(lat[c], time.Since(t0))
				if err == nil && errs[0] != nil {
					err = errs[0]
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	ms := func(q float64) float64 { return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000 }
	g1, c1 := s.Entities.GroupStats()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "obs/s")
	b.ReportMetric(ms(0.5), "p50_ms")
	b.ReportMetric(ms(0.99), "p99_ms")
	if g1 > g0 {
		b.ReportMetric(float64(c1-c0)/float64(g1-g0), "calls/commit")
	}
}

// discardSink takes the outbox hand-off and drops it (no relay in a store benchmark).
type discardSink struct{}

func (discardSink) Handoff([]sqlq.OutboxEntry) {}

func (discardSink) Missed() {}

// BenchRemoteView measures what a reader who is not the node-wide admin pays for the remote
// data read boundary (sqlq's remoteview.go): List of one page of 100 Observations of one
// Datastream (GET /v1.1/Datastreams(1)/Observations?$top=100) with the RemoteView of a viewer
// of organisation pmd, on a store with no remote data ("none") and on one with a remote
// Datastream of another organisation ("one"); "admin" is the same List without a view, and
// "get" a Get of Datastreams(1) by the viewer (GET /v1.1/Datastreams(1)). Besides the time it
// reports the statements ("stmts/op") and the read transactions ("snapshots/op", each a BEGIN
// and a COMMIT more on PostgreSQL) a call runs. Both stores run it on the same rows.
func BenchRemoteView(b *testing.B, open Open) {
	b.Helper()
	eng, _ := open(b)
	s := Stores{Entities: sqlq.NewEntities(eng, nil), Auth: sqlq.NewAuth(eng)}
	if _, err := s.Entities.Create(ctx(), entity(b, sensing.Things, gauge)); err != nil {
		b.Fatal(err)
	}
	start := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	obs := make([]sensing.Observation, 1000)
	for i := range obs {
		v, t := float64(i), start.Add(time.Duration(i)*time.Minute)
		obs[i] = sensing.Observation{DatastreamID: 1, PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339), ResultNum: &v}
	}
	if _, _, err := s.Entities.Ingest(ctx(), obs); err != nil {
		b.Fatal(err)
	}
	// the reads go through a store over an engine that counts what they run
	c := &countingEngine{Engine: eng}
	reads := sqlq.NewEntities(c, nil)
	viewer := sensing.WithRemoteView(ctx(), sensing.RemoteView{Org: "pmd"})
	run := func(b *testing.B, cx context.Context, get bool) {
		c.stmts.Store(0)
		c.snapshots.Store(0)
		n := 0
		for b.Loop() {
			n++
			if get {
				if _, err := reads.Get(cx, &sensing.Query{Set: sensing.Datastreams, ID: 1, Opts: &odata.Options{}}); err != nil {
					b.Fatalf("get: %v", err)
				}
				continue
			}
			p, err := reads.List(cx, &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: 1, Nav: "Observations"},
				Opts: &odata.Options{}, Top: 100})
			if err != nil || len(p.Entities) != 100 {
				b.Fatalf("list: %v", err)
			}
		}
		b.ReportMetric(float64(c.stmts.Load())/float64(n), "stmts/op")
		b.ReportMetric(float64(c.snapshots.Load())/float64(n), "snapshots/op")
	}
	b.Run("admin", func(b *testing.B) { run(b, ctx(), false) })
	b.Run("none", func(b *testing.B) { run(b, viewer, false) })
	b.Run("get", func(b *testing.B) { run(b, viewer, true) })
	// a second gauge, remote: another organisation's for pmd's viewer
	if _, err := s.Entities.Create(ctx(), entity(b, sensing.Things, strings.Replace(gauge, "Khanki", "Marala", -1))); err != nil {
		b.Fatal(err)
	}
	if err := sqlq.NewFederation(eng).SaveRemote(ctx(), "islamabad", 1, 1, 2); err != nil { // its Datastream, 2
		b.Fatal(err)
	}
	b.Run("one", func(b *testing.B) { run(b, viewer, false) })
}

// countingEngine counts the statements run through it and its read transactions (Read).
type countingEngine struct {
	sqlq.Engine
	stmts, snapshots atomic.Int64
}

func (e *countingEngine) Read(ctx context.Context, fn func(sqlq.Tx) error) error {
	e.snapshots.Add(1)
	return e.Engine.Read(ctx, func(tx sqlq.Tx) error { return fn(countingTx{tx, &e.stmts}) })
}

func (e *countingEngine) Do(ctx context.Context, fn func(sqlq.Tx) error) error {
	return e.Engine.Do(ctx, func(tx sqlq.Tx) error { return fn(countingTx{tx, &e.stmts}) })
}

type countingTx struct {
	sqlq.Tx
	n *atomic.Int64
}

func (t countingTx) Exec(ctx context.Context, q string, args ...any) (int64, error) {
	t.n.Add(1)
	return t.Tx.Exec(ctx, q, args...)
}

func (t countingTx) Query(ctx context.Context, q string, args ...any) (sqlq.Rows, error) {
	t.n.Add(1)
	return t.Tx.Query(ctx, q, args...)
}

func (t countingTx) QueryRow(ctx context.Context, q string, args ...any) sqlq.Row {
	t.n.Add(1)
	return t.Tx.QueryRow(ctx, q, args...)
}
