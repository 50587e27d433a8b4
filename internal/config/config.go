// Package config holds Rabta's configuration: defaults that run a complete node, a YAML file,
// and RABTA_* environment variables, in increasing order of precedence (flags, applied by the
// command, come last). It only parses and validates; it starts nothing.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is a node's configuration.
type Config struct {
	// NodeID names this node in subjects, identifiers and logs, e.g. "islamabad".
	NodeID string `yaml:"node_id"`
	// DataDir holds the SQLite database and, later, the bus's files.
	DataDir string `yaml:"data_dir"`
	// HTTPAddr is where the HTTP API listens.
	HTTPAddr string `yaml:"http_addr"`
	// DB selects the store: empty for SQLite in the data directory, or a PostgreSQL URL
	// (postgres://user@host:5432/rabta).
	DB string `yaml:"db"`
	// NATSURL, when set, is an external NATS cluster (nats://a:4222,nats://b:4222); empty
	// means the embedded server.
	NATSURL string `yaml:"nats_url"`
	// NATSReplicas is the replica count of the node's streams on an external cluster.
	NATSReplicas int `yaml:"nats_replicas"`
	// NATSAddr is the embedded server's NATS client listener; empty means in-process only.
	NATSAddr string `yaml:"nats_addr"`
	// MQTTAddr is the embedded server's MQTT listener; empty turns MQTT off.
	MQTTAddr string `yaml:"mqtt_addr"`
	// FederationTLSCert and FederationTLSKey are the PEM certificate (with its chain) and key
	// of the NATS listener, where partner nodes dial in (docs/federation.md); set, the listener
	// is TLS-only. Without them partners may log in only on a loopback listener.
	FederationTLSCert string `yaml:"federation_tls_cert"`
	FederationTLSKey  string `yaml:"federation_tls_key"`
	// Outbox writes each accepted batch to the transactional outbox for the bus. Turning it off
	// is only for measuring what it costs: without it nothing reaches the bus (no MQTT
	// notifications, no warnings).
	Outbox bool `yaml:"outbox"`
	// Sender is the CAP <sender> of this node's alerts (default "rabta@<node_id>"); SenderName
	// its <senderName>; FourEyes requires the approver of a draft to differ from its author.
	Sender     string `yaml:"cap_sender"`
	SenderName string `yaml:"cap_sender_name"`
	FourEyes   bool   `yaml:"four_eyes"`
	// AlertExpiry is how long an issued CAP message is valid.
	AlertExpiry time.Duration `yaml:"alert_expiry"`
	// FeedKeep is how long a Cancel or an Update, and the message it replaces, stays on the
	// public CAP feed beside it (default 24h), so that an aggregator that only polls learns
	// that a warning was withdrawn or changed.
	FeedKeep time.Duration `yaml:"feed_keep"`
	// SigningKeyFile and SigningCertFile hold the node's CAP signing key and certificate (PEM);
	// empty means node-key.pem and node-cert.pem in the data directory, made on first start.
	// Several processes of one node must share them.
	SigningKeyFile  string `yaml:"signing_key_file"`
	SigningCertFile string `yaml:"signing_cert_file"`
	// TrustedCertsDir holds PEM certificates whose CAP signatures this node accepts (its own
	// certificate is always trusted).
	TrustedCertsDir string `yaml:"trusted_certs_dir"`
	// WIS2Centre is the node's WIS2 centre id (e.g. "pk-pmd"), in WIS2 topics and metadata
	// record ids (docs/wis2.md); empty: "xx-rabta-<node_id>", a placeholder.
	WIS2Centre string `yaml:"wis2_centre"`
	// MemoryLimit is the Go runtime's soft memory limit in bytes (the GC works harder as the
	// heap nears it; 0 leaves the runtime's default). GOMEMLIMIT, when set, wins. Default
	// 80 MiB: docs/deploy.md, "Memory".
	MemoryLimit int64 `yaml:"memory_limit"`
	// PublicURL is the URL clients use to reach this node (for @iot.selfLink); empty means
	// derive it from each request's Host.
	PublicURL string `yaml:"public_url"`
	// ConsoleTileURL is an optional base-map tile URL template for the operator console's map
	// ("https://tile.example.org/{z}/{x}/{y}.png"; http or https, with {z}, {x} and {y}).
	// Empty (the default): no tiles, the node's own district boundaries alone, and the console
	// fetches nothing from elsewhere (docs/console.md).
	ConsoleTileURL string `yaml:"console_tile_url"`
	// PublicRead lets anonymous clients read SensorThings data and /metrics; writes always need
	// a key. Off, reads need a viewer key.
	PublicRead bool `yaml:"public_read"`
	// PublicAlerts lets anonymous clients read the CAP feed and issued CAP messages, whatever
	// PublicRead says (default true: they are warnings, and the messages sent to people link to
	// them); false closes them to all but keys (docs/alerts.md).
	PublicAlerts bool `yaml:"public_alerts"`
	// TrustedProxies are the addresses or CIDR prefixes of reverse proxies whose
	// X-Forwarded-For, X-Forwarded-Host and X-Forwarded-Proto are believed; from anyone else
	// those headers are dropped and links never use the request's Host (default: none).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// AuthFailRate is how many failed authentications a second one source (an IP address, an
	// IPv6 /64) may make after AuthFailBurst; over it, 429 (default 1 after 20; 0: no limit).
	AuthFailRate  float64 `yaml:"auth_fail_rate"`
	AuthFailBurst int     `yaml:"auth_fail_burst"`
	// WriteRate is how many writes (HTTP POST, PUT, PATCH, DELETE) a second one key may make
	// after WriteBurst; over it, 429 (default 1000 after 2000; 0: no limit).
	WriteRate  float64 `yaml:"write_rate"`
	WriteBurst int     `yaml:"write_burst"`
	// LimitEntries bounds how many sources, and how many keys, the limits remember (default
	// 10000; the least recently seen are forgotten first).
	LimitEntries int `yaml:"limit_entries"`
	// IdempotencyWindow is how long an Idempotency-Key of an observation POST is remembered
	// (default 24h).
	IdempotencyWindow time.Duration `yaml:"idempotency_window"`
	// MaxBodyBytes bounds a request body.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxTop bounds $top; DefaultTop is the page size when $top is not given.
	MaxTop     int `yaml:"max_top"`
	DefaultTop int `yaml:"default_top"`
	// MaxResponseRows and MaxResponseBytes bound one SensorThings response: entities, and
	// bytes of their values, over every level of $expand and every part of a $batch (over
	// them the answer is paged, or a 413 naming the limit). QueryTimeout bounds one read (503
	// naming it).
	MaxResponseRows  int64         `yaml:"max_response_rows"`
	MaxResponseBytes int64         `yaml:"max_response_bytes"`
	QueryTimeout     time.Duration `yaml:"query_timeout"`
	// MaxConcurrentReads is how many SensorThings reads are served at once; the others wait
	// up to 10 s for a turn, then are a 503 naming it.
	MaxConcurrentReads int `yaml:"max_concurrent_reads"`
	// AdminKeyFile, when set, holds the bootstrap admin key (instead of RABTA_ADMIN_KEY).
	AdminKeyFile string `yaml:"admin_key_file"`
	// Log is "json" or "text"; LogLevel "debug", "info", "warn" or "error".
	Log      string `yaml:"log"`
	LogLevel string `yaml:"log_level"`
	// GapSweep is how often datastreams are checked for having stopped reporting.
	GapSweep time.Duration `yaml:"gap_sweep"`
	// Demo seeds the demo data set and replays it; DemoSpeed is data-seconds per second.
	Demo      bool    `yaml:"demo"`
	DemoSpeed float64 `yaml:"demo_speed"`
	// TimeZone is the IANA zone messages write their times in (default Asia/Karachi; a
	// Beijing node sets Asia/Shanghai).
	TimeZone string `yaml:"time_zone"`
	// NamesFile is a CSV of names in other languages (name_en, name_ur, source_ur, …; see
	// docs/rules.md) for the free texts of rules: stations, areas, audiences.
	NamesFile string `yaml:"names_file"`
	// Dissemination says how people are reached: the SMS and e-mail gateways, webhooks and
	// the delivery pipeline (docs/dissemination.md).
	Dissemination Dissemination `yaml:"dissemination"`
	// Voice is how the node speaks its warnings (docs/voice.md).
	Voice Voice `yaml:"voice"`
}

