// Package forecasting runs flood forecasts in the node (issue 13): it keeps the node's river
// network with the Things and Datastreams that observe its stations, feeds every accepted
// discharge reading of a network station to a forecast.Forecaster, and ingests the forecasts
// it computes into one forecast Datastream per station with an upstream reach, through the
// node's ingest path — so that they are stored, go out on the bus, and the warning engine's
// forecast rules read them. docs/forecast.md, "Forecasts in the node", describes it for
// operators. The computation itself is package forecast's; this package only wires it.
package forecasting

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/rabta/rabta/internal/forecast"
	"github.com/rabta/rabta/internal/sensing"
)

// Network is the node's stored river network: the stations and reaches of a
// forecast.Network, each station tied to what observes it, each reach with its routing
// parameters.
type Network struct {
	// Organisation owns the network: its admins (and the node-wide admin) replace it.
	Organisation string
	// Name names the network, e.g. "punjab-indus" (free text, ≤ 200 bytes).
	Name string
	// Step is the routing step (forecast.Model.Step); 0 means one hour.
	Step time.Duration
	// Settings are the model's other options (forecast.Model's Correction, CorrectionDecay,
	// MaxGap, Warmup, HoldBranches, BandGrowth; zero: its defaults).
	Settings Settings
	// Updated and By say when (set by the store, to the microsecond) and by whom
	// (auth.Principal.Name, "cli/<user>" or "node/demo") it was stored.
	Updated time.Time
	By      string
	// Stations, in the order given; Reaches likewise.
	Stations []Station
	Reaches  []Reach
}

// Settings are a model's options besides its step and reaches (forecast.Model).
type Settings struct {
	Correction                      forecast.Correction
	CorrectionDecay, MaxGap, Warmup time.Duration
	HoldBranches                    bool
	BandGrowth                      float64 // flow unit per hour of lead
}

// settingsJSON is how Settings and a reach's parameters are stored and shown: hours, names.
type settingsJSON struct {
	Correction      forecast.Correction `json:"correction"`
	CorrectionDecay float64             `json:"correction_decay_h,omitempty"`
	MaxGap          float64             `json:"max_gap_h,omitempty"`
	Warmup          float64             `json:"warmup_h,omitempty"`
	HoldBranches    bool                `json:"hold_branches,omitempty"`
	BandGrowth      float64             `json:"band_growth_per_h,omitempty"`
}

// MarshalJSON writes the settings with durations in hours (correction_decay_h …).
func (s Settings) MarshalJSON() ([]byte, error) {
	return json.Marshal(settingsJSON{s.Correction, s.CorrectionDecay.Hours(), s.MaxGap.Hours(), s.Warmup.Hours(), s.HoldBranches, s.BandGrowth})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Settings) UnmarshalJSON(b []byte) error {
	var j settingsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Settings{j.Correction, hoursDur(j.CorrectionDecay), hoursDur(j.MaxGap), hoursDur(j.Warmup), j.HoldBranches, j.BandGrowth}
	return nil
}

func hoursDur(h float64) time.Duration { return time.Duration(h * float64(time.Hour)) }

// ReachParams is a reach's routing parameters as stored and shown (the document's keys).
type ReachParams struct {
	K      float64         `json:"k_h"`
	X      float64         `json:"x"`
	M      float64         `json:"m"`
	Scheme forecast.Scheme `json:"scheme"`
	Lag    float64         `json:"lag_h"`
	Gain   float64         `json:"gain"`
	RMSE   float64         `json:"rmse"`
	N      int             `json:"n"`
}

// Params returns rm's parameters in their stored form.
func Params(rm forecast.ReachModel) ReachParams {
	return ReachParams{rm.Muskingum.K, rm.Muskingum.X, rm.Muskingum.M, rm.Scheme, rm.Lag.Hours(), rm.Gain, rm.RMSE, rm.N}
}

