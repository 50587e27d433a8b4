package place

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/rabta/rabta/internal/cap"
)

// lahorePolygon is the real Lahore district boundary (554 points, within cap.MaxVertices as
// it is), the district with the most people.
func lahorePolygon(b *testing.B, w *world) cap.Area {
	b.Helper()
	pg := Outline(w.find(b, "district:Lahore").Boundary, cap.MaxVertices)
	if len(pg) < 500 {
		b.Fatalf("the Lahore outline has %d points", len(pg))
	}
	return cap.Area{Polygons: []cap.Polygon{pg}}
}

// punjabPolygon is the Punjab province boundary simplified to 1000 points: a larger area,
// as many vertices as receivers take.
func punjabPolygon(b *testing.B, w *world) cap.Area {
	b.Helper()
	pg := Outline(w.find(b, "province:Punjab").Boundary, cap.MaxVertices)
	if len(pg) != cap.MaxVertices {
		b.Fatalf("the Punjab outline has %d points", len(pg))
	}
	return cap.Area{Polygons: []cap.Polygon{pg}}
}

func areas(b *testing.B, w *world) []struct {
	name string
	area cap.Area
} {
	return []struct {
		name string
		area cap.Area
	}{{"Lahore", lahorePolygon(b, w)}, {"Punjab1000", punjabPolygon(b, w)}}
}

// BenchmarkResolveDistrict resolves the Lahore district polygon (1000 vertices) against the
// real places and 22,000 synthetic villages: the polygon is validated and compiled on every
// call, as for a new alert. Aim: ≤ 50 ms.
func BenchmarkResolveDistrict(b *testing.B) {
	w := load(b)
	for _, a := range areas(b, w) {
		b.Run(a.name, func(b *testing.B) {
			var imp Impact
			for b.Loop() {
				var err error
				if imp, err = w.g.Resolve(a.area); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(imp.Keys)), "places")
		})
	}
}

// millionPoints are 1,000,000 points spread like the people: around the towns and villages
// (drawn with the odds of their population), within about 3 km of each; one in ten has a
// radius of interest up to 10 km.
func millionPoints(w *world) []Point {
	var pts []Place
	var cum []float64
	var total float64
	for _, p := range w.g.places {
		if !p.Kind.Region() && p.Country == "PK" {
			total += float64(p.Population)
			pts = append(pts, p)
			cum = append(cum, total)
		}
	}
	rng := rand.New(rand.NewPCG(11, 11))
	out := make([]Point, 1_000_000)
	for i := range out {
		u := rng.Float64() * total
		lo, hi := 0, len(cum)-1
		for lo < hi {
			if m := (lo + hi) / 2; cum[m] < u {
				lo = m + 1
			} else {
				hi = m
			}
		}
		p := pts[lo]
		d := 3 / kmPerDegree
		out[i] = Point{ID: int64(i), Lat: p.Lat + (rng.Float64()*2-1)*d, Lon: p.Lon + (rng.Float64()*2-1)*d/math.Cos(p.Lat*math.Pi/180)}
		if i%10 == 0 {
			out[i].RadiusKM = rng.Float64() * 10
		}
	}
	return out
}

// BenchmarkPointIndexDistrict finds which of 1,000,000 points (subscribers) the Lahore
// district polygon (1000 vertices) reaches, compiling the polygon on every call. Aim: ≤ 50 ms.
func BenchmarkPointIndexDistrict(b *testing.B) {
	w := load(b)
	x, err := NewPointIndex(millionPoints(w))
	if err != nil {
		b.Fatal(err)
	}
	for _, a := range areas(b, w) {
		b.Run(a.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				s, err := Compile(a.area)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				x.Search(s, func(Point) bool { n++; return true })
			}
			b.ReportMetric(float64(n), "points")
		})
	}
}

// BenchmarkNewPointIndex bulk-loads 1,000,000 points.
func BenchmarkNewPointIndex(b *testing.B) {
	pts := millionPoints(load(b))
	b.ResetTimer()
	for b.Loop() {
		if _, err := NewPointIndex(pts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCompileDistrict validates and prepares each polygon alone.
func BenchmarkCompileDistrict(b *testing.B) {
	for _, a := range areas(b, load(b)) {
		b.Run(a.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := Compile(a.area); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
