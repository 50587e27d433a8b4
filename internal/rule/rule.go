package rule

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/cap"
)

// Kind is what a rule computes from each of its datastreams before comparing with its levels.
type Kind string

// Kinds of rule.
const (
	// Threshold compares the latest value (observed rules) or the most extreme value within
	// the horizon (forecast rules) with the levels.
	Threshold Kind = "threshold"
	// RateOfRise compares the change per hour over Window with the levels.
	RateOfRise Kind = "rateOfRise"
	// Accumulation compares the sum of the values over Window (rainfall in 24 h) with the levels.
	Accumulation Kind = "accumulation"
	// Silence fires, as an operational trigger, when a datastream has not reported for longer
	// than MaxGap. It has no levels of its own: it has one implicit level named "Silent".
	Silence Kind = "silence"
	// HeatIndex reads two datastreams, air temperature (°C) then relative humidity (%), pairs
	// their values by phenomenon time (within PairWithin) and compares the NWS heat index of
	// the newest pair, in °C (advisory.HeatIndexC), with the levels.
	HeatIndex Kind = "heatIndex"
)

// PairWithin is how far apart in phenomenon time a temperature and a humidity value of a
// HeatIndex rule may be and still be read as one pair: half an hour, so that hourly reports
// whose minutes differ pair, and a humidity value from another hour does not.
const PairWithin = 30 * time.Minute

// Direction says which side of a level's value is the dangerous side.
type Direction string

// Directions.
const (
	Above Direction = "above" // a level is reached when value ≥ level value (floods, heat)
	Below Direction = "below" // a level is reached when value ≤ level value (low flow, cold)
)

// Aggregate says how the levels of several datastreams combine into the rule's level.
type Aggregate string

// Aggregates. The rule's level is the k-th highest datastream level, where k is 1 for Any,
// the number of datastreams for All, and Rule.Count for Count.
const (
	Any   Aggregate = "any"   // the highest level of any datastream
	All   Aggregate = "all"   // the lowest level among all datastreams: every one must reach it
	Count Aggregate = "count" // the highest level that at least Rule.Count datastreams reach
)

// Status is the CAP status the alerts of a rule carry. CAP's "Draft" is not a rule status:
// every alert starts as a draft in the alert life cycle anyway.
type Status string

// Statuses (CAP 1.2 <status>).
const (
	Actual   Status = "Actual"
	Exercise Status = "Exercise"
	System   Status = "System"
	Test     Status = "Test"
)

// Severity is CAP 1.2 <severity>.
type Severity string

// Severities.
const (
	Extreme         Severity = "Extreme"
	Severe          Severity = "Severe"
	Moderate        Severity = "Moderate"
	Minor           Severity = "Minor"
	UnknownSeverity Severity = "Unknown"
)

// Urgency is CAP 1.2 <urgency>.
type Urgency string

// Urgencies.
const (
	Immediate      Urgency = "Immediate"
	Expected       Urgency = "Expected"
	Future         Urgency = "Future"
	Past           Urgency = "Past"
	UnknownUrgency Urgency = "Unknown"
)

// Certainty is CAP 1.2 <certainty>.
type Certainty string

// Certainties.
const (
	Observed         Certainty = "Observed"
	Likely           Certainty = "Likely"
	Possible         Certainty = "Possible"
	Unlikely         Certainty = "Unlikely"
	UnknownCertainty Certainty = "Unknown"
)

// SilentLevel is the name of the one implicit level of a Silence rule.
const SilentLevel = "Silent"

// Audiences are the audiences a rule may name and a subscriber may belong to
// (dissemination.Audiences is this list): who a sector advisory is for. "mosques" and
// "radio" are the people who pass a warning on by loudspeaker and community radio (the
// voice alerts, docs/voice.md). Append only: a subscriber's audiences are stored by name,
// the targeting index holds them as bits in this order. At most MaxAudiences.
var Audiences = []string{"public", "farmers", "health", "responders", "exercise", "hospitals", "clinics", "schools", "mosques", "radio"}

// MaxAudiences is how many audiences there may be (the targeting index keeps 31 bits).
const MaxAudiences = 31

// Level is one warning level of a rule, with the CAP fields an alert at this level carries.
// Levels are ordered from the least to the most severe.
type Level struct {
	Name      string    `json:"name"`
	Value     float64   `json:"value"` // threshold in the datastream's unit (per hour for RateOfRise)
	Severity  Severity  `json:"severity"`
	Urgency   Urgency   `json:"urgency"`
	Certainty Certainty `json:"certainty"`
	Event     string    `json:"event"` // CAP <event>, e.g. "Flood"
}

