package cachectl

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

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
			view := parseClusterNodes(strings.Join(lines, "\n"))
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

// argsOf renders commands one per line ("member: CLUSTER …").
func argsOf(cmds []clusterCmd) []string {
	var out []string
	for _, c := range cmds {
		if c.authTo != "" {
			out = append(out, c.member+": auth "+c.authTo)
			continue
		}
		out = append(out, c.member+": "+strings.Join(c.args, " "))
	}
	return out
}

// address gives every member its own address, 10.0.0.<n>:6379.
func address(g *elasticache.ReplicationGroup, v shardView) {
	for i, id := range g.Members {
		m := v[id]
		m.addr = fmt.Sprintf("10.0.0.%d:6379", i+1)
		v[id] = m
	}
}

// newCluster is testCluster's group before anything formed: each member
// an addressed node that knows only itself, cluster_state fail.
func newCluster(shards, replicas int) (*elasticache.ReplicationGroup, shardView) {
	g, v := testCluster(shards, replicas)
	address(g, v)
	for i, id := range g.Members {
		fresh(v, id, fmt.Sprintf("n%d", i+1))
		m := v[id]
		m.clusterOK = false
		v[id] = m
	}
	return g, v
}

// fresh makes a member a node that knows only itself, without slots.
func fresh(v shardView, id, myID string) {
	m := v[id]
	m.myID = myID
	m.view = []clusterLine{{id: myID, addr: m.addr + "@16379", flags: []string{"myself", "master"}, connected: true}}
	m.info = &engine.ReplicationInfo{Role: "master"}
	v[id] = m
}

func TestShardCommands(t *testing.T) {
	t.Run("New", func(t *testing.T) {
		g, v := newCluster(2, 1)
		got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }())
		// Every shard has a replica: it forms by takeover (bootstrapOf),
		// the slots first on each shard's replica member.
		want := []string{
			"rg-0001-002: CLUSTER ADDSLOTSRANGE 0 5461",
			"rg-0002-002: CLUSTER ADDSLOTSRANGE 5462 10922",
		}
		if len(got) != 2+12 || !slicesEqual(got[:2], want) || !strings.HasPrefix(got[2], "rg-0001-001: CLUSTER MEET 10.0.0.2 6379") {
			t.Errorf("meshCommands(new) =\n%s", strings.Join(got, "\n"))
		}
	})
	t.Run("NewWithoutReplicas", func(t *testing.T) {
		g, v := newCluster(2, 0)
		got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }())
		want := []string{
			"rg-0001-001: CLUSTER ADDSLOTSRANGE 0 5461",
			"rg-0002-001: CLUSTER ADDSLOTSRANGE 5462 10922",
		}
		if len(got) != 2+2 || !slicesEqual(got[:2], want) {
			t.Errorf("meshCommands(new, no replicas) =\n%s", strings.Join(got, "\n"))
		}
	})
	t.Run("ReplicaNotFollowing", func(t *testing.T) {
		g, v := testCluster(2, 1)
		m := v["rg-0002-002"]
		for i := range m.view {
			if m.view[i].id == m.myID {
				m.view[i].flags, m.view[i].master = []string{"myself", "master"}, ""
			}
		}
		m.info = &engine.ReplicationInfo{Role: "master"}
		v["rg-0002-002"] = m
		got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }())
		want := []string{"rg-0002-002: auth rg-0002-001", "rg-0002-002: CLUSTER REPLICATE " + v["rg-0002-001"].myID}
		if !slicesEqual(got, want) {
			t.Errorf("meshCommands(replica as master) = %q, want %q", got, want)
		}
		if d := decideShards(g, v, true); d.available {
			t.Errorf("decideShards(replica not following) = available")
		}
	})
	t.Run("StaleNode", func(t *testing.T) {
		g, v := testCluster(1, 1)
		for id, m := range v {
			m.view = append(m.view, clusterLine{id: "dead", addr: "10.0.0.9:6379@16379", flags: []string{"master", "fail"}})
			v[id] = m
		}
		got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }())
		want := []string{"rg-0001-001: CLUSTER FORGET dead", "rg-0001-002: CLUSTER FORGET dead"}
		if !slicesEqual(got, want) {
			t.Errorf("meshCommands(stale node) = %q, want %q", got, want)
		}
	})
	t.Run("LinkDown", func(t *testing.T) {
		g, v := testCluster(1, 1)
		m := v["rg-0001-002"]
		m.info = &engine.ReplicationInfo{Role: "slave", LinkUp: false}
		v["rg-0001-002"] = m
		got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }())
		if want := []string{"rg-0001-002: auth rg-0001-001", "rg-0001-002: CLUSTER REPLICATE " + v["rg-0001-001"].myID}; !slicesEqual(got, want) {
			t.Errorf("meshCommands(link down) = %q, want %q", got, want)
		}
	})
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

