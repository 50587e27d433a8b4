package node

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/rabta/rabta/internal/audit"
	"github.com/rabta/rabta/internal/federation"
)

// TestFederationRefusesItself: a node is not its own partner. Registering its own id, or its
// own public nkey under another name, is a 400 naming the reason, and so is an agreement whose
// consumer node is the node itself; nothing is registered.
func TestFederationRefusesItself(t *testing.T) {
	dir := t.TempDir()
	n := fedAlertNode(t, "islamabad", dir)
	own, err := FedPublicKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	kp, _ := nkeys.CreateUser()
	other, _ := kp.PublicKey()
	for _, c := range []struct{ body, want string }{
		{`{"node":"islamabad","nkey":"` + own + `"}`, `\"islamabad\" is this node itself`},
		{`{"node":"islamabad","nkey":"` + other + `"}`, `\"islamabad\" is this node itself`},
		{`{"node":"karachi","nkey":"` + own + `"}`, "this node's own public key"},
	} {
		st, b := request(t, n, "POST", "/api/v1/federation/partners", benchKey, c.body)
		if st != 400 || !strings.Contains(b, c.want) {
			t.Errorf("partner %s: %d %s, want 400 naming %q", c.body, st, b, c.want)
		}
	}
	if st, b := request(t, n, "GET", "/api/v1/federation/partners", benchKey, ""); st != 200 || strings.Contains(b, "islamabad") || strings.Contains(b, own) {
		t.Errorf("partners after the refusals: %d %s", st, b)
	}
	// an agreement to the node itself: refused before the partner check (there is none)
	st, b := request(t, n, "POST", "/api/v1/federation/agreements", benchKey, `{"providerOrganisation":"admin","consumerOrganisation":"admin","consumerNode":"islamabad",
		"selection":{"alerts":true},"resolution":"raw","purpose":"x","validFrom":"2025-01-01T00:00:00Z"}`)
	if st != 400 || !strings.Contains(b, `consumerNode: \"islamabad\" is this node itself`) {
		t.Errorf("agreement to itself: %d %s, want 400 naming it", st, b)
	}
	// a real partner is still accepted
	if st, b := request(t, n, "POST", "/api/v1/federation/partners", benchKey, `{"node":"karachi","nkey":"`+other+`"}`); st != 201 {
		t.Errorf("partner karachi: %d %s", st, b)
	}
}

// TestFederationPartnerAddedAgain: a POST of a partner that exists updates it (200, not 201):
// the answer is what is stored — the new key, the url it was not given kept, the original
// created time.
func TestFederationPartnerAddedAgain(t *testing.T) {
	dir := t.TempDir()
	n := fedAlertNode(t, "islamabad", dir)
	key := func() string {
		kp, _ := nkeys.CreateUser()
		pub, _ := kp.PublicKey()
		return pub
	}
	var first, second, listed struct {
		Value []federation.Partner `json:"value"`
		federation.Partner
	}
	st, b := request(t, n, "POST", "/api/v1/federation/partners", benchKey, `{"node":"karachi","nkey":"`+key()+`","url":"nats://127.0.0.1:4222"}`)
	if st != 201 || json.Unmarshal([]byte(b), &first) != nil {
		t.Fatalf("first add: %d %s", st, b)
	}
	k2 := key()
	time.Sleep(10 * time.Millisecond)
	st, b = request(t, n, "POST", "/api/v1/federation/partners", benchKey, `{"node":"karachi","nkey":"`+k2+`"}`)
	if st != 200 || json.Unmarshal([]byte(b), &second) != nil {
		t.Fatalf("second add: %d %s, want 200", st, b)
	}
	if second.NKey != k2 || second.URL != "nats://127.0.0.1:4222" || !second.Created.Equal(first.Created) {
		t.Errorf("second add answered %+v, want the new key, the stored url and created %v", second.Partner, first.Created)
	}
	st, b = request(t, n, "GET", "/api/v1/federation/partners", benchKey, "")
	if st != 200 || json.Unmarshal([]byte(b), &listed) != nil || len(listed.Value) != 1 || listed.Value[0] != second.Partner {
		t.Errorf("partners: %d %s, want what the second add answered", st, b)
	}
	// audited as what it was: an addition, then an update
	st, b = request(t, n, "GET", "/api/v1/audit?limit=50", benchKey, "")
	var log struct{ Entries []audit.Record }
	var kinds []string
	if json.Unmarshal([]byte(b), &log); st == 200 {
		for _, e := range log.Entries {
			if e.Subject == "partner/karachi" {
				kinds = append(kinds, e.Kind)
			}
		}
	}
	if !slices.Equal(kinds, []string{"partner.add", "partner.update"}) {
		t.Errorf("audit of partner/karachi: %v (%d), want partner.add, partner.update", kinds, st)
	}
}

// TestFederationPartnerKeyReplacedClosesSessions: a partner given a new key through the API
// loses its session of the old key at once, and the old key's login is refused.
func TestFederationPartnerKeyReplacedClosesSessions(t *testing.T) {
	n := fedAlertNode(t, "islamabad", t.TempDir())
	old, _ := nkeys.CreateUser()
	oldPub, _ := old.PublicKey()
	if st, b := request(t, n, "POST", "/api/v1/federation/partners", benchKey, `{"node":"karachi","nkey":"`+oldPub+`"}`); st != 201 {
		t.Fatalf("partner: %d %s", st, b)
	}
	closed := make(chan struct{})
	nc, err := nats.Connect(n.NATSURL(), nats.Nkey(oldPub, old.Sign), nats.NoReconnect(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	if st, b := request(t, n, "POST", "/api/v1/federation/partners", benchKey, `{"node":"karachi","nkey":"`+pub+`"}`); st != 200 {
		t.Fatalf("new key: %d %s", st, b)
	}
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		t.Errorf("the old key's session is still open after its key was replaced")
	}
	if c, err := nats.Connect(n.NATSURL(), nats.Nkey(oldPub, old.Sign), nats.NoReconnect()); err == nil {
		c.Close()
		t.Errorf("the old key still logs in")
	}
	if c, err := nats.Connect(n.NATSURL(), nats.Nkey(pub, kp.Sign), nats.NoReconnect()); err != nil {
		t.Errorf("the new key: %v", err)
	} else {
		c.Close()
	}
}
