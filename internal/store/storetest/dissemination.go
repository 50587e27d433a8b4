package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
)

// RunDissemination runs the dissemination store's conformance tests; open returns a fresh,
// empty store's dissemination and alert stores.
func RunDissemination(t *testing.T, open func(t *testing.T) (dissemination.Store, alert.Store)) {
	for _, tt := range []struct {
		name string
		fn   func(t *testing.T, d dissemination.Store, a alert.Store)
	}{
		{"Subscribers", testSubscribers},
		{"PlanOnce", testPlanOnce},
		{"ClaimIsExclusive", testClaimExclusive},
		{"RecordAndFallback", testRecordFallback},
		{"ExpiredLeaseIsAmbiguous", testLeaseAmbiguous},
		{"Reports", testReports},
		{"SupersedeAndRecipients", testSupersede},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d, a := open(t)
			tt.fn(t, d, a)
		})
	}
}

func sub(org string, chans ...channel.Kind) *dissemination.StoredSubscriber {
	s := &dissemination.StoredSubscriber{Subscriber: dissemination.Subscriber{Org: org, Kind: "person", Language: "ur", Audiences: []string{"public"},
		Place: "village:1", Consent: dissemination.Consent{At: t0, Source: "test"}, Created: t0}, SealedName: []byte("sealed-name")}
	for i, c := range chans {
		s.Contacts = append(s.Contacts, dissemination.StoredContact{Channel: c, Position: i, Sealed: []byte(fmt.Sprintf("sealed-%s-%d", c, i)), Lookup: fmt.Sprintf("lookup-%s-%d-%p", c, i, s)})
	}
	return s
}

