// Package metricsctl is the metrics controller: every Interval it reads the
// engine statistics of every cache node that is running (INFO or
// Memcached's stats, through the engine supervisor) and records them as the
// AWS/ElastiCache metrics of internal/cloudwatch: gauges as read
// (CurrConnections, BytesUsedForCache, CurrItems, …), counters as their
// increase over the interval (CacheHits, NewConnections, Evictions, …),
// CPU as the share of the interval the engine spent on a CPU. It keeps
// one previous reading per node (forgotten with the node) and nothing
// else; the series themselves are bounded rings in internal/cloudwatch.
// Only the wiring package imports it.
package metricsctl

import (
	"context"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/cloudwatch"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// DefaultInterval is the sampling interval when Config.Interval is unset.
const DefaultInterval = 10 * time.Second

// Caches lists the clusters whose nodes are sampled.
type Caches interface {
	Clusters(ctx context.Context) ([]*elasticache.Cluster, error)
}

// Engines reads a running node's statistics (engine.Supervisor).
type Engines interface {
	Stats(ctx context.Context, nodeID string) (engine.Stats, error)
}

// HzAdjuster gives idle nodes' engines a lower hz, and busy ones the
// normal one, from a reading (engine.Supervisor.AdjustHz).
type HzAdjuster interface {
	AdjustHz(ctx context.Context, nodeID string, st engine.Stats) error
}

// Metrics records the samples (cloudwatch.Service).
type Metrics interface {
	Record(key cloudwatch.NodeKey, at time.Time, values map[string]float64)
	Retain(keep func(cloudwatch.NodeKey) bool)
}

// Config configures a Sampler. Caches, Engines, Metrics and EngineNodeID
// are required.
type Config struct {
	Caches  Caches
	Engines Engines
	Metrics Metrics
	// EngineNodeID names a cluster's node for the supervisor
	// (cachectl.EngineNodeID).
	EngineNodeID func(ref elasticache.ClusterRef, node string) string
	// Hz, when set, is handed every reading of a Redis OSS/Valkey node;
	// default nil: engines keep their hz.
	Hz       HzAdjuster
	Interval time.Duration    // default DefaultInterval
	Logger   *slog.Logger     // default slog.Default()
	Now      func() time.Time // default time.Now
}

// Sampler samples the nodes; Start runs it, Close stops it.
type Sampler struct {
	cfg    Config
	mu     sync.Mutex // guards prev, and serialises Sample
	prev   map[cloudwatch.NodeKey]reading
	cancel context.CancelFunc
	done   chan struct{}
}

// reading is a node's last statistics and when they were read.
type reading struct {
	at time.Time
	st engine.Stats
}

// New returns a Sampler; it has no side effects.
func New(cfg Config) *Sampler {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Sampler{cfg: cfg, prev: map[cloudwatch.NodeKey]reading{}}
}

// Start samples every Interval until Close.
func (s *Sampler) Start(ctx context.Context) {
	ctx, s.cancel = context.WithCancel(ctx)
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.cfg.Interval)
		defer t.Stop()
		for {
			s.Sample(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
}

// Close stops sampling and waits; safe without Start.
func (s *Sampler) Close() error {
	if s.cancel != nil {
		s.cancel()
		<-s.done
	}
	return nil
}

// Sample reads every available node once and records its metrics. A node
// that cannot be read is skipped (logged at debug): it is down, and
// CloudWatch has no datapoint for it either.
func (s *Sampler) Sample(ctx context.Context) {
	s.mu.Lock()
	defer s.mu.Unlock()
	clusters, err := s.cfg.Caches.Clusters(ctx)
	if err != nil {
		s.cfg.Logger.Warn("metrics: list caches", "err", err)
		return
	}
	live := map[cloudwatch.NodeKey]bool{}
	for _, cl := range clusters {
		for _, n := range cl.Nodes {
			key := cloudwatch.NodeKey{Account: cl.Account, Region: cl.Region, CacheClusterID: cl.ID, CacheNodeID: n.ID}
			live[key] = true
			if n.Status != elasticache.StatusAvailable {
				continue
			}
			nodeID := s.cfg.EngineNodeID(cl.Ref(), n.ID)
			st, err := s.cfg.Engines.Stats(ctx, nodeID)
			if err != nil {
				s.cfg.Logger.Debug("metrics: read node", "cluster", cl.ID, "node", n.ID, "err", err)
				continue
			}
			if s.cfg.Hz != nil {
				if err := s.cfg.Hz.AdjustHz(ctx, nodeID, st); err != nil {
					s.cfg.Logger.Debug("metrics: hz of node", "cluster", cl.ID, "node", n.ID, "err", err)
				}
			}
			now := s.cfg.Now()
			prev, ok := s.prev[key]
			s.prev[key] = reading{at: now, st: st}
			if !ok || st.Uptime < prev.st.Uptime || !now.After(prev.at) {
				prev = reading{} // first reading, or the engine restarted: no increase to tell
			}
			s.cfg.Metrics.Record(key, now, Values(prev.st, st, now.Sub(prev.at), ok && !prev.at.IsZero()))
		}
	}
	for k := range s.prev {
		if !live[k] {
			delete(s.prev, k)
		}
	}
	s.cfg.Metrics.Retain(func(k cloudwatch.NodeKey) bool { return live[k] })
}

// Values are the metrics of a reading cur, with prev the reading an
// interval d earlier when havePrev (counters' increases and CPU need one;
// without it they are NaN: absent). The metric set depends on the engine
// only, so a node's series are the same from its first sample.
func Values(prev, cur engine.Stats, d time.Duration, havePrev bool) map[string]float64 {
	nan := math.NaN()
	delta := func(a, b int64) float64 {
		if !havePrev {
			return nan
		}
		return float64(b - a)
	}
	cpu, opsRate := nan, nan
	if havePrev && d > 0 {
		cpu = (cur.CPUSeconds - prev.CPUSeconds) / d.Seconds() * 100
		opsRate = float64(cur.Commands-prev.Commands) / d.Seconds()
	}
	hits, misses := delta(prev.Hits, cur.Hits), delta(prev.Misses, cur.Misses)
	hitRate := nan
	if hits+misses > 0 {
		hitRate = hits / (hits + misses) * 100
	}
	v := map[string]float64{
		cloudwatch.CPUUtilization:    cpu,
		cloudwatch.CurrConnections:   float64(cur.CurrConnections),
		cloudwatch.NewConnections:    delta(prev.TotalConnections, cur.TotalConnections),
		cloudwatch.Evictions:         delta(prev.Evictions, cur.Evictions),
		cloudwatch.CurrItems:         float64(cur.Items),
		cloudwatch.NetworkBytesIn:    delta(prev.NetIn, cur.NetIn),
		cloudwatch.NetworkBytesOut:   delta(prev.NetOut, cur.NetOut),
		cloudwatch.CommandsPerSecond: opsRate,
		cloudwatch.CacheHitRate:      hitRate,
	}
	if cur.Engine == catalog.Memcached {
		v[cloudwatch.BytesUsedForCacheItems] = float64(cur.UsedMemory)
		v[cloudwatch.GetHits], v[cloudwatch.GetMisses] = hits, misses
		return v
	}
	v[cloudwatch.EngineCPUUtilization] = cpu
	v[cloudwatch.BytesUsedForCache] = float64(cur.UsedMemory)
	v[cloudwatch.CacheHits], v[cloudwatch.CacheMisses] = hits, misses
	v[cloudwatch.DatabaseMemoryUsagePercentage] = nan
	if cur.MaxMemory > 0 {
		v[cloudwatch.DatabaseMemoryUsagePercentage] = float64(cur.UsedMemory) / float64(cur.MaxMemory) * 100
	}
	v[cloudwatch.ReplicationLag] = nan
	if cur.Replica {
		v[cloudwatch.ReplicationLag] = cur.ReplicationLag
	}
	return v
}
