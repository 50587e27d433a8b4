package sensorthings_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// A POST to /Datastreams(id)/Observations (or a MultiDatastream's) no longer reads the stream
// before the ingest path does (its existence is checked there, in the transaction): a stream
// that does not exist is still a 404 naming it, whether the body goes through the ingest path
// (a FeatureOfInterest by reference or none) or not (one given inline, a deep insert), and
// nothing is stored; both stores.
func TestPostToMissingStream(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			resp := n.do(t, "POST", "/Things", strings.ReplaceAll(gauge, "Khanki", "Gauge1"), "")
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("seed: %d", resp.StatusCode)
			}
			for _, c := range []struct{ path, body, want string }{
				{"/Datastreams(99)/Observations", `{"phenomenonTime":"2024-01-01T00:00:00Z","result":1}`, "Datastreams(99) does not exist"},
				{"/Datastreams(99)/Observations", `{"result":1,"FeatureOfInterest":{"@iot.id":1}}`, "Datastreams(99) does not exist"},
				{"/Datastreams(99)/Observations", `{"result":1,"FeatureOfInterest":{"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[1,2]}}}`, "Datastreams(99) does not exist"},
				{"/MultiDatastreams(99)/Observations", `{"result":[1]}`, "MultiDatastreams(99) does not exist"},
			} {
				resp := n.do(t, "POST", c.path, c.body, "")
				var b bytes.Buffer
				b.ReadFrom(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusNotFound || !strings.Contains(b.String(), c.want) {
					t.Errorf("POST %s %s: %d %s, want 404 naming %q", c.path, c.body, resp.StatusCode, b.String(), c.want)
				}
			}
			resp = n.do(t, "GET", "/Observations?$count=true&$top=0", "", "")
			var b bytes.Buffer
			b.ReadFrom(resp.Body)
			resp.Body.Close()
			if !strings.Contains(b.String(), `"@iot.count":0`) {
				t.Errorf("after the refused POSTs: %s, want no Observation", b.String())
			}
			// the stream that exists still takes one
			resp = n.do(t, "POST", "/Datastreams(1)/Observations", `{"phenomenonTime":"2024-01-01T00:00:00Z","result":1}`, "")
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				t.Errorf("POST /Datastreams(1)/Observations: %d", resp.StatusCode)
			}
		})
	}
}
