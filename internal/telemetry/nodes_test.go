package telemetry

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

type fakeNodes []NodeStat

func (f fakeNodes) NodeStats(context.Context) ([]NodeStat, error) { return f, nil }

var twoNodes = fakeNodes{
	{Engine: "redis", CacheClusterID: "a", CacheNodeID: "0001", MemoryBytes: 100, Connections: 2, OpsPerSecond: 10, Hits: 3, Misses: 1},
	{Engine: "redis", CacheClusterID: "b", CacheNodeID: "0001", MemoryBytes: 50, Connections: 1, OpsPerSecond: math.NaN(), Hits: math.NaN(), Misses: math.NaN()},
}

func scrape(t *testing.T, tel *Telemetry) map[string]float64 {
	t.Helper()
	_, body := get(t, tel.Handler(http.NotFoundHandler()), "/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse scrape: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		if strings.HasSuffix(name, "_total") || !strings.HasPrefix(name, "cachalot_engine_") && !strings.HasPrefix(name, "cachalot_node_") {
			continue
		}
		for _, m := range f.GetMetric() {
			key := name
			for _, l := range m.GetLabel() {
				key += fmt.Sprintf(",%s=%s", l.GetName(), l.GetValue())
			}
			out[key] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestNodeMetrics: engine statistics are totals by engine unless per-node
// series are asked for; a value not known yet is absent, never 0 or NaN.
func TestNodeMetrics(t *testing.T) {
	got := scrape(t, New(Config{Nodes: twoNodes}))
	want := map[string]float64{
		"cachalot_engine_nodes_sampled,engine=redis":  2,
		"cachalot_engine_memory_bytes,engine=redis":   150,
		"cachalot_engine_connections,engine=redis":    3,
		"cachalot_engine_ops_per_second,engine=redis": 10,
		"cachalot_engine_hit_ratio,engine=redis":      0.75,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("totals scrape = %v, want %v", got, want)
	}
	got = scrape(t, New(Config{Nodes: twoNodes, PerNode: true}))
	for k, v := range map[string]float64{
		"cachalot_node_memory_bytes,cache_cluster_id=a,cache_node_id=0001,engine=redis": 100,
		"cachalot_node_hit_ratio,cache_cluster_id=a,cache_node_id=0001,engine=redis":    0.75,
		"cachalot_node_connections,cache_cluster_id=b,cache_node_id=0001,engine=redis":  1,
		"cachalot_engine_memory_bytes,engine=redis":                                     150,
	} {
		if got[k] != v {
			t.Errorf("per-node scrape [%s] = %v, want %v", k, got[k], v)
		}
	}
	if _, ok := got["cachalot_node_ops_per_second,cache_cluster_id=b,cache_node_id=0001,engine=redis"]; ok {
		t.Errorf("node b's ops/s, not known yet, is exported")
	}
}

// BenchmarkScrape1000Nodes is the cost of a /metrics scrape with 1,000
// sampled nodes, totals only and per node.
func BenchmarkScrape1000Nodes(b *testing.B) {
	nodes := make(fakeNodes, 1000)
	for i := range nodes {
		nodes[i] = NodeStat{Engine: []string{"redis", "valkey", "memcached"}[i%3], CacheClusterID: fmt.Sprintf("cache-%03d", i/2),
			CacheNodeID: fmt.Sprintf("%04d", i%2+1), MemoryBytes: 1e6, Connections: 5, OpsPerSecond: 100, Hits: 9, Misses: 1}
	}
	for _, perNode := range []bool{false, true} {
		b.Run(fmt.Sprintf("perNode=%v", perNode), func(b *testing.B) {
			h := New(Config{Nodes: nodes, PerNode: perNode}).Handler(http.NotFoundHandler())
			for b.Loop() {
				if code, body := get(b, h, "/metrics"); code != 200 || len(body) == 0 {
					b.Fatalf("scrape = %d", code)
				}
			}
		})
	}
}
