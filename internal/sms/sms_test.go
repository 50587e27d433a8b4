package sms

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAnalyze(t *testing.T) {
	cases := []struct {
		name   string
		text   string
		coding Coding
		units  int
		parts  int
	}{
		{"empty", "", GSM7, 0, 1},
		{"ascii 160", strings.Repeat("a", 160), GSM7, 160, 1},
		{"ascii 161", strings.Repeat("a", 161), GSM7, 161, 2},
		{"ascii 306", strings.Repeat("a", 306), GSM7, 306, 2},
		{"ascii 307", strings.Repeat("a", 307), GSM7, 307, 3},
		{"escapes count twice", strings.Repeat("€", 80), GSM7, 160, 1},
		{"escape pair never split", strings.Repeat("a", 152) + "€" + strings.Repeat("a", 8), GSM7, 162, 2},
		{"gsm accents", "Déjà vu à Karachi", GSM7, 17, 1},
		{"urdu 70", strings.Repeat("س", 70), UCS2, 70, 1},
		{"urdu 71", strings.Repeat("س", 71), UCS2, 71, 2},
		{"urdu 134", strings.Repeat("س", 134), UCS2, 134, 2},
		{"urdu 135", strings.Repeat("س", 135), UCS2, 135, 3},
		{"chinese", "洪水预警", UCS2, 4, 1},
		{"one non-GSM char makes it all UCS-2", strings.Repeat("a", 69) + "ç", UCS2, 70, 1},
		{"astral takes two units", strings.Repeat("a", 66) + "😀" + "a", UCS2, 69, 1},
		{"surrogate pair never split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 10), UCS2, 78, 2},
		{"invalid utf-8", "a\xffb", UCS2, 3, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Analyze(c.text)
			if p.Coding != c.coding || p.Units != c.units || p.Parts != c.parts {
				t.Fatalf("Analyze = %+v, want coding %v units %d parts %d", p, c.coding, c.units, c.parts)
			}
			got := Split(c.text)
			if len(got) != p.Parts {
				t.Fatalf("Split gave %d parts, Analyze %d", len(got), p.Parts)
			}
			if strings.Join(got, "") != c.text {
				t.Fatal("Split lost text")
			}
		})
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "hello", strings.Repeat("€", 100), strings.Repeat("سیلاب ", 40), "a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Analyze(s)
		parts := Split(s)
		if len(parts) != p.Parts || strings.Join(parts, "") != s {
			t.Fatalf("%q: %d parts, plan %+v", s, len(parts), p)
		}
		if p.Parts == 1 {
			return
		}
		per, size := GSM7Part, septets
		if p.Coding == UCS2 {
			per, size = UCS2Part, units
		}
		for _, part := range parts {
			n := 0
			for _, r := range part {
				n += size(r)
			}
			if n > per {
				t.Fatalf("part of %d units > %d", n, per)
			}
			if utf8.ValidString(s) && !utf8.ValidString(part) {
				t.Fatal("part cuts a character")
			}
		}
	})
}
