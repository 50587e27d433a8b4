package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The compare phase (issue 16's table as a command): the same three loads, one target after
// another, against Rabta on SQLite, Rabta on PostgreSQL (-compare-pg) and any other
// SensorThings service (-compare-url), with each figure also given as a ratio to the
// reference target (the first -compare-url, else Rabta on SQLite):
//
//   - single: one Observation per POST to /Datastreams(id)/Observations, -compare-clients
//     clients, each writing to its own Datastream;
//   - bulk: POST /CreateObservations with -compare-bulk observations per request (dataArray),
//     -compare-bulk-clients clients;
//   - window: GET /Datastreams(id)/Observations with a one-hour phenomenonTime window and
//     $top=100 over what single and bulk wrote, -compare-clients clients.
//
// With -compare-floor the last targets are floors: http-floor (floor.go) answers the same
// requests with a minimal Go net/http server and no store, the most any Go HTTP server can do
// on this machine with this client; floor-sqlite and, with -compare-pg, floor-postgres
// (floorstore.go) are that server with the least durable store (group commit, nothing but the
// rows and one index), the most any Go server that keeps what it acknowledges can do here.
//
// Each load runs for -compare-duration after a one-second warm-up that is not counted. Every
// answer is checked (201 for a write, 200 with at least one value for a window); anything else
// is counted as an error and the first one is shown.

// compareTarget is one SensorThings service under the compare loads.
type compareTarget struct {
	Name string `json:"name"`
	URL  string `json:"url"` // the service root, e.g. http://127.0.0.1:8080/v1.1
	auth string // the Authorization header value; "" for none
}

// loadResult is one load against one target.
type loadResult struct {
	PerSec  float64 `json:"perSec"` // observations per second (writes) or requests per second (window)
	Latency latency `json:"latency"`
	Errors  int     `json:"errors"`
	Error   string  `json:"firstError,omitempty"`
	Ratio   float64 `json:"ratio,omitempty"` // PerSec ÷ the reference target's
}

// compareReport is the compare phase's result.
type compareReport struct {
	Duration    float64         `json:"durationS"`
	Clients     int             `json:"clients"`
	BulkClients int             `json:"bulkClients"`
	BulkSize    int             `json:"bulkSize"`
	Reference   string          `json:"reference"`
	Targets     []compareTarget `json:"targets"`
	Single      []loadResult    `json:"single"`
	Bulk        []loadResult    `json:"bulk"`
	Window      []loadResult    `json:"window"`
}

// parseCompareURLs reads -compare-url: comma-separated service roots, each optionally named
// ("gost=http://127.0.0.1:8088/v1.0").
func parseCompareURLs(s string) ([]compareTarget, error) {
	var out []compareTarget
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, raw := "", f
		if i := strings.Index(f, "="); i > 0 && !strings.Contains(f[:i], "/") {
			name, raw = f[:i], f[i+1:]
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("-compare-url %q: want [name=]http(s)://host:port/v1.0 (a SensorThings service root)", f)
		}
		if name == "" {
			name = u.Host
		}
		out = append(out, compareTarget{Name: name, URL: strings.TrimSuffix(raw, "/")})
	}
	return out, nil
}

