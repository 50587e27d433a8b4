// Package bus is Rabta's event backbone and the only package that imports NATS. By default it
// embeds a NATS server in the process (JetStream on disk under the data directory, client and
// MQTT listeners on loopback) and connects to it in-process; with a URL it connects to an
// external NATS cluster instead and starts nothing.
//
// Accepted observations reach the bus through the store's transactional outbox: the Relay
// publishes each outbox entry to the node's OBS stream with the entry id as the JetStream
// message id, so an entry published twice (the relay crashed between publishing and deleting
// it) is stored once. Consumers are durable JetStream consumers that treat each message
// idempotently.
//
// Clients of the embedded server (MQTT and NATS alike) log in with an API key. What each key may
// do is written once, in the access table (Table), from which its server permissions are
// generated; what permissions cannot say — retained messages, revoked or expired keys' live
// sessions, publishes no one takes — Enforce checks at run time. Every refusal is logged
// (bus_refused) and counted (Options.OnRefused). They, Rabta's own connection and the node's
// streams are in the embedded server's account named for the node (NodeAccount), whose
// JetStream domain is the node id; partner nodes log in to accounts of their own
// (federation.go).
package bus

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/time/rate"

	"github.com/rabta/rabta/internal/auth"
)

// Authenticator checks an API key presented by an MQTT or NATS client.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (*auth.Principal, error)
}

// Options configure a Bus.
type Options struct {
	// Node is the node id, part of every subject and stream name.
	Node string
	// DataDir holds the embedded server's JetStream files (DataDir/nats).
	DataDir string
	// URL, when set, is an external NATS cluster to use instead of the embedded server.
	URL string
	// ClientAddr is the embedded server's NATS client listener ("127.0.0.1:4222"); empty
	// means no listener (in-process connections only). Port 0 picks a free port.
	ClientAddr string
	// MQTTAddr is the embedded server's MQTT listener ("127.0.0.1:1883"); empty means none.
	MQTTAddr string
	// Auth authenticates clients of the embedded server by API key (MQTT password, or NATS
	// token/password); required when either listener is on.
	Auth Authenticator
	// Key is the API key to present to an external server that authenticates by key (another
	// Rabta node's embedded server); empty for none.
	Key string
	// Replicas is the stream replica count on an external cluster (1 when embedded).
	Replicas int
	// DupWindow is how long JetStream remembers message ids to drop re-published ones.
	DupWindow time.Duration
	// MaxAge bounds how long the OBS stream keeps messages (0: 7 days).
	MaxAge time.Duration
	// MaxPayload bounds a message a client of the embedded server publishes, in bytes (0: 1 MiB,
	// NATS's default). Over it, the server refuses the message and closes the connection (MQTT
	// 3.1.1 has no other answer to a PUBLISH); the refusal is logged and counted
	// (RefusedPayload).
	MaxPayload int32
	// Keys, when set, is where Enforce looks the keys of live sessions up again (auth.Store).
	Keys Keys
	// Writes, when set, is the per-key write limit Enforce holds the clients' publishes to
	// (writes.go); a key over it cannot log in until it may write again.
	Writes WriteLimit
	// Narrow, when set, narrows the topics the access table grants each key (not the node-wide
	// admin's): at login, and again at each round of Enforce's re-check, so that a change (a
	// datastream created since) reaches live sessions within a round. See Narrow.
	Narrow Narrow
	// OnRefused is called with the reason (Refused*) of each refusal; OnClosed with the reason
	// (ClosedRevoked) of each session closed. Either may be nil. Rabta counts them as metrics.
	OnRefused, OnClosed func(reason string)
	Log                 *slog.Logger
	// Partners, when set, lets partner nodes log in with their nkey (federation.go).
	Partners Partners
	// TLS, when its files are set, makes the NATS client listener (where partners dial in)
	// TLS-only. Without it, partners may log in only when the listener is on loopback.
	TLS TLSFiles
}

