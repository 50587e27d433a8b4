package storetest

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// latestOpts is the latest observation of every datastream, as a dashboard asks for it.
var latestOpts = "$top=100&$orderby=id&$expand=" + url.QueryEscape("Observations($top=1;$orderby=phenomenonTime desc)")

// describe writes a page as the ids of its entities, each with its expanded collections
// (ids, count, nextLink) in name order, and the page's nextLink: two pages with the same
// description hold the same entities, cut at the same places.
func describe(p *sensing.Page) string {
	var b strings.Builder
	var ents func(es []*sensing.Entity)
	ents = func(es []*sensing.Entity) {
		for _, e := range es {
			fmt.Fprintf(&b, " %d", e.ID)
			names := make([]string, 0, len(e.Expanded))
			for n := range e.Expanded {
				names = append(names, n)
			}
			slices.Sort(names)
			for _, n := range names {
				x := e.Expanded[n]
				fmt.Fprintf(&b, " %s[", n)
				if x.One != nil {
					ents([]*sensing.Entity{x.One})
				}
				ents(x.Many)
				if x.Count != nil {
					fmt.Fprintf(&b, " count %d", *x.Count)
				}
				if x.Next != nil {
					fmt.Fprintf(&b, " next %+v", *x.Next)
				}
				b.WriteString("]")
			}
		}
	}
	ents(p.Entities)
	if p.Next != nil {
		fmt.Fprintf(&b, " next %+v", *p.Next)
	}
	return b.String()
}

