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
