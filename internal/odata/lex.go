package odata

import (
	"strconv"
	"strings"
	"time"
)

type tokKind int

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tComma
	tColon    // ':' after a lambda variable
	tMinus    // '-' not starting a number
	tIdent    // a name or a path a/b/c; keywords are idents too
	tString   // '...'
	tInt      // 123
	tFloat    // 1.5, 1e3
	tDateTime // 2025-08-27T12:00:00Z or 2025-08-27
	tInterval // datetime/datetime
	tDuration // duration'...'
	tGeo      // geography'...' / geometry'...'
)

type token struct {
	kind tokKind
	pos  int // 0-based offset
	end  int // 0-based offset just past the token
	text string
	// decoded values
	str  string
	segs []Segment
	i    int64
	f    float64
	t    time.Time
	t2   time.Time
	date bool
	dur  time.Duration
	geoy bool
}

// lexer splits an option's text into tokens. Positions reported are base + offset + 1.
type lexer struct {
	src  string
	off  int
	base int // added to 0-based offsets to make 1-based positions absolute in the option text
	opt  string
}

func (l *lexer) errf(off int, format string, args ...any) *Error {
	return &Error{Option: l.opt, Pos: l.base + off + 1, Msg: sprintf(format, args...)}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isLetter(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}
func isIdentStart(c byte) bool { return isLetter(c) || c == '@' || c == '$' }
func isIdentChar(c byte) bool {
	return isLetter(c) || isDigit(c) || c == '.' || c == '-' || c == '@' || c == '$'
}

func (l *lexer) next() (token, *Error) {
	for l.off < len(l.src) && isSpace(l.src[l.off]) {
		l.off++
	}
	start := l.off
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := l.src[l.off]
	switch {
	case c == '(':
		l.off++
		return token{kind: tLParen, pos: start, end: l.off, text: "("}, nil
	case c == ')':
		l.off++
		return token{kind: tRParen, pos: start, end: l.off, text: ")"}, nil
	case c == ',':
		l.off++
		return token{kind: tComma, pos: start, end: l.off, text: ","}, nil
	case c == ':':
		l.off++
		return token{kind: tColon, pos: start, end: l.off, text: ":"}, nil
	case c == '\'':
		s, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, pos: start, end: l.off, text: l.src[start:l.off], str: s}, nil
	case c == '-':
		if l.off+1 < len(l.src) && isDigit(l.src[l.off+1]) {
			return l.number()
		}
		l.off++
		return token{kind: tMinus, pos: start, end: l.off, text: "-"}, nil
	case isDigit(c):
		if l.looksLikeDate() {
			return l.dateTime()
		}
		return l.number()
	case isIdentStart(c):
		return l.ident()
	}
	return token{}, l.errf(start, "unexpected character %q", rune(c))
}

// quoted reads a '...' string at l.off, with ” standing for one quote.
func (l *lexer) quoted() (string, *Error) {
	start := l.off
	l.off++ // opening quote
	var b strings.Builder
	for {
		i := strings.IndexByte(l.src[l.off:], '\'')
		if i < 0 {
			return "", l.errf(start, "string starting here is not terminated by '")
		}
		b.WriteString(l.src[l.off : l.off+i])
		l.off += i + 1
		if l.off < len(l.src) && l.src[l.off] == '\'' {
			b.WriteByte('\'')
			l.off++
			continue
		}
		return b.String(), nil
	}
}

func (l *lexer) number() (token, *Error) {
	start := l.off
	if l.src[l.off] == '-' {
		l.off++
	}
	for l.off < len(l.src) && isDigit(l.src[l.off]) {
		l.off++
	}
	isFloat := false
	if l.off < len(l.src) && l.src[l.off] == '.' {
		l.off++
		if l.off >= len(l.src) || !isDigit(l.src[l.off]) {
			return token{}, l.errf(l.off, "expected a digit after the decimal point")
		}
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.off++
		}
		isFloat = true
	}
	if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
		l.off++
		if l.off < len(l.src) && (l.src[l.off] == '+' || l.src[l.off] == '-') {
			l.off++
		}
		if l.off >= len(l.src) || !isDigit(l.src[l.off]) {
			return token{}, l.errf(l.off, "expected a digit in the exponent")
		}
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.off++
		}
		isFloat = true
	}
	if l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		return token{}, l.errf(start, "malformed number %q", l.src[start:l.off+1])
	}
	text := l.src[start:l.off]
	tok := token{pos: start, end: l.off, text: text}
	if !isFloat {
		if i, err := strconv.ParseInt(text, 10, 64); err == nil {
			tok.kind, tok.i = tInt, i
			return tok, nil
		}
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return token{}, l.errf(start, "number %s is out of range", text)
	}
	tok.kind, tok.f = tFloat, f
	return tok, nil
}

// looksLikeDate reports whether the text at l.off starts with dddd-dd.
func (l *lexer) looksLikeDate() bool {
	s := l.src[l.off:]
	return len(s) >= 7 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-' && isDigit(s[5]) && isDigit(s[6])
}

// dateTime reads a date, a date-time, or an interval of two date-times.
func (l *lexer) dateTime() (token, *Error) {
	start := l.off
	t, date, err := l.oneDateTime()
	if err != nil {
		return token{}, err
	}
	tok := token{kind: tDateTime, pos: start, t: t, date: date}
	if l.off < len(l.src) && l.src[l.off] == '/' {
		l.off++
		if !l.looksLikeDate() {
			return token{}, l.errf(l.off, "expected the end date-time of the interval")
		}
		t2, _, err := l.oneDateTime()
		if err != nil {
			return token{}, err
		}
		if t2.Before(t) {
			return token{}, l.errf(start, "interval ends before it starts")
		}
		tok.kind, tok.t2, tok.date = tInterval, t2, false
	}
	tok.end = l.off
	tok.text = l.src[start:l.off]
	return tok, nil
}

