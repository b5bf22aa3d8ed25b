package cachectl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The group controller's side of a change of a replication group's
// cluster mode from disabled to compatible (elasticache/rgclustermode.go):
// before the group is converted, its primary's keys must all be in
// database 0, as ElastiCache requires (a Redis OSS engine started as a
// cluster node with keys in another database refuses to start). The check
// reads INFO keyspace of the primary's engine; the conversion, or the
// change undone with an event, is written in one transaction. A run after
// a restart finds the group as it was left and checks again.

// nextConvert is the replica of a group changing to compatible to move
// next: once its primary runs as a cluster node owning every slot and
// every member moved so far follows it, one replica at a time, so that
// the others keep serving reads; "" while there is none or it is not time.
func nextConvert(g *elasticache.ReplicationGroup, v shardView) string {
	mc := g.ModeChange
	if mc == nil || len(mc.Pending) == 0 || len(g.Shards) != 1 {
		return ""
	}
	pm, ok := v[g.Shards[0].Primary]
	if !ok || !pm.answered() || !pm.clusterOK {
		return ""
	}
	if self, _ := pm.self(); !self.has("master") || !sameSlots(self.slots, []elasticache.SlotRange{{From: 0, To: elasticache.SlotCount - 1}}) {
		return ""
	}
	for _, id := range g.ClusterMembers() {
		if !shardMemberFollows(g, v, id) {
			return ""
		}
	}
	return mc.Pending[0]
}

// reconcileModeChecks checks the groups waiting for it and returns the
// others, and whether any is still waiting.
func (c *Groups) reconcileModeChecks(ctx context.Context, groups []*elasticache.ReplicationGroup, members map[elasticache.GroupRef][]*elasticache.Cluster) (rest []*elasticache.ReplicationGroup, waiting bool, err error) {
	var errs []error
	for _, g := range groups {
		if !g.ModeCheckPending() {
			rest = append(rest, g)
			continue
		}
		done, err := c.checkModeChange(ctx, g, members[g.Ref()])
		if err != nil {
			errs = append(errs, fmt.Errorf("replication group %s: %w", g.Ref(), err))
		}
		waiting = waiting || !done
	}
	return rest, waiting, errors.Join(errs...)
}

// checkModeChange checks one group's primary and writes the outcome; done
// is false while the primary does not answer.
func (c *Groups) checkModeChange(ctx context.Context, g *elasticache.ReplicationGroup, members []*elasticache.Cluster) (done bool, err error) {
	var primary *elasticache.Cluster
	for _, cl := range members {
		if cl.ID == g.Primary && len(cl.Nodes) > 0 {
			primary = cl
		}
	}
	if primary == nil {
		return false, nil
	}
	id := EngineNodeID(primary.Ref(), primary.Nodes[0].ID)
	reason := ""
	if st, known := c.cfg.Engines.Status(id); known && st.State == engine.StateFailed {
		// A primary that died is the failover controller's (group.go),
		// which does not act on a group waiting for this check.
		reason = "its primary " + primary.ID + " is not available"
	} else {
		qctx, cancel := context.WithTimeout(ctx, 4*c.cfg.HealthTimeout)
		defer cancel()
		out, err := c.cfg.Engines.Commands(qctx, id, []string{"INFO", "keyspace"})
		if err != nil || len(out) != 1 {
			c.log.Debug("cluster mode check", "group", g.Ref().String(), "err", err)
			return false, nil // not answering now: the next run asks again
		}
		info, _ := out[0].(string)
		if other := otherDatabases(info); len(other) > 0 {
			reason = "the cluster has keys in databases other than 0 (" + strings.Join(other, ", ") + ")"
		}
	}
	_, err = c.cfg.Domain.UpdateGroup(ctx, g.Ref(), func(cur *elasticache.ReplicationGroup, ms []*elasticache.Cluster) ([]elasticache.GroupEvent, bool) {
		if cur.Generation != g.Generation || cur.Primary != g.Primary {
			return nil, false // changed meanwhile: the next run checks again
		}
		if reason != "" {
			ev, ok := elasticache.CancelModeChange(cur, reason)
			if !ok {
				return nil, false
			}
			return []elasticache.GroupEvent{ev}, true
		}
		return nil, elasticache.ConvertToCompatible(cur, ms)
	})
	return err == nil, err
}

// otherDatabases are the databases other than 0 that INFO keyspace shows
// with keys (db1, …).
func otherDatabases(info string) []string {
	var out []string
	for _, line := range strings.Split(info, "\n") {
		db, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if ok && strings.HasPrefix(db, "db") && db != "db0" && strings.HasPrefix(rest, "keys=") && !strings.HasPrefix(rest, "keys=0,") {
			out = append(out, db)
		}
	}
	return out
}
