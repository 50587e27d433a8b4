package advisory

import "math"

// HeatIndexF is the NWS heat index in °F for air temperature t (°F) and relative humidity rh
// (%, 0–100), as NWS/WPC "The Heat Index Equation" gives it: Steadman's simple formula
// 0.5·(T + 61 + 1.2·(T − 68) + 0.094·RH) is computed first and averaged with T; if that
// average is 80 °F or more, the Rothfusz regression is used instead, less
// ((13 − RH)/4)·√((17 − |T − 95|)/17) when RH < 13 % and 80 ≤ T ≤ 112 °F, plus
// ((RH − 85)/10)·((87 − T)/5) when RH > 85 % and 80 ≤ T ≤ 87 °F. NaN in gives NaN; rh is
// clamped to 0–100. The regression is not valid beyond the range of Steadman's data (the
// page's own caveat); the value is returned anyway.
func HeatIndexF(t, rh float64) float64 {
	if math.IsNaN(t) || math.IsNaN(rh) {
		return math.NaN()
	}
	rh = min(max(rh, 0), 100)
	simple := 0.5 * (t + 61.0 + (t-68.0)*1.2 + rh*0.094)
	if (simple+t)/2 < 80 {
		return (simple + t) / 2
	}
	hi := -42.379 + 2.04901523*t + 10.14333127*rh - .22475541*t*rh - .00683783*t*t -
		.05481717*rh*rh + .00122874*t*t*rh + .00085282*t*rh*rh - .00000199*t*t*rh*rh
	switch {
	case rh < 13 && t >= 80 && t <= 112:
		hi -= (13 - rh) / 4 * math.Sqrt((17-math.Abs(t-95))/17)
	case rh > 85 && t >= 80 && t <= 87:
		hi += (rh - 85) / 10 * ((87 - t) / 5)
	}
	return hi
}

// HeatIndexC is HeatIndexF in °C: air temperature t in °C, relative humidity rh in %, heat
// index in °C.
func HeatIndexC(t, rh float64) float64 {
	return (HeatIndexF(t*9/5+32, rh) - 32) * 5 / 9
}

// Band is one class of an index: from Min (inclusive) on, up to the next band's Min.
type Band struct {
	Name string  // e.g. "Danger", "Unhealthy"
	Min  float64 // in the index's unit
}

// HeatBands are the NWS heat index classes in °C as health departments use them (NWS, "Heat
// Index", https://www.weather.gov/ama/heatindex): Caution 27–32 °C (80–90 °F: fatigue
// possible with prolonged exposure), Extreme Caution 32–41 °C (90–105 °F: heat cramps and
// heat exhaustion possible), Danger 41–54 °C (105–130 °F: heat stroke possible), Extreme
// Danger from 54 °C (130 °F: heat stroke highly likely). The chart's current edition puts the
// Danger and Extreme Danger limits at 103 and 125 °F (39.4, 51.7 °C); the health-department
// limits of the issue (41, 54 °C) are kept here, and a template may move them.
var HeatBands = []Band{{"Caution", 27}, {"Extreme Caution", 32}, {"Danger", 41}, {"Extreme Danger", 54}}

// RelativeHumidity returns relative humidity in % (0–100) from air temperature t and dew point
// td, both in °C, with the Magnus formula e_s(T) = 6.1094·exp(17.625·T/(T + 243.04)) hPa
// (Alduchov and Eskridge 1996, J. Appl. Meteor. 35, 601–609): RH = 100·e_s(Td)/e_s(T). A dew
// point above the air temperature (a reporting error or fog) gives 100.
func RelativeHumidity(t, td float64) float64 {
	es := func(x float64) float64 { return 6.1094 * math.Exp(17.625*x/(x+243.04)) }
	return min(100*es(td)/es(t), 100)
}
