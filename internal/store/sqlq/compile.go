package sqlq

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/peterstace/simplefeatures/geom"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// Compiler compiles $filter and $orderby expressions (odata.Expr) into SQL for one Schema and
// Dialect. It holds no state between calls and is safe for concurrent use.
//
// Semantics:
//
//   - A property path resolves through Schema. A to-one navigation (Observations:
//     Datastream/Thing/name) becomes a correlated scalar subquery; a to-many navigation
//     (Things: Datastreams/name eq 'x') means "some related entity matches": the comparison or
//     boolean function holding the path is wrapped in EXISTS (SELECT 1 FROM ... WHERE ...).
//     Each navigation step gets a fresh table alias (nav1, nav2, ...).
//   - Times (KindTime, KindInterval, date-time, date and interval literals, now()) are
//     microseconds since the Unix epoch. Every time is treated as a closed interval
//     [start, end], an instant having start = end (a date literal is midnight UTC). Then
//     x eq y: x.start = y.start and x.end = y.end; x ne y: not (x eq y);
//     x lt y: x.end < y.start (x ends before y starts); x le y: x.end <= y.start;
//     x gt y: x.start > y.end (x starts after y ends); x ge y: x.start >= y.end.
//     For two instants these are the ordinary comparisons. Functions of a time (year, hour,
//     date, ...) use the start, in UTC; totaloffsetminutes is therefore always 0.
//   - An Observation's result compares as a number (result_num) with numbers and in
//     arithmetic, and as the decoded JSON value with strings and booleans (a string result
//     'abc' is stored as the JSON text "abc"). A JSON property path (properties/owner/name,
//     unitOfMeasurement/symbol, parameters/depth) likewise takes the type of what it is
//     compared with: properties/depth gt 5 matches only where depth is a JSON number greater
//     than 5. Two such dynamic values compare as numbers, strings or booleans, whichever match.
//   - x eq null is x IS NULL (a JSON member that is absent or null is null); x ne y is true
//     when exactly one side is null; not p is true when p is false or null.
//   - div is floating-point division; mod is the floating-point remainder.
//   - geo.distance and geo.length are planar, in the units of the coordinates (degrees for
//     WGS 84), as with FROST-Server.
type Compiler struct {
	Schema  Schema
	Dialect Dialect
	// Now gives the time for now(); nil means time.Now.
	Now func() time.Time
}

// Where compiles filter e on entity set set, whose table has alias alias in the caller's
// query, to an SQL condition and its arguments. Errors about the expression are *odata.Error
// for option $filter, at the position of the offending node.
func (c *Compiler) Where(set, alias string, e odata.Expr) (string, []any, error) {
	return c.WhereAt(set, alias, e, 0)
}

// WhereAt is Where for a query that already has n arguments before this condition: with a
// numbered-placeholder Dialect the condition's placeholders start at n+1.
func (c *Compiler) WhereAt(set, alias string, e odata.Expr, n int) (string, []any, error) {
	s, err := c.state(set, "$filter")
	if err != nil {
		return "", nil, err
	}
	sql, err := s.pred(set, alias, e)
	if err != nil {
		return "", nil, err
	}
	sql, args := s.finish(sql, n)
	return sql, args, nil
}

// OrderBy compiles $orderby items on entity set set (table alias alias) to the terms of an
// ORDER BY clause (without the keywords ORDER BY), e.g. "o.phen_start DESC, o.phen_end DESC".
// An interval orders by its start then its end; a result by its number then its JSON value.
// The caller appends a unique column (id) to make the order stable.
func (c *Compiler) OrderBy(set, alias string, items []odata.OrderItem) (string, []any, error) {
	return c.OrderByAt(set, alias, items, 0)
}

// OrderByAt is OrderBy for a query that already has n arguments before the ORDER BY clause.
func (c *Compiler) OrderByAt(set, alias string, items []odata.OrderItem, n int) (string, []any, error) {
	s, err := c.state(set, "$orderby")
	if err != nil {
		return "", nil, err
	}
	var terms []string
	for _, it := range items {
		v, err := s.compile(set, alias, it.Expr)
		if err != nil {
			return "", nil, err
		}
		if len(s.scopes) > 0 {
			return "", nil, s.errf(it.Expr, "cannot order by %s: it leads to many entities", it.Expr)
		}
		dir := " ASC"
		if it.Desc {
			dir = " DESC"
		}
		switch v.t {
		case vTime:
			terms = append(terms, v.sql+dir)
			if v.end != v.sql {
				terms = append(terms, v.end+dir)
			}
		case vDyn:
			terms = append(terms, v.dyn(JSONAny)+dir)
		case vGeom:
			return "", nil, s.errf(it.Expr, "cannot order by a geometry")
		case vNull:
			// ordering by a constant changes nothing
		default:
			terms = append(terms, v.sql+dir)
		}
	}
	sql, args := s.finish(strings.Join(terms, ", "), n)
	return sql, args, nil
}

