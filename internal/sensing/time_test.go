package sensing

import (
	"strings"
	"testing"
	"time"
)

func TestParseTimeOrInterval(t *testing.T) {
	pkt := time.FixedZone("", 5*3600)
	tests := []struct {
		in         string
		start, end time.Time
		offset     int    // expected offset of start, seconds
		format     string // FormatTimeOrInterval of the result; "" = same as in
		err        string // substring of the error; "" = no error
	}{
		{in: "2025-07-05T12:00:00+05:00", start: time.Date(2025, 7, 5, 12, 0, 0, 0, pkt), offset: 5 * 3600},
		{in: "2025-07-05T07:00:00Z", start: time.Date(2025, 7, 5, 7, 0, 0, 0, time.UTC)},
		{in: "2025-07-05T07:00:00.5Z", start: time.Date(2025, 7, 5, 7, 0, 0, 5e8, time.UTC)},
		{in: "2025-07-05T07:00:00.123456789-03:30", start: time.Date(2025, 7, 5, 10, 30, 0, 123456789, time.UTC), offset: -(3*3600 + 1800)},
		{in: "2025-07-05T07:00:00+00:00", start: time.Date(2025, 7, 5, 7, 0, 0, 0, time.UTC), format: "2025-07-05T07:00:00Z"},
		{in: "2025-07-05T07:00:00.500Z", start: time.Date(2025, 7, 5, 7, 0, 0, 5e8, time.UTC), format: "2025-07-05T07:00:00.5Z"},
		{in: "2024-02-29T23:59:59Z", start: time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC)},
		{in: "2025-07-05T00:00:00+05:00/2025-07-06T00:00:00+05:00", start: time.Date(2025, 7, 5, 0, 0, 0, 0, pkt), end: time.Date(2025, 7, 6, 0, 0, 0, 0, pkt), offset: 5 * 3600},
		{in: "2025-07-05T00:00:00Z/2025-07-05T05:00:00+05:00", start: time.Date(2025, 7, 5, 0, 0, 0, 0, time.UTC), end: time.Date(2025, 7, 5, 0, 0, 0, 0, time.UTC), format: "2025-07-05T00:00:00Z"}, // zero-length interval
		{in: "", err: "want an RFC 3339 instant"},
		{in: "2025-07-05", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00", err: "missing offset"},
		{in: "2025-07-05T12:00Z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05 12:00:00Z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05t12:00:00z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00,5Z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00.Z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00.1234567891Z", err: "more than 9 fractional digits"},
		{in: "2025-07-05T12:00:00+0500", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00+5:00", err: "want an RFC 3339 instant"},
		{in: "2025-13-05T12:00:00Z", err: "month out of range"},
		{in: "2025-02-29T12:00:00Z", err: "day out of range"},
		{in: "2025-07-05T24:00:00Z", err: "hour out of range"},
		{in: "2016-12-31T23:59:60Z", err: "second out of range"},
		{in: "2025-07-05T12:00:00+25:00", err: "out of range"},
		{in: " 2025-07-05T12:00:00Z", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00Z ", err: "want an RFC 3339 instant"},
		{in: "PT1H", err: "want an RFC 3339 instant"},
		{in: "2025-07-05T12:00:00Z/PT1H", err: "end:"},
		{in: "../2025-07-05T12:00:00Z", err: "start:"},
		{in: "2025-07-06T00:00:00Z/2025-07-05T00:00:00Z", err: "end is before start"},
		{in: "2025-07-05T00:00:00Z/2025-07-06T00:00:00Z/2025-07-07T00:00:00Z", err: "more than one '/'"},
		{in: strings.Repeat("9", 1000), err: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			start, end, err := ParseTimeOrInterval(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want containing %q", err, tt.err)
				}
				if len(err.Error()) > 300 {
					t.Errorf("error message too long: %d bytes", len(err.Error()))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			wantEnd := tt.end
			if wantEnd.IsZero() {
				wantEnd = tt.start
			}
			if !start.Equal(tt.start) || !end.Equal(wantEnd) {
				t.Errorf("got %v / %v, want %v / %v", start, end, tt.start, wantEnd)
			}
			if _, off := start.Zone(); off != tt.offset {
				t.Errorf("start offset %d, want %d", off, tt.offset)
			}
			want := tt.format
			if want == "" {
				want = tt.in
			}
			if got := FormatTimeOrInterval(start, end); got != want {
				t.Errorf("FormatTimeOrInterval = %q, want %q", got, want)
			}
		})
	}
}

// The result must not depend on the machine's local zone.
func TestParseTimeOrIntervalIgnoresLocal(t *testing.T) {
	old := time.Local
	t.Cleanup(func() { time.Local = old })
	time.Local = time.FixedZone("PKT", 5*3600)
	start, _, err := ParseTimeOrInterval("2025-07-05T12:00:00+05:00")
	if err != nil {
		t.Fatal(err)
	}
	if start.Location() == time.Local {
		t.Error("start is in time.Local; want a fixed zone of the offset sent")
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"PT1H", time.Hour, ""},
		{"PT15M", 15 * time.Minute, ""},
		{"PT30S", 30 * time.Second, ""},
		{"PT0.5S", 500 * time.Millisecond, ""},
		{"P1D", 24 * time.Hour, ""},
		{"P1DT6H", 30 * time.Hour, ""},
		{"P2W", 14 * 24 * time.Hour, ""},
		{"PT1H30M", 90 * time.Minute, ""},
		{"PT0S", 0, ""},
		{"", 0, "want an ISO 8601 duration"},
		{"P", 0, "want an ISO 8601 duration"},
		{"PT", 0, "nothing after 'T'"},
		{"1h", 0, "want an ISO 8601 duration"},
		{"P1M", 0, "no fixed length"},
		{"P1Y", 0, "no fixed length"},
		{"P1H", 0, "want an ISO 8601 duration"},
		{"PT1D", 0, "want an ISO 8601 duration"},
		{"PT30M1H", 0, "out of order"},
		{"PT1H1H", 0, "out of order or repeated"},
		{"P1.5D", 0, "only seconds"},
		{"PT1..5S", 0, "malformed number"},
		{"-PT1H", 0, "want an ISO 8601 duration"},
		{"P99999999999D", 0, "too long a duration"},
		{"PT1HT", 0, "'T' twice"},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseDuration(%q) err = %v, want containing %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseTimeOrInterval(f *testing.F) {
	for _, s := range []string{
		"2025-07-05T12:00:00+05:00", "2025-07-05T07:00:00.123456789Z", "2025-07-05T00:00:00Z/2025-07-06T00:00:00+05:00",
		"2025-07-05", "2025-02-29T12:00:00Z", "0000-01-01T00:00:00-23:59", "9999-12-31T23:59:59.999999999+23:59", "/", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, err := ParseTimeOrInterval(s)
		if err != nil {
			if len(err.Error()) > 400 {
				t.Fatalf("error message too long: %d bytes", len(err.Error()))
			}
			return
		}
		if end.Before(start) {
			t.Fatalf("%q: end %v before start %v", s, end, start)
		}
		// Round trip: formatting and parsing again gives the same instants and offsets.
		out := FormatTimeOrInterval(start, end)
		s2, e2, err := ParseTimeOrInterval(out)
		if err != nil {
			t.Fatalf("%q formatted as %q, which does not parse: %v", s, out, err)
		}
		if !s2.Equal(start) || !e2.Equal(end) {
			t.Fatalf("%q → %q → %v/%v, want %v/%v", s, out, s2, e2, start, end)
		}
		_, o1 := start.Zone()
		_, o2 := s2.Zone()
		if o1 != o2 {
			t.Fatalf("%q: offset %d became %d", s, o1, o2)
		}
	})
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"PT1H", "P1DT6H30M0.5S", "P2W", "P1M", "PT", "P9999999999999D"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err == nil && d < 0 {
			t.Fatalf("%q: negative %v", s, d)
		}
	})
}
