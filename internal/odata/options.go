package odata

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Options are the SensorThings query options of one request, or of one $expand item.
type Options struct {
	Filter  Expr        // nil when absent
	OrderBy []OrderItem // nil when absent
	Select  []SelectItem
	Expand  []ExpandItem
	Top     *int64 // nil when absent
	Skip    *int64 // nil when absent
	Count   *bool  // nil when absent
	// ResultFormat is "" or "dataArray".
	ResultFormat string
	// Origin names the query option whose text the positions in Filter and OrderBy refer to:
	// "" for the top-level options ($filter and $orderby themselves), "$expand" for options
	// nested in an $expand item, whose positions are offsets in the whole $expand value. A
	// compiler reporting an error at a node's position should report it against Origin when set.
	Origin string
}

// SelectItem is one $select entry: a property or navigation property name, maybe followed by
// members inside a JSON-valued property (properties/river/name: Name "properties", Path
// ["river", "name"]), of which only those are returned.
type SelectItem struct {
	Name string
	Path []string // nil for the whole property
	P    int      // 1-based position
}

// String returns the item as written: name or name/member/....
func (it SelectItem) String() string {
	if len(it.Path) == 0 {
		return it.Name
	}
	return it.Name + "/" + strings.Join(it.Path, "/")
}

// ExpandItem is one $expand entry: a navigation path (Datastreams, or Datastreams/Observations)
// and the options that apply to the last step of the path.
type ExpandItem struct {
	Path    []Segment
	Options *Options // never nil
}

// Names returns the item's path as names.
func (it ExpandItem) Names() []string {
	names := make([]string, len(it.Path))
	for i, s := range it.Path {
		names[i] = s.Name
	}
	return names
}

// top-level options, and those allowed inside $expand(...).
var (
	topOptions    = map[string]bool{"$filter": true, "$orderby": true, "$select": true, "$expand": true, "$top": true, "$skip": true, "$count": true, "$resultFormat": true}
	nestedOptions = map[string]bool{"$filter": true, "$orderby": true, "$select": true, "$expand": true, "$top": true, "$skip": true, "$count": true}
)

// ParseOptions parses the $-options in a request's query. Parameters not starting with '$'
// are ignored; an unknown or repeated $-option is an error. Errors are *Error.
func ParseOptions(values url.Values) (*Options, error) {
	o := &Options{}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		vs := values[k]
		if !topOptions[k] {
			return nil, &Error{Option: k, Msg: "unknown query option" + suggest(k, topOptions)}
		}
		if len(vs) > 1 {
			return nil, &Error{Option: k, Msg: "given more than once"}
		}
		if err := checkText(k, vs[0]); err != nil {
			return nil, err
		}
		if err := o.set(k, vs[0], 0, 0, k); err != nil {
			return nil, err
		}
	}
	if err := checkExpandDepth(o.Expand, 1, "$expand"); err != nil {
		return nil, err
	}
	return o, nil
}

// checkExpandDepth refuses items (merged: one step each, at level depth) that lead more than
// MaxExpandDepth levels deep, at the step that goes over.
func checkExpandDepth(items []ExpandItem, depth int, opt string) *Error {
	for _, it := range items {
		if d := depth + len(it.Path) - 1; d > MaxExpandDepth {
			seg := it.Path[MaxExpandDepth+1-depth]
			return &Error{Option: opt, Pos: seg.P, Msg: fmt.Sprintf("%s: $expand nested deeper than %d levels of navigation, over the limit of %d (MaxExpandDepth)",
				seg.Name, MaxExpandDepth, MaxExpandDepth)}
		}
		if err := checkExpandDepth(it.Options.Expand, depth+len(it.Path), opt); err != nil {
			return err
		}
	}
	return nil
}

func suggest(k string, known map[string]bool) string {
	for n := range known {
		if strings.EqualFold(n, k) {
			return fmt.Sprintf(" (did you mean %s?)", n)
		}
	}
	return ""
}

