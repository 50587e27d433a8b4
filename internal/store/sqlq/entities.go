package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
)

// Entities is the SensorThings entity store over an Engine: both stores' Entities. QC is
// called for every observation inserted.
type Entities struct {
	eng Engine
	q   *Compiler
	QC  sensing.Checker
	// Now is the clock of HistoricalLocations and outbox entries.
	Now func() time.Time

	mu      sync.Mutex // serialises this process's writers, so QC sees observations in commit order
	dsCache map[int64]*sensing.DatastreamInfo
	mdCache map[int64]*multiInfo // MultiDatastreams, kept and cleared with dsCache
	// orgCache and foiCache: streamcache.go, cleared with dsCache (forgetStreams)
	orgCache map[int64]string   // organisation of a Datastream (by id), MultiDatastream (-id)
	foiCache map[int64]foiEntry // FeatureOfInterest made from a Thing's Location, by Thing id
	// AfterCommit, when set, is called after each committed batch of observations (outbox relay wake-up, metrics).
	AfterCommit func(n int)
	// Outbox, when set, writes an outbox entry per datastream with each accepted batch, in the
	// same transaction, for the relay to publish on the bus. Node goes into the payload.
	Outbox bool
	Node   string
	// Handoff, when set with Outbox, is given the outbox entries of each committed write
	// transaction, payloads built, in commit order, right after the commit and before the
	// next writer of this process begins (handoff.go).
	Handoff OutboxSink
	handoff []OutboxEntry // entries of the open write transaction (under mu)
	// Feed, when set, is given the numeric Observations each committed ingest transaction
	// stored, in commit order, right after the commit (obsfeed.go): the federation exporter's.
	Feed ObsFeed
	feed feedTx // what the open write transaction stored, for Feed (under mu)

	omu       sync.Mutex // guards lastPurge
	lastPurge time.Time

	changed atomic.Uint64 // entity writes committed (EntitiesChanged, derived.go)

	hmu    sync.Mutex            // guards hidden
	hidden map[string]hiddenRead // what a RemoteView hides, by reader's organisation (remoteview.go)
	// KeptHook, for tests only (nil otherwise), is called by List between taking a kept
	// answer of what a RemoteView hides and its reads (remoteview.go): a write made there is
	// one a reader could meet in that moment.
	KeptHook func()

	// NoGroupCommit, when set, commits every ingest call in a transaction of its own
	// (group.go; for comparisons).
	NoGroupCommit bool
	group         grouper // group.go

	// ExpandBatch, when set, reads an expanded collection of many entities with one
	// statement for up to 64 of them (batch.go) on an engine that is not a Lateral. Off by
	// default: on SQLite it measured slower than one cached statement per entity
	// (docs/bench.md, 10 M). A Lateral engine (PostgreSQL) reads them so whatever it says.
	ExpandBatch bool
	// ExpandEach, when set, reads an expanded collection with one query per entity on every
	// engine (the reference the batched reads are tested against).
	ExpandEach bool
}

var (
	_ ingest.Store  = (*Entities)(nil) // the one ingest path stores through it
	_ alert.Labeler = (*Entities)(nil) // alerts name the station and unit
)

// NewEntities returns the entity store over eng.
func NewEntities(eng Engine, qc sensing.Checker) *Entities {
	s := &Entities{q: &Compiler{Schema: Sensing, Dialect: eng.Dialect()}, QC: qc, Now: eng.Clock,
		dsCache: map[int64]*sensing.DatastreamInfo{}, mdCache: map[int64]*multiInfo{},
		orgCache: map[int64]string{}, foiCache: map[int64]foiEntry{}}
	s.eng = joined{Engine: eng, owner: s} // calls inside Atomic join its transaction (atomic.go)
	return s
}

func us(t time.Time) int64 { return t.UnixMicro() }

// tx runs fn in one write transaction. what names the entity written ("Thing",
// "Datastream(3)"), so that a refusal by the database says where: "Thing: invalid value".
func (s *Entities) tx(ctx context.Context, what string, fn func(tx Tx) error) error {
	if s.outer(ctx) == nil { // inside Atomic, which holds mu, fn joins its transaction
		s.mu.Lock()
		defer s.mu.Unlock()
		inner := fn
		fn = func(tx Tx) error { s.handoff = s.handoff[:0]; s.feed.reset(); return inner(tx) } // handoff.go, obsfeed.go
		defer s.handOff()
	}
	if err := s.eng.Write(ctx, fn); err != nil {
		s.dropHandoff() // rolled back, or not known to have committed (handoff.go)
		// the transaction is rolled back: forget cached datastream facts it may have changed
		s.forgetStreams()
		werr := s.eng.WriteErr(err)
		var ae *apperr.Error
		if werr != err && what != "" && errors.As(werr, &ae) { // the database refused it
			return apperr.Wrap(ae.Kind, err, "%s: %s", what, ae.Msg)
		}
		return werr
	}
	return nil
}

