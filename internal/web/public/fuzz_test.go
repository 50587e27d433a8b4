package public

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzParseQuery holds parseQuery to its limits for any query string: it never panics, and
// whatever it accepts is within them (q at most MaxQuery characters of text, a point on the
// globe, a known language); a refusal names a parameter and has a text in every language.
func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "q=Lahore", "lang=ur&q=%D9%84%D8%A7%DB%81%D9%88%D8%B1", "lat=31.5&lon=74.3", "lat=91&lon=0",
		"lat=1e999&lon=0", "lat=NaN&lon=Inf", "lat=0x1p-2&lon=1", "q=%00", "q=%ff", "lang=fr", "lat=-90&lon=180", "lat=&lon=5",
		"q=" + strings.Repeat("a", 101), "lat=+1.5e1&lon=-1E2", "q=a;b", "%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, bad := parseQuery(v)
		if bad != nil {
			for lang, w := range texts {
				if bad.Param == "" || bad.Text(w) == "" {
					t.Fatalf("%q: a refusal without a parameter or a text in %s", raw, lang)
				}
			}
			return
		}
		if utf8.RuneCountInString(q.Q) > MaxQuery || !utf8.ValidString(q.Q) || strings.IndexFunc(q.Q, unicode.IsControl) >= 0 {
			t.Fatalf("%q: accepted q %q", raw, q.Q)
		}
		if q.HasPoint && (q.Lat < -90 || q.Lat > 90 || q.Lon < -180 || q.Lon > 180 || q.Lat != q.Lat || q.Lon != q.Lon) {
			t.Fatalf("%q: accepted %v,%v", raw, q.Lat, q.Lon)
		}
		if _, ok := texts[q.Lang]; q.Lang != "" && !ok {
			t.Fatalf("%q: accepted lang %q", raw, q.Lang)
		}
	})
}

// FuzzParseID: an accepted alert id is positive and is the digits given.
func FuzzParseID(f *testing.F) {
	for _, s := range []string{"1", "0", "-1", "9223372036854775807", "9223372036854775808", "99999999999999999999", "1e3", "０１", "+1", " 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, bad := parseID(s)
		if bad != nil {
			return
		}
		if id <= 0 || itoa(id) != strings.TrimLeft(s, "0") {
			t.Fatalf("%q: accepted as %d", s, id)
		}
	})
}

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{"": false, "gzip": true, "gzip, deflate, br": true, "br;q=1, gzip;q=0.5": true,
		"gzip;q=0": false, "gzip; q=0.0": false, "x-gzip": true, "*": true, "identity": false, "gzip;q=0.01": true} {
		if got := acceptsGzip(h); got != want {
			t.Errorf("acceptsGzip(%q) = %v", h, got)
		}
	}
}
