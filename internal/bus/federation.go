package bus

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
)

// Federation on the bus (docs/federation.md). A partner node logs in to this node's NATS with
// its nkey (a signed nonce: no secret crosses the wire) into an account of its own
// (partnerAccount), which imports from the node's account exactly what its agreements let out:
// for each agreement's stream (FedStream) the JetStream calls that fetch from and acknowledge
// its own durable consumer on it, and the subject that lists its agreements (fedList). The
// node's account exports each of these to that partner's account only. The account boundary is
// the enforcement point: a subscription or request the partner chooses — the node's
// observations, another partner's stream, the JetStream API of the node's account, '>' — is
// in the partner's account, where nothing of the node's is published; the per-user permissions
// it also gets (fedPermissions) are a second layer. Each agreement's stream is filled by the
// node's exporter with what the agreement lets leave (selection, resolution, embargo);
// revoking deletes the stream and closes the partner's sessions, which log in again into the
// account of the agreements left.

// Partners is what the bus asks the store about partner nodes.
type Partners interface {
	// PartnerByNKey returns the node id of the partner with public nkey key ("" when none).
	PartnerByNKey(ctx context.Context, key string) (string, error)
	// AgreementsFor returns the ids of the active agreements whose consumer is node.
	AgreementsFor(ctx context.Context, node string) ([]int64, error)
}

// FedStream is the JetStream stream of agreement id on provider node.
func FedStream(provider string, id int64) string {
	return "FED_" + strings.ToUpper(strings.ReplaceAll(provider, "-", "_")) + "_" + strconv.FormatInt(id, 10)
}

// FedSubject is the subject of agreement id's exported values.
func FedSubject(provider string, id int64) string {
	return "rabta." + provider + ".fed." + strconv.FormatInt(id, 10)
}

// fedList is the subject a partner asks for the ids of its active agreements.
func fedList(provider string) string { return "rabta." + provider + ".fedlist" }

// fedListOf is the subject in the provider's account that partner node's fedList maps to:
// the import says who asks, not the partner.
func fedListOf(provider, node string) string { return fedList(provider) + "." + node }

// fedImports are the subjects partner node's account imports from provider's account given
// its agreements: local subject (what the partner publishes) → subject in the provider's
// account, with the response type.
func fedImports(provider, node string, agreements []int64) []fedImport {
	out := []fedImport{{fedList(provider), fedListOf(provider, node), server.Singleton}}
	for _, id := range agreements {
		s := FedStream(provider, id)
		next, info, ack := "$JS.API.CONSUMER.MSG.NEXT."+s+"."+node, "$JS.API.CONSUMER.INFO."+s+"."+node, "$JS.ACK."+s+"."+node+".>"
		out = append(out, fedImport{next, next, server.Streamed}, fedImport{info, info, server.Singleton}, fedImport{ack, ack, server.Singleton})
	}
	return out
}

type fedImport struct {
	from, to string
	resp     server.ServiceRespType
}

// partnerAccount returns the account partner node logs in to while its active agreements are
// ids: made on first use, named for the partner and the set of agreements
// (PARTNER_<node>_<hash>), importing fedImports from the node's account, which exports each to
// it alone. The server has no call that withdraws an export or an import, so a change of
// agreements gives a new account (and the partner's sessions are closed, ReauthPartners); the
// old one keeps its imports but no one logs in to it again, and the streams of revoked
// agreements are deleted. Accounts made are kept for the life of the server: one per set of
// agreements a partner has had.
func (b *Bus) partnerAccount(node string, ids []int64) (*server.Account, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	h := sha256.Sum256(fmt.Append(nil, node, ids))
	name := "PARTNER_" + node + "_" + hex.EncodeToString(h[:6])
	b.fmu.Lock()
	defer b.fmu.Unlock()
	if a := b.paccs[name]; a != nil {
		return a, nil
	}
	a, err := b.srv.RegisterAccount(name)
	if errors.Is(err, server.ErrAccountExists) {
		a, err = b.srv.LookupAccount(name)
	}
	if err != nil {
		return nil, fmt.Errorf("bus: account of partner %s: %w", node, err)
	}
	for _, im := range fedImports(b.opts.Node, node, ids) {
		if err := b.acc.AddServiceExportWithResponse(im.to, im.resp, []*server.Account{a}); err != nil {
			return nil, fmt.Errorf("bus: export %s to partner %s: %w", im.to, node, err)
		}
		if err := a.AddServiceImport(b.acc, im.from, im.to); err != nil {
			return nil, fmt.Errorf("bus: import %s by partner %s: %w", im.to, node, err)
		}
	}
	if b.paccs == nil {
		b.paccs = map[string]*server.Account{}
	}
	b.paccs[name] = a
	return a, nil
}

