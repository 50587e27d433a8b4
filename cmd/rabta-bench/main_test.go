package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/storetest"
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
		window: 24 * time.Hour, outbox: true, dir: t.TempDir(), bin: testBinary(t), phases: "raw,api,query,reads,csv", seed: 1,
		busRate: 1, busPerReq: 1, busStreams: 1, busDur: time.Second, mqttN: 1, mqttPubs: 1, alertCycles: 1, keep: true}
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
	if rep.Reads.CountAllValue != 3000 || rep.Reads.CountAll.N != 2 || rep.Reads.LatestEach.N != 2 || rep.Reads.Window.N != windowRuns {
		t.Errorf("reads: %+v", rep.Reads)
	}
	// the memory sampler's largest sample adds up, and the Go runtime's share was read
	if p := rep.Memory.Peak; p.RSSKiB == 0 || p.AnonKiB+p.FileKiB+p.ShmemKiB != p.RSSKiB || p.GoKiB <= 0 {
		t.Errorf("largest memory sample: %+v", p)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, want := range []string{"dataArray API", "window queries", "$count, all observations", "latest of every datastream", "1-hour window across datastreams", "CSV import", "largest sample"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, out.String())
		}
	}

	// -reuse: the reads again on the store the api phase filled (kept), nothing ingested; the
	// reads check every count and value against the generator, so a store with other rows fails
	kept, err := filepath.Glob(filepath.Join(o.dir, "rabta-bench-*", "api"))
	if err != nil || len(kept) != 1 {
		t.Fatalf("kept api directory: %v %v", kept, err)
	}
	o.reuse, o.phases, o.keep = kept[0], "api,reads", false
	log.Reset()
	if rep, err = run(ctx, o, &log); err != nil {
		t.Fatalf("-reuse: %v\n%s", err, log.String())
	}
	if rep.API != nil || rep.Reads == nil || rep.Reads.CountAllValue != 3000 || rep.Reads.LatestEach.N != 2 {
		t.Errorf("-reuse: api %+v, reads %+v", rep.API, rep.Reads)
	}
	o.n = 6000 // other rows than the store holds: the reads find the counts wrong
	if _, err = run(ctx, o, &log); err == nil || !strings.Contains(err.Error(), "@iot.count 3000, want 6000") {
		t.Errorf("-reuse with another -n: %v", err)
	}
}

// TestCompare runs the compare phase as docs/bench.md's command does, briefly: Rabta on SQLite
// started by the phase, Rabta on PostgreSQL (-compare-pg) and a service given by URL (another
// rabta serve standing in for GOST, with -compare-auth). Every load checks every answer, so
// a target with errors fails the test.
func TestCompare(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs rabta")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir, bin := t.TempDir(), testBinary(t)
	other, err := startServerOn(ctx, bin, filepath.Join(dir, "other"), true, "", "RABTA_WRITE_RATE=0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.kill()
	o := options{n: 1, d: 1, batch: 1, clients: 1, top: 1, readsRuns: 1, window: time.Hour, outbox: true, dir: dir, bin: bin,
		phases: "compare", seed: 1, busRate: 1, busPerReq: 1, busStreams: 1, busDur: time.Second, mqttN: 1, mqttPubs: 1, alertCycles: 1,
		compareURLs: "other=" + other.base + "/v1.1", compareAuth: "Bearer " + adminKey,
		compareDur: time.Second, compareClients: 4, compareBulkClients: 2, compareBulk: 50, compareFloor: true}
	want := []string{"rabta-sqlite", "other", "http-floor", "floor-sqlite"}
	if os.Getenv("RABTA_TEST_POSTGRES") != "" || os.Getenv("CI") != "" {
		o.comparePG = storetest.PostgresSchema(t)
		want = []string{"rabta-sqlite", "rabta-postgres", "other", "http-floor", "floor-sqlite", "floor-postgres"}
	}
	var log bytes.Buffer
	rep, err := run(ctx, o, &log)
	if err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	c := rep.Compare
	if c == nil || len(c.Targets) != len(want) {
		t.Fatalf("compare: %+v\n%s", c, log.String())
	}
	if c.Reference != "other" {
		t.Errorf("reference %q, want the first -compare-url", c.Reference)
	}
	for i, tg := range c.Targets {
		if tg.Name != want[i] {
			t.Errorf("target %d is %q, want %q", i, tg.Name, want[i])
		}
		for load, r := range map[string]loadResult{"single": c.Single[i], "bulk": c.Bulk[i], "window": c.Window[i]} {
			if r.Errors > 0 || !(r.PerSec > 0) || !(r.Ratio > 0) || r.Latency.N == 0 {
				t.Errorf("%s, %s: %+v", tg.Name, load, r)
			}
		}
	}
	if r := c.Single[slices.Index(want, "other")]; r.Ratio != 1 {
		t.Errorf("the reference's ratio is %v, want 1", r.Ratio)
	}
	var out bytes.Buffer
	rep.print(&out)
	for _, s := range []string{"POST /Datastreams(id)/Observations, one per request, 4 clients", "POST /CreateObservations, 50 per request, 2 clients", "ratios to other"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("the report lacks %q:\n%s", s, out.String())
		}
	}
}

var (
	buildOnce sync.Once
	built     string
	buildErr  error
)

// testBinary builds cmd/rabta once for the package's tests.
func testBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rabta-bench-test-")
		if err != nil {
			buildErr = err
			return
		}
		built, buildErr = buildRabta(context.Background(), dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

func TestMain(m *testing.M) {
	serveFloorIfAsked() // the test binary started again as the http-floor server (TestCompare)
	code := m.Run()
	if built != "" {
		os.RemoveAll(filepath.Dir(built))
	}
	os.Exit(code)
}

// TestCompareChecksAnswers: a 201 that carries GOST's error strings, or fewer links than
// observations sent, is not counted as stored; a report whose reference target failed still
// gets ratios (to the first target).
func TestCompareChecksAnswers(t *testing.T) {
	for _, c := range []struct {
		status int
		body   string
		ok     bool
	}{
		{201, `["http://h/v1.1/Observations(1)","http://h/v1.1/Observations(2)"]`, true},
		{201, `["http://h/v1.1/Observations(1)","Missing Observation.FeatureOfInterest. Unable to create it from the Location"]`, false},
		{201, `["http://h/v1.1/Observations(1)"]`, false},
		{201, `{"error":"x"}`, false},
		{400, `["http://h/v1.1/Observations(1)","http://h/v1.1/Observations(2)"]`, false},
	} {
		if err := checkCreated(c.status, []byte(c.body), 2); (err == nil) != c.ok {
			t.Errorf("%d %s: err %v, want ok %v", c.status, c.body, err, c.ok)
		}
	}
	r := &compareReport{Targets: []compareTarget{{Name: "rabta-sqlite"}},
		Single: []loadResult{{PerSec: 100}}, Bulk: []loadResult{{PerSec: 50}}, Window: []loadResult{{PerSec: 10}}}
	r.ratios(2) // the reference (an external target) never ran
	if r.Reference != "rabta-sqlite" || r.Single[0].Ratio != 1 || r.Window[0].Ratio != 1 {
		t.Errorf("ratios of a partial report: %+v", r)
	}
}
