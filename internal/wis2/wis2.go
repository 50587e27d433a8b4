package wis2

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Conformance classes the documents declare.
const (
	WCMP2 = "http://wis.wmo.int/spec/wcmp/2/conf/core"
	WNM   = "http://wis.wmo.int/spec/wnm/1/conf/core"
)

// Data policies (WMO Unified Data Policy, Res. 1 (Cg-Ext(2021))).
const (
	Core        = "core"
	Recommended = "recommended"
)

var centreRE = regexp.MustCompile(`^[a-z]{2}-[a-z0-9]+(-[a-z0-9]+)*$`)

// CheckCentre checks a WIS2 centre id: lower-case "<ISO 3166 alpha-2>-<acronym>", hyphenated,
// e.g. "pk-pmd" (WIS2 topic hierarchy, level 4).
func CheckCentre(c string) error {
	if len(c) > 64 || !centreRE.MatchString(c) {
		return fmt.Errorf("WIS2 centre id %q: want lower-case <country code>-<acronym>, e.g. pk-pmd", c)
	}
	return nil
}

// Stream is one Datastream of a dataset: its id and name, its station's name and position
// (HasPoint false: none known) and unit symbol.
type Stream struct {
	ID       int64
	Name     string
	Station  string
	Lon, Lat float64
	HasPoint bool
	Unit     string
}

// Dataset is one organisation's observations of one observed property: its Datastreams and
// the phenomenon time they span (zero: none yet).
type Dataset struct {
	Organisation       string
	Property           int64
	PropertyName       string
	PropertyDefinition string
	Streams            []Stream
	Start, End         time.Time
	Open               bool
	Opened             time.Time // when the organisation opened its data (zero: closed)
}

// Options say who publishes: the WIS2 centre id, the node's id and base URL (no trailing
// slash), the organisation's display names (nil: the id).
type Options struct {
	Centre  string
	Node    string
	BaseURL string
	// MQTTPort is the port of the node's MQTT broker, on the host of BaseURL, where the
	// notifications are published ("": the link names the host alone).
	MQTTPort string
	Names    func(org string) string
}

