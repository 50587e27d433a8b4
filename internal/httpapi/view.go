package httpapi

import (
	"time"

	"github.com/rabta/rabta/internal/cap"
	"github.com/rabta/rabta/internal/rule"
)

// The API's JSON style, one for every response of /api/v1 (and described by its OpenAPI
// document, internal/openapi): keys in camelCase as in SensorThings, never a Go field name;
// empty values left out rather than written as null, "" or a zero time; times in RFC 3339.
// The domain types (cap.Alert, rule.Rule) are not written directly: their JSON is also what
// the store keeps (alerts.draft, rules.body), and that stored shape must stay readable. The
// view types here are the API's shape, converted from them; a rule's is rule.View, which
// rabta rules list prints too.

// rfc3339 returns t for JSON, or nil for a zero time (so that omitempty leaves it out).
func rfc3339(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// capInfoView is one CAP <info> block as the API shows it: the CAP 1.2 element names in
// camelCase, lists named in the plural, areas in the shape rules write them (rule.Area).
type capInfoView struct {
	Language      string          `json:"language,omitempty"` // RFC 3066; absent means en-US
	Categories    []cap.Category  `json:"categories,omitempty"`
	Event         string          `json:"event,omitempty"`
	ResponseTypes []string        `json:"responseTypes,omitempty"`
	Urgency       cap.Urgency     `json:"urgency,omitempty"`
	Severity      cap.Severity    `json:"severity,omitempty"`
	Certainty     cap.Certainty   `json:"certainty,omitempty"`
	Audience      string          `json:"audience,omitempty"`
	EventCodes    []valuePairView `json:"eventCodes,omitempty"`
	Effective     *time.Time      `json:"effective,omitempty"`
	Onset         *time.Time      `json:"onset,omitempty"`
	Expires       *time.Time      `json:"expires,omitempty"`
	SenderName    string          `json:"senderName,omitempty"`
	Headline      string          `json:"headline,omitempty"`
	Description   string          `json:"description,omitempty"`
	Instruction   string          `json:"instruction,omitempty"`
	Web           string          `json:"web,omitempty"`
	Contact       string          `json:"contact,omitempty"`
	Parameters    []valuePairView `json:"parameters,omitempty"`
	Resources     []resourceView  `json:"resources,omitempty"`
	Areas         []areaView      `json:"areas,omitempty"`
}

// valuePairView is a CAP eventCode, parameter or geocode: {"name", "value"}, as rules write
// geocodes.
type valuePairView struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type resourceView struct {
	Description string `json:"description"`
	MimeType    string `json:"mimeType,omitempty"`
	Size        *int64 `json:"size,omitempty"` // bytes
	URI         string `json:"uri,omitempty"`
	Digest      string `json:"digest,omitempty"` // SHA-1, hex
}

// areaView is a CAP <area>: points as {"lat", "lon"} (WGS 84), radii in km, altitude and
// ceiling in feet, as in rule.Area.
type areaView struct {
	Desc     string          `json:"desc"`
	Polygons [][]rule.LatLon `json:"polygons,omitempty"`
	Circles  []rule.Circle   `json:"circles,omitempty"`
	Geocodes []valuePairView `json:"geocodes,omitempty"`
	Altitude *float64        `json:"altitude,omitempty"`
	Ceiling  *float64        `json:"ceiling,omitempty"`
}

func pairs(vs []cap.ValuePair) []valuePairView {
	var out []valuePairView
	for _, v := range vs {
		out = append(out, valuePairView{v.ValueName, v.Value})
	}
	return out
}

func viewInfo(in *cap.Info) capInfoView {
	v := capInfoView{Language: in.Language, Categories: in.Categories, Event: in.Event, Urgency: in.Urgency, Severity: in.Severity,
		Certainty: in.Certainty, Audience: in.Audience, EventCodes: pairs(in.EventCodes), Effective: rfc3339(in.Effective),
		Onset: rfc3339(in.Onset), Expires: rfc3339(in.Expires), SenderName: in.SenderName, Headline: in.Headline,
		Description: in.Description, Instruction: in.Instruction, Web: in.Web, Contact: in.Contact, Parameters: pairs(in.Parameters)}
	for _, rt := range in.ResponseType {
		v.ResponseTypes = append(v.ResponseTypes, string(rt))
	}
	for _, r := range in.Resources {
		v.Resources = append(v.Resources, resourceView{Description: r.ResourceDesc, MimeType: r.MimeType, Size: r.Size, URI: r.URI, Digest: r.Digest})
	}
	for _, a := range in.Areas {
		av := areaView{Desc: a.AreaDesc, Geocodes: pairs(a.Geocodes), Altitude: a.Altitude, Ceiling: a.Ceiling}
		for _, pg := range a.Polygons {
			var ring []rule.LatLon
			for _, p := range pg {
				ring = append(ring, rule.LatLon{Lat: p.Lat, Lon: p.Lon})
			}
			av.Polygons = append(av.Polygons, ring)
		}
		for _, c := range a.Circles {
			av.Circles = append(av.Circles, rule.Circle{Center: rule.LatLon{Lat: c.Center.Lat, Lon: c.Center.Lon}, RadiusKm: c.RadiusKM})
		}
		v.Areas = append(v.Areas, av)
	}
	return v
}
