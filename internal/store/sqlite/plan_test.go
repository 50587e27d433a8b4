package sqlite

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/storetest"
)

// The hot read — a time window of one datastream, newest first — must be an index range
// scan in index order: no full scan, no sort. At tens of millions of rows anything else is
// seconds instead of milliseconds.
func TestObservationWindowUsesIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	for _, c := range []struct{ filter, orderby string }{
		{"phenomenonTime ge 2025-01-01T00:00:00Z and phenomenonTime lt 2025-02-01T00:00:00Z", "phenomenonTime desc"},
		{"phenomenonTime ge 2025-01-01T00:00:00Z", "phenomenonTime asc"},
		{"", "phenomenonTime desc"},
	} {
		v := map[string][]string{"$orderby": {c.orderby}}
		if c.filter != "" {
			v["$filter"] = []string{c.filter}
		}
		opts, err := odata.ParseOptions(v)
		if err != nil {
			t.Fatal(err)
		}
		query := &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: 1, Nav: "Observations"}, Opts: opts, Top: 100}
		for _, cur := range []*sensing.Cursor{nil, {MaxID: 100, Keys: []any{int64(1), int64(2)}, ID: 5}} {
			query.Cursor = cur
			text, args, err := s.PageSQL(query)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
			if err != nil {
				t.Fatal(err)
			}
			var plan []string
			for rows.Next() {
				var id, parent, notused int
				var detail string
				rows.Scan(&id, &parent, &notused, &detail)
				plan = append(plan, detail)
			}
			rows.Close()
			p := strings.Join(plan, "; ")
			if !strings.Contains(p, "INDEX observations_datastream_time (datastream_id=?") {
				t.Errorf("%q %q cursor=%v: plan does not use the datastream/time index: %s", c.filter, c.orderby, cur != nil, p)
			}
			if strings.Contains(p, "TEMP B-TREE") {
				t.Errorf("%q %q cursor=%v: plan sorts: %s", c.filter, c.orderby, cur != nil, p)
			}
			t.Logf("%s", p)
		}
	}
}

// A time window across datastreams (/Observations?$filter=phenomenonTime ge … and
// phenomenonTime lt …, in id order, and newest first) reads the observations_time index
// (migration 0018), not every observation.
func TestWindowAcrossDatastreamsUsesIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	for _, q := range storetest.WindowQueries(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		orderby := len(q.Opts.OrderBy) > 0 // newest first
		text, args, err := s.PageSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		if p := strings.Join(plan, "; "); !strings.Contains(p, "INDEX observations_time (phen_start>? AND phen_start<?)") {
			t.Errorf("newest first %v: plan does not use the time index: %s", orderby, p)
		}
	}
}

// The latest observation of every datastream (sqlq/batch.go: one statement for up to 64
// datastreams) reads each datastream's newest index entry: one search of the datastream/time
// index per datastream, in index order, in a subquery of its own; the only sorts are of each
// subquery's result (its top+1 rows, for the compound's ORDER BY), none of a datastream's rows.
func TestLatestOfEachUsesIndex(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := NewEntities(db, nil)
	text, args, err := s.ExpandSQL(sensing.Datastreams, []int64{1, 2, 3, 4, 5}, "Observations($top=1;$orderby=phenomenonTime desc)")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+text, args...)
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		rows.Scan(&id, &parent, &notused, &detail)
		plan = append(plan, detail)
	}
	rows.Close()
	p := strings.Join(plan, "; ")
	// 5 datastreams: a statement of 8 subqueries (3 of them padding)
	if n := strings.Count(p, "CO-ROUTINE x; SEARCH e USING INDEX observations_datastream_time (datastream_id=?); SCAN x"); n != 8 {
		t.Errorf("%d subqueries searching the datastream/time index in its order, want 8: %s", n, p)
	}
	if n, after := strings.Count(p, "TEMP B-TREE"), strings.Count(p, "SCAN x; USE TEMP B-TREE FOR ORDER BY"); n != after {
		t.Errorf("%d sorts, %d of them of a subquery's result: %s", n, after, p)
	}
	t.Logf("%s", p)
}
