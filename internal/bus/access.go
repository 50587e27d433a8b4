package bus

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/rabta/rabta/internal/auth"
)

// Access is one row of the bus's access table: a set of MQTT topics (NATS subjects) and the
// least role that may subscribe to them, publish to them and publish retained messages to them.
// The table (Table) is the one place where who may use which topic is written: the embedded
// server's NATS permissions of a key (what its NATS and MQTT connections may do, the same for
// both) are generated from it, and Allowed answers from it.
//
// A role of auth.RoleNone means "no role is enough": only the node-wide admin
// (auth.Principal.NodeAdmin), who may do anything on the bus, JetStream's API included.
type Access struct {
	// Topic is an MQTT topic filter ('+' and '#' wildcards).
	Topic string
	// What says what the topics are, for people.
	What string
	// Sub, Pub and Retain are the least roles that may subscribe, publish, and publish with
	// MQTT's retain flag (RoleNone: the node-wide admin only).
	Sub, Pub, Retain auth.Role
	// Served says that Rabta takes what is published here (creates, loggers' observations); a
	// publish to a topic no served row matches goes nowhere and is counted as unserved.
	Served bool
}

// Table is the bus's access table for node: SensorThings topics (read by viewers, creates
// published by operators), the node's ingest topics (published by operators' loggers, read by
// the node-wide admin only, as they carry every organisation's raw messages), and nothing else
// for anyone but the node-wide admin. Retained messages are for the node-wide admin only: one
// retained on a SensorThings topic would be served to every later subscriber as if it were new.
//
// A per-organisation check (which Datastream belongs to whom) is not a row's business: a row
// says what a role may do. It hooks in as a Narrow (Options.Narrow), which narrows a key's
// topics to its organisation's; the handler of a served topic does not learn who published a
// message, so the bus's permissions are where such a check can be enforced.
func Table(node string) []Access {
	sta := "v1.1"
	return []Access{
		{Topic: sta + "/#", What: "SensorThings topics (notifications of new entities)", Sub: auth.Viewer},
		{Topic: sta + "/Observations", What: "SensorThings create: an Observation with its Datastream link", Sub: auth.Viewer, Pub: auth.Operator, Served: true},
		{Topic: sta + "/+/Observations", What: "SensorThings create: an Observation of a Datastream or MultiDatastream", Sub: auth.Viewer, Pub: auth.Operator, Served: true},
		{Topic: "rabta/" + node + "/ingest/+", What: "loggers' observations of a datastream", Pub: auth.Operator, Served: true},
		// WIS2 notification messages of open data (package wis2, docs/wis2.md): read by any
		// viewer key, e.g. one given to a WIS2 global broker; published by the node only
		{Topic: "origin/a/wis2/#", What: "WIS2 notification messages of open data", Sub: auth.Viewer},
	}
}

// Action is what a client does on a topic.
type Action int

// Actions on a topic.
const (
	Subscribe Action = iota
	Publish
	Retain // publish with MQTT's retain flag
)

func (a Action) String() string {
	switch a {
	case Subscribe:
		return "subscribe"
	case Publish:
		return "publish"
	case Retain:
		return "retain"
	}
	return "?"
}

// need returns the least role a row asks for a.
func (r Access) need(a Action) auth.Role {
	switch a {
	case Subscribe:
		return r.Sub
	case Publish:
		return r.Pub
	default:
		return r.Retain
	}
}

// Allowed reports whether p may do a on topic (an MQTT topic, or for Subscribe a topic
// filter) by table: the node-wide admin always; anyone else when a row that covers topic
// grants a to p's role. A nil p (no key) may do nothing.
func Allowed(table []Access, p *auth.Principal, a Action, topic string) bool {
	if p == nil {
		return false
	}
	if p.NodeAdmin() {
		return true
	}
	for _, r := range table {
		if n := r.need(a); n != auth.RoleNone && p.Role >= n && (covers(r.Topic, topic) || a == Subscribe && r.Topic == topic+"/#") {
			return true // (a subscription to "x/#" is also one to its parent "x", as in MQTT)
		}
	}
	return false
}

