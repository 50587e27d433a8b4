package storetest

import (
	"net/url"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// testLambdaIn: the lambda operators and in select the same entities on every store.
func testLambdaIn(t *testing.T, s Stores) {
	seed(t, s) // Things 1 (Khanki) and 2 (Marala), Datastreams 1 and 2, observations 1-4 and 5-6
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, `{"name":"Tarbela","description":"dam"}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ set, filter, want string }{
		{sensing.Things, "Datastreams/any(d: d/Observations/any(o: o/result gt 1000000))", "[1]"},
		{sensing.Things, "Datastreams/all(d: d/Observations/all(o: o/result lt 1000000))", "[2 3]"},
		{sensing.Things, "Datastreams/any()", "[1 2]"},
		{sensing.Things, "Locations/all(l: l/name eq 'Khanki')", "[1 3]"},
		{sensing.Observations, "result in (250000, 900000)", "[1 6]"},
		{sensing.Things, "name in ('Tarbela', 'Marala') and not Datastreams/any()", "[3]"},
	} {
		p := list(t, s, c.set, nil, "$orderby=id&$filter="+url.QueryEscape(c.filter))
		if got := idsOf(p.Entities); got != c.want {
			t.Errorf("%s?$filter=%s: %s, want %s", c.set, c.filter, got, c.want)
		}
	}
}

// testLinks: Link and Unlink (the $ref writes) on every store.
func testLinks(t *testing.T, s Stores) {
	seed(t, s)
	e := s.Entities
	locs := func(thing int64) string {
		t.Helper()
		return idsOf(list(t, s, sensing.Locations, &sensing.Parent{Set: sensing.Things, ID: thing, Nav: "Locations"}, "$orderby=id").Entities)
	}
	hist := func(thing int64) int {
		t.Helper()
		return len(list(t, s, sensing.HistoricalLocations, &sensing.Parent{Set: sensing.Things, ID: thing, Nav: "HistoricalLocations"}, "").Entities)
	}
	h := hist(1)
	if err := e.Link(ctx(), sensing.Things, 1, "Locations", 2); err != nil {
		t.Fatal(err)
	}
	if got := locs(1); got != "[1 2]" || hist(1) != h+1 {
		t.Errorf("after Link: Locations %s, %d new HistoricalLocations", got, hist(1)-h)
	}
	if err := e.Link(ctx(), sensing.Things, 1, "Locations", 2); err != nil || hist(1) != h+1 {
		t.Errorf("Link again: %v, %d new HistoricalLocations", err, hist(1)-h)
	}
	if err := e.Unlink(ctx(), sensing.Things, 1, "Locations", 1); err != nil {
		t.Fatal(err)
	}
	if got := locs(1); got != "[2]" {
		t.Errorf("after Unlink: Locations %s", got)
	}
	if err := e.Unlink(ctx(), sensing.Things, 1, "Locations", 1); apperr.KindOf(err) != apperr.NotFound {
		t.Errorf("Unlink of no link: %v, want NotFound", err)
	}
	if err := e.Link(ctx(), sensing.Datastreams, 1, "Sensor", 2); err != nil {
		t.Fatal(err)
	}
	if _, id, err := e.Navigate(ctx(), sensing.Datastreams, 1, "Sensor"); err != nil || id != 2 {
		t.Errorf("Datastream 1's Sensor after Link: %d %v", id, err)
	}
	if err := e.Link(ctx(), sensing.Things, 2, "Datastreams", 1); err != nil {
		t.Fatal(err)
	}
	if got := idsOf(list(t, s, sensing.Datastreams, &sensing.Parent{Set: sensing.Things, ID: 2, Nav: "Datastreams"}, "$orderby=id").Entities); got != "[1 2]" {
		t.Errorf("Things(2)/Datastreams after Link: %s", got)
	}
	for _, c := range []struct {
		set  string
		id   int64
		nav  string
		to   int64
		kind apperr.Kind
		msg  string
	}{
		{sensing.Datastreams, 1, "Sensor", 0, apperr.Invalid, "a Datastream must have a Sensor"},
		{sensing.Things, 2, "Datastreams", 1, apperr.Invalid, "a Datastream must have a Thing"},
		{sensing.Observations, 1, "FeatureOfInterest", 0, apperr.Invalid, "an Observation must have a FeatureOfInterest"},
		{sensing.Things, 9, "Locations", 1, apperr.NotFound, "Things(9) does not exist"},
	} {
		err := e.Unlink(ctx(), c.set, c.id, c.nav, c.to)
		if apperr.KindOf(err) != c.kind || !strings.Contains(apperr.Message(err), c.msg) {
			t.Errorf("Unlink %s(%d)/%s %d: %v, want %v %q", c.set, c.id, c.nav, c.to, err, c.kind, c.msg)
		}
	}
	for _, c := range []struct {
		set string
		id  int64
		nav string
		to  int64
		msg string
	}{
		{sensing.Things, 1, "Locations", 99, "Locations(99) does not exist"},
		{sensing.Datastreams, 1, "Sensor", 99, "Sensors(99) does not exist"},
	} {
		if err := e.Link(ctx(), c.set, c.id, c.nav, c.to); apperr.KindOf(err) != apperr.NotFound || !strings.Contains(apperr.Message(err), c.msg) {
			t.Errorf("Link %s(%d)/%s %d: %v, want NotFound %q", c.set, c.id, c.nav, c.to, err, c.msg)
		}
	}
	if got := locs(1) + " " + locs(2); got != "[2] [2]" {
		t.Errorf("refused links changed Locations: %s", got)
	}
}
