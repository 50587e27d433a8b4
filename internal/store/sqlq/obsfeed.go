package sqlq

import (
	"github.com/rabta/rabta/internal/sensing"
)

// The observation feed: the numeric Observations of Datastreams that each write transaction
// stored through Ingest, handed over in memory right after its commit, in commit order (like
// the outbox hand-off, handoff.go). The federation exporter reads new Observations from it
// instead of reading them back (Federation.RawRange), and falls back to that read wherever
// the feed cannot vouch for an id range: an Observation stored another way (a deep insert, an
// import by another process) leaves a gap in the ids the feed has seen.

// ObsFeed takes the Observations each committed ingest transaction stored. Neither method may
// block; both are called holding the store's writer mutex.
type ObsFeed interface {
	// Wants says whether the feed takes anything now: when it does not, no rows are built.
	Wants() bool
	// Committed is given what one committed transaction stored: span, every Observation id it
	// stored, and rows, the numeric Observations of Datastreams among them (those RawRange
	// returns), in id order. The feed keeps rows; span says whether they are all there is.
	Committed(span IDSpan, rows []RawObservation)
}

// IDSpan is the ids one transaction stored: N ids, from Lo to Hi. They are contiguous when
// Hi − Lo + 1 = N (SQLite's single writer, PostgreSQL's block of reserved ids); N is 0 when
// nothing was stored.
type IDSpan struct {
	Lo, Hi int64
	N      int
}

// Contiguous reports whether the span's ids are every id from Lo to Hi.
func (s IDSpan) Contiguous() bool { return s.N > 0 && s.Hi-s.Lo+1 == int64(s.N) }

// feedTx is what the open write transaction stored, for the feed (under Entities.mu).
type feedTx struct {
	span IDSpan
	rows []RawObservation
}

func (f *feedTx) reset() { f.span, f.rows = IDSpan{}, nil }

// feedRows notes the stored observations keep (their ids set) of the open transaction for
// the feed, when there is one that wants them (called holding mu).
func (s *Entities) feedRows(keep []*sensing.Observation) {
	if s.Feed == nil || !s.Feed.Wants() {
		s.feed.span.N = -1 // nothing noted: nothing of this transaction is handed over
		return
	}
	if s.feed.span.N < 0 {
		return
	}
	for _, o := range keep {
		sp := &s.feed.span
		if sp.N == 0 {
			sp.Lo, sp.Hi = o.ID, o.ID
		}
		sp.Lo, sp.Hi, sp.N = min(sp.Lo, o.ID), max(sp.Hi, o.ID), sp.N+1
		if o.MultiDatastreamID == 0 && o.ResultNum != nil {
			s.feed.rows = append(s.feed.rows, RawObservation{ID: o.ID, Datastream: o.DatastreamID, Start: fromUS(us(o.PhenStart)),
				End: fromUS(us(o.PhenEnd)), PhenText: o.PhenText, Result: *o.ResultNum, Flag: int(o.Flag)})
		}
	}
}

// handFeed gives the committed transaction's observations to the feed (called holding mu).
func (s *Entities) handFeed() {
	if s.Feed != nil && s.feed.span.N > 0 {
		s.Feed.Committed(s.feed.span, s.feed.rows)
	}
	s.feed.reset()
}
