package odata

import "fmt"

// Error is a syntax or semantic error in a query option. Pos is the 1-based byte offset in the
// option's (URL-decoded) text where the problem was found; 0 means the error concerns the
// option as a whole.
type Error struct {
	Option string // "$filter", "$expand", ...
	Pos    int
	Msg    string
}

func (e *Error) Error() string {
	if e.Pos > 0 {
		return fmt.Sprintf("%s: position %d: %s", e.Option, e.Pos, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.Option, e.Msg)
}

// UserMessage returns Error(): the option, the position and the problem are written for the
// client who sent the query (see apperr).
func (e *Error) UserMessage() string { return e.Error() }

// Limits on what the parsers accept, so that no input can exhaust memory or the stack.
const (
	// MaxLength is the longest option value accepted, in bytes.
	MaxLength = 64 << 10
	// MaxDepth is the deepest nesting of parentheses, function calls, unary operators and
	// $expand levels accepted.
	MaxDepth = 100
	// MaxExpandDepth is the most levels of navigation an $expand may go through, counting
	// each step of a path (Datastreams/Observations is two) and each nested $expand: the
	// answer grows with the product of the levels' sizes (issue 15).
	MaxExpandDepth = 8
)
