package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// query builds a Query for set (optionally under parent "Things(1)/Datastreams"-style given
// as set, id, nav) from URL query options ("$filter=...&$top=2").
func query(t testing.TB, set string, parent *sensing.Parent, opts string) *sensing.Query {
	t.Helper()
	v, err := url.ParseQuery(opts)
	if err != nil {
		t.Fatal(err)
	}
	o, err := odata.ParseOptions(v)
	if err != nil {
		t.Fatalf("%s: %v", opts, err)
	}
	top := 100
	if o.Top != nil {
		top = int(*o.Top)
	}
	return &sensing.Query{Set: set, Parent: parent, Opts: o, Top: top, MaxTop: 1000}
}

func list(t testing.TB, s Stores, set string, parent *sensing.Parent, opts string) *sensing.Page {
	t.Helper()
	p, err := s.Entities.List(ctx(), query(t, set, parent, opts))
	if err != nil {
		t.Fatalf("List %s %v %s: %v", set, parent, opts, err)
	}
	return p
}

func idsOf(ents []*sensing.Entity) string {
	var out []int64
	for _, e := range ents {
		out = append(out, e.ID)
	}
	return fmt.Sprint(out)
}

func get(t testing.TB, s Stores, set string, id int64, opts string) *sensing.Entity {
	t.Helper()
	q := query(t, set, nil, opts)
	q.ID = id
	e, err := s.Entities.Get(ctx(), q)
	if err != nil {
		t.Fatalf("Get %s(%d): %v", set, id, err)
	}
	return e
}

func kind(err error) apperr.Kind { return apperr.KindOf(err) }

func under(set string, id int64, nav string) *sensing.Parent {
	return &sensing.Parent{Set: set, ID: id, Nav: nav}
}

func testDeepInsert(t *testing.T, s Stores) {
	seed(t, s)
	cases := []struct {
		set    string
		parent *sensing.Parent
		want   string
	}{
		{sensing.Things, nil, "[1 2]"},
		{sensing.Datastreams, under(sensing.Things, 1, "Datastreams"), "[1]"},
		{sensing.Locations, under(sensing.Things, 1, "Locations"), "[1]"},
		{sensing.HistoricalLocations, under(sensing.Things, 1, "HistoricalLocations"), "[1]"},
		{sensing.Locations, under(sensing.HistoricalLocations, 2, "Locations"), "[2]"},
		{sensing.Things, under(sensing.Locations, 2, "Things"), "[2]"},
		{sensing.Observations, under(sensing.Datastreams, 1, "Observations"), "[1 2 3 4]"},
		{sensing.Datastreams, under(sensing.Sensors, 2, "Datastreams"), "[2]"},
		{sensing.Observations, under(sensing.FeaturesOfInterest, 1, "Observations"), "[1 2 3 4]"},
		{sensing.Observations, under(sensing.FeaturesOfInterest, 2, "Observations"), "[5 6]"},
	}
	for _, c := range cases {
		if got := idsOf(list(t, s, c.set, c.parent, "").Entities); got != c.want {
			t.Errorf("%v/%s: %s, want %s", c.parent, c.set, got, c.want)
		}
	}
	// the Feature of Interest made from the Location
	foi := get(t, s, sensing.FeaturesOfInterest, 1, "")
	if foi.Props["name"] != "Khanki" || !strings.Contains(string(foi.Props["feature"].(json.RawMessage)), "73.9744") {
		t.Errorf("FeatureOfInterest from Location: %v", foi.Props)
	}
	set, id, err := s.Entities.Navigate(ctx(), sensing.Observations, 3, "Datastream")
	if err != nil || set != sensing.Datastreams || id != 1 {
		t.Errorf("Navigate Observations(3)/Datastream: %s %d %v", set, id, err)
	}
	set, id, err = s.Entities.Navigate(ctx(), sensing.Datastreams, 2, "Thing")
	if err != nil || set != sensing.Things || id != 2 {
		t.Errorf("Navigate Datastreams(2)/Thing: %s %d %v", set, id, err)
	}
	if _, _, err := s.Entities.Navigate(ctx(), sensing.Observations, 99, "Datastream"); kind(err) != apperr.NotFound {
		t.Errorf("Navigate from a missing entity: %v, want NotFound", err)
	}
	q := query(t, sensing.Datastreams, under(sensing.Things, 1, "Datastreams"), "")
	q.ID = 2
	if _, err := s.Entities.Get(ctx(), q); kind(err) != apperr.NotFound {
		t.Errorf("Things(1)/Datastreams(2): %v, want NotFound (not related)", err)
	}
	q = query(t, sensing.Things, nil, "")
	q.ID = 42
	if _, err := s.Entities.Get(ctx(), q); kind(err) != apperr.NotFound || !strings.Contains(err.Error(), "Things(42) does not exist") {
		t.Errorf("Things(42): %v", err)
	}
	ds := get(t, s, sensing.Datastreams, 1, "")
	if ds.Props["phenomenonTime"] != "2025-08-25T07:00:00Z/2025-08-28T07:00:00Z" || ds.Props["resultTime"] != nil {
		t.Errorf("Datastream spans: %v / %v", ds.Props["phenomenonTime"], ds.Props["resultTime"])
	}
	hl := get(t, s, sensing.HistoricalLocations, 1, "")
	if tm, _ := hl.Props["time"].(string); tm == "" {
		t.Errorf("HistoricalLocation time: %v", hl.Props)
	}
	// a reference to a missing entity fails the whole deep insert
	before, _ := s.Entities.CountThings(ctx())
	_, err = s.Entities.Create(ctx(), entity(t, sensing.Things, `{"name":"x","description":"y","Datastreams":[{"name":"d","description":"d","observationType":"o",
		"unitOfMeasurement":{},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":99}}]}`))
	if kind(err) != apperr.NotFound {
		t.Errorf("deep insert with a missing reference: %v, want NotFound", err)
	}
	if after, _ := s.Entities.CountThings(ctx()); after != before {
		t.Errorf("failed deep insert left a Thing: %d, want %d", after, before)
	}
	_, err = s.Entities.Create(ctx(), entity(t, sensing.Datastreams, `{"name":"d","description":"d","observationType":"o","unitOfMeasurement":{},
		"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`))
	if kind(err) != apperr.Invalid {
		t.Errorf("Datastream without its Thing: %v, want Invalid", err)
	}
	// an Observation deep-inserted with its Datastream by reference
	oid, err := s.Entities.Create(ctx(), entity(t, sensing.Observations, `{"phenomenonTime":"2025-09-01T00:00:00Z","result":{"state":"dry"},"Datastream":{"@iot.id":2}}`))
	if err != nil || oid != 7 {
		t.Fatalf("create Observation: %d %v", oid, err)
	}
	o := get(t, s, sensing.Observations, oid, "")
	if string(o.Props["result"].(json.RawMessage)) != `{"state":"dry"}` || o.Props[sensing.DatastreamIDProp] != int64(2) {
		t.Errorf("created Observation: %v", o.Props)
	}
}

