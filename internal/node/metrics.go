package node

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/rabta/rabta/internal/apperr"
	"github.com/rabta/rabta/internal/bus"
	"github.com/rabta/rabta/internal/sensing"
)

// metrics are the node's Prometheus metrics, served at /metrics.
type metrics struct {
	reg        *prometheus.Registry
	ingested   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	httpDur    *prometheus.HistogramVec
	busLatency *prometheus.HistogramVec
	busRefused *prometheus.CounterVec
	busClosed  *prometheus.CounterVec
	limited    *prometheus.CounterVec
	// fedReads counts the raw exporter's reads of new Observations, by source: the in-memory
	// feed of committed ones, or the store (a back-fill, or ids the feed had not seen)
	fedReads *prometheus.CounterVec
	// forecastUpdate is how long one forecast update of the river network took
	forecastUpdate prometheus.Histogram
}

// newMetrics registers the node's metrics in reg: one registry per node, never the global
// default, so that two nodes can run in one process.
func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{reg: reg}
	m.ingested = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_ingest_observations_total",
		Help: "Observations accepted (stored), by ingest path."}, []string{"path"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_ingest_rejected_total",
		Help: "Observations refused, by ingest path and reason."}, []string{"path", "reason"})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rabta_http_request_duration_seconds",
		Help: "HTTP request latency by method, route and status.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)},
		[]string{"method", "route", "code"})
	m.busLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "rabta_bus_latency_seconds",
		Help:    "From the store's commit of a batch to its publication on the bus (stage=published) or its handling by a consumer (stage=<consumer>).",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"stage"})
	m.busRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_bus_refused_total",
		Help: "What the bus refused MQTT and NATS clients, by reason: forbidden_publish, forbidden_subscribe, retained, payload_too_large, unserved_topic."},
		[]string{"reason"})
	m.busClosed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_bus_sessions_closed_total",
		Help: "MQTT and NATS sessions the bus closed, by reason (key_revoked: the key was revoked or expired; write_limit: the key published over its write limit)."}, []string{"reason"})
	for _, r := range []string{bus.RefusedPublish, bus.RefusedSubscribe, bus.RefusedRetain, bus.RefusedPayload, bus.RefusedUnserved} {
		m.busRefused.WithLabelValues(r) // every reason present from the start, at 0
	}
	m.busClosed.WithLabelValues(bus.ClosedRevoked)
	m.busClosed.WithLabelValues(bus.ClosedWriteLimit)

	m.limited = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_limited_total",
		Help: "Requests and MQTT/NATS connections refused over a limit: limit=auth (failed authentications from one source) or write (writes by one key)."}, []string{"limit"})
	m.fedReads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rabta_federation_export_reads_total",
		Help: "Reads of new Observations by the raw federation exporter, by source: feed (committed in this process, taken in memory) or store (read back: a back-fill, or Observations stored another way)."},
		[]string{"source"})
	m.fedReads.WithLabelValues("feed")
	m.fedReads.WithLabelValues("store")
	m.forecastUpdate = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "rabta_forecast_update_seconds",
		Help:    "Time to compute the forecasts downstream of one batch of discharge readings (forecast.Forecaster.Update; not their ingest).",
		Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16)})
	m.reg.MustRegister(m.ingested, m.rejected, m.httpDur, m.busLatency, m.busRefused, m.busClosed, m.limited, m.fedReads, m.forecastUpdate)
	return m
}

// onBusRefused counts a refusal of the bus's (bus.Options.OnRefused).
func (m *metrics) onBusRefused(reason string) { m.busRefused.WithLabelValues(reason).Inc() }

// onBusClosed counts a session the bus closed (bus.Options.OnClosed).
func (m *metrics) onBusClosed(reason string) { m.busClosed.WithLabelValues(reason).Inc() }

// onIngest counts a batch's outcome.
func (m *metrics) onIngest(path string, accepted int, rejected []error) {
	m.ingested.WithLabelValues(path).Add(float64(accepted))
	for _, err := range rejected {
		reason := strings.ReplaceAll(apperr.KindOf(err).String(), " ", "_")
		m.rejected.WithLabelValues(path, reason).Inc()
	}
}

// gauge registers a gauge read when scraped, with a bounded wait.
func (m *metrics) gauge(name, help string, f func(ctx context.Context) (float64, error)) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		v, err := f(ctx)
		if err != nil {
			return -1
		}
		return v
	}))
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// route names a request's route for metrics without unbounded label values:
// "/v1.1/Things", "/v1.1/Datastreams/Observations", "/healthz".
func route(path string) string {
	if !strings.HasPrefix(path, "/v1.1/") {
		switch path {
		case "/healthz", "/readyz", "/metrics":
			return path
		}
		if strings.HasPrefix(path, "/api/") {
			return "/api"
		}
		if path == "/" || strings.HasPrefix(path, "/alerts/") { // the public alert page
			return "/public"
		}
		return "other"
	}
	parts := strings.Split(strings.TrimPrefix(path, "/v1.1/"), "/")
	out := "/v1.1"
	for i, p := range parts {
		if i >= 3 {
			break
		}
		if j := strings.IndexByte(p, '('); j >= 0 {
			p = p[:j]
		}
		if _, ok := sensing.Sets[p]; ok || p == "CreateObservations" || p == "$batch" || p == "$ref" || p == "$value" {
			out += "/" + p
		} else if p != "" {
			out += "/{property}"
		}
	}
	return out
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = 200
	}
	return w.ResponseWriter.Write(b)
}

// instrument records each request's latency.
func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = 200
		}
		m.httpDur.WithLabelValues(r.Method, route(r.URL.Path), strconv.Itoa(sw.code)).Observe(time.Since(start).Seconds())
	})
}
