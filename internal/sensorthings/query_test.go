package sensorthings_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// get sends GET to an absolute URL or to a path below /v1.1 with the admin key and decodes the
// JSON object answered with status 200.
func (n *storeNode) get(t *testing.T, u string) map[string]any {
	t.Helper()
	st, b := n.call(t, "GET", u, "")
	if st != http.StatusOK {
		t.Fatalf("GET %s: %d %s", u, st, b)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(b), &m); err != nil {
		t.Fatalf("GET %s: %v: %s", u, err, b)
	}
	return m
}

// call sends a request to an absolute URL or a path below /v1.1 and returns status and body.
func (n *storeNode) call(t *testing.T, method, u, body string) (int, string) {
	t.Helper()
	if !strings.HasPrefix(u, "http") {
		u = strings.TrimPrefix(u, n.srv.URL+"/v1.1")
	} else {
		u = strings.TrimPrefix(u, n.srv.URL+"/v1.1")
	}
	resp := n.do(t, method, u, body, "")
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// q escapes a query option value the way a careful client does.
func q(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

// seedPaging makes 3 Things; Thing 1 has 7 Datastreams with repeated names, each with
// Observations whose results repeat (ties for $orderby), some without a resultTime (nulls).
func seedPaging(t *testing.T, n *storeNode) {
	t.Helper()
	ds := func(name string) string {
		return `{"name":"` + name + `","description":"d","observationType":"x","unitOfMeasurement":{"name":"m"},
		  "Sensor":{"name":"s","description":"d","encodingType":"text/html","metadata":"x"},
		  "ObservedProperty":{"name":"level","definition":"x","description":"d"}}`
	}
	things := []struct {
		name, river string
		rank        int
		ds          []string
	}{
		{"Khanki", "Chenab", 2, []string{"c", "a", "b", "a", "c", "b", "b"}},
		{"Marala", "Chenab", 1, []string{"b", "z"}},
		{"Tarbela", "Indus", 2, nil},
	}
	for _, th := range things {
		var dss []string
		for _, d := range th.ds {
			dss = append(dss, ds(d))
		}
		body := fmt.Sprintf(`{"name":%q,"description":"gauge","properties":{"river":%q,"rank":%d,"site":{"name":%q,"code":7}},
		  "Locations":[{"name":%q,"description":"site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.9,32.4]}}],
		  "Datastreams":[%s]}`, th.name, th.river, th.rank, th.name, th.name, strings.Join(dss, ","))
		if st, b := n.call(t, "POST", "/Things", body); st != http.StatusCreated {
			t.Fatalf("seed %s: %d %s", th.name, st, b)
		}
	}
	var groups []string
	for d := 1; d <= 9; d++ {
		var rows []string
		for i := 0; i < 3+d%4; i++ {
			rt := fmt.Sprintf(`"2025-09-01T%02d:00:00Z"`, i)
			if i%3 == 1 {
				rt = "null"
			}
			rows = append(rows, fmt.Sprintf(`["2025-08-%02dT%02d:00:00Z",%d,%s]`, 1+d, i, (i*d)%4, rt))
		}
		groups = append(groups, fmt.Sprintf(`{"Datastream":{"@iot.id":%d},"components":["phenomenonTime","result","resultTime"],"dataArray":[%s]}`, d, strings.Join(rows, ",")))
	}
	st, b := n.call(t, "POST", "/CreateObservations", "["+strings.Join(groups, ",")+"]")
	if st != http.StatusCreated || strings.Contains(b, "error") {
		t.Fatalf("seed observations: %d %s", st, b)
	}
}

// follow reads the collection at u and every page its @iot.nextLink leads to, checking that
// no page is longer than top, and returns all the items in order.
func follow(t *testing.T, n *storeNode, u string, top int) []any {
	t.Helper()
	var all []any
	for pages := 0; u != ""; pages++ {
		if pages > 200 {
			t.Fatalf("more than 200 pages: %s", u)
		}
		m := n.get(t, u)
		v, _ := m["value"].([]any)
		if len(v) > top {
			t.Fatalf("%s: page of %d, want at most %d", u, len(v), top)
		}
		if len(v) == 0 && m["@iot.nextLink"] != nil {
			t.Fatalf("%s: empty page with a nextLink", u)
		}
		all = append(all, v...)
		u, _ = m["@iot.nextLink"].(string)
	}
	return all
}

// expandAll replaces, in each item, the expanded collection nav cut at a nextLink by the whole
// collection read by following its nextLinks (and does so in the collections it contains,
// along the path navs).
func expandAll(t *testing.T, n *storeNode, items []any, top int, navs ...string) {
	t.Helper()
	if len(navs) == 0 {
		return
	}
	nav := navs[0]
	for _, it := range items {
		m := it.(map[string]any)
		coll, ok := m[nav].([]any)
		if !ok {
			t.Fatalf("item without an expanded %s: %v", nav, m)
		}
		if len(coll) > top {
			t.Fatalf("expanded %s of %d, want at most %d", nav, len(coll), top)
		}
		if next, ok := m[nav+"@iot.nextLink"].(string); ok {
			coll = append(coll, follow(t, n, next, top)...)
			delete(m, nav+"@iot.nextLink")
		}
		expandAll(t, n, coll, top, navs[1:]...)
		m[nav] = coll
	}
}

func same(t *testing.T, what string, got, want []any) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Errorf("%s:\n paged   %d items %s\n unpaged %d items %s", what, len(got), g, len(want), w)
	}
	if len(want) == 0 {
		t.Errorf("%s: the unpaged result is empty; the case tests nothing", what)
	}
}

