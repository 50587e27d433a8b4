package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/httpapi"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/sensorthings"
	"github.com/rabta/rabta/internal/warning"
)

func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c common
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c.flags(fs)
	fs.StringVar(&c.cfg.HTTPAddr, "http-addr", c.cfg.HTTPAddr, "HTTP listen address (env RABTA_HTTP_ADDR)")
	fs.StringVar(&c.cfg.NodeID, "node-id", c.cfg.NodeID, "node id (env RABTA_NODE_ID)")
	fs.StringVar(&c.cfg.NATSURL, "nats-url", c.cfg.NATSURL, "external NATS cluster URL(s); empty runs the embedded server (env RABTA_NATS_URL)")
	fs.StringVar(&c.cfg.NATSAddr, "nats-addr", c.cfg.NATSAddr, "embedded NATS client listener; empty for in-process only (env RABTA_NATS_ADDR)")
	fs.StringVar(&c.cfg.MQTTAddr, "mqtt-addr", c.cfg.MQTTAddr, "embedded MQTT listener; empty turns MQTT off (env RABTA_MQTT_ADDR)")
	fs.BoolVar(&c.cfg.Demo, "demo", false, "seed the demo data set (Punjab rivers, PMD climate, Beijing air) and replay it live")
	fs.Float64Var(&c.cfg.DemoSpeed, "demo-speed", demo.DefaultSpeed, "demo replay speed: data seconds per second")
	fs.BoolVar(&c.cfg.PublicRead, "public-read", c.cfg.PublicRead, "let anonymous clients read SensorThings data (env RABTA_PUBLIC_READ)")
	fs.StringVar(&c.cfg.Log, "log", c.cfg.Log, "log format: json or text (env RABTA_LOG)")
	fs.StringVar(&c.cfg.LogLevel, "log-level", c.cfg.LogLevel, "debug, info, warn or error")
	fs.Int64Var(&c.cfg.MaxBodyBytes, "max-body-size", c.cfg.MaxBodyBytes, "largest request body in bytes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := c.load(fs); err != nil {
		return err
	}
	log := logger(c.cfg, stderr).With("node", c.cfg.NodeID)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && c.cfg.MemoryLimit > 0 {
		// a soft limit: the embedded NATS server pools large buffers, which a lazy GC keeps
		debug.SetMemoryLimit(c.cfg.MemoryLimit)
	}
	if err := os.MkdirAll(c.cfg.DataDir, 0o750); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	unlock, err := lockDataDir(c.cfg.DataDir)
	if err != nil {
		return err
	}
	defer unlock()
	stores, err := c.openStores(ctx, &ingest.QC{Log: log.With("component", "qc")})
	if err != nil {
		return err
	}
	defer stores.close()
	keys := stores.keys
	if err := bootstrapAdmin(ctx, keys, c.cfg.AdminKeyFile, stderr, log); err != nil {
		return err
	}
	authn := &auth.Authenticator{Store: keys, Log: log}
	m := newMetrics()

	b, err := bus.Open(ctx, bus.Options{Node: c.cfg.NodeID, DataDir: c.cfg.DataDir, URL: c.cfg.NATSURL,
		ClientAddr: c.cfg.NATSAddr, MQTTAddr: c.cfg.MQTTAddr, Auth: authn, Replicas: c.cfg.NATSReplicas, Log: log.With("component", "bus")})
	if err != nil {
		return err
	}
	defer b.Close()

	ents := stores.ents
	if !c.cfg.Outbox {
		log.Warn("outbox_off", "why", "outbox: false — accepted observations do not reach the bus (measurement only)")
	}
	relay := bus.NewRelay(b, stores.outbox, log.With("component", "relay"))
	relay.OnPublished = func(created time.Time) {
		m.busLatency.WithLabelValues("published").Observe(time.Since(created).Seconds())
	}
	stores.configure(c.cfg.Outbox, c.cfg.NodeID, func(int) { relay.Wake() })
	ing := &ingest.Service{Store: ents, Log: log.With("component", "ingest"), OnResult: m.onIngest}
	st := &sensorthings.Server{
		Store: ents, Ingest: ing, Log: log.With("component", "sensorthings"),
		PublicURL: c.cfg.PublicURL, PublicRead: c.cfg.PublicRead,
		MaxBody: c.cfg.MaxBodyBytes, DefaultTop: c.cfg.DefaultTop, MaxTop: c.cfg.MaxTop,
	}

	// warnings: rules over the accepted observations, alerts with CAP, signed, on the feed and the bus
	sign, err := nodeSigner(c.cfg.DataDir, c.cfg.NodeID, c.cfg.SigningKeyFile, c.cfg.SigningCertFile)
	if err != nil {
		return err
	}
	extra, err := trustedCerts(c.cfg.TrustedCertsDir)
	if err != nil {
		return err
	}
	trusted := append([]*x509.Certificate{sign.cert}, extra...)
	alerts := stores.alerts
	runner := &warning.Runner{Store: alerts, Log: log.With("component", "warning")}
	asvc := &alert.Service{Store: alerts, Signer: sign, Publisher: alertPublisher{b}, Labels: ents, Rules: runner.Rule,
		Log:    log.With("component", "alert"),
		Config: alert.Config{Node: c.cfg.NodeID, Sender: c.cfg.Sender, SenderName: c.cfg.SenderName, FourEyes: c.cfg.FourEyes, Expiry: c.cfg.AlertExpiry}}
	asvc.Lock = func(ctx context.Context, fn func(context.Context) error) error {
		return alerts.WithLock(ctx, "alerts", fn)
	}
	runner.Alerts = asvc
	if err := runner.Load(ctx); err != nil {
		return err
	}
	api := &httpapi.Server{Alerts: asvc, Store: alerts, Rules: alerts, Runner: runner, Trusted: func() []*x509.Certificate { return trusted },
		PublicURL: c.cfg.PublicURL, FeedTitle: "Rabta " + c.cfg.NodeID + ": active alerts", Author: asvc.Config.SenderName,
		MaxBody: c.cfg.MaxBodyBytes, Log: log.With("component", "api")}
	if api.Author == "" {
		api.Author = "Rabta node " + c.cfg.NodeID
	}

	ln, err := net.Listen("tcp", c.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", c.cfg.HTTPAddr, err)
	}
	base := c.cfg.PublicURL
	if base == "" {
		base = "http://" + ln.Addr().String()
	}

	bg, cancelBG := context.WithCancel(ctx)
	defer cancelBG()
	var wg sync.WaitGroup
	wg.Go(func() { relay.Run(bg) })
	// MQTT: loggers publish to rabta/<node>/ingest/<datastream>; SensorThings clients create by
	// publishing to v1.1/Datastreams(<id>)/Observations, and subscribe to receive new ones.
	mlog := log.With("component", "mqtt")
	if err := b.SubscribeTopics("rabta/"+c.cfg.NodeID+"/ingest/+", func(msg bus.Message) {
		if err := mqttIngest(bg, ing, msg); err != nil {
			mlog.Info("mqtt_observation_rejected", "topic", msg.Topic, "reason", apperr.Message(err))
		}
	}); err != nil {
		return err
	}
	for _, t := range sensorthings.MQTTTopics {
		if err := b.SubscribeTopics(t, func(msg bus.Message) {
			if _, err := st.MQTTCreate(bg, msg.Topic, msg.Data); err != nil {
				mlog.Info("mqtt_create_rejected", "topic", msg.Topic, "reason", apperr.Message(err))
			}
		}); err != nil {
			return err
		}
	}
	// QoS 1 and 2: acknowledged to the client once NATS stored them, taken from there durably
	ingestTopic := "rabta/" + c.cfg.NodeID + "/ingest/+"
	if c.cfg.MQTTAddr != "" || c.cfg.NATSURL != "" {
		if err := b.ConsumeMQTT(bg, "mqtt-ingest", append([]string{ingestTopic}, sensorthings.MQTTTopics...), func(ctx context.Context, msgs []bus.Message) error {
			return mqttBatch(ctx, ing, st, msgs, mlog)
		}); err != nil {
			return err
		}
	}
	notify, err := b.Consume(bg, "sta-mqtt", true, func(ctx context.Context, d bus.Delivery) error {
		if !sensorthings.Subscribed(b, d.Datastream) {
			return nil
		}
		batch, err := sensing.DecodeObsBatch(d.Data)
		if err != nil {
			mlog.Warn("bad_bus_message", "subject", d.Subject, "err", err)
			return nil // a message no one can read is not retried forever
		}
		m.busLatency.WithLabelValues("sta-mqtt").Observe(time.Since(batch.Accepted).Seconds())
		return st.NotifyMQTT(b, base, batch)
	})
	if err != nil {
		return err
	}
	defer notify.Stop()
	wlog := log.With("component", "warning")
	warn, err := b.Consume(bg, "warning", false, func(ctx context.Context, d bus.Delivery) error {
		if !runner.Watches(d.Datastream) {
			return nil
		}
		batch, err := sensing.DecodeObsBatch(d.Data)
		if err != nil {
			wlog.Warn("bad_bus_message", "subject", d.Subject, "err", err)
			return nil
		}
		if err := runner.Handle(ctx, batch); err != nil {
			return err
		}
		m.busLatency.WithLabelValues("warning").Observe(time.Since(batch.Accepted).Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	defer warn.Stop()
	wg.Go(func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-bg.Done():
				return
			case <-t.C:
				if err := runner.Load(bg); err != nil {
					wlog.Warn("rules_reload_failed", "err", err)
				}
				if err := runner.Tick(bg); err != nil {
					wlog.Warn("tick_failed", "err", err)
				}
			}
		}
	})
	m.gauge("rabta_warning_lag_messages", "Bus messages waiting for the warning engine.", func(ctx context.Context) (float64, error) {
		n, err := warn.Lag(ctx)
		return float64(n), err
	})
	m.gauge("rabta_outbox_backlog", "Outbox entries not yet published on the bus.", func(ctx context.Context) (float64, error) {
		n, _, err := ents.OutboxBacklog(ctx)
		return float64(n), err
	})
	m.gauge("rabta_consumer_lag_messages", "Bus messages waiting for the SensorThings MQTT notifier.", func(ctx context.Context) (float64, error) {
		n, err := notify.Lag(ctx)
		return float64(n), err
	})
	m.gauge("rabta_bus_stream_messages", "Messages in the node's OBS stream.", func(ctx context.Context) (float64, error) {
		s, err := b.Stats(ctx)
		return float64(s.Messages), err
	})
	m.gauge("rabta_bus_stream_bytes", "Bytes in the node's OBS stream.", func(ctx context.Context) (float64, error) {
		s, err := b.Stats(ctx)
		return float64(s.Bytes), err
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := stores.ping(ctx); err != nil {
			http.Error(w, "store not ready", http.StatusServiceUnavailable)
			return
		}
		if _, err := b.Stats(ctx); err != nil {
			http.Error(w, "bus not ready", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ready\n")
	})
	mux.Handle("GET /metrics", m.handler())
	mux.Handle("/debug/pprof/", adminOnly(st, http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/profile", adminOnly(st, http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/heap", adminOnly(st, pprof.Handler("heap")))
	mux.Handle("/"+sensorthings.Version+"/", st.Handler())
	mux.Handle("/"+sensorthings.Version, http.RedirectHandler("/"+sensorthings.Version+"/", http.StatusMovedPermanently))
	mux.HandleFunc("GET /api/v1/qc/silent", silentHandler(ents, st))
	api.Register(mux)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/"+sensorthings.Version+"/", http.StatusFound)
			return
		}
		st.Error(w, r, apperr.E(apperr.NotFound, "no resource at %s; the SensorThings API is at /%s/", r.URL.Path, sensorthings.Version))
	})
	handler := auth.RequestID(m.instrument(authn.Middleware(st.Error)(recoverer(log, st, mux))))

	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // bulk dataArray bodies may be large
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("listening", "http", "http://"+ln.Addr().String()+"/"+sensorthings.Version+"/", "data_dir", c.cfg.DataDir,
		"nats", b.ClientURL(), "mqtt", b.MQTTAddr())

	if c.cfg.Demo {
		wg.Go(func() {
			if err := runDemo(bg, ents, ing, alerts, runner, c.cfg.DemoSpeed, log.With("component", "demo")); err != nil && !errors.Is(err, context.Canceled) {
				log.Error("demo_failed", "err", err)
			}
		})
	}

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting_down")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http_shutdown", "err", err)
	}
	cancelBG()
	wg.Wait()
	if err := runner.Save(context.Background()); err != nil {
		log.Warn("rule_state_not_saved", "err", err)
	}
	return nil
}

