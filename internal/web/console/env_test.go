package console_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/store/storetest"
)

const adminKey = "console-test-admin-key-0123456789"

// testPlaces are four districts around the test gauge with rough hand-drawn outlines (the
// embedded set, place.Load, takes 12 s to parse under -race): the console draws their
// boundaries.
var testPlaces = sync.OnceValues(func() ([]place.Place, error) {
	var out []place.Place
	for _, d := range []struct {
		name     string
		lat, lon float64
		pop      int64
		wkt      string
	}{
		{"Sialkot", 32.49, 74.53, 4499394, "MULTIPOLYGON(((74.2 32.3,74.9 32.3,74.9 32.75,74.6 32.85,74.2 32.6,74.2 32.3)))"},
		{"Gujranwala", 32.16, 74.19, 5959750, "MULTIPOLYGON(((73.7 31.9,74.4 31.8,74.5 32.3,74.2 32.5,73.8 32.4,73.7 31.9)))"},
		{"Narowal", 32.10, 74.87, 1950954, "MULTIPOLYGON(((74.5 31.95,75.3 31.95,75.4 32.3,74.9 32.4,74.5 32.3,74.5 31.95)))"},
		{"Lahore", 31.55, 74.34, 13004135, "MULTIPOLYGON(((74.0 31.3,74.6 31.2,74.65 31.7,74.3 31.75,74.0 31.6,74.0 31.3)))"},
	} {
		g, err := geom.UnmarshalWKT(d.wkt)
		if err != nil {
			return nil, err
		}
		mp := g.MustAsMultiPolygon()
		out = append(out, place.Place{Key: "district:" + d.name, Kind: place.District, Name: d.name, Country: "PK", Province: "Punjab",
			Lat: d.lat, Lon: d.lon, Population: d.pop, Languages: []string{"pnb", "ur"}, Source: "console test (rough outline)", Boundary: &mp})
	}
	return out, nil
})

// env is a running node with four eyes on, one gauge (Datastream 1, at Khanki) read by a
// threshold rule with levels Low 100 and High 200 written by the bootstrap admin, eight
// hourly readings rising to 250 (the sixth, 300, a jump QC flags suspect) posted by it, so a
// draft waits that the admin may not approve; keys of each role of organisation "admin"
// (the node's), and a forecast Datastream (2) for the gauge with two issues, read by a Health
// advisory rule for clinics that never fires (so Datastream 2 is a gauge of a rule that the map
// must leave off: it is a forecast).
type env struct {
	t    *testing.T
	n    *node.Node
	base string
	keys map[string]string // clear keys by role name; "admin" is the bootstrap key
	ids  map[string]int64
	// districts is how many districts the node has (4; every one with -console.figures)
	districts int
	// dataDir and dsn are where the node keeps its store (SQLite: dataDir/rabta.db; PostgreSQL:
	// dsn, "" on SQLite), for a test that alters it behind the node's back
	dataDir, dsn string
}

const gaugeThing = `{"name":"Chenab at Khanki","description":"gauge",
 "Locations":[{"name":"Khanki","description":"gauge site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
 "Datastreams":[{"name":"Discharge at Khanki","description":"discharge","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
  "unitOfMeasurement":{"name":"cusec","symbol":"cusec","definition":"x"},"properties":{"qc":{"maxRatePerHour":100}},
  "Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
  "ObservedProperty":{"name":"Discharge","definition":"d","description":"d"}}]}`

const forecastDS = `{"name":"Chenab at Khanki discharge forecast","description":"forecast",
 "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
 "unitOfMeasurement":{"name":"cusec","symbol":"cusec","definition":"x"},
 "properties":{"forecast":true,"forecastInput":1,"qc":{"maxRatePerHour":null,"spike":null,"flatLineCount":0,"flatLineDuration":null,"expectedInterval":null}},
 "Thing":{"@iot.id":1},"ObservedProperty":{"@iot.id":1},"Sensor":{"name":"model","description":"m","encodingType":"text/html","metadata":"x"}}`

const testRules = `rules:
  - id: khanki
    name: Chenab at Khanki
    kind: threshold
    datastreams: [1]
    levels:
      - {name: Low, value: 100, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
      - {name: High, value: 200, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    status: Actual
    templates:
      en: {headline: "{{.Level}} flood warning: {{.Station}}", description: "{{.Quantity}} at {{.ObservedAt}}.", instruction: "Move to higher ground."}
      ur: {headline: "{{.Station}}: {{.Level}} درجے کا سیلاب", description: "{{.ObservedAt}} پر {{.Quantity}}۔", instruction: "اونچی جگہ پر چلے جائیں۔"}
  - id: khanki-clinics
    name: Water-borne disease advisory near Khanki
    kind: threshold
    datastreams: [2]
    category: Health
    audiences: [clinics]
    levels:
      - {name: Outbreak risk, value: 100000, severity: Moderate, urgency: Expected, certainty: Likely, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    status: Exercise
`

// readings are the gauge's values, hourly, the last an hour before the test starts.
var readings = []float64{50, 60, 80, 110, 140, 300, 260, 250}

