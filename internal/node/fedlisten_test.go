package node_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/channel/email"
	"github.com/rabta/rabta/internal/channel/ivr"
	"github.com/rabta/rabta/internal/channel/kannel"
	"github.com/rabta/rabta/internal/channel/smpp"
	"github.com/rabta/rabta/internal/channel/webhook"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/node"
	"github.com/rabta/rabta/internal/store/sqlite"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// A node with a partner whose NATS listener is off loopback without TLS is refused, and so is
// one whose signing key file is missing: by New, before anything starts — no bus (its store
// directory is not made), no listener left open on either port, no Start that half ran.
func TestFederationNeedsTLSOffLoopback(t *testing.T) {
	port := func(host string) string {
		l, err := net.Listen("tcp", host+":0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	for _, c := range []struct {
		name    string
		partner bool
		signing string
		want    []string
	}{
		{"partner, no TLS", true, "", []string{"1 partners registered (karachi)", "not on loopback and has no TLS", "federation_tls_cert"}},
		{"no signing key", false, "no-such-key.pem", []string{"signing_key_file", "no-such-key.pem"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			db, err := sqlite.Open(t.Context(), filepath.Join(dir, "rabta.db"))
			if err != nil {
				t.Fatal(err)
			}
			if c.partner {
				kp, _ := nkeys.CreateUser()
				pub, _ := kp.PublicKey()
				if err := sqlq.NewFederation(db).AddPartner(t.Context(), &federation.Partner{Node: "karachi", NKey: pub, Created: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()
			httpAddr, natsAddr := port("127.0.0.1"), port("0.0.0.0")
			opts := node.Options{ID: "prov", DataDir: dir, HTTPAddr: httpAddr, NATSAddr: natsAddr, AdminKey: adminKey}
			if c.signing != "" {
				opts.SigningKeyFile, opts.SigningCertFile = filepath.Join(dir, c.signing), filepath.Join(dir, "cert.pem")
			}
			n, err := node.New(t.Context(), opts)
			if err == nil {
				err = n.Start(t.Context())
				n.Close()
				t.Fatalf("New: no error (then Start: %v); want New refused", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v; want it to say %q", err, w)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "nats")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the bus's store directory: %v; want none made (the bus never opened)", err)
			}
			for _, a := range []string{httpAddr, natsAddr} {
				l, err := net.Listen("tcp", a)
				if err != nil {
					t.Errorf("%s after the refusal: %v; want it free", a, err)
					continue
				}
				l.Close()
			}
		})
	}
}

// A channel setting that its sender refuses (SMS through Kannel or SMPP, e-mail, webhook, IVR)
// is refused by New before any port opens: the bus never opened (its store directory is not
// made) and the HTTP, NATS and MQTT addresses stay free. Settings the senders accept make a
// node.
func TestChannelSettingsCheckedInNew(t *testing.T) {
	port := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	good := node.DisseminationOptions{
		Kannel:  &kannel.Options{URL: "http://127.0.0.1:13013/cgi-bin/sendsms", Username: "rabta"},
		SMTP:    &email.Options{Addr: "127.0.0.1:25", From: "alerts@example.org"},
		IVR:     &ivr.Options{URL: "https://ivr.example.org/calls", Token: "t"},
		Webhook: webhook.Options{Timeout: time.Second},
	}
	for _, c := range []struct {
		name string
		set  func(o *node.DisseminationOptions)
		want string
	}{
		{"kannel", func(o *node.DisseminationOptions) { o.Kannel.URL = "ftp://127.0.0.1/sendsms" }, "kannel: URL: want an http(s) URL"},
		{"smpp", func(o *node.DisseminationOptions) { o.Kannel, o.SMPP = nil, &smpp.Options{Addr: "127.0.0.1:2775"} }, "smpp: no system_id"},
		{"smtp", func(o *node.DisseminationOptions) { o.SMTP.From = "" }, "email: From is required"},
		{"webhook", func(o *node.DisseminationOptions) { o.Webhook.Timeout = -time.Second }, "webhook: Timeout, Rate and Burst must not be negative"},
		{"ivr", func(o *node.DisseminationOptions) { o.IVR.URL = "http://ivr.example.org/calls" }, "ivr: url \"http://ivr.example.org/calls\": http only to a loopback host"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := good
			k, m, v := *good.Kannel, *good.SMTP, *good.IVR
			o.Kannel, o.SMTP, o.IVR = &k, &m, &v
			c.set(&o)
			dir := t.TempDir()
			addrs := []string{port(), port(), port()}
			n, err := node.New(t.Context(), node.Options{ID: "chan", DataDir: dir, HTTPAddr: addrs[0], NATSAddr: addrs[1], MQTTAddr: addrs[2],
				AdminKey: adminKey, Dissemination: o})
			if err == nil {
				n.Close()
				t.Fatalf("New: no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v; want it to say %q", err, c.want)
			}
			if prefix := c.want[:strings.Index(c.want, ":")+1]; strings.Count(err.Error(), prefix) != 1 { // not "kannel: kannel: URL"
				t.Errorf("New: %v; want %q in it once", err, prefix)
			}
			before := err.Error()[:strings.Index(err.Error(), c.want)]
			for _, p := range []string{"kannel", "smpp", "smtp", "email", "webhook", "ivr"} {
				if strings.HasSuffix(before, p+": ") { // not "smtp: email: From is required"
					t.Errorf("New: %v; want no %q before %q", err, p+": ", c.want)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "nats")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the bus's store directory: %v; want none made (the bus never opened)", err)
			}
			for _, a := range addrs {
				l, err := net.Listen("tcp", a)
				if err != nil {
					t.Errorf("%s after the refusal: %v; want it free", a, err)
					continue
				}
				l.Close()
			}
		})
	}
	n, err := node.New(t.Context(), node.Options{ID: "chan", DataDir: t.TempDir(), HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", MQTTAddr: "127.0.0.1:0",
		AdminKey: adminKey, Dissemination: good})
	if err != nil {
		t.Fatalf("New with good channel settings: %v", err)
	}
	n.Close()
}
