package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rabta/rabta/internal/store/storetest"
)

// TestFloorHandler: the http-floor server answers what the compare loads send and refuses
// what is not JSON or not one of their requests.
func TestFloorHandler(t *testing.T) {
	srv := httptest.NewServer(floorHandler(nil))
	defer srv.Close()
	do := func(method, path, body string) (int, http.Header, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(b)
	}
	if st, h, _ := do("POST", "/v1.1/Things", `{"name":"x"}`); st != 201 || !strings.HasSuffix(h.Get("Location"), "/v1.1/Things(1)") {
		t.Errorf("POST /Things: %d %q", st, h.Get("Location"))
	}
	if st, _, b := do("GET", "/v1.1/Things(1)/Datastreams", ""); st != 200 || b != `{"value":[{"@iot.id":1}]}` {
		t.Errorf("GET /Things(1)/Datastreams: %d %s", st, b)
	}
	if st, h, _ := do("POST", "/v1.1/Datastreams(1)/Observations", `{"result":1}`); st != 201 || !strings.Contains(h.Get("Location"), "/v1.1/Observations(") {
		t.Errorf("POST /Datastreams(1)/Observations: %d %q", st, h.Get("Location"))
	}
	st, _, b := do("POST", "/v1.1/CreateObservations", `[{"Datastream":{"@iot.id":1},"components":["result"],"dataArray":[[1],[2],[3]]}]`)
	if err := checkCreated(st, []byte(b), 3); err != nil {
		t.Errorf("CreateObservations: %v", err)
	}
	st, _, b = do("GET", "/v1.1/Datastreams(1)/Observations?$top=100", "")
	var page struct{ Value []json.RawMessage }
	if st != 200 || json.Unmarshal([]byte(b), &page) != nil || len(page.Value) != 60 {
		t.Errorf("window: %d, %d values", st, len(page.Value))
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"POST", "/v1.1/Datastreams(1)/Observations", `{"result":`, 400},
		{"POST", "/v1.1/CreateObservations", `{"dataArray":[]}`, 400},
		{"POST", "/v1.1/Sensors", `{}`, 404},
		{"DELETE", "/v1.1/Things(1)", "", 404},
		{"GET", "/v1.1/Sensors", "", 404},
		{"GET", "/v1.1/Things(/Datastreams", "", 404},
		{"GET", "/v1.1/Things(x)/Datastreams", "", 404},
	} {
		if st, _, b := do(c.method, c.path, c.body); st != c.want {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, st, b, c.want)
		}
	}
}

// TestDurableFloor: a durable floor (floor-sqlite, and floor-postgres when PostgreSQL is
// there) commits every Observation it acknowledges, reads windows from its store, and refuses
// a write it cannot decode without storing anything.
func TestDurableFloor(t *testing.T) {
	stores := map[string]string{"sqlite": "sqlite:" + filepath.Join(t.TempDir(), "floor.db")}
	if os.Getenv("RABTA_TEST_POSTGRES") != "" || os.Getenv("CI") != "" {
		stores["postgres"] = "postgres:" + storetest.PostgresSchema(t)
	}
	for name, spec := range stores {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			st, err := openFloorStore(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer st.close()
			srv := httptest.NewServer(floorHandler(st))
			defer srv.Close()
			do := func(method, path, body string) (int, string) {
				t.Helper()
				req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			var wg sync.WaitGroup // concurrent writers share group commits
			for i := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					body := fmt.Sprintf(`{"phenomenonTime":"2024-01-01T00:%02d:00Z","result":%d}`, i, i)
					if st, b := do("POST", "/v1.1/Datastreams(1)/Observations", body); st != 201 {
						t.Errorf("POST %s: %d %s", body, st, b)
					}
				}()
			}
			wg.Wait()
			st2, b := do("POST", "/v1.1/CreateObservations", `[{"Datastream":{"@iot.id":2},"components":["result","phenomenonTime"],"dataArray":[[7,"2024-01-01T00:10:00Z"],["x","2024-01-01T00:11:00Z"]]}]`)
			if err := checkCreated(st2, []byte(b), 2); err != nil {
				t.Error(err)
			}
			for _, c := range []struct{ path, body string }{
				{"/v1.1/Datastreams(1)/Observations", `{"result":1}`},
				{"/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2024-01-01T00:59:00Z"}`},
				{"/v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"yesterday","result":1}`},
				{"/v1.1/CreateObservations", `[{"Datastream":{"@iot.id":2},"components":["result"],"dataArray":[[1]]}]`},
				{"/v1.1/CreateObservations", `[{"Datastream":{"@iot.id":2},"components":["result","phenomenonTime"],"dataArray":[[1]]}]`},
			} {
				if st, b := do("POST", c.path, c.body); st != 400 {
					t.Errorf("POST %s %s: %d %s, want 400", c.path, c.body, st, b)
				}
			}
			window := func(ds int, from, to string) []float64 {
				t.Helper()
				q := url.Values{"$filter": {"phenomenonTime ge " + from + " and phenomenonTime lt " + to}, "$top": {"100"}}
				st, b := do("GET", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?%s", ds, q.Encode()), "")
				var page struct {
					Value []struct {
						Result any
					}
				}
				if st != 200 || json.Unmarshal([]byte(b), &page) != nil {
					t.Fatalf("window: %d %s", st, b)
				}
				var rs []float64
				for _, v := range page.Value {
					f, _ := v.Result.(float64)
					rs = append(rs, f)
				}
				return rs
			}
			if got := window(1, "2024-01-01T00:02:00Z", "2024-01-01T00:05:00Z"); !slices.Equal(got, []float64{4, 3, 2}) {
				t.Errorf("window of Datastream 1: %v, want [4 3 2] (newest first)", got)
			}
			if got := window(2, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"); len(got) != 2 || got[1] != 7 {
				t.Errorf("window of Datastream 2: %v, want [x 7]", got)
			}
			if st, b := do("GET", "/v1.1/Datastreams(1)/Observations?$filter=result gt 1", ""); st != 400 {
				t.Errorf("another filter: %d %s, want 400", st, b)
			}
			if got := window(1, "2024-01-01T00:00:00Z", "2024-01-01T01:00:00Z"); len(got) != 8 {
				t.Errorf("Datastream 1 has %d observations, want the 8 acknowledged (the refused ones stored nothing)", len(got))
			}
		})
	}
}
