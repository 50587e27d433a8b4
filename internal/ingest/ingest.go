package ingest

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// Store stores observations: per-item errors for refused items, the rest committed together.
// IngestNew also refuses, with an error for which Duplicate is true, an observation identical
// to one already stored.
type Store interface {
	Ingest(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error)
	IngestNew(ctx context.Context, obs []sensing.Observation) ([]int64, []error, error)
}

// Service is the ingest path.
type Service struct {
	Store Store
	Log   *slog.Logger
	// Accepted and Rejected count observations since start.
	Accepted, Rejected atomic.Int64
	// OnResult, when set, is told each batch's outcome (for metrics): how many were accepted,
	// and the reason of each rejected one.
	OnResult func(source string, accepted int, rejected []error)
	// Guard, when set, may refuse every Observation of a Datastream (its error is the item's):
	// the node's remote Datastreams, written only by the federation importer.
	Guard func(ctx context.Context, datastream int64) error
}

// guarded stores obs through store, each Observation Guard refuses left out with its error.
func (s *Service) guarded(ctx context.Context, obs []sensing.Observation, store func(context.Context, []sensing.Observation) ([]int64, []error, error)) ([]int64, []error, error) {
	if s.Guard == nil {
		return store(ctx, obs)
	}
	refused := map[int64]error{}
	// keep and at are made only once one is refused: in the usual case nothing is, and obs
	// goes to store as it is, not copied (10,000 Observations are 2.4 MB; docs/bench.md, footprint)
	var keep []sensing.Observation
	var at []int
	var errs []error
	for i := range obs {
		o := &obs[i]
		if o.DatastreamID != 0 {
			err, seen := refused[o.DatastreamID]
			if !seen {
				err = s.Guard(ctx, o.DatastreamID)
				if err != nil && apperr.KindOf(err) == apperr.Internal {
					return nil, nil, err
				}
				refused[o.DatastreamID] = err
			}
			if err != nil {
				if errs == nil { // the first refused: those before it are kept
					errs = make([]error, len(obs))
					keep = append(make([]sensing.Observation, 0, len(obs)-1), obs[:i]...)
					for j := range i {
						at = append(at, j)
					}
				}
				errs[i] = err
				continue
			}
		}
		if errs != nil {
			keep = append(keep, *o)
			at = append(at, i)
		}
	}
	if errs == nil {
		return store(ctx, obs)
	}
	ids := make([]int64, len(obs))
	if len(keep) > 0 {
		kids, kerrs, err := store(ctx, keep)
		if err != nil {
			return nil, nil, err
		}
		for j, i := range at {
			ids[i], errs[i] = kids[j], kerrs[j]
		}
	}
	return ids, errs, nil
}

// Ingest stores obs, received by source ("http", "csv", "mqtt", "demo").
func (s *Service) Ingest(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error) {
	ids, errs, err := s.guarded(ctx, obs, s.Store.Ingest)
	if err != nil {
		return nil, nil, err
	}
	s.counted(ctx, source, obs, errs)
	return ids, errs, nil
}

// committer is a Store whose writes may join a transaction still open (a SensorThings batch's
// change set): OnCommit runs f once that commits, and never if it rolls back.
type committer interface {
	OnCommit(ctx context.Context, f func())
}

// counted counts a batch now, or after the transaction it joined commits.
func (s *Service) counted(ctx context.Context, source string, obs []sensing.Observation, errs []error) {
	if c, ok := s.Store.(committer); ok {
		c.OnCommit(ctx, func() { s.count(ctx, source, obs, errs) })
		return
	}
	s.count(ctx, source, obs, errs)
}

// IngestAgain is Ingest for sources that may deliver an observation twice (MQTT QoS 1 after a
// crash, a re-imported file): an observation identical to a stored one is left out, with
// Duplicate(err) true, and not counted as rejected.
func (s *Service) IngestAgain(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error) {
	ids, errs, err := s.guarded(ctx, obs, s.Store.IngestNew)
	if err != nil {
		return nil, nil, err
	}
	s.counted(ctx, source, obs, errs)
	return ids, errs, nil
}

