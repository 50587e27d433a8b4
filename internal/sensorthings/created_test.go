package sensorthings_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestCreatedAnswerIsStored: the 201 answer to a single Observation is built from what the
// ingest path wrote, not read back (sensing.Observation.Stored); it must be byte for byte
// what a GET of its Location answers, whatever the Observation holds — a number, a JSON
// result, result and valid time, parameters, resultQuality given or made by QC, a
// FeatureOfInterest given or made from the Thing's Location, a MultiDatastream's.
func TestCreatedAnswerIsStored(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	n.must(201, "POST", "/MultiDatastreams", docExample(t, "multidatastream-create"))
	for _, c := range []struct{ path, body string }{
		{"/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-29T12:00:00+05:00","result":123456.5}`},
		{"/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-29T13:00:00Z","result":-0.001,"resultTime":"2025-08-29T13:05:00.5Z",
			"validTime":"2025-08-29T13:00:00Z/2025-08-30T13:00:00Z","parameters":{"operator":"A","n":[1,2]}}`},
		{"/Datastreams(2)/Observations", `{"phenomenonTime":"2025-08-29T12:00:00Z/2025-08-29T13:00:00Z","result":{"state":"dry"}}`},
		{"/Datastreams(2)/Observations", `{"phenomenonTime":"2025-08-29T14:00:00Z","result":"text"}`},
		{"/Datastreams(2)/Observations", `{"phenomenonTime":"2025-08-29T15:00:00Z","result":-9999}`}, // QC: out of range
		{"/Observations", `{"phenomenonTime":"2025-08-29T16:00:00Z","result":5,"resultQuality":{"note":"given"},"Datastream":{"@iot.id":2},"FeatureOfInterest":{"@iot.id":1}}`},
		{"/MultiDatastreams(1)/Observations", `{"phenomenonTime":"2025-08-29T12:00:00Z","result":[600000,null]}`},
		{"/Datastreams(1)/Observations", `{"result":7}`}, // phenomenonTime: the server's clock
	} {
		req, _ := http.NewRequest("POST", n.srv.URL+"/v1.1"+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+n.admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 201 || loc == "" {
			t.Fatalf("POST %s %s: %d %q %s", c.path, c.body, resp.StatusCode, loc, b)
		}
		st, got := n.do("GET", strings.TrimPrefix(loc, n.srv.URL+"/v1.1"), "")
		if st != 200 || got != string(b) {
			t.Errorf("POST %s %s answered\n%s\nGET %s answers\n%s", c.path, c.body, b, loc, got)
		}
	}
}