// Model returns the reach model of from → to with these parameters.
func (p ReachParams) Model(from, to string) forecast.ReachModel {
	return forecast.ReachModel{From: from, To: to, Muskingum: forecast.Muskingum{K: p.K, X: p.X, M: p.M}, Scheme: p.Scheme,
		Lag: time.Duration(math.Round(p.Lag*3600)) * time.Second, Gain: p.Gain, RMSE: p.RMSE, N: p.N}
}

// Station is one network station and the SensorThings entities tied to it.
type Station struct {
	forecast.Station
	// Thing is the Thing at the station and Discharge its Datastream of discharge readings
	// (the forecaster's input, in the model's flow unit); both 0 for a station no one
	// observes (it is then routed through but has no readings and no forecast datastream).
	Thing, Discharge int64
	// Forecast is the Datastream the node writes the station's forecasts into, made when the
	// network is stored for every observed station with an upstream reach; 0 for the others.
	// Read only: what a client sends is ignored.
	Forecast int64
}

// Reach is one network reach with its routing parameters.
type Reach struct {
	forecast.Reach
	// Model is the reach's calibrated routing (forecast.ReachModel); nil when not calibrated:
	// the forecaster then routes with travel time as lag, x = 0.2, m = 1, K = one step.
	Model *forecast.ReachModel
}

// Net returns the network's topology as a validated forecast.Network.
func (n *Network) Net() (*forecast.Network, error) {
	st := make([]forecast.Station, len(n.Stations))
	for i, s := range n.Stations {
		st[i] = s.Station
	}
	rs := make([]forecast.Reach, len(n.Reaches))
	for i, r := range n.Reaches {
		rs[i] = r.Reach
	}
	return forecast.NewNetwork(st, rs)
}

// Model returns the forecast.Model of the network: topology, step, and the reaches that
// carry parameters.
func (n *Network) Model() (forecast.Model, error) {
	net, err := n.Net()
	if err != nil {
		return forecast.Model{}, err
	}
	m := forecast.Model{Network: net, Step: n.step(), Correction: n.Settings.Correction,
		CorrectionDecay: n.Settings.CorrectionDecay, MaxGap: n.Settings.MaxGap, Warmup: n.Settings.Warmup,
		HoldBranches: n.Settings.HoldBranches, BandGrowth: n.Settings.BandGrowth}
	for _, r := range n.Reaches {
		if r.Model != nil {
			rm := *r.Model
			rm.From, rm.To = r.From, r.To
			m.Reaches = append(m.Reaches, rm)
		}
	}
	return m, nil
}

func (n *Network) step() time.Duration {
	if n.Step <= 0 {
		return time.Hour
	}
	return n.Step
}

// Station returns the station with network id id.
func (n *Network) Station(id string) (Station, bool) {
	for _, s := range n.Stations {
		if s.ID == id {
			return s, true
		}
	}
	return Station{}, false
}

// FromModel returns the network of m (stations, reaches, step, calibrated parameters) named
// name, with no station tied to a Thing yet.
func FromModel(name string, m forecast.Model) *Network {
	n := &Network{Name: name, Step: m.Step, Settings: Settings{Correction: m.Correction,
		CorrectionDecay: m.CorrectionDecay, MaxGap: m.MaxGap, Warmup: m.Warmup, HoldBranches: m.HoldBranches, BandGrowth: m.BandGrowth}}
	for _, s := range m.Network.Stations() {
		n.Stations = append(n.Stations, Station{Station: s})
	}
	params := map[[2]string]forecast.ReachModel{}
	for _, r := range m.Reaches {
		params[[2]string{r.From, r.To}] = r
	}
	for _, r := range m.Network.Reaches() {
		x := Reach{Reach: r}
		if p, ok := params[[2]string{r.From, r.To}]; ok {
			x.Model = &p
		}
		n.Reaches = append(n.Reaches, x)
	}
	return n
}

// Discharge is what the store tells of a station's discharge Datastream when it makes the
// station's forecast Datastream: its Thing, ObservedProperty and unitOfMeasurement (JSON).
type Discharge struct {
	ID, Thing, ObservedProperty int64
	Name                        string
	Unit                        json.RawMessage
}

