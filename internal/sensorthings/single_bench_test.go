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
	"github.com/rabta/rabta/internal/store/sqlite"
)

// BenchmarkSinglePOST: one Observation per POST /Datastreams(id)/Observations through the
// real handler, the API key middleware and the SQLite store (group commit, synchronous=FULL),
// 8 clients at once (b.SetParallelism over GOMAXPROCS), each on its own Datastream, as the
// compare phase's single load does. ns/op is wall time per POST over all clients; the server's
// CPU per POST is what -cpuprofile shows. No bus or outbox here: the write path alone.
func BenchmarkSinglePOST(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "rabta.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys := sqlite.NewAuth(db)
	admin, _, err := auth.Create(ctx, keys, "pdma", auth.Admin, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ents := sqlite.NewEntities(db, &ingest.QC{})
	st := &sensorthings.Server{Store: ents, Ingest: &ingest.Service{Store: ents}, MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	srv := httptest.NewServer((&auth.Authenticator{Store: keys}).Middleware(st.Error)(mux))
	b.Cleanup(srv.Close)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	post := func(path, body string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1.1"+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(out)
	}
	const clients = 8
	for i := range clients {
		if st, out := post("/Things", strings.ReplaceAll(gauge, "Khanki", fmt.Sprintf("Gauge%d", i))); st != 201 {
			b.Fatalf("POST /Things: %d %s", st, out)
		}
	}
	var next, ds atomic.Int64
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	b.SetParallelism((clients + 1) / max(1, testingProcs()))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		d := ds.Add(1)%clients + 1
		for pb.Next() {
			k := next.Add(1)
			body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d.%03d}`, epoch.Add(time.Duration(k)*time.Minute).Format(time.RFC3339), 2+k%5, k%1000)
			if st, out := post(fmt.Sprintf("/Datastreams(%d)/Observations", d), body); st != 201 {
				b.Fatalf("POST: %d %s", st, out)
			}
		}
	})
	b.StopTimer()
	if groups, calls := ents.GroupStats(); groups > 0 {
		b.ReportMetric(float64(calls)/float64(groups), "POSTs/commit")
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
