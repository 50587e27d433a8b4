package place

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/peterstace/simplefeatures/geom"
)

// CheckGeoJSON checks a GeoJSON geometry (RFC 7946 §3.1), or a Feature holding one (§3.2),
// as a SensorThings Location's location or a FeatureOfInterest's feature: a known type with
// well-formed coordinates (a valid geometry by the OGC simple features rules: closed rings of
// at least four points, no self-intersection), every coordinate a finite number, longitude
// (the first) within -180..180 and latitude (the second) within -90..90 (WGS 84, §4). The
// error says what is wrong, e.g. "latitude 999 is outside -90..90".
func CheckGeoJSON(b []byte) error {
	var head struct {
		Type     string          `json:"type"`
		Geometry json.RawMessage `json:"geometry"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return errors.New("want a GeoJSON object")
	}
	switch head.Type {
	case "Feature":
		if len(head.Geometry) == 0 || string(head.Geometry) == "null" {
			return errors.New("a Feature without a geometry")
		}
		if err := CheckGeoJSON(head.Geometry); err != nil {
			return fmt.Errorf("geometry: %w", err)
		}
		return nil
	case "Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon", "GeometryCollection":
	default:
		return fmt.Errorf("type %q is not a GeoJSON geometry (Point, MultiPoint, LineString, MultiLineString, Polygon, MultiPolygon, GeometryCollection) or a Feature", head.Type)
	}
	g, err := geom.UnmarshalGeoJSON(b)
	if err != nil {
		return fmt.Errorf("invalid %s: %v", head.Type, err)
	}
	if g.IsEmpty() {
		return fmt.Errorf("an empty %s", head.Type)
	}
	lo, hi, ok := g.Envelope().MinMaxXYs()
	if !ok {
		return fmt.Errorf("an empty %s", head.Type)
	}
	for _, v := range []float64{lo.X, lo.Y, hi.X, hi.Y} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return errors.New("a coordinate is not a finite number")
		}
	}
	for _, x := range []float64{lo.X, hi.X} {
		if x < -180 || x > 180 {
			return fmt.Errorf("longitude %g is outside -180..180 (GeoJSON positions are [longitude, latitude])", x)
		}
	}
	for _, y := range []float64{lo.Y, hi.Y} {
		if y < -90 || y > 90 {
			return fmt.Errorf("latitude %g is outside -90..90 (GeoJSON positions are [longitude, latitude])", y)
		}
	}
	return nil
}
