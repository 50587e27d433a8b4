package federation

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sync"

	"github.com/peterstace/simplefeatures/geom"

	"github.com/rabta/rabta/internal/cap"
)

// Limits on an agreement's selection.area, each named in the error that enforces it.
const (
	// MaxAreaVertices is the most positions (all rings of all polygons, closing positions
	// included) an area may have.
	MaxAreaVertices = 10000
	// MaxAreaBytes is the most bytes of an area's GeoJSON (MaxAreaVertices positions of
	// 5 decimals, about 1 m, fit in it).
	MaxAreaBytes = 240 << 10
)

// Area is an agreement's selection.area: a GeoJSON (RFC 7946 §3.1.6, §3.1.7) Polygon or
// MultiPolygon in WGS 84 ([longitude, latitude] positions), valid by the OGC simple
// features rules (closed rings of at least four positions, no self-intersection), with at
// most MaxAreaVertices positions. It selects the providing organisation's Datastreams whose
// Thing's first Location lies inside it or on its boundary, evaluated each time the exporter
// runs (a station added later inside the area is shared from then on, its history from
// validFrom included), and, for an agreement sharing alerts, the alerts whose CAP area meets it.
// It is kept as written (MarshalJSON gives back the GeoJSON given).
type Area struct {
	raw json.RawMessage
	g   geom.Geometry
}

