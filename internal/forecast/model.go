package forecast

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Forecast model.
//
// A Model is everything forecasting a network needs: the network, the routing step and one
// calibrated ReachModel per reach. It is stored as JSON (data/punjab_model.json for the demo):
//
//	{
//	  "network": {"stations": [{"id": "tarbela", "name": "…", …}], "reaches": [{"from": …, "to": …, "length_km": …, "travel_time_h": …}]},
//	                                   // or the network file's YAML text as one JSON string
//	  "step_h": 1,                     // routing step, hours
//	  "correction": "additive",        // optional: additive (default), ratio or none
//	  "correction_decay_h": 48,        // optional: e-folding time of the correction, hours
//	  "max_gap_h": 72,                 // optional: longest gap between readings interpolated across, hours
//	  "warmup_h": 120,                 // optional: how far back the routing starts, hours
//	  "hold_branches": true,           // optional: hold a confluence's shorter branches (Model.HoldBranches)
//	  "band_growth_per_h": 1150,       // optional: band widening per hour of lead, flow unit/h (Model.BandGrowth)
//	  "reaches": [{"from": "tarbela", "to": "kalabagh", "K": 9.1, "x": 0.2, "m": 1, "scheme": "rk4",
//	               "lag_h": 30, "gain": 0.97, "rmse": 12000, "n": 1200}]
//	}
//
// Flows are in one unit throughout (the demo: cusecs, as PDMA reports them): RMSE is in it,
// and K's unit follows from m (muskingum.go).

// ReachModel is the calibrated routing of one reach (From → To).
type ReachModel struct {
	From, To  string
	Muskingum Muskingum     // K, x, m (muskingum.go)
	Scheme    Scheme        // the routing step the parameters belong to
	Lag       time.Duration // pure travel time (whole steps)
	Gain      float64       // share of the routed flow that reaches To (withdrawals, losses, lateral inflow); 1 = all
	RMSE      float64       // calibration residual, flow unit: the band's width comes from it
	N         int           // samples the calibration used (0: prior, not calibrated)
}

// Correction says how a forecast is corrected with the error at the issue time (the observed
// downstream reading at or just before the issue time against the simulated value then).
type Correction int

const (
	// CorrectAdditive adds the error e = observed − simulated, decaying with lead time:
	// Q(t) = sim(t) + e·exp(−(t − t_obs)/τ).
	CorrectAdditive Correction = iota
	// CorrectRatio scales by the ratio r = observed / simulated, decaying towards 1:
	// Q(t) = sim(t)·(1 + (r − 1)·exp(−(t − t_obs)/τ)).
	CorrectRatio
	// CorrectNone leaves the simulation as it is.
	CorrectNone
)

var correctionNames = [...]string{CorrectAdditive: "additive", CorrectRatio: "ratio", CorrectNone: "none"}

// String names the correction as JSON shows it.
func (c Correction) String() string {
	if c >= 0 && int(c) < len(correctionNames) {
		return correctionNames[c]
	}
	return fmt.Sprintf("Correction(%d)", int(c))
}

// MarshalText writes the correction by name.
func (c Correction) MarshalText() ([]byte, error) {
	if c < 0 || int(c) >= len(correctionNames) {
		return nil, fmt.Errorf("unknown forecast correction %d", int(c))
	}
	return []byte(c.String()), nil
}

// UnmarshalText reads a correction by name; an unknown name is an error.
func (c *Correction) UnmarshalText(b []byte) error {
	for i, n := range correctionNames {
		if n == string(b) {
			*c = Correction(i)
			return nil
		}
	}
	return fmt.Errorf("unknown forecast correction %q (want additive, ratio or none)", b)
}

// Defaults of the Model's optional settings (used when the field is 0).
const (
	DefaultCorrectionDecay = 48 * time.Hour
	DefaultMaxGap          = 72 * time.Hour
	DefaultWarmup          = 120 * time.Hour
	// DefaultPriorX is x of a reach without a calibrated model.
	DefaultPriorX = 0.2
	// PriorRelErr is the relative error (one standard deviation, as a fraction of the routed
	// flow) assumed for a reach that was not calibrated (N = 0, RMSE 0): its band.
	PriorRelErr = 0.25
)