// fedListener says why partners may not log in on the NATS client listener at addr: one off
// loopback without TLS would carry their sessions in clear. nil when they may.
func fedListener(addr string, tls bool) error {
	if tls || addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("bus: the NATS listener %s is not on loopback and has no TLS: partner nodes may not log in (set federation_tls_cert and federation_tls_key)", addr)
}

// FederationListener says why partner nodes could not log in to a bus opened with o (its
// embedded NATS listener off loopback without TLS), or nil when they could; an error naming
// the file when o's TLS files cannot be loaded. It opens nothing: a node checks it before it
// opens the bus, so that a configuration it refuses starts nothing.
func (o Options) FederationListener() error {
	if o.URL != "" {
		return nil // an external cluster: partners do not log in to this node
	}
	tlsc, err := o.TLS.config()
	if err != nil {
		return err
	}
	return fedListener(o.ClientAddr, tlsc != nil)
}

// FederationListener says why partner nodes may not log in to this node (its NATS listener is
// off loopback without TLS), or nil when they may. A node with partners refuses to start
// federation on such a listener.
func (b *Bus) FederationListener() error { return b.fedErr }

// inboxPrefix is partner node's reply-inbox prefix.
func inboxPrefix(node string) string { return "_INBOX_" + node }

// fedPermissions are partner node's permissions on provider's server, given its agreements.
func fedPermissions(provider, node string, agreements []int64) *server.Permissions {
	pub := []string{fedList(provider)}
	for _, id := range agreements {
		s := FedStream(provider, id)
		pub = append(pub, "$JS.API.CONSUMER.MSG.NEXT."+s+"."+node, "$JS.API.CONSUMER.INFO."+s+"."+node, "$JS.ACK."+s+"."+node+".>")
	}
	return &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: pub},
		Subscribe: &server.SubjectPermission{Allow: []string{inboxPrefix(node) + ".>"}},
	}
}

