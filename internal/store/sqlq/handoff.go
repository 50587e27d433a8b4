package sqlq

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
	if len(s.handoff) > 0 && s.Handoff != nil {
		s.Handoff.Missed()
	}
	s.handoff = s.handoff[:0]
}
