package node_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
)

// syncLog is a log sink that tests can read while the node writes.
type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) { l.mu.Lock(); defer l.mu.Unlock(); return l.b.Write(p) }
func (l *syncLog) String() string              { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

// startWith runs a node with options o over start's defaults (loopback listeners, the admin key).
func startWith(t *testing.T, o node.Options) *node.Node {
	t.Helper()
	o.ID, o.DataDir = "abuse", t.TempDir()
	o.HTTPAddr, o.NATSAddr, o.MQTTAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	o.AdminKey = adminKey
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	n, err := node.New(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	return n
}

// send sends a request with key ("" for none) and headers (name, value, …).
func send(t *testing.T, n *node.Node, method, path, key, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+n.Addr().String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Who reads what, by the two settings: SensorThings data and /metrics follow public_read; the
// CAP feed and CAP documents follow public_alerts (public by default, whatever public_read
// says: they are warnings, and the messages sent to people link to them). Closed, each answers
// 401 without a key and 200 (or the document's own 404) with a key; the feed's Cache-Control
// lets shared caches keep it only when it is public. The public alert page follows
// public_alerts too.
func TestPublicReadSetting(t *testing.T) {
	for _, c := range []struct{ read, alerts bool }{{true, true}, {false, true}, {false, false}, {true, false}} {
		t.Run(fmt.Sprintf("public_read=%v,public_alerts=%v", c.read, c.alerts), func(t *testing.T) {
			n := startWith(t, node.Options{PublicRead: c.read, PrivateAlerts: !c.alerts})
			for _, p := range []struct {
				path   string
				open   bool // public under these settings
				status int  // the answer when it may be read
			}{
				{"/cap/alerts.atom", c.alerts, 200},
				{"/cap/alerts/urn:oid:2.49.0.1.586.0.nothing.xml", c.alerts, 404},
				{"/metrics", c.read, 200},
				{"/v1.1/Things", c.read, 200},
			} {
				want := p.status
				if !p.open {
					want = 401
				}
				resp, b := send(t, n, "GET", p.path, "", "")
				if resp.StatusCode != want {
					t.Errorf("anonymous GET %s: %d %.200s, want %d", p.path, resp.StatusCode, b, want)
				}
				if want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("anonymous GET %s: 401 without WWW-Authenticate", p.path)
				}
				resp, b = send(t, n, "GET", p.path, adminKey, "")
				if resp.StatusCode != p.status {
					t.Errorf("GET %s with a key: %d %.200s, want %d", p.path, resp.StatusCode, b, p.status)
				}
				if p.path == "/cap/alerts.atom" {
					cc := resp.Header.Get("Cache-Control")
					if c.alerts != strings.HasPrefix(cc, "public") || !c.alerts && !strings.HasPrefix(cc, "private") {
						t.Errorf("feed Cache-Control %q with public_alerts=%v", cc, c.alerts)
					}
				}
			}
			// the public alert page (docs/public.md): at / for anyone when alerts are public,
			// whatever public_read says; none when they are private, where / leads to /v1.1/
			resp, b := send(t, n, "GET", "/?lang=ur", "", "")
			if !c.alerts {
				if resp.Request.URL.Path != "/v1.1/" {
					t.Errorf("private alerts: GET / ended at %s, want /v1.1/", resp.Request.URL.Path)
				}
				return
			}
			if resp.StatusCode != 200 || !strings.Contains(b, `<html lang="ur" dir="rtl">`) || !strings.Contains(b, "اس وقت کوئی انتباہ جاری نہیں۔") {
				t.Errorf("GET /?lang=ur: %d %.300s", resp.StatusCode, b)
			}
			for _, r := range []struct {
				method, path string
				status       int
				want         string
			}{
				{"GET", "/?lat=95&lon=0", 400, "lat from -90 to 90"},
				{"GET", "/alerts/1", 404, "No such warning"},
				{"POST", "/", 405, "the public alert page answers GET and HEAD"},
			} {
				if resp, b := send(t, n, r.method, r.path, "", ""); resp.StatusCode != r.status || !strings.Contains(b, r.want) {
					t.Errorf("%s %s: %d %.300s, want %d with %q", r.method, r.path, resp.StatusCode, b, r.status, r.want)
				}
			}
			if resp, _ := send(t, n, "GET", "/", "", "", "Accept-Encoding", "gzip"); resp.Header.Get("Content-Encoding") != "gzip" && !resp.Uncompressed {
				t.Errorf("GET / with Accept-Encoding gzip: not compressed")
			}
		})
	}
}

// Links never carry a Host or X-Forwarded-* a client made up: without a public URL they carry
// the address the connection reached; with trusted proxies, what the proxy forwarded; with a
// public URL, that. Every place that builds an absolute URL from a request is checked: the
// service root's entity set urls and MQTT endpoint, @iot.selfLink, @iot.nextLink, the
// Datastream navigation links, the CAP feed's id and links.
func TestForgedHost(t *testing.T) {
	forged := []string{"Host", "evil.example", "X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https", "Forwarded", "host=evil.example"}
	for _, c := range []struct {
		name    string
		opts    node.Options
		header  []string
		want    func(n *node.Node) string // the base every link must start with
		wantNot string
	}{
		{"untrusted", node.Options{}, forged,
			func(n *node.Node) string { return "http://" + n.Addr().String() + "/" }, "evil.example"},
		{"untrusted proxy headers from a trusted-proxy node's non-proxy", node.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}, forged,
			func(n *node.Node) string { return "http://" + n.Addr().String() + "/" }, "evil.example"},
		{"trusted proxy", node.Options{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			[]string{"Host", "evil.example", "X-Forwarded-Host", "warn.example.pk", "X-Forwarded-Proto", "https"},
			func(*node.Node) string { return "https://warn.example.pk/" }, "evil.example"},
		{"public url", node.Options{PublicURL: "https://alerts.example.pk"}, forged,
			func(*node.Node) string { return "https://alerts.example.pk/" }, "evil.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.PublicRead = true
			n := startWith(t, c.opts)
			for _, name := range []string{"a", "b"} {
				if code, b := do(t, n, "POST", "/v1.1/Things", `{"name":"`+name+`","description":"t","Datastreams":[{"name":"d`+name+`","description":"d","unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},"observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","ObservedProperty":{"name":"level","definition":"l","description":"l"},"Sensor":{"name":"s","encodingType":"text/html","metadata":"m","description":"s"}}]}`); code != 201 {
					t.Fatalf("POST Thing: %d %s", code, b)
				}
			}
			want := c.want(n)
			var links []string
			collect := func(path string, keys ...string) {
				t.Helper()
				resp, b := send(t, n, "GET", path, "", "", c.header...)
				if resp.StatusCode != 200 {
					t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
				}
				if strings.Contains(b, c.wantNot) {
					t.Errorf("GET %s: the answer has %q: %.400s", path, c.wantNot, b)
				}
				for _, k := range keys {
					for _, m := range strings.Split(b, `"`+k+`":`)[1:] {
						v := strings.SplitN(strings.TrimLeft(m, " [\""), `"`, 2)[0]
						links = append(links, k+" "+v)
					}
				}
				if path == "/cap/alerts.atom" {
					for _, m := range strings.Split(b, "<id>")[1:] {
						links = append(links, "feed id "+strings.SplitN(m, "<", 2)[0])
					}
					for _, m := range strings.Split(b, `href="`)[1:] {
						links = append(links, "feed href "+strings.SplitN(m, `"`, 2)[0])
					}
				}
			}
			collect("/v1.1", "url", "endpoints")
			collect("/v1.1/Things?$top=1", "@iot.selfLink", "@iot.nextLink", "Datastreams@iot.navigationLink")
			collect("/cap/alerts.atom")
			kinds := map[string]bool{}
			for _, l := range links {
				k, v, _ := strings.Cut(l, " ")
				if strings.HasPrefix(l, "feed") {
					k, v, _ = strings.Cut(v, " ")
					k = "feed " + k
				}
				kinds[k] = true
				if k == "endpoints" {
					host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(want, "https://"), "http://"), ""), "/")
					if h, _, ok := strings.Cut(host, ":"); ok {
						host = h
					}
					if !strings.HasPrefix(v, "mqtt://"+host+":") {
						t.Errorf("MQTT endpoint %s, want mqtt://%s:<port>", v, host)
					}
					continue
				}
				if !strings.HasPrefix(v, want) {
					t.Errorf("%s %s does not start with %s", k, v, want)
				}
			}
			for _, k := range []string{"url", "endpoints", "@iot.selfLink", "@iot.nextLink", "Datastreams@iot.navigationLink", "feed id", "feed href"} {
				if !kinds[k] {
					t.Errorf("no %s link was seen: the check did not run (%v)", k, links)
				}
			}
		})
	}
}

