package sqlq

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/auth"
	"github.com/rabta/rabta/internal/forecasting"
	"github.com/rabta/rabta/internal/sensing"
)

// The node's river network for forecasting (tables forecast_network, forecast_stations,
// forecast_reaches: ddl/forecast.sql), kept by the entity store so that storing it joins the
// transaction that creates its forecast Datastreams.

var _ forecasting.Store = (*Entities)(nil)

// SaveForecastNetwork implements forecasting.Store.
func (s *Entities) SaveForecastNetwork(ctx context.Context, n *forecasting.Network, newDS func(forecasting.Station, forecasting.Discharge) *sensing.Entity) error {
	if _, err := n.Net(); err != nil {
		return apperr.Wrap(apperr.Invalid, err, "%s", err.Error())
	}
	return s.tx(ctx, "forecast network", func(tx Tx) error {
		// who may replace it: an admin of the stored network's organisation, or of its own for a first one
		var prevOrg string
		err := tx.QueryRow(ctx, `SELECT organisation FROM forecast_network WHERE id = 1`).Scan(&prevOrg)
		switch {
		case errors.Is(err, ErrNoRows):
			prevOrg = orgOf(ctx)
		case err != nil:
			return fmt.Errorf("read forecast network: %w", err)
		}
		if auth.FromContext(ctx) != nil {
			if err := auth.RequireOwner(ctx, auth.Admin, prevOrg, fmt.Sprintf("the forecast network of organisation %q", prevOrg)); err != nil {
				return err
			}
		}
		n.Organisation = orgOf(ctx)
		// the forecast datastreams of the network stored before, by station
		prevFC := map[string]int64{}
		if err := each(ctx, tx, func(r Rows) error {
			var st string
			var fc int64
			if err := r.Scan(&st, &fc); err != nil {
				return err
			}
			prevFC[st] = fc
			return nil
		}, `SELECT station, forecast_id FROM forecast_stations WHERE forecast_id IS NOT NULL`); err != nil {
			return fmt.Errorf("read forecast stations: %w", err)
		}
		upstream := map[string]bool{}
		for _, r := range n.Reaches {
			upstream[r.To] = true
		}
		for i := range n.Stations {
			st := &n.Stations[i]
			st.Forecast = 0
			if st.Thing == 0 && st.Discharge == 0 {
				continue
			}
			field := fmt.Sprintf("stations[%d]", i)
			if st.Thing <= 0 || st.Discharge <= 0 {
				return apperr.E(apperr.Invalid, "%s: give both thing and discharge, or neither", field)
			}
			if err := mayLink(ctx, tx, sensing.Things, st.Thing); err != nil {
				return at(field+".thing", err)
			}
			if err := mayLink(ctx, tx, sensing.Datastreams, st.Discharge); err != nil {
				return at(field+".discharge", err)
			}
			var d forecasting.Discharge
			var unit string
			var props *string
			if err := tx.QueryRow(ctx, `SELECT id, thing_id, observed_property_id, name, unit_of_measurement, properties FROM datastreams WHERE id = ?`,
				st.Discharge).Scan(&d.ID, &d.Thing, &d.ObservedProperty, &d.Name, &unit, &props); err != nil {
				return fmt.Errorf("read Datastream(%d): %w", st.Discharge, err)
			}
			d.Unit = json.RawMessage(unit)
			if d.Thing != st.Thing {
				return apperr.E(apperr.Invalid, "%s.discharge: Datastream(%d) is a Datastream of Thing(%d), not of Thing(%d)", field, d.ID, d.Thing, st.Thing)
			}
			if props != nil && forecasting.IsForecast([]byte(*props)) {
				return apperr.E(apperr.Invalid, "%s.discharge: Datastream(%d) is a forecast Datastream; a network reads observed discharge only", field, d.ID)
			}
			if !upstream[st.ID] {
				continue
			}
			if fc, ok := prevFC[st.ID]; ok {
				var thing int64
				err := tx.QueryRow(ctx, `SELECT thing_id FROM datastreams WHERE id = ?`, fc).Scan(&thing)
				if err == nil && thing == st.Thing {
					st.Forecast = fc
					continue
				}
				if err != nil && !errors.Is(err, ErrNoRows) {
					return fmt.Errorf("read Datastream(%d): %w", fc, err)
				}
			}
			id, err := s.create(ctx, tx, newDS(*st, d), "", 0)
			if err != nil {
				return at(field+": forecast Datastream", err)
			}
			st.Forecast = id
		}
		// the network itself, in place of the one before
		for _, q := range []string{`DELETE FROM forecast_reaches`, `DELETE FROM forecast_stations`, `DELETE FROM forecast_network`} {
			if _, err := tx.Exec(ctx, q); err != nil {
				return err
			}
		}
		n.Updated = s.eng.Clock().UTC().Truncate(time.Microsecond) // as it is kept
		settings, err := json.Marshal(n.Settings)
		if err != nil {
			return apperr.Wrap(apperr.Invalid, err, "settings that cannot be stored")
		}
		if _, err := tx.Exec(ctx, `INSERT INTO forecast_network (id, organisation, name, step_us, settings, updated_us, updated_by) VALUES (1, ?, ?, ?, ?, ?, ?)`,
			n.Organisation, n.Name, n.Step.Microseconds(), string(settings), us(n.Updated), n.By); err != nil {
			return err
		}
		for i, st := range n.Stations {
			var lat, lon *float64
			if st.HasPosition {
				lat, lon = &st.Lat, &st.Lon
			}
			approx := int64(0)
			if st.Approx {
				approx = 1
			}
			if _, err := tx.Exec(ctx, `INSERT INTO forecast_stations (station, ord, name, river, lat, lon, approx, source, thing_id, discharge_id, forecast_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, st.ID, int64(i), st.Name, st.River, lat, lon, approx, st.Source,
				nullID(st.Thing), nullID(st.Discharge), nullID(st.Forecast)); err != nil {
				return err
			}
		}
		for i, r := range n.Reaches {
			var model *string
			if r.Model != nil {
				b, err := json.Marshal(forecasting.Params(*r.Model))
				if err != nil {
					return apperr.Wrap(apperr.Invalid, err, "reaches[%d]: parameters that cannot be stored", i)
				}
				m := string(b)
				model = &m
			}
			if _, err := tx.Exec(ctx, `INSERT INTO forecast_reaches (from_station, to_station, ord, length_km, travel_time_us, model) VALUES (?, ?, ?, ?, ?, ?)`,
				r.From, r.To, int64(i), r.LengthKM, r.TravelTime.Microseconds(), model); err != nil {
				return err
			}
		}
		return nil
	})
}

// at puts field before the message of a refusal (err unchanged when it is an internal error).
func at(field string, err error) error {
	k := apperr.KindOf(err)
	if k == apperr.Internal {
		return err
	}
	return apperr.E(k, "%s: %s", field, apperr.Message(err))
}

// nullID is id, or NULL for 0.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// ForecastNetwork implements forecasting.Store.
func (s *Entities) ForecastNetwork(ctx context.Context) (*forecasting.Network, error) {
	n := &forecasting.Network{}
	err := s.eng.Read(ctx, func(tx Tx) error {
		var step, upd int64
		var settings string
		err := tx.QueryRow(ctx, `SELECT organisation, name, step_us, settings, updated_us, updated_by FROM forecast_network WHERE id = 1`).
			Scan(&n.Organisation, &n.Name, &step, &settings, &upd, &n.By)
		if errors.Is(err, ErrNoRows) {
			return apperr.E(apperr.NotFound, "the node has no forecast network (PUT /api/v1/forecast/network stores one)")
		}
		if err != nil {
			return err
		}
		n.Step, n.Updated = time.Duration(step)*time.Microsecond, time.UnixMicro(upd).UTC()
		if err := json.Unmarshal([]byte(settings), &n.Settings); err != nil {
			return fmt.Errorf("stored settings: %w", err)
		}
		if err := each(ctx, tx, func(r Rows) error {
			var st forecasting.Station
			var lat, lon *float64
			var approx int64
			var thing, dis, fc *int64
			if err := r.Scan(&st.ID, &st.Name, &st.River, &lat, &lon, &approx, &st.Source, &thing, &dis, &fc); err != nil {
				return err
			}
			if lat != nil && lon != nil {
				st.Lat, st.Lon, st.HasPosition = *lat, *lon, true
			}
			st.Approx = approx != 0
			st.Thing, st.Discharge, st.Forecast = derefID(thing), derefID(dis), derefID(fc)
			n.Stations = append(n.Stations, st)
			return nil
		}, `SELECT station, name, river, lat, lon, approx, source, thing_id, discharge_id, forecast_id FROM forecast_stations ORDER BY ord`); err != nil {
			return err
		}
		return each(ctx, tx, func(r Rows) error {
			var x forecasting.Reach
			var tt int64
			var model *string
			if err := r.Scan(&x.From, &x.To, &x.LengthKM, &tt, &model); err != nil {
				return err
			}
			x.TravelTime = time.Duration(tt) * time.Microsecond
			if model != nil {
				var p forecasting.ReachParams
				if err := json.Unmarshal([]byte(*model), &p); err != nil {
					return fmt.Errorf("reach %s → %s: stored parameters: %w", x.From, x.To, err)
				}
				m := p.Model(x.From, x.To)
				x.Model = &m
			}
			n.Reaches = append(n.Reaches, x)
			return nil
		}, `SELECT from_station, to_station, length_km, travel_time_us, model FROM forecast_reaches ORDER BY ord`)
	})
	if err != nil {
		if apperr.KindOf(err) == apperr.NotFound {
			return nil, err
		}
		return nil, fmt.Errorf("read forecast network: %w", err)
	}
	return n, nil
}

func derefID(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Readings implements forecasting.Store.
func (s *Entities) Readings(ctx context.Context, ds int64, since, until time.Time) ([]forecasting.Reading, error) {
	var out []forecasting.Reading
	err := s.eng.Read(ctx, func(tx Tx) error {
		return each(ctx, tx, func(r Rows) error {
			var t int64
			var v float64
			var flag int64
			if err := r.Scan(&t, &v, &flag); err != nil {
				return err
			}
			out = append(out, forecasting.Reading{Time: time.UnixMicro(t).UTC(), Value: v, Flag: sensing.Flag(flag)})
			return nil
		}, `SELECT phen_end, result_num, qc FROM observations
			WHERE datastream_id = ? AND phen_start >= ? AND phen_start <= ? AND result_num IS NOT NULL ORDER BY phen_start, id`,
			ds, us(since), us(until))
	})
	if err != nil {
		return nil, fmt.Errorf("readings of Datastream(%d): %w", ds, err)
	}
	return out, nil
}
