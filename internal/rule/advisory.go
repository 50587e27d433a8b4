package rule

import (
	"fmt"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/advisory"
)

// Advisory is a rule template: a sector advisory for a place, which Expand turns into ordinary
// rules, one per audience, each with the levels, CAP event and category, audience and the
// instruction for that audience in English, Urdu and Chinese (docs/advisories.md). A rules
// file holds them under "advisories" beside "rules" (ParseYAML expands them).
type Advisory struct {
	// ID prefixes the rules' ids: "<id>-<audience>" (heat, air) or "<id>" (agromet).
	ID string `json:"id"`
	// Type is heat, air, rainBeforeHarvest, heatAtFlowering or frost.
	Type string `json:"type"`
	// Place names where, for people ("Lahore district"); the rules' area.desc unless Area
	// has one.
	Place string `json:"place"`
	// The datastreams the advisory reads: heat needs Temperature (°C) and Humidity (%); air
	// PM25 (µg/m³); rainBeforeHarvest Rain (mm per report); heatAtFlowering and frost
	// Temperature (°C).
	Temperature int64 `json:"temperature,omitempty"`
	Humidity    int64 `json:"humidity,omitempty"`
	PM25        int64 `json:"pm25,omitempty"`
	Rain        int64 `json:"rain,omitempty"`
	// Standard is the air-quality index for air: "epa" (US EPA AQI, 2024 breakpoints;
	// default) or "hj633" (China's HJ 633-2012 IAQI).
	Standard string `json:"standard,omitempty"`
	// Crop is wheat, cotton or rice for the agromet types: its Punjab calendar
	// (advisory.Punjab) gives the months the rule fires in.
	Crop string `json:"crop,omitempty"`
	// Threshold overrides the first level of heatAtFlowering (°C; default by crop).
	Threshold float64 `json:"threshold,omitempty"`
	// Audiences overrides the default audiences (heat: hospitals, clinics, public; air:
	// schools, public; agromet: farmers).
	Audiences []string `json:"audiences,omitempty"`
	Area      Area     `json:"area"`
	Status    Status   `json:"status,omitempty"`
	AutoIssue bool     `json:"autoIssue,omitempty"`
}

// Advisory types.
const (
	AdvisoryHeat              = "heat"
	AdvisoryAir               = "air"
	AdvisoryRainBeforeHarvest = "rainBeforeHarvest"
	AdvisoryHeatAtFlowering   = "heatAtFlowering"
	AdvisoryFrost             = "frost"
)

// flowerHeat is the temperature (°C) above which heat at flowering harms each crop: defaults,
// ours, for an agronomist to review (docs/advisories.md).
var flowerHeat = map[string]float64{"wheat": 32, "cotton": 38, "rice": 35}