// checkPartner authenticates a client that presents an nkey: the signature of the server's
// nonce must verify under the key, and the key must be a registered partner's.
func (a *clientAuth) checkPartner(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	b := a.bus
	if b.opts.Partners == nil {
		return false
	}
	if b.fedErr != nil {
		b.partnerRefused("config", func() {
			b.log.Warn("bus_partner_refused", "remote", addr(c.RemoteAddress()), "reason", b.fedErr.Error(), "logged", "at most once in 10 s")
		})
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(o.Sig)
	if err != nil {
		if sig, err = base64.StdEncoding.DecodeString(o.Sig); err != nil {
			return false
		}
	}
	pub, err := nkeys.FromPublicKey(o.Nkey)
	if err != nil || pub.Verify(c.GetNonce(), sig) != nil {
		b.partnerRefused("sig:"+o.Nkey, func() {
			b.log.Info("bus_partner_refused", "remote", addr(c.RemoteAddress()), "nkey", o.Nkey, "reason", "bad nkey signature",
				"logged", "at most once in 10 s per key")
		})
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	node, err := b.opts.Partners.PartnerByNKey(ctx, o.Nkey)
	if err != nil || node == "" {
		b.partnerRefused("key:"+o.Nkey, func() { // a removed partner retries every 2 s
			b.log.Info("bus_partner_refused", "remote", addr(c.RemoteAddress()), "nkey", o.Nkey, "reason", "not a partner's nkey",
				"logged", "at most once in 10 s per key")
		})
		return false
	}
	ids, err := b.opts.Partners.AgreementsFor(ctx, node)
	if err != nil {
		b.log.Error("bus_partner_refused", "partner", node, "err", err)
		return false
	}
	acc, err := b.partnerAccount(node, ids)
	if err != nil {
		b.log.Error("bus_partner_refused", "partner", node, "err", err)
		return false
	}
	b.fmu.Lock()
	if b.partners == nil {
		b.partners = map[uint64]partnerSession{}
	}
	b.partners[c.GetID()] = partnerSession{node: node, nkey: o.Nkey}
	noPerms := b.noPartnerPerms
	b.fmu.Unlock()
	perms := fedPermissions(b.opts.Node, node, ids)
	if noPerms {
		perms = nil
	}
	c.RegisterUser(&server.User{Username: "partner-" + node, Permissions: perms, Account: acc})
	b.log.Info("bus_partner_connected", "partner", node, "agreements", len(ids))
	return true
}

// partnerRefused runs log unless a refusal of the same kind (and nkey) was logged in the last
// partnerRefusedEvery: a client retrying with what no longer logs in (a removed partner, a
// wrong key) gives one line per interval, not one per attempt.
func (b *Bus) partnerRefused(kind string, log func()) {
	now := time.Now()
	b.fmu.Lock()
	if b.refusedAt == nil || len(b.refusedAt) > 1024 { // bounded: many keys only make it log more
		b.refusedAt = map[string]time.Time{}
	}
	last, seen := b.refusedAt[kind]
	if !seen || now.Sub(last) >= partnerRefusedEvery {
		b.refusedAt[kind] = now
	} else {
		log = nil
	}
	b.fmu.Unlock()
	if log != nil {
		log()
	}
}

// partnerRefusedEvery is how often a refused partner login of one kind and key is logged.
var partnerRefusedEvery = 10 * time.Second

// ReauthPartners closes the live sessions of partner node (every partner when node is ""):
// they log in again with the permissions their agreements give now. Called after each change
// of agreements, so that a revoked agreement's subjects are closed at once.
func (b *Bus) ReauthPartners(node string) {
	if b.srv == nil {
		return
	}
	b.fmu.Lock()
	var ids []uint64
	for id, p := range b.partners {
		if node == "" || p.node == node {
			ids = append(ids, id)
			delete(b.partners, id)
		}
	}
	b.fmu.Unlock()
	for _, id := range ids {
		b.srv.DisconnectClientByID(id)
	}
}

// partnerSession is a live partner session: its node and the nkey it logged in with.
type partnerSession struct{ node, nkey string }

// partnerKeysEvery is how often watchPartnerKeys looks again at the keys of live partner
// sessions.
var partnerKeysEvery = time.Second

// watchPartnerKeys runs CheckPartnerKeys every partnerKeysEvery until the bus is closed: a
// partner's key replaced by the command line (another process, which writes only the store)
// closes the old key's sessions within about a second.
func (b *Bus) watchPartnerKeys() {
	t := time.NewTicker(partnerKeysEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			b.CheckPartnerKeys(ctx)
			cancel()
		}
	}
}

// CheckPartnerKeys closes each live partner session whose nkey is no longer its partner's (the
// partner was given a new key, the way a leaked one is replaced, or was removed): the old key
// cannot log in again (checkPartner asks the store at each login). A store error closes
// nothing.
func (b *Bus) CheckPartnerKeys(ctx context.Context) {
	if b.srv == nil || b.opts.Partners == nil {
		return
	}
	b.fmu.Lock()
	keys := map[string]string{} // nkey → the node it logged in as
	for _, p := range b.partners {
		keys[p.nkey] = p.node
	}
	b.fmu.Unlock()
	stale := map[string]bool{}
	for key, node := range keys {
		now, err := b.opts.Partners.PartnerByNKey(ctx, key)
		if err != nil {
			return
		}
		if now != node {
			stale[key] = true
			b.log.Info("bus_partner_key_replaced", "partner", node, "nkey", key, "why", "no longer the partner's key: its sessions are closed")
		}
	}
	if len(stale) == 0 {
		return
	}
	b.fmu.Lock()
	var ids []uint64
	for id, p := range b.partners {
		if stale[p.nkey] {
			ids = append(ids, id)
			delete(b.partners, id)
		}
	}
	b.fmu.Unlock()
	for _, id := range ids {
		b.srv.DisconnectClientByID(id)
	}
}

// ServeFedList answers partners' requests for the ids of their active agreements (the
// partner is the one whose account's import maps its request to fedListOf(node, partner)).
func (b *Bus) ServeFedList(ctx context.Context) error {
	s, err := b.nc.Subscribe(fedList(b.opts.Node)+".*", func(m *nats.Msg) {
		node := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
		if b.opts.Partners == nil || m.Reply == "" {
			return
		}
		ids, err := b.opts.Partners.AgreementsFor(ctx, node)
		if err != nil {
			b.log.Warn("fed_list_failed", "partner", node, "err", err)
			return
		}
		data, _ := json.Marshal(ids)
		m.Respond(data)
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return nil
}

// EnsureFed makes sure agreement id's stream and consumer node's durable consumer on it exist.
// The stream keeps what the partner has not fetched for up to maxAge (store and forward: a
// link down for less loses nothing).
func (b *Bus) EnsureFed(ctx context.Context, id int64, consumer string, maxAge time.Duration) error {
	s, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: FedStream(b.opts.Node, id), Subjects: []string{FedSubject(b.opts.Node, id)},
		Storage: jetstream.FileStorage, MaxAge: maxAge, Duplicates: b.opts.DupWindow, Replicas: b.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("bus: federation stream of agreement %d: %w", id, err)
	}
	if _, err := s.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: consumer, AckPolicy: jetstream.AckAllPolicy, AckWait: fedAckWait, // a batch acknowledged by its last
		DeliverPolicy: jetstream.DeliverAllPolicy, MaxAckPending: 4096,
	}); err != nil {
		return fmt.Errorf("bus: federation consumer of agreement %d: %w", id, err)
	}
	return nil
}

