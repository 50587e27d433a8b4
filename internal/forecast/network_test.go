package forecast

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// small builds a network from "from>to" pairs; every named station exists.
func small(t testing.TB, tt map[string]time.Duration, pairs ...string) *Network {
	t.Helper()
	var st []Station
	var rs []Reach
	seen := map[string]bool{}
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			st = append(st, Station{ID: id})
		}
	}
	for _, p := range pairs {
		f, to, _ := strings.Cut(p, ">")
		add(f)
		add(to)
		rs = append(rs, Reach{From: f, To: to, LengthKM: 10, TravelTime: tt[p]})
	}
	n, err := NewNetwork(st, rs)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkOrder fails unless every reach's From comes before its To in order.
func checkOrder(t *testing.T, n *Network, order []string) {
	t.Helper()
	if len(order) != len(n.Stations()) {
		t.Fatalf("order has %d stations, network %d", len(order), len(n.Stations()))
	}
	pos := map[string]int{}
	for i, id := range order {
		if _, dup := pos[id]; dup {
			t.Fatalf("%s twice in order", id)
		}
		pos[id] = i
	}
	for _, r := range n.Reaches() {
		if pos[r.From] >= pos[r.To] {
			t.Errorf("order %v puts %s (upstream) after %s", order, r.From, r.To)
		}
	}
}

func TestNetworkOrderAndUpstream(t *testing.T) {
	// Listed downstream first, so file order is not already a topological order.
	n := small(t, nil, "c>d", "b>c", "a>c", "x>y", "e>b")
	order := n.Order()
	checkOrder(t, n, order)

	up, err := n.Upstream("d")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	done := map[string]bool{}
	for _, r := range up {
		got = append(got, r.From+">"+r.To)
		// Every reach ending at r.From must already be listed.
		for _, r2 := range n.Reaches() {
			if r2.To == r.From && !done[r2.From+">"+r2.To] {
				t.Errorf("reach %s>%s listed before its inflow %s>%s", r.From, r.To, r2.From, r2.To)
			}
		}
		done[r.From+">"+r.To] = true
	}
	slices.Sort(got)
	if want := []string{"a>c", "b>c", "c>d", "e>b"}; !slices.Equal(got, want) {
		t.Errorf("Upstream(d) = %v, want %v", got, want)
	}
	if up, _ := n.Upstream("a"); len(up) != 0 {
		t.Errorf("Upstream(a) = %v, want none", up)
	}
	if up, _ := n.Upstream("y"); len(up) != 1 || up[0].From != "x" {
		t.Errorf("Upstream(y) = %v, want x>y", up)
	}
	if _, err := n.Upstream("nope"); !errors.Is(err, ErrUnknownStation) {
		t.Errorf("Upstream(nope) err = %v, want ErrUnknownStation", err)
	}
	if r, ok := n.Downstream("b"); !ok || r.To != "c" {
		t.Errorf("Downstream(b) = %v %v", r, ok)
	}
	if _, ok := n.Downstream("d"); ok {
		t.Error("Downstream(d) found a reach")
	}
}

func TestNetworkHorizon(t *testing.T) {
	h := time.Hour
	// e→b→c takes 5+3, a→c takes 2, c→d 4: longest to d is e,b,c,d = 12 h; shortest a,c,d = 6 h.
	n := small(t, map[string]time.Duration{"e>b": 5 * h, "b>c": 3 * h, "a>c": 2 * h, "c>d": 4 * h}, "c>d", "b>c", "a>c", "e>b", "x>y")
	hz, err := n.Horizon("d")
	if err != nil {
		t.Fatal(err)
	}
	if hz.Longest != 12*h || hz.Shortest != 6*h || !slices.Equal(hz.Path, []string{"e", "b", "c", "d"}) || len(hz.Unknown) != 0 {
		t.Errorf("Horizon(d) = %+v, want longest 12h via e,b,c,d, shortest 6h, none unknown", hz)
	}
	hz, _ = n.Horizon("e")
	if hz.Longest != 0 || !slices.Equal(hz.Path, []string{"e"}) {
		t.Errorf("Horizon(e) = %+v, want 0 and path [e]", hz)
	}
	hz, _ = n.Horizon("y") // x>y has no travel time
	if hz.Longest != 0 || len(hz.Unknown) != 1 || hz.Unknown[0].From != "x" {
		t.Errorf("Horizon(y) = %+v, want 0 with x>y unknown", hz)
	}
	if _, err := n.Horizon("nope"); !errors.Is(err, ErrUnknownStation) {
		t.Errorf("Horizon(nope) err = %v", err)
	}
}

