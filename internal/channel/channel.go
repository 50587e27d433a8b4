// Package channel is the contract between Rabta's delivery pipeline (package dissemination)
// and the protocols that carry a message to a person: SMS through a gateway's HTTP interface
// (channel/kannel) or directly over SMPP 3.4 (channel/smpp), e-mail over SMTP
// (channel/email), HTTPS webhooks (channel/webhook), and voice calls through an IVR
// gateway's HTTP interface (channel/ivr).
//
// A Sender sends one rendered Message and returns when the far side has accepted or refused
// it. It never retries by itself: retry, back-off, fallback and the record of what was sent
// belong to the pipeline, which must know about every attempt. A Sender tells the two kinds
// of failure apart: an error wrapped with Permanent (an invalid number, a 4xx from a webhook,
// a refused recipient) will not be cured by retrying; any other error is transient (the
// gateway is down, a timeout, throttling).
package channel

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Kind names a channel. The values are stored in the database and appear in the API.
type Kind string

// Channels.
const (
	SMS     Kind = "sms"
	Email   Kind = "email"
	Webhook Kind = "webhook"
	// Voice is a phone call that plays the alert's audio message (channel/ivr).
	Voice Kind = "voice"
)

// Message is one rendered message for one recipient on one channel.
type Message struct {
	// DeliveryID is Rabta's id for this delivery: unique per subscriber, channel and alert
	// version. Senders pass it where the protocol carries one (webhook header, e-mail
	// Message-ID, Kannel's dlr-url) so that receipts can be matched and receivers can
	// deduplicate.
	DeliveryID int64
	Kind       Kind
	// To is the address: an E.164 phone number ("+923001234567") for SMS, an e-mail address,
	// or an https URL for a webhook.
	To       string
	Language string // BCP 47 tag of the text, e.g. "ur", "en", "zh"
	Subject  string // e-mail subject
	Text     string // the SMS text, or the e-mail's plain-text part
	HTML     string // the e-mail's HTML part (optional)
	// Body and ContentType are a webhook's payload ("application/cap+xml" or
	// "application/json").
	Body        []byte
	ContentType string
	// AudioURL is the audio message a voice call plays (the CAP <resource> of the info in
	// Language, package voice).
	AudioURL string
	// UnsubscribeURL, when set, is offered to the recipient (e-mail List-Unsubscribe).
	UnsubscribeURL string
	// Alert is the CAP identifier of the message this delivery carries.
	Alert string
	// Secret signs a webhook (HMAC-SHA256); empty for other channels.
	Secret string `json:"-"`
}

// LogValue keeps the recipient's address out of logs (it is personal data): only the
// channel, the delivery id and a redacted address are shown.
func (m Message) LogValue() slog.Value {
	return slog.GroupValue(slog.Int64("delivery", m.DeliveryID), slog.String("channel", string(m.Kind)),
		slog.String("to", Redact(m.To)), slog.String("alert", m.Alert))
}

// Redact shows enough of an address to tell two apart in a log without disclosing it:
// "+92300…67" for a phone number, "a…@example.org" for an e-mail, scheme and host for a URL.
func Redact(addr string) string {
	switch {
	case addr == "":
		return ""
	case strings.HasPrefix(addr, "+"):
		if len(addr) <= 6 {
			return "+…"
		}
		return addr[:4] + "…" + addr[len(addr)-2:]
	case strings.Contains(addr, "://"):
		rest := addr[strings.Index(addr, "://")+3:]
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			rest = rest[:i]
		}
		if i := strings.LastIndex(rest, "@"); i >= 0 { // userinfo
			rest = rest[i+1:]
		}
		return addr[:strings.Index(addr, "://")+3] + rest + "/…"
	case strings.Contains(addr, "@"):
		at := strings.LastIndex(addr, "@")
		return addr[:1] + "…" + addr[at:]
	}
	return "…"
}

// Receipt is what the gateway said when it accepted a message.
type Receipt struct {
	// GatewayID is the far side's id for the message (SMPP message_id, SMTP queue id, …), ""
	// when it gives none. Delivery reports that carry only this id are matched with it.
	GatewayID string
	// Parts is the number of SMS segments submitted (1 for other channels).
	Parts int
	// Queued tells that the gateway took the message for later delivery but has not handed
	// it to the operator yet (Kannel's "3: Queued for later delivery" while its SMSC link is
	// down). The pipeline records such a delivery as queued, never as sent; a later Report
	// says when it reached the operator.
	Queued bool
}

// Sender sends messages over one channel. Implementations are safe for concurrent use,
// respect their configured throughput limit (waiting, within ctx, for their turn), and
// return when the message was accepted or refused.
type Sender interface {
	Kind() Kind
	Send(ctx context.Context, m Message) (Receipt, error)
}

// Report is a gateway's later word on a message it accepted: a delivery report (SMS DLR,
// SMPP deliver_sm receipt).
type Report struct {
	DeliveryID int64  // set when the gateway echoes Rabta's id (Kannel's dlr-url)
	GatewayID  string // set when only the gateway's id is known (SMPP receipts)
	Submitted  bool   // reached the operator (Kannel's "SMSC submit" DLR for a queued message)
	Delivered  bool   // reached the handset
	Failed     bool   // will not be delivered (expired, rejected, undeliverable)
	Status     string // the gateway's own words, e.g. "DELIVRD", "UNDELIV"
	At         time.Time
}

// ReportFunc receives delivery reports. It must not block for long.
type ReportFunc func(Report)

// permanent marks an error that retrying will not cure.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks err as one that retrying will not cure. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// Permanentf is Permanent(fmt.Errorf(format, args...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

// IsPermanent tells whether err (or an error it wraps) was marked Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