// KeyKind is what the key of a paging cursor ($skiptoken) must be for one ORDER BY term.
type KeyKind int

// Kinds of cursor key. A key may always be null.
const (
	KeyAny    KeyKind = iota // a JSON value or result: any scalar
	KeyInt                   // an id, a time (µs) or a duration: an integer
	KeyNumber                // a number: an integer or a float
	KeyString                // a string (also a date or time of day)
	KeyBool                  // a boolean
)

// OrderKeys returns the kind of key of each term that OrderBy gives for items, in order.
func (c *Compiler) OrderKeys(set, alias string, items []odata.OrderItem) ([]KeyKind, error) {
	s, err := c.state(set, "$orderby")
	if err != nil {
		return nil, err
	}
	var kinds []KeyKind
	for _, it := range items {
		v, err := s.compile(set, alias, it.Expr)
		if err != nil {
			return nil, err
		}
		switch v.t {
		case vTime:
			kinds = append(kinds, KeyInt)
			if v.end != v.sql {
				kinds = append(kinds, KeyInt)
			}
		case vDuration:
			kinds = append(kinds, KeyInt)
		case vDyn:
			kinds = append(kinds, KeyAny)
		case vNumber:
			if v.id {
				kinds = append(kinds, KeyInt)
			} else {
				kinds = append(kinds, KeyNumber)
			}
		case vString, vDate, vTimeOfDay:
			kinds = append(kinds, KeyString)
		case vBool:
			kinds = append(kinds, KeyBool)
		}
	}
	return kinds, nil
}

func (c *Compiler) state(set, opt string) (*state, error) {
	if _, ok := c.Schema[set]; !ok {
		return nil, fmt.Errorf("compile %s: unknown entity set %q", opt, set)
	}
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	return &state{c: c, d: c.Dialect, opt: opt, now: now}, nil
}

// vtype is the type of a compiled value.
type vtype int

const (
	vBool vtype = iota
	vNumber
	vString
	vTime      // an instant or interval: sql is the start, end the end (µs)
	vDate      // a date as the dialect's date() gives it; literals bound as "2006-01-02"
	vTimeOfDay // a time of day as the dialect's time() gives it; compared with strings
	vDuration  // µs
	vGeom
	vNull
	vDyn // a JSON value or an Observation result: typed by its use, through dyn
)

var typeNames = map[vtype]string{vBool: "a boolean", vNumber: "a number", vString: "a string", vTime: "a time",
	vDate: "a date", vTimeOfDay: "a time of day", vDuration: "a duration", vGeom: "a geometry", vNull: "null", vDyn: "a JSON value"}

// val is a compiled expression.
type val struct {
	t       vtype
	sql     string
	end     string              // vTime
	dyn     func(JSONAs) string // vDyn
	id      bool                // an @iot.id: compares with strings too
	dateLit string              // for a date literal: "2006-01-02"
}

type scope struct{ from, cond string }

// lambdaVar is a lambda variable in scope: the entity set of the collection's members and the
// table alias that stands for the member.
type lambdaVar struct{ set, alias string }

type state struct {
	c      *Compiler
	vars   map[string]lambdaVar // lambda variables in scope, innermost binding
	d      Dialect
	opt    string
	now    func() time.Time
	args   []any
	alias  int
	scopes []scope // to-many navigations waiting for the enclosing predicate's EXISTS
	open   int     // lambda bodies being compiled: each an EXISTS around what is compiled
}

// MaxCollectionNesting bounds how many subqueries over collections a $filter or $orderby may
// nest: lambda operators (any, all) inside one another, and navigations to collections
// (Things: Datastreams/name, Locations/Things/Datastreams/name) in one path or in paths
// compared inside a lambda. Each is an EXISTS (SELECT ...) in SQL and costs the database
// dozens of levels of its expression depth (SQLite stops at 1,000); past the limit the
// error names it. Side-by-side ones (a/any(...) or b/any(...)) do not add up.
const MaxCollectionNesting = 4

// nest checks that one more subquery over a collection, at node e, stays within
// MaxCollectionNesting.
func (s *state) nest(pos int) error {
	if n := s.open + len(s.scopes) + 1; n > MaxCollectionNesting {
		return &odata.Error{Option: s.opt, Pos: pos, Msg: fmt.Sprintf("more than %d collections nested (any/all inside one another, and navigations to collections such as Datastreams/ in a path), over the limit of %d", MaxCollectionNesting, MaxCollectionNesting)}
	}
	return nil
}

const mark = "\x00"

// bind adds an argument and returns its marker in the SQL text.
func (s *state) bind(v any) string {
	s.args = append(s.args, v)
	return mark + strconv.Itoa(len(s.args)-1) + mark
}

