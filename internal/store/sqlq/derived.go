package sqlq

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/sensing"
)

// Derived Datastreams (docs/forecast.md, "Derived discharge in the node"). A Datastream whose
// properties carry derivedFrom (forecast.ParseDerivation) holds values the node computes from
// another Datastream's (discharge from stage through a rating curve). The store holds the
// recipe to what the node can compute, when a Datastream is created or changed, inside the
// write's transaction (a refused write leaves nothing behind), as a 400 naming the property
// path:
//
//   - properties.derivedFrom is well formed (forecast.ParseDerivation);
//   - its datastream exists, is not the Datastream itself, and belongs to the same
//     organisation;
//   - it is a measured Datastream, not itself derived, and the Datastream being written is no
//     other's source: derivations are one step deep, so they can never form a cycle.
//
// Observations of a derived Datastream are refused (400 naming it) unless the context says
// the node itself computed them (WithDerivation): a client posts the stage, never the discharge.

// derivedMarker is the context key of WithDerivation; its value is the key of the source's poster.
type derivedMarker struct{}

// WithDerivation returns a context in which observations of derived Datastreams are accepted:
// the node's derivation consumer stores through it; nothing else should. key is the API key
// that posted the source values (0: none): the outbox names it as the derived values' poster,
// so that the warning engine counts that key among the authors of the drafts the derived
// values decide (four eyes), as it would for the source values.
func WithDerivation(ctx context.Context, key int64) context.Context {
	return context.WithValue(ctx, derivedMarker{}, key)
}

func isDerivation(ctx context.Context) bool { _, ok := ctx.Value(derivedMarker{}).(int64); return ok }

// derivationKey is WithDerivation's key (0: none, or not a derivation).
func derivationKey(ctx context.Context) int64 { k, _ := ctx.Value(derivedMarker{}).(int64); return k }

// derivedOnly refuses an observation of ds when ds is derived and ctx is not the node's
// derivation. A cheap byte test first: most Datastreams are not derived.
func derivedOnly(ctx context.Context, ds *sensing.DatastreamInfo) error {
	if !bytes.Contains(ds.Properties, []byte(`"derivedFrom"`)) || isDerivation(ctx) {
		return nil
	}
	d, err := forecast.ParseDerivation(ds.Properties)
	if err != nil || d == nil {
		return nil // refused when written; a broken recipe derives nothing, so it guards nothing
	}
	return apperr.E(apperr.Invalid, "Datastream(%d) is derived from Datastream(%d) (properties.derivedFrom): the node computes its Observations; post the stage to Datastream(%d) instead",
		ds.ID, d.Datastream, d.Datastream)
}

// checkDerived holds Datastream(id), as just written in tx, to the rules above.
func checkDerived(ctx context.Context, tx Tx, id int64) error {
	props, err := datastreamProps(ctx, tx, id)
	if err != nil {
		return err
	}
	d, err := forecast.ParseDerivation(props)
	if err != nil {
		return apperr.Wrap(apperr.Invalid, err, "Datastream: %s", derivationMessage(err))
	}
	if d == nil {
		return nil
	}
	const p = "Datastream: properties.derivedFrom"
	if d.Datastream == id {
		return apperr.E(apperr.Invalid, "%s.datastream: a Datastream cannot be derived from itself", p)
	}
	src, err := ownerOf(ctx, tx, sensing.Datastreams, d.Datastream)
	if apperr.KindOf(err) == apperr.NotFound {
		return apperr.E(apperr.Invalid, "%s.datastream: Datastream(%d) does not exist", p, d.Datastream)
	}
	if err != nil {
		return err
	}
	own, err := ownerOf(ctx, tx, sensing.Datastreams, id)
	if err != nil {
		return err
	}
	if src != own {
		return apperr.E(apperr.Invalid, "%s.datastream: Datastream(%d) belongs to another organisation; derive only from your own organisation's Datastreams", p, d.Datastream)
	}
	srcProps, err := datastreamProps(ctx, tx, d.Datastream)
	if err != nil {
		return err
	}
	if sd, _ := forecast.ParseDerivation(srcProps); sd != nil {
		return apperr.E(apperr.Invalid, "%s.datastream: Datastream(%d) is itself derived (from Datastream(%d)); derive from a measured stage", p, d.Datastream, sd.Datastream)
	}
	all, err := derivations(ctx, tx)
	if err != nil {
		return err
	}
	for other, od := range all {
		if od.Datastream == id && other != id {
			return apperr.E(apperr.Invalid, "%s: Datastream(%d) is derived from this one; a Datastream that is a source cannot itself be derived", p, other)
		}
	}
	return nil
}

// derivationMessage is a ParseDerivation error's text without the sentinel's prefix.
func derivationMessage(err error) string {
	msg := err.Error()
	if p := forecast.ErrDerivation.Error() + ": "; len(msg) > len(p) && msg[:len(p)] == p {
		return msg[len(p):]
	}
	return msg
}

func datastreamProps(ctx context.Context, tx Tx, id int64) ([]byte, error) {
	var props *string
	err := tx.QueryRow(ctx, `SELECT properties FROM datastreams WHERE id = ?`, id).Scan(&props)
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "Datastream(%d) does not exist", id)
	}
	if err != nil || props == nil {
		return nil, err
	}
	return []byte(*props), nil
}

// derivations returns every derived Datastream's recipe, by the derived Datastream's id. A
// recipe that does not parse (only possible in data written by other means) is left out.
func derivations(ctx context.Context, q Tx) (map[int64]*forecast.Derivation, error) {
	rows, err := q.Query(ctx, `SELECT id, properties FROM datastreams WHERE properties LIKE ?`, `%"derivedFrom"%`)
	if err != nil {
		return nil, fmt.Errorf("list derived datastreams: %w", err)
	}
	defer rows.Close()
	out := map[int64]*forecast.Derivation{}
	for rows.Next() {
		var id int64
		var props string
		if err := rows.Scan(&id, &props); err != nil {
			return nil, err
		}
		if d, err := forecast.ParseDerivation([]byte(props)); err == nil && d != nil {
			out[id] = d
		}
	}
	return out, rows.Err()
}

// Derivations returns every derived Datastream's recipe (properties.derivedFrom), by the
// derived Datastream's id, as committed.
func (s *Entities) Derivations(ctx context.Context) (map[int64]*forecast.Derivation, error) {
	var out map[int64]*forecast.Derivation
	err := s.eng.Read(ctx, func(tx Tx) error {
		var err error
		out, err = derivations(ctx, tx)
		return err
	})
	return out, err
}

// EntitiesChanged counts the entity writes (creates, updates, deletes other than of
// Observations) this process has committed, so that a cache of entity properties (the node's
// derivations) knows when to look again. Writes by other processes are not counted.
func (s *Entities) EntitiesChanged() uint64 { return s.changed.Load() }

// entityWritten counts a committed entity write of set (EntitiesChanged).
func (s *Entities) entityWritten(ctx context.Context, set string, err error) {
	if err == nil && set != sensing.Observations {
		s.OnCommit(ctx, func() { s.changed.Add(1) })
	}
}
