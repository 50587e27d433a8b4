package dissemination

import (
	"context"
	"time"

	"github.com/rabta/rabta/internal/alert"
	"github.com/rabta/rabta/internal/channel"
)

// State is where a delivery is.
type State string

// Delivery states. Planned, sending and queued are open; the others are final but for sent,
// which a delivery report may still move to delivered or failed.
const (
	Planned    State = "planned"    // waiting for its turn (or for a retry at Delivery.Next)
	Sending    State = "sending"    // claimed by a worker until its lease ends
	Queued     State = "queued"     // a gateway took it for later: not yet at the operator
	Sent       State = "sent"       // at the operator's SMSC, the mail server or the partner
	Delivered  State = "delivered"  // the handset (SMS delivery report) has it
	Failed     State = "failed"     // will not be delivered on this channel (Error says why)
	Superseded State = "superseded" // a newer version of the alert was planned before this one went out
	Cancelled  State = "cancelled"  // the subscriber or contact was removed before it went out
)

// States lists every state, in pipeline order.
var States = []State{Planned, Sending, Queued, Sent, Delivered, Failed, Superseded, Cancelled}

// Reached tells whether a delivery in state st reached (or is with) the recipient's operator:
// an Update or Cancel goes to every subscriber with such a delivery.
func (st State) Reached() bool { return st == Queued || st == Sent || st == Delivered }

// Delivery is one message to one subscriber on one channel.
type Delivery struct {
	ID           int64
	AlertID      int64
	Identifier   string // the CAP message (alert version)
	SubscriberID int64
	Channel      channel.Kind
	Position     int  // the contact's preference position
	Fallback     bool // planned because another channel failed permanently
	State        State
	Attempts     int
	Next         time.Time // when it may be tried (again)
	Ambiguous    bool      // an earlier claim expired mid-send: the gateway may have had it
	GatewayID    string
	Parts        int
	Error        string
}

// Claimed is a delivery a worker holds, with what it needs to send it.
type Claimed struct {
	Delivery
	Language  string
	ContactID int64
	Sealed    []byte // the contact's sealed address; nil when the contact was removed
}

// StoredContact is a contact as the store keeps it: sealed, with its lookup key.
type StoredContact struct {
	ID       int64
	Channel  channel.Kind
	Position int
	Sealed   []byte
	Lookup   string
}

// StoredSubscriber is a subscriber as the store keeps it: name and contacts sealed.
type StoredSubscriber struct {
	Subscriber // Name and Contacts empty
	SealedName []byte
	Contacts   []StoredContact
}

// Target is a subscriber as targeting sees it: where, which audiences, which channels.
type Target struct {
	ID        int64
	Language  string
	Audiences []string
	Place     string
	Lat, Lon  *float64
	RadiusKM  float64
	Channels  []channel.Kind // of the contacts, in preference order (repeats possible)
	Positions []int          // the contacts' positions (StoredContact.Position), beside Channels
}

// Recipient is a subscriber an alert reached on a channel.
type Recipient struct {
	SubscriberID int64
	Channel      channel.Kind
}

// Plan is the record of one issued message's planning.
type Plan struct {
	Identifier  string
	AlertID     int64
	MsgType     string
	Subscribers int
	Deliveries  int
	Planned     time.Time
}

// Count is the number of deliveries of one message on one channel in one state.
type Count struct {
	Identifier string       `json:"identifier"`
	Channel    channel.Kind `json:"channel"`
	State      State        `json:"state"`
	N          int64        `json:"n"`
	Ambiguous  int64        `json:"ambiguous,omitempty"`
}

// Outcome is what a send attempt came to.
type Outcome struct {
	State     State     // Queued, Sent, Planned (retry at Next) or Failed
	Next      time.Time // for a retry
	GatewayID string
	Parts     int
	Error     string
	At        time.Time
}