// Voice configures the audio messages of issued alerts (espeak-ng and sox; on when both are
// found).
type Voice struct {
	Off    bool   `yaml:"off"`    // no audio messages
	Clips  string `yaml:"clips"`  // directory of recorded-voice template sets (docs/voice.md)
	Espeak string `yaml:"espeak"` // the espeak-ng program (default: on PATH)
	Sox    string `yaml:"sox"`    // the sox program (default: on PATH)
}

// Dissemination configures the channels and the delivery pipeline. Passwords are read from
// files, never written in the configuration.
type Dissemination struct {
	// ContactsKeyFile holds the key sealing subscribers' contacts (default: contacts.key in
	// the data directory, made on first start).
	ContactsKeyFile string `yaml:"contacts_key_file"`
	// SMPP sends SMS straight to an operator's SMSC (SMPP 3.4) when Addr is set.
	SMPP SMPP `yaml:"smpp"`
	// Kannel sends SMS through a Kannel gateway's sendsms interface when URL is set.
	Kannel Kannel `yaml:"kannel"`
	// SMTP sends e-mail through a relay when Addr is set.
	SMTP SMTP `yaml:"smtp"`
	// IVR calls subscribers' voice contacts through an IVR gateway's HTTP interface when URL
	// is set (docs/voice.md).
	IVR IVR `yaml:"ivr"`
	// WebhookRate bounds webhook POSTs per second (0: no limit).
	WebhookRate float64 `yaml:"webhook_rate"`
	// WebhookAllowNetworks lists internal networks (CIDR prefixes or single addresses:
	// loopback, private, link-local, …) that webhook endpoints may be in. Without them a
	// subscriber's webhook into such an address is refused when it is sent (docs/webhooks.md).
	WebhookAllowNetworks []string `yaml:"webhook_allow_networks"`
	// Sink, when set, is a file where SMS and e-mail with no gateway configured are written
	// (JSON lines, addresses redacted): the demo's gateway. The demo uses
	// <data_dir>/deliveries.jsonl when no SMS gateway is configured.
	Sink string `yaml:"sink"`
	// Workers is the number of concurrent sends per channel; Lease how long a claimed
	// delivery is held; MaxAttempts how many times a transient failure is retried.
	Workers     int           `yaml:"workers"`
	Lease       time.Duration `yaml:"lease"`
	MaxAttempts int           `yaml:"max_attempts"`
}

