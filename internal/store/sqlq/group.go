package sqlq

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// Group commit: concurrent small ingest calls (one observation per HTTP POST, an MQTT
// publish) are coalesced into one write transaction — one commit, one fsync — the way
// PostgreSQL's WAL flush serves many writers at once. Each caller returns only after the
// commit that holds its observations, so nothing acknowledged can be lost.
//
// There is no committer goroutine: the first caller to find nobody committing becomes the
// leader, takes whatever has queued (itself included, at most groupMaxCalls calls and
// groupMaxObs observations), commits it, hands the results back, and passes leadership to
// the first call still queued. Each call keeps its own context inside the transaction (its
// principal for the owner check and the outbox's key) and its own per-item errors: a QC
// refusal or an unknown datastream refuses that item only. When the shared transaction
// fails as a whole (a database error), every call of the group is run again on its own, so
// that one call's failure never becomes another's.
const (
	groupMaxCalls = 256  // calls one group commit takes at most
	groupMaxObs   = 4096 // observations one group commit takes at most
	groupMaxCall  = 64   // calls with more observations than this commit on their own
)

// groupCall is one Ingest call waiting in a group.
type groupCall struct {
	ctx   context.Context
	obs   []sensing.Observation
	dedup bool

	ids  []int64
	errs []error
	err  error
	wake chan bool // true: lead the next group; false: done (results set)
}

// grouper queues ingest calls for group commit.
type grouper struct {
	mu      sync.Mutex
	queue   []*groupCall
	leading bool // a leader is committing

	groups, calls atomic.Int64 // group commits made and the calls they held (GroupStats)
}

// grouped reports whether an ingest call of obs goes through group commit: calls outside
// an Atomic transaction (which must join their caller's transaction instead), of at most
// groupMaxCall observations.
func (s *Entities) grouped(ctx context.Context, obs []sensing.Observation) bool {
	return !s.NoGroupCommit && len(obs) > 0 && len(obs) <= groupMaxCall && s.outer(ctx) == nil
}

// groupIngest stores obs in a group commit (see the comment at the top of this file).
func (s *Entities) groupIngest(ctx context.Context, obs []sensing.Observation, dedup bool) ([]int64, []error, error) {
	c := &groupCall{ctx: ctx, obs: obs, dedup: dedup, wake: make(chan bool, 1)}
	g := &s.group
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if !lead {
		lead = <-c.wake // the caller's context is not watched: its observations may be committing
	}
	if lead {
		s.leadGroup()
	}
	return c.ids, c.errs, c.err
}

// leadGroup takes the queued calls (the leader's own is first), commits them, wakes their
// callers and hands leadership on.
func (s *Entities) leadGroup() {
	g := &s.group
	g.mu.Lock()
	n, nobs := 0, 0
	// one group is all Ingest or all IngestNew calls (insertParts checks duplicates for all or none)
	for n < len(g.queue) && n < groupMaxCalls && (n == 0 || nobs+len(g.queue[n].obs) <= groupMaxObs && g.queue[n].dedup == g.queue[0].dedup) {
		nobs += len(g.queue[n].obs)
		n++
	}
	batch := append([]*groupCall(nil), g.queue[:n]...)
	g.queue = append(g.queue[:0], g.queue[n:]...)
	g.mu.Unlock()

	s.commitGroup(batch)
	g.groups.Add(1)
	g.calls.Add(int64(len(batch)))

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].wake <- true // still queued: it takes the next group
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	for _, c := range batch[1:] {
		c.wake <- false
	}
}

// commitGroup stores the calls of batch in one transaction, or, when that fails as a whole,
// each on its own.
func (s *Entities) commitGroup(batch []*groupCall) {
	if len(batch) == 1 {
		// without cancellation, as a group's transaction: a caller gone mid-commit does not
		// interrupt it (its write may be stored unacknowledged, as any write whose answer is
		// lost), and the drivers watch nothing (database/sql's BeginTx and the SQLite driver
		// start a goroutine per transaction and per statement for a context that can end)
		c := batch[0]
		c.ids, c.errs, c.err = s.ingestAlone(context.WithoutCancel(c.ctx), c.obs, c.dedup)
		return
	}
	// the transaction runs on the leader's context without its deadline or cancellation:
	// the others' observations are in it too
	ctx := context.WithoutCancel(batch[0].ctx)
	err := s.eng.Prepare(ctx, func() []time.Time {
		var times []time.Time
		for _, c := range batch {
			for i := range c.obs {
				times = append(times, c.obs[i].PhenStart)
			}
		}
		return times
	})
	parts := make([]insertPart, len(batch))
	if err == nil {
		err = s.tx(ctx, "Observations", func(tx Tx) error {
			for i, c := range batch {
				// insert works on a copy: a failed attempt must not leave ids or FoIs in obs
				parts[i] = insertPart{ctx: c.ctx, obs: append(parts[i].obs[:0], c.obs...)}
			}
			// every call's observations in one set of statements (ingest.go)
			return s.insertParts(tx, parts, false, batch[0].dedup)
		})
	}
	if err != nil {
		// one failure of the shared transaction must not become everybody's: each alone
		for _, c := range batch {
			c.ids, c.errs, c.err = s.ingestAlone(context.WithoutCancel(c.ctx), c.obs, c.dedup)
		}
		return
	}
	total := 0
	for i, c := range batch {
		copy(c.obs, parts[i].obs)
		c.ids, c.errs = parts[i].ids, parts[i].errs
		for _, id := range c.ids {
			if id != 0 {
				total++
			}
		}
	}
	if s.AfterCommit != nil {
		s.AfterCommit(total)
	}
}

// GroupStats returns how many group commits this Entities has made and how many ingest calls
// they held, since it was made: calls ÷ groups is the mean group size (for benchmarks and
// metrics; a group of one is a call that found nobody to share its commit with).
func (s *Entities) GroupStats() (groups, calls int64) {
	return s.group.groups.Load(), s.group.calls.Load()
}

// Queued is how many ingest calls wait for a group commit now (for metrics and tests).
func (s *Entities) Queued() int {
	s.group.mu.Lock()
	defer s.group.mu.Unlock()
	return len(s.group.queue)
}
