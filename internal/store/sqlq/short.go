package sqlq

import "context"

// shortKey marks a context whose statements end in microseconds (Short).
type shortKey struct{}

// Short marks ctx for statements that end in microseconds — a lookup by a unique key, a read
// of a table of a few rows — whose cancellation is not worth watching: the SQLite driver
// (modernc.org/sqlite) starts a goroutine and installs a progress handler for every statement
// run with a context that can end, which was about 5 % of the allocations of a single POST
// for the API key lookup alone. The SQLite engine runs a Short context's statements without
// its cancellation (context.WithoutCancel: its values, the principal, stay); PostgreSQL
// ignores the mark. Never use it for a statement whose time depends on the data or the
// request (a list, a filter, a count): those must stay interruptible.
func Short(ctx context.Context) context.Context { return context.WithValue(ctx, shortKey{}, true) }

// IsShort reports whether ctx was marked with Short.
func IsShort(ctx context.Context) bool { return ctx.Value(shortKey{}) != nil }
