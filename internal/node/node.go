// Package node assembles a Rabta node from its parts: the store, the bus and its outbox relay,
// the consumers of accepted observations, the ingest path, the warning engine, the alert
// service and the HTTP surfaces. New builds them in one function that reads top to bottom, in
// the order data flows; Start sets them running; Close stops them in reverse.
//
// Everything a node uses comes in through Options — logger, clock, metrics registry, addresses
// — and nothing is kept in package variables, so two nodes run side by side in one process (the
// tests do). Only the command (cmd/rabta) knows the configuration file and the environment.
package node

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/httpapi"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/warning"
	"github.com/rabta/rabta/internal/web/console"
	"github.com/rabta/rabta/internal/web/public"
	"github.com/rabta/rabta/internal/wis2"
)

// Options configure a node. Zero values are working defaults except where a field says it is
// required.
type Options struct {
	// ID names the node in subjects, CAP identifiers and logs, e.g. "islamabad"; required.
	ID string
	// DataDir holds the SQLite store, the embedded bus's JetStream files and the signing key;
	// required. It is locked while the node runs.
	DataDir string
	// DB, when set, is a PostgreSQL URL: the store is there instead of DataDir/rabta.db.
	DB string

	// HTTPAddr is where the HTTP surfaces listen; port 0 picks a free port (see Addr).
	HTTPAddr string
	// PublicURL is the URL clients reach the node at (for links); empty derives it per request.
	PublicURL string
	// PublicRead lets anonymous clients read SensorThings data and /metrics; off, they need a
	// viewer key. PrivateAlerts closes the CAP feed and issued CAP messages likewise; by default
	// they are public whatever PublicRead says (they are warnings, and messages sent to people
	// link to them).
	PublicRead, PrivateAlerts bool
	// TrustedProxies are the reverse proxies whose X-Forwarded-* headers are believed (the
	// client's address, the host and scheme of links); from anyone else they are dropped and
	// the request's Host is not used for links (auth.Proxies).
	TrustedProxies []netip.Prefix
	// Limits are the failed-authentication and write limits (nil: auth.DefaultLimits).
	Limits *auth.Limits
	// IdempotencyWindow is how long an Idempotency-Key of an observation POST is remembered
	// (0: 24 h).
	IdempotencyWindow time.Duration
	// MaxBodyBytes bounds request bodies (0: 32 MiB); DefaultTop and MaxTop bound pages (0: 100
	// and 10000).
	MaxBodyBytes       int64
	DefaultTop, MaxTop int
	// MaxResponseRows, MaxResponseBytes and QueryTimeout bound one SensorThings read (0: the
	// defaults of package sensorthings).
	MaxResponseRows, MaxResponseBytes int64
	QueryTimeout                      time.Duration
	// MaxConcurrentReads is how many SensorThings reads are served at once (0: 16).
	MaxConcurrentReads int

	// NATSURL, when set, is an external NATS cluster (NATSReplicas: its stream replicas);
	// otherwise a NATS server is embedded, with a client listener on NATSAddr and an MQTT
	// listener on MQTTAddr (empty: none; port 0: a free port).
	NATSURL, NATSAddr, MQTTAddr string
	NATSReplicas                int
	// KeyCheckEvery is how often the keys of the embedded server's live MQTT and NATS sessions
	// are looked up again, closing the sessions of keys revoked by another process (rabta keys
	// revoke) or expired (0: 500 ms, bus.DefaultKeyCheck). A revocation through this node closes them at once
	// (DisconnectKey).
	KeyCheckEvery time.Duration
	// FedTLS is the NATS listener's certificate and key (federation_tls_cert, _key): where
	// partner nodes dial in. Unset, partners may log in only on a loopback listener.
	FedTLS bus.TLSFiles
	// BusMaxPayload bounds a message an MQTT or NATS client publishes, in bytes (0: 1 MiB).
	BusMaxPayload int32
	// NoOutbox leaves accepted observations off the bus: only for measuring what the outbox
	// costs (no MQTT notifications, no warnings).
	NoOutbox bool

	// Sender and SenderName are the CAP <sender> and <senderName> of the node's alerts;
	// FourEyes requires a draft's approver to differ from its author; AlertExpiry is how long an
	// issued message is valid (0: 24 h).
	Sender, SenderName string
	FourEyes           bool
	AlertExpiry        time.Duration
	// FeedKeep is how long a Cancel or an Update, and what it replaces, stays on the CAP feed
	// (0: alert.DefaultFeedKeep, 24 h).
	FeedKeep time.Duration
	// SigningKeyFile and SigningCertFile hold the CAP signing key and certificate (empty: made
	// in DataDir on first start); TrustedCertsDir holds certificates of other signers trusted.
	SigningKeyFile, SigningCertFile, TrustedCertsDir string
	// WIS2Centre is the node's WIS2 centre id in topics and metadata ids (docs/wis2.md; empty:
	// "xx-rabta-<ID>", a placeholder until WMO endorses one).
	WIS2Centre string
	// TickEvery is how often the warning engine ticks and expires alerts (0: 5 s); it looks
	// for rules saved by another process every second (or every TickEvery, when shorter).
	TickEvery time.Duration

	// AdminKey (RABTA_ADMIN_KEY), or the key in AdminKeyFile, is imported as the bootstrap admin
	// key. With neither, a node without keys makes one and shows it once on Console: in a
	// banner when Console is a terminal (an *os.File that is a character device); otherwise
	// (the private key file of a node whose stderr is not a terminal) as the bare key and a
	// newline, so that the file can be read with $(cat FILE).
	AdminKey, AdminKeyFile string
	Console                io.Writer

	// Zone is where messages write their times (nil: Asia/Karachi); Names translates the free
	// texts of rules and of this node (station, area, audience, sender) — the demo adds its own.
	Zone  *time.Location
	Names *i18n.Names

	// Places, when not nil, are the places a node without any is seeded with, instead of the
	// embedded set (place.Load): an exercise or a test may give fewer (it must hold at least
	// one district, or the node seeds again on each use).
	Places []place.Place

	// ConsoleTileURL is the operator console's optional base-map tile URL template (config
	// console_tile_url; empty: no tiles, the node's district boundaries alone).
	ConsoleTileURL string

	// Dissemination says how the node reaches people (SMS, e-mail, webhooks).
	Dissemination DisseminationOptions
	// Voice says how the node speaks its warnings (audio messages, docs/voice.md).
	Voice VoiceOptions

	// Demo seeds the demo data set and replays it at DemoSpeed data-seconds per second.
	Demo      bool
	DemoSpeed float64

	// Log receives the node's logs (nil: none); Now is the clock (nil: time.Now); Registry
	// holds the node's metrics, served at /metrics (nil: a new registry of its own).
	Log      *slog.Logger
	Now      func() time.Time
	Registry *prometheus.Registry
}

