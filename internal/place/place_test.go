package place

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/rabta/rabta/internal/cap"
)

// The real places, 22,000 synthetic villages (seed 1) and their gazetteer, built once.
var fixture = sync.OnceValues(func() (*world, error) {
	ps, err := Load()
	if err != nil {
		return nil, err
	}
	vs, err := Villages(ps, VillageOptions{Seed: 1})
	if err != nil {
		return nil, err
	}
	g, err := NewGazetteer(append(append([]Place(nil), ps...), vs...))
	if err != nil {
		return nil, err
	}
	return &world{places: ps, villages: vs, g: g}, nil
})

type world struct {
	places, villages []Place
	g                *Gazetteer
}

func load(t testing.TB) *world {
	t.Helper()
	w, err := fixture()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) find(t testing.TB, key string) Place {
	t.Helper()
	p, ok := w.g.Place(key)
	if !ok {
		t.Fatalf("no place %q", key)
	}
	return p
}

func TestLoad(t *testing.T) {
	w := load(t)
	count := map[Kind]int{}
	var census, towns int64
	cn := 0
	for _, p := range w.places {
		count[p.Kind]++
		if p.Kind.Region() && p.Boundary == nil {
			t.Errorf("%s has no boundary", p.Key)
		}
		if p.Kind == District && !p.Estimated {
			census += p.Population
		}
		if p.Kind == District && p.Population <= 0 {
			t.Errorf("%s has no population", p.Key)
		}
		if p.Estimated && !strings.Contains(p.Source, "estimated") {
			t.Errorf("%s: estimated, but its source does not say so: %s", p.Key, p.Source)
		}
		if p.Kind == Town && p.Country == "PK" {
			towns++
			if p.District == "" {
				t.Errorf("town %s (%s) lies in no district", p.Key, p.Name)
			}
		}
		if p.Country == "CN" {
			cn++
			if !slices.Equal(p.Languages, []string{"zh"}) {
				t.Errorf("%s languages %v", p.Key, p.Languages)
			}
		}
		if p.Synthetic || p.NameUr != "" || p.Connectivity != "" {
			t.Errorf("%s: real places are not synthetic and have no Urdu name or connectivity in these sources", p.Key)
		}
		if len(p.Languages) == 0 {
			t.Errorf("%s has no languages", p.Key)
		}
	}
	want := map[Kind]int{Province: 7, Division: 37, District: 156, Town: 458 + 609}
	if !reflect.DeepEqual(count, want) {
		t.Errorf("counts %v, want %v", count, want)
	}
	if cn != 609 || towns != 458 {
		t.Errorf("%d Chinese and %d Pakistani towns", cn, towns)
	}
	// The PBS national total for Census 2023, which the census districts add up to.
	if census != 241_499_431 {
		t.Errorf("census districts hold %d people, want 241,499,431", census)
	}
	for key, langs := range map[string][]string{
		"district:Lahore": {"pnb", "ur"}, "district:Muzaffargarh": {"skr", "ur"}, "district:Karachi Central": {"ur"},
		"district:Peshawar": {"ps", "ur"}, "district:Awaran": {"bal", "ur"}, "district:Gilgit": {"ur"},
	} {
		if p := w.find(t, key); !slices.Equal(p.Languages, langs) {
			t.Errorf("%s languages %v, want %v", key, p.Languages, langs)
		}
	}
	lahore := w.find(t, "geonames:1172451")
	if lahore.Name != "Lahore" || lahore.District != "Lahore" || lahore.Province != "Punjab" || lahore.Population != 6310888 {
		t.Errorf("GeoNames Lahore: %+v", lahore)
	}
	for k, n := range map[Kind]int{Province: 7 + len(isoProvinces), Division: 37, District: 156} {
		if len(w.g.named[k]) != n {
			t.Errorf("%d %s names for geocodes, want %d (two share a folded name?)", len(w.g.named[k]), k, n)
		}
	}
	if !strings.Contains(Provenance(), "OpenStreetMap") || !strings.Contains(Provenance(), "GeoNames") {
		t.Error("the embedded provenance does not name the sources")
	}
}

