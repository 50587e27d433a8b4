package federation

import "time"

// ReceivedState is the state of an agreement as the receiving node sees it: what its link to
// the provider last learnt (the link asks the provider for its active agreements for this node
// about once a second).
type ReceivedState string

const (
	// ReceivedActive: the provider lists the agreement for this node.
	ReceivedActive ReceivedState = "active"
	// ReceivedEnded: the provider, reachable, no longer lists it (revoked or expired there).
	ReceivedEnded ReceivedState = "ended"
	// ReceivedUnknown: the link to the provider is down (or no longer runs: the partner removed
	// or without a URL), so it cannot say.
	ReceivedUnknown ReceivedState = "unknown"
)

// Received is an agreement this node receives from a provider, as this node knows it: the
// terms its messages carry, its state, what arrived under it and the remote Datastreams made
// for it.
type Received struct {
	Provider  string `json:"provider"`
	Agreement int64  `json:"agreement"`
	// ConsumerOrg, Resolution and Retention are the terms the messages carried (the latest
	// received); empty until a message said them (Retention: "0s", no limit).
	ConsumerOrg string        `json:"consumerOrganisation,omitempty"`
	Resolution  Resolution    `json:"resolution,omitempty"`
	Retention   *Duration     `json:"retention,omitempty"`
	State       ReceivedState `json:"state"`
	// StateSince is when this node saw the state begin (absent: before this node counted).
	StateSince *time.Time `json:"stateSince,omitempty"`
	// Values is how many values were stored under it (a value received twice counted once),
	// Alerts how many shared CAP messages; First and Last when the first and the latest
	// arrived, by this node's clock.
	Values      int64                `json:"values"`
	Alerts      int64                `json:"alerts"`
	First       *time.Time           `json:"firstReceived,omitempty"`
	Last        *time.Time           `json:"lastReceived,omitempty"`
	Datastreams []ReceivedDatastream `json:"datastreams"`
}

// ReceivedDatastream is a remote Datastream made under a received agreement: its id on this
// node and the provider's Datastream it holds.
type ReceivedDatastream struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	Provider int64  `json:"providerDatastream"`
}

// ReceivedTally is what arrived under one agreement since the last save: the terms the latest
// message carried (Told: some message carried them), how many values were stored and alerts
// taken, and when the first and last of them arrived.
type ReceivedTally struct {
	Told        bool
	OrgTold     bool // the messages (shared alerts alone) named the consumer organisation, not the other terms
	ConsumerOrg string
	Resolution  Resolution
	Retention   Duration
	Values      int64
	Alerts      int64
	First, Last time.Time
}

// Add adds what o holds to t (o's terms win when it has any: it is the later).
func (t *ReceivedTally) Add(o *ReceivedTally) {
	if o.Told {
		t.Told, t.ConsumerOrg, t.Resolution, t.Retention = true, o.ConsumerOrg, o.Resolution, o.Retention
	} else if o.OrgTold {
		t.OrgTold, t.ConsumerOrg = true, o.ConsumerOrg
	}
	t.Values += o.Values
	t.Alerts += o.Alerts
	if !o.First.IsZero() && (t.First.IsZero() || o.First.Before(t.First)) {
		t.First = o.First
	}
	if o.Last.After(t.Last) {
		t.Last = o.Last
	}
}
