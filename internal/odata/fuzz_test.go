package odata

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

// orderByString writes items back as an $orderby value.
func orderByString(items []OrderItem) string {
	s := make([]string, len(items))
	for i, it := range items {
		s[i] = it.Expr.String()
		if it.Desc {
			s[i] += " desc"
		}
	}
	return strings.Join(s, ",")
}

// FuzzParseOrderBy: ParseOrderBy never panics; an error is an *Error for $orderby with a
// position inside the text; an accepted list, written back, parses again to as many items in
// the same directions, and writing back never grows the text (String may normalise: "(-5)", a
// negated literal, reads back as the literal -5, one level of negation per round).
func FuzzParseOrderBy(f *testing.F) {
	for _, s := range []string{"phenomenonTime desc", "phenomenonTime desc, name, year(resultTime) asc,properties/x DESC",
		"result add 1 desc", "geo.distance(location, geography'POINT(74.3 31.5)')", "Datastream/Thing/name", "a,",
		",a", "a desc desc", "(a", "name eq 'x'", "result mul -1.5e3", "substring(name,1) asc", "'it''s'", "", "---0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := ParseOrderBy(s)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if oe.Option != "$orderby" || oe.Pos < 0 || oe.Pos > len(s)+1 || oe.Msg == "" {
				t.Fatalf("error %q: option %q, position %d outside 0..%d", err, oe.Option, oe.Pos, len(s)+1)
			}
			return
		}
		if len(items) == 0 {
			t.Fatalf("%q accepted as an empty list", s)
		}
		back := orderByString(items)
		for round := 0; round < 3; round++ {
			again, err := ParseOrderBy(back)
			if err != nil {
				t.Fatalf("%q written back as %q does not parse: %v", s, back, err)
			}
			if len(again) != len(items) {
				t.Fatalf("%q: %d items, written back as %q: %d", s, len(items), back, len(again))
			}
			for i := range items {
				if items[i].Desc != again[i].Desc {
					t.Fatalf("%q: item %d changes direction in %q", s, i, back)
				}
			}
			next := orderByString(again)
			if len(next) > len(back) {
				t.Fatalf("%q: writing back grows: %q → %q", s, back, next)
			}
			back = next
		}
	})
}

// FuzzParseOptions: the parser of a whole query string never panics; an error is an *Error
// that names a query option and a position inside that option's text; accepted options are
// within the parser's bounds ($top and $skip not negative, $resultFormat known).
func FuzzParseOptions(f *testing.F) {
	for _, s := range []string{
		"$filter=name eq 'Chenab'&$select=name,id&$top=5",
		"$expand=Datastreams($expand=Observations($top=1;$orderby=phenomenonTime desc))&$count=true",
		"$filter=phenomenonTime ge 2026-01-01T00:00:00Z&$orderby=phenomenonTime desc&$skip=10&$top=5",
		"$filter=geo.distance(location, geography'POINT(74.34 31.55)') lt 0.5",
		"$resultFormat=dataArray&$select=result,phenomenonTime",
		"$top=-1", "$skip=x", "$skip=10000", "$skip=10001", "$count=maybe", "$filter=", "$fliter=a eq 1", "$top=1&$top=2", "$expand=a(", "$select=a/b",
		"$resultFormat=csv", "other=1&$top=1", "$expand=Datastreams($filter=name eq ')';$select=id)", "%24top=3", "$top=99999999999999999999",
		"$filter=Datastreams/any(d:d/name eq 'Level')&$select=id,properties/river",
		"$filter=Datastreams/all(d: d/Observations/any(o: o/result gt 5))&$expand=Datastreams($filter=Observations/any();$select=properties/a/b)",
		"$filter=name in ('a','b') or result in (1,2,3)", "$select=properties/", "$select=a//b", "$filter=a in ()",
		"$filter=name eq '%FF'", "$select=a%00", "$filter=a eq 1 or a eq 2 or a eq 3 or a eq 4 or a eq 5", "$filter=a add 1 add 2 add 3 eq 6",
		"$orderby=" + strings.Repeat("id,", MaxOrderBy) + "id",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		values, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		o, err := ParseOptions(values)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if !strings.HasPrefix(oe.Option, "$") || oe.Msg == "" {
				t.Fatalf("error %q names no option", err)
			}
			if vs := values[oe.Option]; len(vs) == 1 && (oe.Pos < 0 || oe.Pos > len(vs[0])+1) {
				t.Fatalf("error %q: position %d outside the %d bytes of %s", err, oe.Pos, len(vs[0]), oe.Option)
			}
			return
		}
		if (o.Top != nil && *o.Top < 0) || (o.Skip != nil && (*o.Skip < 0 || *o.Skip > MaxSkip)) {
			t.Fatalf("%q: $top %v, $skip %v", s, o.Top, o.Skip)
		}
		if o.ResultFormat != "" && o.ResultFormat != "dataArray" {
			t.Fatalf("%q: $resultFormat %q", s, o.ResultFormat)
		}
		// written back by Encode (as next links are), the options parse again to as many items
		again, err := ParseOptions(o.Encode())
		if err != nil {
			if !strings.Contains(err.Error(), "longer than") && !strings.Contains(err.Error(), "nested deeper") {
				t.Fatalf("%q encoded as %q does not parse: %v", s, o.Encode().Encode(), err)
			}
		} else if len(again.Select) != len(o.Select) || len(again.Expand) != len(o.Expand) || len(again.OrderBy) != len(o.OrderBy) || (again.Filter == nil) != (o.Filter == nil) {
			t.Fatalf("%q encoded as %q parses to other options", s, o.Encode().Encode())
		}
		if o.Filter != nil {
			if _, err := ParseFilter(o.Filter.String()); err != nil {
				t.Fatalf("%q: $filter written back as %q does not parse: %v", s, o.Filter.String(), err)
			}
		}
	})
}
