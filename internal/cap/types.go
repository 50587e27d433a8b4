package cap

import "time"

// Namespace is the XML namespace of CAP 1.2; the only one Unmarshal accepts.
const Namespace = "urn:oasis:names:tc:emergency:cap:1.2"

// Other CAP namespaces, named in errors so that a CAP 1.1 or 1.0 message is refused clearly.
const (
	Namespace11 = "urn:oasis:names:tc:emergency:cap:1.1"
	Namespace10 = "http://www.incident.com/cap/1.0"
)

// Alert is one CAP 1.2 <alert>. Fields follow the schema's element order. A zero time.Time
// means the element is absent; Sent is required.
type Alert struct {
	Identifier  string
	Sender      string
	Sent        time.Time
	Status      Status
	MsgType     MsgType
	Source      string
	Scope       Scope
	Restriction string
	Addresses   []string // decoded from the space-delimited list; entries with spaces are quoted on output
	Codes       []string
	Note        string
	References  []Reference
	Incidents   []string // decoded from the space-delimited list, like Addresses
	Infos       []Info

	// Extensions are the elements after <info> from another namespace, kept as raw XML in
	// document order. The schema allows only XML Signature (xmldsig) elements there, so an
	// enveloped <Signature> lands here. Validate reports any other extension.
	Extensions []Extension

	// present records optional elements that were present but empty (<restriction/>), so
	// that Marshal writes them back; alerts built in code never need it.
	present presence
}

// presence is a bit set of optional elements that were present in the input even if empty.
type presence uint32

const (
	hasSource presence = 1 << iota
	hasRestriction
	hasAddresses
	hasNote
	hasIncidents
	hasReferences
	hasLanguage
	hasAudience
	hasSenderName
	hasHeadline
	hasDescription
	hasInstruction
	hasWeb
	hasContact
	hasURI
	hasDerefURI
	hasDigest
)

// Reference is one entry of <references>: "sender,identifier,sent".
type Reference struct {
	Sender     string
	Identifier string
	Sent       time.Time
}

// Info is one <info> block: the event in one language.
type Info struct {
	Language     string // RFC 3066 code; "" means absent (the schema default is en-US)
	Categories   []Category
	Event        string
	ResponseType []ResponseType
	Urgency      Urgency
	Severity     Severity
	Certainty    Certainty
	Audience     string
	EventCodes   []ValuePair
	Effective    time.Time
	Onset        time.Time
	Expires      time.Time
	SenderName   string
	Headline     string
	Description  string
	Instruction  string
	Web          string
	Contact      string
	Parameters   []ValuePair
	Resources    []Resource
	Areas        []Area

	present presence
}

// ValuePair is an eventCode, parameter or geocode: a system-specific name and its value.
type ValuePair struct {
	ValueName string
	Value     string
}

// Resource is one <resource>: a file with supplemental information.
type Resource struct {
	ResourceDesc string
	MimeType     string
	Size         *int64
	URI          string
	DerefURI     string // base64 content, kept as text
	Digest       string // SHA-1 hex, as CAP 1.2 says

	present presence
}

// Area is one <area>. Several polygons, circles and geocodes are allowed; the area is their
// union.
type Area struct {
	AreaDesc string
	Polygons []Polygon
	Circles  []Circle
	Geocodes []ValuePair
	Altitude *float64 // feet above mean sea level
	Ceiling  *float64 // feet; needs Altitude
}

// Extension is a foreign-namespace element kept verbatim (re-serialised with explicit
// namespace declarations, comments dropped).
type Extension struct {
	Space string // namespace URI
	Local string // local name
	XML   []byte // the whole element
}

// Status is <status>.
type Status string

// Values of Status.
const (
	StatusActual   Status = "Actual"
	StatusExercise Status = "Exercise"
	StatusSystem   Status = "System"
	StatusTest     Status = "Test"
	StatusDraft    Status = "Draft"
)

// MsgType is <msgType>.
type MsgType string

// Values of MsgType.
const (
	MsgAlert  MsgType = "Alert"
	MsgUpdate MsgType = "Update"
	MsgCancel MsgType = "Cancel"
	MsgAck    MsgType = "Ack"
	MsgError  MsgType = "Error"
)

// Scope is <scope>.
type Scope string

