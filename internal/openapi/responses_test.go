package openapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/openapi"
	"github.com/rabta/rabta/internal/store/storetest"
)

const adminKey = "openapi-test-admin-key-0123456789"

func init() {
	// Bodies that are not JSON are checked for their content type only. kin-openapi has no
	// decoder for multipart/mixed (its multipart support is multipart/form-data, whose parts
	// it maps to schema properties): a $batch in that format is checked here for its status
	// and content type, and its parts by multipartStatuses below and by the batch tests of
	// internal/sensorthings.
	for _, ct := range []string{"application/cap+xml", "application/atom+xml", "text/html", "multipart/mixed", "audio/wav"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.FileBodyDecoder)
	}
}

// spec is one document with its router and what the run has seen of each operation.
type spec struct {
	name   string
	doc    *openapi3.T
	router routers.Router
	seen   map[*openapi3.Operation]map[int]bool
}

// checker sends requests to a running node and validates each request and response against
// the document that describes its path.
type checker struct {
	t     *testing.T
	base  string
	keys  map[string]string // role → key; "" is no key
	specs []*spec           // SensorThings first, then /api/v1 and /cap
	n     int

	lastHeader http.Header // of the last response
}

func newSpec(t *testing.T, name string, doc []byte) *spec {
	d := load(t, name, doc)
	r, err := gorillamux.NewRouter(d)
	if err != nil {
		t.Fatalf("%s: router: %v", name, err)
	}
	return &spec{name: name, doc: d, router: r, seen: map[*openapi3.Operation]map[int]bool{}}
}

// req is one request of the run. bad marks a request that breaks the document on purpose (to
// provoke an error answer): only its response is validated.
type req struct {
	role, method, path, ctype, body string
	header                          []string
	bad                             bool
}

// do sends r, validates it, and returns the status and body.
func (c *checker) do(r req) (int, []byte) {
	c.t.Helper()
	c.n++
	hr, err := http.NewRequest(r.method, c.base+r.path, strings.NewReader(r.body))
	if err != nil {
		c.t.Fatal(err)
	}
	if r.role != "" {
		hr.Header.Set("Authorization", "Bearer "+c.keys[r.role])
	}
	if r.ctype == "" && r.body != "" {
		r.ctype = "application/json"
	}
	if r.ctype != "" {
		hr.Header.Set("Content-Type", r.ctype)
	}
	for i := 0; i+1 < len(r.header); i += 2 {
		hr.Header.Set(r.header[i], r.header[i+1])
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		c.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	c.lastHeader = resp.Header
	where := fmt.Sprintf("%s %s (%s) → %d %.300s", r.method, r.path, r.role, resp.StatusCode, body)

	sp := c.specs[1]
	if strings.HasPrefix(r.path, "/v1.1") {
		sp = c.specs[0]
	}
	// the router and the validator see the request as sent, its body new
	vr, _ := http.NewRequest(r.method, c.base+r.path, strings.NewReader(r.body))
	vr.Header = hr.Header.Clone()
	route, params, err := sp.router.FindRoute(vr)
	if err != nil {
		c.t.Errorf("%s: no operation in %s: %v", where, sp.name, err)
		return resp.StatusCode, body
	}
	in := &openapi3filter.RequestValidationInput{Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if !r.bad {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			c.t.Errorf("%s: the request breaks %s: %.800s", where, sp.name, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		c.t.Errorf("%s: the response breaks %s: %.800s", where, sp.name, err)
	} else {
		if sp.seen[route.Operation] == nil {
			sp.seen[route.Operation] = map[int]bool{}
		}
		sp.seen[route.Operation][resp.StatusCode] = true
	}
	// Rabta's own API: one JSON style
	if strings.HasPrefix(r.path, "/api/v1/") && !strings.HasPrefix(r.path, openapi.APIPath) && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		for _, p := range openapi.Style(body) {
			c.t.Errorf("%s: JSON style: %s", where, p)
		}
	}
	return resp.StatusCode, body
}

// resp is a response as mustResp returns it.
type resp struct {
	header http.Header
	body   []byte
}

// mustResp is must, with the response's header too.
func (c *checker) mustResp(want int, r req) resp {
	c.t.Helper()
	c.lastHeader = nil
	b := c.must(want, r)
	return resp{header: c.lastHeader, body: b}
}

// must sends r and fails the test unless the status is want.
func (c *checker) must(want int, r req) []byte {
	c.t.Helper()
	st, b := c.do(r)
	if st != want {
		c.t.Fatalf("%s %s (%s): %d %s, want %d", r.method, r.path, r.role, st, b, want)
	}
	return b
}

// id reads "@iot.id" (SensorThings) or "id" from a JSON body.
func id(t *testing.T, b []byte) int64 {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	for _, k := range []string{"@iot.id", "id"} {
		if f, ok := v[k].(float64); ok {
			return int64(f)
		}
	}
	t.Fatalf("no id in %s", b)
	return 0
}

// A running node (the real handler stack: authentication, request ids, metrics, every route)
// answers every operation of both documents as they say, on SQLite and on PostgreSQL: each
// request and each response is validated by kin-openapi's openapi3filter, including every
// error answer, and no status the document does not list passes. Every operation is exercised
// with a success and with an error, and every documented response (status) of every operation
// is provoked, but for the few listed in run, with the reason. Every JSON answer of /api/v1
// is also held to the API's JSON style (openapi.Style).
func TestResponsesMatchDocuments(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dsn := ""
			if engine == "postgres" {
				dsn = storetest.PostgresSchema(t)
			}
			run(t, dsn)
		})
	}
}

