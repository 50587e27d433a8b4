package sensing

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rabta/rabta/internal/apperr"
)

// Budget bounds what one response may hold, across every level of $expand and every part of a
// $batch: Rows entities read and Bytes of their values as read (EntitySize: about the size of
// their JSON), which bounds the memory a response takes. A store charges each entity it reads
// with Take, and gives back with Give what it read but leaves out of the answer. A Take that
// would go over either limit fails and is counted (Misses): the store then cuts the answer
// there, with server-driven paging where that gives a correct answer. A nil *Budget is
// unbounded. It is safe for concurrent use.
type Budget struct {
	Rows  int64
	Bytes int64

	mu          sync.Mutex
	rows, bytes int64
	misses      int64
	over        string // the limit the last failed Take went over: "rows" or "bytes"
}

// NewBudget returns a budget of rows entities and bytes bytes.
func NewBudget(rows, bytes int64) *Budget { return &Budget{Rows: rows, Bytes: bytes} }

// Take charges one entity of size bytes (EntitySize). It reports false, charges nothing and
// counts a miss when that would go over either limit.
func (b *Budget) Take(size int64) bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.rows+1 > b.Rows:
		b.misses++
		b.over = "rows"
		return false
	case b.bytes+size > b.Bytes:
		b.misses++
		b.over = "bytes"
		return false
	}
	b.rows++
	b.bytes += size
	return true
}

// Give gives back rows entities of bytes bytes taken before (read, then left out).
func (b *Budget) Give(rows, bytes int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rows = max(0, b.rows-rows)
	b.bytes = max(0, b.bytes-bytes)
}

// Miss counts a miss without a Take: an entity that was not even read, the rows being used up.
func (b *Budget) Miss() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.misses++
	b.over = "rows"
}

// Misses returns the number of Takes that failed so far (and of Miss calls).
func (b *Budget) Misses() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.misses
}

// Left returns the rows not yet taken (a large number for a nil Budget).
func (b *Budget) Left() int64 {
	if b == nil {
		return 1 << 62
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Rows - b.rows
}

// Used returns the rows and bytes taken and not given back.
func (b *Budget) Used() (rows, bytes int64) {
	if b == nil {
		return 0, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.rows, b.bytes
}

// Err is the error of an answer that cannot be given within b, not even in part (its first
// entity, with what its $expand asks for, does not fit): apperr.TooLarge (413) naming the
// limit it went over.
func (b *Budget) Err() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	what := fmt.Sprintf("the limit of %d entities in one response (max_response_rows)", b.Rows)
	if b.over == "bytes" {
		what = fmt.Sprintf("the limit of %d bytes in one response (max_response_bytes)", b.Bytes)
	}
	return apperr.E(apperr.TooLarge, "the response is over %s, and no part of it can be given with a nextLink to the rest: "+
		"ask for less (a smaller $top, fewer or narrower $expand levels; in a $batch, fewer or smaller requests)", what)
}

// EntitySize is what e costs a Budget, in bytes: 64, plus its properties' names and values
// (strings and JSON by their length, anything else 8).
func EntitySize(e *Entity) int64 {
	n := int64(64)
	for k, v := range e.Props {
		n += int64(len(k))
		switch x := v.(type) {
		case string:
			n += int64(len(x))
		case json.RawMessage:
			n += int64(len(x))
		default:
			n += 8
		}
	}
	return n
}

// BudgetMark is what a Budget had charged at one moment (Budget.Mark).
type BudgetMark struct{ rows, bytes, misses int64 }

// Mark returns what b has charged so far, for Rewind.
func (b *Budget) Mark() BudgetMark {
	if b == nil {
		return BudgetMark{}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return BudgetMark{b.rows, b.bytes, b.misses}
}

// Rewind gives back all b charged since Mark returned m: a store that reads an answer again
// (sqlq's remoteview.go) charges it once.
func (b *Budget) Rewind(m BudgetMark) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rows, b.bytes, b.misses = m.rows, m.bytes, m.misses
}
