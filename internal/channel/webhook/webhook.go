// Package webhook delivers Rabta's messages to partners' HTTPS endpoints: one POST per
// delivery, carrying the payload (CAP XML or JSON) as it was rendered, signed so that the
// partner can tell it came from this node and was not replayed.
//
// Each request carries three headers besides Content-Type:
//
//	Rabta-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
//	Rabta-Delivery:  <delivery id>   (also sent as Idempotency-Key)
//	Rabta-Alert:     <CAP identifier>
//
// The delivery id is the same on every attempt of one delivery: a partner that has already
// processed it answers 2xx again and does nothing (it is an idempotency key). Verify checks a
// signature on the receiving side; docs/webhooks.md gives the recipe for partners, in Go and in
// shell with openssl.
//
// The answer decides what the pipeline does next: 2xx is accepted; 408, 429 and 5xx, network
// errors and timeouts are transient (a RetryAfter on the error says how long the partner asked
// to wait); every other answer, including a redirect (never followed: the partner must give its
// real URL), is channel.Permanent.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/channel"
)

// Header names.
const (
	SignatureHeader = "Rabta-Signature"
	DeliveryHeader  = "Rabta-Delivery"
	AlertHeader     = "Rabta-Alert"
)

// Options configures a Sender.
type Options struct {
	// Timeout bounds one request, from dial to the end of the answer's headers (10 s when 0).
	Timeout time.Duration
	// AllowHTTP permits plain http:// URLs to any host. Without it only https:// is accepted,
	// except to a loopback host (localhost, 127.0.0.0/8, ::1), for a receiver on the same
	// machine.
	AllowHTTP bool
	// AllowNetworks lists the internal networks (see Internal: loopback, private, link-local,
	// …) that endpoints may be in all the same, e.g. 127.0.0.0/8 for a receiver on the same
	// machine, 10.1.2.0/24 for a partner reached over a private link. Without them, a delivery
	// to an internal address fails with ErrInternalAddress (permanent): a subscriber's URL
	// must not reach into the node's own network. Checked on the address connected to, after
	// name resolution. Not applied when Transport is given.
	AllowNetworks []netip.Prefix
	// Transport makes the requests (when nil: a clone of http.DefaultTransport that refuses
	// internal addresses outside AllowNetworks and uses no proxy); tests pass an httptest TLS
	// server's.
	Transport http.RoundTripper
	// Rate is the most requests per second, all endpoints together; 0 means no limit. Burst is
	// how many may go at once after a quiet spell (1 when 0).
	Rate  float64
	Burst int
	// UserAgent is sent as User-Agent ("Rabta-Webhook/1" when empty).
	UserAgent string
	// Now is the clock for the signature's timestamp (time.Now when nil).
	Now func() time.Time
	// Logger receives debug logs of failed requests (slog.Default when nil); URLs redacted. Its
	// caller names the component (the node: "webhook"); the sender adds none.
	Logger *slog.Logger
}

// Sender is a channel.Sender for webhooks. It is safe for concurrent use.
type Sender struct {
	o      Options
	client *http.Client
	limit  *rate.Limiter
	log    *slog.Logger
}

var _ channel.Sender = (*Sender)(nil)

// New checks o and returns a Sender.
func New(o Options) (*Sender, error) {
	if o.Timeout < 0 || o.Rate < 0 || o.Burst < 0 {
		return nil, errors.New("webhook: Timeout, Rate and Burst must not be negative")
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Transport == nil {
		t := guardedTransport(o.AllowNetworks)
		t.ResponseHeaderTimeout = o.Timeout
		o.Transport = t
	}
	if o.UserAgent == "" {
		o.UserAgent = "Rabta-Webhook/1"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	limit := rate.Inf
	if o.Rate > 0 {
		limit = rate.Limit(o.Rate)
	}
	burst := max(o.Burst, 1)
	return &Sender{
		o: o,
		client: &http.Client{
			Transport: o.Transport,
			Timeout:   o.Timeout,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		limit: rate.NewLimiter(limit, burst),
		log:   o.Logger,
	}, nil
}

// Kind returns channel.Webhook.
func (s *Sender) Kind() channel.Kind { return channel.Webhook }

// Send POSTs m.Body with m.ContentType to m.To, signed with m.Secret, and returns when the
// endpoint has answered. It waits, within ctx, for its turn under the rate limit. The
// Receipt's GatewayID is "".
//
// Errors: channel.Permanent for a message that cannot be sent (a URL that is not https — see
// Options.AllowHTTP —, no secret, no content type, a header value with control characters)
// and for answers other than 2xx, 408, 429 and 5xx; a *StatusError for every non-2xx answer;
// transient errors for network failures and timeouts. Error texts name the endpoint only by
// scheme and host: a URL's path and query may hold the partner's token.
func (s *Sender) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	where := channel.Redact(m.To)
	u, err := s.check(m)
	if err != nil {
		return channel.Receipt{}, s.fail(m, channel.Permanent(fmt.Errorf("webhook: delivery %d to %s: %w", m.DeliveryID, where, err)))
	}
	if err := s.limit.Wait(ctx); err != nil {
		return channel.Receipt{}, fmt.Errorf("webhook: delivery %d: wait for the rate limit: %w", m.DeliveryID, err)
	}
	now := s.o.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(m.Body))
	if err != nil {
		return channel.Receipt{}, s.fail(m, channel.Permanent(fmt.Errorf("webhook: delivery %d to %s: %w", m.DeliveryID, where, err)))
	}
	id := strconv.FormatInt(m.DeliveryID, 10)
	req.Header.Set("Content-Type", m.ContentType)
	req.Header.Set("User-Agent", s.o.UserAgent)
	req.Header.Set(SignatureHeader, Sign(m.Secret, now, m.Body))
	req.Header.Set(DeliveryHeader, id)
	req.Header.Set("Idempotency-Key", id)
	if m.Alert != "" {
		req.Header.Set(AlertHeader, m.Alert)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		// *url.Error repeats the whole URL; keep only what went wrong.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		err = fmt.Errorf("webhook: delivery %d to %s: %w", m.DeliveryID, where, err)
		if errors.Is(err, ErrInternalAddress) {
			err = channel.Permanent(err)
		}
		return channel.Receipt{}, s.fail(m, err)
	}
	// Read a little of the answer so that the connection can be reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return channel.Receipt{Parts: 1}, nil
	}
	se := &StatusError{Code: resp.StatusCode, Wait: retryAfter(resp.Header.Get("Retry-After"), now)}
	err = fmt.Errorf("webhook: delivery %d to %s: %w", m.DeliveryID, where, se)
	if !se.Transient() {
		err = channel.Permanent(err)
	}
	return channel.Receipt{}, s.fail(m, err)
}

