package odata

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestDepthLimit holds the documented limit of MaxDepth levels at the limit and one past it,
// for every construct that adds a level, and shows that and/or chains of any length within
// MaxLength do not count against it (they are balanced).
func TestDepthLimit(t *testing.T) {
	rep := func(s string, n int) string { return strings.Repeat(s, n) }
	terms := func(n int, op string) string {
		var b strings.Builder
		for i := range n {
			if i > 0 {
				b.WriteString(" " + op + " ")
			}
			b.WriteString("id eq ")
			b.WriteString(strings.Repeat("1", 1+i%3))
		}
		return b.String()
	}
	cases := []struct {
		name   string
		filter string
		ok     bool
	}{
		{"1000 or terms", terms(1000, "or"), true},
		{"5000 and terms", terms(5000, "and"), true},
		{"99 adds and eq", "id" + rep(" add 1", 99) + " eq 1", true},
		{"100 adds and eq", "id" + rep(" add 1", 100) + " eq 1", false},
		{"1000 adds", "id" + rep(" add 1", 1000) + " eq 1", false},
		{"99 muls", "id" + rep(" mul 1", 99) + " eq 1", true},
		{"100 subs", "id" + rep(" sub 1", 100) + " eq 1", false},
		{"99 nots", rep("not ", 99) + "id eq 1", true},
		{"100 nots", rep("not ", 100) + "id eq 1", false},
		{"99 minus", rep("-", 99) + "id eq 1", true},
		{"100 minus", rep("-", 100) + "id eq 1", false},
		{"99 calls", rep("round(", 99) + "id" + rep(")", 99) + " eq 1", true},
		{"100 calls", rep("round(", 100) + "id" + rep(")", 100) + " eq 1", false},
		{"comparison chain 100", "id" + rep(" eq true", 100), true},
		{"comparison chain 101", "id" + rep(" eq true", 101), false},
		{"lambdas at 100 levels", nestedAny(100), true},
		{"lambdas at 101 levels", nestedAny(101), false},
		{"in at the limit", rep("-", 99) + "id in (1,2,3)", true},
		{"in past the limit", rep("-", 100) + "id in (1,2,3)", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseFilter(c.filter)
			if c.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !c.ok {
				if err == nil {
					t.Fatal("accepted")
				}
				if !strings.Contains(err.Error(), "over the limit of 100") || err.(*Error).Pos < 1 {
					t.Fatalf("error %q does not name the limit and a position", err)
				}
			}
			// the same expression in $orderby, where it fits, and inside an $expand
			if _, err := ParseOrderBy(c.filter); c.ok != (err == nil) && c.ok {
				t.Errorf("$orderby: %v", err)
			}
		})
	}
	// inside $expand the levels of the expansion count too
	in := "Datastreams($filter=" + "id" + rep(" add 1", 98) + " eq 1)"
	if _, err := parseExpand(in, "$expand", 0, 0); err != nil {
		t.Errorf("expand at the limit: %v", err)
	}
	in = "Datastreams($filter=" + "id" + rep(" add 1", 99) + " eq 1)"
	if _, err := parseExpand(in, "$expand", 0, 0); err == nil || !strings.Contains(err.Error(), "over the limit of 100") {
		t.Errorf("expand past the limit: %v", err)
	}
}

// nestedAny is n-1 nested lambdas: Datastreams/any(d1: d1/Thing/Datastreams/any(d2: ... d(n)/id eq 1)).
// and the comparison at the bottom: n levels.
func nestedAny(n int) string {
	var b strings.Builder
	b.WriteString("Datastreams/any(d1: ")
	for i := 2; i <= n-1; i++ {
		b.WriteString("d" + itoa(i-1) + "/Thing/Datastreams/any(d" + itoa(i) + ": ")
	}
	b.WriteString("d" + itoa(n-1) + "/id eq 1")
	b.WriteString(strings.Repeat(")", n-1))
	return b.String()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// TestBalancedChains: an or chain keeps every term, in order, whatever its length.
func TestBalancedChains(t *testing.T) {
	for _, n := range []int{2, 3, 7, 8, 1000} {
		var parts []string
		for i := range n {
			parts = append(parts, "a eq "+itoa(i))
		}
		e, err := ParseFilter(strings.Join(parts, " or "))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		var walk func(Expr)
		walk = func(e Expr) {
			if b, ok := e.(*Binary); ok && b.Op == OpOr {
				walk(b.L)
				walk(b.R)
				return
			}
			got = append(got, e.(*Binary).R.String())
		}
		walk(e)
		if len(got) != n {
			t.Fatalf("%d terms: got %d", n, len(got))
		}
		for i := range got {
			if got[i] != itoa(i) {
				t.Fatalf("%d terms: term %d is %s", n, i, got[i])
			}
		}
		if h, max := height(e), 2+bitsLen(n); h > max {
			t.Errorf("%d terms: height %d, want at most %d", n, h, max)
		}
	}
}

func bitsLen(n int) int {
	b := 0
	for ; n > 0; n >>= 1 {
		b++
	}
	return b
}

// TestOrderByLimit: MaxOrderBy terms are accepted, one more is refused naming the limit.
func TestOrderByLimit(t *testing.T) {
	terms := func(n int) string { return strings.TrimSuffix(strings.Repeat("id,", n), ",") }
	if items, err := ParseOrderBy(terms(MaxOrderBy)); err != nil || len(items) != MaxOrderBy {
		t.Errorf("%d terms: %v", MaxOrderBy, err)
	}
	if _, err := ParseOrderBy(terms(MaxOrderBy + 1)); err == nil || !strings.Contains(err.Error(), "over the limit of 32") {
		t.Errorf("%d terms: %v", MaxOrderBy+1, err)
	}
}

// TestOptionText: an option that is not UTF-8 or holds a NUL is refused where it is.
func TestOptionText(t *testing.T) {
	for _, c := range []struct{ opt, v, want string }{
		{"$filter", "name eq 'a\xffb'", "$filter: position 11: byte 0xff: the text is not UTF-8"},
		{"$select", "name\x00", "$select: position 5: the NUL character"},
		{"$filter", "name eq 'ü'", ""},
	} {
		_, err := ParseOptions(map[string][]string{c.opt: {c.v}})
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s=%q: %v, want %q", c.opt, c.v, err, c.want)
		}
	}
}

// TestSkipLimit holds $skip to MaxSkip: at the limit accepted, one past it refused with a
// message naming the limit and the way past it (@iot.nextLink).
func TestSkipLimit(t *testing.T) {
	o, err := ParseOptions(url.Values{"$skip": {strconv.Itoa(MaxSkip)}})
	if err != nil || o.Skip == nil || *o.Skip != MaxSkip {
		t.Fatalf("$skip=%d: %v %v", MaxSkip, o, err)
	}
	_, err = ParseOptions(url.Values{"$skip": {strconv.Itoa(MaxSkip + 1)}})
	if err == nil || !strings.Contains(err.Error(), "limit of 10000") || !strings.Contains(err.Error(), "@iot.nextLink") {
		t.Fatalf("$skip=%d: %v, want the limit and @iot.nextLink named", MaxSkip+1, err)
	}
}
