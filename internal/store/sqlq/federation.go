package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
)

// Federation keeps partners, agreements with the exporter's cursor, and the remote Datastreams
// received (tables fed_partners, fed_agreements, fed_remote; ddl/federation.sql), and reads
// what the exporter sends.
type Federation struct {
	eng Engine

	rmu    sync.Mutex
	remote map[int64]remoteAnswer // IsRemote's answers, by Datastream
}

var _ federation.Store = (*Federation)(nil)

// NewFederation returns the federation store over eng.
func NewFederation(eng Engine) *Federation {
	return &Federation{eng: eng, remote: map[int64]remoteAnswer{}}
}

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

const agreementCols = `id, provider_org, consumer_org, consumer_node, selection, resolution, embargo_s, purpose,
	valid_from_us, valid_until_us, retention_s, state, created_by, created_us, approved_by, approved_us, revoked_by, revoked_us`

func scanAgreement(r Row) (*federation.Agreement, error) {
	var a federation.Agreement
	var sel, res, state string
	var emb, from, ret, created int64
	var until, approvedAt, revokedAt *int64
	var approvedBy, revokedBy *string
	if err := r.Scan(&a.ID, &a.ProviderOrg, &a.ConsumerOrg, &a.ConsumerNode, &sel, &res, &emb, &a.Purpose,
		&from, &until, &ret, &state, &a.CreatedBy, &created, &approvedBy, &approvedAt, &revokedBy, &revokedAt); err != nil {
		return nil, err
	}
	var err error
	if a.Selection, err = selectionOf(sel); err != nil { // federation_area.go
		return nil, fmt.Errorf("agreement %d: selection: %w", a.ID, err)
	}
	a.Resolution, a.State = federation.Resolution(res), federation.State(state)
	a.Embargo, a.Retention = federation.Duration(time.Duration(emb)*time.Second), federation.Duration(time.Duration(ret)*time.Second)
	a.ValidFrom, a.CreatedAt = fromUS(from), fromUS(created)
	if until != nil {
		t := fromUS(*until)
		a.ValidUntil = &t
	}
	if approvedAt != nil {
		t := fromUS(*approvedAt)
		a.ApprovedAt = &t
	}
	if revokedAt != nil {
		t := fromUS(*revokedAt)
		a.RevokedAt = &t
	}
	if approvedBy != nil {
		a.ApprovedBy = *approvedBy
	}
	if revokedBy != nil {
		a.RevokedBy = *revokedBy
	}
	return &a, nil
}

// CreateAgreement implements federation.Store; it sets a.ID.
func (s *Federation) CreateAgreement(ctx context.Context, a *federation.Agreement) error {
	sel, err := json.Marshal(a.Selection)
	if err != nil {
		return err
	}
	var until *int64
	if a.ValidUntil != nil {
		v := us(*a.ValidUntil)
		until = &v
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO fed_agreements (provider_org, consumer_org, consumer_node, selection, resolution, embargo_s, purpose,
			valid_from_us, valid_until_us, retention_s, state, created_by, created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			a.ProviderOrg, a.ConsumerOrg, a.ConsumerNode, string(sel), string(a.Resolution), int64(time.Duration(a.Embargo)/time.Second), a.Purpose,
			us(a.ValidFrom), until, int64(time.Duration(a.Retention)/time.Second), string(a.State), a.CreatedBy, us(a.CreatedAt)).Scan(&a.ID)
	})
}

// Agreement implements federation.Store.
func (s *Federation) Agreement(ctx context.Context, id int64) (*federation.Agreement, error) {
	var a *federation.Agreement
	err := s.eng.Do(ctx, func(tx Tx) error {
		var err error
		a, err = scanAgreement(tx.QueryRow(ctx, `SELECT `+agreementCols+` FROM fed_agreements WHERE id = ?`, id))
		return err
	})
	if errors.Is(err, ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "agreement %d does not exist", id)
	}
	return a, err
}

