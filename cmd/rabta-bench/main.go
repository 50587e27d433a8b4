// Command rabta-bench measures Rabta's ingest and query performance in one run:
//
//  1. raw: the data set inserted straight into SQLite with Rabta's schema and pragmas
//     (the ceiling any ingest path can reach on this machine);
//  2. api: the same rows POSTed to a real `rabta serve` as SensorThings dataArray
//     (/v1.1/CreateObservations) from concurrent clients;
//  3. query: window queries on that server, newest first, with latency percentiles;
//  4. reads (not in the default -phases): $count=true over every observation and over one
//     datastream, and the latest observation of every datastream, medians of -reads-runs;
//  5. worst (not in the default -phases): issue 15's hostile $expand request once, with the
//     server's peak RSS, CPU time and the answer's status, size and time (-worst-timeout);
//  6. memory: the server's peak and current resident memory;
//  7. csv: the same rows loaded with `rabta import observations`;
//  8. bus: latency from an accepted observation to a durable consumer on the bus, under a
//     steady paced load (-bus-rate observations/s for -bus-duration);
//  9. mqtt: MQTT ingest (QoS 1, concurrent mosquitto_pub publishers) vs HTTP dataArray;
//  10. alert: latency from an observation over a rule's level to the signed CAP alert on the
//     bus and the Atom feed, and from one back below it to the Cancel.
//
// bus, mqtt and alert are not in the default -phases; each runs on its own fresh server.
//
// Usage:
//
//	go run ./cmd/rabta-bench [-n 10000000] [-datastreams 100] [-batch 10000] [-clients 2] [-queries 2000] [-json] [-keep]
//	go run ./cmd/rabta-bench -n 200000     # smoke size, about half a minute
//
// See docs/bench.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// smokeN is the documented quick-run size.
const smokeN = 200_000

type options struct {
	n, d, batch, clients, queries, top int
	readsRuns                          int
	window                             time.Duration
	keep, json, outbox                 bool
	dir, bin, phases, reuse            string
	seed                               uint64

	busRate, busPerReq, busStreams int
	busDur                         time.Duration
	mqttN, mqttPubs                int
	alertCycles                    int
	worstTimeout                   time.Duration

	compareURLs, comparePG, compareAuth             string
	compareDur                                      time.Duration
	compareClients, compareBulkClients, compareBulk int
	compareFloor                                    bool
}