// Bus is a connection to the node's NATS (embedded or external).
type Bus struct {
	opts  Options
	srv   *server.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	obs   jetstream.Stream
	token string
	log   *slog.Logger

	mu   sync.Mutex
	subs []*nats.Subscription

	table      []Access         // who may use which topic (Table)
	sess       sessions         // the embedded server's live client sessions
	wlast      map[uint64]int64 // inbound messages of each session at the last meterWrites
	smu        sync.Mutex
	sampled    map[string]*rate.Sometimes // bus_refused logs, per reason
	tlsFailed  rate.Sometimes             // failed TLS handshakes of clients, logged at most once in 10 s
	authFailed rate.Sometimes             // failed logins of clients (a removed partner retrying), likewise

	imu      sync.Mutex // guards the interest cache
	interest []server.SubDetail
	iAt      time.Time

	fmu       sync.Mutex                 // guards partners and paccs
	partners  map[uint64]partnerSession  // live partner sessions, by client id
	paccs     map[string]*server.Account // partner accounts made (partnerAccount), by name
	refusedAt map[string]time.Time       // when a partner refusal of each kind and key was last logged
	acc       *server.Account            // the node's own account on the embedded server (NodeAccount)
	// noPartnerPerms is set only by a test that shows the account boundary holds without the
	// per-user permissions partners also get
	noPartnerPerms bool
	fedErr         error         // why partners may not log in on the client listener (fedListener), or nil
	stop           chan struct{} // closed by Close: ends watchPartnerKeys
	stopOnce       sync.Once
}

// Open starts the embedded server (unless opts.URL is set), connects, and makes sure the
// node's streams exist.
func Open(ctx context.Context, opts Options) (*Bus, error) {
	if opts.Node == "" {
		return nil, errors.New("bus: node id is required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.DupWindow <= 0 {
		opts.DupWindow = 10 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 7 * 24 * time.Hour
	}
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	b := &Bus{opts: opts, log: opts.Log, stop: make(chan struct{}), table: Table(opts.Node), sampled: map[string]*rate.Sometimes{},
		tlsFailed: rate.Sometimes{First: 1, Interval: 10 * time.Second}, authFailed: rate.Sometimes{First: 1, Interval: 10 * time.Second}}
	tok := make([]byte, 24)
	rand.Read(tok)
	b.token = hex.EncodeToString(tok)
	var err error
	if opts.URL == "" {
		if err := b.startEmbedded(); err != nil {
			return nil, err
		}
		b.nc, err = nats.Connect("", nats.InProcessServer(b.srv), nats.Token(b.token), nats.NoEcho(),
			nats.Name("rabta-"+opts.Node), nats.MaxReconnects(-1))
	} else {
		copts := []nats.Option{nats.NoEcho(), nats.Name("rabta-" + opts.Node), nats.MaxReconnects(-1),
			nats.RetryOnFailedConnect(true), nats.ReconnectWait(250 * time.Millisecond)}
		if opts.Key != "" {
			copts = append(copts, nats.Token(opts.Key))
		}
		b.nc, err = nats.Connect(opts.URL, copts...)
	}
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	b.js, err = jetstream.New(b.nc)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	// a cluster that has just started may still be electing its JetStream leader
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := b.ensureStreams(ctx)
		if err == nil {
			break
		}
		if opts.URL == "" || time.Now().After(deadline) || ctx.Err() != nil {
			b.Close()
			return nil, err
		}
		b.log.Info("bus_waiting_for_jetstream", "err", err.Error())
		time.Sleep(500 * time.Millisecond)
	}
	if b.srv != nil && opts.Partners != nil {
		go b.watchPartnerKeys()
	}
	return b, nil
}

