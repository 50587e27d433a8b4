package place

import (
	"fmt"
	"strings"

	"github.com/peterstace/simplefeatures/geom"
)

// Kind is what a place is.
type Kind string

// Rank orders places of the same name when a reader names one: a district before a town
// before a division, a province, then anything else (a village). Used by the SMS commands
// (internal/twoway) and the public page's search alike.
func (k Kind) Rank() int {
	switch k {
	case District:
		return 0
	case Town:
		return 1
	case Division:
		return 2
	case Province:
		return 3
	}
	return 4
}

// The kinds of place, from the largest.
const (
	Province Kind = "province" // a province or territory (also AJK, GB and Islamabad Capital Territory)
	Division Kind = "division"
	District Kind = "district"
	Town     Kind = "town"    // a GeoNames populated place (city, town, administrative seat)
	Village  Kind = "village" // a village: imported (CSV) or synthetic
)

// Kinds lists every Kind, from the largest.
var Kinds = []Kind{Province, Division, District, Town, Village}

// Region tells whether places of kind k are areas (they carry a Boundary) rather than points.
func (k Kind) Region() bool { return k == Province || k == Division || k == District }

// Connectivity is the best way the people of a village can be reached.
type Connectivity string

// Connectivity values, the CSV's connectivity column spells them so.
const (
	Fibre      Connectivity = "fibre"       // optical fibre reaches the village: broadband, every channel
	MobileData Connectivity = "mobile-data" // mobile internet (3G/4G): SMS plus app, e-mail, web
	SMSOnly    Connectivity = "sms-only"    // 2G coverage, feature phones: SMS (and voice)
	NoNetwork  Connectivity = "none"        // no coverage: loudspeakers and people carry the warning
)

// Connectivities lists every Connectivity, richest first.
var Connectivities = []Connectivity{Fibre, MobileData, SMSOnly, NoNetwork}

// ParseConnectivity parses a connectivity name (case and surrounding blanks ignored; "fiber",
// "mobile", "sms" and "" are not accepted: the four names only).
func ParseConnectivity(s string) (Connectivity, error) {
	c := Connectivity(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Connectivities {
		if c == k {
			return c, nil
		}
	}
	return "", fmt.Errorf("connectivity %q is not one of fibre, mobile-data, sms-only, none", s)
}

// Place is a named place: a region with a boundary (province, division, district) or a point
// (town, village). Coordinates are WGS 84 degrees; a region's Lat/Lon is a point on its
// surface (for labels and distances), not a measured centroid.
type Place struct {
	// Key identifies the place stably across loads and imports: "province:Punjab",
	// "division:Lahore", "district:Lahore", "geonames:1172451", "village:syn:Lahore:0001",
	// "village:<name>@<lat>,<lon>" (imported). Keys are what subscribers and impacts refer to.
	Key  string
	Kind Kind
	// Name is the English (Latin-script) name; NameUr the Urdu-script name where the source
	// has one (none of the embedded sources do; an imported CSV may), else "".
	Name, NameUr string
	// Country is the ISO 3166-1 alpha-2 code: "PK" or "CN".
	Country string
	// Province and District are the English names of the province (or territory) and the
	// district the place lies in, as far as known ("" for a province's own District, for
	// places outside every district, and for China).
	Province, District string
	// Division is a district's division ("" for other places).
	Division string
	Lat, Lon float64
	// Population is the number of people: the 2023 census for a province or district, the
	// GeoNames figure for a town (scaled down where it alone exceeded its district's census
	// figure, see Source), the synthetic or imported figure for a village. 0 = unknown.
	Population int64
	// Estimated is set when Population is an estimate rather than a census figure (the AJK and
	// Gilgit-Baltistan districts, see the package documentation).
	Estimated bool
	// Languages are BCP 47 tags, the most spoken first (e.g. ["skr", "ur"]).
	Languages []string
	// Connectivity is set for villages; "" (unknown) for other places.
	Connectivity Connectivity
	// Synthetic marks generated, not real, places (villages from Villages).
	Synthetic bool
	// Source names where the place comes from (dataset and licence, or "synthetic …").
	Source string
	// Boundary is a region's geometry (lon/lat, WGS 84); nil for points.
	Boundary *geom.MultiPolygon
}

// tongues maps the census's dominant_mother_tongue (PBS Census 2023 Table 11 categories) to
// a BCP 47 language tag (ISO 639 codes; Punjabi is Western Punjabi, pnb, written in
// Shahmukhi in Pakistan).
var tongues = map[string]string{
	"Urdu":       "ur",
	"Punjabi":    "pnb",
	"Sindhi":     "sd",
	"Pushto":     "ps",
	"Balochi":    "bal",
	"Saraiki":    "skr",
	"Brahvi":     "brh",
	"Hindko":     "hno", // Northern Hindko
	"Kohiostani": "mvy", // Indus Kohistani, the most spoken of the Kohistani languages
}

// LanguageTag returns the BCP 47 tag for a census mother-tongue category, or "" when it is
// not one of the categories the data uses.
func LanguageTag(tongue string) string { return tongues[tongue] }

// languages is tongue's tag then Urdu, understood nationally (Urdu alone when tongue is
// unknown or Urdu itself).
func languages(tongue string) []string {
	if t := tongues[tongue]; t != "" && t != "ur" {
		return []string{t, "ur"}
	}
	return []string{"ur"}
}
