package cachectl

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The failover policy, without engines: a group rg of three members, rg-001
// the primary, and what was observed of them.

func testGroup() *elasticache.ReplicationGroup {
	return &elasticache.ReplicationGroup{Account: "000000000000", Region: "us-east-1", ID: "rg",
		Members: []string{"rg-001", "rg-002", "rg-003"}, Primary: "rg-001", AutomaticFailover: elasticache.FailoverEnabled,
		Status: elasticache.GroupAvailable, Generation: 3, ObservedGeneration: 3}
}

func testMember(id string) *elasticache.Cluster {
	return &elasticache.Cluster{Account: "000000000000", Region: "us-east-1", ID: id, ReplicationGroupID: "rg",
		Status: elasticache.StatusAvailable, Generation: 2, ObservedGeneration: 2, Nodes: []elasticache.Node{{ID: "0001"}}}
}

// member is an observation: state "" is not supervised; offset < 0 does
// not answer INFO.
func member(id string, state engine.State, replica bool, offset int64) memberView {
	cl := testMember(id)
	m := memberView{cl: cl, known: state != "", state: state}
	primary := EngineNodeID(elasticache.ClusterRef{Account: cl.Account, Region: cl.Region, ID: "rg-001"}, "0001")
	if replica {
		cl.ReplicaOf = "rg-001"
		m.role = engine.Role{ReplicaOf: engine.Upstream{NodeID: primary, Host: "10.0.0.4", Port: 6379}}
	} else {
		cl.HoldOnCrash = true
		m.role = engine.Role{HoldOnCrash: true}
	}
	if offset >= 0 && state == engine.StateRunning {
		info := engine.ReplicationInfo{Role: "master", Offset: offset}
		if replica {
			info = engine.ReplicationInfo{Role: "slave", LinkUp: true, Offset: offset}
		}
		m.info = &info
	}
	return m
}