// Agreements implements federation.Store.
func (s *Federation) Agreements(ctx context.Context) ([]federation.Agreement, error) {
	out := []federation.Agreement{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		a, err := scanAgreement(r)
		if err != nil {
			return err
		}
		out = append(out, *a)
		return nil
	}, `SELECT `+agreementCols+` FROM fed_agreements ORDER BY id`)
	return out, err
}

// SetState implements federation.Store.
func (s *Federation) SetState(ctx context.Context, id int64, from, to federation.State, by string, at time.Time) error {
	col := "approved"
	if to != federation.Approved {
		col = "revoked"
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE fed_agreements SET state = ?, `+col+`_by = ?, `+col+`_us = ? WHERE id = ? AND state = ?`,
			string(to), by, us(at), id, string(from))
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.Conflict, "agreement %d is not %s (changed meanwhile?)", id, from)
		}
		return nil
	})
}

// Expire marks approved agreements past their valid_until as expired and returns their ids.
func (s *Federation) Expire(ctx context.Context, now time.Time) ([]int64, error) {
	var ids []int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		if err := each(ctx, tx, func(r Rows) error {
			var id int64
			ids = append(ids, id)
			return r.Scan(&ids[len(ids)-1])
		}, `SELECT id FROM fed_agreements WHERE state = 'approved' AND valid_until_us IS NOT NULL AND valid_until_us <= ?`, us(now)); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE fed_agreements SET state = 'expired' WHERE id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	return ids, err
}

// AddPartner implements federation.Store: a partner of the same node id is replaced (a new
// key or URL; its certificate only when a new one is given); an nkey another partner uses is
// Conflict.
func (s *Federation) AddPartner(ctx context.Context, p *federation.Partner) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		var other string
		err := tx.QueryRow(ctx, `SELECT node FROM fed_partners WHERE nkey = ? AND node <> ?`, p.NKey, p.Node).Scan(&other)
		if err == nil {
			return apperr.E(apperr.Conflict, "partner: nkey: already the key of partner %q", other)
		}
		if !errors.Is(err, ErrNoRows) {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO fed_partners (node, nkey, url, ca, created_us, cert) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (node) DO UPDATE SET nkey = excluded.nkey, url = excluded.url, ca = excluded.ca,
			cert = CASE WHEN excluded.cert <> '' THEN excluded.cert ELSE fed_partners.cert END`, p.Node, p.NKey, p.URL, p.CA, us(p.Created), p.Cert)
		return err
	})
}

// RemovePartner implements federation.Store.
func (s *Federation) RemovePartner(ctx context.Context, node string) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		rows, err := tx.Query(ctx, `SELECT id FROM fed_agreements WHERE consumer_node = ? AND state IN ('proposed', 'approved') ORDER BY id`, node)
		if err != nil {
			return err
		}
		var ids []string
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			ids = append(ids, strconv.FormatInt(id, 10))
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) > 0 {
			if len(ids) == 1 {
				return apperr.E(apperr.Conflict, "partner %q: agreement %s is proposed or approved with it: revoke it first", node, ids[0])
			}
			return apperr.E(apperr.Conflict, "partner %q: agreements %s are proposed or approved with it: revoke them first", node, strings.Join(ids, ", "))
		}
		n, err := tx.Exec(ctx, `DELETE FROM fed_partners WHERE node = ?`, node)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "partner %q: no such partner", node)
		}
		return nil
	})
}

// Partners implements federation.Store.
func (s *Federation) Partners(ctx context.Context) ([]federation.Partner, error) {
	out := []federation.Partner{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var p federation.Partner
		var c int64
		if err := r.Scan(&p.Node, &p.NKey, &p.URL, &p.CA, &c, &p.Cert); err != nil {
			return err
		}
		p.Created = fromUS(c)
		out = append(out, p)
		return nil
	}, `SELECT node, nkey, url, ca, created_us, cert FROM fed_partners ORDER BY node`)
	return out, err
}

// PartnerByNKey returns the node id of the partner with public nkey key ("" when none).
func (s *Federation) PartnerByNKey(ctx context.Context, key string) (string, error) {
	var node string
	err := readRow(ctx, s.eng, `SELECT node FROM fed_partners WHERE nkey = ?`, []any{key}, &node)
	if errors.Is(err, ErrNoRows) {
		return "", nil
	}
	return node, err
}