// Model is what forecasting a network needs: the network, the routing step, one ReachModel per reach.
type Model struct {
	Network *Network
	Step    time.Duration // routing step (the demo: 1 h)
	Reaches []ReachModel  // one per reach of Network (a reach without one: travel time as lag, x=0.2, m=1, K=step, Gain 1; PriorReach)

	// Correction is how the forecast is corrected with the error at the issue time (default additive).
	Correction Correction
	// CorrectionDecay is the e-folding time τ of the correction (0: DefaultCorrectionDecay).
	CorrectionDecay time.Duration
	// MaxGap is the longest gap between two readings that is interpolated across (0:
	// DefaultMaxGap); a longer gap breaks the series, and the routing starts after it.
	MaxGap time.Duration
	// Warmup is how long before the issue time the routing starts, from the observed
	// downstream flow then (0: DefaultWarmup).
	Warmup time.Duration
	// HoldBranches extends a confluence's forecast past its shortest branch's horizon, up to
	// the longest one's: a branch whose routed flow is no longer known is held at its last
	// known value, and the points that rest on such a held value are flagged suspect. Off, the
	// forecast stops where the first branch stops.
	HoldBranches bool
	// BandGrowth widens the band with lead time: a standard deviation of BandGrowth × lead
	// (flow unit per hour of lead) is added in quadrature to the one from the calibration
	// RMSEs. EstimateBandGrowth gives it from a hindcast's residuals. 0: no growth.
	BandGrowth float64
}

func (m Model) correctionDecay() time.Duration {
	if m.CorrectionDecay > 0 {
		return m.CorrectionDecay
	}
	return DefaultCorrectionDecay
}

func (m Model) maxGap() time.Duration {
	if m.MaxGap > 0 {
		return m.MaxGap
	}
	return DefaultMaxGap
}

func (m Model) warmup() time.Duration {
	if m.Warmup > 0 {
		return m.Warmup
	}
	return DefaultWarmup
}

// PriorReach is the model of a reach that was not calibrated: its published travel time as
// the lag, or, where none is published, its length at the given wave celerity (km/h; see
// PriorCelerity; 0: lag 0), rounded to whole steps; linear Muskingum with K one step and
// x = DefaultPriorX; Gain 1; N 0.
func PriorReach(r Reach, step time.Duration, celerity float64) ReachModel {
	tt := r.TravelTime
	if tt == 0 && r.LengthKM > 0 && celerity > 0 {
		tt = time.Duration(r.LengthKM / celerity * float64(time.Hour))
	}
	lag := time.Duration(math.Round(float64(tt)/float64(step))) * step
	return ReachModel{From: r.From, To: r.To, Muskingum: Muskingum{K: step.Hours(), X: DefaultPriorX, M: 1},
		Scheme: SchemeRK4, Lag: lag, Gain: 1}
}

// PriorCelerity is the median flood-wave celerity, km/h, of the network's reaches that have
// both a length and a published travel time (0 when none do): the demo network's ten such
// reaches give 3.65 km/h (from 1.65, Sukkur → Kotri, to 6.33, Chashma → Taunsa).
func PriorCelerity(n *Network) float64 {
	var cs []float64
	for _, r := range n.Reaches() {
		if r.TravelTime > 0 && r.LengthKM > 0 {
			cs = append(cs, r.LengthKM/r.TravelTime.Hours())
		}
	}
	if len(cs) == 0 {
		return 0
	}
	slices.Sort(cs)
	if len(cs)%2 == 1 {
		return cs[len(cs)/2]
	}
	return (cs[len(cs)/2-1] + cs[len(cs)/2]) / 2
}

// reach returns the model of reach r: the one in m.Reaches or its PriorReach.
func (m Model) reach(r Reach) ReachModel {
	for _, rm := range m.Reaches {
		if rm.From == r.From && rm.To == r.To {
			return rm
		}
	}
	return PriorReach(r, m.Step, PriorCelerity(m.Network))
}