// Margin is the hysteresis of a rule: how far back past a level's value the value must go
// before the level is left. A zero Margin means no hysteresis.
type Margin struct {
	Value   float64 `json:"value"`
	Percent bool    `json:"percent,omitempty"` // Value is a percentage of each level's value
}

// Of returns the margin in the datastream's unit for a level whose value is v.
func (m Margin) Of(v float64) float64 {
	if m.Percent {
		return math.Abs(v) * m.Value / 100
	}
	return m.Value
}

// String returns "5%" or "10000", the form ParseYAML reads.
func (m Margin) String() string {
	s := strconv.FormatFloat(m.Value, 'f', -1, 64)
	if m.Percent {
		return s + "%"
	}
	return s
}

// ParseMargin reads "5%" (percent of each level's value) or "10000" (absolute).
func ParseMargin(s string) (Margin, error) {
	s = strings.TrimSpace(s)
	m := Margin{}
	if t, ok := strings.CutSuffix(s, "%"); ok {
		m.Percent = true
		s = strings.TrimSpace(t)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return Margin{}, fmt.Errorf("must be a number or a percentage like 5%%, not %q", s)
	}
	m.Value = v
	return m, nil
}

// Area is where an alert from the rule applies, in CAP 1.2 terms. Points are WGS 84
// latitude, longitude (CAP order, not GeoJSON order).
type Area struct {
	Desc     string     `json:"desc"`
	Polygons [][]LatLon `json:"polygons,omitempty"` // each a ring cap.CheckPolygon accepts: closed, ≥ 4 points, simple, enclosing an area
	Circles  []Circle   `json:"circles,omitempty"`
	Geocodes []Geocode  `json:"geocodes,omitempty"`
}

// LatLon is a WGS 84 point.
type LatLon struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Circle is a CAP circle: a centre and a radius in kilometres.
type Circle struct {
	Center   LatLon  `json:"center"`
	RadiusKm float64 `json:"radiusKm"` // greater than 0 (cap.CheckCircle)
}

// Geocode is a CAP geocode: a scheme name and a code, e.g. {"PBS-district", "PK-LHR"}.
type Geocode struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Template is the text of an alert in one language. Templates are rendered later, by the alert
// and dissemination packages; this package only carries and checks them.
type Template struct {
	Headline    string `json:"headline"`
	Description string `json:"description,omitempty"`
	Instruction string `json:"instruction,omitempty"`
}

// Rule is a warning rule: what to watch, the levels, how long a level must hold, and what the
// resulting alert looks like. The zero values of the optional fields are the documented
// defaults; Validate reports everything that is wrong, not only the first mistake.
type Rule struct {
	ID          string  `json:"id"`   // stable, unique in an engine; [A-Za-z0-9._-], at most 64 bytes
	Name        string  `json:"name"` // for people
	Kind        Kind    `json:"kind"`
	Datastreams []int64 `json:"datastreams"`

	// Aggregate combines several datastreams; default Any. Count is k for Aggregate Count.
	Aggregate Aggregate `json:"aggregate,omitempty"`
	Count     int       `json:"count,omitempty"`

	// Forecast makes the rule read forecast observations (Obs.Forecast) instead of observed
	// ones; triggers then carry the lead time. Horizon limits how far ahead a forecast is
	// considered (0: no limit).
	Forecast bool          `json:"forecast,omitempty"`
	Horizon  time.Duration `json:"horizon,omitempty"`

	// Window is the span of RateOfRise and Accumulation: the past Window for observed rules,
	// the next Window for forecast rules.
	Window time.Duration `json:"window,omitempty"`
	// MaxGap is how long a datastream may stay silent before a Silence rule fires.
	MaxGap time.Duration `json:"maxGap,omitempty"`

	Direction  Direction `json:"direction,omitempty"` // default Above
	Levels     []Level   `json:"levels,omitempty"`
	Hysteresis Margin    `json:"hysteresis"`

	// Hold is how long the condition must hold before Pending becomes Firing (Prometheus
	// "for"); it also applies to each escalation. ClearHold is how long a level must stay
	// unmet before the rule de-escalates or clears (Prometheus "keep_firing_for").
	Hold      time.Duration `json:"hold,omitempty"`
	ClearHold time.Duration `json:"clearHold,omitempty"`

	// IgnoreSuspect makes the rule skip observations flagged suspect by QC, not only bad ones.
	IgnoreSuspect bool `json:"ignoreSuspect,omitempty"`

	Area      Area                `json:"area"`
	AutoIssue bool                `json:"autoIssue,omitempty"` // issue without a person's approval
	Status    Status              `json:"status,omitempty"`    // default Actual
	Audience  string              `json:"audience,omitempty"`  // CAP <audience>, free text
	Templates map[string]Template `json:"templates,omitempty"` // by BCP 47 language tag: "en", "ur"

	// Category is the CAP <category> of the rule's alerts (Met, Health, Env, …; CAP 1.2
	// §3.2.2); default Met.
	Category string `json:"category,omitempty"`
	// Audiences are the dissemination audiences an Actual alert of the rule goes to (e.g.
	// "hospitals", "schools", "farmers"; see dissemination.Audiences); empty: everyone in the
	// area, as for flood warnings. Sector advisories name theirs (docs/advisories.md).
	Audiences []string `json:"audiences,omitempty"`
	// Months, when set, are the months (1–12) in which the rule may fire, by the phenomenon
	// time of the deciding value in UTC (an agromet advisory's crop stage); in other months
	// its condition is taken as unmet.
	Months []int `json:"months,omitempty"`

	// Operational marks a rule whose triggers go to operators, never to the public. Silence
	// rules are always operational.
	Operational bool `json:"operational,omitempty"`

	// Organisation owns the rule (and the alerts it drafts): the organisation of the key that
	// applied it, auth.NodeOrganisation for rules applied before rules had owners or from the
	// command line without one. It is not part of a rules file nor of the stored body: the
	// store keeps it beside the rule and sets it on load.
	Organisation string `json:"-"`
}

