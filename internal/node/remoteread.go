package node

import (
	"context"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/twoway"
)

// The read side of the agreement boundary on a receiving node (docs/federation.md, "Who reads
// a remote Datastream"): a remote Datastream — a partner's data received under an agreement —
// with all the receiver made for it is readable only by viewers of the agreement's consumer
// organisation (which owns it here) and by the node-wide admin, whatever public_read says. The
// SensorThings API holds it in the store (sensorthings.ReadView, sqlq's remoteview.go); what
// reads Datastreams by other ways holds it here: the console's map and hydrographs and the
// LEVEL command by SMS (remoteHidden), and the SensorThings MQTT notifications (mqttWithheld).

// remoteHidden reports whether Datastream ds is a remote Datastream the principal of ctx may
// not read: no principal (an SMS sender, an anonymous reader), a role below viewer, or a
// viewer of another organisation than the one owning it.
func (n *Node) remoteHidden(ctx context.Context, ds int64) (bool, error) {
	all, org := auth.FromContext(ctx).Reads()
	if all {
		return false, nil
	}
	remote, err := n.stores.Federation.IsRemote(ctx, ds)
	if err != nil || !remote {
		return false, err
	}
	if org == "" {
		return true, nil
	}
	owners, err := n.stores.Federation.Owners(ctx, "datastreams", []int64{ds})
	if err != nil {
		return false, err
	}
	return owners[ds] != org, nil
}

// visibleGauges are the gauges (n.gauges) whose Datastream the principal of ctx may read
// (remoteHidden): the console's map for a signed-in key, the LEVEL command's for anyone who
// sends it (no principal: no remote Datastream).
func (n *Node) visibleGauges(ctx context.Context) ([]twoway.Gauge, error) {
	gs, err := n.gauges(ctx)
	if err != nil {
		return nil, err
	}
	out := gs[:0]
	for _, g := range gs {
		hidden, err := n.remoteHidden(ctx, g.Datastream)
		if err != nil {
			return nil, err
		}
		if !hidden {
			out = append(out, g)
		}
	}
	return out, nil
}

// mqttWithheld reports whether the Observations of Datastream ds are kept from the SensorThings
// MQTT notifications: those of a remote Datastream are. The bus's permissions let every viewer
// subscribe to v1.1/Observations and to any Datastream's topic, and a publish does not know who
// listens, so a partner's data is not published there at all; its consumer organisation reads
// it over HTTP with its key.
func (n *Node) mqttWithheld(ctx context.Context, ds int64) (bool, error) {
	if ds == 0 { // a MultiDatastream's batch: none is remote
		return false, nil
	}
	return n.stores.Federation.IsRemote(ctx, ds)
}