func main() {
	serveFloorIfAsked() // rabta-bench started again as the compare phase's http-floor server
	var o options
	fs := flag.NewFlagSet("rabta-bench", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 10_000_000, fmt.Sprintf("total observations (use -n %d for a quick smoke run)", smokeN))
	fs.IntVar(&o.d, "datastreams", 100, "datastreams the observations are spread over (hourly values each)")
	fs.IntVar(&o.batch, "batch", 10_000, "rows per transaction (raw) and per CreateObservations request (api)")
	fs.IntVar(&o.clients, "clients", 2, "concurrent dataArray clients")
	fs.IntVar(&o.queries, "queries", 2000, "window queries timed (after 50 unmeasured warm-up queries)")
	fs.IntVar(&o.top, "top", 100, "$top of each window query")
	fs.IntVar(&o.readsRuns, "reads-runs", 7, "reads: timed runs of each request (after one unmeasured warm-up)")
	fs.DurationVar(&o.window, "window", 30*24*time.Hour, "length of each query's phenomenonTime window (whole hours)")
	fs.StringVar(&benchDB, "db", "", "the servers' store: empty for SQLite, or an empty PostgreSQL database's postgres:// URL (use with -phases api,query)")
	fs.BoolVar(&o.outbox, "outbox", true, "run the server with the bus outbox on (the default, as in production); -outbox=false measures what it costs")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (databases, CSV, binary)")
	fs.BoolVar(&o.json, "json", false, "print the results as JSON on stdout (the table goes to stderr)")
	fs.StringVar(&o.dir, "dir", "", "parent of the temporary directory (default $TMPDIR or /tmp); must be on the disk you want to measure")
	fs.StringVar(&o.bin, "rabta", "", "a prebuilt rabta binary (default: go build ./cmd/rabta)")
	fs.StringVar(&o.reuse, "reuse", "", "api: serve this data directory (the api/ directory of an earlier -keep run with the same -n and -datastreams, which it changes no further than the reads do) instead of filling a new one: the query, reads and worst phases on a store already filled, e.g. to compare two binaries on the same 10,000,000 rows")
	fs.StringVar(&o.phases, "phases", "raw,api,query,csv", "phases to run, comma separated: raw, api, query (needs api), reads (needs api; $count, latest of every datastream, window across datastreams), worst (needs api), csv, bus, mqtt, alert, compare")
	fs.IntVar(&o.busRate, "bus-rate", 10_000, "bus: observations per second offered")
	fs.IntVar(&o.busPerReq, "bus-batch", 100, "bus: observations per CreateObservations request (one request every bus-batch/bus-rate s)")
	fs.IntVar(&o.busStreams, "bus-datastreams", 10, "bus: datastreams each request's observations are spread over")
	fs.DurationVar(&o.busDur, "bus-duration", 30*time.Second, "bus: how long the load runs")
	fs.IntVar(&o.mqttN, "mqtt-n", 10_000, "mqtt: observations published over MQTT (and then POSTed as dataArray)")
	fs.IntVar(&o.mqttPubs, "mqtt-publishers", 4, "mqtt: concurrent mosquitto_pub processes, each to its own datastream")
	fs.IntVar(&o.alertCycles, "alert-cycles", 50, "alert: measured fire/clear cycles (after one warm-up cycle)")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the random query windows")
	fs.DurationVar(&o.worstTimeout, "worst-timeout", 2*time.Minute, "worst: how long the client waits for the answer")
	fs.StringVar(&o.compareURLs, "compare-url", "", "compare: other SensorThings services, comma separated, each [name=]http://host:port/v1.0 (the first is the reference of the ratios)")
	fs.StringVar(&o.compareAuth, "compare-auth", "", "compare: the Authorization header sent to the -compare-url services (e.g. \"Bearer KEY\"; none by default)")
	fs.StringVar(&o.comparePG, "compare-pg", "", "compare: an empty PostgreSQL database's postgres:// URL, to compare Rabta on PostgreSQL too")
	fs.DurationVar(&o.compareDur, "compare-duration", 10*time.Second, "compare: how long each load runs against each target (after 1 s of warm-up)")
	fs.IntVar(&o.compareClients, "compare-clients", 8, "compare: clients of the single-POST and window loads")
	fs.IntVar(&o.compareBulkClients, "compare-bulk-clients", 4, "compare: clients of the CreateObservations load")
	fs.IntVar(&o.compareBulk, "compare-bulk", 100, "compare: observations per CreateObservations request")
	fs.BoolVar(&o.compareFloor, "compare-floor", false, "compare: add the floor targets: http-floor, a minimal Go net/http server (its own process, no store) that reads each write, checks it is JSON and answers 201 (the most any Go HTTP server can do on this machine with this client), and floor-sqlite (and floor-postgres with -compare-pg), the same server committing each write durably to one table by group commit (the most any Go server that keeps what it acknowledges can do)")
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "rabta-bench: unexpected argument %q\n", fs.Arg(0))
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C kills at once
	}()
	rep, err := run(ctx, o, os.Stderr)
	if rep != nil && (rep.Raw != nil || rep.API != nil || rep.Query != nil || rep.Reads != nil || rep.CSV != nil || rep.Bus != nil || rep.MQTT != nil || rep.Alert != nil || rep.Compare != nil) {
		out := io.Writer(os.Stdout)
		if o.json {
			out = os.Stderr
		}
		rep.print(out)
		if o.json {
			enc := json.NewEncoder(os.Stdout)
			enc.SetIndent("", "  ")
			enc.Encode(rep)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rabta-bench:", err)
		os.Exit(1)
	}
}

