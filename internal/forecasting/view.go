package forecasting

import (
	"time"

	"github.com/rabta/rabta/internal/forecast"
)

// Document is the JSON form of a stored network that GET /api/v1/forecast/network returns: the
// document Parse reads (a PUT may send it back: the read-only members are ignored), with the
// network's organisation, when and by whom it was stored, and per station its forecast
// Datastream and horizon.
type Document struct {
	Name             string              `json:"name"`
	Organisation     string              `json:"organisation,omitempty"`
	Updated          *time.Time          `json:"updated,omitempty"`
	By               string              `json:"by,omitempty"`
	StepH            float64             `json:"step_h"`
	Correction       forecast.Correction `json:"correction"`
	CorrectionDecayH float64             `json:"correction_decay_h,omitempty"`
	MaxGapH          float64             `json:"max_gap_h,omitempty"`
	WarmupH          float64             `json:"warmup_h,omitempty"`
	HoldBranches     bool                `json:"hold_branches,omitempty"`
	BandGrowth       float64             `json:"band_growth_per_h,omitempty"`
	Stations         []DocStation        `json:"stations"`
	Reaches          []DocReach          `json:"reaches"`
}

// DocStation is a station of a Document.
type DocStation struct {
	ID        string   `json:"id"`
	Name      string   `json:"name,omitempty"`
	River     string   `json:"river,omitempty"`
	Lat       *float64 `json:"lat,omitempty"`
	Lon       *float64 `json:"lon,omitempty"`
	Approx    bool     `json:"approx,omitempty"`
	Source    string   `json:"source,omitempty"`
	Thing     int64    `json:"thing,omitempty"`
	Discharge int64    `json:"discharge,omitempty"`
	Forecast  int64    `json:"forecast,omitempty"`
	// Horizon is how far ahead the station can be forecast from upstream readings: the sum
	// of the routing lags (forecast.ReachModel.Lag, or forecast.PriorReach's for a reach
	// without parameters) along the shortest and the longest upstream path (forecast.Horizon), hours;
	// absent for a headwater station.
	Horizon *DocHorizon `json:"horizon_h,omitempty"`
}

// DocHorizon is a station's forecast horizon, hours.
type DocHorizon struct {
	Shortest float64  `json:"shortest"`
	Longest  float64  `json:"longest"`
	Path     []string `json:"path"`
}

// DocReach is a reach of a Document.
type DocReach struct {
	From        string       `json:"from"`
	To          string       `json:"to"`
	LengthKM    float64      `json:"length_km,omitempty"`
	TravelTimeH *float64     `json:"travel_time_h,omitempty"`
	Model       *ReachParams `json:"model,omitempty"`
}

// View returns the Document of n.
func View(n *Network) (*Document, error) {
	d := &Document{Name: n.Name, Organisation: n.Organisation, By: n.By, StepH: n.step().Hours(), Correction: n.Settings.Correction,
		CorrectionDecayH: n.Settings.CorrectionDecay.Hours(), MaxGapH: n.Settings.MaxGap.Hours(), WarmupH: n.Settings.Warmup.Hours(),
		HoldBranches: n.Settings.HoldBranches, BandGrowth: n.Settings.BandGrowth,
		Stations: []DocStation{}, Reaches: []DocReach{}}
	if !n.Updated.IsZero() {
		u := n.Updated.UTC()
		d.Updated = &u
	}
	// the horizon by routing lags: a network whose travel times are the lags
	m, err := n.Model()
	if err != nil {
		return nil, err
	}
	var lagged []forecast.Reach
	for _, r := range n.Reaches {
		lr := r.Reach
		lr.TravelTime = reachModel(m, r.Reach).Lag
		lagged = append(lagged, lr)
	}
	var st []forecast.Station
	for _, s := range n.Stations {
		st = append(st, s.Station)
	}
	lnet, err := forecast.NewNetwork(st, lagged)
	if err != nil {
		return nil, err
	}
	for _, s := range n.Stations {
		ds := DocStation{ID: s.ID, Name: s.Name, River: s.River, Approx: s.Approx, Source: s.Source,
			Thing: s.Thing, Discharge: s.Discharge, Forecast: s.Forecast}
		if s.HasPosition {
			lat, lon := s.Lat, s.Lon
			ds.Lat, ds.Lon = &lat, &lon
		}
		if up, err := lnet.Upstream(s.ID); err == nil && len(up) > 0 {
			if h, err := lnet.Horizon(s.ID); err == nil {
				ds.Horizon = &DocHorizon{Shortest: h.Shortest.Hours(), Longest: h.Longest.Hours(), Path: h.Path}
			}
		}
		d.Stations = append(d.Stations, ds)
	}
	for _, r := range n.Reaches {
		dr := DocReach{From: r.From, To: r.To, LengthKM: r.LengthKM}
		if r.TravelTime > 0 {
			h := r.TravelTime.Hours()
			dr.TravelTimeH = &h
		}
		if r.Model != nil {
			p := Params(*r.Model)
			dr.Model = &p
		}
		d.Reaches = append(d.Reaches, dr)
	}
	return d, nil
}

// reachModel is the model of reach r in m: its own parameters or the forecaster's prior.
func reachModel(m forecast.Model, r forecast.Reach) forecast.ReachModel {
	for _, rm := range m.Reaches {
		if rm.From == r.From && rm.To == r.To {
			return rm
		}
	}
	return forecast.PriorReach(r, m.Step, forecast.PriorCelerity(m.Network))
}
