package node

import (
	"context"

	"github.com/rabta/rabta/internal/dissemination"
)

// Settled reports whether the node has done everything its inputs so far ask of it: every
// accepted observation is on the bus (the outbox is empty), every consumer of the bus (the
// warning engine, the SensorThings notifier, and any other consumer the node runs) has handled
// and acknowledged every message, every issued message has a dissemination plan, and no
// delivery waits to be sent (planned or sending). An exercise replay (internal/exercise) waits
// for it between steps so that a replay at maximum speed is deterministic. It is a snapshot:
// new input makes it false again. Call it only on a started node.
//
// A consumer's handler may itself ingest (the forecasts): its output reaches the outbox before
// it acknowledges, and the bus after. The outbox and the consumers are therefore looked at
// twice, in turn: a message in flight between them in the first pass is seen in the second.
func (n *Node) Settled(ctx context.Context) (bool, error) {
	for range 2 {
		backlog, _, err := n.stores.Entities.OutboxBacklog(ctx)
		if err != nil || backlog > 0 {
			return false, err
		}
		for _, c := range n.consumers {
			lag, err := c.Lag(ctx)
			if err != nil || lag > 0 {
				return false, err
			}
		}
	}
	if ms, err := n.stores.Dissemination.Unplanned(ctx, 1); err != nil || len(ms) > 0 {
		return false, err
	}
	counts, err := n.stores.Dissemination.Totals(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range counts {
		if (c.State == dissemination.Planned || c.State == dissemination.Sending) && c.N > 0 {
			return false, nil
		}
	}
	return true, nil
}

// Tick runs the warning engine's tick now, at the node's clock: rules reloaded, hold times
// and quiet stations evaluated, alerts past their expiry expired. The engine ticks on its own
// every Options.TickEvery of wall time; an exercise at maximum speed, whose clock jumps,
// ticks after each jump instead so that expiry falls at the same point of every run.
func (n *Node) Tick(ctx context.Context) error { return n.runner.Tick(ctx) }
