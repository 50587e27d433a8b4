package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
)

const benchKey = "federation-bench-admin-key-0123456789"

func benchNode(b *testing.B, id, dir string) *Node {
	b.Helper()
	n, err := New(b.Context(), Options{ID: id, DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0",
		AdminKey: benchKey, Registry: prometheus.NewRegistry(), Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	return n
}

const benchGauge = `{"name":"Khanki","description":"gauge",
 "Locations":[{"name":"Khanki","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
 "Datastreams":[{"name":"Discharge at Khanki","description":"q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
  "ObservedProperty":{"name":"Discharge","definition":"d","description":"d"}}]}`

// feed ingests rate observations a second into Datastream 1 of n, every 10 ms as many as
// are due by then (a machine that falls behind sends bigger batches rather than fewer values),
// each with its phenomenon time the moment it is sent, until d has passed (d 0: until stop is
// closed); it returns how many, and for how long.
func feed(b *testing.B, n *Node, rate int, d time.Duration, start int, stop <-chan struct{}) (int, time.Duration) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	t0 := time.Now()
	for {
		el := time.Since(t0)
		if d > 0 && el >= d {
			return sent, el
		}
		select {
		case <-stop:
			return sent, el
		default:
		}
		if due := min(int(float64(rate)*el.Seconds())-sent, rate); due > 0 {
			obs := make([]sensing.Observation, due)
			now := time.Now().UTC()
			for i := range obs {
				v := float64(start + sent + i)
				at := now.Add(time.Duration(i) * time.Microsecond) // distinct times: none is a duplicate of another
				obs[i] = sensing.Observation{DatastreamID: 1, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339Nano), ResultNum: &v}
			}
			ids, _, err := n.ingest.Ingest(context.Background(), "bench", obs)
			if err != nil {
				b.Fatal(err)
			}
			if onCommitted != nil {
				onCommitted(ids)
			}
			sent += due
		}
		<-tick.C
	}
}

// onCommitted, when set, is told the ids of each batch feed stored, once committed.
var onCommitted func(ids []int64)

