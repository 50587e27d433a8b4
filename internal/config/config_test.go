package config

import (
	"strings"
	"testing"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseAndEnv(t *testing.T) {
	c := Default()
	if c.FeedKeep.Hours() != 24 {
		t.Errorf("feed_keep default %v, want 24h", c.FeedKeep)
	}
	if err := c.Parse("rabta.yaml", []byte("node_id: islamabad\nhttp_addr: 0.0.0.0:9000\npublic_read: false\ngap_sweep: 30s\nfeed_keep: 2h\n")); err != nil {
		t.Fatal(err)
	}
	if c.FeedKeep.Hours() != 2 {
		t.Errorf("feed_keep: 2h read as %v", c.FeedKeep)
	}
	env := map[string]string{"RABTA_DATA_DIR": "/var/lib/rabta", "RABTA_PUBLIC_READ": "true", "RABTA_MQTT_ADDR": "", "RABTA_FEED_KEEP": "36h"}
	if err := c.Env(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.NodeID != "islamabad" || c.HTTPAddr != "0.0.0.0:9000" || c.DataDir != "/var/lib/rabta" || !c.PublicRead || c.MQTTAddr != "" || c.GapSweep.Seconds() != 30 || c.FeedKeep.Hours() != 36 {
		t.Errorf("%+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
}

func TestErrors(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"nodeid: x\n", "field nodeid not found"},
		{"node_id: [1, 2]\n", "cannot unmarshal"},
		{"node_id: Islamabad!\n", "node_id"},
		{"http_addr: nowhere\n", "http_addr"},
		{"max_top: 5\ndefault_top: 10\n", "default_top"},
		{"max_response_rows: 9999\n", "max_response_rows 9999: at least max_top (10000)"},
		{"max_response_bytes: 1000\n", "max_response_bytes"},
		{"query_timeout: 10ms\n", "query_timeout"},
		{"log: xml\nlog_level: loud\n", "log_level"},
		{"nats_url: http://x\n", "nats_url"},
		{"mqtt_addr: 1883\n", "mqtt_addr"},
		{"federation_tls_cert: /etc/rabta/nats.pem\n", "federation_tls_cert and federation_tls_key: set both or neither"},
		{"feed_keep: 10s\n", "feed_keep 10s: at least 1m"},
		{"dissemination:\n  ivr: {url: \"ftp://ivr.example\", token_file: t}\n", "dissemination.ivr.url"},
		{"dissemination:\n  ivr: {url: \"https://ivr.example/call\"}\n", "dissemination.ivr.token_file: required"},
		{"voice: {clip: x}\n", "field clip not found"},
	} {
		c := Default()
		err := c.Parse("f.yaml", []byte(tc.yaml))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	c := Default()
	if err := c.Env(func(k string) (string, bool) { return "maybe", k == "RABTA_PUBLIC_READ" }); err == nil {
		t.Error("RABTA_PUBLIC_READ=maybe accepted")
	}
	if err := c.Env(func(k string) (string, bool) { return "a day", k == "RABTA_FEED_KEEP" }); err == nil || !strings.Contains(err.Error(), "RABTA_FEED_KEEP") {
		t.Errorf("RABTA_FEED_KEEP=a day: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("node_id: karachi\nhttp_addr: 127.0.0.1:8080\n"))
	f.Add([]byte("demo: true\ndemo_speed: 3600\n"))
	f.Add([]byte("{"))
	f.Add([]byte("voice: {off: true, clips: /srv/clips}\ndissemination:\n  ivr: {url: https://ivr.example/call, token_file: /t, rate: 5}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		if err := c.Parse("fuzz.yaml", b); err != nil {
			return
		}
		_ = c.Validate() // must not panic
	})
}

// TestLimits: the abuse limits and trusted proxies from the file and the environment, and each
// bad value refused with the setting's name.
func TestLimits(t *testing.T) {
	c := Default()
	if c.AuthFailRate != 1 || c.AuthFailBurst != 20 || c.WriteRate != 1000 || c.WriteBurst != 2000 || c.LimitEntries != 10000 || c.IdempotencyWindow.Hours() != 24 || len(c.TrustedProxies) != 0 {
		t.Errorf("defaults: %+v", c)
	}
	if err := c.Parse("f.yaml", []byte("auth_fail_rate: 0.5\nauth_fail_burst: 5\nwrite_rate: 10\nwrite_burst: 20\ntrusted_proxies: [10.0.0.0/8, \"::1\"]\nidempotency_window: 1h\n")); err != nil {
		t.Fatal(err)
	}
	if !c.PublicAlerts {
		t.Error("public_alerts is not on by default")
	}
	env := map[string]string{"RABTA_PUBLIC_ALERTS": "false", "RABTA_WRITE_RATE": "0", "RABTA_TRUSTED_PROXIES": "192.168.1.1, 172.16.0.0/12", "RABTA_IDEMPOTENCY_WINDOW": "2h"}
	if err := c.Env(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c.PublicAlerts || c.AuthFailRate != 0.5 || c.AuthFailBurst != 5 || c.WriteRate != 0 || c.WriteBurst != 20 || c.IdempotencyWindow.Hours() != 2 ||
		strings.Join(c.TrustedProxies, " ") != "192.168.1.1 172.16.0.0/12" {
		t.Errorf("%+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"trusted_proxies: [example.com]\n", `trusted_proxies "example.com"`},
		{"trusted_proxies: [10.0.0.0/33]\n", `trusted_proxies "10.0.0.0/33"`},
		{"dissemination: {webhook_allow_networks: [127.0.0.0/8, intranet]}\n", `dissemination.webhook_allow_networks[1]: "intranet" is not an IP address`},
		{"auth_fail_rate: -1\n", "auth_fail_rate -1"},
		{"write_rate: .nan\n", "write_rate NaN"},
		{"write_burst: 0\n", "write_burst 0: at least 1"},
		{"limit_entries: 5\n", "limit_entries 5"},
		{"idempotency_window: 1s\n", "idempotency_window 1s"},
		{"max_concurrent_reads: 0\n", "max_concurrent_reads 0: between 1 and 4096"},
	} {
		c := Default()
		err := c.Parse("f.yaml", []byte(tc.yaml))
		if err == nil {
			err = c.Validate()
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	for _, name := range []string{"RABTA_PUBLIC_ALERTS", "RABTA_AUTH_FAIL_RATE", "RABTA_WRITE_RATE", "RABTA_IDEMPOTENCY_WINDOW"} {
		c := Default()
		if err := c.Env(func(k string) (string, bool) { return "lots", k == name }); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=lots: %v", name, err)
		}
	}
}
