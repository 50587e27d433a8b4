package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", Rabta's own
)

// The durable floors of the compare phase (-compare-floor): the http-floor server of floor.go
// with the least store a server that keeps what it acknowledges can have. Every write is
// decoded (phenomenonTime parsed, result kept as its JSON text), committed durably before its
// 201, and the window load is answered from the store by an index. Writes that arrive while a
// commit runs share the next one (group commit), as in Rabta. There is no authentication, no
// check that the Datastream exists, no quality control, no counts, no outbox and no bus: what
// Rabta does per write beyond this is what its figures lose against these.
//
//   - floor-sqlite: one SQLite file (modernc.org/sqlite, Rabta's driver) with Rabta's writer
//     settings: WAL, synchronous=FULL (every commit is synced), one writer connection;
//   - floor-postgres: one table in the -compare-pg database (pgx, Rabta's driver); each group
//     is one INSERT … SELECT FROM unnest(…) in a transaction of its own, one round trip.
//
// The table (both stores): bench_floor_observations(id, datastream, phenomenon_time, result),
// indexed on (datastream, phenomenon_time); ids are given by the server, counting from 1.

// floorRow is one Observation as the durable floors store it: phenomenon_time in µs since
// 1970-01-01T00:00:00Z, result as its JSON text.
type floorRow struct {
	id, datastream, time int64
	result               string
}

// floorStore commits rows in groups: write blocks until the commit that holds its rows is
// durable (or failed).
type floorStore struct {
	reqs   chan *floorWrite
	commit func(ctx context.Context, rows []floorRow) error
	window func(ctx context.Context, datastream, from, to int64, limit int) ([]floorRow, error)
	close  func()
}

type floorWrite struct {
	rows []floorRow
	done chan error
}

// floorGroupMax is the most writes one group commit takes.
const floorGroupMax = 256

func (s *floorStore) write(rows []floorRow) error {
	w := &floorWrite{rows: rows, done: make(chan error, 1)}
	s.reqs <- w
	return <-w.done
}

// run commits what is queued, one group at a time, until ctx ends.
func (s *floorStore) run(ctx context.Context) {
	var rows []floorRow
	for {
		var w *floorWrite
		select {
		case <-ctx.Done():
			return
		case w = <-s.reqs:
		}
		group := []*floorWrite{w}
	drain:
		for len(group) < floorGroupMax {
			select {
			case w := <-s.reqs:
				group = append(group, w)
			default:
				break drain
			}
		}
		rows = rows[:0]
		for _, w := range group {
			rows = append(rows, w.rows...)
		}
		err := s.commit(ctx, rows)
		for _, w := range group {
			w.done <- err
		}
	}
}

