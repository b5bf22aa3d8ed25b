package cachectl

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// testCluster is a cluster-mode group of shards × (1 + replicas) members
// and a view in which its Redis Cluster is converged: every node knows
// every other, each shard's primary holds its slots, replicas follow.
func testCluster(shards, replicas int) (*elasticache.ReplicationGroup, shardView) {
	g := &elasticache.ReplicationGroup{ID: "rg", ClusterMode: elasticache.ClusterModeEnabled, AutomaticFailover: elasticache.FailoverEnabled,
		Status: elasticache.GroupCreating, Generation: 1}
	slots := []string{"0-5461", "5462-10922", "10923-16383"}
	var lines []string
	ids := map[string]string{}
	for i := range shards {
		sh := elasticache.Shard{ID: fmt.Sprintf("%04d", i+1), Slots: slots[i]}
		for k := range replicas + 1 {
			m := fmt.Sprintf("rg-%04d-%03d", i+1, k+1)
			sh.Members = append(sh.Members, m)
			g.Members = append(g.Members, m)
			ids[m] = fmt.Sprintf("%040d", len(ids)+1)
		}
		sh.Primary = sh.Members[0]
		g.Shards = append(g.Shards, sh)
		for k, m := range sh.Members {
			if k == 0 {
				lines = append(lines, fmt.Sprintf("%s 10.0.0.%d:6379@16379 master - 0 0 1 connected %s", ids[m], len(lines)+1, sh.Slots))
			} else {
				lines = append(lines, fmt.Sprintf("%s 10.0.0.%d:6379@16379 slave %s 0 0 1 connected", ids[m], len(lines)+1, ids[sh.Primary]))
			}
		}
	}
	v := shardView{}
	for _, sh := range g.Shards {
		for k, m := range sh.Members {
			view := parseClusterNodes(strings.ReplaceAll(strings.Join(lines, "\n"), ids[m]+" 10", ids[m]+" 10"))
			for i := range view {
				if view[i].id == ids[m] {
					view[i].flags = append([]string{"myself"}, view[i].flags...)
				}
			}
			info := &engine.ReplicationInfo{Role: "master"}
			if k > 0 {
				info = &engine.ReplicationInfo{Role: "slave", LinkUp: true, Offset: int64(k)}
			}
			cl := &elasticache.Cluster{ID: m, Status: elasticache.StatusAvailable, Generation: 1, ObservedGeneration: 1,
				Nodes: []elasticache.Node{{ID: "0001"}}}
			v[m] = shardMember{cl: cl, known: true, state: engine.StateRunning, addr: "10.0.0.1:6379", myID: ids[m], view: view, info: info, clusterOK: true}
		}
	}
	return g, v
}

func TestShardConverged(t *testing.T) {
	g, v := testCluster(3, 1)
	cmds, meshed := meshCommands(g, v)
	if len(cmds) != 0 || !meshed {
		t.Fatalf("meshCommands(converged) = %v, %v; want nothing, meshed", cmds, meshed)
	}
	if d := decideShards(g, v, meshed); !d.available {
		t.Errorf("decideShards(converged, creating) = %+v, want available", d)
	}
}
