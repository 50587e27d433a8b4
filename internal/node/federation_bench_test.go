package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
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

// feed ingests rate observations a second into Datastream 1 of n for d, in batches every
// 10 ms, each with its phenomenon time the moment it is sent; it returns how many.
func feed(b *testing.B, n *Node, rate int, d time.Duration, start int) int {
	per := rate / 100
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	sent := 0
	for end := time.Now().Add(d); time.Now().Before(end); <-tick.C {
		obs := make([]sensing.Observation, per)
		now := time.Now().UTC()
		for i := range obs {
			v := float64(start + sent + i)
			at := now.Add(time.Duration(i) * time.Microsecond) // distinct times: none is a duplicate of another
			obs[i] = sensing.Observation{DatastreamID: 1, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339Nano), ResultNum: &v}
		}
		if _, _, err := n.ingest.Ingest(context.Background(), "bench", obs); err != nil {
			b.Fatal(err)
		}
		sent += per
	}
	return sent
}

// BenchmarkFederation measures, with two nodes in one process on loopback (SQLite), a raw
// agreement from islamabad to karachi:
//
//   - lag_p50_ms, lag_p99_ms: from an Observation's ingest on islamabad to its storage on
//     karachi, under RABTA_BENCH_RATE observations/s (default 5,000) for RABTA_BENCH_SECONDS
//     (default 10);
//   - catchup_obs/s: karachi stopped while islamabad takes that load for the same time, then
//     started again: the rate at which the backlog arrives;
//   - ingest_ratio: islamabad's ingest rate (batches of 1,000, as fast as it goes) with 10
//     active agreements on the Datastream ÷ with none, in one run.
//
// It runs once whatever b.N; go test -run '^$' -bench Federation -benchtime 1x ./internal/node.
func BenchmarkFederation(b *testing.B) {
	rate, secs := 5000, 10
	if v, err := strconv.Atoi(os.Getenv("RABTA_BENCH_RATE")); err == nil && v > 0 {
		rate = v
	}
	if v, err := strconv.Atoi(os.Getenv("RABTA_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
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
	record := func(vals []*federation.Message) {
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for _, v := range vals {
			lags = append(lags, now.Sub(v.Start))
		}
		stored += len(vals)
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
	// lag under load
	sent := feed(b, p, rate, time.Duration(secs)*time.Second, 0)
	waitStored(sent, 2*time.Minute)
	mu.Lock()
	slices.Sort(lags)
	p50, p99 := lags[len(lags)/2], lags[len(lags)*99/100]
	lags = nil
	mu.Unlock()
	b.ReportMetric(float64(p50.Microseconds())/1000, "lag_p50_ms")
	b.ReportMetric(float64(p99.Microseconds())/1000, "lag_p99_ms")

	// a cut: karachi down while islamabad takes the same load, then back
	k.Close()
	before := stored
	cut := feed(b, p, rate, time.Duration(secs)*time.Second, sent)
	k = benchNode(b, "karachi", kdir)
	defer k.Close()
	mu.Lock()
	stored = 0
	mu.Unlock()
	k.fed.onStored = record
	took := waitStored(cut, 5*time.Minute)
	b.ReportMetric(float64(cut)/took.Seconds(), "catchup_obs/s")
	_ = before

	// ingest with 10 agreements ÷ none: a fresh Datastream-less comparison on islamabad
	ingestRate := func() float64 {
		const batches, per = 20, 1000
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
		return batches * per / time.Since(t0).Seconds()
	}
	if _, err := svc.Revoke(ctx, a.ID); err != nil {
		b.Fatal(err)
	}
	time.Sleep(time.Second)
	none := ingestRate()
	for i := range 10 {
		x := *a
		x.ID, x.ValidFrom = 0, time.Now()
		x.Purpose = fmt.Sprintf("benchmark %d", i)
		if err := svc.Create(ctx, &x); err != nil {
			b.Fatal(err)
		}
		if _, err := svc.Approve(ctx, x.ID); err != nil {
			b.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	ten := ingestRate()
	b.ReportMetric(ten/none, "ingest_ratio")
	b.ReportMetric(none, "ingest_none_obs/s")
}
