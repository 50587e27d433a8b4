package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/warning"
)

// Alerts is the store of alerts, rules and the rule engine's state over an Engine.
type Alerts struct{ eng Engine }

var (
	_ alert.Store   = (*Alerts)(nil)
	_ warning.Store = (*Alerts)(nil)
)

// NewAlerts returns the alert store over eng.
func NewAlerts(eng Engine) *Alerts { return &Alerts{eng: eng} }

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

// authorsJSON is the draft's authors as stored (NULL without a draft or authors).
func authorsJSON(a *alert.Alert) (any, error) {
	if a.Draft == nil || len(a.Authors) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(a.Authors)
	return string(b), err
}

// orgOr returns org, or the node's own organisation for "".
func orgOr(org string) string {
	if org == "" {
		return auth.NodeOrganisation
	}
	return org
}

// CreateAlert implements alert.Store.
func (s *Alerts) CreateAlert(ctx context.Context, a *alert.Alert, t alert.Transition) (int64, error) {
	var id int64
	err := s.eng.Write(ctx, func(tx Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		au, err := authorsJSON(a)
		if err != nil {
			return err
		}
		// nobody outside its organisation reads an alert before it issues: no level until then
		a.Shown = shownAfter(a, t, alert.Shown{Level: -1, Updated: a.Updated})
		err = tx.QueryRow(ctx, `INSERT INTO alerts (rule_id, organisation, state, status, operational, level, level_name, draft, draft_type, draft_by, draft_authors, created_us, updated_us,
			shown_level, shown_level_name, shown_updated_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, a.RuleID, orgOr(a.Organisation), string(a.State), string(a.Status), a.Operational, a.Level, a.LevelName, d,
			nullStr(string(a.DraftType)), nullStr(a.DraftBy), au, us(a.Created), us(a.Updated), a.Shown.Level, a.Shown.LevelName, us(a.Shown.Updated)).Scan(&id)
		if err != nil {
			if apperr.KindOf(s.eng.WriteErr(err)) == apperr.Conflict {
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

func insertTransition(ctx context.Context, tx Tx, t alert.Transition) error {
	_, err := tx.Exec(ctx, `INSERT INTO alert_transitions (alert_id, from_state, to_state, "by", why, at_us, identifier) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		t.AlertID, string(t.From), string(t.To), t.By, t.Why, us(t.At), nullStr(t.Identifier))
	return err
}

// SaveAlert implements alert.Store.
func (s *Alerts) SaveAlert(ctx context.Context, a *alert.Alert, t alert.Transition, msg *alert.Message) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		d, err := draftJSON(a)
		if err != nil {
			return err
		}
		au, err := authorsJSON(a)
		if err != nil {
			return err
		}
		set := `UPDATE alerts SET state = ?, level = ?, level_name = ?, draft = ?, draft_type = ?, draft_by = ?, draft_authors = ?, updated_us = ?`
		args := []any{string(a.State), a.Level, a.LevelName, d, nullStr(string(a.DraftType)), nullStr(a.DraftBy), au, us(a.Updated)}
		if alert.Visible(t) {
			a.Shown = shownAfter(a, t, a.Shown)
			set += `, shown_level = ?, shown_level_name = ?, shown_updated_us = ?`
			args = append(args, a.Shown.Level, a.Shown.LevelName, us(a.Shown.Updated))
		}
		n, err := tx.Exec(ctx, set+` WHERE id = ?`, append(args, a.ID)...)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "alert %d does not exist", a.ID)
		}
		if msg != nil {
			xml := msg.XML
			if xml == nil {
				xml = []byte{} // NOT NULL: an empty document
			}
			if _, err := tx.Exec(ctx, `INSERT INTO alert_messages (alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, msg.Identifier, msg.Sender, us(msg.Sent), us(msg.Expires), string(msg.MsgType),
				string(msg.Status), msg.Operational, msg.Headline, xml); err != nil {
				return fmt.Errorf("store message %s: %w", msg.Identifier, err)
			}
		}
		t.AlertID = a.ID
		return insertTransition(ctx, tx, t)
	})
}

// shownAfter is what readers outside a's organisation see after transition t (alert.Shown):
// a's level and time when t issued a message; when it is another step they read (an
// expiry), the level they saw before (a draft may still wait, with its own level) and t's
// time; else what they saw before (was).
func shownAfter(a *alert.Alert, t alert.Transition, was alert.Shown) alert.Shown {
	switch {
	case t.Identifier != "":
		return alert.Shown{Level: a.Level, LevelName: a.LevelName, Updated: a.Updated}
	case alert.Visible(t):
		was.Updated = a.Updated
		return was
	}
	return was
}

const alertCols = `id, rule_id, organisation, state, status, operational, level, level_name, draft, draft_type, draft_by, draft_authors, created_us, updated_us,
	shown_level, shown_level_name, shown_updated_us`

func scanAlert(sc Row) (*alert.Alert, error) {
	var a alert.Alert
	var state, status string
	var draft, dtype, dby, authors *string
	var created, updated, shown int64
	if err := sc.Scan(&a.ID, &a.RuleID, &a.Organisation, &state, &status, &a.Operational, &a.Level, &a.LevelName, &draft, &dtype, &dby, &authors, &created, &updated,
		&a.Shown.Level, &a.Shown.LevelName, &shown); err != nil {
		return nil, err
	}
	if authors != nil {
		if err := json.Unmarshal([]byte(*authors), &a.Authors); err != nil {
			return nil, fmt.Errorf("alert %d: draft authors: %w", a.ID, err)
		}
	}
	a.State, a.Status = alert.State(state), cap.Status(status)
	if dtype != nil {
		a.DraftType = cap.MsgType(*dtype)
	}
	if dby != nil {
		a.DraftBy = *dby
	}
	a.Created, a.Updated, a.Shown.Updated = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC(), time.UnixMicro(shown).UTC()
	if draft != nil {
		a.Draft = &cap.Alert{}
		if err := json.Unmarshal([]byte(*draft), a.Draft); err != nil {
			return nil, fmt.Errorf("alert %d: draft: %w", a.ID, err)
		}
	}
	return &a, nil
}

func messages(ctx context.Context, tx Tx, where string, args ...any) ([]alert.Message, error) {
	var out []alert.Message
	err := each(ctx, tx, func(r Rows) error {
		var m alert.Message
		var sent, exp int64
		var mt, st string
		if err := r.Scan(&m.AlertID, &m.Identifier, &m.Sender, &sent, &exp, &mt, &st, &m.Operational, &m.Headline, &m.XML); err != nil {
			return err
		}
		m.Sent, m.Expires = time.UnixMicro(sent).UTC(), time.UnixMicro(exp).UTC()
		m.MsgType, m.Status = cap.MsgType(mt), cap.Status(st)
		out = append(out, m)
		return nil
	}, `SELECT alert_id, identifier, sender, sent_us, expires_us, msg_type, status, operational, headline, xml FROM alert_messages `+where, args...)
	return out, err
}

// alertWhere reads one alert (with its messages) selected by where, or nil when none is.
func alertWhere(ctx context.Context, tx Tx, where string, args ...any) (*alert.Alert, error) {
	a, err := scanAlert(tx.QueryRow(ctx, `SELECT `+alertCols+` FROM alerts `+where, args...))
	if errors.Is(err, ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	a.Issued, err = messages(ctx, tx, `WHERE alert_id = ? ORDER BY id`, a.ID)
	return a, err
}

// oneAlert reads one alert and its messages from one snapshot; notFound when there is none.
func (s *Alerts) oneAlert(ctx context.Context, notFound error, where string, args ...any) (*alert.Alert, error) {
	var a *alert.Alert
	err := s.eng.Read(ctx, func(tx Tx) (err error) {
		a, err = alertWhere(ctx, tx, where, args...)
		return err
	})
	if err == nil && a == nil {
		return nil, notFound
	}
	return a, err
}

// GetAlert implements alert.Store.
func (s *Alerts) GetAlert(ctx context.Context, id int64) (*alert.Alert, error) {
	return s.oneAlert(ctx, apperr.E(apperr.NotFound, "alert %d does not exist", id), `WHERE id = ?`, id)
}

// OpenAlert implements alert.Store.
func (s *Alerts) OpenAlert(ctx context.Context, ruleID string) (*alert.Alert, error) {
	return s.oneAlert(ctx, apperr.E(apperr.NotFound, "rule %s has no open alert", ruleID), `WHERE rule_id = ? AND state IN ('draft', 'issued')`, ruleID)
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
	if r := f.Reader; r != nil && !r.All { // alert.Reader.Hides, before the limit counts
		q += ` AND (organisation = ? OR EXISTS (SELECT 1 FROM alert_messages m WHERE m.alert_id = alerts.id))`
		args = append(args, r.Org)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	if r := f.Reader; r != nil && !r.All { // newest first as the reader sees them (alert.Shown)
		q += ` ORDER BY CASE WHEN organisation = ? THEN updated_us ELSE shown_updated_us END DESC, id DESC LIMIT ?`
		args = append(args, r.Org)
	} else {
		q += ` ORDER BY updated_us DESC, id DESC LIMIT ?`
	}
	args = append(args, limit)
	var out []*alert.Alert
	err := readEach(ctx, s.eng, func(r Rows) error {
		a, err := scanAlert(r)
		if err == nil {
			out = append(out, a)
		}
		return err
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Transitions implements alert.Store.
func (s *Alerts) Transitions(ctx context.Context, id int64) ([]alert.Transition, error) {
	var out []alert.Transition
	err := readEach(ctx, s.eng, func(r Rows) error {
		var t alert.Transition
		var from, to string
		var at int64
		if err := r.Scan(&t.AlertID, &from, &to, &t.By, &t.Why, &at, &t.Identifier); err != nil {
			return err
		}
		t.From, t.To, t.At = alert.State(from), alert.State(to), time.UnixMicro(at).UTC()
		out = append(out, t)
		return nil
	}, `SELECT alert_id, from_state, to_state, "by", why, at_us, coalesce(identifier, '') FROM alert_transitions WHERE alert_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ActiveMessages implements alert.Store.
func (s *Alerts) ActiveMessages(ctx context.Context, now time.Time, includeOperational bool) ([]alert.Message, error) {
	q := `WHERE id IN (SELECT max(m.id) FROM alert_messages m JOIN alerts a ON a.id = m.alert_id WHERE a.state = 'issued' GROUP BY m.alert_id)
		AND expires_us > ?`
	if !includeOperational {
		q += ` AND NOT operational`
	}
	var out []alert.Message
	err := s.eng.Do(ctx, func(tx Tx) (err error) {
		out, err = messages(ctx, tx, q+` ORDER BY sent_us DESC, id DESC`, us(now))
		return err
	})
	return out, err
}

// Feed implements alert.Store: the rule of what the feed shows and how it is dated is
// alert.Store.Feed's, here in SQL, read from one snapshot.
func (s *Alerts) Feed(ctx context.Context, now time.Time, keep time.Duration) ([]alert.Message, time.Time, error) {
	if keep <= 0 {
		keep = alert.DefaultFeedKeep
	}
	n, k := us(now), keep.Microseconds()
	since := n - k // a Cancel or Update sent after since is still on the feed
	// the candidates, each found by an index: (1) the latest message of each issued alert,
	// (2) messages sent after since, (3) the message each of those replaced; then the rule
	const where = `WHERE id IN (
			SELECT max(m.id) FROM alert_messages m JOIN alerts a ON a.id = m.alert_id WHERE a.state = 'issued' GROUP BY m.alert_id
			UNION SELECT id FROM alert_messages WHERE sent_us > ?
			UNION SELECT (SELECT max(p.id) FROM alert_messages p WHERE p.alert_id = r.alert_id AND p.id < r.id) FROM alert_messages r WHERE r.sent_us > ?)
		AND NOT operational AND sent_us <= ? AND (
		(id = (SELECT max(l.id) FROM alert_messages l WHERE l.alert_id = alert_messages.alert_id) AND msg_type <> 'Cancel' AND expires_us > ?
			AND EXISTS (SELECT 1 FROM alerts a WHERE a.id = alert_messages.alert_id AND a.state = 'issued'))
		OR (msg_type IN ('Update', 'Cancel') AND sent_us > ?)
		OR EXISTS (SELECT 1 FROM alert_messages r WHERE r.id = (SELECT min(x.id) FROM alert_messages x WHERE x.alert_id = alert_messages.alert_id AND x.id > alert_messages.id)
			AND r.sent_us > ?))
		ORDER BY sent_us DESC, id DESC`
	// every instant at or before now when the feed's content could have changed (none is
	// ever removed); a feed that never had an entry dates from the store's creation. Each
	// maximum is read backwards along an index, to the first public message.
	const high = `SELECT coalesce((SELECT max(v) FROM (
		SELECT (SELECT sent_us FROM alert_messages WHERE sent_us <= ? AND NOT operational ORDER BY sent_us DESC LIMIT 1) AS v
		UNION ALL SELECT (SELECT expires_us FROM alert_messages WHERE expires_us <= ? AND NOT operational ORDER BY expires_us DESC LIMIT 1)
		UNION ALL SELECT (SELECT sent_us FROM alert_messages WHERE sent_us <= ? AND NOT operational AND msg_type IN ('Update', 'Cancel') ORDER BY sent_us DESC LIMIT 1) + ?) AS events),
		(SELECT min(applied_at) * 1000000 FROM schema_migrations), 0)`
	var out []alert.Message
	var updated int64
	err := s.eng.Read(ctx, func(tx Tx) (err error) {
		if out, err = messages(ctx, tx, where, since, since, n, n, since, since); err != nil {
			return err
		}
		return tx.QueryRow(ctx, high, n, n, since, k).Scan(&updated)
	})
	if err != nil {
		return nil, time.Time{}, err
	}
	return out, time.UnixMicro(updated).UTC(), nil
}

// MessageByIdentifier implements alert.Store.
func (s *Alerts) MessageByIdentifier(ctx context.Context, identifier string) (*alert.Message, error) {
	var ms []alert.Message
	err := s.eng.Do(ctx, func(tx Tx) (err error) {
		ms, err = messages(ctx, tx, `WHERE identifier = ?`, identifier)
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
	err := s.eng.Read(ctx, func(tx Tx) error {
		var ids []int64
		err := each(ctx, tx, func(r Rows) error {
			var id int64
			err := r.Scan(&id)
			ids = append(ids, id)
			return err
		}, `SELECT a.id FROM alerts a WHERE a.state = 'issued'
			AND (SELECT m.expires_us FROM alert_messages m WHERE m.alert_id = a.id ORDER BY m.id DESC LIMIT 1) <= ? ORDER BY a.id`, us(now))
		if err != nil {
			return err
		}
		for _, id := range ids {
			a, err := alertWhere(ctx, tx, `WHERE id = ?`, id)
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

// SaveRules implements warning.Store: it replaces organisation org's rules (all of them,
// atomically) with rules, and records a change by by for each rule created, changed (its
// stored body differs) or removed. Another organisation's rules stay as they are; a rule id
// that another organisation's rule has is a Conflict, and nothing is saved.
func (s *Alerts) SaveRules(ctx context.Context, org, by string, rules []rule.Rule) error {
	org = orgOr(org)
	return s.eng.Write(ctx, func(tx Tx) error {
		type stored struct{ org, body string }
		old := map[string]stored{}
		err := each(ctx, tx, func(r Rows) error {
			var id string
			var st stored
			if err := r.Scan(&id, &st.org, &st.body); err != nil {
				return err
			}
			old[id] = st
			return nil
		}, `SELECT id, organisation, body FROM rules`)
		if err != nil {
			return err
		}
		now := us(time.Now()) // the wall clock, not the store's: the rules' version must change with every save
		change := func(id, kind string) error {
			_, err := tx.Exec(ctx, `INSERT INTO rule_changes (rule_id, organisation, "by", change, at_us) VALUES (?, ?, ?, ?, ?)`, id, org, by, kind, now)
			return err
		}
		keep := map[string]bool{}
		for _, r := range rules {
			if keep[r.ID] {
				return apperr.E(apperr.Invalid, "rule id %q is used twice", r.ID)
			}
			keep[r.ID] = true
			o, had := old[r.ID]
			if had && o.org != org {
				return apperr.E(apperr.Conflict, "rule id %q is a rule of organisation %q; its rules are not replaced here", r.ID, o.org)
			}
		}
		for id, o := range old {
			if o.org != org || keep[id] {
				continue
			}
			if _, err := tx.Exec(ctx, `DELETE FROM rules WHERE id = ?`, id); err != nil {
				return err
			}
			if err := change(id, "removed"); err != nil {
				return err
			}
		}
		for _, r := range rules {
			b, err := json.Marshal(r)
			if err != nil {
				return err
			}
			o, had := old[r.ID]
			switch {
			case !had:
				if _, err := tx.Exec(ctx, `INSERT INTO rules (id, organisation, body, updated_us) VALUES (?, ?, ?, ?)`, r.ID, org, string(b), now); err != nil {
					return err
				}
				err = change(r.ID, "created")
			case o.body != string(b):
				if _, err := tx.Exec(ctx, `UPDATE rules SET body = ?, updated_us = ? WHERE id = ?`, string(b), now, r.ID); err != nil {
					return err
				}
				err = change(r.ID, "changed")
			default: // the same rule again: not a change, and no author
				_, err = tx.Exec(ctx, `UPDATE rules SET updated_us = ? WHERE id = ?`, now, r.ID)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// LoadRules returns the applied rules of every organisation, each with its Organisation, and
// a version that changes whenever they do.
func (s *Alerts) LoadRules(ctx context.Context) ([]rule.Rule, int64, error) {
	var out []rule.Rule
	var version int64
	err := readEach(ctx, s.eng, func(r Rows) error {
		var body, org string
		var up int64
		if err := r.Scan(&body, &org, &up); err != nil {
			return err
		}
		var ru rule.Rule
		if err := json.Unmarshal([]byte(body), &ru); err != nil {
			return fmt.Errorf("stored rule: %w", err)
		}
		ru.Organisation = org
		out = append(out, ru)
		version = max(version, up)
		return nil
	}, `SELECT body, organisation, updated_us FROM rules ORDER BY id`)
	if err != nil {
		return nil, 0, err
	}
	return out, version + int64(len(out)), nil
}

// RulesVersion implements warning.Store: LoadRules' version (the newest change's time plus the
// number of rules), read with one aggregate instead of every rule's body.
func (s *Alerts) RulesVersion(ctx context.Context) (int64, error) {
	var v int64
	err := readRow(ctx, s.eng, `SELECT coalesce(max(updated_us), 0) + count(*) FROM rules`, nil, &v)
	return v, err
}

// RuleChanges implements warning.Store: the recorded changes of rule id, oldest first.
func (s *Alerts) RuleChanges(ctx context.Context, id string) ([]warning.Change, error) {
	out := []warning.Change{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var c warning.Change
		var at int64
		if err := r.Scan(&c.RuleID, &c.Organisation, &c.By, &c.Change, &at); err != nil {
			return err
		}
		c.At = time.UnixMicro(at).UTC()
		out = append(out, c)
		return nil
	}, `SELECT rule_id, organisation, "by", change, at_us FROM rule_changes WHERE rule_id = ? ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RuleAuthors implements alert.Store: everyone who ever created or changed rule id, each once,
// in the order of their first change.
func (s *Alerts) RuleAuthors(ctx context.Context, id string) ([]string, error) {
	var out []string
	err := readEach(ctx, s.eng, func(r Rows) error {
		var by string
		if err := r.Scan(&by); err != nil {
			return err
		}
		out = append(out, by)
		return nil
	}, `SELECT "by" FROM rule_changes WHERE rule_id = ? AND change <> 'removed' GROUP BY "by" ORDER BY min(id)`, id)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SaveEngineState stores the rule engine's snapshot; the version goes up by one with every
// save, by any process.
func (s *Alerts) SaveEngineState(ctx context.Context, snapshot []byte) error {
	if snapshot == nil {
		snapshot = []byte{}
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO rule_state (id, version, snapshot, updated_us) VALUES (1, 1, ?, ?)
			ON CONFLICT (id) DO UPDATE SET version = rule_state.version + 1, snapshot = excluded.snapshot, updated_us = excluded.updated_us`,
			snapshot, us(time.Now()))
		return err
	})
}

// LoadEngineState returns the saved snapshot, or nil when none was saved.
func (s *Alerts) LoadEngineState(ctx context.Context) ([]byte, error) {
	var snap []byte
	err := readRow(ctx, s.eng, `SELECT snapshot FROM rule_state WHERE id = 1`, nil, &snap)
	if errors.Is(err, ErrNoRows) {
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

// WithLock runs fn holding the node-wide lock name, so that several processes of one node
// take turns: the warning engine's state and the alert life cycle are read, changed and saved
// by one process at a time.
func (s *Alerts) WithLock(ctx context.Context, name string, fn func(context.Context) error) error {
	return s.eng.Lock(ctx, name, fn)
}

// EngineStateVersion returns the version of the saved engine state (0 when none).
func (s *Alerts) EngineStateVersion(ctx context.Context) (int64, error) {
	var v int64
	err := readRow(ctx, s.eng, `SELECT version FROM rule_state WHERE id = 1`, nil, &v)
	if errors.Is(err, ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// DatastreamRemote implements warning.RemoteDatastreams: whether Datastream id was received
// from a partner (fed_remote).
func (s *Alerts) DatastreamRemote(ctx context.Context, id int64) (bool, error) {
	return isRemote(ctx, s.eng, id) // federation.go
}

// DatastreamOwner returns the organisation owning Datastream id ("" for one made before
// organisations were recorded); NotFound when there is none.
func (s *Alerts) DatastreamOwner(ctx context.Context, id int64) (org string, err error) {
	err = s.eng.Read(ctx, func(tx Tx) error {
		org, err = ownerOf(ctx, tx, sensing.Datastreams, id)
		return err
	})
	return org, err
}
