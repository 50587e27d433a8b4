package storetest

import (
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// realPlaces are place.Load's places, parsed once per test binary.
var realPlaces = sync.OnceValues(place.Load)

// PlacesOf returns a function that opens a fresh engine from open and its place store.
func PlacesOf(open Open) func(t *testing.T) *sqlq.Places {
	return func(t *testing.T) *sqlq.Places { eng, _ := open(t); return sqlq.NewPlaces(eng) }
}

// RunPlaces runs the place store's conformance tests, each on a fresh store from open.
func RunPlaces(t *testing.T, open func(t *testing.T) *sqlq.Places) {
	t.Run("RoundTrip", func(t *testing.T) { testPlacesRoundTrip(t, open(t)) })
	t.Run("ReplaceUpsertDelete", func(t *testing.T) { testPlacesReplace(t, open(t)) })
	t.Run("RealSetAndVillages", func(t *testing.T) { testPlacesReal(t, open(t)) })
}

func testPlacesRoundTrip(t *testing.T, s *sqlq.Places) {
	ps, err := realPlaces()
	if err != nil {
		t.Fatal(err)
	}
	var lahore place.Place
	for _, p := range ps {
		if p.Key == "district:Lahore" {
			lahore = p
		}
	}
	want := []place.Place{
		lahore,
		{Key: "village:PTA-1", Kind: place.Village, Name: "Basti Malana", NameUr: "بستی ملانہ", Country: "PK", Province: "Punjab", Division: "Dera Ghazi Khan",
			District: "Muzaffargarh", Lat: 30.071234567, Lon: 71.19, Population: 1200, Languages: []string{"skr", "ur"}, Connectivity: place.SMSOnly, Source: "imported"},
		{Key: "village:syn:Lahore:0001", Kind: place.Village, Name: "Synthetic village Lahore 0001", Country: "PK", Lat: -0.5, Lon: 179.99999,
			Population: 0, Estimated: true, Languages: []string{"pnb", "ur"}, Connectivity: place.Fibre, Synthetic: true, Source: "synthetic"},
	}
	if err := s.Upsert(ctx(), want); err != nil {
		t.Fatal(err)
	}
	got, err := s.List(ctx())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d places, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if (g.Boundary == nil) != (w.Boundary == nil) || g.Boundary != nil && g.Boundary.AsText() != w.Boundary.AsText() {
			t.Errorf("%s: the boundary changed", w.Key)
		}
		g.Boundary, w.Boundary = nil, nil
		if !reflect.DeepEqual(g, w) {
			t.Errorf("place %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	n, err := s.Count(ctx())
	if err != nil || !reflect.DeepEqual(n, map[place.Kind]int{place.District: 1, place.Village: 2}) {
		t.Errorf("count %v, %v", n, err)
	}
}

func testPlacesReplace(t *testing.T, s *sqlq.Places) {
	mk := func(key string, synthetic bool, pop int64) place.Place {
		return place.Place{Key: key, Kind: place.Village, Name: key, Country: "PK", Lat: 30, Lon: 70, Population: pop, Languages: []string{"ur"},
			Synthetic: synthetic, Source: "test"}
	}
	if err := s.Replace(ctx(), []place.Place{mk("a", true, 1), mk("b", true, 2), mk("c", false, 3)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Upsert(ctx(), []place.Place{mk("c", false, 30), mk("d", false, 4)}); err != nil {
		t.Fatal(err)
	}
	keys := func() string {
		ps, err := s.List(ctx())
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, p := range ps {
			out += fmt.Sprintf("%s=%d ", p.Key, p.Population)
		}
		return out
	}
	if got := keys(); got != "a=1 b=2 c=30 d=4 " {
		t.Errorf("after upsert: %s", got)
	}
	if n, err := s.DeleteSynthetic(ctx()); n != 2 || err != nil {
		t.Errorf("deleted %d synthetic, %v", n, err)
	}
	if got := keys(); got != "c=30 d=4 " {
		t.Errorf("after deleting the synthetic: %s", got)
	}
	if err := s.Replace(ctx(), []place.Place{mk("e", false, 5)}); err != nil {
		t.Fatal(err)
	}
	if got := keys(); got != "e=5 " {
		t.Errorf("after replace: %s", got)
	}
	// A key twice, or none: refused whole, nothing changed.
	for _, tc := range []struct {
		ps   []place.Place
		kind apperr.Kind
	}{{[]place.Place{mk("f", false, 1), mk("f", false, 2)}, apperr.Conflict}, {[]place.Place{mk("", false, 1)}, apperr.Invalid}} {
		if err := s.Replace(ctx(), tc.ps); apperr.KindOf(err) != tc.kind {
			t.Errorf("replace %v: %v, want %v", tc.ps, err, tc.kind)
		}
		if err := s.Upsert(ctx(), tc.ps); apperr.KindOf(err) != tc.kind {
			t.Errorf("upsert %v: %v, want %v", tc.ps, err, tc.kind)
		}
	}
	if got := keys(); got != "e=5 " {
		t.Errorf("after refused writes: %s", got)
	}
	if err := s.Replace(ctx(), nil); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(ctx()); err != nil || len(n) != 0 {
		t.Errorf("empty: %v %v", n, err)
	}
}

// testPlacesReal stores the real places and 22,000 synthetic villages, reads them back and
// resolves an area on a gazetteer built from what was read.
func testPlacesReal(t *testing.T, s *sqlq.Places) {
	ps, err := realPlaces()
	if err != nil {
		t.Fatal(err)
	}
	vs, err := place.Villages(ps, place.VillageOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	all := append(append([]place.Place(nil), ps...), vs...)
	start := time.Now()
	if err := s.Replace(ctx(), all); err != nil {
		t.Fatal(err)
	}
	t.Logf("stored %d places (%d villages) in %v", len(all), len(vs), time.Since(start).Round(time.Millisecond))
	start = time.Now()
	got, err := s.List(ctx())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("listed them in %v", time.Since(start).Round(time.Millisecond))
	n, err := s.Count(ctx())
	if err != nil {
		t.Fatal(err)
	}
	want := map[place.Kind]int{place.Province: 7, place.Division: 37, place.District: 156, place.Town: 1067, place.Village: 22_000}
	if !reflect.DeepEqual(n, want) || len(got) != len(all) {
		t.Errorf("count %v (%d listed), want %v", n, len(got), want)
	}
	g, err := place.NewGazetteer(got)
	if err != nil {
		t.Fatal(err)
	}
	imp, err := g.Resolve(cap.Area{Geocodes: []cap.ValuePair{{ValueName: "district", Value: "Lahore"}}})
	if err != nil {
		t.Fatal(err)
	}
	if imp.People != 13_004_135 {
		t.Errorf("Lahore from the stored places: %d people, want the census's 13,004,135", imp.People)
	}
}
