package node

import (
	"strings"
	"testing"

	"github.com/nats-io/nkeys"
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
