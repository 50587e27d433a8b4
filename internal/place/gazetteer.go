package place

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"unicode"

	"github.com/peterstace/simplefeatures/rtree"

	"github.com/rabta/rabta/internal/cap"
)

// Gazetteer answers which places, and how many people, lie in a CAP area. Build it once from
// the places (Load, Villages, ReadVillages, or the store's list) with NewGazetteer; it is
// immutable and safe for concurrent use.
type Gazetteer struct {
	places  []Place
	byKey   map[string]int
	points  *rtree.RTree            // towns and villages, record = index into places
	named   map[Kind]map[string]int // normalised region name → index, per region kind
	shapes  map[int]*poly           // region index → prepared boundary
	members map[int][]int           // region index → the points whose District/Division/Province is it
}

// NewGazetteer indexes places: points (towns, villages) in an R-tree, regions (provinces,
// divisions, districts) by name for geocodes and with their boundaries prepared. The places
// are copied. The error names the first place that is unusable: an empty or repeated Key, a
// coordinate out of range, a region without a Boundary, a negative population.
func NewGazetteer(places []Place) (*Gazetteer, error) {
	g := &Gazetteer{places: append([]Place(nil), places...), byKey: make(map[string]int, len(places)),
		named: map[Kind]map[string]int{}, shapes: map[int]*poly{}, members: map[int][]int{}}
	var items []rtree.BulkItem
	for i := range g.places {
		p := &g.places[i]
		if p.Key == "" {
			return nil, fmt.Errorf("gazetteer: place %d (%q) has no key", i, p.Name)
		}
		if j, dup := g.byKey[p.Key]; dup {
			return nil, fmt.Errorf("gazetteer: places %d and %d have the same key %q", j, i, p.Key)
		}
		g.byKey[p.Key] = i
		if err := checkPoint(p.Lat, p.Lon); err != nil {
			return nil, fmt.Errorf("gazetteer: place %q: %w", p.Key, err)
		}
		if p.Population < 0 {
			return nil, fmt.Errorf("gazetteer: place %q: population %d is negative", p.Key, p.Population)
		}
		if p.Kind.Region() {
			if p.Boundary == nil {
				return nil, fmt.Errorf("gazetteer: %s %q has no boundary", p.Kind, p.Key)
			}
			if g.named[p.Kind] == nil {
				g.named[p.Kind] = map[string]int{}
			}
			g.named[p.Kind][norm(p.Name)] = i
			g.shapes[i] = shapeOf(p.Boundary)
			continue
		}
		items = append(items, rtree.BulkItem{Box: rtree.Box{MinX: p.Lon, MinY: p.Lat, MaxX: p.Lon, MaxY: p.Lat}, RecordID: i})
	}
	g.points = rtree.BulkLoad(items)
	for _, it := range items {
		p := &g.places[it.RecordID]
		for _, r := range []struct {
			k    Kind
			name string
		}{{District, p.District}, {Division, p.Division}, {Province, p.Province}} {
			if r.name == "" {
				continue
			}
			if j, ok := g.named[r.k][norm(r.name)]; ok {
				g.members[j] = append(g.members[j], it.RecordID)
			}
		}
	}
	for k, a := range isoProvinces {
		if j, ok := g.named[Province][norm(a)]; ok {
			g.named[Province][k] = j
		}
	}
	return g, nil
}

// isoProvinces maps the ISO 3166-2:PK subdivision codes (without "PK-", lower case) and one
// common short form to the province names of the data.
var isoProvinces = map[string]string{
	"ba": "Balochistan", "gb": "Gilgit-Baltistan", "is": "Islamabad Capital Territory", "kp": "Khyber Pakhtunkhwa",
	"pb": "Punjab", "sd": "Sindh", "jk": "Azad Jammu & Kashmir", "ajk": "Azad Jammu & Kashmir", "ict": "Islamabad Capital Territory",
}