// set parses option name with value v into o. Positions are reported against opt (the
// top-level option holding the text) with v starting at 0-based offset base.
func (o *Options) set(name, v string, base, depth int, opt string) *Error {
	if len(v) > MaxLength {
		return &Error{Option: opt, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	pe := func(format string, args ...any) *Error {
		msg := sprintf(format, args...)
		if opt != name {
			msg = name + ": " + msg
		}
		return &Error{Option: opt, Pos: base + 1, Msg: msg}
	}
	var err *Error
	switch name {
	case "$filter":
		o.Filter, err = parseFilter(v, opt, base, depth)
	case "$orderby":
		o.OrderBy, err = parseOrderBy(v, opt, base, depth)
	case "$select":
		o.Select, err = parseSelect(v, opt, base)
	case "$expand":
		o.Expand, err = parseExpand(v, opt, base, depth)
	case "$top", "$skip":
		n, perr := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if perr != nil || n < 0 || strings.HasPrefix(strings.TrimSpace(v), "+") {
			return pe("%q is not a non-negative integer", v)
		}
		if name == "$skip" && n > MaxSkip {
			return pe("%d is over the limit of %d (MaxSkip): follow @iot.nextLink to page deeper (keyset paging, no limit)", n, MaxSkip)
		}
		if name == "$top" {
			o.Top = &n
		} else {
			o.Skip = &n
		}
	case "$count":
		var b bool
		switch strings.TrimSpace(v) {
		case "true":
			b = true
		case "false":
		default:
			return pe("%q is neither true nor false", v)
		}
		o.Count = &b
	case "$resultFormat":
		if strings.TrimSpace(v) != "dataArray" {
			return pe("%q is not a supported result format (only dataArray is)", v)
		}
		o.ResultFormat = "dataArray"
	}
	return err
}

func parseSelect(v, opt string, base int) ([]SelectItem, *Error) {
	var items []SelectItem
	off := 0
	for _, part := range strings.Split(v, ",") {
		lead := len(part) - len(strings.TrimLeft(part, " \t"))
		name := strings.TrimSpace(part)
		pos := base + off + lead + 1
		off += len(part) + 1
		if name == "" {
			return nil, &Error{Option: opt, Pos: pos, Msg: "expected a property name"}
		}
		var it SelectItem
		soff := 0
		for i, seg := range strings.Split(name, "/") {
			spos := pos + soff
			soff += len(seg) + 1
			if seg == "" {
				return nil, &Error{Option: opt, Pos: spos, Msg: fmt.Sprintf("%q: expected a name after '/'", name)}
			}
			if !isIdentStart(seg[0]) && !(i > 0 && isDigit(seg[0])) {
				return nil, &Error{Option: opt, Pos: spos, Msg: fmt.Sprintf("%q is not a property name", seg)}
			}
			for j := 0; j < len(seg); j++ {
				if !isIdentChar(seg[j]) {
					return nil, &Error{Option: opt, Pos: spos + j, Msg: fmt.Sprintf("unexpected %q in property name", seg[j])}
				}
			}
			if i == 0 {
				it = SelectItem{Name: seg, P: pos}
			} else {
				it.Path = append(it.Path, seg)
			}
		}
		items = append(items, it)
	}
	return items, nil
}

// splitTop splits s at sep where sep is outside quotes and parentheses. It returns the parts'
// 0-based offsets in s along with them, or the offset of an unbalanced parenthesis or quote.
func splitTop(s string, sep byte) (parts []string, offs []int, bad int, msg string) {
	depth, start := 0, 0
	open := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'':
			j := i + 1
			for {
				k := strings.IndexByte(s[j:], '\'')
				if k < 0 {
					return nil, nil, i, "string starting here is not terminated by '"
				}
				j += k + 1
				if j < len(s) && s[j] == '\'' {
					j++
					continue
				}
				break
			}
			i = j - 1
		case '(':
			if depth == 0 {
				open = i
			}
			depth++
		case ')':
			depth--
			if depth < 0 {
				return nil, nil, i, "unexpected ')'"
			}
		default:
			if c == sep && depth == 0 {
				parts = append(parts, s[start:i])
				offs = append(offs, start)
				start = i + 1
			}
		}
	}
	if depth > 0 {
		return nil, nil, open, "'(' opened here is not closed"
	}
	parts = append(parts, s[start:])
	offs = append(offs, start)
	return parts, offs, -1, ""
}

func parseExpand(v, opt string, base, depth int) ([]ExpandItem, *Error) {
	depth++
	if depth > MaxDepth {
		return nil, &Error{Option: opt, Pos: base + 1, Msg: fmt.Sprintf("$expand nested deeper than %d levels", MaxDepth)}
	}
	parts, offs, bad, msg := splitTop(v, ',')
	if bad >= 0 {
		return nil, &Error{Option: opt, Pos: base + bad + 1, Msg: msg}
	}
	var items []ExpandItem
	for i, part := range parts {
		it, err := parseExpandItem(part, opt, base+offs[i], depth)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
	}
	return mergeExpand(items, opt)
}

