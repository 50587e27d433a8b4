package postgres_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/store/storetest"
)

// sortNode is a full Sort node in an EXPLAIN plan (an Incremental Sort on a presorted prefix
// is fine: it only orders ties of phen_start and phen_end by id).
var sortNode = regexp.MustCompile(`(?m)(^|->)\s*Sort\s+\(cost`)

// The hot reads — one datastream's Observations newest first, a time window of them, and the
// latest one (what $expand=Observations($top=1;$orderby=phenomenonTime desc) asks of every
// datastream) — must walk the (datastream_id, phen_start, phen_end) index of each partition in
// order, never read a datastream's rows and sort them: at 10,000,000 rows the latest of each of
// 100 datastreams took 78 s that way (docs/bench.md), because ORDER BY … DESC NULLS LAST cannot
// be served by that index. Sequential and bitmap scans are switched off so that the plan shows
// whether the order can come from the index at all, whatever the table's size.
func TestObservationWindowUsesIndex(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	s := postgres.NewEntities(db, nil)
	seedThing(t, s)
	if _, _, err := s.Ingest(ctx, []sensing.Observation{at("2025-01-15T00:00:00Z", 1), at("2025-02-15T00:00:00Z", 2), at("2025-03-15T00:00:00Z", 3)}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		filter, orderby string
		maySort         bool // a window inside one month: PostgreSQL may sort its few rows
	}{
		{"phenomenonTime ge 2025-01-01T00:00:00Z and phenomenonTime lt 2025-02-01T00:00:00Z", "phenomenonTime desc", true},
		{"phenomenonTime ge 2025-01-01T00:00:00Z", "phenomenonTime asc", false},
		{"", "phenomenonTime desc", false},
	} {
		v := map[string][]string{"$orderby": {c.orderby}}
		if c.filter != "" {
			v["$filter"] = []string{c.filter}
		}
		opts, err := odata.ParseOptions(v)
		if err != nil {
			t.Fatal(err)
		}
		query := &sensing.Query{Set: sensing.Observations, Parent: &sensing.Parent{Set: sensing.Datastreams, ID: 1, Nav: "Observations"}, Opts: opts, Top: 1}
		text, args, err := s.PageSQL(query)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = db.Write(ctx, func(tx sqlq.Tx) error {
			for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off"} {
				if _, err := tx.Exec(ctx, set); err != nil {
					return err
				}
			}
			rows, err := tx.Query(ctx, "EXPLAIN "+text, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var line string
				rows.Scan(&line)
				plan = append(plan, line)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "datastream_id_phen_start_phen_end_idx") {
			t.Errorf("%q %q: plan does not use the datastream/time index:\n%s", c.filter, c.orderby, p)
		}
		if !c.maySort && sortNode.MatchString(p) {
			t.Errorf("%q %q: plan sorts the datastream's rows:\n%s", c.filter, c.orderby, p)
		}
	}
}

// A time window across datastreams (/Observations?$filter=phenomenonTime ge … and
// phenomenonTime lt …) reads the month's partition only, through its phen_start index
// (observations_time, migration 0018), in id order and newest first: 10,000 rows of one month
// over 100 datastreams, analysed, as a store in use has them.
func TestWindowAcrossDatastreamsUsesIndex(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	s := postgres.NewEntities(db, nil)
	seedThing(t, s)
	var batch []sensing.Observation
	start := mustTime(t, "2025-01-01T00:00:00Z")
	for i := range 10000 {
		o := at("2025-01-01T00:00:00Z", float64(i))
		o.PhenStart = start.Add(time.Duration(i) * 4 * time.Minute)
		o.PhenEnd, o.PhenText = o.PhenStart, o.PhenStart.Format(time.RFC3339)
		batch = append(batch, o)
	}
	if _, _, err := s.Ingest(ctx, batch); err != nil {
		t.Fatal(err)
	}
	if err := db.Write(ctx, func(tx sqlq.Tx) error { _, err := tx.Exec(ctx, "ANALYZE observations"); return err }); err != nil {
		t.Fatal(err)
	}
	for _, q := range storetest.WindowQueries(t, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC)) {
		orderby := len(q.Opts.OrderBy) > 0 // newest first
		text, args, err := s.PageSQL(q)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		err = db.Write(ctx, func(tx sqlq.Tx) error {
			rows, err := tx.Query(ctx, "EXPLAIN "+text, args...)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var line string
				rows.Scan(&line)
				plan = append(plan, line)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
		p := strings.Join(plan, "\n")
		if !strings.Contains(p, "observations_p202501_phen_start_idx") || strings.Contains(p, "Seq Scan") {
			t.Errorf("newest first %v: plan does not read the month's time index:\n%s", orderby, p)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The latest observation of every datastream (sqlq/batch.go: one statement joined LATERAL to
// the datastreams' ids, with the generic plan it runs with) walks each datastream's
// (datastream_id, phen_start, phen_end) index in order: the only full sort allowed is the
// statement's outer ORDER BY, over the few rows read.
func TestLatestOfEachUsesIndex(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	s := postgres.NewEntities(db, nil)
	seedThing(t, s)
	if _, _, err := s.Ingest(ctx, []sensing.Observation{at("2025-01-15T00:00:00Z", 1), at("2025-02-15T00:00:00Z", 2), at("2025-03-15T00:00:00Z", 3)}); err != nil {
		t.Fatal(err)
	}
	text, args, err := s.ExpandSQL(sensing.Datastreams, []int64{1, 2, 3}, "Observations($top=1;$orderby=phenomenonTime desc)")
	if err != nil {
		t.Fatal(err)
	}
	var plan []string
	err = db.Write(ctx, func(tx sqlq.Tx) error {
		for _, set := range []string{"SET LOCAL enable_seqscan = off", "SET LOCAL enable_bitmapscan = off", "SET LOCAL plan_cache_mode = force_generic_plan"} {
			if _, err := tx.Exec(ctx, set); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+text, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			rows.Scan(&line)
			plan = append(plan, line)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	p := strings.Join(plan, "\n")
	if !strings.Contains(p, "datastream_id_phen_start_phen_end_idx") {
		t.Errorf("plan does not use the datastream/time index:\n%s", p)
	}
	if n := len(sortNode.FindAllString(p, -1)); n > 1 || n == 1 && !sortNode.MatchString(plan[0]) {
		t.Errorf("plan sorts a datastream's rows (%d sorts):\n%s", n, p)
	}
	t.Logf("%s", p)
}