func testTimes(t *testing.T, s Stores) {
	seed(t, s)
	for _, pt := range []string{"2025-08-27T17:00:00.125+05:00", "2025-08-27T12:00:00Z/2025-08-27T13:00:00Z", "2025-08-27T08:00:00-04:00"} {
		id, err := s.Entities.Create(ctx(), entity(t, sensing.Observations,
			`{"phenomenonTime":"`+pt+`","result":5,"resultTime":"2025-08-27T12:30:00+08:00","validTime":"2025-08-27T00:00:00Z/2025-08-28T00:00:00Z","Datastream":{"@iot.id":2}}`))
		if err != nil {
			t.Fatal(err)
		}
		o := get(t, s, sensing.Observations, id, "")
		if o.Props["phenomenonTime"] != pt || o.Props["resultTime"] != "2025-08-27T12:30:00+08:00" || o.Props["validTime"] != "2025-08-27T00:00:00Z/2025-08-28T00:00:00Z" {
			t.Errorf("sent %s, got %v / %v / %v", pt, o.Props["phenomenonTime"], o.Props["resultTime"], o.Props["validTime"])
		}
		if o.Props["result"] != 5.0 {
			t.Errorf("result %#v", o.Props["result"])
		}
	}
	ds := get(t, s, sensing.Datastreams, 2, "")
	if ds.Props["resultTime"] != "2025-08-27T04:30:00Z/2025-08-27T04:30:00Z" {
		t.Errorf("Datastream resultTime span: %v", ds.Props["resultTime"])
	}
}

func testFilters(t *testing.T, s Stores) {
	seed(t, s)
	cases := []struct {
		set, filter string
		want        string
	}{
		{sensing.Observations, "result gt 650000", "[3 4 6]"},
		{sensing.Observations, "result ge 600000 and result le 900000", "[2 4 6]"},
		{sensing.Observations, "phenomenonTime ge 2025-08-27T00:00:00Z and phenomenonTime lt 2025-08-28T00:00:00Z", "[3 6]"},
		{sensing.Observations, "Datastream/Thing/name eq 'Marala'", "[5 6]"},
		{sensing.Things, "Datastreams/Observations/result gt 1000000", "[1]"},
		{sensing.Things, "properties/river eq 'Chenab' and not (name eq 'Khanki')", "[2]"},
		{sensing.Things, "startswith(name,'Kha') or endswith(name,'ala')", "[1 2]"},
		{sensing.Things, "substringof('anki', name)", "[1]"},
		{sensing.Things, "length(name) eq 6 and tolower(name) eq 'marala'", "[2]"},
		{sensing.Things, "id eq '2'", "[2]"},
		{sensing.Observations, "year(phenomenonTime) eq 2025 and day(phenomenonTime) eq 28", "[4]"},
		{sensing.Observations, "result div 1000 gt 950", "[3]"},
		{sensing.Observations, "round(result div 100000) eq 10", "[3]"},
		{sensing.Locations, "st_within(location, geography'POLYGON((73 32, 74.2 32, 74.2 33, 73 33, 73 32))')", "[1]"},
		{sensing.Locations, "geo.distance(location, geography'POINT(74.46 32.67)') lt 0.1", "[2]"},
		{sensing.Locations, "geo.intersects(location, geography'POLYGON((74 32, 75 32, 75 33, 74 33, 74 32))')", "[2]"},
		{sensing.Things, "st_within(Locations/location, geography'POLYGON((74 32, 75 32, 75 33, 74 33, 74 32))')", "[2]"},
		{sensing.FeaturesOfInterest, "st_within(feature, geography'POLYGON((73 32, 74.2 32, 74.2 33, 73 33, 73 32))')", "[1]"},
		{sensing.Datastreams, "unitOfMeasurement/symbol eq '[cft_i]/s'", "[1 2]"},
		{sensing.Observations, "validTime eq null", "[1 2 3 4 5 6]"},
		{sensing.Observations, "resultQuality/flag eq 'bad'", "[]"},
	}
	for _, c := range cases {
		if got := idsOf(list(t, s, c.set, nil, "$filter="+url.QueryEscape(c.filter)).Entities); got != c.want {
			t.Errorf("%s?$filter=%s: %s, want %s", c.set, c.filter, got, c.want)
		}
	}
	// a filter only the database can find wrong is the client's mistake, never a 500
	for _, f := range []string{"id eq 'abc'"} {
		_, err := s.Entities.List(ctx(), query(t, sensing.Things, nil, "$filter="+url.QueryEscape(f)))
		if err != nil && kind(err) != apperr.Invalid {
			t.Errorf("$filter=%s: %v (kind %v), want no error or Invalid", f, err, kind(err))
		}
	}
	var oe *odata.Error
	if _, err := s.Entities.List(ctx(), query(t, sensing.Things, nil, "$filter="+url.QueryEscape("nmae eq 'x'"))); !errors.As(err, &oe) {
		t.Errorf("unknown property: %v, want *odata.Error", err)
	}
}

