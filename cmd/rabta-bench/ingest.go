package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// apiIngest POSTs the data set to /v1.1/CreateObservations from clients concurrent clients,
// batch rows per request. Client c sends the datastreams with index%clients == c, each in
// time order (so that QC sees every datastream's values in order, as from a real gateway);
// a request holds one dataArray group per datastream. The server answers 201 only after the
// batch's transaction is committed and synced; every row's answer is checked.
func apiIngest(ctx context.Context, s *server, g dataset, ids []int64, batch, clients int) (phaseResult, error) {
	var res phaseResult
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		cancel()
	}
	cpu0, self0 := cpuSeconds(s.pid()), selfCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		var mine []int
		for i := c; i < g.d; i += clients {
			mine = append(mine, i)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			// rows of the current request, grouped by datastream in first-seen order
			groups := map[int][]int{} // station -> hours
			var order []int
			n := 0
			send := func() bool {
				if n == 0 {
					return true
				}
				body := dataArrayBody(ids, groups, order)
				t0 := time.Now()
				st, b, err := s.do(ctx, "POST", "/v1.1/CreateObservations", body)
				d := time.Since(t0)
				if err != nil {
					fail(fmt.Errorf("CreateObservations: %w", err))
					return false
				}
				if st != http.StatusCreated {
					fail(fmt.Errorf("CreateObservations: %d %.500s", st, b))
					return false
				}
				var answers []string
				if err := json.Unmarshal(b, &answers); err != nil {
					fail(fmt.Errorf("CreateObservations answer: %w", err))
					return false
				}
				if len(answers) != n {
					fail(fmt.Errorf("CreateObservations: %d answers for %d rows", len(answers), n))
					return false
				}
				stored, rejected := 0, 0
				var example string
				for _, a := range answers {
					if strings.Contains(a, "/Observations(") {
						stored++
					} else {
						rejected++
						example = a
					}
				}
				mu.Lock()
				res.Rows += n
				res.Stored += stored
				res.Rejected += rejected
				if example != "" && res.Example == "" {
					res.Example = example
				}
				lat = append(lat, d)
				mu.Unlock()
				clear(groups)
				order, n = order[:0], 0
				return true
			}
			g.each(mine, func(i, h int) bool {
				if _, ok := groups[i]; !ok {
					order = append(order, i)
				}
				groups[i] = append(groups[i], h)
				n++
				if n >= batch {
					return send()
				}
				return true
			})
			if ctx.Err() == nil {
				send()
			}
		}()
	}
	wg.Wait()
	res.Wall = time.Since(start)
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.PerSec = float64(res.Stored) / res.Wall.Seconds()
	res.ServerCPU = cpuSeconds(s.pid()) - cpu0
	res.ClientCPU = selfCPU() - self0
	res.Requests = len(lat)
	res.RequestLatency = summarize(lat)
	return res, nil
}

// dataArrayBody encodes one CreateObservations request.
func dataArrayBody(ids []int64, groups map[int][]int, order []int) []byte {
	b := make([]byte, 0, 64<<10)
	b = append(b, '[')
	for k, i := range order {
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"Datastream":{"@iot.id":`...)
		b = strconv.AppendInt(b, ids[i], 10)
		b = append(b, `},"components":["phenomenonTime","result"],"dataArray":[`...)
		for j, h := range groups[i] {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `["`...)
			b = appendTime(b, h)
			b = append(b, `",`...)
			b = appendValue(b, value(i, h))
			b = append(b, ']')
		}
		b = append(b, "]}"...)
	}
	return append(b, ']')
}
