package main

import (
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pubLines publishes each line of lines as one message to topic, from one MQTT connection
// (mosquitto_pub -l), at QoS 1.
func pubLines(addr, key, topic string, lines ...string) ([]byte, error) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", "logger", "-P", key, "-q", "1", "-t", topic, "-l")
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	return cmd.CombinedOutput()
}

// metricValue returns the value of the metric line that starts with name (0 when absent).
func metricValue(metrics, name string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(metrics)
	if m == nil {
		return 0
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// A foreign key a client names that does not exist — an Observation's FeatureOfInterest or
// Datastream — is refused alone on every path of a real node, and what came with it is stored
// at once and exactly once: HTTP (a 4xx naming the missing entity), dataArray (an error in that
// row's slot, the other rows created), MQTT with the real mosquitto client (that message
// refused and counted; the valid messages published with it and after it stored within
// seconds, once each, not held back by retries).
func TestMQTTForeignKeys(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	p := start(t, t.TempDir(), []string{"RABTA_ADMIN_KEY=" + adminKey})
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	// HTTP: one Observation
	st, b := p.req("POST", "/v1.1/Observations", adminKey, `{"result":1,"Datastream":{"@iot.id":1},"FeatureOfInterest":{"@iot.id":999}}`)
	if st < 400 || st >= 500 || !strings.Contains(b, "FeaturesOfInterest(999)") {
		t.Errorf("POST with a missing FeatureOfInterest: %d %s, want a 4xx naming FeaturesOfInterest(999)", st, b)
	}
	st, b = p.req("POST", "/v1.1/Observations", adminKey, `{"result":1,"Datastream":{"@iot.id":998}}`)
	if st < 400 || st >= 500 || !strings.Contains(b, "Datastreams(998)") {
		t.Errorf("POST with a missing Datastream: %d %s, want a 4xx naming Datastreams(998)", st, b)
	}
	// dataArray: the row with the missing FeatureOfInterest gets its error, the other row is created
	st, b = p.req("POST", "/v1.1/CreateObservations", adminKey, `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result","FeatureOfInterest/id"],
		"dataArray":[["2025-08-27T12:00:00Z",1001480,999],["2025-08-27T13:00:00Z",1001481,null]]}]`)
	if st != 201 || !strings.Contains(b, "FeaturesOfInterest(999)") || strings.Count(b, "Observations(") != 1 {
		t.Errorf("dataArray with a missing FeatureOfInterest in one row: %d %s", st, b)
	}
	count := func() int {
		_, b := p.req("GET", "/v1.1/Datastreams(1)/Observations?$count=true&$top=0", "", "")
		m := regexp.MustCompile(`"@iot.count":(\d+)`).FindStringSubmatch(b)
		if m == nil {
			t.Fatalf("count: %s", b)
		}
		n, _ := strconv.Atoi(m[1])
		return n
	}
	if n := count(); n != 1 {
		t.Fatalf("%d observations after the HTTP requests, want 1 (the valid dataArray row)", n)
	}

	// MQTT: the refused message first, three valid ones after it, on one connection
	began := time.Now()
	if out, err := pubLines(p.mqtt, adminKey, "v1.1/Observations",
		`{"phenomenonTime":"2025-08-28T00:00:00Z","result":1,"Datastream":{"@iot.id":1},"FeatureOfInterest":{"@iot.id":999}}`,
		`{"phenomenonTime":"2025-08-28T01:00:00Z","result":2,"Datastream":{"@iot.id":1}}`,
		`{"phenomenonTime":"2025-08-28T02:00:00Z","result":3,"Datastream":{"@iot.id":1}}`,
		`{"phenomenonTime":"2025-08-28T03:00:00Z","result":4,"Datastream":{"@iot.id":1}}`,
	); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	// and the other ways of naming what does not exist: the topic, a deep insert
	for _, m := range [][2]string{
		{"v1.1/Datastreams(999)/Observations", `{"phenomenonTime":"2025-08-28T04:00:00Z","result":5}`},
		{"v1.1/FeaturesOfInterest(999)/Observations", `{"phenomenonTime":"2025-08-28T05:00:00Z","result":6,"Datastream":{"@iot.id":1}}`},
		{"rabta/local/ingest/999", `7`},
		{"v1.1/Observations", `{"phenomenonTime":"2025-08-28T06:00:00Z","result":8,"Datastream":{"@iot.id":997},
			"FeatureOfInterest":{"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[74,31]}}}`},
	} {
		if out, err := pubLines(p.mqtt, adminKey, m[0], strings.ReplaceAll(m[1], "\n", " ")); err != nil {
			t.Fatalf("mosquitto_pub: %v %s", err, out)
		}
	}
	if out, err := pubLines(p.mqtt, adminKey, "v1.1/Datastreams(1)/Observations", `{"phenomenonTime":"2025-08-28T07:00:00Z","result":9}`); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	for count() < 5 && time.Since(began) < 10*time.Second {
		time.Sleep(100 * time.Millisecond)
	}
	stored := time.Since(began)
	if n := count(); n != 5 {
		t.Fatalf("%d observations %v after publishing, want 5 (1 by HTTP, 4 valid by MQTT)", n, stored)
	}
	time.Sleep(3 * time.Second) // a retry of a batch would come after 1 s
	if n := count(); n != 5 {
		t.Errorf("%d observations 3 s later, want still 5: stored twice", n)
	}
	_, metrics := p.req("GET", "/metrics", "", "")
	refused := metricValue(metrics, `rabta_ingest_rejected_total{path="mqtt",reason="not_found"}`)
	accepted := metricValue(metrics, `rabta_ingest_observations_total{path="mqtt"}`)
	if refused != 5 || accepted != 4 {
		t.Errorf("MQTT: %v refused (not found), %v accepted; want 5 and 4", refused, accepted)
	}
	if strings.Contains(p.stderr.String(), "mqtt_consumer_failed") {
		t.Errorf("the consumer retried:\n%s", p.stderr)
	}
	t.Logf("the valid MQTT messages were stored %v after publishing", stored.Round(time.Millisecond))
	p.stop()
}
