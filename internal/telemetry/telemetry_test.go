package telemetry

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type fakeCaches []CacheCount

func (f fakeCaches) CountCaches(context.Context) ([]CacheCount, error) { return f, nil }

func get(t testing.TB, h http.Handler, path string) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(b)
}

// TestProbes: /health always answers, /ready follows the reconcilers,
// anything else goes to the AWS endpoint; no credentials asked.
func TestProbes(t *testing.T) {
	var ready atomic.Bool
	tel := New(Config{Ready: func(context.Context) bool { return ready.Load() }})
	aws := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := tel.Handler(aws)
	for _, tc := range []struct {
		path  string
		ready bool
		want  int
	}{
		{"/health", false, 200},
		{"/ready", false, 503},
		{"/ready", true, 200},
		{"/", true, http.StatusTeapot},
		{"/?Action=DescribeCacheClusters", true, http.StatusTeapot},
	} {
		ready.Store(tc.ready)
		if got, body := get(t, h, tc.path); got != tc.want {
			t.Errorf("GET %s (ready %v) = %d %q, want %d", tc.path, tc.ready, got, body, tc.want)
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/health", nil))
	if w.Code != http.StatusTeapot {
		t.Errorf("POST /health = %d, want it passed to the endpoint", w.Code)
	}
}

// TestMetrics: the scrape parses with Prometheus's text parser and holds
// what was observed, with no account data.
func TestMetrics(t *testing.T) {
	tel := New(Config{Caches: fakeCaches{{Engine: "redis", Status: "available", Caches: 2, Nodes: 3}}})
	tel.ObserveRequest("elasticache", "CreateCacheCluster", "", 3*time.Millisecond)
	tel.ObserveRequest("elasticache", "CreateCacheCluster", "InvalidParameterValue", time.Millisecond)
	tel.ObserveRequest("sts", "GetCallerIdentity", "", time.Millisecond)
	tel.ObserveReconcile("cache", 20*time.Millisecond, nil)
	tel.ObserveReconcile("cache", 20*time.Millisecond, errors.New("boom"))
	tel.ObserveEngineEvent("restarted")
	tel.ObserveEngineRestart()
	tel.ObserveFailover("automatic")
	tel.ObserveFailover("automatic")
	tel.ObserveFailover("test")
	code, body := get(t, tel.Handler(http.NotFoundHandler()), "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics = %d", code)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v\n%s", err, body)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := fams[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if v, ok := labels[l.GetName()]; ok && v != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"cachalot_api_requests_total", map[string]string{"service": "elasticache", "action": "CreateCacheCluster", "code": ""}, 1},
		{"cachalot_api_requests_total", map[string]string{"service": "elasticache", "action": "CreateCacheCluster", "code": "InvalidParameterValue"}, 1},
		{"cachalot_api_request_duration_seconds", map[string]string{"service": "elasticache", "action": "CreateCacheCluster"}, 2},
		{"cachalot_reconcile_runs_total", map[string]string{"controller": "cache"}, 2},
		{"cachalot_reconcile_errors_total", map[string]string{"controller": "cache"}, 1},
		{"cachalot_reconcile_duration_seconds", map[string]string{"controller": "cache"}, 2},
		{"cachalot_engine_events_total", map[string]string{"type": "restarted"}, 1},
		{"cachalot_engine_restarts_total", nil, 1},
		{"cachalot_failovers_total", map[string]string{"kind": "automatic"}, 2},
		{"cachalot_failovers_total", map[string]string{"kind": "test"}, 1},
		{"cachalot_caches", map[string]string{"engine": "redis", "status": "available"}, 2},
		{"cachalot_cache_nodes", map[string]string{"engine": "redis", "status": "available"}, 3},
	} {
		if got := value(tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if n := l.GetName(); n == "account" || n == "principal" || n == "cluster" {
					t.Errorf("%s has label %s: account data", f.GetName(), n)
				}
			}
		}
	}
}
