package forecasting

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/forecast"
)

// The network document: what PUT /api/v1/forecast/network takes and GET returns (YAML, or JSON,
// which is read as the YAML it is). It is forecast.LoadNetwork's river network file with, per
// station, the Thing and discharge Datastream that observe it and, per reach, the calibrated
// routing parameters:
//
//	name: punjab-indus              # required, ≤ 200 bytes
//	step_h: 1                       # optional routing step, hours (default 1; > 0, ≤ 24)
//	correction: additive            # optional model settings (forecast.Model): additive, ratio
//	correction_decay_h: 240         # or none; hours ≥ 0 (0: forecast's default) for the
//	max_gap_h: 72                   # decay, the longest gap interpolated and the warm-up;
//	warmup_h: 120                   # hold_branches: true|false; band_growth_per_h: flow
//	hold_branches: true             # unit per hour of lead, ≥ 0
//	band_growth_per_h: 1267
//	stations:
//	  - id: tarbela                 # required, unique, [a-z0-9_.-]
//	    name: Tarbela Dam           # optional; river, lat, lon, approx, source as in LoadNetwork
//	    thing: 12                   # optional Thing id …
//	    discharge: 34               # … and its discharge Datastream id (both or neither)
//	reaches:
//	  - from: tarbela
//	    to: kalabagh
//	    length_km: 167.2            # optional, ≥ 0
//	    travel_time_h: 30           # optional, hours > 0; absent or null = unknown
//	    model:                      # optional calibrated routing (forecast.ReachModel)
//	      k_h: 5.5                  # Muskingum K, hours > 0
//	      x: 0.2                    # Muskingum x, [0, 1)
//	      m: 1.1                    # exponent m > 0
//	      scheme: classic           # classic, euler or rk4 (default classic)
//	      lag_h: 24                 # pure travel time, whole steps (default 0)
//	      gain: 1                   # share of the routed flow reaching "to" (default 1)
//	      rmse: 2100                # calibration residual, flow unit (≥ 0)
//	      n: 1400                   # samples calibrated on (0: prior)
//
// What GET adds — organisation, updated, by, and per station forecast (its forecast
// Datastream's id) and horizon_h — is read only: a PUT may send it back and it is ignored.
// Unknown keys are refused. Errors name the line and the field:
// "line 14: stations[2].discharge: …" (ParseError).

// MaxDocument bounds a network document, in bytes.
const MaxDocument = 1 << 20

// maxName bounds the network's name, in bytes.
const maxName = 200

// ParseError is a mistake in a network document, at Line (1-based; 0 when unknown) in Field
// (e.g. "reaches[3].model.k_h"); its message begins "forecast network".
type ParseError = forecast.NetworkError

// docName begins every ParseError's message.
const docName = "forecast network"

// Positions maps the fields of a parsed document ("stations[2].discharge", "stations[2]") to
// their lines, so that an error found later (by the store) can name the line.
type Positions map[string]int

// Annotate returns a refusal err with the line of the field its message begins with ("stations[2].thing:
// …" → "forecast network: line 9: stations[2].thing: …"), keeping its kind; err unchanged when
// it names no field of the document.
func (p Positions) Annotate(err error) error {
	if err == nil {
		return nil
	}
	msg := apperr.Message(err)
	field, _, ok := strings.Cut(msg, ": ")
	if !ok {
		return err
	}
	line, ok := p[field]
	if !ok {
		return err
	}
	return apperr.E(apperr.KindOf(err), "forecast network: line %d: %s", line, msg)
}

// Parse reads a network document (above). Errors are *ParseError wrapped as apperr.Invalid
// (TooLarge over MaxDocument); the topology is validated by forecast.NewNetwork (a cycle, an
// unknown station, two downstream reaches …), its errors given the document's line.
func Parse(data []byte) (*Network, Positions, error) {
	if len(data) > MaxDocument {
		return nil, nil, apperr.E(apperr.TooLarge, "forecast network: document of %d bytes, over the limit of %d", len(data), MaxDocument)
	}
	n, pos, err := parse(data)
	if err != nil {
		var pe *ParseError
		if errors.As(err, &pe) {
			return nil, nil, apperr.Wrap(apperr.Invalid, err, "%s", pe.Error())
		}
		return nil, nil, apperr.Wrap(apperr.Invalid, err, "forecast network: %s", err.Error())
	}
	return n, pos, nil
}

