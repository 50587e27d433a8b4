package node

import (
	"context"

	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/web/console"
)

// newConsole builds the operator console (/console, docs/console.md) over the node's own
// parts: its keys and authenticator (sign-in, limited like any key check), the gauges the
// LEVEL command reports (class and trend), the entity store (readings with QC flags, forecast
// datastreams), the alerts and rules, the REST API's decision path (approve, reject: the
// same role, organisation and four-eyes checks), dissemination's impacts and progress, the
// federation agreements (through federation.Service's List, as the API) and the audit log.
func (n *Node) newConsole(authn *auth.Authenticator) *console.Server {
	c := &console.Server{Keys: n.stores.Keys, Authn: authn, Gauges: n.visibleGauges,
		Entities: n.stores.Entities, Readings: n.stores.Entities,
		Alerts: n.stores.Alerts, Decide: n.api.Decide, Edit: n.api.Edit,
		Rules: func(ctx context.Context) ([]rule.Rule, error) {
			rs, _, err := n.stores.Alerts.LoadRules(ctx)
			return rs, err
		},
		Places: func(ctx context.Context) ([]place.Place, error) {
			g, err := n.gz.get(ctx)
			if err != nil {
				return nil, err
			}
			return g.Places(), nil
		},
		TileURL: n.opts.ConsoleTileURL, Node: n.opts.ID, Now: n.now, Log: n.log.With("component", "console")}
	// agreements (the API's list: federation.Service) and the audit log (console pages)
	if n.fed != nil && n.fed.svc != nil {
		c.Agreements = n.fed.svc
	}
	if n.audit != nil {
		c.Audit = n.audit
	}
	if n.diss != nil {
		c.Impacts, c.Progress = n.diss.Store.Impacts, n.diss.Progress
	}
	return c
}

// keyRevoked ends key id's live sessions at once: MQTT and NATS (DisconnectKey) and the
// console's (which would otherwise end on their next request, when the key is checked).
func (n *Node) keyRevoked(id int64) {
	n.DisconnectKey(id)
	if n.console != nil {
		n.console.EndKey(id)
	}
}
