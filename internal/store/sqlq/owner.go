package sqlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
)

// Organisations are a boundary (issue 15). Every SensorThings entity a client writes belongs
// to an organisation (column organisation, ddl/organisations.sql): the organisation of the key
// in the request's context when it was created (auth.FromContext), or auth.NodeOrganisation
// when the node writes it itself (no principal: demo data, the CSV import of the command line,
// rows from before the column). Observations belong to their Datastream's (or
// MultiDatastream's) organisation, HistoricalLocations to their Thing's.
//
// With a principal in the context, a write is checked inside its transaction, so that every
// path — HTTP, deep insert, $batch, $ref, MQTT create, dataArray, ingest — gets the same check
// and nothing is half done (auth.RequireOwner; Forbidden names both organisations):
//
//   - changing or deleting an entity, or re-pointing it to another parent, needs its
//     organisation;
//   - creating an Observation needs its Datastream's (or MultiDatastream's) organisation;
//   - linking an existing entity (by @iot.id, in a create, an update or a $ref write) needs
//     its organisation too, except the shared vocabularies: Sensors, ObservedProperties and
//     FeaturesOfInterest may be linked by any organisation (one river reach, one
//     "water level" definition serves every agency), though only their own organisation
//     changes or deletes them;
//   - a delete whose cascade would take another organisation's entities (an ObservedProperty
//     another organisation's Datastream measures, a FeatureOfInterest of its Observations, a
//     Thing carrying a Datastream of another organisation) is Conflict, naming them, unless
//     the node-wide admin does it.
//
// Without a principal the store trusts its caller: the HTTP and MQTT surfaces authenticate
// every client write, and only the node itself writes without one.

// ownerCol is the column holding an entity's organisation.
const ownerCol = "organisation"

// sharedSets are the sets any organisation may link to (not change): shared vocabularies.
var sharedSets = map[string]bool{sensing.Sensors: true, sensing.ObservedProperties: true, sensing.FeaturesOfInterest: true}

// ownedSets are the sets with an organisation column of their own.
var ownedSets = map[string]bool{sensing.Things: true, sensing.Locations: true, sensing.Sensors: true,
	sensing.ObservedProperties: true, sensing.FeaturesOfInterest: true, sensing.Datastreams: true, sensing.MultiDatastreams: true}

// orgOf is the organisation that owns what ctx's principal creates.
func orgOf(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.Organisation
	}
	return auth.NodeOrganisation
}

// ownerOf returns the organisation owning set(id); NotFound when it does not exist.
func ownerOf(ctx context.Context, tx Tx, set string, id int64) (string, error) {
	// a remote entity the principal may not read does not exist to it (remotewrite.go)
	if err := unseen(ctx, tx, set, id); err != nil {
		return "", err
	}
	var q string
	switch {
	case ownedSets[set]:
		q = "SELECT " + ownerCol + " FROM " + Sensing[set].Name + " WHERE id = ?"
	case set == sensing.Observations:
		q = `SELECT coalesce(d.organisation, m.organisation) FROM observations o
			LEFT JOIN datastreams d ON d.id = o.datastream_id LEFT JOIN multi_datastreams m ON m.id = o.multi_datastream_id WHERE o.id = ?`
	case set == sensing.HistoricalLocations:
		q = `SELECT t.organisation FROM historical_locations h JOIN things t ON t.id = h.thing_id WHERE h.id = ?`
	default:
		return "", fmt.Errorf("owner of %s: no such set", set)
	}
	var org *string
	err := tx.QueryRow(ctx, q, id).Scan(&org)
	if errors.Is(err, ErrNoRows) {
		return "", notExist(set, id)
	}
	if err != nil {
		return "", fmt.Errorf("owner of %s(%d): %w", set, id, err)
	}
	if org == nil {
		return "", nil
	}
	return *org, nil
}

// mayChange checks that ctx's principal may change or delete set(id) (which must exist).
func mayChange(ctx context.Context, tx Tx, set string, id int64) error {
	if auth.FromContext(ctx) == nil {
		return nil
	}
	org, err := ownerOf(ctx, tx, set, id)
	if err != nil {
		return err
	}
	return auth.RequireOwner(ctx, auth.Operator, org, fmt.Sprintf("%s(%d)", set, id))
}

// mayLink checks that ctx's principal may link the existing set(id) to something it writes:
// it must exist, and be its organisation's unless set is a shared vocabulary.
func mayLink(ctx context.Context, tx Tx, set string, id int64) error {
	if auth.FromContext(ctx) == nil || sharedSets[set] {
		if err := unseen(ctx, tx, set, id); err != nil {
			return err
		}
		var one int
		err := tx.QueryRow(ctx, "SELECT 1 FROM "+Sensing[set].Name+" WHERE id = ?", id).Scan(&one)
		if errors.Is(err, ErrNoRows) {
			return notExist(set, id)
		}
		return err
	}
	return mayChange(ctx, tx, set, id)
}

