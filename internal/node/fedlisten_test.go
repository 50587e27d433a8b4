package node_test

import (
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

// A node with a partner whose NATS listener is off loopback without TLS refuses to start:
// partners would log in over it in clear.
func TestFederationNeedsTLSOffLoopback(t *testing.T) {
	dir := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "rabta.db"))
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	if err := sqlq.NewFederation(db).AddPartner(t.Context(), &federation.Partner{Node: "karachi", NKey: pub, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	n, err := node.New(t.Context(), node.Options{ID: "prov", DataDir: dir, HTTPAddr: "127.0.0.1:0", NATSAddr: "0.0.0.0:0", AdminKey: adminKey})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(t.Context()); err == nil || !strings.Contains(err.Error(), "federation_tls_cert") || !strings.Contains(err.Error(), "1 partners") {
		t.Errorf("start with a partner on 0.0.0.0 without TLS: %v, want refused naming federation_tls_cert", err)
	}
}
