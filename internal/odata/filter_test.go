package odata

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want string // Expr.String()
	}{
		{"name eq 'x'", "(name eq 'x')"},
		{"name eq 'it''s'", "(name eq 'it''s')"},
		{"a ne 1 and b gt 2.5 or not c le -3", "(((a ne 1) and (b gt 2.5)) or (not (c le -3)))"},
		{"a ge 1e3 and b lt -1.5E-2", "((a ge 1000.0) and (b lt -0.015))"},
		{"a add 1 mul 2 sub 3 div 4 mod 5 eq 0", "(((a add (1 mul 2)) sub ((3 div 4) mod 5)) eq 0)"},
		{"(a add 1) mul 2 eq 6", "(((a add 1) mul 2) eq 6)"},
		{"-a eq - 1", "((-a) eq (-1))"},
		{"not (a eq 1)", "(not (a eq 1))"},
		{"not not true", "(not (not true))"},
		{"x eq null and y ne false", "((x eq null) and (y ne false))"},
		{"resultTime gt 2025-08-27T12:00:00Z", "(resultTime gt 2025-08-27T12:00:00Z)"},
		{"resultTime gt 2025-08-27T12:00:00.123+05:00", "(resultTime gt 2025-08-27T12:00:00.123+05:00)"},
		{"resultTime gt 2025-08-27T12:00:00.123 05:00", "(resultTime gt 2025-08-27T12:00:00.123+05:00)"}, // '+' decoded as space
		{"resultTime gt 2025-08-27T12:00Z", "(resultTime gt 2025-08-27T12:00:00Z)"},
		{"resultTime ge 2025-08-27", "(resultTime ge 2025-08-27)"},
		{"phenomenonTime eq 2025-08-27T00:00:00Z/2025-08-28T00:00:00Z", "(phenomenonTime eq 2025-08-27T00:00:00Z/2025-08-28T00:00:00Z)"},
		{"resultTime gt now() sub duration'P1DT2H'", "(resultTime gt (now() sub duration'P1DT2H'))"},
		{"st_within(location, geography'POINT(30 10)')", "st_within(location,geography'POINT(30 10)')"},
		{"st_within(location, geometry'SRID=4326;POLYGON((0 0,1 0,1 1,0 0))')", "st_within(location,geometry'POLYGON((0 0,1 0,1 1,0 0))')"},
		{"geo.distance(location, geography'POINT(1 2)') lt 0.5", "(geo.distance(location,geography'POINT(1 2)') lt 0.5)"},
		{"Datastream/ObservedProperty/name eq 'T'", "(Datastream/ObservedProperty/name eq 'T')"},
		{"properties/owner/name eq 'ann'", "(properties/owner/name eq 'ann')"},
		{"properties/list[1] eq 3", "(properties/list/1 eq 3)"},
		{"@iot.id eq 3", "(@iot.id eq 3)"},
		{"substringof('a', name) and startswith(name,'b') and endswith(name,'c') and contains(name,'d')",
			"((substringof('a',name) and startswith(name,'b')) and (endswith(name,'c') and contains(name,'d')))"},
		{"length(trim(tolower(toupper(concat(name,'x'))))) eq indexof(name,'y')", "(length(trim(tolower(toupper(concat(name,'x'))))) eq indexof(name,'y'))"},
		{"substring(name,1) eq substring(name,1,2)", "(substring(name,1) eq substring(name,1,2))"},
		{"year(t) eq 2025 and month(t) eq 8 and day(t) eq 27 and hour(t) eq 1 and minute(t) eq 2 and second(t) eq 3", "(((year(t) eq 2025) and ((month(t) eq 8) and (day(t) eq 27))) and ((hour(t) eq 1) and ((minute(t) eq 2) and (second(t) eq 3))))"},
		{"fractionalseconds(t) lt 0.5 and date(t) eq 2025-08-27 and time(t) eq '12:00:00' and totaloffsetminutes(t) eq 0",
			"(((fractionalseconds(t) lt 0.5) and (date(t) eq 2025-08-27)) and ((time(t) eq '12:00:00') and (totaloffsetminutes(t) eq 0)))"},
		{"t gt mindatetime() and t lt maxdatetime()", "((t gt mindatetime()) and (t lt maxdatetime()))"},
		{"round(x) eq 1 and floor(x) eq 1 and ceiling(x) eq 2", "((round(x) eq 1) and ((floor(x) eq 1) and (ceiling(x) eq 2)))"},
		{"ST_RELATE(a, b, 'T*F**F***')", "st_relate(a,b,'T*F**F***')"},
		{"geo.length(a) gt 1 and geo.intersects(a,b)", "((geo.length(a) gt 1) and geo.intersects(a,b))"},
		{"Name EQ 'x' AND true", "((Name eq 'x') and true)"},
		{"9223372036854775808 gt 1", "(9.223372036854776e+18 gt 1)"},
		// lambda operators (OData 4.0 URL conventions 5.1.1.10)
		{"Datastreams/any(d:d/name eq 'Level')", "Datastreams/any(d:(d/name eq 'Level'))"},
		{"Datastreams/all(d: d/Observations/any(o: o/result gt 5))", "Datastreams/all(d:d/Observations/any(o:(o/result gt 5)))"},
		{"Datastreams/any()", "Datastreams/any()"},
		{"Datastreams/ANY(d: true) and not Locations/any()", "(Datastreams/any(d:true) and (not Locations/any()))"},
		{"Datastream/Thing/Datastreams/any(x:x/id eq $it/Datastream/id)", "Datastream/Thing/Datastreams/any(x:(x/id eq $it/Datastream/id))"},
		// in (OData 4.01)
		{"name in ('a','b')", "(name in ('a','b'))"},
		{"result in (1, 2.5, -3) and id in (7)", "((result in (1,2.5,-3)) and (id in (7)))"},
		{"not name in ('a')", "(not (name in ('a')))"},
		{"Datastreams/any(d: d/name in ('x', 'y'))", "Datastreams/any(d:(d/name in ('x','y')))"},
	}
	for _, tt := range tests {
		e, err := ParseFilter(tt.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tt.in, err)
			continue
		}
		if got := e.String(); got != tt.want {
			t.Errorf("ParseFilter(%q)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

func TestParseFilterNodes(t *testing.T) {
	e, err := ParseFilter("Datastream/Thing/name eq 'x'")
	if err != nil {
		t.Fatal(err)
	}
	b := e.(*Binary)
	p := b.L.(*Path)
	if b.P != 23 || p.P != 1 || len(p.Segments) != 3 || p.Segments[2].Name != "name" || p.Segments[2].P != 18 {
		t.Errorf("positions: binary %d, path %+v", b.P, p)
	}
	if s := b.R.(*String); s.P != 26 || s.Value != "x" {
		t.Errorf("string %+v", s)
	}
	e, _ = ParseFilter("t eq 2025-08-27T12:00:00.123+05:00")
	dt := e.(*Binary).R.(*DateTime)
	if want := time.Date(2025, 8, 27, 7, 0, 0, 123e6, time.UTC); !dt.Value.Equal(want) {
		t.Errorf("date-time %v, want %v", dt.Value, want)
	}
	e, _ = ParseFilter("d eq duration'-P1DT2H30M1.5S'")
	if d := e.(*Binary).R.(*Duration); d.Value != -(26*time.Hour + 30*time.Minute + 1500*time.Millisecond) {
		t.Errorf("duration %v", d.Value)
	}
}

func TestParseFilterErrors(t *testing.T) {
	tests := []struct {
		in  string
		pos int
		msg string
	}{
		{"", 1, "empty expression"},
		{"name eq", 8, "unexpected end of expression"},
		{"name eq 'x", 9, "not terminated"},
		{"(name eq 'x'", 13, "expected ')' to close '(' opened at position 1"},
		{"name eq ('x' 'y')", 14, "expected ')' to close '(' opened at position 9"},
		{"name eq 'x')", 12, "unexpected \")\""},
		{"name eq 'x' foo", 13, "unexpected \"foo\""},
		{"year(a, b) eq 1", 1, "year takes 1 argument, got 2"},
		{"substring(a) eq 'x'", 1, "substring takes 2 or 3 arguments, got 1"},
		{"st_relate(a, b) eq 'x'", 1, "st_relate takes 3 arguments"},
		{"now(1) eq 1", 1, "now takes 0 arguments"},
		{"foo(a) eq 1", 1, "unknown function \"foo\""},
		{"a/b(c) eq 1", 1, "not a function name"},
		{"a eq 1.", 8, "digit after the decimal point"},
		{"a eq 1e", 8, "digit in the exponent"},
		{"a eq 12abc", 6, "malformed number"},
		{"a eq 2025-13-01", 6, "invalid date"},
		{"a eq 2025-08-27T12:00:00", 6, "with a time zone"},
		{"a eq 2025-08-27T12:00:00Z/2025-08-26T12:00:00Z", 6, "ends before it starts"},
		{"a eq duration'P1Y'", 15, "invalid duration"},
		{"a eq datetime'2025'", 6, "unknown literal type"},
		{"a eq geography''", 16, "empty geography literal"},
		{"a eq #", 6, "unexpected character"},
		{"a/ eq 1", 3, "expected a property name after '/'"},
		{"a eq ,", 6, "expected a value"},
		{"a[x] eq 1", 2, "array index"},
		{strings.Repeat("(", 101) + "a" + strings.Repeat(")", 101), 101, "nested deeper than 100"},
		{"any(d: true)", 1, "any follows a collection"},
		{"Datastreams/any(d d/name eq 'x')", 19, "':' after the lambda variable d"},
		{"Datastreams/any(d/x: true)", 17, "a lambda variable name"},
		{"Datastreams/any(1: true)", 17, "a lambda variable name"},
		{"Datastreams/any(not: true)", 17, "keyword, not a lambda variable"},
		{"Datastreams/any(d: d/name eq 'x'", 33, "expected ')' to close any( opened at position 16"},
		{"Datastreams/any(d: d/name eq 'x' 'y')", 34, "or ')' to close any("},
		{"Datastreams/all()", 17, "all needs a variable and a condition"},
		{"Datastreams/any(d:)", 19, "unexpected \")\""},
		{"name in 'a'", 9, "'(' and a list of values after in"},
		{"name in ()", 10, "at least one value"},
		{"name in ('a'", 13, "to close the list of in opened at position 9"},
		{"name in ('a' 'b')", 14, "',' or ')' in the list of in"},
		{"name in (" + strings.Repeat("1,", MaxInList) + "1)", 6, "at most 1000 values"},
	}
	for _, tt := range tests {
		_, err := ParseFilter(tt.in)
		var oe *Error
		if !errors.As(err, &oe) {
			t.Errorf("ParseFilter(%q) = %v, want an *Error", tt.in, err)
			continue
		}
		if oe.Option != "$filter" || oe.Pos != tt.pos || !strings.Contains(oe.Msg, tt.msg) {
			t.Errorf("ParseFilter(%q) = %v, want position %d and %q", tt.in, err, tt.pos, tt.msg)
		}
	}
}

func TestParseFilterLimits(t *testing.T) {
	for name, in := range map[string]string{
		"parens": strings.Repeat("(", 10000) + "a eq 1" + strings.Repeat(")", 10000),
		"not":    strings.Repeat("not ", 10000) + "true",
		"minus":  "a eq " + strings.Repeat("- ", 10000) + "1",
		"calls":  strings.Repeat("tolower(", 10000) + "a" + strings.Repeat(")", 10000) + " eq 'a'",
		"long":   "a eq '" + strings.Repeat("x", MaxLength) + "'",
	} {
		start := time.Now()
		_, err := ParseFilter(in)
		var oe *Error
		if !errors.As(err, &oe) {
			t.Errorf("%s: got %v, want an *Error", name, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: took %v", name, d)
		}
	}
	// A long but flat expression is fine.
	in := "a eq 1" + strings.Repeat(" or a eq 1", 1000)
	if _, err := ParseFilter(in); err != nil {
		t.Errorf("flat expression: %v", err)
	}
}

func TestParseOrderBy(t *testing.T) {
	items, err := ParseOrderBy("phenomenonTime desc, name, year(resultTime) asc,properties/x DESC")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range items {
		s := it.Expr.String()
		if it.Desc {
			s += " desc"
		}
		got = append(got, s)
	}
	if want := "phenomenonTime desc|name|year(resultTime)|properties/x desc"; strings.Join(got, "|") != want {
		t.Errorf("got %q, want %q", strings.Join(got, "|"), want)
	}
	for in, pos := range map[string]int{"name,": 6, "name desc asc": 11, ",name": 1, "name sideways": 6} {
		_, err := ParseOrderBy(in)
		var oe *Error
		if !errors.As(err, &oe) || oe.Option != "$orderby" || oe.Pos != pos {
			t.Errorf("ParseOrderBy(%q) = %v, want error at %d", in, err, pos)
		}
	}
}

func TestParseOptions(t *testing.T) {
	v := url.Values{
		"$filter":       {"name eq 'x'"},
		"$orderby":      {"name desc"},
		"$select":       {"id, name,Datastreams"},
		"$expand":       {"Datastreams($filter=name eq 'a;b)';$top=2;$expand=Observations($top=1;$orderby=phenomenonTime desc)),Locations,Datastreams/Sensor($select=name)"},
		"$top":          {"10"},
		"$skip":         {"0"},
		"$count":        {"true"},
		"$resultFormat": {"dataArray"},
		"other":         {"ignored", "twice"},
	}
	o, err := ParseOptions(v)
	if err != nil {
		t.Fatal(err)
	}
	if o.Filter.String() != "(name eq 'x')" || len(o.OrderBy) != 1 || !o.OrderBy[0].Desc || *o.Top != 10 || *o.Skip != 0 || !*o.Count || o.ResultFormat != "dataArray" {
		t.Errorf("options %+v", o)
	}
	if len(o.Select) != 3 || o.Select[1].Name != "name" || o.Select[1].P != 5 || o.Select[2].Name != "Datastreams" {
		t.Errorf("select %+v", o.Select)
	}
	if len(o.Expand) != 2 { // Datastreams/Sensor is merged into Datastreams(...)
		t.Fatalf("expand %+v", o.Expand)
	}
	ds := o.Expand[0]
	if ds.Names()[0] != "Datastreams" || ds.Options.Filter.String() != "(name eq 'a;b)')" || *ds.Options.Top != 2 || ds.Options.Origin != "$expand" {
		t.Errorf("Datastreams %+v", ds.Options)
	}
	if p := ds.Options.Filter.(*Binary).P; p != 26 { // position in the whole $expand value
		t.Errorf("nested filter position %d, want 26", p)
	}
	obs := ds.Options.Expand[0]
	if obs.Names()[0] != "Observations" || *obs.Options.Top != 1 || !obs.Options.OrderBy[0].Desc {
		t.Errorf("Observations %+v", obs.Options)
	}
	if o.Expand[1].Names()[0] != "Locations" || o.Expand[1].Options.Filter != nil {
		t.Errorf("Locations %+v", o.Expand[1])
	}
	if len(ds.Options.Expand) != 2 || ds.Options.Expand[1].Names()[0] != "Sensor" || len(ds.Options.Expand[1].Path) != 1 || ds.Options.Expand[1].Options.Select[0].Name != "name" {
		t.Errorf("Datastreams/Sensor not merged into Datastreams: %+v", ds.Options.Expand)
	}
}

// Items on the same navigation property merge; paths of several steps nest.
func TestExpandMerge(t *testing.T) {
	for in, want := range map[string]string{
		"Datastreams/Sensor,Datastreams/ObservedProperty":                     "Datastreams($expand=Sensor,ObservedProperty)",
		"Datastreams($select=name),Datastreams/Sensor($select=id)":            "Datastreams($select=name;$expand=Sensor($select=id))",
		"Datastreams/Observations/FeatureOfInterest,Datastreams/Thing":        "Datastreams($expand=Observations($expand=FeatureOfInterest),Thing)",
		"Datastreams/Sensor,Datastreams($top=2;$expand=Sensor($select=name))": "Datastreams($expand=Sensor($select=name);$top=2)",
		"Locations,Datastreams,Locations":                                     "Locations,Datastreams",
	} {
		items, err := ParseExpand(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		var got []string
		for _, it := range items {
			got = append(got, it.String())
		}
		if strings.Join(got, ",") != want {
			t.Errorf("%s: %s, want %s", in, strings.Join(got, ","), want)
		}
	}
	_, err := ParseExpand("Datastreams($top=1),Datastreams($top=2)")
	var oe *Error
	if !errors.As(err, &oe) || oe.Pos != 21 || !strings.Contains(oe.Msg, "Datastreams is expanded twice with options of its own") {
		t.Errorf("two sets of options: %v", err)
	}
}

func TestParseOptionsErrors(t *testing.T) {
	tests := []struct {
		v   url.Values
		opt string
		pos int
		msg string
	}{
		{url.Values{"$filtr": {"a"}}, "$filtr", 0, "unknown query option"},
		{url.Values{"$Filter": {"a"}}, "$Filter", 0, "did you mean $filter"},
		{url.Values{"$top": {"1", "2"}}, "$top", 0, "more than once"},
		{url.Values{"$top": {"-1"}}, "$top", 1, "non-negative"},
		{url.Values{"$skip": {"x"}}, "$skip", 1, "non-negative"},
		{url.Values{"$skip": {"10001"}}, "$skip", 1, "10001 is over the limit of 10000 (MaxSkip): follow @iot.nextLink"},
		{url.Values{"$expand": {"Observations($skip=99999)"}}, "$expand", 20, "$skip: 99999 is over the limit of 10000 (MaxSkip)"},
		{url.Values{"$count": {"yes"}}, "$count", 1, "neither true nor false"},
		{url.Values{"$resultFormat": {"csv"}}, "$resultFormat", 1, "dataArray"},
		{url.Values{"$select": {"a,,b"}}, "$select", 3, "expected a property name"},
		{url.Values{"$select": {"a b"}}, "$select", 2, "unexpected"},
		{url.Values{"$expand": {""}}, "$expand", 1, "expected a navigation property"},
		{url.Values{"$expand": {"Datastreams("}}, "$expand", 12, "not closed"},
		{url.Values{"$expand": {"Datastreams)"}}, "$expand", 12, "unexpected ')'"},
		{url.Values{"$expand": {"Datastreams($filter=name eq 'x)"}}, "$expand", 29, "not terminated"},
		{url.Values{"$expand": {"Datastreams($top=x)"}}, "$expand", 18, "$top: \"x\" is not a non-negative integer"},
		{url.Values{"$expand": {"Datastreams($foo=1)"}}, "$expand", 13, "unknown query option \"$foo\""},
		{url.Values{"$expand": {"Datastreams($top=1;$top=2)"}}, "$expand", 20, "more than once"},
		{url.Values{"$expand": {"Datastreams($filter=name eq)"}}, "$expand", 28, "unexpected end"},
		{url.Values{"$expand": {"Datastreams($resultFormat=dataArray)"}}, "$expand", 13, "unknown query option"},
		{url.Values{"$expand": {"Datastreams()"}}, "$expand", 12, "expected options"},
		{url.Values{"$expand": {"Datastreams($top=1)x"}}, "$expand", 12, "expected nothing after"},
		{url.Values{"$expand": {"a//b"}}, "$expand", 3, "expected a navigation property name"},
		{url.Values{"$expand": {strings.Repeat("A($expand=", 200) + "B" + strings.Repeat(")", 200)}}, "$expand", 0, "nested deeper"},
	}
	for _, tt := range tests {
		_, err := ParseOptions(tt.v)
		var oe *Error
		if !errors.As(err, &oe) {
			t.Errorf("ParseOptions(%v) = %v, want an *Error", tt.v, err)
			continue
		}
		if oe.Option != tt.opt || (tt.pos != 0 && oe.Pos != tt.pos) || !strings.Contains(oe.Msg, tt.msg) {
			t.Errorf("ParseOptions(%v) = %v, want %s position %d %q", tt.v, err, tt.opt, tt.pos, tt.msg)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"name eq 'x'", "not (a add 1 gt 2) or b/c/d le 2025-08-27T12:00:00Z",
		"st_within(location, geography'POINT(1 2)')", "d eq duration'P1D'", "substring(name, 1, 2) eq 'x'",
		"((((a", "'''", "a[0] eq -1.5e3", "t eq 2025-08-27T00:00:00Z/2025-08-28",
		"Datastreams/any(d:d/name eq 'Level')", "Datastreams/all(d: d/Observations/any(o: o/result gt 5))",
		"Locations/any()", "Things/any(t: t/Locations/all(l: st_within(l/location, geography'POINT(1 2)')))",
		"Datastreams/any(d: d/name eq $it/name)", "a/any(", "a/all(x:", "a/any(x)", "any()", "name in ('a','b')",
		"result in (1,2,3)", "x in (", "x in ()", "x in (1,", "not x in (1) in (2)", "a/any(in: true)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := ParseFilter(s)
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
			if oe.Pos < 0 || oe.Pos > len(s)+1 {
				t.Fatalf("error position %d outside 1..%d: %v", oe.Pos, len(s)+1, err)
			}
			return
		}
		back := e.String()
		if _, err := ParseFilter(back); err != nil && !strings.Contains(err.Error(), "longer than") && !strings.Contains(err.Error(), "nested deeper") {
			t.Fatalf("%q written back as %q does not parse: %v", s, back, err)
		}
	})
}

func FuzzParseExpand(f *testing.F) {
	for _, s := range []string{"Datastreams($filter=name eq 'x';$top=2;$expand=Observations($top=1;$orderby=phenomenonTime desc)),Locations",
		"a/b($select=x,y)", "a(", "a($filter=')')", "a($count=true;$skip=1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := ParseOptions(url.Values{"$expand": {s}})
		if err != nil {
			var oe *Error
			if !errors.As(err, &oe) {
				t.Fatalf("error %v is %T, not *Error", err, err)
			}
		}
	})
}

func TestParseSelectPaths(t *testing.T) {
	o, err := ParseOptions(url.Values{"$select": {"id, properties/river/name,properties/list/0,name"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, it := range o.Select {
		got = append(got, it.Name+"|"+strings.Join(it.Path, ".")+"|"+it.String())
	}
	want := "[id||id properties|river.name|properties/river/name properties|list.0|properties/list/0 name||name]"
	if s := "[" + strings.Join(got, " ") + "]"; s != want {
		t.Errorf("$select paths: %s, want %s", s, want)
	}
	if o.Select[1].P != 5 {
		t.Errorf("position %d, want 5", o.Select[1].P)
	}
	for in, pos := range map[string]int{"properties/": 12, "properties//x": 12, "/x": 1, "properties/a b": 13, "0/x": 1} {
		_, err := ParseOptions(url.Values{"$select": {in}})
		var oe *Error
		if !errors.As(err, &oe) || oe.Pos != pos {
			t.Errorf("$select=%s: %v, want an error at %d", in, err, pos)
		}
	}
}

// Options.Encode gives text that parses back to the same options.
func TestOptionsEncode(t *testing.T) {
	for _, q := range []string{
		"$filter=name eq 'a;b)' and Datastreams/any(d: d/name in ('x','y'))&$orderby=name desc,id&$select=id,properties/river&$top=3&$skip=2&$count=true",
		"$expand=Datastreams($filter=name eq 'x';$orderby=phenomenonTime desc;$select=name,properties/a;$top=2;$skip=1;$count=true;$expand=Observations($top=1)),Locations,Datastreams/Sensor($select=name)",
		"$resultFormat=dataArray&$select=result,phenomenonTime",
	} {
		vals := url.Values{}
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			vals.Set(k, v)
		}
		o, err := ParseOptions(vals)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		enc := o.Encode()
		o2, err := ParseOptions(enc)
		if err != nil {
			t.Fatalf("%s encoded as %v does not parse: %v", q, enc, err)
		}
		if a, b := enc.Encode(), o2.Encode().Encode(); a != b {
			t.Errorf("%s: encoded %s, again %s", q, a, b)
		}
	}
}
