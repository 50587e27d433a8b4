package sqlq

import (
	"context"
	"fmt"

	"github.com/rabta/rabta/internal/sensing"
)

// remoteHidden is, per entity set, the condition (on alias %[1]s, with one argument: the
// organisation whose remote entities the reader may see) true of an entity that is part of a
// remote Datastream of another organisation — what a sensing.RemoteView leaves out. It is
// sqlq.Federation's remoteEntity (the entities that are read-only here) restricted to remote
// Datastreams of organisations other than the reader's. A remote Datastream is owned by its
// agreement's consumer organisation, never by "": with "" every remote entity is hidden.
var remoteHidden = map[string]string{
	sensing.Datastreams: `EXISTS (SELECT 1 FROM fed_remote r WHERE r.datastream_id = %[1]s.id AND %[1]s.organisation <> ?)`,
	sensing.Observations: `EXISTS (SELECT 1 FROM fed_remote r JOIN datastreams rd ON rd.id = r.datastream_id
		WHERE r.datastream_id = %[1]s.datastream_id AND rd.organisation <> ?)`,
	sensing.Things: `EXISTS (SELECT 1 FROM datastreams rd JOIN fed_remote r ON r.datastream_id = rd.id
		WHERE rd.thing_id = %[1]s.id AND rd.organisation <> ?)`,
	sensing.Sensors: `EXISTS (SELECT 1 FROM datastreams rd JOIN fed_remote r ON r.datastream_id = rd.id
		WHERE rd.sensor_id = %[1]s.id AND rd.organisation <> ?)`,
	sensing.ObservedProperties: `EXISTS (SELECT 1 FROM datastreams rd JOIN fed_remote r ON r.datastream_id = rd.id
		WHERE rd.observed_property_id = %[1]s.id AND rd.organisation <> ?)`,
	sensing.HistoricalLocations: `EXISTS (SELECT 1 FROM datastreams rd JOIN fed_remote r ON r.datastream_id = rd.id
		WHERE rd.thing_id = %[1]s.thing_id AND rd.organisation <> ?)`,
	sensing.Locations: `EXISTS (SELECT 1 FROM thing_locations tl JOIN datastreams rd ON rd.thing_id = tl.thing_id
		JOIN fed_remote r ON r.datastream_id = rd.id WHERE tl.location_id = %[1]s.id AND rd.organisation <> ?)`,
	sensing.FeaturesOfInterest: `EXISTS (SELECT 1 FROM observations o JOIN fed_remote r ON r.datastream_id = o.datastream_id
		JOIN datastreams rd ON rd.id = r.datastream_id WHERE o.foi_id = %[1]s.id AND rd.organisation <> ?)`,
}

// viewed returns query with the RemoteView of ctx (sensing.RemoteViewFrom), unless it has
// one: the SensorThings API and the console set it on the context of each request.
func viewed(ctx context.Context, query *sensing.Query) *sensing.Query {
	if query.View != nil {
		return query
	}
	v, ok := sensing.RemoteViewFrom(ctx)
	if !ok {
		return query
	}
	c := *query
	c.View = &v
	return &c
}

// viewCond adds to x the condition that leaves out the remote entities of alias a (of set)
// that query.View does not allow.
func viewCond(x *q, query *sensing.Query, set, a string) {
	if query.View == nil || query.View.All {
		return
	}
	if c, ok := remoteHidden[set]; ok {
		x.add(" AND NOT "+fmt.Sprintf(c, a), query.View.Org)
	}
}
