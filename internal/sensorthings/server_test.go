package sensorthings_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlite"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/")

// node is a SensorThings server on a real SQLite store in a temp dir.
type node struct {
	t      *testing.T
	srv    *httptest.Server
	db     *sqlite.DB
	admin  string
	viewer string
}

func newNode(t *testing.T, publicRead bool) *node {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys := sqlite.NewAuth(db)
	admin, _, err := auth.Create(ctx, keys, "pdma", auth.Admin, "test")
	if err != nil {
		t.Fatal(err)
	}
	viewer, _, err := auth.Create(ctx, keys, "public", auth.Viewer, "test")
	if err != nil {
		t.Fatal(err)
	}
	ents := sqlite.NewEntities(db, &ingest.QC{})
	st := &sensorthings.Server{Store: ents, Ingest: &ingest.Service{Store: ents}, PublicRead: publicRead,
		MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000}
	mux := http.NewServeMux()
	mux.Handle("/v1.1/", st.Handler())
	authn := &auth.Authenticator{Store: keys}
	srv := httptest.NewServer(authn.Middleware(st.Error)(mux))
	t.Cleanup(srv.Close)
	return &node{t: t, srv: srv, db: db, admin: admin, viewer: viewer}
}

// do sends a request with the admin key (key "" sends none) and returns status and body.
func (n *node) do(method, path, body string, key ...string) (int, string) {
	n.t.Helper()
	k := n.admin
	if len(key) > 0 {
		k = key[0]
	}
	u := n.srv.URL + "/v1.1" + path
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		n.t.Fatal(err)
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		n.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (n *node) must(status int, method, path, body string) map[string]any {
	n.t.Helper()
	got, b := n.do(method, path, body)
	if got != status {
		n.t.Fatalf("%s %s: status %d, want %d: %s", method, path, got, status, b)
	}
	var m map[string]any
	if strings.TrimSpace(b) != "" {
		if err := json.Unmarshal([]byte(b), &m); err != nil {
			n.t.Fatalf("%s %s: body is not a JSON object: %v: %s", method, path, err, b)
		}
	}
	return m
}

func ids(m map[string]any) []int {
	var out []int
	for _, v := range m["value"].([]any) {
		out = append(out, int(v.(map[string]any)["@iot.id"].(float64)))
	}
	return out
}

const gauge = `{"name":"Khanki","description":"Khanki Headworks gauge","properties":{"river":"Chenab","pdmaName":"Khanki"},
 "Locations":[{"name":"Khanki","description":"Khanki Headworks","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.9744,32.4028]}}],
 "Datastreams":[{"name":"Discharge at Khanki","description":"discharge","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
   "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
   "Sensor":{"name":"staff gauge","description":"PDMA report","encodingType":"text/html","metadata":"https://pdma.punjab.gov.pk"},
   "ObservedProperty":{"name":"Discharge","definition":"http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/","description":"River discharge"}}]}`

func seed(t *testing.T, n *node) {
	t.Helper()
	n.must(201, "POST", "/Things", gauge)
	n.must(201, "POST", "/Things", strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(gauge, "Khanki", "Marala"), "73.9744", "74.4597"), "32.4028", "32.6744"))
	body := `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[
	 ["2025-08-25T12:00:00+05:00",250000],["2025-08-26T12:00:00+05:00",600000],["2025-08-27T12:00:00+05:00",1001480],["2025-08-28T12:00:00+05:00",700000]]},
	 {"Datastream":{"@iot.id":2},"components":["phenomenonTime","result"],"dataArray":[["2025-08-26T12:00:00Z",400000],["2025-08-27T12:00:00Z",900000]]}]`
	_, b := n.do("POST", "/CreateObservations", body)
	if strings.Contains(b, "error") {
		t.Fatalf("seed observations: %s", b)
	}
}

