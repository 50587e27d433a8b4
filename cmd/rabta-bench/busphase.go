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

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/sensing"
)

// busResult is the bus phase's figures: observations accepted by the store under a steady,
// paced load, and when a durable consumer on the bus sees them.
type busResult struct {
	WallS        float64 `json:"wall_s"` // first request to last answer
	TargetRate   float64 `json:"target_obs_per_s"`
	PerRequest   int     `json:"obs_per_request"`
	IntervalMs   float64 `json:"interval_ms"`
	Datastreams  int     `json:"datastreams"`
	Senders      int     `json:"senders"`  // concurrent senders taking the scheduled requests
	Requests     int     `json:"requests"` // answered
	Stored       int     `json:"stored"`   // observations the answers link to
	Rejected     int     `json:"rejected"` // rows answered with an error
	AchievedRate float64 `json:"achieved_obs_per_s"`
	Late         int     `json:"late_requests"` // sent more than one interval after their slot
	MaxLateMs    float64 `json:"max_late_ms"`
	WarmupS      float64 `json:"warmup_s"` // deliveries and requests of the first seconds not measured
	Messages     int     `json:"messages"` // bus deliveries to the benchmark's consumer
	Seen         int     `json:"obs_seen"` // distinct observations in them
	Missing      int     `json:"missing"`  // stored observations the consumer had not seen at the end
	Redeliver    int     `json:"redelivered"`
	DrainS       float64 `json:"drain_s"` // from the last answer until the consumer had seen everything
	// AcceptToConsumer: per delivery, receive time − batch.Accepted (the store's commit time).
	AcceptToConsumer latency `json:"accept_to_consumer"`
	// SendToConsumer: per observation, receive time − the time its request was sent.
	SendToConsumer latency `json:"send_to_consumer"`
	// RequestLatency: request sent → 201 (durable).
	RequestLatency latency `json:"request_latency"`
	ServerCPU      float64 `json:"server_cpu_s"`
	ClientCPU      float64 `json:"client_cpu_s"`
	Errors         string  `json:"errors,omitempty"`
}

// busSenders is how many requests may be in flight at once: the schedule is open-loop (a slow
// answer does not delay the next request) as long as fewer than this many are outstanding.
const busSenders = 8

// busWarmup is left out of the percentiles (connections, JIT-free but cold caches, the first
// consumer pulls).
const busWarmup = 2 * time.Second