// cascade lists, for a delete of each set, the entities of other organisations that the delete
// would take with it (by ON DELETE CASCADE, or from whose links it would vanish): a query
// over (id, organisation) returning a kind and an id.
var cascade = map[string][]struct{ what, q string }{
	sensing.Things: {
		{sensing.Datastreams, "SELECT id FROM datastreams WHERE thing_id = ? AND organisation <> ?"},
		{sensing.MultiDatastreams, "SELECT id FROM multi_datastreams WHERE thing_id = ? AND organisation <> ?"},
	},
	sensing.Sensors: {
		{sensing.Datastreams, "SELECT id FROM datastreams WHERE sensor_id = ? AND organisation <> ?"},
		{sensing.MultiDatastreams, "SELECT id FROM multi_datastreams WHERE sensor_id = ? AND organisation <> ?"},
	},
	sensing.ObservedProperties: {
		{sensing.Datastreams, "SELECT id FROM datastreams WHERE observed_property_id = ? AND organisation <> ?"},
		{sensing.MultiDatastreams, `SELECT m.id FROM multi_datastreams m JOIN multi_datastream_observed_properties p ON p.multi_datastream_id = m.id
			WHERE p.observed_property_id = ? AND m.organisation <> ?`},
	},
	sensing.FeaturesOfInterest: {
		{sensing.Datastreams, `SELECT d.id FROM observations o JOIN datastreams d ON d.id = o.datastream_id
			WHERE o.foi_id = ? AND d.organisation <> ?`},
		{sensing.MultiDatastreams, `SELECT m.id FROM observations o JOIN multi_datastreams m ON m.id = o.multi_datastream_id
			WHERE o.foi_id = ? AND m.organisation <> ?`},
	},
	sensing.Locations: {
		{sensing.Things, `SELECT t.id FROM thing_locations l JOIN things t ON t.id = l.thing_id WHERE l.location_id = ? AND t.organisation <> ?`},
	},
}

// mayDelete checks that ctx's principal may delete set(id): mayChange, and nothing of another
// organisation goes with it (Conflict naming the first such entity), unless it is the
// node-wide admin.
func mayDelete(ctx context.Context, tx Tx, set string, id int64) error {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil
	}
	if err := mayChange(ctx, tx, set, id); err != nil {
		return err
	}
	if p.NodeAdmin() {
		return nil
	}
	for _, c := range cascade[set] {
		var other int64
		err := tx.QueryRow(ctx, c.q+" LIMIT 1", id, p.Organisation).Scan(&other)
		if errors.Is(err, ErrNoRows) {
			continue
		}
		if err != nil {
			return fmt.Errorf("delete %s(%d): who else uses it: %w", set, id, err)
		}
		verb := "would go with it"
		if set == sensing.FeaturesOfInterest {
			verb = "has Observations of it, which would go with it"
		}
		if set == sensing.Locations {
			verb = "is located by it"
		}
		return apperr.E(apperr.Conflict, "%s(%d) cannot be deleted: %s(%d) of another organisation %s; only the node-wide admin may delete it",
			set, id, c.what, other, verb)
	}
	return nil
}

// Owned returns the ids of the Datastreams and MultiDatastreams organisation org owns (for the
// bus, which keeps a client's publishes to them: bus.Owner).
func (s *Entities) Owned(ctx context.Context, org string) (datastreams, multiDatastreams []int64, err error) {
	err = s.eng.Read(ctx, func(tx Tx) error {
		for _, q := range []struct {
			table string
			out   *[]int64
		}{{"datastreams", &datastreams}, {"multi_datastreams", &multiDatastreams}} {
			if err := each(ctx, tx, func(r Rows) error {
				var id int64
				err := r.Scan(&id)
				*q.out = append(*q.out, id)
				return err
			}, "SELECT id FROM "+q.table+" WHERE organisation = ? ORDER BY id", org); err != nil {
				return err
			}
		}
		return nil
	})
	return datastreams, multiDatastreams, err
}

// Owner returns the organisation owning set(id) (NotFound when it does not exist): for the MQTT
// create path, which acts for the organisation owning the Datastream of its topic.
func (s *Entities) Owner(ctx context.Context, set string, id int64) (org string, err error) {
	err = s.eng.Read(ctx, func(tx Tx) error {
		org, err = ownerOf(ctx, tx, set, id)
		return err
	})
	return org, err
}
