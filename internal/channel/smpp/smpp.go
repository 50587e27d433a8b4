// Package smpp sends SMS directly to an operator's SMSC over SMPP 3.4, as a channel.Sender,
// with github.com/linxGnu/gosmpp (v0.3.1) underneath.
//
// One Sender holds one transceiver session (bind_transceiver, §4.1.5), bound on Start or on
// the first Send. gosmpp keeps it alive: enquire_link every EnquireLink (§4.11), and when the
// connection is lost (the SMSC restarted, a read timed out) it rebinds every RebindInterval
// until it succeeds. While it is not bound, Send fails at once with a transient error, so
// that the pipeline retries later.
//
// A text goes in the coding package sms chooses (data_coding 0, the SMSC's default alphabet
// taken as GSM 03.38, one septet an octet; or 8, UCS-2) and, when it does not fit one SMS, in
// the parts sms.Split cuts, each carrying a concatenation UDH (3GPP TS 23.040 §9.2.3.24.1,
// 8-bit reference; esm_class UDHI 0x40). Every submit_sm asks for a delivery receipt
// (registered_delivery 1). Send waits for each part's submit_sm_resp — gosmpp is
// asynchronous, so responses are matched to requests by sequence number — and returns the
// first part's message_id as the Receipt's GatewayID.
//
// Delivery receipts (deliver_sm with esm_class 0x04, §5.2.12 and Appendix B) become
// channel.Reports with that GatewayID. For a concatenated message the receipts of its parts
// are gathered into one Report, sent when every part has a final state (delivered only if
// all were), as long as the Sender lives; receipts the Sender cannot place (it was restarted
// in between, or is tracking too many messages) are reported under their own message_id.
//
// Other deliver_sm are messages from handsets, handed to Options.Inbound. A long one comes
// in parts (a UDH concatenation element or the SAR TLVs), which a Reassembler puts back
// together first: at most MOMaxParts parts, MOPartTimeout, MOMaxPending incomplete messages.
//
// Errors: a command_status that says something about the message (ESME_RINVDSTADR, an
// invalid source or data coding, …) is channel.Permanent; throttling (ESME_RTHROTTLED), a
// full queue, a system error, a session not bound, a timeout or a lost connection are
// transient. A lost connection while a submit_sm awaits its response is reported as
// transient, though the SMSC may have accepted the message: a retry may then send it twice.
package smpp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/linxGnu/gosmpp"
	"github.com/linxGnu/gosmpp/data"
	"github.com/linxGnu/gosmpp/pdu"
	"github.com/nyaruka/phonenumbers"
	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/sms"
)

// Defaults for the zero fields of Options.
const (
	DefaultRate            = 50 // submit_sm per second
	DefaultWindow          = 10 // submit_sm awaiting their response
	DefaultEnquireLink     = 30 * time.Second
	DefaultRebindInterval  = 5 * time.Second
	DefaultBindTimeout     = 10 * time.Second
	DefaultResponseTimeout = 10 * time.Second
	// MaxTracked bounds the concatenated messages whose receipts are being gathered.
	MaxTracked = 100_000
)

