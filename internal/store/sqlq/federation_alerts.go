package sqlq

import (
	"context"
	"errors"
	"time"
)

// SharedAlert is one issued CAP message the alert exporter considers (alert_messages).
type SharedAlert struct {
	ID, Alert         int64 // the message's row id (the cursor), its alert (thread)
	Identifier        string
	Sent, Expires     time.Time
	XML               []byte // signed CAP XML, as issued
	AlertOrganisation string
}

// AlertCursor returns agreement id's alert cursor: the last alert_messages id it considered.
func (s *Federation) AlertCursor(ctx context.Context, id int64) (int64, error) {
	var c int64
	err := readRow(ctx, s.eng, `SELECT alert_cursor FROM fed_agreements WHERE id = ?`, []any{id}, &c)
	return c, err
}

// SetAlertCursor saves agreement id's alert cursor.
func (s *Federation) SetAlertCursor(ctx context.Context, id, cursor int64) error {
	return s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `UPDATE fed_agreements SET alert_cursor = ? WHERE id = ?`, cursor, id)
		return err
	})
}

// AlertsSince returns up to limit issued CAP messages after message id after of the alerts
// organisation org owns, public ones only (never operational), in the order they were issued.
func (s *Federation) AlertsSince(ctx context.Context, org string, after int64, limit int) ([]SharedAlert, error) {
	var out []SharedAlert
	err := readEach(ctx, s.eng, func(r Rows) error {
		var m SharedAlert
		var sent, exp int64
		if err := r.Scan(&m.ID, &m.Alert, &m.Identifier, &sent, &exp, &m.XML, &m.AlertOrganisation); err != nil {
			return err
		}
		m.Sent, m.Expires = fromUS(sent), fromUS(exp)
		out = append(out, m)
		return nil
	}, `SELECT m.id, m.alert_id, m.identifier, m.sent_us, m.expires_us, m.xml, a.organisation FROM alert_messages m JOIN alerts a ON a.id = m.alert_id
		WHERE m.id > ? AND a.organisation = ? AND NOT m.operational ORDER BY m.id LIMIT ?`, after, org, limit)
	return out, err
}

// ReceivedAlert is one CAP message received from a partner (fed_alerts).
type ReceivedAlert struct {
	Provider      string    `json:"provider"`
	Agreement     int64     `json:"agreement"`
	Identifier    string    `json:"identifier"`
	ProviderAlert int64     `json:"providerAlert"`
	Sender        string    `json:"sender"`
	Sent          time.Time `json:"sent"`
	Alert         int64     `json:"alert,omitempty"` // the local alert it became a draft of (0: none)
	Received      time.Time `json:"received"`
}

// AlertReceived reports whether the message identifier of provider under agreement was
// received already.
func (s *Federation) AlertReceived(ctx context.Context, provider string, agreement int64, identifier string) (bool, error) {
	var one int
	err := readRow(ctx, s.eng, `SELECT 1 FROM fed_alerts WHERE provider_node = ? AND agreement_id = ? AND identifier = ?`,
		[]any{provider, agreement, identifier}, &one)
	if errors.Is(err, ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// SaveReceivedAlert records a received message (once: a second record of the same one is
// left out).
func (s *Federation) SaveReceivedAlert(ctx context.Context, r ReceivedAlert) error {
	var local any
	if r.Alert != 0 {
		local = r.Alert
	}
	return s.eng.Write(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO fed_alerts (provider_node, agreement_id, identifier, provider_alert, sender, sent_us, alert_id, received_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, r.Provider, r.Agreement, r.Identifier, r.ProviderAlert, r.Sender, us(r.Sent), local, us(r.Received))
		return err
	})
}

// ReceivedAlerts returns what was received for local alert id (its provenance), oldest first.
func (s *Federation) ReceivedAlerts(ctx context.Context, id int64) ([]ReceivedAlert, error) {
	out := []ReceivedAlert{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var x ReceivedAlert
		var sent, got int64
		var local *int64
		if err := r.Scan(&x.Provider, &x.Agreement, &x.Identifier, &x.ProviderAlert, &x.Sender, &sent, &local, &got); err != nil {
			return err
		}
		x.Sent, x.Received = fromUS(sent), fromUS(got)
		if local != nil {
			x.Alert = *local
		}
		out = append(out, x)
		return nil
	}, `SELECT provider_node, agreement_id, identifier, provider_alert, sender, sent_us, alert_id, received_us FROM fed_alerts
		WHERE alert_id = ? ORDER BY received_us, identifier`, id)
	return out, err
}
