package sqlq

import (
	"context"
	"fmt"
	"slices"

	"github.com/rabta/rabta/internal/sensing"
)

// The observation counts (ddl/counts.sql): n per Datastream in observation_counts and per
// MultiDatastream in multi_observation_counts, changed in the very transaction that adds,
// removes or moves observations, so that every snapshot sees counts equal to COUNT(*) of its
// rows. Each write path changes them at one place: the ingest path (insert, bumpCounts), Delete
// (an Observation, or a FeatureOfInterest with its Observations: countsGone), an Observation
// moved to another Datastream or MultiDatastream (Update, repoint: countsMoved), PostgreSQL's
// Retain (the partitions it drops), the federation's purge of received values past their
// retention (Federation.PurgeRemote). A Datastream or MultiDatastream deleted, alone or with its
// Thing, Sensor or ObservedProperty, takes its row with it (ON DELETE CASCADE).

// stream is a Datastream (multi false) or a MultiDatastream, by id.
type stream struct {
	id    int64
	multi bool
}

// countsOf returns how many of obs each stream gets.
func countsOf(obs []*sensing.Observation) map[stream]int64 {
	d := map[stream]int64{}
	for _, o := range obs {
		if o.MultiDatastreamID != 0 {
			d[stream{o.MultiDatastreamID, true}]++
		} else {
			d[stream{o.DatastreamID, false}]++
		}
	}
	return d
}

// bumpCounts adds delta[s] (positive or negative) to each stream's count inside tx: Datastreams
// first, then MultiDatastreams, each in id order (two writers touching the same rows wait for
// each other, they never deadlock). A stream without a row yet gets one.
func bumpCounts(ctx context.Context, tx Tx, delta map[stream]int64) error {
	keys := make([]stream, 0, len(delta))
	for k, n := range delta {
		if n != 0 {
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b stream) int {
		switch {
		case a.multi != b.multi:
			if a.multi {
				return 1
			}
			return -1
		case a.id < b.id:
			return -1
		case a.id > b.id:
			return 1
		}
		return 0
	})
	for _, k := range keys {
		table, col := "observation_counts", "datastream_id"
		if k.multi {
			table, col = "multi_observation_counts", "multi_datastream_id"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+table+` (`+col+`, n) VALUES (?, ?)
			ON CONFLICT (`+col+`) DO UPDATE SET n = `+table+`.n + excluded.n`, k.id, delta[k]); err != nil {
			return fmt.Errorf("update observation count: %w", err)
		}
	}
	return nil
}

// countsGone takes the observations matching cond (a condition on the observations table,
// with its args) off their streams' counts; call it before deleting them, in the same
// transaction.
func countsGone(ctx context.Context, tx Tx, cond string, args ...any) error {
	delta := map[stream]int64{}
	err := each(ctx, tx, func(r Rows) error {
		var ds, md *int64
		var n int64
		if err := r.Scan(&ds, &md, &n); err != nil {
			return err
		}
		if md != nil {
			delta[stream{*md, true}] -= n
		} else if ds != nil {
			delta[stream{*ds, false}] -= n
		}
		return nil
	}, `SELECT datastream_id, multi_datastream_id, count(*) FROM observations WHERE `+cond+` GROUP BY datastream_id, multi_datastream_id`, args...)
	if err != nil {
		return fmt.Errorf("count observations: %w", err)
	}
	return bumpCounts(ctx, tx, delta)
}

// countsMoved moves Observation(id), just changed, from the stream it was in (its Datastream
// from before's spans, or beforeMulti) to the one it is in now, when they differ.
func countsMoved(ctx context.Context, tx Tx, id int64, before []obsSpan, beforeMulti *int64) error {
	var was stream
	switch {
	case beforeMulti != nil:
		was = stream{*beforeMulti, true}
	case len(before) > 0:
		was = stream{before[0].ds, false}
	}
	var ds, md *int64
	if err := tx.QueryRow(ctx, `SELECT datastream_id, multi_datastream_id FROM observations WHERE id = ?`, id).Scan(&ds, &md); err != nil {
		return fmt.Errorf("read observation %d: %w", id, err)
	}
	var now stream
	switch {
	case md != nil:
		now = stream{*md, true}
	case ds != nil:
		now = stream{*ds, false}
	}
	if now == was {
		return nil
	}
	delta := map[stream]int64{}
	if was.id != 0 {
		delta[was]--
	}
	if now.id != 0 {
		delta[now]++
	}
	return bumpCounts(ctx, tx, delta)
}

// fastCount returns the exact number of observations query would count, read from the counts
// (ok true), when it can: the Observations of one Datastream or MultiDatastream, or all of
// them, with no $filter, no id and no paging cursor (a later page counts up to the first
// page's newest id, which only COUNT(*) can). Otherwise ok is false and the caller counts.
func fastCount(ctx context.Context, tx Tx, query *sensing.Query) (n int64, ok bool, err error) {
	if query.Set != sensing.Observations || query.ID > 0 || query.Cursor != nil ||
		(query.Opts != nil && query.Opts.Filter != nil) {
		return 0, false, nil
	}
	var sql string
	var args []any
	switch p := query.Parent; {
	case p == nil:
		sql = `SELECT CAST((SELECT coalesce(sum(n), 0) FROM observation_counts) + (SELECT coalesce(sum(n), 0) FROM multi_observation_counts) AS BIGINT)`
	case p.Set == sensing.Datastreams && p.Nav == "Observations":
		sql, args = `SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM observation_counts WHERE datastream_id = ?`, []any{p.ID}
	case p.Set == sensing.MultiDatastreams && p.Nav == "Observations":
		sql, args = `SELECT CAST(coalesce(sum(n), 0) AS BIGINT) FROM multi_observation_counts WHERE multi_datastream_id = ?`, []any{p.ID}
	default:
		return 0, false, nil
	}
	if err := tx.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, false, err
	}
	// less the Observations of the remote Datastreams the reader may not see (remoteview.go)
	switch p := query.Parent; {
	case p == nil:
		h, err := hiddenCount(ctx, tx, query)
		if err != nil {
			return 0, false, err
		}
		n -= h
	case p.Set == sensing.Datastreams && query.View != nil && !query.View.Hidden.None() && slices.Contains(query.View.Hidden.Datastreams, p.ID):
		n = 0
	}
	return n, true, nil
}