// comparePhase runs the compare loads against every target: Rabta on SQLite and, with
// -compare-pg, on PostgreSQL (each a fresh server started here, without a write rate limit),
// and the -compare-url services (used as they are: give them empty, or a test instance).
func comparePhase(ctx context.Context, o options, bin, root string, logf func(string, ...any)) (*compareReport, error) {
	external, err := parseCompareURLs(o.compareURLs)
	if err != nil {
		return nil, err
	}
	rep := &compareReport{Duration: o.compareDur.Seconds(), Clients: o.compareClients, BulkClients: o.compareBulkClients, BulkSize: o.compareBulk}
	type run struct {
		t     compareTarget
		srv   *server
		db    string
		floor bool   // a floor target (-compare-floor)
		store string // a durable floor's store (floorstore.go), "" for the http-floor
	}
	runs := []run{{t: compareTarget{Name: "rabta-sqlite"}}}
	if o.comparePG != "" {
		runs = append(runs, run{t: compareTarget{Name: "rabta-postgres"}, db: o.comparePG})
	}
	for _, t := range external {
		t.auth = o.compareAuth
		runs = append(runs, run{t: t})
	}
	ref := 0
	if len(external) > 0 {
		ref = len(runs) - len(external)
	}
	if o.compareFloor {
		runs = append(runs, run{t: compareTarget{Name: "http-floor"}, floor: true},
			run{t: compareTarget{Name: "floor-sqlite"}, floor: true, store: "sqlite:" + filepath.Join(root, "compare-floor-sqlite.db")})
		if o.comparePG != "" {
			runs = append(runs, run{t: compareTarget{Name: "floor-postgres"}, floor: true, store: "postgres:" + o.comparePG})
		}
	}
	// the table is printed even when a target fails: ratios to what was measured
	defer rep.ratios(ref)
	for i, r := range runs {
		t := r.t
		if r.floor {
			f, err := startFloor(ctx, r.store)
			if err != nil {
				return rep, fmt.Errorf("compare: %s: %w", t.Name, err)
			}
			defer f.kill()
			// the same header as Rabta gets, so that the requests are the same bytes
			t.URL, t.auth = f.base+"/v1.1", "Bearer "+adminKey
		} else if t.URL == "" { // a Rabta server of our own
			dir := filepath.Join(root, "compare-"+t.Name)
			srv, err := startServerOn(ctx, bin, dir, o.outbox, r.db, "RABTA_WRITE_RATE=0")
			if err != nil {
				return rep, fmt.Errorf("compare: %s: %w", t.Name, err)
			}
			defer srv.kill()
			t.URL, t.auth = srv.base+"/v1.1", "Bearer "+adminKey
			runs[i].srv = srv
		}
		logf("compare: %s (%s): single, bulk, window, %s each", t.Name, t.URL, o.compareDur)
		single, bulk, window, err := compareLoads(ctx, o, t)
		if err != nil {
			if runs[i].srv != nil {
				err = fmt.Errorf("%w\nserver log:\n%s", err, runs[i].srv.log())
			}
			return rep, fmt.Errorf("compare: %s: %w", t.Name, err)
		}
		if runs[i].srv != nil {
			if err := runs[i].srv.stop(); err != nil {
				return rep, fmt.Errorf("compare: stopping %s: %w", t.Name, err)
			}
		}
		rep.Targets = append(rep.Targets, compareTarget{Name: t.Name, URL: t.URL})
		rep.Single, rep.Bulk, rep.Window = append(rep.Single, single), append(rep.Bulk, bulk), append(rep.Window, window)
		logf("compare: %s: single %.0f obs/s (p99 %.1f ms), bulk %.0f obs/s, window %.0f req/s (p99 %.1f ms)",
			t.Name, single.PerSec, single.Latency.P99Ms, bulk.PerSec, window.PerSec, window.Latency.P99Ms)
	}
	return rep, nil
}

// ratios sets Reference to target ref (the first target when ref was not measured) and each
// figure's Ratio to it; a report without targets is left as it is.
func (c *compareReport) ratios(ref int) {
	if len(c.Targets) == 0 {
		return
	}
	if ref >= len(c.Targets) {
		ref = 0
	}
	c.Reference = c.Targets[ref].Name
	for _, rs := range [][]loadResult{c.Single, c.Bulk, c.Window} {
		for i := range rs {
			if b := rs[ref].PerSec; b > 0 {
				rs[i].Ratio = rs[i].PerSec / b
			}
		}
	}
}