func run(t *testing.T, dsn string) {
	ctx := t.Context()
	dir := t.TempDir()
	// keys of lesser roles, made in the store before the node opens it
	st, err := node.OpenStores(ctx, dir, dsn, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]string{"admin": adminKey}
	for role, r := range map[string]auth.Role{"viewer": auth.Viewer, "operator": auth.Operator} {
		k, _, err := auth.Create(ctx, st.Keys, "pdma", r, role)
		if err != nil {
			t.Fatal(err)
		}
		keys[role] = k
	}
	st.Close()
	n, err := node.New(ctx, node.Options{ID: "openapi", DataDir: dir, DB: dsn, HTTPAddr: "127.0.0.1:0", AdminKey: adminKey, MaxBodyBytes: maxBody,
		TickEvery: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	if err := n.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := &checker{t: t, base: "http://" + n.Addr().String(), keys: keys,
		specs: []*spec{newSpec(t, "sensorthings.yaml", openapi.SensorThingsYAML), newSpec(t, "api.yaml", openapi.APIYAML)}}

	ids := sensorThings(c)
	api(c, ids)
	federationAPI(c, ids) // federation_test.go
	unauthenticated(c, ids)

	// coverage: every operation answered with a success and with an error
	// every documented response is provoked, but these
	unprovoked := map[string]bool{
		"getThingPropertyValue 204": true, // the Things made here all have properties
		"importSubscribers 413":     true, // the limit is 256 MiB (MaxImportBody): too much to send here
		"unsubscribe 200":           true, // needs a token from a delivered message
	}
	// 409 needs two requests with one Idempotency-Key at once (TestIdempotencyKey in
	// internal/sensorthings races them); 429 a node with lower limits (TestAbuseLimits in
	// internal/node)
	for _, op := range []string{"createObservations", "createObservation", "createDatastreamObservations", "createMultiDatastreamObservations", "createFeatureOfInterestObservations"} {
		unprovoked[op+" 409"], unprovoked[op+" 429"] = true, true
	}
	noError := map[string]bool{"sensorThingsDocument": true, "apiDocument": true, "unsubscribePage": true, "capFeed": true, "wis2Catalogue": true}
	noSuccess := map[string]bool{
		"unsubscribe": true, // needs a token from a delivered message (internal/dissemination tests it)
	}
	for _, sp := range c.specs {
		var missing []string
		for path, item := range sp.doc.Paths.Map() {
			for method, op := range item.Operations() {
				var ok, bad bool
				for s := range sp.seen[op] {
					ok = ok || s < 400
					bad = bad || s >= 400
				}
				if !ok && !noSuccess[op.OperationID] {
					missing = append(missing, fmt.Sprintf("%s %s (%s): no success", method, path, op.OperationID))
				}
				if !bad && !noError[op.OperationID] {
					missing = append(missing, fmt.Sprintf("%s %s (%s): no error", method, path, op.OperationID))
				}
			}
		}
		sort.Strings(missing)
		for _, m := range missing {
			t.Errorf("%s: not exercised: %s", sp.name, m)
		}
		var documented, answered int
		var unanswered []string
		for _, item := range sp.doc.Paths.Map() {
			for _, op := range item.Operations() {
				for code := range op.Responses.Map() {
					documented++
					var n int
					fmt.Sscan(code, &n)
					if sp.seen[op][n] {
						answered++
					} else {
						unanswered = append(unanswered, op.OperationID+" "+code)
					}
				}
			}
		}
		sort.Strings(unanswered)
		for _, u := range unanswered {
			if !unprovoked[u] {
				t.Errorf("%s: %s is documented but no request here provoked it", sp.name, u)
			}
		}
		t.Logf("%s: %d operations; %d of their %d documented responses answered and validated; not provoked: %s", sp.name, len(sp.seen), answered, documented, strings.Join(unanswered, ", "))
	}
	t.Logf("%d requests validated", c.n)
}

// bodies are valid new entities of each set, without links.
var bodies = map[string]string{
	"Things":              `"name":"t","description":"d","properties":{"river":"Ravi"}`,
	"Locations":           `"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74.28,31.62]}`,
	"HistoricalLocations": `"time":"2025-08-27T06:00:00Z"`,
	"Datastreams":         `"name":"ds","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","unitOfMeasurement":{"name":"cusec","symbol":"cusec","definition":"x"}`,
	"Sensors":             `"name":"s","description":"d","encodingType":"text/html","metadata":"x"`,
	"ObservedProperties":  `"name":"o","definition":"d","description":"d"`,
	"Observations":        `"phenomenonTime":"2025-08-27T06:00:00Z","result":1`,
	"FeaturesOfInterest":  `"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[74.28,31.62]}`,
	"MultiDatastreams": `"name":"md","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",` +
		`"unitOfMeasurements":[{"name":"cusec","symbol":"cusec","definition":"x"}],"multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"]`,
}

// multiObservation is a new Observation of a MultiDatastream of one ObservedProperty (its
// result an array of one value).
const multiObservation = `{"phenomenonTime":"2025-08-27T06:00:00Z","result":[1]}`

// links are the links each set needs on create: navigation → entity set.
var links = map[string][][2]string{
	"HistoricalLocations": {{"Thing", "Things"}},
	"Datastreams":         {{"Thing", "Things"}, {"Sensor", "Sensors"}, {"ObservedProperty", "ObservedProperties"}},
	"Observations":        {{"Datastream", "Datastreams"}},
	"MultiDatastreams":    {{"Thing", "Things"}, {"Sensor", "Sensors"}, {"ObservedProperties", "ObservedProperties"}},
}

// linkJSON is the link nav: {"@iot.id": id}, in an array for a to-many one.
func linkJSON(nav string, id int64) string {
	if nav == "ObservedProperties" { // a MultiDatastream's
		return fmt.Sprintf(`%q:[{"@iot.id":%d}]`, nav, id)
	}
	return fmt.Sprintf(`%q:{"@iot.id":%d}`, nav, id)
}

// nullProp is a property that is null in the entities made here, by set.
var nullProp = map[string]string{"Locations": "properties", "Datastreams": "properties", "Sensors": "properties", "ObservedProperties": "properties",
	"Observations": "parameters", "FeaturesOfInterest": "properties", "MultiDatastreams": "properties"}

// singles names a set's entity type.
var singles = map[string]string{"Things": "Thing", "Locations": "Location", "HistoricalLocations": "HistoricalLocation", "Datastreams": "Datastream",
	"Sensors": "Sensor", "ObservedProperties": "ObservedProperty", "Observations": "Observation", "FeaturesOfInterest": "FeatureOfInterest",
	"MultiDatastreams": "MultiDatastream"}

// body is a new entity of set linked by id to what ids holds, but for the link by (the
// navigation a parent already gives).
func body(set string, ids map[string]int64, by string) string {
	b := "{" + bodies[set]
	for _, l := range links[set] {
		if l[0] != by {
			b += "," + linkJSON(l[0], ids[l[1]])
		}
	}
	return b + "}"
}

// big is a body over the node's limit (maxBody).
var big = `{"name":"` + strings.Repeat("x", maxBody) + `"}`

const maxBody = 64 << 10

// missingLink is a new entity of set that links an entity that does not exist: its required
// link, or for a set without one, a Datastream or Thing.
func missingLink(set string, ids map[string]int64) string {
	b := "{" + bodies[set]
	switch ls := links[set]; {
	case len(ls) > 0:
		b += "," + linkJSON(ls[0][0], 999999)
		for _, l := range ls[1:] {
			b += "," + linkJSON(l[0], ids[l[1]])
		}
	case set == "Locations":
		b += `,"Things":[{"@iot.id":999999}]`
	case set == "FeaturesOfInterest":
		b += `,"Observations":[{"@iot.id":999999}]`
	default:
		b += `,"Datastreams":[{"@iot.id":999999}]`
	}
	return b + "}"
}

var pathVar = regexp.MustCompile(`\{(\w+)\}`)

// sensorThings exercises every SensorThings operation with a success and an error, and returns
// the id of one entity of each set.
func sensorThings(c *checker) map[string]int64 {
	t := c.t
	// the service root points to this document (RFC 8631), which is where the link says
	root := c.mustResp(200, req{role: "viewer", method: "GET", path: "/v1.1/"})
	m := regexp.MustCompile(`^<([^>]+)>; rel="service-desc"$`).FindStringSubmatch(root.header.Get("Link"))
	if m == nil || !strings.HasPrefix(m[1], c.base+"/") {
		t.Fatalf("service root Link %q: want <%s/v1.1/api>; rel=\"service-desc\"", root.header.Get("Link"), c.base)
	}
	if doc := c.must(200, req{method: "GET", path: strings.TrimPrefix(m[1], c.base)}); !bytes.Contains(doc, []byte(`"openapi": "3.`)) {
		t.Errorf("the service-desc link %s is no OpenAPI document: %.200s", m[1], doc)
	}
	// one of everything, by deep insert
	thing := c.must(201, req{role: "operator", method: "POST", path: "/v1.1/Things", body: `{` + bodies["Things"] + `,
		"Locations":[{` + bodies["Locations"] + `}],
		"Datastreams":[{` + bodies["Datastreams"] + `,"Sensor":{` + bodies["Sensors"] + `},"ObservedProperty":{` + bodies["ObservedProperties"] + `},
		"Observations":[{` + bodies["Observations"] + `,"FeatureOfInterest":{` + bodies["FeaturesOfInterest"] + `}}]}]}`})
	ids := map[string]int64{"Things": id(t, thing)}
	for _, set := range []string{"Locations", "HistoricalLocations", "Datastreams", "Sensors", "ObservedProperties", "Observations", "FeaturesOfInterest"} {
		var page struct{ Value []map[string]any }
		json.Unmarshal(c.must(200, req{role: "viewer", method: "GET", path: "/v1.1/" + set + "?$top=1&$count=true"}), &page)
		if len(page.Value) != 1 {
			t.Fatalf("%s: %v", set, page)
		}
		ids[set] = int64(page.Value[0]["@iot.id"].(float64))
	}
	// a MultiDatastream (18-088 §9) and an Observation of it
	ids["MultiDatastreams"] = id(t, c.must(201, req{role: "operator", method: "POST", path: "/v1.1/MultiDatastreams", body: body("MultiDatastreams", ids, "")}))
	ids["multiObservation"] = id(t, c.must(201, req{role: "operator", method: "POST", path: fmt.Sprintf("/v1.1/MultiDatastreams(%d)/Observations", ids["MultiDatastreams"]), body: multiObservation}))
	// every operation the document lists, from its paths
	sp := c.specs[0]
	paths := sp.doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, p := range paths {
		item := sp.doc.Paths.Value(p)
		set, _, _ := strings.Cut(strings.TrimPrefix(p, "/"), "(")
		set, _, _ = strings.Cut(set, "/")
		if _, ok := bodies[set]; !ok {
			continue // /, /api, /$batch, /CreateObservations: below
		}
		fill := func(id any, prop string) string {
			return "/v1.1" + pathVar.ReplaceAllStringFunc(p, func(v string) string {
				if v == "{id}" {
					return fmt.Sprint(id)
				}
				return prop
			})
		}
		hasID := strings.Contains(p, "{id}")
		nav := ""
		if parts := strings.Split(p, "/"); len(parts) > 2 && !strings.HasPrefix(parts[2], "{") && !strings.HasPrefix(parts[2], "$") {
			nav = parts[2]
		}
		for method := range item.Operations() {
			if method != "GET" && strings.HasSuffix(p, "/$ref") {
				continue // link writes: refWrites, below
			}
			switch method {
			case "GET":
				prop := "name"
				if set == "HistoricalLocations" {
					prop = "time"
				} else if set == "Observations" {
					prop = "result"
				}
				op := item.GetOperation(method)
				own := ids[set]
				if p == "/Observations({id})/MultiDatastream" {
					own = ids["multiObservation"] // an Observation of a Datastream has none
				}
				c.must(200, req{role: "viewer", method: "GET", path: fill(own, prop)})
				if null, ok := nullProp[set]; ok && strings.HasSuffix(p, "$value") {
					c.must(204, req{role: "viewer", method: "GET", path: fill(ids[set], null)})
				}
				if strings.Contains(p, "{property}") {
					c.must(404, req{role: "viewer", method: "GET", path: fill(ids[set], "nope"), bad: true})
				}
				if hasID {
					c.must(404, req{role: "viewer", method: "GET", path: fill(999999, prop)})
					c.must(400, req{role: "viewer", method: "GET", path: fill("x", prop)})
				}
				if op.Parameters.GetByInAndName("query", "$filter") != nil {
					c.must(400, req{role: "viewer", method: "GET", path: fill(ids[set], prop) + "?$filter=name%20eq"})
				}
			case "POST":
				target := set
				if nav != "" {
					n, _ := sensingNav(set, nav)
					target = n
				}
				by := ""
				if nav != "" {
					by = back(set, target)
				}
				newBody := body(target, ids, by)
				if set == "MultiDatastreams" && target == "Observations" {
					newBody = multiObservation
				}
				b := c.must(201, req{role: "operator", method: "POST", path: fill(ids[set], ""), body: newBody})
				if nav == "" {
					ids["new"+set] = id(t, b)
				}
				c.must(413, req{role: "operator", method: "POST", path: fill(ids[set], ""), body: big, bad: true})
				if hasID { // through a parent that does not exist
					c.must(404, req{role: "operator", method: "POST", path: fill(999999, ""), body: newBody})
				} else { // linking an entity that does not exist
					c.must(404, req{role: "operator", method: "POST", path: fill(0, ""), body: missingLink(target, ids)})
				}
				c.must(400, req{role: "operator", method: "POST", path: fill(ids[set], ""), body: `{"@iot.id": "x"}`, bad: true})
				c.must(403, req{role: "viewer", method: "POST", path: fill(ids[set], ""), body: body(target, ids, by)})
			case "PATCH":
				patch := `{"description":"changed"}`
				switch set {
				case "Observations":
					patch = `{"result":2}`
				case "HistoricalLocations":
					patch = `{"time":"2025-08-27T07:00:00Z"}`
				}
				c.must(200, req{role: "operator", method: "PATCH", path: fill(ids[set], ""), body: patch})
				c.must(404, req{role: "operator", method: "PATCH", path: fill(999999, ""), body: patch})
				c.must(400, req{role: "operator", method: "PATCH", path: fill(ids[set], ""), body: `{"name":`, bad: true})
				c.must(413, req{role: "operator", method: "PATCH", path: fill(ids[set], ""), body: big, bad: true})
				c.must(403, req{role: "viewer", method: "PATCH", path: fill(ids[set], ""), body: patch})

			case "PUT":
				c.must(200, req{role: "operator", method: "PUT", path: fill(ids[set], ""), body: body(set, ids, "")})
				c.must(404, req{role: "operator", method: "PUT", path: fill(999999, ""), body: body(set, ids, "")})
				c.must(413, req{role: "operator", method: "PUT", path: fill(ids[set], ""), body: big, bad: true})
				c.must(403, req{role: "viewer", method: "PUT", path: fill(ids[set], ""), body: body(set, ids, "")})
				c.must(400, req{role: "operator", method: "PUT", path: fill(ids[set], ""), body: `[]`, bad: true})
			case "DELETE":
				// a fresh one, made above by the POST to the collection
				fresh, ok := ids["new"+set]
				if !ok {
					t.Fatalf("DELETE %s before its POST", p)
				}
				c.must(403, req{role: "viewer", method: "DELETE", path: fill(fresh, "")})
				c.must(400, req{role: "operator", method: "DELETE", path: fill("x", "")})
				c.must(200, req{role: "operator", method: "DELETE", path: fill(fresh, "")})
				c.must(404, req{role: "operator", method: "DELETE", path: fill(fresh, "")})
			}
		}
	}
	// the query options together: nested $expand with its own options, $select, $orderby,
	// $count, and server-driven paging followed to the next page (';' sent as %3B, which
	// Go's URL parser, used by the validator, refuses raw)
	c.must(201, req{role: "operator", method: "POST", path: "/v1.1/Things", body: body("Things", ids, "")})
	page := c.must(200, req{role: "viewer", method: "GET", path: "/v1.1/Things?$expand=Locations,Datastreams($expand=Observations($top=1%3B$orderby=phenomenonTime%20desc)%3B$count=true)" +
		"&$select=name,id,Datastreams,Locations&$orderby=id&$top=1&$count=true&$filter=" + url.QueryEscape("name eq 't' and geo.distance(Locations/location, geography'POINT(74.28 31.62)') lt 1")})
	var p struct {
		Next  string           `json:"@iot.nextLink"`
		Value []map[string]any `json:"value"`
	}
	if err := json.Unmarshal(page, &p); err != nil || p.Next == "" || len(p.Value) != 1 || p.Value[0]["Datastreams"] == nil {
		t.Fatalf("a page with everything: %v %s", err, page)
	}
	c.must(200, req{role: "viewer", method: "GET", path: strings.TrimPrefix(p.Next, c.base)})
	c.must(200, req{role: "operator", method: "PATCH", path: fmt.Sprintf("/v1.1/Observations(%d)", ids["Observations"]),
		body: fmt.Sprintf(`{"FeatureOfInterest":{"@iot.id":%d}}`, ids["FeaturesOfInterest"])})

	// the dataArray format, both ways
	c.must(200, req{role: "viewer", method: "GET", path: "/v1.1/Observations?$resultFormat=dataArray"})
	c.must(200, req{role: "viewer", method: "GET", path: fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$resultFormat=dataArray&$count=true", ids["Datastreams"])})
	c.must(201, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations",
		body: fmt.Sprintf(`[{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[["2025-08-27T12:00:00Z",5],["nope",6]]}]`, ids["Datastreams"])})
	c.must(200, req{role: "viewer", method: "GET", path: fmt.Sprintf("/v1.1/MultiDatastreams(%d)/Observations?$resultFormat=dataArray", ids["MultiDatastreams"])})
	c.must(201, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations",
		body: fmt.Sprintf(`[{"MultiDatastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[["2025-08-27T12:00:00Z",[5]],["2025-08-27T13:00:00Z",[5,6]]]}]`, ids["MultiDatastreams"])})
	c.must(400, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations", body: `{"dataArray":1}`, bad: true})
	// Idempotency-Key: the first answer, the same again, another request with the key
	idem := fmt.Sprintf(`[{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[["2025-08-29T12:00:00Z",5]]}]`, ids["Datastreams"])
	first := c.must(201, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations", body: idem, header: []string{"Idempotency-Key", `"oas-1"`}})
	if again := c.mustResp(201, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations", body: idem, header: []string{"Idempotency-Key", `"oas-1"`}}); string(again.body) != string(first) || again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("Idempotency-Key retry: %s %v, want %s again", again.body, again.header, first)
	}
	c.must(422, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations", body: strings.Replace(idem, ",5]", ",6]", 1), header: []string{"Idempotency-Key", "oas-1"}})
	for i, p := range []struct{ path, body string }{
		{fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", ids["Datastreams"]), `{"phenomenonTime":"2025-08-29T13:00:0%dZ","result":1}`},
		{fmt.Sprintf("/v1.1/MultiDatastreams(%d)/Observations", ids["MultiDatastreams"]), `{"phenomenonTime":"2025-08-29T14:00:0%dZ","result":[1]}`},
		{fmt.Sprintf("/v1.1/FeaturesOfInterest(%d)/Observations", ids["FeaturesOfInterest"]), `{"phenomenonTime":"2025-08-29T15:00:0%dZ","result":1,"Datastream":{"@iot.id":` + fmt.Sprint(ids["Datastreams"]) + `}}`},
		{"/v1.1/Observations", `{"phenomenonTime":"2025-08-29T16:00:0%dZ","result":1,"Datastream":{"@iot.id":` + fmt.Sprint(ids["Datastreams"]) + `}}`},
	} {
		key := []string{"Idempotency-Key", fmt.Sprintf("oas-%d", i+2)}
		c.must(201, req{role: "operator", method: "POST", path: p.path, body: fmt.Sprintf(p.body, 1), header: key})
		c.must(422, req{role: "operator", method: "POST", path: p.path, body: fmt.Sprintf(p.body, 2), header: key})
	}
	c.must(403, req{role: "viewer", method: "POST", path: "/v1.1/CreateObservations", body: `[]`})
	c.must(413, req{role: "operator", method: "POST", path: "/v1.1/CreateObservations", body: big, bad: true})
	c.must(413, req{role: "operator", method: "POST", path: "/v1.1/$batch", body: big, bad: true})
	c.must(403, req{role: "viewer", method: "POST", path: "/v1.1/$batch", body: `{"requests":[]}`})
	// a batch
	c.must(200, req{role: "operator", method: "POST", path: "/v1.1/$batch", body: `{"requests":[
		{"id":"1","method":"post","url":"Things","body":{"name":"b","description":"batch"}},
		{"id":"2","method":"get","url":"$1"},
		{"id":"3","method":"get","url":"Things(999999)"}]}`})
	c.must(400, req{role: "operator", method: "POST", path: "/v1.1/$batch", body: `{"requests":[{"id":"1","method":"TRACE","url":"Things"}]}`, bad: true})
	c.must(400, req{role: "operator", method: "POST", path: "/v1.1/$batch", body: `{"requests":1}`, bad: true})
	batches(c, ids)
	refWrites(c, ids)
	return ids
}

// batches sends the batch formats beyond a plain JSON batch: atomicity groups, dependsOn and
// Prefer: odata.continue-on-error in JSON; change sets and Content-ID references in
// multipart/mixed.
func batches(c *checker, ids map[string]int64) {
	t := c.t
	loc := "{" + bodies["Locations"] + "}"
	b := c.must(200, req{role: "operator", method: "POST", path: "/v1.1/$batch", header: []string{"Prefer", "odata.continue-on-error"}, body: `{"requests":[
		{"id":"t","atomicityGroup":"g","method":"post","url":"Things","body":{"name":"grouped","description":"batch"}},
		{"id":"l","atomicityGroup":"g","method":"post","url":"$t/Locations","body":` + loc + `},
		{"id":"o","atomicityGroup":"h","method":"post","url":"Things","body":{"name":"rolled back","description":"batch"}},
		{"id":"bad","atomicityGroup":"h","method":"post","url":"Datastreams(999999)/Observations","body":{` + bodies["Observations"] + `}},
		{"id":"dep","method":"get","url":"$t","dependsOn":["h"]},
		{"id":"ok","method":"get","url":"$t/Locations","dependsOn":["g","l"]}]}`})
	var out struct {
		Responses []struct {
			ID     string `json:"id"`
			Status int    `json:"status"`
		} `json:"responses"`
	}
	json.Unmarshal(b, &out)
	var got []string
	for _, r := range out.Responses {
		got = append(got, fmt.Sprintf("%s:%d", r.ID, r.Status))
	}
	if want := "t:201 l:201 o:424 bad:404 dep:424 ok:200"; strings.Join(got, " ") != want {
		t.Errorf("JSON batch with groups: %s, want %s\n%s", strings.Join(got, " "), want, b)
	}

	part := func(boundary, id, method, url, body string) string {
		s := "--" + boundary + "\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
		if id != "" {
			s += "Content-ID: " + id + "\r\n"
		}
		s += "\r\n" + method + " " + url + " HTTP/1.1\r\n"
		if body != "" {
			s += "Content-Type: application/json\r\n\r\n" + body + "\r\n"
		} else {
			s += "\r\n"
		}
		return s
	}
	mp := part("b", "thing", "POST", "Things", `{"name":"multipart","description":"batch"}`) +
		"--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" +
		part("cs", "ds", "POST", "$thing/Datastreams", body("Datastreams", ids, "Thing")) +
		part("cs", "obs", "POST", "$ds/Observations", fmt.Sprintf(`{%s,"FeatureOfInterest":{"@iot.id":%d}}`, bodies["Observations"], ids["FeaturesOfInterest"])) +
		"--cs--\r\n" +
		"--b\r\nContent-Type: multipart/mixed; boundary=cs2\r\n\r\n" +
		part("cs2", "x", "POST", "Things", `{"name":"rolled back","description":"batch"}`) +
		part("cs2", "y", "DELETE", "Things(999999)", "") +
		"--cs2--\r\n" +
		part("b", "", "GET", "$thing/Datastreams?$select=name", "") +
		"--b--\r\n"
	resp := c.mustResp(200, req{role: "operator", method: "POST", path: "/v1.1/$batch", ctype: "multipart/mixed; boundary=b", body: mp,
		header: []string{"Prefer", "continue-on-error"}})
	if s := multipartStatuses(t, resp.header.Get("Content-Type"), resp.body); s != "thing:201 [ds:201 obs:201] y:404 :200" {
		t.Errorf("multipart batch: %s\n%s", s, resp.body)
	}
	if resp.header.Get("Preference-Applied") != "continue-on-error" {
		t.Errorf("multipart batch: Preference-Applied %q", resp.header.Get("Preference-Applied"))
	}
	c.must(400, req{role: "operator", method: "POST", path: "/v1.1/$batch", ctype: "multipart/mixed", body: mp, bad: true})
	c.must(400, req{role: "operator", method: "POST", path: "/v1.1/$batch", ctype: "multipart/mixed; boundary=b",
		body: "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n" + part("cs", "", "GET", "Things", "") + "--cs--\r\n--b--\r\n"})
}

// multipartStatuses reads a multipart/mixed batch response: "<Content-ID>:<status>" per
// part, a change set's in brackets.
func multipartStatuses(t *testing.T, contentType string, body []byte) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("batch response Content-Type %q", contentType)
	}
	var read func(r io.Reader, boundary string) string
	read = func(r io.Reader, boundary string) string {
		var out []string
		mr := multipart.NewReader(r, boundary)
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("batch response: %v", err)
			}
			pmt, pp, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
			if pmt == "multipart/mixed" {
				out = append(out, "["+read(p, pp["boundary"])+"]")
				continue
			}
			resp, err := http.ReadResponse(bufio.NewReader(p), nil)
			if err != nil || pmt != "application/http" {
				t.Fatalf("batch response part %v: %v", p.Header, err)
			}
			resp.Body.Close()
			out = append(out, fmt.Sprintf("%s:%d", p.Header.Get("Content-Id"), resp.StatusCode))
		}
		return strings.Join(out, " ")
	}
	return read(bytes.NewReader(body), params["boundary"])
}

