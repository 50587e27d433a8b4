package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCacheMax is how many statements a stmtCache keeps prepared; statements beyond it (texts
// built for one batch size, rare queries) are prepared for each call, as without a cache.
const stmtCacheMax = 512

// stmtCache keeps statements prepared on a *sql.DB by their SQL text, so that the same
// statement is not parsed again on every call: SQLite spent about a quarter of the server's CPU
// in sqlite3_prepare on single-observation POSTs before it (docs/bench.md). A transaction
// uses one with Tx.StmtContext, which reuses the statement already prepared on its connection.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	want   map[string]bool // used but not prepared yet
	closed bool
}

// stmt returns the cached statement for query, or nil (and no error) when it is not prepared
// yet: then it is noted, and prepared by the next prepareWanted. A statement is never prepared
// on the *sql.DB while a transaction runs, since that waits for a free connection — the
// writer has only one, the transaction's.
func (c *stmtCache) stmt(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st
	}
	if len(c.m)+len(c.want) < stmtCacheMax {
		if c.want == nil {
			c.want = map[string]bool{}
		}
		c.want[query] = true
	}
	return nil
}

// prepareWanted prepares the statements noted by stmt; called after a transaction ends, with
// its connection free again. A statement that does not prepare is left out.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	if len(c.want) == 0 || c.db == nil {
		c.mu.Unlock()
		return
	}
	var qs []string
	for q := range c.want {
		qs = append(qs, q)
	}
	clear(c.want)
	c.mu.Unlock()
	// without c.mu: preparing waits for a free connection, which another transaction may hold
	// while it looks statements up
	for _, q := range qs {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, ok := c.m[q]; ok || c.m == nil && c.closed {
			st.Close()
		} else {
			if c.m == nil {
				c.m = map[string]*sql.Stmt{}
			}
			c.m[q] = st
		}
		c.mu.Unlock()
	}
}

// close closes every cached statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, st := range c.m {
		errs = append(errs, st.Close())
	}
	c.m, c.closed = nil, true
	return errors.Join(errs...)
}

// prepared returns query's cached statement bound to e's transaction, or nil when e has no
// cache or the cache is full.
func (e execer) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	if e.stmts == nil {
		return nil, nil
	}
	st := e.stmts.stmt(query)
	if st == nil {
		return nil, nil
	}
	if tx, ok := e.q.(*sql.Tx); ok {
		return tx.StmtContext(ctx, st), nil
	}
	return st, nil // on the pool itself: the statement finds a connection of its own
}
