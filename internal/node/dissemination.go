package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/channel/email"
	"github.com/rabta/rabta/internal/channel/ivr"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/channel/webhook"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/twoway"
)

// DisseminationOptions say how a node reaches people. Webhooks are always on; SMS and e-mail
// need a gateway each.
type DisseminationOptions struct {
	// ContactsKeyFile holds the 32-byte key that seals subscribers' contacts (empty:
	// contacts.key in the data directory, made on first start). Several processes of one
	// node must share it; back it up with the database.
	ContactsKeyFile string
	// Kannel, when set, sends SMS through a Kannel gateway's sendsms interface; its delivery
	// reports come back to /sms/kannel/dlr (DLRURL and DLRSecret are filled in when empty).
	Kannel *kannel.Options
	// KannelMOSecret, when set, turns on /sms/kannel/mo?token=<it>&from=%p&to=%P&text=%a&coding=%c&charset=%C&ts=%T,
	// the get-url of Kannel's sms-service for messages people send: commands answered by
	// package twoway (docs/twoway.md). SMS over SMPP need no setting: deliver_sm from
	// handsets go to the same commands.
	KannelMOSecret string
	// SMPP, when set, sends SMS straight to an operator's SMSC over SMPP 3.4.
	SMPP *smpp.Options
	// SMTP, when set, sends e-mail through this relay.
	SMTP *email.Options
	// IVR, when set, calls subscribers' voice contacts through an IVR gateway's HTTP
	// interface, which plays the alert's audio message (docs/voice.md); its call reports come
	// back to /voice/ivr/report (CallbackURL and ReportSecret are filled in when empty).
	IVR *ivr.Options
	// Webhook tunes the webhook sender.
	Webhook webhook.Options
	// Sink, when set (the demo), takes every SMS and e-mail that no gateway is configured for
	// and writes it to this file as JSON lines, addresses redacted: the demo's gateways.
	Sink string
	// Pipeline tunes retries, leases and workers.
	Pipeline dissemination.Config
}

// checkChannels refuses channel settings (SMS through Kannel or SMPP, e-mail over SMTP,
// webhooks, IVR calls) that newDissemination would refuse, so that New refuses them before
// any port opens: each sender is made as newDissemination makes it and dropped (none
// connects, binds or starts anything when made). What newDissemination fills in once the
// HTTP listener is open — the Kannel delivery-report and IVR call-report URLs (on the public
// URL, else the listener's address) and their secrets (from the contacts key) — is given a
// stand-in of the same form.
func checkChannels(o DisseminationOptions, publicURL string) error {
	base := publicURL
	if base == "" {
		base = "http://127.0.0.1:8080" // the listener's address is not known yet
	}
	// as a derived one (Sealer.Lookup: 64 hex digits), over 16 bytes
	ko, vo := reportsOn(o, base, func(string) string { return "stand-in-for-a-derived-secret" })
	if _, err := webhook.New(o.Webhook); err != nil {
		return err
	}
	if ko != nil {
		if _, err := kannel.New(*ko); err != nil {
			return err // "kannel: …" already
		}
	}
	if o.SMPP != nil {
		if _, err := smpp.New(*o.SMPP); err != nil {
			return err // "smpp: …" already
		}
	}
	if o.SMTP != nil {
		if _, err := email.New(*o.SMTP); err != nil {
			return err // "email: …" already
		}
	}
	if vo != nil {
		if _, err := ivr.New(*vo); err != nil {
			return err
		}
	}
	return nil
}

// reportsOn returns copies of o's Kannel and IVR settings (nil when not set) with what the
// node fills in when they leave it out: the delivery-report and call-report URLs on base, and
// their secrets, secret("kannel-dlr") and secret("ivr-report").
func reportsOn(o DisseminationOptions, base string, secret func(name string) string) (*kannel.Options, *ivr.Options) {
	var ko *kannel.Options
	if o.Kannel != nil {
		k := *o.Kannel
		if k.DLRURL == "" {
			k.DLRURL = base + "/sms/kannel/dlr"
		}
		if k.DLRSecret == "" {
			k.DLRSecret = secret("kannel-dlr")
		}
		ko = &k
	}
	var vo *ivr.Options
	if o.IVR != nil {
		v := *o.IVR
		if v.CallbackURL == "" {
			v.CallbackURL = base + "/voice/ivr/report"
		}
		if v.ReportSecret == "" {
			v.ReportSecret = secret("ivr-report")
		}
		vo = &v
	}
	return ko, vo
}

