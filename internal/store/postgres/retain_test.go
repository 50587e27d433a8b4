package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/postgres"
	"github.com/rabta/rabta/internal/store/sqlq"
)

func seedThing(t *testing.T, s *sqlq.Entities) {
	t.Helper()
	e := &sensing.Entity{Set: sensing.Things, Props: map[string]any{"name": "t", "description": "d"}, Links: map[string][]*sensing.Entity{
		"Locations": {{Set: sensing.Locations, Props: map[string]any{"name": "l", "description": "d", "encodingType": "application/geo+json",
			"location": json.RawMessage(`{"type":"Point","coordinates":[73,32]}`)}}},
		"Datastreams": {{Set: sensing.Datastreams, Props: map[string]any{"name": "d", "description": "d", "observationType": "o", "unitOfMeasurement": json.RawMessage(`{}`)},
			Links: map[string][]*sensing.Entity{
				"Sensor":           {{Set: sensing.Sensors, Props: map[string]any{"name": "s", "description": "d", "encodingType": "text/plain", "metadata": json.RawMessage(`"m"`)}}},
				"ObservedProperty": {{Set: sensing.ObservedProperties, Props: map[string]any{"name": "p", "definition": "d", "description": "d"}}},
			}}},
	}}
	if _, err := s.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
}

func at(ts string, v float64) sensing.Observation {
	t, _ := time.Parse(time.RFC3339, ts)
	return sensing.Observation{DatastreamID: 1, PhenStart: t, PhenEnd: t, PhenText: ts, ResultNum: &v}
}

// Observations go to monthly partitions; Retain drops whole months and the datastream's span
// follows.
func TestPartitionsAndRetain(t *testing.T) {
	ctx := context.Background()
	db := testDB(t)
	s := postgres.NewEntities(db, nil)
	seedThing(t, s)
	if _, _, err := s.Ingest(ctx, []sensing.Observation{at("2025-01-31T23:59:59Z", 1), at("2025-02-01T00:00:00Z", 2), at("2025-03-15T00:00:00Z", 3), at("1999-12-31T00:00:00Z", 0)}); err != nil {
		t.Fatal(err)
	}
	parts, err := db.Partitions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(names(parts)) != "[observations_p199912 observations_p202501 observations_p202502 observations_p202503]" {
		t.Fatalf("partitions %v", names(parts))
	}
	dropped, err := db.Retain(ctx, time.Date(2025, 2, 10, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(dropped) != "[observations_p199912 observations_p202501]" {
		t.Errorf("dropped %v", dropped)
	}
	p, err := s.List(ctx, &sensing.Query{Set: sensing.Observations, Opts: opts(t), Top: 10})
	if err != nil || len(p.Entities) != 2 {
		t.Fatalf("left %v %v", p, err)
	}
	// the dropped observations left the counts behind an unfiltered $count (sqlq/counts.go)
	count := true
	for _, parent := range []*sensing.Parent{nil, {Set: sensing.Datastreams, ID: 1, Nav: "Observations"}} {
		o := opts(t)
		o.Count = &count
		if p, err := s.List(ctx, &sensing.Query{Set: sensing.Observations, Parent: parent, Opts: o}); err != nil || p.Count == nil || *p.Count != 2 {
			t.Errorf("%v $count after retain: %v %v, want 2", parent, p, err)
		}
	}
	seen, _ := s.LastSeen(ctx)
	ds, err := s.Get(ctx, &sensing.Query{Set: sensing.Datastreams, ID: 1, Opts: opts(t)})
	if err != nil || ds.Props["phenomenonTime"] != "2025-02-01T00:00:00Z/2025-03-15T00:00:00Z" || !seen[1].Equal(time.Date(2025, 3, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("span after retain: %v %v", ds.Props["phenomenonTime"], err)
	}
	// a dropped month can be written again
	if ids, _, err := s.Ingest(ctx, []sensing.Observation{at("2025-01-02T00:00:00Z", 5)}); err != nil || ids[0] == 0 {
		t.Errorf("ingest into a dropped month: %v %v", ids, err)
	}
	// another process dropped a partition this one still thinks exists
	other, err := postgres.Open(ctx, dsnOf(t, db))
	if err == nil {
		defer other.Close()
		if _, err := other.Retain(ctx, time.Date(2025, 2, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		if ids, _, err := s.Ingest(ctx, []sensing.Observation{at("2025-01-03T00:00:00Z", 6)}); err != nil || ids[0] == 0 {
			t.Errorf("ingest after another process dropped the month: %v %v", ids, err)
		}
	}
}

func names(ps []postgres.Partition) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

// Two processes (two DBs on one database) ingesting into the same datastreams and months at
// once: every observation is stored once, no deadlock, one FoI.
func TestConcurrentProcesses(t *testing.T) {
	ctx := context.Background()
	dsn := testDSNSchema(t)
	var stores []*sqlq.Entities
	for range 2 {
		db, err := postgres.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		stores = append(stores, postgres.NewEntities(db, nil))
	}
	seedThing(t, stores[0])
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for p, s := range stores {
		for w := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					ts := fmt.Sprintf("2024-%02d-01T00:%02d:%02dZ", 1+i%12, p*3+w, i)
					if _, _, err := s.Ingest(ctx, []sensing.Observation{at(ts, float64(i)), at("2030-01-01T00:00:00Z", 1)}); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p, err := stores[1].List(ctx, &sensing.Query{Set: sensing.Observations, Opts: opts(t, "$count", "true"), Top: 0})
	if err != nil || *p.Count != 120 {
		t.Errorf("count %v %v, want 120", p.Count, err)
	}
	f, err := stores[1].List(ctx, &sensing.Query{Set: sensing.FeaturesOfInterest, Opts: opts(t, "$count", "true"), Top: 0})
	if err != nil || *f.Count != 1 {
		t.Errorf("features of interest %v %v, want 1", f.Count, err)
	}
}
