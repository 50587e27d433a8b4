package node_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/node"
)

// The authorisation matrix (issue 15, "organisations are a boundary"): every write a client
// can make — each SensorThings entity type's POST, PATCH, PUT and DELETE, links by @iot.id and
// deep inserts, $ref writes, $batch parts, CreateObservations, Rabta's /api/v1 writes, and
// every MQTT topic a client may publish to — tried by each role (anonymous, viewer, operator,
// approver, an organisation's admin, the node-wide admin) on what its own organisation owns and
// on what another organisation owns. Each cell asserts the exact answer: allowed (2xx, and for
// MQTT the observation stored) or refused (401 anonymous, 403 a too-weak role or another
// organisation's entity, 404 where ids must not leak), and for a refusal that nothing changed.

const (
	orgA = "punjab" // the organisation of the keys tried ("own")
	orgB = "sindh"  // the other organisation ("other")
)

// matrixRoles are the rows of the matrix: "" is anonymous; "node-admin" the node-wide admin.
var matrixRoles = []string{"anonymous", "viewer", "operator", "approver", "admin", "node-admin"}

// fx is one station of an organisation: a Thing with a Location and HistoricalLocation, a
// Datastream (Sensor, ObservedProperty) with an Observation at a FeatureOfInterest, and a
// MultiDatastream (with a Sensor and ObservedProperty of its own), made in one deep insert.
type fx struct {
	org                                          string
	thing, loc, hl, sensor, op, foi, ds, obs, md int64
}

type authzEnv struct {
	t    *testing.T
	n    *node.Node
	keys map[string]string // "<org>/<role>" → key; "admin/admin" is the node-wide admin's
}

// keyOf returns the key of role in org ("" for anonymous).
func (e *authzEnv) keyOf(org, role string) string {
	switch role {
	case "anonymous":
		return ""
	case "node-admin":
		return adminKey
	}
	return e.keys[org+"/"+role]
}

// orgOfRole is the organisation a role's key belongs to.
func orgOfRole(role string) string {
	if role == "node-admin" {
		return auth.NodeOrganisation
	}
	return orgA
}

func (e *authzEnv) req(key, method, path, body string) (int, string) {
	e.t.Helper()
	return e.reqType(key, method, path, "application/json", body)
}