func startEnv(t *testing.T, engine string, limits *auth.Limits) *env {
	t.Helper()
	ps, err := testPlaces()
	if err != nil {
		t.Fatal(err)
	}
	nd := len(ps)
	if *figures { // every district and the demo's 22,000 synthetic villages, for the map's frame time
		all, err := place.Load()
		if err != nil {
			t.Fatal(err)
		}
		vs, err := place.Villages(all, place.VillageOptions{Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		nd = 0
		for _, p := range all {
			if p.Kind == place.District && p.Boundary != nil {
				nd++
			}
		}
		ps = append(all, vs...)
	}
	dsn := ""
	if engine == "postgres" {
		dsn = storetest.PostgresSchema(t)
	}
	dataDir := t.TempDir()
	n, err := node.New(t.Context(), node.Options{ID: "console", DataDir: dataDir, DB: dsn, HTTPAddr: "127.0.0.1:0",
		AdminKey: adminKey, FourEyes: true, TickEvery: 100 * time.Millisecond, Places: ps, Limits: limits,
		Log: slog.New(slog.NewTextHandler(testLog(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, n: n, base: "http://" + n.Addr().String(), keys: map[string]string{"admin": adminKey}, ids: map[string]int64{}, districts: nd,
		dataDir: dataDir, dsn: dsn}
	for _, role := range []string{"viewer", "operator", "approver"} {
		st, b := e.api("POST", "/api/v1/keys", "admin", fmt.Sprintf(`{"organisation":"admin","role":%q,"name":"console %s"}`, role, role))
		if st != 201 {
			t.Fatalf("key %s: %d %s", role, st, b)
		}
		var k struct {
			ID  int64  `json:"id"`
			Key string `json:"key"`
		}
		json.Unmarshal([]byte(b), &k)
		e.keys[role], e.ids[role] = k.Key, k.ID
	}
	e.must(201, "POST", "/v1.1/Things", gaugeThing)
	e.must(201, "POST", "/v1.1/Datastreams", forecastDS)
	e.must(200, "PUT", "/api/v1/rules", testRules)
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-time.Duration(len(readings)) * time.Hour)
	for i, v := range readings {
		e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"result":%g,"Datastream":{"@iot.id":1}}`, t0.Add(time.Duration(i)*time.Hour).Format(time.RFC3339), v))
	}
	for issue, off := range []float64{0, 20} { // the second issue, later, is 20 higher
		issued := t0.Add(time.Duration(len(readings)-2+issue) * time.Hour)
		for h := 1; h <= 6; h++ {
			at := t0.Add(time.Duration(len(readings)-1+h) * time.Hour)
			v := 250 + 10*float64(h) + off
			e.must(201, "POST", "/v1.1/Observations", fmt.Sprintf(`{"phenomenonTime":%q,"resultTime":%q,"result":%g,"parameters":{"issued":%q,"leadTimeHours":%d,"lower":%g,"upper":%g},"Datastream":{"@iot.id":2}}`,
				at.Format(time.RFC3339), issued.Format(time.RFC3339), v, issued.Format(time.RFC3339), h, v-15, v+15))
		}
	}
	e.waitDraft()
	return e
}

// api calls the node's API with the key of role as a bearer token.
func (e *env) api(method, path, role, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.keys[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *env) must(status int, method, path, body string) string {
	e.t.Helper()
	st, b := e.api(method, path, "admin", body)
	if st != status {
		e.t.Fatalf("%s %s: %d (want %d) %s", method, path, st, status, b)
	}
	return b
}

// waitDraft waits for the rule's draft.
func (e *env) waitDraft() {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		_, b := e.api("GET", "/api/v1/alerts?state=draft&rule=khanki", "admin", "")
		var list struct{ Value []struct{ ID int64 } }
		if json.Unmarshal([]byte(b), &list) == nil && len(list.Value) == 1 && list.Value[0].ID == 1 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("no draft for rule khanki within 30 s")
}

// alertState is alert 1's state as the API shows it.
func (e *env) alertState() string {
	e.t.Helper()
	_, b := e.api("GET", "/api/v1/alerts/1", "admin", "")
	var a struct{ State string }
	json.Unmarshal([]byte(b), &a)
	return a.State
}

// browser is an HTTP client with a cookie jar that does not follow redirects.
type browser struct {
	e *env
	c *http.Client
}

func (e *env) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.e.base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the CSRF token of the page at path.
func (b *browser) csrf(path string) string {
	b.e.t.Helper()
	_, page := b.do("GET", path, nil)
	m := csrfField.FindStringSubmatch(page)
	if m == nil {
		b.e.t.Fatalf("no csrf field on %s: %.300s", path, page)
	}
	return m[1]
}

// signin signs in with the key of role; it fails the test unless the answer is a redirect.
func (b *browser) signin(role string) *http.Response {
	b.e.t.Helper()
	tok := b.csrf("/console/signin")
	resp, page := b.do("POST", "/console/signin", url.Values{"csrf": {tok}, "key": {b.e.keys[role]}})
	if resp.StatusCode != http.StatusSeeOther {
		b.e.t.Fatalf("sign in as %s: %d %.300s", role, resp.StatusCode, page)
	}
	return resp
}

// testLog is where the test node logs: stderr with RABTA_TEST_LOG=1, else nowhere.
func testLog() io.Writer {
	if os.Getenv("RABTA_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
