package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"
)

const gaugeThing = `{"name":"Khanki Headworks","description":"gauge","properties":{"pdmaName":"Khanki"},
 "Locations":[{"name":"Khanki","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
 "Datastreams":[{"name":"Discharge at Khanki","description":"q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"x"},"Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
  "ObservedProperty":{"name":"Discharge","definition":"d","description":"d"}}]}`

func needMosquitto(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mosquitto_sub"); err != nil {
		t.Fatal("mosquitto_sub not found: install Debian's mosquitto-clients (scripts/test.sh does)")
	}
}

// sub runs mosquitto_sub on topic and returns a channel of received payloads.
func sub(t *testing.T, addr, key, topic string) <-chan string {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("mosquitto_sub", "-h", host, "-p", port, "-u", "test", "-P", key, "-q", "1", "-t", topic, "-W", "60")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ch := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}()
	return ch
}

func pub(addr, key, topic, msg string) ([]byte, error) {
	host, port, _ := net.SplitHostPort(addr)
	return exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", "logger", "-P", key, "-q", "1", "-t", topic, "-m", msg).CombinedOutput()
}

// next returns the next message on ch; with skipRaw, messages that are not Rabta's
// notifications (a create another client published on the same topic) are skipped.
func next(t *testing.T, ch <-chan string, what string, skipRaw ...bool) map[string]any {
	t.Helper()
	for {
		select {
		case s, ok := <-ch:
			if !ok {
				t.Fatalf("%s: subscriber ended", what)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("%s: not JSON: %q", what, s)
			}
			if _, ok := m["@iot.id"]; !ok && len(skipRaw) > 0 {
				continue // the raw create message another client published on the topic
			}
			return m
		case <-time.After(20 * time.Second):
			t.Fatalf("%s: nothing received", what)
		}
	}
}

func TestMQTT(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	dir := t.TempDir()
	p := start(t, dir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	viewer, _, err := rabta(t, "keys", "create", "--data-dir", dir, "--org", "public", "--role", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	viewer = strings.TrimSpace(viewer)
	full := sub(t, p.mqtt, viewer, "v1.1/Datastreams(1)/Observations")
	sel := sub(t, p.mqtt, viewer, "v1.1/Datastreams(1)/Observations?$select=result,phenomenonTime")
	all := sub(t, p.mqtt, viewer, "v1.1/Observations")
	time.Sleep(1500 * time.Millisecond) // let the subscriptions reach the server

	// a logger publishes a bare number to the ingest topic
	if out, err := pub(p.mqtt, adminKey, "rabta/local/ingest/1", "123456"); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	m := next(t, full, "STA topic after ingest")
	if m["result"].(float64) != 123456 || !strings.Contains(m["@iot.selfLink"].(string), "/v1.1/Observations(") {
		t.Errorf("STA notification: %v", m)
	}
	if m := next(t, sel, "$select topic"); len(m) != 2 || m["result"].(float64) != 123456 {
		t.Errorf("$select notification: %v", m)
	}
	if m := next(t, all, "v1.1/Observations"); m["result"].(float64) != 123456 {
		t.Errorf("v1.1/Observations notification: %v", m)
	}
	// a SensorThings client creates an Observation by publishing to the collection's topic
	if out, err := pub(p.mqtt, adminKey, "v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":1001480}`); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	m = next(t, full, "STA topic after MQTT create", true)
	if m["result"].(float64) != 1001480 || m["phenomenonTime"] != "2025-08-27T12:00:00+05:00" {
		t.Errorf("created via MQTT: %v", m)
	}
	// refused: a viewer may not publish, a wrong key may not connect, bad messages are counted
	pub(p.mqtt, viewer, "rabta/local/ingest/1", "1")
	if out, err := pub(p.mqtt, "not-a-key-at-all-0000000000", "rabta/local/ingest/1", "2"); err == nil {
		t.Errorf("publish with a bad key succeeded: %s", out)
	}
	pub(p.mqtt, adminKey, "rabta/local/ingest/1", `{"result":"x","phenomenonTime":"yesterday"}`)
	pub(p.mqtt, adminKey, "rabta/local/ingest/999", `5`)
	deadline := time.Now().Add(10 * time.Second)
	var metrics string
	for time.Now().Before(deadline) {
		_, metrics = p.req("GET", "/metrics", "", "")
		if strings.Contains(metrics, `rabta_ingest_rejected_total{path="mqtt",reason="not_found"} 1`) &&
			strings.Contains(metrics, `rabta_ingest_rejected_total{path="mqtt",reason="invalid"} 1`) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{`rabta_ingest_rejected_total{path="mqtt",reason="not_found"} 1`, `rabta_ingest_rejected_total{path="mqtt",reason="invalid"} 1`,
		`rabta_ingest_observations_total{path="mqtt"} 2`, "rabta_outbox_backlog 0", "rabta_consumer_lag_messages", "rabta_bus_stream_messages", "rabta_http_request_duration_seconds_bucket"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	_, b := p.req("GET", "/v1.1/Datastreams(1)/Observations?$count=true&$top=0", "", "")
	if !strings.Contains(b, `"@iot.count":2`) {
		t.Errorf("observations after MQTT: %s (want exactly the 2 accepted)", b)
	}
	if strings.Contains(p.stderr.String(), adminKey) || strings.Contains(p.stderr.String(), viewer) {
		t.Error("a key was logged in clear")
	}
	p.stop()
}
