// Package telemetry owns what operators scrape and probe on the API
// listener: GET /health (the process answers), GET /ready (the
// reconcilers have converged to the store) and the Prometheus /metrics of
// the control plane — API requests by service, action and code with their
// latency, reconcile runs, errors and duration, caches and nodes by
// status, engine lifecycle events, engine restarts and failovers, and the
// engines' own statistics (memory, connections, ops/s, hit ratio) from the
// metrics controller's latest samples. None of them requires credentials
// and none reveals account data: no account id, resource id or address is
// a label, only counts and totals by engine — unless the operator asks for
// per-node engine series (Config.PerNode, serve --metrics-per-node), which
// are labelled by cache cluster and node id (never account or address).
//
// It learns what happens through plain functions the wiring package hands
// to the endpoint (endpoint.Config.Observe), the reconcile manager
// (reconcile.Options.Observe), the engine supervisor (OnEvent) and the
// replication group controller (cachectl.GroupConfig.OnFailover), and
// reads cache status at scrape time through the small Caches interface.
// It imports no domain package; only the wiring package (internal/app)
// imports it.
package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// CacheCount is one row of the caches-and-nodes gauge.
type CacheCount struct {
	Engine, Status string
	Caches, Nodes  int
}

// Caches counts caches and nodes by engine and status, at scrape time.
type Caches interface {
	CountCaches(ctx context.Context) ([]CacheCount, error)
}

// Config configures a Telemetry. All fields are optional.
type Config struct {
	// Ready reports whether the reconcilers have converged; nil: always
	// ready once serving.
	Ready func(ctx context.Context) bool
	// Caches is read at each scrape; nil: no cache gauges.
	Caches Caches
	// Nodes is read at each scrape for the engine statistics; nil: none.
	Nodes Nodes
	// PerNode exports the engine statistics per node, labelled by cache
	// cluster and node id; default false: totals by engine only.
	PerNode bool
	Logger  *slog.Logger // default slog.Default()
}

// Telemetry holds the metrics registry and the probe handlers. Its
// observe methods are safe for concurrent use.
type Telemetry struct {
	cfg      Config
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	runs     *prometheus.CounterVec
	runErrs  *prometheus.CounterVec
	runTime  *prometheus.HistogramVec
	engine   *prometheus.CounterVec
	restarts prometheus.Counter
	failover *prometheus.CounterVec
}

// New returns a Telemetry with its metrics registered; it has no side
// effects.
func New(cfg Config) *Telemetry {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t := &Telemetry{cfg: cfg, reg: prometheus.NewRegistry()}
	t.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachalot_api_requests_total",
		Help: "API requests answered, by service, action and AWS error code (empty on success)."}, []string{"service", "action", "code"})
	t.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cachalot_api_request_duration_seconds",
		Help: "API request latency, from arrival to answer written.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}, []string{"service", "action"})
	t.runs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachalot_reconcile_runs_total",
		Help: "Reconcile runs, by controller."}, []string{"controller"})
	t.runErrs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachalot_reconcile_errors_total",
		Help: "Reconcile runs that failed (and will be retried), by controller."}, []string{"controller"})
	t.runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "cachalot_reconcile_duration_seconds",
		Help: "Reconcile run duration, by controller.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"controller"})
	t.engine = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachalot_engine_events_total",
		Help: "Engine node lifecycle events from the supervisor (started, crashed, restarted, ...), by type."}, []string{"type"})
	t.restarts = prometheus.NewCounter(prometheus.CounterOpts{Name: "cachalot_engine_restarts_total",
		Help: "Engines restarted by the supervisor after a crash (back and ready)."})
	t.failover = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "cachalot_failovers_total",
		Help: "Replication group failovers begun, by kind: automatic (a failed primary) or test (TestFailover)."}, []string{"kind"})
	t.reg.MustRegister(t.requests, t.latency, t.runs, t.runErrs, t.runTime, t.engine, t.restarts, t.failover,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Caches != nil {
		t.reg.MustRegister(&cacheCollector{t: t})
	}
	if cfg.Nodes != nil {
		t.reg.MustRegister(&nodeCollector{t: t})
	}
	return t
}

// ObserveRequest counts one answered API request.
func (t *Telemetry) ObserveRequest(service, action, code string, took time.Duration) {
	t.requests.WithLabelValues(service, action, code).Inc()
	t.latency.WithLabelValues(service, action).Observe(took.Seconds())
}

// ObserveReconcile counts one reconcile run.
func (t *Telemetry) ObserveReconcile(controller string, took time.Duration, err error) {
	t.runs.WithLabelValues(controller).Inc()
	t.runTime.WithLabelValues(controller).Observe(took.Seconds())
	if err != nil {
		t.runErrs.WithLabelValues(controller).Inc()
	}
}

// ObserveEngineEvent counts one engine lifecycle event by its type.
func (t *Telemetry) ObserveEngineEvent(eventType string) {
	t.engine.WithLabelValues(eventType).Inc()
}

// ObserveEngineRestart counts one engine restarted after a crash.
func (t *Telemetry) ObserveEngineRestart() { t.restarts.Inc() }

// ObserveFailover counts one replication group failover of a kind
// ("automatic" or "test").
func (t *Telemetry) ObserveFailover(kind string) { t.failover.WithLabelValues(kind).Inc() }

// Handler serves GET /health, /ready and /metrics and hands every other
// request to next (the AWS endpoint, whose requests go to "/").
func (t *Telemetry) Handler(next http.Handler) http.Handler {
	metrics := promhttp.HandlerFor(t.reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(t.cfg.Logger.Handler(), slog.LevelWarn)})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		switch r.URL.Path {
		case "/health":
			probe(w, http.StatusOK, "ok")
		case "/ready":
			if t.cfg.Ready == nil || t.cfg.Ready(r.Context()) {
				probe(w, http.StatusOK, "ready")
			} else {
				probe(w, http.StatusServiceUnavailable, "converging")
			}
		case "/metrics":
			metrics.ServeHTTP(w, r)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func probe(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(body + "\n"))
}

// cacheCollector reads caches and nodes by engine and status at scrape
// time.
type cacheCollector struct{ t *Telemetry }

var (
	cachesDesc = prometheus.NewDesc("cachalot_caches", "Caches (node-based clusters) by engine and status.", []string{"engine", "status"}, nil)
	nodesDesc  = prometheus.NewDesc("cachalot_cache_nodes", "Cache nodes by engine and node status.", []string{"engine", "status"}, nil)
)

func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cachesDesc; ch <- nodesDesc }

func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.t.cfg.Caches.CountCaches(ctx)
	if err != nil {
		c.t.cfg.Logger.Warn("metrics: count caches", "err", err)
		return
	}
	for _, r := range rows {
		ch <- prometheus.MustNewConstMetric(cachesDesc, prometheus.GaugeValue, float64(r.Caches), r.Engine, r.Status)
		ch <- prometheus.MustNewConstMetric(nodesDesc, prometheus.GaugeValue, float64(r.Nodes), r.Engine, r.Status)
	}
}
