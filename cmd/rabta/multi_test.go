package main

import (
	"strings"
	"testing"
	"time"
)

// A MultiDatastream over MQTT (SensorThings MQTT extension with 18-088 §9): a client follows
// v1.1/MultiDatastreams(1)/Observations and gets each new Observation of it, whether created
// over HTTP or by publishing to that topic; one with the wrong number of values is refused.
func TestMQTTMultiDatastream(t *testing.T) {
	t.Parallel()
	needMosquitto(t)
	dir := t.TempDir()
	p := start(t, dir, []string{"RABTA_ADMIN_KEY=" + adminKey})
	if st, b := p.req("POST", "/v1.1/Things", adminKey, gaugeThing); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	if st, b := p.req("POST", "/v1.1/MultiDatastreams", adminKey, `{"name":"Khanki readings","description":"discharge and level",
	  "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
	  "unitOfMeasurements":[{"name":"cusec","symbol":"[cft_i]/s","definition":"q"},{"name":"metre","symbol":"m","definition":"m"}],
	  "multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"],
	  "Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},
	  "ObservedProperties":[{"@iot.id":1},{"name":"Gauge level","definition":"l","description":"level"}]}`); st != 201 {
		t.Fatalf("create MultiDatastream: %d %s", st, b)
	}
	multi := sub(t, p.mqtt, adminKey, "v1.1/MultiDatastreams(1)/Observations")
	ds := sub(t, p.mqtt, adminKey, "v1.1/Datastreams(1)/Observations")
	time.Sleep(1500 * time.Millisecond) // let the subscriptions reach the server

	if st, b := p.req("POST", "/v1.1/MultiDatastreams(1)/Observations", adminKey, `{"phenomenonTime":"2025-08-27T12:00:00+05:00","result":[1001480,8.9]}`); st != 201 {
		t.Fatalf("POST an Observation of the MultiDatastream: %d %s", st, b)
	}
	m := next(t, multi, "MultiDatastreams(1)/Observations after an HTTP create")
	if r, _ := m["result"].([]any); len(r) != 2 || r[0].(float64) != 1001480 || !strings.HasSuffix(m["MultiDatastream@iot.navigationLink"].(string), "/MultiDatastream") {
		t.Errorf("notification: %v", m)
	}
	if _, ok := m["Datastream@iot.navigationLink"]; ok {
		t.Errorf("notification of a MultiDatastream's Observation links a Datastream: %v", m)
	}
	// created by publishing to the topic; one value too few is refused and counted
	pub(p.mqtt, adminKey, "v1.1/MultiDatastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T13:00:00+05:00","result":[950000]}`)
	if out, err := pub(p.mqtt, adminKey, "v1.1/MultiDatastreams(1)/Observations", `{"phenomenonTime":"2025-08-27T18:00:00+05:00","result":[950000,8.1]}`); err != nil {
		t.Fatalf("mosquitto_pub: %v %s", err, out)
	}
	m = next(t, multi, "MultiDatastreams(1)/Observations after an MQTT create", true)
	if r, _ := m["result"].([]any); len(r) != 2 || r[1].(float64) != 8.1 || m["phenomenonTime"] != "2025-08-27T18:00:00+05:00" {
		t.Errorf("created via MQTT: %v", m)
	}
	_, b := p.req("GET", "/v1.1/MultiDatastreams(1)/Observations?$count=true&$top=0", "", "")
	if !strings.Contains(b, `"@iot.count":2`) {
		t.Errorf("Observations of the MultiDatastream: %s (want exactly the 2 accepted)", b)
	}
	select {
	case s := <-ds:
		if strings.Contains(s, "@iot.id") {
			t.Errorf("a Datastream's subscriber got a MultiDatastream's Observation: %s", s)
		}
	default:
	}
	p.stop()
}
