package sensing

// Kind is the value type of an entity property, as the SensorThings data model defines it.
type Kind int

// Property kinds.
const (
	KindString   Kind = iota // a JSON string
	KindNumber               // a JSON number
	KindTime                 // an ISO 8601 instant
	KindInterval             // an ISO 8601 instant or interval "start/end"
	KindJSON                 // any JSON value (properties, parameters, unitOfMeasurement, ...)
	KindGeometry             // a GeoJSON geometry (or Feature)
	KindResult               // an Observation result: any JSON value, numbers compared as numbers
	KindID                   // @iot.id
)

// Property is one property of an entity type.
type Property struct {
	Name     string
	Kind     Kind
	Required bool // must be given on create
	ReadOnly bool // computed by the server; ignored on create, refused on update
}

// Nav is a navigation property: a link from one entity type to another.
type Nav struct {
	Name   string // e.g. "Datastreams" or "Thing"
	Target string // entity set name, e.g. "Datastreams"
	Many   bool
	// Required means an entity cannot be created without this link (e.g. a Datastream needs its Thing).
	Required bool
}

// EntitySet describes one SensorThings entity set and its type.
type EntitySet struct {
	Name   string // plural, as in the URL: "Things"
	Single string // singular, as a navigation to one: "Thing"
	Props  []Property
	Navs   []Nav
}

// Prop returns the property called name.
func (s *EntitySet) Prop(name string) (Property, bool) {
	for _, p := range s.Props {
		if p.Name == name {
			return p, true
		}
	}
	return Property{}, false
}

// Nav returns the navigation property called name.
func (s *EntitySet) NavTo(name string) (Nav, bool) {
	for _, n := range s.Navs {
		if n.Name == name {
			return n, true
		}
	}
	return Nav{}, false
}

// Entity set names.
const (
	Things              = "Things"
	Locations           = "Locations"
	HistoricalLocations = "HistoricalLocations"
	Datastreams         = "Datastreams"
	Sensors             = "Sensors"
	ObservedProperties  = "ObservedProperties"
	Observations        = "Observations"
	FeaturesOfInterest  = "FeaturesOfInterest"
	// MultiDatastreams is the MultiDatastream extension's entity set (SensorThings 1.1, 18-088 §9).
	MultiDatastreams = "MultiDatastreams"
)

// ComplexObservation is the observationType every MultiDatastream has (18-088 §9.2: a
// MultiDatastream's Observations are OM_ComplexObservations, their result an array).
const ComplexObservation = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_ComplexObservation"

// Sets is the SensorThings 1.1 Sensing data model: the eight entity sets and the
// MultiDatastream extension's MultiDatastreams, keyed by name. An Observation belongs to
// exactly one Datastream or one MultiDatastream, so neither link is Required here: stores and
// surfaces check that one of the two is given.
var Sets = map[string]*EntitySet{
	Things: {Name: Things, Single: "Thing",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Locations", Target: Locations, Many: true}, {Name: "HistoricalLocations", Target: HistoricalLocations, Many: true}, {Name: "Datastreams", Target: Datastreams, Many: true}, {Name: "MultiDatastreams", Target: MultiDatastreams, Many: true}}},
	Locations: {Name: Locations, Single: "Location",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "encodingType", Kind: KindString, Required: true}, {Name: "location", Kind: KindGeometry, Required: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Things", Target: Things, Many: true}, {Name: "HistoricalLocations", Target: HistoricalLocations, Many: true}}},
	HistoricalLocations: {Name: HistoricalLocations, Single: "HistoricalLocation",
		Props: []Property{{Name: "time", Kind: KindTime, Required: true}},
		Navs:  []Nav{{Name: "Thing", Target: Things, Required: true}, {Name: "Locations", Target: Locations, Many: true}}},
	Datastreams: {Name: Datastreams, Single: "Datastream",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "unitOfMeasurement", Kind: KindJSON, Required: true}, {Name: "observationType", Kind: KindString, Required: true}, {Name: "observedArea", Kind: KindGeometry, ReadOnly: true}, {Name: "phenomenonTime", Kind: KindInterval, ReadOnly: true}, {Name: "resultTime", Kind: KindInterval, ReadOnly: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Thing", Target: Things, Required: true}, {Name: "Sensor", Target: Sensors, Required: true}, {Name: "ObservedProperty", Target: ObservedProperties, Required: true}, {Name: "Observations", Target: Observations, Many: true}}},
	Sensors: {Name: Sensors, Single: "Sensor",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "encodingType", Kind: KindString, Required: true}, {Name: "metadata", Kind: KindJSON, Required: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Datastreams", Target: Datastreams, Many: true}, {Name: "MultiDatastreams", Target: MultiDatastreams, Many: true}}},
	ObservedProperties: {Name: ObservedProperties, Single: "ObservedProperty",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "definition", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Datastreams", Target: Datastreams, Many: true}, {Name: "MultiDatastreams", Target: MultiDatastreams, Many: true}}},
	Observations: {Name: Observations, Single: "Observation",
		Props: []Property{{Name: "phenomenonTime", Kind: KindInterval}, {Name: "resultTime", Kind: KindTime}, {Name: "result", Kind: KindResult, Required: true}, {Name: "resultQuality", Kind: KindJSON, ReadOnly: true}, {Name: "validTime", Kind: KindInterval}, {Name: "parameters", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Datastream", Target: Datastreams}, {Name: "MultiDatastream", Target: MultiDatastreams}, {Name: "FeatureOfInterest", Target: FeaturesOfInterest}}},
	FeaturesOfInterest: {Name: FeaturesOfInterest, Single: "FeatureOfInterest",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "encodingType", Kind: KindString, Required: true}, {Name: "feature", Kind: KindGeometry, Required: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Observations", Target: Observations, Many: true}}},
	// A MultiDatastream groups Observations whose result is an array, one element per
	// ObservedProperty: unitOfMeasurements and multiObservationDataTypes are arrays of the same
	// length and order as its ObservedProperties (18-088 §9.2, req. multi-datastream/constraints).
	MultiDatastreams: {Name: MultiDatastreams, Single: "MultiDatastream",
		Props: []Property{{Name: "name", Kind: KindString, Required: true}, {Name: "description", Kind: KindString, Required: true}, {Name: "unitOfMeasurements", Kind: KindJSON, Required: true}, {Name: "observationType", Kind: KindString, Required: true}, {Name: "multiObservationDataTypes", Kind: KindJSON, Required: true}, {Name: "observedArea", Kind: KindGeometry, ReadOnly: true}, {Name: "phenomenonTime", Kind: KindInterval, ReadOnly: true}, {Name: "resultTime", Kind: KindInterval, ReadOnly: true}, {Name: "properties", Kind: KindJSON}},
		Navs:  []Nav{{Name: "Thing", Target: Things, Required: true}, {Name: "Sensor", Target: Sensors, Required: true}, {Name: "ObservedProperties", Target: ObservedProperties, Many: true, Required: true}, {Name: "Observations", Target: Observations, Many: true}}},
}

// SetBySingle maps a singular navigation name ("Thing") to its entity set.
func SetBySingle(single string) (*EntitySet, bool) {
	for _, s := range Sets {
		if s.Single == single {
			return s, true
		}
	}
	return nil, false
}