// norm folds a region name for geocode matching: "PK-" prefix dropped, "&" read as "and",
// case, spaces and punctuation ignored ("PK-Dera Ghazi Khan" = "dera ghazi-khan").
func norm(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(s, "pk-")
	s = strings.ReplaceAll(s, "&", "and")
	var b strings.Builder
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// geocodeKind maps a CAP geocode valueName to the kind of region it names.
func geocodeKind(valueName string) (Kind, bool) {
	switch strings.ToLower(strings.TrimSpace(valueName)) {
	case "district", "pk-district":
		return District, true
	case "division", "pk-division":
		return Division, true
	case "province", "pk-province", "iso3166-2":
		return Province, true
	}
	return "", false
}

// Len is the number of places.
func (g *Gazetteer) Len() int { return len(g.places) }

// Place returns the place with key.
func (g *Gazetteer) Place(key string) (Place, bool) {
	i, ok := g.byKey[key]
	if !ok {
		return Place{}, false
	}
	return g.places[i], true
}

// Places returns the places (a copy of the slice; the Boundaries are shared, do not change them).
func (g *Gazetteer) Places() []Place { return append([]Place(nil), g.places...) }

// Region returns the province, division or district a geocode names (see the package
// documentation for the scheme), or a reason why it names none.
func (g *Gazetteer) Region(gc cap.ValuePair) (Place, error) {
	i, err := g.region(gc)
	if err != nil {
		return Place{}, err
	}
	return g.places[i], nil
}

func (g *Gazetteer) region(gc cap.ValuePair) (int, error) {
	k, ok := geocodeKind(gc.ValueName)
	if !ok {
		return 0, fmt.Errorf("geocode scheme %q is not one of district, division, province", gc.ValueName)
	}
	i, ok := g.named[k][norm(gc.Value)]
	if !ok {
		return 0, fmt.Errorf("no %s is named %q", k, gc.Value)
	}
	return i, nil
}

// UnknownGeocode is a geocode of the area that names no known region, and why.
type UnknownGeocode struct {
	Geocode cap.ValuePair `json:"geocode"`
	Reason  string        `json:"reason"`
}

// Shape compiles area into a Shape (see Compile) whose parts include the boundaries of the
// regions its geocodes name; geocodes that name none are returned, not ignored. The error is
// Compile's.
func (g *Gazetteer) Shape(area cap.Area) (*Shape, []UnknownGeocode, error) {
	s, err := Compile(area)
	if err != nil {
		return nil, nil, err
	}
	var unknown []UnknownGeocode
	for _, gc := range area.Geocodes {
		i, err := g.region(gc)
		if err != nil {
			unknown = append(unknown, UnknownGeocode{gc, err.Error()})
			continue
		}
		s.polys = append(s.polys, g.shapes[i])
	}
	return s, unknown, nil
}

// Impact is what a CAP area reaches: the towns and villages inside it (and the regions its
// geocodes name), and the people living in them.
type Impact struct {
	// People is the sum of the Population of the towns and villages reached. Region
	// populations are not added: they are the sum of their towns and villages when villages
	// have been generated or imported for them (see Villages).
	People int64 `json:"people"`
	// Places counts what is reached by kind: towns and villages inside the area, regions
	// named by its geocodes.
	Places map[Kind]int `json:"places"`
	// Villages counts the villages reached by connectivity.
	Villages map[Connectivity]int `json:"villages"`
	// Languages sums People by the first (most spoken) language of each place reached: how
	// many people a message in that language addresses first (Urdu is understood by most).
	Languages map[string]int64 `json:"languages"`
	// Synthetic counts the synthetic places among those reached (their people are not real).
	Synthetic int `json:"synthetic"`
	// Districts are the districts the reached places lie in, most people first.
	Districts []DistrictImpact `json:"districts"`
	// Keys are the keys of every place reached (regions named by geocodes included), sorted.
	Keys []string `json:"keys"`
	// Unknown lists the area's geocodes that name no known region.
	Unknown []UnknownGeocode `json:"unknown,omitempty"`
}

// DistrictImpact is the part of an Impact in one district.
type DistrictImpact struct {
	Key      string `json:"key"` // "district:<name>"
	Name     string `json:"name"`
	Province string `json:"province"`
	People   int64  `json:"people"`
	Places   int    `json:"places"`
}

// Resolve answers which places, and how many people, lie in area: inside the union of its
// polygons (lat,lon rings, even-odd rule), within its circles (great-circle distance from
// the centre ≤ radius km), or in the regions its geocodes name (by the places' District,
// Division or Province, so a town on a district's border counts once, in its own district).
// A place reached by several parts counts once. A degenerate polygon or circle is an error
// naming it (see Compile); unknown geocodes are listed in Impact.Unknown.
func (g *Gazetteer) Resolve(area cap.Area) (Impact, error) {
	s, err := Compile(area)
	if err != nil {
		return Impact{}, err
	}
	in := make([]bool, len(g.places))
	for _, b := range s.boxes() {
		g.points.RangeSearch(b, func(i int) error {
			if !in[i] {
				p := &g.places[i]
				in[i] = s.Contains(p.Lat, p.Lon)
			}
			return nil
		})
	}
	var unknown []UnknownGeocode
	for _, gc := range area.Geocodes {
		j, err := g.region(gc)
		if err != nil {
			unknown = append(unknown, UnknownGeocode{gc, err.Error()})
			continue
		}
		in[j] = true
		for _, i := range g.members[j] {
			in[i] = true
		}
	}
	imp := Impact{Places: map[Kind]int{}, Villages: map[Connectivity]int{}, Languages: map[string]int64{}, Unknown: unknown, Keys: []string{},
		Districts: []DistrictImpact{}}
	byDistrict := map[string]*DistrictImpact{}
	for i, ok := range in {
		if !ok {
			continue
		}
		p := &g.places[i]
		imp.Places[p.Kind]++
		imp.Keys = append(imp.Keys, p.Key)
		if p.Synthetic {
			imp.Synthetic++
		}
		if p.Kind.Region() {
			continue
		}
		imp.People += p.Population
		if len(p.Languages) > 0 {
			imp.Languages[p.Languages[0]] += p.Population
		}
		if p.Kind == Village {
			imp.Villages[p.Connectivity]++
		}
		if p.District == "" {
			continue
		}
		d := byDistrict[p.District]
		if d == nil {
			d = &DistrictImpact{Key: string(District) + ":" + p.District, Name: p.District, Province: p.Province}
			byDistrict[p.District] = d
		}
		d.People += p.Population
		d.Places++
	}
	for _, d := range byDistrict {
		imp.Districts = append(imp.Districts, *d)
	}
	sort.Slice(imp.Districts, func(i, j int) bool {
		a, b := imp.Districts[i], imp.Districts[j]
		if a.People != b.People {
			return a.People > b.People
		}
		return a.Name < b.Name
	})
	sort.Strings(imp.Keys)
	return imp, nil
}

// Nearest returns the point place (town or village) nearest to (lat, lon) by great-circle
// distance, and that distance in km; false when the gazetteer has no point place.
func (g *Gazetteer) Nearest(lat, lon float64) (Place, float64, bool) {
	best, dist := -1, math.Inf(1)
	// The R-tree ranks by planar distance in degrees; check the first few by great circle.
	n := 0
	g.points.PrioritySearch(rtree.Box{MinX: lon, MinY: lat, MaxX: lon, MaxY: lat}, func(i int) error {
		p := &g.places[i]
		if d := DistanceKM(lat, lon, p.Lat, p.Lon); d < dist {
			best, dist = i, d
		}
		if n++; n >= 16 {
			return rtree.Stop
		}
		return nil
	})
	if best < 0 {
		return Place{}, 0, false
	}
	return g.places[best], dist, true
}
