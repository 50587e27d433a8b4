package wis2

import (
	"testing"
	"time"
)

// The catalogue's MQTT link names the broker's host and port (a newcomer found the port
// dropped: "mqtt://127.0.0.1" for a broker on 21881), an IPv6 host in brackets.
func TestMQTTHref(t *testing.T) {
	for _, c := range []struct{ base, port, want string }{
		{"http://127.0.0.1:8080", "1883", "mqtt://127.0.0.1:1883"},
		{"https://rabta.example.org", "8883", "mqtt://rabta.example.org:8883"},
		{"https://rabta.example.org/node/", "1883", "mqtt://rabta.example.org:1883"},
		{"http://[::1]:8080", "1883", "mqtt://[::1]:1883"},
		{"http://[2001:db8::1]", "", "mqtt://[2001:db8::1]"},
		{"http://127.0.0.1:8080", "", "mqtt://127.0.0.1"},
	} {
		if got := mqttHref(c.base, c.port); got != c.want {
			t.Errorf("mqttHref(%q, %q) = %q, want %q", c.base, c.port, got, c.want)
		}
	}
}

// A record's updated time moves with its newest observation and with the opening of its
// organisation's data (a newcomer saw it always equal to created).
func TestRecordUpdated(t *testing.T) {
	start := time.Date(2025, 8, 1, 0, 0, 0, 0, time.UTC)
	d := Dataset{Organisation: "pmd", Property: 1, PropertyName: "Discharge", Start: start, End: start.Add(48 * time.Hour)}
	o := Options{Centre: "pk-rabta", Node: "isb", BaseURL: "http://127.0.0.1:8080"}
	if got := o.Record(d, start).Properties["updated"]; got != "2025-08-03T00:00:00Z" {
		t.Errorf("updated: %v, want the newest observation's time", got)
	}
	d.Open, d.Opened = true, start.Add(72*time.Hour)
	if got := o.Record(d, start).Properties["updated"]; got != "2025-08-04T00:00:00Z" {
		t.Errorf("updated after opening: %v, want the opening", got)
	}
}