func (o options) validate() error {
	switch {
	case o.n < 1:
		return errors.New("-n must be at least 1")
	case o.d < 1 || o.d > o.n:
		return errors.New("-datastreams must be between 1 and -n")
	case o.batch < 1:
		return errors.New("-batch must be at least 1")
	case o.clients < 1:
		return errors.New("-clients must be at least 1")
	case o.queries < 0 || o.top < 1:
		return errors.New("-queries must be >= 0 and -top >= 1")
	case o.window < time.Hour || o.window%time.Hour != 0:
		return errors.New("-window must be a whole number of hours")
	}
	for _, p := range strings.Split(o.phases, ",") {
		switch p {
		case "raw", "api", "query", "reads", "worst", "csv", "bus", "mqtt", "alert", "compare":
		default:
			return fmt.Errorf("-phases: unknown phase %q (raw, api, query, reads, worst, csv, bus, mqtt, alert, compare)", p)
		}
	}
	switch {
	case o.busRate < 1 || o.busPerReq < 1 || o.busStreams < 1 || o.busPerReq < o.busStreams:
		return errors.New("-bus-rate, -bus-batch and -bus-datastreams must be at least 1, and -bus-batch at least -bus-datastreams")
	case o.busDur < time.Second:
		return errors.New("-bus-duration must be at least 1s")
	case o.mqttPubs < 1 || o.mqttN < o.mqttPubs:
		return errors.New("-mqtt-publishers must be at least 1 and -mqtt-n at least -mqtt-publishers")
	case o.alertCycles < 1:
		return errors.New("-alert-cycles must be at least 1")
	case o.has("compare") && (o.compareDur < time.Second || o.compareClients < 1 || o.compareBulkClients < 1 || o.compareBulk < 1):
		return errors.New("-compare-duration must be at least 1s, and -compare-clients, -compare-bulk-clients and -compare-bulk at least 1")
	}
	if _, err := parseCompareURLs(o.compareURLs); err != nil {
		return err
	}
	if (o.has("query") || o.has("reads") || o.has("worst")) && !o.has("api") {
		return errors.New("-phases: query, reads and worst need api")
	}
	if o.readsRuns < 1 {
		return errors.New("-reads-runs must be at least 1")
	}
	return nil
}

func (o options) has(phase string) bool {
	for _, p := range strings.Split(o.phases, ",") {
		if p == phase {
			return true
		}
	}
	return false
}

// run runs the phases. Whatever happens, the servers it started are stopped and, unless
// -keep, the temporary directory is removed before it returns.
func run(ctx context.Context, o options, logw io.Writer) (rep *report, err error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
	}
	root, err := os.MkdirTemp(o.dir, "rabta-bench-")
	if err != nil {
		return nil, err
	}
	if root, err = filepath.Abs(root); err != nil {
		return nil, err
	}
	defer func() {
		if o.keep {
			logf("kept %s", root)
			return
		}
		if e := os.RemoveAll(root); e != nil {
			logf("removing %s: %v", root, e)
		}
	}()
	g := dataset{n: o.n, d: o.d}
	rep = &report{
		N: o.n, Datastreams: o.d, Batch: o.batch, Clients: o.clients, HoursPerStream: g.hours(),
		From: epoch.Format(time.RFC3339), To: at(g.hours() - 1).Format(time.RFC3339),
		Outbox: o.outbox, GoVersion: runtime.Version(), CPUs: runtime.NumCPU(), Dir: root, FS: fsType(root),
	}
	start := time.Now()
	rep.LoadStart = loadAvg()
	defer func() { rep.TotalS, rep.LoadEnd = time.Since(start).Seconds(), loadAvg() }()
	logf("load average at start: %s", rep.LoadStart)

	bin := o.bin
	if bin == "" {
		logf("building cmd/rabta")
		t := time.Now()
		if bin, err = buildRabta(ctx, root); err != nil {
			return rep, err
		}
		rep.BuildS = time.Since(t).Seconds()
	}

	if o.has("raw") {
		logf("raw: inserting %d rows into SQLite directly, %d per transaction", o.n, o.batch)
		dir := filepath.Join(root, "raw")
		os.Mkdir(dir, 0o750)
		r, err := rawBaseline(ctx, dir, g, o.batch)
		r.finish(dir)
		rep.Raw = &r
		if err != nil {
			return rep, fmt.Errorf("raw: %w", err)
		}
		logf("raw: %.0f rows/s", r.PerSec)
	}

	if o.has("api") {
		if err := apiPhases(ctx, o, g, bin, root, rep, logf); err != nil {
			return rep, err
		}
	}

	if o.has("csv") {
		dir := filepath.Join(root, "csv")
		file := filepath.Join(root, "observations.csv")
		logf("csv: creating %d datastreams through a short-lived server", o.d)
		t := time.Now()
		srv, err := startServer(ctx, bin, dir, o.outbox)
		if err != nil {
			return rep, fmt.Errorf("csv: %w", err)
		}
		ids, err := srv.createStreams(ctx, o.d)
		if err != nil {
			srv.kill()
			return rep, fmt.Errorf("csv: %w", err)
		}
		if err := srv.stop(); err != nil {
			return rep, fmt.Errorf("csv: stopping the setup server: %w\n%s", err, srv.log())
		}
		setup := time.Since(t)
		logf("csv: writing %s", file)
		t = time.Now()
		size, err := writeCSV(file, g, ids)
		if err != nil {
			return rep, fmt.Errorf("csv: %w", err)
		}
		write := time.Since(t)
		logf("csv: rabta import observations (%d MB)", size>>20)
		r, err := csvImport(ctx, bin, dir, file, o.n)
		r.SetupS, r.CSVWriteS, r.CSVBytes = setup.Seconds(), write.Seconds(), size
		r.finish(dir)
		rep.CSV = &r
		if err != nil {
			return rep, fmt.Errorf("csv: %w", err)
		}
		logf("csv: %.0f obs/s", r.PerSec)
	}
	if err := newPhases(ctx, o, bin, root, rep, logf); err != nil {
		return rep, err
	}
	if o.has("compare") {
		c, err := comparePhase(ctx, o, bin, root, logf)
		if c != nil && len(c.Targets) > 0 {
			rep.Compare = c
		}
		if err != nil {
			return rep, err
		}
	}
	rep.ratios()
	return rep, nil
}

