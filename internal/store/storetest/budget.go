package storetest

import (
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// testBudget: every entity List and Get read, at every level of $expand, is charged to the
// query's Budget; over it, the answer is cut with paging where that is correct (a collection
// ends before what does not fit, or after an entity one of whose collections was cut, and gets
// its cursor), and is otherwise a TooLarge error naming the limit.
func testBudget(t *testing.T, s Stores) {
	seed(t, s) // Things 1 and 2, Datastream 1 (Observations 1-4) and 2 (5-6)
	budgeted := func(set, opts string, rows, bytes int64) *sensing.Query {
		q := query(t, set, nil, opts)
		q.Budget = sensing.NewBudget(rows, bytes)
		return q
	}
	expanded := func(e *sensing.Entity, nav string) *sensing.Expanded {
		t.Helper()
		x := e.Expanded[nav]
		if x == nil {
			t.Fatalf("%s(%d) has no %s expanded", e.Set, e.ID, nav)
		}
		return x
	}

	// no $expand: as many as fit, and the cursor continues after them
	q := budgeted(sensing.Observations, "$orderby=id", 3, 1<<20)
	p, err := s.Entities.List(ctx(), q)
	if err != nil || idsOf(p.Entities) != "[1 2 3]" || p.Next == nil {
		t.Fatalf("3 rows: %v, next %v, %v", idsOf(p.Entities), p.Next, err)
	}
	q = budgeted(sensing.Observations, "$orderby=id", 3, 1<<20)
	q.Cursor = p.Next
	if p, err = s.Entities.List(ctx(), q); err != nil || idsOf(p.Entities) != "[4 5 6]" || p.Next != nil {
		t.Fatalf("the next page: %v, next %v, %v", idsOf(p.Entities), p.Next, err)
	}

	// a to-one expansion: each Observation whole, the level reading half of what is left
	q = budgeted(sensing.Observations, "$orderby=id&$expand=Datastream", 4, 1<<20)
	if p, err = s.Entities.List(ctx(), q); err != nil || idsOf(p.Entities) != "[1 2]" || p.Next == nil {
		t.Fatalf("with a Datastream each, 4 rows: %v, next %v, %v", idsOf(p.Entities), p.Next, err)
	}
	for _, e := range p.Entities {
		if x := expanded(e, "Datastream"); x.One == nil || x.One.ID != 1 {
			t.Fatalf("Observation %d: Datastream %+v", e.ID, x.One)
		}
	}
	if rows, _ := q.Budget.Used(); rows != 4 {
		t.Fatalf("budget used: %d rows, want 4", rows)
	}

	// nested collections: the innermost is cut with its cursor, and every level around it ends
	// after the entity that holds it
	q = budgeted(sensing.Things, "$orderby=id&$expand=Datastreams($expand=Observations($orderby=id))", 3, 1<<20)
	if p, err = s.Entities.List(ctx(), q); err != nil || idsOf(p.Entities) != "[1]" || p.Next == nil {
		t.Fatalf("Things, 3 rows: %v, next %v, %v", idsOf(p.Entities), p.Next, err)
	}
	ds := expanded(p.Entities[0], "Datastreams")
	if idsOf(ds.Many) != "[1]" {
		t.Fatalf("Things(1)/Datastreams: %v", idsOf(ds.Many))
	}
	obs := expanded(ds.Many[0], "Observations")
	if idsOf(obs.Many) != "[1]" || obs.Next == nil || obs.Next.ID != 1 {
		t.Fatalf("Datastreams(1)/Observations: %v, next %+v", idsOf(obs.Many), obs.Next)
	}

	// an expanded collection of which nothing fits: empty, with a cursor from its start
	q = budgeted(sensing.Things, "$orderby=id&$top=1&$expand=Locations,Datastreams", 2, 1<<20)
	if p, err = s.Entities.List(ctx(), q); err != nil || idsOf(p.Entities) != "[1]" {
		t.Fatalf("Things, 2 rows: %v, %v", idsOf(p.Entities), err)
	}
	if x := expanded(p.Entities[0], "Datastreams"); len(x.Many) != 0 || x.Next == nil || x.Next.ID != 0 || x.Next.Keys != nil {
		t.Fatalf("Things(1)/Datastreams with no room: %v, next %+v", idsOf(x.Many), x.Next)
	}

	// nothing fits: TooLarge, naming the limit
	for _, tt := range []struct {
		q   *sensing.Query
		msg string
	}{
		{budgeted(sensing.Observations, "$expand=Datastream($expand=Thing)", 2, 1<<20), "limit of 2 entities in one response (max_response_rows)"},
		{budgeted(sensing.Things, "", 10, 10), "limit of 10 bytes in one response (max_response_bytes)"},
	} {
		if _, err := s.Entities.List(ctx(), tt.q); kind(err) != apperr.TooLarge || !strings.Contains(apperr.Message(err), tt.msg) {
			t.Fatalf("List %s: %v, want TooLarge %q", tt.q.Set, err, tt.msg)
		}
		tt.q.ID = 1
		tt.q.Budget = sensing.NewBudget(tt.q.Budget.Rows, tt.q.Budget.Bytes)
		if _, err := s.Entities.Get(ctx(), tt.q); kind(err) != apperr.TooLarge || !strings.Contains(apperr.Message(err), tt.msg) {
			t.Fatalf("Get %s(1): %v, want TooLarge %q", tt.q.Set, err, tt.msg)
		}
	}
}