// finish replaces the argument markers in sql by the dialect's placeholders, numbered from
// n+1 in order of appearance, and returns the arguments in that order.
func (s *state) finish(sql string, n int) (string, []any) {
	var b strings.Builder
	var args []any
	for {
		i := strings.Index(sql, mark)
		if i < 0 {
			b.WriteString(sql)
			break
		}
		j := strings.Index(sql[i+1:], mark) + i + 1
		k, _ := strconv.Atoi(sql[i+1 : j])
		b.WriteString(sql[:i])
		args = append(args, s.args[k])
		b.WriteString(s.d.Placeholder(n + len(args)))
		sql = sql[j+1:]
	}
	return b.String(), args
}

func (s *state) errf(e odata.Expr, format string, args ...any) *odata.Error {
	return &odata.Error{Option: s.opt, Pos: e.Pos(), Msg: fmt.Sprintf(format, args...)}
}

func (s *state) newAlias() string {
	s.alias++
	return "nav" + strconv.Itoa(s.alias)
}

// wrap wraps sql in an EXISTS for each to-many navigation registered since scope m.
func (s *state) wrap(m int, sql string) string {
	for i := len(s.scopes) - 1; i >= m; i-- {
		sc := s.scopes[i]
		sql = "EXISTS (SELECT 1 FROM " + sc.from + " WHERE " + sc.cond + " AND " + sql + ")"
	}
	s.scopes = s.scopes[:m]
	return sql
}

// pred compiles e as a boolean condition.
func (s *state) pred(set, alias string, e odata.Expr) (string, error) {
	m := len(s.scopes)
	v, err := s.compile(set, alias, e)
	if err != nil {
		return "", err
	}
	b, err := s.asBool(e, v)
	if err != nil {
		return "", err
	}
	return s.wrap(m, b), nil
}

func (s *state) asBool(e odata.Expr, v val) (string, error) {
	switch v.t {
	case vBool:
		return v.sql, nil
	case vDyn:
		return v.dyn(JSONBool), nil
	}
	return "", s.errf(e, "%s is %s, not a condition", e, typeNames[v.t])
}

func (s *state) asString(e odata.Expr, v val, fn string, i int) (string, error) {
	switch v.t {
	case vString, vDate, vTimeOfDay:
		return v.sql, nil
	case vDyn:
		return v.dyn(JSONText), nil
	}
	return "", s.errf(e, "%s: argument %d (%s) is %s, not a string", fn, i+1, e, typeNames[v.t])
}

func (s *state) asNumber(e odata.Expr, v val, what string) (string, error) {
	switch v.t {
	case vNumber:
		return v.sql, nil
	case vDyn:
		return v.dyn(JSONNumber), nil
	}
	return "", s.errf(e, "%s: %s is %s, not a number", what, e, typeNames[v.t])
}

func (s *state) compile(set, alias string, e odata.Expr) (val, error) {
	switch e := e.(type) {
	case *odata.Null:
		return val{t: vNull, sql: "NULL"}, nil
	case *odata.Bool:
		return val{t: vBool, sql: s.bind(e.Value)}, nil
	case *odata.Int:
		return val{t: vNumber, sql: s.bind(e.Value)}, nil
	case *odata.Float:
		return val{t: vNumber, sql: s.bind(e.Value)}, nil
	case *odata.String:
		return val{t: vString, sql: s.bind(e.Value)}, nil
	case *odata.DateTime:
		p := s.bind(e.Value.UnixMicro())
		v := val{t: vTime, sql: p, end: p}
		if e.DateOnly {
			v.dateLit = e.Value.Format(time.DateOnly)
		}
		return v, nil
	case *odata.Interval:
		return val{t: vTime, sql: s.bind(e.Start.UnixMicro()), end: s.bind(e.End.UnixMicro())}, nil
	case *odata.Duration:
		return val{t: vDuration, sql: s.bind(e.Value.Microseconds())}, nil
	case *odata.Geo:
		if _, err := geom.UnmarshalWKT(e.WKT); err != nil {
			return val{}, s.errf(e, "invalid well-known text %q: %v", e.WKT, err)
		}
		return val{t: vGeom, sql: s.d.Geometry(s.bind(e.WKT), true)}, nil
	case *odata.Path:
		return s.path(set, alias, e)
	case *odata.Unary:
		return s.unary(set, alias, e)
	case *odata.Binary:
		switch {
		case e.Op == odata.OpAnd || e.Op == odata.OpOr:
			l, err := s.pred(set, alias, e.L)
			if err != nil {
				return val{}, err
			}
			r, err := s.pred(set, alias, e.R)
			if err != nil {
				return val{}, err
			}
			return val{t: vBool, sql: "(" + l + " " + strings.ToUpper(string(e.Op)) + " " + r + ")"}, nil
		case e.Op.IsComparison():
			m := len(s.scopes)
			l, err := s.compile(set, alias, e.L)
			if err != nil {
				return val{}, err
			}
			r, err := s.compile(set, alias, e.R)
			if err != nil {
				return val{}, err
			}
			sql, err := s.compare(e, l, r)
			if err != nil {
				return val{}, err
			}
			return val{t: vBool, sql: s.wrap(m, sql)}, nil
		case e.Op.IsArithmetic():
			l, err := s.compile(set, alias, e.L)
			if err != nil {
				return val{}, err
			}
			r, err := s.compile(set, alias, e.R)
			if err != nil {
				return val{}, err
			}
			return s.arith(e, l, r)
		}
	case *odata.Call:
		return s.call(set, alias, e)
	case *odata.Lambda:
		return s.lambda(set, alias, e)
	case *odata.In:
		return s.in(set, alias, e)
	}
	return val{}, s.errf(e, "unsupported expression %s", e)
}