// Duplicate reports whether an item error of IngestAgain says "already stored".
func Duplicate(err error) bool { return apperr.KindOf(err) == apperr.Conflict }

func (s *Service) count(ctx context.Context, source string, obs []sensing.Observation, errs []error) {
	var bad, dup int64
	var rejected []error
	for i, e := range errs {
		if e != nil && Duplicate(e) {
			dup++
			continue
		}
		if e != nil {
			bad++
			rejected = append(rejected, e)
			if s.Log != nil && bad <= 3 {
				s.Log.DebugContext(ctx, "observation_rejected", "source", source, "datastream", obs[i].DatastreamID,
					"multi_datastream", obs[i].MultiDatastreamID, "reason", apperr.Message(e))
			}
		}
	}
	s.Accepted.Add(int64(len(obs)) - bad - dup)
	s.Rejected.Add(bad)
	if s.OnResult != nil {
		s.OnResult(source, len(obs)-int(bad+dup), rejected)
	}
}

// Reject counts an observation refused before it reached the store (it could not be decoded).
func (s *Service) Reject(source string, err error) {
	s.Rejected.Add(1)
	if s.OnResult != nil {
		s.OnResult(source, 0, []error{err})
	}
}

// QC is the quality-control Checker: the default limits of the datastream's observed property
// and unit, overridden by the datastream's properties.qc, with per-datastream state.
type QC struct {
	Log *slog.Logger
}

var _ sensing.Checker = (*QC)(nil)

type qcEntry struct {
	cfg   sensing.QCConfig
	state sensing.QCState
}

// Check implements sensing.Checker.
func (q *QC) Check(ds *sensing.DatastreamInfo, o *sensing.Observation) error {
	st, _ := ds.State.(*qcEntry)
	if st == nil {
		st = &qcEntry{cfg: ConfigFor(ds, q.Log)}
		for _, p := range ds.Recent { // rebuild the state from the latest stored values
			st.state.Check(st.cfg, p.T, p.V)
		}
		ds.State = st
	}
	var res sensing.QCResult
	if o.ResultNum != nil {
		res = st.state.Check(st.cfg, o.PhenEnd, *o.ResultNum)
	} else {
		res = st.state.CheckResult(st.cfg, o.PhenEnd, o.ResultJSON)
	}
	// A flag the observation arrives with is the node's own (a derived discharge carries its
	// stage's: node/derived.go; decoders never set one from a client): the worse flag wins.
	res.Flag = max(res.Flag, o.Flag)
	o.Flag = res.Flag
	if len(res.Issues) == 0 && len(o.Quality) == 0 {
		o.Quality = nil // stored as NULL, read back as {"flag":"good"}
		return nil
	}
	q2 := struct {
		sensing.QCResult
		Reported json.RawMessage `json:"reported,omitempty"`
	}{res, o.Quality}
	b, err := json.Marshal(q2)
	if err != nil {
		return err
	}
	o.Quality = b
	return nil
}

// ConfigFor returns the QC configuration of a datastream: the defaults for its observed
// property and unit, with its properties.qc applied. An invalid override (refused when the
// datastream is created or changed, so only possible in data written by other means) is
// logged and ignored.
func ConfigFor(ds *sensing.DatastreamInfo, log *slog.Logger) sensing.QCConfig {
	cfg := sensing.DefaultQC(ds.ObservedPropertyName, ds.ObservedPropertyDef, ds.UnitSymbol)
	over, err := sensing.ParseQCOverride(ds.Properties)
	if err != nil && log != nil {
		log.Warn("qc_override_invalid", "datastream", ds.ID, "err", err)
	}
	return cfg.Merge(over)
}