func TestVillages(t *testing.T) {
	w := load(t)
	if len(w.villages) != DefaultVillages {
		t.Fatalf("%d villages, want %d", len(w.villages), DefaultVillages)
	}
	again, err := Villages(w.places, VillageOptions{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(again, w.villages) {
		t.Error("the same seed gave different villages")
	}
	one, _ := Villages(w.places, VillageOptions{Seed: 1, Count: 200})
	other, _ := Villages(w.places, VillageOptions{Seed: 2, Count: 200})
	if len(one) != 200 || reflect.DeepEqual(other, one) {
		t.Error("another seed gave the same villages")
	}
	people := map[string]int64{}
	perDistrict := map[string]int{}
	conn := map[Connectivity]int{}
	shapes := map[string]*poly{}
	for _, p := range w.places {
		if p.Kind == Town && p.District != "" {
			people[p.District] += p.Population
		}
		if p.Kind == District {
			shapes[p.Name] = shapeOf(p.Boundary)
		}
	}
	for _, v := range w.villages {
		if !v.Synthetic || !strings.HasPrefix(v.Name, "Synthetic village ") || !strings.HasPrefix(v.Key, "village:syn:") || v.Kind != Village {
			t.Fatalf("not labelled synthetic: %+v", v)
		}
		if !shapes[v.District].contains(v.Lon, v.Lat) {
			t.Errorf("%s (%v, %v) is not inside its district", v.Key, v.Lat, v.Lon)
		}
		if d := w.find(t, "district:"+v.District); !slices.Equal(v.Languages, d.Languages) || v.Province != d.Province {
			t.Errorf("%s: languages %v province %q, its district %v %q", v.Key, v.Languages, v.Province, d.Languages, d.Province)
		}
		people[v.District] += v.Population
		perDistrict[v.District]++
		conn[v.Connectivity]++
	}
	for _, d := range w.places {
		if d.Kind != District {
			continue
		}
		if people[d.Name] != d.Population {
			t.Errorf("%s: towns and villages hold %d people, the district %d", d.Key, people[d.Name], d.Population)
		}
		if perDistrict[d.Name] == 0 {
			t.Errorf("%s has no village", d.Key)
		}
	}
	// Lahore holds 13.0M of 247.5M people (census and estimates): about 5% of the villages.
	if n := perDistrict["Lahore"]; n < 1000 || n > 1300 {
		t.Errorf("Lahore has %d villages", n)
	}
	for c, share := range DefaultMix {
		if got := float64(conn[c]) / float64(len(w.villages)); math.Abs(got-share) > 0.02 {
			t.Errorf("%s: %.3f of the villages, want about %.2f", c, got, share)
		}
	}

	for _, tc := range []struct {
		opts VillageOptions
		want string
	}{
		{VillageOptions{Count: 10}, "cannot give each of 156 districts one"},
		{VillageOptions{Mix: map[Connectivity]float64{Fibre: 0}}, "no positive share"},
		{VillageOptions{Mix: map[Connectivity]float64{Fibre: -1}}, "share of fibre"},
	} {
		if _, err := Villages(w.places, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.opts, err, tc.want)
		}
	}
	if _, err := Villages(nil, VillageOptions{}); err == nil {
		t.Error("villages without districts")
	}
	few, err := Villages(w.places, VillageOptions{Count: 200, Mix: map[Connectivity]float64{SMSOnly: 1}})
	if err != nil || len(few) != 200 || few[0].Connectivity != SMSOnly {
		t.Errorf("200 sms-only villages: %d, %v", len(few), err)
	}
}

func geo(name, value string) cap.ValuePair { return cap.ValuePair{ValueName: name, Value: value} }

func TestResolveGeocodes(t *testing.T) {
	w := load(t)
	lahore := w.find(t, "district:Lahore")
	for _, gc := range []cap.ValuePair{geo("district", "Lahore"), geo("district", "PK-Lahore"), geo("PK-district", "lahore"), geo("District", " LAHORE ")} {
		imp, err := w.g.Resolve(cap.Area{Geocodes: []cap.ValuePair{gc}})
		if err != nil {
			t.Fatal(err)
		}
		if imp.People != lahore.Population || len(imp.Districts) != 1 || imp.Districts[0].Name != "Lahore" || imp.Districts[0].People != lahore.Population {
			t.Errorf("%v: %d people in %+v, want %d in Lahore", gc, imp.People, imp.Districts, lahore.Population)
		}
		if imp.Places[District] != 1 || imp.Places[Village] == 0 || imp.Places[Town] == 0 || !slices.Contains(imp.Keys, "district:Lahore") || !slices.Contains(imp.Keys, "geonames:1172451") {
			t.Errorf("%v: places %v", gc, imp.Places)
		}
		if len(imp.Unknown) != 0 {
			t.Errorf("%v: unknown %v", gc, imp.Unknown)
		}
	}
	punjab := w.find(t, "province:Punjab")
	imp, err := w.g.Resolve(cap.Area{Geocodes: []cap.ValuePair{geo("province", "PK-PB"), geo("district", "Lahore"), geo("district", "Atlantis"), geo("SAME", "006037")}})
	if err != nil {
		t.Fatal(err)
	}
	if imp.People != punjab.Population || len(imp.Districts) != 36 {
		t.Errorf("Punjab: %d people in %d districts, want %d in 36", imp.People, len(imp.Districts), punjab.Population)
	}
	var byLang int64
	for _, n := range imp.Languages {
		byLang += n
	}
	if byLang != imp.People || imp.Languages["pnb"] == 0 || imp.Languages["skr"] == 0 {
		t.Errorf("people by language %v do not add up to %d", imp.Languages, imp.People)
	}
	if len(imp.Unknown) != 2 || !strings.Contains(imp.Unknown[0].Reason, `no district is named "Atlantis"`) || !strings.Contains(imp.Unknown[1].Reason, `scheme "SAME"`) {
		t.Errorf("unknown geocodes: %+v", imp.Unknown)
	}
	// The census population of a province is what its districts' towns and villages hold.
	if imp.Villages[Fibre]+imp.Villages[MobileData]+imp.Villages[SMSOnly]+imp.Villages[NoNetwork] != imp.Places[Village] {
		t.Errorf("villages by connectivity %v do not add up to %d", imp.Villages, imp.Places[Village])
	}
	if imp.Synthetic != imp.Places[Village] {
		t.Errorf("%d synthetic of %d villages", imp.Synthetic, imp.Places[Village])
	}
}

func TestResolvePolygonAndCircle(t *testing.T) {
	w := load(t)
	lahore := w.find(t, "district:Lahore")
	outline := Outline(lahore.Boundary, cap.MaxVertices)
	if len(outline) > cap.MaxVertices || !outline.Closed() {
		t.Fatalf("outline of %d points", len(outline))
	}
	imp, err := w.g.Resolve(cap.Area{Polygons: []cap.Polygon{outline}})
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Districts) == 0 || imp.Districts[0].Name != "Lahore" {
		t.Fatalf("districts %+v", imp.Districts)
	}
	// The simplified outline loses or gains a little at the edges.
	if d := imp.Districts[0]; math.Abs(float64(d.People-lahore.Population)) > 0.05*float64(lahore.Population) {
		t.Errorf("Lahore polygon reaches %d people in Lahore, the district has %d", d.People, lahore.Population)
	}
	// The same polygon twice, and a circle inside it: the union counts every place once.
	c := cap.Circle{Center: cap.Point{Lat: lahore.Lat, Lon: lahore.Lon}, RadiusKM: 5}
	again, err := w.g.Resolve(cap.Area{Polygons: []cap.Polygon{outline, outline}, Circles: []cap.Circle{c}})
	if err != nil {
		t.Fatal(err)
	}
	if again.People != imp.People || !slices.Equal(again.Keys, imp.Keys) {
		t.Errorf("union: %d people, %d keys; want %d, %d", again.People, len(again.Keys), imp.People, len(imp.Keys))
	}

	// A circle: every point place within the radius by great-circle distance, none outside.
	circle := cap.Circle{Center: cap.Point{Lat: 30.07, Lon: 71.19}, RadiusKM: 40} // near Muzaffargarh
	ci, err := w.g.Resolve(cap.Area{Circles: []cap.Circle{circle}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	var people int64
	for _, p := range w.g.places {
		if !p.Kind.Region() && DistanceKM(30.07, 71.19, p.Lat, p.Lon) <= 40 {
			want = append(want, p.Key)
			people += p.Population
		}
	}
	slices.Sort(want)
	if !slices.Equal(ci.Keys, want) || ci.People != people || len(want) < 20 {
		t.Errorf("circle: %d places %d people, want %d places %d people", len(ci.Keys), ci.People, len(want), people)
	}
	// Nothing there: an empty impact, not an error.
	sea, err := w.g.Resolve(cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 20, Lon: 60}, RadiusKM: 10}}})
	if err != nil || sea.People != 0 || len(sea.Keys) != 0 || sea.Districts == nil {
		t.Errorf("the Arabian Sea: %+v, %v", sea, err)
	}
}