// openFloorStore opens the store named by spec: "sqlite:PATH" (a new file) or
// "postgres:URL" (a database; its bench_floor_observations table is made anew).
func openFloorStore(ctx context.Context, spec string) (*floorStore, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	s := &floorStore{reqs: make(chan *floorWrite, 1024)}
	switch kind {
	case "sqlite":
		if err := os.Remove(arg); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		// Rabta's writer settings (internal/store/sqlite/db.go)
		db, err := sql.Open("sqlite", "file:"+(&url.URL{Path: arg}).EscapedPath()+
			"?_txlock=immediate&_pragma=busy_timeout(10000)&_pragma=synchronous(FULL)&_pragma=journal_mode(WAL)")
		if err != nil {
			return nil, err
		}
		db.SetMaxOpenConns(1)
		if _, err := db.ExecContext(ctx, `CREATE TABLE bench_floor_observations (id INTEGER PRIMARY KEY, datastream INTEGER NOT NULL, phenomenon_time INTEGER NOT NULL, result TEXT NOT NULL);
CREATE INDEX bench_floor_observations_window ON bench_floor_observations (datastream, phenomenon_time)`); err != nil {
			db.Close()
			return nil, fmt.Errorf("floor-sqlite: %w", err)
		}
		ins, err := db.PrepareContext(ctx, `INSERT INTO bench_floor_observations VALUES (?, ?, ?, ?)`)
		if err != nil {
			db.Close()
			return nil, err
		}
		sel, err := db.PrepareContext(ctx, `SELECT id, datastream, phenomenon_time, result FROM bench_floor_observations
WHERE datastream = ? AND phenomenon_time >= ? AND phenomenon_time < ? ORDER BY phenomenon_time DESC LIMIT ?`)
		if err != nil {
			db.Close()
			return nil, err
		}
		s.commit = func(ctx context.Context, rows []floorRow) error {
			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			st := tx.StmtContext(ctx, ins)
			for _, r := range rows {
				if _, err := st.ExecContext(ctx, r.id, r.datastream, r.time, r.result); err != nil {
					tx.Rollback()
					return err
				}
			}
			return tx.Commit()
		}
		s.window = func(ctx context.Context, ds, from, to int64, limit int) ([]floorRow, error) {
			rs, err := sel.QueryContext(ctx, ds, from, to, limit)
			if err != nil {
				return nil, err
			}
			defer rs.Close()
			var out []floorRow
			for rs.Next() {
				var r floorRow
				if err := rs.Scan(&r.id, &r.datastream, &r.time, &r.result); err != nil {
					return nil, err
				}
				out = append(out, r)
			}
			return out, rs.Err()
		}
		s.close = func() { db.Close() }
	case "postgres":
		// one connection for the writes (the group commit is their queue) and one for reads
		w, err := pgx.Connect(ctx, arg)
		if err != nil {
			return nil, fmt.Errorf("floor-postgres: %w", err)
		}
		r, err := pgx.Connect(ctx, arg)
		if err != nil {
			w.Close(ctx)
			return nil, fmt.Errorf("floor-postgres: %w", err)
		}
		if _, err := w.Exec(ctx, `DROP TABLE IF EXISTS bench_floor_observations;
CREATE TABLE bench_floor_observations (id bigint PRIMARY KEY, datastream bigint NOT NULL, phenomenon_time timestamptz NOT NULL, result text NOT NULL);
CREATE INDEX ON bench_floor_observations (datastream, phenomenon_time)`); err != nil {
			w.Close(ctx)
			r.Close(ctx)
			return nil, fmt.Errorf("floor-postgres: %w", err)
		}
		var ids, dss []int64
		var times []time.Time
		var results []string
		s.commit = func(ctx context.Context, rows []floorRow) error {
			ids, dss, times, results = ids[:0], dss[:0], times[:0], results[:0]
			for _, r := range rows {
				ids, dss = append(ids, r.id), append(dss, r.datastream)
				times, results = append(times, time.UnixMicro(r.time).UTC()), append(results, r.result)
			}
			_, err := w.Exec(ctx, `INSERT INTO bench_floor_observations SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[])`,
				ids, dss, times, results)
			return err
		}
		var rmu sync.Mutex // a pgx connection is not safe for concurrent use
		s.window = func(ctx context.Context, ds, from, to int64, limit int) ([]floorRow, error) {
			rmu.Lock()
			defer rmu.Unlock()
			rs, err := r.Query(ctx, `SELECT id, datastream, phenomenon_time, result FROM bench_floor_observations
WHERE datastream = $1 AND phenomenon_time >= $2 AND phenomenon_time < $3 ORDER BY phenomenon_time DESC LIMIT $4`,
				ds, time.UnixMicro(from).UTC(), time.UnixMicro(to).UTC(), limit)
			if err != nil {
				return nil, err
			}
			defer rs.Close()
			var out []floorRow
			for rs.Next() {
				var fr floorRow
				var t time.Time
				if err := rs.Scan(&fr.id, &fr.datastream, &t, &fr.result); err != nil {
					return nil, err
				}
				fr.time = t.UnixMicro()
				out = append(out, fr)
			}
			return out, rs.Err()
		}
		s.close = func() {
			w.Close(context.Background())
			r.Close(context.Background())
		}
	default:
		return nil, fmt.Errorf("durable floor %q: want sqlite:PATH or postgres:URL", spec)
	}
	go s.run(ctx)
	return s, nil
}

