package sqlq

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/odata"
	"github.com/rabta/rabta/internal/sensing"
)

// DatastreamByName resolves a datastream given by id ("12") or by its unique name.
func (s *Entities) DatastreamByName(ctx context.Context, ref string) (int64, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if err := s.eng.Read(ctx, func(tx Tx) error { return s.exists(ctx, tx, "Datastreams", id) }); err != nil {
			return 0, err
		}
		return id, nil
	}
	return s.one(ctx, ref, `SELECT id FROM datastreams WHERE name = ? LIMIT 2`, ref)
}

// DatastreamByPDMA resolves the discharge datastream of the PDMA gauge named station: the
// datastream whose Thing has properties.pdmaName = station and whose ObservedProperty is
// "Discharge".
func (s *Entities) DatastreamByPDMA(ctx context.Context, station string) (int64, error) {
	// the Thing's condition compiled as a $filter is, so that both dialects spell the JSON access
	f, err := odata.ParseFilter("properties/pdmaName eq '" + strings.ReplaceAll(station, "'", "''") + "'")
	if err != nil {
		return 0, apperr.Wrap(apperr.Invalid, err, "PDMA station %q", station)
	}
	cond, args, err := s.q.Where(sensing.Things, "t", f)
	if err != nil {
		return 0, err
	}
	q, args := s.eng.Dynamic(`SELECT d.id FROM datastreams d JOIN things t ON t.id = d.thing_id
		JOIN observed_properties o ON o.id = d.observed_property_id
		WHERE `+cond+` AND o.name = 'Discharge' LIMIT 2`, args)
	return s.one(ctx, "PDMA station "+station, q, args...)
}

func (s *Entities) one(ctx context.Context, what, q string, args ...any) (int64, error) {
	var ids []int64
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id int64
		err := r.Scan(&id)
		ids = append(ids, id)
		return err
	}, q, args...)
	if err != nil {
		return 0, err
	}
	switch len(ids) {
	case 0:
		return 0, apperr.E(apperr.NotFound, "no datastream for %q", what)
	case 1:
		return ids[0], nil
	}
	return 0, apperr.E(apperr.Conflict, "more than one datastream for %q; use the id", what)
}

// LastSeen returns each datastream's newest phenomenon time (datastreams with observations only).
func (s *Entities) LastSeen(ctx context.Context) (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	err := readEach(ctx, s.eng, func(r Rows) error {
		var id, t int64
		if err := r.Scan(&id, &t); err != nil {
			return err
		}
		out[id] = time.UnixMicro(t).UTC()
		return nil
	}, `SELECT id, phenomenon_time_end FROM datastreams WHERE phenomenon_time_end IS NOT NULL`)
	return out, err
}

// CountThings counts Things (to tell a fresh node from a seeded one).
func (s *Entities) CountThings(ctx context.Context) (int64, error) {
	var n int64
	err := readRow(ctx, s.eng, `SELECT count(*) FROM things`, nil, &n)
	return n, err
}

// DatastreamInfos returns what QC needs to know of every datastream (without recent values).
func (s *Entities) DatastreamInfos(ctx context.Context) ([]sensing.DatastreamInfo, error) {
	var out []sensing.DatastreamInfo
	err := readEach(ctx, s.eng, func(r Rows) error {
		var ds sensing.DatastreamInfo
		var uom, props *string
		if err := r.Scan(&ds.ID, &ds.ThingID, &ds.ObservationType, &uom, &props, &ds.ObservedPropertyName, &ds.ObservedPropertyDef); err != nil {
			return err
		}
		if uom != nil {
			ds.UnitSymbol = unitSymbol(*uom)
		}
		if props != nil {
			ds.Properties = []byte(*props)
		}
		out = append(out, ds)
		return nil
	}, `SELECT d.id, d.thing_id, d.observation_type, d.unit_of_measurement, d.properties, o.name, o.definition
		FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id ORDER BY d.id`)
	return out, err
}

// DatastreamLabel implements alert.Labeler: the station (Thing) name and unit symbol.
func (s *Entities) DatastreamLabel(ctx context.Context, id int64) (string, string, error) {
	var name, uom string
	err := readRow(ctx, s.eng, `SELECT t.name, d.unit_of_measurement FROM datastreams d JOIN things t ON t.id = d.thing_id WHERE d.id = ?`,
		[]any{id}, &name, &uom)
	if errors.Is(err, ErrNoRows) {
		return "", "", apperr.E(apperr.NotFound, "Datastream(%d) does not exist", id)
	}
	if err != nil {
		return "", "", err
	}
	return name, unitSymbol(uom), nil
}
