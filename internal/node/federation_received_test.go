package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/store/storetest"
)

// TestFederationReceived: two nodes on loopback; islamabad shares Datastream 1 with karachi
// under two raw agreements. On karachi, GET /api/v1/federation/received shows both active with
// their terms, values and remote Datastreams, and each remote Datastream's properties say
// active; once islamabad revokes one it is ended (list and properties) while the other stays
// active and goes on receiving; islamabad down, the live one is unknown and the ended one
// stays ended; karachi restarted (islamabad still down) still knows all of it. A viewer of
// another organisation sees none of it. On SQLite and PostgreSQL.
func TestFederationReceived(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"sqlite", "postgres"} {
		t.Run(store, func(t *testing.T) { testFederationReceived(t, store) })
	}
}

func testFederationReceived(t *testing.T, store string) {
	ctx := context.Background()
	var idsn, kdsn string
	if store == "postgres" {
		idsn, kdsn = storetest.PostgresSchema(t), storetest.PostgresSchema(t)
	}
	p, k, kdir := fedPairOn(t, idsn, kdsn)
	do := func(n *Node, method, path, body string) (int, string) {
		t.Helper()
		return request(t, n, method, path, benchKey, body)
	}
	if st, b := do(p, "POST", "/v1.1/Things", benchGauge); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	base := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Second)
	post := func(i int) {
		t.Helper()
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d}`, base.Add(time.Duration(i)*time.Minute).Format(time.RFC3339), 100+i)
		if st, b := do(p, "POST", "/v1.1/Datastreams(1)/Observations", body); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}
	for i := range 3 {
		post(i)
	}
	agree := func(purpose string) int64 {
		t.Helper()
		a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
			Resolution: federation.Raw, Retention: federation.Duration(30 * 24 * time.Hour), Purpose: purpose, ValidFrom: base.Add(-time.Hour)}
		if err := p.fed.svc.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	gone, live := agree("to be revoked"), agree("kept")

	received := func(n *Node, key string) map[int64]federation.Received {
		t.Helper()
		st, b := request(t, n, "GET", "/api/v1/federation/received", key, "")
		if st != 200 {
			t.Fatalf("GET received: %d %s", st, b)
		}
		var page struct{ Value []federation.Received }
		if err := json.Unmarshal([]byte(b), &page); err != nil {
			t.Fatalf("GET received: %v %s", err, b)
		}
		out := map[int64]federation.Received{}
		for _, r := range page.Value {
			if r.Provider != "islamabad" {
				t.Errorf("received from %q: %s", r.Provider, b)
			}
			out[r.Agreement] = r
		}
		return out
	}
	// the state a remote Datastream's properties give
	dsState := func(n *Node, ds int64) string {
		t.Helper()
		_, b := do(n, "GET", fmt.Sprintf("/v1.1/Datastreams(%d)?$select=properties", ds), "")
		var d struct {
			Properties struct {
				Remote struct {
					Node           string `json:"node"`
					Agreement      int64  `json:"agreement"`
					AgreementState string `json:"agreementState"`
					Since          string `json:"agreementStateSince"`
				} `json:"remote"`
			} `json:"properties"`
		}
		json.Unmarshal([]byte(b), &d)
		if r := d.Properties.Remote; r.Node != "islamabad" || r.AgreementState != "" && r.Since == "" {
			t.Errorf("Datastream %d's properties.remote: %s", ds, b)
		}
		return d.Properties.Remote.AgreementState
	}
	is := func(r federation.Received, state federation.ReceivedState, values int64) bool {
		return r.State == state && r.Values == values && len(r.Datastreams) == 1
	}

	waitFor(t, "both agreements active on karachi with the 3 values each", func() bool {
		rs := received(k, benchKey)
		return is(rs[gone], federation.ReceivedActive, 3) && is(rs[live], federation.ReceivedActive, 3)
	})
	rs := received(k, benchKey)
	for _, id := range []int64{gone, live} {
		r := rs[id]
		if r.ConsumerOrg != "admin" || r.Resolution != federation.Raw || r.Retention == nil || r.Retention.String() != "30d" ||
			r.First == nil || r.Last == nil || r.Last.Before(*r.First) || r.StateSince == nil || r.Alerts != 0 || r.Datastreams[0].Provider != 1 {
			b, _ := json.Marshal(r)
			t.Errorf("agreement %d as karachi received it: %s (want consumer admin, raw, 30d, first and last received, 1 Datastream holding islamabad's 1)", id, b)
		}
		if s := dsState(k, r.Datastreams[0].ID); s != "active" {
			t.Errorf("remote Datastream %d (agreement %d): properties.remote.agreementState %q, want active", r.Datastreams[0].ID, id, s)
		}
	}
	goneDS, liveDS := rs[gone].Datastreams[0].ID, rs[live].Datastreams[0].ID
	// what karachi provides is another list: none
	if st, b := do(k, "GET", "/api/v1/federation/agreements", ""); st != 200 || b != "{\"value\":[]}\n" {
		t.Errorf("karachi's own agreements: %d %s", st, b)
	}
	// a viewer of another organisation sees nothing of admin's
	other, _, err := auth.Create(ctx, k.stores.Keys, "sindh", auth.Viewer, "sindh-viewer")
	if err != nil {
		t.Fatal(err)
	}
	if rs := received(k, other); len(rs) != 0 {
		t.Errorf("sindh's viewer sees %d received agreements, want none", len(rs))
	}

	// islamabad revokes one: ended, in the list and in its remote Datastream; the other goes on
	if _, err := p.fed.svc.Revoke(ctx, gone); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the revoked agreement ended on karachi", func() bool {
		return received(k, benchKey)[gone].State == federation.ReceivedEnded && dsState(k, goneDS) == "ended"
	})
	post(3)
	waitFor(t, "the new value under the live agreement", func() bool { return received(k, benchKey)[live].Values == 4 })
	rs = received(k, benchKey)
	if !is(rs[gone], federation.ReceivedEnded, 3) || !is(rs[live], federation.ReceivedActive, 4) {
		t.Errorf("after the revocation and a new value: %+v", rs)
	}
	if s := dsState(k, liveDS); s != "active" {
		t.Errorf("the live agreement's remote Datastream: %q, want active", s)
	}
	// a SensorThings client finds the remote Datastreams whose agreement ended (docs/federation.md)
	_, b := do(k, "GET", "/v1.1/Datastreams?$select=id&$filter="+url.QueryEscape("properties/remote/agreementState eq 'ended'"), "")
	var ended struct {
		Value []struct {
			ID int64 `json:"@iot.id"`
		} `json:"value"`
	}
	if err := json.Unmarshal([]byte(b), &ended); err != nil || len(ended.Value) != 1 || ended.Value[0].ID != goneDS {
		t.Errorf("the Datastreams whose agreement ended: %s, want Datastream %d alone", b, goneDS)
	}

	// islamabad down: the live one unknown, the ended one stays ended
	p.Close()
	waitFor(t, "the live agreement unknown with islamabad down", func() bool {
		return received(k, benchKey)[live].State == federation.ReceivedUnknown && dsState(k, liveDS) == "unknown"
	})
	if r := received(k, benchKey)[gone]; r.State != federation.ReceivedEnded || dsState(k, goneDS) != "ended" {
		t.Errorf("the revoked agreement with islamabad down: %s (want ended)", r.State)
	}

	// karachi restarted, islamabad still down: what it knew is still there
	k.Close()
	k = fedNodeOn(t, "karachi", kdir, kdsn)
	time.Sleep(1500 * time.Millisecond) // its link has tried islamabad
	rs = received(k, benchKey)
	if !is(rs[gone], federation.ReceivedEnded, 3) || !is(rs[live], federation.ReceivedUnknown, 4) || rs[live].Last == nil {
		t.Errorf("after karachi's restart: %+v (want %d ended with 3 values, %d unknown with 4)", rs, gone, live)
	}
	if a, b := dsState(k, goneDS), dsState(k, liveDS); a != "ended" || b != "unknown" {
		t.Errorf("the remote Datastreams after karachi's restart: %q and %q, want ended and unknown", a, b)
	}
}

// TestFederationReceivedLoginRefused: islamabad revokes karachi's agreement and at once
// removes karachi as a partner (docs/federation.md, "Setting up two nodes", step 5). Karachi,
// its login refused from then on and unable to ask, shows the agreement ended (before, it
// stayed unknown for good: the revocation closed its session before it could ask again) and
// says once why.
func TestFederationReceivedLoginRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, k, logs, _ := receivingPair(t)
	a := approveRaw(t, p, "admin", "to be revoked")
	state := func() federation.ReceivedState { return receivedState(t, k, a.ID) }
	waitFor(t, "the agreement active on karachi", func() bool { return state() == federation.ReceivedActive })
	if _, err := p.fed.svc.Revoke(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	if err := p.fed.svc.RemovePartner(ctx, "karachi"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the agreement ended on karachi", func() bool { return state() == federation.ReceivedEnded })
	waitFor(t, "karachi saying its login is refused", func() bool { return strings.Contains(logs.String(), "federation_login_refused") })
}

// TestFederationConsumerOrganisationUnknown: values received for an organisation the
// receiving node has no key or data of are stored (readable by the node-wide admin alone), and
// the node says so, naming the organisation and how to give it a key — once per remote
// Datastream, and not for an organisation it knows. The two agreements share one station:
// their remote Datastreams are named apart (the second says its agreement).
func TestFederationConsumerOrganisationUnknown(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, k, logs, _ := receivingPair(t)
	approveRaw(t, p, "nowhere", "to nowhere")
	approveRaw(t, p, "admin", "to admin")
	for i := range 3 {
		if st, b := request(t, p, "POST", "/v1.1/Datastreams(1)/Observations", benchKey,
			fmt.Sprintf(`{"phenomenonTime":"%s","result":%d}`, time.Now().Add(time.Duration(i-10)*time.Minute).UTC().Format(time.RFC3339), i)); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}
	waitFor(t, "karachi storing both agreements' values", func() bool {
		rs, err := k.stores.Federation.Received(ctx)
		if err != nil {
			t.Fatal(err)
		}
		stored := 0
		for _, r := range rs {
			if r.Values >= 3 {
				stored++
			}
		}
		return stored == 2
	})
	// the two agreements share one station: their remote Datastreams can be told apart by name
	rs, err := k.stores.Federation.Received(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rs {
		for _, d := range r.Datastreams {
			names = append(names, d.Name)
		}
	}
	slices.Sort(names)
	if len(names) != 2 || names[0] == names[1] || !strings.HasPrefix(names[1], names[0]+" (agreement ") {
		t.Errorf("remote Datastreams of two agreements on one station: %q, want two names, the second saying its agreement", names)
	}
	var lines []string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "federation_consumer_organisation_unknown") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "organisation=nowhere") || !strings.Contains(lines[0], "rabta keys create --org nowhere") {
		t.Errorf("federation_consumer_organisation_unknown lines: %q, want one naming nowhere", lines)
	}
}

// TestFederationWrongURLEndsNothing: the operator of karachi gives islamabad's partner entry a
// wrong url — one that reaches karachi's own NATS, which refuses the login. That is not the
// provider refusing: the agreements are unknown (the provider not reached, as when a link is
// down), not ended, and karachi says the url reaches another server, naming it.
func TestFederationWrongURLEndsNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p, k, logs, idir := receivingPair(t)
	a := approveRaw(t, p, "admin", "flood warning")
	state := func() federation.ReceivedState { return receivedState(t, k, a.ID) }
	waitFor(t, "the agreement active on karachi", func() bool { return state() == federation.ReceivedActive })
	// revoking it on karachi: not karachi's to revoke, and the answer says whose it is
	if st, b := request(t, k, "POST", fmt.Sprintf("/api/v1/federation/agreements/%d/revoke", a.ID), benchKey, ""); st != 404 ||
		!strings.Contains(b, "receives from islamabad") || !strings.Contains(b, "only its provider can revoke it") {
		t.Errorf("revoking a received agreement on the receiving node: %d %s, want 404 naming its provider", st, b)
	}
	if st, b := request(t, k, "POST", "/api/v1/federation/agreements/999/approve", benchKey, ""); st != 404 || !strings.Contains(b, "agreement 999 does not exist") {
		t.Errorf("approving an agreement no one has: %d %s", st, b)
	}
	ikey, _ := FedPublicKey(idir)
	if _, err := k.fed.svc.SavePartner(ctx, &federation.Partner{Node: "islamabad", NKey: ikey, URL: k.NATSURL()}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "karachi saying the url reaches another server", func() bool {
		return strings.Contains(logs.String(), "federation_link_wrong_server") && strings.Contains(logs.String(), "server=rabta-karachi")
	})
	time.Sleep(1500 * time.Millisecond)                  // a round of the link after the refusal
	if st := state(); st != federation.ReceivedUnknown { // the provider not reached, as when the link is down; never ended
		t.Errorf("the agreement on karachi after a wrong url: %s, want unknown", st)
	}
	if strings.Contains(logs.String(), "federation_login_refused") {
		t.Errorf("karachi said the provider refused it; the url reached karachi's own server")
	}
}

// receivingPair starts islamabad (with a gauge, Datastream 1) and karachi (its log kept, and
// shown when the test fails), each the other's partner, and returns them, karachi's log and
// islamabad's data directory.
func receivingPair(t *testing.T) (p, k *Node, logs *logBuf, idir string) {
	t.Helper()
	logs = &logBuf{}
	idir, kdir := t.TempDir(), t.TempDir()
	p = fedNodeOn(t, "islamabad", idir, "")
	k = fedNodeLog(t, "karachi", kdir, "", nil, slog.New(slog.NewTextHandler(logs, nil)))
	partnerNodes(t, p, k, idir, kdir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("karachi's log:\n%s", logs.String())
		}
	})
	if st, b := request(t, p, "POST", "/v1.1/Things", benchKey, benchGauge); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	return p, k, logs, idir
}

// approveRaw makes and approves, on p, a raw agreement sharing Datastream 1 with karachi's
// organisation org, valid from an hour ago.
func approveRaw(t *testing.T, p *Node, org, purpose string) *federation.Agreement {
	t.Helper()
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: org, ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: purpose, ValidFrom: time.Now().Add(-time.Hour)}
	if err := p.fed.svc.Create(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(context.Background(), a.ID); err != nil {
		t.Fatal(err)
	}
	return a
}

// receivedState is k's state of islamabad's agreement id ("" when k knows none).
func receivedState(t *testing.T, k *Node, id int64) federation.ReceivedState {
	t.Helper()
	rs, err := k.stores.Federation.Received(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if r.Provider == "islamabad" && r.Agreement == id {
			return r.State
		}
	}
	return ""
}

// logBuf is a log's text, written and read from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *logBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *logBuf) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A node whose certificate names another node (made by a command run before the node had its
// id) says so once, with the subject it has and the one expected — and the node's id only
// once, the logger's (it was given twice, as two "node" keys).
func TestNodeCertificateNamesAnotherNode(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fedNodeOn(t, "local", dir, "").Close()
	logs := &logBuf{}
	fedNodeLog(t, "quetta", dir, "", nil, slog.New(slog.NewTextHandler(logs, nil)).With("node", "quetta"))
	var line string
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, "node_certificate_names_another_node") {
			line = l
		}
	}
	if line == "" || strings.Count(line, " node=") != 1 || !strings.Contains(line, `subject="rabta node local"`) || !strings.Contains(line, `expected="rabta node quetta"`) {
		t.Errorf("node_certificate_names_another_node: %q", line)
	}
}