// Store keeps subscribers, impacts, plans and deliveries (store/sqlq implements it for both
// engines).
type Store interface {
	// AddSubscribers stores subscribers (with sealed names and contacts) and sets their ids.
	AddSubscribers(ctx context.Context, subs []*StoredSubscriber) error
	// Duplicate returns the id of org's subscriber with the same place of interest (or
	// point) who has a contact with one of lookups, or 0 when there is none.
	Duplicate(ctx context.Context, org string, sub *StoredSubscriber) (int64, error)
	// GetSubscriber returns one subscriber, or an apperr.NotFound error.
	GetSubscriber(ctx context.Context, id int64) (*StoredSubscriber, error)
	// ListSubscribers returns up to limit subscribers with ids above after, of org ("" for
	// every organisation), in id order.
	ListSubscribers(ctx context.Context, org string, after int64, limit int) ([]*StoredSubscriber, error)
	// EraseSubscriber deletes a subscriber and its contacts, cancels its open deliveries and
	// records the erasure (who, why, when) in one transaction.
	EraseSubscriber(ctx context.Context, id int64, by, reason string, at time.Time) error
	// RemoveContacts deletes the contacts with lookup key lookup (a STOP or an unsubscribe
	// link) and cancels their open deliveries; it returns how many contacts it removed.
	RemoveContacts(ctx context.Context, lookup string, at time.Time) (int, error)
	// TargetsVersion is the latest change to subscribers or contacts (0 for none).
	TargetsVersion(ctx context.Context) (int64, error)
	// Changes returns the subscribers changed after version since, or recorded after the
	// time after (a change may commit out of version order on an engine with several
	// writers: the time window catches it late rather than never), and the latest version
	// read. With more than limit changes it returns full: rebuild from Targets instead.
	Changes(ctx context.Context, since int64, after time.Time, limit int) (ids []int64, version int64, full bool, err error)
	// Targets calls fn for every subscriber with at least one contact.
	Targets(ctx context.Context, fn func(Target) error) error
	// TargetsOf calls fn for those of ids that exist and have a contact.
	TargetsOf(ctx context.Context, ids []int64, fn func(Target) error) error

	// SaveImpact keeps an alert's impact (JSON) for a draft (identifier "") or an issued message.
	SaveImpact(ctx context.Context, alertID int64, identifier string, impact []byte, at time.Time) error
	// Impacts returns an alert's impacts by identifier ("" for the draft).
	Impacts(ctx context.Context, alertID int64) (map[string][]byte, error)

	// Unplanned returns up to limit issued messages that have no plan yet, oldest first.
	Unplanned(ctx context.Context, limit int) ([]alert.Message, error)
	// Recipients returns the subscribers an alert reached and on which channels (a delivery
	// queued, sent or delivered, of any of its messages), by subscriber id.
	Recipients(ctx context.Context, alertID int64) ([]Recipient, error)
	// SavePlan writes a message's plan and its deliveries in one transaction and supersedes
	// the alert's older deliveries still planned; it returns false (and writes nothing) when
	// the message already has a plan (then nothing is written).
	SavePlan(ctx context.Context, p Plan, ds []Delivery) (bool, error)
	// Claim takes up to n deliveries of ch that are due at now (planned, or sending with a
	// lease that ended before now — those become ambiguous) and holds them until lease.
	Claim(ctx context.Context, ch channel.Kind, now, lease time.Time, n int) ([]Claimed, error)
	// Record stores the outcome of a claimed delivery's attempt. A Failed outcome plans the
	// subscriber's next contact on a channel not yet planned for that message (fallback).
	Record(ctx context.Context, id int64, o Outcome) error
	// Report applies a delivery report to the delivery with the report's DeliveryID or
	// GatewayID; it returns false when none matches.
	Report(ctx context.Context, r channel.Report) (bool, error)
	// Progress counts an alert's deliveries by message, channel and state.
	Progress(ctx context.Context, alertID int64) ([]Count, error)
	// Totals counts every delivery by channel and state (for /metrics).
	Totals(ctx context.Context) ([]Count, error)
}