func TestResolveDegenerate(t *testing.T) {
	w := load(t)
	p := func(pts ...float64) cap.Polygon {
		var pg cap.Polygon
		for i := 0; i < len(pts); i += 2 {
			pg = append(pg, cap.Point{Lat: pts[i], Lon: pts[i+1]})
		}
		return pg
	}
	good := p(31, 74, 31, 75, 32, 75, 32, 74, 31, 74)
	for _, tc := range []struct {
		name string
		area cap.Area
		want string
	}{
		{"bow tie", cap.Area{Polygons: []cap.Polygon{good, p(31, 74, 32, 75, 31, 75, 32, 74, 31, 74)}}, "polygon 2 of the area: crosses itself at 31.5,74.5"},
		{"four identical points", cap.Area{Polygons: []cap.Polygon{p(31, 74, 31, 74, 31, 74, 31, 74)}}, "polygon 1 of the area: has only 1 distinct point(s)"},
		{"collinear", cap.Area{Polygons: []cap.Polygon{p(31, 74, 31, 75, 31, 76, 31, 74)}}, "polygon 1 of the area: runs back over itself"},
		{"open ring", cap.Area{Polygons: []cap.Polygon{p(31, 74, 31, 75, 32, 75, 32, 74)}}, "polygon 1 of the area: is not closed: the first point 31,74 differs from the last 32,74"},
		{"three points", cap.Area{Polygons: []cap.Polygon{p(31, 74, 31, 75, 31, 74)}}, "polygon 1 of the area: has 3 points"},
		{"latitude", cap.Area{Polygons: []cap.Polygon{p(91, 74, 31, 75, 32, 75, 91, 74)}}, "point 0 (91,74): latitude out of range"},
		{"radius 0", cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 74}}}}, "circle 1 of the area (31,74 0): radius 0 km: it must be greater than 0"},
		{"radius NaN", cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 74}, RadiusKM: 5}, {Center: cap.Point{Lat: 31, Lon: 74}, RadiusKM: math.NaN()}}}, "circle 2 of the area"},
		{"centre", cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 200}, RadiusKM: 5}}}, "centre (31,200): longitude out of range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.g.Resolve(tc.area)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want an error with %q", err, tc.want)
			}
			if _, _, err := w.g.Shape(tc.area); err == nil {
				t.Error("Shape took it")
			}
		})
	}
	// A circle that reaches the pole, and one as wide as the Earth: no crash, everything inside.
	imp, err := w.g.Resolve(cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 89, Lon: 0}, RadiusKM: 500}, {Center: cap.Point{Lat: 30, Lon: 70}, RadiusKM: 1e9}}})
	if err != nil || len(imp.Keys) != w.g.points.Count() {
		t.Errorf("the whole Earth: %d of %d places, %v", len(imp.Keys), w.g.points.Count(), err)
	}
}

