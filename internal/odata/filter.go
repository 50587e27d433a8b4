package odata

import (
	"fmt"
	"strings"
)

func sprintf(format string, args ...any) string {
	if len(args) == 0 {
		return format
	}
	return fmt.Sprintf(format, args...)
}

// arity gives each supported function's minimum and maximum number of arguments.
var arity = map[string][2]int{
	"substringof": {2, 2}, "endswith": {2, 2}, "startswith": {2, 2}, "contains": {2, 2},
	"length": {1, 1}, "indexof": {2, 2}, "substring": {2, 3}, "tolower": {1, 1}, "toupper": {1, 1},
	"trim": {1, 1}, "concat": {2, 2},
	"year": {1, 1}, "month": {1, 1}, "day": {1, 1}, "hour": {1, 1}, "minute": {1, 1}, "second": {1, 1},
	"fractionalseconds": {1, 1}, "date": {1, 1}, "time": {1, 1}, "totaloffsetminutes": {1, 1},
	"now": {0, 0}, "mindatetime": {0, 0}, "maxdatetime": {0, 0},
	"round": {1, 1}, "floor": {1, 1}, "ceiling": {1, 1},
	"geo.distance": {2, 2}, "geo.length": {1, 1}, "geo.intersects": {2, 2},
	"st_equals": {2, 2}, "st_disjoint": {2, 2}, "st_touches": {2, 2}, "st_within": {2, 2},
	"st_overlaps": {2, 2}, "st_crosses": {2, 2}, "st_intersects": {2, 2}, "st_contains": {2, 2},
	"st_relate": {3, 3},
}

// Functions returns the names of the functions $filter accepts, with their arity (min, max).
func Functions() map[string][2]int {
	m := make(map[string][2]int, len(arity))
	for k, v := range arity {
		m[k] = v
	}
	return m
}

// ParseFilter parses a $filter expression.
func ParseFilter(s string) (Expr, error) {
	e, err := parseFilter(s, "$filter", 0, 0)
	if err != nil {
		return nil, err
	}
	return e, nil
}

func parseFilter(s, opt string, base, depth int) (Expr, *Error) {
	p, err := newParser(s, opt, base, depth)
	if err != nil {
		return nil, err
	}
	e, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("an operator or the end of the expression")
	}
	if err := checkDepth(e, opt, depth); err != nil {
		return nil, err
	}
	return e, nil
}

// ParseOrderBy parses an $orderby list: expressions separated by commas, each optionally
// followed by asc or desc.
func ParseOrderBy(s string) ([]OrderItem, error) {
	items, err := parseOrderBy(s, "$orderby", 0, 0)
	if err != nil {
		return nil, err
	}
	return items, nil
}

// OrderItem is one $orderby term.
type OrderItem struct {
	Expr Expr
	Desc bool
}

func parseOrderBy(s, opt string, base, depth int) ([]OrderItem, *Error) {
	p, err := newParser(s, opt, base, depth)
	if err != nil {
		return nil, err
	}
	var items []OrderItem
	for {
		e, err := p.expr()
		if err != nil {
			return nil, err
		}
		if err := checkDepth(e, opt, depth); err != nil {
			return nil, err
		}
		it := OrderItem{Expr: e}
		if p.tok.kind == tIdent && len(p.tok.segs) == 1 {
			switch strings.ToLower(p.tok.text) {
			case "asc":
				err = p.advance()
			case "desc":
				it.Desc = true
				err = p.advance()
			}
			if err != nil {
				return nil, err
			}
		}
		items = append(items, it)
		if len(items) > MaxOrderBy {
			return nil, &Error{Option: opt, Pos: p.pos(p.tok), Msg: fmt.Sprintf("more than %d terms, over the limit of %d", MaxOrderBy, MaxOrderBy)}
		}
		switch p.tok.kind {
		case tComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		case tEOF:
			return items, nil
		}
		return nil, p.unexpected("asc, desc, ',' or the end of $orderby")
	}
}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func newParser(s, opt string, base, depth int) (*parser, *Error) {
	if len(s) > MaxLength {
		return nil, &Error{Option: opt, Msg: fmt.Sprintf("longer than %d bytes", MaxLength)}
	}
	if strings.TrimSpace(s) == "" {
		return nil, &Error{Option: opt, Pos: base + 1, Msg: "empty expression"}
	}
	p := &parser{lx: lexer{src: s, base: base, opt: opt}, depth: depth}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *parser) advance() *Error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) pos(t token) int { return p.lx.base + t.pos + 1 }