// SMPP is an SMSC account.
type SMPP struct {
	Addr         string        `yaml:"addr"`
	SystemID     string        `yaml:"system_id"`
	PasswordFile string        `yaml:"password_file"`
	SystemType   string        `yaml:"system_type"`
	Source       string        `yaml:"source"`       // sender address: +E.164, short code or alphanumeric
	Rate         float64       `yaml:"rate"`         // submit_sm per second (the operator's limit)
	Window       int           `yaml:"window"`       // submit_sm awaiting their response
	EnquireLink  time.Duration `yaml:"enquire_link"` // keep-alive interval
}

// Kannel is a Kannel smsbox's sendsms account.
type Kannel struct {
	URL          string  `yaml:"url"` // the sendsms URL, e.g. http://127.0.0.1:13013/cgi-bin/sendsms
	Username     string  `yaml:"username"`
	PasswordFile string  `yaml:"password_file"`
	From         string  `yaml:"from"`      // the sender shown on handsets
	SMSC         string  `yaml:"smsc"`      // route to one smsc-id
	DLRURL       string  `yaml:"dlr_url"`   // where smsbox reaches the node (default <public_url>/sms/kannel/dlr)
	Rate         float64 `yaml:"rate"`      // SMS segments per second (Rabta's own limit)
	MaxParts     int     `yaml:"max_parts"` // at most the sendsms-user's max-messages (default 10)
	// MOSecretFile holds the token of /sms/kannel/mo, the get-url of Kannel's sms-service for
	// messages people send (JOIN, STOP, LANG, LEVEL, HELP: docs/twoway.md); without it the
	// route is off.
	MOSecretFile string `yaml:"mo_secret_file"`
}

// IVR is an IVR / robocall gateway's call endpoint.
type IVR struct {
	URL         string  `yaml:"url"`          // https (http only to a loopback host)
	TokenFile   string  `yaml:"token_file"`   // holds the bearer token the gateway gave this node
	CallbackURL string  `yaml:"callback_url"` // where the gateway reports calls (default <public_url>/voice/ivr/report)
	Rate        float64 `yaml:"rate"`         // call requests per second (0: no limit)
}

// SMTP is an e-mail relay.
type SMTP struct {
	Addr         string  `yaml:"addr"`
	From         string  `yaml:"from"`
	StartTLS     bool    `yaml:"starttls"`
	Username     string  `yaml:"username"`
	PasswordFile string  `yaml:"password_file"`
	Rate         float64 `yaml:"rate"`
}

