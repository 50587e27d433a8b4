package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/sensing"
)

// recentPoints is how many of a datastream's latest observations QC state starts from.
const recentPoints = 12

// Ingest stores a batch of observations in one transaction. Each item is checked on its own:
// an item that cannot be stored (unknown datastream, refused by QC) gets its error in errs at
// its index and is not written; the rest are written together. ids holds the new ids (0 for
// refused items). err is set only when nothing was written.
func (s *Entities) Ingest(ctx context.Context, obs []sensing.Observation) (ids []int64, errs []error, err error) {
	return s.ingest(ctx, obs, false)
}

// ErrDuplicate marks an item IngestNew left out because the same observation is stored already.
var ErrDuplicate = apperr.E(apperr.Conflict, "already stored (same datastream, phenomenon time and result)")

// IngestNew is Ingest for re-playable sources (CSV import): an observation identical to one
// already stored (same datastream, phenomenon time and result) is left out with ErrDuplicate,
// so that importing the same file twice changes nothing.
func (s *Entities) IngestNew(ctx context.Context, obs []sensing.Observation) (ids []int64, errs []error, err error) {
	return s.ingest(ctx, obs, true)
}

func (s *Entities) ingest(ctx context.Context, obs []sensing.Observation, dedup bool) (ids []int64, errs []error, err error) {
	if s.grouped(ctx, obs) { // group.go: concurrent small calls share one commit
		return s.groupIngest(ctx, obs, dedup)
	}
	return s.ingestAlone(ctx, obs, dedup)
}

// ingestAlone stores obs in a transaction of its own (or in the Atomic one ctx is inside).
func (s *Entities) ingestAlone(ctx context.Context, obs []sensing.Observation, dedup bool) (ids []int64, errs []error, err error) {
	times := func() []time.Time {
		times := make([]time.Time, len(obs))
		for i := range obs {
			times[i] = obs[i].PhenStart
		}
		return times
	}
	for attempt := 0; ; attempt++ {
		if err := s.eng.Prepare(ctx, times); err != nil {
			return nil, nil, err
		}
		// insert works on obs itself; a failed attempt puts back what it changed
		// (insertChanges, insertundo.go), so that no ids or FoIs are left in obs
		was := saveInsertChanges(obs)
		err = s.tx(ctx, "Observations", func(tx Tx) error {
			var e error
			ids, errs, e = s.insert(ctx, tx, obs, false, dedup)
			return e
		})
		if err != nil {
			was.restore(obs)
		}
		if err != nil && attempt == 0 && s.eng.Retry(err) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		break
	}
	if s.AfterCommit != nil {
		n := 0
		for _, id := range ids {
			if id != 0 {
				n++
			}
		}
		s.OnCommit(ctx, func() { s.AfterCommit(n) }) // inside Atomic: after its commit
	}
	return ids, errs, nil
}

// dupKey identifies an observation for IngestNew: datastream, phenomenon time, result.
type dupKey struct {
	ds, start, end int64
	md             int64 // the MultiDatastream, for an Observation of one (ds is 0)
	num            float64
	hasNum         bool
	json           string
}

func keyOf(o *sensing.Observation) dupKey {
	k := dupKey{ds: o.DatastreamID, md: o.MultiDatastreamID, start: us(o.PhenStart), end: us(o.PhenEnd), json: string(o.ResultJSON)}
	if o.ResultNum != nil {
		k.num, k.hasNum = *o.ResultNum, true
	}
	return k
}

