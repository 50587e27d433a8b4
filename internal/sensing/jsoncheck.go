package sensing

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// JSONError is what CheckJSON finds wrong with a JSON document: at Path (members joined by
// "." and array indexes as [i], "" for the document itself), at byte Offset (from 1, as
// $filter positions are).
type JSONError struct {
	Path   string
	Offset int
	Msg    string
}

func (e *JSONError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("at byte %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("%s (byte %d): %s", e.Path, e.Offset, e.Msg)
}

// UserMessage is Error(): written for the client who sent the document (see apperr).
func (e *JSONError) UserMessage() string { return e.Error() }

// CheckJSON checks a syntactically valid JSON document (json.Valid) for what encoding/json
// lets through but Rabta must not store or serve (RFC 8259 §8.1, §4, §6; I-JSON, RFC 7493):
//
//   - text that is not UTF-8 (encoding/json would replace it with U+FFFD silently; stored as
//     sent, it would be served as invalid JSON on every path);
//   - an escaped NUL (\u0000), which neither PostgreSQL text nor jsonb can hold, and a UTF-16
//     surrogate escape without its pair (\ud800), which is no character;
//   - the same member twice in one object (which one counts differs between parsers);
//   - a number beyond float64's range (1e400), which every client reads as infinity.
//
// The error is a *JSONError naming the member and the byte. It uses no recursion.
func CheckJSON(b []byte) error {
	type frame struct {
		array bool
		index int             // in an array: the element being read
		key   string          // in an object: the member being read
		keys  map[string]bool // in an object: the members read
	}
	var stack []frame
	// path names where the scan is, from the stack (only for an error)
	path := func() string {
		var sb strings.Builder
		for _, f := range stack {
			if f.array {
				fmt.Fprintf(&sb, "[%d]", f.index)
			} else if sb.Len() == 0 {
				sb.WriteString(f.key)
			} else {
				sb.WriteString("." + f.key)
			}
		}
		return sb.String()
	}
	fail := func(off int, format string, args ...any) error {
		return &JSONError{Path: path(), Offset: off + 1, Msg: fmt.Sprintf(format, args...)}
	}
	expectKey := false
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == ':':
			i++
		case c == ',':
			if n := len(stack); n > 0 {
				if stack[n-1].array {
					stack[n-1].index++
				} else {
					expectKey = true
				}
			}
			i++
		case c == '{' || c == '[':
			f := frame{array: c == '['}
			if c == '{' {
				f.keys = map[string]bool{}
				expectKey = true
			}
			stack = append(stack, f)
			i++
		case c == '}' || c == ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			expectKey = false
			i++
		case c == '"':
			s, n, err := scanString(b[i:], expectKey)
			if err != nil {
				err.Offset += i + 1
				if expectKey {
					stack[len(stack)-1].key = ""
					err.Msg = "member name: " + err.Msg
				}
				err.Path = strings.TrimSuffix(path(), ".")
				return err
			}
			if expectKey {
				f := &stack[len(stack)-1]
				f.key = s
				if f.keys[s] {
					return fail(i, "member %q given twice in the same object", s)
				}
				f.keys[s] = true
				expectKey = false
			}
			i += n
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && strings.IndexByte("+-.eE0123456789", b[j]) >= 0 {
				j++
			}
			// only an exponent or more than 308 digits can take a number beyond float64
			if num := b[i:j]; (j-i > 300 || bytes.ContainsAny(num, "eE")) && !finite(num) {
				return fail(i, "number %.40s is out of range (beyond ±1.8e308)", b[i:j])
			}
			i = j
		default: // true, false, null
			for i < len(b) && b[i] >= 'a' && b[i] <= 'z' {
				i++
			}
			if i < len(b) && !(b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r' || b[i] == ',' || b[i] == '}' || b[i] == ']') {
				return fail(i, "not JSON")
			}
		}
	}
	return nil
}

// scanString reads the JSON string at the start of b (which begins with '"'): its value (when
// keep: only member names are needed), its length in bytes with the quotes, or what is wrong
// with it.
func scanString(b []byte, keep bool) (string, int, *JSONError) {
	if !keep {
		return scanOnly(b)
	}
	return scanFull(b, true)
}

