package cachectl

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// The replication group lifecycle, through the real API, store and domain,
// converged by both controllers against the fakes: creation, a primary
// that dies, a test failover, a daemon restart in the middle of one,
// replica counts, deletion keeping the primary. After each step the
// engines' roles must agree with the group.

type groupWorld struct {
	*world
	groups    *Groups
	failovers map[string]int // counted by GroupConfig.OnFailover, by kind
}

func newGroupWorld(t *testing.T, loopback bool) *groupWorld {
	w := &groupWorld{world: newWorld(t, loopback), failovers: map[string]int{}}
	w.newGroups()
	return w
}

func (w *groupWorld) newGroups() {
	w.groups = NewGroups(GroupConfig{Domain: w.svc, Engines: w.engines, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		OnFailover: func(kind string) { w.failovers[kind]++ }})
}

// settle runs both controllers until done holds (at most 30 rounds).
func (w *groupWorld) settle(what string, done func(g *elasticache.ReplicationGroup) bool) *elasticache.ReplicationGroup {
	w.t.Helper()
	for range 30 {
		if err := w.ctl.Reconcile(context.Background(), nil); err != nil {
			w.t.Logf("cache controller: %v", err)
		}
		if err := w.groups.Reconcile(context.Background(), nil); err != nil {
			w.t.Logf("group controller: %v", err)
		}
		if g := w.group("rg"); done(g) {
			return g
		}
	}
	g := w.group("rg")
	w.t.Fatalf("%s: not settled; group %+v", what, g)
	return nil
}