// fedAckWait is how long a fetched value not acknowledged waits before it is delivered again
// (a variable for tests).
var fedAckWait = 30 * time.Second

// DeleteFed deletes agreement id's stream (and so its consumer): nothing more can be fetched.
func (b *Bus) DeleteFed(ctx context.Context, id int64) error {
	err := b.js.DeleteStream(ctx, FedStream(b.opts.Node, id))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	return err
}

// PublishFed publishes one exported value to agreement id's stream; msgID de-duplicates.
func (b *Bus) PublishFed(ctx context.Context, id int64, msgID string, data []byte) error {
	m := nats.NewMsg(FedSubject(b.opts.Node, id))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	_, err := b.js.PublishMsg(ctx, m)
	return err
}

// PublishFedAsync is PublishFed without waiting for JetStream's ack; FedAcks waits for every
// outstanding one.
func (b *Bus) PublishFedAsync(id int64, msgID string, data []byte) error {
	m := nats.NewMsg(FedSubject(b.opts.Node, id))
	m.Data = data
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	_, err := b.js.PublishMsgAsync(m)
	return err
}

// FedAcks waits until JetStream has acknowledged every asynchronous publish (or ctx ends,
// or 30 s pass).
func (b *Bus) FedAcks(ctx context.Context) error {
	select {
	case <-b.js.PublishAsyncComplete():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(30 * time.Second):
		return errors.New("bus: no ack from JetStream within 30s")
	}
}

// Link is this node's side of receiving from a provider node: a NATS connection to the
// provider's server, logged in with this node's nkey, that fetches from this node's consumers
// on the provider's agreement streams.
type Link struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	provider string
	node     string

	refused *atomic.Bool // the provider refused the last login (not a partner with this key)

	mu   sync.Mutex
	next map[int64]uint64             // per agreement, the stream sequence the link passes on next
	cons map[int64]jetstream.Consumer // per agreement, its consumer (looked up once, not per fetch)
	gaps atomic.Int64
}

// Dial connects to a provider's NATS at url as node, signing the login nonce with seed (an
// nkey user seed, "SU…"). ca, when set, is PEM: the certificates a tls:// provider's must chain
// to (its CA, or its own certificate pinned) instead of the system's roots. It returns at once;
// the connection is made, and remade after a cut, in the background. DialLog is Dial with the
// link's state in log.
func Dial(url, provider, node string, seed, ca []byte) (*Link, error) {
	return DialLog(url, provider, node, seed, ca, nil)
}

// Reconnection of a link: the first retry after linkRetryFirst, each next one twice as late,
// at most linkRetryMax apart — a provider that refuses (a wrong key, a TLS mismatch, the
// partner removed and added again) sees a few tries a minute, not four a second. A refused
// login does not end the link: the provider may fix it.
const (
	linkRetryFirst = 250 * time.Millisecond
	linkRetryMax   = 2 * time.Second
)

// linkRefusedMax is how far apart, at most, the retries of a login the provider refuses go
// (the partner removed there, or this node's key not the one it has): doubling on from
// linkRetryMax, it is not going to change within seconds.
const linkRefusedMax = time.Minute

