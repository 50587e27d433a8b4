package place

import (
	"errors"
	"fmt"
	"math"

	"github.com/peterstace/simplefeatures/geom"
	"github.com/peterstace/simplefeatures/rtree"

	"github.com/rabta/rabta/internal/cap"
)

// EarthRadiusKM is the mean Earth radius (IUGG, 6371.0088 km) used for great-circle distances.
const EarthRadiusKM = 6371.0088

// kmPerDegree is the length of one degree of latitude (and of longitude at the equator) on
// the sphere of EarthRadiusKM.
const kmPerDegree = EarthRadiusKM * math.Pi / 180

// DistanceKM is the great-circle (haversine) distance in kilometres between two WGS 84
// points given in degrees.
func DistanceKM(lat1, lon1, lat2, lon2 float64) float64 {
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	h := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * EarthRadiusKM * math.Asin(math.Min(1, math.Sqrt(h)))
}

// edge is one segment of a ring, x = longitude, y = latitude.
type edge struct{ ax, ay, bx, by float64 }

// poly is a set of rings prepared for fast point tests: its edges in an R-tree. A point is
// inside when a ray from it crosses the rings an odd number of times (even-odd rule), which
// handles holes and multi-polygons whose parts do not overlap.
type poly struct {
	box   rtree.Box
	edges []edge
	tree  *rtree.RTree
}

// preparePoly indexes the rings (each a closed sequence of lon/lat points) of a polygon or
// multi-polygon.
func preparePoly(rings []geom.Sequence) *poly {
	p := &poly{box: rtree.Box{MinX: math.Inf(1), MinY: math.Inf(1), MaxX: math.Inf(-1), MaxY: math.Inf(-1)}}
	var items []rtree.BulkItem
	for _, r := range rings {
		n := r.Length()
		for i := 0; i+1 < n; i++ {
			a, b := r.GetXY(i), r.GetXY(i+1)
			if a == b {
				continue
			}
			e := edge{a.X, a.Y, b.X, b.Y}
			box := rtree.Box{MinX: math.Min(a.X, b.X), MinY: math.Min(a.Y, b.Y), MaxX: math.Max(a.X, b.X), MaxY: math.Max(a.Y, b.Y)}
			items = append(items, rtree.BulkItem{Box: box, RecordID: len(p.edges)})
			p.edges = append(p.edges, e)
			p.box = union(p.box, box)
		}
	}
	p.tree = rtree.BulkLoad(items)
	return p
}

func union(a, b rtree.Box) rtree.Box {
	return rtree.Box{MinX: math.Min(a.MinX, b.MinX), MinY: math.Min(a.MinY, b.MinY), MaxX: math.Max(a.MaxX, b.MaxX), MaxY: math.Max(a.MaxY, b.MaxY)}
}

func inBox(b rtree.Box, x, y float64) bool {
	return x >= b.MinX && x <= b.MaxX && y >= b.MinY && y <= b.MaxY
}

// contains tells whether the point (x = lon, y = lat) lies inside. The ray goes to whichever
// side of the bounding box is nearer, so that fewer edges are visited.
func (p *poly) contains(x, y float64) bool {
	if len(p.edges) == 0 || !inBox(p.box, x, y) {
		return false
	}
	left := x-p.box.MinX < p.box.MaxX-x
	q := rtree.Box{MinX: x, MinY: y, MaxX: p.box.MaxX, MaxY: y}
	if left {
		q.MinX, q.MaxX = p.box.MinX, x
	}
	var n int
	p.tree.RangeSearch(q, func(i int) error {
		e := p.edges[i]
		if (e.ay > y) != (e.by > y) {
			xc := e.ax + (y-e.ay)*(e.bx-e.ax)/(e.by-e.ay)
			if left && xc < x || !left && xc > x {
				n++
			}
		}
		return nil
	})
	return n%2 == 1
}

