// Package kannel sends SMS through the sendsms HTTP interface of a Kannel gateway's smsbox
// (Kannel 1.4.5 user guide, "Sending SMS via the HTTP interface" and "Delivery reports"),
// and receives the delivery reports Kannel calls back with (DLRHandler).
//
// A Sender makes one GET request per message: the text goes as UTF-8 (charset=UTF-8) with
// coding=0 (GSM 03.38 7-bit) or coding=2 (UCS-2), as sms.Analyze decides; Kannel splits a
// long text into concatenated parts itself (the sendsms-user needs concatenation = true and
// max-messages at least Options.MaxParts). When Options.DLRURL is set, every message asks
// for delivery reports (dlr-mask) at that URL with Rabta's delivery id and a token made
// from the delivery id and Options.DLRSecret (HMAC-SHA256), which DLRHandler checks.
//
// Kannel answers "0: Accepted for delivery" when bearerbox took the message for an SMSC,
// and "3: Queued for later delivery" when it stored it because no SMSC is connected: the
// second is accepted by the gateway but has not reached the operator. The Receipt tells the
// two apart (Queued); the report of type 8 (SMSC submit, Report.Submitted) says when it
// reaches the SMSC.
package kannel

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/sms"
)

// DLR types, the bits of Kannel's dlr-mask and the values of its %d escape (Kannel 1.4.5
// user guide, "dlr-mask").
const (
	DLRDelivered  = 1  // delivered to the handset
	DLRFailed     = 2  // not delivered (undeliverable, expired)
	DLRBuffered   = 4  // buffered at the SMSC (handset unreachable for now)
	DLRSMSCSubmit = 8  // accepted by the SMSC
	DLRSMSCReject = 16 // refused by the SMSC
)

// DefaultDLRMask asks for every kind of report.
const DefaultDLRMask = DLRDelivered | DLRFailed | DLRBuffered | DLRSMSCSubmit | DLRSMSCReject

// Options configures a Sender.
type Options struct {
	// URL is smsbox's sendsms endpoint, e.g. "http://127.0.0.1:13013/cgi-bin/sendsms"
	// (smsbox group: sendsms-port; the path is fixed by Kannel).
	URL string
	// Username and Password are a sendsms-user's. The password is sent in the request's
	// query (Kannel's interface) but never appears in an error or a log.
	Username string
	Password string `json:"-"`
	// From is the sender shown on the handset (alphanumeric or a number); "" leaves it to
	// the sendsms-user's default-sender.
	From string
	// SMSC routes to one smsc-id; "" lets Kannel choose.
	SMSC string
	// DLRURL is where Kannel reports deliveries: the absolute URL at which DLRHandler is
	// mounted, reachable from smsbox (e.g. "https://rabta.example.org/sms/kannel/dlr").
	// "" asks for no reports.
	DLRURL string
	// DLRSecret keys the per-delivery tokens in DLR URLs; required with DLRURL. The same
	// secret goes to DLRHandler.
	DLRSecret string `json:"-"`
	// DLRMask is which reports to ask for; 0 means DefaultDLRMask.
	DLRMask int
	// Rate is Rabta's own limit, in SMS segments per second (a concatenated message counts
	// each part), applied before the gateway's; 0 means no limit. Send waits within its ctx.
	Rate float64
	// Burst is how many segments may go at once under Rate; 0 means 1.
	Burst int
	// MaxParts refuses (permanently) texts that need more segments; it must not exceed the
	// sendsms-user's max-messages, or Kannel would cut the text. 0 means 10.
	MaxParts int
	// Timeout bounds each request; 0 means 10 s.
	Timeout time.Duration
	// Client makes the requests; nil means a client of the Sender's own.
	Client *http.Client
	// Logger receives one debug line per message (the address redacted); nil discards.
	Logger *slog.Logger
}