func testQueryOptions(t *testing.T, s Stores) {
	seed(t, s)
	p := list(t, s, sensing.Observations, under(sensing.Datastreams, 1, "Observations"), "$orderby=result desc&$top=2&$count=true")
	if p.Count == nil || *p.Count != 4 || idsOf(p.Entities) != "[3 4]" || p.Next == nil {
		t.Errorf("orderby/top/count: count %v ids %s next %v", p.Count, idsOf(p.Entities), p.Next)
	}
	p = list(t, s, sensing.Things, nil, "$expand="+url.QueryEscape("Datastreams($select=name;$expand=Observations($orderby=phenomenonTime desc;$top=1)),Locations")+"&$orderby=name")
	if len(p.Entities) != 2 {
		t.Fatalf("expand: %d things", len(p.Entities))
	}
	th := p.Entities[0]
	dsx := th.Expanded["Datastreams"]
	if th.Props["name"] != "Khanki" || dsx == nil || len(dsx.Many) != 1 || len(th.Expanded["Locations"].Many) != 1 {
		t.Fatalf("nested $expand: %+v", th.Expanded)
	}
	ox := dsx.Many[0].Expanded["Observations"]
	if ox == nil || len(ox.Many) != 1 || ox.Many[0].Props["result"] != 700000.0 || ox.Next == nil || ox.Top != 1 {
		t.Errorf("nested expanded Observations: %+v", ox)
	}
	e := get(t, s, sensing.Observations, 3, "$expand=Datastream/Thing")
	if x := e.Expanded["Datastream"]; x == nil || x.One == nil || x.One.Expanded["Thing"].One.Props["name"] != "Khanki" {
		t.Errorf("expand path: %+v", e.Expanded)
	}
	p = list(t, s, sensing.Observations, nil, "$skip=4&$orderby=id")
	if idsOf(p.Entities) != "[5 6]" {
		t.Errorf("$skip: %s", idsOf(p.Entities))
	}
	p = list(t, s, sensing.Observations, nil, "$top=0&$count=true")
	if p.Count == nil || *p.Count != 6 || len(p.Entities) != 0 {
		t.Errorf("$top=0&$count=true: %v %d", p.Count, len(p.Entities))
	}
	p = list(t, s, sensing.Things, nil, "$count=true&$filter="+url.QueryEscape("name eq 'Marala'")+"&$expand="+url.QueryEscape("Datastreams($count=true)"))
	if *p.Count != 1 || idsOf(p.Entities) != "[2]" || p.Entities[0].Expanded["Datastreams"].Count == nil || *p.Entities[0].Expanded["Datastreams"].Count != 1 {
		t.Errorf("count in expand: %+v", p.Entities)
	}
	// $select is applied by the HTTP layer; the store returns every property
	p = list(t, s, sensing.Observations, nil, "$select=result&$orderby=phenomenonTime desc,id&$top=3")
	if idsOf(p.Entities) != "[4 6 3]" || p.Entities[0].Props["phenomenonTime"] == nil {
		t.Errorf("$select/$orderby: %s", idsOf(p.Entities))
	}
	// resultQuality is the flag when QC left no detail
	if q := p.Entities[0].Props["resultQuality"]; string(q.(json.RawMessage)) != `{"flag":"good"}` {
		t.Errorf("resultQuality %s", q)
	}
}

// roundTrip passes a cursor through JSON as the HTTP layer does ($skiptoken).
func roundTrip(t *testing.T, c *sensing.Cursor) *sensing.Cursor {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("cursor %+v: %v", c, err)
	}
	var out sensing.Cursor
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	for i, k := range out.Keys {
		if n, ok := k.(json.Number); ok {
			if iv, err := n.Int64(); err == nil {
				out.Keys[i] = iv
			} else {
				out.Keys[i], _ = n.Float64()
			}
		}
	}
	return &out
}

