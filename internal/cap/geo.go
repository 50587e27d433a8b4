package cap

import (
	"container/heap"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Point is a WGS 84 position. CAP writes it "lat,lon" — latitude first.
type Point struct {
	Lat, Lon float64
}

// Polygon is a closed ring of points; CAP 1.2 requires at least 4 points with the first equal
// to the last. Marshal writes it as space-separated "lat,lon" pairs on one line.
type Polygon []Point

// Circle is a centre and a radius in kilometres; CAP writes it "lat,lon radius".
type Circle struct {
	Center   Point
	RadiusKM float64
}

// MaxVertices is the default bound on points per polygon used by Validate and Builder. Many
// receivers (cell broadcast, some aggregators) cap polygons far lower than real boundaries
// have; 1000 is generous yet keeps a message small.
const MaxVertices = 1000

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func (p Point) String() string { return formatFloat(p.Lat) + "," + formatFloat(p.Lon) }

// String renders the polygon in CAP form.
func (pg Polygon) String() string {
	var b strings.Builder
	for i, p := range pg {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// String renders the circle in CAP form.
func (c Circle) String() string { return c.Center.String() + " " + formatFloat(c.RadiusKM) }

// parseNumber parses a decimal number as xs:decimal allows it (digits, one optional point,
// optional sign), refusing exponents, NaN, Inf and hex which strconv would take.
func parseNumber(s string) (float64, error) {
	if s == "" {
		return 0, fmt.Errorf("empty number")
	}
	digits, dot := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		case (c == '-' || c == '+') && i == 0:
		default:
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("%q is not a decimal number", s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, fmt.Errorf("%q is not a usable number", s)
	}
	return f, nil
}

func parsePoint(s string) (Point, error) {
	lat, lon, ok := strings.Cut(s, ",")
	if !ok {
		return Point{}, fmt.Errorf("point %q is not \"lat,lon\"", s)
	}
	la, err := parseNumber(lat)
	if err != nil {
		return Point{}, fmt.Errorf("point %q: latitude: %v", s, err)
	}
	lo, err := parseNumber(lon)
	if err != nil {
		return Point{}, fmt.Errorf("point %q: longitude: %v", s, err)
	}
	return Point{la, lo}, nil
}

// ParsePolygon parses CAP polygon text: "lat,lon" pairs separated by white space. It checks
// syntax only; Validate checks closure, size and ranges.
func ParsePolygon(s string) (Polygon, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("polygon is empty")
	}
	pg := make(Polygon, 0, len(fields))
	for i, f := range fields {
		p, err := parsePoint(f)
		if err != nil {
			return nil, fmt.Errorf("point %d: %v", i, err)
		}
		pg = append(pg, p)
	}
	return pg, nil
}

// ParseCircle parses CAP circle text "lat,lon radius".
func ParseCircle(s string) (Circle, error) {
	fields := strings.Fields(s)
	if len(fields) != 2 {
		return Circle{}, fmt.Errorf("circle %q is not \"lat,lon radius\"", s)
	}
	p, err := parsePoint(fields[0])
	if err != nil {
		return Circle{}, fmt.Errorf("circle centre: %v", err)
	}
	r, err := parseNumber(fields[1])
	if err != nil {
		return Circle{}, fmt.Errorf("circle radius: %v", err)
	}
	return Circle{Center: p, RadiusKM: r}, nil
}

// Closed reports whether the ring's first point equals its last.
func (pg Polygon) Closed() bool { return len(pg) > 1 && pg[0] == pg[len(pg)-1] }

// Simplify returns pg reduced to at most max points (max ≥ 4), still closed, by
// Visvalingam–Whyatt: repeatedly drop the vertex whose triangle with its neighbours has the
// least area, so the shape's outline is kept and sliver detail goes first. Areas are computed
// in degrees, which is fine for ranking vertices of a warning area (not for measuring it).
// pg is returned unchanged (not copied) when it already fits or is not a closed ring.
func Simplify(pg Polygon, max int) Polygon {
	if max < 4 {
		max = 4
	}
	if len(pg) <= max || !pg.Closed() {
		return pg
	}
	ring := pg[:len(pg)-1] // open ring, n ≥ max ≥ 4
	n := len(ring)
	prev, next := make([]int, n), make([]int, n)
	for i := range ring {
		prev[i], next[i] = (i+n-1)%n, (i+1)%n
	}
	area := func(i int) float64 {
		a, b, c := ring[prev[i]], ring[i], ring[next[i]]
		return math.Abs((b.Lon-a.Lon)*(c.Lat-a.Lat)-(c.Lon-a.Lon)*(b.Lat-a.Lat)) / 2
	}
	h := make(vwHeap, n)
	pos := make([]*vwItem, n)
	for i := range ring {
		it := &vwItem{v: i, area: area(i), index: i}
		h[i], pos[i] = it, it
	}
	heap.Init(&h)
	removed := make([]bool, n)
	left := n
	// Keep vertex 0 so the output starts where the input did.
	for left > max-1 {
		it := heap.Pop(&h).(*vwItem)
		if it.v == 0 {
			continue // never removed; it is not pushed back
		}
		v := it.v
		removed[v] = true
		left--
		p, q := prev[v], next[v]
		next[p], prev[q] = q, p
		// A neighbour's area may not fall below the removed one's, or the order would let a
		// later removal undercut this one (the usual Visvalingam monotonicity fix).
		for _, u := range []int{p, q} {
			if u == 0 || removed[u] {
				continue
			}
			pos[u].area = math.Max(area(u), it.area)
			heap.Fix(&h, pos[u].index)
		}
	}
	out := make(Polygon, 0, left+1)
	for i := 0; i < n; i++ {
		if !removed[i] {
			out = append(out, ring[i])
		}
	}
	return append(out, ring[0])
}

type vwItem struct {
	v     int
	area  float64
	index int
}

type vwHeap []*vwItem

func (h vwHeap) Len() int { return len(h) }
func (h vwHeap) Less(i, j int) bool {
	if h[i].area != h[j].area {
		return h[i].area < h[j].area
	}
	return h[i].v < h[j].v
}
func (h vwHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i]; h[i].index = i; h[j].index = j }
func (h *vwHeap) Push(x any)   { it := x.(*vwItem); it.index = len(*h); *h = append(*h, it) }
func (h *vwHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	*h = old[:len(old)-1]
	it.index = -1
	return it
}
