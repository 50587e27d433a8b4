// Package email sends Rabta's messages as e-mail over SMTP (RFC 5321), through a relay the
// operator names (a submission server, an organisation's mail server, a local MTA).
//
// A Sender keeps a few connections to the relay open and reuses them, waits for its turn under
// a throughput limit, and sends each message in one SMTP transaction to one recipient. The
// message is multipart/alternative (RFC 2046 §5.1.4) with a UTF-8 plain-text part and, when
// the Message has one, an HTML part; its Message-ID embeds the delivery id, so that a receiver
// (or a person's mail client) can tell a re-sent delivery from a new one.
//
// Failures are classified for the pipeline: a 5xx reply to MAIL, RCPT or DATA (RFC 5321
// §4.2.1, "permanent negative completion") is channel.Permanent; a 4xx reply, a network error,
// a timeout, and every failure while setting up the session (greeting, EHLO, STARTTLS, AUTH) are
// transient, since they say nothing about the recipient and an operator can fix them.
package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/channel"
)

// Options configures a Sender.
type Options struct {
	// Addr is the SMTP relay's "host:port", e.g. "smtp.example.org:587". Required.
	Addr string
	// From is the author and envelope sender, an RFC 5322 address with an optional display
	// name: "Rabta warnings <warnings@example.org>". Required.
	From string
	// StartTLS upgrades the connection with STARTTLS (RFC 3207) before anything else is said;
	// a relay that does not offer it is an error. Required when Username is set and Addr's
	// host is not a loopback address.
	StartTLS bool
	// TLSConfig verifies the relay's certificate (nil: the system's roots and Addr's host).
	TLSConfig *tls.Config
	// Username and Password authenticate with AUTH PLAIN (RFC 4954, RFC 4616) when Username
	// is set.
	Username, Password string
	// HelloName is the name given in EHLO; "localhost" when empty.
	HelloName string
	// MessageIDDomain is the right-hand side of the Message-IDs; From's domain when empty.
	MessageIDDomain string
	// Rate is the most messages per second sent to the relay, all connections together; 0
	// means no limit. Burst is how many may go at once after a quiet spell (1 when 0).
	Rate  float64
	Burst int
	// MaxConns is the most connections open to the relay at once (4 when 0); Send waits for
	// a free one.
	MaxConns int
	// Timeout bounds the dial and each SMTP command (30 s when 0); the Send's context
	// bounds the whole.
	Timeout time.Duration
	// IdleTimeout closes a kept connection unused this long (30 s when 0), before relays
	// time it out themselves.
	IdleTimeout time.Duration
	// Now is the clock for the Date header (time.Now when nil).
	Now func() time.Time
	// Logger receives debug logs of refusals (slog.Default when nil); addresses redacted. Its
	// caller names the component (the node: "email"); the sender adds none.
	Logger *slog.Logger
}

// Sender is a channel.Sender for e-mail. It is safe for concurrent use.
type Sender struct {
	o        Options
	from     *mail.Address
	idDomain string
	limit    *rate.Limiter
	slots    chan struct{} // one token per connection that may be open
	log      *slog.Logger

	mu     sync.Mutex
	idle   []*conn
	closed bool
}

var _ channel.Sender = (*Sender)(nil)

// conn is a kept connection to the relay.
type conn struct {
	c    *smtp.Client
	raw  net.Conn
	used time.Time
}

// New checks o and returns a Sender. It does not connect: the first Send does.
func New(o Options) (*Sender, error) {
	if o.Addr == "" {
		return nil, errors.New("email: Addr is required (host:port of the SMTP relay)")
	}
	host, port, err := net.SplitHostPort(o.Addr)
	if err != nil || host == "" || port == "" {
		return nil, fmt.Errorf("email: Addr %q is not host:port", o.Addr)
	}
	if o.From == "" {
		return nil, errors.New("email: From is required")
	}
	from, err := mail.ParseAddress(o.From)
	if err != nil {
		return nil, fmt.Errorf("email: From %q: %w", o.From, err)
	}
	if o.Username != "" && !o.StartTLS && !isLoopback(host) {
		return nil, fmt.Errorf("email: AUTH to %s needs StartTLS: the password would cross the network in clear", host)
	}
	if o.Password != "" && o.Username == "" {
		return nil, errors.New("email: Password given without Username")
	}
	if o.Rate < 0 || o.Burst < 0 || o.MaxConns < 0 || o.Timeout < 0 || o.IdleTimeout < 0 {
		return nil, errors.New("email: Rate, Burst, MaxConns, Timeout and IdleTimeout must not be negative")
	}
	if o.HelloName == "" {
		o.HelloName = "localhost"
	}
	if o.MaxConns == 0 {
		o.MaxConns = 4
	}
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Sender{o: o, from: from, idDomain: o.MessageIDDomain, slots: make(chan struct{}, o.MaxConns),
		log: o.Logger}
	if s.idDomain == "" {
		s.idDomain = from.Address[strings.LastIndex(from.Address, "@")+1:]
	}
	if strings.ContainsAny(s.idDomain, "<>@ \r\n\t") || s.idDomain == "" {
		return nil, fmt.Errorf("email: Message-ID domain %q is not a domain", s.idDomain)
	}
	limit := rate.Inf
	if o.Rate > 0 {
		limit = rate.Limit(o.Rate)
	}
	burst := o.Burst
	if burst == 0 {
		burst = 1
	}
	s.limit = rate.NewLimiter(limit, burst)
	return s, nil
}