// Options configure a Sender.
type Options struct {
	// Addr is the SMSC's host:port (SMPP's customary port is 2775).
	Addr string
	// SystemID, Password and SystemType identify the ESME in bind_transceiver (§4.1.5:
	// system_id up to 15 characters, password up to 8, system_type up to 12). The password is
	// never logged.
	SystemID   string
	Password   string
	SystemType string
	// Source is the sender address shown on handsets: "+923001234567" (international,
	// TON 1 NPI 1), digits (TON 0 NPI 1), or up to 11 letters and digits ("PMD-ALERT":
	// alphanumeric, TON 5 NPI 0). Empty leaves it to the SMSC (TON 0 NPI 0).
	Source string
	// SourceTON and SourceNPI override what Source implies (§5.2.5, §5.2.6) unless both are 0.
	SourceTON uint8
	SourceNPI uint8
	// ServiceType is submit_sm's service_type (§5.2.11); usually empty.
	ServiceType string
	// Rate limits submit_sm per second (each part counts), Burst how many may go at once.
	// Zero means DefaultRate and a burst of 1; math.Inf(1) means no limit.
	Rate  float64
	Burst int
	// Window bounds the submit_sm awaiting their submit_sm_resp (default DefaultWindow).
	Window int
	// EnquireLink is the interval of enquire_link (default 30 s). A session that hears
	// nothing for twice that plus ResponseTimeout is taken as lost and rebound.
	EnquireLink time.Duration
	// RebindInterval is the pause between attempts to bind again after the connection was
	// lost (default 5 s).
	RebindInterval time.Duration
	// BindTimeout bounds connecting and waiting for bind_resp (default 10 s).
	BindTimeout time.Duration
	// ResponseTimeout bounds the wait for each submit_sm_resp (default 10 s).
	ResponseTimeout time.Duration
	// Reports receives delivery receipts; nil drops them.
	Reports channel.ReportFunc
	// Inbound receives the messages people send (deliver_sm that are not delivery
	// receipts), decoded from their data_coding (GSM 03.38, Latin-1 or UCS-2); nil only
	// acknowledges them. A concatenated message (a UDH concatenation element or the SAR
	// TLVs) is put back together first and handed over once, when its last part arrives (see
	// Reassembler for the limits).
	Inbound channel.InboundFunc
	// Logger (discarded when nil) gets the session's events with addr and system_id; its
	// caller names the component (the node: "smpp"); the sender adds none.
	Logger *slog.Logger
	Now    func() time.Time
}

// LogValue shows the options without the password.
func (o Options) LogValue() slog.Value {
	return slog.GroupValue(slog.String("addr", o.Addr), slog.String("system_id", o.SystemID),
		slog.String("system_type", o.SystemType), slog.String("source", o.Source),
		slog.Float64("rate", o.Rate), slog.Duration("enquire_link", o.EnquireLink))
}

// Sender sends SMS over one SMPP transceiver session. It is safe for concurrent use.
type Sender struct {
	o       Options
	log     *slog.Logger
	limiter *rate.Limiter
	window  chan struct{}
	src     pdu.Address
	ref     atomic.Uint32 // the next UDH reference

	inbound chan channel.Inbound // messages from handsets waiting for a worker; closed by Close
	parts   *Reassembler         // long messages from handsets being put together
	moOnce  sync.Once
	mu      sync.Mutex // guards session and closed; held while binding
	session *gosmpp.Session
	closed  bool
	bound   atomic.Bool

	pmu     sync.Mutex
	pending map[int32]*pending // by sequence number
	groups  map[string]*group  // by each part's message_id
}

var _ channel.Sender = (*Sender)(nil)

type pending struct {
	ch    chan result // buffered, receives once
	group *group      // nil for a single-part message
	part  int
}

type result struct {
	id  string
	err error
}

// group gathers the receipts of a concatenated message's parts.
type group struct {
	ids    []string // message_id by part, filled as submit_sm_resp arrive
	final  int      // parts with a final receipt
	failed bool
	stat   string
}

// ErrClosed is returned by Send after Close.
var ErrClosed = errors.New("smpp: sender closed")

