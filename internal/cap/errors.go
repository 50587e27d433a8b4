package cap

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors, for errors.Is. Every error returned by this package that is caused by bad
// input wraps exactly one of them inside an *Error that says where.
var (
	// ErrTooLarge: the input is over MaxSize (or MaxFeedSize).
	ErrTooLarge = errors.New("input too large")
	// ErrTooDeep: elements are nested deeper than MaxDepth.
	ErrTooDeep = errors.New("elements nested too deeply")
	// ErrDoctype: the input has a DOCTYPE or entity declaration (refused: XXE, billion laughs).
	ErrDoctype = errors.New("DOCTYPE and entity declarations are not allowed")
	// ErrCharset: the declared encoding is neither UTF-8, US-ASCII nor ISO-8859-1.
	ErrCharset = errors.New("unsupported character encoding")
	// ErrSyntax: the input is not well-formed XML.
	ErrSyntax = errors.New("not well-formed XML")
	// ErrNamespace: the root is not a CAP 1.2 <alert> (wrong namespace or element).
	ErrNamespace = errors.New("not a CAP 1.2 alert")
	// ErrSchema: the alert breaks the CAP 1.2 XML schema (missing, repeated or unknown
	// element, bad enumeration value, bad date-time or number).
	ErrSchema = errors.New("not valid against the CAP 1.2 schema")
	// ErrInvalid: the alert is schema-valid but breaks a rule of the CAP 1.2 specification
	// that the schema cannot express (polygon closed, references format, time order...).
	ErrInvalid = errors.New("breaks a CAP 1.2 rule")
	// ErrDegenerate: an area CAP 1.2 allows but that bounds nothing usable: a polygon that
	// crosses, touches or runs back over itself or encloses no area, a circle of radius 0
	// (Degenerate reports them; CheckIssue refuses them).
	ErrDegenerate = errors.New("area bounds nothing usable")
	// ErrStale: CheckIssue refused an alert that is out of date at the time of issue.
	ErrStale = errors.New("alert is stale")
	// ErrSignature: Verify found no signature, a signature that does not verify, or an
	// untrusted certificate.
	ErrSignature = errors.New("signature not valid")
	// ErrFeed: ParseFeed found something that is not an Atom 1.0 or RSS 2.0 feed.
	ErrFeed = errors.New("not an Atom or RSS feed")
)

// Error is one problem with one element. Path names the element like
// alert/info[1]/area[0]/polygon[2] (0-based indexes, on repeatable elements only); Line is the
// 1-based line in the input when the error comes from decoding, 0 otherwise.
type Error struct {
	Path string
	Line int
	Msg  string
	Kind error // one of the sentinel errors above
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("cap: ")
	if e.Path != "" {
		b.WriteString(e.Path)
		if e.Line > 0 {
			fmt.Fprintf(&b, " (line %d)", e.Line)
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel kind, so errors.Is(err, cap.ErrSchema) works.
func (e *Error) Unwrap() error { return e.Kind }

// UserMessage returns Error(): the element, the line and the problem are written for whoever
// sent the message (see apperr).
func (e *Error) UserMessage() string { return e.Error() }

// Errors is every problem Validate found, in document order.
type Errors []*Error

func (es Errors) Error() string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// UserMessage returns Error(), every problem for whoever sent the message (see apperr).
func (es Errors) UserMessage() string { return es.Error() }

// Unwrap lets errors.Is and errors.As see each problem.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func errf(kind error, path string, line int, format string, args ...any) *Error {
	return &Error{Path: path, Line: line, Msg: fmt.Sprintf(format, args...), Kind: kind}
}
