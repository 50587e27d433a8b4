package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/ingest"
	"github.com/rabta/rabta/internal/sensing"
	"github.com/rabta/rabta/internal/store/sqlq"
)

// Derived discharge (docs/forecast.md, "Derived discharge in the node").
//
// A Datastream whose properties.derivedFrom names a stage Datastream and a rating curve
// (forecast.ParseDerivation; the store checks it on every create and update) gets one
// discharge Observation for each accepted stage Observation: the deriver consumes accepted
// batches from the bus, durably, like the warning engine, and stores through the one ingest
// path, so the derived values are QC'd, stored, put on the bus (the warning rules read them)
// and served like any other. For each stage Observation:
//
//   - flagged bad: not derived (counted, reason "bad_stage");
//   - not a number: not derived ("not_numeric");
//   - refused by the curve (beyond its range and margin, or at or below h0): not derived
//     ("out_of_range"), logged with the ids only;
//   - otherwise Q = a (h − h0)^b, with the stage's phenomenonTime, resultTime and
//     FeatureOfInterest, and the stage's flag: a suspect stage gives a suspect discharge, an
//     extrapolated one (outside the fitted range, within the margin) a suspect one with a note.
//     QC of the derived Datastream runs too; the worse flag wins (ingest.QC.Check).
//
// The derived batch names the key that posted the stage (sqlq.WithDerivation), so four eyes
// holds through the derivation. resultQuality carries the provenance under "reported": {"derivedFrom": {"datastream",
// "observation", "flag", "extrapolated"?}}. Redelivery (a restart, a batch handled twice) adds
// nothing: IngestAgain leaves out an Observation identical to a stored one (same Datastream,
// phenomenon time and result), and the same stage through the same curve gives the same result.

// derivationStore is what the deriver needs of the entity store.
type derivationStore interface {
	Derivations(ctx context.Context) (map[int64]*forecast.Derivation, error)
	EntitiesChanged() uint64
}

var _ derivationStore = (*sqlq.Entities)(nil)

// deriveRefresh is how often the deriver re-reads the derivations even when this process
// wrote no entity: another process sharing a PostgreSQL store may have.
const deriveRefresh = 5 * time.Second

// deriver computes derived Datastreams' Observations from their stages'.
type deriver struct {
	store  derivationStore
	ingest *ingest.Service
	log    *slog.Logger
	now    func() time.Time

	derived prometheus.Counter     // Observations derived and stored
	skipped *prometheus.CounterVec // stage Observations not derived, by reason

	mu       sync.Mutex
	ctx      context.Context // for reloads asked by watches
	gen      uint64          // store.EntitiesChanged() when last loaded
	loaded   time.Time
	bySource map[int64][]derivedLink
}

// derivedLink is one derived Datastream of a stage Datastream.
type derivedLink struct {
	id    int64
	curve forecast.RatingCurve
}

func newDeriver(ctx context.Context, store derivationStore, in *ingest.Service, reg prometheus.Registerer, now func() time.Time, log *slog.Logger) *deriver {
	d := &deriver{store: store, ingest: in, log: log, now: now, ctx: ctx,
		derived: prometheus.NewCounter(prometheus.CounterOpts{Name: "rabta_derived_observations_total",
			Help: "Observations of derived Datastreams (discharge from stage through a rating curve) computed and stored."}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_derived_skipped_total",
			Help: "Stage Observations from which no derived Observation was stored, by reason (bad_stage, not_numeric, out_of_range, refused)."}, []string{"reason"}),
	}
	reg.MustRegister(d.derived, d.skipped)
	return d
}