// MetadataID is the WCMP2 record id of d.
func (o Options) MetadataID(org string, property int64) string {
	return fmt.Sprintf("urn:wmo:md:%s:rabta.%s.%d", o.Centre, slug(org), property)
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

// Discipline is the topic hierarchy's earth-system-discipline path for an observed property:
// water level, stage, discharge and flow are hydrology (stream water quantity), the rest
// surface weather observations.
func Discipline(name, definition string) string {
	s := strings.ToLower(name + " " + definition)
	for _, w := range []string{"water level", "water_level", "waterlevel", "stage", "discharge", "streamflow", "river", "flow"} {
		if strings.Contains(s, w) {
			return "hydrology/surface-based-observations/water-quantity/stream"
		}
	}
	return "weather/surface-based-observations/synop"
}

// Topic is the WIS2 topic of a dataset's notifications (policy Core or Recommended).
func (o Options) Topic(policy, discipline string) string {
	return "origin/a/wis2/" + o.Centre + "/data/" + policy + "/" + discipline
}

// Feature is a GeoJSON Feature as WCMP2 and WNM use it (fields in the order they are written).
type Feature struct {
	ID         string         `json:"id"`
	ConformsTo []string       `json:"conformsTo"`
	Type       string         `json:"type"`
	Time       any            `json:"time,omitempty"`
	Geometry   any            `json:"geometry"`
	Properties map[string]any `json:"properties"`
	Links      []Link         `json:"links"`
}

// Link is an OGC API link.
type Link struct {
	Href    string `json:"href"`
	Rel     string `json:"rel"`
	Type    string `json:"type,omitempty"`
	Title   string `json:"title,omitempty"`
	Channel string `json:"channel,omitempty"`
	Length  int    `json:"length,omitempty"`
}

// Collection is the catalogue: an OGC API - Records FeatureCollection of WCMP2 records.
type Collection struct {
	Type           string    `json:"type"`
	ID             string    `json:"id"`
	Title          string    `json:"title"`
	NumberMatched  int       `json:"numberMatched"`
	NumberReturned int       `json:"numberReturned"`
	Features       []Feature `json:"features"`
	Links          []Link    `json:"links"`
}

// point or bounding polygon of the streams with a position (null: none).
func geometry(ss []Stream) any {
	var pts [][2]float64
	for _, s := range ss {
		if s.HasPoint {
			pts = append(pts, [2]float64{s.Lon, s.Lat})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	minX, minY, maxX, maxY := pts[0][0], pts[0][1], pts[0][0], pts[0][1]
	for _, p := range pts[1:] {
		minX, maxX = min(minX, p[0]), max(maxX, p[0])
		minY, maxY = min(minY, p[1]), max(maxY, p[1])
	}
	if minX == maxX && minY == maxY {
		return map[string]any{"type": "Point", "coordinates": []float64{minX, minY}}
	}
	if minX == maxX { // a degenerate box still needs an area: widen by 0.001°
		minX, maxX = minX-0.0005, maxX+0.0005
	}
	if minY == maxY {
		minY, maxY = minY-0.0005, maxY+0.0005
	}
	return map[string]any{"type": "Polygon", "coordinates": [][][2]float64{{{minX, minY}, {maxX, minY}, {maxX, maxY}, {minX, maxY}, {minX, minY}}}}
}

// updated is when d's record last changed: its newest observation, or its organisation's
// opening of its data (the record's data policy changed), whichever is later.
func updated(d Dataset, created time.Time) time.Time {
	u := created
	for _, t := range []time.Time{d.End, d.Opened} {
		if t.After(u) {
			u = t
		}
	}
	return u
}

func stamp(t time.Time) string { return t.UTC().Truncate(time.Second).Format("2006-01-02T15:04:05Z") }

// Record is d's WCMP2 discovery record.
func (o Options) Record(d Dataset, created time.Time) Feature {
	name := d.Organisation
	if o.Names != nil {
		name = o.Names(d.Organisation)
	}
	policy := Recommended
	if d.Open {
		policy = Core
	}
	disc := Discipline(d.PropertyName, d.PropertyDefinition)
	var tm any
	if !d.Start.IsZero() {
		end := ".."
		if !d.Open && !d.End.IsZero() {
			end = stamp(d.End)
		}
		tm = map[string]any{"interval": []string{stamp(d.Start), end}}
	}
	kw := []string{"WIS2", "Rabta", "observations", d.PropertyName, o.Node}
	for _, s := range d.Streams {
		kw = append(kw, s.Station)
	}
	props := map[string]any{
		"type":        "dataset",
		"title":       fmt.Sprintf("%s: %s observations (Rabta node %s)", name, d.PropertyName, o.Node),
		"description": fmt.Sprintf("%s observed by %s at %d station(s), served by the Rabta node %s through the OGC SensorThings API 1.1.", d.PropertyName, name, len(d.Streams), o.Node),
		"keywords":    dedupe(kw),
		"themes": []any{map[string]any{"scheme": "https://codes.wmo.int/wis/topic-hierarchy/earth-system-discipline",
			"concepts": []any{map[string]any{"id": strings.SplitN(disc, "/", 2)[0]}}}},
		"contacts": []any{map[string]any{"organization": name, "roles": []string{"producer"},
			"links": []any{map[string]any{"rel": "about", "type": "text/html", "href": o.BaseURL + "/"}}}},
		"created":        stamp(created),
		"updated":        stamp(updated(d, created)),
		"wmo:dataPolicy": policy,
		"language":       map[string]any{"code": "en"},
	}
	if !d.Open {
		props["rights"] = "Available to partners under a Rabta data-sharing agreement with " + name + "."
	}
	f := Feature{ID: o.MetadataID(d.Organisation, d.Property), ConformsTo: []string{WCMP2}, Type: "Feature", Time: tm,
		Geometry: geometry(d.Streams), Properties: props}
	for _, s := range d.Streams {
		f.Links = append(f.Links, Link{Href: fmt.Sprintf("%s/v1.1/Datastreams(%d)", o.BaseURL, s.ID), Rel: "data", Type: "application/json",
			Title: s.Station + ": " + s.Name + " (SensorThings Datastream)"})
	}
	if d.Open {
		f.Links = append(f.Links, Link{Href: mqttHref(o.BaseURL, o.MQTTPort), Rel: "items", Type: "application/geo+json",
			Channel: o.Topic(Core, disc), Title: "WIS2 notifications of new observations"})
	}
	if len(f.Links) == 0 {
		f.Links = []Link{{Href: o.BaseURL + "/wis2/catalogue", Rel: "collection", Type: "application/geo+json"}}
	}
	if f.Time == nil {
		f.Time = json.RawMessage("null")
	}
	return f
}

// mqttHref is the node's MQTT broker for links: the host of its base URL (an IPv6 one in
// brackets) and port ("" for none).
func mqttHref(base, port string) string {
	host := base
	if u, err := url.Parse(base); err == nil && u.Host != "" {
		host = u.Hostname()
	}
	if port == "" {
		if strings.Contains(host, ":") {
			return "mqtt://[" + host + "]"
		}
		return "mqtt://" + host
	}
	return "mqtt://" + net.JoinHostPort(host, port)
}

func dedupe(ss []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range ss {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// Catalogue is the collection of the records of datasets.
func (o Options) Catalogue(datasets []Dataset, now time.Time) Collection {
	c := Collection{Type: "FeatureCollection", ID: "urn:wmo:md:" + o.Centre + ":rabta.catalogue", Title: "Rabta node " + o.Node + ": datasets (WCMP2)",
		Features: []Feature{}, Links: []Link{{Href: o.BaseURL + "/wis2/catalogue", Rel: "self", Type: "application/geo+json"}}}
	for _, d := range datasets {
		created := d.Start
		if created.IsZero() {
			created = now
		}
		c.Features = append(c.Features, o.Record(d, created))
	}
	c.NumberMatched, c.NumberReturned = len(c.Features), len(c.Features)
	return c
}

// Batch is what a notification announces: a Datastream's observations with ids first…last,
// their phenomenon time span, and the bytes its canonical link serves (for integrity and size).
type Batch struct {
	Datastream  int64
	Station     Stream
	First, Last int64
	Start, End  time.Time
	Content     []byte
}

// DataPath is the path of the data a notification links to.
func DataPath(datastream, first, last int64) string {
	return fmt.Sprintf("/wis2/data/datastreams/%d/observations?from=%d&to=%d", datastream, first, last)
}

// Notification is the WNM announcing b (of organisation org, observed property property).
func (o Options) Notification(org string, property int64, b Batch, pub time.Time) Feature {
	var geom any
	if b.Station.HasPoint {
		geom = map[string]any{"type": "Point", "coordinates": []float64{b.Station.Lon, b.Station.Lat}}
	}
	sum := sha512.Sum512(b.Content)
	props := map[string]any{
		"pubtime":     pub.UTC().Format(time.RFC3339Nano),
		"data_id":     fmt.Sprintf("%s/rabta/%s/datastream-%d/observations-%d-%d", o.Centre, slug(org), b.Datastream, b.First, b.Last),
		"metadata_id": o.MetadataID(org, property),
		"integrity":   map[string]any{"method": "sha512", "value": base64.StdEncoding.EncodeToString(sum[:])},
		"cache":       true,
	}
	if b.Start.Equal(b.End) {
		props["datetime"] = b.Start.UTC().Format(time.RFC3339Nano)
	} else {
		props["start_datetime"], props["end_datetime"] = b.Start.UTC().Format(time.RFC3339Nano), b.End.UTC().Format(time.RFC3339Nano)
	}
	return Feature{ID: uuid(), ConformsTo: []string{WNM}, Type: "Feature", Geometry: geom, Properties: props,
		Links: []Link{{Href: o.BaseURL + DataPath(b.Datastream, b.First, b.Last), Rel: "canonical", Type: "application/json", Length: len(b.Content)}}}
}

// uuid is a random (version 4) UUID.
func uuid() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Obs is one observation as the data link serves it.
type Obs struct {
	ID             int64           `json:"id"`
	PhenomenonTime string          `json:"phenomenonTime"`
	Result         json.RawMessage `json:"result"`
}

// Data is what the data link of a notification serves: a Datastream's observations with ids
// in [From, To], by id.
type Data struct {
	Datastream   int64  `json:"datastream"`
	Name         string `json:"name"`
	Station      string `json:"station"`
	Unit         string `json:"unit"`
	From         int64  `json:"from"`
	To           int64  `json:"to"`
	Observations []Obs  `json:"observations"`
}

// Content is the bytes of d as served (the same bytes each time: integrity is their SHA-512).
func Content(d Data) []byte {
	if d.Observations == nil {
		d.Observations = []Obs{}
	}
	b, _ := json.Marshal(d)
	return b
}