// Node is a running Rabta node.
type Node struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics

	stores  *Stores
	bus     *bus.Bus
	relay   *bus.Relay
	ingest  *ingest.Service
	mqtt    *ingest.MQTT
	sta     *sensorthings.Server
	runner  *warning.Runner
	fcast   *forecasting.Service
	alerts  *alert.Service
	diss    *dissemination.Service
	gz      *gazetteer
	api     *httpapi.Server
	public  *public.Server  // the public alert page at / (nil when alerts are private)
	audit   *audit.Log      // the tamper-evident audit log (audit.go)
	console *console.Server // the operator console at /console (internal/web/console)
	fed     *federator
	ln      net.Listener
	srv     *http.Server
	base    string // the URL of the node's HTTP surfaces, for links in notifications
	// handlers are routes outside the API: gateway callbacks with tokens of their own
	handlers map[string]http.Handler

	cancel    context.CancelFunc // ends the background work started by Start
	wg        sync.WaitGroup
	consumers []*bus.Consumer
	errc      chan error
	closers   []func() error // run in reverse by Close
	// starters run in Start, after New has checked the whole configuration: what New builds
	// that works by itself (an SMPP session binding)
	starters  []func(ctx context.Context)
	closeOnce sync.Once
	closeErr  error
}

// New builds a node: it locks the data directory, opens the store and the bus, and assembles
// ingest, the warning engine, the alert service and the HTTP surfaces. It starts nothing that
// runs on its own (Start does), but binds the HTTP listener, so Addr is known. On error,
// whatever was opened is closed again.
func New(ctx context.Context, opts Options) (_ *Node, err error) {
	if opts.ID == "" || opts.DataDir == "" {
		return nil, errors.New("node: ID and DataDir are required")
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	if opts.Console == nil {
		opts.Console = io.Discard
	}
	if opts.Zone == nil {
		opts.Zone = i18n.Karachi()
	}
	if opts.Demo {
		names, err := demoNames(opts.Names)
		if err != nil {
			return nil, err
		}
		opts.Names = names
		if opts.SenderName == "" {
			opts.SenderName = demo.SenderName
		}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 32 << 20
	}
	if opts.DefaultTop <= 0 {
		opts.DefaultTop = 100
	}
	if opts.MaxTop <= 0 {
		opts.MaxTop = 10000
	}
	if opts.TickEvery <= 0 {
		opts.TickEvery = 5 * time.Second
	}
	if opts.WIS2Centre == "" {
		opts.WIS2Centre = "xx-rabta-" + opts.ID
	}
	if err := wis2.CheckCentre(opts.WIS2Centre); err != nil {
		return nil, err
	}
	log := opts.Log
	n := &Node{opts: opts, log: log, now: opts.Now, metrics: newMetrics(opts.Registry), errc: make(chan error, 1)}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()

	// the store, in a data directory no other process uses, readable by its owner only
	if err := os.MkdirAll(opts.DataDir, DataDirMode); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	unlock, err := LockDataDir(opts.DataDir)
	if err != nil {
		return nil, err
	}
	n.onClose(func() error { unlock(); return nil })
	if id, err := ResolveID(opts.DataDir, opts.ID); err != nil { // nodeid.go
		return nil, err
	} else if id != opts.ID {
		return nil, fmt.Errorf("node id %q: this data directory belongs to node %q (%s)", opts.ID, id, NodeIDFile)
	}
	n.stores, err = OpenStores(ctx, opts.DataDir, opts.DB, &ingest.QC{Log: log.With("component", "qc")})
	if err != nil {
		return nil, err
	}
	n.onClose(n.stores.Close)
	warnIfShared(opts.DataDir, log)
	ents, alerts := n.stores.Entities, n.stores.Alerts
	if err := bootstrapAdmin(ctx, n.stores.Keys, opts.AdminKey, opts.AdminKeyFile, opts.Console, log); err != nil {
		return nil, err
	}
	limits := auth.DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}
	authn := &auth.Authenticator{Store: n.stores.Keys, Log: log.With("component", "auth"), Limit: auth.NewLimiter(limits, opts.Now)}
	authn.Limit.OnRefused = func(what string) { n.metrics.limited.WithLabelValues(what).Inc() }

	// the bus, fed by the outbox: each committed batch wakes the relay
	bopts := bus.Options{Node: opts.ID, DataDir: opts.DataDir, URL: opts.NATSURL,
		ClientAddr: opts.NATSAddr, MQTTAddr: opts.MQTTAddr, Auth: authn, Keys: n.stores.Keys, MaxPayload: opts.BusMaxPayload,
		Writes:    authn.Limit, // MQTT and NATS publishes count against the same per-key write limit as the API's writes
		Narrow:    bus.OwnerNarrow(opts.ID, ents),
		OnRefused: n.metrics.onBusRefused, OnClosed: n.metrics.onBusClosed,
		Replicas: opts.NATSReplicas, Log: log.With("component", "bus"),
		Partners: fedPartners{store: n.stores.Federation, now: opts.Now}, TLS: opts.FedTLS}
	// configuration refused here, before the bus opens a port or any work starts: a node with
	// partners on a listener they may not use (federation.go), the channels' settings
	// (dissemination.go), the signing key and certificate (made on first use), the
	// certificates trusted besides
	if err := checkFedListener(ctx, bopts, n.stores.Federation); err != nil {
		return nil, err
	}
	if err := checkChannels(opts.Dissemination, opts.PublicURL); err != nil {
		return nil, err
	}
	sign, err := nodeSigner(opts.DataDir, opts.ID, opts.SigningKeyFile, opts.SigningCertFile)
	if err != nil {
		return nil, err
	}
	// a certificate this node made for itself under another id (a command run before the node
	// was given its id): partners would see that name on its alerts and audit heads
	if cn := sign.cert.Subject.CommonName; opts.SigningKeyFile == "" && strings.HasPrefix(cn, "rabta node ") && cn != "rabta node "+opts.ID {
		log.Warn("node_certificate_names_another_node", "certificate", filepath.Join(opts.DataDir, "node-cert.pem"), "subject", cn, "expected", "rabta node "+opts.ID, // the logger names the node already
			"fix", "before sharing it: stop the node, delete node-cert.pem and node-key.pem from the data directory, start it again (a new pair is made)")
	}
	extra, err := trustedCerts(opts.TrustedCertsDir)
	if err != nil {
		return nil, err
	}
	n.bus, err = bus.Open(ctx, bopts)
	if err != nil {
		return nil, err
	}
	n.onClose(n.bus.Close)
	if opts.NoOutbox {
		log.Warn("outbox_off", "why", "outbox: false — accepted observations do not reach the bus (measurement only)")
	}
	n.relay = bus.NewRelay(n.bus, n.stores.Outbox, log.With("component", "relay"))
	n.relay.OnPublished = func(created time.Time) {
		n.metrics.busLatency.WithLabelValues("published").Observe(time.Since(created).Seconds())
	}
	n.fed = n.newFederator()
	n.stores.configure(!opts.NoOutbox, opts.ID, func(int) { n.relay.Wake(); n.fed.Wake() })
	if e, ok := n.stores.Outbox.(storeOutbox); ok {
		if !opts.NoOutbox {
			e.s.Handoff = relaySink{n.relay} // committed batches reach the relay in memory (store.go)
		}
		e.s.Feed = n.fed.feed // and the raw exporter's new Observations (federation_feed.go)
	}

	// ingest: the SensorThings API, and MQTT (loggers on rabta/<node>/ingest/<datastream>,
	// SensorThings creates on v1.1/Datastreams(<id>)/Observations)
	n.ingest = &ingest.Service{Store: ents, Log: log.With("component", "ingest"), OnResult: n.metrics.onIngest,
		Guard: n.fed.readOnlyRemote} // remote Datastreams: written by the federation importer only
	n.sta = &sensorthings.Server{
		Store: ents, Ingest: n.ingest, Log: log.With("component", "sensorthings"),
		PublicURL: opts.PublicURL, PublicRead: opts.PublicRead,
		MaxBody: opts.MaxBodyBytes, DefaultTop: opts.DefaultTop, MaxTop: opts.MaxTop, MQTTAddr: n.bus.MQTTAddr(),
		MaxRows: opts.MaxResponseRows, MaxBytes: opts.MaxResponseBytes, Timeout: opts.QueryTimeout, MaxReads: opts.MaxConcurrentReads,
		Idempotency: n.stores.Idempotency, IdempotencyWindow: opts.IdempotencyWindow,
		Owner:    ents.Owner,
		ReadOnly: n.fed.readOnlyEntity, // what belongs to a remote Datastream: changed by the importer only
	}
	n.mqtt = &ingest.MQTT{Ingest: n.ingest, Decode: sensorthings.DecodeIngestMessage, Now: n.now, Log: log.With("component", "mqtt"),
		Create: func(ctx context.Context, topic string, data []byte) error {
			_, err := n.sta.MQTTCreate(ctx, topic, data)
			return err
		},
		Observation: n.sta.MQTTObservation}

	// forecasts: discharge readings of the river network's stations routed downstream, the
	// forecasts ingested into their forecast datastreams (and so read by forecast rules)
	n.fcast = &forecasting.Service{Store: ents, Ingest: n.ingest, Now: n.now, Log: log.With("component", "forecast"),
		OnUpdate: func(d time.Duration, _ int) { n.metrics.forecastUpdate.Observe(d.Seconds()) }}
	if err := n.fcast.Load(ctx); err != nil {
		return nil, err
	}

	// warnings: rules over the accepted observations, alerts with CAP, signed, on the feed and the bus
	trusted := append([]*x509.Certificate{sign.cert}, extra...)
	n.audit = &audit.Log{Store: n.stores.Audit, Node: opts.ID, Key: sign.key, Cert: sign.cert, Now: n.now}
	n.fed.setAudit(n.audit) // agreement changes, export and import batches (federation.go)
	n.runner = &warning.Runner{Store: alerts, Now: n.now, Log: log.With("component", "warning")}
	n.alerts = &alert.Service{Store: alerts, Signer: sign, Publisher: bus.AlertPublisher{Bus: n.bus}, Labels: ents, Rules: n.runner.Rule,
		Now: n.now, Log: log.With("component", "alert"),
		Config: alert.Config{Node: opts.ID, Sender: opts.Sender, SenderName: opts.SenderName, FourEyes: opts.FourEyes, Expiry: opts.AlertExpiry,
			Zone: opts.Zone, Names: opts.Names},
		Lock: func(ctx context.Context, fn func(context.Context) error) error {
			return alerts.WithLock(ctx, "alerts", fn)
		},
		Holder: func(ctx context.Context, name string) (string, error) {
			return auth.HolderName(ctx, n.stores.Keys, name)
		}}
	n.runner.Alerts = n.alerts
	if err := n.runner.Load(ctx); err != nil {
		return nil, err
	}

	// the HTTP listener first: its address is the base of links in messages
	n.ln, err = net.Listen("tcp", opts.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", opts.HTTPAddr, err)
	}
	n.onClose(func() error { n.ln.Close(); return nil }) // a no-op once the server has shut down
	n.base = opts.PublicURL
	if n.base == "" {
		n.base = "http://" + n.ln.Addr().String()
	}

	// dissemination: every issued message planned to the subscribers in its area, sent
	n.gz = &gazetteer{store: n.stores.Places, log: log.With("component", "places"), demo: opts.Demo, own: opts.Places}
	if opts.Demo { // the demo warns within seconds: its places (and synthetic villages) first
		if err := seedPlaces(ctx, n.stores.Places, true, opts.Places, n.gz.log); err != nil {
			return nil, err
		}
	}
	n.diss, err = n.newDissemination(ctx, opts.Dissemination, n.gz, n.gz.points)
	if err != nil {
		return nil, err
	}
	n.alerts.Impact = n.diss.SaveImpact
	n.alerts.Issued = func(*alert.Message) { n.diss.Wake() }

	n.api = &httpapi.Server{Alerts: n.alerts, Store: alerts, Rules: alerts, Runner: n.runner, Dissemination: n.diss, Trusted: func() []*x509.Certificate { return trusted },
		Keys: n.stores.Keys, OnKeyRevoked: n.keyRevoked, Forecast: n.fcast,
		Known: func(ctx context.Context, org string) error { return KnownOrganisation(ctx, n.stores, org) },
		Hidden: func(ctx context.Context) (*sensing.RemoteHidden, error) {
			return n.stores.ents.RemoteHidden(sensorthings.ReadView(ctx))
		},
		PublicURL: opts.PublicURL, PrivateAlerts: opts.PrivateAlerts, FeedTitle: "Rabta " + opts.ID + ": active alerts", Author: opts.SenderName,
		MaxBody: opts.MaxBodyBytes, FeedKeep: opts.FeedKeep, Log: log.With("component", "api")}
	n.api.Audit = n.audit
	if n.api.Author == "" {
		n.api.Author = "Rabta node " + opts.ID
	}
	n.newVoice(opts.Voice) // audio messages: attached to each message before it is signed

	// the public alert page at / (internal/web/public): warnings in force, for anyone, unless
	// the node's alerts are private
	if !opts.PrivateAlerts {
		// the demo's warnings are Exercises (a replay of 2025, not a flood today): its public
		// page shows them, each marked as an exercise in its language (docs/public.md)
		n.public = &public.Server{Alerts: alerts, Places: n.gz.get, Zone: opts.Zone, Now: n.now, Exercises: opts.Demo, Log: log.With("component", "public")}
	}

	// the HTTP surfaces
	n.srv = &http.Server{
		Handler:           n.routes(authn),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // bulk dataArray bodies may be large
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return n, nil
}

// Start sets the node running: the outbox relay, MQTT ingest, the consumers of accepted
// observations (SensorThings MQTT notifications, the warning engine, the forecasts), the warning engine's
// tick, the HTTP server and, if asked, the demo replay. The background work runs until ctx
// ends or Close. Call it once.
func (n *Node) Start(ctx context.Context) error {
	bg, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	b, id := n.bus, n.opts.ID
	n.wg.Go(func() { n.relay.Run(bg) })
	for _, f := range n.starters {
		f(bg)
	}

	// what NATS permissions cannot say: revoked keys' sessions closed, retained messages the
	// access table does not allow removed, unserved publishes counted
	if err := b.Enforce(bg, n.opts.KeyCheckEvery); err != nil {
		return err
	}

	// MQTT at most once (QoS 0), and durably (QoS 1 and 2: acknowledged to the client once NATS
	// stored them, taken from there in batches)
	topics := append([]string{"rabta/" + id + "/ingest/+"}, sensorthings.MQTTTopics...)
	for _, t := range topics {
		if err := b.SubscribeTopics(t, func(m bus.Message) { n.mqtt.Take(bg, ingest.Message(m)) }); err != nil {
			return err
		}
	}
	if n.opts.MQTTAddr != "" || n.opts.NATSURL != "" {
		if err := b.ConsumeMQTT(bg, "mqtt-ingest", topics, func(ctx context.Context, msgs []bus.Message) []error {
			return n.mqtt.TakeBatch(ctx, messages(msgs))
		}); err != nil {
			return err
		}
	}

	// accepted observations, from the bus: notifications to SensorThings MQTT subscribers (new
	// messages only), and the warning engine (every message, durably)
	notify, err := b.ConsumeObs(bg, "sta-mqtt", true, func(ds int64) bool { return sensorthings.Subscribed(b, ds) },
		func(ctx context.Context, batch *sensing.ObsBatch) error {
			n.metrics.busLatency.WithLabelValues("sta-mqtt").Observe(time.Since(batch.Accepted).Seconds())
			if withheld, err := n.mqttWithheld(ctx, batch.Datastream); err != nil || withheld {
				return err // a partner's data is not published to MQTT subscribers (remoteread.go)
			}
			return n.sta.NotifyMQTT(b, n.base, batch)
		})
	if err != nil {
		return err
	}
	n.consumers = append(n.consumers, notify)
	warn, err := b.ConsumeObsValues(bg, "warning", false, n.runner.Watches, func(ctx context.Context, batch *sensing.ObsBatch) error {
		if err := n.runner.Handle(ctx, batch); err != nil {
			return err
		}
		n.metrics.busLatency.WithLabelValues("warning").Observe(time.Since(batch.Accepted).Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	n.consumers = append(n.consumers, warn)
	fc, err := b.ConsumeObsValues(bg, "forecast", false, n.fcast.Watches, func(ctx context.Context, batch *sensing.ObsBatch) error {
		if err := n.fcast.Handle(ctx, batch); err != nil {
			return err
		}
		n.metrics.busLatency.WithLabelValues("forecast").Observe(time.Since(batch.Accepted).Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	n.consumers = append(n.consumers, fc)
	// WIS2 notifications of open data (wis2.go), from new messages on
	wn, err := b.ConsumeObsValues(bg, "wis2", true, n.wantsWIS2, n.notifyWIS2)
	if err != nil {
		return err
	}
	n.consumers = append(n.consumers, wn)
	n.wg.Go(func() { n.fcast.Run(bg, n.opts.TickEvery) }) // a network stored by another process (rabta forecast network load)
	n.wg.Go(func() { n.runner.Run(bg, n.opts.TickEvery) })
	n.wg.Go(func() { n.diss.Start(bg)() })

	m := n.metrics
	m.gauge("rabta_warning_lag_messages", "Bus messages waiting for the warning engine.", func(ctx context.Context) (float64, error) {
		v, err := warn.Lag(ctx)
		return float64(v), err
	})
	m.gauge("rabta_outbox_backlog", "Outbox entries not yet published on the bus.", func(ctx context.Context) (float64, error) {
		v, _, err := n.stores.Entities.OutboxBacklog(ctx)
		return float64(v), err
	})
	m.gauge("rabta_consumer_lag_messages", "Bus messages waiting for the SensorThings MQTT notifier.", func(ctx context.Context) (float64, error) {
		v, err := notify.Lag(ctx)
		return float64(v), err
	})
	m.gauge("rabta_bus_sessions", "Live MQTT and NATS sessions of the embedded server that logged in with an API key.", func(context.Context) (float64, error) {
		return float64(b.Sessions(0)), nil
	})
	m.gauge("rabta_bus_stream_messages", "Messages in the node's OBS stream.", func(ctx context.Context) (float64, error) {
		s, err := b.Stats(ctx)
		return float64(s.Messages), err
	})
	m.gauge("rabta_bus_stream_bytes", "Bytes in the node's OBS stream.", func(ctx context.Context) (float64, error) {
		s, err := b.Stats(ctx)
		return float64(s.Bytes), err
	})

	// federation: exports under agreements, links to the partners this node receives from (federation.go)
	if err := n.startFederation(bg); err != nil {
		return err
	}

	// derived Datastreams: discharge from each accepted stage through its rating curve (derived.go)
	if err := n.startDerive(bg); err != nil {
		return err
	}

	go func() {
		if err := n.srv.Serve(n.ln); !errors.Is(err, http.ErrServerClosed) {
			n.errc <- fmt.Errorf("http server: %w", err)
		}
	}()
	n.log.Info("listening", "http", "http://"+n.ln.Addr().String()+"/"+sensorthings.Version+"/", "data_dir", n.opts.DataDir,
		"nats", b.ClientURL(), "mqtt", b.MQTTAddr())

	if n.opts.Demo {
		n.wg.Go(func() {
			var subscribers func([]rule.Rule) error
			if n.opts.Dissemination.Sink != "" && n.opts.Dissemination.SMPP == nil && n.opts.Dissemination.Kannel == nil {
				subscribers = func(rules []rule.Rule) error {
					return seedDemoSubscribers(bg, n.diss, n.stores.Dissemination, n.gz, rules, n.log.With("component", "demo"))
				}
			}
			err := runDemo(bg, n.stores.Entities, n.ingest, n.stores.Alerts, n.runner, n.fcast, subscribers, n.opts.DemoSpeed, n.now(), n.log.With("component", "demo"))
			if err != nil && !errors.Is(err, context.Canceled) {
				n.log.Error("demo_failed", "err", err)
			}
		})
	}
	return nil
}

// Err receives an error when the HTTP server fails; the node should then be closed.
func (n *Node) Err() <-chan error { return n.errc }

// Addr is the address the HTTP surfaces listen on.
func (n *Node) Addr() net.Addr { return n.ln.Addr() }

// NATSURL is the embedded NATS server's client URL ("" with no client listener or an external cluster).
func (n *Node) NATSURL() string { return n.bus.ClientURL() }

// MQTTAddr is the embedded MQTT listener's host:port ("" when off).
func (n *Node) MQTTAddr() string { return n.bus.MQTTAddr() }

// DisconnectKey closes at once every MQTT and NATS session of the embedded server that logged
// in with API key id (each logged as bus_session_closed and counted); call it when the key has
// been revoked: it is the keys API's OnKeyRevoked. Sessions of keys revoked by another process
// or expired are closed by the bus's re-check (KeyCheckEvery).
func (n *Node) DisconnectKey(id int64) { n.bus.DisconnectKey(id) }

// Close stops the node: the HTTP server (waiting up to 15 s for requests in flight), the
// background work, then the consumers, the bus and the store, and saves the warning engine's
// state on the way. It is safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		if n.cancel != nil { // started
			n.log.Info("shutting_down")
			sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			if err := n.srv.Shutdown(sctx); err != nil {
				n.log.Warn("http_shutdown", "err", err)
			}
			cancel()
			n.cancel()
			n.wg.Wait()
			for _, c := range n.consumers { // no handler runs after this: the state saved is final
				c.Stop()
			}
			if err := n.runner.Save(context.Background()); err != nil {
				n.log.Warn("rule_state_not_saved", "err", err)
			}
		}
		var errs []error
		for i := len(n.closers) - 1; i >= 0; i-- {
			errs = append(errs, n.closers[i]())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// onClose adds f to what Close undoes, in reverse order of opening.
func (n *Node) onClose(f func() error) { n.closers = append(n.closers, f) }

// messages hands the bus's MQTT messages to ingest.
func messages(msgs []bus.Message) []ingest.Message {
	out := make([]ingest.Message, len(msgs))
	for i, m := range msgs {
		out[i] = ingest.Message(m)
	}
	return out
}
