package cap

import (
	"fmt"
	"strings"
	"time"
)

// timeLayout is CAP's date-time form: no fractional seconds, numeric offset, never "Z".
const timeLayout = "2006-01-02T15:04:05-07:00"

// FormatTime renders t as CAP 1.2 requires: "2025-08-27T12:00:00+05:00", seconds precision
// (fractional seconds are truncated), and UTC as "-00:00" — CAP 1.2 §3.3.2 says "The timezone
// for UTC MUST be represented as -00:00" and forbids "Z". An offset that is not a whole
// number of minutes or is beyond ±14:00 (possible with historic zones in Go) is rendered in UTC.
func FormatTime(t time.Time) string {
	t = t.Truncate(time.Second)
	_, off := t.Zone()
	if off%60 != 0 || off > 14*3600 || off < -14*3600 {
		t, off = t.UTC(), 0
	}
	if off == 0 {
		return t.Format("2006-01-02T15:04:05") + "-00:00"
	}
	return t.Format(timeLayout)
}

// ParseTime parses a CAP date-time, exactly the schema's pattern
// \d\d\d\d-\d\d-\d\dT\d\d:\d\d:\d\d[-,+]\d\d:\d\d after trimming surrounding white space
// (xs:dateTime collapses it). Both "+00:00" and "-00:00" mean UTC and give a time in time.UTC;
// any other offset gives a time.FixedZone without a name, so equal inputs give
// reflect.DeepEqual times whatever the machine's local zone is.
func ParseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if !matchTimePattern(s) {
		return time.Time{}, fmt.Errorf("date-time %q is not in the CAP form YYYY-MM-DDThh:mm:ss±hh:mm (no fractional seconds, no \"Z\")", s)
	}
	// The schema allows ',' as the sign (a typo in the XSD pattern); no real sender uses it.
	if s[19] == ',' {
		return time.Time{}, fmt.Errorf("date-time %q: ',' is not a time-zone sign", s)
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("date-time %q: %v", s, err)
	}
	_, off := t.Zone()
	if off > 14*3600 || off < -14*3600 {
		return time.Time{}, fmt.Errorf("date-time %q: time-zone offset beyond ±14:00", s)
	}
	if off == 0 {
		return t.UTC(), nil
	}
	return t.In(time.FixedZone("", off)), nil
}

func matchTimePattern(s string) bool {
	const pat = "dddd-dd-ddTdd:dd:dd+dd:dd"
	if len(s) != len(pat) {
		return false
	}
	for i := 0; i < len(pat); i++ {
		c := s[i]
		switch pat[i] {
		case 'd':
			if c < '0' || c > '9' {
				return false
			}
		case '+':
			if c != '+' && c != '-' && c != ',' {
				return false
			}
		default:
			if c != pat[i] {
				return false
			}
		}
	}
	return true
}
