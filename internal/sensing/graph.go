package sensing

import (
	"encoding/json"
	"time"

	"github.com/rabta/rabta/internal/odata"
)

// Entity is one SensorThings entity as read from a store or as given to create or update one.
//
// Props holds property values by name: string, float64, bool, nil, or json.RawMessage for JSON
// values (properties, geometries, results). Links holds, for a create or update, the entities
// linked through each navigation property: an entity with Ref set is an existing entity named
// by ID, any other is created with its parent (deep insert).
type Entity struct {
	Set   string
	ID    int64
	Ref   bool
	Props map[string]any
	Links map[string][]*Entity
	// Obs is set for an Observation to create: its typed, already validated form.
	Obs *Observation
	// Expanded holds, on read, the entities of each $expand-ed navigation property.
	Expanded map[string]*Expanded
}

// Expanded is the result of expanding one navigation property.
type Expanded struct {
	One   *Entity   // a to-one navigation (nil when absent)
	Many  []*Entity // a to-many navigation
	Count *int64    // when $count=true was asked inside the expand
	// Next continues a to-many collection cut at Top entities (nil when it is complete), in the
	// order and with the options of its $expand item: the server writes it as
	// <Nav>@iot.nextLink, which lists the same collection from there.
	Next   *Cursor
	Top    int // the page size the collection was cut at
	IsMany bool
}

// Observation is the typed form of an Observation on the ingest path (dataArray, CSV, MQTT,
// single creates), where a map per row would cost too much.
type Observation struct {
	ID           int64
	DatastreamID int64
	// MultiDatastreamID is set instead of DatastreamID for an Observation of a MultiDatastream;
	// its result is then a JSON array (ResultJSON) with one element per ObservedProperty.
	MultiDatastreamID int64
	// PhenStart and PhenEnd bound the phenomenon time (equal for an instant); PhenText is the
	// time exactly as the client sent it, so that it comes back unchanged.
	PhenStart, PhenEnd time.Time
	PhenText           string
	ResultTime         *time.Time
	ResultTimeText     string
	// Result is a number (ResultNum set) or any other JSON value (ResultJSON set).
	ResultNum  *float64
	ResultJSON json.RawMessage
	// Flag is the QC flag and Quality the resultQuality JSON that explains it.
	Flag       Flag
	Quality    json.RawMessage
	ValidStart *time.Time
	ValidEnd   *time.Time
	ValidText  string
	Parameters json.RawMessage
	// FoIID is the FeatureOfInterest; 0 means "the Thing's Location", as the standard says.
	FoIID int64
}

// DatastreamInfo is what ingest needs to know about a datastream to accept observations for it.
type DatastreamInfo struct {
	ID                   int64
	ThingID              int64
	ObservationType      string
	UnitSymbol           string
	ObservedPropertyName string
	ObservedPropertyDef  string
	Properties           json.RawMessage
	// Recent holds the latest few observations (oldest first), so that QC state survives a restart.
	Recent []Point
	// State is the Checker's own per-datastream state, kept with the cached info.
	State any
}

// Point is one numeric value at one time.
type Point struct {
	T time.Time
	V float64
}

// Checker runs quality control on an observation about to be stored: it sets o.Flag and
// o.Quality, or returns an error to reject it. Stores call it for every observation they insert,
// whatever path it came by, one at a time in commit order.
type Checker interface {
	Check(ds *DatastreamInfo, o *Observation) error
}

// DatastreamIDProp is the key under which a store puts an Observation's datastream id in
// Entity.Props on read (not a SensorThings property: it is never written out as one).
const DatastreamIDProp = "@datastream"

// MultiDatastreamIDProp is, likewise, the key of an Observation's MultiDatastream id on read
// (absent for an Observation of a Datastream).
const MultiDatastreamIDProp = "@multidatastream"

// Parent names the entity whose navigation property leads to a collection:
// Things(1)/Datastreams is Parent{Set: "Things", ID: 1, Nav: "Datastreams"}.
type Parent struct {
	Set string
	ID  int64
	Nav string
}

// Cursor continues a listing where the previous page ended (server-driven paging). Keys are
// the previous page's last values of the $orderby expressions and ID its last id; MaxID is the
// largest id when the listing began, so rows added since do not shift pages or change counts.
type Cursor struct {
	MaxID int64 `json:"m"`
	Keys  []any `json:"k,omitempty"`
	ID    int64 `json:"i"`
}

// Page is one page of a collection.
type Page struct {
	Entities []*Entity
	Count    *int64  // with $count=true
	Next     *Cursor // nil on the last page
}

// Query asks a store for one entity (ID > 0) or a page of a collection, optionally reached
// through a Parent's navigation property, with the SensorThings query options.
type Query struct {
	Set    string
	ID     int64
	Parent *Parent
	Opts   *odata.Options // never nil
	// Top is the page size, already bounded by the server's limits.
	Top    int
	Cursor *Cursor
	// MaxTop bounds $top inside $expand.
	MaxTop int
	// ExpandTop is the page size of an expanded collection whose $expand item has no $top (the
	// server's default page size); 0 means 100.
	ExpandTop int
	// Budget bounds the entities the answer holds at every level of $expand (nil: unbounded).
	// A store that runs out of it pages where that gives a correct answer (see sqlq.Entities.List)
	// and otherwise fails with Budget.Err.
	Budget *Budget
	// View, when set, leaves out the remote entities it does not allow, at every level of
	// $expand and in counts (a store sets it from the read's context: RemoteViewFrom); nil
	// shows everything.
	View *RemoteView
}
