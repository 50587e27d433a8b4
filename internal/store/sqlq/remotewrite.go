package sqlq

import (
	"context"
	"errors"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
)

// The write side of the read boundary of remote data (remoteview.go, docs/federation.md "Who
// reads a remote Datastream"): to a key that may not read a remote entity (a remote Datastream
// of another organisation than its own, or what was made for it), a write that names it — a
// link by @iot.id in a create, a deep insert or an update, a create under it, an update or a
// delete of it — answers what an id that does not exist answers (NotFound, "set(id) does not
// exist") and changes nothing. It is checked where the store looks up what a write names
// (ownerOf, mayLink, Entities.exists), in the write's transaction, and by the node's read-only
// guards of remote data (Entities.Unseen) before they name why a remote entity is read-only:
// a key that may read it (the consumer organisation's, the node-wide admin's) is told that, as
// before. It costs a write with a principal a small query per such lookup (a join on
// fed_remote, empty on a node with no remote data).

// hiddenWrite is, per entity set, the query of whether set(id) belongs to a remote Datastream of
// another organisation than the one given (the second argument): what readHidden leaves out of
// a read by that organisation's keys.
var hiddenWrite = map[string]string{
	sensing.Datastreams: `SELECT 1 FROM fed_remote r JOIN datastreams d ON d.id = r.datastream_id WHERE d.id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.Observations: `SELECT 1 FROM observations o JOIN fed_remote r ON r.datastream_id = o.datastream_id JOIN datastreams d ON d.id = r.datastream_id
		WHERE o.id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.Things:             `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.thing_id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.Sensors:            `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.sensor_id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.ObservedProperties: `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.observed_property_id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.Locations: `SELECT 1 FROM thing_locations tl JOIN datastreams d ON d.thing_id = tl.thing_id JOIN fed_remote r ON r.datastream_id = d.id
		WHERE tl.location_id = ? AND d.organisation <> ? LIMIT 1`,
	sensing.HistoricalLocations: `SELECT 1 FROM historical_locations h JOIN datastreams d ON d.thing_id = h.thing_id JOIN fed_remote r ON r.datastream_id = d.id
		WHERE h.id = ? AND d.organisation <> ? LIMIT 1`,
	// the one the receiver made of the remote Thing's Location (viewCond)
	sensing.FeaturesOfInterest: `SELECT 1 FROM features_of_interest f JOIN thing_locations tl ON tl.location_id = f.location_id
		JOIN datastreams d ON d.thing_id = tl.thing_id JOIN fed_remote r ON r.datastream_id = d.id WHERE f.id = ? AND d.organisation <> ? LIMIT 1`,
}

// unseen returns the NotFound of an id that does not exist when set(id) is a remote entity the
// principal of ctx may not read (auth.Principal.Reads); nil without a principal (the node's own
// writes), for the node-wide admin, and for what the principal may read.
func unseen(ctx context.Context, tx Tx, set string, id int64) error {
	p := auth.FromContext(ctx)
	if p == nil {
		return nil
	}
	all, org := p.Reads()
	q, ok := hiddenWrite[set]
	if all || !ok {
		return nil
	}
	var one int
	err := tx.QueryRow(ctx, q, id, org).Scan(&one)
	if errors.Is(err, ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("is %s(%d) a remote entity of another organisation: %w", set, id, err)
	}
	return notExist(set, id)
}

// notExist is the error of a write naming set(id) that does not exist.
func notExist(set string, id int64) error {
	return apperr.E(apperr.NotFound, "%s(%d) does not exist", set, id)
}

// Unseen returns, as a write naming set(id) would, the NotFound of an id that does not exist
// when set(id) is a remote entity the principal of ctx may not read: for the node's read-only
// guards of remote data, which answer before the store is reached.
func (s *Entities) Unseen(ctx context.Context, set string, id int64) error {
	return s.eng.Read(ctx, func(tx Tx) error { return unseen(ctx, tx, set, id) })
}
