package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/cap"
)

// alertResult is the alert phase's figures: an observation over a rule's first level → the
// auto-issued, signed CAP Alert on the bus and on the Atom feed; one back below the level → the
// Cancel on the bus and the alert gone from the feed.
type alertResult struct {
	Cycles    int     `json:"cycles"` // measured, after one unmeasured warm-up cycle
	PollMs    float64 `json:"feed_poll_ms"`
	FireBus   latency `json:"fire_to_bus"`
	FireFeed  latency `json:"fire_to_feed"`
	ClearBus  latency `json:"clear_to_bus"`
	ClearFeed latency `json:"clear_to_feed"`
	// PostLatency is POST /v1.1/Observations sent → 201, for both kinds of observation.
	PostLatency latency `json:"post_latency"`
	Messages    int     `json:"bus_messages"`
	Verified    int     `json:"signatures_verified"` // with the node's certificate, after the run
	FeedPolls   int     `json:"feed_polls"`
	WallS       float64 `json:"wall_s"`
	ServerCPU   float64 `json:"server_cpu_s"`
}

// alertRules is one auto-issuing threshold rule on datastream %d (as in cmd/rabta/alerts_test.go).
const alertRules = `rules:
  - id: bench-auto
    name: Bench gauge (issues by itself)
    kind: threshold
    datastreams: [%d]
    hysteresis: 5%%
    levels:
      - {name: Low, value: 100000, severity: Minor, urgency: Expected, certainty: Observed, event: Flood}
      - {name: Exceptionally High, value: 600000, severity: Extreme, urgency: Immediate, certainty: Observed, event: Flood}
    area: {desc: Chenab near Khanki, circles: [{center: [32.40, 73.97], radiusKm: 25}]}
    autoIssue: true
    status: Test
    templates:
      en: {headline: "{{.Level}} flood at {{.Station}}", description: "{{.Value}} {{.Unit}} at {{.ObservedAt}}", instruction: "Move to higher ground."}
`

// alertThing is a discharge gauge (QC accepts 150,000 cusecs; a water level in metres it would not).
const alertThing = `{"name":"Bench Khanki","description":"gauge","Locations":[{"name":"Khanki","description":"site",
 "encodingType":"application/geo+json","location":{"type":"Point","coordinates":[73.97,32.40]}}],
 "Datastreams":[{"name":"Discharge at bench Khanki","description":"q","observationType":"http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement",
  "unitOfMeasurement":{"name":"cusec","symbol":"[cft_i]/s","definition":"http://qudt.org/vocab/unit/FT3-PER-SEC"},
  "Sensor":{"name":"s","description":"s","encodingType":"text/html","metadata":"x"},
  "ObservedProperty":{"name":"Discharge","definition":"http://vocab.nerc.ac.uk/collection/P01/current/DISCHARGE/","description":"d"}}]}`

type busAlert struct {
	recv time.Time
	xml  []byte
	a    *cap.Alert
	err  error
}

const feedPoll = 5 * time.Millisecond