// Kind returns channel.Email.
func (s *Sender) Kind() channel.Kind { return channel.Email }

// Send sends m to m.To in one SMTP transaction and returns when the relay has accepted the
// message (250 after DATA) or refused it. It waits, within ctx, for its turn under the rate
// limit and for a free connection. The Receipt's GatewayID is the relay's queue id when its
// reply names one ("250 2.0.0 Ok: queued as 4AbC12"), else "".
//
// Errors: channel.Permanent for an unusable message (an address that is not an RFC 5322
// address, a bad Language tag or unsubscribe URL) and for 5xx replies to MAIL, RCPT or DATA;
// transient otherwise. Error texts never carry the recipient's address in clear.
func (s *Sender) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	to, err := mail.ParseAddress(m.To)
	if err != nil || to.Name != "" {
		return channel.Receipt{}, channel.Permanentf("email: delivery %d: recipient %s is not a bare e-mail address", m.DeliveryID, channel.Redact(m.To))
	}
	data, err := compose(m, s.from, to.Address, s.messageID(m.DeliveryID), s.o.Now())
	if err != nil {
		return channel.Receipt{}, channel.Permanent(fmt.Errorf("email: delivery %d: %w", m.DeliveryID, err))
	}
	if err := s.limit.Wait(ctx); err != nil {
		return channel.Receipt{}, fmt.Errorf("email: delivery %d: wait for the rate limit: %w", m.DeliveryID, err)
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	case <-ctx.Done():
		return channel.Receipt{}, fmt.Errorf("email: delivery %d: wait for a connection: %w", m.DeliveryID, ctx.Err())
	}

	// A kept connection may have been closed by the relay meanwhile; that shows on the first
	// command, before anything was accepted, so one fresh connection is tried then.
	c, kept, err := s.conn(ctx)
	if err != nil {
		return channel.Receipt{}, s.fail(m, to.Address, err)
	}
	id, err := s.transact(ctx, c, to.Address, data)
	if err != nil && kept && errors.Is(err, errStale) {
		c, _, err = s.conn(ctx)
		if err != nil {
			return channel.Receipt{}, s.fail(m, to.Address, err)
		}
		id, err = s.transact(ctx, c, to.Address, data)
	}
	if err != nil {
		return channel.Receipt{}, s.fail(m, to.Address, err)
	}
	return channel.Receipt{GatewayID: id, Parts: 1}, nil
}

// Close closes the kept connections (with QUIT). Sends under way finish; later ones fail.
func (s *Sender) Close() error {
	s.mu.Lock()
	idle := s.idle
	s.idle, s.closed = nil, true
	s.mu.Unlock()
	for _, c := range idle {
		c.raw.SetDeadline(time.Now().Add(time.Second))
		c.c.Quit()
		c.c.Close()
	}
	return nil
}

// messageID is the Message-ID (RFC 5322 §3.6.4) of a delivery: the same for every attempt,
// so that a receiver can drop a duplicate.
func (s *Sender) messageID(delivery int64) string {
	return fmt.Sprintf("<rabta.delivery.%d@%s>", delivery, s.idDomain)
}

// errStale marks a failure of a kept connection's first command.
var errStale = errors.New("kept connection failed")

// phaseError is a failure at one step of the session.
type phaseError struct {
	phase string // "connect", "starttls", "auth", "mail", "rcpt", "data"
	err   error
}

func (e *phaseError) Error() string { return e.phase + ": " + e.err.Error() }
func (e *phaseError) Unwrap() error { return e.err }

// fail classifies err and logs it at debug level, with the address redacted.
func (s *Sender) fail(m channel.Message, addr string, err error) error {
	var pe *phaseError
	var se *smtp.SMTPError
	permanent := channel.IsPermanent(err) || errors.As(err, &pe) && (pe.phase == "mail" || pe.phase == "rcpt" || pe.phase == "data") &&
		errors.As(err, &se) && se.Code >= 500
	// The relay's words may repeat the address ("<a@b>: Recipient address rejected").
	text := strings.ReplaceAll(err.Error(), addr, channel.Redact(addr))
	// The cause is not wrapped (its text may hold the address), except a context's end.
	switch {
	case errors.Is(err, context.Canceled):
		err = fmt.Errorf("email: delivery %d to %s: %s (%w)", m.DeliveryID, channel.Redact(addr), text, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		err = fmt.Errorf("email: delivery %d to %s: %s (%w)", m.DeliveryID, channel.Redact(addr), text, context.DeadlineExceeded)
	default:
		err = fmt.Errorf("email: delivery %d to %s: %s", m.DeliveryID, channel.Redact(addr), text)
	}
	// The pipeline logs the failure it handles; this is for tracing a relay's answers.
	s.log.Debug("email_not_sent", "message", m, "permanent", permanent, "error", err)
	if permanent {
		return channel.Permanent(err)
	}
	return err
}

// conn returns a kept connection (kept = true) or a new one.
func (s *Sender) conn(ctx context.Context) (c *conn, kept bool, err error) {
	now := time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, false, &phaseError{"connect", errors.New("sender closed")}
	}
	var stale []*conn
	for len(s.idle) > 0 && c == nil {
		last := s.idle[len(s.idle)-1]
		s.idle = s.idle[:len(s.idle)-1]
		if now.Sub(last.used) > s.o.IdleTimeout {
			stale = append(stale, last)
			continue
		}
		c = last
	}
	s.mu.Unlock()
	for _, x := range stale {
		x.c.Close()
	}
	if c != nil {
		return c, true, nil
	}
	c, err = s.dial(ctx)
	return c, false, err
}