func splitAddr(addr string) (string, int, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	p, err := strconv.Atoi(port)
	if err != nil {
		return "", 0, fmt.Errorf("port %q: %w", port, err)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// free checks that addr can be listened on, so that a taken port is a clear error at once
// rather than an embedded server that never gets ready.
func free(what, addr string) error {
	if addr == "" {
		return nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bus: %s address %s: %w (another process holds it? set another with --%s-addr)", what, addr, err, what)
	}
	return l.Close()
}

func (b *Bus) startEmbedded() error {
	o := b.opts
	if err := errors.Join(free("nats", o.ClientAddr), free("mqtt", o.MQTTAddr)); err != nil {
		return err
	}
	tlsc, err := o.TLS.config()
	if err != nil {
		return err
	}
	b.fedErr = fedListener(o.ClientAddr, tlsc != nil)
	if err := moveGlobalStore(filepath.Join(o.DataDir, "nats"), NodeAccount(o.Node)); err != nil {
		return err
	}
	sopts := &server.Options{
		ServerName: ServerName(o.Node),
		JetStream:  true,
		StoreDir:   filepath.Join(o.DataDir, "nats"),
		NoSigs:     true,
		DontListen: o.ClientAddr == "",
		// JetStream's own limits: let it use what the machine has
		JetStreamMaxMemory: -1,
		JetStreamMaxStore:  -1,
		MaxPayload:         o.MaxPayload,
		AlwaysEnableNonce:  o.Partners != nil, // partner nodes sign it with their nkey
		// the node's own clients (Rabta, API keys over NATS and MQTT, its streams) are in an
		// account of its own, partners each in theirs (federation.go); its JetStream domain
		// is its id, so that its API is also $JS.<node>.API
		Accounts:        []*server.Account{server.NewAccount(NodeAccount(o.Node))},
		JetStreamDomain: o.Node,
	}
	if tlsc != nil { // the NATS client listener, where partners dial in (federation.go)
		sopts.TLSConfig, sopts.TLS, sopts.TLSVerify = tlsc, true, false
		sopts.TLSTimeout = 5
	}
	sopts.CustomClientAuthentication = &clientAuth{bus: b}
	if o.ClientAddr != "" {
		h, p, err := splitAddr(o.ClientAddr)
		if err != nil {
			return fmt.Errorf("bus: nats address %q: %w", o.ClientAddr, err)
		}
		sopts.Host, sopts.Port = h, p
	}
	if o.MQTTAddr != "" {
		h, p, err := splitAddr(o.MQTTAddr)
		if err != nil {
			return fmt.Errorf("bus: mqtt address %q: %w", o.MQTTAddr, err)
		}
		sopts.MQTT.Host, sopts.MQTT.Port = h, p
	}
	srv, err := server.NewServer(sopts)
	if err != nil {
		return fmt.Errorf("bus: embedded nats: %w", err)
	}
	srv.SetLoggerV2(&natsLog{l: o.Log.With("source", "nats"), bus: b}, false, false, false)
	b.srv = srv // before the first client can connect: clientAuth and the log use it
	if b.acc, err = srv.LookupAccount(NodeAccount(o.Node)); err != nil {
		return fmt.Errorf("bus: embedded nats: account %s: %w", NodeAccount(o.Node), err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		b.srv = nil
		return errors.New("bus: embedded nats did not start within 30s (is the client or MQTT port taken?)")
	}
	// JetStream in the node's account, without limits of its own (the server's are the machine's);
	// it recovers the account's streams from StoreDir/jetstream/<account>
	if err := b.acc.EnableJetStream(nil, nil); err != nil {
		srv.Shutdown()
		b.srv = nil
		return fmt.Errorf("bus: embedded nats: JetStream in account %s: %w", NodeAccount(o.Node), err)
	}
	return nil
}

// NodeAccount is the name of node's own account on its embedded NATS server: the node id.
func NodeAccount(node string) string { return node }

// moveGlobalStore moves JetStream's files of the global account ($G, where a node before
// accounts kept its streams, MQTT sessions and retained messages) to the node's account acc,
// once, so that an upgraded node keeps them. Nothing to do when there is no $G directory, or
// when acc's exists already.
func moveGlobalStore(storeDir, acc string) error {
	old, dst := filepath.Join(storeDir, "jetstream", server.DEFAULT_GLOBAL_ACCOUNT), filepath.Join(storeDir, "jetstream", acc)
	if _, err := os.Stat(old); err != nil {
		return nil
	}
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.Rename(old, dst); err != nil {
		return fmt.Errorf("bus: moving the JetStream files of account $G to the node's account %s: %w", acc, err)
	}
	return nil
}

func (b *Bus) ensureStreams(ctx context.Context) error {
	cfg := jetstream.StreamConfig{
		Name:       StreamName(b.opts.Node),
		Subjects:   []string{obsSubjects(b.opts.Node)},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     b.opts.MaxAge,
		Duplicates: b.opts.DupWindow,
		Replicas:   b.opts.Replicas,
	}
	s, err := b.js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	b.obs = s
	acfg := jetstream.StreamConfig{
		Name:       AlertStreamName(b.opts.Node),
		Subjects:   []string{AlertSubject(b.opts.Node)},
		Storage:    jetstream.FileStorage,
		MaxAge:     30 * 24 * time.Hour,
		Duplicates: b.opts.DupWindow,
		Replicas:   b.opts.Replicas,
	}
	if _, err := b.js.CreateOrUpdateStream(ctx, acfg); err != nil {
		return fmt.Errorf("bus: stream %s: %w", acfg.Name, err)
	}
	return nil
}

// PublishAlert publishes an issued CAP message (signed XML) to the node's ALERTS stream; the
// CAP identifier is the message id, so publishing it twice stores it once.
func (b *Bus) PublishAlert(ctx context.Context, identifier string, xml []byte) error {
	msg := nats.NewMsg(AlertSubject(b.opts.Node))
	msg.Data = xml
	msg.Header.Set(jetstream.MsgIDHeader, identifier)
	msg.Header.Set("Content-Type", "application/cap+xml")
	_, err := b.js.PublishMsg(ctx, msg)
	return err
}

// SubscribeAlerts calls fn with each CAP message published from now on (core delivery, for
// watchers and tests; durable consumers use JetStream on AlertSubject).
func (b *Bus) SubscribeAlerts(fn func(xml []byte)) (func(), error) {
	s, err := b.nc.Subscribe(AlertSubject(b.opts.Node), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, err
	}
	return func() { s.Unsubscribe() }, nil
}

// ClientURL is the embedded server's client URL ("" when it does not listen or is external).
func (b *Bus) ClientURL() string {
	if b.srv == nil || b.opts.ClientAddr == "" {
		return ""
	}
	return b.srv.ClientURL()
}

// MQTTAddr is the embedded MQTT listener's address ("" when off).
func (b *Bus) MQTTAddr() string {
	if b.srv == nil || b.opts.MQTTAddr == "" {
		return ""
	}
	v, err := b.srv.Varz(nil)
	if err != nil || v.MQTT.Port == 0 {
		return ""
	}
	return net.JoinHostPort(v.MQTT.Host, strconv.Itoa(v.MQTT.Port))
}

// Node returns the node id.
func (b *Bus) Node() string { return b.opts.Node }

// Close drains subscriptions, closes the connection and stops the embedded server.
func (b *Bus) Close() error {
	b.stopOnce.Do(func() { close(b.stop) })
	b.mu.Lock()
	for _, s := range b.subs {
		s.Unsubscribe()
	}
	b.subs = nil
	b.mu.Unlock()
	if b.nc != nil {
		b.nc.Flush()
		b.nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return nil
}

// PublishObs publishes one outbox entry to the OBS stream and waits for JetStream to store it.
// msgID de-duplicates re-publishes.
func (b *Bus) PublishObs(ctx context.Context, datastream int64, msgID string, payload []byte) error {
	msg := nats.NewMsg(ObsSubject(b.opts.Node, datastream))
	msg.Data = payload
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	_, err := b.js.PublishMsg(ctx, msg)
	return err
}

// PublishObsAsync is PublishObs without waiting; Flush waits for all outstanding acks.
func (b *Bus) PublishObsAsync(datastream int64, msgID string, payload []byte) (jetstream.PubAckFuture, error) {
	msg := nats.NewMsg(ObsSubject(b.opts.Node, datastream))
	msg.Data = payload
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	return b.js.PublishMsgAsync(msg)
}

// PublishMultiObsAsync is PublishObsAsync for a batch of a MultiDatastream's observations.
func (b *Bus) PublishMultiObsAsync(multiDatastream int64, msgID string, payload []byte) (jetstream.PubAckFuture, error) {
	msg := nats.NewMsg(MultiObsSubject(b.opts.Node, multiDatastream))
	msg.Data = payload
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	return b.js.PublishMsgAsync(msg)
}

// PublishTopic publishes data to MQTT subscribers of topic (core NATS, at most once: MQTT
// notifications of the SensorThings extension are best-effort, as the standard has them).
func (b *Bus) PublishTopic(topic string, data []byte) error {
	subj, err := MQTTSubject(topic)
	if err != nil {
		return err
	}
	m := nats.NewMsg(subj)
	m.Data = data
	m.Header.Set(notificationHeader, "1")
	return b.nc.PublishMsg(m)
}

// notificationHeader marks Rabta's own notifications, so that no Rabta process (of this node or
// another sharing the cluster) takes a notification on a SensorThings topic for a create.
const notificationHeader = "Rabta-Notification"

// Message is a message received on a topic.
type Message struct {
	Topic string
	Data  []byte
	// Delivered counts the deliveries of a durable message (ConsumeMQTT): 1 the first time,
	// more after the handler asked for it again. 0 for messages delivered at most once.
	Delivered uint64
}

// SubscribeTopics calls fn for each message MQTT (or NATS) clients publish to a topic matching
// filter (MQTT wildcards + and #) at most once: core NATS messages and MQTT QoS 0. MQTT QoS 1
// and 2 messages are left to ConsumeMQTT, which takes them durably. Rabta's own publishes are
// not delivered back.
func (b *Bus) SubscribeTopics(filter string, fn func(Message)) error {
	subj, err := MQTTSubject(filter)
	if err != nil {
		return err
	}
	// a queue group: when several Rabta processes serve one node, each message goes to one of them
	s, err := b.nc.QueueSubscribe(subj, "rabta-"+b.opts.Node, func(m *nats.Msg) {
		if m.Header.Get(notificationHeader) != "" {
			return
		}
		if q := m.Header.Get(mqttQoSHeader); q != "" && q[0] != '0' {
			return // MQTT QoS 1 or 2: stored by the bridge, taken durably by ConsumeMQTT
		}
		fn(Message{Topic: MQTTTopic(m.Subject), Data: m.Data})
	})
	if err != nil {
		return err
	}
	b.mu.Lock()
	b.subs = append(b.subs, s)
	b.mu.Unlock()
	return nil
}

// Interest returns the MQTT topics that clients of the embedded server subscribe to and that
// start with prefix, e.g. the "$select" variants of SensorThings topics. It returns nothing
// for an external cluster.
func (b *Bus) Interest(prefix string) []string {
	if b.srv == nil {
		return nil
	}
	pre, err := MQTTSubject(prefix)
	if err != nil {
		return nil
	}
	subs := b.subscriptions()
	own, _ := b.nc.GetClientID() // Rabta's own subscriptions (for creates) are not interest
	seen := map[string]bool{}
	var out []string
	for _, s := range subs {
		if s.Cid == own {
			continue
		}
		if strings.HasPrefix(s.Subject, pre) && !seen[s.Subject] {
			seen[s.Subject] = true
			out = append(out, MQTTTopic(s.Subject))
		}
	}
	return out
}

// subscriptions returns the embedded server's subscriptions, listed at most once a second:
// listing them walks every subscription on the server, too much to do for every message.
func (b *Bus) subscriptions() []server.SubDetail {
	b.imu.Lock()
	defer b.imu.Unlock()
	if time.Since(b.iAt) < time.Second {
		return b.interest
	}
	sz, err := b.srv.Subsz(&server.SubszOptions{Subscriptions: true, Limit: 1 << 20})
	if err != nil {
		return b.interest
	}
	b.interest, b.iAt = sz.Subs, time.Now()
	return b.interest
}

// natsLog routes the embedded server's log to slog, as "source":"nats" on the bus's logger
// (whose component its caller named: a second component key would be a duplicate JSON key);
// the lines that report a refusal of a client's become the bus's own bus_refused
// (Bus.violation).
type natsLog struct {
	l   *slog.Logger
	bus *Bus
}

func (n *natsLog) Noticef(f string, v ...any) { n.l.Debug(fmt.Sprintf(f, v...)) }
func (n *natsLog) Warnf(f string, v ...any)   { n.l.Warn(fmt.Sprintf(f, v...)) }
func (n *natsLog) Fatalf(f string, v ...any)  { n.l.Error(fmt.Sprintf(f, v...)) }
func (n *natsLog) Errorf(f string, v ...any) {
	if n.bus != nil && n.bus.violation(f, v) {
		return
	}
	if strings.Contains(f, "TLS handshake error") && n.bus != nil { // a client (a partner's link) retrying with the wrong TLS
		n.bus.tlsFailed.Do(func() {
			n.l.Warn("bus_tls_handshake_failed", "detail", fmt.Sprintf(f, v...), "logged", "at most once in 10 s")
		})
		return
	}
	msg := fmt.Sprintf(f, v...)
	if strings.Contains(msg, server.ErrAuthentication.Error()) && n.bus != nil { // a client retrying with what no longer logs in
		n.bus.authFailed.Do(func() {
			n.l.Warn("bus_authentication_failed", "detail", msg, "logged", "at most once in 10 s")
		})
		return
	}
	n.l.Error(msg)
}
func (n *natsLog) Debugf(f string, v ...any) {}
func (n *natsLog) Tracef(f string, v ...any) {}

// clientAuth authenticates the embedded server's clients: Rabta's own in-process connection by
// a random token, everyone else by an API key (the MQTT password, or a NATS token or
// password), with permissions from the key's role by the access table. Each session is
// registered under its connection id with the key's hash (never the key), so that revoking
// the key closes it (DisconnectKey, Enforce).
type clientAuth struct{ bus *Bus }

// Check implements server.Authentication.
func (a *clientAuth) Check(c server.ClientAuthentication) bool {
	o := c.GetOpts()
	if o.Nkey != "" {
		return a.checkPartner(c)
	}
	if o.Token != "" && subtle.ConstantTimeCompare([]byte(o.Token), []byte(a.bus.token)) == 1 {
		c.RegisterUser(&server.User{Username: "rabta-internal", Account: a.bus.acc})
		return true
	}
	key := o.Password
	if key == "" {
		key = o.Token
	}
	if key == "" || a.bus.opts.Auth == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p, err := a.bus.opts.Auth.Authenticate(auth.WithRemote(ctx, addr(c.RemoteAddress())), key) // failures counted per source
	if err != nil {
		a.bus.log.Info("bus_client_refused", "remote", addr(c.RemoteAddress()), "reason", err.Error())
		return false
	}
	if w := a.bus.opts.Writes; w != nil {
		if d := w.WriteWait(p.KeyID); d > 0 {
			a.bus.log.Info("bus_client_refused", "remote", addr(c.RemoteAddress()), "key_id", p.KeyID,
				"reason", "over the write limit (write_rate, write_burst)", "retry_after_s", int(math.Ceil(d.Seconds())))
			return false
		}
	}
	perms, err := permissions(ctx, a.bus.table, p, a.bus.opts.Narrow)
	if err != nil {
		a.bus.log.Error("bus_client_refused", "remote", addr(c.RemoteAddress()), "key_id", p.KeyID, "err", err)
		return false
	}
	a.bus.sess.add(c.GetID(), *p, auth.Hash(key), fingerprint(perms))
	c.RegisterUser(&server.User{Username: fmt.Sprintf("key-%d", p.KeyID), Permissions: perms, Account: a.bus.acc})
	return true
}

func addr(a net.Addr) string {
	if a == nil {
		return ""
	}
	return a.String()
}
