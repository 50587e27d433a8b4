package sensing

import "context"

// RemoteView says which remote entities a read may show. A remote entity is part of a remote
// Datastream — one received from a partner node under a data-sharing agreement
// (docs/federation.md): the Datastream, its Observations and their FeaturesOfInterest, and what
// the receiving node made for it (its Thing, with the Thing's Locations and HistoricalLocations,
// its Sensor and ObservedProperty). The provider shared it with the agreement's consumer
// organisation, which owns it here, for the agreement's purpose: it is readable only by that
// organisation's viewers and by the node-wide admin, whatever public reads allow.
//
// A read carrying no RemoteView (WithRemoteView) is the node's own (the warning rules, the
// exporter, the command line) and sees everything; the SensorThings API and the console set
// one for every request, from the reader's key.
type RemoteView struct {
	// All shows every remote entity (the node-wide admin).
	All bool
	// Org shows the remote entities owned by this organisation (its viewers); "" shows none
	// (an anonymous reader).
	Org string
	// Hidden is what the view leaves out, by id: a store reads it once for the reads of one
	// call (nil: not read yet).
	Hidden *RemoteHidden
}

// RemoteHidden lists the entities a RemoteView leaves out: the remote Datastreams of other
// organisations than the reader's, and their Things, Sensors, ObservedProperties and the
// Things' Locations (their Observations, HistoricalLocations and FeaturesOfInterest follow).
type RemoteHidden struct {
	Datastreams, Things, Sensors, ObservedProperties, Locations []int64
}

// None reports whether nothing is hidden.
func (h *RemoteHidden) None() bool { return h == nil || len(h.Datastreams) == 0 }

type remoteViewKey struct{}

// WithRemoteView returns ctx whose reads show the remote entities v allows.
func WithRemoteView(ctx context.Context, v RemoteView) context.Context {
	return context.WithValue(ctx, remoteViewKey{}, v)
}

// RemoteViewFrom returns the RemoteView of ctx; ok is false for the node's own reads.
func RemoteViewFrom(ctx context.Context) (v RemoteView, ok bool) {
	v, ok = ctx.Value(remoteViewKey{}).(RemoteView)
	return v, ok
}