func (s *state) unary(set, alias string, e *odata.Unary) (val, error) {
	if e.Op == odata.OpNot {
		b, err := s.pred(set, alias, e.X)
		if err != nil {
			return val{}, err
		}
		return val{t: vBool, sql: "(NOT COALESCE(" + b + ", FALSE))"}, nil
	}
	x, err := s.compile(set, alias, e.X)
	if err != nil {
		return val{}, err
	}
	switch x.t {
	case vNumber, vDuration:
		return val{t: x.t, sql: "(-" + x.sql + ")"}, nil
	case vDyn:
		return val{t: vNumber, sql: "(-" + x.dyn(JSONNumber) + ")"}, nil
	}
	return val{}, s.errf(e, "cannot negate %s, which is %s", e.X, typeNames[x.t])
}

// path resolves a property path from entity set set (table alias alias).
func (s *state) path(set, alias string, p *odata.Path) (val, error) {
	type hop struct{ from, cond, prevAlias, localFK string }
	var hops []hop // to-one navigations not yet placed
	cur, curAlias := set, alias
	segs := p.Segments
	if v, ok := s.vars[segs[0].Name]; ok {
		// d/name inside any(d: ...): from the collection's member
		cur, curAlias = v.set, v.alias
		segs = segs[1:]
	} else if segs[0].Name == "$it" {
		segs = segs[1:] // the entity the filter applies to
	}
	if len(segs) == 0 {
		return val{}, &odata.Error{Option: s.opt, Pos: p.P, Msg: fmt.Sprintf("%s is an entity; name one of its properties, e.g. %s/id", p.Join(), p.Join())}
	}
	p = &odata.Path{P: p.P, Segments: segs}
	for i, seg := range p.Segments {
		t := s.c.Schema[cur]
		name := seg.Name
		if name == "@iot.id" {
			name = "id"
		}
		if col, ok := t.Columns[name]; ok {
			rest := p.Segments[i+1:]
			// Datastream/id is the foreign key itself: no subquery.
			if col.Kind == sensing.KindID && len(rest) == 0 && len(hops) > 0 && hops[len(hops)-1].localFK != "" {
				last := hops[len(hops)-1]
				hops = hops[:len(hops)-1]
				col = Column{Col: last.localFK, Kind: sensing.KindID}
				curAlias = last.prevAlias
			}
			v, err := s.column(cur, curAlias, name, col, rest)
			if err != nil {
				return val{}, err
			}
			if len(hops) == 0 {
				return v, nil
			}
			var froms, conds []string
			for _, h := range hops {
				froms = append(froms, h.from)
				conds = append(conds, h.cond)
			}
			sub := " FROM " + strings.Join(froms, ", ") + " WHERE " + strings.Join(conds, " AND ") + ")"
			w := func(x string) string { return "(SELECT " + x + sub }
			if v.sql != "" {
				v.sql = w(v.sql)
			}
			if v.end != "" {
				v.end = w(v.end)
			}
			if v.dyn != nil {
				dyn := v.dyn
				v.dyn = func(as JSONAs) string { return w(dyn(as)) }
			}
			return v, nil
		}
		l, ok := t.Links[name]
		if !ok {
			return val{}, &odata.Error{Option: s.opt, Pos: seg.P, Msg: fmt.Sprintf("%s has no property %q", cur, seg.Name)}
		}
		a := s.newAlias()
		_, from, cond, err := s.c.Schema.Join(cur, name, curAlias, a)
		if err != nil {
			return val{}, &odata.Error{Option: s.opt, Pos: seg.P, Msg: err.Error()}
		}
		if l.Many {
			if err := s.nest(seg.P); err != nil {
				return val{}, err
			}
			froms, conds := []string{}, []string{}
			for _, h := range hops {
				froms = append(froms, h.from)
				conds = append(conds, h.cond)
			}
			s.scopes = append(s.scopes, scope{from: strings.Join(append(froms, from), ", "), cond: strings.Join(append(conds, cond), " AND ")})
			hops = nil
		} else {
			hops = append(hops, hop{from: from, cond: cond, prevAlias: curAlias, localFK: l.LocalFK})
		}
		cur, curAlias = l.Target, a
	}
	last := p.Segments[len(p.Segments)-1]
	return val{}, &odata.Error{Option: s.opt, Pos: last.P, Msg: fmt.Sprintf("%s is a navigation property; name one of its properties, e.g. %s/id", last.Name, p.Join())}
}