// obsTimes collects the phenomenon times of the observations inside e (deep insert), for
// Engine.Prepare.
func obsTimes(e *sensing.Entity, out []time.Time) []time.Time {
	if e == nil {
		return out
	}
	if e.Obs != nil {
		out = append(out, e.Obs.PhenStart)
	}
	for _, l := range e.Links {
		for _, c := range l {
			out = obsTimes(c, out)
		}
	}
	return out
}

// Create inserts e and everything linked inline (deep insert) in one transaction and returns
// the new id. Entities linked by reference must exist.
func (s *Entities) Create(ctx context.Context, e *sensing.Entity) (int64, error) {
	if err := s.eng.Prepare(ctx, func() []time.Time { return obsTimes(e, nil) }); err != nil {
		return 0, err
	}
	if e.Set != sensing.Observations {
		defer viewWrite()() // remoteview.go: it may change what a RemoteView hides
	}
	var id int64
	err := s.tx(ctx, sensing.Sets[e.Set].Single, func(tx Tx) error {
		var err error
		id, err = s.create(ctx, tx, e, "", 0)
		return err
	})
	s.entityWritten(ctx, e.Set, err) // derived.go
	return id, err
}

func (s *Entities) exists(ctx context.Context, tx Tx, set string, id int64) error {
	// a remote entity the principal may not read does not exist to it (remotewrite.go)
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

// backNav returns the navigation property on child's set that points back to parentSet
// through the same foreign key as parentSet's link nav.
func backNav(parentSet, nav string) (string, Link) {
	pl := Sensing[parentSet].Links[nav]
	for name, l := range Sensing[pl.Target].Links {
		if l.Target != parentSet {
			continue
		}
		if pl.RemoteFK != "" && l.LocalFK == pl.RemoteFK {
			return name, l
		}
		if pl.Via != nil && l.Via != nil && l.Via.Table == pl.Via.Table {
			return name, l
		}
	}
	return "", Link{}
}

// create inserts e. parentNav/parentID name the entity that embeds e through e's navigation
// property parentNav (0 when e is the top of the request).
func (s *Entities) create(ctx context.Context, tx Tx, e *sensing.Entity, parentNav string, parentID int64) (int64, error) {
	set := sensing.Sets[e.Set]
	t := Sensing[e.Set]
	if e.Ref {
		if err := mayLink(ctx, tx, e.Set, e.ID); err != nil { // owner.go
			return 0, err
		}
		return e.ID, nil
	}
	// to-one links first: they are foreign keys on this row
	fks := map[string]int64{}
	var fkOrder []string
	for _, n := range set.Navs {
		l := t.Links[n.Name]
		if l.LocalFK == "" {
			continue
		}
		if n.Name == parentNav {
			fks[l.LocalFK] = parentID
			fkOrder = append(fkOrder, l.LocalFK)
			continue
		}
		linked := e.Links[n.Name]
		if len(linked) == 0 {
			continue
		}
		if len(linked) > 1 {
			return 0, apperr.E(apperr.Invalid, "%s: %s links to one entity, got %d", set.Single, n.Name, len(linked))
		}
		id, err := s.create(ctx, tx, linked[0], "", 0)
		if err != nil {
			return 0, fmt.Errorf("%s/%s: %w", set.Single, n.Name, err)
		}
		fks[l.LocalFK] = id
		fkOrder = append(fkOrder, l.LocalFK)
	}
	for _, n := range set.Navs {
		if l := t.Links[n.Name]; n.Required && l.LocalFK != "" && fks[l.LocalFK] == 0 {
			return 0, apperr.E(apperr.Invalid, "%s needs a %s (by @iot.id or inline)", set.Single, n.Name)
		}
	}
	var id int64
	switch e.Set {
	case sensing.Observations:
		if e.Obs == nil {
			return 0, apperr.E(apperr.Invalid, "Observation: missing observation data")
		}
		o := *e.Obs
		o.DatastreamID = fks["datastream_id"]
		o.MultiDatastreamID = fks["multi_datastream_id"]
		switch {
		case o.DatastreamID == 0 && o.MultiDatastreamID == 0:
			return 0, apperr.E(apperr.Invalid, "Observation needs a Datastream or a MultiDatastream (by @iot.id or inline)")
		case o.DatastreamID != 0 && o.MultiDatastreamID != 0:
			return 0, apperr.E(apperr.Invalid, "Observation: give a Datastream or a MultiDatastream, not both")
		}
		o.FoIID = fks["foi_id"]
		ids, err := s.insertObservations(ctx, tx, []sensing.Observation{o})
		if err != nil {
			return 0, err
		}
		id = ids[0]
	default:
		cols, vals, err := rowValues(e, true)
		if err != nil {
			return 0, err
		}
		for _, c := range fkOrder {
			cols = append(cols, c)
			vals = append(vals, fks[c])
		}
		if ownedSets[e.Set] { // owner.go: it belongs to the creating key's organisation
			cols = append(cols, ownerCol)
			vals = append(vals, orgOf(ctx))
		}
		q := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) RETURNING id", t.Name, strings.Join(cols, ", "), placeholders(len(cols)))
		if err := tx.QueryRow(ctx, q, vals...).Scan(&id); err != nil {
			return 0, fmt.Errorf("insert %s: %w", set.Single, err)
		}
		if e.Set == sensing.Datastreams { // derived.go: properties.derivedFrom holds
			if err := checkDerived(ctx, tx, id); err != nil {
				return 0, err
			}
		}
	}
	// to-many and many-to-many links: children point back to us
	ranked := map[string][]int64{} // children of ranked links, in the order given
	var newLocations []int64
	var newThings []int64
	for _, n := range set.Navs {
		l := t.Links[n.Name]
		if e.Set == sensing.MultiDatastreams && n.Name == "Observations" {
			// its ObservedProperties are linked: hold it to its shape before any Observation
			if err := checkMultiShape(ctx, tx, id); err != nil {
				return 0, err
			}
		}
		if l.LocalFK != "" {
			continue
		}
		if n.Name == parentNav {
			continue
		}
		for _, child := range e.Links[n.Name] {
			switch {
			case l.RemoteFK != "":
				if child.Ref {
					// re-point an existing child to us
					if err := s.repoint(ctx, tx, l, id, child.ID); err != nil {
						return 0, err
					}
					continue
				}
				back, _ := backNav(e.Set, n.Name)
				if _, err := s.create(ctx, tx, child, back, id); err != nil {
					return 0, fmt.Errorf("%s/%s: %w", set.Single, n.Name, err)
				}
			case l.Via.Table == multiObservedProperties.Table && l.Via.Rank == "":
				if child.Ref {
					if err := s.exists(ctx, tx, l.Target, child.ID); err != nil {
						return 0, err
					}
				}
				return 0, apperr.E(apperr.Invalid, "%s: %s: create a MultiDatastream with its ObservedProperties in order (POST MultiDatastreams), not inside an ObservedProperty", set.Single, n.Name)
			default:
				cid, err := s.create(ctx, tx, child, "", 0)
				if err != nil {
					return 0, fmt.Errorf("%s/%s: %w", set.Single, n.Name, err)
				}
				if l.Via.Rank != "" {
					ranked[n.Name] = append(ranked[n.Name], cid)
					continue
				}
				if err := s.link(ctx, tx, l.Via, id, cid); err != nil {
					return 0, err
				}
				if e.Set == sensing.Things && n.Name == "Locations" {
					newLocations = append(newLocations, cid)
				}
				if e.Set == sensing.Locations && n.Name == "Things" {
					newThings = append(newThings, cid)
				}
			}
		}
		if ids := ranked[n.Name]; len(ids) > 0 { // before the Observations, whose results it shapes
			if err := linkRanked(ctx, tx, l.Via, id, ids); err != nil {
				return 0, err
			}
		}
	}
	if parentNav != "" {
		if l := t.Links[parentNav]; l.Via != nil {
			if err := s.link(ctx, tx, l.Via, id, parentID); err != nil {
				return 0, err
			}
			if e.Set == sensing.Locations && parentNav == "Things" {
				newThings = append(newThings, parentID)
			}
			if e.Set == sensing.Things && parentNav == "Locations" {
				newLocations = append(newLocations, parentID)
			}
		}
	}
	// A Thing that gets Locations gets a HistoricalLocation (SensorThings 1.1, 8.2.3).
	if len(newLocations) > 0 {
		if err := s.historical(ctx, tx, id, newLocations); err != nil {
			return 0, err
		}
	}
	for _, th := range newThings {
		// the new Location replaces the Thing's current one; the old one stays in its history
		if _, err := tx.Exec(ctx, "DELETE FROM thing_locations WHERE thing_id = ? AND location_id <> ?", th, id); err != nil {
			return 0, err
		}
		if err := s.historical(ctx, tx, th, []int64{id}); err != nil {
			return 0, err
		}
	}
	return id, nil
}