// Limits on a rule, so that one bad file cannot make the engine slow or huge.
const (
	MaxLevels      = 16
	MaxDatastreams = 256
	maxIDLen       = 64
)

// withDefaults returns the rule with the documented defaults filled in.
func (r Rule) withDefaults() Rule {
	if r.Aggregate == "" {
		r.Aggregate = Any
	}
	if r.Direction == "" {
		r.Direction = Above
	}
	if r.Status == "" {
		r.Status = Actual
	}
	if r.Kind == Silence {
		r.Operational = true
	}
	return r
}

// levels returns the levels the engine evaluates: the rule's own, or the implicit one of a
// Silence rule.
func (r Rule) levels() []Level {
	if r.Kind == Silence {
		return []Level{{Name: SilentLevel, Severity: UnknownSeverity, Urgency: UnknownUrgency, Certainty: UnknownCertainty, Event: "Datastream silent"}}
	}
	return r.Levels
}

// k is the number of datastreams that must reach a level for the rule to reach it.
func (r Rule) k() int {
	switch r.Aggregate {
	case All:
		return len(r.Datastreams)
	case Count:
		return r.Count
	}
	return 1
}

// Validate checks the rule and returns nil or an ErrorList whose paths are relative to the
// rule, e.g. "levels[2].value: must be greater than the previous level (375000)".
func (r Rule) Validate() error {
	var errs ErrorList
	r.validate(func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	})
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// reportFunc records one problem at a path relative to the rule.
type reportFunc func(path, format string, args ...any)