// column compiles the property name (column col of set, table alias alias), followed by rest
// for a path into a JSON value.
func (s *state) column(set, alias, name string, col Column, rest []odata.Segment) (val, error) {
	ref := alias + "." + col.Col
	if len(rest) > 0 && col.Kind != sensing.KindJSON && col.Kind != sensing.KindResult {
		return val{}, &odata.Error{Option: s.opt, Pos: rest[0].P, Msg: fmt.Sprintf("%s property %q has no sub-properties (only JSON properties have)", set, name)}
	}
	var keys []string
	for _, r := range rest {
		if strings.ContainsAny(r.Name, "\"\\") {
			return val{}, &odata.Error{Option: s.opt, Pos: r.P, Msg: fmt.Sprintf("JSON member name %q has a character not supported in paths", r.Name)}
		}
		keys = append(keys, r.Name)
	}
	switch col.Kind {
	case sensing.KindID:
		return val{t: vNumber, sql: ref, id: true}, nil
	case sensing.KindString:
		return val{t: vString, sql: ref}, nil
	case sensing.KindNumber:
		return val{t: vNumber, sql: ref}, nil
	case sensing.KindTime:
		return val{t: vTime, sql: ref, end: ref}, nil
	case sensing.KindInterval:
		end := ref
		if col.End != "" {
			end = alias + "." + col.End
		}
		return val{t: vTime, sql: ref, end: end}, nil
	case sensing.KindGeometry:
		return val{t: vGeom, sql: s.d.Geometry(ref, false)}, nil
	case sensing.KindJSON:
		return val{t: vDyn, dyn: func(as JSONAs) string { return s.d.JSON(ref, keys, as, s.bind) }}, nil
	case sensing.KindResult:
		text := alias + "." + col.Text
		if len(keys) > 0 || col.Text == "" {
			if col.Text == "" {
				text = ref
			}
			return val{t: vDyn, dyn: func(as JSONAs) string { return s.d.JSON(text, keys, as, s.bind) }}, nil
		}
		return val{t: vDyn, dyn: func(as JSONAs) string {
			switch as {
			case JSONNumber:
				return ref
			case JSONAny:
				return "COALESCE(" + ref + ", " + s.d.JSON(text, nil, JSONAny, s.bind) + ")"
			}
			return s.d.JSON(text, nil, as, s.bind)
		}}, nil
	}
	return val{}, fmt.Errorf("compile %s: property %s of %s has an unknown kind %d", s.opt, name, set, col.Kind)
}

var sqlOps = map[odata.Op]string{odata.OpEq: "=", odata.OpGt: ">", odata.OpGe: ">=", odata.OpLt: "<", odata.OpLe: "<="}

func (s *state) compare(e *odata.Binary, l, r val) (string, error) {
	op := e.Op
	if l.t == vNull || r.t == vNull {
		if op != odata.OpEq && op != odata.OpNe {
			return "", s.errf(e, "null can only be compared with eq or ne")
		}
		x := l
		if l.t == vNull {
			x = r
		}
		is := " IS NULL"
		if op == odata.OpNe {
			is = " IS NOT NULL"
		}
		switch x.t {
		case vNull:
			if op == odata.OpEq {
				return "(1 = 1)", nil
			}
			return "(1 = 0)", nil
		case vDyn:
			return "(" + x.dyn(JSONAny) + is + ")", nil
		}
		return "(" + x.sql + is + ")", nil
	}
	if l.t == vDyn && r.t == vDyn {
		var alts []string
		for _, as := range []JSONAs{JSONNumber, JSONText, JSONBool} {
			if as == JSONBool && op != odata.OpEq && op != odata.OpNe {
				continue
			}
			alts = append(alts, s.simple(opOrEq(op), l.dyn(as), r.dyn(as)))
		}
		sql := "(" + strings.Join(alts, " OR ") + ")"
		if op == odata.OpNe {
			sql = "(NOT COALESCE(" + sql + ", FALSE))"
		}
		return sql, nil
	}
	// A dynamic value takes the type of the other side.
	if l.t == vDyn || r.t == vDyn {
		d, other, oe := &l, r, e.R
		if r.t == vDyn {
			d, other, oe = &r, l, e.L
		}
		var as JSONAs
		switch other.t {
		case vString, vDate, vTimeOfDay:
			as = JSONText
		case vNumber:
			as = JSONNumber
		case vBool:
			as = JSONBool
		default:
			return "", s.errf(e, "cannot compare a JSON value with %s, which is %s", oe, typeNames[other.t])
		}
		*d = val{t: other.t, sql: d.dyn(as)}
	}
	switch {
	case l.t == vTime && r.t == vTime:
		return s.times(op, l, r), nil
	case l.t == vDate && r.t == vTime && r.dateLit != "":
		return s.simple(op, l.sql, s.bind(r.dateLit)), nil
	case l.t == vTime && l.dateLit != "" && r.t == vDate:
		return s.simple(op, s.bind(l.dateLit), r.sql), nil
	case l.t == r.t && l.t != vGeom:
	case (l.t == vDate || l.t == vTimeOfDay) && r.t == vString, l.t == vString && (r.t == vDate || r.t == vTimeOfDay):
	case l.id && r.t == vString, r.id && l.t == vString:
	case l.t == vGeom && r.t == vGeom:
		return "", s.errf(e, "geometries cannot be compared with %s; use st_equals, st_within, ...", op)
	default:
		return "", s.errf(e, "cannot compare %s (%s) with %s (%s)", e.L, typeNames[l.t], e.R, typeNames[r.t])
	}
	return s.simple(op, l.sql, r.sql), nil
}