func TestDeepInsertAndNavigation(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	cases := []struct {
		path string
		want []int
	}{
		{"/Things", []int{1, 2}},
		{"/Things(1)/Datastreams", []int{1}},
		{"/Things(1)/Locations", []int{1}},
		{"/Things(1)/HistoricalLocations", []int{1}},
		{"/Locations(2)/Things", []int{2}},
		{"/Datastreams(1)/Observations", []int{1, 2, 3, 4}},
		{"/Sensors(2)/Datastreams", []int{2}},
		{"/FeaturesOfInterest(1)/Observations", []int{1, 2, 3, 4}},
	}
	for _, c := range cases {
		m := n.must(200, "GET", c.path, "")
		if got := ids(m); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("GET %s: ids %v, want %v", c.path, got, c.want)
		}
	}
	m := n.must(200, "GET", "/Observations(3)/Datastream/Thing", "")
	if m["name"] != "Khanki" {
		t.Errorf("Observations(3)/Datastream/Thing: %v", m["name"])
	}
	if st, _ := n.do("GET", "/Things(1)/Datastreams(2)", ""); st != 404 {
		t.Errorf("Things(1)/Datastreams(2): status %d, want 404 (not related)", st)
	}
	if st, b := n.do("GET", "/Things(1)/name/$value", ""); st != 200 || b != "Khanki" {
		t.Errorf("$value: %d %q", st, b)
	}
	m = n.must(200, "GET", "/Datastreams(1)/Observations/$ref?$top=1", "")
	if v := m["value"].([]any)[0].(map[string]any); !strings.HasSuffix(v["@iot.selfLink"].(string), "/v1.1/Observations(1)") || len(v) != 1 {
		t.Errorf("$ref: %v", v)
	}
	m = n.must(200, "GET", "/Datastreams(1)", "")
	if m["phenomenonTime"] != "2025-08-25T07:00:00Z/2025-08-28T07:00:00Z" {
		t.Errorf("Datastream phenomenonTime %v", m["phenomenonTime"])
	}
}

func TestTimesComeBackAsSent(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	for _, pt := range []string{"2025-08-27T17:00:00.125+05:00", "2025-08-27T12:00:00Z/2025-08-27T13:00:00Z", "2025-08-27T08:00:00-04:00"} {
		m := n.must(201, "POST", "/Observations", `{"phenomenonTime":"`+pt+`","result":5,"resultTime":"2025-08-27T12:30:00+08:00","Datastream":{"@iot.id":2}}`)
		if m["phenomenonTime"] != pt || m["resultTime"] != "2025-08-27T12:30:00+08:00" {
			t.Errorf("sent %s, got %v / %v", pt, m["phenomenonTime"], m["resultTime"])
		}
	}
}

func TestUpdateDeleteCascade(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	m := n.must(200, "PATCH", "/Things(1)", `{"description":"renamed","properties":{"river":"Chenab","note":"x"}}`)
	if m["description"] != "renamed" || m["name"] != "Khanki" {
		t.Errorf("PATCH: %v", m)
	}
	// a new Location for the Thing: the old one goes to history
	n.must(201, "POST", "/Things(1)/Locations", `{"name":"moved","description":"new site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74,32.5]}}`)
	if got := ids(n.must(200, "GET", "/Things(1)/Locations", "")); fmt.Sprint(got) != "[3]" {
		t.Errorf("current locations %v, want [3]", got)
	}
	if got := ids(n.must(200, "GET", "/Things(1)/HistoricalLocations", "")); len(got) != 2 {
		t.Errorf("historical locations %v, want 2", got)
	}
	if st, b := n.do("PUT", "/ObservedProperties(1)", `{"name":"Q","definition":"d"}`); st != 400 || !strings.Contains(b, "description is required") {
		t.Errorf("PUT without a required property: %d %s", st, b)
	}
	n.must(200, "PUT", "/ObservedProperties(1)", `{"name":"Q","definition":"d","description":"replaced"}`)
	n.must(200, "DELETE", "/Things(1)", "")
	for _, p := range []string{"/Things(1)", "/Datastreams(1)", "/Observations(1)", "/HistoricalLocations(1)"} {
		if st, _ := n.do("GET", p, ""); st != 404 {
			t.Errorf("after deleting Things(1), GET %s: %d, want 404", p, st)
		}
	}
	if st, _ := n.do("GET", "/Observations(5)", ""); st != 200 {
		t.Errorf("other Thing's observation gone: %d", st)
	}
	if st, _ := n.do("DELETE", "/Things(1)", ""); st != 404 {
		t.Errorf("second delete: %d, want 404", st)
	}
}