// ParseArea reads and checks an area; the error says what is wrong (and where, for a
// coordinate out of range), without a field name (the caller adds "selection.area").
func ParseArea(b []byte) (*Area, error) {
	if len(b) > MaxAreaBytes {
		return nil, fmt.Errorf("%d bytes of GeoJSON, at most %d", len(b), MaxAreaBytes)
	}
	var head struct {
		Type        string          `json:"type"`
		Coordinates json.RawMessage `json:"coordinates"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("want a GeoJSON Polygon or MultiPolygon object")
	}
	if head.Type != "Polygon" && head.Type != "MultiPolygon" {
		return nil, fmt.Errorf("type %q: want a GeoJSON Polygon or MultiPolygon", head.Type)
	}
	// count positions before building anything: a huge area is refused cheaply
	if n := bytes.Count(head.Coordinates, []byte("[")); n > MaxAreaVertices+MaxAreaVertices/4+2 {
		return nil, fmt.Errorf("more than %d positions", MaxAreaVertices)
	}
	g, err := geom.UnmarshalGeoJSON(b)
	if err != nil {
		return nil, fmt.Errorf("invalid %s: %v", head.Type, err)
	}
	if g.IsEmpty() {
		return nil, fmt.Errorf("an empty %s", head.Type)
	}
	seq := g.DumpCoordinates()
	if n := seq.Length(); n > MaxAreaVertices {
		return nil, fmt.Errorf("%d positions, at most %d", n, MaxAreaVertices)
	}
	for i := range seq.Length() {
		xy := seq.GetXY(i)
		switch {
		case math.IsNaN(xy.X) || math.IsNaN(xy.Y) || math.IsInf(xy.X, 0) || math.IsInf(xy.Y, 0):
			return nil, fmt.Errorf("position %d: not a finite number", i)
		case xy.X < -180 || xy.X > 180:
			return nil, fmt.Errorf("position %d: longitude %g is outside -180..180 (GeoJSON positions are [longitude, latitude])", i, xy.X)
		case xy.Y < -90 || xy.Y > 90:
			return nil, fmt.Errorf("position %d: latitude %g is outside -90..90 (GeoJSON positions are [longitude, latitude])", i, xy.Y)
		}
	}
	return &Area{raw: append(json.RawMessage(nil), b...), g: g}, nil
}

// MarshalJSON implements json.Marshaler: the GeoJSON as given.
func (a *Area) MarshalJSON() ([]byte, error) {
	if a == nil || len(a.raw) == 0 {
		return []byte("null"), nil
	}
	return a.raw, nil
}

// parsed remembers the areas read lately, by their GeoJSON: the store reads every agreement
// on each export round, and checking a 10,000-position area again each time costs
// milliseconds. An Area is never changed once made, so one may be shared.
var parsed struct {
	sync.Mutex
	m map[string]*Area
}

// maxParsed bounds parsed (it is emptied when full).
const maxParsed = 64

// UnmarshalJSON implements json.Unmarshaler (ParseArea).
func (a *Area) UnmarshalJSON(b []byte) error {
	parsed.Lock()
	v, ok := parsed.m[string(b)]
	parsed.Unlock()
	if ok {
		*a = *v
		return nil
	}
	v, err := ParseArea(b)
	if err != nil {
		return fmt.Errorf("selection.area: %w", err)
	}
	parsed.Lock()
	if parsed.m == nil || len(parsed.m) >= maxParsed {
		parsed.m = map[string]*Area{}
	}
	parsed.m[string(b)] = v
	parsed.Unlock()
	*a = *v
	return nil
}

// ContainsLocation reports whether a GeoJSON Location (a geometry, or a Feature holding one;
// usually a Point) lies inside the area or on its boundary (for a line or polygon Location:
// meets it). A Location that is not valid GeoJSON is not inside.
func (a *Area) ContainsLocation(loc []byte) bool {
	if a == nil || len(loc) == 0 {
		return false
	}
	var head struct {
		Type     string          `json:"type"`
		Geometry json.RawMessage `json:"geometry"`
	}
	if json.Unmarshal(loc, &head) != nil {
		return false
	}
	if head.Type == "Feature" {
		loc = head.Geometry
	}
	g, err := geom.UnmarshalGeoJSON(loc)
	if err != nil || g.IsEmpty() {
		return false
	}
	return geom.Intersects(a.g, g)
}

// circleSides is how many sides the polygon standing for a CAP circle has.
const circleSides = 32

// MeetsCAP reports whether any of the CAP areas (CAP 1.2 §3.2.4: polygons "lat,lon" and
// circles "lat,lon radius-km") meets the area. A circle is taken as the 32-sided polygon
// around its centre with its radius (on a sphere of 6,371 km); a CAP area with only
// geocodes meets nothing.
func (a *Area) MeetsCAP(areas []cap.Area) bool {
	if a == nil {
		return false
	}
	for _, ar := range areas {
		for _, pg := range ar.Polygons {
			if g, ok := capPolygon(pg); ok && geom.Intersects(a.g, g) {
				return true
			}
		}
		for _, c := range ar.Circles {
			if g, ok := capCircle(c); ok && geom.Intersects(a.g, g) {
				return true
			}
		}
	}
	return false
}

func capPolygon(pg cap.Polygon) (geom.Geometry, bool) {
	if len(pg) < 4 {
		return geom.Geometry{}, false
	}
	xy := make([]float64, 0, 2*len(pg)+2)
	for _, p := range pg {
		xy = append(xy, p.Lon, p.Lat)
	}
	if !pg.Closed() {
		xy = append(xy, pg[0].Lon, pg[0].Lat)
	}
	poly := geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence(xy, geom.DimXY))})
	if poly.Validate() != nil {
		// a self-intersecting CAP polygon still covers what its outline spans
		return poly.AsGeometry().ConvexHull(), true
	}
	return poly.AsGeometry(), true
}

func capCircle(c cap.Circle) (geom.Geometry, bool) {
	if c.RadiusKM <= 0 {
		return geom.XY{X: c.Center.Lon, Y: c.Center.Lat}.AsPoint().AsGeometry(), true
	}
	const earthKM = 6371.0
	dLat := c.RadiusKM / earthKM * 180 / math.Pi
	cosLat := math.Cos(c.Center.Lat * math.Pi / 180)
	dLon := 180.0
	if cosLat > 1e-6 {
		dLon = math.Min(180, dLat/cosLat)
	}
	xy := make([]float64, 0, 2*circleSides+2)
	for i := range circleSides {
		t := 2 * math.Pi * float64(i) / circleSides
		xy = append(xy, c.Center.Lon+dLon*math.Cos(t), math.Max(-90, math.Min(90, c.Center.Lat+dLat*math.Sin(t))))
	}
	xy = append(xy, xy[0], xy[1])
	poly := geom.NewPolygon([]geom.LineString{geom.NewLineString(geom.NewSequence(xy, geom.DimXY))})
	if poly.Validate() != nil {
		return poly.AsGeometry().ConvexHull(), true
	}
	return poly.AsGeometry(), true
}
