package main

import (
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"
)

// phaseResult is the figures of one ingest phase.
type phaseResult struct {
	Wall           time.Duration `json:"-"`
	WallS          float64       `json:"wall_s"`
	SetupS         float64       `json:"setup_s,omitempty"`     // creating the datastreams (api, csv)
	CSVWriteS      float64       `json:"csv_write_s,omitempty"` // writing the CSV file (csv)
	CSVBytes       int64         `json:"csv_bytes,omitempty"`
	Rows           int           `json:"rows"`
	Stored         int           `json:"stored"`
	Rejected       int           `json:"rejected"`
	Example        string        `json:"example_rejection,omitempty"`
	PerSec         float64       `json:"obs_per_s"`
	Ratio          float64       `json:"ratio_to_raw,omitempty"`
	ServerCPU      float64       `json:"server_cpu_s,omitempty"` // api: the server's CPU time; csv: the importer's
	ClientCPU      float64       `json:"client_cpu_s,omitempty"` // api: the benchmark's own CPU time (encoding requests)
	Requests       int           `json:"requests,omitempty"`
	RequestLatency latency       `json:"request_latency,omitzero"`
	PeakRSSKiB     int64         `json:"peak_rss_KiB,omitempty"` // csv: the importer's peak RSS
	DBBytes        int64         `json:"db_bytes"`
	WALBytes       int64         `json:"wal_bytes"`
	DBBytesClosed  int64         `json:"db_bytes_after_close,omitempty"` // api: after the server stopped
}

func (r *phaseResult) finish(dir string) {
	r.WallS = r.Wall.Seconds()
	if r.DBBytes == 0 {
		r.DBBytes, r.WALBytes = dbSize(dir)
	}
}

type report struct {
	N              int     `json:"n"`
	Datastreams    int     `json:"datastreams"`
	HoursPerStream int     `json:"hours_per_datastream"`
	From           string  `json:"from"`
	To             string  `json:"to"`
	Batch          int     `json:"batch"`
	Clients        int     `json:"clients"`
	Outbox         bool    `json:"outbox"`
	GoVersion      string  `json:"go"`
	CPUs           int     `json:"cpus"`
	Dir            string  `json:"dir"`
	FS             string  `json:"filesystem"`
	BuildS         float64 `json:"build_s,omitempty"`
	TotalS         float64 `json:"total_s"`
	LoadStart      string  `json:"load_average_start"` // 1, 5, 15 min, from /proc/loadavg
	LoadEnd        string  `json:"load_average_end"`

	Raw   *phaseResult `json:"raw,omitempty"`
	API   *phaseResult `json:"api,omitempty"`
	Query *queryResult `json:"query,omitempty"`
	Reads *readsResult `json:"reads,omitempty"`
	Worst *worstResult `json:"worst,omitempty"`
	CSV   *phaseResult `json:"csv,omitempty"`
	Bus   *busResult   `json:"bus,omitempty"`
	MQTT  *mqttResult  `json:"mqtt,omitempty"`
	Alert *alertResult `json:"alert,omitempty"`
	// Compare is the compare phase: the same loads against several SensorThings services.
	Compare *compareReport `json:"compare,omitempty"`
	Memory  struct {
		AfterIngest  memory  `json:"after_ingest"`
		AfterQueries memory  `json:"after_queries"`
		Peak         memPeak `json:"peak_sample"` // mempeak.go
	} `json:"server_memory"`
	ServerLog string `json:"server_log,omitempty"`
}

