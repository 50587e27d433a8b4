package sqlq

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// A sensing.RemoteView leaves out the remote Datastreams (a partner's data, received under an
// agreement) of organisations other than the reader's, with all that hangs on them. What it
// hides is read per List or Get (readHidden: two small queries on fed_remote) and written into
// the statements as lists of ids, so that a node with no remote data, or a reader who may see
// all of it, runs exactly the statements it ran before, and the others a NOT IN of a few
// constants (a correlated or uncorrelated subquery instead doubled the time of a page of 1,000
// Observations of one Datastream on SQLite, whose planner then chose another plan).
//
// What it hides is kept per reader's organisation (Entities.hidden), so that a read does not
// pay for those queries — a round trip to PostgreSQL, and for a Get without $expand the
// BEGIN and COMMIT of a snapshot — every time. A kept answer is used while
//
//   - no write of this process that may change it (viewWrite: an entity written through
//     Entities other than an Observation, an Atomic group, Federation.SaveRemote and
//     CreateRemote) has begun since it was read, checked before the read's statements and
//     again after them: when one has, the read reads what is hidden again in its own snapshot
//     and runs again (an answer is never built from a snapshot that holds a remote Datastream
//     with a list of what to hide read before it was made);
//   - and for at most hiddenFor: another process sharing the PostgreSQL database (its
//     receiver making a remote Datastream, its API deleting one) is seen within that time,
//     as Federation.IsRemote sees it within remoteFor. Until then such a process's new remote
//     Datastream can be listed here to a reader who may not read it; a node served by one
//     process (the SQLite store always) has no such window.

// hiddenFor is how long a kept answer of what a view hides is trusted against writes by other
// processes.
const hiddenFor = time.Second

// viewGen counts the writes that may change what a view hides, committed or rolled back, in
// this process; viewBusy is how many are under way. They are the process's, not a store's:
// a Federation store writes fed_remote beside the Entities store on the same database.
var (
	viewGen  atomic.Uint64
	viewBusy atomic.Int64
)

// viewWrite marks the start of a write that may change what a view hides (a remote
// Datastream, its Thing, Sensor, ObservedProperty or Locations, fed_remote, a Datastream's
// organisation); the function it returns marks its end, once committed or rolled back.
func viewWrite() (end func()) {
	viewBusy.Add(1)
	return func() {
		viewGen.Add(1)
		viewBusy.Add(-1)
	}
}

// viewQuiet returns viewGen when no write that may change what a view hides is under way.
func viewQuiet() (gen uint64, ok bool) {
	if viewBusy.Load() != 0 {
		return 0, false
	}
	gen = viewGen.Load()
	return gen, viewBusy.Load() == 0
}

// hiddenRead is a kept answer of what a view hides: read at, while viewGen was gen.
type hiddenRead struct {
	h   *sensing.RemoteHidden
	gen uint64
	at  time.Time
}

// viewed returns query with the RemoteView of ctx (sensing.RemoteViewFrom), unless it has
// one: the SensorThings API and the console set it on the context of each request.
func viewed(ctx context.Context, query *sensing.Query) *sensing.Query {
	if query.View != nil {
		return query
	}
	v, ok := sensing.RemoteViewFrom(ctx)
	if !ok || v.All {
		return query
	}
	c := *query
	v.Hidden = nil // read for this call
	c.View = &v
	return &c
}

// kept sets query.View.Hidden, what the view leaves out, from a kept answer (hiddenRead) when
// there is one, and returns still, which reports — called after the call's statements ran —
// whether no write that may change it began meanwhile: when it reports false, the call reads
// what is hidden again in its snapshot (rehide) and runs again. nil still: nothing kept (hide
// reads it in the call's transaction), or nothing to hide.
func (s *Entities) kept(query *sensing.Query) (still func() bool) {
	v := query.View
	if v == nil || v.All || v.Hidden != nil {
		return nil
	}
	gen, quiet := viewQuiet()
	if !quiet {
		return nil
	}
	s.hmu.Lock()
	r, ok := s.hidden[v.Org]
	s.hmu.Unlock()
	if now := time.Now(); !ok || r.gen != gen || now.Sub(r.at) >= hiddenFor || now.Before(r.at) {
		return nil
	}
	v.Hidden = r.h
	return func() bool { g, ok := viewQuiet(); return ok && g == gen }
}

// hide reads into query.View.Hidden, in tx, what the view leaves out, unless it is known (kept,
// or read by an earlier query of the call: its expansions share the View), and keeps it for
// the reads that follow when no write that may change it began or ended around the read. The
// read must be the first statement of tx: its snapshot is then no older than the answer kept.
func (s *Entities) hide(ctx context.Context, tx Tx, query *sensing.Query) error {
	v := query.View
	if v == nil || v.All || v.Hidden != nil {
		return nil
	}
	gen, quiet := viewQuiet()
	at := time.Now()
	h, err := readHidden(ctx, tx, v.Org)
	if err != nil {
		return err
	}
	v.Hidden = h
	if g, ok := viewQuiet(); quiet && ok && g == gen {
		s.hmu.Lock()
		if s.hidden == nil || len(s.hidden) > 1000 { // bounded: organisations are few
			s.hidden = map[string]hiddenRead{}
		}
		s.hidden[v.Org] = hiddenRead{h, gen, at}
		s.hmu.Unlock()
	}
	return nil
}

