package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// as is a context carrying a key of org with role (the node-wide admin for auth.NodeOrganisation
// and auth.Admin).
func as(org string, role auth.Role) context.Context {
	return auth.WithPrincipal(context.Background(), &auth.Principal{KeyID: 1, Organisation: org, Role: role})
}

// testOrganisations: organisations are a boundary, inside the store's transactions (sqlq
// owner.go). An entity belongs to the organisation that created it (the node's without a
// principal); another organisation may not change, delete, re-point or add to it, nor link
// it unless it is a shared vocabulary (Sensor, ObservedProperty, FeatureOfInterest); a delete
// whose cascade would take another organisation's entities is Conflict but for the node-wide
// admin; a refusal leaves nothing behind.
func testOrganisations(t *testing.T, s Stores) {
	e := s.Entities
	punjab, sindh := as("punjab", auth.Operator), as("sindh", auth.Operator)
	nodeAdmin := as(auth.NodeOrganisation, auth.Admin)
	sindhAdmin := as("sindh", auth.Admin) // an admin of sindh only
	kind := func(err error) string {
		if err == nil {
			return "nil"
		}
		return fmt.Sprint(apperr.KindOf(err))
	}
	want := func(what string, err error, k apperr.Kind, msg string) {
		t.Helper()
		if apperr.KindOf(err) != k || err == nil || !strings.Contains(apperr.Message(err), msg) {
			t.Errorf("%s: got %s %v, want %v naming %q", what, kind(err), err, k, msg)
		}
	}
	ok := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}

	// punjab's station: Thing 1, Location 1, Sensor 1, ObservedProperty 1, Datastream 1
	th, err := e.Create(punjab, entity(t, sensing.Things, gauge))
	if err != nil || th != 1 {
		t.Fatalf("punjab's gauge: %d %v", th, err)
	}
	ds, md, err := e.Owned(ctx(), "punjab")
	if err != nil || !slices.Equal(ds, []int64{1}) || len(md) != 0 {
		t.Errorf("Owned(punjab) = %v %v %v, want [1] []", ds, md, err)
	}
	if ds, _, _ := e.Owned(ctx(), "sindh"); len(ds) != 0 {
		t.Errorf("Owned(sindh) = %v, want none", ds)
	}
	// without a principal the node writes: its organisation's
	sys, err := e.Create(ctx(), entity(t, sensing.Things, marala()))
	if err != nil {
		t.Fatal(err)
	}
	if ds, _, _ := e.Owned(ctx(), auth.NodeOrganisation); !slices.Equal(ds, []int64{2}) {
		t.Errorf("Owned(admin) = %v, want the node's Datastream [2]", ds)
	}

	patch := func(set string, id int64) *sensing.Entity {
		return &sensing.Entity{Set: set, ID: id, Props: map[string]any{"description": "changed"}, Links: map[string][]*sensing.Entity{}}
	}

	// another organisation: refused, naming both
	for _, set := range []string{sensing.Things, sensing.Locations, sensing.Sensors, sensing.ObservedProperties, sensing.Datastreams} {
		want("sindh updates punjab's "+set, e.Update(sindh, patch(set, 1), false), apperr.Forbidden, `belongs to organisation "punjab"; the key is of organisation "sindh"`)
		want("sindh's admin deletes punjab's "+set, e.Delete(sindhAdmin, set, 1), apperr.Forbidden, `organisation "punjab"`)
	}
	want("sindh links a Location to punjab's Thing", e.Link(sindh, sensing.Things, 1, "Locations", 1), apperr.Forbidden, "Things(1)")
	want("sindh unlinks punjab's Location", e.Unlink(sindh, sensing.Things, 1, "Locations", 1), apperr.Forbidden, "Things(1)")
	want("sindh puts a Datastream on punjab's Thing", createErr(e.Create(sindh, entity(t, sensing.Datastreams, `{"name":"x","description":"x",
	  "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},
	  "Thing":{"@iot.id":1},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`))), apperr.Forbidden, "Things(1)")
	want("sindh takes punjab's Datastream into its Thing", createErr(e.Create(sindh, entity(t, sensing.Things, `{"name":"x","description":"x","Datastreams":[{"@iot.id":1}]}`))),
		apperr.Forbidden, "Datastreams(1)")
	want("sindh links punjab's Location", createErr(e.Create(sindh, entity(t, sensing.Things, `{"name":"x","description":"x","Locations":[{"@iot.id":1}]}`))),
		apperr.Forbidden, "Locations(1)")
	want("sindh's Observation into punjab's Datastream", createErr(e.Create(sindh, entity(t, sensing.Observations, `{"phenomenonTime":"2025-08-27T12:00:00Z","result":1,"Datastream":{"@iot.id":1}}`))),
		apperr.Forbidden, "Datastreams(1)")
	ids, errs, err := e.Ingest(sindh, []sensing.Observation{obs(1, "2025-08-27T12:00:00Z", 5), obs(1, "2025-08-27T13:00:00Z", 6)})
	if err != nil || ids[0] != 0 || ids[1] != 0 {
		t.Fatalf("sindh ingests into punjab's Datastream: %v %v", ids, err)
	}
	want("sindh ingests into punjab's Datastream", errs[1], apperr.Forbidden, `organisation "punjab"`)
	if n := len(list(t, s, sensing.Observations, nil, "").Entities); n != 0 {
		t.Errorf("after the refusals %d Observations are stored, want none", n)
	}
	if got := list(t, s, sensing.Things, nil, "$filter=id eq 1").Entities[0].Props["description"]; got != "Khanki Headworks gauge" {
		t.Errorf("punjab's Thing after the refusals: %v", got)
	}
	if n := len(list(t, s, sensing.Things, nil, "").Entities); n != 2 {
		t.Errorf("%d Things after the refusals, want 2 (nothing half made)", n)
	}

	// its own organisation, and the node-wide admin: allowed
	ok("punjab updates its Thing", e.Update(punjab, patch(sensing.Things, 1), false))
	ok("the node-wide admin updates punjab's Sensor", e.Update(nodeAdmin, patch(sensing.Sensors, 1), false))
	ids, errs, err = e.Ingest(punjab, []sensing.Observation{obs(1, "2025-08-27T12:00:00Z", 5)})
	if err != nil || errs[0] != nil || ids[0] == 0 {
		t.Fatalf("punjab ingests into its Datastream: %v %v %v", ids, errs, err)
	}
	// its FeatureOfInterest, made from punjab's Location, is punjab's too
	foi := list(t, s, sensing.FeaturesOfInterest, nil, "").Entities[0].ID
	want("sindh updates the FeatureOfInterest made from punjab's Location", e.Update(sindh, patch(sensing.FeaturesOfInterest, foi), false), apperr.Forbidden, `organisation "punjab"`)
	want("sindh deletes punjab's Observation", e.Delete(sindh, sensing.Observations, ids[0]), apperr.Forbidden, "Observations(")
	want("sindh changes the node's Thing", e.Update(sindh, patch(sensing.Things, sys), false), apperr.Forbidden, `organisation "admin"`)

	// shared vocabularies: sindh's own station on punjab's Sensor and ObservedProperty, at its
	// FeatureOfInterest
	sth, err := e.Create(sindh, entity(t, sensing.Things, `{"name":"Sukkur","description":"barrage"}`))
	ok("sindh's Thing", err)
	sds, err := e.Create(sindh, entity(t, sensing.Datastreams, fmt.Sprintf(`{"name":"q","description":"q",
	  "observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement","unitOfMeasurement":{"name":"m","symbol":"m","definition":"m"},
	  "Thing":{"@iot.id":%d},"Sensor":{"@iot.id":1},"ObservedProperty":{"@iot.id":1}}`, sth)))
	ok("sindh's Datastream on punjab's Sensor and ObservedProperty", err)
	_, errs, err = e.Ingest(sindh, []sensing.Observation{func() sensing.Observation { o := obs(sds, "2025-08-27T12:00:00Z", 7); o.FoIID = foi; return o }()})
	if err != nil || errs[0] != nil {
		t.Fatalf("sindh's Observation at punjab's FeatureOfInterest: %v %v", errs, err)
	}
	ok("sindh re-links its Datastream to punjab's ObservedProperty", e.Link(sindh, sensing.Datastreams, sds, "ObservedProperty", 1))
	// punjab may not delete what sindh's entities use
	want("punjab deletes its ObservedProperty that sindh's Datastream measures", e.Delete(punjab, sensing.ObservedProperties, 1), apperr.Conflict, fmt.Sprintf("Datastreams(%d) of another organisation", sds))
	want("punjab deletes its Sensor that sindh's Datastream uses", e.Delete(punjab, sensing.Sensors, 1), apperr.Conflict, "of another organisation")
	want("punjab deletes its FeatureOfInterest that sindh observed", e.Delete(punjab, sensing.FeaturesOfInterest, foi), apperr.Conflict, "has Observations of it")
	if _, err := e.Get(ctx(), &sensing.Query{Set: sensing.Datastreams, ID: sds, Opts: &odata.Options{}}); err != nil {
		t.Fatalf("sindh's Datastream after the refused deletes: %v", err)
	}
	// ... the node-wide admin may, cascade and all
	ok("the node-wide admin deletes punjab's ObservedProperty", e.Delete(nodeAdmin, sensing.ObservedProperties, 1))
	if _, err := e.Get(ctx(), &sensing.Query{Set: sensing.Datastreams, ID: sds, Opts: &odata.Options{}}); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("sindh's Datastream after the node-wide admin deleted its ObservedProperty: %v, want gone", err)
	}
	ok("punjab deletes its Thing", e.Delete(punjab, sensing.Things, 1))
}

func createErr(_ int64, err error) error { return err }
