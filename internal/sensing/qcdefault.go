package sensing

import (
	"slices"
	"strings"
	"time"
	"unicode"
)

// quantity is one kind of observed property that DefaultQC knows.
type quantity struct {
	name string
	// keywords match the observed property's name or definition after squashing (lower case,
	// letters and digits only): "Air Temperature" and ".../AirTemperature" both give
	// "airtemperature". The first quantity with a matching keyword wins, so the more specific
	// quantities come first.
	keywords []string
	// words match whole words of the name or definition (lower case, split at anything but
	// letters and digits), for short tokens that would otherwise match inside other words:
	// "rain" in "drainage", "o3" in "no3".
	words []string
	// units maps squashed unit symbols to the limits in that unit.
	units []unitLimits
	// flat-line settings do not depend on the unit.
	flatLineCount    int
	flatLineDuration time.Duration
}

type unitLimits struct {
	symbols        []string // squashed unit symbols, see squashUnit
	unit           string   // how messages write the unit
	min, max       float64
	maxRatePerHour float64 // 0 = not checked
	spike          float64 // 0 = not checked
}

// quantities are the defaults documented in docs/qc.md; keep the two in step. The limits are
// deliberately wide — physical plausibility, not climatology — because a bad flag says "this
// cannot be true", and rates, spikes and flat lines only make a value suspect. Station-specific
// limits belong in the datastream's "qc" override.
var quantities = []quantity{
	// Pressures that are not atmospheric pressure, and humidities that are not relative
	// humidity, are known to have no defaults, so that "pressure" and "humidity" below do not
	// claim them.
	{name: "other pressure", keywords: []string{"vapourpressure", "vaporpressure", "waterpressure", "porepressure", "tyrepressure", "tirepressure"}},
	{name: "river discharge", keywords: []string{"discharge", "streamflow", "riverflow", "flowrate"},
		units: []unitLimits{
			{symbols: []string{"cusecs", "cusec", "[cft_i]/s", "cfs", "ft3/s", "ft3s-1", "cuft/s"}, unit: "cusecs", min: 0, max: 2_000_000},
			{symbols: []string{"m3/s", "m3s-1", "cumecs", "cumec"}, unit: "m³/s", min: 0, max: 60_000},
		}},
	{name: "water level", keywords: []string{"waterlevel", "gaugeheight", "gageheight", "riverstage", "waterstage", "stage", "waterheight"},
		units: []unitLimits{
			{symbols: []string{"m"}, unit: "m", min: -500, max: 9_000, maxRatePerHour: 5},
			{symbols: []string{"cm"}, unit: "cm", min: -50_000, max: 900_000, maxRatePerHour: 500},
			{symbols: []string{"ft"}, unit: "ft", min: -1_650, max: 29_500, maxRatePerHour: 16.4},
		}},
	{name: "water temperature", keywords: []string{"watertemperature", "watertemp"},
		units: []unitLimits{
			{symbols: []string{"°c", "degc", "celsius", "c"}, unit: "°C", min: -5, max: 50, maxRatePerHour: 5},
		}},
	{name: "air temperature", keywords: []string{"temperature", "airtemp"},
		units: []unitLimits{
			{symbols: []string{"°c", "degc", "celsius", "c"}, unit: "°C", min: -60, max: 60, maxRatePerHour: 10, spike: 10},
			{symbols: []string{"k", "kelvin"}, unit: "K", min: 213.15, max: 333.15, maxRatePerHour: 10, spike: 10},
			{symbols: []string{"°f", "degf", "fahrenheit", "f"}, unit: "°F", min: -76, max: 140, maxRatePerHour: 18, spike: 18},
		},
		flatLineDuration: 6 * time.Hour},
	{name: "precipitation", keywords: []string{"precipitation", "rainfall"}, words: []string{"rain"},
		units: []unitLimits{
			{symbols: []string{"mm"}, unit: "mm", min: 0, max: 2_000},
			{symbols: []string{"mm/h", "mmh-1", "mm/hr"}, unit: "mm/h", min: 0, max: 500},
		}},
	{name: "relative humidity", keywords: []string{"humidity"},
		units: []unitLimits{
			{symbols: []string{"%", "percent", "%rh", "rh"}, unit: "%", min: 0, max: 100},
		}},
	{name: "atmospheric pressure", keywords: []string{"pressure"},
		units: []unitLimits{
			{symbols: []string{"hpa", "mbar", "mb"}, unit: "hPa", min: 300, max: 1_100, maxRatePerHour: 10},
			{symbols: []string{"pa"}, unit: "Pa", min: 30_000, max: 110_000, maxRatePerHour: 1_000},
			{symbols: []string{"kpa"}, unit: "kPa", min: 30, max: 110, maxRatePerHour: 1},
		},
		flatLineDuration: 6 * time.Hour},
	{name: "PM2.5", keywords: []string{"pm25", "pm2p5", "fineparticulate"},
		units:            []unitLimits{{symbols: []string{"µg/m3", "ug/m3", "µgm-3", "ugm-3"}, unit: "µg/m³", min: 0, max: 2_000}},
		flatLineDuration: 12 * time.Hour},
	{name: "PM10", keywords: []string{"pm10"},
		units:            []unitLimits{{symbols: []string{"µg/m3", "ug/m3", "µgm-3", "ugm-3"}, unit: "µg/m³", min: 0, max: 2_000}},
		flatLineDuration: 12 * time.Hour},
	{name: "NO2", keywords: []string{"nitrogendioxide"}, words: []string{"no2"},
		units: []unitLimits{
			{symbols: []string{"µg/m3", "ug/m3", "µgm-3", "ugm-3"}, unit: "µg/m³", min: 0, max: 2_000},
			{symbols: []string{"ppb"}, unit: "ppb", min: 0, max: 1_000},
		}},
	{name: "O3", keywords: []string{"ozone"}, words: []string{"o3"},
		units: []unitLimits{
			{symbols: []string{"µg/m3", "ug/m3", "µgm-3", "ugm-3"}, unit: "µg/m³", min: 0, max: 1_000},
			{symbols: []string{"ppb"}, unit: "ppb", min: 0, max: 500},
		}},
	{name: "wind speed", keywords: []string{"windspeed", "windgust", "gust"},
		units: []unitLimits{
			{symbols: []string{"m/s", "ms-1"}, unit: "m/s", min: 0, max: 120},
			{symbols: []string{"km/h", "kmh-1", "kph", "kmh"}, unit: "km/h", min: 0, max: 432},
			{symbols: []string{"kn", "kt", "knot", "knots"}, unit: "kn", min: 0, max: 233},
			{symbols: []string{"mph"}, unit: "mph", min: 0, max: 268},
		}},
}

