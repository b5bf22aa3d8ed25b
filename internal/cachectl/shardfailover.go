package cachectl

import (
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// Shard failovers, pure: a cluster-mode group's decision from what was
// observed, and how it is written into the group and its members. A
// shard's primary held on crash whose engine died has its best replica
// promoted (CLUSTER FAILOVER TAKEOVER: the supervisor knows the engine is
// gone, so no vote is waited for) and its node replaced, to come back as
// a replica; a TestFailover promotes with a coordinated CLUSTER FAILOVER,
// the old primary becoming a replica by itself; a failover the cluster
// made on its own (a hung primary, past cluster-node-timeout) is adopted.
// The phases and events are those of groups without cluster mode
// (failover.go).

// shardDecision is what the group controller does to a cluster-mode
// group in one run.
type shardDecision struct {
	remove    bool
	failover  *shardSwitch
	promoted  bool
	recovered bool
	cancel    bool
	available bool
	// convert is the next replica of a group changing to compatible to
	// restart as a cluster node (clustermode.go).
	convert string
}

// shardSwitch is a shard failover's choice: to "" replaces from in place.
type shardSwitch struct {
	from, to string
	replace  bool // from's node is replaced (its engine died)
	reason   string
}

// decideShards is the cluster-mode group policy.
func decideShards(g *elasticache.ReplicationGroup, v shardView, meshed bool) shardDecision {
	if g.Status == elasticache.GroupDeleting {
		if len(v) == 0 {
			return shardDecision{remove: true}
		}
		return shardDecision{}
	}
	f := g.Failover
	switch {
	case f == nil:
		for _, sh := range g.Shards {
			// A new serverless cache's other member holds the slots
			// while the cluster forms (bootstrapOf): not a failover.
			if s := shardFailed(sh, v); s != nil && (s.replace || !bootstrapping(g)) {
				return shardDecision{failover: s}
			}
		}
		if g.Resharding != nil {
			return shardDecision{} // reshard.go moves the slots
		}
		if id := nextConvert(g, v); id != "" {
			return shardDecision{convert: id}
		}
		converged := shardConverged(g, v, meshed)
		if converged && (g.Reslot != nil || g.Status == elasticache.GroupFailed) {
			// A re-slotting restore: the snapshot controller loads the
			// keys into the formed cluster before it is available, or
			// failed to (the group stays create-failed).
			return shardDecision{}
		}
		if converged && (g.Status != elasticache.GroupAvailable || g.ObservedGeneration != g.Generation) {
			return shardDecision{available: true}
		}
		if converged && g.Serverless != nil {
			// A serverless cache's writes are on 6379, its first
			// member's port: once a lost primary came back as the
			// replica and follows, it takes the primary role back by
			// a coordinated failover (no data lost).
			if sh := g.Shards[0]; sh.Primary != sh.Members[0] {
				return shardDecision{failover: &shardSwitch{from: sh.Primary, to: sh.Members[0], reason: "serverless primary back on its write port"}}
			}
		}
	case f.Phase == elasticache.PhaseRequested:
		sh, ok := g.ShardOf(f.From)
		if !ok {
			return shardDecision{cancel: true}
		}
		to := chooseShardReplica(*sh, v, f.From)
		if to == "" {
			return shardDecision{cancel: true}
		}
		return shardDecision{failover: &shardSwitch{from: f.From, to: to, reason: "test failover"}}
	case f.Phase == elasticache.PhasePromoting:
		if m, ok := v[f.To]; ok && m.answered() {
			if self, _ := m.self(); self.has("master") && len(self.slots) > 0 {
				return shardDecision{promoted: true}
			}
		}
	case f.Phase == elasticache.PhaseRecovering:
		if shardMemberFollows(g, v, f.From) {
			return shardDecision{recovered: true}
		}
	}
	return shardDecision{}
}

// shardFailed says whether a shard's primary has failed: its engine
// exited while held on crash (promote a replica, replace the node), or
// the cluster made another member the shard's primary (adopt it).
func shardFailed(sh elasticache.Shard, v shardView) *shardSwitch {
	pm, ok := v[sh.Primary]
	if !ok || len(pm.cl.Nodes) == 0 || pm.cl.Nodes[0].Replace {
		return nil
	}
	if pm.known && pm.state == engine.StateFailed {
		return &shardSwitch{from: sh.Primary, to: chooseShardReplica(sh, v, sh.Primary), replace: true, reason: "engine exited"}
	}
	if self, ok := pm.self(); ok && pm.answered() && self.has("master") {
		return nil
	}
	for _, id := range sh.Members {
		m, ok := v[id]
		if id == sh.Primary || !ok || !m.answered() {
			continue
		}
		if self, _ := m.self(); self.has("master") && len(self.slots) > 0 {
			return &shardSwitch{from: sh.Primary, to: id, reason: "failed over by the cluster"}
		}
	}
	return nil
}

// chooseShardReplica picks the shard's replica to promote: running,
// answering as a replica, furthest along the replication stream.
func chooseShardReplica(sh elasticache.Shard, v shardView, from string) string {
	best, bestOffset := "", int64(-1)
	for _, id := range sh.Members {
		m, ok := v[id]
		if id == from || !ok || !m.answered() || m.info == nil || m.info.Role != "slave" || len(m.cl.Nodes) == 0 || m.cl.Nodes[0].Replace {
			continue
		}
		if m.info.Offset > bestOffset {
			best, bestOffset = id, m.info.Offset
		}
	}
	return best
}

// shardMemberFollows reports whether a member runs as a replica of its
// shard's primary with its link up, its record converged.
func shardMemberFollows(g *elasticache.ReplicationGroup, v shardView, id string) bool {
	sh, ok := g.ShardOf(id)
	m, mok := v[id]
	pm, pok := v[sh.Primary]
	if !ok || !mok || !pok || !m.answered() || !pm.answered() || m.info == nil {
		return false
	}
	cl := m.cl
	if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation || cl.Nodes[0].Replace {
		return false
	}
	if id == sh.Primary {
		self, _ := m.self()
		return self.has("master") && len(self.slots) > 0
	}
	self, _ := m.self()
	return self.master == pm.myID && m.info.Role == "slave" && m.info.LinkUp
}

// applyShardDecision writes a decision into the stored group and its
// members and returns the events, as applyDecision does for groups
// without cluster mode. It is pure.
func applyShardDecision(g *elasticache.ReplicationGroup, members []*elasticache.Cluster, d shardDecision, now time.Time) ([]elasticache.GroupEvent, bool) {
	ev := func(typ, src, msg string) elasticache.GroupEvent {
		return elasticache.GroupEvent{SourceType: typ, SourceID: src, Message: msg}
	}
	switch {
	case d.failover != nil:
		s := d.failover
		test := g.Failover != nil && g.Failover.Test
		sh, ok := g.ShardOf(s.from)
		c, n := nodeOf(g, members, s.from)
		if !ok || n == nil {
			return nil, false
		}
		g.Status = elasticache.GroupModifying
		g.Generation++
		if s.replace || s.to == "" {
			n.Replace = true
			c.Generation++
		}
		if s.to == "" {
			g.Failover = &elasticache.Failover{From: s.from, Test: test, Phase: elasticache.PhaseRecovering, At: now}
			return []elasticache.GroupEvent{ev("cache-cluster", s.from, "Recovering cache nodes "+n.ID)}, true
		}
		sh.Primary = s.to
		g.Failover = &elasticache.Failover{From: s.from, To: s.to, Test: test || !s.replace, Phase: elasticache.PhasePromoting, At: now}
		elasticache.ApplyRoles(g, members)
		return nil, true
	case d.promoted:
		f := g.Failover
		msg := "Failover from primary node " + f.From + " to replica node " + f.To + " completed"
		f.Phase = elasticache.PhaseRecovering
		events := []elasticache.GroupEvent{ev("cache-cluster", f.To, msg), ev("replication-group", g.ID, msg)}
		if _, n := nodeOf(g, members, f.From); n != nil && !f.Test {
			events = append(events, ev("cache-cluster", f.From, "Recovering cache nodes "+n.ID))
		}
		return events, true
	case d.recovered:
		f := g.Failover
		g.Failover = nil
		if _, n := nodeOf(g, members, f.From); n != nil && !f.Test {
			return []elasticache.GroupEvent{ev("cache-cluster", f.From, "Finished recovery for cache nodes "+n.ID)}, true
		}
		return nil, true
	case d.convert != "":
		return nil, elasticache.ConvertReplica(g, members, d.convert)
	case d.cancel:
		g.Failover = nil
		g.Status, g.ObservedGeneration = elasticache.GroupAvailable, g.Generation
		return nil, true
	case d.available:
		var events []elasticache.GroupEvent
		if g.Status == elasticache.GroupCreating {
			events = append(events, ev("replication-group", g.ID, elasticache.GroupCreatedMessage(g.ID)))
		}
		if e, ok := elasticache.FinishModeChange(g); ok {
			events = append(events, e)
		}
		g.Status, g.ObservedGeneration, g.LastError = elasticache.GroupAvailable, g.Generation, ""
		return events, true
	}
	return nil, false
}