// Cursor returns agreement id's export cursor.
func (s *Federation) Cursor(ctx context.Context, id int64) (int64, error) {
	var c int64
	err := readRow(ctx, s.eng, `SELECT export_cursor FROM fed_agreements WHERE id = ?`, []any{id}, &c)
	return c, err
}

// SetCursor saves agreement id's export cursor.
func (s *Federation) SetCursor(ctx context.Context, id, cursor int64) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE fed_agreements SET export_cursor = ? WHERE id = ?`, cursor, id)
		return err
	})
}

// Cursors returns every agreement's export cursor, by agreement id (read once when the
// exporter starts: it then keeps them in memory and saves them with SetCursors).
func (s *Federation) Cursors(ctx context.Context) (map[int64]int64, error) {
	out := map[int64]int64{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id, c int64
		if err := r.Scan(&id, &c); err != nil {
			return err
		}
		out[id] = c
		return nil
	}, `SELECT id, export_cursor FROM fed_agreements`)
	return out, err
}

// SetCursors saves several agreements' export cursors (agreement id → cursor) in one write.
func (s *Federation) SetCursors(ctx context.Context, cursors map[int64]int64) error {
	if len(cursors) == 0 {
		return nil
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		for id, c := range cursors {
			if _, err := tx.Exec(ctx, `UPDATE fed_agreements SET export_cursor = ? WHERE id = ?`, c, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// DatastreamsPrint returns a fingerprint of the Datastreams table (how many, the highest id,
// the sums of their Thing and ObservedProperty ids): it changes when a Datastream is created,
// deleted or moved, and the exporter then resolves its selections again.
func (s *Federation) DatastreamsPrint(ctx context.Context) ([4]int64, error) {
	var p [4]int64
	err := readRow(ctx, s.eng, `SELECT count(*), coalesce(max(id), 0), coalesce(sum(thing_id), 0), coalesce(sum(observed_property_id), 0) FROM datastreams`,
		nil, &p[0], &p[1], &p[2], &p[3])
	return p, err
}

// LastObservation returns the highest Observation id (0 when there is none): the end of the
// id range a raw export pass reads.
func (s *Federation) LastObservation(ctx context.Context) (int64, error) {
	var v *int64
	if err := readRow(ctx, s.eng, `SELECT max(id) FROM observations`, nil, &v); err != nil || v == nil {
		return 0, err
	}
	return *v, nil
}

// FirstSince returns the lowest id of the Observations of datastreams ds with phenomenon time
// from from on (ok false when there is none): where a new raw agreement's export starts,
// without reading the Observations stored before it (one index range, once per agreement).
func (s *Federation) FirstSince(ctx context.Context, ds []int64, from time.Time) (int64, bool, error) {
	if len(ds) == 0 {
		return 0, false, nil
	}
	args := []any{us(from)}
	for _, id := range ds {
		args = append(args, id)
	}
	var v *int64
	err := readRow(ctx, s.eng, `SELECT min(id) FROM observations WHERE phen_start >= ? AND datastream_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ds)), ", ")+`)`, args, &v)
	if err != nil || v == nil {
		return 0, false, err
	}
	return *v, true, nil
}

