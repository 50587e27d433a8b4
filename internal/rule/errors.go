package rule

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// FieldError is one problem in a rule, at a field path such as "rules[1].levels[2].value".
// File, Line and Col are set when the rule came from a file (ParseYAML); Line and Col are
// 1-based.
type FieldError struct {
	File string
	Line int
	Col  int
	Path string
	Msg  string
}

// Error returns "file:line:col: path: msg", leaving out what is unknown.
func (e *FieldError) Error() string {
	var b strings.Builder
	if e.File != "" || e.Line > 0 {
		if e.File != "" {
			b.WriteString(e.File)
			b.WriteByte(':')
		}
		switch {
		case e.Line > 0 && e.Col > 0:
			fmt.Fprintf(&b, "%d:%d:", e.Line, e.Col)
		case e.Line > 0:
			fmt.Fprintf(&b, "%d:", e.Line)
		}
		b.WriteByte(' ')
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// UserMessage returns Error(): the position and the problem are written for whoever wrote the
// rule (see apperr).
func (e *FieldError) UserMessage() string { return e.Error() }

// ErrorList is every problem found in a rule or a rules file, in file order. Like
// go/scanner.ErrorList, it is an error when it is not empty.
type ErrorList []*FieldError

// maxErrors bounds an ErrorList, so that a garbage file gives a readable answer.
const maxErrors = 50

// Error returns the problems one per line.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// UserMessage returns Error(), every problem for whoever wrote the rules (see apperr).
func (l ErrorList) UserMessage() string { return l.Error() }

// sort orders the list by position, then path, keeping the order of equal entries.
func (l ErrorList) sort() {
	slices.SortStableFunc(l, func(a, b *FieldError) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Col, b.Col))
	})
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
