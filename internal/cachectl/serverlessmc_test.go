package cachectl

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// TestDecideMemcachedServerless: a serverless Memcached cache's group is
// available once its one member is available at its generation with its
// engine running (no INFO replication: memcached has none), never before;
// removed once deleting and its member is gone.
func TestDecideMemcachedServerless(t *testing.T) {
	group := func(status string, gen, observed int64) *elasticache.ReplicationGroup {
		return &elasticache.ReplicationGroup{Account: "000000000000", Region: "us-east-1", ID: "rg", Engine: "memcached",
			Members: []string{"rg-001"}, Primary: "rg-001", AutomaticFailover: elasticache.FailoverDisabled,
			Status: status, Generation: gen, ObservedGeneration: observed, Serverless: &elasticache.Serverless{Name: "mc"}}
	}
	view := func(status string, state engine.State) groupView {
		cl := testMember("rg-001")
		cl.Status = status
		return groupView{members: []memberView{{cl: cl, known: state != "", state: state}}}
	}
	tests := []struct {
		name string
		g    *elasticache.ReplicationGroup
		v    groupView
		want decision
	}{
		{"creating, member creating", group(elasticache.GroupCreating, 1, 0), view(elasticache.StatusCreating, engine.StateRunning), decision{}},
		{"creating, engine not supervised", group(elasticache.GroupCreating, 1, 0), view(elasticache.StatusAvailable, ""), decision{}},
		{"creating, engine restarting", group(elasticache.GroupCreating, 1, 0), view(elasticache.StatusAvailable, engine.StateRestarting), decision{}},
		{"creating, member gone", group(elasticache.GroupCreating, 1, 0), groupView{}, decision{}},
		{"creating, member running", group(elasticache.GroupCreating, 1, 0), view(elasticache.StatusAvailable, engine.StateRunning), decision{available: true}},
		{"modifying, member running", group(elasticache.GroupModifying, 2, 1), view(elasticache.StatusAvailable, engine.StateRunning), decision{available: true}},
		{"modifying, member modifying", group(elasticache.GroupModifying, 2, 1), view(elasticache.StatusModifying, engine.StateRunning), decision{}},
		{"available, converged", group(elasticache.GroupAvailable, 2, 2), view(elasticache.StatusAvailable, engine.StateRunning), decision{}},
		{"deleting, member stopping", group(elasticache.GroupDeleting, 3, 2), view(elasticache.StatusDeleting, engine.StateRunning), decision{}},
		{"deleting, member gone", group(elasticache.GroupDeleting, 3, 2), groupView{}, decision{remove: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decideMemcachedServerless(tt.g, tt.v); got != tt.want {
				t.Errorf("decideMemcachedServerless = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestPlanMemcachedServerless: a serverless Memcached cache's member has
// no configuration endpoint (a node-based memcached cluster has one), and
// runs without the Redis eviction policy, limited to its data maximum.
func TestPlanMemcachedServerless(t *testing.T) {
	cl := cluster("memcached", elasticache.StatusCreating, 1, 0, "0001-")
	cl.ServerlessCache, cl.Port, cl.ReaderPort, cl.DataLimit = "mc", 11211, 11212, 32<<20
	var got []string
	for _, s := range plan(cl, observed{engines: map[string]engine.State{}}) {
		got = append(got, s.String())
	}
	want := []string{"create-interface 0001", "sync-network", "resolve-spec", "nodes 0001:start", "write-status"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	values := serverlessValues(cl, map[string]string{"max_item_size": "1048576"})
	if _, ok := values["maxmemory-policy"]; ok || maxMemory(cl, 1<<30, values) != 32<<20 {
		t.Errorf("values %v, max memory %d; want no maxmemory-policy, %d", values, maxMemory(cl, 1<<30, values), 32<<20)
	}
	cl.Status, cl.ObservedGeneration, cl.Nodes[0].InterfaceID, cl.Nodes[0].IP = elasticache.StatusAvailable, 1, "eni-1", "172.31.0.5"
	if steps := plan(cl, observed{engines: running("0001")}); len(steps) != 0 {
		t.Errorf("plan of a converged member = %v, want none (no configuration endpoint to serve)", steps)
	}
}
