// Package storetest is the conformance suite both store engines must pass (store/sqlite and
// store/postgres, each under the SQL core of store/sqlq): the same calls, the same answers. An
// engine's test runs it with a function that opens a fresh, empty engine for each test:
//
//	func TestConformance(t *testing.T) { storetest.Conformance(t, open) }
//
// The suite drives the core's stores (Stores) over the engine, so that an engine passing it can
// replace the other by configuration.
package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
	"github.com/rabta/rabta/internal/warning"
)

// Stores is one freshly opened, empty store: the SQL core's entity and key stores over one
// engine.
type Stores struct {
	Entities *sqlq.Entities
	Auth     auth.Store
	// SetNow sets the engine's clock (DB.Now).
	SetNow func(func() time.Time)
}

// Configure sets the entity store's QC, outbox, node id and after-commit hook.
func (s Stores) Configure(qc sensing.Checker, outbox bool, node string, afterCommit func(n int)) {
	s.Entities.QC, s.Entities.Outbox, s.Entities.Node, s.Entities.AfterCommit = qc, outbox, node, afterCommit
}

// OutboxPending is Entities.OutboxPending.
func (s Stores) OutboxPending(ctx context.Context, limit int) ([]sqlq.OutboxEntry, error) {
	return s.Entities.OutboxPending(ctx, limit)
}

// Checker is the QC the suite configures: a negative result is flagged bad and kept, a result
// of 666 is refused, anything else is good. It counts its calls per datastream.
type Checker struct {
	Calls map[int64]int
	// Recent records, per datastream, how many recent values the store gave at the first call.
	Recent map[int64]int
}

// Check implements sensing.Checker.
func (c *Checker) Check(ds *sensing.DatastreamInfo, o *sensing.Observation) error {
	if c.Calls == nil {
		c.Calls, c.Recent = map[int64]int{}, map[int64]int{}
	}
	if _, ok := c.Recent[ds.ID]; !ok {
		c.Recent[ds.ID] = len(ds.Recent)
	}
	c.Calls[ds.ID]++
	if ds.ObservedPropertyName == "" || ds.ThingID == 0 {
		return fmt.Errorf("QC got an incomplete DatastreamInfo %+v", ds)
	}
	if o.ResultNum != nil && *o.ResultNum == 666 {
		return apperr.E(apperr.Invalid, "refused by QC: 666")
	}
	if o.ResultNum != nil && *o.ResultNum < 0 {
		o.Flag = sensing.FlagBad
		o.Quality = json.RawMessage(`{"flag":"bad","issues":[{"check":"range"}]}`)
	}
	return nil
}

// Run runs the whole suite, each test on a store of its own from open.
func Run(t *testing.T, open func(t *testing.T) Stores) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Stores)
	}{
		{"DeepInsertAndNavigation", testDeepInsert},
		{"TimesComeBackAsSent", testTimes},
		{"Filters", testFilters},
		{"QueryOptions", testQueryOptions},
		{"PagingIsConsistent", testPaging},
		{"UpdateDeleteCascade", testUpdateDelete},
		{"IngestPerItem", testIngestPerItem},
		{"IngestNewIdempotent", testIngestNew},
		{"GroupCommit", testGroupCommit}, // group.go
		{"Outbox", testOutbox},
		{"OutboxHandoff", testOutboxHandoff}, // handoff.go
		{"IngestPaths", testIngestPaths},     // handoff.go
		{"Lookups", testLookups},
		{"AuthKeys", testAuth},
		{"AuthKeyExpiry", testKeyExpiry},
		{"DeleteLocationPrunesHistory", testDeleteLocation},
		{"LambdaAndIn", testLambdaIn},
		{"Links", testLinks},
		{"IDsNeverReused", testIDsNeverReused},
		{"DerivedSpans", testDerivedSpans},
		{"DerivedFrom", testDerivedFrom}, // derived.go
		{"MultiDatastreams", testMultiDatastreams},
		{"ResponseBudget", testBudget},
		{"Organisations", testOrganisations},
		{"ForecastNetwork", testForecastNetwork},
		{"ObservationCounts", testCounts},       // counts.go
		{"LatestOfEveryDatastream", testLatest}, // sqlq/batch.go
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			tt.fn(t, s)
		})
	}
}

// entity builds an entity of set from JSON, as the HTTP surface's decoder would: properties
// by kind, navigation properties recursively, {"@iot.id": n} alone as a reference, and an
// Observation's typed form.
func entity(t testing.TB, set, js string) *sensing.Entity {
	t.Helper()
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(js), &obj); err != nil {
		t.Fatalf("entity %s: %v: %s", set, err, js)
	}
	return build(t, set, obj, false)
}