func (e *authzEnv) reqType(key, method, path, ctype, body string) (int, string) {
	e.t.Helper()
	req, _ := http.NewRequest(method, "http://"+e.n.Addr().String()+path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
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

func (e *authzEnv) must(key, method, path, body string) map[string]any {
	e.t.Helper()
	st, b := e.req(key, method, path, body)
	if st/100 != 2 {
		e.t.Fatalf("setup %s %s: %d %s", method, path, st, b)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(b), &v); err != nil {
		e.t.Fatalf("setup %s %s: %v in %s", method, path, err, b)
	}
	return v
}

func idOf(v any) int64 {
	m, _ := v.(map[string]any)
	f, _ := m["@iot.id"].(float64)
	return int64(f)
}

func first(v map[string]any, nav string) map[string]any {
	l, _ := v[nav].([]any)
	if len(l) == 0 {
		return nil
	}
	m, _ := l[0].(map[string]any)
	return m
}

const (
	measurement = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
	uom         = `{"name":"cusec","symbol":"[cft_i]/s","definition":"q"}`
	point       = `{"type":"Point","coordinates":[73.9,32.4]}`
	sensorBody  = `{"name":"s","description":"s","encodingType":"text/html","metadata":"x"}`
	opBody      = `{"name":"Discharge","definition":"d","description":"d"}`
	foiBody     = `{"name":"reach","description":"r","encodingType":"application/geo+json","feature":` + point + `}`
	locBody     = `{"name":"site","description":"site","encodingType":"application/geo+json","location":` + point + `}`
)

// fixture makes a station owned by org, with org's admin key (the node-wide admin's for
// auth.NodeOrganisation): the creates themselves give it its organisation.
func (e *authzEnv) fixture(org string) fx {
	e.t.Helper()
	key := e.keys[org+"/admin"]
	if org == auth.NodeOrganisation {
		key = adminKey
	}
	th := e.must(key, "POST", "/v1.1/Things", `{"name":"station","description":"gauge","Locations":[`+locBody+`],
	  "Datastreams":[{"name":"q","description":"discharge","observationType":"`+measurement+`","unitOfMeasurement":`+uom+`,
	   "Sensor":`+sensorBody+`,"ObservedProperty":`+opBody+`,
	   "Observations":[{"phenomenonTime":"2026-01-01T00:00:00Z","result":1,"FeatureOfInterest":`+foiBody+`}]}],
	  "MultiDatastreams":[{"name":"md","description":"md","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
	   "unitOfMeasurements":[`+uom+`],"multiObservationDataTypes":["`+measurement+`"],"Sensor":`+sensorBody+`,"ObservedProperties":[`+opBody+`]}]}`)
	f := fx{org: org, thing: idOf(th)}
	v := e.must(key, "GET", fmt.Sprintf("/v1.1/Things(%d)?$expand=Locations,HistoricalLocations,MultiDatastreams,Datastreams($expand=Sensor,ObservedProperty,Observations($expand=FeatureOfInterest))", f.thing), "")
	f.loc, f.hl, f.md = idOf(first(v, "Locations")), idOf(first(v, "HistoricalLocations")), idOf(first(v, "MultiDatastreams"))
	ds := first(v, "Datastreams")
	f.ds, f.sensor, f.op = idOf(ds), idOf(ds["Sensor"]), idOf(ds["ObservedProperty"])
	o := first(ds, "Observations")
	f.obs, f.foi = idOf(o), idOf(o["FeatureOfInterest"])
	if f.loc == 0 || f.hl == 0 || f.ds == 0 || f.sensor == 0 || f.op == 0 || f.obs == 0 || f.foi == 0 || f.md == 0 {
		e.t.Fatalf("fixture of %s incomplete: %+v", org, f)
	}
	return f
}

// snapshot is everything of f as the node-wide admin reads it, to hold a refused write to
// having changed nothing.
func (e *authzEnv) snapshot(f fx) string {
	e.t.Helper()
	st, b := e.req(adminKey, "GET", fmt.Sprintf("/v1.1/Things(%d)?$expand=Locations,HistoricalLocations($expand=Locations),Datastreams($expand=Sensor,ObservedProperty,Observations($expand=FeatureOfInterest)),MultiDatastreams($expand=ObservedProperties,Observations($expand=FeatureOfInterest))", f.thing), "")
	if st != 200 {
		return fmt.Sprintf("status %d: %s", st, b)
	}
	return b
}

// sharedFx is a station that refused cells share, with its snapshot when made.
type sharedFx struct {
	fx
	snap string
}

// write is one cell's action: it returns the answer as a status (for a $batch part or a
// CreateObservations row, the part's or row's) and the body.
type write func(e *authzEnv, key string, tgt, mine fx) (int, string)

// stCase is a row of the matrix.
type stCase struct {
	name    string
	minRole auth.Role // the least role allowed
	// owned: the write changes (or adds to, or links) an entity of tgt, so another
	// organisation's tgt is refused; false for creates of nothing existing and links to the
	// shared vocabularies (Sensors, ObservedProperties, FeaturesOfInterest), which any
	// organisation may make.
	owned    bool
	notFound bool // another organisation's entity is answered 404 (ids do not leak)
	do       write
}

func path(f string, a ...any) string { return "/v1.1/" + fmt.Sprintf(f, a...) }

// simple is a write of one request.
func simple(method, p string, body func(tgt, mine fx) string, target func(tgt, mine fx) []any) write {
	return func(e *authzEnv, key string, tgt, mine fx) (int, string) {
		b := ""
		if body != nil {
			b = body(tgt, mine)
		}
		return e.req(key, method, path(p, target(tgt, mine)...), b)
	}
}

func lit(s string) func(fx, fx) string { return func(fx, fx) string { return s } }
func none(fx, fx) []any                { return nil }

// sensorThingsCases are the SensorThings writes.
func sensorThingsCases() []stCase {
	tg := func(f func(fx) int64) func(tgt, mine fx) []any {
		return func(tgt, _ fx) []any { return []any{f(tgt)} }
	}
	thing := tg(func(f fx) int64 { return f.thing })
	ids := map[string]func(fx) int64{
		"Things": func(f fx) int64 { return f.thing }, "Locations": func(f fx) int64 { return f.loc },
		"HistoricalLocations": func(f fx) int64 { return f.hl }, "Sensors": func(f fx) int64 { return f.sensor },
		"ObservedProperties": func(f fx) int64 { return f.op }, "FeaturesOfInterest": func(f fx) int64 { return f.foi },
		"Datastreams": func(f fx) int64 { return f.ds }, "MultiDatastreams": func(f fx) int64 { return f.md },
		"Observations": func(f fx) int64 { return f.obs },
	}
	patch := map[string]string{
		"Things": `{"description":"changed"}`, "Locations": `{"description":"changed"}`,
		"HistoricalLocations": `{"time":"2026-02-01T00:00:00Z"}`, "Sensors": `{"description":"changed"}`,
		"ObservedProperties": `{"description":"changed"}`, "FeaturesOfInterest": `{"description":"changed"}`,
		"Datastreams": `{"description":"changed"}`, "MultiDatastreams": `{"description":"changed"}`,
		"Observations": `{"result":5}`,
	}
	put := map[string]string{
		"Things":              `{"name":"n","description":"replaced"}`,
		"Locations":           `{"name":"n","description":"replaced","encodingType":"application/geo+json","location":` + point + `}`,
		"HistoricalLocations": `{"time":"2026-02-02T00:00:00Z"}`,
		"Sensors":             `{"name":"n","description":"replaced","encodingType":"text/html","metadata":"y"}`,
		"ObservedProperties":  `{"name":"n","definition":"d2","description":"replaced"}`,
		"FeaturesOfInterest":  `{"name":"n","description":"replaced","encodingType":"application/geo+json","feature":` + point + `}`,
		"Datastreams":         `{"name":"n","description":"replaced","observationType":"` + measurement + `","unitOfMeasurement":` + uom + `}`,
		"MultiDatastreams": `{"name":"n","description":"replaced","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
		  "unitOfMeasurements":[` + uom + `],"multiObservationDataTypes":["` + measurement + `"]}`,
		"Observations": `{"phenomenonTime":"2026-01-05T00:00:00Z","result":6}`,
	}
	var cs []stCase
	sets := []string{"Things", "Locations", "HistoricalLocations", "Sensors", "ObservedProperties", "FeaturesOfInterest", "Datastreams", "MultiDatastreams", "Observations"}
	for _, set := range sets {
		id := tg(ids[set])
		cs = append(cs,
			stCase{name: "PATCH " + set, minRole: auth.Operator, owned: true, do: simple("PATCH", set+"(%d)", lit(patch[set]), id)},
			stCase{name: "PUT " + set, minRole: auth.Operator, owned: true, do: simple("PUT", set+"(%d)", lit(put[set]), id)},
			stCase{name: "DELETE " + set, minRole: auth.Operator, owned: true, do: simple("DELETE", set+"(%d)", nil, id)},
		)
	}
	body := func(f string, a func(tgt, mine fx) []any) func(tgt, mine fx) string {
		return func(tgt, mine fx) string { return fmt.Sprintf(f, a(tgt, mine)...) }
	}
	t := func(get ...func(fx) int64) func(tgt, mine fx) []any { // ids of tgt
		return func(tgt, _ fx) []any {
			var out []any
			for _, g := range get {
				out = append(out, g(tgt))
			}
			return out
		}
	}
	th, ds, md, loc, sen, op, foi, obs := ids["Things"], ids["Datastreams"], ids["MultiDatastreams"], ids["Locations"], ids["Sensors"], ids["ObservedProperties"], ids["FeaturesOfInterest"], ids["Observations"]
	mt := func(a, b func(fx) int64) func(tgt, mine fx) []any { // an id of mine, then one of tgt
		return func(tgt, mine fx) []any { return []any{a(mine), b(tgt)} }
	}
	dsBody := `{"name":"q2","description":"d","observationType":"` + measurement + `","unitOfMeasurement":` + uom + `,`
	cs = append(cs,
		// creates of nothing existing: any organisation's operator
		stCase{name: "POST Things", minRole: auth.Operator, do: simple("POST", "Things", lit(`{"name":"n","description":"d"}`), none)},
		stCase{name: "POST Things deep (Location, Datastream, Observation)", minRole: auth.Operator, do: simple("POST", "Things", lit(`{"name":"n","description":"d","Locations":[`+locBody+`],
		  "Datastreams":[`+dsBody+`"Sensor":`+sensorBody+`,"ObservedProperty":`+opBody+`,"Observations":[{"phenomenonTime":"2026-01-02T00:00:00Z","result":2}]}]}`), none)},
		stCase{name: "POST Locations", minRole: auth.Operator, do: simple("POST", "Locations", lit(locBody), none)},
		stCase{name: "POST Sensors", minRole: auth.Operator, do: simple("POST", "Sensors", lit(sensorBody), none)},
		stCase{name: "POST ObservedProperties", minRole: auth.Operator, do: simple("POST", "ObservedProperties", lit(opBody), none)},
		stCase{name: "POST FeaturesOfInterest", minRole: auth.Operator, do: simple("POST", "FeaturesOfInterest", lit(foiBody), none)},
		// creates that link or add to an existing entity of tgt
		stCase{name: "POST Datastreams on tgt's Thing", minRole: auth.Operator, owned: true, do: simple("POST", "Datastreams",
			body(dsBody+`"Thing":{"@iot.id":%d},"Sensor":{"@iot.id":%d},"ObservedProperty":{"@iot.id":%d}}`, tm3(th, sen, op)), none)},
		stCase{name: "POST Things(tgt)/Datastreams", minRole: auth.Operator, owned: true, do: simple("POST", "Things(%d)/Datastreams",
			lit(dsBody+`"Sensor":`+sensorBody+`,"ObservedProperty":`+opBody+`}`), thing)},
		stCase{name: "POST MultiDatastreams on tgt's Thing", minRole: auth.Operator, owned: true, do: simple("POST", "MultiDatastreams",
			body(`{"name":"m","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
			  "unitOfMeasurements":[`+uom+`],"multiObservationDataTypes":["`+measurement+`"],"Thing":{"@iot.id":%d},"Sensor":{"@iot.id":%d},"ObservedProperties":[{"@iot.id":%d}]}`, tm3(th, sen, op)), none)},
		stCase{name: "POST Observations into tgt's Datastream", minRole: auth.Operator, owned: true, do: simple("POST", "Observations",
			body(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"Datastream":{"@iot.id":%d}}`, t(ds)), none)},
		stCase{name: "POST Observations into tgt's Datastream with a new FeatureOfInterest (deep insert)", minRole: auth.Operator, owned: true, do: simple("POST", "Observations",
			body(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"Datastream":{"@iot.id":%d},"FeatureOfInterest":`+foiBody+`}`, t(ds)), none)},
		stCase{name: "POST Observations, an inline FeatureOfInterest holding an Observation of tgt's Datastream", minRole: auth.Operator, owned: true, do: simple("POST", "Datastreams(%d)/Observations",
			func(tgt, _ fx) string {
				return fmt.Sprintf(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"FeatureOfInterest":{"name":"reach","description":"r","encodingType":"application/geo+json","feature":%s,
				  "Observations":[{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"Datastream":{"@iot.id":%d}}]}}`, point, tgt.ds)
			}, func(_, mine fx) []any { return []any{mine.ds} })},
		stCase{name: "POST Observations into tgt's MultiDatastream", minRole: auth.Operator, owned: true, do: simple("POST", "Observations",
			body(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":[2],"MultiDatastream":{"@iot.id":%d}}`, t(md)), none)},
		stCase{name: "POST Datastreams(tgt)/Observations", minRole: auth.Operator, owned: true, do: simple("POST", "Datastreams(%d)/Observations",
			lit(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2}`), t(ds))},
		stCase{name: "POST MultiDatastreams(tgt)/Observations", minRole: auth.Operator, owned: true, do: simple("POST", "MultiDatastreams(%d)/Observations",
			lit(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":[2]}`), t(md))},
		stCase{name: "POST Things(tgt)/Locations", minRole: auth.Operator, owned: true, do: simple("POST", "Things(%d)/Locations", lit(locBody), thing)},
		stCase{name: "POST Locations linking tgt's Thing", minRole: auth.Operator, owned: true, do: simple("POST", "Locations",
			body(strings.TrimSuffix(locBody, "}")+`,"Things":[{"@iot.id":%d}]}`, t(th)), none)},
		stCase{name: "POST Things linking tgt's Location", minRole: auth.Operator, owned: true, do: simple("POST", "Things",
			body(`{"name":"n","description":"d","Locations":[{"@iot.id":%d}]}`, t(loc)), none)},
		stCase{name: "POST Things taking tgt's Datastream", minRole: auth.Operator, owned: true, do: simple("POST", "Things",
			body(`{"name":"n","description":"d","Datastreams":[{"@iot.id":%d}]}`, t(ds)), none)},
		stCase{name: "POST HistoricalLocations of tgt's Thing", minRole: auth.Operator, owned: true, do: simple("POST", "HistoricalLocations",
			body(`{"time":"2026-01-03T00:00:00Z","Thing":{"@iot.id":%d},"Locations":[{"@iot.id":%d}]}`, t(th, loc)), none)},
		// links to the shared vocabularies: allowed across organisations
		stCase{name: "POST Datastreams with tgt's Sensor and ObservedProperty (shared)", minRole: auth.Operator, do: simple("POST", "Datastreams",
			body(dsBody+`"Thing":{"@iot.id":%d},"Sensor":{"@iot.id":%d},"ObservedProperty":{"@iot.id":%d}}`,
				func(tgt, mine fx) []any { return []any{mine.thing, tgt.sensor, tgt.op} }), none)},
		stCase{name: "POST Observations at tgt's FeatureOfInterest (shared)", minRole: auth.Operator, do: simple("POST", "Observations",
			body(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"Datastream":{"@iot.id":%d},"FeatureOfInterest":{"@iot.id":%d}}`, mt(ds, foi)), none)},
		stCase{name: "POST FeaturesOfInterest(tgt)/Observations into own Datastream (shared)", minRole: auth.Operator, do: func(e *authzEnv, key string, tgt, mine fx) (int, string) {
			return e.req(key, "POST", path("FeaturesOfInterest(%d)/Observations", tgt.foi), fmt.Sprintf(`{"phenomenonTime":"2026-01-02T00:00:00Z","result":2,"Datastream":{"@iot.id":%d}}`, mine.ds))
		}},
		// updates that change links
		stCase{name: "PATCH own Datastream onto tgt's Thing", minRole: auth.Operator, owned: true, do: simple("PATCH", "Datastreams(%d)",
			body(`{"Thing":{"@iot.id":%d}}`, t(th)), func(_, mine fx) []any { return []any{mine.ds} })},
		stCase{name: "PATCH own Observation into tgt's Datastream", minRole: auth.Operator, owned: true, do: simple("PATCH", "Observations(%d)",
			body(`{"Datastream":{"@iot.id":%d}}`, t(ds)), func(_, mine fx) []any { return []any{mine.obs} })},
		stCase{name: "PATCH own Thing to tgt's Location", minRole: auth.Operator, owned: true, do: simple("PATCH", "Things(%d)",
			body(`{"Locations":[{"@iot.id":%d}]}`, t(loc)), func(_, mine fx) []any { return []any{mine.thing} })},
		stCase{name: "PATCH own Datastream to tgt's ObservedProperty (shared)", minRole: auth.Operator, do: simple("PATCH", "Datastreams(%d)",
			body(`{"ObservedProperty":{"@iot.id":%d}}`, t(op)), func(_, mine fx) []any { return []any{mine.ds} })},
		// $ref writes
		stCase{name: "POST Things(tgt)/Locations/$ref own Location", minRole: auth.Operator, owned: true, do: simple("POST", "Things(%d)/Locations/$ref",
			body(`{"@iot.id":%d}`, func(_, mine fx) []any { return []any{mine.loc} }), thing)},
		stCase{name: "POST Things(own)/Locations/$ref tgt's Location", minRole: auth.Operator, owned: true, do: simple("POST", "Things(%d)/Locations/$ref",
			body(`{"@iot.id":%d}`, t(loc)), func(_, mine fx) []any { return []any{mine.thing} })},
		stCase{name: "DELETE Things(tgt)/Locations(tgt)/$ref", minRole: auth.Operator, owned: true, do: simple("DELETE", "Things(%d)/Locations(%d)/$ref", nil, t(th, loc))},
		stCase{name: "DELETE Locations(tgt)/Things/$ref?$id=Things(tgt)", minRole: auth.Operator, owned: true, do: func(e *authzEnv, key string, tgt, _ fx) (int, string) {
			return e.req(key, "DELETE", path("Locations(%d)/Things/$ref?$id=Things(%d)", tgt.loc, tgt.thing), "")
		}},
		stCase{name: "PUT Datastreams(tgt)/Sensor/$ref own Sensor", minRole: auth.Operator, owned: true, do: simple("PUT", "Datastreams(%d)/Sensor/$ref",
			body(`{"@iot.id":%d}`, func(_, mine fx) []any { return []any{mine.sensor} }), t(ds))},
		stCase{name: "PUT Datastreams(own)/Thing/$ref tgt's Thing", minRole: auth.Operator, owned: true, do: simple("PUT", "Datastreams(%d)/Thing/$ref",
			body(`{"@iot.id":%d}`, t(th)), func(_, mine fx) []any { return []any{mine.ds} })},
		stCase{name: "POST Things(own)/Datastreams/$ref tgt's Datastream", minRole: auth.Operator, owned: true, do: simple("POST", "Things(%d)/Datastreams/$ref",
			body(`{"@iot.id":%d}`, t(ds)), func(_, mine fx) []any { return []any{mine.thing} })},
		stCase{name: "PUT Observations(tgt)/Datastream/$ref own Datastream", minRole: auth.Operator, owned: true, do: simple("PUT", "Observations(%d)/Datastream/$ref",
			body(`{"@iot.id":%d}`, func(_, mine fx) []any { return []any{mine.ds} }), t(obs))},
		stCase{name: "PUT Datastreams(own)/Sensor/$ref tgt's Sensor (shared)", minRole: auth.Operator, do: simple("PUT", "Datastreams(%d)/Sensor/$ref",
			body(`{"@iot.id":%d}`, t(sen)), func(_, mine fx) []any { return []any{mine.ds} })},
		stCase{name: "PUT Observations(own)/FeatureOfInterest/$ref tgt's FeatureOfInterest (shared)", minRole: auth.Operator, do: simple("PUT", "Observations(%d)/FeatureOfInterest/$ref",
			body(`{"@iot.id":%d}`, t(foi)), func(_, mine fx) []any { return []any{mine.obs} })},
		// $batch parts (JSON and multipart), CreateObservations rows
		stCase{name: "$batch (JSON) PATCH Things(tgt)", minRole: auth.Operator, owned: true, do: batchJSON(`{"id":"1","method":"patch","url":"Things(%d)","body":{"description":"b"}}`, th)},
		stCase{name: "$batch (JSON, atomicity group) DELETE Datastreams(tgt)", minRole: auth.Operator, owned: true, do: batchJSON(`{"id":"1","atomicityGroup":"g","method":"delete","url":"Datastreams(%d)"}`, ds)},
		stCase{name: "$batch (JSON) POST Observations into tgt's Datastream", minRole: auth.Operator, owned: true, do: batchJSON(`{"id":"1","method":"post","url":"Observations","body":{"result":3,"Datastream":{"@iot.id":%d}}}`, ds)},
		stCase{name: "$batch (multipart change set) DELETE Things(tgt)", minRole: auth.Operator, owned: true, do: batchMultipart("DELETE", "Things(%d)", th)},
		stCase{name: "$batch (multipart) PATCH Sensors(tgt)", minRole: auth.Operator, owned: true, do: batchMultipart("PATCH", "Sensors(%d)", sen)},
		stCase{name: "CreateObservations into tgt's Datastream", minRole: auth.Operator, owned: true, do: dataArray("Datastream", ds, "3")},
		stCase{name: "CreateObservations into tgt's MultiDatastream", minRole: auth.Operator, owned: true, do: dataArray("MultiDatastream", md, "[3]")},
	)
	return cs
}

// tm3 gives three ids of tgt.
func tm3(a, b, c func(fx) int64) func(tgt, mine fx) []any {
	return func(tgt, _ fx) []any { return []any{a(tgt), b(tgt), c(tgt)} }
}

// batchJSON is a JSON $batch of one request (fmt with an id of tgt); its answer is the part's.
func batchJSON(req string, id func(fx) int64) write {
	return func(e *authzEnv, key string, tgt, _ fx) (int, string) {
		st, b := e.req(key, "POST", "/v1.1/$batch", `{"requests":[`+fmt.Sprintf(req, id(tgt))+`]}`)
		if st != 200 {
			return st, b
		}
		var v struct {
			Responses []struct {
				Status int             `json:"status"`
				Body   json.RawMessage `json:"body"`
			} `json:"responses"`
		}
		if err := json.Unmarshal([]byte(b), &v); err != nil || len(v.Responses) != 1 {
			return 0, "unreadable batch answer: " + b
		}
		return v.Responses[0].Status, string(v.Responses[0].Body)
	}
}

var partStatus = regexp.MustCompile(`HTTP/1\.1 (\d{3})`)

// batchMultipart is a multipart $batch holding one change set of one request.
func batchMultipart(method, url string, id func(fx) int64) write {
	return func(e *authzEnv, key string, tgt, _ fx) (int, string) {
		body := "--b\r\nContent-Type: multipart/mixed; boundary=cs\r\n\r\n--cs\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: 1\r\n\r\n" +
			method + " " + fmt.Sprintf(url, id(tgt)) + " HTTP/1.1\r\nContent-Type: application/json\r\n\r\n"
		if method == "PATCH" {
			body += `{"description":"b"}`
		}
		body += "\r\n--cs--\r\n--b--\r\n"
		st, b := e.reqType(key, "POST", "/v1.1/$batch", "multipart/mixed; boundary=b", body)
		if st != 200 {
			return st, b
		}
		m := partStatus.FindStringSubmatch(b)
		if m == nil {
			return 0, "no part status in: " + b
		}
		var part int
		fmt.Sscan(m[1], &part)
		return part, b
	}
}

// dataArray is a CreateObservations request of one row; its answer is the row's: 201 for a
// link, 403 for an error naming an organisation, 400 for another error.
func dataArray(nav string, id func(fx) int64, result string) write {
	return func(e *authzEnv, key string, tgt, _ fx) (int, string) {
		st, b := e.req(key, "POST", "/v1.1/CreateObservations", fmt.Sprintf(`[{%q:{"@iot.id":%d},"components":["phenomenonTime","result"],"dataArray":[["2026-01-04T00:00:00Z",%s]]}]`, nav, id(tgt), result))
		if st != 201 {
			return st, b
		}
		var rows []string
		if err := json.Unmarshal([]byte(b), &rows); err != nil || len(rows) != 1 {
			return 0, "unreadable answer: " + b
		}
		switch {
		case !strings.HasPrefix(rows[0], "error"):
			return 201, b
		case strings.Contains(rows[0], "organisation"):
			return 403, b
		}
		return 400, b
	}
}

// expect is the answer a role must get: 0 for allowed (any 2xx), else the exact status.
func expect(role string, c stCase, other bool) int {
	switch {
	case role == "anonymous":
		return 401
	case roleOf(role) < c.minRole:
		return 403
	case other && c.owned && role != "node-admin":
		if c.notFound {
			return 404
		}
		return 403
	}
	return 0
}

func roleOf(role string) auth.Role {
	if role == "node-admin" {
		return auth.Admin
	}
	r, _ := auth.ParseRole(role)
	return r
}

// startAuthz starts a node whose key store holds, besides the node-wide admin's, a key of each
// role in orgA and orgB (made before the node opens the data directory, as `rabta keys create`
// does).
func startAuthz(t *testing.T) *authzEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := node.OpenStores(t.Context(), dir, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &authzEnv{t: t, keys: map[string]string{}}
	for _, org := range []string{orgA, orgB} {
		for _, role := range []auth.Role{auth.Viewer, auth.Operator, auth.Approver, auth.Admin} {
			k, _, err := auth.Create(t.Context(), st.Keys, org, role, org+"-"+role.String())
			if err != nil {
				t.Fatal(err)
			}
			e.keys[org+"/"+role.String()] = k
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	n, err := node.New(t.Context(), node.Options{
		ID: "authz", DataDir: dir,
		HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		AdminKey: adminKey, TickEvery: 200 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
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
	e.n = n
	return e
}

// TestAuthorizationMatrix runs every SensorThings write and every /api/v1 write of the main
// table for each role on its own organisation's and on another organisation's entities, and
// the MQTT topics likewise (TestAuthorizationMatrixMQTT).
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	e := startAuthz(t)
	cases := sensorThingsCases()
	var cells, refused, allowed int
	stations := map[string]*sharedFx{}
	shared := func(org string) *sharedFx {
		if stations[org] == nil {
			f := e.fixture(org)
			stations[org] = &sharedFx{f, e.snapshot(f)}
		}
		return stations[org]
	}
	for _, c := range cases {
		for _, role := range matrixRoles {
			for _, other := range []bool{false, true} {
				side := "own"
				if other {
					side = "other"
				}
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, role, side), func(t *testing.T) {
					e.t = t
					want := expect(role, c, other)
					cells++
					if want == 0 { // it changes things: stations of its own for this cell alone
						allowed++
						mine := e.fixture(orgOfRole(role))
						tgt := mine
						if other {
							tgt = e.fixture(orgB)
						}
						if st, body := c.do(e, e.keyOf(orgA, role), tgt, mine); st/100 != 2 {
							t.Errorf("want it allowed, got %d %s", st, body)
						}
						return
					}
					// refused: the stations every refused cell shares, which must not change
					refused++
					mine := shared(orgOfRole(role))
					tgt := mine
					if other {
						tgt = shared(orgB)
					}
					st, body := c.do(e, e.keyOf(orgA, role), tgt.fx, mine.fx)
					if st != want {
						t.Errorf("want %d, got %d %s", want, st, body)
					}
					if want == 403 && role != "viewer" && !strings.Contains(body, "organisation") {
						t.Errorf("the refusal does not name the organisations: %s", body)
					}
					for _, f := range []*sharedFx{mine, tgt} {
						if after := e.snapshot(f.fx); after != f.snap {
							t.Errorf("refused, yet %s's station changed:\nbefore %s\nafter  %s", f.org, f.snap, after)
							delete(stations, f.org) // a fresh one for the next cells, so that one fault shows once
						}
					}
				})
			}
		}
	}
	t.Logf("SensorThings matrix: %d cases × %d roles × own/other = %d cells: %d allowed, %d refused", len(cases), len(matrixRoles), cells, allowed, refused)
}

// mqttPub publishes msg to topic with QoS 1 as key (mosquitto_pub, as a logger would); err
// when the connection is refused.
func mqttPub(addr, key, topic, msg string) error {
	host, port, _ := net.SplitHostPort(addr)
	args := []string{"-h", host, "-p", port, "-q", "1", "-t", topic, "-m", msg}
	if key != "" {
		args = append(args, "-u", "client", "-P", key)
	}
	out, err := exec.Command("mosquitto_pub", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%v: %s", err, out)
	}
	return nil
}

// at is the unique phenomenon time of MQTT message v (a MultiDatastream's array result cannot
// be filtered on; a logger's bare number on the ingest topic has the time it arrives).
func at(v int64) string {
	return time.Date(2026, 1, 6, 0, 0, 0, 0, time.UTC).Add(time.Duration(v) * time.Second).Format(time.RFC3339)
}

// stored counts the Observations of message v (result v, or phenomenon time at(v)), as the
// node-wide admin.
func (e *authzEnv) stored(v int64) int {
	e.t.Helper()
	f := url.QueryEscape(fmt.Sprintf("result eq %d or phenomenonTime eq %s", v, at(v)))
	st, b := e.req(adminKey, "GET", "/v1.1/Observations?$count=true&$top=0&$filter="+strings.ReplaceAll(f, "+", "%20"), "")
	if st != 200 {
		e.t.Fatalf("count: %d %s", st, b)
	}
	var c struct {
		Count int `json:"@iot.count"`
	}
	json.Unmarshal([]byte(b), &c)
	return c.Count
}

// TestAuthorizationMatrixMQTT publishes to every topic a client may create Observations on,
// as each role, into its own organisation's streams and another's. Allowed: the observation
// is stored. Refused: the connection is refused (anonymous) or the message dropped by the
// bus's permissions, which hold an organisation's keys to its own Datastreams and
// MultiDatastreams (bus.Owner); the topics that name the Datastream only in the payload are
// the node-wide admin's. A refused message is shown not stored by a message the node-wide
// admin publishes after it to the same Datastream: the MQTT stream keeps publish order, so once
// that one is stored the refused one would have been.
func TestAuthorizationMatrixMQTT(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not found: install Debian's mosquitto-clients (scripts/test.sh does)")
	}
	e := startAuthz(t)
	fixtures := map[string]fx{orgA: e.fixture(orgA), orgB: e.fixture(orgB), auth.NodeOrganisation: e.fixture(auth.NodeOrganisation)}
	type topicCase struct {
		name      string
		adminOnly bool // only the node-wide admin may publish here
		topic     func(f fx) string
		msg       func(f fx, v int64) string
		// nested: published to the key's own Datastream's topic, the message reaches into f
		// (the target) inside a deep insert; stored is then 2, and only its own organisation's
		// keys may (a create on a stream's topic acts for the stream's organisation)
		nested bool
	}
	obs := func(v int64) string { return fmt.Sprintf(`{"phenomenonTime":"%s","result":%d}`, at(v), v) }
	topics := []topicCase{
		{"v1.1/Datastreams(id)/Observations", false, func(f fx) string { return fmt.Sprintf("v1.1/Datastreams(%d)/Observations", f.ds) },
			func(_ fx, v int64) string { return obs(v) }, false},
		{"v1.1/MultiDatastreams(id)/Observations", false, func(f fx) string { return fmt.Sprintf("v1.1/MultiDatastreams(%d)/Observations", f.md) },
			func(_ fx, v int64) string { return fmt.Sprintf(`{"phenomenonTime":"%s","result":[%d]}`, at(v), v) }, false},
		{"rabta/<node>/ingest/<id>", false, func(f fx) string { return fmt.Sprintf("rabta/authz/ingest/%d", f.ds) },
			func(_ fx, v int64) string { return fmt.Sprint(v) }, false},
		{"v1.1/Datastreams(id)/Observations deep insert", false, func(f fx) string { return fmt.Sprintf("v1.1/Datastreams(%d)/Observations", f.ds) },
			func(_ fx, v int64) string {
				return fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"FeatureOfInterest":%s}`, at(v), v, foiBody)
			}, false},
		{name: "v1.1/Datastreams(own)/Observations, an inline FeatureOfInterest holding an Observation of the target's Datastream", nested: true,
			msg: func(f fx, v int64) string {
				return fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"FeatureOfInterest":{"name":"reach","description":"r","encodingType":"application/geo+json","feature":%s,
				  "Observations":[{"phenomenonTime":"%s","result":%d,"Datastream":{"@iot.id":%d}}]}}`, at(v), v, point, at(v), v, f.ds)
			}},
		{"v1.1/Observations", true, func(fx) string { return "v1.1/Observations" },
			func(f fx, v int64) string {
				return fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"Datastream":{"@iot.id":%d}}`, at(v), v, f.ds)
			}, false},
		{"v1.1/FeaturesOfInterest(id)/Observations", true, func(f fx) string { return fmt.Sprintf("v1.1/FeaturesOfInterest(%d)/Observations", f.foi) },
			func(f fx, v int64) string {
				return fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"Datastream":{"@iot.id":%d}}`, at(v), v, f.ds)
			}, false},
	}
	type pending struct {
		name    string
		v       int64
		allowed bool
		ds      int64 // where the sentinel goes
		nested  bool  // two observations when allowed
	}
	var cells []pending
	v := int64(1000)
	for _, tc := range topics {
		for _, role := range matrixRoles {
			for _, other := range []bool{false, true} {
				f := fixtures[orgOfRole(role)]
				side := "own"
				if other {
					f, side = fixtures[orgB], "other"
				}
				v++
				name := fmt.Sprintf("%s/%s/%s", tc.name, role, side)
				allowed := role == "node-admin" || (role != "anonymous" && roleOf(role) >= auth.Operator && !other && !tc.adminOnly)
				topic, stream := "", f.ds
				if tc.nested {
					own := fixtures[orgOfRole(role)]
					topic, stream = fmt.Sprintf("v1.1/Datastreams(%d)/Observations", own.ds), own.ds
					allowed = role != "anonymous" && roleOf(role) >= auth.Operator && !other
				} else {
					topic = tc.topic(f)
				}
				err := mqttPub(e.n.MQTTAddr(), e.keyOf(orgA, role), topic, tc.msg(f, v))
				if role == "anonymous" {
					if err == nil {
						t.Errorf("%s: an anonymous MQTT connection was accepted", name)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", name, err)
					continue
				}
				cells = append(cells, pending{name, v, allowed, stream, tc.nested})
			}
		}
	}
	// the sentinels, published after everything else, one per Datastream by the node-wide admin
	sentinel := map[int64]int64{}
	for _, c := range cells {
		if _, ok := sentinel[c.ds]; !ok {
			v++
			sentinel[c.ds] = v
			if err := mqttPub(e.n.MQTTAddr(), adminKey, fmt.Sprintf("v1.1/Datastreams(%d)/Observations", c.ds), obs(v)); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, s := range sentinel {
		for e.stored(s) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %d not stored in 30 s", s)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	allowedN, refusedN := 0, 0
	for _, c := range cells {
		n := e.stored(c.v)
		switch {
		case c.allowed && c.nested && n != 2:
			t.Errorf("%s: allowed, but %d observations stored, want 2", c.name, n)
		case c.allowed && !c.nested && n != 1:
			t.Errorf("%s: allowed, but %d observations stored", c.name, n)
		case !c.allowed && n != 0:
			t.Errorf("%s: refused, but %d observations stored", c.name, n)
		}
		if c.allowed {
			allowedN++
		} else {
			refusedN++
		}
	}
	refusedN += 2 * len(topics) // anonymous: the connection
	t.Logf("MQTT matrix: %d topics × %d roles × own/other = %d cells: %d allowed, %d refused", len(topics), len(matrixRoles), 2*len(topics)*len(matrixRoles), allowedN, refusedN)
}

// apiCase is a row of the /api/v1 matrix: target makes what the write acts on, owned by org
// (nil: nothing), and state reads it back for the refusal check.
type apiCase struct {
	name     string
	minRole  auth.Role
	owned    bool
	notFound bool // another organisation's is answered 404, so that ids do not leak
	// allowed, when set, says whether an answer is the allowed one (default: any 2xx)
	allowed func(st int, body string) bool
	target  func(e *authzEnv, org string) string
	do      func(e *authzEnv, key, target string) (int, string)
	state   func(e *authzEnv, target string) string
}

var phone atomic.Int64

// subscriber makes a subscriber of org with org's operator key and returns its id.
func subscriber(e *authzEnv, org string) string {
	key := e.keys[org+"/operator"]
	if org == auth.NodeOrganisation {
		key = adminKey
	}
	v := e.must(key, "POST", "/api/v1/subscribers", subscriberBody())
	return fmt.Sprint(v["id"])
}

func subscriberBody() string {
	return fmt.Sprintf(`{"name":"Someone","language":"ur","lat":30.1,"lon":71.4,"radiusKm":5,"contacts":[{"channel":"sms","address":"+9230011%05d"}],"consent":{"source":"form"}}`, phone.Add(1))
}

func apiCases() []apiCase {
	getSub := func(e *authzEnv, id string) string {
		st, b := e.req(adminKey, "GET", "/api/v1/subscribers/"+id, "")
		return fmt.Sprint(st, b)
	}
	return []apiCase{
		{name: "POST /api/v1/subscribers", minRole: auth.Operator,
			do: func(e *authzEnv, key, _ string) (int, string) {
				return e.req(key, "POST", "/api/v1/subscribers", subscriberBody())
			}},
		{name: "POST /api/v1/subscribers/import", minRole: auth.Operator,
			do: func(e *authzEnv, key, _ string) (int, string) {
				return e.reqType(key, "POST", "/api/v1/subscribers/import", "text/csv",
					fmt.Sprintf("name,language,lat,lon,radius_km,phone,consent_source\nSomeone,ur,30.1,71.4,5,+9230022%05d,form\n", phone.Add(1)))
			}},
		{name: "DELETE /api/v1/subscribers/{id}", minRole: auth.Operator, owned: true, notFound: true, target: subscriber, state: getSub,
			do: func(e *authzEnv, key, id string) (int, string) {
				return e.req(key, "DELETE", "/api/v1/subscribers/"+id, `{"reason":"request by the subscriber"}`)
			}},
		{name: "GET /api/v1/subscribers/{id} (personal data)", minRole: auth.Operator, owned: true, notFound: true, target: subscriber, state: getSub,
			do: func(e *authzEnv, key, id string) (int, string) {
				return e.req(key, "GET", "/api/v1/subscribers/"+id, "")
			}},
		{name: "POST /api/v1/impact", minRole: auth.Viewer,
			do: func(e *authzEnv, key, _ string) (int, string) {
				return e.req(key, "POST", "/api/v1/impact", `{"desc":"near","circles":[{"center":{"lat":30.1,"lon":71.4},"radiusKm":5}]}`)
			}},
		{name: "POST /api/v1/cap/verify (unsigned: answered 400 not verified)", minRole: auth.Viewer,
			allowed: func(st int, b string) bool { return st == 400 && strings.Contains(b, "not verified") },
			do: func(e *authzEnv, key, _ string) (int, string) {
				return e.reqType(key, "POST", "/api/v1/cap/verify", "application/xml", "<alert>")
			}},
		{name: "PUT /api/v1/rules (role)", minRole: auth.Admin,
			do: func(e *authzEnv, key, _ string) (int, string) {
				return e.reqType(key, "PUT", "/api/v1/rules", "application/yaml", "rules: []\n")
			}},
	}
}

// TestAuthorizationMatrixAPI runs Rabta's own /api/v1 writes (and the read of a subscriber's
// personal data) for each role on its own organisation's and another organisation's.
func TestAuthorizationMatrixAPI(t *testing.T) {
	t.Parallel()
	e := startAuthz(t)
	cells, allowedN, refusedN := 0, 0, 0
	for _, c := range apiCases() {
		for _, role := range matrixRoles {
			for _, other := range []bool{false, true} {
				side := "own"
				if other {
					side = "other"
				}
				t.Run(fmt.Sprintf("%s/%s/%s", c.name, role, side), func(t *testing.T) {
					e.t = t
					cells++
					var tgt, before string
					if c.target != nil {
						org := orgOfRole(role)
						if other {
							org = orgB
						}
						tgt = c.target(e, org)
						before = c.state(e, tgt)
					}
					st, body := c.do(e, e.keyOf(orgA, role), tgt)
					want := expect(role, stCase{minRole: c.minRole, owned: c.owned, notFound: c.notFound}, other)
					if want == 0 {
						allowedN++
					} else {
						refusedN++
					}
					if want == 0 {
						ok := st/100 == 2
						if c.allowed != nil {
							ok = c.allowed(st, body)
						}
						if !ok {
							t.Errorf("want it allowed, got %d %s", st, body)
						}
						return
					}
					if st != want {
						t.Errorf("want %d, got %d %s", want, st, body)
					}
					if c.state != nil {
						if after := c.state(e, tgt); after != before {
							t.Errorf("refused, yet it changed:\nbefore %s\nafter  %s", before, after)
						}
					}
				})
			}
		}
	}
	t.Logf("/api/v1 matrix: %d cases × %d roles × own/other = %d cells: %d allowed, %d refused", len(apiCases()), len(matrixRoles), cells, allowedN, refusedN)
}

// TestAuthorizationMatrixRulesAlerts is the sub-table of rules and alerts: approve, reject and
// cancel by each role on its own organisation's alert and another's, and a rules document put
// by one organisation leaving the others' rules alone. Expectation: a key acts only on its
// organisation's (the node-wide admin on all).
func TestAuthorizationMatrixRulesAlerts(t *testing.T) {
	t.Parallel()
	e := startAuthz(t)
	type cell struct {
		decision, role string
		other          bool
		org, rule      string
		f              fx
		alert          int64
	}
	var cells []*cell
	rules := map[string][]string{} // org → its rules' YAML
	n := 0
	for _, decision := range []string{"approve", "reject", "cancel"} {
		for _, role := range matrixRoles {
			for _, other := range []bool{false, true} {
				org := orgOfRole(role)
				if other {
					org = orgB
				}
				n++
				c := &cell{decision: decision, role: role, other: other, org: org, rule: fmt.Sprintf("r%d-%s", n, org), f: e.fixture(org)}
				rules[org] = append(rules[org], fmt.Sprintf(`  - id: %s
    name: rule %d
    kind: threshold
    datastreams: [%d]
    hold: 0s
    levels:
      - {name: Low, value: 10, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
    area: {desc: near the gauge, circles: [{center: [32.40, 73.97], radiusKm: 5}]}
    status: Exercise
`, c.rule, n, c.f.ds))
				cells = append(cells, c)
			}
		}
	}
	for _, org := range []string{orgA, orgB, auth.NodeOrganisation} {
		key := e.keys[org+"/admin"]
		if org == auth.NodeOrganisation {
			key = adminKey
		}
		if st, b := e.reqType(key, "PUT", "/api/v1/rules", "application/yaml", "rules:\n"+strings.Join(rules[org], "")); st != 200 {
			t.Fatalf("rules of %s: %d %s", org, st, b)
		}
	}
	kept := t.Run("PUT /api/v1/rules keeps other organisations' rules", func(t *testing.T) {
		e.t = t
		_, b := e.req(adminKey, "GET", "/api/v1/rules", "")
		for _, c := range cells {
			if !strings.Contains(b, `"`+c.rule+`"`) {
				t.Errorf("rule %s of %s is gone after another organisation put its rules", c.rule, c.org)
			}
		}
	})
	e.t = t
	if !kept { // one organisation's rules replaced the others': put them all at once, to try the alert rows still
		all := rules[orgA]
		all = append(append(all, rules[orgB]...), rules[auth.NodeOrganisation]...)
		if st, b := e.reqType(adminKey, "PUT", "/api/v1/rules", "application/yaml", "rules:\n"+strings.Join(all, "")); st != 200 {
			t.Fatalf("all rules: %d %s", st, b)
		}
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, c := range cells {
		e.must(adminKey, "POST", fmt.Sprintf("/v1.1/Datastreams(%d)/Observations", c.f.ds), fmt.Sprintf(`{"phenomenonTime":"%s","result":100}`, now))
	}
	alertOf := func(rule, state string) int64 {
		_, b := e.req(adminKey, "GET", "/api/v1/alerts?rule="+rule+"&state="+state, "")
		var v struct {
			Value []struct {
				ID int64 `json:"id"`
			} `json:"value"`
		}
		json.Unmarshal([]byte(b), &v)
		if len(v.Value) == 0 {
			return 0
		}
		return v.Value[0].ID
	}
	stateOf := func(id int64) string {
		_, b := e.req(adminKey, "GET", fmt.Sprintf("/api/v1/alerts/%d", id), "")
		var v struct {
			State string `json:"state"`
		}
		json.Unmarshal([]byte(b), &v)
		return v.State
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, c := range cells {
		for c.alert = alertOf(c.rule, "draft"); c.alert == 0; c.alert = alertOf(c.rule, "draft") {
			if time.Now().After(deadline) {
				t.Fatalf("no draft of rule %s (%s) within a minute", c.rule, c.org)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if c.decision == "cancel" {
			if st, b := e.req(adminKey, "POST", fmt.Sprintf("/api/v1/alerts/%d/approve", c.alert), `{}`); st != 200 {
				t.Fatalf("issue alert %d: %d %s", c.alert, st, b)
			}
		}
	}
	for _, c := range cells {
		side := "own"
		if c.other {
			side = "other"
		}
		t.Run(fmt.Sprintf("%s/%s/%s", c.decision, c.role, side), func(t *testing.T) {
			e.t = t
			before := stateOf(c.alert)
			st, b := e.req(e.keyOf(orgA, c.role), "POST", fmt.Sprintf("/api/v1/alerts/%d/%s", c.alert, c.decision), `{"why":"matrix"}`)
			want := expect(c.role, stCase{minRole: auth.Approver, owned: true}, c.other)
			switch {
			case want == 0 && st != 200:
				t.Errorf("want it allowed, got %d %s", st, b)
			case want == 403 && c.other && st != 403 && st != 404: // another's: 403, or 404 if ids must not leak
				t.Errorf("want 403 or 404, got %d %s", st, b)
			case want != 0 && !(want == 403 && c.other) && st != want:
				t.Errorf("want %d, got %d %s", want, st, b)
			}
			if after := stateOf(c.alert); want != 0 && after != before {
				t.Errorf("refused, yet the alert went from %s to %s", before, after)
			}
		})
	}
}