// scanFull is scanString checking every escape; it builds the value only when keep.
func scanFull(b []byte, keep bool) (string, int, *JSONError) {
	var sb strings.Builder
	write := func(s string) {
		if keep {
			sb.WriteString(s)
		}
	}
	for i := 1; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return sb.String(), i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return "", 0, &JSONError{Offset: i, Msg: "unterminated escape"}
			}
			if b[i+1] != 'u' {
				write(string(unescape(b[i+1])))
				i += 2
				continue
			}
			r, ok := hex4(b, i+2)
			if !ok {
				return "", 0, &JSONError{Offset: i, Msg: "malformed \\u escape"}
			}
			switch {
			case r == 0:
				return "", 0, &JSONError{Offset: i, Msg: `the NUL character (\u0000) is not allowed in text`}
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := hex4(b, i+8)
				if !ok || b[i+6] != '\\' || b[i+7] != 'u' || lo < 0xDC00 || lo > 0xDFFF {
					return "", 0, &JSONError{Offset: i, Msg: fmt.Sprintf(`\u%04x is half of a UTF-16 surrogate pair without its other half`, r)}
				}
				write(string(0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)))
				i += 12
				continue
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", 0, &JSONError{Offset: i, Msg: fmt.Sprintf(`\u%04x is half of a UTF-16 surrogate pair without its other half`, r)}
			}
			write(string(r))
			i += 6
		case c < utf8.RuneSelf:
			write(string(c))
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", 0, &JSONError{Offset: i, Msg: fmt.Sprintf("byte 0x%02x: the text is not UTF-8", c)}
			}
			write(string(b[i : i+n]))
			i += n
		}
	}
	return "", 0, &JSONError{Offset: 0, Msg: "unterminated string"}
}

// scanOnly is scanString without the value: a fast path over plain bytes, for string values.
func scanOnly(b []byte) (string, int, *JSONError) {
	for i := 1; i < len(b); {
		c := b[i]
		switch {
		case c == '"':
			return "", i + 1, nil
		case c == '\\':
			if i+1 < len(b) && b[i+1] != 'u' {
				i += 2
				continue
			}
			// an escape of a code point: the full check (NUL, surrogates)
			_, n, err := scanFull(b[i-1:], false)
			if err != nil {
				err.Offset += i - 1
				return "", 0, err
			}
			return "", i - 1 + n, nil
		case c < utf8.RuneSelf:
			i++
		default:
			r, n := utf8.DecodeRune(b[i:])
			if r == utf8.RuneError && n <= 1 {
				return "", 0, &JSONError{Offset: i, Msg: fmt.Sprintf("byte 0x%02x: the text is not UTF-8", c)}
			}
			i += n
		}
	}
	return "", 0, &JSONError{Offset: 0, Msg: "unterminated string"}
}

func unescape(c byte) byte {
	switch c {
	case 'b':
		return '\b'
	case 'f':
		return '\f'
	case 'n':
		return '\n'
	case 'r':
		return '\r'
	case 't':
		return '\t'
	}
	return c // " \ /
}

// finite reports whether the JSON number num is within float64's range.
func finite(num []byte) bool {
	_, err := strconv.ParseFloat(string(num), 64)
	return err == nil
}

// hex4 reads four hex digits at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(b[i:i+4]), 16, 32)
	return rune(v), err == nil
}

// CheckText checks a string that Rabta will store and serve (a CSV field, an MQTT payload):
// UTF-8, without NUL. what names it in the error.
func CheckText(s, what string) error {
	if !utf8.ValidString(s) {
		for i, r := range s {
			if r == utf8.RuneError {
				if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
					return fmt.Errorf("%s: byte %d (0x%02x): the text is not UTF-8", what, i+1, s[i])
				}
			}
		}
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("%s: byte %d: the NUL character is not allowed in text", what, i+1)
	}
	return nil
}

// JSONReason says what encoding/json found wrong with a body, without Go's types or names:
// the unknown field, the member of the wrong type, the byte of a syntax error; "" otherwise.
func JSONReason(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		want := "a " + te.Type.Kind().String()
		switch te.Type.Kind() {
		case reflect.Struct, reflect.Map:
			want = "an object"
		case reflect.Slice, reflect.Array:
			want = "an array"
		case reflect.Bool:
			want = "true or false"
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16,
			reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
			want = "a number"
		}
		if te.Field == "" {
			return fmt.Sprintf("want %s, got a JSON %s", want, te.Value)
		}
		return fmt.Sprintf("%s: want %s, got a JSON %s", te.Field, want, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends before it is complete"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return ""
}