// adminOnly lets only admin keys through (the Go profiler, for operators chasing a problem).
func adminOnly(st *sensorthings.Server, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := auth.Require(r.Context(), auth.Admin); err != nil {
			st.Error(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// alertPublisher puts issued CAP messages on the bus.
type alertPublisher struct{ b *bus.Bus }

func (p alertPublisher) PublishAlert(ctx context.Context, m *alert.Message) error {
	return p.b.PublishAlert(ctx, m.Identifier, m.XML)
}

// mqttBatch stores a batch of durable MQTT messages: logger observations together in one
// transaction (a message delivered again after a crash is recognised and left out), SensorThings
// creates one by one. Refused messages are counted and logged; only a store failure is an error.
func mqttBatch(ctx context.Context, ing *ingest.Service, st *sensorthings.Server, msgs []bus.Message, log *slog.Logger) error {
	var obs []sensing.Observation
	var topics []string
	for _, msg := range msgs {
		if !strings.Contains(msg.Topic, "/ingest/") {
			if _, err := st.MQTTCreate(ctx, msg.Topic, msg.Data); err != nil {
				if apperr.KindOf(err) == apperr.Internal || apperr.KindOf(err) == apperr.Unavailable {
					return err
				}
				log.Info("mqtt_create_rejected", "topic", msg.Topic, "reason", apperr.Message(err))
			}
			continue
		}
		o, err := decodeIngest(msg)
		if err != nil {
			ing.Reject("mqtt", err)
			log.Info("mqtt_observation_rejected", "topic", msg.Topic, "reason", apperr.Message(err))
			continue
		}
		obs = append(obs, o)
		topics = append(topics, msg.Topic)
	}
	if len(obs) == 0 {
		return nil
	}
	_, errs, err := ing.IngestAgain(ctx, "mqtt", obs)
	if err != nil {
		return err
	}
	for i, e := range errs {
		if e != nil && !ingest.Duplicate(e) {
			log.Info("mqtt_observation_rejected", "topic", topics[i], "reason", apperr.Message(e))
		}
	}
	return nil
}

// decodeIngest decodes a logger's message on rabta/<node>/ingest/<datastream>.
func decodeIngest(msg bus.Message) (sensing.Observation, error) {
	i := strings.LastIndexByte(msg.Topic, '/')
	ds, err := strconv.ParseInt(msg.Topic[i+1:], 10, 64)
	if err != nil || ds <= 0 {
		return sensing.Observation{}, apperr.E(apperr.Invalid, "topic %q: the last level must be a datastream id", msg.Topic)
	}
	o, err := sensorthings.DecodeIngestMessage(msg.Data, time.Now())
	o.DatastreamID = ds
	return o, err
}

// mqttIngest takes one observation published by a logger to rabta/<node>/ingest/<datastream>:
// a JSON object {"phenomenonTime": "...", "result": ...} (phenomenonTime optional), or a bare
// number meaning "this value, now".
func mqttIngest(ctx context.Context, ing *ingest.Service, msg bus.Message) error {
	o, err := decodeIngest(msg)
	if err != nil {
		ing.Reject("mqtt", err)
		return err
	}
	_, errs, err := ing.Ingest(ctx, "mqtt", []sensing.Observation{o})
	if err != nil {
		return err
	}
	return errs[0]
}

// bootstrapAdmin makes sure a fresh node has an admin key: RABTA_ADMIN_KEY (or the file) if
// set, otherwise a generated one printed once on stderr.
func bootstrapAdmin(ctx context.Context, keys auth.Store, file string, stderr io.Writer, log *slog.Logger) error {
	key := os.Getenv("RABTA_ADMIN_KEY")
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("admin_key_file: %w", err)
		}
		key = strings.TrimSpace(string(b))
	}
	if key != "" {
		id, err := auth.Import(ctx, keys, "admin", auth.Admin, "bootstrap", key)
		if err != nil {
			return fmt.Errorf("RABTA_ADMIN_KEY: %w", err)
		}
		if id != 0 {
			log.Info("admin_key_imported", "key_id", id)
		}
		return nil
	}
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	clear, id, err := auth.Create(ctx, keys, "admin", auth.Admin, "bootstrap")
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "\n  Bootstrap admin API key (shown once, store it now):\n\n    %s\n\n  Use it as: Authorization: Bearer <key>\n\n", clear)
	log.Info("admin_key_created", "key_id", id)
	return nil
}

