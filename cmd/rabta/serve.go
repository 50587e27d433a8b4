package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/channel/email"
	"github.com/rabta/rabta/internal/channel/ivr"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/channel/webhook"
	"github.com/rabta/rabta/internal/config"
	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/node"
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
	fs.BoolVar(&c.cfg.PublicAlerts, "public-alerts", c.cfg.PublicAlerts, "let anonymous clients read the CAP feed and issued CAP messages, whatever --public-read says (env RABTA_PUBLIC_ALERTS)")
	fs.Float64Var(&c.cfg.AuthFailRate, "auth-fail-rate", c.cfg.AuthFailRate, "failed authentications a second allowed per source after auth_fail_burst; 0: no limit (env RABTA_AUTH_FAIL_RATE)")
	fs.Float64Var(&c.cfg.WriteRate, "write-rate", c.cfg.WriteRate, "writes a second allowed per API key after write_burst; 0: no limit (env RABTA_WRITE_RATE)")
	fs.Func("trusted-proxies", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-* headers are believed (env RABTA_TRUSTED_PROXIES)", func(v string) error {
		c.cfg.TrustedProxies = nil
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.cfg.TrustedProxies = append(c.cfg.TrustedProxies, f)
			}
		}
		return nil
	})
	fs.StringVar(&c.cfg.Log, "log", c.cfg.Log, "log format: json or text (env RABTA_LOG)")
	fs.StringVar(&c.cfg.LogLevel, "log-level", c.cfg.LogLevel, "debug, info, warn or error")
	fs.Int64Var(&c.cfg.MaxBodyBytes, "max-body-size", c.cfg.MaxBodyBytes, "largest request body in bytes")
	fs.DurationVar(&c.cfg.FeedKeep, "feed-keep", c.cfg.FeedKeep, "how long a Cancel or Update stays on the CAP feed beside what it replaces (env RABTA_FEED_KEEP)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q", fs.Arg(0))
	}
	if err := c.load(fs); err != nil {
		return err
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && c.cfg.MemoryLimit > 0 {
		// a soft limit: the embedded NATS server pools large buffers, which a lazy GC keeps
		debug.SetMemoryLimit(c.cfg.MemoryLimit)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	opts, err := options(c.cfg)
	if err != nil {
		return err
	}
	opts.Log, opts.Registry, opts.Console = logger(c.cfg, stderr).With("node", c.cfg.NodeID), reg, console(stderr, c.cfg.DataDir)
	opts.AdminKey = os.Getenv("RABTA_ADMIN_KEY")

	n, err := node.New(ctx, opts)
	if err != nil {
		return err
	}
	if err := n.Start(ctx); err != nil {
		n.Close()
		return err
	}
	select {
	case err := <-n.Err():
		n.Close()
		return err
	case <-ctx.Done():
	}
	return n.Close()
}

// options are the node's options from its configuration; gateway passwords are read from
// their files.
func options(cfg config.Config) (node.Options, error) {
	d, err := disseminationOptions(cfg)
	if err != nil {
		return node.Options{}, err
	}
	zone, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return node.Options{}, fmt.Errorf("time_zone: %w", err)
	}
	var names *i18n.Names
	if cfg.NamesFile != "" {
		f, err := os.Open(cfg.NamesFile)
		if err != nil {
			return node.Options{}, fmt.Errorf("names_file: %w", err)
		}
		names, err = i18n.ReadNames(f)
		f.Close()
		if err != nil {
			return node.Options{}, fmt.Errorf("names_file %s: %w", cfg.NamesFile, err)
		}
	}
	proxies, err := auth.ParseProxies(strings.Join(cfg.TrustedProxies, ","))
	if err != nil {
		return node.Options{}, err
	}
	limits := auth.Limits{FailRate: cfg.AuthFailRate, FailBurst: cfg.AuthFailBurst, WriteRate: cfg.WriteRate, WriteBurst: cfg.WriteBurst, Entries: cfg.LimitEntries}
	return node.Options{
		ID: cfg.NodeID, DataDir: cfg.DataDir, DB: cfg.DB,
		HTTPAddr: cfg.HTTPAddr, PublicURL: cfg.PublicURL, PublicRead: cfg.PublicRead, ConsoleTileURL: cfg.ConsoleTileURL,
		PrivateAlerts: !cfg.PublicAlerts, TrustedProxies: proxies, Limits: &limits, IdempotencyWindow: cfg.IdempotencyWindow,
		MaxBodyBytes: cfg.MaxBodyBytes, DefaultTop: cfg.DefaultTop, MaxTop: cfg.MaxTop,
		MaxResponseRows: cfg.MaxResponseRows, MaxResponseBytes: cfg.MaxResponseBytes, QueryTimeout: cfg.QueryTimeout, MaxConcurrentReads: cfg.MaxConcurrentReads,
		NATSURL: cfg.NATSURL, NATSAddr: cfg.NATSAddr, MQTTAddr: cfg.MQTTAddr, NATSReplicas: cfg.NATSReplicas,
		FedTLS:   bus.TLSFiles{Cert: cfg.FederationTLSCert, Key: cfg.FederationTLSKey},
		NoOutbox: !cfg.Outbox,
		Sender:   cfg.Sender, SenderName: cfg.SenderName, FourEyes: cfg.FourEyes, AlertExpiry: cfg.AlertExpiry, FeedKeep: cfg.FeedKeep,
		SigningKeyFile: cfg.SigningKeyFile, SigningCertFile: cfg.SigningCertFile, TrustedCertsDir: cfg.TrustedCertsDir,
		WIS2Centre:   cfg.WIS2Centre,
		AdminKeyFile: cfg.AdminKeyFile,
		Demo:         cfg.Demo, DemoSpeed: cfg.DemoSpeed,
		Dissemination: d, Zone: zone, Names: names,
		Voice: node.VoiceOptions{Off: cfg.Voice.Off, Clips: cfg.Voice.Clips, Espeak: cfg.Voice.Espeak, Sox: cfg.Voice.Sox},
	}, nil
}

