package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/twoway"
)

// TwoWay records two-way SMS (tables sms_messages and sms_numbers) and changes the language
// of SMS subscribers.
type TwoWay struct{ eng Engine }

var _ twoway.Store = (*TwoWay)(nil)

// NewTwoWay returns the two-way SMS store over eng.
func NewTwoWay(eng Engine) *TwoWay { return &TwoWay{eng: eng} }

// Record implements twoway.Store.
func (s *TwoWay) Record(ctx context.Context, m *twoway.Message) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO sms_messages (at_us, direction, lookup, gateway, verb, sealed, outcome) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			us(m.At), m.Direction, m.Lookup, m.Gateway, string(m.Verb), m.Sealed, m.Outcome).Scan(&m.ID); err != nil {
			return fmt.Errorf("record sms: %w", err)
		}
		return nil
	})
}

// SetLanguage implements twoway.Store: in one transaction it remembers the number's
// language and changes the subscribers with an SMS contact of that lookup key (recorded as a
// change, so targeting sees it).
func (s *TwoWay) SetLanguage(ctx context.Context, lookup, lang string, at time.Time) (int, error) {
	var n int
	err := s.eng.Write(ctx, func(tx Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO sms_numbers (lookup, language, updated_us) VALUES (?, ?, ?)
			ON CONFLICT (lookup) DO UPDATE SET language = excluded.language, updated_us = excluded.updated_us`, lookup, lang, us(at)); err != nil {
			return err
		}
		var ids []int64
		if err := each(ctx, tx, func(r Rows) error {
			var id int64
			if err := r.Scan(&id); err != nil {
				return err
			}
			ids = append(ids, id)
			return nil
		}, `SELECT DISTINCT subscriber_id FROM subscriber_contacts WHERE lookup = ? AND channel = 'sms'`, lookup); err != nil {
			return err
		}
		for _, id := range ids {
			if _, err := tx.Exec(ctx, `UPDATE subscribers SET language = ? WHERE id = ?`, lang, id); err != nil {
				return err
			}
		}
		n = len(ids)
		return logChanges(ctx, s.eng, tx, at, ids...)
	})
	return n, err
}

// Language implements twoway.Store.
func (s *TwoWay) Language(ctx context.Context, lookup string) (string, error) {
	var l string
	err := readRow(ctx, s.eng, `SELECT language FROM sms_numbers WHERE lookup = ?`, []any{lookup}, &l)
	if errors.Is(err, ErrNoRows) {
		return "", nil
	}
	return l, err
}

// Messages returns the recorded messages of lookup, oldest first (for tests and audits).
func (s *TwoWay) Messages(ctx context.Context, lookup string) ([]twoway.Message, error) {
	var out []twoway.Message
	err := readEach(ctx, s.eng, func(r Rows) error {
		var m twoway.Message
		var at int64
		var verb string
		if err := r.Scan(&m.ID, &at, &m.Direction, &m.Lookup, &m.Gateway, &verb, &m.Sealed, &m.Outcome); err != nil {
			return err
		}
		m.At, m.Verb = time.UnixMicro(at).UTC(), twoway.Verb(verb)
		out = append(out, m)
		return nil
	}, `SELECT id, at_us, direction, lookup, gateway, verb, sealed, outcome FROM sms_messages WHERE lookup = ? ORDER BY id`, lookup)
	return out, err
}

// Gauges returns, for each of ids that exists, the station's name, the unit symbol, the
// Thing's first Location when it is a GeoJSON Point, and the latest n numeric readings
// (newest first; observations without a number are skipped).
func (s *TwoWay) Gauges(ctx context.Context, ids []int64, n int) ([]twoway.Gauge, error) {
	var out []twoway.Gauge
	for _, id := range ids {
		g := twoway.Gauge{Datastream: id}
		var uom string
		var loc *string
		err := readRow(ctx, s.eng, `SELECT t.name, d.unit_of_measurement,
			(SELECT l.location FROM thing_locations tl JOIN locations l ON l.id = tl.location_id WHERE tl.thing_id = t.id ORDER BY l.id LIMIT 1)
			FROM datastreams d JOIN things t ON t.id = d.thing_id WHERE d.id = ?`, []any{id}, &g.Name, &uom, &loc)
		if errors.Is(err, ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		g.Unit = unitSymbol(uom)
		if loc != nil {
			var p struct {
				Type        string    `json:"type"`
				Coordinates []float64 `json:"coordinates"`
			}
			if json.Unmarshal([]byte(*loc), &p) == nil && p.Type == "Point" && len(p.Coordinates) >= 2 {
				g.Lon, g.Lat = p.Coordinates[0], p.Coordinates[1]
			}
		}
		if err := readEach(ctx, s.eng, func(r Rows) error {
			var t int64
			var v float64
			if err := r.Scan(&t, &v); err != nil {
				return err
			}
			g.Recent = append(g.Recent, sensing.Point{T: time.UnixMicro(t).UTC(), V: v})
			return nil
		}, `SELECT phen_start, result_num FROM observations WHERE datastream_id = ? AND result_num IS NOT NULL ORDER BY phen_start DESC LIMIT ?`, id, n); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, nil
}