// Values of Scope.
const (
	ScopePublic     Scope = "Public"
	ScopeRestricted Scope = "Restricted"
	ScopePrivate    Scope = "Private"
)

// Category is <category>.
type Category string

// Values of Category.
const (
	CatGeo       Category = "Geo"
	CatMet       Category = "Met"
	CatSafety    Category = "Safety"
	CatSecurity  Category = "Security"
	CatRescue    Category = "Rescue"
	CatFire      Category = "Fire"
	CatHealth    Category = "Health"
	CatEnv       Category = "Env"
	CatTransport Category = "Transport"
	CatInfra     Category = "Infra"
	CatCBRNE     Category = "CBRNE"
	CatOther     Category = "Other"
)

// ResponseType is <responseType>.
type ResponseType string

// Values of ResponseType.
const (
	RespShelter  ResponseType = "Shelter"
	RespEvacuate ResponseType = "Evacuate"
	RespPrepare  ResponseType = "Prepare"
	RespExecute  ResponseType = "Execute"
	RespAvoid    ResponseType = "Avoid"
	RespMonitor  ResponseType = "Monitor"
	RespAssess   ResponseType = "Assess"
	RespAllClear ResponseType = "AllClear"
	RespNone     ResponseType = "None"
)

// Urgency is <urgency>.
type Urgency string

// Values of Urgency.
const (
	UrgencyImmediate Urgency = "Immediate"
	UrgencyExpected  Urgency = "Expected"
	UrgencyFuture    Urgency = "Future"
	UrgencyPast      Urgency = "Past"
	UrgencyUnknown   Urgency = "Unknown"
)

// Severity is <severity>.
type Severity string

// Values of Severity.
const (
	SeverityExtreme  Severity = "Extreme"
	SeveritySevere   Severity = "Severe"
	SeverityModerate Severity = "Moderate"
	SeverityMinor    Severity = "Minor"
	SeverityUnknown  Severity = "Unknown"
)

// Certainty is <certainty>.
type Certainty string

// Values of Certainty.
const (
	CertaintyObserved Certainty = "Observed"
	CertaintyLikely   Certainty = "Likely"
	CertaintyPossible Certainty = "Possible"
	CertaintyUnlikely Certainty = "Unlikely"
	CertaintyUnknown  Certainty = "Unknown"
)

var (
	statusValues    = []string{"Actual", "Exercise", "System", "Test", "Draft"}
	msgTypeValues   = []string{"Alert", "Update", "Cancel", "Ack", "Error"}
	scopeValues     = []string{"Public", "Restricted", "Private"}
	categoryValues  = []string{"Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other"}
	responseValues  = []string{"Shelter", "Evacuate", "Prepare", "Execute", "Avoid", "Monitor", "Assess", "AllClear", "None"}
	urgencyValues   = []string{"Immediate", "Expected", "Future", "Past", "Unknown"}
	severityValues  = []string{"Extreme", "Severe", "Moderate", "Minor", "Unknown"}
	certaintyValues = []string{"Observed", "Likely", "Possible", "Unlikely", "Unknown"}
)

// Valid reports whether s is one of the schema's values.
func (s Status) Valid() bool { return oneOf(string(s), statusValues) }

// Valid reports whether m is one of the schema's values.
func (m MsgType) Valid() bool { return oneOf(string(m), msgTypeValues) }

// Valid reports whether s is one of the schema's values.
func (s Scope) Valid() bool { return oneOf(string(s), scopeValues) }

// Valid reports whether c is one of the schema's values.
func (c Category) Valid() bool { return oneOf(string(c), categoryValues) }

// Valid reports whether r is one of the schema's values.
func (r ResponseType) Valid() bool { return oneOf(string(r), responseValues) }

// Valid reports whether u is one of the schema's values.
func (u Urgency) Valid() bool { return oneOf(string(u), urgencyValues) }

// Valid reports whether s is one of the schema's values.
func (s Severity) Valid() bool { return oneOf(string(s), severityValues) }

// Valid reports whether c is one of the schema's values.
func (c Certainty) Valid() bool { return oneOf(string(c), certaintyValues) }

func oneOf(s string, values []string) bool {
	for _, v := range values {
		if s == v {
			return true
		}
	}
	return false
}