func opOrEq(op odata.Op) odata.Op {
	if op == odata.OpNe {
		return odata.OpEq
	}
	return op
}

// simple renders a comparison of two SQL scalars.
func (s *state) simple(op odata.Op, a, b string) string {
	if op == odata.OpNe {
		return s.d.Distinct(a, b)
	}
	return "(" + a + " " + sqlOps[op] + " " + b + ")"
}

// times compares two closed intervals (instants have start = end); see Compiler.
func (s *state) times(op odata.Op, l, r val) string {
	switch op {
	case odata.OpEq, odata.OpNe:
		eq := "(" + l.sql + " = " + r.sql + ")"
		if l.sql != l.end || r.sql != r.end {
			eq = "(" + l.sql + " = " + r.sql + " AND " + l.end + " = " + r.end + ")"
		}
		if op == odata.OpNe {
			return "(NOT COALESCE(" + eq + ", FALSE))"
		}
		return eq
	case odata.OpLt, odata.OpLe:
		o := " < "
		if op == odata.OpLe {
			o = " <= "
		}
		c := "(" + l.end + o + r.sql
		if l.end != l.sql {
			// start <= end, so this adds nothing but lets an index on the start bound the range
			c += " AND " + l.sql + o + r.sql
		}
		return c + ")"
	default: // gt, ge
		o := " > "
		if op == odata.OpGe {
			o = " >= "
		}
		c := "(" + l.sql + o + r.end
		if r.end != r.sql {
			c += " AND " + l.end + o + r.sql
		}
		return c + ")"
	}
}

var arithOps = map[odata.Op]string{odata.OpAdd: "+", odata.OpSub: "-", odata.OpMul: "*"}

func (s *state) arith(e *odata.Binary, l, r val) (val, error) {
	num := func(a, b string) (string, error) {
		if o, ok := arithOps[e.Op]; ok {
			return "(" + a + " " + o + " " + b + ")", nil
		}
		return s.d.Func(string(e.Op), []string{a, b})
	}
	if l.t == vDyn {
		l = val{t: vNumber, sql: l.dyn(JSONNumber)}
	}
	if r.t == vDyn {
		r = val{t: vNumber, sql: r.dyn(JSONNumber)}
	}
	add := e.Op == odata.OpAdd || e.Op == odata.OpSub
	switch {
	case l.t == vNumber && r.t == vNumber, l.t == vDuration && r.t == vDuration && add:
		sql, err := num(l.sql, r.sql)
		return val{t: l.t, sql: sql}, err
	case l.t == vTime && r.t == vDuration && add:
		o := arithOps[e.Op]
		return val{t: vTime, sql: "(" + l.sql + " " + o + " " + r.sql + ")", end: "(" + l.end + " " + o + " " + r.sql + ")"}, nil
	case l.t == vDuration && r.t == vTime && e.Op == odata.OpAdd:
		return val{t: vTime, sql: "(" + r.sql + " + " + l.sql + ")", end: "(" + r.end + " + " + l.sql + ")"}, nil
	case l.t == vTime && r.t == vTime && e.Op == odata.OpSub:
		return val{t: vDuration, sql: "(" + l.sql + " - " + r.sql + ")"}, nil
	}
	return val{}, s.errf(e, "cannot %s %s (%s) and %s (%s)", e.Op, e.L, typeNames[l.t], e.R, typeNames[r.t])
}

var boolFuncs = map[string]bool{"substringof": true, "contains": true, "startswith": true, "endswith": true, "geo.intersects": true,
	"st_equals": true, "st_disjoint": true, "st_touches": true, "st_within": true, "st_overlaps": true, "st_crosses": true,
	"st_intersects": true, "st_contains": true, "st_relate": true}

const (
	minMicros = -62135596800000000 // 0001-01-01T00:00:00Z
	maxMicros = 253402300799999999 // 9999-12-31T23:59:59.999999Z
)