// mergeExpand turns every item whose path has several steps into nested items of one step
// (Datastreams/Observations($top=1) becomes Datastreams($expand=Observations($top=1))) and
// merges the items on the same navigation property, so that
// $expand=Datastreams($select=name),Datastreams/Sensor expands the Sensor of each of the
// Datastreams selected. Two items on the same property that both have options of their own
// ($filter, $orderby, $select, $top, $skip, $count) are an error: which to apply is not clear.
func mergeExpand(items []ExpandItem, opt string) ([]ExpandItem, *Error) {
	var out []ExpandItem
	index := map[string]int{}
	for _, it := range items {
		if len(it.Path) > 1 {
			rest := ExpandItem{Path: it.Path[1:], Options: it.Options}
			nested, err := mergeExpand([]ExpandItem{rest}, opt)
			if err != nil {
				return nil, err
			}
			it = ExpandItem{Path: it.Path[:1], Options: &Options{Origin: it.Options.Origin, Expand: nested}}
		}
		name := it.Path[0].Name
		i, seen := index[name]
		if !seen {
			index[name] = len(out)
			out = append(out, it)
			continue
		}
		prev := out[i].Options
		if prev.hasOwn() && it.Options.hasOwn() {
			return nil, &Error{Option: opt, Pos: it.Path[0].P, Msg: fmt.Sprintf("%s is expanded twice with options of its own; give them once", name)}
		}
		merged := *prev
		if it.Options.hasOwn() {
			merged = *it.Options
		}
		both := append(append([]ExpandItem{}, prev.Expand...), it.Options.Expand...)
		expand, err := mergeExpand(both, opt)
		if err != nil {
			return nil, err
		}
		merged.Expand = expand
		out[i] = ExpandItem{Path: out[i].Path, Options: &merged}
	}
	return out, nil
}

// hasOwn reports whether o has options other than $expand.
func (o *Options) hasOwn() bool {
	return o.Filter != nil || o.OrderBy != nil || o.Select != nil || o.Top != nil || o.Skip != nil || o.Count != nil
}

func parseExpandItem(s, opt string, base, depth int) (ExpandItem, *Error) {
	lead := len(s) - len(strings.TrimLeft(s, " \t"))
	s = strings.TrimRight(s[lead:], " \t")
	base += lead
	if s == "" {
		return ExpandItem{}, &Error{Option: opt, Pos: base + 1, Msg: "expected a navigation property"}
	}
	path, rest := s, ""
	if i := strings.IndexByte(s, '('); i >= 0 {
		path, rest = s[:i], s[i:]
	}
	it := ExpandItem{Options: &Options{Origin: "$expand"}}
	off := 0
	for _, name := range strings.Split(path, "/") {
		pos := base + off + 1
		off += len(name) + 1
		if name == "" || !isIdentStart(name[0]) {
			return ExpandItem{}, &Error{Option: opt, Pos: pos, Msg: "expected a navigation property name"}
		}
		for i := 0; i < len(name); i++ {
			if !isIdentChar(name[i]) {
				return ExpandItem{}, &Error{Option: opt, Pos: pos + i, Msg: fmt.Sprintf("unexpected %q in navigation property name", name[i])}
			}
		}
		it.Path = append(it.Path, Segment{Name: name, P: pos})
	}
	if rest == "" {
		return it, nil
	}
	// rest is "(...)" — splitTop has checked the parentheses balance across the item.
	ob := base + len(path)
	if rest[len(rest)-1] != ')' {
		return ExpandItem{}, &Error{Option: opt, Pos: ob + 1, Msg: "expected nothing after the ')' closing the options of " + path}
	}
	inner := rest[1 : len(rest)-1]
	if _, _, bad, _ := splitTop(inner, ';'); bad >= 0 || strings.TrimSpace(inner) == "" {
		return ExpandItem{}, &Error{Option: opt, Pos: ob + 1, Msg: "expected options such as $top=1 inside the parentheses after " + path}
	}
	opts, offs, _, _ := splitTop(inner, ';')
	seen := map[string]bool{}
	for i, o := range opts {
		obase := ob + 1 + offs[i]
		lead := len(o) - len(strings.TrimLeft(o, " \t"))
		o = o[lead:]
		obase += lead
		eq := strings.IndexByte(o, '=')
		if eq < 0 {
			return ExpandItem{}, &Error{Option: opt, Pos: obase + 1, Msg: "expected name=value"}
		}
		name := strings.TrimSpace(o[:eq])
		if !nestedOptions[name] {
			return ExpandItem{}, &Error{Option: opt, Pos: obase + 1, Msg: fmt.Sprintf("unknown query option %q inside $expand", name)}
		}
		if seen[name] {
			return ExpandItem{}, &Error{Option: opt, Pos: obase + 1, Msg: fmt.Sprintf("%s given more than once", name)}
		}
		seen[name] = true
		if err := it.Options.set(name, o[eq+1:], obase+eq+1, depth, opt); err != nil {
			return ExpandItem{}, err
		}
	}
	return it, nil
}

