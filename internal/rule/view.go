package rule

import (
	"strings"
	"time"
)

// View is a rule as people read it: the fields and forms of a rules file (docs/rules.md), so
// that what is shown (GET /api/v1/rules, rabta rules list) reads like what was applied —
// durations as Go durations ("6h", "90m", "1h30m"), hysteresis as "5%" or "10000", zero
// values left out; points are {"lat": 31.6, "lon": 74.3} objects (a file may write them
// [31.6, 74.3]). Rule's own JSON is the stored form (durations in nanoseconds). A View
// marshalled as JSON, with its points written as [lat, lon], is a rules file entry that
// ParseYAML reads back to the same Rule.
type View struct {
	ID            string              `json:"id"`
	Name          string              `json:"name,omitempty"`
	Kind          Kind                `json:"kind"`
	Datastreams   []int64             `json:"datastreams"`
	Aggregate     Aggregate           `json:"aggregate,omitempty"`
	Count         int                 `json:"count,omitempty"`
	Forecast      bool                `json:"forecast,omitempty"`
	Horizon       string              `json:"horizon,omitempty"`
	Window        string              `json:"window,omitempty"`
	MaxGap        string              `json:"maxGap,omitempty"`
	Direction     Direction           `json:"direction,omitempty"`
	Levels        []Level             `json:"levels,omitempty"`
	Hysteresis    string              `json:"hysteresis,omitempty"`
	Hold          string              `json:"hold,omitempty"`
	ClearHold     string              `json:"clearHold,omitempty"`
	IgnoreSuspect bool                `json:"ignoreSuspect,omitempty"`
	Area          *AreaView           `json:"area,omitempty"`
	AutoIssue     bool                `json:"autoIssue,omitempty"`
	Status        Status              `json:"status,omitempty"`
	Audience      string              `json:"audience,omitempty"`
	Templates     map[string]Template `json:"templates,omitempty"`
	Operational   bool                `json:"operational,omitempty"`
	Category      string              `json:"category,omitempty"`
	Audiences     []string            `json:"audiences,omitempty"`
	Months        []int               `json:"months,omitempty"`
}

// AreaView is Area with an empty description left out.
type AreaView struct {
	Desc     string     `json:"desc,omitempty"`
	Polygons [][]LatLon `json:"polygons,omitempty"`
	Circles  []Circle   `json:"circles,omitempty"`
	Geocodes []Geocode  `json:"geocodes,omitempty"`
}

// View returns r as written in a rules file (see View); Datastreams is [] rather than null
// when there are none.
func (r Rule) View() View {
	v := View{ID: r.ID, Name: r.Name, Kind: r.Kind, Datastreams: r.Datastreams, Aggregate: r.Aggregate, Count: r.Count,
		Forecast: r.Forecast, Horizon: duration(r.Horizon), Window: duration(r.Window), MaxGap: duration(r.MaxGap),
		Direction: r.Direction, Levels: r.Levels, Hold: duration(r.Hold), ClearHold: duration(r.ClearHold),
		IgnoreSuspect: r.IgnoreSuspect, AutoIssue: r.AutoIssue, Status: r.Status, Audience: r.Audience, Templates: r.Templates,
		Operational: r.Operational, Category: r.Category, Audiences: r.Audiences, Months: r.Months}
	if v.Datastreams == nil {
		v.Datastreams = []int64{}
	}
	if r.Hysteresis.Value != 0 {
		v.Hysteresis = r.Hysteresis.String()
	}
	if a := r.Area; a.Desc != "" || len(a.Polygons)+len(a.Circles)+len(a.Geocodes) > 0 {
		v.Area = &AreaView{Desc: a.Desc, Polygons: a.Polygons, Circles: a.Circles, Geocodes: a.Geocodes}
	}
	return v
}

// duration writes d as a Go duration without zero units ("6h", "1h30m", "90s"), "" for 0.
func duration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