func TestDecide(t *testing.T) {
	p := policy{failures: 3}
	running := engine.StateRunning
	healthy := []memberView{member("rg-001", running, false, 100), member("rg-002", running, true, 90), member("rg-003", running, true, 95)}
	withPrimary := func(m memberView) []memberView { return []memberView{m, healthy[1], healthy[2]} }
	for _, tc := range []struct {
		name     string
		edit     func(g *elasticache.ReplicationGroup)
		members  []memberView
		failures int
		want     decision
	}{
		{"converged", nil, healthy, 0, decision{}},
		{"creating-converged", func(g *elasticache.ReplicationGroup) { g.Status = elasticache.GroupCreating }, healthy, 0, decision{available: true}},
		{"enabling-converged", func(g *elasticache.ReplicationGroup) { g.AutomaticFailover = elasticache.FailoverEnabling }, healthy, 0, decision{available: true}},
		{"creating-replica-not-linked", func(g *elasticache.ReplicationGroup) { g.Status = elasticache.GroupCreating },
			[]memberView{healthy[0], healthy[1], member("rg-003", running, true, -1)}, 0, decision{}},
		{"primary-exited", nil, withPrimary(member("rg-001", engine.StateFailed, false, -1)), 0,
			decision{failover: &switchTo{from: "rg-001", to: "rg-003", reason: "engine exited"}}},
		{"primary-hung", nil, withPrimary(member("rg-001", running, false, -1)), 3,
			decision{failover: &switchTo{from: "rg-001", to: "rg-003", reason: "not answering its health check"}}},
		{"primary-slow-once", nil, withPrimary(member("rg-001", running, false, -1)), 2, decision{}},
		{"primary-not-adopted-yet", nil, withPrimary(member("rg-001", "", false, -1)), 0, decision{}},
		{"primary-exited-no-failover", func(g *elasticache.ReplicationGroup) { g.AutomaticFailover = elasticache.FailoverDisabled },
			withPrimary(member("rg-001", engine.StateFailed, false, -1)), 0, decision{}},
		{"primary-exited-replicas-down", nil,
			[]memberView{member("rg-001", engine.StateFailed, false, -1), member("rg-002", engine.StateRestarting, true, -1), member("rg-003", running, true, -1)}, 0,
			decision{failover: &switchTo{from: "rg-001", reason: "engine exited"}}},
		{"test-requested", func(g *elasticache.ReplicationGroup) {
			g.Failover = &elasticache.Failover{From: "rg-001", Test: true, Phase: elasticache.PhaseRequested}
		}, healthy, 0, decision{failover: &switchTo{from: "rg-001", to: "rg-003", reason: "test failover"}}},
		{"test-no-replica", func(g *elasticache.ReplicationGroup) {
			g.Failover = &elasticache.Failover{From: "rg-001", Test: true, Phase: elasticache.PhaseRequested}
		}, []memberView{healthy[0], member("rg-002", engine.StateFailed, true, -1), member("rg-003", "", true, -1)}, 0, decision{cancel: true}},
		{"promoting-not-yet", func(g *elasticache.ReplicationGroup) {
			g.Primary, g.Failover = "rg-003", &elasticache.Failover{From: "rg-001", To: "rg-003", Phase: elasticache.PhasePromoting}
		}, withPrimary(member("rg-001", engine.StateFailed, false, -1)), 0, decision{}},
		{"promoting-done", func(g *elasticache.ReplicationGroup) {
			g.Primary, g.Failover = "rg-003", &elasticache.Failover{From: "rg-001", To: "rg-003", Phase: elasticache.PhasePromoting}
		}, []memberView{member("rg-001", engine.StateFailed, false, -1), healthy[1], member("rg-003", running, false, 95)}, 0, decision{promoted: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testGroup()
			if tc.edit != nil {
				tc.edit(g)
			}
			got := p.decide(g, groupView{members: tc.members, failures: tc.failures})
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(decision{}, switchTo{}), cmpopts.IgnoreFields(switchTo{}, "offsets")); diff != "" {
				t.Errorf("decide() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChooseReplicaLeastLag: the replica furthest along the replication
// stream is promoted; ties go to the first in the group's order; replicas
// being replaced, not running or not answering are passed over.
func TestChooseReplicaLeastLag(t *testing.T) {
	running := engine.StateRunning
	replaced := member("rg-004", running, true, 500)
	replaced.cl.Nodes[0].Replace = true
	v := groupView{members: []memberView{
		member("rg-001", engine.StateFailed, false, -1),
		member("rg-002", running, true, 70),
		member("rg-003", running, true, 70),
		replaced,
		member("rg-005", running, true, -1),
		member("rg-006", engine.StateRestarting, true, 900),
	}}
	if got := chooseReplica(v, "rg-001"); got != "rg-002" {
		t.Errorf("chooseReplica() = %q, want rg-002 (offset 70, first of a tie)", got)
	}
}

// TestApplyDecisionFailover: the phases of a failover write the roles and
// ElastiCache's events, in its order.
func TestApplyDecisionFailover(t *testing.T) {
	g := testGroup()
	members := []*elasticache.Cluster{testMember("rg-001"), testMember("rg-002"), testMember("rg-003")}
	members[0].HoldOnCrash = true
	members[1].ReplicaOf, members[2].ReplicaOf = "rg-001", "rg-001"
	now := time.Unix(1700000000, 0).UTC()
	var events []string
	step := func(d decision) {
		t.Helper()
		ev, changed := applyDecision(g, members, d, now)
		if !changed {
			t.Fatalf("applyDecision(%+v) changed nothing", d)
		}
		for _, e := range ev {
			events = append(events, e.SourceType+" "+e.SourceID+": "+e.Message)
		}
	}
	step(decision{failover: &switchTo{from: "rg-001", to: "rg-002"}})
	if g.Primary != "rg-002" || g.Status != elasticache.GroupModifying || g.Failover.Phase != elasticache.PhasePromoting {
		t.Errorf("after the switch: primary %s, status %s, failover %+v", g.Primary, g.Status, g.Failover)
	}
	roles := map[string]string{}
	for _, c := range members {
		roles[c.ID] = c.ReplicaOf
	}
	if diff := cmp.Diff(map[string]string{"rg-001": "rg-002", "rg-002": "", "rg-003": "rg-002"}, roles); diff != "" {
		t.Errorf("roles after the switch (-want +got):\n%s", diff)
	}
	if !members[0].Nodes[0].Replace || !members[1].HoldOnCrash || members[0].HoldOnCrash {
		t.Errorf("old primary replace=%v hold=%v, new primary hold=%v; want replaced, not held; held", members[0].Nodes[0].Replace, members[0].HoldOnCrash, members[1].HoldOnCrash)
	}
	step(decision{promoted: true})
	step(decision{recovered: true})
	step(decision{available: true})
	want := []string{
		"cache-cluster rg-002: Failover from primary node rg-001 to replica node rg-002 completed",
		"replication-group rg: Failover from primary node rg-001 to replica node rg-002 completed",
		"cache-cluster rg-001: Recovering cache nodes 0001",
		"cache-cluster rg-001: Finished recovery for cache nodes 0001",
	}
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if g.Failover != nil || g.Status != elasticache.GroupAvailable || g.ObservedGeneration != g.Generation {
		t.Errorf("after recovery: failover %+v, status %s, observed %d of %d", g.Failover, g.Status, g.ObservedGeneration, g.Generation)
	}
}

// TestApplyDecisionAvailableEvents: a group becoming available for the
// first time records "Replication group <id> created" (source type
// replication-group); becoming available again after a modification
// records nothing.
func TestApplyDecisionAvailableEvents(t *testing.T) {
	for _, tc := range []struct {
		from string
		want []elasticache.GroupEvent
	}{
		{elasticache.GroupCreating, []elasticache.GroupEvent{{SourceType: "replication-group", SourceID: "rg", Message: "Replication group rg created"}}},
		{elasticache.GroupModifying, nil},
	} {
		g := testGroup()
		g.Status = tc.from
		members := []*elasticache.Cluster{testMember("rg-001"), testMember("rg-002")}
		ev, changed := applyDecision(g, members, decision{available: true}, time.Unix(1700000000, 0).UTC())
		if !changed || g.Status != elasticache.GroupAvailable {
			t.Fatalf("from %s: changed %v, status %s", tc.from, changed, g.Status)
		}
		if diff := cmp.Diff(tc.want, ev); diff != "" {
			t.Errorf("events from %s (-want +got):\n%s", tc.from, diff)
		}
	}
}

func TestAwaitingLinks(t *testing.T) {
	running := engine.StateRunning
	unlinked := func(id string) memberView {
		m := member(id, running, true, 0)
		m.info.LinkUp = false
		return m
	}
	healthy := []memberView{member("rg-001", running, false, 100), member("rg-002", running, true, 90), member("rg-003", running, true, 95)}
	for _, tc := range []struct {
		name    string
		members []memberView
		want    bool
	}{
		{"converged", healthy, false},
		{"one-syncing", []memberView{healthy[0], healthy[1], unlinked("rg-003")}, true},
		{"all-syncing", []memberView{healthy[0], unlinked("rg-002"), unlinked("rg-003")}, true},
		{"one-not-started", []memberView{healthy[0], unlinked("rg-002"), member("rg-003", "", true, -1)}, false},
		{"primary-not-answering", []memberView{member("rg-001", running, false, -1), unlinked("rg-002"), healthy[2]}, false},
		{"member-missing", []memberView{healthy[0], unlinked("rg-002")}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testGroup()
			g.Status = elasticache.GroupCreating
			if got := awaitingLinks(g, groupView{members: tc.members}); got != tc.want {
				t.Errorf("awaitingLinks = %v, want %v", got, tc.want)
			}
		})
	}
}
