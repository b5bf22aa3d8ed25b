package cachectl

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The group controller's side of serverless Memcached caches
// (elasticache/serverlessmc.go): a group of one member whose engine
// neither replicates nor fails over, so nothing of INFO replication,
// roles or meshing applies. The cache controller converges the member
// like any cluster (the supervisor restarts a crashed engine in place and
// re-adopts a running one after a restart of the service); this side only
// says when the group is available and removes it once its member is gone.

// reconcileMemcachedServerless converges the groups realising serverless
// Memcached caches and returns the other groups, and whether one of these
// is in transition.
func (c *Groups) reconcileMemcachedServerless(ctx context.Context, groups []*elasticache.ReplicationGroup, members map[elasticache.GroupRef][]*elasticache.Cluster) (rest []*elasticache.ReplicationGroup, transition bool, err error) {
	var errs []error
	for _, g := range groups {
		if !g.MemcachedServerless() {
			rest = append(rest, g)
			continue
		}
		d := decideMemcachedServerless(g, c.observeMembers(members[g.Ref()]))
		if err := c.apply(ctx, g, d); err != nil {
			errs = append(errs, fmt.Errorf("replication group %s: %w", g.Ref(), err))
		}
		transition = transition || g.Status != elasticache.GroupAvailable || d != (decision{})
	}
	return rest, transition, errors.Join(errs...)
}

// observeMembers reads the supervisor's state of each member's node.
func (c *Groups) observeMembers(members []*elasticache.Cluster) groupView {
	var v groupView
	for _, cl := range members {
		if len(cl.Nodes) == 0 {
			continue
		}
		m := memberView{cl: cl}
		if st, ok := c.cfg.Engines.Status(EngineNodeID(cl.Ref(), cl.Nodes[0].ID)); ok {
			m.known, m.state, m.role, m.pid = true, st.State, st.Role, st.PID
		}
		v.members = append(v.members, m)
	}
	return v
}

// decideMemcachedServerless is the policy of a serverless Memcached
// cache's group, pure: removed once deleting and its member is gone;
// available (again, after a change) once every member is available at
// its generation with its engine running.
func decideMemcachedServerless(g *elasticache.ReplicationGroup, v groupView) decision {
	if g.Status == elasticache.GroupDeleting {
		for _, m := range v.members {
			if m.cl.ReplicationGroupID == g.ID {
				return decision{}
			}
		}
		return decision{remove: true}
	}
	if len(v.members) != len(g.Members) {
		return decision{}
	}
	for _, m := range v.members {
		cl := m.cl
		if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation || cl.Nodes[0].Replace ||
			!m.known || m.state != engine.StateRunning {
			return decision{}
		}
	}
	if g.Status != elasticache.GroupAvailable || g.ObservedGeneration != g.Generation {
		return decision{available: true}
	}
	return decision{}
}