func (s *state) call(set, alias string, e *odata.Call) (val, error) {
	m := len(s.scopes)
	switch e.Name {
	case "now":
		p := s.bind(s.now().UnixMicro())
		return val{t: vTime, sql: p, end: p}, nil
	case "mindatetime":
		p := s.bind(int64(minMicros))
		return val{t: vTime, sql: p, end: p}, nil
	case "maxdatetime":
		p := s.bind(int64(maxMicros))
		return val{t: vTime, sql: p, end: p}, nil
	}
	vals := make([]val, len(e.Args))
	for i, a := range e.Args {
		v, err := s.compile(set, alias, a)
		if err != nil {
			return val{}, err
		}
		vals[i] = v
	}
	args := make([]string, len(vals))
	var rt vtype
	var err error
	switch e.Name {
	case "substringof", "contains", "startswith", "endswith", "length", "indexof", "tolower", "toupper", "trim", "concat", "substring":
		for i := range vals {
			if e.Name == "substring" && i > 0 {
				args[i], err = s.asNumber(e.Args[i], vals[i], fmt.Sprintf("substring: argument %d", i+1))
			} else {
				args[i], err = s.asString(e.Args[i], vals[i], e.Name, i)
			}
			if err != nil {
				return val{}, err
			}
		}
		switch e.Name {
		case "length", "indexof":
			rt = vNumber
		case "tolower", "toupper", "trim", "concat", "substring":
			rt = vString
		default:
			rt = vBool
		}
	case "year", "month", "day", "hour", "minute", "second", "fractionalseconds", "date", "time", "totaloffsetminutes":
		if vals[0].t != vTime {
			return val{}, s.errf(e.Args[0], "%s: %s is %s, not a date-time", e.Name, e.Args[0], typeNames[vals[0].t])
		}
		switch e.Name {
		case "totaloffsetminutes": // times are stored in UTC
			return val{t: vNumber, sql: s.bind(int64(0))}, nil
		case "date":
			rt = vDate
		case "time":
			rt = vTimeOfDay
		default:
			rt = vNumber
		}
		args[0] = vals[0].sql
	case "round", "floor", "ceiling":
		if args[0], err = s.asNumber(e.Args[0], vals[0], e.Name); err != nil {
			return val{}, err
		}
		rt = vNumber
	default: // geometry functions
		for i, v := range vals {
			if e.Name == "st_relate" && i == 2 {
				if v.t != vString {
					return val{}, s.errf(e.Args[i], "st_relate: the third argument must be a DE-9IM pattern string such as 'T*F**F***'")
				}
				if lit, ok := e.Args[i].(*odata.String); ok && !validPattern(lit.Value) {
					return val{}, s.errf(e.Args[i], "st_relate: %q is not a DE-9IM pattern (9 characters of T F * 0 1 2)", lit.Value)
				}
				args[i] = v.sql
				continue
			}
			switch v.t {
			case vGeom:
				args[i] = v.sql
			case vDyn: // e.g. properties/area holding GeoJSON
				args[i] = s.d.Geometry(v.dyn(JSONAny), false)
			default:
				return val{}, s.errf(e.Args[i], "%s: argument %d (%s) is %s, not a geometry", e.Name, i+1, e.Args[i], typeNames[v.t])
			}
		}
		rt = vBool
		if e.Name == "geo.distance" || e.Name == "geo.length" {
			rt = vNumber
		}
	}
	sql, err := s.d.Func(e.Name, args)
	if err != nil {
		return val{}, s.errf(e, "%v", err)
	}
	if rt == vBool && boolFuncs[e.Name] {
		sql = s.wrap(m, sql)
	}
	return val{t: rt, sql: sql}, nil
}

func validPattern(p string) bool {
	if len(p) != 9 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("TF*012tf", c) {
			return false
		}
	}
	return true
}