// Server-driven paging: following every @iot.nextLink, top-level and inside expanded
// collections, gives exactly the unpaged result (same filter, order with ties, select without
// id, skip, nested expand).
func TestPagingFollowsToTheSameResult(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedPaging(t, n)
			// top-level collections
			for _, c := range []struct {
				path, opts string
				top        int
			}{
				{"/Observations", "$orderby=result", 4},
				{"/Observations", "$orderby=" + q("result desc,resultTime") + "&$select=result,resultTime,phenomenonTime", 3},
				{"/Observations", "$filter=" + q("result ge 1 and Datastream/Thing/properties/river eq 'Chenab'") + "&$orderby=" + q("resultTime desc") + "&$select=result,phenomenonTime", 5},
				{"/Observations", "$orderby=" + q("Datastream/name,result desc") + "&$skip=5&$select=result", 4},
				{"/Observations", "$orderby=phenomenonTime&$skip=3&$count=true&$expand=" + q("Datastream($select=name)"), 7},
				{"/Datastreams", "$orderby=name&$select=name", 2},
				{"/Datastreams", "$filter=" + q("Observations/any(o: o/result eq 3)") + "&$orderby=" + q("name desc") + "&$skip=1", 2},
				{"/Things(1)/Datastreams", "$orderby=name&$select=name,unitOfMeasurement", 2},
				{"/Things", "$orderby=" + q("properties/rank,properties/river desc") + "&$select=properties/river", 1},
				{"/Datastreams(3)/Observations/$ref", "$orderby=result", 2},
				{"/Datastreams", "$orderby=" + q("Observations/any(o: o/result eq 3) desc,name in ('a','z'),id desc") + "&$select=name", 2},
				{"/Observations", "$orderby=" + q("Datastream/Thing/Datastreams/any(d: d/name eq 'z'),result") + "&$filter=" + q("result in (0, 3)"), 4},
			} {
				paged := follow(t, n, c.path+"?"+c.opts+"&$top="+fmt.Sprint(c.top), c.top)
				whole := n.get(t, c.path+"?"+c.opts+"&$top=1000")
				if whole["@iot.nextLink"] != nil {
					t.Fatalf("%s?%s: the unpaged result has a nextLink", c.path, c.opts)
				}
				same(t, c.path+"?"+c.opts, paged, whole["value"].([]any))
			}
			// a $skiptoken carried over to another order is refused, not silently restarted
			next := n.get(t, "/Observations?$orderby=result&$top=2")["@iot.nextLink"].(string)
			if st, b := n.call(t, "GET", strings.Replace(next, "%24orderby=result", "%24orderby=result%2Cid", 1), ""); st != 400 || !strings.Contains(b, "$skiptoken was made for another $orderby") {
				t.Errorf("skiptoken with another $orderby: %d %s", st, b)
			}
			// expanded collections: each nextLink inside an item continues that item's collection
			for _, c := range []struct {
				path, expand, whole string
				navs                []string
				top                 int
			}{
				{"/Things?$orderby=name", "Datastreams($orderby=name;$select=name;$filter=name ne 'q';$count=true)", "/Things({ID})/Datastreams?$orderby=name&$select=name&$filter=" + q("name ne 'q'") + "&$count=true", []string{"Datastreams"}, 2},
				{"/Things?$orderby=name", "Datastreams($filter=Observations/any(o: o/result in (1, 3)) and name ne 'x';$orderby=properties/x,name;$select=name,Observations)",
					"/Things({ID})/Datastreams?$filter=" + q("Observations/any(o: o/result in (1, 3)) and name ne 'x'") + "&$orderby=" + q("properties/x,name") + "&$select=name,Observations", []string{"Datastreams"}, 1},
				{"/Things?$orderby=name", "Datastreams($orderby=name desc;$skip=1;$select=id,name)", "/Things({ID})/Datastreams?$orderby=" + q("name desc") + "&$skip=1&$select=id,name", []string{"Datastreams"}, 3},
				{"/Datastreams?$orderby=id", "Observations($orderby=result desc;$select=result,resultTime;$expand=Datastream($select=name))",
					"/Datastreams({ID})/Observations?$orderby=" + q("result desc") + "&$select=result,resultTime&$expand=" + q("Datastream($select=name)"), []string{"Observations"}, 2},
			} {
				top := c.top
				u := c.path + "&$expand=" + q(strings.Replace(c.expand, "(", fmt.Sprintf("($top=%d;", top), 1))
				items := follow(t, n, u, 100)
				expandAll(t, n, items, top, c.navs...)
				for _, it := range items {
					m := it.(map[string]any)
					id := int(m["@iot.id"].(float64))
					whole := n.get(t, strings.Replace(c.whole, "{ID}", fmt.Sprint(id), 1)+"&$top=1000")
					got := m[c.navs[0]].([]any)
					if cnt, ok := m[c.navs[0]+"@iot.count"]; ok && cnt != whole["@iot.count"] {
						t.Errorf("%s: item %d: count %v, unpaged %v", u, id, cnt, whole["@iot.count"])
					}
					if len(got) == 0 && len(whole["value"].([]any)) == 0 {
						continue
					}
					same(t, fmt.Sprintf("%s item %d", u, id), got, whole["value"].([]any))
				}
			}
			// two levels: every Datastream's Observations inside every Thing
			u := "/Things?$expand=" + q("Datastreams($top=2;$orderby=id;$expand=Observations($top=2;$orderby=result;$select=result))")
			items := follow(t, n, u, 100)
			expandAll(t, n, items, 2, "Datastreams", "Observations")
			total := 0
			for _, it := range items {
				for _, d := range it.(map[string]any)["Datastreams"].([]any) {
					dm := d.(map[string]any)
					id := int(dm["@iot.id"].(float64))
					whole := n.get(t, fmt.Sprintf("/Datastreams(%d)/Observations?$orderby=result&$select=result&$top=1000", id))
					same(t, fmt.Sprintf("%s Datastream %d", u, id), dm["Observations"].([]any), whole["value"].([]any))
					total += len(dm["Observations"].([]any))
				}
			}
			if all := n.get(t, "/Observations?$count=true&$top=0"); float64(total) != all["@iot.count"] {
				t.Errorf("two-level expansion saw %d observations, the store has %v", total, all["@iot.count"])
			}
		})
	}
}

