package sqlq

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
)

// Dissemination is the store of subscribers, impacts, plans and deliveries over an Engine.
type Dissemination struct{ eng Engine }

var _ dissemination.Store = (*Dissemination)(nil)

// NewDissemination returns the dissemination store over eng.
func NewDissemination(eng Engine) *Dissemination { return &Dissemination{eng: eng} }

// logChanges records that subscribers ids changed (subscriber_changes).
func logChanges(ctx context.Context, eng Engine, tx Tx, at time.Time, ids ...int64) error {
	return eng.CopyRows(ctx, tx, "subscriber_changes", []string{"subscriber_id", "changed_us"}, len(ids), func(i int) []any {
		return []any{ids[i], us(at)}
	})
}

// AddSubscribers implements dissemination.Store.
func (s *Dissemination) AddSubscribers(ctx context.Context, subs []*dissemination.StoredSubscriber) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		for _, sub := range subs {
			err := tx.QueryRow(ctx, `INSERT INTO subscribers (org, kind, sealed_name, language, audiences, place, lat, lon, radius_km, consent_us, consent_source, created_us)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
				sub.Org, sub.Kind, sub.SealedName, sub.Language, strings.Join(sub.Audiences, ","), nullStr(sub.Place), sub.Lat, sub.Lon, sub.RadiusKM,
				us(sub.Consent.At), sub.Consent.Source, us(sub.Created)).Scan(&sub.ID)
			if err != nil {
				return err
			}
			for i := range sub.Contacts {
				c := &sub.Contacts[i]
				if err := tx.QueryRow(ctx, `INSERT INTO subscriber_contacts (subscriber_id, position, channel, sealed, lookup) VALUES (?, ?, ?, ?, ?) RETURNING id`,
					sub.ID, c.Position, string(c.Channel), c.Sealed, c.Lookup).Scan(&c.ID); err != nil {
					return err
				}
			}
		}
		ids := make([]int64, len(subs))
		for i, sub := range subs {
			ids[i] = sub.ID
		}
		return logChanges(ctx, s.eng, tx, time.Now(), ids...)
	})
}

// Duplicate implements dissemination.Store.
func (s *Dissemination) Duplicate(ctx context.Context, org string, sub *dissemination.StoredSubscriber) (int64, error) {
	for _, c := range sub.Contacts {
		q := `SELECT s.id FROM subscriber_contacts c JOIN subscribers s ON s.id = c.subscriber_id WHERE c.lookup = ? AND s.org = ?`
		args := []any{c.Lookup, org}
		if sub.Place != "" {
			q, args = q+` AND s.place = ?`, append(args, sub.Place)
		} else {
			q += ` AND s.place IS NULL`
		}
		if sub.Lat != nil && sub.Lon != nil {
			q, args = q+` AND s.lat = ? AND s.lon = ?`, append(args, *sub.Lat, *sub.Lon)
		}
		var id int64
		err := readRow(ctx, s.eng, q+` LIMIT 1`, args, &id)
		if err == nil {
			return id, nil
		}
		if !errors.Is(err, ErrNoRows) {
			return 0, err
		}
	}
	return 0, nil
}

const subscriberCols = `id, org, kind, sealed_name, language, audiences, place, lat, lon, radius_km, consent_us, consent_source, created_us`

func scanSubscriber(r Row) (*dissemination.StoredSubscriber, error) {
	var sub dissemination.StoredSubscriber
	var aud string
	var place *string
	var radius *float64
	var consent, created int64
	if err := r.Scan(&sub.ID, &sub.Org, &sub.Kind, &sub.SealedName, &sub.Language, &aud, &place, &sub.Lat, &sub.Lon, &radius, &consent, &sub.Consent.Source, &created); err != nil {
		return nil, err
	}
	if aud != "" {
		sub.Audiences = strings.Split(aud, ",")
	}
	if place != nil {
		sub.Place = *place
	}
	if radius != nil {
		sub.RadiusKM = *radius
	}
	sub.Consent.At, sub.Created = time.UnixMicro(consent).UTC(), time.UnixMicro(created).UTC()
	return &sub, nil
}

func (s *Dissemination) contacts(ctx context.Context, tx Tx, subs []*dissemination.StoredSubscriber) error {
	if len(subs) == 0 {
		return nil
	}
	byID := map[int64]*dissemination.StoredSubscriber{}
	ids := make([]string, len(subs))
	for i, sub := range subs {
		byID[sub.ID] = sub
		ids[i] = fmt.Sprint(sub.ID)
	}
	return each(ctx, tx, func(r Rows) error {
		var c dissemination.StoredContact
		var sid int64
		var ch string
		if err := r.Scan(&sid, &c.ID, &c.Position, &ch, &c.Sealed, &c.Lookup); err != nil {
			return err
		}
		c.Channel = channel.Kind(ch)
		byID[sid].Contacts = append(byID[sid].Contacts, c)
		return nil
	}, `SELECT subscriber_id, id, position, channel, sealed, lookup FROM subscriber_contacts WHERE subscriber_id IN (`+strings.Join(ids, ",")+`) ORDER BY subscriber_id, position`)
}

// GetSubscriber implements dissemination.Store.
func (s *Dissemination) GetSubscriber(ctx context.Context, id int64) (*dissemination.StoredSubscriber, error) {
	var sub *dissemination.StoredSubscriber
	err := s.eng.Read(ctx, func(tx Tx) (err error) {
		sub, err = scanSubscriber(tx.QueryRow(ctx, `SELECT `+subscriberCols+` FROM subscribers WHERE id = ?`, id))
		if errors.Is(err, ErrNoRows) {
			return apperr.E(apperr.NotFound, "no subscriber %d", id)
		}
		if err != nil {
			return err
		}
		return s.contacts(ctx, tx, []*dissemination.StoredSubscriber{sub})
	})
	return sub, err
}

// ListSubscribers implements dissemination.Store.
func (s *Dissemination) ListSubscribers(ctx context.Context, org string, after int64, limit int) ([]*dissemination.StoredSubscriber, error) {
	var out []*dissemination.StoredSubscriber
	err := s.eng.Read(ctx, func(tx Tx) error {
		q, args := `SELECT `+subscriberCols+` FROM subscribers WHERE id > ?`, []any{after}
		if org != "" {
			q, args = q+` AND org = ?`, append(args, org)
		}
		if err := each(ctx, tx, func(r Rows) error {
			sub, err := scanSubscriber(r)
			out = append(out, sub)
			return err
		}, q+` ORDER BY id LIMIT ?`, append(args, int64(limit))...); err != nil {
			return err
		}
		return s.contacts(ctx, tx, out)
	})
	return out, err
}

// EraseSubscriber implements dissemination.Store.
func (s *Dissemination) EraseSubscriber(ctx context.Context, id int64, by, reason string, at time.Time) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM subscriber_contacts WHERE subscriber_id = ?`, id); err != nil {
			return err
		}
		n, err := tx.Exec(ctx, `DELETE FROM subscribers WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n == 0 {
			return apperr.E(apperr.NotFound, "no subscriber %d", id)
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET state = 'cancelled', error = 'subscriber erased', updated_us = ? WHERE subscriber_id = ? AND state = 'planned'`, us(at), id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO subscriber_erasures (subscriber_id, "by", reason, at_us) VALUES (?, ?, ?, ?)`, id, by, reason, us(at)); err != nil {
			return err
		}
		return logChanges(ctx, s.eng, tx, time.Now(), id)
	})
}

// RemoveContacts implements dissemination.Store.
func (s *Dissemination) RemoveContacts(ctx context.Context, lookup string, at time.Time) (int, error) {
	var removed int
	err := s.eng.Write(ctx, func(tx Tx) error {
		type ref struct {
			sub int64
			ch  string
			pos int
		}
		var refs []ref
		if err := each(ctx, tx, func(r Rows) error {
			var x ref
			refs = append(refs, x)
			return r.Scan(&refs[len(refs)-1].sub, &refs[len(refs)-1].ch, &refs[len(refs)-1].pos)
		}, `SELECT subscriber_id, channel, position FROM subscriber_contacts WHERE lookup = ?`, lookup); err != nil {
			return err
		}
		for _, x := range refs {
			if _, err := tx.Exec(ctx, `UPDATE deliveries SET state = 'cancelled', error = 'unsubscribed', updated_us = ? WHERE subscriber_id = ? AND channel = ? AND position = ? AND state = 'planned'`,
				us(at), x.sub, x.ch, x.pos); err != nil {
				return err
			}
		}
		n, err := tx.Exec(ctx, `DELETE FROM subscriber_contacts WHERE lookup = ?`, lookup)
		if err != nil {
			return err
		}
		removed = int(n)
		ids := make([]int64, len(refs))
		for i, x := range refs {
			ids[i] = x.sub
		}
		return logChanges(ctx, s.eng, tx, time.Now(), ids...)
	})
	return removed, err
}

// TargetsVersion implements dissemination.Store.
func (s *Dissemination) TargetsVersion(ctx context.Context) (int64, error) {
	var v int64
	err := readRow(ctx, s.eng, `SELECT COALESCE(max(version), 0) FROM subscriber_changes`, nil, &v)
	return v, err
}

// Changes implements dissemination.Store.
func (s *Dissemination) Changes(ctx context.Context, since int64, after time.Time, limit int) ([]int64, int64, bool, error) {
	seen := map[int64]bool{}
	var ids []int64
	version, rows := since, 0
	err := readEach(ctx, s.eng, func(r Rows) error {
		var v, id int64
		if err := r.Scan(&v, &id); err != nil {
			return err
		}
		rows++
		version = max(version, v)
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
		return nil
	}, `SELECT version, subscriber_id FROM subscriber_changes WHERE version > ? OR changed_us > ? ORDER BY version LIMIT ?`, since, us(after), int64(limit+1))
	if err != nil {
		return nil, 0, false, err
	}
	if rows > limit {
		return nil, 0, true, nil
	}
	return ids, version, false, nil
}

// Targets implements dissemination.Store.
func (s *Dissemination) Targets(ctx context.Context, fn func(dissemination.Target) error) error {
	return s.targets(ctx, "", fn)
}

// TargetsOf implements dissemination.Store.
func (s *Dissemination) TargetsOf(ctx context.Context, ids []int64, fn func(dissemination.Target) error) error {
	for start := 0; start < len(ids); start += 500 {
		list := make([]string, 0, 500)
		for _, id := range ids[start:min(start+500, len(ids))] {
			list = append(list, fmt.Sprint(id))
		}
		if err := s.targets(ctx, "WHERE s.id IN ("+strings.Join(list, ",")+")", fn); err != nil {
			return err
		}
	}
	return nil
}

func (s *Dissemination) targets(ctx context.Context, where string, fn func(dissemination.Target) error) error {
	return s.eng.Read(ctx, func(tx Tx) error {
		var cur *dissemination.Target
		flush := func() error {
			if cur == nil {
				return nil
			}
			t := *cur
			cur = nil
			return fn(t)
		}
		err := each(ctx, tx, func(r Rows) error {
			var id int64
			var lang, aud, ch string
			var place *string
			var lat, lon, radius *float64
			var pos int
			if err := r.Scan(&id, &lang, &aud, &place, &lat, &lon, &radius, &ch, &pos); err != nil {
				return err
			}
			if cur == nil || cur.ID != id {
				if err := flush(); err != nil {
					return err
				}
				cur = &dissemination.Target{ID: id, Language: lang, Lat: lat, Lon: lon}
				if aud != "" {
					cur.Audiences = strings.Split(aud, ",")
				}
				if place != nil {
					cur.Place = *place
				}
				if radius != nil {
					cur.RadiusKM = *radius
				}
			}
			cur.Channels = append(cur.Channels, channel.Kind(ch))
			cur.Positions = append(cur.Positions, pos)
			return nil
		}, `SELECT s.id, s.language, s.audiences, s.place, s.lat, s.lon, s.radius_km, c.channel, c.position
			FROM subscribers s JOIN subscriber_contacts c ON c.subscriber_id = s.id `+where+` ORDER BY s.id, c.position`)
		if err != nil {
			return err
		}
		return flush()
	})
}

// SaveImpact implements dissemination.Store.
func (s *Dissemination) SaveImpact(ctx context.Context, alertID int64, identifier string, impact []byte, at time.Time) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		n, err := tx.Exec(ctx, `UPDATE alert_impacts SET impact = ?, computed_us = ? WHERE alert_id = ? AND identifier = ?`, string(impact), us(at), alertID, identifier)
		if err == nil && n == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO alert_impacts (alert_id, identifier, impact, computed_us) VALUES (?, ?, ?, ?)`, alertID, identifier, string(impact), us(at))
		}
		return err
	})
}