// linkRetry is the delay before reconnection attempt n (1, 2, …).
func linkRetry(n int) time.Duration { return linkRetryUpTo(n, linkRetryMax) }

func linkRetryUpTo(n int, most time.Duration) time.Duration {
	d := linkRetryFirst
	for i := 1; i < n && d < most; i++ {
		d *= 2
	}
	return min(d, most)
}

// Refused reports whether the provider refused this link's last login (an authorization
// violation: it no longer has this node as a partner, or not with this key). A login that
// succeeds clears it.
func (l *Link) Refused() bool { return refusedNow(l.refused, l.nc) }

// notOffered reports whether err is the provider refusing this link the JetStream API of an
// agreement's consumer (a permissions violation on $JS.API.CONSUMER.….FED_<provider>_<id>.…):
// the agreement is no longer offered to this node (revoked or expired), and which.
func notOffered(err error) (int64, bool) {
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		return 0, false
	}
	m := notOfferedRE.FindStringSubmatch(err.Error())
	if m == nil {
		return 0, false
	}
	id, perr := strconv.ParseInt(m[1], 10, 64)
	return id, perr == nil
}

var notOfferedRE = regexp.MustCompile(`\$JS\.API\.CONSUMER\.[A-Z_.]*?\bFED_[A-Z0-9_]*?_([0-9]+)\.`)

// refusedNow is Refused from the flag the handlers keep and nc's last error: a link that never
// logged in has its refusals in the last error only (the client reports them to no handler).
func refusedNow(flag *atomic.Bool, nc *nats.Conn) bool {
	if flag.Load() {
		return true
	}
	if nc == nil || nc.IsConnected() {
		return false
	}
	err := nc.LastError()
	return err != nil && (errors.Is(err, nats.ErrAuthorization) || strings.Contains(strings.ToLower(err.Error()), "authorization violation"))
}

// linkHint says what to check when a link's connection fails with err: the cause when err
// names one (a tls:// link to a listener without TLS, a certificate the link does not trust),
// else the usual suspects.
func linkHint(err error) string {
	var verify *tls.CertificateVerificationError
	switch {
	case errors.Is(err, nats.ErrSecureConnWanted):
		return "the provider's NATS listener has no TLS, and this link's url is tls://: the provider's operator sets federation_tls_cert and federation_tls_key " +
			"(required off loopback), or, for a provider on loopback, the partner's url is nats://"
	case errors.As(err, &verify):
		return "the provider's TLS certificate is not signed by the CA this link trusts: give its CA (or its certificate) with partners add --ca FILE, " +
			"or check the url's host name is in the certificate"
	}
	return "the provider down, or it no longer has this node as a partner (its nkey), or its listener wants TLS (tls:// and --ca) or another address"
}