func build(t testing.TB, set string, obj map[string]json.RawMessage, nested bool) *sensing.Entity {
	t.Helper()
	es := sensing.Sets[set]
	e := &sensing.Entity{Set: set, Props: map[string]any{}, Links: map[string][]*sensing.Entity{}}
	if raw, ok := obj["@iot.id"]; ok {
		if err := json.Unmarshal(raw, &e.ID); err != nil {
			t.Fatal(err)
		}
		if nested {
			e.Ref = true
			return e
		}
	}
	for k, v := range obj {
		if k == "@iot.id" {
			continue
		}
		if p, ok := es.Prop(k); ok {
			switch p.Kind {
			case sensing.KindString, sensing.KindTime, sensing.KindInterval:
				var s *string
				if err := json.Unmarshal(v, &s); err != nil {
					t.Fatalf("%s.%s: %v", set, k, err)
				}
				if s == nil {
					e.Props[k] = nil
				} else {
					e.Props[k] = *s
				}
			default:
				if string(v) == "null" {
					e.Props[k] = nil
				} else {
					e.Props[k] = json.RawMessage(v)
				}
			}
			continue
		}
		n, ok := es.NavTo(k)
		if !ok {
			t.Fatalf("%s has no property %q", set, k)
		}
		var items []map[string]json.RawMessage
		if n.Many {
			if err := json.Unmarshal(v, &items); err != nil {
				t.Fatal(err)
			}
		} else {
			var one map[string]json.RawMessage
			if err := json.Unmarshal(v, &one); err != nil {
				t.Fatal(err)
			}
			items = append(items, one)
		}
		for _, it := range items {
			e.Links[k] = append(e.Links[k], build(t, n.Target, it, true))
		}
	}
	if set == sensing.Observations {
		o := obsFromProps(t, e.Props)
		e.Obs = &o
	}
	return e
}

func obsFromProps(t testing.TB, p map[string]any) sensing.Observation {
	t.Helper()
	var o sensing.Observation
	pt, _ := p["phenomenonTime"].(string)
	if pt == "" {
		t.Fatal("observation without phenomenonTime")
	}
	a, b, err := sensing.ParseTimeOrInterval(pt)
	if err != nil {
		t.Fatal(err)
	}
	o.PhenStart, o.PhenEnd, o.PhenText = a, b, pt
	if rt, ok := p["resultTime"].(string); ok {
		a, _, err := sensing.ParseTimeOrInterval(rt)
		if err != nil {
			t.Fatal(err)
		}
		o.ResultTime, o.ResultTimeText = &a, rt
	}
	if vt, ok := p["validTime"].(string); ok {
		a, b, err := sensing.ParseTimeOrInterval(vt)
		if err != nil {
			t.Fatal(err)
		}
		o.ValidStart, o.ValidEnd, o.ValidText = &a, &b, vt
	}
	if r, ok := p["result"].(json.RawMessage); ok {
		var f float64
		if err := json.Unmarshal(r, &f); err == nil && !math.IsInf(f, 0) {
			o.ResultNum = &f
		} else {
			o.ResultJSON = r
		}
	}
	if par, ok := p["parameters"].(json.RawMessage); ok {
		o.Parameters = par
	}
	return o
}

// obs makes an observation of datastream ds at time ts ("2025-08-27T12:00:00Z") with result r
// (a float64, or any other value as JSON).
func obs(ds int64, ts string, r any) sensing.Observation {
	a, b, err := sensing.ParseTimeOrInterval(ts)
	if err != nil {
		panic(err)
	}
	o := sensing.Observation{DatastreamID: ds, PhenStart: a, PhenEnd: b, PhenText: ts}
	switch r := r.(type) {
	case float64:
		o.ResultNum = &r
	case int:
		f := float64(r)
		o.ResultNum = &f
	default:
		o.ResultJSON, _ = json.Marshal(r)
	}
	return o
}

func ctx() context.Context { return context.Background() }

// gauge is a Thing with its Location and one Datastream, its Sensor and ObservedProperty.
const gauge = `{"name":"Khanki","description":"Khanki Headworks gauge","properties":{"river":"Chenab","pdmaName":"Khanki"},
 "Locations":[{"name":"Khanki","description":"Khanki Headworks","encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.9744,32.4028]}}],
 "Datastreams":[{"name":"Discharge at Khanki","description":"discharge","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
   "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
   "Sensor":{"name":"staff gauge","description":"PDMA report","encodingType":"text/html","metadata":"https://pdma.punjab.gov.pk"},
   "ObservedProperty":{"name":"Discharge","definition":"http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/","description":"River discharge"}}]}`

func marala() string {
	return strings.NewReplacer("Khanki", "Marala", "73.9744", "74.4597", "32.4028", "32.6744").Replace(gauge)
}