// watches reports whether ds is the stage of a derived Datastream (ConsumeObs's want), reading
// the derivations again when this process has written an entity since, or every deriveRefresh.
func (d *deriver) watches(ds int64) bool {
	if ds == 0 {
		return false // a MultiDatastream's batch
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fresh()
	return len(d.bySource[ds]) > 0
}

// fresh reloads the derivations when they may have changed (d.mu held). A failed load keeps
// the previous ones and is tried again on the next message.
func (d *deriver) fresh() {
	gen := d.store.EntitiesChanged() // before reading: a write committed after this is seen next time
	if d.bySource != nil && gen == d.gen && d.now().Sub(d.loaded) < deriveRefresh {
		return
	}
	all, err := d.store.Derivations(d.ctx)
	if err != nil {
		d.log.Warn("derivations_not_loaded", "err", err)
		return
	}
	by := map[int64][]derivedLink{}
	for id, x := range all {
		by[x.Datastream] = append(by[x.Datastream], derivedLink{id: id, curve: x.RatingCurve})
	}
	d.bySource, d.gen, d.loaded = by, gen, d.now()
}

// provenance is what a derived Observation's resultQuality says of its source (under
// "reported").
type provenance struct {
	DerivedFrom struct {
		Datastream   int64        `json:"datastream"`
		Observation  int64        `json:"observation"`
		Flag         sensing.Flag `json:"flag"` // the stage's
		Extrapolated bool         `json:"extrapolated,omitempty"`
		Note         string       `json:"note,omitempty"`
	} `json:"derivedFrom"`
}

// handle derives the batch's stage Observations for every Datastream derived from its
// Datastream. An error (the store unavailable) makes the batch come again; what was stored of
// it is then left out as already stored.
func (d *deriver) handle(ctx context.Context, batch *sensing.ObsBatch) error {
	d.mu.Lock()
	d.fresh()
	links := d.bySource[batch.Datastream]
	d.mu.Unlock()
	for _, l := range links {
		obs := make([]sensing.Observation, 0, len(batch.Obs))
		for _, it := range batch.Obs {
			o, reason := derive(batch.Datastream, l, &it)
			if reason != "" {
				d.skipped.WithLabelValues(reason).Inc()
				if reason == "out_of_range" { // ids only: no values in logs
					d.log.Info("derived_out_of_range", "stage_datastream", batch.Datastream, "observation", it.ID, "datastream", l.id)
				}
				continue
			}
			obs = append(obs, o)
		}
		if len(obs) == 0 {
			continue
		}
		_, errs, err := d.ingest.IngestAgain(sqlq.WithDerivation(ctx, keyOf(batch.By)), "derive", obs)
		if err != nil {
			return fmt.Errorf("derive Datastream(%d) from Datastream(%d): %w", l.id, batch.Datastream, err)
		}
		n := 0
		for i, e := range errs {
			switch {
			case e == nil:
				n++
			case ingest.Duplicate(e): // delivered before
			default:
				d.skipped.WithLabelValues("refused").Inc()
				d.log.Warn("derived_refused", "stage_datastream", batch.Datastream, "datastream", l.id, "reason", apperr.Message(e), "index", i)
			}
		}
		d.derived.Add(float64(n))
	}
	return nil
}

// keyOf returns the API key id of an ObsBatch's By, "<organisation>/key-<id>" (0 for none).
func keyOf(by string) int64 {
	i := strings.LastIndex(by, "/key-")
	if i < 0 {
		return 0
	}
	id, err := strconv.ParseInt(by[i+len("/key-"):], 10, 64)
	if err != nil || id < 0 {
		return 0
	}
	return id
}

// derive computes the Observation of link l from stage item it of Datastream src, or says
// why there is none ("bad_stage", "not_numeric", "out_of_range").
func derive(src int64, l derivedLink, it *sensing.ObsItem) (sensing.Observation, string) {
	if it.Flag >= sensing.FlagBad {
		return sensing.Observation{}, "bad_stage"
	}
	h, ok := it.Number()
	if !ok {
		return sensing.Observation{}, "not_numeric"
	}
	q, ex, err := l.curve.Discharge(h)
	if err != nil {
		return sensing.Observation{}, "out_of_range"
	}
	var p provenance
	p.DerivedFrom.Datastream, p.DerivedFrom.Observation, p.DerivedFrom.Flag = src, it.ID, it.Flag
	flag := it.Flag
	if ex {
		flag = max(flag, sensing.FlagSuspect)
		p.DerivedFrom.Extrapolated = true
		p.DerivedFrom.Note = "stage outside the rating curve's fitted range (within its margin): discharge extrapolated"
	}
	quality, _ := json.Marshal(p) // plain types: cannot fail
	o := sensing.Observation{DatastreamID: l.id, PhenStart: it.Start, PhenEnd: it.End, PhenText: it.PhenomenonTime,
		ResultNum: &q, Flag: flag, Quality: quality, FoIID: it.FoI}
	if it.ResultTime != "" {
		if t, _, err := sensing.ParseTimeOrInterval(it.ResultTime); err == nil {
			o.ResultTime, o.ResultTimeText = &t, it.ResultTime
		}
	}
	return o, ""
}

// startDerive starts the deriver's durable consumer of accepted observations.
func (n *Node) startDerive(bg context.Context) error {
	store, ok := n.stores.Entities.(derivationStore)
	if !ok {
		return nil // a store without derivations: nothing to derive
	}
	d := newDeriver(bg, store, n.ingest, n.opts.Registry, n.now, n.log.With("component", "derive"))
	c, err := n.bus.ConsumeObs(bg, "derive", false, d.watches, func(ctx context.Context, batch *sensing.ObsBatch) error {
		if err := d.handle(ctx, batch); err != nil {
			return err
		}
		n.metrics.busLatency.WithLabelValues("derive").Observe(time.Since(batch.Accepted).Seconds())
		return nil
	})
	if err != nil {
		return err
	}
	n.consumers = append(n.consumers, c)
	return nil
}