func TestShardFailover(t *testing.T) {
	t.Run("PrimaryDied", func(t *testing.T) {
		g, v := testCluster(3, 2)
		g.Status = elasticache.GroupAvailable
		m := v["rg-0002-001"]
		m.state, m.myID, m.view, m.info = engine.StateFailed, "", nil, nil
		v["rg-0002-001"] = m
		r := v["rg-0002-003"]
		r.info = &engine.ReplicationInfo{Role: "slave", LinkUp: true, Offset: 99}
		v["rg-0002-003"] = r
		d := decideShards(g, v, false)
		if d.failover == nil || d.failover.from != "rg-0002-001" || d.failover.to != "rg-0002-003" || !d.failover.replace {
			t.Fatalf("decideShards(primary died) = %+v, want rg-0002-001 → rg-0002-003 (highest offset), replaced", d.failover)
		}
		members := make([]*elasticache.Cluster, 0, len(v))
		for _, id := range g.Members {
			members = append(members, v[id].cl)
		}
		applyShardDecision(g, members, d, time.Time{})
		sh, _ := g.Shard("0002")
		if sh.Primary != "rg-0002-003" || g.Failover.Phase != elasticache.PhasePromoting || !v["rg-0002-001"].cl.Nodes[0].Replace ||
			!v["rg-0002-003"].cl.HoldOnCrash || v["rg-0002-001"].cl.HoldOnCrash {
			t.Errorf("after the decision: primary %s, failover %+v, old node replaced %v, holds %v/%v", sh.Primary, g.Failover,
				v["rg-0002-001"].cl.Nodes[0].Replace, v["rg-0002-003"].cl.HoldOnCrash, v["rg-0002-001"].cl.HoldOnCrash)
		}
		if cmds, _ := meshCommands(g, v); len(cmds) != 0 {
			t.Errorf("meshCommands(promoting) = %q, want nothing (the promoted replica takes the slots)", argsOf(cmds))
		}
	})
	t.Run("TestFailover", func(t *testing.T) {
		g, v := testCluster(2, 1)
		g.Status = elasticache.GroupModifying
		g.Failover = &elasticache.Failover{From: "rg-0001-001", Test: true, Phase: elasticache.PhaseRequested}
		d := decideShards(g, v, true)
		if d.failover == nil || d.failover.to != "rg-0001-002" || d.failover.replace {
			t.Errorf("decideShards(test requested) = %+v, want rg-0001-002, not replaced", d.failover)
		}
	})
	t.Run("AdoptClusterFailover", func(t *testing.T) {
		g, v := testCluster(1, 1)
		g.Status = elasticache.GroupAvailable
		// The cluster promoted the replica itself: the old primary runs as
		// its replica.
		p, r := v["rg-0001-001"], v["rg-0001-002"]
		for _, m := range []*shardMember{&p, &r} {
			for i := range m.view {
				switch m.view[i].id {
				case p.myID:
					m.view[i].flags, m.view[i].master, m.view[i].slots = []string{"slave"}, r.myID, nil
				case r.myID:
					m.view[i].flags, m.view[i].master, m.view[i].slots = []string{"master"}, "", []elasticache.SlotRange{{From: 0, To: 5461}}
				}
				if m.view[i].id == m.myID {
					m.view[i].flags = append([]string{"myself"}, m.view[i].flags...)
				}
			}
		}
		v["rg-0001-001"], v["rg-0001-002"] = p, r
		d := decideShards(g, v, true)
		if d.failover == nil || d.failover.from != "rg-0001-001" || d.failover.to != "rg-0001-002" || d.failover.replace {
			t.Errorf("decideShards(cluster failed over) = %+v, want adopted, not replaced", d.failover)
		}
	})
	t.Run("Deleted", func(t *testing.T) {
		g := &elasticache.ReplicationGroup{ClusterMode: elasticache.ClusterModeEnabled, Status: elasticache.GroupDeleting}
		if d := decideShards(g, shardView{}, false); !d.remove {
			t.Errorf("decideShards(deleted, no member left) = %+v, want remove", d)
		}
	})
}