// A source that fails to authenticate more than the limit is refused with 429, Retry-After and
// a message naming the limit — even with the right key, over HTTP and on the NATS port — and
// each failure is logged with the key's public prefix and the address, never the key. Another
// source (through a trusted proxy) is not affected. Writes over the per-key limit get 429
// too, reads by the same key do not.
func TestAbuseLimits(t *testing.T) {
	log := &syncLog{}
	reg := prometheus.NewRegistry()
	n := startWith(t, node.Options{PublicRead: true, Registry: reg, Log: slog.New(slog.NewJSONHandler(log, nil)),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Limits:         &auth.Limits{FailRate: 0.001, FailBurst: 3, WriteRate: 0.001, WriteBurst: 2, Entries: 100}})
	wrong := "rbt_0badc0de_" + strings.Repeat("x", 43)
	from := func(ip string) []string { return []string{"X-Forwarded-For", ip} }
	for i := range 3 {
		if resp, b := send(t, n, "GET", "/v1.1/Things", wrong, "", from("203.0.113.7")...); resp.StatusCode != 401 {
			t.Fatalf("wrong key %d: %d %s, want 401", i+1, resp.StatusCode, b)
		}
	}
	for _, key := range []string{wrong, adminKey} {
		resp, b := send(t, n, "GET", "/v1.1/Things", key, "", from("203.0.113.7")...)
		ra, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != 429 || err != nil || ra < 1 || !strings.Contains(b, "over the limit of 0.001 a second after 3") {
			t.Errorf("over the limit (key %.8s…): %d Retry-After %q %s", key, resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
	}
	if resp, b := send(t, n, "GET", "/v1.1/Things", adminKey, "", from("203.0.113.8")...); resp.StatusCode != 200 {
		t.Errorf("another source: %d %s", resp.StatusCode, b)
	}
	logs := log.String()
	if c := strings.Count(logs, `"msg":"auth_failed","component":"auth","key_prefix":"0badc0de","remote":"203.0.113.7:0"`); c != 3 {
		t.Errorf("%d auth_failed lines with the prefix and the address, want 3:\n%s", c, logs)
	}
	if !strings.Contains(logs, `"auth_limit_reached"`) {
		t.Error("no auth_limit_reached line")
	}
	if strings.Contains(logs, wrong[13:]) || strings.Contains(logs, adminKey) {
		t.Error("a key is in the log")
	}

	// the NATS port: the loopback source fails three times, then even the right key is refused
	for range 3 {
		if nc, err := nats.Connect(n.NATSURL(), nats.Token(wrong), nats.NoReconnect()); err == nil {
			nc.Close()
			t.Fatal("NATS accepted a wrong key")
		}
	}
	if nc, err := nats.Connect(n.NATSURL(), nats.Token(adminKey), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Error("NATS accepted a CONNECT from a source over the limit")
	}
	if resp, b := send(t, n, "GET", "/v1.1/Things", adminKey, ""); resp.StatusCode != 429 {
		t.Errorf("HTTP from the loopback source limited on NATS: %d %s", resp.StatusCode, b)
	}
	// and the MQTT port: the right key's CONNECT is refused too
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not found: install mosquitto-clients (scripts/test.sh does)")
	}
	limitedLines := func() int { return strings.Count(log.String(), "too many failed authentications from this address") }
	before := limitedLines()
	host, port, _ := net.SplitHostPort(n.MQTTAddr())
	out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-u", "x", "-P", adminKey, "-q", "1", "-t", "rabta/abuse/ingest/1", "-m", "1").CombinedOutput()
	if err == nil {
		t.Errorf("MQTT accepted a CONNECT from a source over the limit: %s", out)
	}
	if limitedLines() <= before || !strings.Contains(log.String(), `"msg":"bus_client_refused"`) {
		t.Error("the MQTT CONNECT was not refused by the limit (no bus_client_refused line with its reason)")
	}
	if got := metric(t, reg, "rabta_limited_total"); got < 3 {
		t.Errorf("rabta_limited_total %v, want at least 3", got)
	}

	// writes per key: two, then 429; reads go on
	src := from("198.51.100.1")
	for i := range 2 {
		if resp, b := send(t, n, "POST", "/v1.1/Things", adminKey, `{"name":"w","description":"w"}`, src...); resp.StatusCode != 201 {
			t.Fatalf("write %d: %d %s", i+1, resp.StatusCode, b)
		}
	}
	resp, b := send(t, n, "POST", "/v1.1/Things", adminKey, `{"name":"w","description":"w"}`, src...)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" || !strings.Contains(b, "too many writes with this key: over the limit of 0.001 a second after 2") {
		t.Errorf("third write: %d Retry-After %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
	}
	if resp, b := send(t, n, "GET", "/v1.1/Things?$count=true&$top=0", adminKey, "", src...); resp.StatusCode != 200 || !strings.Contains(b, `"@iot.count":2`) {
		t.Errorf("a read after the write limit: %d %s (want 2 Things: the refused write stored nothing)", resp.StatusCode, b)
	}
}
