package main

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	"github.com/rabta/rabta/internal/store/sqlite"
)

// badQuality is what QC stores for a -9999 sentinel; the raw baseline writes it too, so that
// it writes the same bytes as the server.
const badQuality = `{"flag":"bad","issues":[{"check":"range","flag":"bad","reason":"-9999 below minimum -500 m"}]}`

// rawBaseline inserts the data set straight into a fresh SQLite file with Rabta's schema and
// Rabta's writer pragmas: one connection, batch rows per transaction, one prepared INSERT with
// the columns the store writes. Nothing else: no HTTP, no JSON, no QC, no span updates.
func rawBaseline(ctx context.Context, dir string, g dataset, batch int) (res phaseResult, err error) {
	path := filepath.Join(dir, "rabta.db")
	st, err := sqlite.Open(ctx, path) // creates the schema from the real migrations
	if err != nil {
		return res, err
	}
	if err := st.Close(); err != nil {
		return res, err
	}
	u := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_txlock=immediate&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=journal_mode(WAL)&_pragma=cache_size(-65536)"
	db, err := sql.Open("sqlite", u)
	if err != nil {
		return res, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)

	// the entities the observations refer to: one Thing with a Location, Sensor,
	// ObservedProperty, Datastream and FeatureOfInterest per station, as the API creates them
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	foi := make([]int64, g.d)
	dsID := make([]int64, g.d)
	for i := 0; i < g.d; i++ {
		thing := streamThing(i)
		ins := func(q string, args ...any) (int64, error) {
			r, err := tx.ExecContext(ctx, q, args...)
			if err != nil {
				return 0, fmt.Errorf("raw setup: %w", err)
			}
			return r.LastInsertId()
		}
		t, err := ins(`INSERT INTO things (name, description) VALUES (?, ?)`, thing.Name, thing.Description)
		if err != nil {
			return res, err
		}
		loc := thing.Locations[0]
		geo := fmt.Sprintf(`{"type":"Point","coordinates":[%g,%g]}`, loc.Location.Coordinates[0], loc.Location.Coordinates[1])
		l, err := ins(`INSERT INTO locations (name, description, encoding_type, location) VALUES (?, ?, ?, ?)`, loc.Name, loc.Description, loc.EncodingType, geo)
		if err != nil {
			return res, err
		}
		if _, err := ins(`INSERT INTO thing_locations (thing_id, location_id) VALUES (?, ?)`, t, l); err != nil {
			return res, err
		}
		d := thing.Datastreams[0]
		s, err := ins(`INSERT INTO sensors (name, description, encoding_type, metadata) VALUES (?, ?, ?, ?)`, d.Sensor.Name, d.Sensor.Description, d.Sensor.EncodingType, d.Sensor.Metadata)
		if err != nil {
			return res, err
		}
		op, err := ins(`INSERT INTO observed_properties (name, definition, description) VALUES (?, ?, ?)`, d.ObservedProperty.Name, d.ObservedProperty.Definition, d.ObservedProperty.Description)
		if err != nil {
			return res, err
		}
		dsID[i], err = ins(`INSERT INTO datastreams (name, description, unit_of_measurement, observation_type, thing_id, sensor_id, observed_property_id) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.Name, d.Description, `{"name":"metre","symbol":"m","definition":"http://qudt.org/vocab/unit/M"}`, d.ObservationType, t, s, op)
		if err != nil {
			return res, err
		}
		foi[i], err = ins(`INSERT INTO features_of_interest (name, description, encoding_type, feature, location_id) VALUES (?, ?, ?, ?, ?)`, loc.Name, loc.Description, loc.EncodingType, geo, l)
		if err != nil {
			return res, err
		}
	}
	if err := tx.Commit(); err != nil {
		return res, err
	}
	tx = nil

	start := time.Now()
	var (
		stmt    *sql.Stmt
		inBatch int
		rows    int
		buf     []byte
	)
	commit := func() error {
		if tx == nil {
			return nil
		}
		stmt.Close()
		err := tx.Commit()
		tx, stmt, inBatch = nil, nil, 0
		return err
	}
	g.each(allStreams(g.d), func(i, h int) bool {
		if ctx.Err() != nil {
			err = ctx.Err()
			return false
		}
		if tx == nil {
			if tx, err = db.BeginTx(ctx, nil); err != nil {
				return false
			}
			if stmt, err = tx.PrepareContext(ctx, `INSERT INTO observations
		(datastream_id, phen_start, phen_end, phen_text, result_time_us, result_time_text, result_num, result_json,
		 qc, result_quality, valid_start, valid_end, valid_text, parameters, foi_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
				return false
			}
		}
		t := at(h).UnixMicro()
		buf = appendTime(buf[:0], h)
		v := value(i, h)
		var flag int
		var quality any
		if v < -500 {
			flag, quality = 2, badQuality
		}
		if _, err = stmt.ExecContext(ctx, dsID[i], t, t, string(buf), nil, nil, v, nil, flag, quality, nil, nil, nil, nil, foi[i]); err != nil {
			return false
		}
		rows++
		inBatch++
		if inBatch >= batch {
			if err = commit(); err != nil {
				return false
			}
		}
		return true
	})
	if err != nil {
		if tx != nil {
			tx.Rollback()
		}
		return res, fmt.Errorf("raw insert: %w", err)
	}
	if err := commit(); err != nil {
		return res, fmt.Errorf("raw insert: %w", err)
	}
	res.Wall = time.Since(start)
	res.Rows = rows
	res.Stored = rows
	res.PerSec = float64(rows) / res.Wall.Seconds()
	return res, nil
}