// DefaultQC returns the default QC configuration for an observed property, identified by its
// name or definition (keywords such as "discharge", "water level", "temperature", "PM2.5",
// matched case- and punctuation-insensitively, name first) and the datastream's unit symbol
// ("cusecs", "m³/s", "°C", "hPa", "µg/m³", ...). docs/qc.md lists every default.
//
// An unknown property gives an empty QCConfig: no check but the finite check. A known property
// in an unknown unit gives only the unit-independent checks (flat line). No default sets an
// expected interval: how often a datastream reports is for its override to say.
func DefaultQC(observedPropertyName, definition, unitSymbol string) QCConfig {
	q, ok := matchQuantity(observedPropertyName)
	if !ok {
		q, ok = matchQuantity(definition)
	}
	if !ok {
		return QCConfig{}
	}
	var c QCConfig
	if q.flatLineCount > 0 {
		n := q.flatLineCount
		c.FlatLineCount = &n
	}
	if q.flatLineDuration > 0 {
		d := q.flatLineDuration
		c.FlatLineDuration = &d
	}
	u := squashUnit(unitSymbol)
	for _, l := range q.units {
		for _, sym := range l.symbols {
			if u != sym {
				continue
			}
			lo, hi := l.min, l.max
			c.Min, c.Max, c.Unit = &lo, &hi, l.unit
			if l.maxRatePerHour > 0 {
				r := l.maxRatePerHour
				c.MaxRatePerHour = &r
			}
			if l.spike > 0 {
				sp := l.spike
				c.Spike = &sp
			}
			return c
		}
	}
	return c
}

func matchQuantity(text string) (quantity, bool) {
	if text == "" {
		return quantity{}, false
	}
	sq := squash(text)
	words := strings.FieldsFunc(strings.ToLower(subscripts.Replace(text)), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	for _, q := range quantities {
		for _, k := range q.keywords {
			if strings.Contains(sq, k) {
				return q, true
			}
		}
		for _, k := range q.words {
			if slices.Contains(words, k) {
				return q, true
			}
		}
	}
	return quantity{}, false
}

// subscripts turns subscript digits into digits: "NO₂" → "NO2", "PM₂.₅" → "PM2.5".
var subscripts = strings.NewReplacer("₀", "0", "₁", "1", "₂", "2", "₃", "3", "₄", "4", "₅", "5", "₆", "6", "₇", "7", "₈", "8", "₉", "9")

// squash lower-cases s and keeps letters and digits only.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(subscripts.Replace(s)) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// squashUnit normalises a unit symbol for matching: lower case, no spaces, "³" → "3", "μ"
// (Greek mu) → "µ" (micro sign), "^", "·", "*" and "deg " removed; "m³/s", "m^3/s" and
// "m3 s-1" all become "m3/s" or "m3s-1".
func squashUnit(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(s)) {
		switch r {
		case ' ', '^', '·', '*', '\t':
		case '³':
			b.WriteRune('3')
		case 'μ':
			b.WriteRune('µ')
		case 'º': // masculine ordinal, often typed for a degree sign
			b.WriteRune('°')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
