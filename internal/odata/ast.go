package odata

import (
	"fmt"
	"strings"
	"time"
)

// Expr is a node of a $filter or $orderby expression. Every node knows its position: the
// 1-based byte offset of its first character in the text of the query option it came from.
type Expr interface {
	// Pos returns the node's 1-based byte position in the option's text.
	Pos() int
	// String renders the node back as OData text (normalised, fully parenthesised).
	String() string
	expr()
}

// Null is the literal null.
type Null struct{ P int }

// Bool is the literal true or false.
type Bool struct {
	P     int
	Value bool
}

// Int is an integer literal that fits in an int64.
type Int struct {
	P     int
	Value int64
}

// Float is a decimal or double literal (with a fraction or an exponent, or an integer too large
// for an int64).
type Float struct {
	P     int
	Value float64
}

// String is a string literal '...' (” inside stands for one quote), already unescaped.
type String struct {
	P     int
	Value string
}

// DateTime is an unquoted ISO 8601 date-time literal such as 2025-08-27T12:00:00.123+05:00, or
// a date such as 2025-08-27 (DateOnly set; Value is then midnight UTC of that day).
type DateTime struct {
	P        int
	Value    time.Time
	DateOnly bool
}

// Interval is an unquoted ISO 8601 interval literal start/end of two date-times, such as
// 2025-08-27T00:00:00Z/2025-08-28T00:00:00Z.
type Interval struct {
	P          int
	Start, End time.Time
}

// Duration is a duration'P1DT2H' literal. OData durations have days, hours, minutes and
// (fractional) seconds only; years and months are not fixed lengths and are refused.
type Duration struct {
	P     int
	Value time.Duration
	Text  string // as written between the quotes
}

// Geo is a geography'...' or geometry'...' literal holding well-known text. An OData
// "SRID=4326;" prefix is removed from WKT (Rabta's geometries are all WGS 84).
type Geo struct {
	P         int
	Geography bool // geography'...' rather than geometry'...'
	WKT       string
}

// Segment is one step of a Path.
type Segment struct {
	Name string
	P    int // 1-based position of the segment's first character
}

// Path is a property path a/b/c: an entity property, navigation properties leading to one,
// or a JSON path inside a JSON-valued property (properties/owner/name). An array index written
// a[0] is given as its own segment "0", like a/0.
type Path struct {
	P        int
	Segments []Segment
}

// Op is a binary or unary operator.
type Op string

// Operators.
const (
	OpEq  Op = "eq"
	OpNe  Op = "ne"
	OpGt  Op = "gt"
	OpGe  Op = "ge"
	OpLt  Op = "lt"
	OpLe  Op = "le"
	OpAnd Op = "and"
	OpOr  Op = "or"
	OpAdd Op = "add"
	OpSub Op = "sub"
	OpMul Op = "mul"
	OpDiv Op = "div"
	OpMod Op = "mod"
	OpNot Op = "not" // unary
	OpNeg Op = "-"   // unary minus
)

// IsComparison reports whether op is eq, ne, gt, ge, lt or le.
func (op Op) IsComparison() bool {
	switch op {
	case OpEq, OpNe, OpGt, OpGe, OpLt, OpLe:
		return true
	}
	return false
}

// IsArithmetic reports whether op is add, sub, mul, div or mod.
func (op Op) IsArithmetic() bool {
	switch op {
	case OpAdd, OpSub, OpMul, OpDiv, OpMod:
		return true
	}
	return false
}

// Binary is a binary operation: a comparison, a logical and/or, or arithmetic.
// P is the position of the operator keyword.
type Binary struct {
	P    int
	Op   Op
	L, R Expr
}

// Unary is not X or -X. P is the position of the operator.
type Unary struct {
	P  int
	Op Op // OpNot or OpNeg
	X  Expr
}

// Call is a function call. Name is lower case ("substringof", "geo.distance", "st_within");
// the number of arguments has been checked against the function's arity.
type Call struct {
	P    int
	Name string
	Args []Expr
}

// Lambda is a lambda operator over a collection (OData 4.0 URL conventions §5.1.1.10):
// Path/any(v: Body) is true when Body holds for at least one member v of the collection Path,
// Path/all(v: Body) when it holds for every member (and so for an empty collection). Path/any()
// without a variable is true when the collection has a member. Inside Body, a path starting
// with Var refers to the member; other paths refer to the entity the filter applies to ($it).
// P is the position of the path's first character.
type Lambda struct {
	P    int
	Path *Path  // the collection, without the any/all segment
	All  bool   // all rather than any
	Var  string // "" for any()
	VarP int    // position of Var
	Body Expr   // nil for any()
}

