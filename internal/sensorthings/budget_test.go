package sensorthings_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// hostile is the request of issue 15 that grew a node to 12 GB and 330 CPU-seconds and sent
// nothing in 300 s: every level of $expand asks for 10,000 entities, and the path turns back
// on itself (Observations → Datastream → Thing → Datastreams → Observations).
const hostile = "/Things?$top=10000&$expand=Datastreams($top=10000;$expand=Observations($top=10000;$expand=Datastream($expand=Thing($expand=Datastreams($top=10000;$expand=Observations($top=10000))))))"

// hnode is a SensorThings server (public read, no keys) on either store, seeded with things
// Things of streams Datastreams of obs Observations each.
type hnode struct {
	t     testing.TB
	srv   *httptest.Server
	st    *sensorthings.Server
	ents  *sqlq.Entities
	admin string // the key of the writes that seed it
}

func newHostileNode(t testing.TB, store string, things, streams, obs int, configure func(*sensorthings.Server)) *hnode {
	t.Helper()
	ctx := context.Background()
	var ents *sqlq.Entities
	var keys *sqlq.Auth
	switch store {
	case "sqlite":
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rabta.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ents, keys = sqlite.NewEntities(db, &ingest.QC{}), sqlite.NewAuth(db)
	case "postgres":
		db, err := postgres.Open(ctx, storetest.PostgresSchema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		ents, keys = postgres.NewEntities(db, &ingest.QC{}), postgres.NewAuth(db)
	}
	admin, _, err := auth.Create(ctx, keys, "pdma", auth.Admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	st := &sensorthings.Server{Store: ents, Ingest: &ingest.Service{Store: ents}, PublicRead: true,
		MaxBody: 8 << 20, DefaultTop: 100, MaxTop: 10000}
	if configure != nil {
		configure(st)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	srv := httptest.NewServer(auth.RequestID((&auth.Authenticator{Store: keys}).Middleware(st.Error)(mux)))
	t.Cleanup(srv.Close)
	n := &hnode{t: t, srv: srv, st: st, ents: ents, admin: admin}
	n.seed(things, streams, obs)
	return n
}

// seed creates the Things, each with its Datastreams, and the Observations of each
// Datastream (hourly values from 2024-01-01) by dataArray.
func (n *hnode) seed(things, streams, obs int) {
	n.t.Helper()
	ds := 0
	for i := 1; i <= things; i++ {
		var dss []string
		for j := 1; j <= streams; j++ {
			dss = append(dss, fmt.Sprintf(`{"name":"level %d.%d","description":"water level","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
 "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"http://qudt.org/vocab/unit/M"},
 "Sensor":{"name":"gauge %d.%d","description":"staff gauge","encodingType":"text/html","metadata":"https://example.org"},
 "ObservedProperty":{"name":"level %d.%d","definition":"http://example.org/level","description":"water level"}}`, i, j, i, j, i, j))
		}
		body := fmt.Sprintf(`{"name":"station %d","description":"river gauge","properties":{"river":"Indus"},
 "Locations":[{"name":"at %d","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.%d,32.4]}}],
 "Datastreams":[%s]}`, i, i, i, strings.Join(dss, ","))
		if st, b := n.get("POST", "/Things", body); st != 201 {
			n.t.Fatalf("POST Things: %d %s", st, b)
		}
		for j := 0; j < streams; j++ {
			ds++
			for from := 0; from < obs; from += 5000 {
				var rows []string
				for k := from; k < min(obs, from+5000); k++ {
					rows = append(rows, fmt.Sprintf(`["%s",%d.5]`, time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(k)*time.Hour).Format(time.RFC3339), k%97))
				}
				body := fmt.Sprintf(`[{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[%s]}]`, ds, strings.Join(rows, ","))
				if st, b := n.get("POST", "/CreateObservations", body); st != 201 {
					n.t.Fatalf("CreateObservations: %d %.300s", st, b)
				}
			}
		}
	}
}

// get sends a request (with a body for a write) and returns status and body.
func (n *hnode) get(method, path, body string) (int, string) {
	n.t.Helper()
	req, err := http.NewRequest(method, n.srv.URL+"/v1.1"+path, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if method != "GET" {
		req.Header.Set("Authorization", "Bearer "+n.admin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// peakHeap samples the heap in use every 10 ms while fn runs and returns the largest sample
// above the heap in use before fn, in bytes.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > base && ms.HeapInuse-base > peak.Load() {
				peak.Store(ms.HeapInuse - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	fn()
	close(done)
	<-stopped
	return peak.Load()
}

// BenchmarkWorstRequest measures the hostile request on SQLite seeded with 5 Things of 4
// Datastreams of 5,000 Observations (100,000): the time to the whole answer (or to the
// client's 60 s timeout) and the peak of the heap in use while it runs (the server runs in the
// benchmark's process). Run it with
//
//	go test -run '^$' -bench WorstRequest -benchtime 1x ./internal/sensorthings/
func BenchmarkWorstRequest(b *testing.B) {
	n := newHostileNode(b, "sqlite", 5, 4, 5000, nil)
	client := &http.Client{Timeout: 60 * time.Second}
	for b.Loop() {
		var status, size int
		var err error
		start := time.Now()
		peak := peakHeap(func() {
			var resp *http.Response
			resp, err = client.Get(n.srv.URL + "/v1.1" + hostile)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			m, _ := io.Copy(io.Discard, resp.Body)
			status, size = resp.StatusCode, int(m)
		})
		took := time.Since(start)
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(took.Seconds(), "s/request")
		b.Logf("status %d, %d bytes, %v, peak heap in use +%.0f MiB, err %v", status, size, took.Round(time.Millisecond), float64(peak)/(1<<20), err)
	}
}
