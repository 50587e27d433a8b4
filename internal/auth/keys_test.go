package auth

import (
	"strings"
	"testing"
	"time"

	"github.com/rabta/rabta/internal/apperr"
)

var now = time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)

func TestParseExpiry(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Time // zero: refused
		msg  string    // in the refusal
	}{
		{"720h", now.Add(720 * time.Hour), ""},
		{" 1h30m ", now.Add(90 * time.Minute), ""},
		{"90d", now.Add(90 * 24 * time.Hour), ""},
		{"36500d", now.Add(36500 * 24 * time.Hour), ""},
		{"2027-01-01T00:00:00Z", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"2027-01-01T05:00:00+05:00", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"", time.Time{}, "empty"},
		{"0s", time.Time{}, "above zero"},
		{"-1h", time.Time{}, "above zero"},
		{"0d", time.Time{}, "from 1 to 36500"},
		{"36501d", time.Time{}, "from 1 to 36500"},
		{"+5d", time.Time{}, "from 1 to 36500"},
		{"1.5d", time.Time{}, "from 1 to 36500"},
		{"d", time.Time{}, "from 1 to 36500"},
		{"tomorrow", time.Time{}, "want a duration such as 720h"},
		{"2026-11-30", time.Time{}, "RFC 3339"},
		{"2026-11-30T12:00:00Z", time.Time{}, "not in the future"},
		{"2020-01-01T00:00:00Z", time.Time{}, "not in the future"},
	} {
		got, err := ParseExpiry(c.in, now)
		if c.want.IsZero() {
			if apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%q: %v %v, want Invalid with %q", c.in, got, err, c.msg)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("%q: %v %v, want %v", c.in, got, err, c.want)
		}
	}
}

// FuzzParseExpiry: whatever the input, an expiry is either refused as Invalid or after now.
func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"720h", "90d", "2027-01-01T00:00:00Z", "-1h", "0d", "9999999999d", "1e400h", "2027-13-01T00:00:00Z", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		at, err := ParseExpiry(s, now)
		if err != nil {
			if apperr.KindOf(err) != apperr.Invalid {
				t.Fatalf("%q: %v, want Invalid", s, err)
			}
			return
		}
		if !at.After(now) {
			t.Fatalf("%q: %v is not after now", s, at)
		}
	})
}

func TestKeyChecks(t *testing.T) {
	for _, c := range []struct {
		org, name string
		msg       string // "" for accepted
	}{
		{"pdma-punjab", "logger 7 at Khanki", ""},
		{NodeOrganisation, "bootstrap", ""},
		{"ndma.gov_pk", "", ""},
		{"a", "نام", ""},
		{strings.Repeat("o", MaxOrganisation), strings.Repeat("n", MaxKeyName), ""},
		{"", "x", "organisation is required"},
		{strings.Repeat("o", MaxOrganisation+1), "x", "over the limit of 64"},
		{"-pdma", "x", "character 1"},
		{"pd ma", "x", "character 3"},
		{"pdma/x", "x", "character 5"},
		{"pdmä", "x", "character 4"},
		{"pdma", strings.Repeat("n", MaxKeyName+1), "over the limit of 200"},
		{"pdma", "bad\xffname", "not valid UTF-8"},
		{"pdma", "line\x1b[2Jclear", "control character at byte 4"},
	} {
		err := checkOrganisation(c.org)
		if err == nil {
			err = checkKeyName(c.name)
		}
		if c.msg == "" && err != nil || c.msg != "" && (apperr.KindOf(err) != apperr.Invalid || !strings.Contains(err.Error(), c.msg)) {
			t.Errorf("org %q name %q: %v, want %q", c.org, c.name, err, c.msg)
		}
	}
}

func TestKeyState(t *testing.T) {
	past, future := now.Add(-time.Second), now.Add(time.Second)
	for _, c := range []struct {
		k    Key
		want string
	}{
		{Key{}, KeyActive},
		{Key{ExpiresAt: &future}, KeyActive},
		{Key{ExpiresAt: &now}, KeyExpired},
		{Key{ExpiresAt: &past}, KeyExpired},
		{Key{RevokedAt: &past}, KeyRevoked},
		{Key{RevokedAt: &past, ExpiresAt: &past}, KeyRevoked},
	} {
		if got := c.k.State(now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.k, got, c.want)
		}
	}
}
