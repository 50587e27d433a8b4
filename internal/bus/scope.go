package bus

import (
	"context"
	"strconv"

	"github.com/rabta/rabta/internal/auth"
)

// Owner tells the bus which streams of observations a client's organisation owns, so that its
// publishes stay within them (organisations are a boundary, issue 15).
type Owner interface {
	// Owned returns the ids of the Datastreams and MultiDatastreams organisation org owns.
	Owned(ctx context.Context, org string) (datastreams, multiDatastreams []int64, err error)
}

// OwnerNarrow is the Narrow (Options.Narrow) that keeps a key's publishes within its
// organisation's own Datastreams and MultiDatastreams: v1.1/Datastreams(<id>)/Observations,
// v1.1/MultiDatastreams(<id>)/Observations and rabta/<node>/ingest/<id>, for the ids o lists
// for the key's organisation. A message on the bus does not say who published it, so the
// topics that name the Datastream in the payload only (v1.1/Observations,
// v1.1/FeaturesOfInterest(<id>)/Observations) are left to the node-wide admin. The bus applies
// it at login and again each re-check round (Enforce), so a Datastream created since a client
// connected is publishable within a round. What a key may subscribe to is left as its role has
// it.
func OwnerNarrow(node string, o Owner) Narrow {
	return func(ctx context.Context, p *auth.Principal, a Action, topics []string) ([]string, error) {
		if a == Subscribe {
			return topics, nil
		}
		ds, md, err := o.Owned(ctx, p.Organisation)
		if err != nil {
			return nil, err
		}
		allow := make([]string, 0, 2*len(ds)+len(md))
		for _, id := range ds {
			n := strconv.FormatInt(id, 10)
			allow = append(allow, "v1.1/Datastreams("+n+")/Observations", "rabta/"+node+"/ingest/"+n)
		}
		for _, id := range md {
			allow = append(allow, "v1.1/MultiDatastreams("+strconv.FormatInt(id, 10)+")/Observations")
		}
		return allow, nil
	}
}
