package cachectl

import (
	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// A new group's members start together: the replicas' engines launch
// alongside their primary's (they follow it from their first start), so
// creating 1 primary + 5 replicas costs about one engine start, not two
// in a row. A replica that tried to connect before its primary listened
// would retry only on its once-a-second replication cron; the group
// controller reconnects it as soon as the primary answers
// (engine.Supervisor.Reconnect), once per engine process.

// replicasToReconnect returns the members of a creating group whose
// engine runs as a replica of the group's primary, not linked nor
// synchronising, while the primary answers as one: each with its pid, to
// reconnect once.
func replicasToReconnect(g *elasticache.ReplicationGroup, v groupView) map[string]int {
	if g.Status != elasticache.GroupCreating || g.Failover != nil {
		return nil
	}
	pm, ok := v.member(g.Primary)
	if !ok || pm.info == nil || !pm.info.Primary() || pm.role.Replica() {
		return nil
	}
	primary := EngineNodeID(pm.cl.Ref(), pm.cl.Nodes[0].ID)
	var out map[string]int
	for _, m := range v.members {
		if m.cl.ID == g.Primary || m.info == nil || m.info.Role != "slave" || m.info.LinkUp || m.info.Syncing ||
			m.role.ReplicaOf.NodeID != primary || m.pid == 0 {
			continue
		}
		if out == nil {
			out = map[string]int{}
		}
		out[EngineNodeID(m.cl.Ref(), m.cl.Nodes[0].ID)] = m.pid
	}
	return out
}
