// Package ivr delivers voice alerts: it asks an IVR / robocall gateway, over the gateway's
// HTTP interface, to call a subscriber and play the alert's audio message (package voice).
//
// One POST per delivery to Options.URL, with Authorization: Bearer <Options.Token> and a
// JSON body:
//
//	{"to": "+923001234567",          the number to call, E.164
//	 "audio": "https://…/cap/alerts/<identifier>/audio/ur.wav",  what to play (16 kHz mono WAV)
//	 "language": "ur",               the language of the audio
//	 "alert": "<CAP identifier>",
//	 "delivery": 42,                 Rabta's delivery id: the same on every attempt, an
//	                                 idempotency key (also sent as Idempotency-Key)
//	 "callback": "https://…/voice/ivr/report?token=…"}  omitted unless Options.CallbackURL is set
//
// A gateway reports how a call went by POSTing to the callback (ReportHandler):
//
//	{"delivery": 42, "status": "answered", "id": "<its call id>"}
//
// status "answered" or "completed" marks the delivery delivered; "busy", "no-answer",
// "failed" or "rejected" failed; the token is good for that delivery only.
//
// The gateway answers 2xx when it has queued the call, optionally with {"id": "<its call
// id>"}. 408, 429 and 5xx, network errors and timeouts are transient (retried by the
// pipeline); every other answer, a redirect included, is channel.Permanent. Most gateways
// (Asterisk behind a small HTTP adapter, commercial robocall APIs) take a body like this one
// directly or through a one-line mapping.
package ivr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/channel"
)

// Options configures a Sender.
type Options struct {
	// URL is the gateway's call endpoint (http:// only to a loopback host).
	URL string
	// Token is sent as a bearer token; the gateway's own credential for Rabta.
	Token string
	// CallbackURL, when set, is where the gateway reports how each call went (the node's
	// ReportHandler, e.g. https://node/voice/ivr/report); each request passes it on with
	// "?token=<Token(ReportSecret, delivery id)>" added, a token good for that call only.
	CallbackURL  string
	ReportSecret string
	// Timeout bounds one request (10 s when 0).
	Timeout time.Duration
	// Rate is the most calls requested per second (0: no limit); Burst how many at once (1).
	Rate  float64
	Burst int
	// Transport makes the requests (nil: http.DefaultTransport's clone).
	Transport http.RoundTripper
	Logger    *slog.Logger
}

// Request is the body of one call request.
type Request struct {
	To       string `json:"to"`
	Audio    string `json:"audio"`
	Language string `json:"language"`
	Alert    string `json:"alert"`
	Delivery int64  `json:"delivery"`
	Callback string `json:"callback,omitempty"`
}

// Sender is a channel.Sender for voice calls. It is safe for concurrent use.
type Sender struct {
	o      Options
	client *http.Client
	limit  *rate.Limiter
	log    *slog.Logger
}

var _ channel.Sender = (*Sender)(nil)

// New checks o and returns a Sender.
func New(o Options) (*Sender, error) {
	u, err := url.Parse(o.URL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return nil, fmt.Errorf("ivr: url %q: want an https URL without credentials", o.URL)
	}
	if h := u.Hostname(); u.Scheme == "http" && h != "localhost" && h != "::1" && !strings.HasPrefix(h, "127.") {
		return nil, fmt.Errorf("ivr: url %q: http only to a loopback host; use https", o.URL)
	}
	if o.Token == "" {
		return nil, errors.New("ivr: a token is required (the gateway's credential for this node)")
	}
	if o.CallbackURL != "" && len(o.ReportSecret) < 16 {
		return nil, errors.New("ivr: a CallbackURL needs a ReportSecret of at least 16 bytes")
	}
	if o.Timeout < 0 || o.Rate < 0 || o.Burst < 0 {
		return nil, errors.New("ivr: Timeout, Rate and Burst must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Transport == nil {
		o.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	limit := rate.Inf
	if o.Rate > 0 {
		limit = rate.Limit(o.Rate)
	}
	return &Sender{o: o, limit: rate.NewLimiter(limit, max(o.Burst, 1)), log: o.Logger,
		client: &http.Client{Transport: o.Transport, Timeout: o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// Kind returns channel.Voice.
func (s *Sender) Kind() channel.Kind { return channel.Voice }

// Send asks the gateway to call m.To and play m.AudioURL.
func (s *Sender) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	if m.Kind != "" && m.Kind != channel.Voice {
		return channel.Receipt{}, channel.Permanentf("ivr: a %s message", m.Kind)
	}
	if !strings.HasPrefix(m.To, "+") {
		return channel.Receipt{}, channel.Permanentf("ivr: to: not an E.164 number")
	}
	if m.AudioURL == "" {
		return channel.Receipt{}, channel.Permanentf("ivr: the message has no audio (no voice for %q)", m.Language)
	}
	if err := s.limit.Wait(ctx); err != nil {
		return channel.Receipt{}, err
	}
	var callback string
	if s.o.CallbackURL != "" {
		sep := "?"
		if strings.Contains(s.o.CallbackURL, "?") {
			sep = "&"
		}
		callback = s.o.CallbackURL + sep + "token=" + Token(s.o.ReportSecret, m.DeliveryID)
	}
	body, _ := json.Marshal(Request{To: m.To, Audio: m.AudioURL, Language: m.Language, Alert: m.Alert, Delivery: m.DeliveryID, Callback: callback})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.o.URL, bytes.NewReader(body))
	if err != nil {
		return channel.Receipt{}, channel.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.o.Token)
	req.Header.Set("Idempotency-Key", strconv.FormatInt(m.DeliveryID, 10))
	req.Header.Set("User-Agent", "Rabta-IVR/1")
	resp, err := s.client.Do(req)
	if err != nil {
		s.log.Debug("ivr_request_failed", "msg", m, "err", err)
		return channel.Receipt{}, fmt.Errorf("ivr: %w", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		var r struct {
			ID any `json:"id"`
		}
		_ = json.Unmarshal(answer, &r) // the id is optional
		rc := channel.Receipt{Parts: 1}
		if r.ID != nil {
			rc.GatewayID = fmt.Sprint(r.ID)
		}
		return rc, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return channel.Receipt{}, fmt.Errorf("ivr: gateway answered %s", resp.Status)
	default:
		return channel.Receipt{}, channel.Permanentf("ivr: gateway answered %s: %s", resp.Status, clip(answer))
	}
}

func clip(b []byte) string {
	s := strings.ToValidUTF8(string(bytes.TrimSpace(b)), "?")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