func TestFilters(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	cases := []struct {
		path, filter string
		want         string
	}{
		{"/Observations", "result gt 650000", "[3 4 6]"},
		{"/Observations", "result ge 600000 and result le 900000", "[2 4 6]"},
		{"/Observations", "phenomenonTime ge 2025-08-27T00:00:00Z and phenomenonTime lt 2025-08-28T00:00:00Z", "[3 6]"},
		{"/Observations", "Datastream/Thing/name eq 'Marala'", "[5 6]"},
		{"/Things", "Datastreams/Observations/result gt 1000000", "[1]"},
		{"/Things", "properties/river eq 'Chenab' and not (name eq 'Khanki')", "[2]"},
		{"/Things", "startswith(name,'Kha') or endswith(name,'ala')", "[1 2]"},
		{"/Things", "substringof('anki', name)", "[1]"},
		{"/Things", "length(name) eq 6 and tolower(name) eq 'marala'", "[2]"},
		{"/Observations", "year(phenomenonTime) eq 2025 and day(phenomenonTime) eq 28", "[4]"},
		{"/Observations", "result div 1000 gt 950", "[3]"},
		{"/Observations", "round(result div 100000) eq 10", "[3]"},
		{"/Locations", "st_within(location, geography'POLYGON((73 32, 74.2 32, 74.2 33, 73 33, 73 32))')", "[1]"},
		{"/Locations", "geo.distance(location, geography'POINT(74.46 32.67)') lt 0.1", "[2]"},
		{"/Locations", "geo.intersects(location, geography'POLYGON((74 32, 75 32, 75 33, 74 33, 74 32))')", "[2]"},
		{"/Datastreams", "unitOfMeasurement/symbol eq '[cft_i]/s'", "[1 2]"},
		{"/Observations", "validTime eq null", "[1 2 3 4 5 6]"},
	}
	for _, c := range cases {
		m := n.must(200, "GET", c.path+"?$filter="+urlq(c.filter), "")
		if got := fmt.Sprint(ids(m)); got != c.want {
			t.Errorf("%s?$filter=%s: %s, want %s", c.path, c.filter, got, c.want)
		}
	}
}

func urlq(s string) string {
	r := strings.NewReplacer(" ", "%20", "'", "%27", "/", "%2F", "(", "%28", ")", "%29", ",", "%2C", "+", "%2B")
	return r.Replace(s)
}

func TestQueryOptions(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	m := n.must(200, "GET", "/Datastreams(1)/Observations?$orderby=result%20desc&$top=2&$select=result,id&$count=true", "")
	if m["@iot.count"].(float64) != 4 || fmt.Sprint(ids(m)) != "[3 4]" {
		t.Errorf("orderby/top/count: %v", m)
	}
	if v := m["value"].([]any)[0].(map[string]any); len(v) != 3 || v["phenomenonTime"] != nil {
		t.Errorf("$select: %v", v)
	}
	m = n.must(200, "GET", "/Things?$expand=Datastreams($select=name;$expand=Observations($orderby=phenomenonTime%20desc;$top=1)),Locations&$orderby=name", "")
	th := m["value"].([]any)[0].(map[string]any)
	ds := th["Datastreams"].([]any)[0].(map[string]any)
	obs := ds["Observations"].([]any)
	if th["name"] != "Khanki" || len(obs) != 1 || obs[0].(map[string]any)["result"].(float64) != 700000 || len(th["Locations"].([]any)) != 1 {
		t.Errorf("nested $expand: %v", th)
	}
	if _, ok := ds["Observations@iot.nextLink"]; !ok {
		t.Errorf("expanded collection cut by $top has no nextLink: %v", ds)
	}
	m = n.must(200, "GET", "/Observations(3)?$expand=Datastream/Thing", "")
	if m["Datastream"].(map[string]any)["Thing"].(map[string]any)["name"] != "Khanki" {
		t.Errorf("expand path: %v", m)
	}
	m = n.must(200, "GET", "/Observations?$resultFormat=dataArray&$select=phenomenonTime,result&$orderby=id", "")
	groups := m["value"].([]any)
	if len(groups) != 2 {
		t.Fatalf("dataArray groups: %v", m)
	}
	g := groups[1].(map[string]any)
	if g["dataArray@iot.count"].(float64) != 2 || fmt.Sprint(g["components"]) != "[phenomenonTime result]" ||
		fmt.Sprint(g["dataArray"]) != "[[2025-08-26T12:00:00Z 400000] [2025-08-27T12:00:00Z 900000]]" ||
		!strings.HasSuffix(g["Datastream@iot.navigationLink"].(string), "/Datastreams(2)") {
		t.Errorf("dataArray result format: %v", g)
	}
	m = n.must(200, "GET", "/Observations?$skip=4&$orderby=id", "")
	if fmt.Sprint(ids(m)) != "[5 6]" {
		t.Errorf("$skip: %v", ids(m))
	}
}