// cpuTime is the process's CPU time so far (user and system, every goroutine: both nodes).
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// envInt is the positive integer in environment variable name, or def.
func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkFederation measures, with two nodes in one process on loopback (SQLite), a raw
// agreement from islamabad to karachi:
//
//   - lag_p50_ms, lag_p99_ms: from an Observation's ingest on islamabad to its storage on
//     karachi, under RABTA_BENCH_RATE observations/s (default 5,000) for RABTA_BENCH_SECONDS
//     (default 10); feed_obs/s is the rate islamabad actually took;
//   - catchup_obs/s, catchup_s: karachi stopped while islamabad takes that load for
//     RABTA_BENCH_CUT seconds (default: RABTA_BENCH_SECONDS; the figure is 600), then
//     started again while the load goes on: the values that waited (backlog) ÷ the time
//     karachi took to store them (in order: they are the first it stores), and that time;
//     level_s: when karachi stored a value within a second of its ingest again (-1: not
//     within a minute after the backlog). RABTA_BENCH_CATCHUP_LOAD=0 stops the load at the
//     restart instead: catchup_obs/s is then the rate of draining the backlog alone;
//   - ingest_ratio: islamabad's ingest rate (RABTA_BENCH_RATIO_VALUES values, default
//     100,000, in batches of 1,000, as fast as it goes) with 10 active raw agreements on the
//     Datastream ÷ with none, measured alternately RABTA_BENCH_RATIO_REPS times each (default
//     5) in this run (the medians), with karachi stopped (the partner's work is on its own
//     machine; the provider's exporter, streams and audit are what is measured);
//     ingest_ratio_pairs: the median of each run with ten ÷ the run with none before it.
//
// It runs once whatever b.N; go test -run '^$' -bench Federation -benchtime 1x ./internal/node.
func BenchmarkFederation(b *testing.B) {
	start := time.Now()
	progress := func(format string, args ...any) { // on stderr as it happens: a long run shows where it is
		fmt.Fprintf(os.Stderr, "%8s  "+format+"\n", append([]any{time.Since(start).Round(time.Second)}, args...)...)
	}
	rate := envInt("RABTA_BENCH_RATE", 5000)
	secs := envInt("RABTA_BENCH_SECONDS", 10)
	cutSecs := envInt("RABTA_BENCH_CUT", secs)
	idir, kdir := b.TempDir(), b.TempDir()
	p := benchNode(b, "islamabad", idir)
	defer p.Close()
	req, _ := http.NewRequest("POST", "http://"+p.Addr().String()+"/v1.1/Things", strings.NewReader(benchGauge))
	req.Header.Set("Authorization", "Bearer "+benchKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		b.Fatalf("create: %v %v", resp, err)
	}
	ctx := context.Background()
	kkey, _ := FedPublicKey(kdir)
	ikey, _ := FedPublicKey(idir)
	svc := p.fed.svc
	if err := svc.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: kkey}); err != nil {
		b.Fatal(err)
	}
	k := benchNode(b, "karachi", kdir)
	if err := k.fed.svc.AddPartner(ctx, &federation.Partner{Node: "islamabad", NKey: ikey, URL: p.NATSURL()}); err != nil {
		b.Fatal(err)
	}
	var mu sync.Mutex
	var lags []time.Duration
	stored := 0
	var level time.Time // catch-up: when a value was first stored within a second of its ingest
	// every provider Observation id karachi stored (a bit each), how many distinct, how many twice
	var seen []uint64
	distinct, twice := 0, 0
	see := func(vals []*federation.Message) { // holding mu
		for _, v := range vals {
			i := v.Observation
			for int(i/64) >= len(seen) {
				seen = append(seen, make([]uint64, len(seen)+1024)...)
			}
			if seen[i/64]&(1<<(i%64)) != 0 {
				twice++
				continue
			}
			seen[i/64] |= 1 << (i % 64)
			distinct++
		}
	}
	// where the lag goes: the value made → committed on islamabad (ingest), → acknowledged on
	// its agreement's stream (provider), → fetched by karachi (link), → stored there (consumer)
	var exported, committed []time.Time // by provider Observation id
	var ingested, provider, link, consumer []time.Duration
	at := func(ts *[]time.Time, ids []int64) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			for int(id) >= len(*ts) {
				*ts = append(*ts, make([]time.Time, len(*ts)+4096)...)
			}
			(*ts)[id] = now
		}
	}
	ratioOnly := os.Getenv("RABTA_BENCH_ONLY") == "ratio"
	if !ratioOnly { // (the ratio's runs measure the node alone: no hook of the lag's)
		p.fed.onExported = func(ids []int64) { at(&exported, ids) }
		onCommitted = func(ids []int64) { at(&committed, ids) }
	}
	record := func(vals []*federation.Message, fetched time.Time) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vals {
			lags = append(lags, now.Sub(v.Start))
			if int(v.Observation) < len(exported) && !exported[v.Observation].IsZero() {
				e, c := exported[v.Observation], committed[v.Observation]
				ingested, provider = append(ingested, c.Sub(v.Start)), append(provider, e.Sub(c))
				link, consumer = append(link, fetched.Sub(e)), append(consumer, now.Sub(fetched))
			}
		}
		stored += len(vals)
		see(vals)
	}
	k.fed.onStored = record
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "benchmark", ValidFrom: time.Now().Add(-time.Minute)}
	if err := svc.Create(ctx, a); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.Approve(ctx, a.ID); err != nil {
		b.Fatal(err)
	}
	waitStored := func(want int, limit time.Duration) time.Duration {
		t0 := time.Now()
		for {
			mu.Lock()
			n := stored
			mu.Unlock()
			if n >= want {
				return time.Since(t0)
			}
			if time.Since(t0) > limit {
				b.Fatalf("karachi stored %d of %d within %s", n, want, limit)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	time.Sleep(2 * time.Second) // the link up and the stream made
	b.ResetTimer()
	if ratioOnly { // the ingest ratio alone (a profile of the exporter's cost)
		k.Close()
		benchIngestRatio(b, p, a, progress)
		return
	}
	// lag under load
	cpu0 := cpuTime(b)
	sent, took := feed(b, p, rate, time.Duration(secs)*time.Second, 0, nil)
	b.ReportMetric(float64(sent)/took.Seconds(), "feed_obs/s")
	waitStored(sent, 2*time.Minute)
	b.ReportMetric(float64((cpuTime(b)-cpu0).Microseconds())/float64(sent), "lag_cpu_us/obs")
	mu.Lock()
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	lags = nil
	mu.Unlock()
	b.ReportMetric(float64(p50.Microseconds())/1000, "lag_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "lag_p99_ms")
	mu.Lock()
	for _, st := range []struct {
		name string
		d    []time.Duration
	}{{"ingest", ingested}, {"provider", provider}, {"link", link}, {"consumer", consumer}} {
		if len(st.d) == 0 {
			continue
		}
		slices.Sort(st.d)
		b.ReportMetric(float64(st.d[len(st.d)/2].Microseconds())/1000, "lag_"+st.name+"_p50_ms")
		b.ReportMetric(float64(st.d[len(st.d)*99/100].Microseconds())/1000, "lag_"+st.name+"_p99_ms")
	}
	p.fed.onExported, exported, onCommitted, committed = nil, nil, nil, nil
	mu.Unlock()
	progress("lag: %d values at %.0f/s, p50 %s, p99 %s", sent, float64(sent)/took.Seconds(), p50, p99)

	// a cut: karachi down while islamabad takes the same load, then back while the load goes on
	k.Close()
	acceptedBefore := k.ingest.Accepted.Load()
	progress("karachi stopped for %ds", cutSecs)
	cut, cutTook := feed(b, p, rate, time.Duration(cutSecs)*time.Second, sent, nil)
	b.ReportMetric(float64(cut)/cutTook.Seconds(), "cut_feed_obs/s")
	b.ReportMetric(float64(cut), "backlog")
	mu.Lock()
	stored = 0
	mu.Unlock()
	stop := make(chan struct{})
	fed := make(chan int)
	load := os.Getenv("RABTA_BENCH_CATCHUP_LOAD") != "0"
	go func() {
		if !load {
			fed <- 0
			return
		}
		n, _ := feed(b, p, rate, 0, sent+cut, stop)
		fed <- n
	}()
	t0 := time.Now()
	k = benchNode(b, "karachi", kdir)
	k.fed.onStored = func(vals []*federation.Message, _ time.Time) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		stored += len(vals)
		see(vals)
		if level.IsZero() && len(vals) > 0 && now.Sub(vals[len(vals)-1].Start) < time.Second {
			level = now
		}
	}
	progress("karachi restarted; %d values waiting", cut)
	var drained time.Duration
	last, lastAt := 0, time.Now()
	for {
		mu.Lock()
		l, n := level, stored
		mu.Unlock()
		el := time.Since(t0)
		if n != last {
			last, lastAt = n, time.Now()
		}
		if drained == 0 && n > 0 && n < cut && !load && time.Since(lastAt) > 30*time.Second {
			// nothing more for 30 s, the load stopped: values were lost on the way
			drained = lastAt.Sub(t0)
			b.ReportMetric(float64(n)/drained.Seconds(), "catchup_obs/s")
			b.ReportMetric(drained.Seconds(), "catchup_s")
			b.ReportMetric(float64(cut-n), "lost")
			b.Errorf("karachi stored %d of the %d values that waited: %d lost", n, cut, cut-n)
			break
		}
		if drained == 0 && n >= cut {
			drained = el // in order: the first values stored are the ones that waited
			b.ReportMetric(float64(cut)/drained.Seconds(), "catchup_obs/s")
			b.ReportMetric(drained.Seconds(), "catchup_s")
			progress("backlog stored in %s", drained.Round(time.Millisecond))
		}
		if !load && drained > 0 {
			break // no load: level once the backlog is stored
		}
		if !l.IsZero() && drained > 0 {
			b.ReportMetric(l.Sub(t0).Seconds(), "level_s")
			progress("level after %s", l.Sub(t0).Round(time.Millisecond))
			break
		}
		if drained > 0 && el > drained+time.Minute {
			b.ReportMetric(-1, "level_s") // not level a minute after the backlog was stored
			progress("not level %s after the backlog was stored", el-drained)
			break
		}
		if el > time.Duration(cutSecs)*time.Second*10+5*time.Minute {
			b.Fatalf("karachi stored %d of the %d waiting within %s of its restart", n, cut, el)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	after := <-fed
	// nothing lost, nothing twice: every value islamabad took (the lag phase's, the backlog, what
	// came during the catch-up) stored by karachi, each once (a value delivered again is left out
	// by ingest: karachi's accepted count stays the number of distinct values)
	total := sent + cut + after
	t1 := time.Now()
	for {
		mu.Lock()
		d := distinct
		mu.Unlock()
		if d >= total || time.Since(t1) > 5*time.Minute {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	mu.Lock()
	lost, again := total-distinct, twice
	mu.Unlock()
	accepted := k.ingest.Accepted.Load() + acceptedBefore
	b.ReportMetric(float64(lost), "lost")
	b.ReportMetric(float64(again), "delivered_twice")
	b.ReportMetric(float64(accepted-int64(total)), "stored_extra")
	progress("fed %d values: karachi stored %d distinct (%d lost), %d delivered twice; its ingest accepted %d", total, total-lost, lost, again, accepted)
	if lost != 0 || accepted != int64(total) {
		b.Errorf("fed %d values: karachi stored %d distinct ones, and accepted %d", total, total-lost, accepted)
	}
	k.Close()
	benchIngestRatio(b, p, a, progress)
}

// benchIngestRatio measures provider p's ingest with 10 active raw agreements like a (on the
// same Datastream, to the same stopped partner) ÷ with none, alternately three times each; a
// is revoked first.
func benchIngestRatio(b *testing.B, p *Node, a *federation.Agreement, progress func(string, ...any)) {
	ctx := context.Background()
	svc := p.fed.svc
	// ingest with 10 agreements ÷ none, alternately (the partner stopped: its work is its own)
	if _, err := svc.Revoke(ctx, a.ID); err != nil {
		b.Fatal(err)
	}
	values, reps := envInt("RABTA_BENCH_RATIO_VALUES", 100000), envInt("RABTA_BENCH_RATIO_REPS", 5)
	ingestRate := func() float64 {
		const per = 1000
		batches := max(1, values/per)
		t0 := time.Now()
		base := time.Now().UTC()
		for i := range batches {
			obs := make([]sensing.Observation, per)
			for j := range obs {
				v := float64(j)
				at := base.Add(time.Duration(i*per+j) * time.Microsecond)
				obs[j] = sensing.Observation{DatastreamID: 1, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339Nano), ResultNum: &v}
			}
			if _, _, err := p.ingest.Ingest(ctx, "bench", obs); err != nil {
				b.Fatal(err)
			}
		}
		return float64(batches*per) / time.Since(t0).Seconds()
	}
	// settle waits until islamabad's exporter has nothing left to send
	settle := func() {
		for range 600 {
			time.Sleep(100 * time.Millisecond)
			last, err := p.stores.Federation.LastObservation(ctx)
			if err != nil {
				b.Fatal(err)
			}
			p.fed.mu.Lock()
			ids := slices.Collect(maps.Keys(p.fed.streams))
			p.fed.mu.Unlock()
			done := true
			for _, id := range ids {
				if c, _ := p.stores.Federation.Cursor(ctx, id); c < last {
					done = false
				}
			}
			if done {
				return
			}
		}
	}
	// costRate is ingestRate, and the process's CPU time per value ingested until the exporter
	// has sent them all (its work for them included, wherever it falls)
	costRate := func() (rate float64, cpu time.Duration) {
		c0 := cpuTime(b)
		rate = ingestRate()
		settle()
		return rate, (cpuTime(b) - c0) / time.Duration(max(1, values/1000)*1000)
	}
	var nones, tens []float64
	var cpuNone, cpuTen []time.Duration
	// profiled, with RABTA_BENCH_PROFILE=FILE: FILE.none.N and FILE.N
	profiled := func(name string) (rate float64, cpu time.Duration) {
		prof := os.Getenv("RABTA_BENCH_PROFILE")
		if prof == "" {
			return costRate()
		}
		pf, err := os.Create(prof + "." + name)
		if err != nil {
			b.Fatal(err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			b.Fatal(err)
		}
		defer pprof.StopCPUProfile()
		return costRate()
	}
	for rep := range reps {
		settle()
		r, c := profiled(fmt.Sprintf("none.%d", rep))
		nones, cpuNone = append(nones, r), append(cpuNone, c)
		var ids []int64
		for i := range 10 {
			x := *a
			x.ID, x.ValidFrom = 0, time.Now()
			x.Purpose = fmt.Sprintf("benchmark %d.%d", rep, i)
			if err := svc.Create(ctx, &x); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Approve(ctx, x.ID); err != nil {
				b.Fatal(err)
			}
			ids = append(ids, x.ID)
		}
		time.Sleep(time.Second) // the streams made
		settle()
		r, c = profiled(strconv.Itoa(rep))
		tens, cpuTen = append(tens, r), append(cpuTen, c)
		progress("ingest with none %.0f obs/s, with 10 agreements %.0f", nones[rep], tens[rep])
		for _, id := range ids {
			if _, err := svc.Revoke(ctx, id); err != nil {
				b.Fatal(err)
			}
		}
		time.Sleep(time.Second) // the streams deleted
	}
	// each run with ten agreements against the run with none just before it: a machine whose
	// load drifts moves both of a pair
	var pairs []float64
	for i := range nones {
		pairs = append(pairs, tens[i]/nones[i])
	}
	slices.Sort(pairs)
	slices.Sort(nones)
	slices.Sort(tens)
	mid := reps / 2
	b.ReportMetric(pairs[mid], "ingest_ratio_pairs")
	b.ReportMetric(tens[mid]/nones[mid], "ingest_ratio")
	b.ReportMetric(nones[mid], "ingest_none_obs/s")
	slices.Sort(cpuNone)
	slices.Sort(cpuTen)
	b.ReportMetric(float64(cpuNone[mid].Nanoseconds())/1000, "ingest_none_cpu_us/obs")
	b.ReportMetric(float64(cpuTen[mid].Nanoseconds())/1000, "ingest_10_cpu_us/obs")
	b.Logf("ingest obs/s with none %.0f, with 10 agreements %.0f (sorted); run by run, 10 ÷ none %.2f (sorted); CPU µs a value, its export included: none %v, 10 agreements %v",
		nones, tens, pairs, cpuNone, cpuTen)
}