// New checks o and returns a Sender; it does not connect (Start or the first Send does).
func New(o Options) (*Sender, error) {
	if o.Addr == "" {
		return nil, errors.New("smpp: no SMSC address (host:port)")
	}
	if _, _, err := net.SplitHostPort(o.Addr); err != nil {
		return nil, fmt.Errorf("smpp: SMSC address %q: %w", o.Addr, err)
	}
	if o.SystemID == "" {
		return nil, errors.New("smpp: no system_id")
	}
	if len(o.SystemID) > 15 || len(o.Password) > 8 || len(o.SystemType) > 12 {
		return nil, errors.New("smpp: system_id (15), password (8) or system_type (12) too long (SMPP 3.4 §4.1.1)")
	}
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Rate < 0 || math.IsNaN(o.Rate) {
		return nil, fmt.Errorf("smpp: rate %v: want a positive number of submit_sm per second", o.Rate)
	}
	if o.Burst <= 0 {
		o.Burst = 1
	}
	if o.Window <= 0 {
		o.Window = DefaultWindow
	}
	if o.EnquireLink <= 0 {
		o.EnquireLink = DefaultEnquireLink
	}
	if o.RebindInterval <= 0 {
		o.RebindInterval = DefaultRebindInterval
	}
	if o.BindTimeout <= 0 {
		o.BindTimeout = DefaultBindTimeout
	}
	if o.ResponseTimeout <= 0 {
		o.ResponseTimeout = DefaultResponseTimeout
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	src, err := sourceAddress(o.Source, o.SourceTON, o.SourceNPI)
	if err != nil {
		return nil, err
	}
	limit := rate.Limit(o.Rate)
	if math.IsInf(o.Rate, 1) {
		limit = rate.Inf
	}
	s := &Sender{
		o:       o,
		log:     o.Logger.With("addr", o.Addr, "system_id", o.SystemID),
		limiter: rate.NewLimiter(limit, o.Burst),
		window:  make(chan struct{}, o.Window),
		src:     src,
		pending: map[int32]*pending{},
		groups:  map[string]*group{},
		inbound: make(chan channel.Inbound, inboundQueue),
		parts:   NewReassembler(MOPartTimeout, MOMaxPending),
	}
	s.ref.Store(uint32(o.Now().UnixNano()))
	return s, nil
}

// sourceAddress builds the source_addr (§5.2.8) and its TON and NPI.
func sourceAddress(src string, ton, npi uint8) (pdu.Address, error) {
	switch {
	case ton != 0 || npi != 0:
	case src == "":
	case strings.HasPrefix(src, "+"):
		if !isE164(src) {
			return pdu.Address{}, fmt.Errorf("smpp: source %q: not an E.164 number", src)
		}
		src, ton, npi = src[1:], 1, 1
	case strings.Trim(src, "0123456789") == "":
		ton, npi = 0, 1
	default:
		if len(src) > 11 {
			return pdu.Address{}, fmt.Errorf("smpp: alphanumeric source %q longer than 11 characters", src)
		}
		ton, npi = 5, 0
	}
	a, err := pdu.NewAddressWithTonNpiAddr(ton, npi, src)
	if err != nil {
		return pdu.Address{}, fmt.Errorf("smpp: source %q: %w", src, err)
	}
	return a, nil
}

// isE164 tells whether s is "+" and 2 to 15 digits, the first not 0 (ITU-T E.164).
func isE164(s string) bool {
	if len(s) < 3 || len(s) > 16 || s[0] != '+' || s[1] == '0' {
		return false
	}
	return strings.Trim(s[1:], "0123456789") == ""
}

// Kind is channel.SMS.
func (s *Sender) Kind() channel.Kind { return channel.SMS }

// Start binds now, returning the bind's error (a refused system_id or password, an SMSC that
// cannot be reached). Calling it is optional: Send binds when it must.
func (s *Sender) Start(ctx context.Context) error {
	_, err := s.transceiver(ctx)
	return err
}

// transceiver returns the bound session's transceiver, binding first if there is no session.
func (s *Sender) transceiver(ctx context.Context) (gosmpp.Transceiver, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.session != nil {
		if !s.bound.Load() {
			return nil, fmt.Errorf("smpp: not bound to %s (rebinding every %v)", s.o.Addr, s.o.RebindInterval)
		}
		return s.session.Transceiver(), nil
	}
	conn := connector{
		addr:    s.o.Addr,
		auth:    gosmpp.Auth{SMSC: s.o.Addr, SystemID: s.o.SystemID, Password: s.o.Password, SystemType: s.o.SystemType},
		timeout: s.o.BindTimeout,
		onBound: func(id string) { s.log.Info("smpp_bound", "smsc_system_id", id) },
	}
	settings := gosmpp.Settings{
		EnquireLink:  s.o.EnquireLink,
		ReadTimeout:  2*s.o.EnquireLink + s.o.ResponseTimeout,
		WriteTimeout: s.o.ResponseTimeout,
		OnPDU:        s.onPDU,
		OnSubmitError: func(p pdu.PDU, err error) {
			s.resolve(p.GetSequenceNumber(), result{err: fmt.Errorf("smpp: write: %w", err)})
		},
		OnReceivingError: func(err error) { s.log.Debug("smpp_read_failed", "err", err) },
		OnRebindingError: func(err error) { s.log.Warn("smpp_rebind_failed", "err", bindError(s.o, err)) },
		OnClosed:         s.onClosed,
		OnRebind:         s.onRebind,
	}
	s.bound.Store(true) // before: the connection may already be lost when NewSession returns
	sess, err := gosmpp.NewSession(conn, settings, s.o.RebindInterval)
	if err != nil {
		s.bound.Store(false)
		err = bindError(s.o, err)
		s.log.Warn("smpp_bind_failed", "err", err)
		return nil, err
	}
	s.session = sess
	return sess.Transceiver(), nil
}

// bindError says what a failed bind means, without the password.
func bindError(o Options, err error) error {
	var be gosmpp.BindError
	if errors.As(err, &be) {
		hint := ""
		switch be.CommandStatus {
		case data.ESME_RBINDFAIL, data.ESME_RINVPASWD, data.ESME_RINVSYSID:
			hint = ": check system_id and password"
		}
		return fmt.Errorf("smpp bind_transceiver to %s as %q refused: %s (0x%08X)%s",
			o.Addr, o.SystemID, be.CommandStatus, uint32(be.CommandStatus), hint)
	}
	return fmt.Errorf("smpp bind_transceiver to %s: %w", o.Addr, err)
}

func (s *Sender) onClosed(state gosmpp.State) {
	s.bound.Store(false)
	s.log.Warn("smpp_connection_lost", "state", state.String())
	s.failPending(fmt.Errorf("smpp: connection to %s lost before submit_sm_resp", s.o.Addr))
}

func (s *Sender) onRebind() {
	s.mu.Lock()
	closed, sess := s.closed, s.session
	s.mu.Unlock()
	if closed && sess != nil {
		// Close raced with gosmpp's rebinding loop, which bound again after it: undo that.
		_ = sess.Transceiver().Close()
		return
	}
	s.bound.Store(true)
}

// Close unbinds and closes the connection; Sends waiting for a response fail with ErrClosed.
func (s *Sender) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	sess := s.session
	close(s.inbound)
	s.mu.Unlock()
	var err error
	if sess != nil {
		err = sess.Close() // sends unbind, then closes
	}
	s.bound.Store(false)
	s.failPending(ErrClosed)
	return err
}

