package cachectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/reconcile"
)

// The replication group controller. The cache controller (controller.go)
// converges member clusters like any cluster, each node's engine in the
// role its record gives it; this controller owns what is the group's:
// it observes every member (the supervisor's state, INFO replication,
// which is also the primary's health check), decides with the pure policy
// of failover.go, and writes the group and its members back through the
// domain in one transaction — a failover switches the roles in the store,
// and the cache controller makes the engines follow. Every phase of a
// failover is recorded before the next begins, so one half done when the
// service died is finished after its restart.

// GroupDomain is the replication groups' status write-back API
// (elasticache.Service).
type GroupDomain interface {
	ReplicationGroups(ctx context.Context) ([]*elasticache.ReplicationGroup, map[elasticache.GroupRef][]*elasticache.Cluster, error)
	UpdateGroup(ctx context.Context, ref elasticache.GroupRef, fn func(g *elasticache.ReplicationGroup, members []*elasticache.Cluster) ([]elasticache.GroupEvent, bool)) (bool, error)
	RemoveGroup(ctx context.Context, ref elasticache.GroupRef) error
}

// GroupEngines is what the group controller observes of the engines
// (engine.Supervisor).
type GroupEngines interface {
	Status(nodeID string) (engine.NodeStatus, bool)
	Replication(ctx context.Context, nodeID string) (engine.ReplicationInfo, error)
	// Reconnect has a replica that has not synchronised yet connect to
	// its primary now (linkup.go).
	Reconnect(ctx context.Context, nodeID string) error
	// Commands runs admin commands on a running node, on one connection
	// (cluster mode: CLUSTER MEET, ADDSLOTSRANGE, REPLICATE, NODES …);
	// SetPrimaryAuth gives a cluster-mode node the credentials of the
	// primary it replicates.
	Commands(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error)
	SetPrimaryAuth(ctx context.Context, nodeID, primaryNodeID string) error
	// MigrateAuth is what MIGRATE authenticates to a node with
	// (resharding: reshard.go).
	MigrateAuth(nodeID string) ([]string, error)
	// Pipeline is Commands in one round trip; every command runs, and
	// the first error reply is the error.
	Pipeline(ctx context.Context, nodeID string, cmds ...[]string) ([]any, error)
}

// GroupConfig configures the group controller. Domain and Engines are
// required.
type GroupConfig struct {
	Domain  GroupDomain
	Engines GroupEngines
	Logger  *slog.Logger     // default slog.Default()
	Now     func() time.Time // default time.Now
	// HealthInterval is how often the primary of a group with automatic
	// failover is checked; default 500ms. HealthTimeout bounds one check
	// (default 500ms), and HealthFailures checks failed in a row make a
	// running primary failed (default 3): a hung engine fails over in
	// about HealthFailures × (HealthInterval + HealthTimeout).
	HealthInterval time.Duration
	HealthTimeout  time.Duration
	HealthFailures int
	// OnFailover, when set, is called once for each failover written to
	// the store (the primary switched to a replica, or replaced where it
	// is when there is none), with "test" for one TestFailover asked for
	// and "automatic" for a failed primary. It must not block.
	OnFailover func(kind string)
	// Poll is how often a group in transition is looked at again, for
	// what changes without a store write; default 50ms. LinkPoll is the
	// same while the group waits only for replicas' links to come up (an
	// initial synchronisation, which takes a few ms; default 5ms): it
	// decides when the group becomes available.
	Poll     time.Duration
	LinkPoll time.Duration
}

// Groups is the replication group controller; it implements
// reconcile.Controller.
type Groups struct {
	cfg GroupConfig
	log *slog.Logger
	pol policy

	mu       sync.Mutex // serialises Reconcile runs; guards failures and reconnected
	failures map[elasticache.GroupRef]int
	// reconnected is the engine process each replica was last
	// reconnected in (linkup.go), by engine node id.
	reconnected map[string]int
	// sent is when a shard failover's CLUSTER FAILOVER was last sent, by
	// group (shards.go); guarded by mu, and within a run by its own lock.
	sent map[elasticache.GroupRef]time.Time
}

// NewGroups returns the replication group controller; it has no side
// effects.
func NewGroups(cfg GroupConfig) *Groups {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HealthInterval <= 0 {
		cfg.HealthInterval = 500 * time.Millisecond
	}
	if cfg.HealthTimeout <= 0 {
		cfg.HealthTimeout = 500 * time.Millisecond
	}
	if cfg.HealthFailures <= 0 {
		cfg.HealthFailures = 3
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 50 * time.Millisecond
	}
	if cfg.LinkPoll <= 0 {
		cfg.LinkPoll = 5 * time.Millisecond
	}
	return &Groups{cfg: cfg, log: cfg.Logger, pol: policy{failures: cfg.HealthFailures}, failures: map[elasticache.GroupRef]int{},
		reconnected: map[string]int{}}
}

// GroupsName is the group controller's name (reconcile.Manager.Wake).
const GroupsName = "elasticache-replication-groups"

// Name implements reconcile.Controller.
func (c *Groups) Name() string { return GroupsName }

// Watches implements reconcile.Controller: groups and clusters.
func (c *Groups) Watches(key string) bool { return elasticache.GroupConvergeKey(key) }