// newDissemination builds the dissemination service and its senders.
func (n *Node) newDissemination(ctx context.Context, o DisseminationOptions, places dissemination.Gazetteer, points func() dissemination.Points) (*dissemination.Service, error) {
	keyFile := o.ContactsKeyFile
	if keyFile == "" {
		keyFile = filepath.Join(n.opts.DataDir, "contacts.key")
	}
	key, err := dissemination.LoadOrCreateKey(keyFile)
	if err != nil {
		return nil, err
	}
	sealer, err := dissemination.NewSealer(key)
	if err != nil {
		return nil, err
	}
	senders := map[channel.Kind]channel.Sender{}
	wh := o.Webhook
	wh.Logger = n.log.With("component", "webhook")
	if senders[channel.Webhook], err = webhook.New(wh); err != nil {
		return nil, err
	}
	var svc *dissemination.Service
	var tw *twoway.Service // answers the SMS people send (twoway.go); set below, before any arrives
	report := func(r channel.Report) { svc.Report(context.Background(), r) }
	// secrets derived from the contacts key: every process of the node agrees
	kannelOpts, ivrOpts := reportsOn(o, n.base, func(name string) string { return sealer.Lookup(channel.Kind(name), "secret") })
	if kannelOpts != nil {
		ko := *kannelOpts
		ko.Logger = n.log.With("component", "kannel")
		ks, err := kannel.New(ko)
		if err != nil {
			return nil, err
		}
		senders[channel.SMS] = ks
		n.handle("/sms/kannel/dlr", kannel.DLRHandler(ko.DLRSecret, report, n.log.With("component", "kannel_dlr")))
		if o.KannelMOSecret != "" {
			n.handle("/sms/kannel/mo", kannel.MOHandler(o.KannelMOSecret, func(ctx context.Context, in channel.Inbound) error {
				return tw.Handle(ctx, in)
			}, n.log.With("component", "kannel_mo")))
		}
	}
	if o.SMPP != nil {
		so := *o.SMPP
		so.Logger, so.Reports = n.log.With("component", "smpp"), report
		so.Inbound = func(ctx context.Context, in channel.Inbound) error { return tw.Handle(ctx, in) }
		ss, err := smpp.New(so)
		if err != nil {
			return nil, err
		}
		n.onClose(func() error { ss.Close(); return nil })
		senders[channel.SMS] = ss
		// bound from the start (of the node: once New has checked all of its configuration), not
		// at the first send: messages people send arrive over the session
		n.starters = append(n.starters, func(ctx context.Context) {
			go func() {
				if err := ss.Start(context.WithoutCancel(ctx)); err != nil {
					n.log.Warn("smpp_not_bound", "err", err, "why", "messages people send arrive once it binds (it retries at the first send)")
				}
			}()
		})
	}
	if o.SMTP != nil {
		so := *o.SMTP
		so.Logger = n.log.With("component", "email")
		es, err := email.New(so)
		if err != nil {
			return nil, err // "email: …" already
		}
		n.onClose(func() error { es.Close(); return nil })
		senders[channel.Email] = es
	}
	if ivrOpts != nil {
		vo := *ivrOpts
		vo.Logger = n.log.With("component", "ivr")
		n.handle("POST /voice/ivr/report", ivr.ReportHandler(vo.ReportSecret, report, n.log.With("component", "ivr_report")))
		is, err := ivr.New(vo)
		if err != nil {
			return nil, err
		}
		senders[channel.Voice] = is
	}
	if o.Sink != "" {
		for _, k := range []channel.Kind{channel.SMS, channel.Email} {
			if senders[k] == nil {
				s, err := newSink(o.Sink, k, n.now)
				if err != nil {
					return nil, err
				}
				n.onClose(s.Close)
				senders[k] = s
			}
		}
	}
	cfg := o.Pipeline
	if cfg.PublicURL == "" {
		cfg.PublicURL = n.base
	}
	m := n.metrics
	sends := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rabta_delivery_send_seconds",
		Help: "Send attempts by channel and outcome (sent, queued, planned = retry, failed, cancelled), with their duration.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)},
		[]string{"channel", "outcome"})
	m.reg.MustRegister(sends)
	svc = &dissemination.Service{Store: n.stores.Dissemination, Sealer: sealer, Places: places, Points: points, Senders: senders,
		Render: &dissemination.Messages{Zone: n.opts.Zone}, Now: n.now, Log: n.log.With("component", "dissemination"), Config: cfg,
		MessageByIdentifier: n.stores.Alerts.MessageByIdentifier,
		Observe: func(k channel.Kind, st dissemination.State, took time.Duration) {
			sends.WithLabelValues(string(k), string(st)).Observe(took.Seconds())
		}}
	tw = n.newTwoWay(svc, sealer, senders[channel.SMS])
	deliveries := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "rabta_deliveries", Help: "Deliveries by channel and state (read from the store at each scrape)."},
		[]string{"channel", "state"})
	m.reg.MustRegister(collectorFunc{deliveries, func() {
		cctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cs, err := n.stores.Dissemination.Totals(cctx)
		if err != nil {
			return
		}
		deliveries.Reset()
		for _, c := range cs {
			deliveries.WithLabelValues(string(c.Channel), string(c.State)).Set(float64(c.N))
		}
	}})
	n.log.Info("dissemination", "channels", fmt.Sprint(keys(senders)), "contacts_key", keyFile)
	for _, k := range []channel.Kind{channel.SMS, channel.Email} {
		if senders[k] == nil {
			n.log.Warn("no_gateway", "channel", string(k), "why", "no "+string(k)+" gateway is configured: such deliveries are planned and wait until one is (docs/dissemination.md)")
		}
	}
	return svc, nil
}