// Paging: follow @iot.nextLink while observations keep arriving; every row is seen once and
// the count stays what it was when the listing began.
func TestPagingIsConsistent(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	var rows []string
	for i := range 40 {
		rows = append(rows, fmt.Sprintf(`["2025-09-01T%02d:%02d:00Z",%d]`, i/60, i%60, 1000+i%7))
	}
	if st, b := n.do("POST", "/CreateObservations", `[{"Datastream":{"@iot.id":2},"components":["phenomenonTime","result"],"dataArray":[`+strings.Join(rows, ",")+`]}]`); st != 201 || strings.Contains(b, "error") {
		t.Fatalf("%d %s", st, b)
	}
	seen := map[int]bool{}
	next := n.srv.URL + "/v1.1/Datastreams(2)/Observations?$top=7&$count=true&$orderby=result%20desc"
	pages := 0
	for next != "" {
		resp, err := http.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		resp.Body.Close()
		if c := m["@iot.count"].(float64); c != 42 {
			t.Fatalf("page %d: count %v, want 42", pages, c)
		}
		for _, id := range ids(m) {
			if seen[id] {
				t.Fatalf("id %d seen twice", id)
			}
			seen[id] = true
		}
		next, _ = m["@iot.nextLink"].(string)
		pages++
		// new data between pages must not shift or grow the listing
		n.must(201, "POST", "/Observations", fmt.Sprintf(`{"phenomenonTime":"2025-09-02T00:%02d:00Z","result":999999,"Datastream":{"@iot.id":2}}`, pages))
	}
	if len(seen) != 42 || pages != 6 {
		t.Errorf("saw %d rows in %d pages, want 42 in 6", len(seen), pages)
	}
}

