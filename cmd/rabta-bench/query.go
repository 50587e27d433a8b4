package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"
)

// latency summarises a set of durations, in milliseconds.
type latency struct {
	N      int     `json:"n"`
	MinMs  float64 `json:"min_ms"`
	MedMs  float64 `json:"median_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P99Ms  float64 `json:"p99_ms"`
	MaxMs  float64 `json:"max_ms"`
	MeanMs float64 `json:"mean_ms"`
}

func summarize(d []time.Duration) latency {
	if len(d) == 0 {
		return latency{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
	pct := func(p float64) float64 { // nearest rank
		i := int(p*float64(len(s))+0.999999) - 1
		return ms(s[max(0, min(i, len(s)-1))])
	}
	var sum time.Duration
	for _, x := range s {
		sum += x
	}
	return latency{N: len(s), MinMs: ms(s[0]), MedMs: pct(0.5), P90Ms: pct(0.9), P99Ms: pct(0.99), MaxMs: ms(s[len(s)-1]), MeanMs: ms(sum / time.Duration(len(s)))}
}

// queryResult is the query-latency phase's figures.
type queryResult struct {
	Wall     time.Duration `json:"-"`
	WallS    float64       `json:"wall_s"`
	Window   string        `json:"window"`
	Top      int           `json:"top"`
	Latency  latency       `json:"latency"`
	Rows     int           `json:"rows_returned"`
	Warmup   int           `json:"warmup"`
	QPS      float64       `json:"requests_per_s"`
	Example  string        `json:"example_request"`
	CPUPerRq float64       `json:"server_cpu_ms_per_request"`
}

// queryLatency sends n window queries one after another (after a short unmeasured warm-up),
// each for a random datastream and a random window of the given length inside its data, and
// checks every answer: the right number of observations, newest first, the first one the
// newest in the window. A query that returns the wrong rows fails the benchmark.
func queryLatency(ctx context.Context, s *server, g dataset, ids []int64, n, top int, window time.Duration, seed uint64) (queryResult, error) {
	res := queryResult{Window: window.String(), Top: top}
	rng := rand.New(rand.NewPCG(seed, 42))
	wh := int(window / time.Hour)
	one := func() (time.Duration, int, string, error) {
		i := rng.IntN(g.d)
		rows := g.rows(i)
		h1 := 0
		if rows > wh {
			h1 = rng.IntN(rows - wh + 1)
		}
		h2 := h1 + wh // exclusive
		last := min(h2, rows) - 1
		want := min(top, last-h1+1)
		filter := fmt.Sprintf("phenomenonTime ge %s and phenomenonTime lt %s", at(h1).Format(time.RFC3339), at(h2).Format(time.RFC3339))
		path := fmt.Sprintf("/v1.1/Datastreams(%d)/Observations?$filter=%s&$orderby=%s&$top=%d",
			ids[i], url.QueryEscape(filter), url.QueryEscape("phenomenonTime desc"), top)
		t0 := time.Now()
		st, b, err := s.do(ctx, "GET", path, nil)
		d := time.Since(t0)
		if err != nil {
			return 0, 0, path, err
		}
		if st != http.StatusOK {
			return 0, 0, path, fmt.Errorf("GET %s: %d %.500s", path, st, b)
		}
		var page struct {
			Value []struct {
				PhenomenonTime string   `json:"phenomenonTime"`
				Result         *float64 `json:"result"`
			} `json:"value"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return 0, 0, path, fmt.Errorf("GET %s: %w", path, err)
		}
		if len(page.Value) != want {
			return 0, 0, path, fmt.Errorf("GET %s: %d observations, want %d", path, len(page.Value), want)
		}
		for k, v := range page.Value {
			h := last - k
			if v.PhenomenonTime != at(h).Format(time.RFC3339) || v.Result == nil || *v.Result != value(i, h) {
				return 0, 0, path, fmt.Errorf("GET %s: observation %d is %s %v, want %s %v (newest first)", path, k, v.PhenomenonTime, v.Result, at(h).Format(time.RFC3339), value(i, h))
			}
		}
		return d, len(page.Value), path, nil
	}
	res.Warmup = min(50, n)
	for range res.Warmup {
		if _, _, _, err := one(); err != nil {
			return res, err
		}
	}
	cpu0 := cpuSeconds(s.pid())
	lat := make([]time.Duration, 0, n)
	start := time.Now()
	for range n {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		d, rows, path, err := one()
		if err != nil {
			return res, err
		}
		lat = append(lat, d)
		res.Rows += rows
		if res.Example == "" {
			res.Example = "GET " + path
		}
	}
	res.Wall = time.Since(start)
	res.WallS = res.Wall.Seconds()
	res.Latency = summarize(lat)
	res.QPS = float64(n) / res.Wall.Seconds()
	if n > 0 {
		res.CPUPerRq = (cpuSeconds(s.pid()) - cpu0) * 1000 / float64(n)
	}
	return res, nil
}
