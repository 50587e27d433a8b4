package bus

import (
	"context"
	"strconv"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rabta/rabta/internal/auth"
)

// Owner tells the bus which streams of observations a client's organisation owns, so that its
// publishes stay within them (organisations are a boundary, issue 15).
type Owner interface {
	// Owned returns the ids of the Datastreams and MultiDatastreams organisation org owns.
	Owned(ctx context.Context, org string) (datastreams, multiDatastreams []int64, err error)
}

// scope narrows perm, a role's permissions, for p, a key that may publish observations but is
// not the node-wide admin: it may publish to the create topics of its organisation's own
// Datastreams and MultiDatastreams only (v1.1/Datastreams(<id>)/Observations,
// v1.1/MultiDatastreams(<id>)/Observations, rabta/<node>/ingest/<id>), listed when it connects.
// A message on the bus does not say who published it, so the topics that name the Datastream
// in the payload only (v1.1/Observations, v1.1/FeaturesOfInterest(<id>)/Observations) are the
// node-wide admin's, and a Datastream created after the client connected is publishable after
// it reconnects. What it may subscribe to is left as the role has it; an organisation's admin
// loses the rest of the bus (JetStream's API included), which is the node's.
func (b *Bus) scope(ctx context.Context, p *auth.Principal, perm *server.Permissions) (*server.Permissions, error) {
	if b.opts.Owner == nil || p.NodeAdmin() || p.Role < auth.Operator {
		return perm, nil
	}
	ds, md, err := b.opts.Owner.Owned(ctx, p.Organisation)
	if err != nil {
		return nil, err
	}
	allow := make([]string, 0, 2*len(ds)+len(md))
	for _, id := range ds {
		n := strconv.FormatInt(id, 10)
		allow = append(allow, "v1//1.Datastreams("+n+").Observations", "rabta."+b.opts.Node+".ingest."+n)
	}
	for _, id := range md {
		allow = append(allow, "v1//1.MultiDatastreams("+strconv.FormatInt(id, 10)+").Observations")
	}
	out := &server.Permissions{}
	if perm != nil {
		out.Subscribe = perm.Subscribe
		out.Response = perm.Response
	}
	if len(allow) == 0 {
		out.Publish = &server.SubjectPermission{Deny: []string{">"}}
	} else {
		out.Publish = &server.SubjectPermission{Allow: allow}
	}
	return out, nil
}
