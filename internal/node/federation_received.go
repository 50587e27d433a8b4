package node

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/federation"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// What the node receives (docs/federation.md, "What a node receives"): each link keeps, per
// agreement it receives under, the state the provider's answers give — active while the
// provider lists the agreement for this node, ended once the provider, reachable, no longer
// does (revoked or expired), unknown while the link is down — and tallies what arrives (the
// values stored, the shared alerts, when) in memory; it saves both about once a second, in one
// write (sqlq.Federation.SaveReceived), the state into the remote Datastreams' properties too.
// A crash loses at most the last second's tallies (the values themselves are stored).

// receivedChanges returns the agreements whose state the provider's answer changes, given the
// states as saved: when reached (ids is the provider's list for this node), those listed
// become active and the others ended; when not (the link down), the active ones become unknown
// — an ended one stays ended (an agreement revoked or expired does not come back).
func receivedChanges(states map[int64]federation.ReceivedState, ids []int64, reached bool) map[int64]federation.ReceivedState {
	out := map[int64]federation.ReceivedState{}
	if !reached {
		for id, st := range states {
			if st == federation.ReceivedActive {
				out[id] = federation.ReceivedUnknown
			}
		}
		return out
	}
	listed := map[int64]bool{}
	for _, id := range ids {
		listed[id] = true
		if states[id] != federation.ReceivedActive {
			out[id] = federation.ReceivedActive
		}
	}
	for id, st := range states {
		if !listed[id] && st != federation.ReceivedEnded {
			out[id] = federation.ReceivedEnded
		}
	}
	return out
}

// tally adds t to what arrived under provider's agreement id since the last save.
func (f *federator) tally(provider string, id int64, t *federation.ReceivedTally) {
	now := f.n.now()
	if t.Values > 0 || t.Alerts > 0 {
		t.First, t.Last = now, now
	}
	f.tmu.Lock()
	defer f.tmu.Unlock()
	byID := f.tallies[provider]
	if byID == nil {
		byID = map[int64]*federation.ReceivedTally{}
		f.tallies[provider] = byID
	}
	if byID[id] == nil {
		byID[id] = &federation.ReceivedTally{}
	}
	byID[id].Add(t)
}

// saveReceived saves provider's state changes and tallies since the last save; states (the
// link's, as saved) takes the changes once saved. A failed save keeps the tallies for the
// next (the changes are found again then).
func (f *federator) saveReceived(ctx context.Context, provider string, states, changes map[int64]federation.ReceivedState, log *slog.Logger) error {
	f.tmu.Lock()
	tallies := f.tallies[provider]
	delete(f.tallies, provider)
	f.tmu.Unlock()
	if err := f.store.SaveReceived(ctx, provider, changes, tallies, f.n.now()); err != nil {
		log.Warn("federation_received_not_saved", "err", err)
		f.tmu.Lock()
		if f.tallies[provider] == nil {
			f.tallies[provider] = map[int64]*federation.ReceivedTally{}
		}
		for id, t := range tallies {
			if f.tallies[provider][id] == nil {
				f.tallies[provider][id] = &federation.ReceivedTally{}
			}
			// the older first: what arrived meanwhile is the later, its terms win
			old := *t
			old.Add(f.tallies[provider][id])
			f.tallies[provider][id] = &old
		}
		f.tmu.Unlock()
		return err
	}
	for _, id := range slices.Sorted(maps.Keys(changes)) {
		log.Info("federation_agreement_state", "agreement", id, "state", changes[id])
	}
	maps.Copy(states, changes)
	return nil
}

// unlinked marks unknown the active agreements received from providers no link runs for (the
// partner removed, or its URL cleared), whenever the set of running links changes (and once at
// start: a partner removed while the node was down).
func (f *federator) unlinked(ctx context.Context, running map[string]context.CancelFunc) {
	linked := map[string]bool{}
	for key := range running {
		linked[strings.Fields(key)[0]] = true
	}
	names := slices.Sorted(maps.Keys(linked))
	sig := strings.Join(names, " ")
	if f.linkedSeen && sig == f.linkedLast {
		return
	}
	rs, err := f.store.Received(ctx)
	if err != nil {
		f.log.Warn("federation_received", "err", err)
		return
	}
	done := map[string]bool{}
	for _, r := range rs {
		if linked[r.Provider] || done[r.Provider] || r.State != federation.ReceivedActive {
			continue
		}
		done[r.Provider] = true
		if err := f.store.SetReceivedUnknown(ctx, r.Provider, f.n.now()); err != nil {
			f.log.Warn("federation_received_not_saved", "provider", r.Provider, "err", err)
			return
		}
		f.log.Info("federation_agreement_state", "provider", r.Provider, "state", federation.ReceivedUnknown, "why", "no link to the provider")
	}
	f.linkedSeen, f.linkedLast = true, sig
}

// received lists the agreements this node receives that ctx's principal may see: all for the
// node-wide admin (and without a principal), otherwise those whose consumer organisation (as
// their messages said) is its own — an agreement nothing has arrived under yet names none, and
// is the node-wide admin's to see.
func (f *federator) received(ctx context.Context) ([]federation.Received, error) {
	return ReceivedFor(ctx, f.store)
}

// ReceivedFor is the received list (received) from store, for the command line too.
func ReceivedFor(ctx context.Context, store *sqlq.Federation) ([]federation.Received, error) {
	all, err := store.Received(ctx)
	if err != nil {
		return nil, err
	}
	p := auth.FromContext(ctx)
	if p == nil || p.NodeAdmin() {
		return all, nil
	}
	out := []federation.Received{}
	for _, r := range all {
		if r.ConsumerOrg == p.Organisation {
			out = append(out, r)
		}
	}
	return out, nil
}

// runPurge deletes, every fedPurgeEvery until ctx ends, the received values that the retention
// of their agreement no longer lets this node keep (by phenomenon time): every agreement this
// node has received under, as saved in fed_received — an active one, one the provider revoked
// or that expired (its values are kept no longer than agreed, though nothing arrives under it
// any more), one from a partner since removed, and after a restart, when no message has told
// the link the retention again. A retention of 0 keeps the values as long as the node's own;
// an agreement whose messages have not said one yet is left alone.
func (f *federator) runPurge(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(fedPurgeEvery):
		}
		rs, err := f.store.Received(ctx)
		if err != nil {
			if ctx.Err() == nil {
				f.log.Warn("federation_purge_failed", "err", err)
			}
			continue
		}
		for _, r := range rs {
			if r.Retention == nil || *r.Retention <= 0 {
				continue
			}
			n, err := f.store.PurgeRemote(ctx, r.Provider, r.Agreement, f.n.now().Add(-time.Duration(*r.Retention)))
			if err != nil {
				f.log.Warn("federation_purge_failed", "provider", r.Provider, "agreement", r.Agreement, "err", err)
			} else if n > 0 {
				f.log.Info("federation_purged", "provider", r.Provider, "agreement", r.Agreement, "state", r.State, "observations", n)
			}
		}
	}
}