// Default returns a configuration that runs a complete node with no file.
func Default() Config {
	return Config{
		NodeID:       "local",
		DataDir:      "./rabta-data",
		HTTPAddr:     "127.0.0.1:8080",
		NATSAddr:     "127.0.0.1:4222",
		Outbox:       true,
		FourEyes:     true,
		MemoryLimit:  80 << 20, // docs/bench.md (issue 16 item 4, part RSS): the 10 M peak 141–144 MiB instead of 160; 64 MiB slowed the demo (TestDemo missed its alerts in CI)
		AlertExpiry:  24 * time.Hour,
		FeedKeep:     24 * time.Hour,
		MQTTAddr:     "127.0.0.1:1883",
		PublicRead:   true,
		MaxBodyBytes: 32 << 20,
		MaxTop:       10000,
		DefaultTop:   100,

		MaxResponseRows:    50_000,
		MaxResponseBytes:   32 << 20,
		QueryTimeout:       60 * time.Second,
		MaxConcurrentReads: 16,
		Log:                "json",
		LogLevel:           "info",
		GapSweep:           time.Minute,
		TimeZone:           "Asia/Karachi",

		// who may read what, and the limits on abuse
		PublicAlerts:      true,
		AuthFailRate:      1,
		AuthFailBurst:     20,
		WriteRate:         1000,
		WriteBurst:        2000,
		LimitEntries:      10000,
		IdempotencyWindow: 24 * time.Hour,
	}
}

// Load reads a YAML file over c. Unknown keys are errors, so a typo is never silently ignored.
func (c *Config) Load(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config %s: %w", path, err)
	}
	return c.Parse(path, b)
}

// Parse reads YAML bytes (named name in errors) over c.
func (c *Config) Parse(name string, b []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config %s: %w", name, err)
	}
	return nil
}

// Env applies RABTA_* variables from lookup (os.LookupEnv) over c.
func (c *Config) Env(lookup func(string) (string, bool)) error {
	str := func(name string, dst *string) {
		if v, ok := lookup(name); ok {
			*dst = v
		}
	}
	str("RABTA_NODE_ID", &c.NodeID)
	str("RABTA_DATA_DIR", &c.DataDir)
	str("RABTA_HTTP_ADDR", &c.HTTPAddr)
	str("RABTA_PUBLIC_URL", &c.PublicURL)
	str("RABTA_NATS_URL", &c.NATSURL)
	str("RABTA_DB", &c.DB)
	str("RABTA_NATS_ADDR", &c.NATSAddr)
	str("RABTA_MQTT_ADDR", &c.MQTTAddr)
	str("RABTA_FEDERATION_TLS_CERT", &c.FederationTLSCert)
	str("RABTA_FEDERATION_TLS_KEY", &c.FederationTLSKey)
	str("RABTA_LOG", &c.Log)
	str("RABTA_LOG_LEVEL", &c.LogLevel)
	str("RABTA_ADMIN_KEY_FILE", &c.AdminKeyFile)
	str("RABTA_WIS2_CENTRE", &c.WIS2Centre)
	for name, dst := range map[string]*bool{"RABTA_PUBLIC_READ": &c.PublicRead, "RABTA_PUBLIC_ALERTS": &c.PublicAlerts} {
		if v, ok := lookup(name); ok {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, v)
			}
			*dst = b
		}
	}
	if v, ok := lookup("RABTA_TRUSTED_PROXIES"); ok {
		c.TrustedProxies = nil
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f != "" {
				c.TrustedProxies = append(c.TrustedProxies, f)
			}
		}
	}
	for name, dst := range map[string]*float64{"RABTA_AUTH_FAIL_RATE": &c.AuthFailRate, "RABTA_WRITE_RATE": &c.WriteRate} {
		if v, ok := lookup(name); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s: %q is not a number", name, v)
			}
			*dst = f
		}
	}
	if v, ok := lookup("RABTA_IDEMPOTENCY_WINDOW"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("RABTA_IDEMPOTENCY_WINDOW: %q is not a duration like 24h", v)
		}
		c.IdempotencyWindow = d
	}
	if v, ok := lookup("RABTA_NATS_REPLICAS"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("RABTA_NATS_REPLICAS: %q is not a number", v)
		}
		c.NATSReplicas = n
	}
	if v, ok := lookup("RABTA_OUTBOX"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RABTA_OUTBOX: %q is not true or false", v)
		}
		c.Outbox = b
	}
	if v, ok := lookup("RABTA_FEED_KEEP"); ok {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("RABTA_FEED_KEEP: %q is not a duration like 24h", v)
		}
		c.FeedKeep = d
	}
	if v, ok := lookup("RABTA_DEMO_SPEED"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("RABTA_DEMO_SPEED: %q is not a number", v)
		}
		c.DemoSpeed = f
	}
	return nil
}