func recoverer(log *slog.Logger, st *sensorthings.Server, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				st.Error(w, r, fmt.Errorf("panic: %v\n%s", v, debug.Stack())) // logged once, by st.Error
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// silentHandler lists datastreams that have stopped reporting: silent for longer than their
// QC expected interval.
func silentHandler(ents entityStore, st *sensorthings.Server) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !st.PublicRead {
			if err := auth.Require(r.Context(), auth.Viewer); err != nil {
				st.Error(w, r, err)
				return
			}
		}
		last, err := ents.LastSeen(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		infos, err := ents.DatastreamInfos(r.Context())
		if err != nil {
			st.Error(w, r, err)
			return
		}
		var seen []sensing.LastSeen[int64]
		for _, ds := range infos {
			cfg := ingest.ConfigFor(&ds, nil)
			if t, ok := last[ds.ID]; ok && cfg.ExpectedInterval != nil {
				seen = append(seen, sensing.LastSeen[int64]{Datastream: ds.ID, At: t, Expected: *cfg.ExpectedInterval})
			}
		}
		silent := sensing.Silent(time.Now(), seen)
		w.Header().Set("Content-Type", "application/json")
		type item struct {
			Datastream int64  `json:"datastream"`
			LastSeen   string `json:"lastSeen"`
			SilentFor  string `json:"silentFor"`
		}
		out := []item{}
		for _, s := range silent {
			out = append(out, item{s.Datastream, s.LastSeen.Format(time.RFC3339), s.For.Round(time.Second).String()})
		}
		json.NewEncoder(w).Encode(out)
	}
}