func keys(m map[channel.Kind]channel.Sender) []channel.Kind {
	var out []channel.Kind
	for _, k := range []channel.Kind{channel.SMS, channel.Email, channel.Webhook, channel.Voice} {
		if m[k] != nil {
			out = append(out, k)
		}
	}
	return out
}

// collectorFunc refreshes a gauge vector before each collection.
type collectorFunc struct {
	*prometheus.GaugeVec
	refresh func()
}

func (c collectorFunc) Collect(ch chan<- prometheus.Metric) {
	c.refresh()
	c.GaugeVec.Collect(ch)
}

// sink is the demo's gateway: it accepts every message and writes it, address redacted, as
// one JSON line; "at" is the node's clock (an exercise's clock in an exercise).
type sink struct {
	kind channel.Kind
	mu   *sync.Mutex
	f    *os.File
	now  func() time.Time
}

func newSink(path string, k channel.Kind, now func() time.Time) (*sink, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("delivery sink: %w", err)
	}
	return &sink{kind: k, mu: &sync.Mutex{}, f: f, now: now}, nil
}

func (s *sink) Kind() channel.Kind { return s.kind }

func (s *sink) Send(ctx context.Context, m channel.Message) (channel.Receipt, error) {
	line, _ := json.Marshal(map[string]any{"at": s.now().UTC(), "delivery": m.DeliveryID, "channel": m.Kind, "to": channel.Redact(m.To),
		"language": m.Language, "subject": m.Subject, "text": m.Text, "alert": m.Alert})
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.Write(append(line, '\n')); err != nil {
		return channel.Receipt{}, err
	}
	return channel.Receipt{GatewayID: fmt.Sprintf("sink-%d", m.DeliveryID), Parts: 1}, nil
}

func (s *sink) Close() error { return s.f.Close() }

// handle adds a route outside the API (gateway callbacks, authenticated by their own tokens).
func (n *Node) handle(pattern string, h http.Handler) {
	if n.handlers == nil {
		n.handlers = map[string]http.Handler{}
	}
	n.handlers[pattern] = h
}
