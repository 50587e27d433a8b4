package sensorthings_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
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
	// opts are the options ($orderby, $skip, $filter) of the expanded collections that walk
	// checks, by navigation property
	opts map[string]string
}

func newHostileNode(t testing.TB, store string, things, streams, obs int, configure func(*sensorthings.Server)) *hnode {
	t.Helper()
	ents, keys, admin := openTestStore(t, store, "&application_name="+hostileApp)
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
	req, err := http.NewRequest(method, n.srv.URL+"/v1.1"+strings.ReplaceAll(path, " ", "%20"), strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if method != "GET" {
		req.Header.Set("Authorization", "Bearer "+n.admin)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
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

// BenchmarkWorstRequest measures the worst requests we could build on SQLite seeded with 5
// Things of 4 Datastreams of 5,000 Observations (100,000), with the server's default limits:
// the time to the whole answer (or to the client's 60 s timeout) and the peak of the heap in
// use while it runs (the server runs in the benchmark's process). "hostile" is issue 15's
// request; "wide" expands the largest entities from every Observation of a full page. Run it with
//
//	go test -run '^$' -bench WorstRequest -benchtime 1x ./internal/sensorthings/
func BenchmarkWorstRequest(b *testing.B) {
	n := newHostileNode(b, "sqlite", 5, 4, 5000, nil)
	client := &http.Client{Timeout: 60 * time.Second}
	for _, bm := range []struct{ name, url string }{
		{"hostile", hostile},
		{"wide", "/Observations?$top=10000&$expand=FeatureOfInterest,Datastream($expand=Sensor,ObservedProperty,Thing($expand=Locations,HistoricalLocations,Datastreams($expand=Sensor,ObservedProperty)))"},
	} {
		b.Run(bm.name, func(b *testing.B) {
			for b.Loop() {
				var status, size int
				var err error
				start := time.Now()
				peak := peakHeap(func() {
					var resp *http.Response
					resp, err = client.Get(n.srv.URL + "/v1.1" + bm.url)
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
		})
	}
}

// entities counts the entities in a response body (objects with an @iot.id), at every level.
func entities(v any) int {
	n := 0
	switch x := v.(type) {
	case map[string]any:
		if _, ok := x["@iot.id"]; ok {
			n++
		}
		for _, c := range x {
			n += entities(c)
		}
	case []any:
		for _, c := range x {
			n += entities(c)
		}
	}
	return n
}

// decode parses a JSON object body.
func decode(t testing.TB, body string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil {
		t.Fatalf("not a JSON object: %v: %.300s", err, body)
	}
	return m
}

// walk reads the collection at url (relative to /v1.1) and every page its @iot.nextLink leads
// to, and returns the ids of its entities in order. For every entity, each expanded
// collection it holds (with the pages its own nextLink leads to, walked likewise) must list
// exactly the collection as it is (its ids, listed on their own), and no page may hold more
// than maxRows entities.
func (n *hnode) walk(t *testing.T, url string, maxRows int, pages *int) []int {
	t.Helper()
	var got []int
	for url != "" {
		*pages++
		if *pages > 200 {
			t.Fatalf("more than 200 pages")
		}
		status, body := n.get("GET", url, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %.300s", url, status, body)
		}
		page := decode(t, body)
		if c := entities(page); c > maxRows {
			t.Fatalf("GET %s: %d entities, over the budget of %d", url, c, maxRows)
		}
		for _, v := range page["value"].([]any) {
			e := v.(map[string]any)
			got = append(got, int(e["@iot.id"].(float64)))
			n.checkExpanded(t, e, maxRows, pages)
		}
		url = ""
		if next, ok := page["@iot.nextLink"].(string); ok {
			url = strings.TrimPrefix(next, n.srv.URL+"/v1.1")
		}
	}
	return got
}

// checkExpanded checks every expanded collection of e (see walk).
func (n *hnode) checkExpanded(t *testing.T, e map[string]any, maxRows int, pages *int) {
	t.Helper()
	self := strings.TrimPrefix(e["@iot.selfLink"].(string), n.srv.URL+"/v1.1")
	for k, v := range e {
		if one, ok := v.(map[string]any); ok && one["@iot.id"] != nil {
			n.checkExpanded(t, one, maxRows, pages)
			continue
		}
		many, ok := v.([]any)
		if !ok || strings.Contains(k, "@") || k == "properties" {
			continue
		}
		var got []int
		for _, c := range many {
			ce := c.(map[string]any)
			got = append(got, int(ce["@iot.id"].(float64)))
			n.checkExpanded(t, ce, maxRows, pages)
		}
		if next, ok := e[k+"@iot.nextLink"].(string); ok {
			got = append(got, n.walk(t, strings.TrimPrefix(next, n.srv.URL+"/v1.1"), maxRows, pages)...)
		}
		want := n.ids(t, self+"/"+k+"?"+n.opts[k])
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s/%s: given and paged %v, want %v", self, k, got, want)
		}
	}
}

// ids lists the ids of the collection at url, every page.
func (n *hnode) ids(t *testing.T, url string) []int {
	t.Helper()
	var out []int
	url = strings.TrimSuffix(url, "?")
	url += map[bool]string{true: "&", false: "?"}[strings.Contains(url, "?")] + "$select=id"
	for url != "" {
		status, body := n.get("GET", url, "")
		if status != 200 {
			t.Fatalf("GET %s: %d %.300s", url, status, body)
		}
		page := decode(t, body)
		for _, v := range page["value"].([]any) {
			out = append(out, int(v.(map[string]any)["@iot.id"].(float64)))
		}
		url = ""
		if next, ok := page["@iot.nextLink"].(string); ok {
			url = strings.TrimPrefix(next, n.srv.URL+"/v1.1")
		}
	}
	return out
}

// TestResponseBudgetPages: on both stores, a response over the budget is cut with
// server-driven paging: every collection (the page and each expanded one) lists exactly its
// entities once the nextLinks are followed, and no page holds more than the budget.
func TestResponseBudgetPages(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newHostileNode(t, store, 3, 2, 300, nil)
		for _, tt := range []struct {
			url     string
			maxRows int
			opts    map[string]string // of the expanded collections
		}{
			{"/Things?$top=10000&$expand=Datastreams($top=10000;$expand=Observations($top=10000))", 500, nil},
			{"/Things?$expand=Datastreams/Observations($top=250;$orderby=result desc,phenomenonTime)", 500, map[string]string{"Observations": "$orderby=result desc,phenomenonTime"}},
			{"/Datastreams?$expand=Observations($top=10000;$skip=20;$orderby=phenomenonTime desc),Thing($expand=Locations)", 500, map[string]string{"Observations": "$skip=20&$orderby=phenomenonTime desc"}},
			{"/Observations?$top=10000&$expand=Datastream($expand=Thing)", 500, nil},
			// the budget is spent before the Datastreams of each Thing: empty, with a nextLink to all
			{"/Things?$expand=Locations,Datastreams($skip=1)", 2, map[string]string{"Datastreams": "$skip=1"}},
		} {
			url, maxRows := tt.url, tt.maxRows
			n.st.MaxRows = int64(maxRows)
			n.opts = tt.opts
			pages := 0
			got := n.walk(t, url, maxRows, &pages)
			set, _, _ := strings.Cut(strings.TrimPrefix(url, "/"), "?")
			if want := n.ids(t, "/"+set+"?$top=10000"); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("%s: paged %v, want %v", url, got, want)
			}
			if pages < 2 {
				t.Fatalf("%s: %d page, want the budget to cut it", url, pages)
			}
			t.Logf("%s: %s: %d pages", store, url, pages)
		}
		// the last case: nothing of the Datastreams fits, so they come empty with a nextLink
		// to the whole collection (its $skip kept, no $skiptoken)
		_, body := n.get("GET", "/Things?$expand=Locations,Datastreams($skip=1)", "")
		thing := decode(t, body)["value"].([]any)[0].(map[string]any)
		next, _ := thing["Datastreams@iot.nextLink"].(string)
		if ds, ok := thing["Datastreams"].([]any); !ok || len(ds) != 0 || !strings.HasSuffix(next, "/Things(1)/Datastreams?%24skip=1&%24top=100") {
			t.Fatalf("Things(1): Datastreams %v, nextLink %q; want none, with a nextLink to all of them", thing["Datastreams"], next)
		}
	})
}

// TestHostileRequest: issue 15's request, on both stores, answers at once (200, within the
// budget, cut with nextLinks) instead of growing without bound; a page its nextLink leads to
// answers likewise.
func TestHostileRequest(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		const maxRows = 3000
		n := newHostileNode(t, store, 2, 2, 400, func(s *sensorthings.Server) { s.MaxRows = maxRows })
		url := hostile
		for page := 0; page < 2; page++ {
			start := time.Now()
			status, body := n.get("GET", url, "")
			took := time.Since(start)
			if status != 200 {
				t.Fatalf("%s: %d %.300s", url, status, body)
			}
			m := decode(t, body)
			if c := entities(m); c > maxRows || (page == 0 && c < maxRows/2) {
				t.Fatalf("%d entities, want at most the budget of %d (and most of it used)", c, maxRows)
			}
			if took > 20*time.Second {
				t.Fatalf("took %v", took)
			}
			if page == 0 && !strings.Contains(body, `"Observations@iot.nextLink"`) {
				t.Fatalf("no expanded collection was cut with a nextLink: %.300s", body)
			}
			t.Logf("%s: page %d: %d entities, %d bytes, %v", store, page, entities(m), len(body), took)
			if page == 1 {
				break
			}
			// follow the first nextLink (it lists the rest of the collection with the same $expand)
			next := regexp.MustCompile(`"[A-Za-z]*@iot.nextLink":"([^"]*)"`).FindStringSubmatch(body)
			url = strings.ReplaceAll(strings.TrimPrefix(next[1], n.srv.URL+"/v1.1"), `\u0026`, "&")
		}
	})
}