// ParseExpand parses an $expand value on its own.
func ParseExpand(s string) ([]ExpandItem, error) {
	items, err := parseExpand(s, "$expand", 0, 0)
	if err != nil {
		return nil, err
	}
	if err := checkExpandDepth(items, 1, "$expand"); err != nil {
		return nil, err
	}
	return items, nil
}

// Encode writes o back as query options, in the order $filter, $orderby, $select, $expand,
// $top, $skip, $count, $resultFormat: each value as the parsers accept it again ($filter and
// $orderby normalised by Expr.String, nested $expand options inside parentheses separated by
// ';'). Parsing the result gives options equal to o (positions aside). Servers use it to write
// the options of a next page (server-driven paging) for an expanded collection.
func (o *Options) Encode() url.Values {
	v := url.Values{}
	for _, kv := range o.pairs() {
		v.Set(kv[0], kv[1])
	}
	return v
}

func (o *Options) pairs() [][2]string {
	var out [][2]string
	if o.Filter != nil {
		out = append(out, [2]string{"$filter", o.Filter.String()})
	}
	if len(o.OrderBy) > 0 {
		s := make([]string, len(o.OrderBy))
		for i, it := range o.OrderBy {
			s[i] = it.Expr.String()
			if it.Desc {
				s[i] += " desc"
			}
		}
		out = append(out, [2]string{"$orderby", strings.Join(s, ",")})
	}
	if len(o.Select) > 0 {
		s := make([]string, len(o.Select))
		for i, it := range o.Select {
			s[i] = it.String()
		}
		out = append(out, [2]string{"$select", strings.Join(s, ",")})
	}
	if len(o.Expand) > 0 {
		s := make([]string, len(o.Expand))
		for i, it := range o.Expand {
			s[i] = it.String()
		}
		out = append(out, [2]string{"$expand", strings.Join(s, ",")})
	}
	if o.Top != nil {
		out = append(out, [2]string{"$top", strconv.FormatInt(*o.Top, 10)})
	}
	if o.Skip != nil {
		out = append(out, [2]string{"$skip", strconv.FormatInt(*o.Skip, 10)})
	}
	if o.Count != nil {
		out = append(out, [2]string{"$count", strconv.FormatBool(*o.Count)})
	}
	if o.ResultFormat != "" {
		out = append(out, [2]string{"$resultFormat", o.ResultFormat})
	}
	return out
}

// String writes the item back as an $expand entry: Path(opt=value;...).
func (it ExpandItem) String() string {
	s := strings.Join(it.Names(), "/")
	if it.Options == nil {
		return s
	}
	pairs := it.Options.pairs()
	if len(pairs) == 0 {
		return s
	}
	parts := make([]string, len(pairs))
	for i, kv := range pairs {
		parts[i] = kv[0] + "=" + kv[1]
	}
	return s + "(" + strings.Join(parts, ";") + ")"
}

// checkText refuses an option value (URL-decoded) that is not UTF-8 or holds a NUL: a string
// literal made of it would reach the database, which refuses it (PostgreSQL) or compares it
// as bytes no stored text has.
func checkText(opt, v string) *Error {
	for i := 0; i < len(v); {
		r, n := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			return &Error{Option: opt, Pos: i + 1, Msg: fmt.Sprintf("byte 0x%02x: the text is not UTF-8", v[i])}
		case r == 0:
			return &Error{Option: opt, Pos: i + 1, Msg: "the NUL character is not allowed"}
		}
		i += n
	}
	return nil
}