// lambda compiles Path/any(v: body) to EXISTS (SELECT 1 FROM <path> WHERE <joins> AND body)
// and Path/all(v: body) to NOT EXISTS (... AND NOT body), body false where it is null (so all
// is true on an empty collection, any false). Path is navigation properties from the entity
// (or from an enclosing lambda's variable); at least one must be to-many. A path through two
// to-many steps (Datastreams/Observations/any(o: ...)) ranges over all their members.
func (s *state) lambda(set, alias string, e *odata.Lambda) (val, error) {
	op := "any"
	if e.All {
		op = "all"
	}
	segs := e.Path.Segments
	cur, curAlias := set, alias
	if v, ok := s.vars[segs[0].Name]; ok {
		cur, curAlias = v.set, v.alias
		segs = segs[1:]
	} else if segs[0].Name == "$it" {
		segs = segs[1:]
	}
	if len(segs) == 0 {
		return val{}, s.errf(e, "%s applies to a collection such as Datastreams; %s is one entity", op, e.Path.Join())
	}
	var froms, conds []string
	many := false
	for _, seg := range segs {
		t := s.c.Schema[cur]
		l, ok := t.Links[seg.Name]
		if !ok {
			if _, col := t.Columns[seg.Name]; col {
				return val{}, &odata.Error{Option: s.opt, Pos: seg.P, Msg: fmt.Sprintf("%s applies to navigation properties (collections of entities such as Datastreams); %q is a property of %s", op, seg.Name, cur)}
			}
			return val{}, &odata.Error{Option: s.opt, Pos: seg.P, Msg: fmt.Sprintf("%s has no navigation property %q", cur, seg.Name)}
		}
		a := s.newAlias()
		if v := l.Via; v != nil {
			// through the link table, so that its key (not a scan of the target) finds the members
			la := a + "l"
			froms = append(froms, v.Table+" "+la, s.c.Schema[l.Target].Name+" "+a)
			conds = append(conds, la+"."+v.LocalCol+" = "+curAlias+".id", a+".id = "+la+"."+v.RemoteCol)
		} else {
			_, from, cond, err := s.c.Schema.Join(cur, seg.Name, curAlias, a)
			if err != nil {
				return val{}, &odata.Error{Option: s.opt, Pos: seg.P, Msg: err.Error()}
			}
			froms, conds = append(froms, from), append(conds, cond)
		}
		many = many || l.Many
		cur, curAlias = l.Target, a
	}
	if !many {
		return val{}, s.errf(e, "%s applies to a collection; %s leads to one %s (compare its properties directly)", op, e.Path.Join(), sensingSingle(cur))
	}
	sub := "SELECT 1 FROM " + strings.Join(froms, ", ") + " WHERE " + strings.Join(conds, " AND ")
	if err := s.nest(e.P); err != nil {
		return val{}, err
	}
	if e.Body == nil {
		return val{t: vBool, sql: "EXISTS (" + sub + ")"}, nil
	}
	if s.vars == nil {
		s.vars = map[string]lambdaVar{}
	}
	prev, had := s.vars[e.Var]
	s.vars[e.Var] = lambdaVar{set: cur, alias: curAlias}
	s.open++
	body, err := s.pred(set, alias, e.Body)
	s.open--
	if had {
		s.vars[e.Var] = prev
	} else {
		delete(s.vars, e.Var)
	}
	if err != nil {
		return val{}, err
	}
	if e.All {
		return val{t: vBool, sql: "(NOT EXISTS (" + sub + " AND NOT COALESCE(" + body + ", FALSE)))"}, nil
	}
	return val{t: vBool, sql: "EXISTS (" + sub + " AND " + body + ")"}, nil
}

func sensingSingle(set string) string {
	if s, ok := sensing.Sets[set]; ok {
		return s.Single
	}
	return set
}

// in compiles x in (v1, ...): with a list of literals, x IN (...) per literal type (a JSON
// value or result is matched against each type it may hold); otherwise x eq v1 or x eq v2 ...
// with the semantics of eq.
func (s *state) in(set, alias string, e *odata.In) (val, error) {
	m := len(s.scopes)
	x, err := s.compile(set, alias, e.X)
	if err != nil {
		return val{}, err
	}
	groups := map[vtype][]string{}
	literal := true
	for _, it := range e.List {
		switch v := it.(type) {
		case *odata.String:
			groups[vString] = append(groups[vString], s.bind(v.Value))
		case *odata.Int:
			groups[vNumber] = append(groups[vNumber], s.bind(v.Value))
		case *odata.Float:
			groups[vNumber] = append(groups[vNumber], s.bind(v.Value))
		case *odata.Bool:
			groups[vBool] = append(groups[vBool], s.bind(v.Value))
		default:
			literal = false
		}
	}
	if literal && (x.t == vDyn || x.t == vString || x.t == vNumber || x.t == vBool) {
		var alts []string
		for _, t := range []vtype{vNumber, vString, vBool} {
			ps := groups[t]
			if len(ps) == 0 {
				continue
			}
			var lhs string
			switch {
			case x.t == vDyn:
				lhs = x.dyn(map[vtype]JSONAs{vNumber: JSONNumber, vString: JSONText, vBool: JSONBool}[t])
			case x.t == t, x.id && t == vString:
				lhs = x.sql
			default:
				return val{}, s.errf(e, "cannot compare %s (%s) with the values in the list, some of which are %s", e.X, typeNames[x.t], typeNames[t])
			}
			alts = append(alts, "("+lhs+" IN ("+strings.Join(ps, ", ")+"))")
		}
		return val{t: vBool, sql: s.wrap(m, "("+strings.Join(alts, " OR ")+")")}, nil
	}
	// general case (times, expressions): one eq per value
	var alts []string
	for _, it := range e.List {
		r, err := s.compile(set, alias, it)
		if err != nil {
			return val{}, err
		}
		c, err := s.compare(&odata.Binary{P: e.P, Op: odata.OpEq, L: e.X, R: it}, x, r)
		if err != nil {
			return val{}, err
		}
		alts = append(alts, c)
	}
	return val{t: vBool, sql: s.wrap(m, "("+strings.Join(alts, " OR ")+")")}, nil
}