// newPhases runs bus, mqtt and alert, each on its own fresh server.
func newPhases(ctx context.Context, o options, bin, root string, rep *report, logf func(string, ...any)) error {
	serve := func(name string, f func(*server) error) error {
		dir := filepath.Join(root, name)
		srv, err := startServer(ctx, bin, dir, o.outbox)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		defer srv.kill()
		if err := f(srv); err != nil {
			return fmt.Errorf("%s: %w\nserver log:\n%s", name, err, srv.log())
		}
		if err := srv.stop(); err != nil {
			return fmt.Errorf("%s: stopping the server: %w\n%s", name, err, srv.log())
		}
		if l := strings.TrimSpace(srv.log()); l != "" {
			rep.ServerLog = strings.TrimSpace(rep.ServerLog + "\n" + name + ": " + l)
		}
		return nil
	}
	if o.has("bus") {
		logf("bus: %d observations/s (%d per request, every %s) over %d datastreams for %s, consumer on the bus",
			o.busRate, o.busPerReq, time.Duration(float64(time.Second)*float64(o.busPerReq)/float64(o.busRate)), o.busStreams, o.busDur)
		err := serve("bus", func(s *server) error {
			r, err := busLatency(ctx, s, o.busStreams, o.busRate, o.busPerReq, o.busDur)
			rep.Bus = &r
			return err
		})
		if err != nil {
			return err
		}
		logf("bus: %.0f obs/s achieved; accepted → consumer p50 %.1f ms, p99 %.1f ms", rep.Bus.AchievedRate, rep.Bus.AcceptToConsumer.MedMs, rep.Bus.AcceptToConsumer.P99Ms)
	}
	if o.has("mqtt") {
		logf("mqtt: %d observations from %d mosquitto_pub publishers (QoS 1), then as HTTP dataArray", o.mqttN, o.mqttPubs)
		err := serve("mqtt", func(s *server) error {
			r, err := mqttThroughput(ctx, s, o.mqttN, o.mqttPubs, o.batch, o.clients)
			rep.MQTT = &r
			return err
		})
		if err != nil {
			return err
		}
		logf("mqtt: %.0f obs/s; HTTP dataArray %.0f obs/s", rep.MQTT.PerSec, rep.MQTT.HTTP.PerSec)
	}
	if o.has("alert") {
		logf("alert: %d fire/clear cycles", o.alertCycles)
		err := serve("alert", func(s *server) error {
			r, err := alertLatency(ctx, s, o.alertCycles)
			rep.Alert = &r
			return err
		})
		if err != nil {
			return err
		}
		logf("alert: fire → bus p99 %.1f ms, → feed p99 %.1f ms", rep.Alert.FireBus.P99Ms, rep.Alert.FireFeed.P99Ms)
	}
	return nil
}

// loadAvg is the 1, 5 and 15 minute load average (as uptime prints it), from /proc/loadavg.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], ", ")
}