func (r Rule) validate(report reportFunc) {
	r = r.withDefaults()
	switch {
	case r.ID == "":
		report("id", "is required")
	case len(r.ID) > maxIDLen:
		report("id", "must be at most %d bytes", maxIDLen)
	case !validID(r.ID):
		report("id", "must contain only letters, digits, '.', '_' and '-', not %q", r.ID)
	}
	switch r.Kind {
	case Threshold, RateOfRise, Accumulation, Silence, HeatIndex:
	case "":
		report("kind", "is required (threshold, rateOfRise, accumulation, silence or heatIndex)")
	default:
		report("kind", "must be threshold, rateOfRise, accumulation, silence or heatIndex, not %q", r.Kind)
	}
	if r.Kind == HeatIndex {
		if len(r.Datastreams) != 2 {
			report("datastreams", "a heatIndex rule reads two datastreams, [air temperature °C, relative humidity %%], not %d", len(r.Datastreams))
		}
		if r.Forecast {
			report("forecast", "heatIndex rules read observations only")
		}
		if r.Aggregate != Any {
			report("aggregate", "a heatIndex rule combines its two datastreams into one value; aggregate is not used")
		}
	}
	switch r.Category {
	case "", "Geo", "Met", "Safety", "Security", "Rescue", "Fire", "Health", "Env", "Transport", "Infra", "CBRNE", "Other":
	default:
		report("category", "must be a CAP 1.2 category (Geo, Met, Safety, Security, Rescue, Fire, Health, Env, Transport, Infra, CBRNE, Other), not %q", r.Category)
	}
	for i, a := range r.Audiences {
		if !slices.Contains(Audiences, a) {
			report(fmt.Sprintf("audiences[%d]", i), "audience %q is not one of %s", a, strings.Join(Audiences, ", "))
		}
	}
	for i, m := range r.Months {
		if m < 1 || m > 12 {
			report(fmt.Sprintf("months[%d]", i), "must be a month 1–12, not %d", m)
		}
	}

	if len(r.Datastreams) == 0 {
		report("datastreams", "needs at least one datastream")
	}
	if len(r.Datastreams) > MaxDatastreams {
		report("datastreams", "has %d datastreams; at most %d", len(r.Datastreams), MaxDatastreams)
	}
	seen := map[int64]int{}
	for i, id := range r.Datastreams {
		if id <= 0 {
			report(fmt.Sprintf("datastreams[%d]", i), "must be a positive datastream id, not %d", id)
		}
		if j, dup := seen[id]; dup {
			report(fmt.Sprintf("datastreams[%d]", i), "repeats datastreams[%d] (%d)", j, id)
		}
		seen[id] = i
	}

	switch r.Aggregate {
	case Any, All:
		if r.Count != 0 {
			report("count", "is only for aggregate: count")
		}
	case Count:
		if r.Count < 1 || r.Count > len(r.Datastreams) {
			report("count", "must be between 1 and the number of datastreams (%d), not %d", len(r.Datastreams), r.Count)
		}
	default:
		report("aggregate", "must be any, all or count, not %q", r.Aggregate)
	}

	switch r.Direction {
	case Above, Below:
	default:
		report("direction", "must be above or below, not %q", r.Direction)
	}

	nonNeg := func(path string, d time.Duration) {
		if d < 0 {
			report(path, "must not be negative, not %v", d)
		}
	}
	nonNeg("hold", r.Hold)
	nonNeg("clearHold", r.ClearHold)
	nonNeg("horizon", r.Horizon)
	switch r.Kind {
	case RateOfRise, Accumulation:
		if r.Window <= 0 {
			report("window", "is required for %s rules and must be positive", r.Kind)
		}
	default:
		if r.Window != 0 {
			report("window", "is only for rateOfRise and accumulation rules")
		}
	}
	if r.Kind == Silence {
		if r.MaxGap <= 0 {
			report("maxGap", "is required for silence rules and must be positive")
		}
		if len(r.Levels) > 0 {
			report("levels", "silence rules have no levels (they have one implicit level, %q)", SilentLevel)
		}
		if r.Hysteresis.Value != 0 {
			report("hysteresis", "is not used by silence rules")
		}
	} else {
		if r.MaxGap != 0 {
			report("maxGap", "is only for silence rules")
		}
		r.validateLevels(report)
	}
	if r.Horizon != 0 && !(r.Forecast && r.Kind == Threshold) {
		report("horizon", "is only for forecast threshold rules (window bounds the others)")
	}

	m := r.Hysteresis
	switch {
	case math.IsNaN(m.Value) || math.IsInf(m.Value, 0) || m.Value < 0:
		report("hysteresis", "must be a finite number ≥ 0")
	case m.Percent && m.Value >= 100:
		report("hysteresis", "must be less than 100%%, not %v%%", m.Value)
	}

	switch r.Status {
	case Actual, Exercise, System, Test:
	default:
		report("status", "must be Actual, Exercise, System or Test, not %q", r.Status)
	}

	r.validateArea(report)
	for _, lang := range sortedKeys(r.Templates) {
		t := r.Templates[lang]
		p := "templates." + lang
		if !validLang(lang) {
			report(p, "%q is not a language tag like en, ur or zh-Hans", lang)
		}
		if strings.TrimSpace(t.Headline) == "" {
			report(p+".headline", "is required")
		}
	}
	if r.AutoIssue {
		if len(r.Templates) == 0 {
			report("templates", "autoIssue needs at least one template: nobody reviews the text")
		}
		if r.Operational {
			report("autoIssue", "operational rules never issue public alerts")
		}
	}
}