// compareLoads sets up one target (one Thing with a Datastream per client) and runs the three
// loads against it.
func compareLoads(ctx context.Context, o options, t compareTarget) (single, bulk, window loadResult, err error) {
	n := max(o.compareClients, o.compareBulkClients)
	ids := make([]string, n)
	tag := fmt.Sprintf("%d", time.Now().UnixNano()) // names unique on a service used before
	for i := range ids {
		th := streamThing(i)
		// encodings SensorThings 1.0 servers (GOST) accept as well as 1.1 ones: the same
		// requests go to every target
		th.Locations[0].EncodingType = "application/vnd.geo+json"
		th.Datastreams[0].Sensor.EncodingType = "application/pdf"
		th.Name += " (compare " + tag + ")"
		th.Datastreams[0].Name += " (compare " + tag + ")"
		body, _ := json.Marshal(th)
		st, b, loc, err := t.do(ctx, "POST", "/Things", body)
		if err != nil || st != http.StatusCreated {
			return single, bulk, window, fmt.Errorf("POST /Things: %d %s %v", st, clip(b), err)
		}
		if loc == "" {
			return single, bulk, window, errors.New("POST /Things: no Location header")
		}
		st, b, _, err = t.get(ctx, loc+"/Datastreams")
		var page struct {
			Value []struct {
				ID any `json:"@iot.id"`
			} `json:"value"`
		}
		if err != nil || st != http.StatusOK || json.Unmarshal(b, &page) != nil || len(page.Value) != 1 {
			return single, bulk, window, fmt.Errorf("GET %s/Datastreams: %d %s %v", loc, st, clip(b), err)
		}
		ids[i] = idLiteral(page.Value[0].ID)
	}
	// each client writes its own datastream, one minute apart: no two writes collide
	var mu sync.Mutex
	next := make([]int, n)
	tick := func(c int, k int) (from int) {
		mu.Lock()
		defer mu.Unlock()
		from = next[c]
		next[c] += k
		return from
	}
	minute := func(k int) string { return epoch.Add(time.Duration(k) * time.Minute).Format(time.RFC3339) }
	single = runLoad(ctx, o.compareDur, o.compareClients, func(ctx context.Context, c int) (int, error) {
		k := tick(c, 1)
		body := fmt.Sprintf(`{"phenomenonTime":%q,"result":%d.%03d}`, minute(k), 2+k%5, k%1000)
		st, b, _, err := t.do(ctx, "POST", "/Datastreams("+ids[c]+")/Observations", []byte(body))
		if err == nil && st != http.StatusCreated {
			err = fmt.Errorf("POST /Datastreams(%s)/Observations: %d %s", ids[c], st, clip(b))
		}
		return 1, err
	})
	bulk = runLoad(ctx, o.compareDur, o.compareBulkClients, func(ctx context.Context, c int) (int, error) {
		k := tick(c, o.compareBulk)
		var sb strings.Builder
		fmt.Fprintf(&sb, `[{"Datastream":{"@iot.id":%s},"components":["phenomenonTime","result"],"dataArray":[`, ids[c])
		for j := range o.compareBulk {
			if j > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, `[%q,%d.%03d]`, minute(k+j), 2+(k+j)%5, (k+j)%1000)
		}
		sb.WriteString("]}]")
		st, b, _, err := t.do(ctx, "POST", "/CreateObservations", []byte(sb.String()))
		if err == nil {
			err = checkCreated(st, b, o.compareBulk)
		}
		return o.compareBulk, err
	})
	var seq sync.Mutex
	q := 0
	window = runLoad(ctx, o.compareDur, o.compareClients, func(ctx context.Context, c int) (int, error) {
		seq.Lock()
		q++
		k := q
		seq.Unlock()
		hours := 0
		mu.Lock()
		for j := range n { // the next datastream with at least an hour written
			if c = (k + j) % n; next[c]/60 > 0 {
				hours = next[c] / 60
				break
			}
		}
		mu.Unlock()
		if hours < 1 {
			return 1, errors.New("window: no datastream has an hour of observations to query (make -compare-duration longer)")
		}
		h := (k * 7919) % hours // spread over what was written
		from, to := epoch.Add(time.Duration(h)*time.Hour), epoch.Add(time.Duration(h+1)*time.Hour)
		path := fmt.Sprintf("/Datastreams(%s)/Observations?$filter=%s&$top=100", ids[c],
			url.QueryEscape(fmt.Sprintf("phenomenonTime ge %s and phenomenonTime lt %s", from.Format(time.RFC3339), to.Format(time.RFC3339))))
		st, b, _, err := t.get(ctx, t.URL+path)
		var page struct {
			Value []json.RawMessage `json:"value"`
		}
		if err == nil && (st != http.StatusOK || json.Unmarshal(b, &page) != nil || len(page.Value) != 60) {
			// an hour written one observation a minute: a server that caps $top below 60
			// (or lost writes) answers short, and that is not the same work
			err = fmt.Errorf("GET %s: %d, %d observations (want the hour's 60): %s", path, st, len(page.Value), clip(b))
		}
		return 1, err
	})
	return single, bulk, window, nil
}