// Send submits m.Text to m.To (an E.164 number) and returns when the SMSC has answered every
// part: Receipt{GatewayID: the first part's message_id, Parts}. It waits its turn under the
// rate limit within ctx.
func (s *Sender) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	if m.Kind != "" && m.Kind != channel.SMS {
		return channel.Receipt{}, channel.Permanentf("smpp: cannot send a %s message", m.Kind)
	}
	if !isE164(m.To) {
		return channel.Receipt{}, channel.Permanentf("smpp: recipient %s: not an E.164 number", channel.Redact(m.To))
	}
	dest, err := pdu.NewAddressWithTonNpiAddr(1, 1, m.To[1:])
	if err != nil {
		return channel.Receipt{}, channel.Permanentf("smpp: recipient %s: %w", channel.Redact(m.To), err)
	}
	plan := sms.Analyze(m.Text)
	parts := sms.Split(m.Text)
	if len(parts) > sms.MaxParts {
		return channel.Receipt{}, channel.Permanentf("smpp: text takes %d SMS, more than %d", len(parts), sms.MaxParts)
	}
	enc := data.GSM7BIT
	if plan.Coding == sms.UCS2 {
		enc = data.UCS2
	}
	var g *group
	var ref byte
	if len(parts) > 1 {
		g = &group{ids: make([]string, len(parts))}
		ref = byte(s.ref.Add(1))
	}
	rcpt := channel.Receipt{Parts: len(parts)}
	for i, text := range parts {
		sm, err := pdu.NewShortMessageWithEncoding(text, enc)
		if err != nil {
			return channel.Receipt{}, channel.Permanentf("smpp: encode part %d of %d as %s: %w", i+1, len(parts), plan.Coding, err)
		}
		p := pdu.NewSubmitSM().(*pdu.SubmitSM)
		p.ServiceType = s.o.ServiceType
		p.SourceAddr = s.src
		p.DestAddr = dest
		p.RegisteredDelivery = data.SM_SMSC_RECEIPT_REQUESTED
		if g != nil {
			sm.SetUDH(pdu.UDH{pdu.NewIEConcatMessage(byte(len(parts)), byte(i+1), ref)})
			p.EsmClass |= data.SM_UDH_GSM
		}
		p.Message = sm
		id, err := s.submit(ctx, p, g, i)
		if err != nil {
			s.forget(g)
			return channel.Receipt{}, fmt.Errorf("smpp: submit_sm part %d of %d to %s: %w", i+1, len(parts), channel.Redact(m.To), err)
		}
		if i == 0 {
			rcpt.GatewayID = id
		}
	}
	return rcpt, nil
}