// TestResponseBudgetTooLarge: an answer of which not even the first entity fits in the
// budget (with the to-one entities its $expand asks for, which cannot be paged) is a 413
// naming the limit, for entities and for bytes, in a list, for one entity, and for the parts
// of a $batch, which share one budget.
func TestResponseBudgetTooLarge(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newHostileNode(t, store, 1, 2, 300, nil)
		tests := []struct {
			rows, bytes int64
			url         string
			status      int
			msg         string
		}{
			{2, 0, "/Observations?$expand=Datastream($expand=Thing)", 413, "over the limit of 2 entities in one response (max_response_rows)"},
			{2, 0, "/Observations(1)?$expand=Datastream($expand=Thing)", 413, "over the limit of 2 entities in one response (max_response_rows)"},
			{3, 0, "/Observations?$expand=Datastream($expand=Thing)", 200, ""},
			{0, 100, "/Things(1)", 413, "over the limit of 100 bytes in one response (max_response_bytes)"},
			{0, 100, "/Things", 413, "over the limit of 100 bytes in one response (max_response_bytes)"},
			{0, 1000, "/Observations", 200, ""}, // as many as fit, and a nextLink
		}
		for _, tt := range tests {
			n.st.MaxRows, n.st.MaxBytes = tt.rows, tt.bytes
			status, body := n.get("GET", tt.url, "")
			if status != tt.status || !strings.Contains(body, tt.msg) {
				t.Fatalf("rows %d, bytes %d: %s: %d %.300s; want %d %q", tt.rows, tt.bytes, tt.url, status, body, tt.status, tt.msg)
			}
			if status == 200 && !strings.Contains(body, `"@iot.nextLink"`) {
				t.Fatalf("rows %d, bytes %d: %s: not cut: %.300s", tt.rows, tt.bytes, tt.url, body)
			}
		}

		// a $batch: the parts share one budget of 500 entities
		n.st.MaxRows, n.st.MaxBytes = 500, 0
		batch := `{"requests":[
 {"id":"a","method":"get","url":"Datastreams(1)/Observations?$top=300"},
 {"id":"b","method":"get","url":"Datastreams(2)/Observations?$top=300"},
 {"id":"c","method":"get","url":"Observations(1)?$expand=Datastream"}]}`
		req, _ := http.NewRequest("POST", n.srv.URL+"/v1.1/$batch", strings.NewReader(batch))
		req.Header.Set("Authorization", "Bearer "+n.admin)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Prefer", "odata.continue-on-error")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			Responses []struct {
				ID     string         `json:"id"`
				Status int            `json:"status"`
				Body   map[string]any `json:"body"`
			} `json:"responses"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || len(out.Responses) != 3 {
			t.Fatalf("$batch: %v %+v", err, out)
		}
		a, b, c := out.Responses[0], out.Responses[1], out.Responses[2]
		if a.Status != 200 || len(a.Body["value"].([]any)) != 300 {
			t.Fatalf("a: %d, %d entities; want all 300", a.Status, entities(a.Body))
		}
		if b.Status != 200 || len(b.Body["value"].([]any)) != 200 || b.Body["@iot.nextLink"] == nil {
			t.Fatalf("b: %d, %d entities; want the 200 left in the budget, and a nextLink", b.Status, entities(b.Body))
		}
		if c.Status != 413 || !strings.Contains(fmt.Sprint(c.Body["message"]), "limit of 500 entities in one response (max_response_rows)") {
			t.Fatalf("c: %d %v; want 413 naming the limit", c.Status, c.Body)
		}
	})
}

// slowFilter makes a query that runs for long on a few thousand Observations of one
// Datastream: for each Observation, every Observation of its Datastream is compared (all
// results are positive, so no product is below 0 and the EXISTS never stops early). The
// condition joins the inner Observation to the outer one, so no planner can evaluate it once
// for all (PostgreSQL did that with "o/result lt -1 and …", which finished in 13 ms at 8,000
// once the table had statistics). One SQL statement.
const slowFilter = "Datastream/Observations/any(o: o/result mul result lt 0)"

// watched is the real store, with the end of every List told on done.
type watched struct {
	sensorthings.Store
	done chan error
}

func (w *watched) List(ctx context.Context, q *sensing.Query) (*sensing.Page, error) {
	p, err := w.Store.List(ctx, q)
	w.done <- err
	return p, err
}

// hostileApp is the application_name of the connections of an hnode's PostgreSQL store.
const hostileApp = "rabta_hnode_test"

// activeQueries returns how many statements the connections of an hnode run in the PostgreSQL
// of the tests (the tests of this package run one after the other).
func activeQueries(t *testing.T) int {
	t.Helper()
	c, err := pgx.Connect(context.Background(), storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	var n int
	if err := c.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND application_name = $1", hostileApp).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReadStops: on both stores, a read stops when its context ends — in the store (the
// running statement is interrupted: List returns at once, and PostgreSQL runs it no more),
// when the client goes away (the store's List returns within a second, the request is logged
// as abandoned), and at the read's deadline (503 naming the limit).
func TestReadStops(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		var logs syncBuffer
		w := &watched{done: make(chan error, 1)}
		n := newHostileNode(t, store, 1, 1, 8000, func(s *sensorthings.Server) {
			w.Store = s.Store
			s.Store = w
			s.Log = slog.New(slog.NewJSONHandler(&logs, nil))
		})
		opts, err := odata.ParseOptions(url.Values{"$filter": {slowFilter}, "$count": {"true"}})
		if err != nil {
			t.Fatal(err)
		}
		list := func(ctx context.Context) (time.Duration, error) {
			start := time.Now()
			_, err := n.ents.List(ctx, &sensing.Query{Set: sensing.Observations, Opts: opts, Top: 1})
			return time.Since(start), err
		}
		stopped := func() {
			t.Helper()
			if store != "postgres" {
				return
			}
			deadline := time.Now().Add(2 * time.Second)
			for activeQueries(t) > 0 {
				if time.Now().After(deadline) {
					t.Fatal("PostgreSQL still runs the query 2 s after its context ended")
				}
				time.Sleep(50 * time.Millisecond)
			}
		}

		// the store: it runs for longer than 1.5 s, and stops at a deadline of 1.5 s
		began := time.Now() // before the deadline is set: the deadline is 1.5 s from here
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		_, err = list(ctx)
		took := time.Since(began)
		cancel()
		if err == nil || took < 1500*time.Millisecond || took > 4*time.Second {
			t.Fatalf("List with a deadline of 1.5 s: %v after %v; want it cut at the deadline", err, took)
		}
		stopped()
		// cancelled after 300 ms, it stops at once
		ctx, cancel = context.WithCancel(context.Background())
		type result struct {
			took time.Duration
			err  error
		}
		res := make(chan result, 1)
		go func() {
			took, err := list(ctx)
			res <- result{took, err}
		}()
		time.Sleep(300 * time.Millisecond)
		if store == "postgres" { // the check stopped() makes can see it (wait for it to start on a loaded machine)
			for deadline := time.Now().Add(10 * time.Second); activeQueries(t) == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("PostgreSQL shows no statement of the store running")
				}
			}
		}
		cancelled := time.Now()
		cancel()
		if r := <-res; r.err == nil || time.Since(cancelled) > time.Second {
			t.Fatalf("List cancelled: %v, returned %v after the cancel (%v in all)", r.err, time.Since(cancelled), r.took)
		}
		stopped()

		// over HTTP: the client goes away after 300 ms
		path := "/v1.1/Observations?$count=true&$top=1&$filter=" + url.QueryEscape(slowFilter)
		ctx, cancel = context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", n.srv.URL+path, nil)
		time.AfterFunc(300*time.Millisecond, cancel)
		start := time.Now()
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("the request was answered (%d) before the client went away", resp.StatusCode)
		}
		select {
		case err := <-w.done:
			if err == nil {
				t.Fatal("List ended without an error")
			}
		case <-time.After(3 * time.Second):
			t.Fatal("the store's List still runs 2.7 s after the client went away")
		}
		t.Logf("%s: List stopped %v after the request began", store, time.Since(start).Round(time.Millisecond))
		stopped()
		if !waitFor(func() bool {
			return strings.Contains(logs.String(), `"msg":"request_abandoned"`) && strings.Contains(logs.String(), `"status":499`)
		}) {
			t.Fatalf("not logged as abandoned: %s", logs.String())
		}

		// the read's deadline: 503 naming the limit
		n.st.Timeout = 500 * time.Millisecond
		start = time.Now()
		status, body := n.get("GET", strings.TrimPrefix(path, "/v1.1"), "")
		if took := time.Since(start); status != 503 || !strings.Contains(body, "ran over the time limit of 500ms for a read (query_timeout)") || took > 1500*time.Millisecond {
			t.Fatalf("with a time limit of 500ms: %d after %v: %.300s", status, took, body)
		}
		<-w.done
		stopped()
	})
}

// waitFor polls cond for up to 2 s.
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestTopCapEveryLevel: on both stores, a $top over max_top gives max_top entities and a
// nextLink with that page size, at the top and inside $expand alike.
func TestTopCapEveryLevel(t *testing.T) {
	onBothStores(t, func(t *testing.T, store string) {
		n := newHostileNode(t, store, 1, 1, 300, func(s *sensorthings.Server) { s.MaxTop = 100 })
		for _, tt := range []struct{ url, key string }{
			{"/Observations?$top=5000", ""},
			{"/Datastreams(1)?$expand=Observations($top=5000)", "Observations"},
			{"/Things?$expand=Datastreams($expand=Observations($top=5000))", "Observations"},
		} {
			status, body := n.get("GET", tt.url, "")
			if status != 200 {
				t.Fatalf("%s: %d %.300s", tt.url, status, body)
			}
			m := decode(t, body)
			for m["value"] != nil && tt.key != "" { // down to the entity holding the collection
				m = m["value"].([]any)[0].(map[string]any)
			}
			for tt.key != "" && m[tt.key] == nil {
				m = m["Datastreams"].([]any)[0].(map[string]any)
			}
			list, _ := m[map[bool]string{true: "value", false: tt.key}[tt.key == ""]].([]any)
			next, _ := m[tt.key+"@iot.nextLink"].(string)
			if len(list) != 100 || next == "" {
				t.Fatalf("%s: %d entities, nextLink %q; want 100 and a nextLink", tt.url, len(list), next)
			}
			// the nextLink gives the next 100
			status, body = n.get("GET", strings.TrimPrefix(next, n.srv.URL+"/v1.1"), "")
			page := decode(t, body)
			if got := ids(page); status != 200 || len(got) != 100 || got[0] != int(list[99].(map[string]any)["@iot.id"].(float64))+1 {
				t.Fatalf("%s: its nextLink: %d, ids %v", tt.url, status, got)
			}
		}
	})
}