func TestBadInput(t *testing.T) {
	n := newNode(t, false)
	seed(t, n)
	deep := strings.Repeat("(", 10000) + "name eq 'x'" + strings.Repeat(")", 10000)
	cases := []struct {
		method, path, body string
		key                string
		status             int
		msg                string
	}{
		{"POST", "/Things", `{"name":"x",`, "admin", 400, "malformed JSON"},
		{"POST", "/Things", `{"name":"x","description":"y","colour":"red"}`, "admin", 400, `no property \"colour\"`},
		{"POST", "/Things", `{"name":5,"description":"y"}`, "admin", 400, "want a string"},
		{"POST", "/Things", `{"description":"y"}`, "admin", 400, "name is required"},
		{"POST", "/Things", `[1,2]`, "admin", 400, "want a JSON object"},
		{"POST", "/Datastreams", `{"name":"d","description":"d","observationType":"x","unitOfMeasurement":{},"Thing":{"@iot.id":99},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`, "admin", 404, "Things(99) does not exist"},
		{"POST", "/Observations", `{"result":1,"Datastream":{"@iot.id":"abc"}}`, "admin", 400, "not an id"},
		{"POST", "/Observations", `{"result":1,"phenomenonTime":"yesterday","Datastream":{"@iot.id":1}}`, "admin", 400, "invalid time"},
		{"POST", "/Observations", `{"result":1,"Datastream":{"@iot.id":77}}`, "admin", 404, "Datastreams(77) does not exist"},
		{"POST", "/Things", `{"name":"` + strings.Repeat("x", 2<<20) + `","description":"y"}`, "admin", 413, "larger than the limit"},
		{"GET", "/Things(abc)", "", "admin", 400, "invalid id"},
		{"GET", "/Things(0)", "", "admin", 400, "invalid id"},
		{"GET", "/Thingz", "", "admin", 404, `no entity set \"Thingz\"`},
		{"GET", "/Things(42)", "", "admin", 404, "Things(42) does not exist"},
		{"GET", "/Things?$filter=" + urlq(deep), "", "admin", 400, "$filter"},
		{"GET", "/Things?$filter=" + urlq(strings.Repeat("not ", 10000)+"true"), "", "admin", 400, "$filter"},
		{"GET", "/Things?$filter=" + urlq("name eq 'x' and (nmae eq 'y')"), "", "admin", 400, "position 18"},
		{"GET", "/Things?$top=-1", "", "admin", 400, "$top"},
		{"GET", "/Things?$frobnicate=1", "", "admin", 400, "$frobnicate"},
		{"GET", "/Things?$expand=Datastreams($filter=nosuch%20eq%201)", "", "admin", 400, "nosuch"},
		{"GET", "/Things", "", "", 401, "API key"},
		{"GET", "/Things", "", "rbt_nope_nope", 401, "invalid or revoked"},
		{"POST", "/Things", `{"name":"x","description":"y"}`, "viewer", 403, "role operator"},
		{"POST", "/Things", `{"name":"x","description":"y"}`, "", 401, "API key"},
		{"POST", "/CreateObservations", `[{"Datastream":{"@iot.id":1},"components":["result","colour"],"dataArray":[[1,2]]}]`, "admin", 400, "unknown component"},
		{"POST", "/CreateObservations", `[{"Datastream":{"@iot.id":1},"components":["result"],"dataArray@iot.count":3,"dataArray":[[1]]}]`, "admin", 400, "dataArray@iot.count"},
		{"PATCH", "/Things", `{}`, "admin", 400, "one entity"},
		{"DELETE", "/Things(1)/name", "", "admin", 400, "one entity"},
	}
	keys := map[string]string{"admin": n.admin, "viewer": n.viewer, "": ""}
	for _, c := range cases {
		k, ok := keys[c.key]
		if !ok {
			k = c.key
		}
		st, b := n.do(c.method, c.path, c.body, k)
		if st != c.status || !strings.Contains(b, c.msg) {
			t.Errorf("%s %.60s: %d %.300s; want %d containing %q", c.method, c.path, st, b, c.status, c.msg)
		}
		if st >= 500 {
			t.Errorf("%s %.60s: a client mistake got %d", c.method, c.path, st)
		}
	}
	// nothing changed
	if got := ids(n.must(200, "GET", "/Things", "")); fmt.Sprint(got) != "[1 2]" {
		t.Errorf("bad requests changed Things: %v", got)
	}
	if m := n.must(200, "GET", "/Observations?$count=true&$top=1", ""); m["@iot.count"].(float64) != 6 {
		t.Errorf("bad requests changed Observations: %v", m["@iot.count"])
	}
}

func TestDataArrayReportsPerItem(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	st, b := n.do("POST", "/CreateObservations", `[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result","parameters"],"dataArray":[
	  ["2025-09-01T00:00:00Z",1,{"source":"test"}],["not a time",2,null],["2025-09-01T01:00:00Z",-50,null],["2025-09-01T02:00:00Z",3]]},
	  {"Datastream":{"@iot.id":99},"components":["result"],"dataArray":[[4]]}]`)
	var res []string
	if err := json.Unmarshal([]byte(b), &res); err != nil || st != 201 || len(res) != 5 {
		t.Fatalf("%d %s", st, b)
	}
	want := []string{"/Observations(7)", "error: ", "/Observations(8)", "error: ", "error: "}
	for i, w := range want {
		if !strings.Contains(res[i], w) {
			t.Errorf("item %d: %q, want %q", i, res[i], w)
		}
	}
	if !strings.Contains(res[4], "Datastreams(99) does not exist") || !strings.Contains(res[3], "has 2 values") {
		t.Errorf("reasons: %q %q", res[3], res[4])
	}
	// QC flags the negative discharge bad but keeps it
	m := n.must(200, "GET", "/Observations(8)", "")
	q := m["resultQuality"].(map[string]any)
	if q["flag"] != "bad" {
		t.Errorf("negative discharge: resultQuality %v", q)
	}
}