// Validate checks a model: a network, a step of at least a minute and at most a day, every
// ReachModel naming a reach of the network (at most once) with valid Muskingum parameters, a
// known scheme, a lag ≥ 0 in whole steps, a finite Gain > 0, a finite RMSE ≥ 0 and N ≥ 0; and
// the optional settings not negative.
func (m Model) Validate() error {
	if m.Network == nil {
		return errors.New("forecast model: no network")
	}
	if m.Step < time.Minute || m.Step > 24*time.Hour {
		return fmt.Errorf("forecast model: step %v: want from 1 minute to 24 hours", m.Step)
	}
	if m.CorrectionDecay < 0 || m.MaxGap < 0 || m.Warmup < 0 {
		return errors.New("forecast model: correction_decay_h, max_gap_h and warmup_h must not be negative")
	}
	if !(m.BandGrowth >= 0) || math.IsInf(m.BandGrowth, 0) {
		return fmt.Errorf("forecast model: band_growth_per_h %v: want a finite number ≥ 0", m.BandGrowth)
	}
	if m.Correction < 0 || int(m.Correction) >= len(correctionNames) {
		return fmt.Errorf("forecast model: unknown correction %d", int(m.Correction))
	}
	seen := map[[2]string]int{}
	for i, rm := range m.Reaches {
		where := fmt.Sprintf("forecast model: reaches[%d] (%s → %s)", i, rm.From, rm.To)
		d, ok := m.Network.Downstream(rm.From)
		if !ok || d.To != rm.To {
			return fmt.Errorf("%s: no such reach in the network", where)
		}
		if j, dup := seen[[2]string{rm.From, rm.To}]; dup {
			return fmt.Errorf("%s: given twice (also reaches[%d])", where, j)
		}
		seen[[2]string{rm.From, rm.To}] = i
		if err := rm.Muskingum.Valid(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if rm.Scheme < SchemeClassic || rm.Scheme > SchemeRK4 {
			return fmt.Errorf("%s: unknown scheme %d", where, int(rm.Scheme))
		}
		if rm.Lag < 0 || rm.Lag%m.Step != 0 {
			return fmt.Errorf("%s: lag %v: want whole steps of %v, ≥ 0", where, rm.Lag, m.Step)
		}
		if !(rm.Gain > 0) || math.IsInf(rm.Gain, 0) {
			return fmt.Errorf("%s: gain %v: want a finite number > 0", where, rm.Gain)
		}
		if !(rm.RMSE >= 0) || math.IsInf(rm.RMSE, 0) {
			return fmt.Errorf("%s: rmse %v: want a finite number ≥ 0", where, rm.RMSE)
		}
		if rm.N < 0 {
			return fmt.Errorf("%s: n %d: want ≥ 0", where, rm.N)
		}
	}
	return nil
}

// JSON forms.

type jsonStation struct {
	ID     string   `json:"id"`
	Name   string   `json:"name,omitempty"`
	River  string   `json:"river,omitempty"`
	Lat    *float64 `json:"lat,omitempty"`
	Lon    *float64 `json:"lon,omitempty"`
	Approx bool     `json:"approx,omitempty"`
	Source string   `json:"source,omitempty"`
}

type jsonReach struct {
	From       string   `json:"from"`
	To         string   `json:"to"`
	LengthKM   float64  `json:"length_km,omitempty"`
	TravelTime *float64 `json:"travel_time_h,omitempty"`
}

type jsonNetwork struct {
	Stations []jsonStation `json:"stations"`
	Reaches  []jsonReach   `json:"reaches"`
}

type jsonReachModel struct {
	From   string  `json:"from"`
	To     string  `json:"to"`
	K      float64 `json:"K"`
	X      float64 `json:"x"`
	M      float64 `json:"m"`
	Scheme Scheme  `json:"scheme"`
	LagH   float64 `json:"lag_h"`
	Gain   float64 `json:"gain"`
	RMSE   float64 `json:"rmse"`
	N      int     `json:"n"`
}

type jsonModel struct {
	Network         json.RawMessage  `json:"network"`
	StepH           float64          `json:"step_h"`
	Correction      *Correction      `json:"correction,omitempty"`
	CorrectionDecay float64          `json:"correction_decay_h,omitempty"`
	MaxGapH         float64          `json:"max_gap_h,omitempty"`
	WarmupH         float64          `json:"warmup_h,omitempty"`
	HoldBranches    bool             `json:"hold_branches,omitempty"`
	BandGrowth      float64          `json:"band_growth_per_h,omitempty"`
	Reaches         []jsonReachModel `json:"reaches"`
}

func hours(d time.Duration) float64 { return d.Hours() }

func fromHours(h float64) (time.Duration, error) {
	if math.IsNaN(h) || math.IsInf(h, 0) || h < 0 || h > 24*3650 {
		return 0, fmt.Errorf("%v: want hours from 0 to ten years", h)
	}
	return time.Duration(math.Round(h * float64(time.Hour))), nil
}

// MarshalJSON writes the model in the form above, the network as stations and reaches.
func (m Model) MarshalJSON() ([]byte, error) {
	if m.Network == nil {
		return nil, errors.New("forecast model: no network")
	}
	var jn jsonNetwork
	for _, s := range m.Network.Stations() {
		js := jsonStation{ID: s.ID, Name: s.Name, River: s.River, Approx: s.Approx, Source: s.Source}
		if s.HasPosition {
			js.Lat, js.Lon = &s.Lat, &s.Lon
		}
		jn.Stations = append(jn.Stations, js)
	}
	for _, r := range m.Network.Reaches() {
		jr := jsonReach{From: r.From, To: r.To, LengthKM: r.LengthKM}
		if r.TravelTime > 0 {
			h := hours(r.TravelTime)
			jr.TravelTime = &h
		}
		jn.Reaches = append(jn.Reaches, jr)
	}
	net, err := json.Marshal(jn)
	if err != nil {
		return nil, err
	}
	c := m.Correction
	jm := jsonModel{Network: net, StepH: hours(m.Step), Correction: &c,
		CorrectionDecay: hours(m.CorrectionDecay), MaxGapH: hours(m.MaxGap), WarmupH: hours(m.Warmup),
		HoldBranches: m.HoldBranches, BandGrowth: m.BandGrowth, Reaches: []jsonReachModel{}}
	for _, rm := range m.Reaches {
		jm.Reaches = append(jm.Reaches, jsonReachModel{From: rm.From, To: rm.To, K: rm.Muskingum.K, X: rm.Muskingum.X,
			M: rm.Muskingum.M, Scheme: rm.Scheme, LagH: hours(rm.Lag), Gain: rm.Gain, RMSE: rm.RMSE, N: rm.N})
	}
	return json.MarshalIndent(jm, "", "  ")
}

// UnmarshalJSON reads the form above (the network as stations and reaches, or as the YAML
// text of a network file in a JSON string) and validates the result (Validate). Unknown
// fields are refused; errors name the field.
func (m *Model) UnmarshalJSON(b []byte) error {
	var jm jsonModel
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&jm); err != nil {
		return fmt.Errorf("forecast model: %w", err)
	}
	var out Model
	net := bytes.TrimSpace(jm.Network)
	switch {
	case len(net) == 0 || bytes.Equal(net, []byte("null")):
		return errors.New("forecast model: network: missing")
	case net[0] == '"':
		var text string
		if err := json.Unmarshal(net, &text); err != nil {
			return fmt.Errorf("forecast model: network: %w", err)
		}
		n, err := LoadNetwork([]byte(text))
		if err != nil {
			return fmt.Errorf("forecast model: network: %w", err)
		}
		out.Network = n
	default:
		var jn jsonNetwork
		d := json.NewDecoder(bytes.NewReader(net))
		d.DisallowUnknownFields()
		if err := d.Decode(&jn); err != nil {
			return fmt.Errorf("forecast model: network: %w", err)
		}
		var ss []Station
		for _, js := range jn.Stations {
			s := Station{ID: js.ID, Name: js.Name, River: js.River, Approx: js.Approx, Source: js.Source}
			if (js.Lat == nil) != (js.Lon == nil) {
				return fmt.Errorf("forecast model: network: station %q: give lat and lon, or neither", js.ID)
			}
			if js.Lat != nil {
				s.Lat, s.Lon, s.HasPosition = *js.Lat, *js.Lon, true
			}
			ss = append(ss, s)
		}
		var rs []Reach
		for i, jr := range jn.Reaches {
			r := Reach{From: jr.From, To: jr.To, LengthKM: jr.LengthKM}
			if jr.TravelTime != nil {
				d, err := fromHours(*jr.TravelTime)
				if err != nil {
					return fmt.Errorf("forecast model: network: reaches[%d].travel_time_h: %w", i, err)
				}
				r.TravelTime = d
			}
			rs = append(rs, r)
		}
		n, err := NewNetwork(ss, rs)
		if err != nil {
			return fmt.Errorf("forecast model: %w", err)
		}
		out.Network = n
	}
	var err error
	if out.Step, err = fromHours(jm.StepH); err != nil {
		return fmt.Errorf("forecast model: step_h: %w", err)
	}
	if jm.Correction != nil {
		out.Correction = *jm.Correction
	}
	out.HoldBranches, out.BandGrowth = jm.HoldBranches, jm.BandGrowth
	for _, f := range []struct {
		name string
		h    float64
		d    *time.Duration
	}{{"correction_decay_h", jm.CorrectionDecay, &out.CorrectionDecay}, {"max_gap_h", jm.MaxGapH, &out.MaxGap}, {"warmup_h", jm.WarmupH, &out.Warmup}} {
		if *f.d, err = fromHours(f.h); err != nil {
			return fmt.Errorf("forecast model: %s: %w", f.name, err)
		}
	}
	for i, jr := range jm.Reaches {
		lag, err := fromHours(jr.LagH)
		if err != nil {
			return fmt.Errorf("forecast model: reaches[%d].lag_h: %w", i, err)
		}
		out.Reaches = append(out.Reaches, ReachModel{From: jr.From, To: jr.To, Muskingum: Muskingum{K: jr.K, X: jr.X, M: jr.M},
			Scheme: jr.Scheme, Lag: lag, Gain: jr.Gain, RMSE: jr.RMSE, N: jr.N})
	}
	if err := out.Validate(); err != nil {
		return err
	}
	*m = out
	return nil
}

// punjabModel is the demo network's calibrated model (internal/forecast/cmd/calibrate-demo
// writes it from the demo data; docs/forecast.md, "Calibrating the demo network").
//
//go:embed data/punjab_model.json
var punjabModel []byte

// PunjabIndusModel returns the demo network with its calibrated parameters (embedded
// data/punjab_model.json).
func PunjabIndusModel() (Model, error) {
	var m Model
	if err := json.Unmarshal(punjabModel, &m); err != nil {
		return Model{}, err
	}
	return m, nil
}
