package cachectl

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// A node type change on a replication group, against the fakes: with
// replicas it rolls (replicas first, keeping their data; then a failover
// to an updated replica; then the old primary replaced as a replica), the
// primary serving with its old spec until the failover; without replicas
// the node restarts in place keeping its data.

func createGroup(w *groupWorld, clusters int32, autoFailover bool) *elasticache.ReplicationGroup {
	w.t.Helper()
	w.call("CreateReplicationGroup", func() error {
		_, err := w.svc.CreateReplicationGroup(w.ctx, &elasticacheapi.CreateReplicationGroupMessage{ReplicationGroupId: aws.String("rg"),
			ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(clusters),
			AutomaticFailoverEnabled: aws.Bool(autoFailover)})
		return err
	})
	g := w.settle("create", available)
	w.groupEvents()
	return g
}

func modifyNodeType(w *groupWorld, nodeType string) {
	w.t.Helper()
	w.call("ModifyReplicationGroup", func() error {
		_, err := w.svc.ModifyReplicationGroup(w.ctx, &elasticacheapi.ModifyReplicationGroupMessage{ReplicationGroupId: aws.String("rg"),
			CacheNodeType: aws.String(nodeType), ApplyImmediately: aws.Bool(true)})
		return err
	})
}

func (w *groupWorld) nodeID(g *elasticache.ReplicationGroup, member string) string {
	return EngineNodeID(elasticache.ClusterRef{Account: g.Account, Region: g.Region, ID: member}, "0001")
}

func TestGroupRollingNodeType(t *testing.T) {
	for _, tc := range []struct {
		name         string
		autoFailover bool
	}{{"automatic-failover", true}, {"no-automatic-failover", false}} {
		t.Run(tc.name, func(t *testing.T) {
			w := newGroupWorld(t, false)
			g := createGroup(w, 3, tc.autoFailover)
			primary := w.nodeID(g, "rg-001")
			before := w.engines.snapshot()
			oldMem := before[primary].spec.MaxMemory
			modifyNodeType(w, "cache.t3.small")
			g = w.settle("node type change", func(g *elasticache.ReplicationGroup) bool {
				procs := w.engines.snapshot()
				p, ok := procs[primary]
				if ok && p.pid == before[primary].pid && p.spec.MaxMemory != oldMem {
					t.Fatalf("the primary's engine changed spec in place")
				}
				if (!ok || p.pid != before[primary].pid) && g.Primary == "rg-001" {
					t.Fatalf("the primary's engine was stopped before the failover")
				}
				if !ok || p.pid != before[primary].pid {
					for _, m := range []string{"rg-002", "rg-003"} {
						if procs[w.nodeID(g, m)].spec.MaxMemory == oldMem && p.spec.Role.Replica() {
							t.Fatalf("the old primary was replaced before replica %s had the new spec", m)
						}
					}
				}
				return available(g) && g.Primary != "rg-001" && g.ObservedGeneration == g.Generation
			})
			w.checkRoles(g)
			procs := w.engines.snapshot()
			for _, m := range g.Members {
				p := procs[w.nodeID(g, m)]
				if p.spec.MaxMemory == oldMem {
					t.Errorf("member %s: engine maxmemory %d, want the new node type's", m, p.spec.MaxMemory)
				}
			}
			for _, m := range []string{"rg-002", "rg-003"} {
				if !w.engines.kept[w.nodeID(g, m)] {
					t.Errorf("replica %s stopped for its new spec without saving its data", m)
				}
			}
			if want := map[string]int{"roll": 1}; !maps.Equal(w.failovers, want) {
				t.Errorf("failovers counted = %v, want %v", w.failovers, want)
			}
			clusters, err := w.svc.Clusters(w.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range clusters {
				if c.NodeType != "cache.t3.small" || c.Pending != nil || c.Status != elasticache.StatusAvailable {
					t.Errorf("member %s: node type %s pending %+v status %s", c.ID, c.NodeType, c.Pending, c.Status)
				}
			}
			events := w.groupEvents()
			msg := "Failover from primary node rg-001 to replica node " + g.Primary + " completed"
			if !slices.Contains(events, "replication-group rg: "+msg) {
				t.Errorf("events %q lack the failover's", events)
			}
			for _, e := range events {
				if strings.Contains(e, "ecover") {
					t.Errorf("event %q: a rolling replacement recovers nothing", e)
				}
			}
		})
	}
}

func TestGroupSingleNodeTypeKeepsData(t *testing.T) {
	w := newGroupWorld(t, false)
	g := createGroup(w, 1, false)
	primary := w.nodeID(g, "rg-001")
	oldMem := w.engines.snapshot()[primary].spec.MaxMemory
	modifyNodeType(w, "cache.t3.small")
	g = w.settle("node type change", func(g *elasticache.ReplicationGroup) bool {
		return available(g) && g.ObservedGeneration == g.Generation && w.engines.snapshot()[primary].spec.MaxMemory != oldMem
	})
	if g.Primary != "rg-001" {
		t.Errorf("primary %s, want rg-001 (no replica to fail over to)", g.Primary)
	}
	if !w.engines.kept[primary] {
		t.Errorf("the single node stopped for its new spec without saving its data")
	}
	if len(w.failovers) != 0 {
		t.Errorf("failovers counted = %v, want none", w.failovers)
	}
	if !slices.Contains(w.engines.dataOf(), primary) {
		t.Errorf("the node's data was removed")
	}
}

func TestRollPrimary(t *testing.T) {
	running := engine.StateRunning
	spec := func(m memberView, nodeType, runs string) memberView {
		cl := *m.cl
		cl.NodeType, cl.EngineVersion = nodeType, "7.1"
		cl.Nodes = []elasticache.Node{{ID: "0001", Running: runs + "/7.1"}}
		m.cl = &cl
		return m
	}
	small, micro := "cache.t3.small", "cache.t3.micro"
	for _, tc := range []struct {
		name    string
		members []memberView
		want    string
	}{
		{"nothing-to-do", []memberView{spec(member("rg-001", running, false, 100), micro, micro),
			spec(member("rg-002", running, true, 90), micro, micro), spec(member("rg-003", running, true, 95), micro, micro)}, ""},
		{"replicas-done", []memberView{spec(member("rg-001", running, false, 100), small, micro),
			spec(member("rg-002", running, true, 90), small, small), spec(member("rg-003", running, true, 95), small, small)}, "rg-003"},
		{"a-replica-not-done", []memberView{spec(member("rg-001", running, false, 100), small, micro),
			spec(member("rg-002", running, true, 90), small, small), spec(member("rg-003", running, true, 95), small, micro)}, ""},
		{"replicas-on-another-spec", []memberView{spec(member("rg-001", running, false, 100), small, micro),
			spec(member("rg-002", running, true, 90), micro, micro), spec(member("rg-003", running, true, 95), micro, micro)}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := rollPrimary(testGroup(), groupView{members: tc.members})
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("rollPrimary = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}
