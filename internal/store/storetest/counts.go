package storetest

import (
	"context"
	"errors"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// checkCounts holds $count to the rows for every stream of want (nil parent: all
// Observations): without $filter (read from the observation counts, sqlq/counts.go) it must
// equal the count with a filter that restricts nothing (COUNT(*) over the rows), the number of
// Observations listed, and want.
func checkCounts(t *testing.T, s Stores, step string, want map[*sensing.Parent]int64) {
	t.Helper()
	for p, w := range want {
		fast := list(t, s, sensing.Observations, p, "$count=true&$top=0").Count
		slow := list(t, s, sensing.Observations, p, "$count=true&$top=0&$filter=id ge 0").Count
		rows := int64(len(list(t, s, sensing.Observations, p, "$top=1000&$select=id").Entities))
		if fast == nil || slow == nil || *fast != *slow || *fast != rows || *fast != w {
			t.Errorf("%s: %v/Observations $count %v, with a filter %v, listed %d; want %d", step, p, deref(fast), deref(slow), rows, w)
		}
	}
}

func deref(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}

// testCounts: the observation counts behind an unfiltered $count stay exact through every
// way observations come and go — ingest (with refused items), IngestNew's refused duplicates,
// a rolled-back and a committed Atomic transaction ($batch), deep insert into a
// MultiDatastream, an Observation moved to another Datastream, deletes of one Observation, of
// a FeatureOfInterest, of a Datastream and of a Thing (cascades).
func testCounts(t *testing.T, s Stores) {
	seed(t, s) // Observations 1-4 on Datastream 1, 5-6 on Datastream 2
	s.Configure(&Checker{}, true, "test", nil)
	all, ds1, ds2, md1 := (*sensing.Parent)(nil), under(sensing.Datastreams, 1, "Observations"), under(sensing.Datastreams, 2, "Observations"), under(sensing.MultiDatastreams, 1, "Observations")
	checkCounts(t, s, "seeded", map[*sensing.Parent]int64{all: 6, ds1: 4, ds2: 2, md1: 0})

	// refused items (QC, unknown datastream) are not counted
	_, errs, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1), obs(1, "2025-09-01T01:00:00Z", 666),
		obs(99, "2025-09-01T00:00:00Z", 1), obs(2, "2025-09-01T00:00:00Z", 2)})
	if err != nil || errs[0] != nil || errs[1] == nil || errs[2] == nil || errs[3] != nil {
		t.Fatalf("ingest: %v %v", errs, err)
	}
	checkCounts(t, s, "ingest with refusals", map[*sensing.Parent]int64{all: 8, ds1: 5, ds2: 3})

	// duplicates IngestNew refuses are not counted
	_, errs, err = s.Entities.IngestNew(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1), obs(1, "2025-09-02T00:00:00Z", 3)})
	if err != nil || !errors.Is(errs[0], sqlq.ErrDuplicate) || errs[1] != nil {
		t.Fatalf("IngestNew: %v %v", errs, err)
	}
	checkCounts(t, s, "IngestNew with a duplicate", map[*sensing.Parent]int64{all: 9, ds1: 6, ds2: 3})

	// a rolled-back transaction leaves the counts as they were
	stop := apperr.E(apperr.Invalid, "stop")
	err = s.Entities.Atomic(ctx(), func(ctx context.Context) error {
		if _, _, err := s.Entities.Ingest(ctx, []sensing.Observation{obs(1, "2025-09-03T00:00:00Z", 4), obs(2, "2025-09-03T00:00:00Z", 4)}); err != nil {
			return err
		}
		if err := s.Entities.Delete(ctx, sensing.Observations, 5); err != nil {
			return err
		}
		return stop
	})
	if err != stop {
		t.Fatalf("Atomic: %v", err)
	}
	checkCounts(t, s, "rolled back", map[*sensing.Parent]int64{all: 9, ds1: 6, ds2: 3})

	// a committed one ($batch's change set) counts what it did
	err = s.Entities.Atomic(ctx(), func(ctx context.Context) error {
		if _, _, err := s.Entities.Ingest(ctx, []sensing.Observation{obs(1, "2025-09-03T00:00:00Z", 4), obs(2, "2025-09-03T00:00:00Z", 4)}); err != nil {
			return err
		}
		return s.Entities.Delete(ctx, sensing.Observations, 5)
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "committed batch", map[*sensing.Parent]int64{all: 10, ds1: 7, ds2: 3})

	// a MultiDatastream made with one Observation (deep insert), then one more ingested
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.MultiDatastreams, weather)); err != nil {
		t.Fatal(err)
	}
	if _, errs, err := s.Entities.Ingest(ctx(), []sensing.Observation{multiObs(1, "2025-09-04T00:00:00Z", "[1,2,3]")}); err != nil || errs[0] != nil {
		t.Fatalf("ingest into the MultiDatastream: %v %v", errs, err)
	}
	checkCounts(t, s, "MultiDatastream", map[*sensing.Parent]int64{all: 12, ds1: 7, ds2: 3, md1: 2})

	// one Observation deleted; one moved from Datastream 1 to 2 (an update of the Observation),
	// one from 2 to 1 (an update of the Datastream linking it)
	if err := s.Entities.Delete(ctx(), sensing.Observations, 1); err != nil {
		t.Fatal(err)
	}
	if err := s.Entities.Update(ctx(), withID(entity(t, sensing.Observations, `{"phenomenonTime":"2025-08-26T12:00:00+05:00","Datastream":{"@iot.id":2}}`), 2), false); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "deleted one, moved one", map[*sensing.Parent]int64{all: 11, ds1: 5, ds2: 4, md1: 2})
	if err := s.Entities.Update(ctx(), withID(entity(t, sensing.Datastreams, `{"Observations":[{"@iot.id":6}]}`), 1), false); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "moved one back", map[*sensing.Parent]int64{all: 11, ds1: 6, ds2: 3, md1: 2})

	// an expanded collection's count agrees too
	page := list(t, s, sensing.Datastreams, nil, "$expand=Observations($count=true%3B$top=1)")
	for _, e := range page.Entities {
		x := e.Expanded["Observations"]
		want := map[int64]int64{1: 6, 2: 3}[e.ID]
		if x == nil || x.Count == nil || *x.Count != want {
			t.Errorf("Datastreams(%d) $expand=Observations($count=true): %v, want %d", e.ID, x, want)
		}
	}

	// Thing 2's FeatureOfInterest goes with its Observations: 6 (now in Datastream 1) and the
	// two ingested into Datastream 2 since the seed
	foi := get(t, s, sensing.Observations, 6, "$expand=FeatureOfInterest($select=id)").Expanded["FeatureOfInterest"].One.ID
	if err := s.Entities.Delete(ctx(), sensing.FeaturesOfInterest, foi); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "deleted a FeatureOfInterest", map[*sensing.Parent]int64{all: 8, ds1: 5, ds2: 1, md1: 2})

	// a Datastream, then a Thing (its Datastream and MultiDatastream) take theirs along
	if err := s.Entities.Delete(ctx(), sensing.Datastreams, 2); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "deleted Datastream 2", map[*sensing.Parent]int64{all: 7, ds1: 5, ds2: 0, md1: 2})
	if err := s.Entities.Delete(ctx(), sensing.Things, 1); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "deleted Thing 1", map[*sensing.Parent]int64{all: 0, ds1: 0, md1: 0})
}