// Reconcile implements reconcile.Controller. Groups are independent: they
// are looked at in parallel, and a failure of one does not stop the
// others.
func (c *Groups) Reconcile(ctx context.Context, _ []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	groups, members, err := c.cfg.Domain.ReplicationGroups(ctx)
	if err != nil {
		return err
	}
	groups, mcBusy, mcErr := c.reconcileMemcachedServerless(ctx, groups, members)
	groups, checking, modeErr := c.reconcileModeChecks(ctx, groups, members) // clustermode.go
	all := len(groups)
	// A new serverless cache forming by takeover (shardplan.go) is
	// watched as closely as a replica's link coming up.
	forming := slices.ContainsFunc(groups, bootstrapping)
	groups, sharding, shardErr := c.reconcileClustered(ctx, groups, members)
	sharding = sharding || mcBusy || checking
	errs := make([]error, len(groups))
	views := make([]groupView, len(groups))
	var wg sync.WaitGroup
	for i, g := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i] = c.observe(ctx, g, members[g.Ref()])
		}()
	}
	wg.Wait()
	seen := map[elasticache.GroupRef]bool{}
	var health, transition, linking bool
	for i, g := range groups {
		seen[g.Ref()] = true
		c.failures[g.Ref()] = views[i].failures
		d := c.pol.decide(g, views[i])
		c.reconnect(ctx, g, views[i])
		if err := c.apply(ctx, g, d); err != nil {
			errs[i] = fmt.Errorf("replication group %s: %w", g.Ref(), err)
		}
		health = health || g.AutoFailover() && g.Status != elasticache.GroupDeleting
		transition = transition || g.Status != elasticache.GroupAvailable || g.Failover != nil || d != (decision{})
		linking = linking || d == (decision{}) && awaitingLinks(g, views[i])
	}
	for ref := range c.failures {
		if !seen[ref] {
			delete(c.failures, ref)
		}
	}
	live := map[string]bool{}
	for _, v := range views {
		for _, m := range v.members {
			live[EngineNodeID(m.cl.Ref(), m.cl.Nodes[0].ID)] = true
		}
	}
	for id := range c.reconnected {
		if !live[id] {
			delete(c.reconnected, id)
		}
	}
	switch {
	case linking || forming:
		reconcile.RequeueAfter(ctx, c.cfg.LinkPoll)
	case transition || sharding:
		reconcile.RequeueAfter(ctx, c.cfg.Poll)
	case health || len(groups) < all: // cluster-mode groups always fail over
		reconcile.RequeueAfter(ctx, c.cfg.HealthInterval)
	}
	return errors.Join(append(errs, shardErr, mcErr, modeErr)...)
}

// observe reads the supervisor's state and INFO replication of every
// member, in parallel, and counts the primary's failed health checks.
func (c *Groups) observe(ctx context.Context, g *elasticache.ReplicationGroup, members []*elasticache.Cluster) groupView {
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
	infos := make([]*engine.ReplicationInfo, len(v.members))
	var wg sync.WaitGroup
	for i, m := range v.members {
		if !m.known || m.state != engine.StateRunning || g.Status == elasticache.GroupDeleting {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, c.cfg.HealthTimeout)
			defer cancel()
			if info, err := c.cfg.Engines.Replication(ctx, EngineNodeID(m.cl.Ref(), m.cl.Nodes[0].ID)); err == nil {
				infos[i] = &info
			}
		}()
	}
	wg.Wait()
	for i := range v.members {
		v.members[i].info = infos[i]
	}
	v.failures = c.failures[g.Ref()]
	if pm, ok := v.member(g.Primary); ok && pm.known && pm.state == engine.StateRunning {
		if pm.info == nil {
			v.failures++
		} else {
			v.failures = 0
		}
	} else {
		v.failures = 0
	}
	return v
}

// apply writes a decision back through the domain, re-deciding against
// the stored group so that a change made since the observation (a
// deletion, a new generation) is never overwritten.
func (c *Groups) apply(ctx context.Context, g *elasticache.ReplicationGroup, d decision) error {
	if d == (decision{}) {
		return nil
	}
	ref := g.Ref()
	if d.remove {
		return c.cfg.Domain.RemoveGroup(ctx, ref)
	}
	if d.failover != nil {
		c.log.Warn("replication group failover", "group", ref.String(), "from", d.failover.from, "to", d.failover.to,
			"reason", d.failover.reason, "offsets", d.failover.offsets)
		c.failures[ref] = 0
	}
	now := c.cfg.Now().UTC()
	written := false // by the last try of the transaction
	_, err := c.cfg.Domain.UpdateGroup(ctx, ref, func(cur *elasticache.ReplicationGroup, members []*elasticache.Cluster) ([]elasticache.GroupEvent, bool) {
		written = false
		if cur.Generation != g.Generation || cur.Status != g.Status || !sameFailover(cur.Failover, g.Failover) {
			return nil, false // changed meanwhile: the next run decides again
		}
		events, changed := applyDecision(cur, members, d, now)
		written = changed
		return events, changed
	})
	if err == nil && written && d.failover != nil && c.cfg.OnFailover != nil {
		kind := "automatic"
		switch {
		case d.failover.roll:
			kind = "roll"
		case g.Failover != nil && g.Failover.Test:
			kind = "test"
		}
		c.cfg.OnFailover(kind)
	}
	return err
}

func sameFailover(a, b *elasticache.Failover) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// reconnect reconnects, once per engine process, the replicas of a
// creating group that tried their primary before it listened (linkup.go).
func (c *Groups) reconnect(ctx context.Context, g *elasticache.ReplicationGroup, v groupView) {
	for nodeID, pid := range replicasToReconnect(g, v) {
		if c.reconnected[nodeID] == pid {
			continue
		}
		c.reconnected[nodeID] = pid
		if err := c.cfg.Engines.Reconnect(ctx, nodeID); err != nil {
			c.log.Warn("reconnect replica", "group", g.Ref().String(), "node", nodeID, "err", err)
			continue
		}
		c.log.Debug("replica reconnected to its primary", "group", g.Ref().String(), "node", nodeID)
	}
}