// Sender sends SMS through Kannel's sendsms interface. It is safe for concurrent use.
type Sender struct {
	opts    Options
	base    *url.URL
	limiter *rate.Limiter
	client  *http.Client
	log     *slog.Logger
}

var _ channel.Sender = (*Sender)(nil)

// New checks opts and returns a Sender. Errors name the option at fault.
func New(opts Options) (*Sender, error) {
	u, err := url.Parse(opts.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("kannel: URL: want an http(s) URL of smsbox's sendsms, e.g. http://127.0.0.1:13013/cgi-bin/sendsms")
	}
	if u.User != nil || u.RawQuery != "" {
		return nil, fmt.Errorf("kannel: URL: credentials go in username and password, not in the URL")
	}
	if opts.Username == "" {
		return nil, fmt.Errorf("kannel: username: required")
	}
	if opts.DLRURL != "" {
		d, err := url.Parse(opts.DLRURL)
		if err != nil || (d.Scheme != "http" && d.Scheme != "https") || d.Host == "" || d.RawQuery != "" {
			return nil, fmt.Errorf("kannel: dlr_url: want an absolute http(s) URL without a query")
		}
		if opts.DLRSecret == "" {
			return nil, fmt.Errorf("kannel: dlr_secret: required with dlr_url")
		}
	}
	if opts.DLRMask == 0 {
		opts.DLRMask = DefaultDLRMask
	}
	if opts.DLRMask < 0 || opts.DLRMask > 31 {
		return nil, fmt.Errorf("kannel: dlr_mask: %d is not in 1…31", opts.DLRMask)
	}
	if opts.Rate < 0 {
		return nil, fmt.Errorf("kannel: rate: %g is negative", opts.Rate)
	}
	if opts.Burst <= 0 {
		opts.Burst = 1
	}
	if opts.MaxParts == 0 {
		opts.MaxParts = 10
	}
	if opts.MaxParts < 1 || opts.MaxParts > sms.MaxParts {
		return nil, fmt.Errorf("kannel: max_parts: %d is not in 1…%d", opts.MaxParts, sms.MaxParts)
	}
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	s := &Sender{opts: opts, base: u, client: opts.Client, log: opts.Logger}
	if s.client == nil {
		s.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Rate > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(opts.Rate), opts.Burst)
	}
	return s, nil
}

// Kind is channel.SMS.
func (s *Sender) Kind() channel.Kind { return channel.SMS }

// Result is Kannel's answer to one sendsms request. Its Receipt's Queued is true when
// Kannel answered "3: Queued for later delivery": the gateway stored the message because no
// SMSC was connected; it has not reached the operator yet.
type Result struct {
	channel.Receipt
	// Status is Kannel's answer, e.g. "0: Accepted for delivery".
	Status string
}

