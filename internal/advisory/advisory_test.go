package advisory

import (
	"math"
	"testing"
)

// TestHeatIndexNWSTable holds HeatIndexF to the NWS heat index chart (NWS, "Heat Index",
// https://www.weather.gov/ama/heatindex; the chart rounds to whole °F). The chart is built from
// Steadman's tables, which the regression fits within about ±1.3 °F: values within 1.5 °F.
func TestHeatIndexNWSTable(t *testing.T) {
	for _, c := range []struct{ t, rh, want float64 }{
		{80, 40, 80}, {80, 60, 82},
		{84, 40, 83}, {84, 80, 94},
		{90, 40, 91}, {90, 50, 95}, {90, 60, 100}, {90, 70, 106}, {90, 80, 113}, {90, 90, 122},
		{96, 40, 101}, {96, 60, 116},
		{100, 40, 109}, {100, 50, 118}, {100, 60, 129},
		{104, 40, 119}, {110, 40, 136},
	} {
		got := HeatIndexF(c.t, c.rh)
		if math.Abs(got-c.want) > 1.5 {
			t.Errorf("HeatIndexF(%v °F, %v %%) = %.1f, NWS chart %v", c.t, c.rh, got, c.want)
		}
	}
}

// TestHeatIndexBranches checks each branch of the NWS procedure against its own formula.
func TestHeatIndexBranches(t *testing.T) {
	// below 80 °F: Steadman's simple formula averaged with T: 70 °F, 50 % → (0.5(70+61+2.4+4.7)+70)/2
	if got, want := HeatIndexF(70, 50), (0.5*(70+61+2.4+4.7)+70)/2; math.Abs(got-want) > 1e-9 {
		t.Errorf("simple: %v, want %v", got, want)
	}
	roth := func(T, RH float64) float64 {
		return -42.379 + 2.04901523*T + 10.14333127*RH - .22475541*T*RH - .00683783*T*T - .05481717*RH*RH + .00122874*T*T*RH + .00085282*T*RH*RH - .00000199*T*T*RH*RH
	}
	// low humidity: 100 °F, 10 %: the adjustment (13−10)/4·√((17−5)/17) is subtracted
	if got, want := HeatIndexF(100, 10), roth(100, 10)-0.75*math.Sqrt(12.0/17); math.Abs(got-want) > 1e-9 {
		t.Errorf("low RH: %v, want %v", got, want)
	}
	// high humidity: 85 °F, 95 %: (95−85)/10·(87−85)/5 is added
	if got, want := HeatIndexF(85, 95), roth(85, 95)+0.4; math.Abs(got-want) > 1e-9 {
		t.Errorf("high RH: %v, want %v", got, want)
	}
	// °C wrapper: 32.2 °C (90 °F) at 50 % ≈ 35 °C (95 °F)
	if got := HeatIndexC(32.2222, 50); math.Abs(got-35) > 0.8 {
		t.Errorf("HeatIndexC(32.2, 50) = %.2f, want about 35", got)
	}
	if !math.IsNaN(HeatIndexC(math.NaN(), 50)) {
		t.Error("NaN in must give NaN")
	}
}

// TestRelativeHumidity: dew point equal to temperature is saturation; a published pair (air
// 30 °C, dew point 20 °C ≈ 55 %, e.g. NWS dew point calculator).
func TestRelativeHumidity(t *testing.T) {
	if got := RelativeHumidity(25, 25); math.Abs(got-100) > 1e-9 {
		t.Errorf("RH(25, 25) = %v", got)
	}
	if got := RelativeHumidity(30, 20); math.Abs(got-55.0) > 1 {
		t.Errorf("RH(30, 20) = %.1f, want about 55", got)
	}
	if got := RelativeHumidity(20, 25); got != 100 {
		t.Errorf("dew point above temperature: %v, want 100", got)
	}
}

// TestAQI: the EPA's worked example (Technical Assistance Document for the Reporting of Daily
// Air Quality, EPA-454/B-18-007: PM2.5 35.9 µg/m³ → AQI 102; the 35.5–55.4 row is unchanged by
// the 2024 revision) and the 2024 breakpoints at each band's edges.
func TestAQI(t *testing.T) {
	for _, c := range []struct {
		c    float64
		want int
	}{
		{35.9, 102}, {0, 0}, {9.0, 50}, {9.04, 50}, {9.1, 51}, {35.4, 100}, {35.5, 101}, {55.4, 150}, {55.5, 151},
		{125.4, 200}, {125.5, 201}, {225.4, 300}, {225.5, 301}, {325.4, 500}, {12.0, 56}, {-1, -1},
	} {
		if got := AQI(c.c); got != c.want {
			t.Errorf("AQI(%v) = %d, want %d", c.c, got, c.want)
		}
	}
	for i, bp := range AQIPM25Breakpoints {
		if b := BandOf(AQIBands, float64(AQI(bp))); b != i {
			t.Errorf("breakpoint %v: AQI %d in band %d, want %d", bp, AQI(bp), b, i)
		}
		if i > 0 {
			if b := BandOf(AQIBands, float64(AQI(bp-0.1))); b != i-1 {
				t.Errorf("just below breakpoint %v: band %d, want %d", bp, b, i-1)
			}
		}
	}
}

// TestIAQI: HJ 633-2012 Table 1 (PM2.5 24 h: 35, 75, 115, 150, 250, 350, 500 µg/m³ are IAQI 50
// … 500), results rounded up.
func TestIAQI(t *testing.T) {
	for _, c := range []struct {
		c    float64
		want int
	}{
		{0, 0}, {35, 50}, {75, 100}, {115, 150}, {150, 200}, {250, 300}, {350, 400}, {500, 500},
		{36, 52}, {100, 132}, {600, 500}, {-3, -1},
	} {
		if got := IAQI(c.c); got != c.want {
			t.Errorf("IAQI(%v) = %d, want %d", c.c, got, c.want)
		}
	}
	for i, bp := range IAQIPM25Breakpoints {
		if b := BandOf(IAQIBands, float64(IAQI(bp))); b != i {
			t.Errorf("breakpoint %v: IAQI %d in band %d, want %d", bp, IAQI(bp), b, i)
		}
	}
}

func TestMonths(t *testing.T) {
	m, err := Months("wheat", Harvest)
	if err != nil || len(m) != 2 || m[0] != 4 {
		t.Errorf("wheat harvest: %v, %v", m, err)
	}
	if _, err := Months("maize", Harvest); err == nil {
		t.Error("maize: no error")
	}
	if _, err := Months("rice", "ripening"); err == nil {
		t.Error("ripening: no error")
	}
}