// RawRange returns up to limit numeric Observations of datastreams ds with after < id ≤ upto,
// in id order. It reads the id range by the primary key (not by the datastream index, which
// would read, and sort, a Datastream's whole history on every call): the cost is that of the
// rows in the range. Phenomenon-time limits are the caller's.
func (s *Federation) RawRange(ctx context.Context, ds []int64, after, upto int64, limit int) ([]RawObservation, error) {
	if len(ds) == 0 || upto <= after {
		return nil, nil
	}
	args := []any{after, upto}
	for _, id := range ds {
		args = append(args, id)
	}
	args = append(args, limit)
	var out []RawObservation
	err := readEach(ctx, s.eng, func(r Rows) error {
		var o RawObservation
		var st, en int64
		if err := r.Scan(&o.ID, &o.Datastream, &st, &en, &o.PhenText, &o.Result, &o.Flag); err != nil {
			return err
		}
		o.Start, o.End = fromUS(st), fromUS(en)
		out = append(out, o)
		return nil
	}, `SELECT id, datastream_id, phen_start, phen_end, phen_text, result_num, qc FROM observations
		WHERE id > ? AND id <= ? AND result_num IS NOT NULL AND `+s.eng.NoIndex("datastream_id")+` IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ds)), ", ")+`)
		ORDER BY id LIMIT ?`, args...)
	return out, err
}

// Selected returns the Datastreams selection sel picks among those organisation org owns, by
// id, with what a consumer needs to describe them: by id, by Thing, and by area (the Thing's
// first Location inside sel.Area), narrowed by ObservedProperties; none when it shares no
// Observations (alerts only).
func (s *Federation) Selected(ctx context.Context, org string, sel federation.Selection) (map[int64]federation.RemoteSource, error) {
	if !sel.Data() { // alerts only
		return map[int64]federation.RemoteSource{}, nil
	}
	in := func(col string, ids []int64) (string, []any) {
		if len(ids) == 0 {
			return "", nil
		}
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		return col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
	}
	dsCond, dsArgs := in("d.id", sel.Datastreams)
	thCond, thArgs := in("d.thing_id", sel.Things)
	var pick []string
	var args []any
	args = append(args, org)
	if dsCond != "" {
		pick = append(pick, dsCond)
		args = append(args, dsArgs...)
	}
	if thCond != "" {
		pick = append(pick, thCond)
		args = append(args, thArgs...)
	}
	if len(pick) == 0 {
		return s.selectedArea(ctx, org, sel, map[int64]federation.RemoteSource{}) // federation_area.go
	}
	q := `SELECT d.id, d.name, d.unit_of_measurement, t.name, o.name, o.definition,
		(SELECT l.location FROM thing_locations tl JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1)
		FROM datastreams d
		JOIN things t ON t.id = d.thing_id JOIN observed_properties o ON o.id = d.observed_property_id
		WHERE d.organisation = ? AND (` + strings.Join(pick, " OR ") + `)`
	if c, a := in("d.observed_property_id", sel.ObservedProperties); c != "" {
		q += " AND " + c
		args = append(args, a...)
	}
	out := map[int64]federation.RemoteSource{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var src federation.RemoteSource
		var unit string
		var loc *string
		if err := r.Scan(&src.ID, &src.Name, &unit, &src.Thing, &src.ObservedProperty, &src.Definition, &loc); err != nil {
			return err
		}
		if loc != nil && json.Valid([]byte(*loc)) {
			src.Location = json.RawMessage(*loc)
		}
		src.Unit = json.RawMessage(unit)
		out[src.ID] = src
		return nil
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return s.selectedArea(ctx, org, sel, out) // federation_area.go
}

// RawObservation is one numeric Observation the raw exporter sends.
type RawObservation struct {
	ID, Datastream int64
	Start, End     time.Time
	PhenText       string
	Result         float64
	Flag           int
}

// RawSince returns up to limit numeric Observations of datastreams ds with id above after and
// phenomenon time from from on, in id order.
func (s *Federation) RawSince(ctx context.Context, ds []int64, after int64, from time.Time, limit int) ([]RawObservation, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	args := []any{after, us(from)}
	for _, id := range ds {
		args = append(args, id)
	}
	args = append(args, limit)
	var out []RawObservation
	err := readEach(ctx, s.eng, func(r Rows) error {
		var o RawObservation
		var st, en int64
		if err := r.Scan(&o.ID, &o.Datastream, &st, &en, &o.PhenText, &o.Result, &o.Flag); err != nil {
			return err
		}
		o.Start, o.End = fromUS(st), fromUS(en)
		out = append(out, o)
		return nil
	}, `SELECT id, datastream_id, phen_start, phen_end, phen_text, result_num, qc FROM observations
		WHERE id > ? AND phen_start >= ? AND result_num IS NOT NULL AND datastream_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ds)), ", ")+`)
		ORDER BY id LIMIT ?`, args...)
	return out, err
}

