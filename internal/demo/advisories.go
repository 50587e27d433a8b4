package demo

import (
	"fmt"

	"github.com/rabta/rabta/internal/rule"
)

// advisoryRadiusKm is the radius of the area of the demo's Beijing advisories around each
// station.
const advisoryRadiusKm = 10

// Advisories returns the demo's sector advisories (docs/advisories.md), expanded into rules,
// status Exercise, drafts for an approver: air quality at the four Beijing stations — the US
// Embassy monitor on the US EPA AQI (2024 breakpoints), as the embassy reported it; the three
// municipal stations on China's HJ 633-2012 IAQI — to schools and the public; and heat at the
// three municipal stations (air temperature with relative humidity from the dew point) to
// hospitals, clinics and the public. The PMD stations report monthly means, which cannot
// drive an hourly heat index, and the demo has no rain or temperature series by the hour in
// Punjab: no agromet advisory runs on the demo's data.
func Advisories(ds *Dataset, ids map[string]int64) ([]rule.Rule, error) {
	var out []rule.Rule
	for _, st := range ds.Stations {
		if st.Properties["city"] != "Beijing" {
			continue
		}
		area := rule.Area{Circles: []rule.Circle{{Center: rule.LatLon{Lat: st.Lat, Lon: st.Lon}, RadiusKm: advisoryRadiusKm}}}
		place := fmt.Sprintf("%s, within %d km", st.Name, advisoryRadiusKm)
		var advs []rule.Advisory
		if id, ok := ids[st.Key+"/pm25"]; ok {
			std := "hj633"
			if st.Key == "usembassy-beijing" {
				std = "epa"
			}
			advs = append(advs, rule.Advisory{ID: "air-" + st.Key, Type: rule.AdvisoryAir, Standard: std, Place: place, PM25: id, Area: area, Status: rule.Exercise})
		}
		t, okT := ids[st.Key+"/temperature"]
		h, okH := ids[st.Key+"/relative-humidity"]
		if okT && okH {
			advs = append(advs, rule.Advisory{ID: "heat-" + st.Key, Type: rule.AdvisoryHeat, Place: place, Temperature: t, Humidity: h, Area: area, Status: rule.Exercise})
		}
		for _, a := range advs {
			rs, err := rule.Expand(a)
			if err != nil {
				return nil, fmt.Errorf("demo advisory %s: %w", a.ID, err)
			}
			out = append(out, rs...)
		}
	}
	return out, nil
}
