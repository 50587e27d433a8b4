package sensorthings_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/sensing"
)

// newEntity holds, per entity set, the JSON of an entity that can be created on a node
// seeded by seedStore.
var newEntity = map[string]string{
	sensing.Things:              `{"name":"t","description":"d"}`,
	sensing.Locations:           `{"name":"l","description":"d","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74,31]}}`,
	sensing.HistoricalLocations: `{"time":"2025-08-27T12:00:00Z","Thing":{"@iot.id":1},"Locations":[{"@iot.id":1}]}`,
	sensing.Sensors:             `{"name":"s","description":"d","encodingType":"text/html","metadata":"x"}`,
	sensing.ObservedProperties:  `{"name":"o","definition":"x","description":"d"}`,
	sensing.FeaturesOfInterest:  `{"name":"f","description":"d","encodingType":"application/geo+json","feature":{"type":"Point","coordinates":[74,31]}}`,
	sensing.Datastreams: `{"name":"ds","description":"d","observationType":"x","unitOfMeasurement":{"name":"cusec"},
		"Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`,
	sensing.Observations: `{"phenomenonTime":"2025-08-30T00:00:00Z","result":5,"Datastream":{"@iot.id":1}}`,
	sensing.MultiDatastreams: `{"name":"m","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
		"unitOfMeasurements":[{"name":"cusec"}],"multiObservationDataTypes":["x"],"Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},"ObservedProperties":[{"@iot.id":1}]}`,
}

// setNames are the eight entity sets and MultiDatastreams, in an order that creates what later
// ones link to.
var setNames = []string{sensing.Things, sensing.Locations, sensing.HistoricalLocations, sensing.Sensors,
	sensing.ObservedProperties, sensing.FeaturesOfInterest, sensing.Datastreams, sensing.MultiDatastreams, sensing.Observations}

// seedStore makes entity 1 of every set: a Thing with its Location (and so a
// HistoricalLocation), Datastream, Sensor and ObservedProperty, an Observation with its
// FeatureOfInterest, and a MultiDatastream.
func seedStore(t *testing.T, n *storeNode) {
	t.Helper()
	if st, b := n.call(t, "POST", "/Things", `{"name":"Khanki","description":"gauge",
	  "Locations":[{"name":"Khanki","description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.4]}}],
	  "Datastreams":[{"name":"Discharge","description":"d","observationType":"x","unitOfMeasurement":{"name":"cusec"},
	    "Sensor":{"name":"staff gauge","description":"d","encodingType":"text/html","metadata":"x"},
	    "ObservedProperty":{"name":"Discharge","definition":"x","description":"d"}}]}`); st != http.StatusCreated {
		t.Fatalf("seed Thing: %d %s", st, b)
	}
	if st, b := n.call(t, "POST", "/Observations", `{"phenomenonTime":"2025-08-27T12:00:00Z","result":1,"Datastream":{"@iot.id":1},
	  "FeatureOfInterest":`+newEntity[sensing.FeaturesOfInterest]+`}`); st != http.StatusCreated {
		t.Fatalf("seed Observation: %d %s", st, b)
	}
	if st, b := n.call(t, "POST", "/MultiDatastreams", newEntity[sensing.MultiDatastreams]); st != http.StatusCreated {
		t.Fatalf("seed MultiDatastream: %d %s", st, b)
	}
}

