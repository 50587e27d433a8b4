package demo

import (
	"encoding/csv"
	"fmt"
	"strconv"

	"github.com/rabta/rabta/internal/rule"
)

// floodLevels are the five classes with their CAP meaning, least severe first.
var floodLevels = []struct {
	name, col string
	sev       rule.Severity
	urg       rule.Urgency
}{
	{"Low", "low_cusecs", rule.Minor, rule.Expected},
	{"Medium", "medium_cusecs", rule.Moderate, rule.Expected},
	{"High", "high_cusecs", rule.Severe, rule.Expected},
	{"Very High", "very_high_cusecs", rule.Severe, rule.Immediate},
	{"Exceptionally High", "exceptionally_high_cusecs", rule.Extreme, rule.Immediate},
}

// autoIssueRivers are the rivers whose demo rules issue without an approver (Chenab and Ravi,
// the 2025 flood rivers, so that the feed fills at once); the others' drafts wait for one.
var autoIssueRivers = map[string]bool{"CHENAB": true, "RAVI": true}

// Rules returns the demo's warning rules: one threshold rule per gauge with its five real flood
// classes (hysteresis 5 %, no hold: the reports are at most a few a day), status Exercise,
// an area of 25 km around the gauge, and templates in English, Urdu and Chinese.
func Rules(ds *Dataset, ids map[string]int64) ([]rule.Rule, error) {
	f, err := files.Open("data/flood_classes.csv")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("flood_classes.csv: %w", err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	var rules []rule.Rule
	for _, rec := range recs[1:] {
		station, river := rec[col["station"]], rec[col["river"]]
		key := "pdma-" + slug(station)
		st := ds.Station(key)
		id, ok := ids[key+"/discharge"]
		if st == nil || !ok {
			return nil, fmt.Errorf("flood_classes.csv: no demo gauge %q", station)
		}
		r := rule.Rule{
			ID: "flood-" + slug(station), Name: "Flood classes at " + st.Name, Kind: rule.Threshold,
			Datastreams: []int64{id}, Hysteresis: rule.Margin{Value: 5, Percent: true},
			Status: rule.Exercise, AutoIssue: autoIssueRivers[river], Audience: "people along the " + titleCase(river) + " river",
			Area: rule.Area{Desc: fmt.Sprintf("%s river within 25 km of %s", titleCase(river), st.Name),
				Circles: []rule.Circle{{Center: rule.LatLon{Lat: st.Lat, Lon: st.Lon}, RadiusKm: 25}}},
			Templates: templates,
		}
		for _, l := range floodLevels {
			v, err := strconv.ParseFloat(rec[col[l.col]], 64)
			if err != nil {
				return nil, fmt.Errorf("flood_classes.csv: %s %s: %w", station, l.col, err)
			}
			r.Levels = append(r.Levels, rule.Level{Name: l.name, Value: v, Severity: l.sev, Urgency: l.urg, Certainty: rule.Observed, Event: "Flood"})
		}
		rules = append(rules, r)
	}
	return rules, nil
}

var templates = map[string]rule.Template{
	"en": {
		Headline:    "{{.Level}} flood at {{.Station}}",
		Description: "{{.Station}} reported a discharge of {{.Value}} cusecs at {{.ObservedAt}}: {{.Level}} flood class.",
		Instruction: "Move people, livestock and valuables away from the river banks and low-lying areas. Follow the instructions of the PDMA and district administration.",
	},
	"ur": {
		Headline:    "{{.Station}} پر {{.Level}} درجے کا سیلاب",
		Description: "{{.Station}} پر {{.ObservedAt}} کو پانی کا بہاؤ {{.Value}} کیوسک ریکارڈ کیا گیا: {{.Level}} درجے کا سیلاب۔",
		Instruction: "دریا کے کناروں اور نشیبی علاقوں سے لوگوں، مویشیوں اور قیمتی سامان کو محفوظ مقامات پر منتقل کریں۔ پی ڈی ایم اے اور ضلعی انتظامیہ کی ہدایات پر عمل کریں۔",
	},
	"zh": {
		Headline:    "{{.Station}}：{{.Level}}级洪水",
		Description: "{{.Station}}于{{.ObservedAt}}测得流量{{.Value}}立方英尺每秒，属于{{.Level}}级洪水。",
		Instruction: "请将人员、牲畜和贵重物品转移出河岸和低洼地区，并听从当地灾害管理部门的指示。",
	},
}
