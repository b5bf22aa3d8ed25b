package cachectl

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

func TestOtherDatabases(t *testing.T) {
	for _, tt := range []struct {
		name, info string
		want       []string
	}{
		{"empty", "# Keyspace\r\n", nil},
		{"db0 only", "# Keyspace\r\ndb0:keys=200,expires=0,avg_ttl=0\r\n", nil},
		{"db1 and db15", "# Keyspace\r\ndb0:keys=2,expires=0,avg_ttl=0\r\ndb1:keys=1,expires=0,avg_ttl=0\r\ndb15:keys=3,expires=1,avg_ttl=9\r\n", []string{"db1", "db15"}},
		{"db1 without keys", "# Keyspace\r\ndb1:keys=0,expires=0,avg_ttl=0\r\n", nil},
	} {
		if diff := cmp.Diff(tt.want, otherDatabases(tt.info)); diff != "" {
			t.Errorf("otherDatabases(%s) (-want +got):\n%s", tt.name, diff)
		}
	}
}

// compatibleGroup is a group changing to compatible, checked and
// converted (elasticache.ConvertToCompatible): rg-001 the primary,
// rg-002 and rg-003 replicas still without cluster mode; and a view in
// which the primary runs as a cluster node owning slots.
func compatibleGroup(t *testing.T, slots string) (*elasticache.ReplicationGroup, []*elasticache.Cluster, shardView) {
	t.Helper()
	g := &elasticache.ReplicationGroup{ID: "rg", Family: "redis7", ParameterGroup: "default.redis7", AutomaticFailover: elasticache.FailoverEnabled,
		Status: elasticache.GroupModifying, Generation: 2, ObservedGeneration: 1, Members: []string{"rg-001", "rg-002", "rg-003"}, Primary: "rg-001",
		ModeChange: &elasticache.ModeChange{From: "disabled", To: "compatible", ParameterGroup: "default.redis7.cluster.on"}}
	var members []*elasticache.Cluster
	for _, id := range g.Members {
		replicaOf := "rg-001"
		if id == "rg-001" {
			replicaOf = ""
		}
		members = append(members, &elasticache.Cluster{ID: id, ParameterGroup: "default.redis7", Status: elasticache.StatusAvailable, Generation: 1,
			ObservedGeneration: 1, ReplicationGroupID: "rg", ReplicaOf: replicaOf, Nodes: []elasticache.Node{{ID: "0001"}}})
	}
	if !elasticache.ConvertToCompatible(g, members) {
		t.Fatal("ConvertToCompatible = false")
	}
	v := shardView{}
	for _, c := range members {
		m := shardMember{cl: c, known: true, state: engine.StateRunning, addr: "10.0.0.1:6379"}
		if c.ID == "rg-001" {
			c.Status, c.ObservedGeneration = elasticache.StatusAvailable, c.Generation
			m.myID, m.clusterOK, m.info = "p", true, &engine.ReplicationInfo{Role: "master"}
			m.view = parseClusterNodes("p 10.0.0.1:6379@16379 myself,master - 0 0 1 connected " + slots)
		}
		v[c.ID] = m
	}
	return g, members, v
}

func TestConvertToCompatible(t *testing.T) {
	g, members, _ := compatibleGroup(t, "0-16383")
	type role struct {
		replicaOf     string
		held, changed bool
		pg            string
	}
	got := map[string]role{}
	for _, c := range members {
		got[c.ID] = role{c.ReplicaOf, c.HoldOnCrash, c.ClusterModeChanged, c.ParameterGroup}
	}
	want := map[string]role{
		"rg-001": {"", false, true, "default.redis7.cluster.on"}, // not held while replicas cannot take over
		"rg-002": {"rg-001", false, false, "default.redis7"},
		"rg-003": {"rg-001", false, false, "default.redis7"},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(role{})); diff != "" {
		t.Errorf("members after ConvertToCompatible (-want +got):\n%s", diff)
	}
	if g.ClusterMode != elasticache.ClusterModeCompatible || len(g.Shards) != 1 || g.Shards[0].Slots != "0-16383" ||
		!cmp.Equal(g.ModeChange.Pending, []string{"rg-002", "rg-003"}) {
		t.Errorf("group after ConvertToCompatible: mode %s, shards %+v, pending %v", g.ClusterMode, g.Shards, g.ModeChange.Pending)
	}
}

