package sensorthings

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// The bounds of one read (issue 15: one anonymous request must not exhaust the node). A
// response holds at most MaxRows entities and MaxBytes bytes of their values, counted over
// every level of $expand and every part of a $batch (sensing.Budget); over that, the answer
// is cut with server-driven paging where that is correct, and is otherwise a 413 naming the
// limit. A read stops at its deadline (Timeout: 503 naming it) and as soon as the client goes
// away: the context reaches every store query, and each engine's driver interrupts the one
// running.
const (
	// DefaultMaxRows is the default of Server.MaxRows: entities in one response.
	DefaultMaxRows = 50_000
	// DefaultMaxBytes is the default of Server.MaxBytes: bytes of entity values in one
	// response (sensing.EntitySize), 32 MiB.
	DefaultMaxBytes = 32 << 20
	// DefaultTimeout is the default of Server.Timeout: how long a read may run.
	DefaultTimeout = 60 * time.Second
)

func (s *Server) maxRows() int64 {
	if s.MaxRows > 0 {
		return s.MaxRows
	}
	return DefaultMaxRows
}

func (s *Server) maxBytes() int64 {
	if s.MaxBytes > 0 {
		return s.MaxBytes
	}
	return DefaultMaxBytes
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// budgetKey carries the budget a $batch's parts share.
type budgetKey struct{}

// deadlineKey carries the deadline a $batch's reads share.
type deadlineKey struct{}

// budget returns the budget of the request: its batch's, or a new one.
func (s *Server) budget(ctx context.Context) *sensing.Budget {
	if b, ok := ctx.Value(budgetKey{}).(*sensing.Budget); ok {
		return b
	}
	return sensing.NewBudget(s.maxRows(), s.maxBytes())
}

// withBatchLimits returns ctx carrying one budget and one read deadline for all the parts of
// a batch.
func (s *Server) withBatchLimits(ctx context.Context) context.Context {
	ctx = context.WithValue(ctx, budgetKey{}, sensing.NewBudget(s.maxRows(), s.maxBytes()))
	return context.WithValue(ctx, deadlineKey{}, time.Now().Add(s.timeout()))
}

// readDeadline returns r with the deadline of a read: Timeout from now, or the deadline its
// batch's reads share.
func (s *Server) readDeadline(r *http.Request) (*http.Request, context.CancelFunc) {
	d := time.Now().Add(s.timeout())
	if bd, ok := r.Context().Value(deadlineKey{}).(time.Time); ok {
		d = bd
	}
	ctx, cancel := context.WithDeadline(r.Context(), d)
	ctx = context.WithValue(ctx, timeoutKey{}, s.timeout())
	return r.WithContext(ctx), cancel
}

// timeoutKey marks the context of a read with its time limit, for the message.
type timeoutKey struct{}

// errGone is the error of a request whose client went away before its answer was ready.
var errGone = errors.New("the client went away")

// contextErr gives an error of a request whose context ended its meaning: the read's
// deadline passed (503 naming the limit), or the client went away. Others are returned as
// they are.
func contextErr(r *http.Request, err error) error {
	ctx := r.Context()
	switch {
	case ctx.Err() == nil || (apperr.KindOf(err) != apperr.Internal && apperr.KindOf(err) != apperr.Unavailable):
		return err // Unavailable: a transaction that could not begin once the context ended
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		limit, _ := ctx.Value(timeoutKey{}).(time.Duration)
		return apperr.Wrap(apperr.Unavailable, err, "the request ran over the time limit of %v for a read (query_timeout): "+
			"ask for less (a smaller $top, fewer $expand levels, a narrower $filter) or try again later", limit)
	default:
		return fmt.Errorf("%w: %w", errGone, err)
	}
}

// DefaultMaxReads is the default of Server.MaxReads: reads served at once. With the response
// budget it bounds the memory reads can hold together (16 × 32 MiB of values at most).
const DefaultMaxReads = 16

// DefaultReadQueue is how long a read waits for its turn when MaxReads are being served,
// before it is a 503 naming the limit.
const DefaultReadQueue = 10 * time.Second

// readQueue is DefaultReadQueue (a variable so that tests can wait less).
var readQueue = DefaultReadQueue

// readGate lets at most MaxReads reads run at once; the others wait, in no particular order,
// up to DefaultReadQueue (or their deadline, or until their client goes away).
type readGate chan struct{}

func (s *Server) gate() readGate {
	s.gateOnce.Do(func() {
		n := s.MaxReads
		if n <= 0 {
			n = DefaultMaxReads
		}
		s.reads = make(readGate, n)
	})
	return s.reads
}

// enterRead takes a turn among the reads running at once, and returns the function that
// gives it back (a $batch's reads take theirs one after another). Past the wait: 503 naming
// the limit, with Retry-After.
func (s *Server) enterRead(w http.ResponseWriter, r *http.Request) (func(), error) {
	g := s.gate()
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	default:
	}
	t := time.NewTimer(readQueue)
	defer t.Stop()
	select {
	case g <- struct{}{}:
		return func() { <-g }, nil
	case <-r.Context().Done():
		return nil, contextErr(r, apperr.Wrap(apperr.Unavailable, r.Context().Err(), "waiting for a turn among the reads served at once"))
	case <-t.C:
		w.Header().Set("Retry-After", "1")
		return nil, apperr.E(apperr.Unavailable, "the node is serving its limit of %d reads at once (max_concurrent_reads), and none ended within %v: try again later", cap(g), readQueue)
	}
}