func parse(data []byte) (*Network, Positions, error) {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return nil, nil, &ParseError{Doc: docName, Msg: "not YAML or JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, &ParseError{Doc: docName, Line: doc.Line, Msg: "want a mapping with name, stations and reaches"}
	}
	n := &Network{}
	pos := Positions{}
	hasName := false
	err := mapping(doc.Content[0], "", pos, []string{"name", "step_h", "correction", "correction_decay_h", "max_gap_h", "warmup_h", "hold_branches", "band_growth_per_h", "stations", "reaches", "organisation", "updated", "by", "description", "sources"},
		func(key string, val *yaml.Node) error {
			switch key {
			case "name":
				hasName = true
				if err := scalar(val, &n.Name); err != nil {
					return err
				}
				return checkText(n.Name, maxName, false)
			case "step_h":
				var h float64
				if err := scalar(val, &h); err != nil {
					return err
				}
				if !(h > 0 && h <= 24) {
					return fmt.Errorf("%v: want hours > 0 and at most 24", h)
				}
				n.Step = time.Duration(h * float64(time.Hour))
			case "correction":
				var c string
				if err := scalar(val, &c); err != nil {
					return err
				}
				return n.Settings.Correction.UnmarshalText([]byte(c))
			case "correction_decay_h", "max_gap_h", "warmup_h":
				var h float64
				if err := scalar(val, &h); err != nil {
					return err
				}
				if !(h >= 0 && h <= 24*365) {
					return fmt.Errorf("%v: want hours ≥ 0 and at most a year (0: the default)", h)
				}
				d := time.Duration(h * float64(time.Hour))
				switch key {
				case "correction_decay_h":
					n.Settings.CorrectionDecay = d
				case "max_gap_h":
					n.Settings.MaxGap = d
				default:
					n.Settings.Warmup = d
				}
			case "hold_branches":
				return scalar(val, &n.Settings.HoldBranches)
			case "band_growth_per_h":
				if err := scalar(val, &n.Settings.BandGrowth); err != nil {
					return err
				}
				if n.Settings.BandGrowth < 0 {
					return fmt.Errorf("%v: want ≥ 0 (flow unit per hour of lead)", n.Settings.BandGrowth)
				}
			case "stations":
				return list(val, func(i int, item *yaml.Node) error {
					st, err := decodeStation(i, item, pos)
					n.Stations = append(n.Stations, st)
					return err
				})
			case "reaches":
				return list(val, func(i int, item *yaml.Node) error {
					r, err := decodeReach(i, item, pos)
					n.Reaches = append(n.Reaches, r)
					return err
				})
			}
			return nil // read only or for people: ignored
		})
	if err != nil {
		return nil, nil, err
	}
	if !hasName || n.Name == "" {
		return nil, nil, &ParseError{Doc: docName, Line: doc.Content[0].Line, Field: "name", Msg: "required"}
	}
	if len(n.Stations) == 0 {
		return nil, nil, &ParseError{Doc: docName, Line: doc.Content[0].Line, Field: "stations", Msg: "want at least one station"}
	}
	if _, err := n.Net(); err != nil {
		var ne *forecast.NetworkError
		if errors.As(err, &ne) {
			line := pos[ne.Field]
			if line == 0 {
				line = pos[strings.SplitN(ne.Field, ".", 2)[0]]
			}
			return nil, nil, &ParseError{Doc: docName, Line: line, Field: ne.Field, Msg: ne.Msg}
		}
		return nil, nil, &ParseError{Doc: docName, Msg: err.Error()}
	}
	for i, r := range n.Reaches {
		if r.Model != nil && r.Model.Lag%n.step() != 0 {
			f := fmt.Sprintf("reaches[%d].model.lag_h", i)
			return nil, nil, &ParseError{Doc: docName, Line: pos[f], Field: f, Msg: fmt.Sprintf("%v: want whole routing steps of %v", r.Model.Lag, n.step())}
		}
	}
	m, err := n.Model()
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		return nil, nil, &ParseError{Doc: docName, Msg: err.Error()}
	}
	return n, pos, nil
}

func id(val *yaml.Node, out *int64) error {
	if err := scalar(val, out); err != nil {
		return err
	}
	if *out <= 0 {
		return fmt.Errorf("%d: want an id > 0", *out)
	}
	return nil
}