// $select of nested members returns only those members (FROST-Server's shape), also inside
// $expand; a $select naming nothing the entity has is a 400 naming it.
func TestSelectNested(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedPaging(t, n)
			self := n.srv.URL + "/v1.1/Things(1)"
			for _, c := range []struct{ path, want string }{
				{"/Things?$select=properties/river&$filter=" + q("id le 2") + "&$orderby=id", `{"value":[{"properties":{"river":"Chenab"}},{"properties":{"river":"Chenab"}}]}`},
				{"/Things(1)?$select=id,properties/site/name,properties/rank", `{"@iot.id":1,"@iot.selfLink":"` + self + `","properties":{"site":{"name":"Khanki"},"rank":2}}`},
				{"/Things(1)?$select=properties/nope,properties/site/code/x", `{"properties":{"site":{"code":{}}}}`},
				{"/Things(1)?$select=properties/river,properties", `{"properties":{"rank":2,"river":"Chenab","site":{"code":7,"name":"Khanki"}}}`},
				{"/Things(3)?$select=name,properties/river/name", `{"name":"Tarbela","properties":{"river":{}}}`},
				{"/Things(1)?$select=name&$expand=" + q("Datastreams($select=unitOfMeasurement/name,id;$top=1;$orderby=id)"),
					`{"name":"Khanki","Datastreams":[{"@iot.id":1,"@iot.selfLink":"` + n.srv.URL + `/v1.1/Datastreams(1)","unitOfMeasurement":{"name":"m"}}]}`},
				{"/Datastreams(1)/Observations?$select=result,phenomenonTime/x&$top=0", ""},
			} {
				st, b := n.call(t, "GET", c.path, "")
				if c.want == "" {
					if st != 400 || !strings.Contains(b, "phenomenonTime/x: Observation property phenomenonTime has no members") {
						t.Errorf("%s: %d %s, want 400 naming phenomenonTime/x", c.path, st, b)
					}
					continue
				}
				var got, want any
				if err := json.Unmarshal([]byte(b), &got); err != nil || st != 200 {
					t.Fatalf("%s: %d %s", c.path, st, b)
				}
				json.Unmarshal([]byte(c.want), &want)
				if m := got.(map[string]any); m["Datastreams@iot.nextLink"] != nil {
					// the next page of the expanded collection has the same shape
					next := n.get(t, m["Datastreams@iot.nextLink"].(string))
					if v := next["value"].([]any); len(v) != 1 || fmt.Sprint(v[0]) != fmt.Sprintf("map[@iot.id:2 @iot.selfLink:%s/v1.1/Datastreams(2) unitOfMeasurement:map[name:m]]", n.srv.URL) {
						t.Errorf("%s: next page of Datastreams: %v", c.path, next)
					}
					delete(m, "Datastreams@iot.nextLink")
				}
				g, _ := json.Marshal(got)
				w, _ := json.Marshal(want)
				if string(g) != string(w) {
					t.Errorf("%s:\n got %s\nwant %s", c.path, g, w)
				}
			}
			for _, c := range []struct{ path, msg string }{
				{"/Things?$select=nmae", `$select: position 1: Thing has no property \"nmae\"`},
				{"/Things?$select=id,name/first", `$select: position 4: name/first: Thing property name has no members`},
				{"/Things?$select=Datastreams/name", `select inside the navigation property Datastreams`},
				{"/Things?$expand=" + q("Datastreams($select=name,unitOfMeasurement/name,nmae)"), `$expand: position 49: Datastream has no property \"nmae\"`},
				{"/Things?$select=properties//river", `expected a name after '/'`},
				{"/Observations?$resultFormat=dataArray&$select=result,parameters/depth", `$select: position 8: parameters/depth: the components of $resultFormat=dataArray are whole properties`},
			} {
				if st, b := n.call(t, "GET", c.path, ""); st != 400 || !strings.Contains(b, c.msg) {
					t.Errorf("%s: %d %s, want 400 with %q", c.path, st, b, c.msg)
				}
			}
		})
	}
}

