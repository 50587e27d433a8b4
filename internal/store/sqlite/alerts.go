package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
)

// Alerts is the store of alerts, rules and the rule engine's state.
type Alerts struct {
	db    *DB
	locks sync.Map // name → *sync.Mutex
}

var _ alert.Store = (*Alerts)(nil)

// NewAlerts returns the alert store on db.
func NewAlerts(db *DB) *Alerts { return &Alerts{db: db} }

func (s *Alerts) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func draftJSON(a *alert.Alert) (any, error) {
	if a.Draft == nil {
		return nil, nil
	}
	b, err := json.Marshal(a.Draft)
	return string(b), err
}

// CreateAlert implements alert.Store.
func (s *Alerts) CreateAlert(ctx context.Context, a *alert.Alert, t alert.Transition) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO alerts (rule_id, state, status, operational, level, level_name, draft, draft_type, draft_by, created_us, updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.RuleID, string(a.State), string(a.Status), a.Operational, a.Level, a.LevelName, d,
			nullStr(string(a.DraftType)), nullStr(a.DraftBy), us(a.Created), us(a.Updated))
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return apperr.E(apperr.Conflict, "rule %s already has an open alert", a.RuleID)
			}
			return err
		}
		id, _ = res.LastInsertId()
		t.AlertID = id
		return insertTransition(ctx, tx, t)
	})
	return id, err
}

func insertTransition(ctx context.Context, tx *sql.Tx, t alert.Transition) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO alert_transitions (alert_id, from_state, to_state, by, why, at_us, identifier) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.AlertID, string(t.From), string(t.To), t.By, t.Why, us(t.At), nullStr(t.Identifier))
	return err
}

// SaveAlert implements alert.Store.
func (s *Alerts) SaveAlert(ctx context.Context, a *alert.Alert, t alert.Transition, msg *alert.Message) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE alerts SET state = ?, level = ?, level_name = ?, draft = ?, draft_type = ?, draft_by = ?, updated_us = ? WHERE id = ?`,
			string(a.State), a.Level, a.LevelName, d, nullStr(string(a.DraftType)), nullStr(a.DraftBy), us(a.Updated), a.ID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return apperr.E(apperr.NotFound, "alert %d does not exist", a.ID)
		}
		if msg != nil {
			if _, err := tx.ExecContext(ctx, `INSERT INTO alert_messages (alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, msg.Identifier, msg.Sender, us(msg.Sent), us(msg.Expires), string(msg.MsgType),
				string(msg.Status), msg.Operational, msg.Headline, msg.XML); err != nil {
				return fmt.Errorf("store message %s: %w", msg.Identifier, err)
			}
		}
		t.AlertID = a.ID
		return insertTransition(ctx, tx, t)
	})
}

const alertCols = `id, rule_id, state, status, operational, level, level_name, draft, draft_type, draft_by, created_us, updated_us`

func scanAlert(sc interface{ Scan(...any) error }) (*alert.Alert, error) {
	var a alert.Alert
	var state, status string
	var draft, dtype, dby sql.NullString
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.RuleID, &state, &status, &a.Operational, &a.Level, &a.LevelName, &draft, &dtype, &dby, &created, &updated); err != nil {
		return nil, err
	}
	a.State, a.Status = alert.State(state), cap.Status(status)
	a.DraftType, a.DraftBy = cap.MsgType(dtype.String), dby.String
	a.Created, a.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if draft.Valid {
		a.Draft = &cap.Alert{}
		if err := json.Unmarshal([]byte(draft.String), a.Draft); err != nil {
			return nil, fmt.Errorf("alert %d: draft: %w", a.ID, err)
		}
	}
	return &a, nil
}