// refWrites sends every link write the document lists (POST, PUT and DELETE on .../$ref)
// with a success and each documented error. A POST or PUT links the entity already linked
// (re-pointing a child to its own parent, or adding a link that exists: 204, nothing
// changes); a DELETE removes a link (made first: a PUT of the entity above may have replaced
// its links), is repeated (404: no such link), and the link is put back.
func refWrites(c *checker, ids map[string]int64) {
	sp := c.specs[0]
	paths := sp.doc.Paths.InMatchingOrder()
	sort.Strings(paths)
	// the entity of a set that is linked to the one of another set in ids
	of := func(set, parent string) int64 {
		switch {
		case set == "Observations" && parent == "MultiDatastreams":
			return ids["multiObservation"]
		}
		return ids[set]
	}
	seg := regexp.MustCompile(`^/(\w+)\(\{id\}\)/(\w+)(\(\{linked\}\))?/\$ref$`)
	for _, p := range paths {
		m := seg.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		set, nav, one := m[1], m[2], m[3] != ""
		target, _ := sensingNav(set, nav)
		parent := ids[set]
		if set == "Observations" && nav == "MultiDatastream" {
			parent = ids["multiObservation"]
		}
		child := of(target, set)
		coll := fmt.Sprintf("/v1.1/%s(%%v)/%s/$ref", set, nav)
		link := fmt.Sprintf(`{"@iot.id":%d}`, child)
		item := sp.doc.Paths.Value(p)
		for method := range item.Operations() {
			switch {
			case method == "POST" || method == "PUT":
				c.must(204, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: link})
				c.must(204, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: fmt.Sprintf(`{"@iot.selfLink":"%s/v1.1/%s(%d)"}`, c.base, target, child)})
				c.must(400, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: `{"@iot.id":"x"}`})
				c.must(400, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: `{"@odata.id":"Nothing(1)"}`})
				c.must(404, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: `{"@iot.id":999999}`})
				c.must(404, req{role: "operator", method: method, path: fmt.Sprintf(coll, 999999), body: link})
				c.must(403, req{role: "viewer", method: method, path: fmt.Sprintf(coll, parent), body: link})
				c.must(413, req{role: "operator", method: method, path: fmt.Sprintf(coll, parent), body: big, bad: true})
			case method == "DELETE" && one:
				path := fmt.Sprintf("/v1.1/%s(%d)/%s(%d)/$ref", set, parent, nav, child)
				c.must(204, req{role: "operator", method: "POST", path: fmt.Sprintf(coll, parent), body: link}) // linked, whatever ran before
				c.must(403, req{role: "viewer", method: "DELETE", path: path})
				c.must(400, req{role: "operator", method: "DELETE", path: fmt.Sprintf("/v1.1/%s(%d)/%s(x)/$ref", set, parent, nav)})
				c.must(204, req{role: "operator", method: "DELETE", path: path})
				c.must(404, req{role: "operator", method: "DELETE", path: path})
				c.must(204, req{role: "operator", method: "POST", path: fmt.Sprintf(coll, parent), body: link})
			case method == "DELETE":
				byID := fmt.Sprintf(coll, parent) + "?$id=" + url.QueryEscape(fmt.Sprintf("%s/v1.1/%s(%d)", c.base, target, child))
				c.must(204, req{role: "operator", method: "POST", path: fmt.Sprintf(coll, parent), body: link})
				c.must(403, req{role: "viewer", method: "DELETE", path: byID})
				c.must(400, req{role: "operator", method: "DELETE", path: fmt.Sprintf(coll, parent) + "?$id=Nothing(1)"})
				c.must(204, req{role: "operator", method: "DELETE", path: byID})
				c.must(404, req{role: "operator", method: "DELETE", path: byID})
				c.must(204, req{role: "operator", method: "POST", path: fmt.Sprintf(coll, parent), body: link})
			}
		}
	}
}

