package forecasting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/sensing"
)

// Ingester takes observations through the node's one ingest path (ingest.Service): QC, the
// store, the outbox and so the bus.
type Ingester interface {
	Ingest(ctx context.Context, source string, obs []sensing.Observation) ([]int64, []error, error)
}

// Source is the ingest source name of forecast observations (counted apart in the node's
// ingest metrics).
const Source = "forecast"

// Service runs the node's forecasts: Load reads the stored network and rebuilds the
// forecaster from the stored readings; Handle, the bus consumer of accepted observations,
// feeds each batch of a station's discharge Datastream to it, computes the forecasts of the
// stations downstream (issued now) and ingests them into their forecast Datastreams. It is
// safe for concurrent use: one lock serialises loading and handling.
//
// Forecast observations (SensorThings 1.1 §8.2.7, Observation): phenomenonTime = the time the
// value is for, resultTime = the issue time, result = the expected discharge (the discharge
// Datastream's unit), parameters = {"issued": <RFC 3339>, "leadTimeHours": <hours from issue
// to phenomenonTime>, "lower": <5 % bound>, "upper": <95 % bound>}; a point resting on a
// suspect reading carries resultQuality {"reported": {"forecast": "suspect"}} (the QC flag is
// QC's own). Every issue is kept: the latest forecast for a time is the one with the latest
// resultTime (…/Observations?$filter=phenomenonTime eq T&$orderby=resultTime desc&$top=1),
// and the latest issue is …/Observations?$filter=resultTime eq <latest>.
type Service struct {
	Store  Store
	Ingest Ingester
	Log    *slog.Logger
	Now    func() time.Time
	// OnUpdate, when set, is told how long each forecast update took (the computation, not its
	// ingest) and how many stations it forecast: the node's histogram.
	OnUpdate func(d time.Duration, stations int)

	mu     sync.Mutex
	tl     Timeline
	net    *Network
	fc     *forecast.Forecaster
	input  map[int64]string // discharge Datastream → station
	output map[string]int64 // station → forecast Datastream
}

// Timeline maps the node's clock onto the model's. The demo replays its data faster than real
// time (demo.Replay: shifted = start + (data − split) / speed), so that a reach's 15 hours of
// travel pass in seconds on the node's clock: readings go to the forecaster in data time
// (ToModel), and the forecasts come back onto the node's clock (FromModel), where the rules
// read them. The zero Timeline is the identity (a live node).
type Timeline struct {
	ToModel, FromModel func(time.Time) time.Time
}

func (tl Timeline) toModel(t time.Time) time.Time {
	if tl.ToModel == nil {
		return t
	}
	return tl.ToModel(t)
}

func (tl Timeline) fromModel(t time.Time) time.Time {
	if tl.FromModel == nil {
		return t
	}
	return tl.FromModel(t)
}

// SetTimeline sets the timeline; call Load afterwards (the readings restored are mapped by it).
func (s *Service) SetTimeline(tl Timeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tl = tl
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Load reads the stored network and makes a new forecaster for it, restored from every
// station's stored readings of the forecaster's memory (forecast.Forecaster.Window) before
// now, so that a restart forgets nothing. Without a stored network the service forecasts
// nothing (nil error).
func (s *Service) Load(ctx context.Context) error {
	n, err := s.Store.ForecastNetwork(ctx)
	if apperr.KindOf(err) == apperr.NotFound {
		s.mu.Lock()
		s.net, s.fc, s.input, s.output = nil, nil, nil, nil
		s.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	m, err := n.Model()
	if err != nil {
		return fmt.Errorf("forecast network: %w", err)
	}
	fc, err := forecast.NewForecaster(m)
	if err != nil {
		return fmt.Errorf("forecast network: %w", err)
	}
	input, output := map[int64]string{}, map[string]int64{}
	s.mu.Lock()
	tl := s.tl
	s.mu.Unlock()
	now := s.now()
	// the store is read in the node's time: the window of the model's memory ending now
	since := tl.fromModel(tl.toModel(now).Add(-fc.Window()))
	restored := 0
	for _, st := range n.Stations {
		if st.Forecast != 0 {
			output[st.ID] = st.Forecast
		}
		if st.Discharge == 0 {
			continue
		}
		input[st.Discharge] = st.ID
		rs, err := s.Store.Readings(ctx, st.Discharge, since, now)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := fc.Observe(st.ID, tl.toModel(r.Time), r.Value, r.Flag); err != nil {
				s.log().Warn("forecast_reading_skipped", "station", st.ID, "datastream", st.Discharge, "err", err)
				continue
			}
			restored++
		}
	}
	s.mu.Lock()
	s.net, s.fc, s.input, s.output = n, fc, input, output
	s.mu.Unlock()
	s.log().Info("forecast_network_loaded", "network", n.Name, "stations", len(n.Stations), "forecast_datastreams", len(output), "readings", restored)
	return nil
}

// Refresh loads the network again (Load) when the stored one is not the one loaded: another
// process stored it (rabta forecast network load), or removed it. The node calls it every tick.
func (s *Service) Refresh(ctx context.Context) error {
	n, err := s.Store.ForecastNetwork(ctx)
	if err != nil && apperr.KindOf(err) != apperr.NotFound {
		return err
	}
	s.mu.Lock()
	same := (n == nil && s.net == nil) || (n != nil && s.net != nil && n.Updated.Equal(s.net.Updated) && n.By == s.net.By)
	s.mu.Unlock()
	if same {
		return nil
	}
	return s.Load(ctx)
}

// Run calls Refresh every interval until ctx ends; failures are logged and tried again.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Refresh(ctx); err != nil && ctx.Err() == nil {
				s.log().Warn("forecast_network_refresh_failed", "err", err)
			}
		}
	}
}