// Impacts implements dissemination.Store.
func (s *Dissemination) Impacts(ctx context.Context, alertID int64) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id, imp string
		if err := r.Scan(&id, &imp); err != nil {
			return err
		}
		out[id] = []byte(imp)
		return nil
	}, `SELECT identifier, impact FROM alert_impacts WHERE alert_id = ?`, alertID)
	return out, err
}

// Unplanned implements dissemination.Store.
func (s *Dissemination) Unplanned(ctx context.Context, limit int) ([]alert.Message, error) {
	var out []alert.Message
	err := s.eng.Read(ctx, func(tx Tx) (err error) {
		out, err = messages(ctx, tx, `WHERE NOT EXISTS (SELECT 1 FROM dissemination_plans p WHERE p.identifier = alert_messages.identifier) ORDER BY id LIMIT ?`, int64(limit))
		return err
	})
	return out, err
}

// Recipients implements dissemination.Store.
func (s *Dissemination) Recipients(ctx context.Context, alertID int64) ([]dissemination.Recipient, error) {
	var out []dissemination.Recipient
	err := readEach(ctx, s.eng, func(r Rows) error {
		var rc dissemination.Recipient
		var ch string
		err := r.Scan(&rc.SubscriberID, &ch)
		rc.Channel = channel.Kind(ch)
		out = append(out, rc)
		return err
	}, `SELECT DISTINCT subscriber_id, channel FROM deliveries WHERE alert_id = ? AND state IN ('queued', 'sent', 'delivered') ORDER BY subscriber_id, channel`, alertID)
	return out, err
}

