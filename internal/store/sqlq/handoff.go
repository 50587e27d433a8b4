package sqlq

import (
	"sync"
	"time"

	"github.com/rabta/rabta/internal/sensing"
)

// The outbox hand-off: the entries a write transaction adds to the outbox (writeOutbox), with
// their bus payloads built from the observations in memory, are handed to the relay right
// after the commit — in commit order, since this process's writers are serialised by
// Entities.mu and the hand-off happens before mu is released. The relay publishes them without
// reading anything back; the outbox rows stay for crash recovery and are read back
// (OutboxPending) only after a restart, or when the relay could not take a hand-off.

// OutboxSink takes committed outbox entries (the relay; see bus.Relay.Handoff). Neither
// method may block.
type OutboxSink interface {
	// Handoff is given the entries of one committed transaction, oldest first.
	Handoff(entries []OutboxEntry)
	// Missed says entries were written that may have committed and were not handed off (a
	// commit that failed without saying whether it happened): the sink must read the outbox.
	Missed()
}

// handOff gives the committed transaction's entries to the sink (called holding mu).
func (s *Entities) handOff() {
	s.handFeed() // obsfeed.go
	if len(s.handoff) == 0 {
		return
	}
	if s.Handoff != nil {
		s.Handoff.Handoff(s.handoff)
	}
	s.handoff = nil // the sink keeps the slice
}

// dropHandoff forgets the entries of a failed transaction (called holding mu).
func (s *Entities) dropHandoff() {
	s.feed.reset() // obsfeed.go: the feed sees a gap, and reads the store there
	if len(s.handoff) > 0 && s.Handoff != nil {
		s.Handoff.Missed()
	}
	s.handoff = s.handoff[:0]
}

// outboxPayload is the bus payload of the observations obs[idx] (compact form,
// sensing.ObsBatch.AppendBinary): what OutboxPending reads back for the same entry. It is
// written in one pass through a pooled sensing.ObsEncoder, into a buffer of exactly its size
// (the relay keeps it until published), with no []sensing.ObsItem made on the way.
func outboxPayload(node string, multi bool, key int64, accepted time.Time, by string, obs []sensing.Observation, idx []int) []byte {
	b := sensing.ObsBatch{V: sensing.ObsBatchBinary, Node: node, Datastream: key, Accepted: accepted, By: by}
	if multi {
		b.Datastream, b.MultiDatastream = 0, key
	}
	e := obsEncoders.Get().(*sensing.ObsEncoder)
	defer obsEncoders.Put(e)
	e.Reset()
	var it sensing.ObsItem
	for _, i := range idx {
		o := &obs[i]
		it = sensing.ObsItem{ID: o.ID, PhenomenonTime: o.PhenText, Start: time.UnixMicro(us(o.PhenStart)), End: time.UnixMicro(us(o.PhenEnd)),
			ResultTime: o.ResultTimeText, Result: o.ResultJSON, Flag: o.Flag, Quality: o.Quality, FoI: o.FoIID, Parameters: o.Parameters}
		if o.ResultNum != nil {
			it.Num, it.IsNum = *o.ResultNum, true
		}
		e.Add(&it)
	}
	return e.Append(nil, &b)
}

// obsEncoders keeps outboxPayload's encoders (their column buffers) between batches.
var obsEncoders = sync.Pool{New: func() any { return new(sensing.ObsEncoder) }}