func TestLoadNetworkErrors(t *testing.T) {
	const head = "stations:\n  - {id: a}\n  - {id: b}\n  - {id: c}\nreaches:\n"
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown to", head + "  - {from: a, to: b}\n  - {from: b, to: zz}\n", []string{"line 7", "reaches[1].to", `unknown station "zz"`}},
		{"unknown from", head + "  - {from: qq, to: b}\n", []string{"line 6", "reaches[0].from", `"qq"`}},
		{"self-loop", head + "  - {from: a, to: a}\n", []string{"line 6", "reaches[0].to", "self-loop"}},
		{"cycle", head + "  - {from: a, to: b}\n  - {from: b, to: c}\n  - {from: c, to: a}\n", []string{"cycle through stations a, b, c", "line 6"}},
		{"negative length", head + "  - from: a\n    to: b\n    length_km: -3\n", []string{"line 8", "reaches[0].length_km", "-3"}},
		{"bad length", head + "  - {from: a, to: b, length_km: far}\n", []string{"line 6", "length_km", `"far" is not a number`}},
		{"zero travel time", head + "  - {from: a, to: b, travel_time_h: 0}\n", []string{"line 6", "travel_time_h", "want hours > 0"}},
		{"nan length", head + "  - {from: a, to: b, length_km: .nan}\n", []string{"length_km"}},
		{"split", head + "  - {from: a, to: b}\n  - {from: a, to: c}\n", []string{"line 7", "reaches[1].from", "already has a downstream reach"}},
		{"duplicate reach", head + "  - {from: a, to: b}\n  - {from: a, to: b}\n", []string{"line 7", "duplicate reach"}},
		{"duplicate station", "stations:\n  - {id: a}\n  - {id: a}\n", []string{"line 3", "stations[1].id", "duplicate"}},
		{"unknown key", head + "  - {from: a, to: b, speed: 3}\n", []string{"line 6", "reaches[0].speed", "unknown key"}},
		{"unknown top key", "stationz: []\n", []string{"line 1", "stationz", "unknown key"}},
		{"lat only", "stations:\n  - {id: a, lat: 3}\n", []string{"line 2", "both lat and lon"}},
		{"lat range", "stations:\n  - {id: a, lat: 95, lon: 3}\n", []string{"line 2", "stations[0].lat"}},
		{"missing id", "stations:\n  - {name: x}\n", []string{"line 2", "stations[0].id", "missing"}},
		{"no stations", "reaches: []\n", []string{"no stations"}},
		{"not a mapping", "- a\n", []string{"want a mapping"}},
		{"syntax", "stations: [\n", []string{"river network"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := LoadNetwork([]byte(tc.yaml))
			if err == nil {
				t.Fatalf("loaded %v, want an error", n.Order())
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestNewNetworkErrors covers the errors of a network built in code (no file: no line).
func TestNewNetworkErrors(t *testing.T) {
	st := []Station{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	for _, tc := range []struct {
		name     string
		stations []Station
		reaches  []Reach
		want     string
	}{
		{"cycle", st, []Reach{{From: "b", To: "c"}, {From: "c", To: "b"}}, "river network: reaches[0]: cycle through stations b, c"},
		{"negative travel time", st, []Reach{{From: "a", To: "b", TravelTime: -time.Hour}}, "reaches[0].travel_time_h"},
		{"infinite length", st, []Reach{{From: "a", To: "b", LengthKM: math.Inf(1)}}, "reaches[0].length_km"},
		{"bad id", []Station{{ID: "a b"}}, nil, "stations[0].id"},
		{"none", nil, nil, "no stations"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewNetwork(tc.stations, tc.reaches)
			var ne *NetworkError
			if !errors.As(err, &ne) || ne.Line != 0 || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want a NetworkError without line saying %q", err, tc.want)
			}
		})
	}
}

func TestDemoNetwork(t *testing.T) {
	n, err := PunjabIndus()
	if err != nil {
		t.Fatal(err)
	}
	// The 18 PDMA Punjab gauges plus Guddu, Sukkur, Kotri.
	if got := len(n.Stations()); got != 21 {
		t.Errorf("%d stations, want 21", got)
	}
	checkOrder(t, n, n.Order())
	// Confluences the issue names.
	joins := map[string][]string{}
	for _, r := range n.Reaches() {
		joins[r.To] = append(joins[r.To], r.From)
	}
	for to, from := range map[string][]string{
		"trimmu":  {"qadirabad", "rasul"},         // Jhelum joins the Chenab above Trimmu
		"panjnad": {"trimmu", "sidhnai", "islam"}, // Ravi and Sutlej join above Panjnad
		"guddu":   {"taunsa", "panjnad"},          // Panjnad joins the Indus above Guddu
		"sukkur":  {"guddu"},
	} {
		got := slices.Clone(joins[to])
		slices.Sort(got)
		slices.Sort(from)
		if !slices.Equal(got, from) {
			t.Errorf("reaches into %s from %v, want %v", to, got, from)
		}
	}
	// Everything drains to Kotri.
	up, err := n.Upstream("kotri")
	if err != nil {
		t.Fatal(err)
	}
	if len(up) != len(n.Reaches()) {
		t.Errorf("Upstream(kotri) has %d reaches, want all %d", len(up), len(n.Reaches()))
	}
	// Horizon at Sukkur: the longest known path; the figures give Tarbela→Chashma 48 h
	// and Guddu→Sukkur 24 h, so the Indus path alone is at least 72 h.
	hz, err := n.Horizon("sukkur")
	if err != nil {
		t.Fatal(err)
	}
	var sum time.Duration
	for i := 0; i+1 < len(hz.Path); i++ {
		r, _ := n.Downstream(hz.Path[i])
		if r.To != hz.Path[i+1] {
			t.Fatalf("path %v: %s does not flow to %s", hz.Path, hz.Path[i], hz.Path[i+1])
		}
		sum += r.TravelTime
	}
	if sum != hz.Longest || hz.Longest < 72*time.Hour || hz.Path[len(hz.Path)-1] != "sukkur" {
		t.Errorf("Horizon(sukkur) = %v via %v (path sum %v)", hz.Longest, hz.Path, sum)
	}
	if len(hz.Unknown) == 0 {
		t.Error("Horizon(sukkur) lists no unknown reach, but the Jhelum, Ravi and Sutlej have no travel time")
	}
	t.Logf("Horizon(sukkur): longest %v via %v, shortest %v, %d reaches unknown", hz.Longest, hz.Path, hz.Shortest, len(hz.Unknown))
}

// TestDemoNetworkLengths recomputes every reach length of the demo network from the Natural
// Earth river lines in testdata and the station coordinates, as data/PROVENANCE.md describes,
// and checks the file's figures (rounded to 0.1 km) and that every station lies on its river.
func TestDemoNetworkLengths(t *testing.T) {
	n, err := PunjabIndus()
	if err != nil {
		t.Fatal(err)
	}
	lines := riverLines(t, "testdata/ne_50m_rivers_indus_chenab_sutlej.geojson")
	indus := lines["Indus"][7]
	chenab := slices.Concat(lines["Chenab"][1], lines["Chenab"][0]) // part 1 ends where part 0 starts
	sutlej := lines["Sutlej"][2]
	pt := func(id string) [2]float64 {
		s, ok := n.Station(id)
		if !ok || !s.HasPosition {
			t.Fatalf("station %s missing or without position", id)
		}
		return [2]float64{s.Lon, s.Lat}
	}
	// Stations at their own position lie within 6 km of the line; a town centre standing in
	// for a structure (approx) within 20 km.
	near := func(id string, d float64) {
		s, _ := n.Station(id)
		if lim := map[bool]float64{false: 6, true: 20}[s.Approx]; d > lim {
			t.Errorf("station %s is %.1f km from its river line, more than %v km", id, d, lim)
		}
	}
	along := func(line [][2]float64, a, b string) float64 {
		da, ca := snap(line, pt(a))
		db, cb := snap(line, pt(b))
		near(a, da)
		near(b, db)
		return cb - ca
	}
	// Panjnad → Guddu: the Chenab from Panjnad to its end, then the Indus from that point.
	chenabIndus := slices.Concat(chenab, cutFrom(indus, chenab[len(chenab)-1]))
	want := map[string]float64{}
	for _, r := range [][2]string{{"tarbela", "kalabagh"}, {"kalabagh", "chashma"}, {"chashma", "taunsa"}, {"taunsa", "guddu"}, {"guddu", "sukkur"}, {"sukkur", "kotri"}} {
		want[r[0]+">"+r[1]] = along(indus, r[0], r[1])
	}
	for _, r := range [][2]string{{"marala", "khanki"}, {"khanki", "qadirabad"}, {"qadirabad", "trimmu"}, {"trimmu", "panjnad"}} {
		want[r[0]+">"+r[1]] = along(chenab, r[0], r[1])
	}
	for _, r := range [][2]string{{"gs_wala", "suleimanki"}, {"suleimanki", "islam"}, {"islam", "panjnad"}} {
		want[r[0]+">"+r[1]] = along(sutlej, r[0], r[1])
	}
	want["panjnad>guddu"] = along(chenabIndus, "panjnad", "guddu")
	for _, r := range [][2]string{{"mangla", "rasul"}, {"rasul", "trimmu"}, {"jassar", "shahdara"}, {"shahdara", "balloki"}, {"balloki", "sidhnai"}} {
		want[r[0]+">"+r[1]] = haversine(pt(r[0]), pt(r[1]))
	}
	// Sidhnai: great-circle to the nearest point of the Chenab, then along the Chenab.
	_, join, _ := project(chenab, pt("sidhnai"))
	_, cj := snap(chenab, join)
	dp, cp := snap(chenab, pt("panjnad"))
	near("panjnad", dp)
	want["sidhnai>panjnad"] = haversine(pt("sidhnai"), join) + cp - cj
	if len(want) != len(n.Reaches()) {
		t.Errorf("measured %d reaches, the network has %d", len(want), len(n.Reaches()))
	}
	for _, r := range n.Reaches() {
		w, ok := want[r.From+">"+r.To]
		if !ok {
			t.Errorf("reach %s>%s not measured", r.From, r.To)
			continue
		}
		if math.Abs(w-r.LengthKM) > 0.15 {
			t.Errorf("reach %s>%s: file says %.1f km, measured %.2f km", r.From, r.To, r.LengthKM, w)
		}
	}
}

// riverLines reads the LineString/MultiLineString parts of a GeoJSON FeatureCollection by
// feature name, in file order.
func riverLines(t *testing.T, path string) map[string][][][2]float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var fc struct {
		Features []struct {
			Properties struct{ Name string }
			Geometry   struct {
				Type        string
				Coordinates json.RawMessage
			}
		}
	}
	if err := json.Unmarshal(b, &fc); err != nil {
		t.Fatal(err)
	}
	out := map[string][][][2]float64{}
	for _, f := range fc.Features {
		var parts [][][2]float64
		switch f.Geometry.Type {
		case "MultiLineString":
			err = json.Unmarshal(f.Geometry.Coordinates, &parts)
		case "LineString":
			var l [][2]float64
			err = json.Unmarshal(f.Geometry.Coordinates, &l)
			parts = [][][2]float64{l}
		}
		if err != nil {
			t.Fatal(err)
		}
		out[f.Properties.Name] = append(out[f.Properties.Name], parts...)
	}
	return out
}

// haversine is the great-circle distance in km between two lon/lat points.
func haversine(a, b [2]float64) float64 {
	const r = 6371.0088 // mean Earth radius, km (IUGG)
	rad := math.Pi / 180
	dlat, dlon := (b[1]-a[1])*rad, (b[0]-a[0])*rad
	h := math.Sin(dlat/2)*math.Sin(dlat/2) + math.Cos(a[1]*rad)*math.Cos(b[1]*rad)*math.Sin(dlon/2)*math.Sin(dlon/2)
	return 2 * r * math.Asin(math.Sqrt(h))
}

// project finds the point of line nearest p (nearest on each segment in a local
// equirectangular projection, distance by haversine): the segment index, the point, and the
// distance from p in km.
func project(line [][2]float64, p [2]float64) (seg int, q [2]float64, dist float64) {
	k := math.Cos(p[1] * math.Pi / 180)
	dist = math.Inf(1)
	for i := 0; i+1 < len(line); i++ {
		a, b := line[i], line[i+1]
		dx, dy := (b[0]-a[0])*k, b[1]-a[1]
		u := 0.0
		if l := dx*dx + dy*dy; l > 0 {
			u = min(1, max(0, ((p[0]-a[0])*k*dx+(p[1]-a[1])*dy)/l))
		}
		c := [2]float64{a[0] + u*(b[0]-a[0]), a[1] + u*(b[1]-a[1])}
		if d := haversine(c, p); d < dist {
			seg, q, dist = i, c, d
		}
	}
	return seg, q, dist
}

// snap returns p's distance from line and its chainage (km along the line from its start).
func snap(line [][2]float64, p [2]float64) (dist, chainage float64) {
	seg, q, dist := project(line, p)
	for i := 0; i < seg; i++ {
		chainage += haversine(line[i], line[i+1])
	}
	return dist, chainage + haversine(line[seg], q)
}

// cutFrom returns line from the point nearest p onwards.
func cutFrom(line [][2]float64, p [2]float64) [][2]float64 {
	seg, q, _ := project(line, p)
	return slices.Concat([][2]float64{q}, line[seg+1:])
}

func FuzzLoadNetwork(f *testing.F) {
	f.Add(punjabIndus)
	f.Add([]byte("stations:\n  - {id: a}\n  - {id: b}\nreaches:\n  - {from: a, to: b, length_km: 3, travel_time_h: 2}\n"))
	f.Add([]byte("stations:\n  - {id: a}\n  - {id: b}\nreaches:\n  - {from: a, to: b}\n  - {from: b, to: a}\n"))
	f.Add([]byte("stations:\n  - {id: a, lat: 1, lon: 2}\nreaches:\n  - {from: a, to: a}\n"))
	f.Add([]byte("stations: [{id: a}, {id: b}]\nreaches: [{from: a, to: b, length_km: -1}]\n"))
	f.Add([]byte("stations: &x [{id: a}]\nreaches: *x\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := LoadNetwork(data)
		if err != nil {
			return
		}
		order := n.Order()
		checkOrder(t, n, order)
		for _, id := range order {
			up, err := n.Upstream(id)
			if err != nil {
				t.Fatal(err)
			}
			hz, err := n.Horizon(id)
			if err != nil {
				t.Fatal(err)
			}
			if hz.Longest < hz.Shortest || hz.Path[len(hz.Path)-1] != id || len(hz.Unknown) > len(up) {
				t.Fatalf("Horizon(%s) = %+v with %d upstream reaches", id, hz, len(up))
			}
		}
		for _, r := range n.Reaches() {
			if r.LengthKM < 0 || r.TravelTime < 0 || r.From == r.To {
				t.Fatalf("invalid reach accepted: %+v", r)
			}
		}
	})
}

func BenchmarkDemoNetworkOrder(b *testing.B) {
	n, err := PunjabIndus()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		_ = n.Order()
	}
}

func BenchmarkDemoNetworkUpstreamHorizon(b *testing.B) {
	n, err := PunjabIndus()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := n.Upstream("kotri"); err != nil {
			b.Fatal(err)
		}
		if _, err := n.Horizon("kotri"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLoadDemoNetwork(b *testing.B) {
	for b.Loop() {
		if _, err := LoadNetwork(punjabIndus); err != nil {
			b.Fatal(err)
		}
	}
}