func testSubscribers(t *testing.T, d dissemination.Store, _ alert.Store) {
	v0, err := d.TargetsVersion(ctx())
	if err != nil {
		t.Fatal(err)
	}
	a, b := sub("pdma", channel.SMS, channel.Email), sub("ndma", channel.Webhook)
	lat, lon := 31.5, 74.3
	b.Lat, b.Lon, b.RadiusKM, b.Place = &lat, &lon, 5, ""
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{a, b}); err != nil {
		t.Fatal(err)
	}
	if a.ID == 0 || b.ID <= a.ID || a.Contacts[1].ID == 0 {
		t.Fatalf("ids not set: %d %d %+v", a.ID, b.ID, a.Contacts)
	}
	v1, _ := d.TargetsVersion(ctx())
	if v1 == v0 {
		t.Fatal("adding subscribers does not move the version")
	}
	got, err := d.GetSubscriber(ctx(), a.ID)
	if err != nil || got.Org != "pdma" || string(got.SealedName) != "sealed-name" || len(got.Contacts) != 2 || got.Contacts[1].Channel != channel.Email ||
		!got.Consent.At.Equal(t0) || got.Place != "village:1" {
		t.Fatalf("GetSubscriber = %+v, %v", got, err)
	}
	if _, err := d.GetSubscriber(ctx(), 999); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("missing subscriber: %v", err)
	}
	list, err := d.ListSubscribers(ctx(), "ndma", 0, 10)
	if err != nil || len(list) != 1 || list[0].ID != b.ID || *list[0].Lat != lat || list[0].RadiusKM != 5 {
		t.Fatalf("ListSubscribers(ndma) = %+v, %v", list, err)
	}
	if list, _ := d.ListSubscribers(ctx(), "", a.ID, 10); len(list) != 1 || list[0].ID != b.ID {
		t.Fatalf("ListSubscribers after %d = %+v", a.ID, list)
	}
	var targets []dissemination.Target
	if err := d.Targets(ctx(), func(t dissemination.Target) error { targets = append(targets, t); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(targets) != 2 || !slices.Equal(targets[0].Channels, []channel.Kind{channel.SMS, channel.Email}) || targets[1].Lat == nil {
		t.Fatalf("Targets = %+v", targets)
	}
	ids, ver, full, err := d.Changes(ctx(), v0, time.Now().Add(time.Hour), 10)
	if err != nil || full || ver != v1 || !slices.Equal(ids, []int64{a.ID, b.ID}) {
		t.Fatalf("Changes since %d = %v, %d, %v, %v; want [%d %d], %d", v0, ids, ver, full, err, a.ID, b.ID, v1)
	}
	if _, _, full, _ := d.Changes(ctx(), v0, time.Now().Add(time.Hour), 1); !full {
		t.Fatal("more changes than the limit: not full")
	}
	var some []dissemination.Target
	if err := d.TargetsOf(ctx(), []int64{b.ID, 999}, func(t dissemination.Target) error { some = append(some, t); return nil }); err != nil || len(some) != 1 || some[0].ID != b.ID {
		t.Fatalf("TargetsOf = %+v, %v", some, err)
	}
	n, err := d.RemoveContacts(ctx(), a.Contacts[0].Lookup, t0)
	if err != nil || n != 1 {
		t.Fatalf("RemoveContacts = %d, %v", n, err)
	}
	v2, _ := d.TargetsVersion(ctx())
	if v2 == v1 {
		t.Fatal("removing a contact does not move the version")
	}
	if ids, _, _, _ := d.Changes(ctx(), v1, time.Now().Add(time.Hour), 10); !slices.Equal(ids, []int64{a.ID}) {
		t.Fatalf("Changes after removing a's contact = %v", ids)
	}
	if err := d.EraseSubscriber(ctx(), b.ID, "admin", "request by the subscriber", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := d.GetSubscriber(ctx(), b.ID); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("erased subscriber still there: %v", err)
	}
	if err := d.EraseSubscriber(ctx(), b.ID, "admin", "again", t0); apperr.KindOf(err) != apperr.NotFound {
		t.Fatalf("erasing twice: %v", err)
	}
}

// issued makes an alert with one issued message and returns the message.
func issued(t *testing.T, a alert.Store, rule, ident string) alert.Message {
	t.Helper()
	al := newAlert(rule, t0, false)
	id, err := a.CreateAlert(ctx(), al, alert.Transition{To: alert.Draft, By: "rule", At: t0})
	if err != nil {
		t.Fatal(err)
	}
	al.ID = id
	issue(t, a, al, ident, t0, t0.Add(24*time.Hour))
	return alert.Message{AlertID: id, Identifier: ident}
}

func plan(t *testing.T, d dissemination.Store, m alert.Message, ds ...dissemination.Delivery) bool {
	t.Helper()
	ok, err := d.SavePlan(ctx(), dissemination.Plan{Identifier: m.Identifier, AlertID: m.AlertID, MsgType: "Alert", Subscribers: len(ds), Planned: t0}, ds)
	if err != nil {
		t.Fatal(err)
	}
	return ok
}

func testPlanOnce(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	un, err := d.Unplanned(ctx(), 10)
	if err != nil || len(un) != 1 || un[0].Identifier != "m1" || len(un[0].XML) == 0 {
		t.Fatalf("Unplanned = %+v, %v", un, err)
	}
	s := sub("pdma", channel.SMS, channel.Email)
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{s}); err != nil {
		t.Fatal(err)
	}
	ds := []dissemination.Delivery{{SubscriberID: s.ID, Channel: channel.SMS}, {SubscriberID: s.ID, Channel: channel.Email, Position: 1}}
	if !plan(t, d, m, ds...) {
		t.Fatal("first plan not written")
	}
	if plan(t, d, m, ds...) {
		t.Fatal("a message was planned twice")
	}
	// two processes planning one message at the same moment: one plan, no error
	m2 := issued(t, a, "r2", "m2")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 2 {
		wg.Go(func() {
			ok, err := d.SavePlan(ctx(), dissemination.Plan{Identifier: m2.Identifier, AlertID: m2.AlertID, MsgType: "Alert", Planned: t0}, ds)
			if err != nil {
				t.Errorf("concurrent SavePlan: %v", err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d concurrent plans of one message were written, want 1", wins)
	}
	if un, _ := d.Unplanned(ctx(), 10); len(un) != 0 {
		t.Fatalf("planned message still unplanned: %+v", un)
	}
	if err := d.SaveImpact(ctx(), m.AlertID, "", []byte(`{"people":1}`), t0); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveImpact(ctx(), m.AlertID, "", []byte(`{"people":2}`), t0); err != nil {
		t.Fatal(err)
	}
	if err := d.SaveImpact(ctx(), m.AlertID, "m1", []byte(`{"people":3}`), t0); err != nil {
		t.Fatal(err)
	}
	imp, err := d.Impacts(ctx(), m.AlertID)
	if err != nil || string(imp[""]) != `{"people":2}` || string(imp["m1"]) != `{"people":3}` {
		t.Fatalf("Impacts = %q, %v", imp, err)
	}
	counts, err := d.Progress(ctx(), m.AlertID)
	if err != nil || len(counts) != 2 || counts[0].N != 1 || counts[0].State != dissemination.Planned {
		t.Fatalf("Progress = %+v, %v", counts, err)
	}
}

func testClaimExclusive(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	var subs []*dissemination.StoredSubscriber
	for range 60 {
		subs = append(subs, sub("pdma", channel.SMS))
	}
	if err := d.AddSubscribers(ctx(), subs); err != nil {
		t.Fatal(err)
	}
	var ds []dissemination.Delivery
	for _, s := range subs {
		ds = append(ds, dissemination.Delivery{SubscriberID: s.ID, Channel: channel.SMS})
	}
	plan(t, d, m, ds...)
	if cs, err := d.Claim(ctx(), channel.Email, t0, t0.Add(time.Minute), 10); err != nil || len(cs) != 0 {
		t.Fatalf("claimed another channel's deliveries: %d, %v", len(cs), err)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				cs, err := d.Claim(ctx(), channel.SMS, t0, t0.Add(time.Minute), 7)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.ID]++
					if c.Sealed == nil || c.Language != "ur" || c.State != dissemination.Sending || c.Attempts != 1 {
						t.Errorf("claimed %+v", c)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 60 {
		t.Fatalf("claimed %d of 60", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("delivery %d claimed %d times", id, n)
		}
	}
}

func claimOne(t *testing.T, d dissemination.Store, ch channel.Kind, now time.Time) dissemination.Claimed {
	t.Helper()
	cs, err := d.Claim(ctx(), ch, now, now.Add(time.Minute), 1)
	if err != nil || len(cs) != 1 {
		t.Fatalf("Claim = %+v, %v", cs, err)
	}
	return cs[0]
}

func state(t *testing.T, d dissemination.Store, alertID int64) map[string]int64 {
	t.Helper()
	counts, err := d.Progress(ctx(), alertID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, c := range counts {
		out[string(c.Channel)+":"+string(c.State)] += c.N
	}
	return out
}

func testRecordFallback(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	s := sub("pdma", channel.SMS, channel.SMS, channel.Email)
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{s}); err != nil {
		t.Fatal(err)
	}
	plan(t, d, m, dissemination.Delivery{SubscriberID: s.ID, Channel: channel.SMS})
	c := claimOne(t, d, channel.SMS, t0)
	// a transient failure: planned again, not due before its time
	if err := d.Record(ctx(), c.ID, dissemination.Outcome{State: dissemination.Planned, Next: t0.Add(time.Minute), Error: "gateway down", At: t0}); err != nil {
		t.Fatal(err)
	}
	if cs, _ := d.Claim(ctx(), channel.SMS, t0.Add(30*time.Second), t0.Add(2*time.Minute), 1); len(cs) != 0 {
		t.Fatal("a retry was claimed before its time")
	}
	c = claimOne(t, d, channel.SMS, t0.Add(time.Minute))
	if c.Attempts != 2 {
		t.Fatalf("attempts = %d, want 2", c.Attempts)
	}
	// recording twice does nothing the second time (the claim is gone)
	if err := d.Record(ctx(), c.ID, dissemination.Outcome{State: dissemination.Failed, Error: "invalid number", At: t0}); err != nil {
		t.Fatal(err)
	}
	if err := d.Record(ctx(), c.ID, dissemination.Outcome{State: dissemination.Sent, At: t0}); err != nil {
		t.Fatal(err)
	}
	// the fallback is the next contact on a channel not yet planned: e-mail (position 2),
	// not the second SMS number
	got := state(t, d, m.AlertID)
	if got["sms:failed"] != 1 || got["email:planned"] != 1 || len(got) != 2 {
		t.Fatalf("after a permanent failure: %v", got)
	}
	e := claimOne(t, d, channel.Email, t0.Add(time.Minute))
	if e.Position != 2 || !e.Fallback {
		t.Fatalf("fallback delivery = %+v", e)
	}
	if err := d.Record(ctx(), e.ID, dissemination.Outcome{State: dissemination.Failed, Error: "550", At: t0}); err != nil {
		t.Fatal(err)
	}
	if got := state(t, d, m.AlertID); got["email:failed"] != 1 || len(got) != 2 {
		t.Fatalf("no contact left, yet: %v", got)
	}
}

func testLeaseAmbiguous(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	s := sub("pdma", channel.SMS)
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{s}); err != nil {
		t.Fatal(err)
	}
	plan(t, d, m, dissemination.Delivery{SubscriberID: s.ID, Channel: channel.SMS})
	c := claimOne(t, d, channel.SMS, t0)
	if c.Ambiguous {
		t.Fatal("a first claim is not ambiguous")
	}
	if cs, _ := d.Claim(ctx(), channel.SMS, t0.Add(59*time.Second), t0.Add(2*time.Minute), 1); len(cs) != 0 {
		t.Fatal("a held claim was taken")
	}
	// the process died: after the lease another worker takes it, marked ambiguous
	c2 := claimOne(t, d, channel.SMS, t0.Add(61*time.Second))
	if c2.ID != c.ID || !c2.Ambiguous || c2.Attempts != 2 {
		t.Fatalf("reclaimed = %+v", c2)
	}
	if err := d.Record(ctx(), c2.ID, dissemination.Outcome{State: dissemination.Sent, GatewayID: "g1", Parts: 2, At: t0}); err != nil {
		t.Fatal(err)
	}
	counts, _ := d.Progress(ctx(), m.AlertID)
	if len(counts) != 1 || counts[0].Ambiguous != 1 || counts[0].State != dissemination.Sent {
		t.Fatalf("Progress = %+v", counts)
	}
}

func testReports(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	s1, s2 := sub("pdma", channel.SMS), sub("pdma", channel.SMS)
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{s1, s2}); err != nil {
		t.Fatal(err)
	}
	plan(t, d, m, dissemination.Delivery{SubscriberID: s1.ID, Channel: channel.SMS}, dissemination.Delivery{SubscriberID: s2.ID, Channel: channel.SMS})
	c1, c2 := claimOne(t, d, channel.SMS, t0), claimOne(t, d, channel.SMS, t0)
	d.Record(ctx(), c1.ID, dissemination.Outcome{State: dissemination.Queued, At: t0})
	d.Record(ctx(), c2.ID, dissemination.Outcome{State: dissemination.Sent, GatewayID: "smsc-42", At: t0})
	for _, r := range []channel.Report{
		{DeliveryID: c1.ID, Submitted: true, At: t0},               // queued → sent
		{GatewayID: "smsc-42", Delivered: true, Status: "DELIVRD"}, // sent → delivered
		{GatewayID: "smsc-42", Failed: true, Status: "UNDELIV"},    // never backwards from delivered
	} {
		if _, err := d.Report(ctx(), r); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := d.Report(ctx(), channel.Report{GatewayID: "nobody", Delivered: true}); ok || err != nil {
		t.Fatalf("unmatched report: %v, %v", ok, err)
	}
	if got := state(t, d, m.AlertID); got["sms:sent"] != 1 || got["sms:delivered"] != 1 {
		t.Fatalf("after reports: %v", got)
	}
}

func testSupersede(t *testing.T, d dissemination.Store, a alert.Store) {
	m := issued(t, a, "r1", "m1")
	s1, s2 := sub("pdma", channel.SMS), sub("pdma", channel.SMS)
	if err := d.AddSubscribers(ctx(), []*dissemination.StoredSubscriber{s1, s2}); err != nil {
		t.Fatal(err)
	}
	plan(t, d, m, dissemination.Delivery{SubscriberID: s1.ID, Channel: channel.SMS}, dissemination.Delivery{SubscriberID: s2.ID, Channel: channel.SMS})
	c := claimOne(t, d, channel.SMS, t0)
	d.Record(ctx(), c.ID, dissemination.Outcome{State: dissemination.Sent, At: t0})
	rec, err := d.Recipients(ctx(), m.AlertID)
	if err != nil || !slices.Equal(rec, []dissemination.Recipient{{SubscriberID: c.SubscriberID, Channel: channel.SMS}}) {
		t.Fatalf("Recipients = %v, %v", rec, err)
	}
	// the Update supersedes what of m1 was not sent yet
	plan(t, d, alert.Message{AlertID: m.AlertID, Identifier: "m2"}, dissemination.Delivery{SubscriberID: s1.ID, Channel: channel.SMS})
	counts, _ := d.Progress(ctx(), m.AlertID)
	got := map[string]int64{}
	for _, c := range counts {
		got[c.Identifier+":"+string(c.State)] = c.N
	}
	if got["m1:sent"] != 1 || got["m1:superseded"] != 1 || got["m2:planned"] != 1 {
		t.Fatalf("after the update: %v", got)
	}
}