// Values returns the numeric Observations of datastreams ds whose phenomenon time starts in
// [from, until), for aggregation.
func (s *Federation) Values(ctx context.Context, ds []int64, from, until time.Time) ([]federation.Value, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	args := []any{us(from), us(until)}
	for _, id := range ds {
		args = append(args, id)
	}
	var out []federation.Value
	err := readEach(ctx, s.eng, func(r Rows) error {
		var v federation.Value
		var st int64
		if err := r.Scan(&v.Datastream, &st, &v.Result, &v.Flag); err != nil {
			return err
		}
		v.Time = fromUS(st)
		out = append(out, v)
		return nil
	}, `SELECT datastream_id, phen_start, result_num, qc FROM observations
		WHERE phen_start >= ? AND phen_start < ? AND result_num IS NOT NULL AND datastream_id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ds)), ", ")+`)`, args...)
	return out, err
}

// FirstValue returns the earliest phenomenon time at or after from among datastreams ds (ok
// false when none), so that the aggregate exporter skips empty periods.
func (s *Federation) FirstValue(ctx context.Context, ds []int64, from time.Time) (time.Time, bool, error) {
	if len(ds) == 0 {
		return time.Time{}, false, nil
	}
	args := []any{us(from)}
	for _, id := range ds {
		args = append(args, id)
	}
	var v *int64
	err := readRow(ctx, s.eng, `SELECT min(phen_start) FROM observations WHERE phen_start >= ? AND result_num IS NOT NULL AND datastream_id IN (`+
		strings.TrimSuffix(strings.Repeat("?, ", len(ds)), ", ")+`)`, args, &v)
	if err != nil || v == nil {
		return time.Time{}, false, err
	}
	return fromUS(*v), true, nil
}

// Remote returns the local Datastream holding provider's Datastream pds received under
// agreement (0 when none yet).
func (s *Federation) Remote(ctx context.Context, provider string, agreement, pds int64) (int64, error) {
	var id int64
	err := readRow(ctx, s.eng, `SELECT datastream_id FROM fed_remote WHERE provider_node = ? AND agreement_id = ? AND provider_datastream = ?`,
		[]any{provider, agreement, pds}, &id)
	if errors.Is(err, ErrNoRows) {
		return 0, nil
	}
	return id, err
}

// SaveRemote records that local Datastream ds holds provider's pds under agreement, and writes
// the agreement's state as last saved (SaveReceived) into its properties. The receiver makes a
// remote Datastream with CreateRemote instead, which does both in one transaction.
func (s *Federation) SaveRemote(ctx context.Context, provider string, agreement, pds, ds int64) error {
	defer viewWrite()() // remoteview.go: what a RemoteView hides changes
	err := s.eng.Write(ctx, func(tx Tx) error { return saveRemote(ctx, tx, provider, agreement, pds, ds) })
	if err == nil {
		s.knownRemote(ds)
	}
	return err
}

// CreateRemote creates e (the remote Datastream, with the Thing, Sensor, ObservedProperty and
// Location linked inline) in ents and records it as the local Datastream holding provider's pds
// under agreement (SaveRemote), in one transaction of ents (Entities.Atomic): no reader ever
// sees it as an ordinary local Datastream, which anyone may read when public reads are on,
// before it is marked remote. It returns the new Datastream's id.
func (s *Federation) CreateRemote(ctx context.Context, ents *Entities, e *sensing.Entity, provider string, agreement, pds int64) (int64, error) {
	var id int64
	err := ents.Atomic(ctx, func(ctx context.Context) error {
		var err error
		if id, err = ents.Create(ctx, e); err != nil {
			return err
		}
		return saveRemote(ctx, ents.outer(ctx).tx, provider, agreement, pds, id)
	})
	if err != nil {
		return 0, err
	}
	s.knownRemote(id)
	return id, nil
}

// saveRemote is SaveRemote in tx.
func saveRemote(ctx context.Context, tx Tx, provider string, agreement, pds, ds int64) error {
	if _, err := tx.Exec(ctx, `INSERT INTO fed_remote (provider_node, agreement_id, provider_datastream, datastream_id) VALUES (?, ?, ?, ?)`,
		provider, agreement, pds, ds); err != nil {
		return err
	}
	return remoteStateInTx(ctx, tx, provider, agreement, ds) // its agreement's state in its properties (federation_received.go)
}

// knownRemote tells IsRemote at once that ds is remote (SaveRemote, CreateRemote committed).
func (s *Federation) knownRemote(ds int64) {
	s.rmu.Lock()
	s.remote[ds] = remoteAnswer{true, time.Now()}
	s.rmu.Unlock()
}

// remoteFor is how long IsRemote trusts an answer it read. A Datastream is made remote once,
// as it is created (CreateRemote), and stays so until deleted: this process
// learns of its own SaveRemote at once, of another process's (sharing PostgreSQL), or of a
// delete, within this time.
const remoteFor = time.Second

type remoteAnswer struct {
	remote bool
	at     time.Time
}

// isRemote reads whether Datastream ds is a remote (received) Datastream: it has a fed_remote row.
func isRemote(ctx context.Context, eng Engine, ds int64) (bool, error) {
	var one int
	err := readRow(ctx, eng, `SELECT 1 FROM fed_remote WHERE datastream_id = ? LIMIT 1`, []any{ds}, &one)
	if errors.Is(err, ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// IsRemote reports whether Datastream ds is a remote (received, read-only) Datastream. It is
// asked on every write of an Observation, so each answer is kept in memory for remoteFor.
func (s *Federation) IsRemote(ctx context.Context, ds int64) (bool, error) {
	now := time.Now()
	s.rmu.Lock()
	a, ok := s.remote[ds]
	s.rmu.Unlock()
	if ok && now.Sub(a.at) < remoteFor && !now.Before(a.at) {
		return a.remote, nil
	}
	remote, err := isRemote(ctx, s.eng, ds)
	if err != nil {
		return false, err
	}
	s.rmu.Lock()
	if len(s.remote) > 100000 { // bounded: on a node with more Datastreams some are read again
		clear(s.remote)
	}
	if a, ok := s.remote[ds]; !ok || !a.remote || remote { // a SaveRemote meanwhile wins
		s.remote[ds] = remoteAnswer{remote, now}
	}
	s.rmu.Unlock()
	return remote, nil
}

// remoteEntity is, per entity set, the query of whether set(id) is part of a remote
// Datastream: the Datastream itself, its Observations (and their FeaturesOfInterest), and what
// the importer made for it — its Thing, with the Thing's Locations and HistoricalLocations, its
// Sensor and ObservedProperty.
var remoteEntity = map[string]string{
	"Datastreams":        `SELECT 1 FROM fed_remote WHERE datastream_id = ? LIMIT 1`,
	"Observations":       `SELECT 1 FROM observations o JOIN fed_remote r ON r.datastream_id = o.datastream_id WHERE o.id = ? LIMIT 1`,
	"FeaturesOfInterest": `SELECT 1 FROM fed_remote r WHERE EXISTS (SELECT 1 FROM observations o WHERE o.foi_id = ? AND o.datastream_id = r.datastream_id) LIMIT 1`,
	"Things":             `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.thing_id = ? LIMIT 1`,
	"Sensors":            `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.sensor_id = ? LIMIT 1`,
	"ObservedProperties": `SELECT 1 FROM datastreams d JOIN fed_remote r ON r.datastream_id = d.id WHERE d.observed_property_id = ? LIMIT 1`,
	"Locations": `SELECT 1 FROM thing_locations tl JOIN datastreams d ON d.thing_id = tl.thing_id JOIN fed_remote r ON r.datastream_id = d.id
		WHERE tl.location_id = ? LIMIT 1`,
	"HistoricalLocations": `SELECT 1 FROM historical_locations h JOIN datastreams d ON d.thing_id = h.thing_id JOIN fed_remote r ON r.datastream_id = d.id
		WHERE h.id = ? LIMIT 1`,
}

// IsRemoteEntity reports whether entity set(id) (a SensorThings entity set) belongs to a remote
// Datastream (remoteEntity: the Datastream, its Observations and their FeaturesOfInterest, its
// Thing with its Locations and HistoricalLocations, its Sensor and ObservedProperty): such an
// entity is read-only on this node. A set with nothing remote (MultiDatastreams) is false.
func (s *Federation) IsRemoteEntity(ctx context.Context, set string, id int64) (bool, error) {
	q, ok := remoteEntity[set]
	if !ok {
		return false, nil
	}
	var one int
	err := readRow(ctx, s.eng, q, []any{id}, &one)
	if errors.Is(err, ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// PurgeRemote deletes Observations of the remote Datastreams received under agreement from
// provider older than before (retention at the consumer); it returns how many. In the same
// transaction the Datastreams' observation counts (counts.go) and phenomenon and result time
// spans follow.
func (s *Federation) PurgeRemote(ctx context.Context, provider string, agreement int64, before time.Time) (int64, error) {
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		const which = `phen_end < ? AND datastream_id IN (SELECT datastream_id FROM fed_remote WHERE provider_node = ? AND agreement_id = ?)`
		args := []any{us(before), provider, agreement}
		delta := map[stream]int64{}
		rows, err := tx.Query(ctx, `SELECT datastream_id, count(*) FROM observations WHERE `+which+` GROUP BY datastream_id`, args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var ds, c int64
			if err := rows.Scan(&ds, &c); err != nil {
				rows.Close()
				return err
			}
			delta[stream{id: ds}] = -c
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(delta) == 0 {
			return nil
		}
		if n, err = tx.Exec(ctx, `DELETE FROM observations WHERE `+which, args...); err != nil {
			return err
		}
		if err := bumpCounts(ctx, tx, delta); err != nil {
			return err
		}
		for k := range delta { // the spans of what is left (null when nothing is)
			if _, err := tx.Exec(ctx, `UPDATE datastreams SET
				phenomenon_time_start = (SELECT min(phen_start) FROM observations WHERE datastream_id = ?),
				phenomenon_time_end = (SELECT max(phen_end) FROM observations WHERE datastream_id = ?),
				result_time_start = (SELECT min(result_time_us) FROM observations WHERE datastream_id = ?),
				result_time_end = (SELECT max(result_time_us) FROM observations WHERE datastream_id = ?)
				WHERE id = ?`, k.id, k.id, k.id, k.id, k.id); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// Owners implements federation.Catalogue.
func (s *Federation) Owners(ctx context.Context, kind string, ids []int64) (map[int64]string, error) {
	table, ok := map[string]string{"datastreams": "datastreams", "things": "things", "observedProperties": "observed_properties"}[kind]
	if !ok {
		return nil, fmt.Errorf("federation: owners of %q: no such kind", kind)
	}
	out := map[int64]string{}
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id int64
		var org string
		if err := r.Scan(&id, &org); err != nil {
			return err
		}
		out[id] = org
		return nil
	}, `SELECT id, organisation FROM `+table+` WHERE id IN (`+strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")+`)`, args...)
	return out, err
}

// Organisation implements federation.Catalogue.
func (s *Federation) Organisation(ctx context.Context, org string) (bool, error) {
	if org == auth.NodeOrganisation {
		return true, nil
	}
	var n int64
	err := readRow(ctx, s.eng, `SELECT count(*) FROM (SELECT 1 AS x FROM organisations WHERE name = ?
		UNION ALL SELECT 1 FROM datastreams WHERE organisation = ? UNION ALL SELECT 1 FROM things WHERE organisation = ?
		UNION ALL SELECT 1 FROM rules WHERE organisation = ? UNION ALL SELECT 1 FROM alerts WHERE organisation = ? LIMIT 1) q`,
		[]any{org, org, org, org, org}, &n)
	return n > 0, err
}