// Paging: follow the cursor while observations keep arriving; every row is seen once and the
// count stays what it was when the listing began.
func testPaging(t *testing.T, s Stores) {
	seed(t, s)
	var batch []sensing.Observation
	for i := range 40 {
		batch = append(batch, obs(2, fmt.Sprintf("2025-09-01T%02d:%02d:00Z", i/60, i%60), 1000+i%7))
	}
	if _, errs, err := s.Entities.Ingest(ctx(), batch); err != nil || errors.Join(errs...) != nil {
		t.Fatal(err, errs)
	}
	for _, orderby := range []string{"result desc", "phenomenonTime", "result,phenomenonTime desc", ""} {
		opts := "$top=7&$count=true"
		if orderby != "" {
			opts += "&$orderby=" + url.QueryEscape(orderby)
		}
		q := query(t, sensing.Observations, under(sensing.Datastreams, 2, "Observations"), opts)
		total := *list(t, s, sensing.Observations, under(sensing.Datastreams, 2, "Observations"), "$count=true&$top=0").Count
		seen := map[int64]bool{}
		pages := 0
		var last []*sensing.Entity
		for {
			p, err := s.Entities.List(ctx(), q)
			if err != nil {
				t.Fatalf("%s page %d: %v", orderby, pages, err)
			}
			if p.Count == nil || *p.Count != total {
				t.Fatalf("%s page %d: count %v, want %d", orderby, pages, p.Count, total)
			}
			for _, e := range p.Entities {
				if seen[e.ID] {
					t.Fatalf("%s: id %d seen twice", orderby, e.ID)
				}
				seen[e.ID] = true
			}
			last = append(last, p.Entities...)
			pages++
			// new data between pages must not shift or grow the listing
			if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(2, fmt.Sprintf("2025-09-02T00:%02d:00Z", pages), 999999)}); err != nil {
				t.Fatal(err)
			}
			if p.Next == nil {
				break
			}
			q.Cursor = roundTrip(t, p.Next)
		}
		if int64(len(seen)) != total || pages != int(total+6)/7 {
			t.Errorf("%s: saw %d rows in %d pages, want %d in %d", orderby, len(seen), pages, total, (total+6)/7)
		}
		if orderby == "result desc" {
			for i := 1; i < len(last); i++ {
				if last[i-1].Props["result"].(float64) < last[i].Props["result"].(float64) {
					t.Errorf("result desc out of order at %d", i)
				}
			}
		}
	}
}

func testUpdateDelete(t *testing.T, s Stores) {
	seed(t, s)
	up := entity(t, sensing.Things, `{"description":"renamed","properties":{"river":"Chenab","note":"x"}}`)
	up.ID = 1
	if err := s.Entities.Update(ctx(), up, false); err != nil {
		t.Fatal(err)
	}
	th := get(t, s, sensing.Things, 1, "")
	if th.Props["description"] != "renamed" || th.Props["name"] != "Khanki" || string(th.Props["properties"].(json.RawMessage)) != `{"river":"Chenab","note":"x"}` {
		t.Errorf("PATCH: %v", th.Props)
	}
	// a new Location for the Thing (POST Things(1)/Locations): the old one goes to history
	loc := entity(t, sensing.Locations, `{"name":"moved","description":"new site","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[74,32.5]}}`)
	loc.Links["Things"] = []*sensing.Entity{{Set: sensing.Things, ID: 1, Ref: true}}
	lid, err := s.Entities.Create(ctx(), loc)
	if err != nil || lid != 3 {
		t.Fatalf("new Location: %d %v", lid, err)
	}
	if got := idsOf(list(t, s, sensing.Locations, under(sensing.Things, 1, "Locations"), "").Entities); got != "[3]" {
		t.Errorf("current locations %s, want [3]", got)
	}
	if got := idsOf(list(t, s, sensing.HistoricalLocations, under(sensing.Things, 1, "HistoricalLocations"), "$orderby=id").Entities); got != "[1 3]" {
		t.Errorf("historical locations %s, want [1 3]", got)
	}
	// an observation without a FoI now gets one made from the new Location
	ids, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-08-29T00:00:00Z", 1)})
	if err != nil {
		t.Fatal(err)
	}
	if _, fid, err := s.Entities.Navigate(ctx(), sensing.Observations, ids[0], "FeatureOfInterest"); err != nil || fid != 3 {
		t.Errorf("FoI after moving: %d %v, want 3", fid, err)
	}
	// PUT: what is not given is reset
	rep := entity(t, sensing.ObservedProperties, `{"name":"Q","definition":"d","description":"replaced"}`)
	rep.ID = 1
	if err := s.Entities.Update(ctx(), rep, true); err != nil {
		t.Fatal(err)
	}
	if op := get(t, s, sensing.ObservedProperties, 1, ""); op.Props["name"] != "Q" || op.Props["properties"] != nil {
		t.Errorf("PUT: %v", op.Props)
	}
	// PATCH an observation's phenomenon time (into another month): the datastream span follows
	po := entity(t, sensing.Observations, `{"phenomenonTime":"2025-10-01T00:00:00Z"}`)
	po.ID = 4
	po.Obs = nil
	if err := s.Entities.Update(ctx(), po, false); err != nil {
		t.Fatal(err)
	}
	if ds := get(t, s, sensing.Datastreams, 1, ""); ds.Props["phenomenonTime"] != "2025-08-25T07:00:00Z/2025-10-01T00:00:00Z" {
		t.Errorf("span after PATCH: %v", ds.Props["phenomenonTime"])
	}
	// move it to another Datastream: both spans follow
	mv := &sensing.Entity{Set: sensing.Observations, ID: 4, Props: map[string]any{},
		Links: map[string][]*sensing.Entity{"Datastream": {{Set: sensing.Datastreams, ID: 2, Ref: true}}}}
	if err := s.Entities.Update(ctx(), mv, false); err != nil {
		t.Fatal(err)
	}
	if ds := get(t, s, sensing.Datastreams, 1, ""); strings.HasSuffix(fmt.Sprint(ds.Props["phenomenonTime"]), "/2025-10-01T00:00:00Z") {
		t.Errorf("the span of the Datastream an Observation left: %v", ds.Props["phenomenonTime"])
	}
	if ds := get(t, s, sensing.Datastreams, 2, ""); !strings.HasSuffix(fmt.Sprint(ds.Props["phenomenonTime"]), "2025-10-01T00:00:00Z") {
		t.Errorf("the span of the Datastream an Observation joined: %v", ds.Props["phenomenonTime"])
	}
	// relink a Datastream to another Thing
	rl := &sensing.Entity{Set: sensing.Datastreams, ID: 2, Props: map[string]any{}, Links: map[string][]*sensing.Entity{"Thing": {{Set: sensing.Things, ID: 1, Ref: true}}}}
	if err := s.Entities.Update(ctx(), rl, false); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list(t, s, sensing.Datastreams, under(sensing.Things, 1, "Datastreams"), "").Entities); got != "[1 2]" {
		t.Errorf("relinked datastreams %s", got)
	}
	bad := &sensing.Entity{Set: sensing.Things, ID: 77, Props: map[string]any{"name": "x"}}
	if err := s.Entities.Update(ctx(), bad, false); kind(err) != apperr.NotFound {
		t.Errorf("update missing: %v", err)
	}
	if err := s.Entities.Delete(ctx(), sensing.Things, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		set string
		id  int64
	}{{sensing.Things, 1}, {sensing.Datastreams, 1}, {sensing.Datastreams, 2}, {sensing.Observations, 1}, {sensing.Observations, 5}, {sensing.HistoricalLocations, 1}} {
		q := query(t, c.set, nil, "")
		q.ID = c.id
		if _, err := s.Entities.Get(ctx(), q); kind(err) != apperr.NotFound {
			t.Errorf("after deleting Things(1), %s(%d): %v, want NotFound", c.set, c.id, err)
		}
	}
	if got := idsOf(list(t, s, sensing.Things, nil, "").Entities); got != "[2]" {
		t.Errorf("things left %s", got)
	}
	if err := s.Entities.Delete(ctx(), sensing.Things, 1); kind(err) != apperr.NotFound {
		t.Errorf("second delete: %v, want NotFound", err)
	}
	// deleting a Sensor takes its Datastreams; a FeatureOfInterest its Observations
	if err := s.Entities.Delete(ctx(), sensing.FeaturesOfInterest, 3); err != nil {
		t.Fatal(err)
	}
	if n := list(t, s, sensing.Observations, nil, "$count=true&$top=0").Count; *n != 0 {
		t.Errorf("observations left: %d", *n)
	}
}