var _ sensorthings.Linker = (*sqlq.Entities)(nil)

func idList(t *testing.T, n *storeNode, path string) string {
	t.Helper()
	m := n.get(t, path)
	var out []int
	for _, v := range m["value"].([]any) {
		out = append(out, int(v.(map[string]any)["@iot.id"].(float64)))
	}
	return fmt.Sprint(out)
}

// $ref writes add and remove links (18-088 §10.3, OData 4.0 §11.4.6) on both stores; a
// mandatory link cannot be removed; bad requests are 4xx naming what is wrong and change nothing.
func TestRefWrites(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedPaging(t, n) // Things 1-3 with Locations 1-3; Datastreams 1-7 on Thing 1, 8-9 on Thing 2
			base := n.srv.URL + "/v1.1"
			ok := func(method, path, body string) {
				t.Helper()
				if st, b := n.call(t, method, path, body); st != http.StatusNoContent || b != "" {
					t.Fatalf("%s %s %s: %d %s, want 204", method, path, body, st, b)
				}
			}
			check := func(path, want string) {
				t.Helper()
				if got := idList(t, n, path); got != want {
					t.Errorf("%s: %s, want %s", path, got, want)
				}
			}
			hl := func(thing int) int {
				return len(n.get(t, fmt.Sprintf("/Things(%d)/HistoricalLocations", thing))["value"].([]any))
			}
			before := hl(1)
			ok("POST", "/Things(1)/Locations/$ref", `{"@iot.id":3}`)
			check("/Things(1)/Locations?$orderby=id", "[1 3]")
			if hl(1) != before+1 {
				t.Errorf("linking a Location made %d HistoricalLocations, want 1", hl(1)-before)
			}
			ok("POST", "/Things(1)/Locations/$ref", `{"@iot.id":"3"}`) // already linked: nothing changes
			if hl(1) != before+1 {
				t.Errorf("linking again made another HistoricalLocation")
			}
			ok("POST", "/Things(1)/Locations/$ref", `{"@iot.selfLink":"`+base+`/Locations(2)"}`)
			check("/Things(1)/Locations?$orderby=id", "[1 2 3]")
			ok("DELETE", "/Things(1)/Locations(2)/$ref", "")
			check("/Things(1)/Locations?$orderby=id", "[1 3]")
			check("/Locations(2)/Things", "[2]") // the Location itself stays
			ok("DELETE", "/Things(1)/Locations/$ref?$id="+url.QueryEscape(base+"/Locations(3)"), "")
			check("/Things(1)/Locations", "[1]")
			ok("PUT", "/Datastreams(1)/Sensor/$ref", `{"@iot.id":2}`)
			check("/Sensors(2)/Datastreams?$orderby=id", "[1 2]")
			ok("POST", "/Things(3)/Datastreams/$ref", `{"@odata.id":"Datastreams(9)"}`)
			check("/Things(3)/Datastreams", "[9]")
			check("/Things(2)/Datastreams", "[8]")
			before = hl(2)
			ok("POST", "/Locations(3)/Things/$ref", `{"@iot.id":2}`) // from the other side
			check("/Things(2)/Locations?$orderby=id", "[2 3]")
			if hl(2) != before+1 {
				t.Errorf("linking a Thing to a Location made %d HistoricalLocations for it, want 1", hl(2)-before)
			}
			ok("DELETE", "/Locations(3)/Things(2)/$ref", "")
			check("/Things(2)/Locations", "[2]")
			// an Observation moved to another Datastream: both Datastreams' phenomenonTime follow
			ok("POST", "/Datastreams(2)/Observations/$ref", `{"@iot.id":4}`)
			check("/Datastreams(1)/Observations?$orderby=id", "[1 2 3]")
			for _, d := range []int{1, 2} {
				var times []string
				for _, o := range n.get(t, fmt.Sprintf("/Datastreams(%d)/Observations?$orderby=phenomenonTime", d))["value"].([]any) {
					times = append(times, o.(map[string]any)["phenomenonTime"].(string))
				}
				want := times[0] + "/" + times[len(times)-1]
				if got := n.get(t, fmt.Sprintf("/Datastreams(%d)", d))["phenomenonTime"]; got != want {
					t.Errorf("Datastreams(%d) phenomenonTime %v after the move, want %s", d, got, want)
				}
			}

			for _, c := range []struct {
				method, path, body string
				status             int
				msg                string
			}{
				{"DELETE", "/Datastreams(1)/Sensor/$ref", "", 400, "a Datastream must have a Sensor; link another one with PUT Datastreams(1)/Sensor/$ref"},
				{"DELETE", "/Things(1)/Datastreams(1)/$ref", "", 400, "Datastreams(1) cannot be removed from Things(1)/Datastreams: a Datastream must have a Thing"},
				{"DELETE", "/Observations(1)/FeatureOfInterest/$ref", "", 400, "an Observation must have a FeatureOfInterest"},
				{"DELETE", "/HistoricalLocations(1)/Thing/$ref", "", 400, "must have a Thing"},
				{"POST", "/Datastreams(1)/Sensor/$ref", `{"@iot.id":1}`, 400, "Sensor is a single entity; change it with PUT"},
				{"PUT", "/Things(1)/Locations/$ref", `{"@iot.id":2}`, 400, "Locations is a collection; add to it with POST"},
				{"POST", "/Things(1)/Locations/$ref", `{"@iot.id":99}`, 404, "Locations(99) does not exist"},
				{"PUT", "/Datastreams(1)/Sensor/$ref", `{"@iot.id":99}`, 404, "Sensors(99) does not exist"},
				{"POST", "/Things(99)/Locations/$ref", `{"@iot.id":2}`, 404, "Things(99) does not exist"},
				{"POST", "/Things(1)/Locations/$ref", `{"@iot.selfLink":"` + base + `/Things(2)"}`, 400, `is not a Location`},
				{"POST", "/Things(1)/Locations/$ref", `{"@iot.selfLink":"nonsense"}`, 400, `\"nonsense\" is not the URL of an entity`},
				{"POST", "/Things(1)/Locations/$ref", `{"@iot.id":3,"name":"x"}`, 400, "exactly one of"},
				{"POST", "/Things(1)/Locations/$ref", `{"@iot.id":"abc"}`, 400, "@iot.id: \\\"abc\\\" is not an id"},
				{"POST", "/Things(1)/Locations/$ref", `{"id":3}`, 400, `unexpected member \"id\"`},
				{"POST", "/Things(1)/Locations/$ref", `[3]`, 400, "want a JSON object"},
				{"POST", "/Things(1)/Locations/$ref", ``, 400, "request body is empty"},
				{"POST", "/Things(1)/Locations(3)/$ref", `{"@iot.id":3}`, 400, "goes in the body"},
				{"DELETE", "/Things(1)/Locations/$ref", "", 400, "name the link to remove"},
				{"DELETE", "/Things(1)/Locations(1)/$ref?$id=Locations(1)", "", 400, "either in the path or in $id"},
				{"DELETE", "/Things(1)/Locations/$ref?$id=Things(1)", "", 400, "is not a Location"},
				{"DELETE", "/Things(1)/Locations(2)/$ref", "", 404, "Things(1) has no Locations(2)"},
				{"POST", "/Things(1)/$ref", `{"@iot.id":3}`, 400, "name the navigation property"},
				{"POST", "/Things/$ref", `{"@iot.id":3}`, 400, "name the navigation property"},
				{"PATCH", "/Things(1)/Locations/$ref", `{"@iot.id":3}`, 405, "PATCH is not allowed"},
			} {
				st, b := n.call(t, c.method, c.path, c.body)
				if st != c.status || !strings.Contains(b, c.msg) {
					t.Errorf("%s %s %s: %d %s; want %d containing %q", c.method, c.path, c.body, st, b, c.status, c.msg)
				}
			}
			// unauthenticated: refused before anything is read
			req, _ := http.NewRequest("POST", base+"/Things(1)/Locations/$ref", strings.NewReader(`{"@iot.id":3}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("$ref write without a key: %d, want 401", resp.StatusCode)
			}
			// nothing the refusals touched changed
			check("/Things(1)/Locations", "[1]")
			check("/Sensors(2)/Datastreams?$orderby=id", "[1 2]")
			check("/Things(1)/Datastreams?$orderby=id", "[1 2 3 4 5 6 7]")
		})
	}
}

// any, all and in over HTTP on both stores, with FROST-Server's examples. What each filter
// should select is worked out here, in Go, from the unfiltered entities with their related
// ones expanded; an in list over the limit is a 400 naming the limit.
func TestLambdaAndIn(t *testing.T) {
	type obj = map[string]any
	many := func(m obj, nav string) []obj {
		var out []obj
		for _, v := range m[nav].([]any) {
			out = append(out, v.(obj))
		}
		return out
	}
	anyOf := func(xs []obj, f func(obj) bool) bool {
		for _, x := range xs {
			if f(x) {
				return true
			}
		}
		return false
	}
	allOf := func(xs []obj, f func(obj) bool) bool {
		for _, x := range xs {
			if !f(x) {
				return false
			}
		}
		return true
	}
	result := func(o obj) float64 { return o["result"].(float64) }
	oneOf := func(v any, vs ...any) bool {
		for _, x := range vs {
			if v == x {
				return true
			}
		}
		return false
	}
	const thingX = "Datastreams($top=1000;$expand=Observations($top=1000)),Locations"
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedPaging(t, n)
			for _, c := range []struct {
				path, filter, expand string
				want                 func(obj) bool
			}{
				{"/Things", "Datastreams/any(d:d/name eq 'z')", thingX, func(th obj) bool {
					return anyOf(many(th, "Datastreams"), func(d obj) bool { return d["name"] == "z" })
				}},
				{"/Things", "Datastreams/any()", thingX, func(th obj) bool { return len(many(th, "Datastreams")) > 0 }},
				{"/Things", "Datastreams/all(d: d/Observations/any(o: o/result gt 2))", thingX, func(th obj) bool {
					return allOf(many(th, "Datastreams"), func(d obj) bool {
						return anyOf(many(d, "Observations"), func(o obj) bool { return result(o) > 2 })
					})
				}},
				{"/Things", "Datastreams/any(d: d/Observations/all(o: o/result eq 0 or o/result eq 2))", thingX, func(th obj) bool {
					return anyOf(many(th, "Datastreams"), func(d obj) bool {
						return allOf(many(d, "Observations"), func(o obj) bool { return result(o) == 0 || result(o) == 2 })
					})
				}},
				{"/Things", "Locations/any(l: l/name eq 'Tarbela') or not Datastreams/any(d: d/name in ('a','z'))", thingX, func(th obj) bool {
					return anyOf(many(th, "Locations"), func(l obj) bool { return l["name"] == "Tarbela" }) ||
						!anyOf(many(th, "Datastreams"), func(d obj) bool { return oneOf(d["name"], "a", "z") })
				}},
				{"/Datastreams", "Observations/any(o: o/result eq 3) and name in ('a','b')", "Observations($top=1000)", func(d obj) bool {
					return anyOf(many(d, "Observations"), func(o obj) bool { return result(o) == 3 }) && oneOf(d["name"], "a", "b")
				}},
				{"/Datastreams", "Observations/all(o: o/result lt 3 and o/phenomenonTime lt 2025-08-09T02:00:00Z)", "Observations($top=1000)", func(d obj) bool {
					return allOf(many(d, "Observations"), func(o obj) bool { return result(o) < 3 && o["phenomenonTime"].(string) < "2025-08-09T02:00:00Z" })
				}},
				{"/Observations", "result in (3, 'x', 1) and Datastream/Thing/Datastreams/any(d: d/name eq 'z')", "Datastream($expand=Thing($expand=Datastreams($top=1000)))", func(o obj) bool {
					th := o["Datastream"].(obj)["Thing"].(obj)
					return oneOf(o["result"], 3.0, 1.0) && anyOf(many(th, "Datastreams"), func(d obj) bool { return d["name"] == "z" })
				}},
				{"/HistoricalLocations", "Locations/any(l: l/name in ('Tarbela', 'Marala'))", "Locations", func(h obj) bool {
					return anyOf(many(h, "Locations"), func(l obj) bool { return oneOf(l["name"], "Tarbela", "Marala") })
				}},
				{"/FeaturesOfInterest", "Observations/any(o: o/result eq 3 and o/Datastream/name eq 'z')", "Observations($top=1000;$expand=Datastream)", func(f obj) bool {
					return anyOf(many(f, "Observations"), func(o obj) bool { return result(o) == 3 && o["Datastream"].(obj)["name"] == "z" })
				}},
				{"/Locations", "Things/any(t: t/properties/river eq 'Indus' or t/properties/rank in (1))", "Things", func(l obj) bool {
					return anyOf(many(l, "Things"), func(th obj) bool {
						p := th["properties"].(obj)
						return p["river"] == "Indus" || p["rank"] == 1.0
					})
				}},
			} {
				all := n.get(t, c.path+"?$orderby=id&$top=1000&$expand="+q(c.expand))["value"].([]any)
				var want []int
				for _, v := range all {
					if c.want(v.(obj)) {
						want = append(want, int(v.(obj)["@iot.id"].(float64)))
					}
				}
				if len(want) == 0 || len(want) == len(all) {
					t.Errorf("%s?$filter=%s: selects %d of %d: the case does not discriminate", c.path, c.filter, len(want), len(all))
				}
				if got := idList(t, n, c.path+"?$orderby=id&$top=1000&$filter="+q(c.filter)); got != fmt.Sprint(want) {
					t.Errorf("%s?$filter=%s: %s, want %v", c.path, c.filter, got, want)
				}
			}
			long := "name in (" + strings.Repeat("'x',", 1000) + "'y')"
			for _, c := range []struct{ path, filter, msg string }{
				{"/Things", long, "$filter: position 6: in: a list has at most 1000 values"},
				{"/Things", "name in ()", "in needs at least one value"},
				{"/Observations", "Datastream/any(d: d/name eq 'x')", "any applies to a collection; Datastream leads to one Datastream"},
				{"/Things", "Datastreams/all(d: d/nmae eq 'x')", `Datastreams has no property \"nmae\"`},
				{"/Things", "Datastreams/any(d: d/name eq 1)", `cannot compare d/name (a string) with 1 (a number)`},
			} {
				if st, b := n.call(t, "GET", c.path+"?$filter="+q(c.filter), ""); st != 400 || !strings.Contains(b, c.msg) {
					t.Errorf("%.60s: %d %.300s, want 400 with %q", c.filter, st, b, c.msg)
				}
			}
		})
	}
}

// Two $expand items through the same navigation property both apply (they used to overwrite
// each other): Datastreams/Sensor,Datastreams/ObservedProperty gives each Datastream both.
func TestExpandSameNavigationTwice(t *testing.T) {
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) {
			n := newStoreNode(t, store)
			seedPaging(t, n)
			m := n.get(t, "/Things(2)?$expand="+q("Datastreams($select=name),Datastreams/Sensor($select=id),Datastreams/ObservedProperty"))
			dss := m["Datastreams"].([]any)
			if len(dss) != 2 {
				t.Fatalf("Datastreams: %v", m)
			}
			for _, d := range dss {
				d := d.(map[string]any)
				s, _ := d["Sensor"].(map[string]any)
				op, _ := d["ObservedProperty"].(map[string]any)
				if d["name"] == nil || d["description"] != nil || s == nil || len(s) != 2 || s["@iot.id"] == nil || op == nil || op["name"] != "level" {
					t.Errorf("Datastream %v", d)
				}
			}
			if st, b := n.call(t, "GET", "/Things?$expand="+q("Datastreams($top=1),Datastreams($top=2)"), ""); st != 400 || !strings.Contains(b, "expanded twice") {
				t.Errorf("two sets of options: %d %s", st, b)
			}
		})
	}
}
