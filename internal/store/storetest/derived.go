package storetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// testDerivedFrom: a Datastream's properties.derivedFrom (docs/forecast.md, "Derived discharge
// in the node") is checked on create and update inside the transaction (Invalid naming the
// path, nothing written), listed by Derivations once committed, counted by EntitiesChanged, and
// only the node's derivation (sqlq.WithDerivation) may add Observations to a derived Datastream.
func testDerivedFrom(t *testing.T, s Stores) {
	seed(t, s) // Datastreams 1 and 2
	curve := `{"a": 35.2, "b": 1.71, "h0": 0.42, "min_stage": 1.1, "max_stage": 8.9, "margin": 0.78}`
	with := func(derivedFrom string) string {
		return strings.Replace(strings.Replace(gauge, `"description":"discharge",`,
			`"description":"discharge","properties":{"derivedFrom":`+derivedFrom+`},`, 1), `"name":"Khanki"`, `"name":"Khanki 2"`, 1)
	}
	derived := func(src int64, c string) string {
		return with(fmt.Sprintf(`{"datastream":%d,"ratingCurve":%s}`, src, c))
	}
	count := func() int64 {
		p, err := s.Entities.List(ctx(), query(t, sensing.Datastreams, nil, "$count=true"))
		if err != nil || p.Count == nil {
			t.Fatalf("count: %v", err)
		}
		return *p.Count
	}
	before, changed := count(), s.Entities.EntitiesChanged()
	for name, tc := range map[string]struct{ body, want string }{
		"a":       {derived(1, strings.Replace(curve, `"a": 35.2`, `"a": 0`, 1)), "properties.derivedFrom.ratingCurve.a: want a number > 0"},
		"unknown": {derived(99, curve), "properties.derivedFrom.datastream: Datastream(99) does not exist"},
		"shape":   {with(`[1]`), "properties.derivedFrom: want an object"},
	} {
		_, err := s.Entities.Create(ctx(), entity(t, sensing.Things, tc.body))
		if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), tc.want) {
			t.Errorf("%s: %v, want Invalid with %q", name, err, tc.want)
		}
	}
	if count() != before || s.Entities.EntitiesChanged() != changed {
		t.Fatalf("refused creates wrote something: %d Datastreams (was %d), %d writes counted (was %d)", count(), before, s.Entities.EntitiesChanged(), changed)
	}
	if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, derived(1, curve))); err != nil {
		t.Fatal(err)
	}
	if s.Entities.EntitiesChanged() == changed {
		t.Error("a committed create was not counted")
	}
	all, err := s.Entities.Derivations(ctx())
	if err != nil || len(all) != 1 {
		t.Fatalf("Derivations: %v %v, want one", all, err)
	}
	var id int64
	for k, d := range all {
		id = k
		if d.Datastream != 1 || d.RatingCurve.A != 35.2 || d.RatingCurve.Margin != 0.78 {
			t.Errorf("Derivations: Datastream(%d) %+v", k, d)
		}
	}
	// Datastream 1 is a source now: it cannot become derived (a cycle, or a chain)
	err = s.Entities.Update(ctx(), entity(t, sensing.Datastreams, fmt.Sprintf(`{"@iot.id":1,"properties":{"derivedFrom":{"datastream":2,"ratingCurve":%s}}}`, curve)), false)
	if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(apperr.Message(err), fmt.Sprintf("Datastream(%d) is derived from this one", id)) {
		t.Errorf("making a source derived: %v", err)
	}
	if all, _ := s.Entities.Derivations(ctx()); len(all) != 1 {
		t.Errorf("a refused update wrote: %v", all)
	}
	// Observations of the derived Datastream: the node's derivation only
	_, errs, err := s.Entities.Ingest(ctx(), []sensing.Observation{obs(id, "2025-09-01T00:00:00Z", 5)})
	if err != nil || apperr.KindOf(errs[0]) != apperr.Invalid || !strings.Contains(apperr.Message(errs[0]), fmt.Sprintf("Datastream(%d) is derived from Datastream(1)", id)) {
		t.Errorf("a client's Observation of a derived Datastream: %v %v", errs, err)
	}
	ids, errs, err := s.Entities.IngestNew(sqlq.WithDerivation(ctx(), 0), []sensing.Observation{obs(id, "2025-09-01T00:00:00Z", 5)})
	if err != nil || errs[0] != nil || ids[0] == 0 {
		t.Errorf("the derivation's Observation: %v %v", errs, err)
	}
}