// submit sends one submit_sm and waits for its response.
func (s *Sender) submit(ctx context.Context, p *pdu.SubmitSM, g *group, part int) (string, error) {
	if err := s.limiter.Wait(ctx); err != nil {
		return "", fmt.Errorf("rate limit: %w", err)
	}
	select {
	case s.window <- struct{}{}:
		defer func() { <-s.window }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	trx, err := s.transceiver(ctx)
	if err != nil {
		return "", err
	}
	seq := p.GetSequenceNumber()
	w := &pending{ch: make(chan result, 1), group: g, part: part}
	s.pmu.Lock()
	s.pending[seq] = w
	s.pmu.Unlock()
	if err := trx.Submit(p); err != nil {
		s.drop(seq)
		return "", fmt.Errorf("not bound: %w", err)
	}
	timer := time.NewTimer(s.o.ResponseTimeout)
	defer timer.Stop()
	select {
	case r := <-w.ch:
		return r.id, r.err
	case <-timer.C:
		s.drop(seq)
		return "", fmt.Errorf("no submit_sm_resp within %v", s.o.ResponseTimeout)
	case <-ctx.Done():
		s.drop(seq)
		return "", ctx.Err()
	}
}

func (s *Sender) drop(seq int32) {
	s.pmu.Lock()
	delete(s.pending, seq)
	s.pmu.Unlock()
}

// resolve hands r to the Send waiting for seq, if any. For an accepted part of a
// concatenated message it records the part's message_id first, so that a receipt that
// follows the response on the wire finds its group.
func (s *Sender) resolve(seq int32, r result) {
	s.pmu.Lock()
	w, ok := s.pending[seq]
	delete(s.pending, seq)
	if ok && r.err == nil && w.group != nil && len(s.groups) < MaxTracked {
		w.group.ids[w.part] = r.id
		s.groups[r.id] = w.group
	}
	s.pmu.Unlock()
	if ok {
		w.ch <- r
	}
}

func (s *Sender) failPending(err error) {
	s.pmu.Lock()
	ws := s.pending
	s.pending = map[int32]*pending{}
	s.pmu.Unlock()
	for _, w := range ws {
		w.ch <- result{err: err}
	}
}

// forget drops a concatenated message that was not sent whole.
func (s *Sender) forget(g *group) {
	if g == nil {
		return
	}
	s.pmu.Lock()
	for _, id := range g.ids {
		if id != "" && s.groups[id] == g {
			delete(s.groups, id)
		}
	}
	s.pmu.Unlock()
}

// onPDU runs on gosmpp's reading goroutine, one PDU at a time.
func (s *Sender) onPDU(p pdu.PDU, _ bool) {
	switch p := p.(type) {
	case *pdu.SubmitSMResp:
		s.resolve(p.SequenceNumber, response("submit_sm", p.CommandStatus, p.MessageID))
	case *pdu.GenericNack:
		s.resolve(p.SequenceNumber, response("submit_sm", p.CommandStatus, ""))
	case *pdu.DeliverSM:
		s.onDeliver(p)
	}
}

func response(cmd string, status data.CommandStatusType, id string) result {
	if status == data.ESME_ROK {
		return result{id: id}
	}
	err := &StatusError{Command: cmd, Status: status}
	if err.Transient() {
		return result{err: err}
	}
	return result{err: channel.Permanent(err)}
}

// onDeliver turns a delivery receipt into a Report, and hands other deliver_sm (messages
// from handsets) to Options.Inbound (gosmpp answers deliver_sm_resp).
func (s *Sender) onDeliver(p *pdu.DeliverSM) {
	if p.EsmClass&0x3C != data.SM_SMSC_DLV_RCPT_TYPE {
		s.onMessage(p)
		return
	}
	raw, _ := p.Message.GetMessageData()
	r, err := ParseReceipt(string(raw))
	if f, ok := p.OptionalParameters[pdu.TagReceiptedMessageID]; ok && f.String() != "" {
		r.ID = f.String()
	}
	if f, ok := p.OptionalParameters[pdu.TagMessageStateOption]; ok && len(f.Data) == 1 && messageStates[f.Data[0]] != "" {
		r.Stat = messageStates[f.Data[0]]
	}
	if r.ID == "" || r.Stat == "" {
		s.log.Warn("smpp_receipt_unreadable", "err", err)
		return
	}
	delivered, failed := r.Final()
	s.pmu.Lock()
	g := s.groups[r.ID]
	var rep *channel.Report
	switch {
	case g == nil:
		rep = &channel.Report{GatewayID: r.ID, Delivered: delivered, Failed: failed, Status: r.Stat}
	case delivered || failed:
		delete(s.groups, r.ID)
		g.final++
		if failed && !g.failed {
			g.failed, g.stat = true, r.Stat
		}
		if g.final == len(g.ids) {
			stat := g.stat
			if !g.failed {
				stat = "DELIVRD"
			}
			rep = &channel.Report{GatewayID: g.ids[0], Delivered: !g.failed, Failed: g.failed, Status: stat}
		}
	}
	s.pmu.Unlock()
	if rep != nil && s.o.Reports != nil {
		rep.At = s.o.Now()
		s.o.Reports(*rep)
	}
}

// onMessage hands a mobile-originated deliver_sm to Options.Inbound: the source address as
// E.164 (a "+" added to an international number), the text decoded.
func (s *Sender) onMessage(p *pdu.DeliverSM) {
	if s.o.Inbound == nil {
		s.log.Debug("smpp_deliver_sm_ignored", "esm_class", p.EsmClass)
		return
	}
	in, ok := s.reassemble(p)
	if !ok {
		return
	}
	// handled off the session's reading goroutine (a reply's submit_sm_resp arrives on it) by
	// inboundWorkers workers, up to inboundQueue messages waiting; beyond that a message is
	// dropped (logged): the SMSC has had its deliver_sm_resp already
	s.moOnce.Do(func() {
		for range inboundWorkers {
			go func() {
				for in := range s.inbound {
					ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
					if err := s.o.Inbound(ctx, in); err != nil {
						s.log.Warn("smpp_mo_failed", "message", in, "err", err)
					}
					cancel()
				}
			}()
		}
	})
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.inbound <- in:
	default:
		s.log.Warn("smpp_mo_dropped", "message", in, "why", "too many messages from handsets waiting")
	}
}