// TestServerlessFailBack: a serverless cache's group, converged with its
// primary on another member than its first (the write port's, after a
// lost engine was replaced), fails back to the first by a coordinated
// failover; a node-based cluster-mode group in that state does not.
func TestServerlessFailBack(t *testing.T) {
	g, v := testCluster(1, 1)
	g.Status, g.ObservedGeneration = elasticache.GroupAvailable, g.Generation
	// The first member (the write port's) is the replica now.
	g.Shards[0].Members = []string{"rg-0001-002", "rg-0001-001"}
	if d := decideShards(g, v, true); d != (shardDecision{}) {
		t.Errorf("decideShards(node-based group, primary not first) = %+v, want nothing", d)
	}
	g.Serverless = &elasticache.Serverless{Name: "sess"}
	d := decideShards(g, v, true)
	if d.failover == nil || d.failover.from != "rg-0001-001" || d.failover.to != "rg-0001-002" || d.failover.replace {
		t.Fatalf("decideShards(serverless, primary not first) = %+v, want a coordinated failover back to rg-0001-002", d)
	}
	members := []*elasticache.Cluster{v["rg-0001-001"].cl, v["rg-0001-002"].cl}
	if _, changed := applyShardDecision(g, members, d, time.Now()); !changed {
		t.Fatal("applyShardDecision(fail back) changed nothing")
	}
	if f := g.Failover; f == nil || !f.Test || f.To != "rg-0001-002" || f.Phase != elasticache.PhasePromoting || members[0].Nodes[0].Replace {
		t.Errorf("after fail back: failover %+v, replace %v; want a coordinated (test) failover to rg-0001-002, nothing replaced", f, members[0].Nodes[0].Replace)
	}
	g, v = testCluster(1, 1)
	g.Status, g.ObservedGeneration = elasticache.GroupAvailable, g.Generation
	g.Serverless = &elasticache.Serverless{Name: "sess"}
	if d := decideShards(g, v, true); d != (shardDecision{}) {
		t.Errorf("decideShards(serverless, primary first) = %+v, want nothing", d)
	}
}