// near tells whether some edge passes within km of the point (lat, lon), measured on a local
// equirectangular projection (accurate to well under 1% for distances of up to a few hundred
// kilometres).
func (p *poly) near(lat, lon, km float64) bool {
	if km <= 0 || len(p.edges) == 0 {
		return false
	}
	c := math.Max(math.Cos(lat*math.Pi/180), 1e-6)
	dy := km / kmPerDegree
	dx := dy / c
	q := rtree.Box{MinX: lon - dx, MinY: lat - dy, MaxX: lon + dx, MaxY: lat + dy}
	found := false
	p.tree.RangeSearch(q, func(i int) error {
		if found {
			return rtree.Stop
		}
		e := p.edges[i]
		// project to km around the point
		ax, ay := (e.ax-lon)*c*kmPerDegree, (e.ay-lat)*kmPerDegree
		bx, by := (e.bx-lon)*c*kmPerDegree, (e.by-lat)*kmPerDegree
		if segDist(ax, ay, bx, by) <= km {
			found = true
			return rtree.Stop
		}
		return nil
	})
	return found
}

// segDist is the distance from the origin to the segment a–b.
func segDist(ax, ay, bx, by float64) float64 {
	dx, dy := bx-ax, by-ay
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = math.Max(0, math.Min(1, -(ax*dx+ay*dy)/l))
	}
	return math.Hypot(ax+t*dx, ay+t*dy)
}

// circle is a CAP circle: centre and radius in km, great-circle.
type circle struct {
	lat, lon, km float64
	box          rtree.Box
}

func newCircle(lat, lon, km float64) circle {
	return circle{lat, lon, km, circleBox(lat, lon, km)}
}

// circleBox bounds the points within km of (lat, lon) in degrees (whole longitudes when the
// circle reaches a pole).
func circleBox(lat, lon, km float64) rtree.Box {
	dy := km / kmPerDegree
	b := rtree.Box{MinX: -180, MinY: math.Max(-90, lat-dy), MaxX: 180, MaxY: math.Min(90, lat+dy)}
	if c := math.Cos(lat * math.Pi / 180); b.MinY > -90 && b.MaxY < 90 && c > 1e-9 {
		// The widest point of a small circle in longitude lies poleward of its centre: use the
		// cosine of the poleward edge, which over-covers slightly and never under-covers.
		ce := math.Cos(math.Max(math.Abs(b.MinY), math.Abs(b.MaxY)) * math.Pi / 180)
		if dx := dy / math.Min(c, ce); dx < 180 {
			b.MinX, b.MaxX = lon-dx, lon+dx
		}
	}
	return b
}

// Shape is a CAP area compiled for point tests: the union of its polygons, circles and the
// boundaries of the regions its geocodes name. It is immutable and safe for concurrent use.
type Shape struct {
	polys   []*poly
	circles []circle
}