func (w *groupWorld) group(id string) *elasticache.ReplicationGroup {
	groups, _, err := w.svc.ReplicationGroups(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	for _, g := range groups {
		if g.ID == id {
			return g
		}
	}
	return nil
}

func available(g *elasticache.ReplicationGroup) bool {
	return g != nil && g.Status == elasticache.GroupAvailable && g.Failover == nil
}

// checkRoles: every member's engine runs in the role the group gives it.
func (w *groupWorld) checkRoles(g *elasticache.ReplicationGroup) {
	w.t.Helper()
	procs := w.engines.snapshot()
	primary := EngineNodeID(elasticache.ClusterRef{Account: g.Account, Region: g.Region, ID: g.Primary}, "0001")
	for _, m := range g.Members {
		id := EngineNodeID(elasticache.ClusterRef{Account: g.Account, Region: g.Region, ID: m}, "0001")
		p, ok := procs[id]
		switch {
		case !ok || p.failed:
			w.t.Errorf("member %s: no engine running", m)
		case m == g.Primary && (p.spec.Role.Replica() || p.spec.Role.HoldOnCrash != g.AutoFailover()):
			w.t.Errorf("primary %s runs as %v", m, p.spec.Role)
		case m != g.Primary && p.spec.Role.ReplicaOf.NodeID != primary:
			w.t.Errorf("replica %s runs as %v, want a replica of %s", m, p.spec.Role, primary)
		}
	}
}

// groupEvents returns the events recorded since the last call, as
// "type source: message".
func (w *groupWorld) groupEvents() []string {
	var all []string
	w.st.View(context.Background(), func(tx store.Tx) error {
		return store.ScanJSON(tx, "elasticache/000000000000/us-east-1/event/", func(_ string, e *elasticache.Event) error {
			all = append(all, e.SourceType+" "+e.SourceID+": "+e.Message)
			return nil
		})
	})
	out := all[w.events:]
	w.events = len(all)
	return out
}

func failoverEvents(from, to string) []string {
	msg := "Failover from primary node " + from + " to replica node " + to + " completed"
	return []string{"cache-cluster " + to + ": " + msg, "replication-group rg: " + msg,
		"cache-cluster " + from + ": Recovering cache nodes 0001", "cache-cluster " + from + ": Finished recovery for cache nodes 0001"}
}

func TestGroupLifecycle(t *testing.T) {
	for _, mode := range []struct {
		name     string
		loopback bool
	}{{"namespaces", false}, {"loopback", true}} {
		t.Run(mode.name, func(t *testing.T) { testGroupLifecycle(t, mode.loopback) })
	}
}

func testGroupLifecycle(t *testing.T, loopback bool) {
	w := newGroupWorld(t, loopback)
	w.groupEvents()
	w.call("CreateReplicationGroup", func() error {
		_, err := w.svc.CreateReplicationGroup(w.ctx, &elasticacheapi.CreateReplicationGroupMessage{ReplicationGroupId: aws.String("rg"),
			ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(3),
			AutomaticFailoverEnabled: aws.Bool(true)})
		return err
	})
	g := w.settle("create", available)
	if g.Primary != "rg-001" || !slices.Equal(g.Members, []string{"rg-001", "rg-002", "rg-003"}) {
		t.Fatalf("created group: primary %s members %v", g.Primary, g.Members)
	}
	w.checkRoles(g)
	w.groupEvents()

	// Its engine dies: held, the group fails over to a replica.
	w.engines.mu.Lock()
	w.engines.procs[EngineNodeID(elasticache.ClusterRef{Account: g.Account, Region: g.Region, ID: "rg-003"}, "0001")].offset = 10
	w.engines.mu.Unlock()
	oldPrimary := EngineNodeID(elasticache.ClusterRef{Account: g.Account, Region: g.Region, ID: "rg-001"}, "0001")
	oldPID := w.engines.snapshot()[oldPrimary].pid
	w.engines.fail(oldPrimary)
	g = w.settle("failover", func(g *elasticache.ReplicationGroup) bool { return available(g) && g.Primary != "rg-001" })
	if g.Primary != "rg-003" {
		t.Errorf("failover promoted %s, want rg-003 (least lag)", g.Primary)
	}
	w.checkRoles(g)
	if p := w.engines.snapshot()[oldPrimary]; p.pid == oldPID {
		t.Errorf("the failed primary's node runs pid %d still, want a replacement", p.pid)
	}
	if diff := cmp.Diff(failoverEvents("rg-001", "rg-003"), w.groupEvents()); diff != "" {
		t.Errorf("failover events (-want +got):\n%s", diff)
	}
	if want := map[string]int{"automatic": 1}; !maps.Equal(w.failovers, want) {
		t.Errorf("failovers counted = %v, want %v", w.failovers, want)
	}

	// TestFailover, with a daemon restart after the switch.
	w.call("TestFailover", func() error {
		_, err := w.svc.TestFailover(w.ctx, &elasticacheapi.TestFailoverMessage{ReplicationGroupId: aws.String("rg"), NodeGroupId: aws.String("0001")})
		return err
	})
	if err := w.groups.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if g := w.group("rg"); g.Failover == nil || g.Failover.Phase != elasticache.PhasePromoting {
		t.Fatalf("after the group controller's run: failover %+v, want promoting", g.Failover)
	}
	w.ctl.Close()
	w.engines.restart()
	w.net.restart()
	w.newController()
	w.newGroups()
	g = w.settle("test failover across a restart", func(g *elasticache.ReplicationGroup) bool { return available(g) && g.Primary != "rg-003" })
	w.checkRoles(g)
	want := append([]string{"replication-group rg: Test Failover API called for node group 0001"}, failoverEvents("rg-003", g.Primary)...)
	if diff := cmp.Diff(want, w.groupEvents()); diff != "" {
		t.Errorf("test failover events (-want +got):\n%s", diff)
	}
	if want := map[string]int{"automatic": 1, "test": 1}; !maps.Equal(w.failovers, want) {
		t.Errorf("failovers counted = %v, want %v", w.failovers, want)
	}

	// Replica counts.
	w.call("IncreaseReplicaCount", func() error {
		_, err := w.svc.IncreaseReplicaCount(w.ctx, &elasticacheapi.IncreaseReplicaCountMessage{ReplicationGroupId: aws.String("rg"),
			ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(4)})
		return err
	})
	g = w.settle("increase", available)
	if len(g.Members) != 5 {
		t.Errorf("after IncreaseReplicaCount(4): members %v", g.Members)
	}
	w.checkRoles(g)
	w.call("DecreaseReplicaCount", func() error {
		_, err := w.svc.DecreaseReplicaCount(w.ctx, &elasticacheapi.DecreaseReplicaCountMessage{ReplicationGroupId: aws.String("rg"),
			ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(1)})
		return err
	})
	g = w.settle("decrease", available)
	if len(g.Members) != 2 {
		t.Errorf("after DecreaseReplicaCount(1): members %v", g.Members)
	}
	w.checkRoles(g)

	// Deleting, keeping the primary as a standalone cluster.
	primary := g.Primary
	w.call("DeleteReplicationGroup", func() error {
		_, err := w.svc.DeleteReplicationGroup(w.ctx, &elasticacheapi.DeleteReplicationGroupMessage{ReplicationGroupId: aws.String("rg"), RetainPrimaryCluster: aws.Bool(true)})
		return err
	})
	w.settle("delete", func(g *elasticache.ReplicationGroup) bool { return g == nil })
	clusters, err := w.svc.Clusters(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range clusters {
		ids = append(ids, c.ID)
		if c.ReplicationGroupID != "" || c.ReplicaOf != "" || c.HoldOnCrash {
			t.Errorf("retained cluster %s still in a group: %+v", c.ID, c)
		}
	}
	if !slices.Equal(ids, []string{primary}) {
		t.Errorf("clusters after deleting the group = %v, want the retained primary %s", ids, primary)
	}
	for id, p := range w.engines.snapshot() {
		if p.spec.Role != (engine.Role{}) {
			t.Errorf("engine %s still has a role: %v", id, p.spec.Role)
		}
	}
	if n := len(w.engines.snapshot()); n != 1 {
		t.Errorf("%d engines run after deleting the group, want the retained primary's", n)
	}
}
