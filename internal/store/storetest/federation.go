package storetest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// RunFederation runs the federation store's conformance test on a fresh engine: agreements come
// back as written and change state only from the state named (Conflict otherwise), expire
// after validUntil; a partner's nkey is its own; a selection picks only the providing
// organisation's Datastreams (by id, by Thing, narrowed by ObservedProperty) with their
// Thing's location; the exporter reads Observations after its cursor from validFrom on, in
// id order; remote Datastreams are recorded, found and purged by retention.
func RunFederation(t *testing.T, open Open) {
	eng, setNow := open(t)
	s := Stores{Entities: sqlq.NewEntities(eng, nil), Auth: sqlq.NewAuth(eng), SetNow: setNow}
	seed(t, s)
	f := sqlq.NewFederation(eng)
	from := time.Date(2025, 8, 26, 0, 0, 0, 0, time.UTC)
	until := from.Add(48 * time.Hour)
	a := &federation.Agreement{ProviderOrg: "admin", ConsumerOrg: "ndma", ConsumerNode: "karachi",
		Selection: federation.Selection{Datastreams: []int64{1}, ObservedProperties: []int64{1}}, Resolution: federation.HourlyMean,
		Embargo: federation.Duration(time.Hour), Purpose: "flood warning", ValidFrom: from, ValidUntil: &until,
		Retention: federation.Duration(30 * 24 * time.Hour), State: federation.Proposed, CreatedBy: "admin/key-1", CreatedAt: from}
	if err := f.CreateAgreement(ctx(), a); err != nil || a.ID == 0 {
		t.Fatalf("create agreement: id %d, %v", a.ID, err)
	}
	got, err := f.Agreement(ctx(), a.ID)
	if err != nil || got.ConsumerNode != "karachi" || got.Resolution != federation.HourlyMean || time.Duration(got.Embargo) != time.Hour ||
		!got.ValidFrom.Equal(from) || got.ValidUntil == nil || !got.ValidUntil.Equal(until) || len(got.Selection.Datastreams) != 1 ||
		got.Selection.ObservedProperties[0] != 1 || got.State != federation.Proposed || time.Duration(got.Retention) != 30*24*time.Hour {
		t.Errorf("agreement back: %+v %v", got, err)
	}
	if _, err := f.Agreement(ctx(), 99); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("agreement 99: %v, want NotFound", err)
	}
	if err := f.SetState(ctx(), a.ID, federation.Proposed, federation.Approved, "admin/key-2", from); err != nil {
		t.Fatal(err)
	}
	if err := f.SetState(ctx(), a.ID, federation.Proposed, federation.Approved, "admin/key-2", from); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("approving twice: %v, want Conflict", err)
	}
	if got, _ := f.Agreement(ctx(), a.ID); got.State != federation.Approved || got.ApprovedBy != "admin/key-2" || got.ApprovedAt == nil {
		t.Errorf("approved: %+v", got)
	}
	if ids, err := f.Expire(ctx(), until.Add(-time.Second)); err != nil || len(ids) != 0 {
		t.Errorf("expire before validUntil: %v %v", ids, err)
	}
	if ids, err := f.Expire(ctx(), until); err != nil || len(ids) != 1 || ids[0] != a.ID {
		t.Errorf("expire at validUntil: %v %v", ids, err)
	}
	if all, err := f.Agreements(ctx()); err != nil || len(all) != 1 || all[0].State != federation.Expired {
		t.Errorf("agreements: %+v %v", all, err)
	}

	// partners
	k1, k2 := "U"+repeat("A", 55), "U"+repeat("B", 55)
	if err := f.AddPartner(ctx(), &federation.Partner{Node: "karachi", NKey: k1, Created: from}); err != nil {
		t.Fatal(err)
	}
	if err := f.AddPartner(ctx(), &federation.Partner{Node: "beijing", NKey: k1, Created: from}); apperr.KindOf(err) != apperr.Conflict {
		t.Errorf("another partner with karachi's nkey: %v, want Conflict", err)
	}
	if err := f.AddPartner(ctx(), &federation.Partner{Node: "karachi", NKey: k2, URL: "nats://127.0.0.1:4222", Created: from}); err != nil {
		t.Errorf("a new key for karachi: %v", err)
	}
	if n, err := f.PartnerByNKey(ctx(), k2); err != nil || n != "karachi" {
		t.Errorf("partner by key: %q %v", n, err)
	}
	if n, err := f.PartnerByNKey(ctx(), k1); err != nil || n != "" {
		t.Errorf("partner by its old key: %q %v, want none", n, err)
	}
	if ps, err := f.Partners(ctx()); err != nil || len(ps) != 1 || ps[0].URL != "nats://127.0.0.1:4222" {
		t.Errorf("partners: %+v %v", ps, err)
	}
	// a partner's CA is kept; removing a partner is refused while an agreement with it is open
	if err := f.AddPartner(ctx(), &federation.Partner{Node: "karachi", NKey: k2, URL: "tls://karachi.example.org:4222", CA: "-----BEGIN CERTIFICATE-----", Created: from}); err != nil {
		t.Fatal(err)
	}
	if ps, _ := f.Partners(ctx()); len(ps) != 1 || ps[0].CA != "-----BEGIN CERTIFICATE-----" || ps[0].URL != "tls://karachi.example.org:4222" {
		t.Errorf("partner with a CA: %+v", ps)
	}
	if err := f.RemovePartner(ctx(), "nowhere"); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("removing no partner: %v, want NotFound", err)
	}
	if err := f.AddPartner(ctx(), &federation.Partner{Node: "beijing", NKey: k1, Created: from}); err != nil {
		t.Fatal(err)
	}
	b := *a
	b.ID, b.ConsumerNode, b.State = 0, "beijing", federation.Proposed
	if err := f.CreateAgreement(ctx(), &b); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePartner(ctx(), "beijing"); apperr.KindOf(err) != apperr.Conflict || !strings.Contains(err.Error(), fmt.Sprint(b.ID)) {
		t.Errorf("removing a partner with a proposed agreement: %v, want Conflict naming agreement %d", err, b.ID)
	}
	if n, _ := f.PartnerByNKey(ctx(), k1); n != "beijing" {
		t.Errorf("beijing after a refused removal: %q", n)
	}
	if err := f.SetState(ctx(), b.ID, federation.Proposed, federation.Revoked, "admin/key-2", from); err != nil {
		t.Fatal(err)
	}
	if err := f.RemovePartner(ctx(), "beijing"); err != nil {
		t.Errorf("removing a partner whose agreements are revoked: %v", err)
	}
	if n, _ := f.PartnerByNKey(ctx(), k1); n != "" {
		t.Errorf("beijing after its removal: %q", n)
	}

	// selection: the providing organisation's only; by Thing, narrowed by ObservedProperty
	sel, err := f.Selected(ctx(), "admin", federation.Selection{Things: []int64{1, 2}, ObservedProperties: []int64{1}})
	if err != nil || len(sel) != 1 || sel[1].Name != "Discharge at Khanki" || sel[1].Thing != "Khanki" || len(sel[1].Location) == 0 || sel[1].ObservedProperty != "Discharge" {
		t.Errorf("selected: %+v %v", sel, err)
	}
	if sel, err := f.Selected(ctx(), "ndma", federation.Selection{Datastreams: []int64{1, 2}}); err != nil || len(sel) != 0 {
		t.Errorf("another organisation's selection of Datastreams 1 and 2: %+v %v, want none", sel, err)
	}
	// the exporter's reads: after the cursor, from validFrom, in id order
	rows, err := f.RawSince(ctx(), []int64{1}, 0, from, 2)
	if err != nil || len(rows) != 2 || rows[0].ID != 2 || rows[1].ID != 3 || rows[1].Result != 1001480 || rows[0].PhenText != "2025-08-26T12:00:00+05:00" {
		t.Errorf("raw since 0: %+v %v", rows, err)
	}
	if rows, _ := f.RawSince(ctx(), []int64{1, 2}, 3, from, 10); len(rows) != 3 || rows[0].ID != 4 || rows[2].Datastream != 2 {
		t.Errorf("raw since 3: %+v", rows)
	}
	vals, err := f.Values(ctx(), []int64{2}, from, from.Add(24*time.Hour))
	if err != nil || len(vals) != 1 || vals[0].Result != 400000 {
		t.Errorf("values: %+v %v", vals, err)
	}
	if first, ok, err := f.FirstValue(ctx(), []int64{2}, from.Add(13*time.Hour)); err != nil || !ok || !first.Equal(time.Date(2025, 8, 27, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("first value: %v %v %v", first, ok, err)
	}
	if _, ok, _ := f.FirstValue(ctx(), []int64{2}, until); ok {
		t.Errorf("first value after the last: found one")
	}
	if err := f.SetCursor(ctx(), a.ID, 42); err != nil {
		t.Fatal(err)
	}
	if c, err := f.Cursor(ctx(), a.ID); err != nil || c != 42 {
		t.Errorf("cursor: %d %v", c, err)
	}
	// the exporter's pass: an id range (whatever the phenomenon time), in id order; where a new
	// agreement starts; the cursors of all agreements at once
	if last, err := f.LastObservation(ctx()); err != nil || last != 6 {
		t.Errorf("last observation: %d %v, want 6", last, err)
	}
	if rows, err := f.RawRange(ctx(), []int64{1, 2}, 1, 5, 10); err != nil || len(rows) != 4 || rows[0].ID != 2 || rows[3].ID != 5 ||
		rows[3].Datastream != 2 || rows[1].Result != 1001480 || !rows[0].Start.Equal(time.Date(2025, 8, 26, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("raw range (1, 5]: %+v %v", rows, err)
	}
	if rows, _ := f.RawRange(ctx(), []int64{2}, 0, 6, 1); len(rows) != 1 || rows[0].ID != 5 {
		t.Errorf("raw range of Datastream 2, limit 1: %+v", rows)
	}
	if rows, _ := f.RawRange(ctx(), []int64{1}, 4, 6, 10); len(rows) != 0 {
		t.Errorf("raw range of Datastream 1 after 4: %+v, want none", rows)
	}
	if id, ok, err := f.FirstSince(ctx(), []int64{1}, from); err != nil || !ok || id != 2 {
		t.Errorf("first since validFrom: %d %v %v, want 2", id, ok, err)
	}
	if _, ok, _ := f.FirstSince(ctx(), []int64{1, 2}, until.Add(24*time.Hour)); ok {
		t.Errorf("first since the end: found one")
	}
	if err := f.SetCursors(ctx(), map[int64]int64{a.ID: 7}); err != nil {
		t.Fatal(err)
	}
	if cs, err := f.Cursors(ctx()); err != nil || cs[a.ID] != 7 { // (the alert agreement made above has its own)
		t.Errorf("cursors: %v %v", cs, err)
	}
	if fp, err := f.DatastreamsPrint(ctx()); err != nil || fp[0] != 2 || fp[1] != 2 || fp[2] != 3 || fp[3] < 2 {
		t.Errorf("datastreams print: %v %v", fp, err)
	}

	// remote Datastreams (Datastream 2 stands for one received)
	if id, err := f.Remote(ctx(), "islamabad", 1, 7); err != nil || id != 0 {
		t.Errorf("remote before: %d %v", id, err)
	}
	if r, err := f.IsRemote(ctx(), 2); err != nil || r { // answered "no", and kept a moment
		t.Errorf("IsRemote(2) before SaveRemote: %v %v", r, err)
	}
	if err := f.SaveRemote(ctx(), "islamabad", 1, 7, 2); err != nil {
		t.Fatal(err)
	}
	if id, _ := f.Remote(ctx(), "islamabad", 1, 7); id != 2 {
		t.Errorf("remote: %d, want 2", id)
	}
	for ds, want := range map[int64]bool{1: false, 2: true} {
		if r, err := f.IsRemote(ctx(), ds); err != nil || r != want {
			t.Errorf("IsRemote(%d): %v %v", ds, r, err)
		}
	}
	if n, err := f.PurgeRemote(ctx(), "islamabad", 1, time.Date(2025, 8, 27, 0, 0, 0, 0, time.UTC)); err != nil || n != 1 {
		t.Errorf("purge: %d %v, want 1 (the observation of 26 August)", n, err)
	}
	q, _ := s.Entities.List(ctx(), query(t, sensing.Observations, nil, ""))
	if len(q.Entities) != 5 {
		t.Errorf("observations after purge: %d, want 5", len(q.Entities))
	}
	federationArea(t, s, f)
	federationAlerts(t, sqlq.NewAlerts(eng), f, a.ID)
	federationCatalogue(t, eng, f)
}

// federationCatalogue: what an agreement names is looked up — each id's organisation, or none
// when it does not exist; an organisation exists by its keys or what it owns.
func federationCatalogue(t *testing.T, eng sqlq.Engine, f *sqlq.Federation) {
	SeedDatastreams(t, eng, "wapda", 901, 902)
	got, err := f.Owners(ctx(), "datastreams", []int64{1, 901, 902, 99999})
	if err != nil || len(got) != 3 || got[1] != "admin" || got[901] != "wapda" || got[902] != "wapda" {
		t.Errorf("owners of Datastreams 1, 901, 902, 99999: %v %v; want admin, wapda, wapda and none", got, err)
	}
	for _, kind := range []string{"things", "observedProperties"} {
		if got, err := f.Owners(ctx(), kind, []int64{1, 99999}); err != nil || len(got) != 1 || got[1] == "" {
			t.Errorf("owners of %s 1, 99999: %v %v; want 1's only", kind, got, err)
		}
	}
	if _, err := f.Owners(ctx(), "sensors", []int64{1}); err == nil {
		t.Error("owners of sensors: no error; want one (not a kind an agreement names)")
	}
	for org, want := range map[string]bool{"admin": true, "wapda": true, "nobody": false} {
		if got, err := f.Organisation(ctx(), org); err != nil || got != want {
			t.Errorf("organisation %s: %v %v; want %v", org, got, err, want)
		}
	}
}

// federationAlerts: the alert exporter reads an organisation's public issued messages after its
// cursor in order; the receiver records each received message once, with its local alert.
func federationAlerts(t *testing.T, as *sqlq.Alerts, f *sqlq.Federation, agreement int64) {
	t.Helper()
	at := time.Date(2025, 8, 27, 8, 0, 0, 0, time.UTC)
	mk := func(org string, operational bool, n int) int64 {
		a := &alert.Alert{RuleID: fmt.Sprintf("r-%s-%v", org, operational), Organisation: org, State: alert.Draft, Status: cap.StatusActual,
			Operational: operational, Created: at, Updated: at}
		id, err := as.CreateAlert(ctx(), a, alert.Transition{To: alert.Draft, By: "t", At: at})
		if err != nil {
			t.Fatal(err)
		}
		a.ID, a.State = id, alert.Issued
		for i := 1; i <= n; i++ {
			m := &alert.Message{AlertID: id, Identifier: fmt.Sprintf("%s-%v-%d", org, operational, i), Sender: "s", Sent: at.Add(time.Duration(i) * time.Minute),
				Expires: at.Add(time.Hour), MsgType: cap.MsgAlert, Status: cap.StatusActual, Operational: operational, XML: []byte("<alert/>")}
			if err := as.SaveAlert(ctx(), a, alert.Transition{AlertID: id, From: alert.Draft, To: alert.Issued, By: "t", At: at}, m); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	pdma := mk("pdma", false, 2)
	mk("pdma", true, 1)
	mk("ndma", false, 1)
	got, err := f.AlertsSince(ctx(), "pdma", 0, 10)
	if err != nil || len(got) != 2 || got[0].Identifier != "pdma-false-1" || got[1].Identifier != "pdma-false-2" || got[0].Alert != pdma ||
		!got[1].Sent.Equal(at.Add(2*time.Minute)) || string(got[0].XML) != "<alert/>" {
		t.Fatalf("alerts since 0: %+v %v", got, err)
	}
	if more, _ := f.AlertsSince(ctx(), "pdma", got[0].ID, 10); len(more) != 1 || more[0].Identifier != "pdma-false-2" {
		t.Errorf("alerts since the first: %+v", more)
	}
	if c, err := f.AlertCursor(ctx(), agreement); err != nil || c != 0 {
		t.Errorf("alert cursor: %d %v", c, err)
	}
	if err := f.SetAlertCursor(ctx(), agreement, got[1].ID); err != nil {
		t.Fatal(err)
	}
	if c, _ := f.AlertCursor(ctx(), agreement); c != got[1].ID {
		t.Errorf("alert cursor: %d, want %d", c, got[1].ID)
	}
	// received
	r := sqlq.ReceivedAlert{Provider: "islamabad", Agreement: 4, Identifier: "rabta-islamabad-5-1", ProviderAlert: 5, Sender: "s", Sent: at, Alert: pdma, Received: at}
	if ok, err := f.AlertReceived(ctx(), "islamabad", 4, r.Identifier); err != nil || ok {
		t.Errorf("received before: %v %v", ok, err)
	}
	for range 2 {
		if err := f.SaveReceivedAlert(ctx(), r); err != nil {
			t.Fatal(err)
		}
	}
	none := r
	none.Identifier, none.Alert = "rabta-islamabad-6-1", 0
	if err := f.SaveReceivedAlert(ctx(), none); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.AlertReceived(ctx(), "islamabad", 4, r.Identifier); err != nil || !ok {
		t.Errorf("received after: %v %v", ok, err)
	}
	if ok, _ := f.AlertReceived(ctx(), "islamabad", 5, r.Identifier); ok {
		t.Errorf("received under another agreement")
	}
	if rs, err := f.ReceivedAlerts(ctx(), pdma); err != nil || len(rs) != 1 || rs[0] != r {
		t.Errorf("received for alert %d: %+v %v", pdma, rs, err)
	}
}

// federationArea: selection.area picks the providing organisation's Datastreams whose Thing
// lies inside, evaluated at each call (a station added later inside is picked), narrowed by
// ObservedProperty, together with those selected by id.
func federationArea(t *testing.T, s Stores, f *sqlq.Federation) {
	t.Helper()
	area, err := federation.ParseArea([]byte(`{"type":"Polygon","coordinates":[[[73.5,32.3],[74.1,32.3],[74.1,32.5],[73.5,32.5],[73.5,32.3]]]}`))
	if err != nil {
		t.Fatal(err)
	}
	ids := func(sel map[int64]federation.RemoteSource) []int64 {
		out := []int64{}
		for id := 1; id <= 10; id++ {
			if _, ok := sel[int64(id)]; ok {
				out = append(out, int64(id))
			}
		}
		return out
	}
	check := func(what string, org string, sel federation.Selection, want string) {
		t.Helper()
		got, err := f.Selected(ctx(), org, sel)
		if err != nil || fmt.Sprint(ids(got)) != want {
			t.Errorf("%s: %v %v, want %s", what, ids(got), err, want)
		}
	}
	check("area around Khanki", "admin", federation.Selection{Area: area}, "[1]")
	no := false
	check("area, alerts only", "admin", federation.Selection{Area: area, Alerts: true, Observations: &no}, "[]")
	check("Datastream 1, no Observations", "admin", federation.Selection{Datastreams: []int64{1}, Alerts: true, Observations: &no}, "[]")
	check("area and Datastream 2 by id", "admin", federation.Selection{Area: area, Datastreams: []int64{2}}, "[1 2]")
	check("area, another ObservedProperty", "admin", federation.Selection{Area: area, ObservedProperties: []int64{99}}, "[]")
	check("area, another organisation", "ndma", federation.Selection{Area: area}, "[]")
	// a station added inside the area after the agreement is picked from then on
	qadirabad := strings.NewReplacer("Khanki", "Qadirabad", "73.9744", "73.6900", "32.4028", "32.3200").Replace(gauge)
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, qadirabad)); err != nil {
		t.Fatal(err)
	}
	check("area after Qadirabad was added", "admin", federation.Selection{Area: area}, "[1 3]")
	if got, _ := f.Selected(ctx(), "admin", federation.Selection{Area: area}); got[3].Thing != "Qadirabad" || !strings.Contains(string(got[3].Location), "73.69") {
		t.Errorf("Qadirabad's source: %+v", got[3])
	}
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
