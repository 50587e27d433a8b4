package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
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
	err = s.tx(ctx, func(tx *sql.Tx) error {
		var e error
		ids, errs, e = s.insert(ctx, tx, obs, false, dedup)
		return e
	})
	if err != nil {
		return nil, nil, err
	}
	if s.AfterCommit != nil {
		n := 0
		for _, id := range ids {
			if id != 0 {
				n++
			}
		}
		s.AfterCommit(n)
	}
	return ids, errs, nil
}

// dupKey identifies an observation for IngestNew: datastream, phenomenon time, result.
type dupKey struct {
	ds, start, end int64
	num            float64
	hasNum         bool
	json           string
}

func keyOf(o *sensing.Observation) dupKey {
	k := dupKey{ds: o.DatastreamID, start: us(o.PhenStart), end: us(o.PhenEnd), json: string(o.ResultJSON)}
	if o.ResultNum != nil {
		k.num, k.hasNum = *o.ResultNum, true
	}
	return k
}

// existing returns the keys of stored observations that could equal one of obs: one index
// range read per datastream over the batch's time span, instead of a query per row.
func (s *Entities) existing(ctx context.Context, tx *sql.Tx, obs []sensing.Observation) (map[dupKey]bool, error) {
	type span struct{ lo, hi int64 }
	spans := map[int64]*span{}
	for i := range obs {
		a := us(obs[i].PhenStart)
		sp := spans[obs[i].DatastreamID]
		if sp == nil {
			spans[obs[i].DatastreamID] = &span{a, a}
			continue
		}
		sp.lo, sp.hi = min(sp.lo, a), max(sp.hi, a)
	}
	seen := make(map[dupKey]bool, len(obs))
	for ds, sp := range spans {
		rows, err := tx.QueryContext(ctx, `SELECT phen_start, phen_end, result_num, result_json FROM observations
			WHERE datastream_id = ? AND phen_start BETWEEN ? AND ?`, ds, sp.lo, sp.hi)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			k := dupKey{ds: ds}
			var num sql.NullFloat64
			var js sql.NullString
			if err := rows.Scan(&k.start, &k.end, &num, &js); err != nil {
				rows.Close()
				return nil, err
			}
			k.num, k.hasNum, k.json = num.Float64, num.Valid, js.String
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
func (s *Entities) insertObservations(ctx context.Context, tx *sql.Tx, obs []sensing.Observation) ([]int64, error) {
	ids, _, err := s.insert(ctx, tx, obs, true, false)
	return ids, err
}

func (s *Entities) insert(ctx context.Context, tx *sql.Tx, obs []sensing.Observation, strict, dedup bool) ([]int64, []error, error) {
	ids := make([]int64, len(obs))
	errs := make([]error, len(obs))
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO observations
		(datastream_id, phen_start, phen_end, phen_text, result_time_us, result_time_text, result_num, result_json,
		 qc, result_quality, valid_start, valid_end, valid_text, parameters, foi_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return nil, nil, err
	}
	defer stmt.Close()
	type span struct{ ps, pe, rs, re int64 }
	spans := map[int64]*span{}
	foiByThing := map[int64]int64{}
	var seen map[dupKey]bool
	if dedup {
		if seen, err = s.existing(ctx, tx, obs); err != nil {
			return nil, nil, err
		}
	}
	for i := range obs {
		o := &obs[i]
		if seen != nil {
			k := keyOf(o)
			if seen[k] {
				errs[i] = ErrDuplicate
				continue
			}
			seen[k] = true
		}
		ds, err := s.datastream(ctx, tx, o.DatastreamID)
		if err == nil && s.QC != nil {
			err = s.QC.Check(ds, o)
		}
		if err == nil && o.FoIID == 0 {
			f, ok := foiByThing[ds.ThingID]
			if !ok {
				f, err = s.foiForThing(ctx, tx, ds.ThingID)
				foiByThing[ds.ThingID] = f
			}
			o.FoIID = f
		}
		if err != nil {
			if strict || apperr.KindOf(err) == apperr.Internal {
				return nil, nil, err
			}
			errs[i] = err
			continue
		}
		var rt, vs, ve any
		if o.ResultTime != nil {
			rt = us(*o.ResultTime)
		}
		if o.ValidStart != nil {
			vs, ve = us(*o.ValidStart), us(*o.ValidEnd)
		}
		var num any
		if o.ResultNum != nil {
			num = *o.ResultNum
		}
		res, err := stmt.ExecContext(ctx, o.DatastreamID, us(o.PhenStart), us(o.PhenEnd), o.PhenText, rt, nullStr(o.ResultTimeText),
			num, nullRaw(o.ResultJSON), o.Flag, nullRaw(o.Quality), vs, ve, nullStr(o.ValidText), nullRaw(o.Parameters), o.FoIID)
		if err != nil {
			if strings.Contains(err.Error(), "FOREIGN KEY constraint failed") { // the datastream was checked: the FoI
				return nil, nil, apperr.Wrap(apperr.NotFound, err, "FeaturesOfInterest(%d) does not exist", o.FoIID)
			}
			return nil, nil, fmt.Errorf("insert observation: %w", err)
		}
		ids[i], _ = res.LastInsertId()
		o.ID = ids[i]
		sp := spans[o.DatastreamID]
		if sp == nil {
			sp = &span{math.MaxInt64, math.MinInt64, math.MaxInt64, math.MinInt64}
			spans[o.DatastreamID] = sp
		}
		sp.ps, sp.pe = min(sp.ps, us(o.PhenStart)), max(sp.pe, us(o.PhenEnd))
		if o.ResultTime != nil {
			sp.rs, sp.re = min(sp.rs, us(*o.ResultTime)), max(sp.re, us(*o.ResultTime))
		}
		if o.ResultNum != nil {
			ds.Recent = append(ds.Recent, sensing.Point{T: o.PhenStart, V: *o.ResultNum})
			if len(ds.Recent) > recentPoints {
				ds.Recent = ds.Recent[len(ds.Recent)-recentPoints:]
			}
		}
	}
	if s.Outbox {
		if err := s.writeOutbox(ctx, tx, obs, ids); err != nil {
			return nil, nil, err
		}
		if err := s.purgeOutbox(ctx, tx); err != nil {
			return nil, nil, err
		}
	}
	// Datastream.phenomenonTime and resultTime span their observations (SensorThings 1.1, 8.2.4).
	for id, sp := range spans {
		var rs, re any
		if sp.rs != math.MaxInt64 {
			rs, re = sp.rs, sp.re
		}
		if _, err := tx.ExecContext(ctx, `UPDATE datastreams SET
			phenomenon_time_start = min(coalesce(phenomenon_time_start, ?1), ?1),
			phenomenon_time_end = max(coalesce(phenomenon_time_end, ?2), ?2),
			result_time_start = CASE WHEN ?3 IS NULL THEN result_time_start ELSE min(coalesce(result_time_start, ?3), ?3) END,
			result_time_end = CASE WHEN ?4 IS NULL THEN result_time_end ELSE max(coalesce(result_time_end, ?4), ?4) END
			WHERE id = ?5`, sp.ps, sp.pe, rs, re, id); err != nil {
			return nil, nil, fmt.Errorf("update datastream span: %w", err)
		}
	}
	return ids, errs, nil
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
func (s *Entities) datastream(ctx context.Context, tx *sql.Tx, id int64) (*sensing.DatastreamInfo, error) {
	if ds, ok := s.dsCache[id]; ok {
		return ds, nil
	}
	ds := &sensing.DatastreamInfo{ID: id}
	var uom, props sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT d.thing_id, d.observation_type, d.unit_of_measurement, d.properties, o.name, o.definition
		FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id WHERE d.id = ?`, id).
		Scan(&ds.ThingID, &ds.ObservationType, &uom, &props, &ds.ObservedPropertyName, &ds.ObservedPropertyDef)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "Datastream(%d) does not exist", id)
	}
	if err != nil {
		return nil, fmt.Errorf("load datastream %d: %w", id, err)
	}
	ds.UnitSymbol = unitSymbol(uom.String)
	if props.Valid {
		ds.Properties = []byte(props.String)
	}
	rows, err := tx.QueryContext(ctx, `SELECT phen_start, result_num FROM observations WHERE datastream_id = ? AND result_num IS NOT NULL ORDER BY phen_start DESC, id DESC LIMIT ?`, id, recentPoints)
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
func (s *Entities) foiForThing(ctx context.Context, tx *sql.Tx, thing int64) (int64, error) {
	var loc int64
	var name, desc, enc, geo string
	err := tx.QueryRowContext(ctx, `SELECT l.id, l.name, l.description, l.encoding_type, l.location FROM locations l
		JOIN thing_locations tl ON tl.location_id = l.id WHERE tl.thing_id = ? ORDER BY l.id DESC LIMIT 1`, thing).Scan(&loc, &name, &desc, &enc, &geo)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, apperr.E(apperr.Invalid, "Observation has no FeatureOfInterest and its Thing(%d) has no Location to make one from", thing)
	}
	if err != nil {
		return 0, err
	}
	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM features_of_interest WHERE location_id = ?`, loc).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO features_of_interest (name, description, encoding_type, feature, location_id) VALUES (?, ?, ?, ?, ?)`, name, desc, enc, geo, loc)
	if err != nil {
		return 0, fmt.Errorf("insert FeatureOfInterest: %w", err)
	}
	return res.LastInsertId()
}

// outboxChunk is the most observations one outbox entry (one bus message) carries, which
// keeps messages well under NATS's default 1 MiB payload limit.
const outboxChunk = 1000

// writeOutbox adds outbox entries for the stored items of obs: per datastream, id ranges of
// at most outboxChunk observations. The entries are tiny; the relay reads the data.
func (s *Entities) writeOutbox(ctx context.Context, tx *sql.Tx, obs []sensing.Observation, ids []int64) error {
	type run struct {
		first, last int64
		n           int
	}
	runs := map[int64]*run{}
	var order []int64
	now := us(s.db.Now())
	flush := func(ds int64) error {
		r := runs[ds]
		_, err := tx.ExecContext(ctx, `INSERT INTO outbox (kind, key, first_id, last_id, created_us) VALUES ('obs', ?, ?, ?, ?)`, ds, r.first, r.last, now)
		return err
	}
	for i := range obs {
		if ids[i] == 0 {
			continue
		}
		ds := obs[i].DatastreamID
		r := runs[ds]
		if r == nil {
			runs[ds] = &run{first: ids[i], last: ids[i], n: 1}
			order = append(order, ds)
			continue
		}
		if r.n == outboxChunk {
			if err := flush(ds); err != nil {
				return fmt.Errorf("write outbox: %w", err)
			}
			*r = run{first: ids[i], last: ids[i], n: 1}
			continue
		}
		r.last, r.n = ids[i], r.n+1
	}
	for _, ds := range order {
		if err := flush(ds); err != nil {
			return fmt.Errorf("write outbox: %w", err)
		}
	}
	return nil
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
// payload (a sensing.ObsBatch of the entry's observations, read now).
func (s *Entities) OutboxPending(ctx context.Context, limit int) ([]OutboxEntry, error) {
	tx, err := s.db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	s.omu.Lock()
	pub := s.published
	s.omu.Unlock()
	rows, err := tx.QueryContext(ctx, `SELECT id, kind, key, first_id, last_id, created_us FROM outbox WHERE id > ? ORDER BY id LIMIT ?`, pub, limit)
	if err != nil {
		return nil, err
	}
	var out []OutboxEntry
	var ranges [][2]int64
	for rows.Next() {
		var e OutboxEntry
		var c, first, last int64
		if err := rows.Scan(&e.ID, &e.Kind, &e.Key, &first, &last, &c); err != nil {
			rows.Close()
			return nil, err
		}
		e.Created = time.UnixMicro(c)
		out = append(out, e)
		ranges = append(ranges, [2]int64{first, last})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		b := sensing.ObsBatch{V: sensing.ObsBatchVersion, Node: s.Node, Datastream: out[i].Key, Accepted: out[i].Created.UTC()}
		if b.Obs, err = s.items(ctx, tx, out[i].Key, ranges[i][0], ranges[i][1]); err != nil {
			return nil, err
		}
		out[i].Payload = b.AppendJSON(make([]byte, 0, 160*len(b.Obs)+128))
	}
	return out, tx.Commit()
}

// items reads a datastream's observations in an id range, in bus form.
func (s *Entities) items(ctx context.Context, tx *sql.Tx, ds, first, last int64) ([]sensing.ObsItem, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id, phen_text, phen_start, phen_end, result_time_text, result_num, result_json, qc, result_quality, foi_id, parameters
		FROM observations WHERE id BETWEEN ? AND ? AND +datastream_id = ? ORDER BY id`, first, last, ds) // unary +: walk the rowid range, not the datastream index
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []sensing.ObsItem
	for rows.Next() {
		var it sensing.ObsItem
		var ps, pe int64
		var rt, rj, q, params sql.NullString
		var num sql.NullFloat64
		var foi sql.NullInt64
		if err := rows.Scan(&it.ID, &it.PhenomenonTime, &ps, &pe, &rt, &num, &rj, &it.Flag, &q, &foi, &params); err != nil {
			return nil, err
		}
		it.Start, it.End = time.UnixMicro(ps).UTC(), time.UnixMicro(pe).UTC()
		it.ResultTime, it.FoI = rt.String, foi.Int64
		if num.Valid {
			it.Result = json.RawMessage(formatNumber(num.Float64))
		} else {
			it.Result = json.RawMessage(rj.String)
		}
		if q.Valid {
			it.Quality = json.RawMessage(q.String)
		}
		if params.Valid {
			it.Parameters = json.RawMessage(params.String)
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// OutboxDone records that the relay has published the entries (a prefix of the pending ones,
// in id order). They are deleted with the next ingest transaction — a delete of their own would
// cost a synced commit on the one writer for every relay round — or after two seconds without
// one. Until then OutboxPending skips them; a crash in between publishes them again, which
// JetStream de-duplicates.
func (s *Entities) OutboxDone(ctx context.Context, ids []int64) error {
	var top int64
	for _, id := range ids {
		top = max(top, id)
	}
	s.omu.Lock()
	if top > s.published {
		s.published = top
	}
	stale := time.Since(s.lastPurge) > 2*time.Second
	s.omu.Unlock()
	if !stale {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error { return s.purgeOutbox(ctx, tx) })
}

// purgeOutbox deletes the published outbox entries inside a write transaction.
func (s *Entities) purgeOutbox(ctx context.Context, tx *sql.Tx) error {
	s.omu.Lock()
	upTo := s.published
	s.lastPurge = time.Now()
	s.omu.Unlock()
	if upTo <= s.purged {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM outbox WHERE id <= ?`, upTo); err != nil {
		return fmt.Errorf("purge outbox: %w", err)
	}
	s.purged = upTo // s.mu is held: only writers touch purged
	return nil
}

// OutboxBacklog counts unpublished entries and the age of the oldest.
func (s *Entities) OutboxBacklog(ctx context.Context) (n int64, oldest time.Time, err error) {
	var c sql.NullInt64
	s.omu.Lock()
	pub := s.published
	s.omu.Unlock()
	err = s.db.r.QueryRowContext(ctx, `SELECT count(*), min(created_us) FROM outbox WHERE id > ?`, pub).Scan(&n, &c)
	if c.Valid {
		oldest = time.UnixMicro(c.Int64)
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
