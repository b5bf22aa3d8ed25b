package telemetry

import (
	"context"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// NodeStat is a cache node's latest engine sample.
type NodeStat struct {
	Engine         string // redis, valkey, memcached
	CacheClusterID string
	CacheNodeID    string
	MemoryBytes    float64 // bytes used for data
	Connections    float64 // client connections open
	OpsPerSecond   float64 // commands per second over the last interval; NaN: not known yet
	// Hits and Misses are the key look-ups of the last interval that
	// found or missed their key; NaN: not known yet.
	Hits, Misses float64
}

// Nodes reads the latest engine sample of every node, at scrape time.
type Nodes interface {
	NodeStats(ctx context.Context) ([]NodeStat, error)
}

var nodeLabels = []string{"engine", "cache_cluster_id", "cache_node_id"}

// engineDesc is one engine statistic, per engine and per node.
type engineDesc struct{ total, node *prometheus.Desc }

func newEngineDesc(name, help string) engineDesc {
	return engineDesc{
		total: prometheus.NewDesc("cachalot_engine_"+name, help+", summed over the nodes of an engine.", []string{"engine"}, nil),
		node:  prometheus.NewDesc("cachalot_node_"+name, help+", per node (serve --metrics-per-node).", nodeLabels, nil),
	}
}

var (
	memoryDesc = newEngineDesc("memory_bytes", "Bytes the engines use for data")
	connsDesc  = newEngineDesc("connections", "Client connections open on the engines")
	opsDesc    = newEngineDesc("ops_per_second", "Commands per second processed by the engines over the last sampling interval")
	hitDesc    = engineDesc{
		total: prometheus.NewDesc("cachalot_engine_hit_ratio", "Share of key look-ups over the last sampling interval that found their key, over the nodes of an engine (absent without look-ups).", []string{"engine"}, nil),
		node:  prometheus.NewDesc("cachalot_node_hit_ratio", "Share of key look-ups over the last sampling interval that found their key, per node (serve --metrics-per-node; absent without look-ups).", nodeLabels, nil),
	}
	sampledDesc = prometheus.NewDesc("cachalot_engine_nodes_sampled", "Nodes whose engine statistics were sampled, by engine.", []string{"engine"}, nil)
)

// nodeCollector exports the engine statistics at scrape time.
type nodeCollector struct{ t *Telemetry }

func (c *nodeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []engineDesc{memoryDesc, connsDesc, opsDesc, hitDesc} {
		ch <- d.total
		if c.t.cfg.PerNode {
			ch <- d.node
		}
	}
	ch <- sampledDesc
}

// total sums an engine's statistics.
type total struct{ nodes, mem, conns, ops, hits, misses float64 }

func (c *nodeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stats, err := c.t.cfg.Nodes.NodeStats(ctx)
	if err != nil {
		c.t.cfg.Logger.Warn("metrics: engine statistics", "err", err)
		return
	}
	totals := map[string]*total{}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		if !math.IsNaN(v) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
		}
	}
	for _, s := range stats {
		t := totals[s.Engine]
		if t == nil {
			t = &total{}
			totals[s.Engine] = t
		}
		t.nodes++
		t.mem += s.MemoryBytes
		t.conns += s.Connections
		t.ops += zeroNaN(s.OpsPerSecond)
		t.hits += zeroNaN(s.Hits)
		t.misses += zeroNaN(s.Misses)
		if c.t.cfg.PerNode {
			l := []string{s.Engine, s.CacheClusterID, s.CacheNodeID}
			gauge(memoryDesc.node, s.MemoryBytes, l...)
			gauge(connsDesc.node, s.Connections, l...)
			gauge(opsDesc.node, s.OpsPerSecond, l...)
			gauge(hitDesc.node, ratio(s.Hits, s.Misses), l...)
		}
	}
	for eng, t := range totals {
		gauge(sampledDesc, t.nodes, eng)
		gauge(memoryDesc.total, t.mem, eng)
		gauge(connsDesc.total, t.conns, eng)
		gauge(opsDesc.total, t.ops, eng)
		gauge(hitDesc.total, ratio(t.hits, t.misses), eng)
	}
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// ratio is hits/(hits+misses), NaN without look-ups.
func ratio(hits, misses float64) float64 {
	if math.IsNaN(hits) || math.IsNaN(misses) || hits+misses == 0 {
		return math.NaN()
	}
	return hits / (hits + misses)
}