// Compile compiles the polygons and circles of area (geocodes need a Gazetteer: see
// Gazetteer.Shape). Each polygon must pass cap.CheckPolygon (a closed ring of at least 4
// points in range, not crossing or touching itself, enclosing an area: the one check every
// path an area enters by shares) and each circle cap.CheckCircle (centre in range, finite
// radius greater than 0 km). The error names the polygon or circle (1-based, in
// the order of the area) and what is wrong with it. An area with neither polygons nor
// circles compiles to an empty Shape that contains nothing.
func Compile(area cap.Area) (*Shape, error) {
	s := &Shape{}
	var errs []error
	for i, pg := range area.Polygons {
		p, err := compilePolygon(pg)
		if err != nil {
			errs = append(errs, fmt.Errorf("polygon %d of the area: %w", i+1, err))
			continue
		}
		s.polys = append(s.polys, p)
	}
	for i, c := range area.Circles {
		if err := cap.CheckCircle(c); err != nil {
			errs = append(errs, fmt.Errorf("circle %d of the area (%s): %w", i+1, c, err))
			continue
		}
		s.circles = append(s.circles, newCircle(c.Center.Lat, c.Center.Lon, c.RadiusKM))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// checkPoint tells whether a place's or subscriber's point is in range.
func checkPoint(lat, lon float64) error {
	if !(lat >= -90 && lat <= 90) {
		return fmt.Errorf("latitude %v is outside [-90, 90]", lat)
	}
	if !(lon >= -180 && lon <= 180) {
		return fmt.Errorf("longitude %v is outside [-180, 180]", lon)
	}
	return nil
}

func compilePolygon(pg cap.Polygon) (*poly, error) {
	if err := cap.CheckPolygon(pg); err != nil {
		return nil, err
	}
	flat := make([]float64, 0, 2*len(pg))
	for _, p := range pg {
		flat = append(flat, p.Lon, p.Lat)
	}
	return preparePoly([]geom.Sequence{geom.NewSequence(flat, geom.DimXY)}), nil
}

// shapeOf prepares a region's boundary.
func shapeOf(mp *geom.MultiPolygon) *poly {
	var rings []geom.Sequence
	for i := 0; i < mp.NumPolygons(); i++ {
		p := mp.PolygonN(i)
		rings = append(rings, p.ExteriorRing().Coordinates())
		for j := 0; j < p.NumInteriorRings(); j++ {
			rings = append(rings, p.InteriorRingN(j).Coordinates())
		}
	}
	return preparePoly(rings)
}

// Contains tells whether the point (degrees) lies in the shape: inside a polygon (a point
// exactly on an edge may fall either way) or within a circle's radius.
func (s *Shape) Contains(lat, lon float64) bool {
	for _, p := range s.polys {
		if p.contains(lon, lat) {
			return true
		}
	}
	for _, c := range s.circles {
		if DistanceKM(c.lat, c.lon, lat, lon) <= c.km {
			return true
		}
	}
	return false
}

// Near tells whether the circle of km around the point (degrees) meets the shape: the point
// lies in it, or within km of a polygon's edge or a circle's rim. Near with km ≤ 0 is
// Contains.
func (s *Shape) Near(lat, lon, km float64) bool {
	if km <= 0 {
		return s.Contains(lat, lon)
	}
	for _, p := range s.polys {
		if p.contains(lon, lat) || p.near(lat, lon, km) {
			return true
		}
	}
	for _, c := range s.circles {
		if DistanceKM(c.lat, c.lon, lat, lon) <= c.km+km {
			return true
		}
	}
	return false
}

// Empty tells whether the shape has no part (it then contains nothing).
func (s *Shape) Empty() bool { return len(s.polys) == 0 && len(s.circles) == 0 }

// boxes returns a bounding box per part.
func (s *Shape) boxes() []rtree.Box {
	var out []rtree.Box
	for _, p := range s.polys {
		if len(p.edges) > 0 {
			out = append(out, p.box)
		}
	}
	for _, c := range s.circles {
		out = append(out, c.box)
	}
	return out
}

// Outline returns the exterior ring of mp's largest polygon as a CAP polygon (lat,lon, closed)
// of at most max points (simplified with cap.Simplify; max < 4 is taken as 4), for an alert
// that targets a region by polygon. Receivers cap polygon sizes (cap.MaxVertices); holes and
// smaller parts are left out. An empty mp gives nil.
func Outline(mp *geom.MultiPolygon, max int) cap.Polygon {
	best, area := -1, -1.0
	for i := 0; i < mp.NumPolygons(); i++ {
		if a := mp.PolygonN(i).Area(); a > area {
			best, area = i, a
		}
	}
	if best < 0 {
		return nil
	}
	seq := mp.PolygonN(best).ExteriorRing().Coordinates()
	pg := make(cap.Polygon, seq.Length())
	for i := range pg {
		xy := seq.GetXY(i)
		pg[i] = cap.Point{Lat: xy.Y, Lon: xy.X}
	}
	return cap.Simplify(pg, max)
}
