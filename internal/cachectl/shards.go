package cachectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The group controller's side of cluster-mode groups: observe every
// member's engine as a cluster node, send the commands of the pure policy
// (shardplan.go, shardfailover.go), and write the group back through the
// domain. Every command is idempotent against what was observed, so a run
// after a restart or kill -9 of the service re-adopts a cluster with its
// slots and changes nothing.

// failoverResend is how long a sent CLUSTER FAILOVER is given before it
// is sent again: a coordinated failover restarts when asked again.
const failoverResend = 2 * time.Second

// reconcileClustered converges the cluster-mode groups, in parallel, and
// returns the other groups, whether any cluster-mode group is in
// transition, and the errors.
func (c *Groups) reconcileClustered(ctx context.Context, groups []*elasticache.ReplicationGroup, members map[elasticache.GroupRef][]*elasticache.Cluster) (rest []*elasticache.ReplicationGroup, transition bool, err error) {
	var clustered []*elasticache.ReplicationGroup
	for _, g := range groups {
		if g.ClusterNodes() {
			clustered = append(clustered, g)
		} else {
			rest = append(rest, g)
		}
	}
	if c.sent == nil {
		c.sent = map[elasticache.GroupRef]time.Time{}
	}
	errs := make([]error, len(clustered))
	busy := make([]bool, len(clustered))
	var mu sync.Mutex // guards c.sent
	var wg sync.WaitGroup
	for i, g := range clustered {
		wg.Add(1)
		go func() {
			defer wg.Done()
			busy[i], errs[i] = c.shardGroup(ctx, g, members[g.Ref()], &mu)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("replication group %s: %w", g.Ref(), errs[i])
			}
		}()
	}
	wg.Wait()
	for _, b := range busy {
		transition = transition || b
	}
	return rest, transition, errors.Join(errs...)
}

// shardGroup converges one cluster-mode group and reports whether it is
// in transition.
func (c *Groups) shardGroup(ctx context.Context, g *elasticache.ReplicationGroup, members []*elasticache.Cluster, mu *sync.Mutex) (bool, error) {
	if g.Status == elasticache.GroupDeleting {
		if len(members) == 0 {
			return false, c.cfg.Domain.RemoveGroup(ctx, g.Ref())
		}
		return true, nil
	}
	v := c.observeShards(ctx, members)
	cmds, meshed := meshCommands(g, v)
	for _, cmd := range cmds {
		if err := c.clusterDo(ctx, v, cmd); err != nil {
			c.log.Debug("cluster command", "group", g.Ref().String(), "member", cmd.member, "args", strings.Join(cmd.args, " "), "err", err)
		}
	}
	if f := g.Failover; f != nil && f.Phase == elasticache.PhasePromoting {
		mu.Lock()
		due := time.Since(c.sent[g.Ref()]) >= failoverResend
		if due {
			c.sent[g.Ref()] = time.Now()
		}
		mu.Unlock()
		if m, ok := v[f.To]; ok && m.answered() && due {
			if self, _ := m.self(); !self.has("master") {
				args := []string{"CLUSTER", "FAILOVER"}
				if !f.Test {
					args = append(args, "TAKEOVER")
				}
				if err := c.clusterDo(ctx, v, clusterCmd{member: f.To, args: args}); err != nil {
					c.log.Warn("shard failover", "group", g.Ref().String(), "to", f.To, "err", err)
				}
			}
		}
	} else {
		mu.Lock()
		delete(c.sent, g.Ref())
		mu.Unlock()
	}
	d := decideShards(g, v, meshed)
	if c.log.Enabled(ctx, slog.LevelDebug) && g.Status != elasticache.GroupAvailable {
		var sum []string
		for id, m := range v {
			self, _ := m.self()
			sum = append(sum, fmt.Sprintf("%s:answered=%v,ok=%v,info=%+v,view=%d,status=%s/%d/%d,self=%+v,id=%s", id, m.answered(), m.clusterOK, m.info, len(m.view), m.cl.Status, m.cl.ObservedGeneration, m.cl.Generation, self, m.myID))
		}
		c.log.Debug("cluster-mode group", "group", g.Ref().String(), "meshed", meshed, "unconverged", unconverged(g, v, meshed), "decision", fmt.Sprintf("%+v", d), "members", strings.Join(sum, " "))
	}
	busy := g.Status != elasticache.GroupAvailable || g.Failover != nil || d != (shardDecision{}) || len(cmds) > 0
	if d == (shardDecision{}) {
		if g.Resharding != nil {
			return true, c.reshard(ctx, g, v, meshed)
		}
		return busy, nil
	}
	if d.failover != nil {
		c.log.Warn("shard failover", "group", g.Ref().String(), "from", d.failover.from, "to", d.failover.to, "reason", d.failover.reason)
	}
	now := c.cfg.Now().UTC()
	written := false
	_, err := c.cfg.Domain.UpdateGroup(ctx, g.Ref(), func(cur *elasticache.ReplicationGroup, ms []*elasticache.Cluster) ([]elasticache.GroupEvent, bool) {
		written = false
		if cur.Generation != g.Generation || cur.Status != g.Status || !sameFailover(cur.Failover, g.Failover) {
			return nil, false
		}
		events, changed := applyShardDecision(cur, ms, d, now)
		written = changed
		return events, changed
	})
	if err == nil && written && d.failover != nil && c.cfg.OnFailover != nil {
		kind := "automatic"
		if g.Failover != nil && g.Failover.Test {
			kind = "test"
		}
		c.cfg.OnFailover(kind)
	}
	return true, err
}

