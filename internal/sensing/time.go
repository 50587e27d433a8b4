package sensing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// maxTimeText bounds the text ParseTimeOrInterval looks at: two RFC 3339 instants with nine
// fractional digits and offsets, a slash, and room to spare.
const maxTimeText = 80

// ParseTimeOrInterval parses a SensorThings time value: an RFC 3339 instant
// ("2025-07-05T12:00:00+05:00", "2025-07-05T07:00:00.250Z") or an interval of two such
// instants "start/end" with end not before start. For an instant, end equals start.
//
// The date and time must be complete (seconds included), 'T' and 'Z' upper case, fractional
// seconds at most nine digits, and the offset either 'Z' or ±hh:mm. Durations ("PT1H"),
// open intervals ("../end"), leap seconds and anything else are rejected with an error that
// says what is accepted.
//
// The returned times keep the offset that was sent: 'Z' (or a zero offset) gives time.UTC,
// ±hh:mm a fixed zone of that offset (independent of the machine's local zone), so formatting
// with time.RFC3339Nano gives back the same offset. Two spellings cannot survive the round trip — "+00:00" and
// "-00:00" format as "Z", and trailing zeros of a fraction are dropped — so code that must echo
// the exact text (as SensorThings does) keeps the original string alongside, as CSVRow does.
func ParseTimeOrInterval(s string) (start, end time.Time, err error) {
	if len(s) > maxTimeText {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid time %s: longer than %d characters", quoteShort(s), maxTimeText)
	}
	a, b, isInterval := strings.Cut(s, "/")
	if !isInterval {
		t, err := parseInstant(s)
		if err != nil {
			return time.Time{}, time.Time{}, fmt.Errorf("invalid time %s: %w", quoteShort(s), err)
		}
		return t, t, nil
	}
	if strings.Contains(b, "/") {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid interval %s: more than one '/'", quoteShort(s))
	}
	start, err = parseInstant(a)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid interval %s: start: %w", quoteShort(s), err)
	}
	end, err = parseInstant(b)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid interval %s: end: %w", quoteShort(s), err)
	}
	if end.Before(start) {
		return time.Time{}, time.Time{}, fmt.Errorf("invalid interval %s: end is before start", quoteShort(s))
	}
	return start, end, nil
}

// FormatTimeOrInterval is the inverse of ParseTimeOrInterval: "start" when end equals start
// (same instant), "start/end" otherwise, each in RFC 3339 with the times' own offsets.
func FormatTimeOrInterval(start, end time.Time) string {
	if start.Equal(end) {
		return start.Format(time.RFC3339Nano)
	}
	return start.Format(time.RFC3339Nano) + "/" + end.Format(time.RFC3339Nano)
}

var errInstantShape = errors.New("want an RFC 3339 instant such as 2025-07-05T12:00:00+05:00 or 2025-07-05T07:00:00.5Z, or an interval start/end")

// parseInstant checks the exact RFC 3339 shape first (time.Parse alone is more lenient in
// places, e.g. it accepts a comma before the fraction), then lets time.Parse check ranges.
func parseInstant(s string) (time.Time, error) {
	// yyyy-mm-ddThh:mm:ss
	if len(s) < 19 {
		return time.Time{}, errInstantShape
	}
	for i := 0; i < 19; i++ {
		c := s[i]
		switch i {
		case 4, 7:
			if c != '-' {
				return time.Time{}, errInstantShape
			}
		case 10:
			if c != 'T' {
				return time.Time{}, errInstantShape
			}
		case 13, 16:
			if c != ':' {
				return time.Time{}, errInstantShape
			}
		default:
			if c < '0' || c > '9' {
				return time.Time{}, errInstantShape
			}
		}
	}
	rest := s[19:]
	if rest != "" && rest[0] == '.' {
		n := 1
		for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
			n++
		}
		digits := n - 1
		if digits == 0 {
			return time.Time{}, errInstantShape
		}
		if digits > 9 {
			return time.Time{}, errors.New("more than 9 fractional digits (nanoseconds are the finest precision kept)")
		}
		rest = rest[n:]
	}
	switch {
	case rest == "Z":
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && isDigits(rest[1:3]) && rest[3] == ':' && isDigits(rest[4:6]):
	case rest == "":
		return time.Time{}, errors.New("missing offset: end with 'Z' or ±hh:mm")
	default:
		return time.Time{}, errInstantShape
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		// time.Parse's own message names the field out of range, e.g. "month out of range".
		var pe *time.ParseError
		if errors.As(err, &pe) && pe.Message != "" {
			return time.Time{}, errors.New(strings.TrimPrefix(pe.Message, ": "))
		}
		return time.Time{}, errInstantShape
	}
	_, off := t.Zone()
	if off == 0 { // "Z", "+00:00" and "-00:00" all format as "Z"
		return t.UTC(), nil
	}
	return t.In(time.FixedZone("", off)), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParseDuration parses an ISO 8601 duration of fixed length, as used for a datastream's
// expected reporting interval: "PT15M", "PT1H", "P1D", "P1DT6H", "PT0.5S", "P2W". Days are
// 24 hours. Years and months are rejected because their length varies; so are negative and
// empty durations ("P", "PT").
func ParseDuration(s string) (time.Duration, error) {
	bad := func(msg string) (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %s: %s", quoteShort(s), msg)
	}
	const want = "want an ISO 8601 duration such as PT15M, PT1H, P1D or P1DT6H"
	if len(s) > 40 {
		return bad("too long")
	}
	if len(s) < 2 || s[0] != 'P' {
		return bad(want)
	}
	var total float64 // seconds
	inTime := false
	seen := ""     // designators seen so far, to enforce order and uniqueness
	found := false // at least one component
	rest := s[1:]
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return bad("'T' twice")
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return bad("nothing after 'T'")
			}
			continue
		}
		n := 0
		for n < len(rest) && (rest[n] >= '0' && rest[n] <= '9' || rest[n] == '.') {
			n++
		}
		if n == 0 || n == len(rest) {
			return bad(want)
		}
		num, unit := rest[:n], rest[n]
		rest = rest[n+1:]
		if strings.Count(num, ".") > 1 || num[0] == '.' || num[len(num)-1] == '.' {
			return bad("malformed number " + num)
		}
		if strings.Contains(num, ".") && (unit != 'S' || !inTime) {
			return bad("only seconds may have a fraction")
		}
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return bad("malformed number " + num)
		}
		var scale float64
		key := string(unit)
		switch {
		case !inTime && (unit == 'Y' || unit == 'M'):
			return bad("years and months have no fixed length; use days (P30D) or hours")
		case !inTime && unit == 'W':
			scale = 7 * 86400
		case !inTime && unit == 'D':
			scale = 86400
		case inTime && unit == 'H':
			scale, key = 3600, "h"
		case inTime && unit == 'M':
			scale, key = 60, "m"
		case inTime && unit == 'S':
			scale, key = 1, "s"
		default:
			return bad(want)
		}
		// Components must come in order (W D T H M S) and once each.
		order := "WDhms"
		if strings.Contains(seen, key) || (seen != "" && strings.Index(order, key) < strings.Index(order, seen[len(seen)-1:])) {
			return bad("components out of order or repeated")
		}
		seen += key
		total += v * scale
		found = true
	}
	if !found {
		return bad(want)
	}
	if total*1e9 > math.MaxInt64 {
		return bad("too long a duration")
	}
	return time.Duration(math.Round(total * 1e9)), nil
}

// quoteShort quotes s for an error message, cutting it if long, so that a megabyte of garbage
// does not end up in a log line.
func quoteShort(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
