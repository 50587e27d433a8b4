package node

import (
	"context"
	"log/slog"
	"time"

	"github.com/rabta/rabta/internal/demo"
	"github.com/rabta/rabta/internal/i18n"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/warning"
)

// demoNames adds the demo's names (stations, rivers, areas, sender) in six languages to
// those of the node (nil: none).
func demoNames(own *i18n.Names) (*i18n.Names, error) {
	ds, err := demo.Load()
	if err != nil {
		return nil, err
	}
	names, err := demo.Names(ds)
	if err != nil {
		return nil, err
	}
	if own != nil {
		own.Merge(names)
		return own, nil
	}
	return names, nil
}

// runDemo seeds the demo data set on a fresh node, backfills its recent history and replays
// the rest live through the same ingest path as any sensor.
func runDemo(ctx context.Context, ents EntityStore, ing *ingest.Service, alerts AlertStore, runner *warning.Runner, speed float64, now time.Time, log *slog.Logger) error {
	ds, err := demo.Load()
	if err != nil {
		return err
	}
	ids, err := demo.Seed(ctx, ents, ds)
	if err != nil {
		return err
	}
	if existing, _, err := alerts.LoadRules(ctx); err != nil {
		return err
	} else if len(existing) == 0 {
		rules, err := demo.Rules(ds, ids)
		if err != nil {
			return err
		}
		if err := warning.Apply(ctx, alerts, rules); err != nil {
			return err
		}
		if err := runner.Load(ctx); err != nil {
			return err
		}
		log.Info("demo_rules_applied", "rules", len(rules))
	}
	r := demo.NewReplay(ds, now, speed, demo.DefaultHistory)
	n := 0
	for _, b := range r.Backfill() {
		obs := demo.Observations(ids[b.Series.Key], b)
		if _, _, err := ing.Ingest(ctx, "demo", obs); err != nil {
			return err
		}
		n += len(obs)
	}
	log.Info("demo_seeded", "stations", len(ds.Stations), "datastreams", len(ds.Series), "backfilled", n, "speed", r.Speed())
	return r.Run(ctx, func(ctx context.Context, b demo.Batch) error {
		if _, _, err := ing.Ingest(ctx, "demo", demo.Observations(ids[b.Series.Key], b)); err != nil {
			log.Warn("demo_ingest_failed", "series", b.Series.Key, "err", err)
		}
		return nil
	})
}
