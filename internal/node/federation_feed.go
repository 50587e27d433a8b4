package node

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rabta/rabta/internal/store/sqlq"
)

// fedFeedMax is the most Observations the exporter's feed keeps: about 2 MiB. Past it the
// oldest half goes, and what the exporter has not sent of it is read back from the store
// (a back-fill, or a partner's stream full: the store is the truth, the feed a shortcut).
const fedFeedMax = 16384

// fedFeedWait is how long the exporter waits for the feed to catch up with the store before
// it reads the store (an Observation stored by another process, or not through ingest).
const fedFeedWait = 100 * time.Millisecond

// fedFeed is the raw exporter's in-memory feed (sqlq.ObsFeed): the numeric Observations each
// committed ingest transaction stored, in commit order, while some raw agreement is active.
// It vouches for an id range only when it has seen every id in it: ids [from, to] are all
// accounted for, and rows holds the numeric Observations of Datastreams among them, in id
// order. A transaction whose ids do not follow on from to (an Observation stored some other
// way, or by another process), or are not contiguous, starts it anew.
type fedFeed struct {
	want atomic.Bool

	mu       sync.Mutex
	from, to int64 // empty when to < from
	rows     []sqlq.RawObservation
}

var _ sqlq.ObsFeed = (*fedFeed)(nil)

// Wants implements sqlq.ObsFeed.
func (f *fedFeed) Wants() bool { return f.want.Load() }

// Committed implements sqlq.ObsFeed.
func (f *fedFeed) Committed(span sqlq.IDSpan, rows []sqlq.RawObservation) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !span.Contiguous() {
		f.from, f.to, f.rows = span.Hi+1, span.Hi, nil // nothing vouched for up to span.Hi
		return
	}
	if span.Lo != f.to+1 || f.to < f.from-1 {
		f.from, f.rows = span.Lo, nil // a gap: what came before is the store's to tell
	}
	f.to = span.Hi
	f.rows = append(f.rows, rows...)
	if len(f.rows) > fedFeedMax {
		k := len(f.rows) / 2
		f.from = f.rows[k-1].ID + 1
		f.rows = slices.Clone(f.rows[k:])
	}
}

// stop empties the feed and makes the store stop filling it (no raw agreement is active).
func (f *fedFeed) stop() {
	f.want.Store(false)
	f.mu.Lock()
	f.from, f.to, f.rows = 0, -1, nil
	f.mu.Unlock()
}

// last returns the highest id the feed has seen (-1 when it is empty).
func (f *fedFeed) last() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.to < f.from {
		return -1
	}
	return f.to
}

// read returns, when the feed vouches for every id above after up to some upto ≤ hi, the
// rows of datastreams ds (a sorted set) in (after, upto], at most limit of them (upto is then
// the last one's id), and ok; ok is false when it cannot (the caller reads the store).
func (f *fedFeed) read(ds []int64, after, hi int64, limit int) (rows []sqlq.RawObservation, upto int64, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.to < f.from || f.from > after+1 || f.to <= after {
		return nil, 0, false
	}
	upto = min(hi, f.to)
	i, _ := slices.BinarySearchFunc(f.rows, after+1, func(r sqlq.RawObservation, id int64) int { return cmp.Compare(r.ID, id) })
	for ; i < len(f.rows) && f.rows[i].ID <= upto; i++ {
		if _, in := slices.BinarySearch(ds, f.rows[i].Datastream); !in {
			continue
		}
		rows = append(rows, f.rows[i])
		if len(rows) == limit {
			return rows, f.rows[i].ID, true
		}
	}
	return rows, upto, true
}

// trim forgets the rows up to id upto (every raw agreement's cursor is past them).
func (f *fedFeed) trim(upto int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.to < f.from || upto < f.from {
		return
	}
	if upto >= f.to {
		f.from, f.rows = f.to+1, f.rows[:0]
		return
	}
	i, _ := slices.BinarySearchFunc(f.rows, upto+1, func(r sqlq.RawObservation, id int64) int { return cmp.Compare(r.ID, id) })
	f.from = upto + 1
	f.rows = f.rows[:copy(f.rows, f.rows[i:])]
}