// busLatency runs the bus phase on a fresh server: a durable consumer "bench" on the OBS stream
// (from the benchmark's own NATS connection), then rate observations/s for dur, perReq per
// CreateObservations request (one request every perReq/rate seconds), spread over d datastreams.
func busLatency(ctx context.Context, s *server, d, rate, perReq int, dur time.Duration) (busResult, error) {
	res := busResult{TargetRate: float64(rate), PerRequest: perReq, Datastreams: d, Senders: busSenders}
	interval := time.Duration(float64(time.Second) * float64(perReq) / float64(rate))
	res.IntervalMs = float64(interval.Microseconds()) / 1000
	warm := busWarmup
	if dur <= 2*busWarmup {
		warm = 0
	}
	res.WarmupS = warm.Seconds()
	ids, err := s.createStreams(ctx, d)
	if err != nil {
		return res, err
	}

	b, err := bus.Open(ctx, bus.Options{Node: "local", URL: "nats://" + s.nats, Key: adminKey})
	if err != nil {
		return res, fmt.Errorf("bus client: %w", err)
	}
	defer b.Close()
	var mu sync.Mutex
	seen := map[int64]time.Time{} // observation id -> first receive time
	type delivery struct {
		recv     time.Time
		accepted time.Time
	}
	var deliveries []delivery
	var consumeErr error
	cons, err := b.Consume(ctx, "bench", false, func(_ context.Context, dl bus.Delivery) error {
		recv := time.Now()
		batch, err := sensing.DecodeObsBatch(dl.Data)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			if consumeErr == nil {
				consumeErr = err
			}
			return nil
		}
		deliveries = append(deliveries, delivery{recv, batch.Accepted})
		for _, it := range batch.Obs {
			if _, ok := seen[it.ID]; ok {
				res.Redeliver++
				continue
			}
			seen[it.ID] = recv
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("bus consumer: %w", err)
	}
	defer cons.Stop()

	// the requests: request k holds perReq rows, round robin over the datastreams, each
	// datastream's rows hourly in order
	type sent struct {
		t0  time.Time
		ids []int64
	}
	var sents []sent
	var lat []time.Duration
	var firstErr error
	hour := make([]int, d)
	nextBody := func() []byte {
		groups := map[int][]int{}
		var order []int
		for j := 0; j < perReq; j++ {
			i := j % d
			if _, ok := groups[i]; !ok {
				order = append(order, i)
			}
			groups[i] = append(groups[i], hour[i])
			hour[i]++
		}
		return dataArrayBody(ids, groups, order)
	}
	type job struct {
		due  time.Time
		body []byte
	}
	jobs := make(chan job)
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cpu0, self0 := cpuSeconds(s.pid()), selfCPU()
	start := time.Now()
	var lastAnswer time.Time
	var wg sync.WaitGroup
	for range busSenders {
		wg.Go(func() {
			for j := range jobs {
				t0 := time.Now()
				st, body, err := s.do(lctx, "POST", "/v1.1/CreateObservations", j.body)
				t1 := time.Now()
				var answers []string
				if err == nil && st != http.StatusCreated {
					err = fmt.Errorf("CreateObservations: %d %.300s", st, body)
				}
				if err == nil {
					err = json.Unmarshal(body, &answers)
				}
				mu.Lock()
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					cancel()
					continue
				}
				if late := t0.Sub(j.due); late > interval {
					res.Late++
					res.MaxLateMs = max(res.MaxLateMs, float64(late.Microseconds())/1000)
				}
				sn := sent{t0: t0}
				for _, a := range answers {
					if id, ok := obsID(a); ok {
						sn.ids = append(sn.ids, id)
					} else {
						res.Rejected++
					}
				}
				res.Stored += len(sn.ids)
				res.Requests++
				sents = append(sents, sn)
				if t0.Sub(start) >= warm {
					lat = append(lat, t1.Sub(t0))
				}
				if t1.After(lastAnswer) {
					lastAnswer = t1
				}
				mu.Unlock()
			}
		})
	}
	// the pacer: request k is due at start + k·interval; the body is built before its slot
schedule:
	for k := 0; ; k++ {
		due := start.Add(time.Duration(k) * interval)
		if due.Sub(start) >= dur {
			break
		}
		body := nextBody()
		if w := time.Until(due); w > 0 {
			select {
			case <-time.After(w):
			case <-lctx.Done():
				break schedule
			}
		}
		select {
		case jobs <- job{due, body}:
		case <-lctx.Done():
			break schedule
		}
	}
	close(jobs)
	wg.Wait()
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	res.WallS = lastAnswer.Sub(start).Seconds()
	res.AchievedRate = float64(res.Stored) / res.WallS
	res.ServerCPU = cpuSeconds(s.pid()) - cpu0
	res.ClientCPU = selfCPU() - self0

	// wait until the consumer has seen every stored observation (or 60 s)
	deadline := lastAnswer.Add(60 * time.Second)
	for {
		mu.Lock()
		n := len(seen)
		mu.Unlock()
		if n >= res.Stored || time.Now().After(deadline) {
			break
		}
		select {
		case <-time.After(5 * time.Millisecond):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	cons.Stop()
	mu.Lock()
	defer mu.Unlock()
	var last time.Time
	var a2c, s2c []time.Duration
	for _, dl := range deliveries {
		if dl.recv.After(last) {
			last = dl.recv
		}
		if dl.accepted.Sub(start) >= warm {
			a2c = append(a2c, dl.recv.Sub(dl.accepted))
		}
	}
	for _, sn := range sents {
		for _, id := range sn.ids {
			recv, ok := seen[id]
			if !ok {
				res.Missing++
				continue
			}
			if sn.t0.Sub(start) >= warm {
				s2c = append(s2c, recv.Sub(sn.t0))
			}
		}
	}
	res.DrainS = max(0, last.Sub(lastAnswer).Seconds())
	res.Messages, res.Seen = len(deliveries), len(seen)
	res.AcceptToConsumer = summarize(a2c)
	res.SendToConsumer = summarize(s2c)
	res.RequestLatency = summarize(lat)
	if consumeErr != nil {
		res.Errors = "consumer: " + consumeErr.Error()
	}
	if res.Missing > 0 {
		return res, fmt.Errorf("%d of %d stored observations did not reach the consumer within 60 s", res.Missing, res.Stored)
	}
	return res, nil
}

// obsID parses the id out of an answer "…/Observations(123)".
func obsID(answer string) (int64, bool) {
	i := strings.LastIndex(answer, "/Observations(")
	if i < 0 || !strings.HasSuffix(answer, ")") {
		return 0, false
	}
	id, err := strconv.ParseInt(answer[i+len("/Observations("):len(answer)-1], 10, 64)
	return id, err == nil
}
