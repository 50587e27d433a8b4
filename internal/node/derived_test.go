package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/storetest"
)

const deriveAdmin = "derive-test-admin-key-0123456789"

// deriveEnv is a node on SQLite or PostgreSQL with, besides the node-wide admin's key, an
// operator key of another organisation ("sindh").
type deriveEnv struct {
	t         testing.TB
	dir, dsn  string
	n         *Node
	reg       *prometheus.Registry
	otherKey  string
	batches   []*sensing.ObsBatch // the stage batches the bus delivered (captured for a redelivery)
	batchesMu sync.Mutex
}

func newDeriveEnv(t testing.TB, store string) *deriveEnv {
	t.Helper()
	e := &deriveEnv{t: t, dir: t.TempDir()}
	if store == "postgres" {
		e.dsn = storetest.PostgresSchema(t)
	}
	st, err := OpenStores(t.Context(), e.dir, e.dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.otherKey, _, err = auth.Create(t.Context(), st.Keys, "sindh", auth.Operator, "sindh-operator"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	e.start()
	return e
}

// start opens and starts the node on e's data directory and store (again, after stop).
func (e *deriveEnv) start() {
	e.t.Helper()
	e.reg = prometheus.NewRegistry()
	n, err := New(e.t.Context(), Options{ID: "derive", DataDir: e.dir, DB: e.dsn, HTTPAddr: "127.0.0.1:0",
		AdminKey: deriveAdmin, Registry: e.reg, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { n.Close() })
	if err := n.Start(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	e.n = n
}

func (e *deriveEnv) do(key, method, path, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, "http://"+e.n.Addr().String()+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// must does a request that must succeed and returns the new entity's @iot.id (0 for none).
func (e *deriveEnv) must(key, method, path, body string) int64 {
	e.t.Helper()
	st, b := e.do(key, method, path, body)
	if st/100 != 2 {
		e.t.Fatalf("%s %s: %d %s", method, path, st, b)
	}
	var v struct {
		ID int64 `json:"@iot.id"`
	}
	json.Unmarshal([]byte(b), &v)
	return v.ID
}

func (e *deriveEnv) metric(name, label string) float64 {
	mfs, err := e.reg.Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// datastream creates a Datastream of Thing thing with properties props and returns its id.
func (e *deriveEnv) datastream(key string, thing int64, name, unit, prop, props string) int64 {
	e.t.Helper()
	return e.must(key, "POST", "/v1.1/Datastreams", dsBody(thing, name, unit, prop, props))
}

func dsBody(thing int64, name, unit, prop, props string) string {
	return fmt.Sprintf(`{"name":%q,"description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
	 "unitOfMeasurement":{"name":%q,"symbol":%q,"definition":"x"},"Thing":{"@iot.id":%d},
	 "Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
	 "ObservedProperty":{"name":%q,"definition":"d","description":"d"},"properties":%s}`, name, unit, unit, thing, prop, props)
}

// the curve of the test: Q = 35.2 (h − 0.42)^1.71 over 1.1…8.9 m, margin 0.78 m
const (
	curveA, curveB, curveH0 = 35.2, 1.71, 0.42
	testCurve               = `{"a": 35.2, "b": 1.71, "h0": 0.42, "min_stage": 1.1, "max_stage": 8.9, "margin": 0.78, "rmse": 12.3, "r2": 0.994, "n": 240}`
)

func derivedProps(stage int64, curve string) string {
	// QC of the discharge: only a maximum, so that the worse-flag rule shows (the other checks off)
	return fmt.Sprintf(`{"derivedFrom": {"datastream": %d, "ratingCurve": %s}, "qc": {"max": 1000, "maxRatePerHour": null, "spike": null, "flatLineCount": 0, "flatLineDuration": null}}`, stage, curve)
}

// A stage Datastream and a discharge Datastream derived from it through a rating curve: each
// accepted stage gives one discharge with Q = a (h − h0)^b, the stage's times and flag carried
// (suspect stays suspect, extrapolated becomes suspect, QC of the discharge may make it worse),
// bad and out-of-range stages give none (counted); a direct POST to the derived Datastream is
// refused; a batch delivered again and a restart add nothing; bad properties are a 400 naming
// the property path and store nothing. On SQLite and PostgreSQL.
func TestDerivedDischarge(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) { testDerivedDischarge(t, store) })
	}
}

func testDerivedDischarge(t *testing.T, store string) {
	e := newDeriveEnv(t, store)
	thing := e.must(deriveAdmin, "POST", "/v1.1/Things", `{"name":"Marala","description":"Chenab at Marala",
	  "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.46,32.67]}}]}`)
	// stage QC: a maximum and a rate limit (2 m/h), no spike or flat-line checks
	stage := e.datastream(deriveAdmin, thing, "Marala stage", "m", "Water level",
		`{"qc": {"min": 0, "max": 20, "maxRatePerHour": 2, "spike": null, "flatLineCount": 0, "flatLineDuration": null}}`)
	flow := e.datastream(deriveAdmin, thing, "Marala discharge", "m3/s", "River discharge", derivedProps(stage, testCurve))

	// capture what the bus delivers for the stage, to deliver it again later
	var derivedBy []string // the By of the derived batches
	c, err := e.n.bus.ConsumeObs(t.Context(), "derive-test-capture", false, func(ds int64) bool { return ds == stage || ds == flow },
		func(_ context.Context, b *sensing.ObsBatch) error {
			e.batchesMu.Lock()
			if b.Datastream == stage {
				e.batches = append(e.batches, b)
			} else {
				derivedBy = append(derivedBy, b.By)
			}
			e.batchesMu.Unlock()
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()

	type want struct {
		flag         string
		extrapolated bool
	}
	stages := []struct {
		at   string
		h    float64
		want *want // nil: no discharge
	}{
		{"2025-08-27T00:00:00Z", 2.0, &want{"good", false}},
		{"2025-08-27T01:00:00Z", 3.0, &want{"good", false}},
		{"2025-08-27T02:00:00Z", 6.5, &want{"suspect", false}}, // stage suspect by QC: rises 3.5 m in an hour
		{"2025-08-27T05:00:00Z", 0.8, &want{"suspect", true}},  // below the fitted range, within the margin
		{"2025-08-27T06:00:00Z", 2.5, &want{"good", false}},
		{"2025-08-27T10:00:00Z", 8.0, &want{"bad", false}}, // stage good; discharge 1124 m³/s above the discharge's QC max 1000
		{"2025-08-27T11:00:00Z", 9.9, nil},                 // beyond the range and its margin: refused by the curve
		{"2025-08-27T12:00:00Z", 25, nil},                  // stage bad (above 20 m)
	}
	for i, s := range stages {
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%v}`, s.at, s.h)
		if i == 0 {
			body = fmt.Sprintf(`{"phenomenonTime":%q,"resultTime":"2025-08-27T00:07:00Z","result":%v}`, s.at, s.h)
		}
		e.must(deriveAdmin, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", stage), body)
	}
	nWant := 0
	for _, s := range stages {
		if s.want != nil {
			nWant++
		}
	}
	wait := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	wait("the derivation", func() bool {
		return e.metric("rabta_derived_observations_total", "") == float64(nWant) &&
			e.metric("rabta_derived_skipped_total", "out_of_range") == 1 && e.metric("rabta_derived_skipped_total", "bad_stage") == 1
	})

	type obs struct {
		ID             int64   `json:"@iot.id"`
		PhenomenonTime string  `json:"phenomenonTime"`
		ResultTime     *string `json:"resultTime"`
		Result         float64 `json:"result"`
		Quality        struct {
			Flag     string `json:"flag"`
			Reported struct {
				DerivedFrom struct {
					Datastream   int64  `json:"datastream"`
					Observation  int64  `json:"observation"`
					Flag         string `json:"flag"`
					Extrapolated bool   `json:"extrapolated"`
				} `json:"derivedFrom"`
			} `json:"reported"`
		} `json:"resultQuality"`
	}
	read := func(ds int64) []obs {
		t.Helper()
		st, b := e.do(deriveAdmin, "GET", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$orderby=phenomenonTime%%20asc&$top=100", ds), "")
		var page struct{ Value []obs }
		if st != 200 || json.Unmarshal([]byte(b), &page) != nil {
			t.Fatalf("read Datastream(%d): %d %s", ds, st, b)
		}
		return page.Value
	}
	check := func() {
		t.Helper()
		got, src := read(flow), read(stage)
		if len(got) != nWant || len(src) != len(stages) {
			t.Fatalf("%d discharges from %d stages, want %d from %d: %+v", len(got), len(src), nWant, len(stages), got)
		}
		k := 0
		for i, s := range stages {
			if s.want == nil {
				continue
			}
			o := got[k]
			k++
			q := curveA * math.Pow(s.h-curveH0, curveB)
			at, _ := time.Parse(time.RFC3339, s.at)
			pt, err := time.Parse(time.RFC3339, o.PhenomenonTime)
			df := o.Quality.Reported.DerivedFrom
			if err != nil || !pt.Equal(at) || math.Abs(o.Result-q) > 1e-9*q {
				t.Errorf("discharge %d: %s %v, want %s %v", k, o.PhenomenonTime, o.Result, s.at, q)
			}
			if o.Quality.Flag != s.want.flag || df.Extrapolated != s.want.extrapolated || df.Datastream != stage || df.Observation != src[i].ID {
				t.Errorf("discharge at %s: quality %+v, want flag %s, extrapolated %v, from Observation(%d) of Datastream(%d)",
					s.at, o.Quality, s.want.flag, s.want.extrapolated, src[i].ID, stage)
			}
			if df.Flag != src[i].Quality.Flag || (i == 2) != (df.Flag == "suspect") {
				t.Errorf("discharge at %s: stage flag %q, the stage is %q (want suspect at 02:00 only)", s.at, df.Flag, src[i].Quality.Flag)
			}
			if wantRT := i == 0; wantRT != (o.ResultTime != nil) || (wantRT && *o.ResultTime != "2025-08-27T00:07:00Z") {
				t.Errorf("discharge at %s: resultTime %v", s.at, o.ResultTime)
			}
		}
	}
	check()

	// the derived Datastream's Observations are the node's to write
	if st, b := e.do(deriveAdmin, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", flow), `{"phenomenonTime":"2025-08-28T00:00:00Z","result":5}`); st != 400 ||
		!strings.Contains(b, fmt.Sprintf("Datastream(%d) is derived from Datastream(%d)", flow, stage)) {
		t.Errorf("direct POST to the derived Datastream: %d %s, want 400 naming it", st, b)
	}

	// the same stage batches delivered again (a redelivery after a crash) add nothing
	wait("the bus messages", func() bool {
		e.batchesMu.Lock()
		defer e.batchesMu.Unlock()
		return len(e.batches) == len(stages) && len(derivedBy) == nWant
	})
	e.batchesMu.Lock()
	again, by := e.batches, derivedBy
	e.batchesMu.Unlock()
	// four eyes through the derivation: the derived values are the stage poster's
	for _, b := range by {
		if b == "" || b != again[0].By {
			t.Errorf("derived batches by %q, want the stage's poster %q", by, again[0].By)
			break
		}
	}
	d := newDeriver(t.Context(), e.n.stores.Entities.(derivationStore), e.n.ingest, prometheus.NewRegistry(), time.Now, e.n.log)
	for _, b := range again {
		if err := d.handle(t.Context(), b); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.skipped.WithLabelValues("refused"); testCounter(got) != 0 || testCounter(d.derived) != 0 {
		t.Errorf("redelivery stored %v and refused %v, want 0 and 0 (all duplicates)", testCounter(d.derived), testCounter(got))
	}
	check()

	// a restart: the durable consumer goes on where it was; a new stage is derived once (12 h after
	// the 25 m one: within the stage's rate limit)
	c.Stop()
	if err := e.n.Close(); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.must(deriveAdmin, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", stage), `{"phenomenonTime":"2025-08-28T00:00:00Z","result":3.5}`)
	wait("the derivation after the restart", func() bool { return e.metric("rabta_derived_observations_total", "") == 1 })
	stages = append(stages, struct {
		at   string
		h    float64
		want *want
	}{"2025-08-28T00:00:00Z", 3.5, &want{"good", false}})
	nWant++
	time.Sleep(200 * time.Millisecond) // anything delivered twice would have been stored by now
	check()

	// bad properties: 400 naming the path, nothing stored
	other := e.datastream(deriveAdmin, thing, "Another stage", "m", "Water level", `{}`)
	sindhThing := e.must(e.otherKey, "POST", "/v1.1/Things", `{"name":"Sukkur","description":"Indus at Sukkur"}`)
	count := func() string {
		_, b := e.do(deriveAdmin, "GET", "/v1.1/Datastreams?$count=true&$top=0", "")
		return b
	}
	before := count()
	for name, tc := range map[string]struct {
		key, body, want string
	}{
		"a ≤ 0": {deriveAdmin, dsBody(thing, "x", "m3/s", "River discharge", derivedProps(stage, strings.Replace(testCurve, `"a": 35.2`, `"a": -1`, 1))),
			"properties.derivedFrom.ratingCurve.a: want a number > 0"},
		"not an object": {deriveAdmin, dsBody(thing, "x", "m3/s", "River discharge", `{"derivedFrom": [1]}`), "properties.derivedFrom: want an object"},
		"unknown stage": {deriveAdmin, dsBody(thing, "x", "m3/s", "River discharge", derivedProps(99999, testCurve)),
			"properties.derivedFrom.datastream: Datastream(99999) does not exist"},
		"from a derived one": {deriveAdmin, dsBody(thing, "x", "m3/s", "River discharge", derivedProps(flow, testCurve)),
			fmt.Sprintf("properties.derivedFrom.datastream: Datastream(%d) is itself derived", flow)},
		"another organisation's stage": {e.otherKey, dsBody(sindhThing, "x", "m3/s", "River discharge", derivedProps(stage, testCurve)),
			fmt.Sprintf("properties.derivedFrom.datastream: Datastream(%d) belongs to another organisation", stage)},
	} {
		if st, b := e.do(tc.key, "POST", "/v1.1/Datastreams", tc.body); st != 400 || !strings.Contains(b, tc.want) {
			t.Errorf("%s: %d %s, want 400 with %q", name, st, b, tc.want)
		}
	}
	if after := count(); after != before {
		t.Errorf("refused creates stored something: %s, before %s", after, before)
	}
	for name, tc := range map[string]struct {
		ds        int64
		props     string
		want      string
		unchanged int64
	}{
		"itself": {flow, derivedProps(flow, testCurve), "properties.derivedFrom.datastream: a Datastream cannot be derived from itself", flow},
		// stage → flow → stage would be a cycle: a source cannot become derived
		"a cycle": {stage, derivedProps(other, testCurve), fmt.Sprintf("properties.derivedFrom: Datastream(%d) is derived from this one", flow), stage},
		"r2":      {flow, derivedProps(stage, strings.Replace(testCurve, `"r2": 0.994`, `"r2": 2`, 1)), "properties.derivedFrom.ratingCurve.r2: want a number ≤ 1", flow},
	} {
		_, beforeDS := e.do(deriveAdmin, "GET", fmt.Sprintf("/v1.1/Datastreams(%d)?$select=properties", tc.unchanged), "")
		if st, b := e.do(deriveAdmin, "PATCH", fmt.Sprintf("/v1.1/Datastreams(%d)", tc.ds), `{"properties":`+tc.props+`}`); st != 400 || !strings.Contains(b, tc.want) {
			t.Errorf("PATCH %s: %d %s, want 400 with %q", name, st, b, tc.want)
		}
		if _, afterDS := e.do(deriveAdmin, "GET", fmt.Sprintf("/v1.1/Datastreams(%d)?$select=properties", tc.unchanged), ""); afterDS != beforeDS {
			t.Errorf("PATCH %s changed Datastream(%d): %s, was %s", name, tc.unchanged, afterDS, beforeDS)
		}
	}

	// a PATCH that makes a Datastream derived takes effect on the next stage, without a restart
	e.must(deriveAdmin, "PATCH", fmt.Sprintf("/v1.1/Datastreams(%d)", other), `{"properties":{"qc":{"max":20}}}`)
	flow2 := e.datastream(deriveAdmin, thing, "Second discharge", "m3/s", "River discharge", `{}`)
	e.must(deriveAdmin, "PATCH", fmt.Sprintf("/v1.1/Datastreams(%d)", flow2), `{"properties":`+derivedProps(other, testCurve)+`}`)
	e.must(deriveAdmin, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", other), `{"phenomenonTime":"2025-08-27T00:00:00Z","result":4}`)
	wait("the derivation of a Datastream made derived by PATCH", func() bool { return len(read(flow2)) == 1 })
	if got, q := read(flow2)[0].Result, curveA*math.Pow(4-curveH0, curveB); math.Abs(got-q) > 1e-9*q {
		t.Errorf("PATCHed derivation: %v, want %v", got, q)
	}
}

func testCounter(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return math.NaN()
	}
	return m.GetCounter().GetValue()
}

// BenchmarkDeriveBatch: the deriver's cost for one bus batch of 500 stage Observations (each
// derived and stored through ingest, on SQLite), per batch; ns/obs is per Observation.
func BenchmarkDeriveBatch(b *testing.B) {
	e := newDeriveEnv(b, "sqlite")
	thing := e.must(deriveAdmin, "POST", "/v1.1/Things", `{"name":"Marala","description":"gauge",
	  "Locations":[{"name":"site","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.46,32.67]}}]}`)
	stage := e.datastream(deriveAdmin, thing, "stage", "m", "Water level", `{}`)
	e.datastream(deriveAdmin, thing, "discharge", "m3/s", "River discharge", derivedProps(stage, testCurve))
	d := newDeriver(b.Context(), e.n.stores.Entities.(derivationStore), e.n.ingest, prometheus.NewRegistry(), time.Now, e.n.log)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const per = 500
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		batch := &sensing.ObsBatch{V: 1, Datastream: stage}
		for j := range per {
			at := t0.Add(time.Duration(i*per+j) * time.Minute)
			batch.Obs = append(batch.Obs, sensing.ObsItem{ID: int64(i*per + j + 1), PhenomenonTime: at.Format(time.RFC3339), Start: at, End: at,
				Result: json.RawMessage(fmt.Sprint(1.5 + float64(j%700)/100))})
		}
		if err := d.handle(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*per), "ns/obs")
	if got := testCounter(d.derived); got != float64(b.N*per) {
		b.Fatalf("derived %v, want %d", got, b.N*per)
	}
}
