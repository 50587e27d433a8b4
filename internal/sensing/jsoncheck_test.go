package sensing

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckJSON(t *testing.T) {
	cases := []struct {
		doc, want string // want "" for accepted
	}{
		{`{"a":1,"b":[1,2,{"a":1}],"c":{"a":{"a":null}}}`, ""},
		{`"\ud83d\ude00 \u00e9 \/ \" \\"`, ""},
		{`[1e308, -1e308, 1e-400, 0, -0.5]`, ""},
		{`{"a":1,"a":2}`, `a (byte 8): member "a" given twice`},
		{`{"a":{"b":1},"a":2}`, `member "a" given twice`},
		{`[{"x":[{"y":1,"y":1}]}]`, `[0].x[0].y (byte 15): member "y" given twice`},
		{`{"a\u0062":1,"ab":2}`, `member "ab" given twice`},
		{"{\"a\":\"\xff\"}", "a (byte 7): byte 0xff: the text is not UTF-8"},
		{"{\"\xff\":1}", "member name: byte 0xff"},
		{`{"a":"\u0000"}`, "NUL"},
		{`["\udc00"]`, `[0] (byte 3): \udc00 is half of a UTF-16 surrogate pair`},
		{`["\ud800x"]`, "surrogate pair"},
		{`["\ud800\u0041"]`, "surrogate pair"},
		{`{"a":[1,2,1e309]}`, "a[2] (byte 11): number 1e309 is out of range"},
		{`-1e400`, "byte 1: number -1e400"},
	}
	for _, c := range cases {
		if !json.Valid([]byte(c.doc)) {
			t.Fatalf("%s: not valid JSON, the case is wrong", c.doc)
		}
		err := CheckJSON([]byte(c.doc))
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.doc, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want %q", c.doc, err, c.want)
		}
	}
}

// FuzzCheckJSON: on any valid JSON, CheckJSON does not panic; what it accepts is UTF-8, has no
// NUL, decodes without U+FFFD where the text had none, holds each member once and only
// finite numbers.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":1,"a":2}`, "\"\xff\"", `"\u0000"`, `"\ud800"`, `"\ud83d\ude00"`, `[1e400]`,
		`{"a":{"b":[{"c":"d"},{"c":"d","c":1}]}}`, `{"":1,"":2}`, `[[[[[[]]]]]]`, `{"a\u0000":1}`, `"\ufffd"`, `true`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return
		}
		if CheckJSON(b) != nil {
			return
		}
		if !utf8.Valid(b) {
			t.Fatalf("accepted text that is not UTF-8: %q", b)
		}
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", b, err)
		}
		had := strings.Contains(string(b), "\ufffd") || strings.Contains(strings.ToLower(string(b)), `\ufffd`)
		var walk func(v any)
		walk = func(v any) {
			switch v := v.(type) {
			case string:
				if strings.ContainsRune(v, 0) || !had && strings.ContainsRune(v, utf8.RuneError) {
					t.Fatalf("accepted %q holding %q", b, v)
				}
			case []any:
				for _, x := range v {
					walk(x)
				}
			case map[string]any:
				for k, x := range v {
					walk(k)
					walk(x)
				}
			}
		}
		walk(v)
		// each member once: re-encoding keeps as many members as the text has names
		if n := strings.Count(string(b), ":"); n > 0 {
			var count func(v any) int
			count = func(v any) int {
				c := 0
				switch v := v.(type) {
				case []any:
					for _, x := range v {
						c += count(x)
					}
				case map[string]any:
					for _, x := range v {
						c += 1 + count(x)
					}
				}
				return c
			}
			if got := count(v); got > n {
				t.Fatalf("%q: %d members decoded, %d colons", b, got, n)
			}
		}
	})
}

// BenchmarkCheckJSON: a dataArray body of 100,000 rows (about 5 MiB).
func BenchmarkCheckJSON(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(`[{"Datastream":{"@iot.id":1},"components":["phenomenonTime","result"],"dataArray":[`)
	for i := range 100000 {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(`["2025-08-27T12:00:00+05:00",1001480.5,"gauge reading \u00e9"]`)
	}
	sb.WriteString(`]}]`)
	doc := []byte(sb.String())
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := CheckJSON(doc); err != nil {
			b.Fatal(err)
		}
	}
}