// DialLog is Dial logging the link's state to log (nil: not logged): at INFO
// federation_link_reconnecting when the session is lost (the provider closes its partners'
// sessions whenever their agreements change), federation_agreement_not_offered when the
// provider refuses the consumer of an agreement it no longer offers, and federation_link_up
// when the connection is made; at WARN federation_link_down when an attempt to connect fails
// and federation_link_error for another error the provider's server sends (a refused login) —
// at most one of these two a minute.
func DialLog(url, provider, node string, seed, ca []byte, log *slog.Logger) (*Link, error) {
	kp, err := nkeys.FromSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("federation key: %w", err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, err
	}
	refused := new(atomic.Bool)
	var conn atomic.Pointer[nats.Conn]
	delay := func(n int) time.Duration { // called without the connection's lock
		if refusedNow(refused, conn.Load()) {
			return linkRetryUpTo(n, linkRefusedMax)
		}
		return linkRetry(n)
	}
	failed := func(err error) {
		if errors.Is(err, nats.ErrAuthorization) {
			refused.Store(true)
		}
	}
	opts := []nats.Option{nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(inboxPrefix(node)), nats.Name("rabta-" + node + "-link"),
		nats.MaxReconnects(-1), nats.RetryOnFailedConnect(true), nats.CustomReconnectDelay(delay), nats.IgnoreAuthErrorAbort(), nats.NoEcho()}
	if log == nil {
		opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { failed(err) }), // a refused login is reported here
			nats.ConnectHandler(func(*nats.Conn) { refused.Store(false) }), nats.ReconnectHandler(func(*nats.Conn) { refused.Store(false) }))
	}
	if log != nil {
		var mu sync.Mutex
		var said time.Time // when the link's trouble was last logged (at most once a minute, recoveries or not)
		say := func(msg string, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err == nil || time.Since(said) < time.Minute {
				return
			}
			said = time.Now()
			log.Warn(msg, "url", url, "err", err.Error(), "retrying", "after 2 s at most (a refused login ever less often, up to once a minute); logged at most once a minute",
				"hint", linkHint(err))
		}
		opts = append(opts,
			// a session lost: the provider closes its partners' sessions whenever their agreements
			// change (docs/federation.md), so this is news only if logging in again fails (below)
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					log.Info("federation_link_reconnecting", "url", url, "err", err.Error(),
						"why", "the provider closed the session: its agreements with this node changed (or it is stopping); logging in again")
				}
			}),
			nats.ReconnectErrHandler(func(_ *nats.Conn, err error) { say("federation_link_down", err) }),
			nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
				failed(err) // a refused login is reported here
				if id, ok := notOffered(err); ok {
					log.Info("federation_agreement_not_offered", "agreement", id,
						"why", "the provider no longer offers it to this node (revoked or expired there): its receiver stops")
					return
				}
				say("federation_link_error", err)
			}))
		up := func(*nats.Conn) {
			refused.Store(false)
			log.Info("federation_link_up", "url", url)
		}
		opts = append(opts, nats.ConnectHandler(up), nats.ReconnectHandler(up))
	}
	if len(ca) > 0 {
		pool, err := caPool(ca)
		if err != nil {
			return nil, fmt.Errorf("federation link to %s: ca: %w", provider, err)
		}
		opts = append(opts, nats.Secure(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("federation link to %s: %w", provider, err)
	}
	conn.Store(nc)
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Link{nc: nc, js: js, provider: provider, node: node, refused: refused, next: map[int64]uint64{}, cons: map[int64]jetstream.Consumer{}}, nil
}

// Close closes the link.
func (l *Link) Close() { l.nc.Close() }

// Agreements asks the provider for the ids of this node's active agreements.
func (l *Link) Agreements(ctx context.Context) ([]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	m, err := l.nc.RequestWithContext(ctx, fedList(l.provider), nil)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if err := json.Unmarshal(m.Data, &ids); err != nil {
		return nil, fmt.Errorf("federation list from %s: %w", l.provider, err)
	}
	return ids, nil
}

// FedMsg is one message fetched from an agreement's stream.
type FedMsg struct {
	Data      []byte
	Seq       uint64
	agreement int64
	msg       jetstream.Msg
}

// Fetch fetches up to n messages of agreement id, in order: it waits up to wait for the
// first, then takes what else is there without waiting (so a value is passed on as soon as it
// arrives, and a backlog in batches of n).
//
// It passes on only values in unbroken stream order from the last one acknowledged: the
// consumer acknowledges "all up to" a message, so a value missing before one acknowledged
// would be lost. Values go missing when the provider delivered them to a pull request this
// link had stopped waiting on (a client-side timeout under load), or when a batch could not
// be stored and was not acknowledged while later ones were fetched. Those values come again
// after the consumer's ack wait; what was fetched after the gap is left unacknowledged (so
// also comes again), and Gaps counts each such cut.
//
// The consumer is looked up on the first fetch of an agreement and kept (one round trip less
// per fetch); any error but "nothing within wait" forgets it, and the next fetch looks it up
// again. Fetch may be called for different agreements at once.
func (l *Link) Fetch(ctx context.Context, id int64, n int, wait time.Duration) ([]FedMsg, error) {
	l.mu.Lock()
	c := l.cons[id]
	l.mu.Unlock()
	if c == nil {
		ictx, cancel := context.WithTimeout(ctx, max(wait, time.Second)) // an agreement not (or no longer) ours has no answer
		var err error
		c, err = l.js.Consumer(ictx, FedStream(l.provider, id), l.node)
		cancel()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		l.cons[id] = c
		l.mu.Unlock()
	}
	first, err := c.Next(jetstream.FetchMaxWait(wait))
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
		return nil, nil
	}
	if err != nil {
		l.mu.Lock()
		delete(l.cons, id)
		l.mu.Unlock()
		return nil, err
	}
	out := make([]FedMsg, 0, n)
	add := func(m jetstream.Msg) {
		if md, err := m.Metadata(); err == nil {
			out = append(out, FedMsg{Data: m.Data(), Seq: md.Sequence.Stream, agreement: id, msg: m})
		}
	}
	add(first)
	if n > 1 {
		if batch, err := c.FetchNoWait(n - 1); err == nil {
			for m := range batch.Messages() {
				add(m)
			}
		}
	}
	return l.inOrder(ctx, id, c, out), nil
}

