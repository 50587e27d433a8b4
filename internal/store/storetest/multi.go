package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// weather is a MultiDatastream (OGC 18-088 §9) on Thing 1 with a new Sensor and three
// ObservedProperties given out of id order — Observed Property 2 by reference, a new one (3),
// then 1 — and one Observation, all in one deep insert.
const weather = `{"name":"Weather at Khanki","description":"temperature, discharge, humidity",
 "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation",
 "unitOfMeasurements":[{"name":"cusec","symbol":"[cft_i]/s","definition":"u1"},{"name":"degree Celsius","symbol":"Cel","definition":"u2"},{"name":"cusec","symbol":"[cft_i]/s","definition":"u3"}],
 "multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"],
 "Thing":{"@iot.id":1},
 "Sensor":{"name":"station","description":"automatic weather station","encodingType":"text/html","metadata":"https://example.org"},
 "ObservedProperties":[{"@iot.id":2},{"name":"Temperature","definition":"http://vocab.nerc.ac.uk/collection/P01/current/TEMPPR01/","description":"air temperature"},{"@iot.id":1}],
 "Observations":[{"phenomenonTime":"2025-08-27T12:00:00Z","resultTime":"2025-08-27T12:05:00Z","result":[400000,31.5,1001480]}]}`

// multiObs makes an Observation of MultiDatastream md at ts with result r (a JSON array).
func multiObs(md int64, ts, r string) sensing.Observation {
	o := obs(0, ts, 0)
	o.ResultNum, o.ResultJSON, o.MultiDatastreamID = nil, json.RawMessage(r), md
	return o
}

