package advisory

import "math"

// segment is one row of a breakpoint table: concentrations [CLo, CHi] map linearly onto index
// values [ILo, IHi].
type segment struct {
	cLo, cHi, iLo, iHi float64
}

// epaPM25 is the PM2.5 row of 40 CFR Part 58 Appendix G, Table 2, as revised in 2024 (89 FR
// 16202, 6 March 2024, effective 6 May 2024), 24-hour mean in µg/m³, truncated to one decimal.
var epaPM25 = []segment{
	{0.0, 9.0, 0, 50},
	{9.1, 35.4, 51, 100},
	{35.5, 55.4, 101, 150},
	{55.5, 125.4, 151, 200},
	{125.5, 225.4, 201, 300},
	{225.5, 325.4, 301, 500},
}

// AQIBands are the EPA AQI categories by AQI value (Appendix G, Table 2); Hazardous is 301–500.
var AQIBands = []Band{{"Good", 0}, {"Moderate", 51}, {"Unhealthy for Sensitive Groups", 101},
	{"Unhealthy", 151}, {"Very Unhealthy", 201}, {"Hazardous", 301}}

// AQIPM25Breakpoints are the lowest PM2.5 concentrations (µg/m³) of each AQI band, in the order
// of AQIBands: a threshold rule on PM2.5 with these levels announces the AQI band.
var AQIPM25Breakpoints = []float64{0, 9.1, 35.5, 55.5, 125.5, 225.5}

// AQI returns the US EPA AQI for a PM2.5 concentration c in µg/m³ (the 24-hour mean, as the
// standard says; Appendix G: truncate to one decimal, I = (IHi − ILo)/(CHi − CLo)·(C − CLo) +
// ILo, rounded to the nearest integer). Concentrations above 325.4 continue the top segment's
// slope, as AirNow does ("beyond the AQI"); below 0 or NaN give −1.
func AQI(c float64) int {
	if !(c >= 0) {
		return -1
	}
	c = math.Trunc(c*10) / 10
	return int(math.Round(interp(epaPM25, c)))
}

// IAQIBands are HJ 633-2012's air quality classes by IAQI (Table 2): 优 Excellent 0–50, 良 Good
// 51–100, 轻度污染 Lightly Polluted 101–150, 中度污染 Moderately Polluted 151–200, 重度污染
// Heavily Polluted 201–300, 严重污染 Severely Polluted above 300.
var IAQIBands = []Band{{"Excellent", 0}, {"Good", 51}, {"Lightly Polluted", 101},
	{"Moderately Polluted", 151}, {"Heavily Polluted", 201}, {"Severely Polluted", 301}}

// IAQIPM25Breakpoints are the PM2.5 concentrations (µg/m³, 24-hour mean) at which each IAQI
// class of IAQIBands begins (HJ 633-2012 Table 1: 35, 75, 115, 150, 250 µg/m³ are IAQI 50,
// 100, 150, 200, 300; a value just above a limit is in the next class).
var IAQIPM25Breakpoints = []float64{0, 35.1, 75.1, 115.1, 150.1, 250.1}

// hjPM25 is HJ 633-2012 Table 1, PM2.5 24-hour mean (µg/m³).
var hjPM25 = []segment{
	{0, 35, 0, 50},
	{35, 75, 50, 100},
	{75, 115, 100, 150},
	{115, 150, 150, 200},
	{150, 250, 200, 300},
	{250, 350, 300, 400},
	{350, 500, 400, 500},
}

// IAQI returns China's individual air quality index for a 24-hour mean PM2.5 concentration c in
// µg/m³ (HJ 633-2012, formula (1): IAQI = (IAQIHi − IAQILo)/(BPHi − BPLo)·(C − BPLo) +
// IAQILo, rounded up to an integer as section 4.2 says). Above 500 µg/m³ the standard gives
// no value: 500 is returned. Below 0 or NaN give −1.
func IAQI(c float64) int {
	if !(c >= 0) {
		return -1
	}
	if c > 500 {
		return 500
	}
	v := interp(hjPM25, c)
	return int(math.Ceil(v - 1e-9))
}

// interp maps c through the first segment whose upper concentration it does not exceed, or
// continues the top segment's slope above it.
func interp(segs []segment, c float64) float64 {
	s := segs[len(segs)-1]
	for _, x := range segs {
		if c <= x.cHi {
			s = x
			break
		}
	}
	return (s.iHi-s.iLo)/(s.cHi-s.cLo)*(c-s.cLo) + s.iLo
}

// BandOf returns the index of the band v falls in (the last band whose Min ≤ v), −1 below the
// first.
func BandOf(bands []Band, v float64) int {
	i := -1
	for j, b := range bands {
		if v >= b.Min {
			i = j
		}
	}
	return i
}