func (r Rule) validateLevels(report reportFunc) {
	if len(r.Levels) == 0 {
		report("levels", "needs at least one level")
		return
	}
	if len(r.Levels) > MaxLevels {
		report("levels", "has %d levels; at most %d", len(r.Levels), MaxLevels)
	}
	names := map[string]int{}
	for i, l := range r.Levels {
		p := fmt.Sprintf("levels[%d]", i)
		if strings.TrimSpace(l.Name) == "" {
			report(p+".name", "is required")
		} else if j, dup := names[l.Name]; dup {
			report(p+".name", "repeats levels[%d].name (%q)", j, l.Name)
		}
		names[l.Name] = i
		if math.IsNaN(l.Value) || math.IsInf(l.Value, 0) {
			report(p+".value", "must be a finite number")
		} else if i > 0 {
			prev := r.Levels[i-1].Value
			if r.Direction == Below && !(l.Value < prev) {
				report(p+".value", "must be less than the previous level (%s) for direction below", num(prev))
			}
			if r.Direction != Below && !(l.Value > prev) {
				report(p+".value", "must be greater than the previous level (%s)", num(prev))
			}
		}
		switch l.Severity {
		case Extreme, Severe, Moderate, Minor, UnknownSeverity:
		case "":
			report(p+".severity", "is required (Extreme, Severe, Moderate, Minor or Unknown)")
		default:
			report(p+".severity", "must be Extreme, Severe, Moderate, Minor or Unknown, not %q", l.Severity)
		}
		switch l.Urgency {
		case Immediate, Expected, Future, Past, UnknownUrgency:
		case "":
			report(p+".urgency", "is required (Immediate, Expected, Future, Past or Unknown)")
		default:
			report(p+".urgency", "must be Immediate, Expected, Future, Past or Unknown, not %q", l.Urgency)
		}
		switch l.Certainty {
		case Observed, Likely, Possible, Unlikely, UnknownCertainty:
		case "":
			report(p+".certainty", "is required (Observed, Likely, Possible, Unlikely or Unknown)")
		default:
			report(p+".certainty", "must be Observed, Likely, Possible, Unlikely or Unknown, not %q", l.Certainty)
		}
		if r.Forecast && l.Certainty == Observed {
			report(p+".certainty", "a forecast is not Observed; use Likely or Possible")
		}
		if strings.TrimSpace(l.Event) == "" {
			report(p+".event", "is required (the CAP event, e.g. Flood)")
		}
	}
}

func (r Rule) validateArea(report reportFunc) {
	a := r.Area
	empty := a.Desc == "" && len(a.Polygons) == 0 && len(a.Circles) == 0 && len(a.Geocodes) == 0
	if empty && r.Operational {
		return // an operational trigger goes to operators, not to an area
	}
	if strings.TrimSpace(a.Desc) == "" {
		report("area.desc", "is required (CAP areaDesc) unless the rule is operational")
	}
	if r.AutoIssue && len(a.Polygons) == 0 && len(a.Circles) == 0 && len(a.Geocodes) == 0 {
		report("area", "autoIssue needs a polygon, circle or geocode to target")
	}
	// the one area check (cap.CheckPolygon, cap.CheckCircle): what CAP 1.2 asks, and rings
	// that cross, touch or run back over themselves, enclose no area, or circles of radius 0
	for i, poly := range a.Polygons {
		pg := make(cap.Polygon, len(poly))
		for j, pt := range poly {
			pg[j] = cap.Point{Lat: pt.Lat, Lon: pt.Lon}
		}
		if err := cap.CheckPolygon(pg); err != nil {
			report(fmt.Sprintf("area.polygons[%d]", i), "%v", err)
		}
	}
	for i, c := range a.Circles {
		centre := cap.Point{Lat: c.Center.Lat, Lon: c.Center.Lon}
		if err := cap.CheckCircle(cap.Circle{Center: centre, RadiusKM: c.RadiusKm}); err != nil {
			p := fmt.Sprintf("area.circles[%d].radiusKm", i)
			if cap.CheckCircle(cap.Circle{Center: centre, RadiusKM: 1}) != nil {
				p = fmt.Sprintf("area.circles[%d].center", i) // the centre is what is wrong
			}
			report(p, "%v", err)
		}
	}
	for i, g := range a.Geocodes {
		p := fmt.Sprintf("area.geocodes[%d]", i)
		if strings.TrimSpace(g.Name) == "" {
			report(p+".name", "is required")
		}
		if strings.TrimSpace(g.Value) == "" {
			report(p+".value", "is required")
		}
	}
}

func validID(s string) bool {
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return s != ""
}

// validLang accepts the shape of a BCP 47 tag (letters, digits and hyphens, a 2–3 letter
// primary subtag); it does not check the registry.
func validLang(s string) bool {
	parts := strings.Split(s, "-")
	if n := len(parts[0]); n < 2 || n > 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 8 {
			return false
		}
		for _, c := range p {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// num formats a number without exponent or trailing zeros: 375000, 0.5.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
