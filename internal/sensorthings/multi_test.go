package sensorthings_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docExample returns the JSON block after <!-- example:NAME --> in docs/sensorthings.md.
func docExample(t *testing.T, name string) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "sensorthings.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(doc), "<!-- example:"+name+" -->\n```json\n")
	block, _, ok2 := strings.Cut(after, "```")
	if !ok || !ok2 {
		t.Fatalf("docs/sensorthings.md: no ```json block after <!-- example:%s -->", name)
	}
	return block
}

// TestMultiDatastreams runs the MultiDatastream example of docs/sensorthings.md, as written
// there, and the extension's rules over HTTP (OGC 18-088 §9).
func TestMultiDatastreams(t *testing.T) {
	n := newNode(t, true)
	seed(t, n) // Things 1-2, Datastreams 1-2, ObservedProperties 1-2, Observations 1-6
	create := docExample(t, "multidatastream-create")
	md := n.must(201, "POST", "/MultiDatastreams", create)
	if md["@iot.id"].(float64) != 1 || md["observationType"] != "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation" ||
		len(md["unitOfMeasurements"].([]any)) != 2 || md["ObservedProperties@iot.navigationLink"] == nil || md["phenomenonTime"] != nil {
		t.Fatalf("created MultiDatastream: %v", md)
	}
	st, b := n.do("POST", "/CreateObservations", docExample(t, "multidatastream-observations"))
	var res []string
	if err := json.Unmarshal([]byte(b), &res); err != nil || st != 201 || len(res) != 2 {
		t.Fatalf("CreateObservations: %d %s", st, b)
	}
	if !strings.HasSuffix(res[0], "/Observations(7)") || !strings.Contains(res[1], "error: ") ||
		!strings.Contains(res[1], "result has 1 values but the MultiDatastream has 2 ObservedProperties") {
		t.Errorf("CreateObservations answers: %q", res)
	}
	// the rest of the extension's paths
	n.must(201, "POST", "/Observations", `{"phenomenonTime":"2025-08-28T12:00:00+05:00","resultTime":"2025-08-28T12:30:00+05:00","result":[700000,7.1],"MultiDatastream":{"@iot.id":1}}`)
	n.must(201, "POST", "/MultiDatastreams(1)/Observations", `{"phenomenonTime":"2025-08-26T12:00:00+05:00","result":[600000,null]}`)
	for path, want := range map[string]string{
		"/MultiDatastreams(1)/ObservedProperties":                    "[1 3]",
		"/ObservedProperties(3)/MultiDatastreams":                    "[1]",
		"/Things(1)/MultiDatastreams":                                "[1]",
		"/Things(2)/MultiDatastreams":                                "[]",
		"/Sensors(3)/MultiDatastreams":                               "[1]",
		"/MultiDatastreams(1)/Observations":                          "[7 8 9]",
		"/Observations?$filter=MultiDatastream/id%20eq%201":          "[7 8 9]",
		"/Observations?$filter=Datastream/id%20eq%201":               "[1 2 3 4]",
		"/Observations?$filter=result%5B1%5D%20gt%208":               "[7]",
		"/MultiDatastreams?$filter=Thing/name%20eq%20'Khanki'":       "[1]",
		"/MultiDatastreams?$filter=ObservedProperties/id%20eq%202":   "[]",
		"/MultiDatastreams(1)/ObservedProperties?$orderby=id%20desc": "[3 1]",
	} {
		if got := fmt.Sprint(ids(n.must(200, "GET", path, ""))); got != want {
			t.Errorf("GET %s: %s, want %s", path, got, want)
		}
	}
	o := n.must(200, "GET", "/Observations(8)", "")
	if _, ok := o["Datastream@iot.navigationLink"]; ok || !strings.HasSuffix(o["MultiDatastream@iot.navigationLink"].(string), "/Observations(8)/MultiDatastream") {
		t.Errorf("an Observation of a MultiDatastream links to it alone: %v", o)
	}
	if fmt.Sprint(o["result"]) != "[700000 7.1]" || o["resultQuality"].(map[string]any)["flag"] != "good" {
		t.Errorf("Observations(8): %v", o)
	}
	if m := n.must(200, "GET", "/Observations(8)/MultiDatastream", ""); m["@iot.id"].(float64) != 1 {
		t.Errorf("Observations(8)/MultiDatastream: %v", m)
	}
	if st, _ := n.do("GET", "/Observations(8)/Datastream", ""); st != 404 {
		t.Errorf("Observations(8)/Datastream: %d, want 404", st)
	}
	md = n.must(200, "GET", "/MultiDatastreams(1)?$expand=ObservedProperties($select=name),Observations($filter=resultTime%20ne%20null)", "")
	if md["phenomenonTime"] != "2025-08-26T07:00:00Z/2025-08-28T07:00:00Z" || md["resultTime"] != "2025-08-28T07:30:00Z/2025-08-28T07:30:00Z" {
		t.Errorf("derived times: %v / %v", md["phenomenonTime"], md["resultTime"])
	}
	if ops := md["ObservedProperties"].([]any); len(ops) != 2 || ops[1].(map[string]any)["name"] != "Gauge level" {
		t.Errorf("$expand=ObservedProperties: %v", ops)
	}
	if obs := md["Observations"].([]any); len(obs) != 1 {
		t.Errorf("$expand=Observations($filter=resultTime ne null): %v", obs)
	}
	th := n.must(200, "GET", "/Things(1)?$expand=MultiDatastreams($select=name)", "")
	if m := th["MultiDatastreams"].([]any); len(m) != 1 || m[0].(map[string]any)["name"] != "Khanki readings" {
		t.Errorf("Things(1)?$expand=MultiDatastreams: %v", th["MultiDatastreams"])
	}
	o = n.must(200, "GET", "/Observations(8)?$expand=MultiDatastream($select=name)", "")
	if m, _ := o["MultiDatastream"].(map[string]any); m["name"] != "Khanki readings" {
		t.Errorf("Observations(8)?$expand=MultiDatastream: %v", o)
	}
	op := n.must(200, "GET", "/ObservedProperties(1)?$expand=MultiDatastreams($select=id),Datastreams($select=id)", "")
	if len(op["MultiDatastreams"].([]any)) != 1 || len(op["Datastreams"].([]any)) != 1 {
		t.Errorf("ObservedProperties(1)?$expand=MultiDatastreams,Datastreams: %v", op)
	}
	// PUT replaces the properties; the shape still holds
	put := `{"name":"Khanki gauge","description":"discharge and gauge level","properties":{"reader":"PDMA"},
	  "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
	  "unitOfMeasurements":[{"name":"cusec","symbol":"[cft_i]/s","definition":"q"},{"name":"metre","symbol":"m","definition":"m"}],
	  "multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"]}`
	if st, b := n.do("PUT", "/MultiDatastreams(1)", strings.Replace(put, `,{"name":"metre","symbol":"m","definition":"m"}`, ``, 1)); st != 400 || !strings.Contains(b, "unitOfMeasurements has 1 elements") {
		t.Errorf("PUT with one unit for two ObservedProperties: %d %s", st, b)
	}
	if m := n.must(200, "PUT", "/MultiDatastreams(1)", put); m["name"] != "Khanki gauge" || m["properties"].(map[string]any)["reader"] != "PDMA" {
		t.Errorf("PUT MultiDatastreams(1): %v", m)
	}
	// an expanded, cut-off ObservedProperties goes on, in rank order, through its nextLink
	md = n.must(200, "GET", "/MultiDatastreams(1)?$expand=ObservedProperties($top=1;$select=id)", "")
	first := md["ObservedProperties"].([]any)
	next, _ := md["ObservedProperties@iot.nextLink"].(string)
	if len(first) != 1 || first[0].(map[string]any)["@iot.id"].(float64) != 1 || next == "" {
		t.Fatalf("$expand=ObservedProperties($top=1): %v", md)
	}
	if got := fmt.Sprint(ids(n.must(200, "GET", strings.TrimPrefix(next, n.srv.URL+"/v1.1"), ""))); got != "[3]" {
		t.Errorf("following %s: %s, want [3]", next, got)
	}
	// $resultFormat=dataArray groups by MultiDatastream
	da := n.must(200, "GET", "/Observations?$filter=phenomenonTime%20ge%202025-08-27T00:00:00Z&$resultFormat=dataArray&$orderby=id", "")
	var groups []string
	for _, g := range da["value"].([]any) {
		gm := g.(map[string]any)
		for k, v := range gm {
			if strings.HasSuffix(k, "@iot.navigationLink") {
				groups = append(groups, fmt.Sprintf("%s=%s:%v", strings.TrimSuffix(k, "@iot.navigationLink"), v.(string)[strings.LastIndex(v.(string), "/")+1:], gm["dataArray@iot.count"]))
			}
		}
	}
	if got := strings.Join(groups, " "); got != "Datastream=Datastreams(1):2 Datastream=Datastreams(2):1 MultiDatastream=MultiDatastreams(1):2" {
		t.Errorf("$resultFormat=dataArray groups: %s", got)
	}

	// refusals: 400s naming what is wrong, nothing stored
	for _, c := range []struct{ method, path, body, msg string }{
		{"POST", "/MultiDatastreams", strings.Replace(create, "\"ObservedProperties\": [\n   {\"@iot.id\": 1},", `"ObservedProperties": [`, 1), "unitOfMeasurements has 2 elements but there are 1 ObservedProperties"},
		{"POST", "/MultiDatastreams", strings.Replace(create, ",\n   \"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement\"]", `]`, 1), "multiObservationDataTypes"},
		{"POST", "/MultiDatastreams", strings.Replace(create, `"unitOfMeasurements": [`, `"unitOfMeasurements": ["cusec",`, 1), "MultiDatastream: unitOfMeasurements[0]: want a JSON object"},
		{"POST", "/MultiDatastreams", strings.Replace(create, `"multiObservationDataTypes": [`, `"multiObservationDataTypes": [7,`, 1), "multiObservationDataTypes[0]"},
		{"POST", "/MultiDatastreams", strings.Replace(create, `OM_ComplexObservation`, `OM_Measurement`, 1), "observationType must be"},
		{"POST", "/Observations", `{"result":[1,2],"MultiDatastream":{"@iot.id":1},"Datastream":{"@iot.id":1}}`, "not both"},
		{"POST", "/Observations", `{"result":[1,2,3],"MultiDatastream":{"@iot.id":1}}`, "result has 3 values"},
		{"POST", "/Observations", `{"result":4,"MultiDatastream":{"@iot.id":1}}`, "is a JSON array"},
		{"POST", "/ObservedProperties", `{"name":"x","definition":"x","description":"x","MultiDatastreams":[{"@iot.id":1}]}`, "not inside an ObservedProperty"},
		{"PATCH", "/MultiDatastreams(1)", `{"unitOfMeasurements":[{"name":"metre","symbol":"m","definition":"m"}]}`, "unitOfMeasurements has 1 elements but there are 2"},
		{"PATCH", "/Observations(8)", `{"result":[1]}`, "result has 1 values"},
		{"POST", "/MultiDatastreams(1)/ObservedProperties/$ref", `{"@iot.id":2}`, "together with its unitOfMeasurements"},
		{"DELETE", "/MultiDatastreams(1)/ObservedProperties(3)/$ref", ``, "together with its unitOfMeasurements"},
	} {
		if c.body == create {
			t.Fatalf("case %q changes nothing in the example", c.msg)
		}
		st, b := n.do(c.method, c.path, c.body)
		if st != 400 || !strings.Contains(b, c.msg) {
			t.Errorf("%s %s %.80s: %d %s; want 400 naming %q", c.method, c.path, c.body, st, b, c.msg)
		}
	}
	if m := n.must(200, "GET", "/MultiDatastreams?$count=true", ""); m["@iot.count"].(float64) != 1 {
		t.Errorf("refusals left MultiDatastreams: %v", m)
	}
	if m := n.must(200, "GET", "/Observations?$count=true&$top=0", ""); m["@iot.count"].(float64) != 9 {
		t.Errorf("refusals left Observations: %v", m["@iot.count"])
	}
	// QC per component, with an override for the second (properties.qc[1])
	for body, msg := range map[string]string{
		`{"properties":{"qc":{"max":10}}}`:            "properties.qc of a MultiDatastream is an array",
		`{"properties":{"qc":[null,{"max":"ten"}]}}`:  "properties.qc[1].max: want a number",
		`{"properties":{"qc":[null,null,{"max":1}]}}`: "one override object (or null) per ObservedProperty (2)",
	} {
		if st, b := n.do("PATCH", "/MultiDatastreams(1)", body); st != 400 || !strings.Contains(b, msg) {
			t.Errorf("PATCH %s: %d %s, want 400 naming %q", body, st, b, msg)
		}
	}
	n.must(200, "PATCH", "/MultiDatastreams(1)", `{"properties":{"qc":[null,{"max":10}]}}`)
	o = n.must(201, "POST", "/MultiDatastreams(1)/Observations", `{"phenomenonTime":"2025-08-29T12:00:00+05:00","result":[700000,12]}`)
	q := o["resultQuality"].(map[string]any)
	comps, _ := q["components"].([]any)
	if q["flag"] != "bad" || len(comps) != 2 || comps[0].(map[string]any)["flag"] != "good" || comps[1].(map[string]any)["flag"] != "bad" ||
		!strings.Contains(fmt.Sprint(comps[1]), "above maximum 10") {
		t.Errorf("per-component QC with an override: %v", q)
	}
	// delete: the MultiDatastream takes its Observations
	n.must(200, "DELETE", "/MultiDatastreams(1)", "")
	if st, _ := n.do("GET", "/Observations(7)", ""); st != 404 {
		t.Errorf("Observation of a deleted MultiDatastream: %d, want 404", st)
	}
	if m := n.must(200, "GET", "/Observations?$count=true&$top=0", ""); m["@iot.count"].(float64) != 6 {
		t.Errorf("Observations after the delete: %v", m["@iot.count"])
	}
}