// count returns how many entities set holds.
func (n *storeNode) count(t *testing.T, set string) int {
	t.Helper()
	st, b := n.call(t, "GET", "/"+set+"?$count=true&$top=0", "")
	var page struct {
		Count int `json:"@iot.count"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(b), &page) != nil {
		t.Fatalf("count %s: %d %s", set, st, b)
	}
	return page.Count
}

// counts returns the size of every set.
func (n *storeNode) counts(t *testing.T) map[string]int {
	m := map[string]int{}
	for _, set := range setNames {
		m[set] = n.count(t, set)
	}
	return m
}

// PATCH and PUT change properties and links; an inline related entity in the body (a new
// Location, Datastream, Sensor ... under any navigation property of any set) is a 400 that
// names the property, and nothing is created or changed. Every set × every navigation
// property, both methods, both stores; a link by @iot.id to an entity that does not exist is a
// 404 naming it.
func TestUpdateRefusesInlineEntities(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedStore(t, n)
			before := n.counts(t)
			cases := 0
			for _, set := range setNames {
				es := sensing.Sets[set]
				for _, nav := range es.Navs {
					inline := newEntity[nav.Target]
					if nav.Many {
						inline = "[" + inline + "]"
					}
					for _, method := range []string{"PATCH", "PUT"} {
						body := `{"` + nav.Name + `":` + inline + `}`
						if method == "PUT" { // a whole entity, with the inline one beside its properties
							var obj map[string]json.RawMessage
							json.Unmarshal([]byte(newEntity[set]), &obj)
							obj[nav.Name] = json.RawMessage(inline)
							b, _ := json.Marshal(obj)
							body = string(b)
						}
						cases++
						st, b := n.call(t, method, fmt.Sprintf("/%s(1)", set), body)
						want := es.Single + "." + nav.Name
						if st != http.StatusBadRequest || !strings.Contains(b, want) {
							t.Errorf("%s %s(1) with an inline %s: %d %s, want 400 naming %s", method, set, nav.Name, st, b, want)
						}
					}
					// a link to an entity that does not exist
					link := `{"@iot.id":999}`
					if nav.Many {
						link = "[" + link + "]"
					}
					st, b := n.call(t, "PATCH", fmt.Sprintf("/%s(1)", set), `{"`+nav.Name+`":`+link+`}`)
					if st != http.StatusNotFound || !strings.Contains(b, nav.Target+"(999)") {
						t.Errorf("PATCH %s(1) linking %s 999: %d %s, want 404 naming %s(999)", set, nav.Name, st, b, nav.Target)
					}
				}
			}
			if cases < 30 {
				t.Fatalf("only %d cases", cases)
			}
			if after := n.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("refused updates changed the store: %v, was %v", after, before)
			}
			// links by @iot.id still change
			if st, b := n.call(t, "PATCH", "/Observations(1)", `{"FeatureOfInterest":{"@iot.id":1}}`); st != http.StatusOK {
				t.Errorf("PATCH a link: %d %s", st, b)
			}
		})
	}
}

// withLink returns the JSON object js with its navigation property nav set to a link to id (an
// array of one for a to-many nav).
func withLink(t *testing.T, js string, nav sensing.Nav, id int) string {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &obj); err != nil {
		t.Fatal(err)
	}
	link := fmt.Sprintf(`{"@iot.id":%d}`, id)
	if nav.Many {
		link = "[" + link + "]"
	}
	obj[nav.Name] = json.RawMessage(link)
	b, _ := json.Marshal(obj)
	return string(b)
}

// Every foreign key a client can name — a navigation property linked by @iot.id, on create, in
// a deep insert, in a resource path, in a dataArray — that names an entity that does not exist
// is a 4xx naming it as its URL does (Sensors(999)), and nothing of the request is stored; in a
// dataArray only the rows that name it are refused. Both stores.
func TestForeignKeysNamed(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedStore(t, n)
			before := n.counts(t)
			type fk struct{ name, path, body, missing string }
			var cases []fk
			for _, set := range setNames { // create, each navigation property in turn
				for _, nav := range sensing.Sets[set].Navs {
					cases = append(cases, fk{set + "." + nav.Name, "/" + set, withLink(t, newEntity[set], nav, 999), nav.Target + "(999)"})
				}
			}
			ds := newEntity[sensing.Datastreams]
			cases = append(cases,
				fk{"deep insert Thing/Datastreams/Sensor", "/Things", `{"name":"t","description":"d","Datastreams":[` +
					withLink(t, ds, sensing.Nav{Name: "Sensor"}, 999) + `]}`, "Sensors(999)"},
				fk{"deep insert Thing/Datastreams/ObservedProperty", "/Things", `{"name":"t","description":"d","Datastreams":[` +
					withLink(t, ds, sensing.Nav{Name: "ObservedProperty"}, 999) + `]}`, "ObservedProperties(999)"},
				fk{"deep insert Datastream/Observations/FeatureOfInterest", "/Datastreams",
					strings.Replace(ds, `"Thing"`, `"Observations":[{"result":1,"FeatureOfInterest":{"@iot.id":999}}],"Thing"`, 1), "FeaturesOfInterest(999)"},
				fk{"deep insert Location/Things", "/Locations", withLink(t, newEntity[sensing.Locations], sensing.Nav{Name: "Things", Many: true}, 999), "Things(999)"},
				fk{"path Datastreams(999)/Observations", "/Datastreams(999)/Observations", `{"result":1}`, "Datastreams(999)"},
				fk{"path FeaturesOfInterest(999)/Observations", "/FeaturesOfInterest(999)/Observations", `{"result":1,"Datastream":{"@iot.id":1}}`, "FeaturesOfInterest(999)"},
				fk{"path Things(999)/Locations", "/Things(999)/Locations", newEntity[sensing.Locations], "Things(999)"},
			)
			for _, c := range cases {
				st, b := n.call(t, "POST", c.path, c.body)
				if st < 400 || st >= 500 || !strings.Contains(b, c.missing) {
					t.Errorf("%s: %d %s, want a 4xx naming %s", c.name, st, b, c.missing)
				}
			}
			if len(cases) < 20 {
				t.Fatalf("only %d cases", len(cases))
			}
			if after := n.counts(t); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Errorf("refused creates changed the store: %v, was %v", after, before)
			}
			// dataArray: the rows naming what does not exist are refused, in their slots
			st, b := n.call(t, "POST", "/CreateObservations", `[
				{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result","FeatureOfInterest/id"],
				 "dataArray":[["2025-08-28T00:00:00Z",1,999],["2025-08-28T01:00:00Z",2,1]]},
				{"Datastream":{"@iot.id":999},"components":["phenomenonTime","result"],"dataArray":[["2025-08-28T02:00:00Z",3]]}]`)
			var rows []string
			if err := json.Unmarshal([]byte(b), &rows); err != nil || st != http.StatusCreated || len(rows) != 3 {
				t.Fatalf("dataArray: %d %s", st, b)
			}
			if !strings.Contains(rows[0], "error: FeaturesOfInterest(999)") || !strings.Contains(rows[1], "/Observations(") ||
				!strings.Contains(rows[2], "error: Datastreams(999)") {
				t.Errorf("dataArray rows: %q", rows)
			}
			if got := n.count(t, sensing.Observations); got != before[sensing.Observations]+1 {
				t.Errorf("%d Observations after the dataArray, want %d", got, before[sensing.Observations]+1)
			}
		})
	}
}
