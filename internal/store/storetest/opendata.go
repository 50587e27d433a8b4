package storetest

import (
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// RunOpenData runs the open-data store's conformance test (package wis2's reads) on a fresh
// engine: organisations open and close (once each), datasets group Datastreams by organisation
// and observed property with their open flag and time span, a Datastream reads back as WIS2
// describes it, and a range of observations reads back by id with numeric and other results.
func RunOpenData(t *testing.T, open Open) {
	eng, _ := open(t)
	SeedDatastreams(t, eng, "pmd", 1, 2)
	SeedDatastreams(t, eng, "ndma", 3)
	if err := eng.Write(ctx(), func(tx sqlq.Tx) error { // a location for each Thing (1: pmd's, 2: ndma's)
		for thing, loc := range map[int64]string{1: `{"type":"Point","coordinates":[72.7,34.1]}`, 2: `{"type":"Point","coordinates":[74.3,31.5]}`} {
			var id int64
			if err := tx.QueryRow(ctx(), `INSERT INTO locations (name, description, encoding_type, location) VALUES ('site', 'site', 'application/geo+json', ?) RETURNING id`, loc).Scan(&id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx(), `INSERT INTO thing_locations (thing_id, location_id) VALUES (?, ?)`, thing, id); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	ents := sqlq.NewEntities(eng, nil)
	if _, errs, err := ents.Ingest(ctx(), []sensing.Observation{obs(1, "2025-08-27T06:00:00Z", 3.25), obs(1, "2025-08-27T07:00:00Z", "dry"),
		obs(3, "2025-08-27T05:00:00Z", 31.5)}); err != nil || errs[0] != nil || errs[1] != nil || errs[2] != nil {
		t.Fatalf("ingest: %v %v", errs, err)
	}
	od := sqlq.NewOpenData(eng)
	// an organisation is known by what it has on the node: here Datastreams (pmd, ndma)
	for org, want := range map[string]bool{"pmd": true, "ndma": true, "nobody": false, "PMD": false} {
		if ok, err := od.Known(ctx(), org); ok != want || err != nil {
			t.Errorf("Known(%s) = %v %v, want %v", org, ok, err, want)
		}
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if ok, err := od.Open(ctx(), "pmd", "admin/key-1", at); !ok || err != nil {
		t.Fatalf("open pmd: %v %v", ok, err)
	}
	if ok, err := od.Open(ctx(), "pmd", "admin/key-1", at); ok || err != nil {
		t.Errorf("open pmd again: %v %v, want false", ok, err)
	}
	if m, err := od.Opened(ctx()); err != nil || len(m) != 1 || !m["pmd"].Equal(at) {
		t.Errorf("opened: %v %v", m, err)
	}
	ds, err := od.Datasets(ctx(), 100)
	if err != nil || len(ds) != 2 {
		t.Fatalf("datasets: %+v %v", ds, err)
	}
	n, p := ds[0], ds[1] // by organisation: ndma, pmd
	if n.Organisation != "ndma" || n.Open || len(n.Streams) != 1 || p.Organisation != "pmd" || !p.Open || !p.Opened.Equal(at) ||
		len(p.Streams) != 2 || p.Streams[0].ID != 1 || p.Streams[1].ID != 2 || p.PropertyName != "seeded" {
		t.Errorf("datasets: %+v", ds)
	}
	if !p.Start.Equal(time.Date(2025, 8, 27, 6, 0, 0, 0, time.UTC)) || !p.End.Equal(time.Date(2025, 8, 27, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("pmd's time span: %v – %v", p.Start, p.End)
	}
	si, err := od.Stream(ctx(), 3)
	if err != nil || si.Organisation != "ndma" || si.PropertyDefinition != "urn:seeded" || si.Stream.Station != "seeded" || !si.Stream.HasPoint || si.Stream.Lon != 74.3 {
		t.Errorf("stream 3: %+v %v", si, err)
	}
	if _, err := od.Stream(ctx(), 99); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("stream 99: %v, want NotFound", err)
	}
	got, err := od.Observations(ctx(), 1, 1, 10, 100)
	if err != nil || len(got) != 2 || string(got[0].Result) != "3.25" || string(got[1].Result) != `"dry"` || got[0].PhenomenonTime != "2025-08-27T06:00:00Z" {
		t.Errorf("observations of 1: %+v %v", got, err)
	}
	if got, err := od.Observations(ctx(), 1, 2, 2, 100); err != nil || len(got) != 1 || got[0].ID != 2 {
		t.Errorf("observation 2 of 1: %+v %v", got, err)
	}
	if ok, err := od.Close(ctx(), "pmd"); !ok || err != nil {
		t.Errorf("close pmd: %v %v", ok, err)
	}
	if m, _ := od.Opened(ctx()); len(m) != 0 {
		t.Errorf("opened after close: %v", m)
	}
}
