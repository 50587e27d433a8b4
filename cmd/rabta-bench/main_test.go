package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs the benchmark as docs/bench.md's commands do, at a tiny size, through every
// phase that needs nothing but the rabta binary: raw, api, query, reads and csv. Every phase
// checks its own answers (rows stored, each query's rows, each count and latest value), so a
// run that ends without error is a run whose figures were measured on right answers.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rabta")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	o := options{n: 3000, d: 3, batch: 500, clients: 2, queries: 20, top: 10, readsRuns: 2,
		window: 24 * time.Hour, outbox: true, dir: t.TempDir(), phases: "raw,api,query,reads,csv", seed: 1,
		busRate: 1, busPerReq: 1, busStreams: 1, busDur: time.Second, mqttN: 1, mqttPubs: 1, alertCycles: 1}
	var log bytes.Buffer
	rep, err := run(ctx, o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	if rep.Raw == nil || rep.API == nil || rep.Query == nil || rep.Reads == nil || rep.CSV == nil {
		t.Fatalf("a phase left no result: %+v\n%s", rep, log.String())
	}
	if rep.API.Stored != 3000 || rep.CSV.Stored != 3000 {
		t.Errorf("stored: api %d, csv %d, want 3000 each", rep.API.Stored, rep.CSV.Stored)
	}
	if rep.Reads.CountAllValue != 3000 || rep.Reads.CountAll.N != 2 || rep.Reads.LatestEach.N != 2 {
		t.Errorf("reads: %+v", rep.Reads)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{"dataArray API", "window queries", "$count, all observations", "latest of every datastream", "CSV import"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}
}