func TestNewGazetteerRefuses(t *testing.T) {
	for _, tc := range []struct {
		ps   []Place
		want string
	}{
		{[]Place{{Kind: Village, Name: "x"}}, "has no key"},
		{[]Place{{Key: "a", Kind: Village}, {Key: "a", Kind: Village}}, `places 0 and 1 have the same key "a"`},
		{[]Place{{Key: "a", Kind: Village, Lat: 100}}, "latitude 100"},
		{[]Place{{Key: "a", Kind: Village, Population: -1}}, "negative"},
		{[]Place{{Key: "d", Kind: District}}, "has no boundary"},
	} {
		if _, err := NewGazetteer(tc.ps); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.ps, err, tc.want)
		}
	}
	g, err := NewGazetteer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if imp, err := g.Resolve(cap.Area{Circles: []cap.Circle{{Center: cap.Point{Lat: 1, Lon: 1}, RadiusKM: 1}}}); err != nil || imp.People != 0 {
		t.Errorf("empty gazetteer: %+v %v", imp, err)
	}
	if _, _, ok := g.Nearest(1, 1); ok {
		t.Error("nearest in an empty gazetteer")
	}
}

func TestNearest(t *testing.T) {
	w := load(t)
	p, d, ok := w.g.Nearest(31.558, 74.35071)
	if !ok || p.Key != "geonames:1172451" || d > 0.001 {
		t.Errorf("nearest to GeoNames Lahore: %s at %.3f km", p.Key, d)
	}
}

