package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/node"
)

const adminKey = "node-test-admin-key-0123456789"

// start runs a node on a data directory of its own, every listener on a free loopback port.
func start(t *testing.T, id string) (*node.Node, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	n, err := node.New(t.Context(), node.Options{
		ID: id, DataDir: t.TempDir(),
		HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		AdminKey: adminKey, Registry: reg,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)).With("node", id),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close %s: %v", id, err)
		}
	})
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n, reg
}

func do(t *testing.T, n *node.Node, method, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+n.Addr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric sums a metric's values in reg (-1 when it is not there).
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var sum float64
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
		return sum
	}
	return -1
}

// Two nodes in one process, each with its own data directory, store, embedded NATS with MQTT,
// HTTP listener and metrics registry: each takes in its own observations, publishes them on its
// own bus, and sees only its own data. Nothing is shared through package state.
func TestTwoNodesSideBySide(t *testing.T) {
	nodes := map[string]int{"islamabad": 1, "karachi": 3} // observations each takes in
	type running struct {
		n   *node.Node
		reg *prometheus.Registry
	}
	rs := map[string]running{}
	for id := range nodes {
		n, reg := start(t, id)
		rs[id] = running{n, reg}
		if n.NATSURL() == "" || n.MQTTAddr() == "" {
			t.Fatalf("%s: bus listeners off: nats %q mqtt %q", id, n.NATSURL(), n.MQTTAddr())
		}
	}
	if rs["islamabad"].n.Addr().String() == rs["karachi"].n.Addr().String() {
		t.Fatal("the two nodes share an address")
	}
	for id, count := range nodes {
		n := rs[id].n
		st, b := do(t, n, "POST", "/v1.1/Things", `{"name":"Gauge at `+id+`","description":"gauge",
		 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.0,33.7]}}],
		 "Datastreams":[{"name":"Level at `+id+`","description":"h","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		  "unitOfMeasurement":{"name":"metre","symbol":"m","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
		  "ObservedProperty":{"name":"Water level","definition":"d","description":"d"}}]}`)
		if st != 201 {
			t.Fatalf("%s: create: %d %s", id, st, b)
		}
		for i := range count {
			body := fmt.Sprintf(`{"phenomenonTime":"2025-08-27T0%d:00:00Z","result":%d}`, i, i+1)
			if st, b := do(t, n, "POST", "/v1.1/Datastreams(1)/Observations", body); st != 201 {
				t.Fatalf("%s: observation: %d %s", id, st, b)
			}
		}
	}
	for id, count := range nodes {
		n, reg := rs[id].n, rs[id].reg
		st, b := do(t, n, "GET", "/v1.1/Things?$select=name", "")
		var things struct{ Value []struct{ Name string } }
		json.Unmarshal([]byte(b), &things)
		if st != 200 || len(things.Value) != 1 || things.Value[0].Name != "Gauge at "+id {
			t.Errorf("%s sees things %d %s", id, st, b)
		}
		st, b = do(t, n, "GET", "/v1.1/Observations?$count=true", "")
		var obs struct {
			Count int `json:"@iot.count"`
		}
		json.Unmarshal([]byte(b), &obs)
		if st != 200 || obs.Count != count {
			t.Errorf("%s sees %d observations, want %d: %s", id, obs.Count, count, b)
		}
		if got := metric(t, reg, "rabta_ingest_observations_total"); got != float64(count) {
			t.Errorf("%s counted %v observations in, want %d", id, got, count)
		}
		// each batch went through the node's outbox onto its own bus
		deadline := time.Now().Add(10 * time.Second)
		for metric(t, reg, "rabta_outbox_backlog") != 0 || metric(t, reg, "rabta_bus_stream_messages") != float64(count) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: outbox backlog %v, bus messages %v, want 0 and %d", id,
					metric(t, reg, "rabta_outbox_backlog"), metric(t, reg, "rabta_bus_stream_messages"), count)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
