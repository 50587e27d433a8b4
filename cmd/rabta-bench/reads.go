package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// readsResult is the reads phase's figures: the requests a dashboard and a client of a large
// store make that touch every row (a count) or every datastream (the latest value of each).
type readsResult struct {
	Runs          int     `json:"runs"`
	CountAll      latency `json:"count_all_observations"`
	CountOne      latency `json:"count_one_datastream"`
	CountOnly     latency `json:"count_one_datastream_alone"`
	LatestEach    latency `json:"latest_of_every_datastream"`
	Window        latency `json:"window_across_datastreams"`
	WindowRuns    int     `json:"window_runs"`
	WindowPath    string  `json:"window_request"`
	CountAllPath  string  `json:"count_all_request"`
	CountOnePath  string  `json:"count_one_request"`
	CountOnlyPath string  `json:"count_one_alone_request"`
	LatestPath    string  `json:"latest_request"`
	CountAllValue int64   `json:"count_all_value"`
}

// windowRuns is the fewest timed runs of the window across datastreams (for its p99).
const windowRuns = 100

// readsLatency times, runs times each, three requests on the store the api phase filled, and
// checks every answer:
//
//   - GET /v1.1/Observations?$count=true&$top=1: @iot.count equals every row sent;
//   - GET /v1.1/Datastreams(id)/Observations?$count=true&$top=1: the first datastream's rows;
//   - the same with $top=0: the count alone, without the first page (in id order, which
//     SQLite sorts from the datastream's index entries);
//   - GET /v1.1/Datastreams?$top=d&$expand=Observations($top=1;$orderby=phenomenonTime desc):
//     the latest observation of every datastream, each checked against the generator;
//   - GET /v1.1/Observations?$filter=phenomenonTime ge T and phenomenonTime lt T+1h&$top=d:
//     a one-hour window across every datastream, max(runs, windowRuns) times, each run
//     another hour spread over the data; each answer must hold exactly the datastreams'
//     values of that hour.
//
// The first request of each kind is an unmeasured warm-up.
func readsLatency(ctx context.Context, s *server, g dataset, ids []int64, runs int) (readsResult, error) {
	res := readsResult{Runs: runs, WindowRuns: max(runs, windowRuns)}
	res.CountAllPath = "/v1.1/Observations?$count=true&$top=1"
	res.CountOnePath = fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$count=true&$top=1", ids[0])
	res.CountOnlyPath = fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$count=true&$top=0", ids[0])
	res.LatestPath = fmt.Sprintf("/v1.1/Datastreams?$top=%d&$orderby=id&$select=id&$expand=%s", g.d,
		url.QueryEscape("Observations($top=1;$orderby=phenomenonTime desc;$select=phenomenonTime,result)"))

	get := func(path string, v any) (time.Duration, error) {
		t0 := time.Now()
		st, b, err := s.do(ctx, "GET", path, nil)
		d := time.Since(t0)
		if err != nil {
			return 0, err
		}
		if st != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %.500s", path, st, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			return 0, fmt.Errorf("GET %s: %w", path, err)
		}
		return d, nil
	}
	type countPage struct {
		Count *int64 `json:"@iot.count"`
	}
	count := func(path string, want int64) (time.Duration, error) {
		var p countPage
		d, err := get(path, &p)
		if err != nil {
			return 0, err
		}
		if p.Count == nil {
			return 0, fmt.Errorf("GET %s: no @iot.count, want %d", path, want)
		}
		if *p.Count != want {
			return 0, fmt.Errorf("GET %s: @iot.count %d, want %d", path, *p.Count, want)
		}
		return d, nil
	}
	latest := func() (time.Duration, error) {
		var p struct {
			Value []struct {
				ID  int64 `json:"@iot.id"`
				Obs []struct {
					PhenomenonTime string   `json:"phenomenonTime"`
					Result         *float64 `json:"result"`
				} `json:"Observations"`
			} `json:"value"`
		}
		d, err := get(res.LatestPath, &p)
		if err != nil {
			return 0, err
		}
		if len(p.Value) != g.d {
			return 0, fmt.Errorf("GET %s: %d datastreams, want %d", res.LatestPath, len(p.Value), g.d)
		}
		for i, ds := range p.Value {
			h := g.rows(i) - 1
			if ds.ID != ids[i] || len(ds.Obs) != 1 || ds.Obs[0].PhenomenonTime != at(h).Format(time.RFC3339) ||
				ds.Obs[0].Result == nil || *ds.Obs[0].Result != value(i, h) {
				return 0, fmt.Errorf("GET %s: datastream %d: got %+v, want id %d latest %s %v", res.LatestPath, i, ds, ids[i], at(h).Format(time.RFC3339), value(i, h))
			}
		}
		return d, nil
	}
	windowPath := func(h int) string {
		f := fmt.Sprintf("phenomenonTime ge %s and phenomenonTime lt %s", at(h).Format(time.RFC3339), at(h+1).Format(time.RFC3339))
		return fmt.Sprintf("/v1.1/Observations?$top=%d&$select=phenomenonTime,result&$filter=%s", g.d, url.QueryEscape(f))
	}
	res.WindowPath = windowPath(g.hours() / 2)
	run := 0
	window := func() (time.Duration, error) {
		h := (run * 7919) % g.hours() // another hour each run, spread over the data
		run++
		path := windowPath(h)
		var p struct {
			Value []struct {
				PhenomenonTime string   `json:"phenomenonTime"`
				Result         *float64 `json:"result"`
			} `json:"value"`
			Next string `json:"@iot.nextLink"`
		}
		d, err := get(path, &p)
		if err != nil {
			return 0, err
		}
		want := map[float64]int{} // the hour's values, as a multiset (the order is the ids')
		for i := range g.d {
			if g.rows(i) > h {
				want[value(i, h)]++
			}
		}
		n := 0
		for _, o := range p.Value {
			if o.PhenomenonTime != at(h).Format(time.RFC3339) || o.Result == nil || want[*o.Result] == 0 {
				return 0, fmt.Errorf("GET %s: unexpected %+v", path, o)
			}
			want[*o.Result]--
			n++
		}
		for v, left := range want {
			if left != 0 {
				return 0, fmt.Errorf("GET %s: %d observations, value %v missing (%s)", path, n, v, p.Next)
			}
		}
		return d, nil
	}
	kinds := []struct {
		fn   func() (time.Duration, error)
		out  *latency
		runs int
	}{
		{func() (time.Duration, error) { return count(res.CountAllPath, int64(g.n)) }, &res.CountAll, runs},
		{func() (time.Duration, error) { return count(res.CountOnePath, int64(g.rows(0))) }, &res.CountOne, runs},
		{func() (time.Duration, error) { return count(res.CountOnlyPath, int64(g.rows(0))) }, &res.CountOnly, runs},
		{latest, &res.LatestEach, runs},
		{window, &res.Window, res.WindowRuns},
	}
	for _, k := range kinds {
		if _, err := k.fn(); err != nil { // warm-up
			return res, err
		}
		var lat []time.Duration
		for range k.runs {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			d, err := k.fn()
			if err != nil {
				return res, err
			}
			lat = append(lat, d)
		}
		*k.out = summarize(lat)
	}
	res.CountAllValue = int64(g.n)
	return res, nil
}
