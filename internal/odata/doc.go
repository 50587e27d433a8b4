// Package odata parses the OData query options of the SensorThings API 1.1: $filter,
// $orderby, $select, $expand, $top, $skip, $count and $resultFormat.
//
// It is pure: it knows the syntax but not the data model. ParseFilter and ParseOrderBy return
// an Expr tree (Binary, Unary, Call, Path and literals) with the 1-based byte position of every
// node, so that a later stage (the SQL compiler in store/sqlq, which resolves paths against
// the entity sets) can report errors at the right place. ParseOptions parses all options of a
// request, including the options nested in $expand items.
//
// Every error is an *Error naming the option and the position. Input is bounded by MaxLength
// and nesting by MaxDepth, so that no query can exhaust the stack; the parsers never panic
// (they are fuzzed).
package odata
