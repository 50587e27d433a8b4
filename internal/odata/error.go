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
	// MaxDepth is the deepest nesting accepted: of parentheses and $expand levels while
	// parsing, and of the expression tree parsed, where each operator (eq, add, not, unary
	// minus ...), function call, in and any/all is one level. A chain of and or or is one
	// balanced tree, log2(terms) levels deep, so any number of terms within MaxLength is
	// accepted; a chain of 1,000 adds is 1,000 levels and is not.
	MaxDepth = 100
	// MaxOrderBy is the most terms an $orderby may have: a page after the first compares
	// every term with the cursor, one nested condition per term.
	MaxOrderBy = 32
	// MaxExpandDepth is the most levels of navigation an $expand may go through, counting
	// each step of a path (Datastreams/Observations is two) and each nested $expand: the
	// answer grows with the product of the levels' sizes (issue 15).
	MaxExpandDepth = 8
	// MaxSkip is the largest $skip accepted, at every level of $expand: the database reads and
	// drops every skipped row, so a deep $skip costs in proportion to its depth. Deeper pages
	// are reached through @iot.nextLink, whose $skiptoken (keyset) starts where the page
	// before ended at any depth (docs/sensorthings.md, "Paging").
	MaxSkip = 10000
)