// SavePlan implements dissemination.Store.
func (s *Dissemination) SavePlan(ctx context.Context, p dissemination.Plan, ds []dissemination.Delivery) (bool, error) {
	planned := false
	err := s.eng.Write(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM dissemination_plans WHERE identifier = ?`, p.Identifier).Scan(&one)
		if err == nil {
			return nil // planned already (by this or another process)
		}
		if !errors.Is(err, ErrNoRows) {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO dissemination_plans (identifier, alert_id, msg_type, subscribers, deliveries, planned_us) VALUES (?, ?, ?, ?, ?, ?)`,
			p.Identifier, p.AlertID, p.MsgType, int64(p.Subscribers), int64(len(ds)), us(p.Planned)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE deliveries SET state = 'superseded', updated_us = ? WHERE alert_id = ? AND identifier <> ? AND state = 'planned'`,
			us(p.Planned), p.AlertID, p.Identifier); err != nil {
			return err
		}
		// the plan row, written first in this transaction, makes these the message's first
		// deliveries: nothing can conflict
		now := us(p.Planned)
		cols := []string{"alert_id", "identifier", "subscriber_id", "channel", "position", "state", "next_us", "created_us", "updated_us"}
		if err := s.eng.CopyRows(ctx, tx, "deliveries", cols, len(ds), func(i int) []any {
			d := ds[i]
			next := now
			if !d.Next.IsZero() {
				next = us(d.Next)
			}
			return []any{p.AlertID, p.Identifier, d.SubscriberID, string(d.Channel), int64(d.Position), "planned", next, now, now}
		}); err != nil {
			return err
		}
		planned = true
		return nil
	})
	if err != nil && apperr.KindOf(s.eng.WriteErr(err)) == apperr.Conflict {
		return false, nil // another process planned it at the same moment
	}
	return planned, err
}

// Claim implements dissemination.Store.
func (s *Dissemination) Claim(ctx context.Context, ch channel.Kind, now, lease time.Time, n int) ([]dissemination.Claimed, error) {
	var out []dissemination.Claimed
	err := s.eng.Write(ctx, func(tx Tx) error {
		var ids []string
		if err := each(ctx, tx, func(r Rows) error {
			var c dissemination.Claimed
			var chs string
			var fallback, ambiguous bool
			if err := r.Scan(&c.ID, &c.AlertID, &c.Identifier, &c.SubscriberID, &chs, &c.Position, &fallback, &c.Attempts, &ambiguous); err != nil {
				return err
			}
			c.Channel, c.Fallback, c.Ambiguous, c.State = channel.Kind(chs), fallback, ambiguous, dissemination.Sending
			out = append(out, c)
			ids = append(ids, fmt.Sprint(c.ID))
			return nil
		}, `UPDATE deliveries SET state = 'sending', lease_us = ?, attempts = attempts + 1, updated_us = ?,
				ambiguous = CASE WHEN state = 'sending' THEN TRUE ELSE ambiguous END
			WHERE id IN (SELECT id FROM deliveries WHERE channel = ? AND (state = 'planned' AND next_us <= ? OR state = 'sending' AND lease_us < ?) ORDER BY next_us, id LIMIT ?)
			  AND (state = 'planned' AND next_us <= ? OR state = 'sending' AND lease_us < ?)
			RETURNING id, alert_id, identifier, subscriber_id, channel, position, fallback, attempts, ambiguous`,
			us(lease), us(now), string(ch), us(now), us(now), int64(n), us(now), us(now)); err != nil {
			return err
		}
		if len(out) == 0 {
			return nil
		}
		idx := map[[3]int64]int{}
		for i, c := range out {
			idx[[3]int64{c.SubscriberID, int64(c.Position), 0}] = i
		}
		return each(ctx, tx, func(r Rows) error {
			var sid, cid int64
			var pos int
			var lang string
			var sealed []byte
			if err := r.Scan(&sid, &pos, &cid, &sealed, &lang); err != nil {
				return err
			}
			if i, ok := idx[[3]int64{sid, int64(pos), 0}]; ok {
				out[i].ContactID, out[i].Sealed, out[i].Language = cid, sealed, lang
			}
			return nil
		}, `SELECT d.subscriber_id, d.position, c.id, c.sealed, s.language FROM deliveries d
			JOIN subscriber_contacts c ON c.subscriber_id = d.subscriber_id AND c.position = d.position AND c.channel = d.channel
			JOIN subscribers s ON s.id = d.subscriber_id
			WHERE d.id IN (`+strings.Join(ids, ",")+`)`)
	})
	return out, err
}

// Record implements dissemination.Store.
func (s *Dissemination) Record(ctx context.Context, id int64, o dissemination.Outcome) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		var next any
		if o.State == dissemination.Planned {
			next = us(o.Next)
		}
		n, err := tx.Exec(ctx, `UPDATE deliveries SET state = ?, next_us = COALESCE(?, next_us), lease_us = NULL, gateway_id = COALESCE(?, gateway_id),
				parts = COALESCE(?, parts), error = ?, updated_us = ? WHERE id = ? AND state = 'sending'`,
			string(o.State), next, nullStr(o.GatewayID), nullInt(o.Parts), nullStr(o.Error), us(o.At), id)
		if err != nil || n == 0 || o.State != dissemination.Failed {
			return err
		}
		return fallback(ctx, tx, id, o.At)
	})
}

// fallback plans, after delivery id failed for good, the subscriber's first contact (by
// preference) on a channel not yet planned for the same message: an e-mail address before
// the first SMS number is still tried when SMS was all an sms-only place planned.
func fallback(ctx context.Context, tx Tx, id int64, at time.Time) error {
	var alertID, sub int64
	var ident string
	if err := tx.QueryRow(ctx, `SELECT alert_id, identifier, subscriber_id FROM deliveries WHERE id = ?`, id).Scan(&alertID, &ident, &sub); err != nil {
		return err
	}
	var ch string
	var next int
	err := tx.QueryRow(ctx, `SELECT c.channel, c.position FROM subscriber_contacts c WHERE c.subscriber_id = ?
			AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.identifier = ? AND d.subscriber_id = c.subscriber_id AND d.channel = c.channel)
			ORDER BY c.position LIMIT 1`, sub, ident).Scan(&ch, &next)
	if errors.Is(err, ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO deliveries (alert_id, identifier, subscriber_id, channel, position, fallback, state, next_us, created_us, updated_us)
		VALUES (?, ?, ?, ?, ?, ?, 'planned', ?, ?, ?) ON CONFLICT DO NOTHING`, alertID, ident, sub, ch, int64(next), true, us(at), us(at), us(at))
	return err
}