// testLatest: the latest observation of every datastream (and any collection expanded on
// many entities, which batch.go reads many entities at a time) is right with more datastreams
// than one statement reads (70 > 64), observations ingested out of phenomenonTime order, the
// latest deleted, a datastream emptied, an old observation moved to the newest time, and the
// answers — entities, nextLinks, where the response budget cuts them, what it charges — are
// the same as with one query per entity (Entities.ExpandEach; the batched reads are SQLite's
// UNION ALL with ExpandBatch on, PostgreSQL's lateral statement).
func testLatest(t *testing.T, s Stores) {
	seed(t, s) // Datastream 1 (Observations 1-4, the latest 4), 2 (5-6, the latest 6)
	var dss []string
	for i := range 68 {
		dss = append(dss, fmt.Sprintf(`{"name":"level %02d","description":"d","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
 "unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`, i))
	}
	thing := `{"name":"many","description":"68 datastreams","Locations":[{"@iot.id":1}],"Datastreams":[` + strings.Join(dss, ",") + `]}`
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, thing)); err != nil {
		t.Fatal(err)
	}
	// Datastreams 3..70: hours 5, 1, 9, 3, 7 in this order (ids rise, times do not); every
	// seventh has none
	t0 := time.Date(2025, 9, 1, 0, 0, 0, 0, time.UTC)
	at := func(h int) string { return t0.Add(time.Duration(h) * time.Hour).Format(time.RFC3339) }
	var batch []sensing.Observation
	for ds := int64(3); ds <= 70; ds++ {
		if ds%7 == 0 {
			continue
		}
		for _, h := range []int{5, 1, 9, 3, 7} {
			batch = append(batch, obs(ds, at(h), float64(ds*100)+float64(h)))
		}
	}
	// an older observation of Datastream 1 after its latest
	batch = append(batch, obs(1, "2025-08-01T00:00:00Z", 1))
	ids, errs, err := s.Entities.Ingest(ctx(), batch)
	if err != nil {
		t.Fatal(err)
	}
	idOf := map[[2]int64]int64{} // (datastream, hour) -> id
	for i, o := range batch {
		if errs[i] != nil {
			t.Fatalf("ingest %d: %v", i, errs[i])
		}
		idOf[[2]int64{o.DatastreamID, o.PhenStart.Sub(t0).Milliseconds() / 3_600_000}] = ids[i]
	}
	want := map[int64]int64{1: 4, 2: 6}
	for ds := int64(3); ds <= 70; ds++ {
		if ds%7 != 0 {
			want[ds] = idOf[[2]int64{ds, 9}]
		}
	}

	same := func(step, set, opts string, budget int64) {
		t.Helper()
		run := func(batch bool) (string, int64) {
			t.Helper()
			s.Entities.ExpandBatch, s.Entities.ExpandEach = batch, !batch
			defer func() { s.Entities.ExpandBatch, s.Entities.ExpandEach = false, false }()
			q := query(t, set, nil, opts)
			if budget > 0 {
				q.Budget = sensing.NewBudget(budget, 1<<30)
			}
			p, err := s.Entities.List(ctx(), q)
			if err != nil {
				return "error " + err.Error(), 0
			}
			used, _ := q.Budget.Used()
			return describe(p), used
		}
		got, gotUsed := run(true)
		ref, refUsed := run(false)
		if got != ref || gotUsed != refUsed {
			t.Errorf("%s: %s?%s (budget %d rows):\nbatched:          %s (used %d)\none query each:   %s (used %d)", step, set, opts, budget, got, gotUsed, ref, refUsed)
		}
	}
	// every shape, under budgets that cut early and midway, once; after the changes, the
	// latest alone (the suite's time: each answer is some 70 queries, 2-4 ms each under -race)
	check := func(step string, all bool) {
		t.Helper()
		s.Entities.ExpandBatch = true
		p := list(t, s, sensing.Datastreams, nil, latestOpts)
		s.Entities.ExpandBatch = false
		if len(p.Entities) != 70 {
			t.Fatalf("%s: %d datastreams, want 70", step, len(p.Entities))
		}
		for _, e := range p.Entities {
			x := e.Expanded["Observations"]
			var got int64
			if x != nil && len(x.Many) > 0 {
				got = x.Many[0].ID
			}
			if x == nil || len(x.Many) > 1 || got != want[e.ID] {
				t.Errorf("%s: Datastreams(%d)'s latest: %s, want Observation %d", step, e.ID, describe(&sensing.Page{Entities: []*sensing.Entity{e}}), want[e.ID])
			}
		}
		if !all {
			same(step, sensing.Datastreams, latestOpts, 0)
			return
		}
		for _, c := range []struct {
			set, opts string
			budgets   []int64 // response budgets (rows) besides none
		}{
			{sensing.Datastreams, latestOpts, []int64{7}},
			{sensing.Datastreams, "$orderby=id&$expand=" + url.QueryEscape("Observations($top=3;$orderby=result desc;$filter=result gt 1000)"), nil},
			{sensing.Datastreams, "$orderby=id&$expand=" + url.QueryEscape("Observations($skip=1;$top=2)"), nil},
			{sensing.Things, "$expand=" + url.QueryEscape("Datastreams($top=40;$orderby=name desc),Locations"), []int64{60}},
			{sensing.Locations, "$expand=" + url.QueryEscape("Things($orderby=id desc)"), []int64{2}},
			{sensing.ObservedProperties, "$expand=" + url.QueryEscape("Datastreams($top=5;$count=true)"), nil},
		} {
			for _, budget := range append([]int64{0}, c.budgets...) {
				same(step, c.set, c.opts, budget)
			}
		}
	}
	check("ingested out of order", true)

	// the latest of Datastreams 3 and 4 deleted, all of 5's
	for _, ds := range []int64{3, 4} {
		if err := s.Entities.Delete(ctx(), sensing.Observations, want[ds]); err != nil {
			t.Fatal(err)
		}
		want[ds] = idOf[[2]int64{ds, 7}]
	}
	for _, h := range []int64{5, 1, 9, 3, 7} {
		if err := s.Entities.Delete(ctx(), sensing.Observations, idOf[[2]int64{5, h}]); err != nil {
			t.Fatal(err)
		}
	}
	delete(want, 5)
	check("deleted", false)

	// Datastream 6's oldest moved to the newest time; an older and a newer one for 8
	moved := idOf[[2]int64{6, 1}]
	if err := s.Entities.Update(ctx(), withID(entity(t, sensing.Observations, `{"phenomenonTime":"`+at(20)+`"}`), moved), false); err != nil {
		t.Fatal(err)
	}
	want[6] = moved
	ids, errs, err = s.Entities.Ingest(ctx(), []sensing.Observation{obs(8, at(0), 1), obs(8, at(30), 2)})
	if err != nil || errs[0] != nil || errs[1] != nil {
		t.Fatalf("ingest: %v %v", errs, err)
	}
	want[8] = ids[1]
	check("moved and added", false)
}