func TestPointIndex(t *testing.T) {
	w := load(t)
	rng := rand.New(rand.NewPCG(7, 7))
	pts := make([]Point, 20_000)
	for i := range pts {
		pts[i] = Point{ID: int64(i), Lat: 29 + rng.Float64()*5, Lon: 71 + rng.Float64()*5}
		if i%4 == 0 {
			pts[i].RadiusKM = rng.Float64() * 20
		}
	}
	x, err := NewPointIndex(pts)
	if err != nil {
		t.Fatal(err)
	}
	if x.Len() != len(pts) {
		t.Fatal(x.Len())
	}
	lahore := w.find(t, "district:Lahore")
	areas := []cap.Area{
		{Polygons: []cap.Polygon{Outline(lahore.Boundary, 1000)}},
		{Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 73}, RadiusKM: 60}}},
		{Geocodes: []cap.ValuePair{geo("district", "Muzaffargarh")}, Circles: []cap.Circle{{Center: cap.Point{Lat: 31, Lon: 73}, RadiusKM: 10}}},
	}
	for i, a := range areas {
		s, unknown, err := w.g.Shape(a)
		if err != nil || len(unknown) != 0 {
			t.Fatal(err, unknown)
		}
		got := x.IDs(s)
		slices.Sort(got)
		var want []int64
		for _, p := range pts {
			if brute(s, p) {
				want = append(want, p.ID)
			}
		}
		if !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("area %d: %d points, brute force %d", i, len(got), len(want))
		}
		n := 0
		x.Search(s, func(Point) bool { n++; return n < 3 })
		if n != 3 {
			t.Errorf("area %d: Search did not stop: %d", i, n)
		}
	}
	for _, bad := range []Point{{Lat: 91}, {Lon: -181}, {RadiusKM: -1}, {RadiusKM: math.Inf(1)}, {Lat: math.NaN()}} {
		if _, err := NewPointIndex([]Point{{ID: 1}, bad}); err == nil || !strings.Contains(err.Error(), "point 1 (id 0)") {
			t.Errorf("%+v: %v", bad, err)
		}
	}
}

// brute decides by measuring every polygon edge and circle: the point lies in the shape, or
// its radius meets an edge or a circle's rim.
func brute(s *Shape, p Point) bool {
	if s.Contains(p.Lat, p.Lon) {
		return true
	}
	if p.RadiusKM == 0 {
		return false
	}
	for _, c := range s.circles {
		if DistanceKM(c.lat, c.lon, p.Lat, p.Lon) <= c.km+p.RadiusKM {
			return true
		}
	}
	c := math.Cos(p.Lat * math.Pi / 180)
	for _, pg := range s.polys {
		for _, e := range pg.edges {
			ax, ay := (e.ax-p.Lon)*c*kmPerDegree, (e.ay-p.Lat)*kmPerDegree
			bx, by := (e.bx-p.Lon)*c*kmPerDegree, (e.by-p.Lat)*kmPerDegree
			if segDist(ax, ay, bx, by) <= p.RadiusKM {
				return true
			}
		}
	}
	return false
}

func TestContainsMatchesSimplefeatures(t *testing.T) {
	// The prepared even-odd test against a brute-force ray cast over every edge and against
	// simplefeatures' own point-in-polygon (geom.Intersects), on a real multi-part boundary.
	w := load(t)
	d := w.find(t, "district:Keamari") // 8 parts: islands in the harbour
	pg := shapeOf(d.Boundary)
	rng := rand.New(rand.NewPCG(3, 3))
	inside := 0
	for i := 0; i < 5000; i++ {
		x := pg.box.MinX + rng.Float64()*(pg.box.MaxX-pg.box.MinX)
		y := pg.box.MinY + rng.Float64()*(pg.box.MaxY-pg.box.MinY)
		n := 0
		for _, e := range pg.edges {
			if (e.ay > y) != (e.by > y) && e.ax+(y-e.ay)*(e.bx-e.ax)/(e.by-e.ay) < x {
				n++
			}
		}
		if got := pg.contains(x, y); got != (n%2 == 1) {
			t.Fatalf("(%v, %v): contains %v, brute force %v", y, x, got, n%2 == 1)
		}
		if sf := geom.Intersects(geom.XY{X: x, Y: y}.AsPoint().AsGeometry(), d.Boundary.AsGeometry()); sf != (n%2 == 1) {
			t.Fatalf("(%v, %v): simplefeatures says %v, brute force %v", y, x, sf, n%2 == 1)
		}
		if n%2 == 1 {
			inside++
		}
	}
	if inside == 0 {
		t.Error("no point inside")
	}
}

func TestDistanceKM(t *testing.T) {
	// Lahore to Karachi: about 1,030 km by great circle.
	if d := DistanceKM(31.558, 74.35071, 24.8608, 67.0104); math.Abs(d-1030) > 10 {
		t.Errorf("Lahore–Karachi %.1f km", d)
	}
	if d := DistanceKM(0, 0, 0, 180); math.Abs(d-math.Pi*EarthRadiusKM) > 1e-6 {
		t.Errorf("half the equator %.3f km", d)
	}
}

func TestParseConnectivity(t *testing.T) {
	for _, s := range []string{"fibre", " Mobile-Data ", "SMS-ONLY", "none"} {
		if _, err := ParseConnectivity(s); err != nil {
			t.Error(err)
		}
	}
	for _, s := range []string{"", "fiber", "sms"} {
		if _, err := ParseConnectivity(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}
