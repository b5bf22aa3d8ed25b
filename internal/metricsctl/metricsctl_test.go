package metricsctl

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/cloudwatch"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

func TestValues(t *testing.T) {
	prev := engine.Stats{Engine: "redis", Uptime: 10, CPUSeconds: 1, TotalConnections: 4, Hits: 10, Misses: 10, Commands: 100}
	cur := engine.Stats{Engine: "redis", Uptime: 20, CPUSeconds: 1.5, CurrConnections: 3, TotalConnections: 7, Hits: 13, Misses: 11,
		Commands: 300, UsedMemory: 25, MaxMemory: 100, Items: 9}
	v := Values(prev, cur, 10*time.Second, true)
	for name, want := range map[string]float64{
		cloudwatch.CPUUtilization: 5, cloudwatch.EngineCPUUtilization: 5, cloudwatch.CurrConnections: 3, cloudwatch.NewConnections: 3,
		cloudwatch.CacheHits: 3, cloudwatch.CacheMisses: 1, cloudwatch.CacheHitRate: 75, cloudwatch.CommandsPerSecond: 20,
		cloudwatch.DatabaseMemoryUsagePercentage: 25, cloudwatch.BytesUsedForCache: 25, cloudwatch.CurrItems: 9,
	} {
		if math.Abs(v[name]-want) > 1e-9 {
			t.Errorf("Values()[%s] = %v, want %v", name, v[name], want)
		}
	}
	if !math.IsNaN(v[cloudwatch.ReplicationLag]) {
		t.Errorf("ReplicationLag of a primary = %v, want absent (NaN)", v[cloudwatch.ReplicationLag])
	}
	first := Values(engine.Stats{}, cur, 0, false)
	if !math.IsNaN(first[cloudwatch.CacheHits]) || first[cloudwatch.CurrConnections] != 3 || len(first) != len(v) {
		t.Errorf("first Values() = %v: want gauges, increases absent, same names as later", first)
	}
	mc := Values(engine.Stats{Engine: "memcached"}, engine.Stats{Engine: "memcached", Hits: 2, UsedMemory: 7}, time.Second, true)
	if mc[cloudwatch.GetHits] != 2 || mc[cloudwatch.BytesUsedForCacheItems] != 7 {
		t.Errorf("memcached Values() = %v, want GetHits 2, BytesUsedForCacheItems 7", mc)
	}
	if _, ok := mc[cloudwatch.CacheHits]; ok {
		t.Errorf("memcached Values() has CacheHits (a Redis metric): %v", mc)
	}
}

type fakeCaches []*elasticache.Cluster

func (f fakeCaches) Clusters(context.Context) ([]*elasticache.Cluster, error) { return f, nil }

type fakeEngines map[string]engine.Stats

func (f fakeEngines) Stats(_ context.Context, id string) (engine.Stats, error) {
	st, ok := f[id]
	if !ok {
		return engine.Stats{}, errors.New("down")
	}
	return st, nil
}

// TestSampleForgets: a node that goes away loses its series and its
// previous reading; a node whose engine restarted (smaller uptime)
// records no increase.
func TestSampleForgets(t *testing.T) {
	cw := cloudwatch.New(cloudwatch.Config{Capacity: 8})
	cl := &elasticache.Cluster{Account: "1", Region: "r", ID: "c", Nodes: []elasticache.Node{{ID: "0001", Status: elasticache.StatusAvailable}}}
	eng := fakeEngines{"n": {Engine: "redis", Uptime: 100, Hits: 50}}
	now := time.Unix(1000, 0)
	s := New(Config{Caches: fakeCaches{cl}, Engines: eng, Metrics: cw, EngineNodeID: func(elasticache.ClusterRef, string) string { return "n" },
		Now: func() time.Time { now = now.Add(10 * time.Second); return now }})
	s.Sample(context.Background())
	eng["n"] = engine.Stats{Engine: "redis", Uptime: 5, Hits: 2} // restarted
	s.Sample(context.Background())
	key := cloudwatch.NodeKey{Account: "1", Region: "r", CacheClusterID: "c", CacheNodeID: "0001"}
	got := cw.Latest()[key]
	if _, ok := got[cloudwatch.CacheHits]; got == nil || ok {
		t.Errorf("after a restart, latest = %v; want a sample without CacheHits", got)
	}
	s.cfg.Caches = fakeCaches{}
	s.Sample(context.Background())
	if len(cw.Latest()) != 0 || len(s.prev) != 0 {
		t.Errorf("after the node went away: series %v, readings %v; want none", cw.Latest(), s.prev)
	}
}

type recordHz struct{ got map[string]engine.Stats }

func (r *recordHz) AdjustHz(_ context.Context, id string, st engine.Stats) error {
	r.got[id] = st
	return nil
}

// TestSampleHandsReadingsToHz: every node read is handed to Config.Hz
// with its reading; a node that cannot be read is not.
func TestSampleHandsReadingsToHz(t *testing.T) {
	cw := cloudwatch.New(cloudwatch.Config{Capacity: 8})
	cl := &elasticache.Cluster{Account: "1", Region: "r", ID: "c", Nodes: []elasticache.Node{
		{ID: "0001", Status: elasticache.StatusAvailable}, {ID: "0002", Status: elasticache.StatusAvailable}}}
	eng := fakeEngines{"c/0001": {Engine: "redis", CurrConnections: 1, ConfiguredHz: 10}}
	hz := &recordHz{got: map[string]engine.Stats{}}
	s := New(Config{Caches: fakeCaches{cl}, Engines: eng, Metrics: cw, Hz: hz,
		EngineNodeID: func(_ elasticache.ClusterRef, n string) string { return "c/" + n }})
	s.Sample(context.Background())
	want := map[string]engine.Stats{"c/0001": eng["c/0001"]}
	if diff := cmp.Diff(want, hz.got); diff != "" {
		t.Errorf("readings handed to Hz (-want +got):\n%s", diff)
	}
}