// sensingNav returns the entity set a navigation of set leads to.
func sensingNav(set, nav string) (string, bool) {
	for s, single := range singles {
		if nav == s || nav == single {
			return s, true
		}
	}
	return "", false
}

// back is the navigation of target that leads back to parent (the link a POST through
// parent/nav gives), e.g. Datastreams → Things: "Thing".
func back(parent, target string) string {
	for _, l := range links[target] {
		if l[1] == parent {
			return l[0]
		}
	}
	return ""
}

// unauthenticated sends every operation that needs a key without one: a 401, as documented.
func unauthenticated(c *checker, ids map[string]int64) {
	for _, sp := range c.specs {
		for p, item := range sp.doc.Paths.Map() {
			for method, op := range item.Operations() {
				sec := sp.doc.Security
				if op.Security != nil {
					sec = *op.Security
				}
				open := len(sec) == 0
				for _, s := range sec {
					open = open || len(s) == 0
				}
				if open && sp.name == "api.yaml" || p == "/api" {
					continue
				}
				path := pathVar.ReplaceAllStringFunc(p, func(v string) string {
					if v == "{property}" {
						return "id"
					}
					return "1"
				})
				if sp.name == "sensorthings.yaml" {
					path = "/v1.1" + path
				}
				body := ""
				if op.RequestBody != nil {
					body = "{}"
				}
				c.must(401, req{method: method, path: path, body: body, bad: true})
			}
		}
	}
}