func testIngestPerItem(t *testing.T, s Stores) {
	qc := &Checker{}
	var committed []int
	s.Configure(qc, false, "", func(n int) { committed = append(committed, n) })
	seed(t, s)
	batch := []sensing.Observation{
		obs(1, "2025-09-01T00:00:00Z", 1), obs(99, "2025-09-01T00:00:00Z", 2), obs(1, "2025-09-01T01:00:00Z", -50),
		obs(1, "2025-09-01T02:00:00Z", 666), obs(2, "2025-09-01T00:00:00Z", "high"), obs(1, "1969-07-20T20:17:40Z", 3),
	}
	batch[0].Parameters = json.RawMessage(`{"source":"test"}`)
	ids, errs, err := s.Entities.Ingest(ctx(), batch)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ids) != "[7 0 8 0 9 10]" {
		t.Errorf("ids %v", ids)
	}
	if errs[0] != nil || kind(errs[1]) != apperr.NotFound || !strings.Contains(errs[1].Error(), "Datastreams(99) does not exist") ||
		errs[2] != nil || errs[3] == nil || !strings.Contains(errs[3].Error(), "666") || errs[4] != nil || errs[5] != nil {
		t.Errorf("errs %v", errs)
	}
	if fmt.Sprint(committed) != "[6 4]" {
		t.Errorf("AfterCommit calls %v, want [6 4]", committed)
	}
	if qc.Calls[1] != 8 || qc.Calls[2] != 3 || qc.Recent[1] != 0 {
		t.Errorf("QC calls %v, recent %v", qc.Calls, qc.Recent)
	}
	if batch[2].ID != 8 || batch[2].FoIID != 1 || batch[2].Flag != sensing.FlagBad {
		t.Errorf("the batch is updated in place: %+v", batch[2])
	}
	o := get(t, s, sensing.Observations, 8, "")
	var q map[string]any
	json.Unmarshal(o.Props["resultQuality"].(json.RawMessage), &q)
	if q["flag"] != "bad" {
		t.Errorf("QC flag not stored: %v", o.Props["resultQuality"])
	}
	if got := idsOf(list(t, s, sensing.Observations, nil, "$filter="+url.QueryEscape("resultQuality/flag eq 'bad'")).Entities); got != "[8]" {
		t.Errorf("filter on the stored flag: %s", got)
	}
	o = get(t, s, sensing.Observations, 9, "")
	if string(o.Props["result"].(json.RawMessage)) != `"high"` {
		t.Errorf("string result %v", o.Props["result"])
	}
	if string(get(t, s, sensing.Observations, 7, "").Props["parameters"].(json.RawMessage)) != `{"source":"test"}` {
		t.Errorf("parameters")
	}
	// an observation long before the others (another partition, for a partitioned store)
	if ds := get(t, s, sensing.Datastreams, 1, ""); ds.Props["phenomenonTime"] != "1969-07-20T20:17:40Z/2025-09-01T01:00:00Z" {
		t.Errorf("span %v", ds.Props["phenomenonTime"])
	}
	// nothing stored: every item refused
	ids, errs, err = s.Entities.Ingest(ctx(), []sensing.Observation{obs(98, "2025-09-01T00:00:00Z", 1)})
	if err != nil || ids[0] != 0 || kind(errs[0]) != apperr.NotFound {
		t.Errorf("all refused: %v %v %v", ids, errs, err)
	}
	// a store restarted (cache empty) gives QC the recent values
	s2 := &Checker{}
	s.Configure(s2, false, "", nil)
	if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-02T00:00:00Z", 1)}); err != nil {
		t.Fatal(err)
	}
	if s2.Recent[1] != 7 {
		t.Logf("recent values after reconfiguring: %d (the cache may survive Configure)", s2.Recent[1])
	}
	// a Thing without a Location: no FeatureOfInterest can be made for any of its observations,
	// and none is stored without one
	thing, err := s.Entities.Create(ctx(), entity(t, sensing.Things, `{"name":"nowhere","description":"no location",
		"Datastreams":[{"name":"ds-nowhere","description":"d","observationType":"x","unitOfMeasurement":{"name":"m","symbol":"m"},
		"Sensor":{"name":"s","description":"d","encodingType":"text/html","metadata":"x"},
		"ObservedProperty":{"name":"level","definition":"x","description":"d"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	nowhere := list(t, s, sensing.Datastreams, under(sensing.Things, thing, "Datastreams"), "").Entities[0].ID
	ids, errs, err = s.Entities.Ingest(ctx(), []sensing.Observation{obs(nowhere, "2025-09-03T00:00:00Z", 1), obs(nowhere, "2025-09-03T01:00:00Z", 2)})
	if err != nil || fmt.Sprint(ids) != "[0 0]" || kind(errs[0]) != apperr.Invalid || kind(errs[1]) != apperr.Invalid {
		t.Errorf("observations of a Thing without a Location: ids %v, errs %v, %v", ids, errs, err)
	}
}

func testIngestNew(t *testing.T, s Stores) {
	seed(t, s)
	batch := func() []sensing.Observation {
		return []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1), obs(1, "2025-09-01T01:00:00Z", "x"),
			obs(2, "2025-09-01T00:00:00Z", 5), obs(1, "2025-09-01T00:00:00Z", 1)}
	}
	ids, errs, err := s.Entities.IngestNew(ctx(), batch())
	if err != nil {
		t.Fatal(err)
	}
	if ids[0] == 0 || ids[1] == 0 || ids[2] == 0 || ids[3] != 0 || !errors.Is(errs[3], sqlq.ErrDuplicate) {
		t.Errorf("first import: %v %v", ids, errs)
	}
	ids, errs, err = s.Entities.IngestNew(ctx(), batch())
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		if ids[i] != 0 || !errors.Is(errs[i], sqlq.ErrDuplicate) || kind(errs[i]) != apperr.Conflict {
			t.Errorf("second import item %d: %d %v", i, ids[i], errs[i])
		}
	}
	// same time, other result: not a duplicate
	ids, errs, _ = s.Entities.IngestNew(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 2)})
	if ids[0] == 0 || errs[0] != nil {
		t.Errorf("other result: %v %v", ids, errs)
	}
	if n := list(t, s, sensing.Observations, nil, "$count=true&$top=0").Count; *n != 10 {
		t.Errorf("observations: %d, want 10", *n)
	}
	// Ingest (not New) stores duplicates
	ids, _, _ = s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 2)})
	if ids[0] == 0 {
		t.Errorf("Ingest refused a duplicate")
	}
}

func testOutbox(t *testing.T, s Stores) {
	s.Configure(&Checker{}, true, "node-a", nil)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	s.SetNow(func() time.Time { return now })
	seed(t, s) // one batch, two datastreams
	if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(2, "2025-09-01T00:00:00Z", 1), obs(99, "2025-09-01T00:00:00Z", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(99, "2025-09-01T00:00:00Z", 1)}); err != nil {
		t.Fatal(err)
	}
	n, oldest, err := s.Entities.OutboxBacklog(ctx())
	if err != nil || n != 3 || !oldest.Equal(now) {
		t.Errorf("backlog %d %v %v, want 3 at %v", n, oldest, err, now)
	}
	es, err := s.OutboxPending(ctx(), 10)
	if err != nil || len(es) != 3 {
		t.Fatalf("pending %d %v", len(es), err)
	}
	var got []string
	for _, e := range es {
		b, err := sensing.DecodeObsBatch(e.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if e.Kind != "obs" || e.Key != b.Datastream || b.Node != "node-a" || !b.Accepted.Equal(now) || b.By != "" {
			t.Errorf("entry %+v batch %+v", e, b) // By: no key posted these
		}
		got = append(got, fmt.Sprintf("%d:%d", b.Datastream, len(b.Obs)))
	}
	if fmt.Sprint(got) != "[1:4 2:2 2:1]" {
		t.Errorf("entries %v", got)
	}
	if es[0].ID >= es[1].ID || es[1].ID >= es[2].ID {
		t.Errorf("ids not increasing: %d %d %d", es[0].ID, es[1].ID, es[2].ID)
	}
	first, _ := s.OutboxPending(ctx(), 1)
	if len(first) != 1 || first[0].ID != es[0].ID {
		t.Errorf("limit: %v", first)
	}
	if err := s.Entities.OutboxDone(ctx(), []int64{es[0].ID, es[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := s.Entities.OutboxDone(ctx(), nil); err != nil {
		t.Fatal(err)
	}
	rest, _ := s.OutboxPending(ctx(), 10)
	if len(rest) != 1 || rest[0].ID != es[2].ID {
		t.Errorf("after done: %v", rest)
	}
	s.Entities.OutboxDone(ctx(), []int64{es[2].ID})
	// an id is never handed out again; a batch a key posted names the key in its bus message
	// ("<organisation>/key-<id>", for the warning engine's four eyes)
	// (an operator of the organisation owning the datastream: the node's, as no key made it)
	_, kid, err := auth.Create(ctx(), s.Auth, auth.NodeOrganisation, auth.Operator, "gauge")
	if err != nil {
		t.Fatal(err)
	}
	posted := auth.WithPrincipal(ctx(), &auth.Principal{KeyID: kid, Organisation: auth.NodeOrganisation, Role: auth.Operator})
	if _, errs, err := s.Entities.Ingest(posted, []sensing.Observation{obs(2, "2025-09-03T00:00:00Z", 1)}); err != nil || errs[0] != nil {
		t.Fatalf("ingest: %v %v", errs, err)
	}
	again, _ := s.OutboxPending(ctx(), 10)
	if len(again) != 1 || again[0].ID <= es[2].ID {
		t.Fatalf("reused outbox id: %v", again)
	}
	if b, err := sensing.DecodeObsBatch(again[0].Payload); err != nil || b.By != fmt.Sprintf("%s/key-%d", auth.NodeOrganisation, kid) {
		t.Errorf("a posted batch on the bus: %+v %v, want by %s/key-%d", b, err, auth.NodeOrganisation, kid)
	}
	if n, _, _ := s.Entities.OutboxBacklog(ctx()); n != 1 {
		t.Errorf("backlog %d", n)
	}
	// a failed transaction writes no outbox entry
	s.Configure(failing{}, true, "node-a", nil)
	if _, _, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(2, "2025-09-04T00:00:00Z", 1)}); err == nil {
		t.Error("a failing checker did not fail the batch")
	}
	if n, _, _ := s.Entities.OutboxBacklog(ctx()); n != 1 {
		t.Errorf("backlog after a failed batch %d", n)
	}
}

// failing fails with an internal error, which fails the whole batch.
type failing struct{}

func (failing) Check(*sensing.DatastreamInfo, *sensing.Observation) error {
	return errors.New("checker broke")
}

func testLookups(t *testing.T, s Stores) {
	if n, err := s.Entities.CountThings(ctx()); err != nil || n != 0 {
		t.Errorf("CountThings on an empty store: %d %v", n, err)
	}
	if m, err := s.Entities.LastSeen(ctx()); err != nil || len(m) != 0 {
		t.Errorf("LastSeen on an empty store: %v %v", m, err)
	}
	seed(t, s)
	if n, _ := s.Entities.CountThings(ctx()); n != 2 {
		t.Errorf("CountThings %d", n)
	}
	for ref, want := range map[string]int64{"Discharge at Marala": 2, "1": 1} {
		if id, err := s.Entities.DatastreamByName(ctx(), ref); err != nil || id != want {
			t.Errorf("DatastreamByName(%q): %d %v", ref, id, err)
		}
	}
	if _, err := s.Entities.DatastreamByName(ctx(), "nope"); kind(err) != apperr.NotFound {
		t.Errorf("DatastreamByName(nope): %v", err)
	}
	if _, err := s.Entities.DatastreamByName(ctx(), "77"); kind(err) != apperr.NotFound {
		t.Errorf("DatastreamByName(77): %v", err)
	}
	if id, err := s.Entities.DatastreamByPDMA(ctx(), "Marala"); err != nil || id != 2 {
		t.Errorf("DatastreamByPDMA: %d %v", id, err)
	}
	s.Entities.Create(ctx(), entity(t, sensing.Things, gauge))
	if _, err := s.Entities.DatastreamByPDMA(ctx(), "Khanki"); kind(err) != apperr.Conflict {
		t.Errorf("DatastreamByPDMA of two: %v, want Conflict", err)
	}
	if _, err := s.Entities.DatastreamByName(ctx(), "Discharge at Khanki"); kind(err) != apperr.Conflict {
		t.Errorf("DatastreamByName of two: %v, want Conflict", err)
	}
	m, err := s.Entities.LastSeen(ctx())
	if err != nil || len(m) != 2 || !m[1].Equal(time.Date(2025, 8, 28, 7, 0, 0, 0, time.UTC)) || m[1].Location() != time.UTC {
		t.Errorf("LastSeen %v %v", m, err)
	}
	infos, err := s.Entities.DatastreamInfos(ctx())
	if err != nil || len(infos) != 3 {
		t.Fatalf("DatastreamInfos %v %v", infos, err)
	}
	want := sensing.DatastreamInfo{ID: 2, ThingID: 2, ObservationType: "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		UnitSymbol: "[cft_i]/s", ObservedPropertyName: "Discharge", ObservedPropertyDef: "http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/"}
	if !reflect.DeepEqual(infos[1], want) {
		t.Errorf("DatastreamInfos[1] = %+v\nwant %+v", infos[1], want)
	}
	// two Khankis: the Conflict names them, and for the PDMA layout (no id column) says how to
	// choose one
	if _, err := s.Entities.DatastreamByPDMA(ctx(), "Khanki"); !strings.Contains(apperr.Message(err), `Datastream(1) "Discharge at Khanki", Datastream(3) "Discharge at Khanki"`) ||
		!strings.Contains(apperr.Message(err), "generic layout") {
		t.Errorf("DatastreamByPDMA of two: %v, want both named and how to choose", err)
	}
	if _, err := s.Entities.DatastreamByName(ctx(), "Discharge at Khanki"); apperr.Message(err) != `more than one datastream named "Discharge at Khanki": Datastream(1), Datastream(3); use the id` {
		t.Errorf("DatastreamByName of two: %v", err)
	}
	// a forecast Datastream on Marala's Thing, of the same name and ObservedProperty (as the
	// demo's forecasts are): the node computes its values, so Marala's name and station still
	// resolve to the measured Datastream 2
	fc, err := s.Entities.Create(ctx(), entity(t, sensing.Datastreams, `{"name":"Discharge at Marala","description":"forecast",
		"observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		"unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
		"properties":{"forecast":true},"Thing":{"@iot.id":2},"Sensor":{"@iot.id":2},"ObservedProperty":{"@iot.id":2}}`))
	if err != nil {
		t.Fatal(err)
	}
	if id, err := s.Entities.DatastreamByPDMA(ctx(), "Marala"); err != nil || id != 2 {
		t.Errorf("DatastreamByPDMA(Marala) beside its forecast: %d %v, want 2", id, err)
	}
	if id, err := s.Entities.DatastreamByName(ctx(), "Discharge at Marala"); err != nil || id != 2 {
		t.Errorf("DatastreamByName(Discharge at Marala) beside its forecast: %d %v, want 2", id, err)
	}
	// with the measured one gone, the station has only the forecast: refused, naming it
	if err := s.Entities.Delete(ctx(), sensing.Datastreams, 2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Entities.DatastreamByPDMA(ctx(), "Marala"); apperr.KindOf(err) != apperr.Invalid ||
		!strings.Contains(apperr.Message(err), fmt.Sprintf(`only ones the node computes (Datastream(%d) "Discharge at Marala" (forecast))`, fc)) {
		t.Errorf("DatastreamByPDMA(Marala), its forecast only: %v", err)
	}
}

func testAuth(t *testing.T, s Stores) {
	a := s.Auth
	if n, err := a.CountKeys(ctx()); err != nil || n != 0 {
		t.Errorf("CountKeys empty: %d %v", n, err)
	}
	key, id, err := auth.Create(ctx(), a, "pdma", auth.Admin, "first")
	if err != nil {
		t.Fatal(err)
	}
	_, id2, err := auth.Create(ctx(), a, "pdma", auth.Viewer, "second")
	if err != nil || id2 <= id {
		t.Fatalf("second key: %d %v", id2, err)
	}
	if _, _, err := auth.Create(ctx(), a, "ndma", auth.Operator, ""); err != nil {
		t.Fatal(err)
	}
	k, err := a.KeyByHash(ctx(), auth.Hash(key))
	if err != nil || k.ID != id || k.Organisation != "pdma" || k.Role != auth.Admin || k.Name != "first" || k.RevokedAt != nil || k.CreatedAt.IsZero() {
		t.Errorf("KeyByHash: %+v %v", k, err)
	}
	if _, err := a.KeyByHash(ctx(), auth.Hash("rbt_nope_nope")); kind(err) != apperr.NotFound {
		t.Errorf("unknown key: %v", err)
	}
	keys, err := a.Keys(ctx())
	if err != nil || len(keys) != 3 || keys[2].Organisation != "ndma" || keys[2].Role != auth.Operator {
		t.Errorf("Keys: %+v %v", keys, err)
	}
	if n, _ := a.CountKeys(ctx()); n != 3 {
		t.Errorf("CountKeys %d", n)
	}
	if err := a.RevokeKey(ctx(), id); err != nil {
		t.Fatal(err)
	}
	if _, err := a.KeyByHash(ctx(), auth.Hash(key)); kind(err) != apperr.NotFound {
		t.Errorf("revoked key still found: %v", err)
	}
	if err := a.RevokeKey(ctx(), id); kind(err) != apperr.NotFound {
		t.Errorf("revoke twice: %v", err)
	}
	if n, _ := a.CountKeys(ctx()); n != 2 {
		t.Errorf("CountKeys after revoke %d", n)
	}
	keys, _ = a.Keys(ctx())
	if keys[0].RevokedAt == nil {
		t.Errorf("Keys does not show the revocation: %+v", keys[0])
	}
	// a unique constraint of the database: its kind, and a message that shows nothing of it
	_, err = a.CreateKey(ctx(), "pdma", auth.Viewer, "dup", "rbt_x", auth.Hash(key), nil)
	if kind(err) != apperr.Conflict {
		t.Errorf("the same key hash twice: %v (kind %v), want Conflict", err, kind(err))
	}
	if m := apperr.Message(err); m == "" || strings.ContainsAny(m, "_(") || strings.Contains(strings.ToLower(m), "unique") ||
		strings.Contains(m, "SQLSTATE") || strings.Contains(strings.ToLower(m), "constraint") {
		t.Errorf("the message of a unique violation shows the database: %q", m)
	}
}

func testDeleteLocation(t *testing.T, s Stores) {
	seed(t, s)
	if err := s.Entities.Delete(ctx(), sensing.Locations, 1); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list(t, s, sensing.HistoricalLocations, nil, "").Entities); got != "[2]" {
		t.Errorf("historical locations left %s, want [2]", got)
	}
	if err := s.Entities.Delete(ctx(), sensing.Locations, 1); kind(err) != apperr.NotFound {
		t.Errorf("delete twice: %v", err)
	}
	// the FoI made from it stays (its link to the Location is cleared)
	if e := get(t, s, sensing.FeaturesOfInterest, 1, ""); e.Props["name"] != "Khanki" {
		t.Errorf("FoI: %v", e.Props)
	}
}
