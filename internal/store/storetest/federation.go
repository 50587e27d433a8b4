package storetest

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
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
	if cs, err := f.Cursors(ctx()); err != nil || len(cs) != 1 || cs[a.ID] != 7 {
		t.Errorf("cursors: %v %v", cs, err)
	}
	if fp, err := f.DatastreamsPrint(ctx()); err != nil || fp[0] != 2 || fp[1] != 2 || fp[2] != 3 || fp[3] < 2 {
		t.Errorf("datastreams print: %v %v", fp, err)
	}

	// remote Datastreams (Datastream 2 stands for one received)
	if id, err := f.Remote(ctx(), "islamabad", 1, 7); err != nil || id != 0 {
		t.Errorf("remote before: %d %v", id, err)
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
}

func repeat(s string, n int) string {
	out := ""
	for range n {
		out += s
	}
	return out
}
