package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/storetest"
)

// fcEnv is a node with keys of two organisations, on SQLite or PostgreSQL, that can be
// restarted on the same store.
type fcEnv struct {
	t        *testing.T
	dir, dsn string
	keys     map[string]string // "punjab/admin" …
	n        *node.Node
}

func (e *fcEnv) start() {
	e.t.Helper()
	n, err := node.New(e.t.Context(), node.Options{ID: "fc", DataDir: e.dir, DB: e.dsn,
		HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", AdminKey: adminKey, TickEvery: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := n.Start(e.t.Context()); err != nil {
		n.Close()
		e.t.Fatal(err)
	}
	e.n = n
}

func (e *fcEnv) req(key, method, path, ctype, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, "http://"+e.n.Addr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.keys[key])
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (e *fcEnv) must(key, method, path, ctype, body string, want int) string {
	e.t.Helper()
	st, b := e.req(key, method, path, ctype, body)
	if st != want {
		e.t.Fatalf("%s %s: %d %s, want %d", method, path, st, b, want)
	}
	return b
}

// post sends readings (time → value) of datastream ds in one CreateObservations request.
func (e *fcEnv) post(ds int64, rs []reading) {
	e.t.Helper()
	var rows []string
	for _, r := range rs {
		rows = append(rows, fmt.Sprintf(`[%q,%v]`, r.t.Format(time.RFC3339), r.v))
	}
	b := e.must("punjab/admin", "POST", "/v1.1/CreateObservations", "application/json",
		fmt.Sprintf(`[{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[%s]}]`, ds, strings.Join(rows, ",")), 201)
	if strings.Contains(b, "error") {
		e.t.Fatalf("readings refused: %.300s", b)
	}
}

type reading struct {
	t time.Time
	v float64
}

type fcObs struct {
	ID             int64   `json:"@iot.id"`
	PhenomenonTime string  `json:"phenomenonTime"`
	ResultTime     string  `json:"resultTime"`
	Result         float64 `json:"result"`
	Parameters     struct {
		Issued        time.Time `json:"issued"`
		LeadTimeHours float64   `json:"leadTimeHours"`
		Lower, Upper  float64
	} `json:"parameters"`
}

// latestIssue waits until the forecast datastream has an issue later than after and returns its points.
func (e *fcEnv) latestIssue(ds int64, after time.Time) (time.Time, []fcObs) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b := e.must("punjab/admin", "GET", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$orderby=resultTime%%20desc,phenomenonTime%%20asc&$top=1000", ds), "", "", 200)
		var page struct{ Value []fcObs }
		if err := json.Unmarshal([]byte(b), &page); err != nil {
			e.t.Fatal(err)
		}
		if len(page.Value) > 0 {
			issued, _ := time.Parse(time.RFC3339Nano, page.Value[0].ResultTime)
			if issued.After(after) {
				var out []fcObs
				for _, o := range page.Value {
					if o.ResultTime == page.Value[0].ResultTime {
						out = append(out, o)
					}
				}
				return issued, out
			}
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no forecast issued after %s in Datastream(%d): %s", after.Format(time.RFC3339), ds, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

const fcNetwork = `name: chenab-test
step_h: 1
stations:
  - {id: marala, name: Marala Headworks, thing: 1, discharge: 1}
  - {id: khanki, name: Khanki Headworks, thing: 2, discharge: 2}
reaches:
  - from: marala
    to: khanki
    travel_time_h: 6
    model: {k_h: 2, x: 0.2, m: 1, scheme: rk4, lag_h: 6, gain: 1, rmse: 5000, n: 100}
`

// TestForecastChain runs the whole chain in a node, on both stores: a river network stored
// through the API (its forecast Datastream made), upstream readings turned into forecast
// observations downstream (resultTime = issue, phenomenonTime = valid time, the band and lead
// time in parameters) equal to what forecast.Forecaster computes from every reading, a
// forecast rule firing on them with a draft whose CAP onset is the first forecast time at the
// level; after a restart the forecaster still has every reading. PUT by a non-admin or another
// organisation's admin is 403, a bad network 400 naming the line.
func TestForecastChain(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			e := &fcEnv{t: t, dir: t.TempDir(), keys: map[string]string{}}
			if engine == "postgres" {
				e.dsn = storetest.PostgresSchema(t)
			}
			st, err := node.OpenStores(t.Context(), e.dir, e.dsn, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range []struct {
				org  string
				role auth.Role
			}{{"punjab", auth.Admin}, {"punjab", auth.Operator}, {"sindh", auth.Admin}} {
				key, _, err := auth.Create(t.Context(), st.Keys, k.org, k.role, k.org+"-"+k.role.String())
				if err != nil {
					t.Fatal(err)
				}
				e.keys[k.org+"/"+k.role.String()] = key
			}
			st.Close()
			e.start()
			defer func() { e.n.Close() }()
			forecastChain(t, e, engine == "sqlite")
		})
	}
}

func forecastChain(t *testing.T, e *fcEnv, rules bool) {
	for _, name := range []string{"Marala", "Khanki"} {
		e.must("punjab/admin", "POST", "/v1.1/Things", "application/json", `{"name":"`+name+`","description":"gauge",
		 "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.9,32.4]}}],
		 "Datastreams":[{"name":"Discharge at `+name+`","description":"q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
		  "Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
		  "ObservedProperty":{"name":"Discharge","definition":"http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/","description":"d"}}]}`, 201)
	}
	now := time.Now().UTC().Truncate(time.Hour)
	var marala, khanki []reading
	for h := 72; h >= 7; h-- {
		marala = append(marala, reading{now.Add(-time.Duration(h) * time.Hour), 50000})
	}
	for h := 72; h >= 1; h -= 3 { // Khanki reports every 3 h
		khanki = append(khanki, reading{now.Add(-time.Duration(h) * time.Hour), 50000})
	}
	e.post(1, marala) // before the network exists: restored from the store when it is stored
	e.post(2, khanki)

	// authorisation and bad documents first: nothing stored
	if st, b := e.req("punjab/operator", "PUT", "/api/v1/forecast/network", "application/yaml", fcNetwork); st != 403 {
		t.Errorf("PUT by an operator: %d %s, want 403", st, b)
	}
	if st, b := e.req("sindh/admin", "PUT", "/api/v1/forecast/network", "application/yaml", fcNetwork); st != 403 || !strings.Contains(b, `stations[0].thing`) || !strings.Contains(b, "line 4") {
		t.Errorf("PUT by another organisation's admin naming punjab's Things: %d %s, want 403 naming line 4, stations[0].thing", st, b)
	}
	bad := strings.Replace(fcNetwork, "to: khanki", "to: khanky", 1)
	if st, b := e.req("punjab/admin", "PUT", "/api/v1/forecast/network", "application/yaml", bad); st != 400 || !strings.Contains(b, `line 8: reaches[0].to: unknown station \"khanky\"`) {
		t.Errorf("PUT of a bad network: %d %s, want 400 naming line 8", st, b)
	}
	if st, b := e.req("punjab/admin", "GET", "/api/v1/forecast/network", "", ""); st != 404 {
		t.Errorf("after refusals: GET %d %s, want 404 (nothing stored)", st, b)
	}

	// punjab's admin stores it; Khanki gets a forecast Datastream
	var doc forecasting.Document
	if err := json.Unmarshal([]byte(e.must("punjab/admin", "PUT", "/api/v1/forecast/network", "application/yaml", fcNetwork, 200)), &doc); err != nil {
		t.Fatal(err)
	}
	fc := doc.Stations[1].Forecast
	if fc == 0 || doc.Stations[0].Forecast != 0 || doc.Organisation != "punjab" || doc.Stations[1].Horizon == nil || doc.Stations[1].Horizon.Shortest != 6 {
		t.Fatalf("stored network %+v", doc)
	}
	if st, b := e.req("sindh/admin", "PUT", "/api/v1/forecast/network", "application/json", `{"name":"x","stations":[{"id":"a"}]}`); st != 403 || !strings.Contains(b, `organisation \"punjab\"`) {
		t.Errorf("sindh's admin replacing punjab's network: %d %s, want 403", st, b)
	}
	b := e.must("punjab/admin", "GET", fmt.Sprintf("/v1.1/Datastreams(%d)?$expand=Thing,ObservedProperty", fc), "", "", 200)
	if !strings.Contains(b, `"name":"Khanki Headworks discharge forecast"`) || !strings.Contains(b, `"forecast":true`) || !strings.Contains(b, `"@iot.id":2`) {
		t.Errorf("forecast Datastream: %s", b)
	}

	if rules {
		forecastRule(t, e, fc)
	}
	// the flood wave at Marala: the last 6 hours rise to 300000
	var rise []reading
	for h := 6; h >= 0; h-- {
		rise = append(rise, reading{now.Add(-time.Duration(h) * time.Hour), 300000 - float64(h)*40000})
	}
	e.post(1, rise)
	issued, points := e.latestIssue(fc, time.Time{})
	all := append(append([]reading{}, marala...), rise...)
	want := expected(t, all, khanki, issued)
	compare(t, "first issue", issued, points, want)

	// the rule fires: a draft whose onset is the first forecast time at the level (on SQLite
	// only: an alert's first impact loads the gazetteer, seconds under -race, and the alert
	// store's conformance runs on both engines)
	if rules {
		forecastDraft(t, e, points)
	}
	// a restart keeps forecasting from every reading (restored from the store)
	e.n.Close()
	e.start()
	next := reading{time.Now().UTC().Truncate(time.Second), 320000}
	if !next.t.After(now) {
		next.t = now.Add(time.Second)
	}
	time.Sleep(time.Until(next.t)) // not a reading from the future
	e.post(1, []reading{next})
	issued2, points2 := e.latestIssue(fc, issued)
	compare(t, "after a restart", issued2, points2, expected(t, append(all, next), khanki, issued2))
}

// forecastRule puts a forecast rule on forecast Datastream fc.
func forecastRule(t *testing.T, e *fcEnv, fc int64) {
	e.must("punjab/admin", "PUT", "/api/v1/rules", "application/yaml", fmt.Sprintf(`rules:
  - id: khanki-forecast
    name: Forecast flood at Khanki
    kind: threshold
    forecast: true
    horizon: 12h
    datastreams: [%d]
    levels:
      - {name: High, value: 150000, severity: Severe, urgency: Expected, certainty: Likely, event: Flood}
    area: {desc: Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    status: Exercise
`, fc), 200)

}

// forecastDraft waits for the forecast rule's draft and checks its onset and certainty.
func forecastDraft(t *testing.T, e *fcEnv, points []fcObs) {
	var onset time.Time
	for _, p := range points {
		if p.Result >= 150000 {
			onset, _ = time.Parse(time.RFC3339, p.PhenomenonTime)
			break
		}
	}
	if onset.IsZero() {
		t.Fatalf("no forecast point reaches 150000: %+v", points)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var page struct {
			Value []struct {
				State, Level string
				Draft        struct {
					Infos []struct {
						Onset     time.Time `json:"onset"`
						Certainty string    `json:"certainty"`
					} `json:"infos"`
				} `json:"draft"`
			} `json:"value"`
		}
		json.Unmarshal([]byte(e.must("punjab/admin", "GET", "/api/v1/alerts?rule=khanki-forecast", "", "", 200)), &page)
		if len(page.Value) > 0 && len(page.Value[0].Draft.Infos) > 0 {
			a := page.Value[0]
			if a.State != "draft" || a.Level != "High" || !a.Draft.Infos[0].Onset.Equal(onset) || a.Draft.Infos[0].Certainty != "Likely" {
				t.Errorf("alert %+v, want a High draft with onset %s, certainty Likely", a, onset.Format(time.RFC3339))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the forecast rule made no draft")
		}
		time.Sleep(50 * time.Millisecond)
	}

}

// expected is what a forecast.Forecaster of the test network, given every reading, forecasts at Khanki.
func expected(t *testing.T, marala, khanki []reading, issued time.Time) []forecast.ForecastPoint {
	t.Helper()
	n, _, err := forecasting.Parse([]byte(fcNetwork))
	if err != nil {
		t.Fatal(err)
	}
	m, err := n.Model()
	if err != nil {
		t.Fatal(err)
	}
	f, err := forecast.NewForecaster(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range marala {
		f.Observe("marala", r.t, r.v, sensing.FlagGood)
	}
	for _, r := range khanki {
		f.Observe("khanki", r.t, r.v, sensing.FlagGood)
	}
	for _, sf := range f.Update(issued, "marala") {
		if sf.Station == "khanki" {
			return sf.Points
		}
	}
	t.Fatal("the forecaster gives no forecast at khanki")
	return nil
}

func compare(t *testing.T, what string, issued time.Time, got []fcObs, want []forecast.ForecastPoint) {
	t.Helper()
	if len(got) != len(want) || len(got) == 0 {
		t.Fatalf("%s: %d forecast points stored, want %d", what, len(got), len(want))
	}
	close := func(a, b float64) bool { return math.Abs(a-b) <= 1e-6*math.Max(1, math.Abs(b)) }
	for i, p := range got {
		pt, _ := time.Parse(time.RFC3339, p.PhenomenonTime)
		w := want[i]
		if !pt.Equal(w.Time) || !pt.After(issued) || !close(p.Result, w.Value) || !close(p.Parameters.Lower, w.Lower) || !close(p.Parameters.Upper, w.Upper) ||
			!p.Parameters.Issued.Equal(issued) || !close(p.Parameters.LeadTimeHours, pt.Sub(issued).Hours()) || !(p.Parameters.Lower <= p.Result && p.Result <= p.Parameters.Upper) {
			t.Errorf("%s: point %d %+v, want %+v issued %s", what, i, p, w, issued.Format(time.RFC3339))
		}
	}
}
