package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/warning"
)

// Alerts is the store of alerts, rules and the rule engine's state (the same behaviour as
// store/sqlite's Alerts).
type Alerts struct{ db *DB }

var (
	_ alert.Store   = (*Alerts)(nil)
	_ warning.Store = (*Alerts)(nil)
)

// NewAlerts returns the alert store on db.
func NewAlerts(db *DB) *Alerts { return &Alerts{db: db} }

// write runs fn in one (READ COMMITTED) transaction.
func (s *Alerts) write(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return s.db.tx(ctx, pgx.TxOptions{}, fn)
}

// querier is what reads need of a connection or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// read runs fn in one read-only transaction: an alert and its messages come from one snapshot.
func (s *Alerts) read(ctx context.Context, fn func(q querier) error) error {
	return s.db.tx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error { return fn(tx) })
}

func draftJSON(a *alert.Alert) (*string, error) {
	if a.Draft == nil {
		return nil, nil
	}
	b, err := json.Marshal(a.Draft)
	if err != nil {
		return nil, err
	}
	s := string(b)
	return &s, nil
}

// CreateAlert implements alert.Store.
func (s *Alerts) CreateAlert(ctx context.Context, a *alert.Alert, t alert.Transition) (int64, error) {
	var id int64
	err := s.write(ctx, func(tx pgx.Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO alerts (rule_id, state, status, operational, level, level_name, draft, draft_type, draft_by, created_us, updated_us)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`, a.RuleID, string(a.State), string(a.Status), a.Operational, a.Level, a.LevelName, d,
			nullStr(string(a.DraftType)), nullStr(a.DraftBy), us(a.Created), us(a.Updated)).Scan(&id)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return apperr.E(apperr.Conflict, "rule %s already has an open alert", a.RuleID)
			}
			return err
		}
		t.AlertID = id
		return insertTransition(ctx, tx, t)
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

func insertTransition(ctx context.Context, tx pgx.Tx, t alert.Transition) error {
	_, err := tx.Exec(ctx, `INSERT INTO alert_transitions (alert_id, from_state, to_state, "by", why, at_us, identifier) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		t.AlertID, string(t.From), string(t.To), t.By, t.Why, us(t.At), nullStr(t.Identifier))
	return err
}

// SaveAlert implements alert.Store.
func (s *Alerts) SaveAlert(ctx context.Context, a *alert.Alert, t alert.Transition, msg *alert.Message) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE alerts SET state = $1, level = $2, level_name = $3, draft = $4, draft_type = $5, draft_by = $6, updated_us = $7 WHERE id = $8`,
			string(a.State), a.Level, a.LevelName, d, nullStr(string(a.DraftType)), nullStr(a.DraftBy), us(a.Updated), a.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return apperr.E(apperr.NotFound, "alert %d does not exist", a.ID)
		}
		if msg != nil {
			xml := msg.XML
			if xml == nil {
				xml = []byte{} // NOT NULL, as in SQLite where an empty BLOB is stored
			}
			if _, err := tx.Exec(ctx, `INSERT INTO alert_messages (alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, a.ID, msg.Identifier, msg.Sender, us(msg.Sent), us(msg.Expires), string(msg.MsgType),
				string(msg.Status), msg.Operational, msg.Headline, xml); err != nil {
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
	var draft, dtype, dby *string
	var created, updated int64
	if err := sc.Scan(&a.ID, &a.RuleID, &state, &status, &a.Operational, &a.Level, &a.LevelName, &draft, &dtype, &dby, &created, &updated); err != nil {
		return nil, err
	}
	a.State, a.Status = alert.State(state), cap.Status(status)
	if dtype != nil {
		a.DraftType = cap.MsgType(*dtype)
	}
	if dby != nil {
		a.DraftBy = *dby
	}
	a.Created, a.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
	if draft != nil {
		a.Draft = &cap.Alert{}
		if err := json.Unmarshal([]byte(*draft), a.Draft); err != nil {
			return nil, fmt.Errorf("alert %d: draft: %w", a.ID, err)
		}
	}
	return &a, nil
}

func messages(ctx context.Context, q querier, where string, args ...any) ([]alert.Message, error) {
	rows, err := q.Query(ctx, `SELECT alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml FROM alert_messages `+where, args...)
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

// alertWhere reads one alert (with its messages) selected by where, or nil when none is.
func alertWhere(ctx context.Context, q querier, where string, args ...any) (*alert.Alert, error) {
	a, err := scanAlert(q.QueryRow(ctx, `SELECT `+alertCols+` FROM alerts `+where, args...))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.Issued, err = messages(ctx, q, `WHERE alert_id = $1 ORDER BY id`, a.ID)
	return a, err
}

// GetAlert implements alert.Store.
func (s *Alerts) GetAlert(ctx context.Context, id int64) (*alert.Alert, error) {
	var a *alert.Alert
	err := s.read(ctx, func(q querier) (err error) {
		a, err = alertWhere(ctx, q, `WHERE id = $1`, id)
		return err
	})
	if err == nil && a == nil {
		return nil, apperr.E(apperr.NotFound, "alert %d does not exist", id)
	}
	return a, err
}

// OpenAlert implements alert.Store.
func (s *Alerts) OpenAlert(ctx context.Context, ruleID string) (*alert.Alert, error) {
	var a *alert.Alert
	err := s.read(ctx, func(q querier) (err error) {
		a, err = alertWhere(ctx, q, `WHERE rule_id = $1 AND state IN ('draft', 'issued')`, ruleID)
		return err
	})
	if err == nil && a == nil {
		return nil, apperr.E(apperr.NotFound, "rule %s has no open alert", ruleID)
	}
	return a, err
}

// ListAlerts implements alert.Store (newest first; messages not loaded).
func (s *Alerts) ListAlerts(ctx context.Context, f alert.Filter) ([]*alert.Alert, error) {
	q := `SELECT ` + alertCols + ` FROM alerts WHERE true`
	var args []any
	if f.State != "" {
		args = append(args, string(f.State))
		q += fmt.Sprintf(` AND state = $%d`, len(args))
	}
	if f.RuleID != "" {
		args = append(args, f.RuleID)
		q += fmt.Sprintf(` AND rule_id = $%d`, len(args))
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	args = append(args, limit)
	q += fmt.Sprintf(` ORDER BY updated_us DESC, id DESC LIMIT $%d`, len(args))
	var out []*alert.Alert
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			a, err := scanAlert(rows)
			if err != nil {
				return err
			}
			out = append(out, a)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Transitions implements alert.Store.
func (s *Alerts) Transitions(ctx context.Context, id int64) ([]alert.Transition, error) {
	var out []alert.Transition
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT alert_id, from_state, to_state, "by", why, at_us, coalesce(identifier, '') FROM alert_transitions WHERE alert_id = $1 ORDER BY id`, id)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t alert.Transition
			var from, to string
			var at int64
			if err := rows.Scan(&t.AlertID, &from, &to, &t.By, &t.Why, &at, &t.Identifier); err != nil {
				return err
			}
			t.From, t.To, t.At = alert.State(from), alert.State(to), time.UnixMicro(at).UTC()
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActiveMessages implements alert.Store.
func (s *Alerts) ActiveMessages(ctx context.Context, now time.Time, includeOperational bool) ([]alert.Message, error) {
	q := `WHERE id IN (SELECT max(m.id) FROM alert_messages m JOIN alerts a ON a.id = m.alert_id WHERE a.state = 'issued' GROUP BY m.alert_id)
		AND expires_us > $1`
	if !includeOperational {
		q += ` AND NOT operational`
	}
	var out []alert.Message
	err := s.db.conn(ctx, func(c *pgx.Conn) (err error) {
		out, err = messages(ctx, c, q+` ORDER BY sent_us DESC, id DESC`, us(now))
		return err
	})
	return out, err
}

// MessageByIdentifier implements alert.Store.
func (s *Alerts) MessageByIdentifier(ctx context.Context, identifier string) (*alert.Message, error) {
	var ms []alert.Message
	err := s.db.conn(ctx, func(c *pgx.Conn) (err error) {
		ms, err = messages(ctx, c, `WHERE identifier = $1`, identifier)
		return err
	})
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
	var out []*alert.Alert
	err := s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, `SELECT a.id FROM alerts a WHERE a.state = 'issued'
			AND (SELECT m.expires_us FROM alert_messages m WHERE m.alert_id = a.id ORDER BY m.id DESC LIMIT 1) <= $1 ORDER BY a.id`, us(now))
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := alertWhere(ctx, q, `WHERE id = $1`, id)
			if err != nil {
				return err
			}
			if a != nil {
				out = append(out, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SaveRules replaces the applied rules (all of them, atomically).
func (s *Alerts) SaveRules(ctx context.Context, rules []rule.Rule) error {
	return s.write(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM rules`); err != nil {
			return err
		}
		now := us(time.Now())
		for _, r := range rules {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO rules (id, body, updated_us) VALUES ($1, $2, $3)`, r.ID, string(b), now); err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadRules returns the applied rules and a version that changes whenever they do.
func (s *Alerts) LoadRules(ctx context.Context) ([]rule.Rule, int64, error) {
	var out []rule.Rule
	var version int64
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT body, updated_us FROM rules ORDER BY id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var body string
			var up int64
			if err := rows.Scan(&body, &up); err != nil {
				return err
			}
			var r rule.Rule
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				return fmt.Errorf("stored rule: %w", err)
			}
			out = append(out, r)
			version = max(version, up)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, 0, err
	}
	return out, version + int64(len(out)), nil
}

// SaveEngineState stores the rule engine's snapshot.
func (s *Alerts) SaveEngineState(ctx context.Context, snapshot []byte) error {
	if snapshot == nil {
		snapshot = []byte{}
	}
	return s.db.conn(ctx, func(c *pgx.Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO rule_state (id, version, snapshot, updated_us) VALUES (1, 1, $1, $2)
			ON CONFLICT (id) DO UPDATE SET version = rule_state.version + 1, snapshot = excluded.snapshot, updated_us = excluded.updated_us`,
			snapshot, us(time.Now()))
		return err
	})
}

// LoadEngineState returns the saved snapshot, or nil.
func (s *Alerts) LoadEngineState(ctx context.Context) ([]byte, error) {
	var snap []byte
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT snapshot FROM rule_state WHERE id = 1`).Scan(&snap)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if snap == nil {
		snap = []byte{} // saved, but empty: not "none saved"
	}
	return snap, nil
}

// DatastreamLabel implements alert.Labeler: the station (Thing) name and unit symbol.
func (s *Entities) DatastreamLabel(ctx context.Context, id int64) (string, string, error) {
	var name, uom string
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT t.name, d.unit_of_measurement FROM datastreams d JOIN things t ON t.id = d.thing_id WHERE d.id = $1`, id).Scan(&name, &uom)
	})
	if err != nil {
		return "", "", err
	}
	return name, unitSymbol(uom), nil
}

// WithLock runs fn holding the node-wide lock name (a PostgreSQL advisory lock), so that
// several Rabta processes sharing this database take turns: the warning engine's state and the
// alert life cycle are read, changed and saved by one process at a time.
func (s *Alerts) WithLock(ctx context.Context, name string, fn func(context.Context) error) error {
	return s.db.conn(ctx, func(c *pgx.Conn) error {
		if _, err := c.Exec(ctx, `SELECT pg_advisory_lock(hashtext($1))`, "rabta:"+name); err != nil {
			return fmt.Errorf("lock %s: %w", name, err)
		}
		defer c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtext($1))`, "rabta:"+name)
		return fn(ctx)
	})
}

// EngineStateVersion returns the version of the saved engine state (0 when none), which
// changes with every save, by any process.
func (s *Alerts) EngineStateVersion(ctx context.Context) (int64, error) {
	var v int64
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		err := c.QueryRow(ctx, `SELECT version FROM rule_state WHERE id = 1`).Scan(&v)
		if errors.Is(err, pgx.ErrNoRows) {
			v, err = 0, nil
		}
		return err
	})
	return v, err
}