// put keeps c for the next Send.
func (s *Sender) put(c *conn) {
	c.used = time.Now()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.c.Close()
		return
	}
	s.idle = append(s.idle, c)
	s.mu.Unlock()
}

// dial connects, greets, upgrades to TLS and authenticates as configured.
func (s *Sender) dial(ctx context.Context) (*conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.o.Timeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", s.o.Addr)
	if err != nil {
		return nil, &phaseError{"connect", err}
	}
	// go-smtp sets its own deadline per command (Timeout); cancelling ctx closes the
	// connection, which ends the greeting, EHLO, STARTTLS or AUTH at once.
	stop := context.AfterFunc(dctx, func() { raw.Close() })
	defer stop()
	var c *smtp.Client
	if s.o.StartTLS {
		cfg := s.o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg = cfg.Clone()
			cfg.ServerName, _, _ = net.SplitHostPort(s.o.Addr)
		}
		// go-smtp says EHLO localhost before STARTTLS; HelloName is given after it.
		if c, err = smtp.NewClientStartTLS(raw, cfg); err != nil {
			return nil, &phaseError{"starttls", err}
		}
	} else {
		c = smtp.NewClient(raw)
	}
	c.CommandTimeout = s.o.Timeout
	c.SubmissionTimeout = s.o.Timeout
	fail := func(phase string, err error) (*conn, error) {
		c.Close()
		return nil, &phaseError{phase, err}
	}
	if err := c.Hello(s.o.HelloName); err != nil {
		return fail("connect", err)
	}
	if s.o.Username != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.o.Username, s.o.Password)); err != nil {
			return fail("auth", err)
		}
	}
	if !stop() {
		return fail("connect", dctx.Err())
	}
	return &conn{c: c, raw: raw}, nil
}

// transact runs MAIL, RCPT and DATA on c; it keeps c when the session is still usable.
func (s *Sender) transact(ctx context.Context, c *conn, to string, data []byte) (id string, err error) {
	// Cancelling ctx closes the connection, which ends a blocked read or write at once.
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	usable := false
	defer func() {
		if !stop() {
			usable = false
			if ctx.Err() != nil {
				err = fmt.Errorf("%w (%w)", ctx.Err(), err)
			}
		}
		if usable {
			s.put(c)
		} else {
			c.c.Close()
		}
	}()
	var opts *smtp.MailOptions
	if !isASCII(to) || !isASCII(s.from.Address) {
		// An internationalised address needs the relay's SMTPUTF8 (RFC 6531).
		if ok, _ := c.c.Extension("SMTPUTF8"); !ok {
			usable = true
			return "", channel.Permanentf("the relay does not offer SMTPUTF8 (RFC 6531), needed for a non-ASCII address")
		}
		opts = &smtp.MailOptions{UTF8: true}
	}
	if err := c.c.Mail(s.from.Address, opts); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			usable = c.c.Reset() == nil
			return "", &phaseError{"mail", err}
		}
		return "", &phaseError{"mail", fmt.Errorf("%w: %w", errStale, err)}
	}
	if err := c.c.Rcpt(to, nil); err != nil {
		var se *smtp.SMTPError
		usable = errors.As(err, &se) && c.c.Reset() == nil
		return "", &phaseError{"rcpt", err}
	}
	w, err := c.c.Data()
	if err != nil {
		var se *smtp.SMTPError
		usable = errors.As(err, &se) && c.c.Reset() == nil
		return "", &phaseError{"data", err}
	}
	if _, err := w.Write(data); err != nil {
		return "", &phaseError{"data", err}
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		var se *smtp.SMTPError
		usable = errors.As(err, &se)
		return "", &phaseError{"data", err}
	}
	usable = true
	return queueID(resp.StatusText), nil
}

// queueID finds the queue id in a 250 reply to DATA: Postfix and many others say
// "Ok: queued as 4AbC12".
func queueID(text string) string {
	i := strings.Index(strings.ToLower(text), "queued as ")
	if i < 0 {
		return ""
	}
	f := strings.Fields(text[i+len("queued as "):])
	if len(f) == 0 {
		return ""
	}
	return strings.Trim(f[0], "<>.,;")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