const apiRules = `rules:
  - id: ravi-review
    name: Ravi, reviewed
    kind: threshold
    datastreams: [%[1]d]
    levels:
      - {name: High, value: 1000, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    hysteresis: 5%%
    hold: 0s
    clearHold: 90m
    area: {desc: Lahore district, geocodes: [{name: district, value: PK-Lahore}], circles: [{center: [31.62, 74.28], radiusKm: 5}]}
    status: Exercise
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}", description: "{{.Value}}", instruction: "Move to higher ground."}
  - id: ravi-second
    name: Ravi, a second opinion
    kind: threshold
    datastreams: [%[1]d]
    levels:
      - {name: High, value: 1000, severity: Severe, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Shahdara, circles: [{center: [31.62, 74.28], radiusKm: 5}]}
    status: Exercise
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}"}
  - id: silent
    name: gauges silent
    kind: silence
    maxGap: 48h
    datastreams: [%[1]d]
`

// api exercises every operation of /api/v1 and /cap with a success and an error.
func api(c *checker, ids map[string]int64) {
	t := c.t
	ds := ids["Datastreams"]
	yml := func(s string) req {
		return req{role: "admin", method: "PUT", path: "/api/v1/rules", ctype: "application/yaml", body: s}
	}
	c.must(200, yml(fmt.Sprintf(apiRules, ds)))
	bad := yml("rules:\n  - id: x\n    kind: threshold\n")
	bad.bad = true
	c.must(400, bad)
	forbidden := yml(fmt.Sprintf(apiRules, ds))
	forbidden.role = "operator"
	c.must(403, forbidden)
	c.must(413, yml("# "+strings.Repeat("x", 1<<20)+"\nrules: []\n"))
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/rules"})
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/rules?organisation=admin"})
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/rules/ravi-review/changes"})
	c.must(404, req{role: "viewer", method: "GET", path: "/api/v1/rules/nothing/changes"})
	otherOrg := yml(fmt.Sprintf(apiRules, ds))
	otherOrg.path += "?organisation=pdma"
	c.must(409, otherOrg) // the node-wide admin: the rule ids are the node's organisation's
	unknown := yml("rules: []\n")
	unknown.path += "?organisation=ndma"
	c.must(404, unknown) // an organisation the node does not know
	c.must(404, req{role: "viewer", method: "GET", path: "/api/v1/rules?organisation=ndma"})
	c.must(400, req{role: "viewer", method: "GET", path: "/api/v1/rules?organisation=Not%20A%20Name"}) // no organisation can have it
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/openapi.json"})

	// the river network: none yet, refusals, then one stored and read
	c.must(404, req{role: "viewer", method: "GET", path: "/api/v1/forecast/network"})
	var thing struct {
		ID int64 `json:"@iot.id"`
	}
	json.Unmarshal(c.must(200, req{role: "viewer", method: "GET", path: fmt.Sprintf("/v1.1/Datastreams(%d)/Thing", ds)}), &thing)
	network := fmt.Sprintf("name: test\nstations:\n  - {id: a, thing: %d, discharge: %d}\n  - {id: b}\nreaches:\n  - {from: a, to: b, travel_time_h: 6}\n", thing.ID, ds)
	net := func(role, body string) req {
		return req{role: role, method: "PUT", path: "/api/v1/forecast/network", ctype: "application/yaml", body: body}
	}
	c.must(403, net("operator", network))
	badNet := net("admin", strings.Replace(network, "to: b", "to: c", 1))
	badNet.bad = true
	c.must(400, badNet)
	noThing := net("admin", strings.Replace(network, fmt.Sprintf("thing: %d", thing.ID), "thing: 999999", 1))
	c.must(404, noThing)
	c.must(413, net("admin", "# "+strings.Repeat("x", 1<<20)+"\nname: x\nstations: [{id: a}]\n"))
	c.must(200, net("admin", network))
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/forecast/network"})

	// two drafts, one per rule
	c.must(201, req{role: "operator", method: "POST", path: fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", ds), body: `{"phenomenonTime":"` + time.Now().UTC().Format(time.RFC3339) + `","result":2500}`})
	var list struct {
		Value []struct {
			ID   int64  `json:"id"`
			Rule string `json:"rule"`
		} `json:"value"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for len(list.Value) < 2 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		list.Value = nil
		json.Unmarshal(c.must(200, req{role: "admin", method: "GET", path: "/api/v1/alerts?state=draft"}), &list)
	}
	if len(list.Value) != 2 {
		t.Fatalf("drafts: %+v", list)
	}
	alertOf := map[string]int64{}
	for _, a := range list.Value {
		alertOf[a.Rule] = a.ID
	}
	review, second := alertOf["ravi-review"], alertOf["ravi-second"]
	c.must(400, req{role: "viewer", method: "GET", path: "/api/v1/alerts?state=open", bad: true})
	detail := c.must(200, req{role: "admin", method: "GET", path: fmt.Sprintf("/api/v1/alerts/%d", review)})
	if !bytes.Contains(detail, []byte(`"infos"`)) || !bytes.Contains(detail, []byte(`"areas"`)) {
		t.Errorf("a draft's detail without its CAP infos: %s", detail)
	}
	// the drafts are organisation admin's: a viewer of pdma lists none and reads neither
	if b := c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/alerts?state=draft"}); bytes.Contains(b, []byte(`"id"`)) {
		t.Errorf("a viewer of another organisation lists the drafts: %s", b)
	}
	c.must(404, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/alerts/%d", review)})
	c.must(404, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/alerts/%d/deliveries", review)})
	c.must(404, req{role: "viewer", method: "GET", path: "/api/v1/alerts/999999"})
	c.must(400, req{role: "viewer", method: "GET", path: "/api/v1/alerts/x", bad: true})
	c.must(403, req{role: "operator", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/approve", review), body: `{"why":"x"}`})
	// editing a draft's text (the second: with four eyes, its editor could not approve it)
	editPath := fmt.Sprintf("/api/v1/alerts/%d/edit", second)
	c.must(403, req{role: "operator", method: "POST", path: editPath, body: `{"why":"x","infos":[{"language":"en","headline":"h"}]}`})
	c.must(400, req{role: "admin", method: "POST", path: editPath, body: `{"why":"x","infos":[{"language":"fr","headline":"h"}]}`})
	c.must(400, req{role: "admin", method: "POST", path: editPath, body: `{"why":"x","infos":[{"language":"en","headline":"` + strings.Repeat("h", 201) + `"}]}`, bad: true})
	c.must(404, req{role: "admin", method: "POST", path: "/api/v1/alerts/999999/edit", body: `{"why":"x","infos":[{"language":"en","headline":"h"}]}`})
	c.must(413, req{role: "admin", method: "POST", path: editPath, body: `{"why":"` + strings.Repeat("x", 512<<10) + `","infos":[]}`, bad: true})
	edited := c.must(200, req{role: "admin", method: "POST", path: editPath, body: `{"why":"clearer","infos":[{"language":"en","headline":"Edited headline","instruction":"Leave now."}]}`})
	if !bytes.Contains(edited, []byte(`"Edited headline"`)) || !bytes.Contains(edited, []byte(`"edited: clearer"`)) || !bytes.Contains(edited, []byte(`"as": "edit"`)) {
		t.Errorf("edited: %.2000s", edited)
	}
	c.must(200, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/reject", second), body: `{"why":"one is enough"}`})
	c.must(409, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/reject", second), body: `{"why":"again"}`})
	c.must(409, req{role: "admin", method: "POST", path: editPath, body: `{"why":"x","infos":[{"language":"en","headline":"h"}]}`})
	c.must(400, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/approve", review), body: `{"because":"x"}`, bad: true})
	issued := c.must(200, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/approve", review), body: `{"why":"checked"}`})
	var a struct {
		Messages []struct{ Identifier string } `json:"messages"`
	}
	json.Unmarshal(issued, &a)
	if len(a.Messages) != 1 {
		t.Fatalf("approved: %s", issued)
	}
	ident := a.Messages[0].Identifier
	c.must(404, req{role: "admin", method: "POST", path: "/api/v1/alerts/999999/approve"})
	c.must(409, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/approve", review), body: `{"why":"again"}`})
	c.must(413, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/approve", review), body: bigWhy, bad: true})
	c.must(403, req{role: "operator", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/reject", review), body: `{"why":"x"}`})
	c.must(404, req{role: "admin", method: "POST", path: "/api/v1/alerts/999999/reject"})
	c.must(400, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/reject", review), body: `{"why":1}`, bad: true})
	c.must(413, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/reject", review), body: bigWhy, bad: true})
	c.must(403, req{role: "operator", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/cancel", review), body: `{"why":"x"}`})
	c.must(404, req{role: "admin", method: "POST", path: "/api/v1/alerts/999999/cancel", body: `{"why":"x"}`})
	c.must(413, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/cancel", review), body: bigWhy, bad: true})
	c.must(400, req{role: "viewer", method: "GET", path: "/api/v1/alerts/x/deliveries", bad: true})
	c.must(200, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/alerts/%d/deliveries", review)})
	c.must(404, req{role: "viewer", method: "GET", path: "/api/v1/alerts/999999/deliveries"})

	// the CAP feed and message
	c.must(200, req{method: "GET", path: "/cap/alerts.atom"})
	_, etagResp := c.do(req{method: "GET", path: "/cap/alerts.atom"})
	_ = etagResp
	xml := c.must(200, req{method: "GET", path: "/cap/alerts/" + ident + ".xml"})
	c.must(404, req{method: "GET", path: "/cap/alerts/nope.xml"})
	// its audio (docs/voice.md)
	c.must(200, req{method: "GET", path: "/cap/alerts/" + ident + "/audio/en.wav"})
	c.must(206, req{method: "GET", path: "/cap/alerts/" + ident + "/audio/en.wav", header: []string{"Range", "bytes=0-43"}})
	c.must(400, req{method: "GET", path: "/cap/alerts/" + ident + "/audio/en.mp3"})
	c.must(404, req{method: "GET", path: "/cap/alerts/nope/audio/en.wav"})
	c.must(200, req{role: "viewer", method: "POST", path: "/api/v1/cap/verify", ctype: "application/cap+xml", body: string(xml)})
	c.must(400, req{role: "viewer", method: "POST", path: "/api/v1/cap/verify", ctype: "application/cap+xml", body: strings.Replace(string(xml), "flood", "FLOOD", 1)})
	c.must(413, req{role: "viewer", method: "POST", path: "/api/v1/cap/verify", ctype: "application/cap+xml", body: strings.Repeat(" ", 5<<20+1)})
	c.must(400, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/cancel", review), body: `{}`})
	c.must(200, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/cancel", review), body: `{"why":"the river fell"}`})
	c.must(409, req{role: "admin", method: "POST", path: fmt.Sprintf("/api/v1/alerts/%d/cancel", review), body: `{"why":"again"}`})
	c.must(200, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/alerts/%d", review)})
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/alerts"})
	etag := conditional(c, "/cap/alerts.atom")
	c.must(304, req{method: "GET", path: "/cap/alerts.atom", header: []string{"If-None-Match", etag}})
	etag = conditional(c, "/cap/alerts/"+ident+".xml")
	c.must(304, req{method: "GET", path: "/cap/alerts/" + ident + ".xml", header: []string{"If-None-Match", etag}})

	// subscribers
	sub := `{"name":"Ayesha","language":"ur","place":"district:Lahore","contacts":[{"channel":"sms","address":"0300 1234567"}],"consent":{"source":"test"}}`
	b := c.must(201, req{role: "operator", method: "POST", path: "/api/v1/subscribers", body: sub})
	sid := id(t, b)
	c.must(409, req{role: "operator", method: "POST", path: "/api/v1/subscribers", body: sub})
	c.must(400, req{role: "operator", method: "POST", path: "/api/v1/subscribers", body: `{"name":"X","language":"ur","place":"district:Lahore","contacts":[{"channel":"sms","address":"12"}]}`})
	c.must(403, req{role: "viewer", method: "POST", path: "/api/v1/subscribers", body: sub})
	c.must(413, req{role: "operator", method: "POST", path: "/api/v1/subscribers", body: `{"name":"` + strings.Repeat("x", 64<<10) + `"}`, bad: true})
	c.must(403, req{role: "viewer", method: "GET", path: "/api/v1/subscribers"})
	c.must(403, req{role: "viewer", method: "GET", path: fmt.Sprintf("/api/v1/subscribers/%d", sid)})
	c.must(400, req{role: "operator", method: "GET", path: "/api/v1/subscribers/x", bad: true})
	c.must(403, req{role: "viewer", method: "DELETE", path: fmt.Sprintf("/api/v1/subscribers/%d", sid)})
	c.must(400, req{role: "operator", method: "DELETE", path: "/api/v1/subscribers/x", bad: true})
	c.must(400, req{role: "operator", method: "POST", path: "/api/v1/subscribers", body: strings.Replace(sub, `{`, `{"org":"ndma",`, 1), bad: true})
	c.must(200, req{role: "operator", method: "GET", path: "/api/v1/subscribers?limit=1"})
	c.must(400, req{role: "operator", method: "GET", path: "/api/v1/subscribers?limit=0"})
	c.must(200, req{role: "operator", method: "GET", path: fmt.Sprintf("/api/v1/subscribers/%d", sid)})
	c.must(404, req{role: "operator", method: "GET", path: "/api/v1/subscribers/999999"})
	c.must(200, req{role: "operator", method: "POST", path: "/api/v1/subscribers/import", ctype: "text/csv",
		body: "name,language,audiences,place,lat,lon,radius_km,phone,email,webhook,webhook_secret,consent_source,consent_at\n" +
			"Bilal,en,public,district:Lahore,,,,+923011234567,,,,test,2026-06-01T09:00:00Z\n" +
			"Nobody,en,public,district:Nowhere,,,,+923011234568,,,,test,2026-06-01T09:00:00Z\n"})
	c.must(403, req{role: "viewer", method: "POST", path: "/api/v1/subscribers/import", ctype: "text/csv", body: "name\n"})
	c.must(400, req{role: "operator", method: "POST", path: "/api/v1/subscribers/import", ctype: "text/csv", body: "nom,langue\nX,ur\n"})
	c.must(204, req{role: "operator", method: "DELETE", path: fmt.Sprintf("/api/v1/subscribers/%d", sid), body: `{"reason":"asked to"}`})
	c.must(404, req{role: "operator", method: "DELETE", path: fmt.Sprintf("/api/v1/subscribers/%d", sid)})

	// impact, unsubscribing, quality control
	c.must(200, req{role: "viewer", method: "POST", path: "/api/v1/impact", body: `{"desc":"Shahdara","circles":[{"center":{"lat":31.62,"lon":74.28},"radiusKm":5}]}`})
	c.must(400, req{role: "viewer", method: "POST", path: "/api/v1/impact", body: `{"desc":"nothing"}`})
	c.must(413, req{role: "viewer", method: "POST", path: "/api/v1/impact", body: `{"desc":"` + strings.Repeat("x", 1<<20) + `"}`})
	c.must(200, req{method: "GET", path: "/api/v1/unsubscribe?token=x"})
	c.must(400, req{method: "POST", path: "/api/v1/unsubscribe?token=x"})
	c.must(200, req{role: "viewer", method: "GET", path: "/api/v1/qc/silent"})
	apiKeys(c)
}

// bigWhy is a decision over its limit of 64 KiB.
var bigWhy = `{"why":"` + strings.Repeat("x", 64<<10) + `"}`

// conditional returns the ETag of a GET of path.
func conditional(c *checker, path string) string {
	c.t.Helper()
	resp, err := http.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") == "" {
		c.t.Fatalf("%s: no ETag", path)
	}
	return resp.Header.Get("ETag")
}
