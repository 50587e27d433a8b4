package cap

import (
	"fmt"
	"math"

	"github.com/peterstace/simplefeatures/geom"
)

// CheckPolygon tells why pg cannot bound a warning area, or nil when it can. CAP 1.2 §3.2.4
// (<polygon>): "a minimum of four coordinate pairs … the first and last pairs of coordinates
// MUST be the same"; beyond the letter, a ring that does not enclose an area warns nobody
// and a self-intersecting one (a bow tie) has no agreed inside, so both are refused too:
//
//   - at least 4 points, each finite, latitude in [-90, 90], longitude in [-180, 180] (a pair
//     that only fits swapped is reported as lon,lat order);
//   - closed: the first point repeated as the last;
//   - a simple ring (OGC Simple Features validity, judged by simplefeatures): it neither
//     crosses, touches nor runs back over itself — the error names where, in CAP "lat,lon";
//   - at least three distinct points, enclosing an area greater than 0.
//
// The error says what is wrong without naming the polygon: the caller adds its path
// (alert/info[0]/area[0]/polygon[1], rules[0].area.polygons[1], …). The vertex limit
// (MaxVertices) is not checked here: Builder simplifies a longer ring and Validate reports it.
// This is the one check every path an area enters by uses: Validate (received and issued
// CAP), rule validation, and place.Compile (impact preview and targeting).
func CheckPolygon(pg Polygon) error {
	if err := checkPolygonSpec(pg); err != nil {
		return err
	}
	return checkRing(pg)
}

// checkPolygonSpec checks what CAP 1.2 itself asks of a polygon: at least 4 points in range,
// closed.
func checkPolygonSpec(pg Polygon) error {
	if len(pg) < 4 {
		return fmt.Errorf("has %d points; a CAP polygon needs at least 4 (a triangle plus the closing point)", len(pg))
	}
	for j, pt := range pg {
		if msg := checkPoint(pt); msg != "" {
			return fmt.Errorf("point %d (%s): %s", j, pt, msg)
		}
	}
	if !pg.Closed() {
		return fmt.Errorf("is not closed: the first point %s differs from the last %s", pg[0], pg[len(pg)-1])
	}
	return nil
}

// checkRing checks that a closed ring of points in range is a simple ring enclosing an area.
func checkRing(pg Polygon) error {
	ring := dedup(pg)
	if distinct := max(len(ring)-1, 1); distinct < 3 {
		return fmt.Errorf("has only %d distinct point(s): it encloses no area", distinct)
	}
	flat := make([]float64, 0, 2*len(pg))
	for _, p := range pg {
		flat = append(flat, p.Lon, p.Lat)
	}
	g := geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence(flat, geom.DimXY))})
	if err := g.Validate(); err != nil {
		if msg := selfIntersection(ring); msg != "" {
			return fmt.Errorf("%s", msg)
		}
		return fmt.Errorf("is not a valid ring (%v)", err)
	}
	if !(g.Area() > 0) {
		return fmt.Errorf("encloses no area")
	}
	return nil
}

// CheckCircle tells why c cannot bound a warning area, or nil when it can: its centre is in
// range (as for CheckPolygon) and its radius a finite number of kilometres greater than 0
// (CAP 1.2 §3.2.4 <circle>; a radius of 0 is a point, which reaches nobody).
func CheckCircle(c Circle) error {
	if err := checkCircleSpec(c); err != nil {
		return err
	}
	if c.RadiusKM == 0 {
		return fmt.Errorf("radius 0 km: it must be greater than 0 (a circle of radius 0 reaches nobody)")
	}
	return nil
}

// checkCircleSpec checks what CAP 1.2 asks of a circle: a centre in range and a radius that
// is a number (xs:decimal) of kilometres, not negative.
func checkCircleSpec(c Circle) error {
	if msg := checkPoint(c.Center); msg != "" {
		return fmt.Errorf("centre (%s): %s", c.Center, msg)
	}
	if !(c.RadiusKM >= 0) || math.IsInf(c.RadiusKM, 0) {
		return fmt.Errorf("radius %v km: it must be a finite number, not negative", c.RadiusKM)
	}
	return nil
}

