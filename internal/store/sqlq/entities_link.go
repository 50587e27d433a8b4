package sqlq

import (
	"context"
	"fmt"
	"strings"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Link adds target to the navigation property nav of set(id): the $ref writes of SensorThings
// 1.1 (18-088 §10.3 "link" and OData 4.0 §11.4.6.1). On a to-many nav the target becomes one
// more member (POST .../Locations/$ref): a many-to-many link row is added (nothing changes when
// it exists already), and a one-to-many child is re-pointed to set(id) (it leaves its former
// parent, as the child's to-one link is mandatory). On a to-one nav the link is replaced (PUT
// .../Sensor/$ref). A Thing that gets a Location gets a HistoricalLocation, whichever side the
// link is written from. NotFound when set(id) or the target does not exist.
func (s *Entities) Link(ctx context.Context, set string, id int64, nav string, target int64) error {
	defer viewWrite()() // remoteview.go: a Thing's Locations, a Datastream's Thing, … may change what a RemoteView hides
	l, ok := Sensing[set].Links[nav]
	if !ok {
		return apperr.E(apperr.Invalid, "%s has no navigation property %s", set, nav)
	}
	// A foreign key on one side: an update of the row holding it does the work, with its
	// checks and the derived values it keeps (a Datastream's phenomenonTime when an
	// Observation moves to another Datastream).
	switch {
	case l.LocalFK != "":
		ref := &sensing.Entity{Set: l.Target, ID: target, Ref: true}
		return s.Update(ctx, &sensing.Entity{Set: set, ID: id, Props: map[string]any{}, Links: map[string][]*sensing.Entity{nav: {ref}}}, false)
	case l.RemoteFK != "":
		back, _ := backNav(set, nav)
		ref := &sensing.Entity{Set: set, ID: id, Ref: true}
		if err := s.Update(ctx, &sensing.Entity{Set: l.Target, ID: target, Props: map[string]any{}, Links: map[string][]*sensing.Entity{back: {ref}}}, false); err != nil {
			return err
		}
		return nil
	}
	if err := multiRefWrite(set, nav, l); err != nil {
		return err
	}
	return s.tx(ctx, fmt.Sprintf("%s(%d)/%s", set, id, nav), func(tx Tx) error {
		if err := s.exists(ctx, tx, set, id); err != nil {
			return err
		}
		if err := mayChange(ctx, tx, set, id); err != nil { // owner.go
			return err
		}
		if err := mayLink(ctx, tx, l.Target, target); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?) ON CONFLICT DO NOTHING", l.Via.Table, l.Via.LocalCol, l.Via.RemoteCol), id, target)
		if err != nil || n == 0 {
			return err
		}
		switch {
		case set == sensing.Things && nav == "Locations":
			return s.historical(ctx, tx, id, []int64{target})
		case set == sensing.Locations && nav == "Things":
			return s.historical(ctx, tx, target, []int64{id})
		}
		return nil
	})
}

// Unlink removes target from the to-many navigation property nav of set(id) (OData 4.0
// §11.4.6.2: DELETE .../Locations/$ref?$id=... or .../Locations(3)/$ref). Only a many-to-many
// link can be removed: every to-one link of the SensorThings data model is mandatory (a
// Datastream's Thing, Sensor and ObservedProperty, an Observation's Datastream and
// FeatureOfInterest, a HistoricalLocation's Thing), so removing one, or removing a child from
// its parent's one-to-many collection, is Invalid, naming what would be left without what.
// NotFound when set(id) does not exist or is not linked to the target.
func (s *Entities) Unlink(ctx context.Context, set string, id int64, nav string, target int64) error {
	defer viewWrite()() // remoteview.go: a Thing's Locations, a Datastream's Thing, … may change what a RemoteView hides
	l, ok := Sensing[set].Links[nav]
	if !ok {
		return apperr.E(apperr.Invalid, "%s has no navigation property %s", set, nav)
	}
	single := func(set string) string { // "a Datastream", "an Observation"
		w := sensing.Sets[set].Single
		if strings.ContainsRune("AEIOU", rune(w[0])) {
			return "an " + w
		}
		return "a " + w
	}
	switch {
	case l.LocalFK != "":
		return apperr.E(apperr.Invalid, "%s(%d)/%s cannot be removed: %s must have a %s; link another one with PUT %s(%d)/%s/$ref",
			set, id, nav, single(set), nav, set, id, nav)
	case l.RemoteFK != "":
		back, _ := backNav(set, nav)
		return apperr.E(apperr.Invalid, "%s(%d) cannot be removed from %s(%d)/%s: %s must have a %s; link it to another one with PUT %s(%d)/%s/$ref",
			l.Target, target, set, id, nav, single(l.Target), back, l.Target, target, back)
	}
	if err := multiRefWrite(set, nav, l); err != nil {
		return err
	}
	return s.tx(ctx, fmt.Sprintf("%s(%d)/%s", set, id, nav), func(tx Tx) error {
		if err := s.exists(ctx, tx, set, id); err != nil {
			return err
		}
		if err := mayChange(ctx, tx, set, id); err != nil { // owner.go
			return err
		}
		if err := mayLink(ctx, tx, l.Target, target); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s WHERE %s = ? AND %s = ?", l.Via.Table, l.Via.LocalCol, l.Via.RemoteCol), id, target)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "%s(%d) has no %s(%d)", set, id, l.Target, target)
		}
		return nil
	})
}

// multiRefWrite refuses a $ref write to the link between MultiDatastreams and their
// ObservedProperties, from either side: one ObservedProperty more or less would no longer match
// the MultiDatastream's unitOfMeasurements and multiObservationDataTypes (18-088 §9.2).
func multiRefWrite(set, nav string, l Link) error {
	if l.Via == nil || l.Via.Table != multiObservedProperties.Table {
		return nil
	}
	return apperr.E(apperr.Invalid, "%s/%s: a MultiDatastream's ObservedProperties change only together with its unitOfMeasurements and multiObservationDataTypes: PATCH the MultiDatastream with all three", set, nav)
}
