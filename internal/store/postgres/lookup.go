package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/sensing"
)

// DatastreamByName resolves a datastream given by id ("12") or by its unique name.
func (s *Entities) DatastreamByName(ctx context.Context, ref string) (int64, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil {
		if err := s.existsRead(ctx, "Datastreams", id); err != nil {
			return 0, err
		}
		return id, nil
	}
	return s.one(ctx, ref, `SELECT id FROM datastreams WHERE name = $1 LIMIT 2`, ref)
}

// DatastreamByPDMA resolves the discharge datastream of the PDMA gauge named station: the
// datastream whose Thing has properties.pdmaName = station and whose ObservedProperty is
// "Discharge".
func (s *Entities) DatastreamByPDMA(ctx context.Context, station string) (int64, error) {
	return s.one(ctx, "PDMA station "+station, `SELECT d.id FROM datastreams d JOIN things t ON t.id = d.thing_id
		JOIN observed_properties o ON o.id = d.observed_property_id
		WHERE t.properties::jsonb ->> 'pdmaName' = $1 AND o.name = 'Discharge' LIMIT 2`, station)
}

func (s *Entities) one(ctx context.Context, what, q string, args ...any) (int64, error) {
	var ids []int64
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, q, args...)
		if err != nil {
			return err
		}
		ids, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		return err
	})
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
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT id, phenomenon_time_end FROM datastreams WHERE phenomenon_time_end IS NOT NULL`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id, t int64
			if err := rows.Scan(&id, &t); err != nil {
				return err
			}
			out[id] = time.UnixMicro(t).UTC()
		}
		return rows.Err()
	})
	return out, err
}

// CountThings counts Things (to tell a fresh node from a seeded one).
func (s *Entities) CountThings(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		return c.QueryRow(ctx, `SELECT count(*) FROM things`).Scan(&n)
	})
	return n, err
}

// DatastreamInfos returns what QC needs to know of every datastream (without recent values).
func (s *Entities) DatastreamInfos(ctx context.Context) ([]sensing.DatastreamInfo, error) {
	var out []sensing.DatastreamInfo
	err := s.db.conn(ctx, func(c *pgx.Conn) error {
		rows, err := c.Query(ctx, `SELECT d.id, d.thing_id, d.observation_type, d.unit_of_measurement, d.properties, o.name, o.definition
			FROM datastreams d JOIN observed_properties o ON o.id = d.observed_property_id ORDER BY d.id`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var ds sensing.DatastreamInfo
			var uom, props *string
			if err := rows.Scan(&ds.ID, &ds.ThingID, &ds.ObservationType, &uom, &props, &ds.ObservedPropertyName, &ds.ObservedPropertyDef); err != nil {
				return err
			}
			if uom != nil {
				ds.UnitSymbol = unitSymbol(*uom)
			}
			if props != nil {
				ds.Properties = []byte(*props)
			}
			out = append(out, ds)
		}
		return rows.Err()
	})
	return out, err
}
