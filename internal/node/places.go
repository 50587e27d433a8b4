package node

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// seedPlaces stores the embedded real places (boundaries with census populations, towns) — or
// own, when given (Options.Places) — on a node that has none, and, for the demo, the synthetic
// villages.
func seedPlaces(ctx context.Context, st *sqlq.Places, demo bool, own []place.Place, log *slog.Logger) error {
	counts, err := st.Count(ctx)
	if err != nil {
		return err
	}
	if counts[place.District] > 0 && (!demo || counts[place.Village] > 0) {
		return nil
	}
	start := time.Now()
	ps := slices.Clone(own)
	if own == nil {
		if ps, err = place.Load(); err != nil {
			return err
		}
	}
	if demo && counts[place.Village] == 0 {
		vs, err := place.Villages(ps, place.VillageOptions{Seed: 1})
		if err != nil {
			return err
		}
		ps = append(ps, vs...)
	}
	if err := st.Upsert(ctx, ps); err != nil {
		return fmt.Errorf("places: %w", err)
	}
	log.Info("places_seeded", "places", len(ps), "synthetic_villages", demo && counts[place.Village] == 0, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// gazetteer is the node's places, loaded from the store on first use and again whenever the
// store's counts change (a village list imported by `rabta import villages`). A store with no
// places is seeded on first use (seedPlaces), so a node that never warns never pays for it.
type gazetteer struct {
	store *sqlq.Places
	log   *slog.Logger
	demo  bool
	own   []place.Place // Options.Places

	mu      sync.Mutex
	g       *place.Gazetteer
	counts  map[place.Kind]int
	checked time.Time // when the store's counts were last read
}

func (z *gazetteer) get(ctx context.Context) (*place.Gazetteer, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if z.g != nil && time.Since(z.checked) < 5*time.Second { // the counts cost a query: not on every lookup
		return z.g, nil
	}
	counts, err := z.store.Count(ctx)
	if err != nil {
		return nil, err
	}
	if counts[place.District] == 0 || z.demo && counts[place.Village] == 0 {
		if err := seedPlaces(ctx, z.store, z.demo, z.own, z.log); err != nil {
			return nil, err
		}
		if counts, err = z.store.Count(ctx); err != nil {
			return nil, err
		}
	}
	z.checked = time.Now()
	if z.g != nil && maps.Equal(counts, z.counts) {
		return z.g, nil
	}
	start := time.Now()
	ps, err := z.store.List(ctx)
	if err != nil {
		return nil, err
	}
	g, err := place.NewGazetteer(ps)
	if err != nil {
		return nil, err
	}
	z.g, z.counts = g, counts
	z.log.Info("gazetteer_loaded", "places", g.Len(), "took", time.Since(start).Round(time.Millisecond))
	return g, nil
}

// Known tells whether key names one of the node's places (true when the places cannot be
// read: a store error is not the subscriber's mistake).
func (z *gazetteer) Known(key string) bool {
	g, err := z.get(context.Background())
	if err != nil {
		return true
	}
	_, ok := g.Place(key)
	return ok
}

// Reach implements dissemination.Gazetteer.
func (z *gazetteer) Reach(areas []cap.Area) (dissemination.Reach, error) {
	g, err := z.get(context.Background())
	if err != nil {
		return dissemination.Reach{}, err
	}
	return dissemination.Places{G: g}.Reach(areas)
}

// points makes subscriber point indexes that find the regions of geocoded areas in the
// gazetteer when a search needs them (not when the index is built).
func (z *gazetteer) points() dissemination.Points {
	return &dissemination.PointIndex{Regions: func() (*place.Gazetteer, error) { return z.get(context.Background()) }}
}