func TestBatch(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	m := n.must(200, "POST", "/$batch", `{"requests":[
	  {"id":"t","method":"post","url":"Things","body":{"name":"Qadirabad","description":"barrage"}},
	  {"id":"l","method":"post","url":"$t/Locations","body":{"name":"Qadirabad","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.68,32.32]}}},
	  {"id":"g","method":"get","url":"Things(3)?$expand=Locations"},
	  {"id":"bad","method":"get","url":"Things(77)"}]}`)
	rs := m["responses"].([]any)
	status := func(i int) float64 { return rs[i].(map[string]any)["status"].(float64) }
	if status(0) != 201 || status(1) != 201 || status(2) != 200 || status(3) != 404 {
		t.Fatalf("batch statuses: %v", m)
	}
	body := rs[2].(map[string]any)["body"].(map[string]any)
	if len(body["Locations"].([]any)) != 1 {
		t.Errorf("batch $t reference: %v", body)
	}
}

func TestServiceRootGolden(t *testing.T) {
	n := newNode(t, true)
	seed(t, n)
	for name, path := range map[string]string{
		"root.json":           "/",
		"thing_expanded.json": "/Things(1)?$expand=Locations,Datastreams($select=id,name,unitOfMeasurement,phenomenonTime)",
		"observations.json":   "/Datastreams(2)/Observations?$orderby=phenomenonTime&$count=true",
	} {
		_, b := n.do("GET", path, "")
		var v any
		if err := json.Unmarshal([]byte(b), &v); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		got, _ := json.MarshalIndent(v, "", "  ")
		got = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).ReplaceAll(got, []byte("http://HOST"))
		got = regexp.MustCompile(`"20\d\d-\d\d-\d\dT[^"]*Z"`).ReplaceAllFunc(got, func(b []byte) []byte {
			if bytes.HasPrefix(b, []byte(`"2026`)) || bytes.HasPrefix(b, []byte(`"2027`)) {
				return []byte(`"NOW"`) // server-set times (HistoricalLocation.time)
			}
			return b
		})
		file := filepath.Join("testdata", name)
		if *update {
			os.MkdirAll("testdata", 0o755)
			if err := os.WriteFile(file, append(got, '\n'), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if string(bytes.TrimSpace(want)) != string(got) {
			t.Errorf("%s differs from %s:\n%s", path, file, got)
		}
	}
}

// TestServiceRootLink: the service root points to its OpenAPI document with an RFC 8631
// Link header (rel="service-desc"), at the root as the client reaches it: the request's host,
// or the PublicURL.
func TestServiceRootLink(t *testing.T) {
	n := newNode(t, true)
	for _, tc := range []struct{ public, want string }{
		{"", "<" + n.srv.URL + "/v1.1/api>; rel=\"service-desc\""},
		{"https://example.org/rabta/", `<https://example.org/rabta/v1.1/api>; rel="service-desc"`},
	} {
		st := &sensorthings.Server{PublicRead: true, PublicURL: tc.public, MaxBody: 1 << 20, DefaultTop: 100, MaxTop: 1000}
		h := st.Handler()
		if tc.public == "" {
			h = n.srv.Config.Handler
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", n.srv.URL+"/v1.1/", nil)
		req.Host = strings.TrimPrefix(n.srv.URL, "http://")
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || rec.Header().Get("Link") != tc.want {
			t.Errorf("PublicURL %q: %d, Link %q; want %q", tc.public, rec.Code, rec.Header().Get("Link"), tc.want)
		}
	}
	// an entity set is no service root
	rec := httptest.NewRecorder()
	n.srv.Config.Handler.ServeHTTP(rec, httptest.NewRequest("GET", "/v1.1/Things", nil))
	if rec.Header().Get("Link") != "" {
		t.Errorf("/Things has a Link header: %q", rec.Header().Get("Link"))
	}
}
