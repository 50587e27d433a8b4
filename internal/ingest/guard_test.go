package ingest_test

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
)

// TestGuard: the Observations of a Datastream Guard refuses get its error, the others are
// stored with their ids in their places — whether the first refused is at the start, in the
// middle or nowhere (then the batch goes to the store as it is, not copied: the ids land in
// the caller's Observations); an Internal error of Guard fails the whole batch, storing nothing.
func TestGuard(t *testing.T) {
	ctx := context.Background()
	s := openEntities(t, "sqlite")
	for _, name := range []string{"a", "b", "c"} {
		thing(t, s, name, name, true)
	}
	refused := apperr.E(apperr.Forbidden, "remote Datastream 2: read-only")
	var broken bool
	svc := &ingest.Service{Store: s, Guard: func(_ context.Context, ds int64) error {
		if broken {
			return apperr.E(apperr.Internal, "guard failed")
		}
		if ds == 2 {
			return refused
		}
		return nil
	}}
	t0 := time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC)
	n := 0
	batch := func(dss ...int64) []sensing.Observation {
		out := make([]sensing.Observation, len(dss))
		for i, ds := range dss {
			n++
			at := t0.Add(time.Duration(n) * time.Hour)
			v := float64(n)
			out[i] = sensing.Observation{DatastreamID: ds, PhenStart: at, PhenEnd: at, PhenText: at.Format(time.RFC3339), ResultNum: &v}
		}
		return out
	}
	for _, c := range [][]int64{{1, 2, 1, 3, 2}, {2, 2, 3}, {1, 3, 1}, {2}} {
		obs := batch(c...)
		ids, errs, err := svc.Ingest(ctx, "http", obs)
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		copied := false
		for i, ds := range c {
			switch {
			case ds == 2 && (ids[i] != 0 || !errors.Is(errs[i], refused)):
				t.Errorf("%v: item %d (Datastream 2): id %d, error %v; want none and the guard's", c, i, ids[i], errs[i])
			case ds != 2 && (ids[i] == 0 || errs[i] != nil):
				t.Errorf("%v: item %d (Datastream %d): id %d, error %v; want stored", c, i, ds, ids[i], errs[i])
			}
			if ids[i] != 0 && obs[i].ID != ids[i] {
				copied = true
			}
		}
		if none := !contains(c, 2); none && copied {
			t.Errorf("%v: nothing refused, yet the store was given a copy (ids not in the caller's Observations)", c)
		}
	}
	if got := count(t, s); got != 7 { // 3 + 1 + 3 + 0
		t.Errorf("stored %d observations, want 7", got)
	}
	broken = true
	if _, _, err := svc.Ingest(ctx, "http", batch(1, 3)); apperr.KindOf(err) != apperr.Internal {
		t.Errorf("guard failing: %v, want its internal error", err)
	}
	if got := count(t, s); got != 7 {
		t.Errorf("after a failed guard: %d observations stored, want still 7", got)
	}
}

func contains(s []int64, v int64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// With nothing refused, guarding a batch of 10,000 allocates nothing per Observation (it
// copied the whole batch once: 2.4 MB a request, live while the request was stored).
func TestGuardNoCopy(t *testing.T) {
	obs := make([]sensing.Observation, 10000)
	for i := range obs {
		obs[i].DatastreamID = int64(1 + i%100)
	}
	ids, errs := make([]int64, len(obs)), make([]error, len(obs))
	svc := &ingest.Service{Store: sink{ids, errs}, Guard: func(context.Context, int64) error { return nil }}
	var bytes uint64
	allocs := testing.AllocsPerRun(5, func() {
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		if _, _, err := svc.Ingest(context.Background(), "http", obs); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&m1)
		bytes = m1.TotalAlloc - m0.TotalAlloc
	})
	if bytes > 64<<10 {
		t.Errorf("guarding 10,000 Observations allocated %d bytes in %.0f allocations; want no copy of the batch", bytes, allocs)
	}
}

// sink is a Store that stores nothing and answers with its ids and errs.
type sink struct {
	ids  []int64
	errs []error
}

func (k sink) Ingest(context.Context, []sensing.Observation) ([]int64, []error, error) {
	return k.ids, k.errs, nil
}
func (k sink) IngestNew(context.Context, []sensing.Observation) ([]int64, []error, error) {
	return k.ids, k.errs, nil
}

// count is how many Observations s holds.
func count(t *testing.T, s interface {
	List(context.Context, *sensing.Query) (*sensing.Page, error)
}) int {
	t.Helper()
	page, err := s.List(context.Background(), &sensing.Query{Set: sensing.Observations, Opts: mustOpts(t), Top: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Entities)
}
