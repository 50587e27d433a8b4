package node

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// CAP alerts shared under agreements (docs/federation.md "Alerts").
//
// On the provider, the alert exporter (runAlertExporter, every 500 ms) sends, for each active
// agreement whose selection says alerts and whose stream exists, every CAP message the
// providing organisation issues — public ones only, sent from validFrom on and not yet expired
// when the exporter sees them, and, when the selection has an area, those of a thread of which
// some message's CAP area meets it (so the Update or Cancel of a shared warning follows it) —
// as a federation.AlertMessage holding the signed CAP XML as issued, on the agreement's stream,
// and keeps a cursor per agreement (the last message considered).
//
// On the consumer, receive hands each AlertMessage to receiveAlert: its signature is verified
// against the certificate registered for the provider (partners add --cert); what does not
// verify is refused, logged and audited (node, agreement, identifier and reason only: no CAP
// text, which may carry contacts); what does becomes a local draft (alert.Service.Receive)
// owned by the agreement's consumer organisation, which a local approver issues through the
// normal four-eyes path. Each message received is recorded once (fed_alerts).

// alertExportBatch is how many CAP messages one alert export round reads per agreement.
const alertExportBatch = 100

// runAlertExporter exports shared alerts until ctx ends, every 500 ms.
func (f *federator) runAlertExporter(ctx context.Context) {
	for {
		if err := f.exportAlertsRound(ctx); err != nil && ctx.Err() == nil {
			f.log.Warn("alert_export_failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (f *federator) exportAlertsRound(ctx context.Context) error {
	now := f.n.now()
	all, err := f.store.Agreements(ctx)
	if err != nil {
		return err
	}
	for _, a := range all {
		if !a.Active(now) || !a.Selection.Alerts {
			continue
		}
		f.mu.Lock()
		_, made := f.streams[a.ID] // the data exporter makes the stream (exportRound)
		f.mu.Unlock()
		if !made {
			continue
		}
		if err := f.exportAlerts(ctx, &a, now); err != nil {
			return fmt.Errorf("agreement %d: %w", a.ID, err)
		}
	}
	return nil
}

// exportAlerts sends the CAP messages agreement a shares since its alert cursor.
func (f *federator) exportAlerts(ctx context.Context, a *federation.Agreement, now time.Time) error {
	cursor, err := f.store.AlertCursor(ctx, a.ID)
	if err != nil {
		return err
	}
	for {
		msgs, err := f.store.AlertsSince(ctx, a.ProviderOrg, cursor, alertExportBatch)
		if err != nil || len(msgs) == 0 {
			return err
		}
		h := sha256.New()
		var ids []string
		for _, m := range msgs {
			cursor = m.ID
			if m.Sent.Before(a.ValidFrom) || !m.Expires.After(now) || (a.ValidUntil != nil && !m.Sent.Before(*a.ValidUntil)) {
				continue
			}
			if a.Selection.Area != nil {
				meets, err := f.threadMeets(ctx, a.Selection.Area, m)
				if err != nil {
					return err
				}
				if !meets {
					continue
				}
			}
			am := federation.AlertMessage{Kind: federation.AlertKind, V: 1, Provider: f.n.opts.ID, Agreement: a.ID, ConsumerOrg: a.ConsumerOrg,
				Alert: m.Alert, Message: m.ID, Identifier: m.Identifier, CAP: string(m.XML)}
			b, err := json.Marshal(&am)
			if err != nil {
				return err
			}
			if len(b) > federation.MaxAlertMessage {
				f.log.Warn("alert_export_too_large", "agreement", a.ID, "identifier", m.Identifier, "bytes", len(b))
				continue
			}
			if err := f.n.bus.PublishFed(ctx, a.ID, am.MsgID(), b); err != nil {
				return err
			}
			h.Write(b)
			ids = append(ids, m.Identifier)
		}
		if err := f.store.SetAlertCursor(ctx, a.ID, cursor); err != nil {
			return err
		}
		if len(ids) > 0 {
			f.log.Info("alerts_exported", "agreement", a.ID, "consumer", a.ConsumerNode, "messages", len(ids))
			if err := f.audit.Record(ctx, "export.alerts", "node/"+f.n.opts.ID, fmt.Sprintf("agreement/%d", a.ID), map[string]any{
				"agreement": a.ID, "consumer": a.ConsumerNode, "messages": len(ids), "identifiers": ids, "sha256": hex.EncodeToString(h.Sum(nil))}); err != nil {
				return err
			}
		}
		if len(msgs) < alertExportBatch {
			return nil
		}
	}
}

// threadMeets reports whether CAP message m, or an earlier message of its alert, has an area
// that meets area.
func (f *federator) threadMeets(ctx context.Context, area *federation.Area, m sqlq.SharedAlert) (bool, error) {
	meets := func(xml []byte) bool {
		c, err := cap.Unmarshal(xml)
		if err != nil {
			return false
		}
		for _, in := range c.Infos {
			if area.MeetsCAP(in.Areas) {
				return true
			}
		}
		return false
	}
	if meets(m.XML) {
		return true, nil
	}
	th, err := f.n.alerts.Store.GetAlert(ctx, m.Alert)
	if err != nil {
		return false, err
	}
	for _, prev := range th.Issued {
		if prev.Identifier == m.Identifier {
			break
		}
		if meets(prev.XML) {
			return true, nil
		}
	}
	return false, nil
}

// receiveAlert handles one AlertMessage fetched from provider's agreement id: verified, it
// becomes (or changes) a local draft; refused, it is logged and audited. It returns the
// consumer organisation an accepted message names (none for one refused); only a failure to
// store is an error (the batch is then fetched again).
func (f *federator) receiveAlert(ctx context.Context, provider string, id int64, fm bus.FedMsg) (org string, err error) {
	refuse := func(identifier, reason string) (string, error) {
		f.log.Warn("federation_alert_refused", "provider", provider, "agreement", id, "seq", fm.Seq, "identifier", identifier, "reason", reason)
		return "", f.audit.Record(ctx, "import.alert_refused", "node/"+provider, fmt.Sprintf("agreement/%d", id), map[string]any{
			"provider": provider, "agreement": id, "seq": fm.Seq, "identifier": identifier, "reason": reason})
	}
	m, err := federation.DecodeAlertMessage(fm.Data)
	if err != nil {
		return refuse("", apperr.Message(err))
	}
	if m.Provider != provider || m.Agreement != id {
		return refuse(m.Identifier, fmt.Sprintf("names provider %q, agreement %d: not the stream it came on", m.Provider, m.Agreement))
	}
	seen, err := f.store.AlertReceived(ctx, provider, id, m.Identifier)
	if err != nil || seen {
		return m.ConsumerOrg, err // a message delivered again (verified when first received)
	}
	certs, err := f.partnerCerts(ctx, provider)
	if err != nil {
		return "", err
	}
	if len(certs) == 0 {
		return refuse(m.Identifier, "no certificate registered for the provider (rabta federation partners add --cert)")
	}
	c, err := cap.Verify([]byte(m.CAP), certs)
	if err != nil {
		return refuse(m.Identifier, "signature: "+err.Error())
	}
	if c.Identifier != m.Identifier {
		return refuse(m.Identifier, fmt.Sprintf("the signed CAP's identifier is %q", c.Identifier))
	}
	why := fmt.Sprintf("shared by node %s under agreement %d (CAP %s,%s,%s)", provider, id, c.Sender, c.Identifier, cap.FormatTime(c.Sent))
	a, err := f.n.alerts.Receive(ctx, alert.Received{Thread: alert.Thread(alert.Origin{Node: provider, Agreement: id, Alert: m.Alert}),
		Organisation: m.ConsumerOrg, By: "node/" + provider, Why: why, CAP: c})
	if err != nil {
		return "", fmt.Errorf("alert %s from %s: %w", m.Identifier, provider, err)
	}
	r := sqlq.ReceivedAlert{Provider: provider, Agreement: id, Identifier: m.Identifier, ProviderAlert: m.Alert, Sender: c.Sender, Sent: c.Sent, Received: f.n.now().UTC()}
	state := "nothing open to cancel"
	if a != nil {
		r.Alert, state = a.ID, string(a.State)
	}
	if err := f.store.SaveReceivedAlert(ctx, r); err != nil {
		return "", err
	}
	f.log.Info("federation_alert_received", "provider", provider, "agreement", id, "identifier", m.Identifier, "msg_type", string(c.MsgType), "alert", r.Alert)
	return m.ConsumerOrg, f.audit.Record(ctx, "import.alert", "node/"+provider, fmt.Sprintf("agreement/%d", id), map[string]any{
		"provider": provider, "agreement": id, "identifier": m.Identifier, "msgType": c.MsgType, "alert": r.Alert, "state": state,
		"sha256": hex.EncodeToString(sha256Sum(fm.Data))})
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// partnerCerts returns the certificates registered for partner node (none without).
func (f *federator) partnerCerts(ctx context.Context, node string) ([]*x509.Certificate, error) {
	ps, err := f.store.Partners(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if p.Node == node && p.Cert != "" {
			return cap.ParseCertificates([]byte(p.Cert))
		}
	}
	return nil, nil
}