func testMultiDatastreams(t *testing.T, s Stores) {
	seed(t, s) // Observations 1-6
	qc := &Checker{}
	s.Configure(qc, true, "test", nil)
	id, err := s.Entities.Create(ctx(), entity(t, sensing.MultiDatastreams, weather))
	if err != nil || id != 1 {
		t.Fatalf("create MultiDatastream: %d %v", id, err)
	}
	// navigation both ways; ObservedProperties in the order given, not by id
	for _, c := range []struct {
		set    string
		parent *sensing.Parent
		want   string
	}{
		{sensing.ObservedProperties, under(sensing.MultiDatastreams, 1, "ObservedProperties"), "[2 3 1]"},
		{sensing.MultiDatastreams, under(sensing.Things, 1, "MultiDatastreams"), "[1]"},
		{sensing.MultiDatastreams, under(sensing.Things, 2, "MultiDatastreams"), "[]"},
		{sensing.MultiDatastreams, under(sensing.Sensors, 3, "MultiDatastreams"), "[1]"},
		{sensing.MultiDatastreams, under(sensing.ObservedProperties, 3, "MultiDatastreams"), "[1]"},
		{sensing.Observations, under(sensing.MultiDatastreams, 1, "Observations"), "[7]"},
		{sensing.Observations, under(sensing.Datastreams, 1, "Observations"), "[1 2 3 4]"},
	} {
		if got := idsOf(list(t, s, c.set, c.parent, "").Entities); got != c.want {
			t.Errorf("%v/%s: %s, want %s", c.parent, c.set, got, c.want)
		}
	}
	if set, id, err := s.Entities.Navigate(ctx(), sensing.Observations, 7, "MultiDatastream"); err != nil || set != sensing.MultiDatastreams || id != 1 {
		t.Errorf("Observations(7)/MultiDatastream: %s %d %v", set, id, err)
	}
	if _, _, err := s.Entities.Navigate(ctx(), sensing.Observations, 7, "Datastream"); kind(err) != apperr.NotFound {
		t.Errorf("Observations(7)/Datastream: %v, want NotFound", err)
	}
	md := get(t, s, sensing.MultiDatastreams, 1, "$expand=ObservedProperties($select=id),Thing")
	if got := idsOf(md.Expanded["ObservedProperties"].Many); got != "[2 3 1]" {
		t.Errorf("$expand=ObservedProperties: %s, want rank order [2 3 1]", got)
	}
	if md.Expanded["Thing"].One == nil || md.Expanded["Thing"].One.ID != 1 {
		t.Errorf("$expand=Thing: %+v", md.Expanded["Thing"])
	}
	if md.Props["phenomenonTime"] != "2025-08-27T12:00:00Z/2025-08-27T12:00:00Z" || md.Props["resultTime"] != "2025-08-27T12:05:00Z/2025-08-27T12:05:00Z" {
		t.Errorf("derived times after the deep insert: %v / %v", md.Props["phenomenonTime"], md.Props["resultTime"])
	}
	if md.Props["observationType"] != sensing.ComplexObservation || !strings.Contains(string(md.Props["unitOfMeasurements"].(json.RawMessage)), `"Cel"`) {
		t.Errorf("MultiDatastream read back: %v", md.Props)
	}

	// the shape is held: 400s that name what differs, and nothing stored
	for _, c := range []struct{ from, to, want string }{
		{`,{"name":"cusec","symbol":"[cft_i]/s","definition":"u3"}]`, `]`, "unitOfMeasurements has 2 elements but there are 3 ObservedProperties"},
		{`OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"]`, `OM_Measurement"]`, "multiObservationDataTypes has 2 elements"},
		{`OM_ComplexObservation"`, `OM_Measurement"`, "observationType must be"},
		{`,{"@iot.id":1}]`, `]`, "unitOfMeasurements has 3 elements but there are 2 ObservedProperties"},
		{`"unitOfMeasurements":[`, `"unitOfMeasurements":[7,`, "unitOfMeasurements[0]: want a JSON object"},
		{`"Thing":{"@iot.id":1},`, ``, "needs a Thing"},
		{`"ObservedProperties":[{"@iot.id":2},`, `"ObservedProperties":[{"@iot.id":1},`, "given more than once"},
	} {
		js := strings.Replace(weather, c.from, c.to, 1)
		if js == weather {
			t.Fatalf("case %q changes nothing", c.want)
		}
		_, err := s.Entities.Create(ctx(), entity(t, sensing.MultiDatastreams, js))
		if kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), c.want) {
			t.Errorf("create with %q: %v, want Invalid naming %q", c.to, err, c.want)
		}
	}
	if got := idsOf(list(t, s, sensing.MultiDatastreams, nil, "").Entities); got != "[1]" {
		t.Errorf("refused creates left MultiDatastreams: %s", got)
	}
	if got := idsOf(list(t, s, sensing.Sensors, nil, "").Entities); got != "[1 2 3]" {
		t.Errorf("refused creates left Sensors: %s", got)
	}

	// ingest: each Observation of a MultiDatastream checked on its own, QC per component
	batch := []sensing.Observation{
		multiObs(1, "2025-08-28T12:00:00Z", `[500000,30,1100000]`),
		multiObs(1, "2025-08-28T13:00:00Z", `[500000,30]`),
		multiObs(1, "2025-08-28T14:00:00Z", `[500000,666,1]`),
		multiObs(1, "2025-08-24T12:00:00Z", `[500000,-3,null]`),
		obs(1, "2025-08-29T12:00:00Z", 650000),
		multiObs(9, "2025-08-28T12:00:00Z", `[1,2,3]`),
	}
	n := 7.0
	batch = append(batch, multiObs(1, "2025-08-28T15:00:00Z", ``))
	batch[6].ResultJSON, batch[6].ResultNum = nil, &n
	ids, errs, err := s.Entities.Ingest(ctx(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"", "result has 2 values but the MultiDatastream has 3", "result[1]: refused by QC: 666", "", "", "MultiDatastreams(9) does not exist", "is a JSON array"} {
		got := ""
		if errs[i] != nil {
			got = apperr.Message(errs[i])
		}
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("ingest item %d: %q, want %q", i, got, want)
		}
		if (ids[i] != 0) != (want == "") {
			t.Errorf("ingest item %d: id %d", i, ids[i])
		}
	}
	o := get(t, s, sensing.Observations, ids[3], "")
	q := string(o.Props["resultQuality"].(json.RawMessage))
	if !strings.Contains(q, `"flag":"bad"`) || !strings.Contains(q, `"components":[{"flag":"good"},{"flag":"bad"`) || !strings.HasSuffix(q, `null]}`) {
		t.Errorf("per-component QC of [500000,-3,null]: %s", q)
	}
	if string(o.Props["result"].(json.RawMessage)) != `[500000,-3,null]` || o.Props[sensing.MultiDatastreamIDProp] != int64(1) || o.Props[sensing.DatastreamIDProp] != nil {
		t.Errorf("Observation of a MultiDatastream read back: %v", o.Props)
	}
	if q := get(t, s, sensing.Observations, ids[0], "").Props["resultQuality"]; string(q.(json.RawMessage)) != `{"flag":"good"}` {
		t.Errorf("a good Observation of a MultiDatastream: resultQuality %s", q)
	}
	md = get(t, s, sensing.MultiDatastreams, 1, "")
	if md.Props["phenomenonTime"] != "2025-08-24T12:00:00Z/2025-08-28T12:00:00Z" {
		t.Errorf("phenomenonTime after ingest: %v", md.Props["phenomenonTime"])
	}
	// the bus gets them too, in entries of their own (kind mobs) that carry the MultiDatastream
	entries, err := s.OutboxPending(ctx(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		b, err := sensing.DecodeObsBatch(e.Payload)
		if err != nil {
			t.Fatalf("outbox entry %d: %v", e.ID, err)
		}
		var obsIDs []int64
		for _, it := range b.Obs {
			obsIDs = append(obsIDs, it.ID)
		}
		got = append(got, fmt.Sprintf("%s:%d:%d/%d:%v", e.Kind, e.Key, b.Datastream, b.MultiDatastream, obsIDs))
	}
	if want := "mobs:1:0/1:[7] mobs:1:0/1:[8 9] obs:1:1/0:[10]"; strings.Join(got, " ") != want {
		t.Errorf("outbox after ingest: %s, want %s", strings.Join(got, " "), want)
	}

	// IngestNew (re-playable sources) knows an Observation of a MultiDatastream stored already,
	// and tells it from the same time and result of a Datastream
	again := []sensing.Observation{multiObs(1, "2025-08-28T12:00:00Z", `[500000,30,1100000]`), obs(2, "2025-08-28T12:00:00Z", `[500000,30,1100000]`)}
	_, errs, err = s.Entities.IngestNew(ctx(), again)
	if err != nil || !errors.Is(errs[0], sqlq.ErrDuplicate) || errs[1] != nil {
		t.Errorf("IngestNew of a stored Observation of a MultiDatastream and a new one of a Datastream: %v %v", errs, err)
	}
	if err := s.Entities.Delete(ctx(), sensing.Observations, 11); err != nil { // the Datastream's, not needed below
		t.Fatal(err)
	}
	// an Observation belongs to one Datastream or one MultiDatastream
	for js, want := range map[string]string{
		`{"phenomenonTime":"2025-09-01T00:00:00Z","result":[1,2,3],"Datastream":{"@iot.id":1},"MultiDatastream":{"@iot.id":1}}`: "not both",
		`{"phenomenonTime":"2025-09-01T00:00:00Z","result":[1,2,3]}`:                                                            "needs a Datastream or a MultiDatastream",
		`{"phenomenonTime":"2025-09-01T00:00:00Z","result":[1,2],"MultiDatastream":{"@iot.id":1}}`:                              "result has 2 values",
	} {
		if _, err := s.Entities.Create(ctx(), entity(t, sensing.Observations, js)); kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), want) {
			t.Errorf("create %s: %v, want Invalid naming %q", js, err, want)
		}
	}

	// filters and expands across the new links
	for _, c := range []struct{ set, opts, want string }{
		{sensing.Observations, "$filter=MultiDatastream/id eq 1", "[7 8 9]"},
		{sensing.Observations, "$filter=MultiDatastream/Thing/name eq 'Khanki' and phenomenonTime ge 2025-08-28T00:00:00Z", "[8]"},
		{sensing.MultiDatastreams, "$filter=ObservedProperties/name eq 'Temperature'", "[1]"},
		{sensing.MultiDatastreams, "$filter=Sensor/name eq 'staff gauge'", "[]"},
		{sensing.Things, "$filter=MultiDatastreams/name eq 'Weather at Khanki'", "[1]"},
		// one value of an array result, by its index (18-088 §9 lists no syntax; FROST's)
		{sensing.Observations, "$filter=result[0] gt 450000", "[8 9]"},
		{sensing.Observations, "$filter=result[1] lt 0 and MultiDatastream/id eq 1", "[9]"},
		{sensing.Observations, "$filter=result[2] eq null and MultiDatastream/id eq 1", "[9]"},
	} {
		if got := idsOf(list(t, s, c.set, nil, c.opts).Entities); got != c.want {
			t.Errorf("%s?%s: %s, want %s", c.set, c.opts, got, c.want)
		}
	}
	th := get(t, s, sensing.Things, 1, "$expand=MultiDatastreams($expand=Observations($filter=phenomenonTime ge 2025-08-28T00:00:00Z))")
	x := th.Expanded["MultiDatastreams"]
	if len(x.Many) != 1 || len(x.Many[0].Expanded["Observations"].Many) != 1 || x.Many[0].Expanded["Observations"].Many[0].ID != 8 {
		t.Errorf("Things(1)?$expand=MultiDatastreams/Observations: %+v", x)
	}

	// updates keep the shape
	upd := func(set string, id int64, js string) error {
		e := entity(t, set, js)
		e.ID = id
		return s.Entities.Update(ctx(), e, false)
	}
	if err := upd(sensing.MultiDatastreams, 1, `{"unitOfMeasurements":[{"name":"a","symbol":"a","definition":"a"}]}`); kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "unitOfMeasurements has 1 elements but there are 3") {
		t.Errorf("PATCH unitOfMeasurements to one: %v", err)
	}
	// an Observation's PATCH, as the HTTP surface decodes it (no typed form needed)
	updObs := func(id int64, result string, md int64) error {
		e := &sensing.Entity{Set: sensing.Observations, ID: id, Props: map[string]any{"result": json.RawMessage(result)}, Links: map[string][]*sensing.Entity{}}
		if md != 0 {
			e.Links["MultiDatastream"] = []*sensing.Entity{{Set: sensing.MultiDatastreams, ID: md, Ref: true}}
		}
		return s.Entities.Update(ctx(), e, false)
	}
	if err := updObs(8, `[1,2]`, 0); kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "result has 2 values") {
		t.Errorf("PATCH an Observation's result to two values: %v", err)
	}
	if err := upd(sensing.MultiDatastreams, 1, `{"name":"Weather","ObservedProperties":[{"@iot.id":3},{"@iot.id":1}],
		"unitOfMeasurements":[{"name":"degree Celsius","symbol":"Cel","definition":"u2"},{"name":"cusec","symbol":"[cft_i]/s","definition":"u3"}],
		"multiObservationDataTypes":["http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"]}`); err != nil {
		t.Errorf("PATCH the ObservedProperties with units and types: %v", err)
	}
	if got := idsOf(list(t, s, sensing.ObservedProperties, under(sensing.MultiDatastreams, 1, "ObservedProperties"), "").Entities); got != "[3 1]" {
		t.Errorf("ObservedProperties after PATCH: %s, want [3 1]", got)
	}
	// $ref writes cannot add or remove one of its ObservedProperties (from either side)
	for _, c := range []struct {
		set, nav string
		id, to   int64
		unlink   bool
	}{
		{sensing.MultiDatastreams, "ObservedProperties", 1, 2, false},
		{sensing.MultiDatastreams, "ObservedProperties", 1, 3, true},
		{sensing.ObservedProperties, "MultiDatastreams", 2, 1, false},
	} {
		var err error
		if c.unlink {
			err = s.Entities.Unlink(ctx(), c.set, c.id, c.nav, c.to)
		} else {
			err = s.Entities.Link(ctx(), c.set, c.id, c.nav, c.to)
		}
		if kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "together with its unitOfMeasurements") {
			t.Errorf("$ref write %s(%d)/%s %d (unlink %v): %v", c.set, c.id, c.nav, c.to, err, c.unlink)
		}
	}
	// moving an Observation to the MultiDatastream leaves its Datastream; its extents follow
	both := &sensing.Entity{Set: sensing.Observations, ID: 6, Props: map[string]any{}, Links: map[string][]*sensing.Entity{
		"Datastream": {{Set: sensing.Datastreams, ID: 1, Ref: true}}, "MultiDatastream": {{Set: sensing.MultiDatastreams, ID: 1, Ref: true}}}}
	if err := s.Entities.Update(ctx(), both, false); kind(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), "not both") {
		t.Errorf("PATCH an Observation onto a Datastream and a MultiDatastream: %v", err)
	}
	if err := updObs(6, `[5,6]`, 1); err != nil {
		t.Fatalf("PATCH Observation(6) onto the MultiDatastream: %v", err)
	}
	o = get(t, s, sensing.Observations, 6, "")
	if o.Props[sensing.DatastreamIDProp] != nil || o.Props[sensing.MultiDatastreamIDProp] != int64(1) {
		t.Errorf("Observation(6) after the move: %v", o.Props)
	}

	// deletes: an Observation narrows the extent; the MultiDatastream takes its Observations
	if err := s.Entities.Delete(ctx(), sensing.Observations, ids[3]); err != nil {
		t.Fatal(err)
	}
	if got := get(t, s, sensing.MultiDatastreams, 1, "").Props["phenomenonTime"]; got != "2025-08-27T12:00:00Z/2025-08-28T12:00:00Z" {
		t.Errorf("phenomenonTime after deleting the earliest Observation: %v", got)
	}
	if err := s.Entities.Delete(ctx(), sensing.MultiDatastreams, 1); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list(t, s, sensing.Observations, nil, "").Entities); got != "[1 2 3 4 5 10]" {
		t.Errorf("Observations after deleting the MultiDatastream: %s", got)
	}
	// deleting an ObservedProperty takes the MultiDatastreams that measure it
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.MultiDatastreams, weather)); err != nil {
		t.Fatal(err)
	}
	if err := s.Entities.Delete(ctx(), sensing.ObservedProperties, 2); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list(t, s, sensing.MultiDatastreams, nil, "").Entities); got != "[]" {
		t.Errorf("MultiDatastreams after deleting one of their ObservedProperties: %s", got)
	}
}

