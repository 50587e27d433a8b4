package place

import (
	"fmt"
	"math"

	"github.com/peterstace/simplefeatures/rtree"
)

// Point is an identified position with an optional radius of interest: a subscriber's home,
// or the point and radius a subscriber asked to be warned about.
type Point struct {
	ID       int64   // the caller's id (a subscriber's, say); not interpreted
	Lat, Lon float64 // WGS 84 degrees
	RadiusKM float64 // ≥ 0; 0 = the point alone
}

// MaxRadiusKM bounds Point.RadiusKM: half the Earth's circumference, beyond which every
// point on Earth is within reach anyway.
const MaxRadiusKM = math.Pi * EarthRadiusKM

// PointIndex finds, among many points, those an area reaches: a point inside the area, or
// whose radius meets it. It is built once from all the points (simplefeatures' R-tree is
// bulk-loaded; to add points, build a new index) and is safe for concurrent use.
type PointIndex struct {
	pts  []Point
	tree *rtree.RTree
}

// NewPointIndex indexes pts (copied). The error names the first point (its position in pts
// and ID) with a coordinate out of range or a radius that is negative, not finite or above
// MaxRadiusKM.
func NewPointIndex(pts []Point) (*PointIndex, error) {
	x := &PointIndex{pts: append([]Point(nil), pts...)}
	items := make([]rtree.BulkItem, len(x.pts))
	for i, p := range x.pts {
		if err := checkPoint(p.Lat, p.Lon); err != nil {
			return nil, fmt.Errorf("point index: point %d (id %d): %w", i, p.ID, err)
		}
		if !(p.RadiusKM >= 0 && p.RadiusKM <= MaxRadiusKM) {
			return nil, fmt.Errorf("point index: point %d (id %d): radius %v km is not in [0, %.0f]", i, p.ID, p.RadiusKM, MaxRadiusKM)
		}
		box := rtree.Box{MinX: p.Lon, MinY: p.Lat, MaxX: p.Lon, MaxY: p.Lat}
		if p.RadiusKM > 0 {
			box = circleBox(p.Lat, p.Lon, p.RadiusKM)
		}
		items[i] = rtree.BulkItem{Box: box, RecordID: i}
	}
	x.tree = rtree.BulkLoad(items)
	return x, nil
}

// Len is the number of points.
func (x *PointIndex) Len() int { return len(x.pts) }

// Search calls fn once for each point s reaches (Shape.Near with the point's radius), in no
// particular order, until fn returns false.
func (x *PointIndex) Search(s *Shape, fn func(Point) bool) {
	boxes := s.boxes()
	var seen []bool
	if len(boxes) > 1 {
		seen = make([]bool, len(x.pts))
	}
	for _, b := range boxes {
		stop := false
		x.tree.RangeSearch(b, func(i int) error {
			if stop {
				// RangeSearch stops only the current node's loop on Stop; keep refusing.
				return rtree.Stop
			}
			if seen != nil {
				if seen[i] {
					return nil
				}
				seen[i] = true
			}
			p := x.pts[i]
			if s.Near(p.Lat, p.Lon, p.RadiusKM) && !fn(p) {
				stop = true
				return rtree.Stop
			}
			return nil
		})
		if stop {
			return
		}
	}
}

// IDs returns the IDs of the points s reaches (see Search), in no particular order.
func (x *PointIndex) IDs(s *Shape) []int64 {
	var out []int64
	x.Search(s, func(p Point) bool { out = append(out, p.ID); return true })
	return out
}