// Store keeps the node's network; the SQL core's entity store (sqlq.Entities) implements it on
// both engines.
type Store interface {
	// SaveForecastNetwork replaces the node's network with n, all of it or nothing, in one
	// transaction. With a principal in ctx it must be an admin of the stored network's
	// organisation (a first network: of its own) and own every station's Thing and discharge
	// Datastream (auth.RequireOwner; Forbidden naming them); n.Organisation becomes its
	// organisation. A station's Thing and Datastream must exist (NotFound), the Datastream must
	// be the Thing's and not a forecast Datastream (Invalid, naming "stations[i].discharge").
	// For every observed station with an upstream reach, it keeps the station's forecast
	// Datastream of the network stored before, or creates one as newDS builds it (owned like
	// any entity the principal creates); n's Forecast fields are set.
	SaveForecastNetwork(ctx context.Context, n *Network, newDS func(st Station, d Discharge) *sensing.Entity) error
	// ForecastNetwork returns the stored network; NotFound when there is none.
	ForecastNetwork(ctx context.Context) (*Network, error)
	// Readings returns the numeric observations of Datastream ds with phenomenon time (end)
	// in [since, until], oldest first (for restoring the forecaster at start).
	Readings(ctx context.Context, ds int64, since, until time.Time) ([]Reading, error)
}

// Reading is one stored discharge reading.
type Reading struct {
	Time  time.Time
	Value float64
	Flag  sensing.Flag
}

// Property names of a forecast Datastream's properties (besides qc).
const (
	PropForecast = "forecast" // true
	PropStation  = "forecastStation"
	PropNetwork  = "forecastNetwork"
	PropInput    = "forecastInput" // the discharge Datastream's id
)

// IsForecast tells whether a Datastream's properties (JSON) mark it a forecast Datastream.
func IsForecast(props []byte) bool {
	var p map[string]any
	if json.Unmarshal(props, &p) != nil {
		return false
	}
	b, _ := p[PropForecast].(bool)
	return b
}

// ForecastDatastream builds the forecast Datastream of station st of network name, whose
// discharge Datastream is d: "<station name> discharge forecast", on the same Thing, with the
// same ObservedProperty and unit, a Sensor of its own (the model), properties saying it is a
// forecast (PropForecast …) and turning off the QC checks that compare consecutive values
// (forecasts of overlapping issues are not a time series: rate, spike and flat-line checks
// would flag them).
func ForecastDatastream(name string, st Station, d Discharge) *sensing.Entity {
	label := st.Name
	if label == "" {
		label = st.ID
	}
	props, _ := json.Marshal(map[string]any{
		PropForecast: true, PropStation: st.ID, PropNetwork: name, PropInput: d.ID,
		"qc": map[string]any{"maxRatePerHour": nil, "spike": nil, "flatLineCount": 0, "flatLineDuration": nil, "expectedInterval": nil},
	})
	unit := d.Unit
	if len(unit) == 0 {
		unit = json.RawMessage(`{}`)
	}
	return &sensing.Entity{Set: sensing.Datastreams, Props: map[string]any{
		"name":              label + " discharge forecast",
		"description":       fmt.Sprintf("Discharge at %s forecast by Rabta from the upstream readings of river network %q (Muskingum routing, issue 13): phenomenonTime is the time the value is for, resultTime the issue time, parameters the 90 %% band and lead time", label, name),
		"observationType":   "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
		"unitOfMeasurement": unit,
		"properties":        json.RawMessage(props),
	}, Links: map[string][]*sensing.Entity{
		"Thing":            {{Set: sensing.Things, ID: d.Thing, Ref: true}},
		"ObservedProperty": {{Set: sensing.ObservedProperties, ID: d.ObservedProperty, Ref: true}},
		"Sensor": {{Set: sensing.Sensors, Props: map[string]any{
			"name": "Rabta forecast of " + label, "description": fmt.Sprintf("Rabta's flood routing over river network %q (package forecast)", name),
			"encodingType": "text/html", "metadata": json.RawMessage(`"https://github.com/rabta/rabta/blob/main/docs/forecast.md"`),
		}}},
	}}
}