// existing returns the keys of stored observations that could equal one of obs: one index
// range read per datastream over the batch's time span, instead of a query per row.
func (s *Entities) existing(ctx context.Context, tx Tx, obs []sensing.Observation) (map[dupKey]bool, error) {
	type span struct{ lo, hi int64 }
	type stream struct{ ds, md int64 } // a Datastream, or a MultiDatastream
	spans := map[stream]*span{}
	for i := range obs {
		a := us(obs[i].PhenStart)
		st := stream{obs[i].DatastreamID, obs[i].MultiDatastreamID}
		sp := spans[st]
		if sp == nil {
			spans[st] = &span{a, a}
			continue
		}
		sp.lo, sp.hi = min(sp.lo, a), max(sp.hi, a)
	}
	seen := make(map[dupKey]bool, len(obs))
	for st, sp := range spans {
		col, id := "datastream_id", st.ds
		if st.md != 0 {
			col, id = "multi_datastream_id", st.md
		}
		rows, err := tx.Query(ctx, `SELECT phen_start, phen_end, result_num, result_json FROM observations
			WHERE `+col+` = ? AND phen_start BETWEEN ? AND ?`, id, sp.lo, sp.hi)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			k := dupKey{ds: st.ds, md: st.md}
			var num *float64
			var js *string
			if err := rows.Scan(&k.start, &k.end, &num, &js); err != nil {
				rows.Close()
				return nil, err
			}
			if num != nil {
				k.num, k.hasNum = *num, true
			}
			if js != nil {
				k.json = *js
			}
			seen[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return seen, nil
}

// insertObservations inserts all of obs or fails (used by deep insert).
func (s *Entities) insertObservations(ctx context.Context, tx Tx, obs []sensing.Observation) ([]int64, error) {
	ids, _, err := s.insert(ctx, tx, obs, true, false)
	return ids, err
}

func (s *Entities) insert(ctx context.Context, tx Tx, obs []sensing.Observation, strict, dedup bool) ([]int64, []error, error) {
	parts := []insertPart{{ctx: ctx, obs: obs}}
	if err := s.insertParts(tx, parts, strict, dedup); err != nil {
		return nil, nil, err
	}
	return parts[0].ids, parts[0].errs, nil
}

// insertPart is one caller's share of an insert: its context (principal for the owner check,
// the outbox's key, derivation) and its observations; ids and errs are set per item.
type insertPart struct {
	ctx  context.Context
	obs  []sensing.Observation
	ids  []int64
	errs []error
}

// insertParts writes the observations of every part in tx with one set of statements for
// all of them (one multi-row insert, one count update per stream, outbox entries per stream
// and key, one span update per stream), each item checked with its own part's context. A
// group commit (group.go) hands it every queued call at once.
func (s *Entities) insertParts(tx Tx, parts []insertPart, strict, dedup bool) error {
	type foi struct {
		id  int64
		err error
	}
	total := 0
	for i := range parts {
		total += len(parts[i].obs)
		parts[i].ids = make([]int64, len(parts[i].obs))
		parts[i].errs = make([]error, len(parts[i].obs))
	}
	ctx0 := parts[0].ctx
	spans := map[int64]*batchSpan{}
	mspans := map[int64]*batchSpan{} // MultiDatastreams' spans
	foiByThing := map[int64]foi{}    // the FeatureOfInterest made from each Thing's Location
	foiChecked := map[int64]error{}  // FeaturesOfInterest given by id: exists (nil) or not
	var seen map[dupKey]bool
	var err error
	keep := make([]*sensing.Observation, 0, total)
	if dedup {
		all := parts[0].obs
		if len(parts) > 1 {
			all = make([]sensing.Observation, 0, total)
			for _, p := range parts {
				all = append(all, p.obs...)
			}
		}
		if seen, err = s.existing(ctx0, tx, all); err != nil {
			return err
		}
	}
	for pi := range parts {
		p := &parts[pi]
		ctx := p.ctx
		owners := map[int64]error{} // may this part's principal add to this (Multi)Datastream (owner.go)
		for i := range p.obs {
			o := &p.obs[i]
			if seen != nil {
				k := keyOf(o)
				if seen[k] {
					p.errs[i] = ErrDuplicate
					continue
				}
				seen[k] = true
			}
			var ds *sensing.DatastreamInfo
			var md *multiInfo
			var thing int64
			if o.MultiDatastreamID != 0 {
				if md, err = s.multiDatastream(ctx, tx, o.MultiDatastreamID); err == nil {
					thing = md.ThingID
					err = s.mayAdd(ctx, tx, owners, o.MultiDatastreamID, true) // streamcache.go
				}
			} else if ds, err = s.datastream(ctx, tx, o.DatastreamID); err == nil {
				thing = ds.ThingID
				err = s.mayAdd(ctx, tx, owners, o.DatastreamID, false) // streamcache.go
				if err == nil {
					err = derivedOnly(ctx, ds) // derived.go: the node computes a derived Datastream's
				}
			}
			if err == nil && o.FoIID != 0 {
				e, ok := foiChecked[o.FoIID]
				if !ok {
					e = s.exists(ctx, tx, sensing.FeaturesOfInterest, o.FoIID)
					foiChecked[o.FoIID] = e
				}
				err = e
			}
			if err == nil && md != nil {
				err = s.checkMulti(md, o) // the result's shape, and QC per component
			} else if err == nil && s.QC != nil {
				err = s.QC.Check(ds, o)
			}
			if err == nil && o.FoIID == 0 {
				f, ok := foiByThing[thing]
				if !ok {
					f.id, f.err = s.thingFoI(ctx, tx, thing) // streamcache.go
					foiByThing[thing] = f                    // the refusal too: every observation of the Thing gets it
				}
				o.FoIID, err = f.id, f.err
			}
			if err != nil {
				if strict || apperr.KindOf(err) == apperr.Internal {
					return err
				}
				p.errs[i] = err
				continue
			}
			keep = append(keep, o)
			all, key := spans, o.DatastreamID
			if md != nil {
				all, key = mspans, o.MultiDatastreamID
			}
			sp := all[key]
			if sp == nil {
				sp = &batchSpan{math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64}
				all[key] = sp
			}
			sp.ps, sp.pe = min(sp.ps, us(o.PhenStart)), max(sp.pe, us(o.PhenEnd))
			if o.ResultTime != nil {
				sp.rs, sp.re = min(sp.rs, us(*o.ResultTime)), max(sp.re, us(*o.ResultTime))
			}
			if ds != nil && o.ResultNum != nil {
				ds.Recent = append(ds.Recent, sensing.Point{T: o.PhenStart, V: *o.ResultNum})
				if len(ds.Recent) > recentPoints {
					ds.Recent = ds.Recent[len(ds.Recent)-recentPoints:]
				}
			}
		}
	}
	// what follows only writes: sent together at the end (pipeline.go; one round trip on
	// PostgreSQL), the rows themselves too when they are few (ObservationQueuer)
	wtx := &deferred{tx: tx}
	if len(keep) > 0 {
		queued := false
		if q, ok := s.eng.(ObservationQueuer); ok {
			if queued, err = q.QueueObservations(ctx0, tx, wtx, keep); err != nil {
				return fmt.Errorf("insert observations: %w", err)
			}
		}
		if !queued {
			if err := s.eng.InsertObservations(ctx0, tx, keep); err != nil {
				return fmt.Errorf("insert observations: %w", err)
			}
		}
		for pi := range parts {
			p := &parts[pi]
			for i := range p.obs {
				if p.errs[i] == nil {
					p.ids[i] = p.obs[i].ID
				}
			}
		}
		s.feedRows(keep) // obsfeed.go
	}
	tx = wtx
	if err := bumpCounts(ctx0, tx, countsOf(keep)); err != nil { // counts.go: exact $count
		return err
	}
	if s.Outbox {
		// one set of entries for the calls of a group that name the same key (the usual case:
		// one logger, or one gateway, posting)
		for i := 0; i < len(parts); {
			j := i + 1
			for j < len(parts) && outboxKey(parts[j].ctx) == outboxKey(parts[i].ctx) {
				j++
			}
			obs, ids := parts[i].obs, parts[i].ids
			if j > i+1 {
				obs, ids = nil, nil
				for _, p := range parts[i:j] {
					obs, ids = append(obs, p.obs...), append(ids, p.ids...)
				}
			}
			if err := s.writeOutbox(parts[i].ctx, tx, obs, ids); err != nil {
				return err
			}
			i = j
		}
		if err := s.purgeOutbox(ctx0, tx); err != nil {
			return err
		}
	}
	// Datastream.phenomenonTime and resultTime span their observations (SensorThings 1.1,
	// 8.2.4), and so do a MultiDatastream's (18-088 §9.2). In id order: two processes updating
	// the same datastreams wait, never deadlock.
	dsIDs := make([]int64, 0, len(spans))
	for id := range spans {
		dsIDs = append(dsIDs, id)
	}
	slices.Sort(dsIDs)
	grown := make([]obsSpan, 0, len(dsIDs))
	for _, id := range dsIDs {
		sp := spans[id]
		g := obsSpan{ds: id, ps: sp.ps, pe: sp.pe}
		if sp.rs != math.MaxInt64 {
			g.rs, g.re = &sp.rs, &sp.re
		}
		grown = append(grown, g)
	}
	if err := growSpans(ctx0, tx, grown); err != nil {
		return err
	}
	if err := extendMultiSpans(ctx0, tx, mspans); err != nil {
		return err
	}
	return wtx.flush(ctx0)
}

// extendMultiSpans widens the phenomenon and result time spans of MultiDatastreams to take in
// spans (by MultiDatastream id), in id order.
func extendMultiSpans(ctx context.Context, tx Tx, spans map[int64]*batchSpan) error {
	ids := make([]int64, 0, len(spans))
	for id := range spans {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		sp := spans[id]
		if _, err := tx.Exec(ctx, `UPDATE multi_datastreams SET
			phenomenon_time_start = CASE WHEN phenomenon_time_start IS NULL OR phenomenon_time_start > ? THEN ? ELSE phenomenon_time_start END,
			phenomenon_time_end = CASE WHEN phenomenon_time_end IS NULL OR phenomenon_time_end < ? THEN ? ELSE phenomenon_time_end END
			WHERE id = ?`, sp.ps, sp.ps, sp.pe, sp.pe, id); err != nil {
			return fmt.Errorf("update MultiDatastream span: %w", err)
		}
		if sp.rs == math.MaxInt64 {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE multi_datastreams SET
			result_time_start = CASE WHEN result_time_start IS NULL OR result_time_start > ? THEN ? ELSE result_time_start END,
			result_time_end = CASE WHEN result_time_end IS NULL OR result_time_end < ? THEN ? ELSE result_time_end END
			WHERE id = ?`, sp.rs, sp.rs, sp.re, sp.re, id); err != nil {
			return fmt.Errorf("update MultiDatastream span: %w", err)
		}
	}
	return nil
}

// batchSpan is the extent of a batch's observations of one datastream or MultiDatastream:
// phenomenon start and end, result time start and end, in µs (result start MaxInt64 when none
// has a result time).
type batchSpan struct{ ps, pe, rs, re int64 }

// ObservationColumns are the columns of an observation row an engine writes, in the order
// of ObservationRow's values (the id comes from the engine).
var ObservationColumns = []string{"datastream_id", "phen_start", "phen_end", "phen_text", "result_time_us", "result_time_text",
	"result_num", "result_json", "qc", "result_quality", "valid_start", "valid_end", "valid_text", "parameters", "foi_id", "multi_datastream_id"}

// ObservationRow returns o's values for ObservationColumns: times in µs since the Unix epoch
// (UTC), the original time texts, the result as a number or as JSON text, the QC flag.
func ObservationRow(o *sensing.Observation) []any {
	var rt, vs, ve, num, foi, ds, md any
	if o.ResultTime != nil {
		rt = us(*o.ResultTime)
	}
	if o.ValidStart != nil {
		vs, ve = us(*o.ValidStart), us(*o.ValidEnd)
	}
	if o.ResultNum != nil {
		num = *o.ResultNum
	}
	if o.FoIID != 0 {
		foi = o.FoIID
	}
	if o.MultiDatastreamID != 0 {
		md = o.MultiDatastreamID // an Observation of a MultiDatastream has no Datastream
	} else {
		ds = o.DatastreamID
	}
	return []any{ds, us(o.PhenStart), us(o.PhenEnd), o.PhenText, rt, nullStr(o.ResultTimeText),
		num, nullRaw(o.ResultJSON), int64(o.Flag), nullRaw(o.Quality), vs, ve, nullStr(o.ValidText), nullRaw(o.Parameters), foi, md}
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullRaw(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

// datastream returns what ingest needs to know of datastream id, cached until the next
// failed transaction or change to datastreams.
func (s *Entities) datastream(ctx context.Context, tx Tx, id int64) (*sensing.DatastreamInfo, error) {
	if ds, ok := s.dsCache[id]; ok {
		return ds, nil
	}
	ds := &sensing.DatastreamInfo{ID: id}
	var uom, props *string
	err := tx.QueryRow(ctx, `SELECT d.thing_id, d.observation_type, d.unit_of_measurement, d.properties, o.name, o.definition
		FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id WHERE d.id = ?`, id).
		Scan(&ds.ThingID, &ds.ObservationType, &uom, &props, &ds.ObservedPropertyName, &ds.ObservedPropertyDef)
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "Datastreams(%d) does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load datastream %d: %w", id, err)
	}
	if uom != nil {
		ds.UnitSymbol = unitSymbol(*uom)
	}
	if props != nil {
		ds.Properties = []byte(*props)
	}
	rows, err := tx.Query(ctx, `SELECT phen_start, result_num FROM observations WHERE datastream_id = ? AND result_num IS NOT NULL ORDER BY phen_start DESC, id DESC LIMIT ?`, id, recentPoints)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var t int64
		var v float64
		if err := rows.Scan(&t, &v); err != nil {
			return nil, err
		}
		ds.Recent = append([]sensing.Point{{T: time.UnixMicro(t).UTC(), V: v}}, ds.Recent...)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	s.dsCache[id] = ds
	return ds, nil
}

// foiForThing returns the FeatureOfInterest made from the Thing's current Location, creating
// it the first time (SensorThings 1.1, 8.2.7: an Observation without one uses the Thing's Location).
func (s *Entities) foiForThing(ctx context.Context, tx Tx, thing int64) (int64, error) {
	var loc int64
	var name, desc, enc, geo, org string
	err := tx.QueryRow(ctx, `SELECT l.id, l.name, l.description, l.encoding_type, l.location, l.organisation FROM locations l
		JOIN thing_locations tl ON tl.location_id = l.id WHERE tl.thing_id = ? ORDER BY l.id DESC LIMIT 1`, thing).Scan(&loc, &name, &desc, &enc, &geo, &org)
	if errors.Is(err, ErrNoRows) {
		return 0, apperr.E(apperr.Invalid, "Observation has no FeatureOfInterest and its Thing(%d) has no Location to make one from", thing)
	}
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRow(ctx, `SELECT id FROM features_of_interest WHERE location_id = ?`, loc).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, ErrNoRows) {
		return 0, err
	}
	// two processes making it at once: the second waits for the first and reuses its row
	// it belongs to the Location's organisation, whoever's observation made it
	err = tx.QueryRow(ctx, `INSERT INTO features_of_interest (name, description, encoding_type, feature, location_id, organisation) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (location_id) DO NOTHING RETURNING id`, name, desc, enc, geo, loc, org).Scan(&id)
	if errors.Is(err, ErrNoRows) { // made meanwhile by another transaction, now committed
		err = tx.QueryRow(ctx, `SELECT id FROM features_of_interest WHERE location_id = ?`, loc).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("insert FeatureOfInterest: %w", err)
	}
	return id, nil
}

// outboxChunk is the most observations one outbox entry (one bus message) carries, which
// keeps messages well under NATS's default 1 MiB payload limit.
const outboxChunk = 1000

// Outbox entry kinds: the observations of a datastream, or of a MultiDatastream.
const (
	OutboxObs      = "obs"
	OutboxMultiObs = "mobs"
)

// writeOutbox adds outbox entries for the stored items of obs: per datastream (kind "obs") or
// MultiDatastream ("mobs"), id ranges of at most outboxChunk observations. The rows are tiny
// (the relay reads the data back only after a restart); with a Handoff sink each entry's
// payload — the compact form of its observations, from obs in memory — is built here too and
// handed to the relay after the commit (handoff.go). Each names the API key that posted them
// (ctx's principal; none without one), which the bus message carries to the warning engine
// (four eyes).
func (s *Entities) writeOutbox(ctx context.Context, tx Tx, obs []sensing.Observation, ids []int64) error {
	var key any // NULL: no key posted these
	by := ""
	if p := auth.FromContext(ctx); p != nil && p.KeyID > 0 {
		key, by = p.KeyID, p.Name()
	} else if k := outboxKey(ctx); k > 0 { // derived.go: the source's poster
		key = k
		if s.Handoff != nil {
			var org string
			err := tx.QueryRow(ctx, `SELECT g.name FROM api_keys k JOIN organisations g ON g.id = k.organisation_id WHERE k.id = ?`, k).Scan(&org)
			if err == nil {
				by = (&auth.Principal{KeyID: k, Organisation: org}).Name()
			} else if !errors.Is(err, ErrNoRows) {
				return fmt.Errorf("write outbox: %w", err)
			}
		}
	}
	type run struct {
		first, last int64
		idx         []int // obs indexes, for the payload
	}
	type stream struct {
		kind string
		id   int64
	}
	runs := map[stream]*run{}
	var order []stream
	created := s.Now()
	now := us(created)
	q, queued := tx.(Queue)
	flush := func(ds stream) error {
		r := runs[ds]
		at := -1 // the entry's place in the hand-off, whose id the INSERT gives
		if s.Handoff != nil {
			at = len(s.handoff)
			s.handoff = append(s.handoff, OutboxEntry{Kind: ds.kind, Key: ds.id, Created: time.UnixMicro(now),
				Payload: outboxPayload(s.Node, ds.kind == OutboxMultiObs, ds.id, time.UnixMicro(now).UTC(), by, obs, r.idx)})
		}
		const insert = `INSERT INTO outbox (kind, key, first_id, last_id, created_us, key_id) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`
		args := []any{ds.kind, ds.id, r.first, r.last, now, key}
		scan := func(row Row) error {
			var id int64
			if err := row.Scan(&id); err != nil {
				return fmt.Errorf("write outbox: %w", err)
			}
			if at >= 0 {
				s.handoff[at].ID = id
			}
			return nil
		}
		if queued { // sent with the transaction's other writes (pipeline.go): no round trip of its own
			q.QueueRow(insert, args, scan)
			return nil
		}
		return scan(tx.QueryRow(ctx, insert, args...))
	}
	for i := range obs {
		if ids[i] == 0 {
			continue
		}
		ds := stream{OutboxObs, obs[i].DatastreamID}
		if obs[i].MultiDatastreamID != 0 {
			ds = stream{OutboxMultiObs, obs[i].MultiDatastreamID}
		}
		r := runs[ds]
		if r == nil {
			r = &run{first: ids[i], last: ids[i]}
			runs[ds] = r
			order = append(order, ds)
		} else if len(r.idx) == outboxChunk {
			if err := flush(ds); err != nil {
				return fmt.Errorf("write outbox: %w", err)
			}
			*r = run{first: ids[i], last: ids[i], idx: r.idx[:0]}
		}
		r.last = ids[i]
		r.idx = append(r.idx, i)
	}
	for _, ds := range order {
		if err := flush(ds); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
	}
	return nil
}

// outboxKey is the API key an outbox entry names for observations posted with ctx: its
// principal's, or the derivation's source poster (derived.go); 0 for none.
func outboxKey(ctx context.Context) int64 {
	if p := auth.FromContext(ctx); p != nil && p.KeyID > 0 {
		return p.KeyID
	}
	return max(derivationKey(ctx), 0)
}

// OutboxEntry is one outbox row.
type OutboxEntry struct {
	ID      int64
	Kind    string
	Key     int64
	Payload []byte
	Created time.Time
}

// OutboxPending returns up to limit unpublished entries, oldest first, each with its bus
// payload (the compact form of a sensing.ObsBatch of the entry's observations, read now, in the
// same snapshot as the entries).
func (s *Entities) OutboxPending(ctx context.Context, limit int) ([]OutboxEntry, error) {
	return s.OutboxPendingBefore(ctx, limit, time.Time{})
}

// OutboxPendingBefore is OutboxPending for the entries created before before (all when it is
// zero): the relay's look for entries that never came by hand-off (another process's).
func (s *Entities) OutboxPendingBefore(ctx context.Context, limit int, before time.Time) ([]OutboxEntry, error) {
	cond, args := s.eng.Outbox().Unpublished()
	if !before.IsZero() {
		cond, args = cond+` AND created_us < ?`, append(args, us(before))
	}
	var out []OutboxEntry
	err := s.eng.Read(ctx, func(tx Tx) error {
		out = out[:0]
		// the poster's name ("<organisation>/key-<id>") from the key it names, if any
		rows, err := tx.Query(ctx, `SELECT id, kind, key, first_id, last_id, created_us, key_id,
			(SELECT g.name FROM api_keys k JOIN organisations g ON g.id = k.organisation_id WHERE k.id = outbox.key_id)
			FROM outbox WHERE `+cond+` ORDER BY id LIMIT ?`, append(args, limit)...)
		if err != nil {
			return err
		}
		var ranges [][2]int64
		var by []string
		for rows.Next() {
			var e OutboxEntry
			var c, first, last int64
			var key *int64
			var org *string
			if err := rows.Scan(&e.ID, &e.Kind, &e.Key, &first, &last, &c, &key, &org); err != nil {
				rows.Close()
				return err
			}
			e.Created = time.UnixMicro(c)
			out = append(out, e)
			ranges = append(ranges, [2]int64{first, last})
			name := ""
			if key != nil && org != nil {
				name = (&auth.Principal{KeyID: *key, Organisation: *org}).Name()
			}
			by = append(by, name)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			b := sensing.ObsBatch{V: sensing.ObsBatchVersion, Node: s.Node, Datastream: out[i].Key, Accepted: out[i].Created.UTC(), By: by[i]}
			col := "datastream_id"
			if out[i].Kind == OutboxMultiObs {
				b.Datastream, b.MultiDatastream, col = 0, out[i].Key, "multi_datastream_id"
			}
			if b.Obs, err = s.items(ctx, tx, col, out[i].Key, ranges[i][0], ranges[i][1]); err != nil {
				return err
			}
			b.V = sensing.ObsBatchBinary
			out[i].Payload = b.AppendBinary(make([]byte, 0, 40*len(b.Obs)+64))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// items reads a datastream's observations in an id range, in bus form: those whose column col
// (datastream_id, or multi_datastream_id for a MultiDatastream's) is ds.
func (s *Entities) items(ctx context.Context, tx Tx, col string, ds, first, last int64) ([]sensing.ObsItem, error) {
	rows, err := tx.Query(ctx, `SELECT id, phen_text, phen_start, phen_end, result_time_text, result_num, result_json, qc, result_quality, foi_id, parameters
		FROM observations WHERE id BETWEEN ? AND ? AND `+s.eng.NoIndex(col)+` = ? ORDER BY id`, first, last, ds) // walk the id range, not the datastream index
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sensing.ObsItem
	for rows.Next() {
		var it sensing.ObsItem
		var ps, pe int64
		var qc int64
		var rt, rj, q, params *string
		var num *float64
		var foi *int64
		if err := rows.Scan(&it.ID, &it.PhenomenonTime, &ps, &pe, &rt, &num, &rj, &qc, &q, &foi, &params); err != nil {
			return nil, err
		}
		it.Start, it.End = time.UnixMicro(ps).UTC(), time.UnixMicro(pe).UTC()
		it.Flag = sensing.Flag(qc)
		if rt != nil {
			it.ResultTime = *rt
		}
		if foi != nil {
			it.FoI = *foi
		}
		switch {
		case num != nil:
			it.Result = json.RawMessage(formatNumber(*num))
			it.Num, it.IsNum = *num, true
		case rj != nil:
			it.Result = json.RawMessage(*rj)
		default:
			it.Result = json.RawMessage{}
		}
		if q != nil {
			it.Quality = json.RawMessage(*q)
		}
		if params != nil {
			it.Parameters = json.RawMessage(*params)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OutboxDone records that the relay has published the entries. They are deleted with the next
// ingest transaction — a delete of their own would cost a synced commit for every relay round —
// or after two seconds without one; until then OutboxPending skips them. A crash in between
// publishes them again, which JetStream de-duplicates.
func (s *Entities) OutboxDone(ctx context.Context, ids []int64) error {
	log := s.eng.Outbox()
	log.Published(ids)
	s.omu.Lock()
	stale := log.Pending() && s.Now().Sub(s.lastPurge) > 2*time.Second
	s.omu.Unlock()
	if !stale {
		return nil
	}
	return s.tx(ctx, "", func(tx Tx) error { return s.purgeOutbox(ctx, tx) })
}

// purgeOutbox deletes the published outbox entries inside a write transaction.
func (s *Entities) purgeOutbox(ctx context.Context, tx Tx) error {
	if s.outer(ctx) != nil {
		return nil // its record of purged entries would outlive a rollback; the next ingest purges
	}
	s.omu.Lock()
	s.lastPurge = s.Now()
	s.omu.Unlock()
	if err := s.eng.Outbox().Purge(ctx, tx); err != nil {
		return fmt.Errorf("purge outbox: %w", err)
	}
	return nil
}

// OutboxBacklog counts unpublished entries and the age of the oldest.
func (s *Entities) OutboxBacklog(ctx context.Context) (n int64, oldest time.Time, err error) {
	var c *int64
	cond, args := s.eng.Outbox().Unpublished()
	err = readRow(ctx, s.eng, `SELECT count(*), min(created_us) FROM outbox WHERE `+cond, args, &n, &c)
	if c != nil {
		oldest = time.UnixMicro(*c)
	}
	return n, oldest, err
}

// formatNumber writes a float as encoding/json does: no exponent below 1e21.
func formatNumber(f float64) string {
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}