// disseminationOptions maps the dissemination section to the node's channels.
func disseminationOptions(cfg config.Config) (node.DisseminationOptions, error) {
	d := cfg.Dissemination
	o := node.DisseminationOptions{ContactsKeyFile: d.ContactsKeyFile, Sink: d.Sink,
		Webhook:  webhook.Options{Rate: d.WebhookRate, AllowNetworks: config.Prefixes(d.WebhookAllowNetworks)},
		Pipeline: dissemination.Config{PublicURL: cfg.PublicURL, Workers: d.Workers, Lease: d.Lease, MaxAttempts: d.MaxAttempts}}
	secret := func(name, path string) (string, error) {
		if path == "" {
			return "", nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if d.SMPP.Addr != "" {
		pw, err := secret("dissemination.smpp.password_file", d.SMPP.PasswordFile)
		if err != nil {
			return o, err
		}
		o.SMPP = &smpp.Options{Addr: d.SMPP.Addr, SystemID: d.SMPP.SystemID, Password: pw, SystemType: d.SMPP.SystemType,
			Source: d.SMPP.Source, Rate: d.SMPP.Rate, Window: d.SMPP.Window, EnquireLink: d.SMPP.EnquireLink}
	}
	if d.Kannel.URL != "" {
		pw, err := secret("dissemination.kannel.password_file", d.Kannel.PasswordFile)
		if err != nil {
			return o, err
		}
		if o.KannelMOSecret, err = secret("dissemination.kannel.mo_secret_file", d.Kannel.MOSecretFile); err != nil {
			return o, err
		}
		o.Kannel = &kannel.Options{URL: d.Kannel.URL, Username: d.Kannel.Username, Password: pw, From: d.Kannel.From, SMSC: d.Kannel.SMSC,
			DLRURL: d.Kannel.DLRURL, Rate: d.Kannel.Rate, MaxParts: d.Kannel.MaxParts}
	}
	if d.SMTP.Addr != "" {
		pw, err := secret("dissemination.smtp.password_file", d.SMTP.PasswordFile)
		if err != nil {
			return o, err
		}
		o.SMTP = &email.Options{Addr: d.SMTP.Addr, From: d.SMTP.From, StartTLS: d.SMTP.StartTLS, Username: d.SMTP.Username, Password: pw, Rate: d.SMTP.Rate}
	}
	if d.IVR.URL != "" {
		tok, err := secret("dissemination.ivr.token_file", d.IVR.TokenFile)
		if err != nil {
			return o, err
		}
		o.IVR = &ivr.Options{URL: d.IVR.URL, Token: tok, CallbackURL: d.IVR.CallbackURL, Rate: d.IVR.Rate}
	}
	if cfg.Demo && o.Sink == "" && o.SMPP == nil && d.Kannel.URL == "" {
		o.Sink = filepath.Join(cfg.DataDir, "deliveries.jsonl")
	}
	return o, nil
}

// BootstrapKeyFile is where a node whose stderr is not a terminal writes the bootstrap admin key
// it makes on first start, in the data directory, readable by its owner only.
const BootstrapKeyFile = "bootstrap-admin.key"

// console is where the bootstrap admin key is shown: stderr when it is a terminal; otherwise
// (systemd, docker, a pipe: stderr is the log stream, which a collector keeps) the file
// BootstrapKeyFile in dataDir (0600), named on stderr without the key.
func console(stderr io.Writer, dataDir string) io.Writer {
	if f, ok := stderr.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			return stderr
		}
	}
	return &keyFile{path: filepath.Join(dataDir, BootstrapKeyFile), stderr: stderr}
}

// keyFile writes what the node shows once on its console to a private file, and says where.
type keyFile struct {
	path   string
	stderr io.Writer
}

func (k *keyFile) Write(p []byte) (int, error) {
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("bootstrap admin key: %w", err)
	}
	n, err := f.Write(p)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return n, fmt.Errorf("bootstrap admin key: %w", err)
	}
	fmt.Fprintf(k.stderr, "\n  stderr is not a terminal: the bootstrap admin API key (shown once) is in %s,\n  readable by its owner only. Store it, then delete the file.\n\n", k.path)
	return n, nil
}