// alertLatency runs cycles fire/clear cycles (after one unmeasured one) on a fresh server.
func alertLatency(ctx context.Context, s *server, cycles int) (alertResult, error) {
	res := alertResult{PollMs: float64(feedPoll.Microseconds()) / 1000}
	st, b, err := s.do(ctx, "POST", "/v1.1/Things", []byte(alertThing))
	if err != nil {
		return res, err
	}
	if st != http.StatusCreated {
		return res, fmt.Errorf("POST /v1.1/Things: %d %s", st, b)
	}
	st, b, err = s.do(ctx, "GET", "/v1.1/Datastreams?$filter=name%20eq%20'Discharge%20at%20bench%20Khanki'&$select=id", nil)
	var dsPage struct {
		Value []struct {
			ID int64 `json:"@iot.id"`
		} `json:"value"`
	}
	if err == nil {
		err = json.Unmarshal(b, &dsPage)
	}
	if err != nil || st != http.StatusOK || len(dsPage.Value) != 1 {
		return res, fmt.Errorf("datastream of the alert gauge: %v %d %.300s", err, st, b)
	}
	ds := dsPage.Value[0].ID
	if st, b, err := s.do(ctx, "PUT", "/api/v1/rules", fmt.Appendf(nil, alertRules, ds)); err != nil || st != http.StatusOK {
		return res, fmt.Errorf("PUT /api/v1/rules: %v %d %s", err, st, b)
	}

	cl, err := bus.Open(ctx, bus.Options{Node: "local", URL: "nats://" + s.nats, Key: adminKey})
	if err != nil {
		return res, fmt.Errorf("bus client: %w", err)
	}
	defer cl.Close()
	onBus := make(chan busAlert, 64)
	var all []busAlert
	stop, err := cl.SubscribeAlerts(func(xml []byte) {
		m := busAlert{recv: time.Now(), xml: bytes.Clone(xml)}
		m.a, m.err = cap.Unmarshal(xml)
		onBus <- m
	})
	if err != nil {
		return res, err
	}
	defer stop()

	// feed polls GET /cap/alerts.atom (conditional on the last ETag) every feedPoll until cond
	// holds for the body, and returns when it first did.
	var etag string
	var feedBody string
	getFeed := func(c context.Context) (bool, error) {
		req, _ := http.NewRequestWithContext(c, "GET", s.base+"/cap/alerts.atom", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := httpClient.Do(req)
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		res.FeedPolls++
		switch {
		case err != nil:
			return false, err
		case resp.StatusCode == http.StatusNotModified:
			return false, nil
		case resp.StatusCode != http.StatusOK:
			return false, fmt.Errorf("GET /cap/alerts.atom: %d %.300s", resp.StatusCode, body)
		}
		etag, feedBody = resp.Header.Get("ETag"), string(body)
		return true, nil
	}
	type feedSeen struct {
		t   time.Time
		err error
	}
	pollFeed := func(c context.Context, cond func(body string) bool) <-chan feedSeen {
		out := make(chan feedSeen, 1)
		go func() {
			for {
				changed, err := getFeed(c)
				t := time.Now()
				if err != nil {
					out <- feedSeen{err: err}
					return
				}
				if changed && cond(feedBody) {
					out <- feedSeen{t: t}
					return
				}
				select {
				case <-time.After(feedPoll):
				case <-c.Done():
					out <- feedSeen{err: c.Err()}
					return
				}
			}
		}()
		return out
	}
	if _, err := getFeed(ctx); err != nil {
		return res, err
	}

	var post []time.Duration
	observe := func(v int) (time.Time, error) {
		body := fmt.Sprintf(`{"phenomenonTime":"%s","result":%d,"Datastream":{"@iot.id":%d}}`, time.Now().UTC().Format(time.RFC3339Nano), v, ds)
		t0 := time.Now()
		st, b, err := s.do(ctx, "POST", "/v1.1/Observations", []byte(body))
		if err != nil {
			return t0, err
		}
		if st != http.StatusCreated {
			return t0, fmt.Errorf("POST /v1.1/Observations: %d %.300s", st, b)
		}
		post = append(post, time.Since(t0))
		return t0, nil
	}
	waitBus := func(want cap.MsgType, ref string) (busAlert, error) {
		for {
			select {
			case m := <-onBus:
				all = append(all, m)
				if m.err != nil {
					return m, fmt.Errorf("CAP message on the bus: %w", m.err)
				}
				if m.a.MsgType != want {
					return m, fmt.Errorf("CAP message on the bus: %s %s, want %s", m.a.MsgType, m.a.Identifier, want)
				}
				if ref != "" && !referencesID(m.a, ref) {
					return m, fmt.Errorf("CAP %s %s does not reference %s", m.a.MsgType, m.a.Identifier, ref)
				}
				return m, nil
			case <-time.After(30 * time.Second):
				return busAlert{}, fmt.Errorf("no CAP %s on the bus within 30 s", want)
			case <-ctx.Done():
				return busAlert{}, ctx.Err()
			}
		}
	}
	waitFeed := func(ch <-chan feedSeen, cancel context.CancelFunc) (time.Time, error) {
		defer cancel()
		select {
		case f := <-ch:
			return f.t, f.err
		case <-time.After(30 * time.Second):
			return time.Time{}, fmt.Errorf("the feed did not change within 30 s")
		}
	}

	var fireBus, fireFeed, clearBus, clearFeed []time.Duration
	cpu0 := cpuSeconds(s.pid())
	start := time.Now()
	for c := 0; c <= cycles; c++ {
		// fire: the feed's set of alerts changes (ETag), and then holds the identifier from the bus
		fctx, fcancel := context.WithCancel(ctx)
		before := etag
		fch := pollFeed(fctx, func(string) bool { return etag != before })
		t0, err := observe(150000)
		if err != nil {
			fcancel()
			return res, fmt.Errorf("cycle %d: %w", c, err)
		}
		m, err := waitBus(cap.MsgAlert, "")
		if err != nil {
			fcancel()
			return res, fmt.Errorf("cycle %d (fire): %w", c, err)
		}
		tf, err := waitFeed(fch, fcancel)
		if err != nil {
			return res, fmt.Errorf("cycle %d (fire, feed): %w", c, err)
		}
		id := m.a.Identifier
		if !strings.Contains(feedBody, id) {
			return res, fmt.Errorf("cycle %d: the feed changed but does not list %s:\n%.2000s", c, id, feedBody)
		}
		if c > 0 {
			fireBus, fireFeed = append(fireBus, m.recv.Sub(t0)), append(fireFeed, tf.Sub(t0))
		}
		// clear: a Cancel referencing the alert, and the alert gone from the feed
		cctx, ccancel := context.WithCancel(ctx)
		cch := pollFeed(cctx, func(body string) bool { return !strings.Contains(body, id) })
		t0, err = observe(5000)
		if err != nil {
			ccancel()
			return res, fmt.Errorf("cycle %d: %w", c, err)
		}
		m, err = waitBus(cap.MsgCancel, id)
		if err != nil {
			ccancel()
			return res, fmt.Errorf("cycle %d (clear): %w", c, err)
		}
		tf, err = waitFeed(cch, ccancel)
		if err != nil {
			return res, fmt.Errorf("cycle %d (clear, feed): %w", c, err)
		}
		if c > 0 {
			clearBus, clearFeed = append(clearBus, m.recv.Sub(t0)), append(clearFeed, tf.Sub(t0))
		}
	}
	res.WallS = time.Since(start).Seconds()
	res.ServerCPU = cpuSeconds(s.pid()) - cpu0
	res.Cycles = cycles
	res.FireBus, res.FireFeed = summarize(fireBus), summarize(fireFeed)
	res.ClearBus, res.ClearFeed = summarize(clearBus), summarize(clearFeed)
	res.PostLatency = summarize(post)
	res.Messages = len(all)

	// every message on the bus is signed by the node (checked after the timing)
	certs, err := nodeCerts(filepath.Join(s.dir, "node-cert.pem"))
	if err != nil {
		return res, err
	}
	for _, m := range all {
		if _, err := cap.Verify(m.xml, certs); err != nil {
			return res, fmt.Errorf("CAP %s %s: signature: %w", m.a.MsgType, m.a.Identifier, err)
		}
		res.Verified++
	}
	return res, nil
}

func referencesID(a *cap.Alert, id string) bool {
	for _, r := range a.References {
		if r.Identifier == id {
			return true
		}
	}
	return false
}

// nodeCerts reads the node's signing certificate (PEM).
func nodeCerts(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out, err := cap.ParseCertificates(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return out, nil
}