// seed makes the two gauges of the HTTP tests (Things 1 and 2, Datastreams 1 and 2) and six
// observations (1-4 on Datastream 1, 5-6 on Datastream 2).
func seed(t *testing.T, s Stores) {
	t.Helper()
	for _, g := range []string{gauge, marala()} {
		if _, err := s.Entities.Create(ctx(), entity(t, sensing.Things, g)); err != nil {
			t.Fatalf("seed: %v", err)
		}
	}
	batch := []sensing.Observation{
		obs(1, "2025-08-25T12:00:00+05:00", 250000), obs(1, "2025-08-26T12:00:00+05:00", 600000),
		obs(1, "2025-08-27T12:00:00+05:00", 1001480), obs(1, "2025-08-28T12:00:00+05:00", 700000),
		obs(2, "2025-08-26T12:00:00Z", 400000), obs(2, "2025-08-27T12:00:00Z", 900000),
	}
	ids, errs, err := s.Entities.Ingest(ctx(), batch)
	if err != nil {
		t.Fatalf("seed observations: %v", err)
	}
	for i, e := range errs {
		if e != nil || ids[i] != int64(i+1) {
			t.Fatalf("seed observation %d: id %d, %v", i, ids[i], e)
		}
	}
}

// Open opens a fresh, empty store engine for t; setNow sets its clock.
type Open func(t testing.TB) (eng sqlq.Engine, setNow func(func() time.Time))

// Fresh returns the Stores of a fresh engine from open.
func Fresh(t testing.TB, open Open) Stores {
	eng, setNow := open(t)
	return Stores{Entities: sqlq.NewEntities(eng, nil), Auth: sqlq.NewAuth(eng), SetNow: setNow}
}

// Conformance runs every suite a store engine must pass (entities, alerts, labels), each test
// on a fresh engine from open.
func Conformance(t *testing.T, open Open) {
	fresh := func(t *testing.T) Stores { return Fresh(t, open) }
	t.Run("Entities", func(t *testing.T) { Run(t, fresh) })
	t.Run("Alerts", func(t *testing.T) {
		RunAlerts(t, func(t *testing.T) (alert.Store, warning.Store) {
			eng, _ := open(t)
			a := sqlq.NewAlerts(eng)
			return a, a
		})
	})
	t.Run("DatastreamLabel", func(t *testing.T) { RunDatastreamLabel(t, fresh) })
	t.Run("Atomic", func(t *testing.T) { RunAtomic(t, fresh) })
	t.Run("Dissemination", func(t *testing.T) {
		RunDissemination(t, func(t *testing.T) (dissemination.Store, alert.Store) {
			eng, _ := open(t)
			return sqlq.NewDissemination(eng), sqlq.NewAlerts(eng)
		})
	})
	t.Run("Places", func(t *testing.T) { RunPlaces(t, PlacesOf(open)) })
	t.Run("Idempotency", func(t *testing.T) {
		RunIdempotency(t, func(t *testing.T) *sqlq.Idempotency { eng, _ := open(t); return sqlq.NewIdempotency(eng) })
	})
	t.Run("TwoWay", func(t *testing.T) {
		RunTwoWay(t, func(t *testing.T) (*sqlq.TwoWay, dissemination.Store) {
			eng, _ := open(t)
			return sqlq.NewTwoWay(eng), sqlq.NewDissemination(eng)
		})
	})
	t.Run("Audit", func(t *testing.T) {
		RunAudit(t, func(t *testing.T) sqlq.Engine { eng, _ := open(t); return eng })
	})
	t.Run("Federation", func(t *testing.T) { RunFederation(t, open) })
	t.Run("RemoteViewKept", func(t *testing.T) { RunRemoteViewKept(t, open) })
	t.Run("OpenData", func(t *testing.T) { RunOpenData(t, open) })
	t.Run("ClosedIsUnavailable", func(t *testing.T) {
		eng, _ := open(t)
		ents := sqlq.NewEntities(eng, nil)
		if err := eng.(io.Closer).Close(); err != nil {
			t.Fatal(err)
		}
		_, err := ents.Create(ctx(), entity(t, sensing.Things, `{"name":"x","description":"y"}`))
		_, lerr := ents.List(ctx(), query(t, sensing.Things, nil, ""))
		_, _, ierr := ents.Ingest(ctx(), []sensing.Observation{obs(1, "2025-09-01T00:00:00Z", 1)})
		for _, e := range []error{err, lerr, ierr} {
			if apperr.KindOf(e) != apperr.Unavailable {
				t.Errorf("a closed store: %v (kind %v), want Unavailable (503, try again)", e, apperr.KindOf(e))
			}
		}
	})
}