// TestModeChangeRolls: the replicas move one at a time, once the primary
// owns every slot and every member moved so far follows it.
func TestModeChangeRolls(t *testing.T) {
	// The primary restarted and claimed the slots of its keys only: the
	// rest are given to it, and no replica moves yet.
	g, members, v := compatibleGroup(t, "0-100")
	cmds, meshed := meshCommands(g, v)
	if got := argsOf(cmds); !meshed || !cmp.Equal(got, []string{"rg-001: CLUSTER ADDSLOTSRANGE 101 16383"}) {
		t.Errorf("meshCommands(primary with slots 0-100) = %q, %v", got, meshed)
	}
	if d := decideShards(g, v, meshed); d.convert != "" || d.available {
		t.Errorf("decideShards(primary with slots 0-100) = %+v, want to wait", d)
	}

	g, members, v = compatibleGroup(t, "0-16383")
	cmds, meshed = meshCommands(g, v)
	d := decideShards(g, v, meshed)
	if len(cmds) != 0 || d.convert != "rg-002" {
		t.Fatalf("primary owning every slot: commands %q, decision %+v; want rg-002 moved", argsOf(cmds), d)
	}
	if _, ok := applyShardDecision(g, members, d, time.Now()); !ok {
		t.Fatal("applyShardDecision(convert) changed nothing")
	}
	r2, r3 := members[1], members[2]
	if !r2.ClusterModeChanged || !r2.Nodes[0].Replace || r2.ReplicaOf != "" || r3.ReplicaOf != "rg-001" || r3.ClusterModeChanged ||
		!cmp.Equal(g.ModeChange.Pending, []string{"rg-003"}) {
		t.Fatalf("after moving rg-002: %+v %+v, pending %v", *r2, *r3, g.ModeChange.Pending)
	}

	// rg-002 runs as a cluster node, not following yet: it is told to,
	// and rg-003 waits.
	r2.Nodes[0].Replace, r2.Status, r2.ObservedGeneration = false, elasticache.StatusAvailable, r2.Generation
	v["rg-002"] = shardMember{cl: r2, known: true, state: engine.StateRunning, addr: "10.0.0.2:6379", myID: "r2", clusterOK: true,
		info: &engine.ReplicationInfo{Role: "master"},
		view: parseClusterNodes("r2 10.0.0.2:6379@16379 myself,master - 0 0 0 connected\np 10.0.0.1:6379@16379 master - 0 0 1 connected 0-16383")}
	pv := v["rg-001"]
	pv.view = parseClusterNodes("p 10.0.0.1:6379@16379 myself,master - 0 0 1 connected 0-16383\nr2 10.0.0.2:6379@16379 master - 0 0 0 connected")
	v["rg-001"] = pv
	cmds, meshed = meshCommands(g, v)
	if got := argsOf(cmds); !meshed || !cmp.Equal(got, []string{"rg-002: auth rg-001", "rg-002: CLUSTER REPLICATE p"}) {
		t.Errorf("meshCommands(rg-002 moved) = %q, %v", got, meshed)
	}
	if d := decideShards(g, v, meshed); d.convert != "" {
		t.Errorf("decideShards(rg-002 not following) = %+v, want to wait", d)
	}

	// rg-002 follows: rg-003 moves.
	r2v := v["rg-002"]
	r2v.info = &engine.ReplicationInfo{Role: "slave", LinkUp: true}
	r2v.view = parseClusterNodes("r2 10.0.0.2:6379@16379 myself,slave p 0 0 0 connected\np 10.0.0.1:6379@16379 master - 0 0 1 connected 0-16383")
	v["rg-002"] = r2v
	if d := decideShards(g, v, true); d.convert != "rg-003" {
		t.Errorf("decideShards(rg-002 following) = %+v, want rg-003 moved", d)
	}
}

// TestModeChangeHoldsPrimaryOnceMoved: the primary is held on crash
// (automatic failover) again once the last replica has moved.
func TestModeChangeHoldsPrimaryOnceMoved(t *testing.T) {
	g, members, _ := compatibleGroup(t, "0-16383")
	elasticache.ConvertReplica(g, members, "rg-002")
	if members[0].HoldOnCrash {
		t.Fatal("primary held with rg-003 still without cluster mode")
	}
	elasticache.ConvertReplica(g, members, "rg-003")
	if !members[0].HoldOnCrash || members[2].ReplicaOf != "" {
		t.Errorf("after the last replica moved: primary held %v, rg-003 replicaof %q", members[0].HoldOnCrash, members[2].ReplicaOf)
	}
}