// checkCreated checks a CreateObservations answer (SensorThings 1.1 §14.2.2): 201 with one
// entry per observation sent, each the self link of a created Observation. A server that
// answers 201 with error strings inside (GOST does) stored nothing for those.
func checkCreated(status int, body []byte, want int) error {
	if status != http.StatusCreated {
		return fmt.Errorf("POST /CreateObservations: %d %s", status, clip(body))
	}
	var links []string
	if err := json.Unmarshal(body, &links); err != nil || len(links) != want {
		return fmt.Errorf("POST /CreateObservations: 201 but not %d links: %s", want, clip(body))
	}
	for i, l := range links {
		if !strings.Contains(l, "/Observations(") {
			return fmt.Errorf("POST /CreateObservations: entry %d is not a created Observation: %.200s", i, l)
		}
	}
	return nil
}

// runLoad runs do from clients goroutines for a second unmeasured, then for d measured, and
// returns the rate of what succeeded (do returns how many observations or requests one call
// is worth) and the latency of every measured call.
func runLoad(ctx context.Context, d time.Duration, clients int, do func(ctx context.Context, client int) (int, error)) loadResult {
	var (
		mu       sync.Mutex
		lat      []time.Duration
		done     int
		res      loadResult
		wg       sync.WaitGroup
		measured = time.Now().Add(time.Second)
		end      = measured.Add(d)
	)
	for c := range clients {
		wg.Go(func() {
			for {
				start := time.Now()
				if start.After(end) || ctx.Err() != nil {
					return
				}
				k, err := do(ctx, c)
				took := time.Since(start)
				if start.Before(measured) {
					continue
				}
				mu.Lock()
				if err != nil {
					res.Errors++
					if res.Error == "" {
						res.Error = err.Error()
					}
				} else {
					done += k
					lat = append(lat, took)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	res.PerSec = float64(done) / d.Seconds()
	if len(lat) > 0 {
		res.Latency = summarize(lat)
	}
	return res
}

// do sends a request to the target's path (relative to its service root) and returns the
// status, body and Location header.
func (t compareTarget) do(ctx context.Context, method, path string, body []byte) (int, []byte, string, error) {
	return t.send(ctx, method, t.URL+path, body)
}

// get fetches an absolute URL (a Location or a link the target gave).
func (t compareTarget) get(ctx context.Context, u string) (int, []byte, string, error) {
	if strings.HasPrefix(u, "/") { // a Location relative to the host
		if b, err := url.Parse(t.URL); err == nil {
			u = b.Scheme + "://" + b.Host + u
		}
	}
	return t.send(ctx, "GET", u, nil)
}

func (t compareTarget) send(ctx context.Context, method, u string, body []byte) (int, []byte, string, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, "", err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if t.auth != "" {
		req.Header.Set("Authorization", t.auth)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header.Get("Location"), err
}

// idLiteral writes an @iot.id as it goes in a URL: a number as is, a string quoted.
func idLiteral(id any) string {
	switch v := id.(type) {
	case float64:
		return fmt.Sprintf("%.0f", v)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return fmt.Sprint(id)
}

// clip shortens a body for an error message.
func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// print writes the compare table: one row per load, one column per target, each figure with
// its ratio to the reference target.
func (c *compareReport) print(w io.Writer) {
	fmt.Fprintf(w, "\ncompare: the same loads, one target after another (%.0f s each, after 1 s of warm-up); ratios to %s\n", c.Duration, c.Reference)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprint(tw, "load\t")
	for _, t := range c.Targets {
		fmt.Fprintf(tw, "%s\t", t.Name)
	}
	fmt.Fprintln(tw)
	row := func(name, unit string, rs []loadResult) {
		fmt.Fprintf(tw, "%s\t", name)
		for _, r := range rs {
			cell := fmt.Sprintf("%.0f %s (%.2f×), p99 %.1f ms", r.PerSec, unit, r.Ratio, r.Latency.P99Ms)
			if r.Errors > 0 {
				cell += fmt.Sprintf(", %d errors", r.Errors)
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	row(fmt.Sprintf("POST /Datastreams(id)/Observations, one per request, %d clients", c.Clients), "obs/s", c.Single)
	row(fmt.Sprintf("POST /CreateObservations, %d per request, %d clients", c.BulkSize, c.BulkClients), "obs/s", c.Bulk)
	row(fmt.Sprintf("1-hour window on one datastream, $top=100, %d clients", c.Clients), "req/s", c.Window)
	tw.Flush()
	for i, t := range c.Targets {
		for _, r := range []loadResult{c.Single[i], c.Bulk[i], c.Window[i]} {
			if r.Error != "" {
				fmt.Fprintf(w, "%s: first error: %s\n", t.Name, r.Error)
			}
		}
	}
}