var nodeID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Validate reports every problem with c at once.
func (c *Config) Validate() error {
	var errs []error
	if !nodeID.MatchString(c.NodeID) {
		errs = append(errs, fmt.Errorf("node_id %q: use lower-case letters, digits and '-' (at most 63)", c.NodeID))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		errs = append(errs, errors.New("data_dir is empty"))
	}
	if err := checkTileURL(c.ConsoleTileURL); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		errs = append(errs, fmt.Errorf("http_addr %q: %v", c.HTTPAddr, err))
	}
	for name, a := range map[string]string{"nats_addr": c.NATSAddr, "mqtt_addr": c.MQTTAddr} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", name, a, err))
		}
	}
	if (c.FederationTLSCert == "") != (c.FederationTLSKey == "") {
		errs = append(errs, errors.New("federation_tls_cert and federation_tls_key: set both or neither"))
	}
	if c.NATSURL != "" && !strings.HasPrefix(c.NATSURL, "nats://") && !strings.HasPrefix(c.NATSURL, "tls://") {
		errs = append(errs, fmt.Errorf("nats_url %q: want nats://host:port (comma-separated for a cluster)", c.NATSURL))
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		errs = append(errs, fmt.Errorf("db %q: empty for SQLite, or a postgres:// URL", redactURL(c.DB)))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_body_bytes %d: at least 1024", c.MaxBodyBytes))
	}
	if c.MaxTop < 1 || c.DefaultTop < 1 || c.DefaultTop > c.MaxTop {
		errs = append(errs, fmt.Errorf("default_top %d and max_top %d: need 1 ≤ default_top ≤ max_top", c.DefaultTop, c.MaxTop))
	}
	if c.MaxResponseRows < int64(c.MaxTop) {
		errs = append(errs, fmt.Errorf("max_response_rows %d: at least max_top (%d)", c.MaxResponseRows, c.MaxTop))
	}
	if c.MaxResponseBytes < 1<<20 {
		errs = append(errs, fmt.Errorf("max_response_bytes %d: at least 1 MiB", c.MaxResponseBytes))
	}
	if c.MaxConcurrentReads < 1 || c.MaxConcurrentReads > 4096 {
		errs = append(errs, fmt.Errorf("max_concurrent_reads %d: between 1 and 4096", c.MaxConcurrentReads))
	}
	if c.QueryTimeout < time.Second {
		errs = append(errs, fmt.Errorf("query_timeout %v: at least 1s", c.QueryTimeout))
	}
	if c.Log != "json" && c.Log != "text" {
		errs = append(errs, fmt.Errorf("log %q: json or text", c.Log))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log_level %q: debug, info, warn or error", c.LogLevel))
	}
	if c.DemoSpeed < 0 {
		errs = append(errs, fmt.Errorf("demo_speed %g: must not be negative", c.DemoSpeed))
	}
	if (c.SigningKeyFile == "") != (c.SigningCertFile == "") {
		errs = append(errs, errors.New("signing_key_file and signing_cert_file: give both or neither"))
	}
	if c.NATSReplicas < 0 || c.NATSReplicas > 5 {
		errs = append(errs, fmt.Errorf("nats_replicas %d: 0 (one) to 5", c.NATSReplicas))
	}
	if c.AlertExpiry < time.Minute {
		errs = append(errs, fmt.Errorf("alert_expiry %s: at least 1m", c.AlertExpiry))
	}
	if c.FeedKeep < time.Minute {
		errs = append(errs, fmt.Errorf("feed_keep %s: at least 1m", c.FeedKeep))
	}
	for _, p := range c.TrustedProxies {
		if !validProxy(p) {
			errs = append(errs, fmt.Errorf("trusted_proxies %q: want an IP address or a CIDR prefix like 10.0.0.0/8", p))
		}
	}
	if c.AuthFailRate < 0 || c.WriteRate < 0 || math.IsNaN(c.AuthFailRate) || math.IsNaN(c.WriteRate) || math.IsInf(c.AuthFailRate, 0) || math.IsInf(c.WriteRate, 0) {
		errs = append(errs, fmt.Errorf("auth_fail_rate %g and write_rate %g: per second, 0 (no limit) or more", c.AuthFailRate, c.WriteRate))
	}
	if c.AuthFailBurst < 1 || c.WriteBurst < 1 {
		errs = append(errs, fmt.Errorf("auth_fail_burst %d and write_burst %d: at least 1", c.AuthFailBurst, c.WriteBurst))
	}
	if c.LimitEntries < 100 || c.LimitEntries > 10_000_000 {
		errs = append(errs, fmt.Errorf("limit_entries %d: 100 to 10000000", c.LimitEntries))
	}
	if c.IdempotencyWindow < time.Minute || c.IdempotencyWindow > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("idempotency_window %s: 1m to 720h", c.IdempotencyWindow))
	}
	if c.GapSweep <= 0 {
		errs = append(errs, fmt.Errorf("gap_sweep %s: must be positive", c.GapSweep))
	}
	if _, err := time.LoadLocation(c.TimeZone); err != nil || c.TimeZone == "" {
		errs = append(errs, fmt.Errorf("time_zone %q: not an IANA time zone (e.g. Asia/Karachi)", c.TimeZone))
	}
	d := c.Dissemination
	for name, a := range map[string]string{"dissemination.smpp.addr": d.SMPP.Addr, "dissemination.smtp.addr": d.SMTP.Addr} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			errs = append(errs, fmt.Errorf("%s %q: %v", name, a, err))
		}
	}
	if d.SMPP.Addr != "" && d.SMPP.SystemID == "" {
		errs = append(errs, errors.New("dissemination.smpp.system_id: required with an SMPP addr"))
	}
	if d.SMPP.Addr != "" && d.Kannel.URL != "" {
		errs = append(errs, errors.New("dissemination: configure one SMS gateway, smpp or kannel, not both"))
	}
	if d.Kannel.URL != "" {
		if u, err := url.Parse(d.Kannel.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("dissemination.kannel.url %q: want http(s)://host:port/cgi-bin/sendsms", redactURL(d.Kannel.URL)))
		}
	}
	if d.IVR.URL != "" {
		if u, err := url.Parse(d.IVR.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, fmt.Errorf("dissemination.ivr.url %q: want https://host/path, without credentials", redactURL(d.IVR.URL)))
		}
		if d.IVR.TokenFile == "" {
			errs = append(errs, errors.New("dissemination.ivr.token_file: required with an IVR url"))
		}
	}
	if d.SMTP.Addr != "" && d.SMTP.From == "" {
		errs = append(errs, errors.New("dissemination.smtp.from: required with an SMTP addr"))
	}
	for i, n := range d.WebhookAllowNetworks {
		if !validProxy(n) {
			errs = append(errs, fmt.Errorf("dissemination.webhook_allow_networks[%d]: %q is not an IP address or a CIDR prefix", i, n))
		}
	}
	if d.Workers < 0 || d.Workers > 256 || d.MaxAttempts < 0 || d.Lease < 0 || d.SMPP.Rate < 0 || d.Kannel.Rate < 0 || d.SMTP.Rate < 0 || d.WebhookRate < 0 || d.IVR.Rate < 0 {
		errs = append(errs, errors.New("dissemination: workers (0–256), lease, max_attempts and rates must not be negative"))
	}
	return errors.Join(errs...)
}

// Prefixes parses IP addresses and CIDR prefixes (as Validate has checked them): an address is
// a prefix of its full length.
func Prefixes(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
		}
	}
	return out
}

// validProxy reports whether s is an IP address or a CIDR prefix.
func validProxy(s string) bool {
	if _, err := netip.ParsePrefix(s); err == nil {
		return true
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// redactURL hides a password in a URL, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// checkTileURL checks console_tile_url: empty, or an absolute http(s) URL template with {z},
// {x} and {y}.
func checkTileURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("console_tile_url %q: want an http or https URL template such as https://tile.example.org/{z}/{x}/{y}.png", s)
	}
	for _, p := range []string{"{z}", "{x}", "{y}"} {
		if !strings.Contains(s, p) {
			return fmt.Errorf("console_tile_url %q: lacks %s (want a template such as https://tile.example.org/{z}/{x}/{y}.png)", s, p)
		}
	}
	return nil
}