// check validates what Send needs of m and returns the parsed URL.
func (s *Sender) check(m channel.Message) (*url.URL, error) {
	u, err := url.Parse(m.To)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !s.o.AllowHTTP && !isLoopback(u.Hostname()) {
			return nil, errors.New("http:// refused: use https, or set AllowHTTP")
		}
	default:
		return nil, fmt.Errorf("scheme %q is not https", u.Scheme)
	}
	if m.Secret == "" {
		return nil, errors.New("no secret to sign with")
	}
	if m.ContentType == "" {
		return nil, errors.New("no content type")
	}
	for _, v := range []string{m.ContentType, m.Alert} {
		if strings.ContainsFunc(v, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			return nil, fmt.Errorf("header value %q has control characters", v)
		}
	}
	return u, nil
}

// fail logs err at debug level and returns it.
func (s *Sender) fail(m channel.Message, err error) error {
	// The pipeline logs the failure it handles; this is for tracing endpoints' answers.
	s.log.Debug("webhook_not_delivered", "message", m, "permanent", channel.IsPermanent(err), "error", err)
	return err
}

// StatusError is an endpoint's answer other than 2xx.
type StatusError struct {
	Code int           // the HTTP status code
	Wait time.Duration // from Retry-After (RFC 9110 §10.2.3); 0 when absent or unreadable
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Wait > 0 {
		s += fmt.Sprintf(", retry after %v", e.Wait)
	}
	return s
}

// Transient tells whether retrying may help: 408 Request Timeout, 429 Too Many Requests and
// 5xx.
func (e *StatusError) Transient() bool {
	return e.Code == http.StatusRequestTimeout || e.Code == http.StatusTooManyRequests || e.Code >= 500
}

// RetryAfter is how long the endpoint asked the sender to wait before trying again, 0 when it
// did not say. The pipeline finds it without importing this package:
//
//	var ra interface{ RetryAfter() time.Duration }
//	if errors.As(err, &ra) { wait = max(wait, ra.RetryAfter()) }
func (e *StatusError) RetryAfter() time.Duration { return e.Wait }

// retryAfter reads a Retry-After value: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, int64(24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// Sign returns the Rabta-Signature header value for body sent at t:
// "t=<unix seconds>,v1=<lower-case hex of HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// DefaultTolerance is how far a signature's timestamp may be from the receiver's clock when
// Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// Errors from Verify; the error it returns wraps one of them with the detail.
var (
	ErrMalformed = errors.New("malformed Rabta-Signature header")
	ErrStale     = errors.New("signature timestamp outside the tolerance")
	ErrMismatch  = errors.New("signature does not match")
)

// Verify checks a webhook delivery on the receiving side: header is the Rabta-Signature
// header's value, body the request body exactly as received, now the receiver's clock, and
// tolerance how far the signed timestamp may lie from now, either way (DefaultTolerance when
// ≤ 0). It returns nil when one of the header's v1 signatures is HMAC-SHA256(secret, "<t>.<body>"),
// compared in constant time; an error wrapping ErrMalformed, ErrStale or ErrMismatch
// otherwise. Several v1 entries are allowed (a sender rotating its secret may sign with both);
// unknown keys are ignored, for later schemes.
//
// A timestamp inside the tolerance does not stop a replay within it: receivers should also
// drop a Rabta-Delivery id they have already processed.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if secret == "" {
		return errors.New("webhook: verify: empty secret")
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var ts string
	var sigs [][]byte
	for i, field := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(field), "=")
		if !ok {
			return fmt.Errorf("%w: field %d %q is not key=value", ErrMalformed, i+1, field)
		}
		switch k {
		case "t":
			if ts != "" {
				return fmt.Errorf("%w: t given twice", ErrMalformed)
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return fmt.Errorf("%w: v1 in field %d is not 64 hexadecimal digits", ErrMalformed, i+1)
			}
			sigs = append(sigs, sig)
		}
	}
	if ts == "" {
		return fmt.Errorf("%w: no t= timestamp", ErrMalformed)
	}
	if len(sigs) == 0 {
		return fmt.Errorf("%w: no v1= signature", ErrMalformed)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec < 0 || strings.HasPrefix(ts, "+") {
		return fmt.Errorf("%w: t=%q is not unix seconds", ErrMalformed, ts)
	}
	if d := now.Unix() - sec; d > int64(tolerance/time.Second) || -d > int64(tolerance/time.Second) {
		return fmt.Errorf("%w: t=%d is %d s from the receiver's clock, tolerance %v", ErrStale, sec, -d, tolerance)
	}
	want := mac(secret, ts, body)
	ok := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			ok = true
		}
	}
	if !ok {
		return fmt.Errorf("%w: checked %d v1 signature(s) over %d body bytes", ErrMismatch, len(sigs), len(body))
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