// clusterDo sends one command to a member's engine, or gives it the
// credentials of the primary it follows.
func (c *Groups) clusterDo(ctx context.Context, v shardView, cmd clusterCmd) error {
	m := v[cmd.member]
	ctx, cancel := context.WithTimeout(ctx, 4*c.cfg.HealthTimeout)
	defer cancel()
	id := EngineNodeID(m.cl.Ref(), m.cl.Nodes[0].ID)
	if cmd.authTo != "" {
		p := v[cmd.authTo]
		return c.cfg.Engines.SetPrimaryAuth(ctx, id, EngineNodeID(p.cl.Ref(), p.cl.Nodes[0].ID))
	}
	_, err := c.cfg.Engines.Commands(ctx, id, cmd.args)
	return err
}

// observeShards reads, in parallel, every member's supervisor state and,
// of those running, CLUSTER MYID, CLUSTER NODES, CLUSTER INFO and INFO
// replication.
func (c *Groups) observeShards(ctx context.Context, members []*elasticache.Cluster) shardView {
	v := shardView{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, cl := range members {
		if len(cl.Nodes) == 0 || cl.Status == elasticache.StatusDeleting {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := c.observeShardMember(ctx, cl)
			mu.Lock()
			v[cl.ID] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
	return v
}

func (c *Groups) observeShardMember(ctx context.Context, cl *elasticache.Cluster) shardMember {
	m := shardMember{cl: cl}
	id := EngineNodeID(cl.Ref(), cl.Nodes[0].ID)
	st, ok := c.cfg.Engines.Status(id)
	if !ok {
		return m
	}
	m.known, m.state, m.addr = true, st.State, st.Addr
	if st.State != engine.StateRunning {
		return m
	}
	ctx, cancel := context.WithTimeout(ctx, 4*c.cfg.HealthTimeout)
	defer cancel()
	out, err := c.cfg.Engines.Commands(ctx, id, []string{"CLUSTER", "MYID"}, []string{"CLUSTER", "NODES"},
		[]string{"CLUSTER", "INFO"}, []string{"INFO", "replication"})
	if err != nil || len(out) != 4 {
		return m
	}
	var s [4]string
	for i, v := range out {
		str, ok := v.(string)
		if !ok {
			return m
		}
		s[i] = str
	}
	m.myID, m.view = s[0], parseClusterNodes(s[1])
	m.clusterOK = strings.Contains(s[2], "cluster_state:ok")
	m.syncing = strings.Contains(s[3], "master_sync_in_progress:1")
	if ri, err := engine.ParseReplicationInfo(s[3]); err == nil {
		m.info = &ri
	}
	return m
}