// repoint links the existing entity child of l.Target to parent through l's foreign key on
// the child's table (l.RemoteFK): a Datastream to another Thing, an Observation to another
// Datastream (whose time spans follow) or FeatureOfInterest. A child that does not exist is
// NotFound.
func (s *Entities) repoint(ctx context.Context, tx Tx, l Link, parent, child int64) error {
	if err := mayChange(ctx, tx, l.Target, child); err != nil { // owner.go: it changes the child
		return err
	}
	if err := s.exists(ctx, tx, l.Target, child); err != nil {
		return err
	}
	var before []obsSpan
	var beforeMulti *int64
	var err error
	if l.Target == sensing.Observations {
		if before, err = obsSpans(ctx, tx, "id = ?", child); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT multi_datastream_id FROM observations WHERE id = ?`, child).Scan(&beforeMulti); err != nil {
			return err
		}
	}
	set := l.RemoteFK + " = ?"
	switch { // an Observation belongs to a Datastream or a MultiDatastream, not both
	case l.Target == sensing.Observations && l.RemoteFK == "datastream_id":
		set += ", multi_datastream_id = NULL"
	case l.Target == sensing.Observations && l.RemoteFK == "multi_datastream_id":
		set += ", datastream_id = NULL"
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("UPDATE %s SET %s WHERE id = ?", Sensing[l.Target].Name, set), parent, child); err != nil {
		return err
	}
	if l.Target != sensing.Observations {
		return nil
	}
	after, err := obsSpans(ctx, tx, "id = ?", child)
	if err != nil {
		return err
	}
	if err := countsMoved(ctx, tx, child, before, beforeMulti); err != nil { // counts.go
		return err
	}
	if err := shrinkSpans(ctx, tx, before); err != nil {
		return err
	}
	clear(s.dsCache)
	s.forgetOwners()
	if err := growSpans(ctx, tx, after); err != nil {
		return err
	}
	return s.multiMoved(ctx, tx, child, beforeMulti)
}

func (s *Entities) link(ctx context.Context, tx Tx, v *Via, local, remote int64) error {
	_, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s, %s) VALUES (?, ?) ON CONFLICT DO NOTHING", v.Table, v.LocalCol, v.RemoteCol), local, remote)
	return err
}

func (s *Entities) historical(ctx context.Context, tx Tx, thing int64, locs []int64) error {
	now := s.Now().UTC()
	var hl int64
	err := tx.QueryRow(ctx, "INSERT INTO historical_locations (thing_id, time_us, time_text) VALUES (?, ?, ?) RETURNING id",
		thing, us(now), now.Format(time.RFC3339Nano)).Scan(&hl)
	if err != nil {
		return fmt.Errorf("insert HistoricalLocation: %w", err)
	}
	for _, l := range locs {
		if _, err := tx.Exec(ctx, "INSERT INTO historical_location_locations (historical_location_id, location_id) VALUES (?, ?) ON CONFLICT DO NOTHING", hl, l); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// rowValues returns the columns and values for e's plain properties.
func rowValues(e *sensing.Entity, create bool) ([]string, []any, error) {
	set := sensing.Sets[e.Set]
	t := Sensing[e.Set]
	var cols []string
	var vals []any
	for _, p := range set.Props {
		v, ok := e.Props[p.Name]
		if !ok || p.ReadOnly {
			continue
		}
		c := t.Columns[p.Name]
		switch p.Kind {
		case sensing.KindTime: // HistoricalLocation.time
			s, _ := v.(string)
			start, _, err := sensing.ParseTimeOrInterval(s)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "%s: %s", set.Single, p.Name)
			}
			cols = append(cols, c.Col, "time_text")
			vals = append(vals, us(start), s)
		case sensing.KindJSON, sensing.KindGeometry:
			if v == nil {
				cols = append(cols, c.Col)
				vals = append(vals, nil)
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, nil, apperr.Wrap(apperr.Invalid, err, "%s: %s", set.Single, p.Name)
			}
			cols = append(cols, c.Col)
			vals = append(vals, string(raw))
		default:
			cols = append(cols, c.Col)
			vals = append(vals, v)
		}
	}
	return cols, vals, nil
}
