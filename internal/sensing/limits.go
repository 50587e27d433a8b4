package sensing

import "fmt"

// Limits on the size of what an entity holds, so that one request (inside the body limit,
// max_body_bytes, 32 MiB by default) cannot store a value no client can use. Sizes are in
// bytes of the value as sent: a string's UTF-8 bytes, a JSON value's text. Over a limit, the
// request is a 400 naming the property and the limit (docs/sensorthings.md, "Limits").
const (
	// MaxNameBytes bounds a name.
	MaxNameBytes = 4 << 10
	// MaxStringBytes bounds every other string property: description, encodingType,
	// observationType, definition, and times as text.
	MaxStringBytes = 64 << 10
	// MaxJSONBytes bounds a JSON-valued property: properties, parameters, metadata,
	// unitOfMeasurement(s), multiObservationDataTypes, resultQuality.
	MaxJSONBytes = 1 << 20
	// MaxResultBytes bounds an Observation's result that is not a number (a string, an object,
	// an array), by whatever path it comes (HTTP, dataArray, MQTT, CSV).
	MaxResultBytes = 1 << 20
	// MaxGeometryBytes bounds a GeoJSON location or feature.
	MaxGeometryBytes = 16 << 20
)

// LimitOf returns the most bytes property p may hold.
func LimitOf(p Property) int {
	switch {
	case p.Name == "name":
		return MaxNameBytes
	case p.Kind == KindGeometry:
		return MaxGeometryBytes
	case p.Kind == KindResult:
		return MaxResultBytes
	case p.Kind == KindJSON:
		return MaxJSONBytes
	}
	return MaxStringBytes
}

// CheckSize reports a value of n bytes over the limit of p.
func CheckSize(p Property, n int) error {
	if lim := LimitOf(p); n > lim {
		return fmt.Errorf("%d bytes, over the limit of %d bytes for %s", n, lim, p.Name)
	}
	return nil
}