// inOrder keeps of out the values that continue agreement id's stream from the last one
// acknowledged (see Fetch).
func (l *Link) inOrder(ctx context.Context, id int64, c jetstream.Consumer, out []FedMsg) []FedMsg {
	l.mu.Lock()
	expect, known := l.next[id]
	l.mu.Unlock()
	if !known {
		expect = c.CachedInfo().AckFloor.Stream + 1
	}
	for try := 0; ; try++ {
		kept, old, cut := contiguous(out, expect)
		if len(kept) == 0 && old != nil {
			// only values acknowledged before (delivered again): acknowledging the last
			// changes nothing and stops their coming back
			_ = old.msg.DoubleAck(ctx)
		}
		if cut && len(kept) == 0 && try == 0 {
			// the gap may be values the provider's stream no longer holds (past its maximum
			// age): then its acknowledgement floor has moved past them
			if ci, err := c.Info(ctx); err == nil && ci.AckFloor.Stream+1 > expect {
				expect = ci.AckFloor.Stream + 1
				continue
			}
		}
		if cut {
			l.gaps.Add(1)
		}
		return kept
	}
}

// contiguous returns the values of out from stream sequence expect on without a gap, the last
// value before expect (nil if none), and whether a gap cut the rest off.
func contiguous(out []FedMsg, expect uint64) (kept []FedMsg, old *FedMsg, cut bool) {
	for i := range out {
		switch m := &out[i]; {
		case m.Seq < expect:
			old = m
		case m.Seq == expect:
			kept = append(kept, *m)
			expect++
		default:
			return kept, old, true
		}
	}
	return kept, old, false
}

// Gaps is how many fetches were cut short at a gap in the stream order (see Fetch).
func (l *Link) Gaps() int64 { return l.gaps.Load() }

// Ack acknowledges fetched messages once they are stored: they are not sent again. The
// consumer acknowledges all up to a message with that message's ack, so one message
// acknowledges the batch; the link then expects the stream's next value.
//
// It does not wait for the provider's confirmation (a round trip per batch that held up the
// next fetch): an acknowledgement lost on the way is covered by the next one ("all up to"),
// and if none follows the values come again after the ack wait, below the sequence the link
// expects, and are acknowledged again without being passed on (inOrder). The error is the
// connection's (closed).
func (l *Link) Ack(ctx context.Context, msgs []FedMsg) error {
	if len(msgs) == 0 {
		return nil
	}
	last := msgs[len(msgs)-1]
	if err := last.msg.Ack(); err != nil {
		return err
	}
	l.mu.Lock()
	l.next[last.agreement] = last.Seq + 1
	l.mu.Unlock()
	return nil
}

// Raw returns the link's NATS connection (tests subscribe with it to what the link may not).
func (l *Link) Raw() *nats.Conn { return l.nc }

// ServerName is the name of node's embedded NATS server (its INFO's server_name).
func ServerName(node string) string { return "rabta-" + node }

// ServerAt returns the server_name a NATS server listening at url (nats:// or tls://
// host[:port], port 4222 when none) announces in its INFO line, read before any login: so a
// link can tell a provider that refuses its login from a url that reaches another server
// (a node's own, a typo of a port). It reads at most 16 KiB, for at most 3 s.
func ServerAt(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("bus: %q is not a nats:// or tls:// url", rawURL)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "4222")
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetReadDeadline(dl)
	}
	line, err := bufio.NewReaderSize(io.LimitReader(c, 16<<10), 16<<10).ReadSlice('\n')
	if err != nil {
		return "", fmt.Errorf("bus: no INFO from %s: %w", host, err)
	}
	rest, ok := bytes.CutPrefix(line, []byte("INFO "))
	if !ok {
		return "", fmt.Errorf("bus: %s is not a NATS server (no INFO line)", host)
	}
	var info struct {
		Name string `json:"server_name"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(rest), &info); err != nil {
		return "", fmt.Errorf("bus: the INFO of %s: %w", host, err)
	}
	return info.Name, nil
}