// How messages from handsets are handled: this many at once, this many waiting at most.
const (
	inboundWorkers = 8
	inboundQueue   = 4096
)

// Inbound reads a mobile-originated deliver_sm (SMPP 3.4 §4.6.1): source_addr becomes the
// sender in E.164 ("+" added; a national number is read as Pakistani), destination_addr the
// To, short_message (or the message_payload TLV) decoded by data_coding. An error names
// what is wrong.
func Inbound(p *pdu.DeliverSM, at time.Time) (channel.Inbound, error) {
	in, err := inboundAddrs(p, at)
	if err != nil {
		return in, err
	}
	text, err := p.Message.GetMessage()
	if err != nil {
		return in, fmt.Errorf("short_message: %w", err)
	}
	if !utf8.ValidString(text) {
		return in, fmt.Errorf("short_message: does not decode to text")
	}
	in.Text = text
	return in, nil
}

// inboundAddrs reads a mobile-originated deliver_sm's addresses, as Inbound does.
func inboundAddrs(p *pdu.DeliverSM, at time.Time) (channel.Inbound, error) {
	in := channel.Inbound{Gateway: "smpp", Received: at, To: p.DestAddr.Address()}
	src := p.SourceAddr.Address()
	if src == "" {
		return in, fmt.Errorf("source_addr: empty")
	}
	if !strings.HasPrefix(src, "+") && (p.SourceAddr.Ton() == data.GSM_TON_INTERNATIONAL || (len(src) > 10 && src[0] != '0')) {
		src = "+" + src
	}
	num, err := phonenumbers.Parse(src, "PK")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return in, fmt.Errorf("source_addr: not a phone number")
	}
	in.From = phonenumbers.Format(num, phonenumbers.E164)
	return in, nil
}