// Expand returns the rules of an advisory, each validated, or an ErrorList whose paths are
// relative to the advisory ("temperature: is required for heat advisories").
func Expand(a Advisory) ([]Rule, error) {
	var errs ErrorList
	report := func(path, format string, args ...any) {
		errs = append(errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
	}
	need := func(field string, id int64) {
		if id == 0 {
			report(field, "is required for %s advisories", a.Type)
		}
	}
	switch a.Type {
	case AdvisoryHeat:
		need("temperature", a.Temperature)
		need("humidity", a.Humidity)
	case AdvisoryAir:
		need("pm25", a.PM25)
		if a.Standard != "" && a.Standard != "epa" && a.Standard != "hj633" {
			report("standard", "must be epa or hj633, not %q", a.Standard)
		}
	case AdvisoryRainBeforeHarvest:
		need("rain", a.Rain)
	case AdvisoryHeatAtFlowering, AdvisoryFrost:
		need("temperature", a.Temperature)
	case "":
		report("type", "is required (heat, air, rainBeforeHarvest, heatAtFlowering or frost)")
	default:
		report("type", "must be heat, air, rainBeforeHarvest, heatAtFlowering or frost, not %q", a.Type)
	}
	var months []int
	if agromet(a.Type) {
		stage := map[string]advisory.Stage{AdvisoryRainBeforeHarvest: advisory.Harvest, AdvisoryHeatAtFlowering: advisory.Flowering, AdvisoryFrost: advisory.Standing}[a.Type]
		ms, err := advisory.Months(a.Crop, stage)
		if err != nil {
			report("crop", "%v", err)
		}
		for _, m := range ms {
			if a.Type == AdvisoryFrost && m >= 4 && m <= 10 {
				continue // frost is a winter hazard in Punjab's plains: November to March
			}
			months = append(months, int(m))
		}
		if a.Type == AdvisoryFrost && len(months) == 0 && err == nil {
			report("crop", "%s is not in the field in the frost months (November–March)", a.Crop)
		}
	} else if a.Crop != "" {
		report("crop", "is only for agromet advisories")
	}
	if strings.TrimSpace(a.Place) == "" && strings.TrimSpace(a.Area.Desc) == "" {
		report("place", "is required (where, for people: e.g. Lahore district)")
	}
	if len(errs) > 0 {
		return nil, errs
	}
	area := a.Area
	if area.Desc == "" {
		area.Desc = a.Place
	}
	auds := a.Audiences
	if len(auds) == 0 {
		auds = map[string][]string{AdvisoryHeat: {"hospitals", "clinics", "public"}, AdvisoryAir: {"schools", "public"}}[a.Type]
		if agromet(a.Type) {
			auds = []string{"farmers"}
		}
	}
	var out []Rule
	for _, aud := range auds {
		r := Rule{ID: a.ID + "-" + aud, Area: area, Status: a.Status, AutoIssue: a.AutoIssue, Audiences: []string{aud}}
		if len(auds) == 1 && agromet(a.Type) {
			r.ID = a.ID
		}
		texts := advisoryTexts[a.Type]
		switch a.Type {
		case AdvisoryHeat:
			r.Name = "Heat advisory for " + aud + ", " + a.Place
			r.Kind, r.Datastreams, r.Category = HeatIndex, []int64{a.Temperature, a.Humidity}, "Health"
			r.Hysteresis, r.ClearHold = Margin{Value: 1}, 12*time.Hour
			sev := []Severity{Minor, Moderate, Severe, Extreme}
			urg := []Urgency{Expected, Expected, Immediate, Immediate}
			for i, b := range advisory.HeatBands {
				r.Levels = append(r.Levels, Level{Name: b.Name, Value: b.Min, Severity: sev[i], Urgency: urg[i], Certainty: Observed, Event: "Heat wave"})
			}
		case AdvisoryAir:
			r.Name = "Air quality advisory for " + aud + ", " + a.Place
			r.Kind, r.Datastreams, r.Category = Threshold, []int64{a.PM25}, "Env"
			r.Hold, r.ClearHold, r.Hysteresis = 3*time.Hour, 6*time.Hour, Margin{Value: 5, Percent: true}
			bands, bps := advisory.AQIBands, advisory.AQIPM25Breakpoints
			texts = advisoryTexts["air-epa"]
			if a.Standard == "hj633" {
				bands, bps = advisory.IAQIBands, advisory.IAQIPM25Breakpoints
				texts = advisoryTexts["air-hj633"]
			}
			sev := []Severity{Minor, Moderate, Severe, Extreme}
			for i := 2; i < len(bands); i++ {
				r.Levels = append(r.Levels, Level{Name: bands[i].Name, Value: bps[i], Severity: sev[i-2], Urgency: Immediate, Certainty: Observed, Event: "Air quality"})
			}
		case AdvisoryRainBeforeHarvest:
			r.Name = "Heavy rain before the " + a.Crop + " harvest, " + a.Place
			r.Kind, r.Datastreams, r.Category, r.Window = Accumulation, []int64{a.Rain}, "Met", 24*time.Hour
			r.ClearHold = 12 * time.Hour
			// 24-hour rainfall classes of the India Meteorological Department (heavy 64.5–115.5 mm,
			// very heavy 115.6–204.4, extremely heavy ≥ 204.5), as PMD's bulletins use them too.
			r.Levels = []Level{{Name: "Heavy rain", Value: 64.5, Severity: Moderate, Urgency: Expected, Certainty: Observed, Event: "Heavy rain"},
				{Name: "Very heavy rain", Value: 115.6, Severity: Severe, Urgency: Immediate, Certainty: Observed, Event: "Heavy rain"}}
		case AdvisoryHeatAtFlowering:
			thr := a.Threshold
			if thr == 0 {
				thr = flowerHeat[a.Crop]
			}
			r.Name = "Heat at " + a.Crop + " flowering, " + a.Place
			r.Kind, r.Datastreams, r.Category = Threshold, []int64{a.Temperature}, "Met"
			r.Hysteresis, r.ClearHold = Margin{Value: 1}, 12*time.Hour
			r.Levels = []Level{{Name: "Heat stress", Value: thr, Severity: Moderate, Urgency: Expected, Certainty: Observed, Event: "Heat wave"},
				{Name: "Severe heat stress", Value: thr + 4, Severity: Severe, Urgency: Immediate, Certainty: Observed, Event: "Heat wave"}}
		case AdvisoryFrost:
			r.Name = "Frost on " + a.Crop + ", " + a.Place
			r.Kind, r.Datastreams, r.Category, r.Direction = Threshold, []int64{a.Temperature}, "Met", Below
			r.Hysteresis, r.ClearHold = Margin{Value: 1}, 12*time.Hour
			r.Levels = []Level{{Name: "Frost risk", Value: 2, Severity: Minor, Urgency: Expected, Certainty: Observed, Event: "Frost"},
				{Name: "Frost", Value: 0, Severity: Moderate, Urgency: Immediate, Certainty: Observed, Event: "Frost"}}
		}
		r.Months = months
		r.Audience = audienceNames[aud]
		if r.Audience == "" {
			r.Audience = aud
		}
		r.Templates = advisoryTemplates(texts, aud, r.Levels, a.Crop)
		if err := r.Validate(); err != nil {
			for _, fe := range err.(ErrorList) {
				fe.Path = "(" + r.ID + ")." + fe.Path
				errs = append(errs, fe)
			}
		}
		out = append(out, r)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

func agromet(t string) bool {
	return t == AdvisoryRainBeforeHarvest || t == AdvisoryHeatAtFlowering || t == AdvisoryFrost
}
