package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/store/sqlq"
)

func fedAlertNode(t *testing.T, id, dir string) *Node {
	t.Helper()
	return fedNodeOn(t, id, dir, "")
}

// fedNodeOn is fedAlertNode on the store dsn names ("": SQLite in dir).
func fedNodeOn(t *testing.T, id, dir, dsn string) *Node {
	t.Helper()
	return fedNodeAt(t, id, dir, dsn, nil)
}

// fedNodeAt is fedNodeOn with the node's clock now (nil: time.Now).
func fedNodeAt(t *testing.T, id, dir, dsn string, now func() time.Time) *Node {
	t.Helper()
	return fedNodeLog(t, id, dir, dsn, now, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// fedNodeLog is fedNodeAt logging to log.
func fedNodeLog(t *testing.T, id, dir, dsn string, now func() time.Time, log *slog.Logger) *Node {
	t.Helper()
	n, err := New(t.Context(), Options{ID: id, DataDir: dir, DB: dsn, HTTPAddr: "127.0.0.1:0", NATSAddr: "127.0.0.1:0", FourEyes: true, Now: now,
		// a one-town gazetteer: seeding the country's (what a first draft or issue loads) costs seconds
		Places: []place.Place{{Key: "geonames:1", Kind: place.Town, Name: "Khanki", Country: "PK", Province: "Punjab", District: "Gujranwala", Lat: 32.4, Lon: 73.97, Population: 1000}, {Key: "district:Gujranwala", Kind: place.District, Name: "Gujranwala", Country: "PK", Province: "Punjab", Lat: 32.16, Lon: 74.19, Population: 1}},
		Sender: id + ".example", AdminKey: benchKey, Registry: prometheus.NewRegistry(), Log: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// fedAlertPair starts islamabad and karachi (fedAlertNode), each the other's partner: karachi
// links to islamabad and holds its certificate (for the alerts it shares). It returns the two
// and karachi's data directory.
func fedAlertPair(t *testing.T) (p, k *Node, kdir string) {
	t.Helper()
	return fedPairOn(t, "", "")
}

// fedPairOn is fedAlertPair with islamabad on the store idsn names and karachi on kdsn's ("":
// SQLite).
func fedPairOn(t *testing.T, idsn, kdsn string) (p, k *Node, kdir string) {
	t.Helper()
	idir := t.TempDir()
	kdir = t.TempDir()
	p = fedNodeOn(t, "islamabad", idir, idsn)
	k = fedNodeOn(t, "karachi", kdir, kdsn)
	partnerNodes(t, p, k, idir, kdir)
	return p, k, kdir
}

// partnerNodes makes islamabad p (data directory idir) and karachi k (kdir) each other's
// partner: karachi links to islamabad and holds its certificate (for the alerts it shares).
func partnerNodes(t *testing.T, p, k *Node, idir, kdir string) {
	t.Helper()
	ctx := context.Background()
	kkey, _ := FedPublicKey(kdir)
	ikey, _ := FedPublicKey(idir)
	pcert, err := os.ReadFile(filepath.Join(idir, "node-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.fed.svc.AddPartner(ctx, &federation.Partner{Node: "karachi", NKey: kkey}); err != nil {
		t.Fatal(err)
	}
	if err := k.fed.svc.AddPartner(ctx, &federation.Partner{Node: "islamabad", NKey: ikey, URL: p.NATSURL(), Cert: string(pcert)}); err != nil {
		t.Fatal(err)
	}
}

// issueOn issues, on node n, a first Alert of organisation org over a triangle at lat, lon,
// as an approver would, and returns its alert id and CAP.
func issueOn(t *testing.T, n *Node, org, name string, lat, lon float64) (int64, *cap.Alert) {
	t.Helper()
	ctx := context.Background()
	now := n.now()
	in := cap.Info{Language: "en", Categories: []cap.Category{"Met"}, Event: "Flood", Urgency: "Immediate", Severity: "Severe", Certainty: "Observed",
		Headline: name + " flood warning", Description: "River above danger level", Instruction: "Move to higher ground.",
		Parameters: []cap.ValuePair{{ValueName: "rabta:rule", Value: name}},
		Areas:      []cap.Area{{AreaDesc: name, Polygons: []cap.Polygon{{{Lat: lat, Lon: lon}, {Lat: lat + 0.1, Lon: lon}, {Lat: lat + 0.1, Lon: lon + 0.1}, {Lat: lat, Lon: lon}}}}}}
	a := &alert.Alert{RuleID: "manual-" + name, Organisation: org, State: alert.Draft, Status: cap.StatusActual, LevelName: "Severe", Created: now, Updated: now,
		DraftBy: org + "/key-1", DraftType: cap.MsgAlert, Draft: &cap.Alert{Status: cap.StatusActual, Scope: cap.ScopePublic, Infos: []cap.Info{in}}}
	id, err := n.alerts.Store.CreateAlert(ctx, a, alert.Transition{To: alert.Draft, By: a.DraftBy, Why: "test", At: now})
	if err != nil {
		t.Fatal(err)
	}
	got, err := n.alerts.Approve(ctx, id, org+"/key-2", "checked")
	if err != nil {
		t.Fatal(err)
	}
	c, err := cap.Unmarshal(got.Last().XML)
	if err != nil {
		t.Fatal(err)
	}
	return id, c
}

// waitFor polls cond every 50 ms for up to 15 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	defer func(s time.Time) { t.Logf("%s: %v", what, time.Since(s)) }(time.Now())
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("waited 15 s for %s", what)
}

// TestFederationAlerts: two nodes on loopback; islamabad shares its organisation pdma's alerts
// over an area around Khanki with karachi's organisation ndma. A shared alert arrives on karachi
// as a draft of ndma with references to the original and its provenance recorded; it is not
// issued until a local approver (four eyes: not the provider node) approves, and then its CAP
// references the original; the provider's Cancel arrives as a Cancel draft. An alert outside
// the area, one of another organisation, and anything under an agreement without alerts do not
// arrive; a message with a bad signature is refused, logged and audited, and changes nothing.
func TestFederationAlerts(t *testing.T) {
	ctx := context.Background()
	p, k, kdir := fedAlertPair(t)
	area, err := federation.ParseArea([]byte(`{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	// pdma, the providing organisation, exists on islamabad with Datastream 1 (what dataOnly names)
	pkey, _, err := auth.Create(ctx, p.stores.Keys, "pdma", auth.Operator, "pdma operator")
	if err != nil {
		t.Fatal(err)
	}
	greq, _ := http.NewRequest("POST", "http://"+p.Addr().String()+"/v1.1/Things", strings.NewReader(benchGauge))
	greq.Header.Set("Authorization", "Bearer "+pkey)
	if resp, err := http.DefaultClient.Do(greq); err != nil || resp.StatusCode != 201 {
		t.Fatalf("pdma's gauge: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	from := p.now().Add(-time.Hour)
	shared := &federation.Agreement{ProviderOrg: "pdma", ConsumerOrg: "ndma", ConsumerNode: "karachi", Selection: federation.Selection{Area: area, Alerts: true},
		Resolution: federation.Raw, Purpose: "flood warning downstream", ValidFrom: from}
	dataOnly := &federation.Agreement{ProviderOrg: "pdma", ConsumerOrg: "ndma", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Purpose: "data only", ValidFrom: from}
	for _, a := range []*federation.Agreement{shared, dataOnly} {
		if err := p.fed.svc.Create(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
	}

	// outside the area, and of another organisation: not shared
	issueOn(t, p, "pdma", "Sukkur", 27.7, 68.8)
	issueOn(t, p, "other", "Sialkot", 32.4, 74.5)
	// inside: shared
	pid, orig := issueOn(t, p, "pdma", "Khanki", 32.35, 73.95)
	thread := fmt.Sprintf("federation:islamabad:%d:%d", shared.ID, pid)
	var local *alert.Alert
	waitFor(t, "the shared alert on karachi", func() bool {
		local, _ = k.alerts.Store.OpenAlert(ctx, thread)
		return local != nil
	})
	if local.State != alert.Draft || local.Organisation != "ndma" || local.DraftBy != "node/islamabad" || len(local.Issued) != 0 ||
		local.Draft.Infos[0].Headline != "Khanki flood warning" || len(local.Draft.Infos[0].Parameters) != 0 ||
		len(local.Draft.References) != 1 || local.Draft.References[0].Identifier != orig.Identifier {
		t.Fatalf("received draft: %+v", local)
	}
	// the alerts-only agreement names its consumer organisation once an alert arrived under it
	// (before, only a value message told it: ndma's keys did not see the agreement)
	waitFor(t, "the alerts-only agreement's consumer organisation on karachi", func() bool {
		rs, err := ReceivedFor(auth.WithPrincipal(ctx, &auth.Principal{Organisation: "ndma", Role: auth.Viewer}), k.stores.Federation)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			if r.Provider == "islamabad" && r.Agreement == shared.ID && r.Alerts > 0 && r.ConsumerOrg == "ndma" {
				return true
			}
		}
		return false
	})
	all, _ := k.alerts.Store.ListAlerts(ctx, alert.Filter{})
	if len(all) != 1 {
		t.Errorf("karachi has %d alerts, want only the one shared (not Sukkur's, not organisation other's)", len(all))
	}
	if msgs, _ := k.alerts.Store.ActiveMessages(ctx, k.now(), true); len(msgs) != 0 {
		t.Fatalf("issued on karachi before a local approval: %+v", msgs)
	}
	// provenance in the API
	req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/api/v1/alerts/%d", k.Addr(), local.ID), nil)
	req.Header.Set("Authorization", "Bearer "+benchKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var view struct {
		Rule   string
		Origin *alert.Origin
		Draft  struct{ By string }
	}
	json.NewDecoder(resp.Body).Decode(&view)
	resp.Body.Close()
	if view.Origin == nil || *view.Origin != (alert.Origin{Node: "islamabad", Agreement: shared.ID, Alert: pid}) || view.Draft.By != "node/islamabad" {
		t.Errorf("the API's view of the shared alert: %+v", view)
	}
	var prov []sqlq.ReceivedAlert
	waitFor(t, "the record of the shared alert on karachi", func() bool {
		prov, err = k.fed.store.ReceivedAlerts(ctx, local.ID)
		return len(prov) > 0
	})
	if err != nil || len(prov) != 1 || prov[0].Provider != "islamabad" || prov[0].Agreement != shared.ID || prov[0].Identifier != orig.Identifier {
		t.Errorf("provenance: %+v %v", prov, err)
	}
	if _, err := k.alerts.Approve(ctx, local.ID, "node/islamabad", "x"); err == nil {
		t.Errorf("approved as the provider node: four eyes should refuse")
	}
	if _, err := k.alerts.Approve(ctx, local.ID, "ndma/key-3", "confirmed with PDMA"); err != nil {
		t.Fatal(err)
	}
	local, _ = k.alerts.Store.GetAlert(ctx, local.ID)
	kcert, err := os.ReadFile(filepath.Join(kdir, "node-cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	kcerts, _ := cap.ParseCertificates(kcert)
	reissued, err := cap.Verify(local.Last().XML, kcerts)
	if err != nil {
		t.Fatal(err)
	}
	if local.State != alert.Issued || reissued.Sender != "karachi.example" || len(reissued.References) != 1 ||
		reissued.References[0] != (cap.Reference{Sender: orig.Sender, Identifier: orig.Identifier, Sent: orig.Sent}) {
		t.Fatalf("issued on karachi: %s %+v", local.State, reissued)
	}

	// the provider cancels: a Cancel draft for a local approver
	if _, err := p.alerts.Cancel(ctx, pid, "pdma/key-2", "water receding"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the Cancel on karachi", func() bool {
		a, _ := k.alerts.Store.GetAlert(ctx, local.ID)
		return a.DraftType == cap.MsgCancel
	})
	if _, err := k.alerts.Approve(ctx, local.ID, "ndma/key-3", "confirmed"); err != nil {
		t.Fatal(err)
	}
	local, _ = k.alerts.Store.GetAlert(ctx, local.ID)
	last, _ := cap.Unmarshal(local.Last().XML)
	if local.State != alert.Cancelled || last.MsgType != cap.MsgCancel || len(last.References) != 3 {
		t.Errorf("cancelled on karachi: %s %s references %+v", local.State, last.MsgType, last.References)
	}

	pa, _ := p.alerts.Store.GetAlert(ctx, pid)
	first := pa.Issued[0]
	// a message whose CAP was altered after signing, on the agreement's own stream: refused
	bad := federation.AlertMessage{Kind: federation.AlertKind, V: 1, Provider: "islamabad", Agreement: shared.ID, ConsumerOrg: "ndma", Alert: 99, Message: 999,
		Identifier: orig.Identifier + "-x", CAP: strings.Replace(string(first.XML), "Khanki flood warning", "Khanki dam burst", 1)}
	bad.CAP = strings.Replace(bad.CAP, orig.Identifier, bad.Identifier, 1)
	b, _ := json.Marshal(bad)
	if err := p.bus.PublishFed(ctx, shared.ID, bad.MsgID(), b); err != nil {
		t.Fatal(err)
	}
	var refused map[string]any
	waitFor(t, "the refusal in karachi's audit log", func() bool {
		recs, _ := k.audit.List(ctx, 1, 0, 10000)
		for _, r := range recs {
			if r.Kind == "import.alert_refused" {
				json.Unmarshal(r.Detail, &refused)
				return true
			}
		}
		return false
	})
	if refused["identifier"] != bad.Identifier || !strings.Contains(refused["reason"].(string), "signature") {
		t.Errorf("refusal recorded: %v", refused)
	}
	if a, _ := k.alerts.Store.OpenAlert(ctx, fmt.Sprintf("federation:islamabad:%d:99", shared.ID)); a != nil {
		t.Errorf("a badly signed alert became %+v", a)
	}
	all, _ = k.alerts.Store.ListAlerts(ctx, alert.Filter{})
	if len(all) != 1 {
		t.Errorf("karachi has %d alerts after the refusal, want 1", len(all))
	}
	// nothing under the data-only agreement; export and import audited
	recs, _ := k.audit.List(ctx, 1, 0, 10000)
	imports := 0
	for _, r := range recs {
		if r.Kind == "import.batch" { // (no values came: an alert is recorded as import.alert only)
			t.Errorf("an import.batch record for alerts alone: %s", r.Detail)
		}
		if r.Kind == "import.alert" {
			imports++
			if r.Subject != fmt.Sprintf("agreement/%d", shared.ID) {
				t.Errorf("an alert imported under %s", r.Subject)
			}
		}
	}
	if imports != 2 {
		t.Errorf("%d import.alert records on karachi, want 2 (the Alert and its Cancel)", imports)
	}
	precs, _ := p.audit.List(ctx, 1, 0, 10000)
	exported := 0
	for _, r := range precs {
		if r.Kind == "export.alerts" {
			var d struct{ Identifiers []string }
			json.Unmarshal(r.Detail, &d)
			exported += len(d.Identifiers)
		}
	}
	if exported != 2 {
		t.Errorf("export.alerts records on islamabad name %d messages, want 2", exported)
	}
}

// TestFederationRetention: karachi keeps what it received under an agreement (values and
// alerts, retention 30 days) for the retention and no longer: a value older than that goes at
// the next purge, a younger one stays — also after a fetch that held a shared alert alone
// (such a fetch once told the purge a retention of 0, and every value went).
func TestFederationRetention(t *testing.T) {
	do := func(t *testing.T, n *Node, method, path, body string) (int, string) {
		t.Helper()
		return request(t, n, method, path, benchKey, body)
	}
	saved := fedPurgeEvery
	fedPurgeEvery = 200 * time.Millisecond
	t.Cleanup(func() { fedPurgeEvery = saved })
	ctx := context.Background()
	p, k, _ := fedAlertPair(t)
	if st, b := do(t, p, "POST", "/v1.1/Things", benchGauge); st != 201 { // Khanki, inside the area
		t.Fatalf("create: %d %s", st, b)
	}
	now := time.Now().UTC()
	old, young := now.Add(-35*24*time.Hour), now.Add(-48*time.Hour)
	for i, at := range []time.Time{old, old.Add(time.Minute), young, young.Add(time.Minute), young.Add(2 * time.Minute)} {
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d}`, at.Format(time.RFC3339), 100+i)
		if st, b := do(t, p, "POST", "/v1.1/Datastreams(1)/Observations", body); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}
	area, err := federation.ParseArea([]byte(`{"type":"Polygon","coordinates":[[[73.5,32.0],[74.8,32.0],[74.8,33.0],[73.5,33.0],[73.5,32.0]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Area: area, Alerts: true},
		Resolution: federation.Raw, Retention: federation.Duration(30 * 24 * time.Hour), Purpose: "flood warning downstream", ValidFrom: now.Add(-40 * 24 * time.Hour)}
	if err := p.fed.svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		_, b := do(t, k, "GET", "/v1.1/Observations?$count=true&$top=0", "")
		var c struct {
			N int `json:"@iot.count"`
		}
		json.Unmarshal([]byte(b), &c)
		return c.N
	}
	// all five arrive; the purge then takes the two older than 30 days
	waitFor(t, "the values on karachi", func() bool { return k.ingest.Accepted.Load() >= 5 })
	waitFor(t, "the purge of the old ones", func() bool { return count() == 3 })
	// a shared alert alone in a fetch, then several purges: the three stay
	pid, _ := issueOn(t, p, "admin", "Khanki", 32.35, 73.95)
	waitFor(t, "the shared alert on karachi", func() bool {
		local, _ := k.alerts.Store.OpenAlert(ctx, fmt.Sprintf("federation:islamabad:%d:%d", a.ID, pid))
		return local != nil
	})
	time.Sleep(10 * fedPurgeEvery)
	if n := count(); n != 3 {
		t.Errorf("karachi holds %d received values after a shared alert and the purges, want 3 (those within the 30 days' retention)", n)
	}
}

// TestFederationRetentionAfterRevoke: what karachi received under an agreement goes when the
// agreement's retention says, also after islamabad revoked it and karachi restarted — when no
// message will tell karachi the retention again (it is saved with what was received). Before,
// the retention lived in the link's memory, as the last message said: after a restart a
// revoked agreement's values were kept for ever.
func TestFederationRetentionAfterRevoke(t *testing.T) {
	saved := fedPurgeEvery
	fedPurgeEvery = 200 * time.Millisecond
	t.Cleanup(func() { fedPurgeEvery = saved })
	ctx := context.Background()
	p, k, kdir := fedAlertPair(t)
	if st, b := request(t, p, "POST", "/v1.1/Things", benchKey, benchGauge); st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	now := time.Now().UTC()
	for i, at := range []time.Time{now.Add(-48 * time.Hour), now.Add(-47 * time.Hour)} {
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d}`, at.Format(time.RFC3339), 100+i)
		if st, b := request(t, p, "POST", "/v1.1/Datastreams(1)/Observations", benchKey, body); st != 201 {
			t.Fatalf("observation: %d %s", st, b)
		}
	}
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "admin", ConsumerNode: "karachi", Selection: federation.Selection{Datastreams: []int64{1}},
		Resolution: federation.Raw, Retention: federation.Duration(30 * 24 * time.Hour), Purpose: "flood warning downstream", ValidFrom: now.Add(-40 * 24 * time.Hour)}
	if err := p.fed.svc.Create(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := p.fed.svc.Approve(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	count := func(n *Node) int {
		_, b := request(t, n, "GET", "/v1.1/Observations?$count=true&$top=0", benchKey, "")
		var c struct {
			N int `json:"@iot.count"`
		}
		json.Unmarshal([]byte(b), &c)
		return c.N
	}
	waitFor(t, "the values on karachi", func() bool { return count(k) == 2 })
	if _, err := p.fed.svc.Revoke(ctx, a.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "karachi to see the agreement ended", func() bool {
		rs, err := k.stores.Federation.Received(ctx)
		return err == nil && len(rs) == 1 && rs[0].State == federation.ReceivedEnded
	})
	time.Sleep(5 * fedPurgeEvery)
	if n := count(k); n != 2 {
		t.Fatalf("karachi holds %d values of the revoked agreement within its retention, want 2", n)
	}
	// karachi again, 31 days on: the two values are past the 30 days' retention
	k.Close()
	k = fedNodeAt(t, "karachi", kdir, "", func() time.Time { return time.Now().Add(31 * 24 * time.Hour) })
	waitFor(t, "the purge of the revoked agreement's values after the restart", func() bool { return count(k) == 0 })
}
