package public

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxQuery is the longest place name (q) accepted, in characters.
const MaxQuery = 100

// MaxAlerts is the most warnings one page lists.
const MaxAlerts = 50

// NearKM is how far the nearest town or village may be from a reader's point to be named
// ("… (near Lahore)"), in kilometres.
const NearKM = 50

// query is what a request to / asks for.
type query struct {
	Lang     string // "ur", "en", "zh", or "" (not given: Accept-Language decides)
	Q        string // a place name, trimmed; "" for none
	Lat, Lon float64
	HasPoint bool
}

// inputError is a refused parameter: the name of its text in words, with an argument.
type inputError struct {
	Param string // the parameter: "q", "lat", "lon", "lang", "id"
	Text  func(w *words) string
}

func (e *inputError) Error() string { return "bad parameter " + e.Param + ": " + e.Text(texts["en"]) }

// parseQuery reads the query string of / (and lang of any page). Unknown parameters are
// ignored; a parameter given twice counts by its first value.
func parseQuery(v url.Values) (query, *inputError) {
	var q query
	lang, err := parseLang(v)
	if err != nil {
		return q, err
	}
	q.Lang = lang
	if s := v.Get("q"); s != "" {
		if !utf8.ValidString(s) || strings.IndexFunc(s, unicode.IsControl) >= 0 {
			return q, &inputError{"q", func(w *words) string { return w.ErrQueryText }}
		}
		if utf8.RuneCountInString(s) > MaxQuery {
			return q, &inputError{"q", func(w *words) string { return sprintf(w.ErrQuery, MaxQuery) }}
		}
		q.Q = strings.Join(strings.Fields(s), " ")
	}
	lat, lon := strings.TrimSpace(v.Get("lat")), strings.TrimSpace(v.Get("lon"))
	if lat == "" && lon == "" {
		return q, nil
	}
	bad := &inputError{"lat/lon", func(w *words) string { return w.ErrLatLon }}
	if lat == "" || lon == "" || len(lat) > 32 || len(lon) > 32 {
		return q, bad
	}
	var ok bool
	if q.Lat, ok = degrees(lat, 90); !ok {
		return q, bad
	}
	if q.Lon, ok = degrees(lon, 180); !ok {
		return q, bad
	}
	q.HasPoint = true
	return q, nil
}

// parseLang reads ?lang: "" when absent.
func parseLang(v url.Values) (string, *inputError) {
	s := v.Get("lang")
	if s == "" {
		return "", nil
	}
	if _, ok := texts[s]; !ok {
		return "", &inputError{"lang", func(w *words) string { return w.ErrLang }}
	}
	return s, nil
}

// degrees parses a decimal number of degrees within ±limit (no hex, no infinities, no NaN).
func degrees(s string, limit float64) (float64, bool) {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r == '.' || r == '-' || r == '+' || r == 'e' || r == 'E') {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < -limit || f > limit {
		return 0, false
	}
	return f, true
}

// parseID reads an alert id: 1 to 19 digits, greater than 0.
func parseID(s string) (int64, *inputError) {
	bad := &inputError{"id", func(w *words) string { return w.ErrID }}
	if len(s) == 0 || len(s) > 19 {
		return 0, bad
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, bad
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}