// TestServerlessBootstrap: a new serverless cache's cluster forms by a
// takeover: the slots to the second member, the first follows it and,
// once it says cluster_state:ok as a replica, takes the slots over; no
// failover is recorded meanwhile; then the second follows the first. A
// restore (data on the first member) forms the usual way.
func TestServerlessBootstrap(t *testing.T) {
	setup := func() (*elasticache.ReplicationGroup, shardView) {
		g, v := newCluster(1, 1)
		g.Serverless = &elasticache.Serverless{Name: "sl"}
		g.Shards[0].Slots = "0-16383"
		return g, v
	}
	// line is a node's line as it shows in a view.
	line := func(id, addr string, flags []string, master string, slots string) clusterLine {
		l := clusterLine{id: id, addr: addr + "@16379", flags: flags, master: master, connected: true}
		if slots != "" {
			l.slots, _ = elasticache.ParseSlots(slots)
		}
		return l
	}
	cmds := func(g *elasticache.ReplicationGroup, v shardView) []string {
		c, _ := meshCommands(g, v)
		return argsOf(c)
	}

	g, v := setup()
	if got := cmds(g, v); len(got) < 1 || got[0] != "rg-0001-002: CLUSTER ADDSLOTSRANGE 0 16383" {
		t.Fatalf("new serverless cache: %q, want the slots to rg-0001-002 first", got)
	}
	g.RestoreSnapshot = "snap"
	if got := cmds(g, v); len(got) < 1 || got[0] != "rg-0001-001: CLUSTER ADDSLOTSRANGE 0 16383" {
		t.Errorf("restoring serverless cache: %q, want the slots to its primary rg-0001-001", got)
	}
	g.RestoreSnapshot = ""

	// The second member holds the slots, both know each other: the first
	// follows it, and no failover is taken for it.
	p, o := v["rg-0001-001"], v["rg-0001-002"]
	p.view = []clusterLine{line("n1", "10.0.0.1:6379", []string{"myself", "master"}, "", ""), line("n2", "10.0.0.2:6379", []string{"master"}, "", "0-16383")}
	o.view = []clusterLine{line("n1", "10.0.0.1:6379", []string{"master"}, "", ""), line("n2", "10.0.0.2:6379", []string{"myself", "master"}, "", "0-16383")}
	v["rg-0001-001"], v["rg-0001-002"] = p, o
	if got, want := cmds(g, v), []string{"rg-0001-001: auth rg-0001-002", "rg-0001-001: CLUSTER REPLICATE n2"}; !slicesEqual(got, want) {
		t.Errorf("slots on the second member: %q, want %q", got, want)
	}
	// Following it, not ok yet: nothing; ok: the takeover.
	p.view[0] = line("n1", "10.0.0.1:6379", []string{"myself", "slave"}, "n2", "")
	p.info = &engine.ReplicationInfo{Role: "slave"}
	v["rg-0001-001"] = p
	if got := cmds(g, v); len(got) != 0 {
		t.Errorf("following, cluster_state fail: %q, want nothing", got)
	}
	if d := decideShards(g, v, true); d != (shardDecision{}) {
		t.Errorf("decideShards(forming by takeover) = %+v, want nothing (no failover)", d)
	}
	p.clusterOK = true
	v["rg-0001-001"] = p
	if got, want := cmds(g, v), []string{"rg-0001-001: CLUSTER FAILOVER TAKEOVER"}; !slicesEqual(got, want) {
		t.Errorf("following, cluster_state ok: %q, want %q", got, want)
	}
	// Taken over: the second member follows the first, the usual way.
	p.view = []clusterLine{line("n1", "10.0.0.1:6379", []string{"myself", "master"}, "", "0-16383"), line("n2", "10.0.0.2:6379", []string{"master"}, "", "")}
	p.info = &engine.ReplicationInfo{Role: "master"}
	o.view = []clusterLine{line("n1", "10.0.0.1:6379", []string{"master"}, "", "0-16383"), line("n2", "10.0.0.2:6379", []string{"myself", "master"}, "", "")}
	v["rg-0001-001"], v["rg-0001-002"] = p, o
	if got, want := cmds(g, v), []string{"rg-0001-002: auth rg-0001-001", "rg-0001-002: CLUSTER REPLICATE n1"}; !slicesEqual(got, want) {
		t.Errorf("taken over: %q, want %q", got, want)
	}
	// A node-based cluster-mode group of the same shape forms the same
	// way; one being restored the usual way.
	g, v = setup()
	g.Serverless = nil
	if got := cmds(g, v); len(got) < 1 || got[0] != "rg-0001-002: CLUSTER ADDSLOTSRANGE 0 16383" {
		t.Errorf("node-based group: %q, want the slots to rg-0001-002 first", got)
	}
	g.RestoreSnapshot = "snap"
	if got := cmds(g, v); len(got) < 1 || got[0] != "rg-0001-001: CLUSTER ADDSLOTSRANGE 0 16383" {
		t.Errorf("node-based group restoring: %q, want the slots to its primary", got)
	}
}