// decodeStation decodes a station: the network file's keys (forecast.DecodeStation), and
// thing and discharge; forecast and horizon_h are read only (ignored).
func decodeStation(i int, item *yaml.Node, pos Positions) (Station, error) {
	var s Station
	st, err := forecast.DecodeStation(docName, i, item, forecast.Fields(pos), []string{"thing", "discharge", "forecast", "horizon_h"}, func(key string, val *yaml.Node) error {
		switch key {
		case "thing":
			return id(val, &s.Thing)
		case "discharge":
			return id(val, &s.Discharge)
		}
		return nil
	})
	s.Station = st
	if err != nil {
		return s, err
	}
	if (s.Thing == 0) != (s.Discharge == 0) {
		return s, &ParseError{Doc: docName, Line: item.Line, Field: fmt.Sprintf("stations[%d]", i), Msg: "give both thing and discharge, or neither"}
	}
	return s, nil
}

// decodeReach decodes a reach: the network file's keys (forecast.DecodeReach), and model;
// horizon_h is read only (ignored).
func decodeReach(i int, item *yaml.Node, pos Positions) (Reach, error) {
	var r Reach
	path := fmt.Sprintf("reaches[%d]", i)
	fr, err := forecast.DecodeReach(docName, i, item, forecast.Fields(pos), []string{"model", "horizon_h"}, func(key string, val *yaml.Node) error {
		if key == "model" && val.Tag != "!!null" {
			m, err := decodeModel(path+".model", val, pos)
			r.Model = m
			return err
		}
		return nil
	})
	r.Reach = fr
	return r, err
}

func decodeModel(path string, item *yaml.Node, pos Positions) (*forecast.ReachModel, error) {
	m := &forecast.ReachModel{Gain: 1}
	hasK := false
	err := mapping(item, path, pos, []string{"k_h", "x", "m", "scheme", "lag_h", "gain", "rmse", "n"}, func(key string, val *yaml.Node) error {
		switch key {
		case "k_h":
			hasK = true
			return scalar(val, &m.Muskingum.K)
		case "x":
			return scalar(val, &m.Muskingum.X)
		case "m":
			return scalar(val, &m.Muskingum.M)
		case "scheme":
			var s string
			if err := scalar(val, &s); err != nil {
				return err
			}
			sc, err := forecast.ParseScheme(s)
			m.Scheme = sc
			return err
		case "lag_h":
			var h float64
			if err := scalar(val, &h); err != nil {
				return err
			}
			if !(h >= 0 && h <= 24*365) {
				return fmt.Errorf("%v: want hours ≥ 0 and at most a year", h)
			}
			m.Lag = time.Duration(h * float64(time.Hour))
		case "gain":
			if err := scalar(val, &m.Gain); err != nil {
				return err
			}
			if !(m.Gain > 0 && m.Gain <= 10) {
				return fmt.Errorf("%v: want a share > 0 (and at most 10)", m.Gain)
			}
		case "rmse":
			if err := scalar(val, &m.RMSE); err != nil {
				return err
			}
			if m.RMSE < 0 {
				return fmt.Errorf("%v: want ≥ 0", m.RMSE)
			}
		case "n":
			var n int64
			if err := scalar(val, &n); err != nil {
				return err
			}
			if n < 0 || n > math.MaxInt32 {
				return fmt.Errorf("%d: want a count ≥ 0", n)
			}
			m.N = int(n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !hasK {
		return nil, &ParseError{Doc: docName, Line: item.Line, Field: path + ".k_h", Msg: "required"}
	}
	if m.Muskingum.M == 0 {
		m.Muskingum.M = 1
	}
	if err := m.Muskingum.Valid(); err != nil {
		return nil, &ParseError{Doc: docName, Line: item.Line, Field: path, Msg: strings.TrimPrefix(err.Error(), "muskingum: ")}
	}
	return m, nil
}

// mapping, list, scalar and checkText are the network file's YAML walkers (forecast), with
// this document's name in errors.
func mapping(item *yaml.Node, path string, pos Positions, allowed []string, f func(key string, val *yaml.Node) error) error {
	return forecast.Mapping(docName, item, path, forecast.Fields(pos), allowed, f)
}

var (
	list      = forecast.List
	scalar    = forecast.Scalar
	checkText = forecast.CheckText
)
