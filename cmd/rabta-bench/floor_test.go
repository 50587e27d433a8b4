package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestFloorHandler: the http-floor server answers what the compare loads send and refuses
// what is not JSON or not one of their requests.
func TestFloorHandler(t *testing.T) {
	srv := httptest.NewServer(floorHandler())
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
