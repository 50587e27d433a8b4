package sqlq

import (
	"context"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
)

// What the ingest path asks of every observation's Datastream besides its QC facts (dsCache):
// which organisation owns it (the owner check of every write) and which FeatureOfInterest an
// observation without one gets from its Thing's Location. Both are kept in memory, under the
// writers' mutex (Entities.mu), so that a single POST costs no query for them:
//
//   - an organisation never changes once the (Multi)Datastream exists (no write path sets
//     it), so its entry is dropped only with dsCache (a failed transaction, a change to
//     Datastreams, a delete);
//   - a Thing's FeatureOfInterest follows its current Location, which entity writes change:
//     an entry is used only while no entity write has committed in this process since it was
//     read (EntitiesChanged) and for at most foiCacheFor, so that a Location changed by
//     another process sharing the PostgreSQL database is taken up within that time.
const foiCacheFor = time.Second

type foiEntry struct {
	id  int64
	gen uint64    // EntitiesChanged when read
	at  time.Time // when read
}

// forgetStreams drops every cached fact of Datastreams and MultiDatastreams (QC facts,
// organisations, FeaturesOfInterest of Things).
func (s *Entities) forgetStreams() {
	clear(s.dsCache)
	clear(s.mdCache)
	s.forgetOwners()
}

// forgetOwners drops the cached organisations and FeaturesOfInterest.
func (s *Entities) forgetOwners() {
	clear(s.orgCache)
	clear(s.foiCache)
}

// mayAdd checks that ctx's principal may add Observations to datastream ds (or, with multi,
// MultiDatastream ds): role operator in the stream's organisation (auth.RequireOwner, whose
// Forbidden names both organisations); NotFound when it does not exist. owners caches the
// answers for one principal by id (negative for MultiDatastreams). Nil without a principal.
func (s *Entities) mayAdd(ctx context.Context, tx Tx, owners map[int64]error, ds int64, multi bool) error {
	if auth.FromContext(ctx) == nil {
		return nil
	}
	key, set := ds, sensing.Datastreams
	if multi {
		key, set = -ds, sensing.MultiDatastreams
	}
	if err, ok := owners[key]; ok {
		return err
	}
	org, ok := s.orgCache[key]
	if !ok {
		var err error
		if org, err = ownerOf(ctx, tx, set, ds); err != nil {
			if apperr.KindOf(err) != apperr.Internal {
				owners[key] = err
			}
			return err
		}
		s.orgCache[key] = org
	}
	err := auth.RequireOwner(ctx, auth.Operator, org, fmt.Sprintf("%s(%d)", set, ds))
	owners[key] = err
	return err
}

// thingFoI is foiForThing with the cache described above.
func (s *Entities) thingFoI(ctx context.Context, tx Tx, thing int64) (int64, error) {
	gen, now := s.changed.Load(), time.Now()
	if e, ok := s.foiCache[thing]; ok && e.gen == gen && now.Sub(e.at) < foiCacheFor && !now.Before(e.at) {
		return e.id, nil
	}
	id, err := s.foiForThing(ctx, tx, thing)
	if err != nil {
		return 0, err
	}
	s.foiCache[thing] = foiEntry{id: id, gen: gen, at: now}
	return id, nil
}
