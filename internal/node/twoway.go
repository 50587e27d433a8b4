package node

import (
	"context"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/channel"
	"github.com/rabta/rabta/internal/dissemination"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/place"
	"github.com/rabta/rabta/internal/rule"
	"github.com/rabta/rabta/internal/twoway"
)

// newTwoWay builds the service that answers SMS people send (JOIN, STOP, LANG, LEVEL, HELP;
// docs/twoway.md): replies go out through sms, the node's SMS sender (nil: recorded as
// failed). Its counter rabta_sms_inbound_total counts messages by command and outcome
// (handled, limited, dropped).
func (n *Node) newTwoWay(diss *dissemination.Service, sealer *dissemination.Sealer, sms channel.Sender) *twoway.Service {
	inbound := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_sms_inbound_total",
		Help: "SMS people sent to the node, by command (JOIN, STOP, LANG, LEVEL, HELP, UNKNOWN) and outcome (handled; limited: over the per-number rate limit and told so; dropped: over it again)."},
		[]string{"command", "outcome"})
	n.metrics.reg.MustRegister(inbound)
	return &twoway.Service{Subscribers: diss, Store: n.stores.TwoWay, Sealer: sealer, Sender: sms,
		Places: func(ctx context.Context) ([]place.Place, error) {
			g, err := n.gz.get(ctx)
			if err != nil {
				return nil, err
			}
			return g.Places(), nil
		},
		Gauges:    n.visibleGauges, // no remote Datastream: a partner's data is not told to anyone who asks (remoteread.go)
		Languages: i18n.Langs(),
		Counted:   func(v twoway.Verb, outcome string) { inbound.WithLabelValues(string(v), outcome).Inc() },
		Now:       n.now, Log: n.log.With("component", "twoway")}
}

// gauges are the datastreams the node's threshold rules read, with their levels and the
// latest readings.
func (n *Node) gauges(ctx context.Context) ([]twoway.Gauge, error) {
	rules, _, err := n.stores.Alerts.LoadRules(ctx)
	if err != nil {
		return nil, err
	}
	type lv struct {
		levels []rule.Level
		dir    rule.Direction
	}
	by := map[int64]*lv{}
	var ids []int64
	for _, r := range rules {
		if r.Kind != rule.Threshold || len(r.Levels) == 0 {
			continue
		}
		for _, ds := range r.Datastreams {
			if by[ds] == nil {
				by[ds] = &lv{dir: r.Direction}
				ids = append(ids, ds)
			}
			by[ds].levels = append(by[ds].levels, r.Levels...)
		}
	}
	slices.Sort(ids)
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	gs, err := n.stores.TwoWay.Gauges(cctx, ids, 4)
	if err != nil {
		return nil, err
	}
	for i := range gs {
		if l := by[gs[i].Datastream]; l != nil {
			gs[i].Levels, gs[i].Direction = l.levels, l.dir
		}
	}
	return gs, nil
}