// Degenerate lists the areas of a whose polygons or circles pass Validate (CAP 1.2 asks only
// for 4 points, closure and ranges) but bound no usable warning area: a ring that crosses,
// touches or runs back over itself, encloses no area, or a circle of radius 0. Each problem
// is an *Error of kind ErrDegenerate with its path (alert/info[0]/area[0]/polygon[1]).
//
// A received message with such an area decodes and validates — real feeds carry them, e.g. a
// circle of radius 0 for an earthquake's epicentre — so Degenerate reports them instead:
// POST /api/v1/cap/verify lists them as problems. A message Rabta issues may not have any:
// CheckIssue (and so Builder) refuses them.
func Degenerate(a *Alert) Errors {
	var out Errors
	if a == nil {
		return nil
	}
	for i, in := range a.Infos {
		for j, ar := range in.Areas {
			p := fmt.Sprintf("alert/info[%d]/area[%d]", i, j)
			for k, pg := range ar.Polygons {
				if checkPolygonSpec(pg) != nil {
					continue // Validate's to report
				}
				if err := checkRing(pg); err != nil {
					out = append(out, errf(ErrDegenerate, fmt.Sprintf("%s/polygon[%d]", p, k), 0, "%v", err))
				}
			}
			for k, c := range ar.Circles {
				if checkCircleSpec(c) == nil && c.RadiusKM == 0 {
					out = append(out, errf(ErrDegenerate, fmt.Sprintf("%s/circle[%d]", p, k), 0, "radius 0 km: the circle is a point and reaches nobody"))
				}
			}
		}
	}
	return out
}

// dedup drops points equal to the one before (a repeated vertex changes nothing).
func dedup(pg Polygon) Polygon {
	out := make(Polygon, 0, len(pg))
	for i, p := range pg {
		if i == 0 || p != pg[i-1] {
			out = append(out, p)
		}
	}
	return out
}

// selfIntersection names the first place where the closed ring (no repeated consecutive
// points) meets itself other than where neighbouring edges share a vertex: "crosses itself
// at lat,lon", "touches itself at lat,lon" or "runs back over itself between … and …". The
// intersections are computed by simplefeatures; pairs of edges whose boxes do not overlap are
// skipped first. It returns "" when none is found.
func selfIntersection(ring Polygon) string {
	n := len(ring) - 1 // edges; edge i runs from ring[i] to ring[i+1]
	seg := func(i int) geom.Geometry {
		a, b := ring[i], ring[i+1]
		return geom.NewLineString(geom.NewSequence([]float64{a.Lon, a.Lat, b.Lon, b.Lat}, geom.DimXY)).AsGeometry()
	}
	// first overlaps (a ring running back along itself), then single points
	for pass := 0; pass < 2; pass++ {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				if !boxesMeet(ring[i], ring[i+1], ring[j], ring[j+1]) {
					continue
				}
				x, err := geom.Intersection(seg(i), seg(j))
				if err != nil || x.IsEmpty() {
					continue
				}
				if ls, ok := x.AsLineString(); ok && ls.Coordinates().Length() >= 2 {
					s := ls.Coordinates()
					a, b := s.GetXY(0), s.GetXY(s.Length()-1)
					return fmt.Sprintf("runs back over itself between %s and %s", Point{Lat: a.Y, Lon: a.X}, Point{Lat: b.Y, Lon: b.X})
				}
				pt, ok := x.AsPoint()
				if pass == 0 || !ok || j == i+1 || (i == 0 && j == n-1) {
					continue // neighbouring edges share their vertex
				}
				xy, _ := pt.XY()
				at := Point{Lat: xy.Y, Lon: xy.X}
				if at == ring[i] || at == ring[i+1] || at == ring[j] || at == ring[j+1] {
					return fmt.Sprintf("touches itself at %s", at)
				}
				return fmt.Sprintf("crosses itself at %s (edges %d and %d)", at, i, j)
			}
		}
	}
	return ""
}

func boxesMeet(a, b, c, d Point) bool {
	return math.Max(a.Lon, b.Lon) >= math.Min(c.Lon, d.Lon) && math.Max(c.Lon, d.Lon) >= math.Min(a.Lon, b.Lon) &&
		math.Max(a.Lat, b.Lat) >= math.Min(c.Lat, d.Lat) && math.Max(c.Lat, d.Lat) >= math.Min(a.Lat, b.Lat)
}

// hull returns the convex hull of pg's points as a closed ring (simplefeatures), or false
// when the points are collinear.
func hull(pg Polygon) (Polygon, bool) {
	flat := make([]float64, 0, 2*len(pg))
	for _, p := range pg {
		flat = append(flat, p.Lon, p.Lat)
	}
	h, ok := geom.NewLineString(geom.NewSequence(flat, geom.DimXY)).AsGeometry().ConvexHull().AsPolygon()
	if !ok {
		return nil, false
	}
	seq := h.ExteriorRing().Coordinates()
	out := make(Polygon, seq.Length())
	for i := range out {
		xy := seq.GetXY(i)
		out[i] = Point{Lat: xy.Y, Lon: xy.X}
	}
	return out, true
}