// floorObservation decodes one Observation of a single POST: phenomenonTime (RFC 3339) and
// result are required.
func floorObservation(body []byte) (t int64, result string, err error) {
	var o struct {
		PhenomenonTime string          `json:"phenomenonTime"`
		Result         json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &o); err != nil {
		return 0, "", err
	}
	return floorRowOf(o.PhenomenonTime, o.Result)
}

func floorRowOf(phenomenonTime string, result json.RawMessage) (int64, string, error) {
	pt, err := time.Parse(time.RFC3339Nano, phenomenonTime)
	if err != nil {
		return 0, "", fmt.Errorf("phenomenonTime: %w", err)
	}
	if len(result) == 0 {
		return 0, "", errors.New("result is required")
	}
	return pt.UnixMicro(), string(result), nil
}

// floorDataArray decodes a CreateObservations body whose components are phenomenonTime and
// result (in either order), the compare phase's bulk load.
func floorDataArray(body []byte) ([]floorRow, error) {
	var req []struct {
		Datastream struct {
			ID json.Number `json:"@iot.id"`
		}
		Components []string            `json:"components"`
		DataArray  [][]json.RawMessage `json:"dataArray"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	var rows []floorRow
	for i, d := range req {
		ds, err := d.Datastream.ID.Int64()
		if err != nil {
			return nil, fmt.Errorf("[%d].Datastream: %w", i, err)
		}
		ti, ri := -1, -1
		for j, c := range d.Components {
			switch c {
			case "phenomenonTime":
				ti = j
			case "result":
				ri = j
			}
		}
		if ti < 0 || ri < 0 {
			return nil, fmt.Errorf("[%d].components: want phenomenonTime and result", i)
		}
		for k, v := range d.DataArray {
			if len(v) != len(d.Components) {
				return nil, fmt.Errorf("[%d].dataArray[%d]: %d values for %d components", i, k, len(v), len(d.Components))
			}
			var pt string
			if err := json.Unmarshal(v[ti], &pt); err != nil {
				return nil, fmt.Errorf("[%d].dataArray[%d]: phenomenonTime: %w", i, k, err)
			}
			t, res, err := floorRowOf(pt, v[ri])
			if err != nil {
				return nil, fmt.Errorf("[%d].dataArray[%d]: %w", i, k, err)
			}
			rows = append(rows, floorRow{datastream: ds, time: t, result: res})
		}
	}
	return rows, nil
}

// floorWindowFilter is the compare phase's window filter.
var floorWindowFilter = regexp.MustCompile(`^phenomenonTime ge (\S+) and phenomenonTime lt (\S+)$`)

// floorWindow reads "$filter=phenomenonTime ge A and phenomenonTime lt B" and "$top=N"
// (at most 1,000) of a window request.
func floorWindow(q url.Values) (from, to int64, top int, err error) {
	m := floorWindowFilter.FindStringSubmatch(q.Get("$filter"))
	if m == nil {
		return 0, 0, 0, fmt.Errorf("$filter: want %q", floorWindowFilter)
	}
	a, err1 := time.Parse(time.RFC3339Nano, m[1])
	b, err2 := time.Parse(time.RFC3339Nano, m[2])
	if err := errors.Join(err1, err2); err != nil {
		return 0, 0, 0, fmt.Errorf("$filter: %w", err)
	}
	top = 100
	if s := q.Get("$top"); s != "" {
		if top, err = strconv.Atoi(s); err != nil || top < 0 || top > 1000 {
			return 0, 0, 0, fmt.Errorf("$top: want 0..1000, not %q", s)
		}
	}
	return a.UnixMicro(), b.UnixMicro(), top, nil
}