func (l *lexer) oneDateTime() (time.Time, bool, *Error) {
	start := l.off
	for l.off < len(l.src) {
		c := l.src[l.off]
		if isDigit(c) || c == '-' || c == ':' || c == '.' || c == 'T' || c == 'Z' || c == '+' || c == 't' || c == 'z' {
			l.off++
			continue
		}
		// A '+' in a URL query decodes to a space: accept "12:00:00 05:00" as "+05:00".
		if c == ' ' && l.off-start > 10 && l.off+6 <= len(l.src) && strings.Contains(l.src[start:l.off], "T") &&
			isDigit(l.src[l.off+1]) && isDigit(l.src[l.off+2]) && l.src[l.off+3] == ':' && isDigit(l.src[l.off+4]) && isDigit(l.src[l.off+5]) &&
			!strings.ContainsAny(l.src[start+10:l.off], "Zz+-") {
			l.off++
			continue
		}
		break
	}
	text := strings.ToUpper(strings.Replace(l.src[start:l.off], " ", "+", 1))
	if l.off < len(l.src) && isIdentChar(l.src[l.off]) {
		return time.Time{}, false, l.errf(start, "malformed date-time %q", l.src[start:l.off+1])
	}
	if len(text) == 10 {
		t, err := time.Parse(time.DateOnly, text)
		if err != nil {
			return time.Time{}, false, l.errf(start, "invalid date %q", text)
		}
		return t, true, nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, text); err == nil {
			return t, false, nil
		}
	}
	return time.Time{}, false, l.errf(start, "invalid date-time %q (want e.g. 2025-08-27T12:00:00Z, with a time zone)", text)
}

// ident reads a name, a path a/b/c (with optional [n] array indexes), or a typed literal
// such as duration'P1D'.
func (l *lexer) ident() (token, *Error) {
	start := l.off
	var segs []Segment
	for {
		s := l.off
		for l.off < len(l.src) && isIdentChar(l.src[l.off]) {
			l.off++
		}
		if l.off == s {
			return token{}, l.errf(l.off, "expected a property name after '/'")
		}
		segs = append(segs, Segment{Name: l.src[s:l.off], P: l.base + s + 1})
		for l.off < len(l.src) && l.src[l.off] == '[' {
			s := l.off + 1
			e := s
			for e < len(l.src) && isDigit(l.src[e]) {
				e++
			}
			if e == s || e >= len(l.src) || l.src[e] != ']' {
				return token{}, l.errf(l.off, "expected an array index [n]")
			}
			segs = append(segs, Segment{Name: l.src[s:e], P: l.base + s + 1})
			l.off = e + 1
		}
		if l.off < len(l.src) && l.src[l.off] == '/' {
			l.off++
			continue
		}
		break
	}
	tok := token{kind: tIdent, pos: start, end: l.off, text: l.src[start:l.off], segs: segs}
	if len(segs) == 1 && l.off < len(l.src) && l.src[l.off] == '\'' {
		name := strings.ToLower(segs[0].Name)
		qpos := l.off
		s, err := l.quoted()
		if err != nil {
			return token{}, err
		}
		tok.end, tok.text, tok.str = l.off, l.src[start:l.off], s
		switch name {
		case "duration":
			d, ok := parseDuration(s)
			if !ok {
				return token{}, l.errf(qpos+1, "invalid duration %q (want e.g. P1DT2H30M)", s)
			}
			tok.kind, tok.dur = tDuration, d
		case "geography", "geometry":
			wkt := strings.TrimSpace(s)
			if i := strings.IndexByte(wkt, ';'); i >= 0 && strings.HasPrefix(strings.ToUpper(wkt), "SRID=") {
				wkt = strings.TrimSpace(wkt[i+1:])
			}
			if wkt == "" {
				return token{}, l.errf(qpos+1, "empty %s literal", name)
			}
			tok.kind, tok.str, tok.geoy = tGeo, wkt, name == "geography"
		default:
			return token{}, l.errf(start, "unknown literal type %q (want duration, geography or geometry)", segs[0].Name)
		}
	}
	return tok, nil
}

// parseDuration parses an OData duration: [-]P[nD][T[nH][nM][n[.n]S]].
func parseDuration(s string) (time.Duration, bool) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	if !strings.HasPrefix(s, "P") || len(s) < 2 {
		return 0, false
	}
	s = s[1:]
	var total float64
	inTime, any := false, false
	for len(s) > 0 {
		if s[0] == 'T' {
			if inTime {
				return 0, false
			}
			inTime = true
			s = s[1:]
			if len(s) == 0 {
				return 0, false
			}
			continue
		}
		i := 0
		for i < len(s) && (isDigit(s[i]) || s[i] == '.') {
			i++
		}
		if i == 0 || i >= len(s) {
			return 0, false
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil {
			return 0, false
		}
		unit := s[i]
		s = s[i+1:]
		switch {
		case unit == 'D' && !inTime:
			total += n * 86400
		case unit == 'H' && inTime:
			total += n * 3600
		case unit == 'M' && inTime:
			total += n * 60
		case unit == 'S' && inTime:
			total += n
		default:
			return 0, false
		}
		any = true
	}
	if !any || total > 9e9 { // about 285 years: keeps microseconds well inside int64
		return 0, false
	}
	d := time.Duration(total * float64(time.Second)).Round(time.Microsecond)
	if neg {
		d = -d
	}
	return d, true
}
