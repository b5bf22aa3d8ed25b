package engine

import (
	"context"
	"fmt"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/catalog"
)

// Idle engines' hz. A Redis OSS/Valkey engine runs its timer (serverCron)
// hz times a second even with no client: each run samples its RSS from
// /proc/self/stat, refreshes jemalloc's statistics and walks its
// databases, ~0.08 ms of CPU; at the engine default of 10 that is ~0.8 ms
// of CPU a second per idle node, 1.6 cores for 2,000 (bench/capacity).
// ElastiCache has no hz parameter and runs the default, 10.
//
// So a node that nothing uses runs at Config.IdleHz instead, and gets 10
// back as soon as something does. Idle means, at a reading of its
// statistics (the metrics sampler's, every 10 s): no client connected but
// the reader itself, no replica attached, not a replica, not in cluster
// mode (whose gossip and failure detection run on the timer). What a
// client can tell: in the first interval after it connects to a node idle
// until then (at most one sampling interval, 10 s), a blocking command's
// timeout (BLPOP …) fires within 1 s of its expiry instead of 100 ms;
// on a node without clients, the end of a BGSAVE (a snapshot, a replica's
// first synchronisation) is noticed within 1 s instead of 100 ms, and keys
// are expired actively once a second with the same CPU budget a second.
// Nothing else the engine does depends on hz.

// NormalHz is the engine default, which ElastiCache runs.
const NormalHz = 10

// WantHz is the hz a node whose statistics are st should run at, with
// idleHz the hz of an idle one (0: never changed); 0 means leave it.
func WantHz(st Stats, idleHz int) int {
	if idleHz <= 0 || st.Engine == catalog.Memcached || st.ConfiguredHz == 0 {
		return 0
	}
	if st.CurrConnections <= 1 && st.Replicas == 0 && !st.Replica && !st.ClusterEnabled {
		return idleHz
	}
	return NormalHz
}

// AdjustHz sets a running Redis OSS/Valkey node's hz to WantHz(st,
// Config.IdleHz) when it runs at another (st.ConfiguredHz), st being its
// statistics just read. It does nothing for Memcached or with IdleHz 0.
func (s *Supervisor) AdjustHz(ctx context.Context, nodeID string, st Stats) error {
	want := WantHz(st, s.cfg.IdleHz)
	if want == 0 || int64(want) == st.ConfiguredHz {
		return nil
	}
	n, err := s.node(nodeID)
	if err != nil {
		return err
	}
	n.mu.Lock()
	spec, admin := n.spec, n.admin
	n.mu.Unlock()
	if spec.Engine.Engine == catalog.Memcached {
		return nil
	}
	c, err := admin.Dial(ctx, spec.Dial, spec.Addr())
	if err != nil {
		return fmt.Errorf("hz of %s: %w", nodeID, err)
	}
	defer c.Close()
	if _, err := c.String(ctx, admin.Name("CONFIG"), "SET", "hz", strconv.Itoa(want)); err != nil {
		return fmt.Errorf("hz of %s: %w", nodeID, err)
	}
	return nil
}