func (rep *report) ratios() {
	if rep.Raw == nil || rep.Raw.PerSec == 0 {
		return
	}
	for _, r := range []*phaseResult{rep.API, rep.CSV} {
		if r != nil {
			r.Ratio = r.PerSec / rep.Raw.PerSec
		}
	}
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

func mib(kib int64) string { return fmt.Sprintf("%.1f MiB", float64(kib)/1024) }

func (rep *report) print(w io.Writer) {
	rep.ratios()
	if rep.Raw != nil || rep.API != nil || rep.CSV != nil {
		fmt.Fprintf(w, "\nrabta-bench: %d observations over %d datastreams (%d hourly values each, %s .. %s)\n",
			rep.N, rep.Datastreams, rep.HoursPerStream, rep.From, rep.To)
		fmt.Fprintf(w, "batch %d rows, %d dataArray clients, outbox %v, %s, %d CPUs, %s on %s\n", rep.Batch, rep.Clients, onOff(rep.Outbox), rep.GoVersion, rep.CPUs, rep.Dir, rep.FS)
	} else {
		fmt.Fprintf(w, "\nrabta-bench: outbox %v, %s, %d CPUs, %s on %s\n", onOff(rep.Outbox), rep.GoVersion, rep.CPUs, rep.Dir, rep.FS)
	}

	fmt.Fprintf(w, "load average (1, 5, 15 min): %s at the start, %s at the end\n", rep.LoadStart, rep.LoadEnd)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	if rep.Raw != nil || rep.API != nil || rep.CSV != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "ingest\twall\tstored\trejected\tobs/s\tvs raw\tDB file\tWAL\t")
	}
	row := func(name string, r *phaseResult) {
		if r == nil {
			return
		}
		ratio := "-"
		if r.Ratio > 0 {
			ratio = fmt.Sprintf("%.2f×", r.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%.1f s\t%d\t%d\t%.0f\t%s\t%s\t%s\t\n", name, r.WallS, r.Stored, r.Rejected, r.PerSec, ratio, mb(r.DBBytes), mb(r.WALBytes))
	}
	row("raw SQLite", rep.Raw)
	row("dataArray API", rep.API)
	row("CSV import", rep.CSV)
	tw.Flush()

	if r := rep.API; r != nil {
		fmt.Fprintf(w, "\ndataArray: %d requests; request latency median %.0f ms, p99 %.0f ms, max %.0f ms;\n",
			r.Requests, r.RequestLatency.MedMs, r.RequestLatency.P99Ms, r.RequestLatency.MaxMs)
		fmt.Fprintf(w, "  server CPU %.1f s (%.0f%% of one core), client CPU %.1f s; datastream setup %.1f s; DB after shutdown %s\n",
			r.ServerCPU, 100*r.ServerCPU/max(r.WallS, 1e-9), r.ClientCPU, r.SetupS, mb(r.DBBytesClosed))
		if r.Example != "" {
			fmt.Fprintf(w, "  first rejected row: %s\n", r.Example)
		}
	}
	if r := rep.CSV; r != nil {
		fmt.Fprintf(w, "\nCSV import: file %s (written in %.1f s), importer CPU %.1f s, importer peak RSS %s; datastream setup %.1f s\n",
			mb(r.CSVBytes), r.CSVWriteS, r.ServerCPU, mib(r.PeakRSSKiB), r.SetupS)
		if r.Example != "" {
			fmt.Fprintf(w, "  first rejected row: %s\n", r.Example)
		}
	}
	if q := rep.Query; q != nil {
		fmt.Fprintf(w, "\nwindow queries: %d sequential requests (+%d warm-up), window %s, $top=%d, %d rows returned and checked\n",
			q.Latency.N, q.Warmup, q.Window, q.Top, q.Rows)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "min\tmedian\tp90\tp99\tmax\tmean\treq/s\tserver CPU/req\t")
		l := q.Latency
		fmt.Fprintf(tw, "%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\t%.0f\t%.2f ms\t\n", l.MinMs, l.MedMs, l.P90Ms, l.P99Ms, l.MaxMs, l.MeanMs, q.QPS, q.CPUPerRq)
		tw.Flush()
		fmt.Fprintf(w, "  e.g. %s\n", q.Example)
	}
	if q := rep.Reads; q != nil {
		fmt.Fprintf(w, "\nreads on %d observations: %d timed runs each (+1 warm-up), every answer checked\n", rep.N, q.Runs)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "request\truns\tmin\tmedian\tp99\tmax\t")
		for _, x := range []struct {
			name string
			l    latency
		}{{"$count, all observations", q.CountAll}, {"$count, one datastream", q.CountOne},
			{"$count alone ($top=0), one datastream", q.CountOnly}, {"latest of every datastream", q.LatestEach},
			{"1-hour window across datastreams", q.Window}} {
			fmt.Fprintf(tw, "%s\t%d\t%.2f ms\t%.2f ms\t%.2f ms\t%.2f ms\t\n", x.name, x.l.N, x.l.MinMs, x.l.MedMs, x.l.P99Ms, x.l.MaxMs)
		}
		tw.Flush()
		for _, p := range []string{q.CountAllPath, q.CountOnePath, q.CountOnlyPath, q.LatestPath, q.WindowPath} {
			if u, err := url.QueryUnescape(p); err == nil {
				p = u
			}
			fmt.Fprintf(w, "  GET %s\n", p)
		}
	}
	if x := rep.Worst; x != nil {
		fmt.Fprintf(w, "\nworst request on %d observations: status %d, %d bytes in %.1f s (client timeout %.0f s); server %.1f CPU-s, peak RSS %s (%s before)",
			rep.N, x.Status, x.Bytes, x.Seconds, x.TimeoutS, x.CPU, mib(x.HWMKiB), mib(x.RSSKiB))
		if x.Error != "" {
			fmt.Fprintf(w, " (%s)", x.Error)
		}
		fmt.Fprintf(w, "\n  GET %s\n", x.Path)
	}
	if rep.API != nil || rep.Query != nil || rep.Reads != nil {
		m := rep.Memory
		fmt.Fprint(w, "\nserver memory:")
		if rep.API != nil { // -reuse: nothing ingested
			fmt.Fprintf(w, " after ingest VmHWM %s, VmRSS %s;", mib(m.AfterIngest.HWMKiB), mib(m.AfterIngest.RSSKiB))
		}
		if rep.Query != nil || rep.Reads != nil {
			fmt.Fprintf(w, " after queries and reads VmHWM %s, VmRSS %s", mib(m.AfterQueries.HWMKiB), mib(m.AfterQueries.RSSKiB))
		}
		fmt.Fprintln(w)
		if p := m.Peak; p.RSSKiB > 0 {
			fmt.Fprintf(w, "  largest sample (every 250 ms): VmRSS %s = anonymous %s + file-backed %s + shared %s; Go runtime held %s of it (/metrics)\n",
				mib(p.RSSKiB), mib(p.AnonKiB), mib(p.FileKiB), mib(p.ShmemKiB), mib(p.GoKiB))
		}
	}
	rep.printNew(w)
	fmt.Fprintf(w, "\nwall time: build %.1f s", rep.BuildS)
	if r := rep.Raw; r != nil {
		fmt.Fprintf(w, ", raw %.1f s", r.WallS)
	}
	if r := rep.API; r != nil {
		fmt.Fprintf(w, ", api %.1f s (+%.1f s setup)", r.WallS, r.SetupS)
	}
	if q := rep.Query; q != nil {
		fmt.Fprintf(w, ", query %.1f s", q.WallS)
	}
	if r := rep.CSV; r != nil {
		fmt.Fprintf(w, ", csv %.1f s (+%.1f s setup, %.1f s writing the file)", r.WallS, r.SetupS, r.CSVWriteS)
	}
	if r := rep.Bus; r != nil {
		fmt.Fprintf(w, ", bus %.1f s", r.WallS)
	}
	if r := rep.MQTT; r != nil {
		fmt.Fprintf(w, ", mqtt %.1f s + http %.1f s", r.WallS, r.HTTP.WallS)
	}
	if r := rep.Alert; r != nil {
		fmt.Fprintf(w, ", alert %.1f s", r.WallS)
	}
	fmt.Fprintf(w, "; total %.1f s\n", rep.TotalS)
	if rep.Compare != nil {
		rep.Compare.print(w)
	}
	if rep.ServerLog != "" {
		lines := strings.Split(rep.ServerLog, "\n")
		if len(lines) > 10 {
			lines = append(lines[:10], fmt.Sprintf("... (%d more lines)", len(lines)-10))
		}
		fmt.Fprintf(w, "\nserver log (warnings and errors):\n  %s\n", strings.Join(lines, "\n  "))
	}
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// printNew prints the bus, mqtt and alert phases.
func (rep *report) printNew(w io.Writer) {
	lat := func(tw io.Writer, name string, l latency) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t%.1f ms\t\n", name, l.N, l.MinMs, l.MedMs, l.P90Ms, l.P99Ms, l.MaxMs, l.MeanMs)
	}
	head := "\tn\tmin\tp50\tp90\tp99\tmax\tmean\t"
	if r := rep.Bus; r != nil {
		fmt.Fprintf(w, "\nbus: %.0f obs/s offered as %d-observation CreateObservations requests every %.1f ms over %d datastreams, for %.1f s;\n",
			r.TargetRate, r.PerRequest, r.IntervalMs, r.Datastreams, r.WallS)
		fmt.Fprintf(w, "  achieved %.0f obs/s (%d stored in %d requests, %d rejected); %d requests sent more than one interval late (max %.1f ms); up to %d in flight\n",
			r.AchievedRate, r.Stored, r.Requests, r.Rejected, r.Late, r.MaxLateMs, r.Senders)
		fmt.Fprintf(w, "  consumer \"bench\": %d messages, %d observations seen, %d missing, %d redelivered; caught up %.3f s after the last answer;\n",
			r.Messages, r.Seen, r.Missing, r.Redeliver, r.DrainS)
		fmt.Fprintf(w, "  server CPU %.1f s (%.0f%% of one core), client CPU %.1f s; first %.0f s not in the percentiles\n",
			r.ServerCPU, 100*r.ServerCPU/max(r.WallS, 1e-9), r.ClientCPU, r.WarmupS)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, head)
		lat(tw, "accepted → consumer (per message)", r.AcceptToConsumer)
		lat(tw, "request sent → consumer (per observation)", r.SendToConsumer)
		lat(tw, "request sent → 201 (per request)", r.RequestLatency)
		tw.Flush()
		if r.Errors != "" {
			fmt.Fprintf(w, "  %s\n", r.Errors)
		}
	}
	if r := rep.MQTT; r != nil {
		fmt.Fprintf(w, "\nmqtt: %d observations, one MQTT message (and one store transaction) each, QoS %d, from %d mosquitto_pub -l publishers (%s)\n",
			r.Messages, r.QoS, r.Publishers, r.PublisherVersion)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "ingest\twall\tstored\tobs/s\tserver CPU\tCPU/obs\t")
		fmt.Fprintf(tw, "MQTT (%d publishers, QoS %d)\t%.2f s\t%d\t%.0f\t%.1f s\t%.0f µs\t\n", r.Publishers, r.QoS, r.WallS, r.Stored, r.PerSec, r.ServerCPU, r.ServerCPUPerObsUs)
		h := r.HTTP
		fmt.Fprintf(tw, "HTTP dataArray (%d clients, %d rows/request)\t%.2f s\t%d\t%.0f\t%.1f s\t%.0f µs\t\n", r.HTTPClients, r.HTTPBatch, h.WallS, h.Stored, h.PerSec, h.ServerCPU, r.HTTPCPUPerObsUs)
		tw.Flush()
		fmt.Fprintf(w, "  the publishers had everything PUBACKed after %.2f s; dataArray is %.1f× MQTT; %d count polls\n", r.PublishS, r.HTTPOverMQTT, r.CountPolls)
		if r.PublisherStderr != "" {
			fmt.Fprintf(w, "  %s", r.PublisherStderr)
		}
	}
	if r := rep.Alert; r != nil {
		fmt.Fprintf(w, "\nalert: %d fire/clear cycles (+1 warm-up), feed polled every %.0f ms (%d polls), times from sending the observation;\n",
			r.Cycles, r.PollMs, r.FeedPolls)
		fmt.Fprintf(w, "  %d CAP messages on the bus, %d signatures verified with the node certificate; server CPU %.1f s\n", r.Messages, r.Verified, r.ServerCPU)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, head)
		lat(tw, "fire → Alert on the bus", r.FireBus)
		lat(tw, "fire → on the Atom feed", r.FireFeed)
		lat(tw, "clear → Cancel on the bus", r.ClearBus)
		lat(tw, "clear → gone from the feed", r.ClearFeed)
		lat(tw, "POST /v1.1/Observations → 201", r.PostLatency)
		tw.Flush()
	}
}