// Forming by takeover, shard by shard: a shard taken over is formed (its
// other member's slots are not another shard's), the others go on, and
// the usual commands wait until every shard is formed.
func TestBootstrapShards(t *testing.T) {
	g, v := newCluster(2, 1)
	l := func(id, addr string, flags []string, master, slots string) clusterLine {
		c := clusterLine{id: id, addr: addr + "@16379", flags: flags, master: master, connected: true}
		if slots != "" {
			c.slots, _ = elasticache.ParseSlots(slots)
		}
		return c
	}
	// Shard 1 taken over (n1 holds 0-5461); shard 2's slots still on its
	// replica member n4, which n3 follows, ok: n3 takes over.
	view := func(self string) []clusterLine {
		lines := []clusterLine{
			l("n1", "10.0.0.1:6379", []string{"master"}, "", "0-5461"),
			l("n2", "10.0.0.2:6379", []string{"slave"}, "n1", ""),
			l("n3", "10.0.0.3:6379", []string{"slave"}, "n4", ""),
			l("n4", "10.0.0.4:6379", []string{"master"}, "", "5462-10922"),
		}
		for i := range lines {
			if lines[i].id == self {
				lines[i].flags = append([]string{"myself"}, lines[i].flags...)
			}
		}
		return lines
	}
	for i, id := range g.Members {
		m := v[id]
		m.view = view(fmt.Sprintf("n%d", i+1))
		m.clusterOK = true
		if i == 1 || i == 2 {
			m.info = &engine.ReplicationInfo{Role: "slave"}
		}
		v[id] = m
	}
	cmds, booting := bootstrapOf(g, v)
	if got, want := argsOf(cmds), []string{"rg-0002-001: CLUSTER FAILOVER TAKEOVER"}; !booting || !slicesEqual(got, want) {
		t.Errorf("bootstrapOf = %q, %v; want %q, booting", got, booting, want)
	}
	if got := argsOf(func() []clusterCmd { c, _ := meshCommands(g, v); return c }()); !slicesEqual(got, []string{"rg-0002-001: CLUSTER FAILOVER TAKEOVER"}) {
		t.Errorf("meshCommands while shard 2 forms = %q, want its takeover alone", got)
	}
}

// TestAnnounceDemotedReplica: a replica that another node still takes for
// a master (a primary demoted by a takeover, whose pings have not reached
// that node yet) MEETs it, so that the node learns its role at once; the
// group is not available until every node knows every replica for one
// (a coordinated failover to it would find no vote).
func TestAnnounceDemotedReplica(t *testing.T) {
	g, v := testCluster(2, 1)
	address(g, v)
	demoted := v["rg-0001-002"].myID
	stale := v["rg-0002-001"]
	view := slices.Clone(stale.view)
	i := slices.IndexFunc(view, func(l clusterLine) bool { return l.id == demoted })
	view[i].flags, view[i].master = []string{"master"}, ""
	stale.view = view
	v["rg-0002-001"] = stale

	cmds, meshed := meshCommands(g, v)
	want := []string{"rg-0001-002: CLUSTER MEET 10.0.0.3 6379"}
	if got := argsOf(cmds); !meshed || !slicesEqual(got, want) {
		t.Errorf("meshCommands = %q, %v; want %q, meshed", got, meshed, want)
	}
	if d := decideShards(g, v, meshed); d.available {
		t.Errorf("decideShards with a replica taken for a master = %+v, want not available", d)
	}

	// While its MEET is under way, it is not sent again.
	r := v["rg-0001-002"]
	r.view = append(slices.Clone(r.view), clusterLine{id: "f00", addr: "10.0.0.3:6379@16379", flags: []string{"handshake"}})
	v["rg-0001-002"] = r
	if cmds, _ := meshCommands(g, v); len(cmds) != 0 {
		t.Errorf("meshCommands while meeting = %q, want nothing", argsOf(cmds))
	}

	// Once the node knows it for a replica, the group is available.
	_, v = testCluster(2, 1)
	if d := decideShards(g, v, true); !d.available {
		t.Errorf("decideShards once known = %+v, want available", d)
	}
}
