package node

import (
	"log/slog"
	"strings"
	"testing"
)

// The data link of a remote Datastream (a partner's data received under an agreement) is not
// served to anyone but viewers of the consumer organisation, even when that organisation's
// data is open; the 404 says why: it is remote, not that the organisation has not opened its data.
func TestWIS2RemoteDatastreamNotOpen(t *testing.T) {
	const key = "remote-test-admin-key-0123456789"
	n, err := New(t.Context(), Options{ID: "remote", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", AdminKey: key, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	do := func(method, path, key, body string) (int, string) {
		t.Helper()
		return request(t, n, method, path, key, body)
	}
	if st, b := do("POST", "/v1.1/Things", key, `{"name":"Karachi gauge","description":"a partner's",
		"Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[67,24.9]}}],
		"Datastreams":[{"name":"Level at Karachi","description":"h","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		 "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
		 "ObservedProperty":{"name":"Water level","definition":"d","description":"d"}}]}`); st != 201 {
		t.Fatalf("thing: %d %s", st, b)
	}
	if st, b := do("POST", "/v1.1/Datastreams(1)/Observations", key, `{"phenomenonTime":"2025-08-27T06:00:00Z","result":3.25}`); st != 201 {
		t.Fatalf("observation: %d %s", st, b)
	}
	if err := n.stores.Federation.SaveRemote(t.Context(), "karachi", 1, 7, 1); err != nil {
		t.Fatal(err)
	}
	if st, b := do("POST", "/api/v1/organisations/admin/open", key, ""); st != 200 {
		t.Fatalf("open: %d %s", st, b)
	}
	st, b := do("GET", "/wis2/data/datastreams/1/observations?from=1&to=5", "", "")
	if st != 404 || !strings.Contains(b, "it is a remote Datastream") || strings.Contains(b, "has not opened its data") {
		t.Errorf("a remote Datastream's data link, its organisation open: %d %s, want 404 saying it is remote", st, b)
	}
	if st, b := do("GET", "/wis2/data/datastreams/1/observations?from=1&to=5", key, ""); st != 200 || !strings.Contains(b, "3.25") {
		t.Errorf("to a viewer of the consumer organisation: %d %s", st, b)
	}
}