func (p *parser) errAt(t token, format string, args ...any) *Error {
	return &Error{Option: p.lx.opt, Pos: p.pos(t), Msg: sprintf(format, args...)}
}

func (p *parser) unexpected(want string) *Error {
	if p.tok.kind == tEOF {
		return p.errAt(p.tok, "unexpected end of expression, expected %s", want)
	}
	return p.errAt(p.tok, "unexpected %q, expected %s", p.tok.text, want)
}

func (p *parser) enter() *Error {
	p.depth++
	if p.depth > MaxDepth {
		return p.errAt(p.tok, "expression nested deeper than %d levels, over the limit of %d", MaxDepth, MaxDepth)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// keyword reports whether the current token is the single-word keyword kw (case-insensitive).
func (p *parser) keyword(kw string) bool {
	return p.tok.kind == tIdent && len(p.tok.segs) == 1 && strings.EqualFold(p.tok.text, kw)
}

// Grammar, loosest first:
//
//	expr  = and { "or" and }
//	and   = not { "and" not }
//	not   = "not" not | cmp
//	cmp   = add [ ("eq"|"ne"|"gt"|"ge"|"lt"|"le") add ]
//	add   = mul { ("add"|"sub") mul }
//	mul   = unary { ("mul"|"div"|"mod") unary }
//	unary = "-" unary | primary
//
// not binds more loosely than comparisons (unlike OData 4.0's table), so that
// "not name eq 'x'" means "not (name eq 'x')", which is what people mean.
func (p *parser) expr() (Expr, *Error) {
	return p.chain(OpOr, p.and)
}

func (p *parser) and() (Expr, *Error) {
	return p.chain(OpAnd, p.not)
}

// chain parses operands separated by the keyword op (and, or) and joins them in a balanced
// tree: and and or are associative (in SQL's three-valued logic too), so a chain of n terms
// is log2(n) levels deep rather than n, and a filter of thousands of or-ed terms stays within
// MaxDepth and within the databases' expression depth.
func (p *parser) chain(op Op, operand func() (Expr, *Error)) (Expr, *Error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	if !p.keyword(string(op)) {
		return first, nil
	}
	terms, ops := []Expr{first}, []int(nil)
	for p.keyword(string(op)) {
		t := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := operand()
		if err != nil {
			return nil, err
		}
		terms, ops = append(terms, r), append(ops, p.pos(t))
	}
	return balance(op, terms, ops), nil
}

// balance joins terms with op in a balanced tree; ops[i] is the position of the operator
// between terms[i] and terms[i+1].
func balance(op Op, terms []Expr, ops []int) Expr {
	if len(terms) == 1 {
		return terms[0]
	}
	m := len(terms) / 2
	return &Binary{P: ops[m-1], Op: op, L: balance(op, terms[:m], ops[:m-1]), R: balance(op, terms[m:], ops[m:])}
}

// checkDepth refuses an expression whose tree is deeper than MaxDepth levels, counting base
// levels already used (by enclosing $expand items). Every operator (but for the balanced
// and/or chains, see chain), function call, in and any/all is one level; parentheses and
// literals none. Without it, a chain such as 1 add 1 add ... is one level of parentheses
// but as deep as it is long, deeper than a database accepts (SQLite: 1000).
func checkDepth(e Expr, opt string, base int) *Error {
	if height(e)+base <= MaxDepth {
		return nil
	}
	// report the first node past the limit on the deepest path
	n, level := e, base
	for {
		level++
		if level > MaxDepth {
			return &Error{Option: opt, Pos: n.Pos(), Msg: fmt.Sprintf("expression nested deeper than %d levels (each operator other than and/or, each function call, in, any/all and not is a level), over the limit of %d", MaxDepth, MaxDepth)}
		}
		var next Expr
		h := -1
		for _, c := range children(n) {
			if ch := height(c); ch > h {
				next, h = c, ch
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
}

// height is the number of levels of e's tree (a leaf: 0). Its recursion is bounded: the
// parser's own nesting bound keeps a tree within MaxLength bytes of text.
func height(e Expr) int {
	h := 0
	for _, c := range children(e) {
		h = max(h, height(c))
	}
	if len(children(e)) > 0 {
		h++
	}
	return h
}

// children returns the sub-expressions of e.
func children(e Expr) []Expr {
	switch e := e.(type) {
	case *Binary:
		return []Expr{e.L, e.R}
	case *Unary:
		return []Expr{e.X}
	case *Call:
		return e.Args
	case *In:
		return append([]Expr{e.X}, e.List...)
	case *Lambda:
		if e.Body != nil {
			return []Expr{e.Body}
		}
		return []Expr{e.Path}
	}
	return nil
}

func (p *parser) not() (Expr, *Error) {
	if !p.keyword("not") {
		return p.cmp()
	}
	t := p.tok
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.not()
	if err != nil {
		return nil, err
	}
	return &Unary{P: p.pos(t), Op: OpNot, X: x}, nil
}

func (p *parser) binop(ops ...Op) (Op, bool) {
	if p.tok.kind != tIdent || len(p.tok.segs) != 1 {
		return "", false
	}
	w := Op(strings.ToLower(p.tok.text))
	for _, op := range ops {
		if w == op {
			return op, true
		}
	}
	return "", false
}

func (p *parser) cmp() (Expr, *Error) {
	return p.leftAssoc(p.add, true, OpEq, OpNe, OpGt, OpGe, OpLt, OpLe)
}

func (p *parser) add() (Expr, *Error) { return p.leftAssoc(p.mul, false, OpAdd, OpSub) }

func (p *parser) mul() (Expr, *Error) { return p.leftAssoc(p.unary, false, OpMul, OpDiv, OpMod) }

// leftAssoc parses operands of next joined by any of ops, left-associative (a - b - c is
// (a - b) - c); with in, an operand may be followed by "in (…)" (the comparison level).
func (p *parser) leftAssoc(next func() (Expr, *Error), in bool, ops ...Op) (Expr, *Error) {
	l, err := next()
	if err != nil {
		return nil, err
	}
	for {
		if in && p.keyword("in") {
			x, err := p.in(l)
			if err != nil {
				return nil, err
			}
			l = x
			continue
		}
		op, ok := p.binop(ops...)
		if !ok {
			return l, nil
		}
		t := p.tok
		if err := p.advance(); err != nil {
			return nil, err
		}
		r, err := next()
		if err != nil {
			return nil, err
		}
		l = &Binary{P: p.pos(t), Op: op, L: l, R: r}
	}
}

func (p *parser) unary() (Expr, *Error) {
	if p.tok.kind != tMinus {
		return p.primary()
	}
	t := p.tok
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.unary()
	if err != nil {
		return nil, err
	}
	return &Unary{P: p.pos(t), Op: OpNeg, X: x}, nil
}

func (p *parser) primary() (Expr, *Error) {
	t := p.tok
	pos := p.pos(t)
	var e Expr
	switch t.kind {
	case tLParen:
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		if err := p.advance(); err != nil {
			return nil, err
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			if p.tok.kind == tEOF {
				return nil, p.errAt(p.tok, "expected ')' to close '(' opened at position %d", pos)
			}
			return nil, p.errAt(p.tok, "unexpected %q, expected ')' to close '(' opened at position %d", p.tok.text, pos)
		}
		e = x
	case tString:
		e = &String{P: pos, Value: t.str}
	case tInt:
		e = &Int{P: pos, Value: t.i}
	case tFloat:
		e = &Float{P: pos, Value: t.f}
	case tDateTime:
		e = &DateTime{P: pos, Value: t.t, DateOnly: t.date}
	case tInterval:
		e = &Interval{P: pos, Start: t.t, End: t.t2}
	case tDuration:
		e = &Duration{P: pos, Value: t.dur, Text: t.str}
	case tGeo:
		e = &Geo{P: pos, Geography: t.geoy, WKT: t.str}
	case tIdent:
		return p.identExpr()
	default:
		return nil, p.unexpected("a value, a property or a function")
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return e, nil
}

func (p *parser) identExpr() (Expr, *Error) {
	t := p.tok
	pos := p.pos(t)
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tLParen {
		if n := len(t.segs); n > 1 && (strings.EqualFold(t.segs[n-1].Name, "any") || strings.EqualFold(t.segs[n-1].Name, "all")) {
			return p.lambda(t)
		}
		if len(t.segs) != 1 {
			return nil, p.errAt(t, "%q is not a function name", t.text)
		}
		if strings.EqualFold(t.text, "any") || strings.EqualFold(t.text, "all") {
			return nil, p.errAt(t, "%s follows a collection, e.g. Datastreams/%s(d: d/name eq 'x')", t.text, t.text)
		}
		return p.call(t)
	}
	if len(t.segs) == 1 {
		switch strings.ToLower(t.text) {
		case "true":
			return &Bool{P: pos, Value: true}, nil
		case "false":
			return &Bool{P: pos, Value: false}, nil
		case "null":
			return &Null{P: pos}, nil
		}
	}
	return &Path{P: pos, Segments: t.segs}, nil
}

func (p *parser) call(name token) (Expr, *Error) {
	pos := p.pos(name)
	fn := strings.ToLower(name.text)
	ar, ok := arity[fn]
	if !ok {
		return nil, p.errAt(name, "unknown function %q", name.text)
	}
	open := p.tok
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	var args []Expr
	if p.tok.kind != tRParen {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.tok.kind == tComma {
				if err := p.advance(); err != nil {
					return nil, err
				}
				continue
			}
			if p.tok.kind == tRParen {
				break
			}
			if p.tok.kind == tEOF {
				return nil, p.errAt(p.tok, "expected ')' to close '(' opened at position %d", p.pos(open))
			}
			return nil, p.unexpected("',' or ')'")
		}
	}
	if len(args) < ar[0] || len(args) > ar[1] {
		want := fmt.Sprint(ar[0])
		if ar[1] != ar[0] {
			want = fmt.Sprintf("%d or %d", ar[0], ar[1])
		}
		s := "s"
		if want == "1" {
			s = ""
		}
		return nil, p.errAt(name, "%s takes %s argument%s, got %d", fn, want, s, len(args))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return &Call{P: pos, Name: fn, Args: args}, nil
}

// in parses "in (v1, v2, ...)" after x; the current token is the keyword in.
func (p *parser) in(x Expr) (Expr, *Error) {
	kw := p.tok
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tLParen {
		return nil, p.unexpected("'(' and a list of values after in, e.g. name in ('a','b')")
	}
	open := p.tok
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	in := &In{P: p.pos(kw), X: x}
	for {
		if p.tok.kind == tRParen && len(in.List) == 0 {
			return nil, p.errAt(p.tok, "in needs at least one value in its list")
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		if len(in.List) == MaxInList {
			return nil, p.errAt(kw, "in: a list has at most %d values", MaxInList)
		}
		in.List = append(in.List, v)
		switch p.tok.kind {
		case tComma:
			if err := p.advance(); err != nil {
				return nil, err
			}
			continue
		case tRParen:
			if err := p.advance(); err != nil {
				return nil, err
			}
			return in, nil
		case tEOF:
			return nil, p.errAt(p.tok, "expected ')' to close the list of in opened at position %d", p.pos(open))
		}
		return nil, p.unexpected("',' or ')' in the list of in")
	}
}

// lambda parses Path/any(v: body), Path/all(v: body) or Path/any(); the current token is the
// '(' after the identifier t, whose last segment is any or all.
func (p *parser) lambda(t token) (Expr, *Error) {
	pos := p.pos(t)
	n := len(t.segs)
	op := strings.ToLower(t.segs[n-1].Name)
	lam := &Lambda{P: pos, Path: &Path{P: pos, Segments: t.segs[:n-1]}, All: op == "all"}
	open := p.tok
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tRParen {
		if lam.All {
			return nil, p.errAt(p.tok, "all needs a variable and a condition, e.g. %s/all(d: d/name eq 'x')", lam.Path.Join())
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return lam, nil
	}
	if p.tok.kind != tIdent || len(p.tok.segs) != 1 || !isVarName(p.tok.text) {
		return nil, p.unexpected(fmt.Sprintf("a lambda variable name such as d, as in %s/%s(d: d/name eq 'x')", lam.Path.Join(), op))
	}
	switch strings.ToLower(p.tok.text) {
	case "and", "or", "not", "true", "false", "null", "in", "eq", "ne", "gt", "ge", "lt", "le", "add", "sub", "mul", "div", "mod":
		return nil, p.errAt(p.tok, "%q is a keyword, not a lambda variable name", p.tok.text)
	}
	lam.Var, lam.VarP = p.tok.text, p.pos(p.tok)
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tColon {
		return nil, p.unexpected("':' after the lambda variable " + lam.Var)
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	body, err := p.expr()
	if err != nil {
		return nil, err
	}
	lam.Body = body
	if p.tok.kind != tRParen {
		if p.tok.kind == tEOF {
			return nil, p.errAt(p.tok, "expected ')' to close %s( opened at position %d", op, p.pos(open))
		}
		return nil, p.unexpected(fmt.Sprintf("an operator or ')' to close %s( opened at position %d", op, p.pos(open)))
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	return lam, nil
}

// isVarName reports whether s is a plain name: a letter or '_', then letters, digits or '_'.
func isVarName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return s != ""
}
