package i18n

import (
	"math"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/number"
)

// Number formats v with the language's CLDR decimal format and numbering system (see the
// package comment): grouping separators, at most two fraction digits. NaN and ±Inf are
// written as they are in Go ("NaN", "+Inf"): a value that reaches a message is finite.
func (l *Lang) Number(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	return l.printer.Sprint(number.Decimal(v, number.MaxFractionDigits(2)))
}

// Digits formats a non-negative integer without grouping, padded with zeros to width digits
// (for days, hours and years), in the language's digits.
func (l *Lang) Digits(n, width int) string {
	return l.printer.Sprint(number.Decimal(n, number.NoSeparator(), number.MinIntegerDigits(width)))
}

// Quantity writes a value with its unit in the language, e.g. "250,000 cusecs",
// "250,000 کیوسک", "٢٥٠٬٠٠٠ ڪيوسڪ", "250,000立方英尺每秒". An unknown unit is written as given.
func (l *Lang) Quantity(v float64, unit string) string {
	u, _ := l.Unit(unit)
	if u == "" {
		return l.Number(v)
	}
	if l.Tag == "zh" {
		return l.Number(v) + u
	}
	return l.Number(v) + " " + u
}

// DateTime writes an instant as the wall time in loc (nil: UTC) with the date, the 24-hour
// time and the zone's name, e.g. "27 August 2025, 13:00 (Pakistan Standard Time)",
// "27 اگست 2025، 13:00 (پاکستان کا معیاری وقت)", "2025年8月27日 13:00（巴基斯坦标准时间）".
// Month and zone names are CLDR's (Punjabi's ours); a zone without a name here is written
// as its UTC offset.
func (l *Lang) DateTime(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	t = t.In(loc)
	day, year := l.Digits(t.Day(), 1), l.Digits(t.Year(), 1)
	clock := l.Digits(t.Hour(), 2) + ":" + l.Digits(t.Minute(), 2)
	zone := l.Zone(t)
	switch l.Tag {
	case "zh":
		return year + "年" + l.Digits(int(t.Month()), 1) + "月" + day + "日 " + clock + "（" + zone + "）"
	case "en":
		return day + " " + l.t.months[t.Month()-1] + " " + year + ", " + clock + " (" + zone + ")"
	}
	return day + " " + l.t.months[t.Month()-1] + " " + year + "، " + clock + " (" + zone + ")"
}

// Zone names the zone of t (its location) in the language: CLDR's long metazone name for
// Asia/Karachi, Asia/Shanghai and UTC, else the UTC offset ("UTC+05:30" with the language's
// digits and word for UTC).
func (l *Lang) Zone(t time.Time) string {
	if n, ok := l.t.zones[t.Location().String()]; ok {
		return n
	}
	_, off := t.Zone()
	sign := "+"
	if off < 0 {
		sign, off = "-", -off
	}
	return l.t.utc + sign + l.Digits(off/3600, 2) + ":" + l.Digits(off%3600/60, 2)
}

// Duration writes d, rounded to the minute, in days, hours and minutes: "6 hours",
// "1 hour 30 minutes", "6 گھنٹے", "6小时". Zero or less is "0 minutes".
func (l *Lang) Duration(d time.Duration) string { return l.duration(d, false) }

// In writes "in d": "in 6 hours", "6 گھنٹے میں", "په ۶ ساعتو کې", "6小时后" (CLDR's
// relative-time patterns; Punjabi's ours).
func (l *Lang) In(d time.Duration) string { return l.duration(d, true) }

func (l *Lang) duration(d time.Duration, in bool) string {
	m := int(d.Round(time.Minute) / time.Minute)
	if m < 0 {
		m = 0
	}
	days, hours, mins := m/(24*60), m/60%24, m%60
	var parts []string
	for i, n := range []int{days, hours, mins} {
		if n == 0 && !(i == 2 && len(parts) == 0) {
			continue
		}
		parts = append(parts, l.t.unitCount(l, unitKind(i), n, in))
	}
	s := strings.Join(parts, l.t.and)
	if in {
		return l.t.in[0] + s + l.t.in[1]
	}
	return s
}

// unitKind indexes a language's counted units: 0 days, 1 hours, 2 minutes.
type unitKind int

// counted is how a language writes "n days/hours/minutes": one and other forms, standalone
// and after "in" (oblique).
type counted struct {
	one, other     string
	inOne, inOther string
}

func (t *table) unitCount(l *Lang, k unitKind, n int, in bool) string {
	c := t.counts[k]
	w := c.other
	switch {
	case in && n == 1:
		w = c.inOne
	case in:
		w = c.inOther
	case n == 1:
		w = c.one
	}
	if l.Tag == "zh" {
		return l.Digits(n, 1) + w
	}
	return l.Digits(n, 1) + " " + w
}