// apiPhases runs the server phases: dataArray ingest, memory, queries, memory.
func apiPhases(ctx context.Context, o options, g dataset, bin, root string, rep *report, logf func(string, ...any)) error {
	dir := filepath.Join(root, "api")
	if o.reuse != "" {
		dir = o.reuse
	}
	logf("api: starting rabta serve on %s", dir)
	t := time.Now()
	srv, err := startServer(ctx, bin, dir, o.outbox)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	defer srv.kill()
	peak := sampleMemory(ctx, srv) // mempeak.go: how the peak splits
	defer peak()                   // on every path; afterIngest stops it first
	var r phaseResult
	if o.reuse != "" { // filled by an earlier run: its datastreams, nothing ingested
		logf("api: -reuse: serving the %d rows already there", o.n)
		ids, err := srv.streamIDs(ctx, o.d)
		if err != nil {
			return fmt.Errorf("api: -reuse %s (filled with other -n or -datastreams?): %w", dir, err)
		}
		return afterIngest(ctx, o, g, srv, ids, dir, &r, rep, peak, logf)
	}
	ids, err := srv.createStreams(ctx, o.d)
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	setup := time.Since(t)
	logf("api: POSTing %d rows as dataArray, %d per request, %d clients", o.n, o.batch, o.clients)
	r, err = apiIngest(ctx, srv, g, ids, o.batch, o.clients)
	r.SetupS, r.WallS = setup.Seconds(), r.Wall.Seconds()
	rep.API = &r
	if err != nil {
		return fmt.Errorf("api: %w\nserver log:\n%s", err, srv.log())
	}
	logf("api: %.0f obs/s", r.PerSec)
	rep.Memory.AfterIngest, _ = readMemory(srv.pid())
	return afterIngest(ctx, o, g, srv, ids, dir, &r, rep, peak, logf)
}

// afterIngest runs the phases on the filled server srv (query, reads, worst) and stops it;
// peak stops the memory sampler (sampleMemory) before the worst request.
func afterIngest(ctx context.Context, o options, g dataset, srv *server, ids []int64, dir string, r *phaseResult, rep *report, peak func() memPeak, logf func(string, ...any)) error {
	if o.has("query") {
		logf("query: %d window queries (%s, $top=%d)", o.queries, o.window, o.top)
		q, err := queryLatency(ctx, srv, g, ids, o.queries, o.top, o.window, o.seed)
		rep.Query = &q
		if err != nil {
			return fmt.Errorf("query: %w\nserver log:\n%s", err, srv.log())
		}
		logf("query: median %.2f ms, p99 %.2f ms", q.Latency.MedMs, q.Latency.P99Ms)
		rep.Memory.AfterQueries, _ = readMemory(srv.pid())
	}
	if o.has("reads") {
		logf("reads: $count and the latest observation of every datastream, %d runs each", o.readsRuns)
		q, err := readsLatency(ctx, srv, g, ids, o.readsRuns)
		rep.Reads = &q
		if err != nil {
			return fmt.Errorf("reads: %w\nserver log:\n%s", err, srv.log())
		}
		logf("reads: count all median %.1f ms, count one %.1f ms, latest of each %.1f ms, window across datastreams %.2f ms (p99 %.2f ms)",
			q.CountAll.MedMs, q.CountOne.MedMs, q.LatestEach.MedMs, q.Window.MedMs, q.Window.P99Ms)
		rep.Memory.AfterQueries, _ = readMemory(srv.pid()) // the peak (VmHWM) so far, reads included
	}
	rep.Memory.Peak = peak() // the worst request's own peak is reported apart
	if o.has("worst") {
		logf("worst: issue 15's request, waiting at most %v", o.worstTimeout)
		w := worstRequest(ctx, srv, o.worstTimeout)
		rep.Worst = &w
		logf("worst: status %d, %d bytes in %.1f s; server %.1f CPU-s, peak RSS %s (%s before)", w.Status, w.Bytes, w.Seconds, w.CPU, mib(w.HWMKiB), mib(w.RSSKiB))
	}
	r.DBBytes, r.WALBytes = dbSize(dir) // while the server runs
	if err := srv.stop(); err != nil {
		return fmt.Errorf("api: stopping the server: %w\n%s", err, srv.log())
	}
	r.DBBytesClosed, _ = dbSize(dir)
	if l := strings.TrimSpace(srv.log()); l != "" {
		rep.ServerLog = l
	}
	return nil
}

// fsType names the file system dir is on (an in-memory tmpfs makes synced commits free).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch uint32(st.Type) {
	case 0xEF53:
		return "ext4"
	case 0x58465342:
		return "xfs"
	case 0x9123683E:
		return "btrfs"
	case 0x01021994:
		return "tmpfs (in memory: fsync is free, figures are not representative)"
	case 0x794C7630:
		return "overlayfs"
	case 0x2FC12FC1:
		return "zfs"
	}
	return fmt.Sprintf("0x%x", st.Type)
}