// Report implements dissemination.Store.
func (s *Dissemination) Report(ctx context.Context, r channel.Report) (bool, error) {
	var state string
	switch {
	case r.Delivered:
		state = string(dissemination.Delivered)
	case r.Failed:
		state = string(dissemination.Failed)
	case r.Submitted:
		state = string(dissemination.Sent)
	default:
		return true, nil // an intermediate report (buffered): nothing to record
	}
	var n int64
	err := s.eng.Write(ctx, func(tx Tx) (err error) {
		// a report never moves a delivery backwards: delivered and failed are final; a
		// report may arrive before the send's own outcome is recorded (sending).
		where, arg := `id = ?`, any(r.DeliveryID)
		if r.DeliveryID == 0 {
			where, arg = `gateway_id = ?`, r.GatewayID
		}
		from := `('sending', 'queued', 'sent')`
		if state == string(dissemination.Sent) {
			from = `('sending', 'queued')`
		}
		n, err = tx.Exec(ctx, `UPDATE deliveries SET state = ?, error = COALESCE(?, error), updated_us = ?, lease_us = NULL WHERE `+where+` AND state IN `+from,
			state, nullStr(failure(r)), us(r.At), arg)
		return err
	})
	return n > 0, err
}

func failure(r channel.Report) string {
	if r.Failed {
		return "delivery report: " + r.Status
	}
	return ""
}

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return int64(n)
}

// Progress implements dissemination.Store.
func (s *Dissemination) Progress(ctx context.Context, alertID int64) ([]dissemination.Count, error) {
	return s.counts(ctx, `WHERE alert_id = ? GROUP BY identifier, channel, state ORDER BY identifier, channel, state`, alertID)
}

// Totals implements dissemination.Store.
func (s *Dissemination) Totals(ctx context.Context) ([]dissemination.Count, error) {
	return s.counts(ctx, `GROUP BY channel, state ORDER BY channel, state`)
}

func (s *Dissemination) counts(ctx context.Context, where string, args ...any) ([]dissemination.Count, error) {
	var out []dissemination.Count
	ident := "identifier"
	if !strings.Contains(where, "identifier") {
		ident = "''"
	}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var c dissemination.Count
		var ch, st string
		if err := r.Scan(&c.Identifier, &ch, &st, &c.N, &c.Ambiguous); err != nil {
			return err
		}
		c.Channel, c.State = channel.Kind(ch), dissemination.State(st)
		out = append(out, c)
		return nil
	}, `SELECT `+ident+`, channel, state, count(*), sum(CASE WHEN ambiguous THEN 1 ELSE 0 END) FROM deliveries `+where, args...)
	return out, err
}