// In is X in (List...) (OData 4.01 §5.1.1.1.11): true when X equals one of the values.
// P is the position of the keyword in.
type In struct {
	P    int
	X    Expr
	List []Expr
}

// MaxInList bounds the number of values in one in (...) list.
const MaxInList = 1000

func (e *Null) Pos() int     { return e.P }
func (e *Bool) Pos() int     { return e.P }
func (e *Int) Pos() int      { return e.P }
func (e *Float) Pos() int    { return e.P }
func (e *String) Pos() int   { return e.P }
func (e *DateTime) Pos() int { return e.P }
func (e *Interval) Pos() int { return e.P }
func (e *Duration) Pos() int { return e.P }
func (e *Geo) Pos() int      { return e.P }
func (e *Path) Pos() int     { return e.P }
func (e *Binary) Pos() int   { return e.P }
func (e *Unary) Pos() int    { return e.P }
func (e *Call) Pos() int     { return e.P }
func (e *Lambda) Pos() int   { return e.P }
func (e *In) Pos() int       { return e.P }

func (*Null) expr()     {}
func (*Bool) expr()     {}
func (*Int) expr()      {}
func (*Float) expr()    {}
func (*String) expr()   {}
func (*DateTime) expr() {}
func (*Interval) expr() {}
func (*Duration) expr() {}
func (*Geo) expr()      {}
func (*Path) expr()     {}
func (*Binary) expr()   {}
func (*Unary) expr()    {}
func (*Call) expr()     {}
func (*Lambda) expr()   {}
func (*In) expr()       {}

func (e *Null) String() string { return "null" }
func (e *Bool) String() string { return fmt.Sprint(e.Value) }
func (e *Int) String() string  { return fmt.Sprint(e.Value) }
func (e *Float) String() string {
	s := fmt.Sprint(e.Value)
	if !strings.ContainsAny(s, ".eEIN") {
		s += ".0"
	}
	return s
}
func (e *String) String() string { return "'" + strings.ReplaceAll(e.Value, "'", "''") + "'" }
func (e *DateTime) String() string {
	if e.DateOnly {
		return e.Value.Format(time.DateOnly)
	}
	return e.Value.Format(time.RFC3339Nano)
}
func (e *Interval) String() string {
	return e.Start.Format(time.RFC3339Nano) + "/" + e.End.Format(time.RFC3339Nano)
}
func (e *Duration) String() string { return "duration'" + strings.ReplaceAll(e.Text, "'", "''") + "'" }
func (e *Geo) String() string {
	if e.Geography {
		return "geography'" + strings.ReplaceAll(e.WKT, "'", "''") + "'"
	}
	return "geometry'" + strings.ReplaceAll(e.WKT, "'", "''") + "'"
}
func (e *Path) String() string { return e.Join() }
func (e *Binary) String() string {
	return "(" + e.L.String() + " " + string(e.Op) + " " + e.R.String() + ")"
}
func (e *Unary) String() string {
	if e.Op == OpNot {
		return "(not " + e.X.String() + ")"
	}
	return "(-" + e.X.String() + ")"
}
func (e *Call) String() string {
	var b strings.Builder
	b.WriteString(e.Name)
	b.WriteByte('(')
	for i, a := range e.Args {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.String())
	}
	b.WriteByte(')')
	return b.String()
}

func (e *Lambda) String() string {
	op := "any"
	if e.All {
		op = "all"
	}
	if e.Body == nil {
		return e.Path.Join() + "/" + op + "()"
	}
	return e.Path.Join() + "/" + op + "(" + e.Var + ":" + e.Body.String() + ")"
}
func (e *In) String() string {
	var b strings.Builder
	b.WriteString("(" + e.X.String() + " in (")
	for i, a := range e.List {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(a.String())
	}
	b.WriteString("))")
	return b.String()
}

// Names returns the path's segment names.
func (e *Path) Names() []string {
	names := make([]string, len(e.Segments))
	for i, s := range e.Segments {
		names[i] = s.Name
	}
	return names
}

// Join returns the path as written, segments joined by "/".
func (e *Path) Join() string { return strings.Join(e.Names(), "/") }
