package app

import (
	"context"
	"math"
	"sync/atomic"

	"github.com/cachalot-dev/cachalot/internal/cloudwatch"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/endpoint"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/telemetry"
)

// newTelemetry builds the probes and metrics of the API listener. /ready
// latches: once the reconcilers have converged after the start, the
// service is ready; later changes being reconciled do not make it unready.
func (a *App) newTelemetry() *telemetry.Telemetry {
	var ready atomic.Bool
	return telemetry.New(telemetry.Config{
		Logger:  a.log,
		Caches:  cacheCounter{a},
		Nodes:   nodeStats{a},
		PerNode: a.cfg.MetricsPerNode,
		Ready: func(ctx context.Context) bool {
			if ready.Load() {
				return true
			}
			if a.recon == nil {
				return false
			}
			idle, err := a.recon.Idle(ctx)
			if idle && err == nil {
				ready.Store(true)
			}
			return idle && err == nil
		},
	})
}

// observeRequest hands the endpoint's request records to the metrics.
func (a *App) observeRequest(r endpoint.RequestRecord) {
	a.tel.ObserveRequest(r.Service, r.Action, r.Code, r.Latency)
}

// countEngineEvents counts the supervisor's events (and, on their own,
// the restarts after a crash), then hands them on.
func (a *App) countEngineEvents(next func(engine.Event)) func(engine.Event) {
	return func(e engine.Event) {
		a.tel.ObserveEngineEvent(string(e.Type))
		if e.Type == engine.EventRestarted {
			a.tel.ObserveEngineRestart()
		}
		next(e)
	}
}

// cacheCounter counts caches and nodes by engine and status for the
// metrics.
type cacheCounter struct{ a *App }

func (c cacheCounter) CountCaches(ctx context.Context) ([]telemetry.CacheCount, error) {
	if c.a.ec == nil {
		return nil, nil
	}
	clusters, err := c.a.ec.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	return countCaches(clusters), nil
}

func countCaches(clusters []*elasticache.Cluster) []telemetry.CacheCount {
	idx := map[[2]string]int{}
	var out []telemetry.CacheCount
	row := func(eng, status string) *telemetry.CacheCount {
		k := [2]string{eng, status}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, telemetry.CacheCount{Engine: eng, Status: status})
		}
		return &out[i]
	}
	for _, cl := range clusters {
		row(cl.Engine, cl.Status).Caches++
		for _, n := range cl.Nodes {
			row(cl.Engine, n.Status).Nodes++
		}
	}
	return out
}

// nodeStats reads the metrics controller's latest sample of every node for
// the Prometheus engine statistics.
type nodeStats struct{ a *App }

func (n nodeStats) NodeStats(ctx context.Context) ([]telemetry.NodeStat, error) {
	if n.a.ec == nil || n.a.cw == nil {
		return nil, nil
	}
	clusters, err := n.a.ec.Clusters(ctx)
	if err != nil {
		return nil, err
	}
	return joinNodeStats(clusters, n.a.cw.Latest()), nil
}

// joinNodeStats names each sampled node's engine from its cluster.
func joinNodeStats(clusters []*elasticache.Cluster, latest map[cloudwatch.NodeKey]map[string]float64) []telemetry.NodeStat {
	engines := make(map[elasticache.ClusterRef]string, len(clusters))
	for _, cl := range clusters {
		engines[cl.Ref()] = cl.Engine
	}
	out := make([]telemetry.NodeStat, 0, len(latest))
	for k, v := range latest {
		eng, ok := engines[elasticache.ClusterRef{Account: k.Account, Region: k.Region, ID: k.CacheClusterID}]
		if !ok {
			continue
		}
		get := func(names ...string) float64 {
			for _, name := range names {
				if x, ok := v[name]; ok {
					return x
				}
			}
			return math.NaN()
		}
		out = append(out, telemetry.NodeStat{Engine: eng, CacheClusterID: k.CacheClusterID, CacheNodeID: k.CacheNodeID,
			MemoryBytes:  get(cloudwatch.BytesUsedForCache, cloudwatch.BytesUsedForCacheItems),
			Connections:  get(cloudwatch.CurrConnections),
			OpsPerSecond: get(cloudwatch.CommandsPerSecond),
			Hits:         get(cloudwatch.CacheHits, cloudwatch.GetHits),
			Misses:       get(cloudwatch.CacheMisses, cloudwatch.GetMisses),
		})
	}
	return out
}