// Served reports whether a publish to topic reaches a handler of Rabta's (a served row
// matches it).
func Served(table []Access, topic string) bool {
	for _, r := range table {
		if r.Served && covers(r.Topic, topic) {
			return true
		}
	}
	return false
}

// covers reports whether MQTT filter f matches every topic of t (a topic, or a filter whose
// wildcards f's cover), as the NATS server decides it for their subjects
// (server.SubjectMatchesFilter; FuzzCovers holds the two together): so a '#' stands for one
// level or more, as NATS's '>' does, not also for none as in MQTT ("v1.1/#" does not cover
// "v1.1"), since the server's permissions are what is enforced.
func covers(f, t string) bool {
	fl, tl := strings.Split(f, "/"), strings.Split(t, "/")
	for i, l := range fl {
		if l == "#" {
			return i < len(tl)
		}
		if i >= len(tl) || tl[i] == "#" {
			return false
		}
		if l != "+" && (l != tl[i] || tl[i] == "+") {
			return false
		}
	}
	return len(fl) == len(tl)
}

// Narrow narrows what the table grants a key that is not the node-wide admin: given the
// topics (MQTT filters) the table grants p for a, it returns those p may use — the same, fewer,
// or narrower filters within them (e.g. the ingest topics of its organisation's datastreams
// only). It is where a per-organisation check hooks into the bus (Options.Narrow); a topic it
// returns that no granted one covers is dropped.
type Narrow func(ctx context.Context, p *auth.Principal, a Action, topics []string) ([]string, error)

// permissions generates the embedded server's permissions of p from table (narrowed by narrow,
// if set), the same for its NATS and its MQTT connections: nil (everything) for the node-wide
// admin; otherwise the subjects of the rows that grant p's role each action, and nothing else.
// In particular no one but the node-wide admin may subscribe to the MQTT bridge's own subjects
// ($MQTT.>): the server lets an MQTT connection use the delivery subjects of its own QoS 1 and
// 2 subscriptions without a permission (and refuses an MQTT client's subscription to $MQTT/
// topics), while a NATS client allowed "$MQTT.sub.>" would read every MQTT session's
// deliveries and the retained messages. The retain column is enforced at run time (Enforce),
// as NATS has no permission for it.
func permissions(ctx context.Context, table []Access, p *auth.Principal, narrow Narrow) (*server.Permissions, error) {
	if p.NodeAdmin() {
		return nil, nil
	}
	subjects := func(a Action) ([]string, error) {
		var granted []string
		for _, r := range table {
			if n := r.need(a); n != auth.RoleNone && p.Role >= n {
				granted = append(granted, r.Topic)
			}
		}
		topics := granted
		if narrow != nil && len(granted) > 0 {
			var err error
			if topics, err = narrow(ctx, p, a, granted); err != nil {
				return nil, err
			}
		}
		var out []string
		for _, t := range topics {
			within := false
			for _, g := range granted {
				within = within || covers(g, t)
			}
			if s, err := MQTTSubject(t); err == nil && within {
				out = append(out, s)
				// an MQTT subscription to "a/#" is, in the server, one to "a.>" and one to
				// "a" (MQTT's '#' also matches its parent level): without the parent the
				// whole SUBSCRIBE is refused. Nothing is published on the parent itself.
				if parent, ok := strings.CutSuffix(t, "/#"); ok && a == Subscribe {
					if ps, err := MQTTSubject(parent); err == nil {
						out = append(out, ps)
					}
				}
			}
		}
		return out, nil
	}
	perm := func(allow []string) *server.SubjectPermission {
		if len(allow) == 0 {
			return &server.SubjectPermission{Deny: []string{">"}}
		}
		return &server.SubjectPermission{Allow: allow}
	}
	sub, err := subjects(Subscribe)
	if err != nil {
		return nil, err
	}
	pub, err := subjects(Publish)
	if err != nil {
		return nil, err
	}
	return &server.Permissions{Subscribe: perm(sub), Publish: perm(pub)}, nil
}

// fingerprint tells permissions apart, to apply changed ones only.
func fingerprint(p *server.Permissions) string {
	if p == nil {
		return "*"
	}
	return fmt.Sprint(p.Subscribe.Allow, p.Publish.Allow)
}
