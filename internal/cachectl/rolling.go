package cachectl

import (
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// Rolling replacement: a new node type or engine version on a replication
// group with replicas (ModifyReplicationGroup with ApplyImmediately, or a
// pending change applied in the maintenance window) reaches its members
// as on ElastiCache — the replicas first (each restarts with the new spec,
// its data saved before and loaded after, then resynchronises), then a
// failover to an updated replica, then the old primary, replaced as a
// replica of the new one with the new spec. The primary keeps serving with
// its old spec meanwhile: the primary endpoint answers throughout but for
// the failover's own window, and no data is lost. A group without
// replicas (and a standalone cluster) restarts its node in place, keeping
// its data (the engine saves it before it stops and loads it when it
// starts: see actStopRespec).

// rollingPrimaries returns the clusters that are the primary of a
// replication group with at least one replica (not being deleted).
func rollingPrimaries(clusters []*elasticache.Cluster) map[elasticache.ClusterRef]bool {
	out := map[elasticache.ClusterRef]bool{}
	for _, cl := range clusters {
		if cl.ReplicaOf != "" && cl.Status != elasticache.StatusDeleting {
			out[elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: cl.ReplicaOf}] = true
		}
	}
	return out
}

// awaitsRoll reports whether a group primary with replicas runs an engine
// started with another spec than its record's: it waits for the group
// controller's failover (rollPrimary) instead of restarting.
func awaitsRoll(cl *elasticache.Cluster, obs observed) bool {
	if !obs.rolls || cl.ReplicaOf != "" {
		return false
	}
	for _, n := range cl.Nodes {
		if state, known := obs.engines[n.ID]; known && state == engine.StateRunning && !n.Replace &&
			n.Running != "" && n.Running != runningSpec(cl) && !clusterModeOnly(cl, n) {
			return true
		}
	}
	return false
}

// clusterModeOnly reports whether the one difference between what a
// node's engine runs and its record is cluster mode: the primary of a
// group changing to compatible restarts in place, keeping its data, while
// its replicas follow it (elasticache/rgclustermode.go).
func clusterModeOnly(cl *elasticache.Cluster, n elasticache.Node) bool {
	return cl.ClusterModeChanged && n.Running+"/cluster" == runningSpec(cl)
}

// rollPrimary is the group policy's side of a rolling replacement: when
// the primary's engine runs an old spec and every replica runs the
// primary's new one in its role, the primary fails over to the replica with the least lag
// (and is then replaced with the new spec, as a replica). ok is false while
// there is nothing to do, or the replicas are not done yet.
func rollPrimary(g *elasticache.ReplicationGroup, v groupView) (to string, ok bool) {
	pm, found := v.member(g.Primary)
	if !found || len(g.Members) < 2 || len(v.members) != len(g.Members) {
		return "", false
	}
	pn := pm.cl.Nodes[0]
	if pn.Replace || pn.Running == "" || pn.Running == runningSpec(pm.cl) {
		return "", false
	}
	for _, m := range v.members {
		if m.cl.ID == g.Primary {
			continue
		}
		// Every replica runs the primary's new spec, in its role.
		if !memberInRole(g, v, m) || m.cl.Nodes[0].Running != runningSpec(pm.cl) {
			return "", false
		}
	}
	to = chooseReplica(v, g.Primary)
	return to, to != ""
}