// Watches reports whether ds is the discharge Datastream of a network station (so that the
// bus consumer passes over other messages without decoding them). Forecast Datastreams never
// are: the store refuses them as a station's discharge.
func (s *Service) Watches(ds int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.input[ds]
	return ok
}

// Handle takes a batch of accepted observations: for a network station's discharge
// Datastream, each numeric reading goes to the forecaster (a bad one removes the reading it
// corrects), then the stations downstream are forecast as issued now (with a Timeline, the
// demo: as of the batch's latest reading) and their forecasts
// ingested. It is idempotent enough for a bus redelivery (a reading for a time held replaces
// it; the forecasts are issued again). An error of the ingest path makes the batch come again.
func (s *Service) Handle(ctx context.Context, b *sensing.ObsBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	station, ok := s.input[b.Datastream]
	if !ok || s.fc == nil {
		return nil
	}
	for i := range b.Obs {
		it := &b.Obs[i]
		v, ok := it.Number()
		if !ok {
			continue
		}
		if err := s.fc.Observe(station, s.tl.toModel(it.End), v, it.Flag); err != nil {
			s.log().Warn("forecast_reading_skipped", "station", station, "datastream", b.Datastream, "err", err)
		}
	}
	issued := s.now().UTC().Truncate(time.Microsecond) // as the store keeps it: two issues in a second stay apart
	asOf := s.tl.toModel(issued)
	if s.tl.ToModel != nil {
		// the demo: forecast as of the batch's latest reading, however late the batch is
		// handled — at its speed a second late is days of data, past most reaches' travel time
		var latest time.Time
		for i := range b.Obs {
			if b.Obs[i].End.After(latest) {
				latest = b.Obs[i].End
			}
		}
		if !latest.IsZero() && s.tl.toModel(latest).Before(asOf) {
			asOf = s.tl.toModel(latest)
		}
	}
	start := time.Now()
	fcs := s.fc.Update(asOf, station)
	if s.OnUpdate != nil {
		s.OnUpdate(time.Since(start), len(fcs))
	}
	obs := s.observations(issued, fcs)
	if len(obs) == 0 {
		return nil
	}
	_, errs, err := s.Ingest.Ingest(ctx, Source, obs)
	if err != nil {
		return fmt.Errorf("ingest forecasts: %w", err)
	}
	if err := errors.Join(errs...); err != nil {
		s.log().Warn("forecast_points_refused", "err", err)
	}
	return nil
}

// Parameters is the parameters object of a forecast observation.
type Parameters struct {
	Issued        time.Time `json:"issued"`
	LeadTimeHours float64   `json:"leadTimeHours"`
	Lower         float64   `json:"lower"`
	Upper         float64   `json:"upper"`
}

// observations turns forecasts issued at issued (the node's time) into observations of the
// stations' forecast Datastreams, their times on the node's clock; the lead time in the
// parameters is the model's (the demo: hours of data).
func (s *Service) observations(issued time.Time, fcs []forecast.StationForecast) []sensing.Observation {
	var out []sensing.Observation
	rt := issued
	for _, f := range fcs {
		ds, ok := s.output[f.Station]
		if !ok {
			continue
		}
		for _, p := range f.Points {
			if math.IsNaN(p.Value) || math.IsInf(p.Value, 0) {
				continue
			}
			v := p.Value
			t := s.tl.fromModel(p.Time).UTC()
			if !t.After(s.tl.fromModel(f.Issued)) { // only a Timeline can bring a model time after the issue back to it
				continue
			}
			params, _ := json.Marshal(Parameters{Issued: issued, LeadTimeHours: round(p.Time.Sub(f.Issued).Hours(), 3), Lower: p.Lower, Upper: p.Upper})
			o := sensing.Observation{DatastreamID: ds, PhenStart: t, PhenEnd: t, PhenText: t.Format(time.RFC3339Nano),
				ResultTime: &rt, ResultTimeText: issued.Format(time.RFC3339Nano), ResultNum: &v, Parameters: params}
			if p.Flag == sensing.FlagSuspect {
				o.Quality = json.RawMessage(`{"forecast":"suspect"}`)
			}
			out = append(out, o)
		}
	}
	return out
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}

// Network returns the stored network (NotFound when there is none).
func (s *Service) Network(ctx context.Context) (*Network, error) { return s.Store.ForecastNetwork(ctx) }

// Save stores n as the node's network (Store.SaveForecastNetwork, the principal in ctx
// checked there; forecast Datastreams made by ForecastDatastream) and loads it.
func (s *Service) Save(ctx context.Context, n *Network) error {
	if _, err := n.Model(); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "%s", err.Error())
	}
	err := s.Store.SaveForecastNetwork(ctx, n, func(st Station, d Discharge) *sensing.Entity { return ForecastDatastream(n.Name, st, d) })
	if err != nil {
		return err
	}
	return s.Load(ctx)
}