// rehide reads again in tx what query's view hides (a kept answer that no longer held: hide).
func (s *Entities) rehide(ctx context.Context, tx Tx, query *sensing.Query) error {
	h, err := readHidden(ctx, tx, query.View.Org)
	if err != nil {
		return err
	}
	query.View.Hidden = h
	return nil
}

// readHidden reads in tx what a view for a reader of organisation org hides.
func readHidden(ctx context.Context, tx Tx, org string) (*sensing.RemoteHidden, error) {
	h := &sensing.RemoteHidden{}
	err := each(ctx, tx, func(r Rows) error {
		var ds, thing, sensor, prop int64
		if err := r.Scan(&ds, &thing, &sensor, &prop); err != nil {
			return err
		}
		h.Datastreams, h.Things = append(h.Datastreams, ds), append(h.Things, thing)
		h.Sensors, h.ObservedProperties = append(h.Sensors, sensor), append(h.ObservedProperties, prop)
		return nil
	}, `SELECT rd.id, rd.thing_id, rd.sensor_id, rd.observed_property_id FROM fed_remote r JOIN datastreams rd ON rd.id = r.datastream_id
		WHERE rd.organisation <> ? ORDER BY rd.id`, org)
	if err != nil {
		return nil, err
	}
	if len(h.Things) > 0 {
		err = each(ctx, tx, func(r Rows) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			h.Locations = append(h.Locations, id)
			return nil
		}, `SELECT DISTINCT location_id FROM thing_locations WHERE thing_id IN (`+ids(h.Things)+`)`)
		if err != nil {
			return nil, err
		}
	}
	return h, nil
}

// ids is the SQL list of ids, sorted and without duplicates ("0" for none: no id is 0).
func ids(v []int64) string {
	v = slices.Compact(slices.Sorted(slices.Values(v)))
	if len(v) == 0 {
		return "0"
	}
	parts := make([]string, len(v))
	for i, id := range v {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// viewCond adds to x the condition that leaves out the entities of alias a (of query.Set)
// that query.View hides (read by hide).
func viewCond(x *q, query *sensing.Query, a string) {
	if query.View == nil || query.View.Hidden.None() {
		return
	}
	h := query.View.Hidden
	if p := query.Parent; query.Set == sensing.Observations && p != nil && p.Set == sensing.Datastreams && p.Nav == "Observations" {
		// one Datastream's Observations: all of them or none, as the Datastream
		if slices.Contains(h.Datastreams, p.ID) {
			x.add(" AND 0=1")
		}
		return
	}
	switch query.Set {
	case sensing.Datastreams:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Datastreams) + ")")
	case sensing.Observations: // an Observation of a MultiDatastream (no datastream_id) is not hidden
		x.add(" AND (" + a + ".datastream_id IS NULL OR " + a + ".datastream_id NOT IN (" + ids(h.Datastreams) + "))")
	case sensing.Things:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Things) + ")")
	case sensing.Sensors:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Sensors) + ")")
	case sensing.ObservedProperties:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.ObservedProperties) + ")")
	case sensing.HistoricalLocations:
		x.add(" AND " + a + ".thing_id NOT IN (" + ids(h.Things) + ")")
	case sensing.Locations:
		x.add(" AND " + a + ".id NOT IN (" + ids(h.Locations) + ")")
	case sensing.FeaturesOfInterest: // the one the receiver made of the remote Thing's Location
		x.add(" AND (" + a + ".location_id IS NULL OR " + a + ".location_id NOT IN (" + ids(h.Locations) + "))")
	}
}

// hiddenCount is how many Observations of the hidden Datastreams the counts hold (counts.go):
// what a count of all Observations leaves out.
func hiddenCount(ctx context.Context, tx Tx, query *sensing.Query) (int64, error) {
	if query.View == nil || query.View.Hidden.None() {
		return 0, nil
	}
	var n int64
	err := tx.QueryRow(ctx, `SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM observation_counts WHERE datastream_id IN (`+ids(query.View.Hidden.Datastreams)+`)`).Scan(&n)
	return n, err
}

// RemoteHidden returns what the RemoteView of ctx (sensorthings.ReadView) leaves out, for the
// reads that do not go through List or Get (the quality-control and forecast-network
// endpoints, which name Datastreams and Things): nil when ctx has no view, when it shows
// everything, or when the reader may see every remote Datastream there is.
func (s *Entities) RemoteHidden(ctx context.Context) (*sensing.RemoteHidden, error) {
	query := viewed(ctx, &sensing.Query{})
	if query.View == nil {
		return nil, nil
	}
	s.kept(query) // what is read after it is not in one snapshot with it anyway
	if err := s.eng.Read(ctx, func(tx Tx) error { return s.hide(ctx, tx, query) }); err != nil {
		return nil, err
	}
	if query.View.Hidden.None() {
		return nil, nil
	}
	return query.View.Hidden, nil
}
