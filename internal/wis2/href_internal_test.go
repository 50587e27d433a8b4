package wis2

import "testing"

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