// IngestIntoNewMultiDatastream is the last step of each engine's upgrade test for the
// MultiDatastream migration: on a store that has Thing 1, Sensor 1 and ObservedProperties 1
// and 2, it creates a MultiDatastream over them and ingests one Observation of it at phenText,
// which must get the id wantID (ids go on after the largest ever given). It returns the
// MultiDatastream's id.
func IngestIntoNewMultiDatastream(t *testing.T, s *sqlq.Entities, phenText string, wantID int64) int64 {
	t.Helper()
	ctx := t.Context()
	md := &sensing.Entity{Set: sensing.MultiDatastreams, Props: map[string]any{"name": "m", "description": "m",
		"unitOfMeasurements": []any{map[string]any{"symbol": "a"}, map[string]any{"symbol": "b"}}, "observationType": sensing.ComplexObservation,
		"multiObservationDataTypes": []any{"t", "t"}},
		Links: map[string][]*sensing.Entity{"Thing": {{Set: sensing.Things, ID: 1, Ref: true}}, "Sensor": {{Set: sensing.Sensors, ID: 1, Ref: true}},
			"ObservedProperties": {{Set: sensing.ObservedProperties, ID: 1, Ref: true}, {Set: sensing.ObservedProperties, ID: 2, Ref: true}}}}
	mid, err := s.Create(ctx, md)
	if err != nil {
		t.Fatal(err)
	}
	o := sensing.Observation{MultiDatastreamID: mid, PhenText: phenText, ResultJSON: []byte(`[1,2]`)}
	o.PhenStart, o.PhenEnd, _ = sensing.ParseTimeOrInterval(o.PhenText)
	ids, errs, err := s.Ingest(ctx, []sensing.Observation{o})
	if err != nil || errs[0] != nil || ids[0] != wantID {
		t.Errorf("ingest an Observation of a MultiDatastream after the migration: %v %v %v, want id %d", ids, errs, err, wantID)
	}
	return mid
}