// Send submits m and returns when Kannel accepted or refused it (see Submit).
func (s *Sender) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	r, err := s.Submit(ctx, m)
	return r.Receipt, err
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// Submit sends m.Text to m.To (E.164, "+923001234567") and returns Kannel's answer.
//
// Errors marked channel.Permanent: m is not an SMS, m.To is not E.164, the text needs more
// than MaxParts segments, or Kannel refused the request with a 4xx (bad credentials,
// number denied by the sendsms-user's white- or black-list, a missing parameter). Other
// errors are transient: Rabta's rate limit could not be waited for within ctx, Kannel is
// unreachable or timed out, or answered 5xx (503 "Temporal failure, try again later").
func (s *Sender) Submit(ctx context.Context, m channel.Message) (Result, error) {
	if m.Kind != "" && m.Kind != channel.SMS {
		return Result{}, channel.Permanentf("kannel: delivery %d: channel %q is not sms", m.DeliveryID, m.Kind)
	}
	if !e164.MatchString(m.To) {
		return Result{}, channel.Permanentf("kannel: delivery %d: to %q is not an E.164 number", m.DeliveryID, channel.Redact(m.To))
	}
	plan := sms.Analyze(m.Text)
	if plan.Parts > s.opts.MaxParts {
		return Result{}, channel.Permanentf("kannel: delivery %d: text needs %d SMS, more than max_parts %d", m.DeliveryID, plan.Parts, s.opts.MaxParts)
	}
	if s.limiter != nil {
		for range plan.Parts {
			if err := s.limiter.Wait(ctx); err != nil {
				return Result{}, fmt.Errorf("kannel: delivery %d: rate limit: %w", m.DeliveryID, err)
			}
		}
	}
	q := url.Values{}
	q.Set("username", s.opts.Username)
	q.Set("password", s.opts.Password)
	q.Set("to", m.To)
	q.Set("text", m.Text)
	q.Set("charset", "UTF-8")
	if plan.Coding == sms.UCS2 {
		q.Set("coding", "2")
	} else {
		q.Set("coding", "0")
	}
	if s.opts.From != "" {
		q.Set("from", s.opts.From)
	}
	if s.opts.SMSC != "" {
		q.Set("smsc", s.opts.SMSC)
	}
	if s.opts.DLRURL != "" && m.DeliveryID > 0 { // a message that is no delivery (a reply to a command) asks for no report
		q.Set("dlr-mask", strconv.Itoa(s.opts.DLRMask))
		q.Set("dlr-url", DLRURL(s.opts.DLRURL, s.opts.DLRSecret, m.DeliveryID))
	}
	u := *s.base
	u.RawQuery = q.Encode()

	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, fmt.Errorf("kannel: delivery %d: build request: %w", m.DeliveryID, redact(err))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error carries the URL, with the password: keep only its cause.
		return Result{}, fmt.Errorf("kannel: delivery %d: sendsms at %s: %w", m.DeliveryID, s.where(), redact(err))
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	answer := strings.TrimSpace(string(body))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r := Result{Receipt: channel.Receipt{Parts: plan.Parts, Queued: strings.HasPrefix(answer, "3:")}, Status: answer}
		s.log.Debug("sms_submitted", "message", m, "parts", plan.Parts, "coding", plan.Coding.String(), "queued", r.Queued)
		return r, nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return Result{}, fmt.Errorf("kannel: delivery %d: sendsms at %s answered %d %q", m.DeliveryID, s.where(), resp.StatusCode, answer)
	case resp.StatusCode >= 400:
		return Result{}, channel.Permanentf("kannel: delivery %d: sendsms at %s refused it: %d %q", m.DeliveryID, s.where(), resp.StatusCode, answer)
	}
	return Result{}, fmt.Errorf("kannel: delivery %d: sendsms at %s answered %d %q", m.DeliveryID, s.where(), resp.StatusCode, answer)
}

// where names the gateway without credentials or query.
func (s *Sender) where() string { return s.base.Scheme + "://" + s.base.Host + s.base.Path }

// redact drops the *url.Error wrapper, whose message holds the request URL.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return fmt.Errorf("timeout: %w", ue.Err)
		}
		return ue.Err
	}
	return err
}

// DLRURL is the dlr-url Kannel is given for delivery id: base with id, token and Kannel's
// escapes for the report type (%d), the SMSC's reply (%A), the SMSC's message id (%F) and
// the time (%T). The receiver's number (%p) is left out: it is personal data.
func DLRURL(base, secret string, id int64) string {
	// Kannel replaces %d, %A, %F, %T in the URL; the escapes must stay literal.
	return base + "?id=" + strconv.FormatInt(id, 10) + "&token=" + Token(secret, id) + "&type=%d&reply=%A&smsc_id=%F&ts=%T"
}

// Token is the hex HMAC-SHA256 of the delivery id under secret, cut to 128 bits: a leaked
// token (Kannel logs its DLR URLs) lets nobody forge a report for another delivery.
func Token(secret string, id int64) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(id, 10)))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}
