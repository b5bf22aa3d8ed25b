package app

import (
	"context"
	"sync/atomic"

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
		Logger: a.log,
		Caches: cacheCounter{a},
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
