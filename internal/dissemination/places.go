package dissemination

import (
	"fmt"
	"sync"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/place"
)

// Places is the Gazetteer over package place: the node's places (real boundaries, towns, and
// imported or synthetic villages).
type Places struct{ G *place.Gazetteer }

// Known tells whether key names a place.
func (p Places) Known(key string) bool {
	_, ok := p.G.Place(key)
	return ok
}

// Reach implements Gazetteer: the union of what each area reaches, each place counted once.
// The keys are the towns and villages inside, the regions geocodes name, and the districts
// the reached places lie in (a subscriber whose place of interest is a district is warned
// when any of it is).
func (p Places) Reach(areas []cap.Area) (Reach, error) {
	r := Reach{Keys: map[string]string{}, Places: map[string]int{}, Villages: map[string]int{}}
	districts := map[string]*DistrictReach{}
	var order []string
	for _, a := range areas {
		imp, err := p.G.Resolve(a)
		if err != nil {
			return Reach{}, err
		}
		for _, key := range imp.Keys {
			if _, seen := r.Keys[key]; seen {
				continue
			}
			pl, ok := p.G.Place(key)
			if !ok {
				continue
			}
			r.Keys[key] = string(pl.Connectivity)
			switch pl.Kind {
			case place.Town, place.Village:
				r.People += pl.Population
				r.Places[string(pl.Kind)]++
				if pl.Kind == place.Village {
					r.Villages[string(pl.Connectivity)]++
				}
				if pl.District != "" {
					d := districts[pl.District]
					if d == nil {
						d = &DistrictReach{Name: pl.District, Province: pl.Province}
						districts[pl.District] = d
						order = append(order, pl.District)
					}
					d.People += pl.Population
				}
			default:
				r.Places[string(pl.Kind)]++
			}
		}
		for _, u := range imp.Unknown {
			r.Unresolved = append(r.Unresolved, fmt.Sprintf("geocode %s=%s: %s", u.Geocode.ValueName, u.Geocode.Value, u.Reason))
		}
	}
	for _, name := range order {
		r.Districts = append(r.Districts, *districts[name])
		if _, ok := r.Keys["district:"+name]; !ok {
			r.Keys["district:"+name] = ""
		}
	}
	sortDistricts(r.Districts)
	return r, nil
}

func sortDistricts(ds []DistrictReach) {
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j].People > ds[j-1].People; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
}

// PointIndex is Points over place.PointIndex, built on the first search after the points
// were added (place's index is bulk-built).
type PointIndex struct {
	// Regions returns the gazetteer that resolves geocodes to region shapes, when a search
	// needs it (nil: polygons and circles only).
	Regions func() (*place.Gazetteer, error)

	mu  sync.Mutex
	pts []place.Point
	idx *place.PointIndex
}

// NewPoints returns a func making empty point indexes over g, for Service.Points.
func NewPoints(g *place.Gazetteer) func() Points {
	return func() Points { return &PointIndex{Regions: func() (*place.Gazetteer, error) { return g, nil }} }
}

// Add implements Points.
func (x *PointIndex) Add(id int64, lat, lon, radiusKM float64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.pts = append(x.pts, place.Point{ID: id, Lat: lat, Lon: lon, RadiusKM: radiusKM})
	x.idx = nil
}

// Within implements Points.
func (x *PointIndex) Within(areas []cap.Area) ([]int64, error) {
	x.mu.Lock()
	if x.idx == nil {
		idx, err := place.NewPointIndex(x.pts)
		if err != nil {
			x.mu.Unlock()
			return nil, err
		}
		x.idx = idx
	}
	idx := x.idx
	x.mu.Unlock()
	seen := map[int64]bool{}
	var out []int64
	for _, a := range areas {
		var s *place.Shape
		var err error
		if x.Regions != nil {
			var g *place.Gazetteer
			if g, err = x.Regions(); err == nil {
				s, _, err = g.Shape(a)
			}
		} else {
			s, err = place.Compile(a) // no gazetteer: polygons and circles only
		}
		if err != nil {
			return nil, err
		}
		idx.Search(s, func(p place.Point) bool {
			if !seen[p.ID] {
				seen[p.ID] = true
				out = append(out, p.ID)
			}
			return true
		})
	}
	return out, nil
}