func (s *Alerts) messages(ctx context.Context, where string, args ...any) ([]alert.Message, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml FROM alert_messages `+where, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alert.Message
	for rows.Next() {
		var m alert.Message
		var sent, exp int64
		var mt, st string
		if err := rows.Scan(&m.AlertID, &m.Identifier, &m.Sender, &sent, &exp, &mt, &st, &m.Operational, &m.Headline, &m.XML); err != nil {
			return nil, err
		}
		m.Sent, m.Expires = time.UnixMicro(sent).UTC(), time.UnixMicro(exp).UTC()
		m.MsgType, m.Status = cap.MsgType(mt), cap.Status(st)
		out = append(out, m)
	}
	return out, rows.Err()
}

func (s *Alerts) withMessages(ctx context.Context, a *alert.Alert, err error) (*alert.Alert, error) {
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "no such alert")
	}
	if err != nil {
		return nil, err
	}
	a.Issued, err = s.messages(ctx, `WHERE alert_id = ? ORDER BY id`, a.ID)
	return a, err
}

// GetAlert implements alert.Store.
func (s *Alerts) GetAlert(ctx context.Context, id int64) (*alert.Alert, error) {
	a, err := scanAlert(s.db.r.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "alert %d does not exist", id)
	}
	return s.withMessages(ctx, a, err)
}

// OpenAlert implements alert.Store.
func (s *Alerts) OpenAlert(ctx context.Context, ruleID string) (*alert.Alert, error) {
	a, err := scanAlert(s.db.r.QueryRowContext(ctx, `SELECT `+alertCols+` FROM alerts WHERE rule_id = ? AND state IN ('draft', 'issued')`, ruleID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.E(apperr.NotFound, "rule %s has no open alert", ruleID)
	}
	return s.withMessages(ctx, a, err)
}

// ListAlerts implements alert.Store (newest first; messages not loaded).
func (s *Alerts) ListAlerts(ctx context.Context, f alert.Filter) ([]*alert.Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE 1=1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.RuleID != "" {
		q += ` AND rule_id = ?`
		args = append(args, f.RuleID)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	q += ` ORDER BY updated_us DESC, id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*alert.Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Transitions implements alert.Store.
func (s *Alerts) Transitions(ctx context.Context, id int64) ([]alert.Transition, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT alert_id, from_state, to_state, by, why, at_us, coalesce(identifier, '') FROM alert_transitions WHERE alert_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []alert.Transition
	for rows.Next() {
		var t alert.Transition
		var from, to string
		var at int64
		if err := rows.Scan(&t.AlertID, &from, &to, &t.By, &t.Why, &at, &t.Identifier); err != nil {
			return nil, err
		}
		t.From, t.To, t.At = alert.State(from), alert.State(to), time.UnixMicro(at).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// ActiveMessages implements alert.Store.
func (s *Alerts) ActiveMessages(ctx context.Context, now time.Time, includeOperational bool) ([]alert.Message, error) {
	q := `WHERE id IN (SELECT max(m.id) FROM alert_messages m JOIN alerts a ON a.id = m.alert_id WHERE a.state = 'issued' GROUP BY m.alert_id)
		AND expires_us > ?`
	if !includeOperational {
		q += ` AND operational = 0`
	}
	return s.messages(ctx, q+` ORDER BY sent_us DESC, id DESC`, us(now))
}

// MessageByIdentifier implements alert.Store.
func (s *Alerts) MessageByIdentifier(ctx context.Context, identifier string) (*alert.Message, error) {
	ms, err := s.messages(ctx, `WHERE identifier = ?`, identifier)
	if err != nil {
		return nil, err
	}
	if len(ms) == 0 {
		return nil, apperr.E(apperr.NotFound, "no alert message %q", identifier)
	}
	return &ms[0], nil
}

// ExpiredAlerts implements alert.Store.
func (s *Alerts) ExpiredAlerts(ctx context.Context, now time.Time) ([]*alert.Alert, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT a.id FROM alerts a WHERE a.state = 'issued'
		AND (SELECT m.expires_us FROM alert_messages m WHERE m.alert_id = a.id ORDER BY m.id DESC LIMIT 1) <= ?`, us(now))
	if err != nil {
		return nil, err
	}
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	var out []*alert.Alert
	for _, id := range ids {
		a, err := s.GetAlert(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// SaveRules replaces the applied rules (all of them, atomically) and returns the new set.
func (s *Alerts) SaveRules(ctx context.Context, rules []rule.Rule) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rules`); err != nil {
			return err
		}
		now := us(time.Now())
		for _, r := range rules {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO rules (id, body, updated_us) VALUES (?, ?, ?)`, r.ID, string(b), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadRules returns the applied rules and a version that changes whenever they do.
func (s *Alerts) LoadRules(ctx context.Context) ([]rule.Rule, int64, error) {
	rows, err := s.db.r.QueryContext(ctx, `SELECT body, updated_us FROM rules ORDER BY id`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []rule.Rule
	var version int64
	for rows.Next() {
		var body string
		var up int64
		if err := rows.Scan(&body, &up); err != nil {
			return nil, 0, err
		}
		var r rule.Rule
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			return nil, 0, fmt.Errorf("stored rule: %w", err)
		}
		out = append(out, r)
		version = max(version, up)
	}
	return out, version + int64(len(out)), rows.Err()
}

// SaveEngineState stores the rule engine's snapshot.
func (s *Alerts) SaveEngineState(ctx context.Context, snapshot []byte) error {
	_, err := s.db.w.ExecContext(ctx, `INSERT INTO rule_state (id, version, snapshot, updated_us) VALUES (1, 1, ?, ?)
		ON CONFLICT (id) DO UPDATE SET version = version + 1, snapshot = excluded.snapshot, updated_us = excluded.updated_us`, string(snapshot), us(time.Now()))
	return err
}

// LoadEngineState returns the saved snapshot, or nil.
func (s *Alerts) LoadEngineState(ctx context.Context) ([]byte, error) {
	var snap string
	err := s.db.r.QueryRowContext(ctx, `SELECT snapshot FROM rule_state WHERE id = 1`).Scan(&snap)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return []byte(snap), err
}

// DatastreamLabel implements alert.Labeler: the station (Thing) name and unit symbol.
func (s *Entities) DatastreamLabel(ctx context.Context, id int64) (string, string, error) {
	var name, uom string
	err := s.db.r.QueryRowContext(ctx, `SELECT t.name, d.unit_of_measurement FROM datastreams d JOIN things t ON t.id = d.thing_id WHERE d.id = ?`, id).Scan(&name, &uom)
	if err != nil {
		return "", "", err
	}
	return name, unitSymbol(uom), nil
}

// WithLock runs fn holding the lock name. One process owns a SQLite store (the data directory
// is locked), so an in-process mutex is the whole story.
func (s *Alerts) WithLock(ctx context.Context, name string, fn func(context.Context) error) error {
	m, _ := s.locks.LoadOrStore(name, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	defer mu.Unlock()
	return fn(ctx)
}

// EngineStateVersion returns the version of the saved engine state (0 when none).
func (s *Alerts) EngineStateVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.r.QueryRowContext(ctx, `SELECT version FROM rule_state WHERE id = 1`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}
