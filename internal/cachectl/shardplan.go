package cachectl

import (
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The cluster-mode policy, pure: from a cluster-mode group's record and
// what was observed of its members' engines (CLUSTER MYID, CLUSTER NODES,
// CLUSTER INFO, INFO replication), the commands that converge the Redis
// Cluster — MEET the members into one cluster, FORGET nodes that are no
// longer members (a replaced node's old identity), assign each shard's
// slots to its primary, REPLICATE each replica to its shard's primary —
// and what the group controller writes back: a shard failover (a held
// primary that died, a TestFailover, or a failover the cluster made by
// itself), its phases, availability. shards.go observes and acts.

// clusterLine is one line of CLUSTER NODES.
type clusterLine struct {
	id, addr  string
	flags     []string
	master    string // the primary's id for a replica; "" for a primary
	connected bool
	slots     []elasticache.SlotRange
	// migrating and importing are the slots the node moves out (to a
	// node id) and in (from one), as its own line shows them.
	migrating, importing map[int]string
}

func (l clusterLine) has(flag string) bool { return slices.Contains(l.flags, flag) }

// parseClusterNodes parses CLUSTER NODES; migrating/importing entries
// ([slot->-id], [slot-<-id]) go to migrating and importing.
func parseClusterNodes(s string) []clusterLine {
	var out []clusterLine
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		l := clusterLine{id: f[0], addr: f[1], flags: strings.Split(f[2], ","), connected: f[7] == "connected"}
		if f[3] != "-" {
			l.master = f[3]
		}
		for _, sl := range f[8:] {
			if strings.HasPrefix(sl, "[") {
				l.openSlot(strings.Trim(sl, "[]"))
				continue
			}
			if rs, err := elasticache.ParseSlots(sl); err == nil {
				l.slots = append(l.slots, rs...)
			}
		}
		out = append(out, l)
	}
	return out
}

// openSlot records a migrating ("5->-id") or importing ("5-<-id") slot.
func (l *clusterLine) openSlot(s string) {
	for _, sep := range []string{"->-", "-<-"} {
		a, id, ok := strings.Cut(s, sep)
		k, err := strconv.Atoi(a)
		if !ok || err != nil {
			continue
		}
		m := &l.migrating
		if sep == "-<-" {
			m = &l.importing
		}
		if *m == nil {
			*m = map[int]string{}
		}
		(*m)[k] = id
	}
}

// shardMember is what was observed of one member of a cluster-mode group.
type shardMember struct {
	cl    *elasticache.Cluster
	known bool
	state engine.State
	addr  string // where its engine listens (host:port)
	myID  string // its cluster node id; "" when it did not answer
	view  []clusterLine
	info  *engine.ReplicationInfo
	// syncing: a full synchronisation with its primary is under way
	// (master_sync_in_progress:1).
	syncing   bool
	clusterOK bool // cluster_state:ok
}

// self is the member's own line of its view.
func (m shardMember) self() (clusterLine, bool) {
	for _, l := range m.view {
		if l.has("myself") {
			return l, true
		}
	}
	return clusterLine{}, false
}

// line is the line of node id in the member's view.
func (m shardMember) line(id string) (clusterLine, bool) {
	i := slices.IndexFunc(m.view, func(l clusterLine) bool { return l.id == id })
	if i < 0 {
		return clusterLine{}, false
	}
	return m.view[i], true
}

// knows reports whether the member's view has a node id (past the
// handshake).
func (m shardMember) knows(id string) bool {
	return slices.ContainsFunc(m.view, func(l clusterLine) bool { return l.id == id && !l.has("handshake") })
}

// meeting reports whether the member is in a handshake with addr
// (host:port): a MEET to it is under way.
func (m shardMember) meeting(addr string) bool {
	return slices.ContainsFunc(m.view, func(l clusterLine) bool {
		return l.has("handshake") && strings.HasPrefix(l.addr, addr+"@")
	})
}

// answered reports whether the member runs and answered this run.
func (m shardMember) answered() bool {
	return m.known && m.state == engine.StateRunning && m.myID != ""
}

// shardView is what was observed of a cluster-mode group, by member id.
type shardView map[string]shardMember

// clusterCmd is one command the controller sends to a member's engine.
type clusterCmd struct {
	member string
	args   []string
	// authTo, instead of args: give member the credentials of the
	// primary authTo (a member id) before it follows it.
	authTo string
}

// meshCommands are the commands that bring the answering members into one
// cluster and keep it clean: each shard's unassigned slots to its primary
// at once (a primary holding slots before it meets the others is never
// in a minority, which would hold cluster_state:ok back for a while);
// MEET between members that do not know each other; once every member
// knows every other, FORGET on every member of nodes that are not
// members, then each replica to its shard's primary. meshed says whether
// every member knows every other.
func meshCommands(g *elasticache.ReplicationGroup, v shardView) (cmds []clusterCmd, meshed bool) {
	var up []shardMember
	ids := map[string]bool{}
	// Replicas of a group changing to compatible that still run without
	// cluster mode are no cluster nodes yet (elasticache/rgclustermode.go).
	nodes := g.ClusterMembers()
	for _, id := range nodes {
		if m, ok := v[id]; ok && m.answered() {
			up = append(up, m)
			ids[m.myID] = true
		}
	}
	if len(up) == 0 {
		return nil, false
	}
	anchor := up[0]
	// During a failover the promoted replica takes its dead primary's
	// slots over, and the other replicas follow it by themselves.
	promoting := g.Failover != nil && g.Failover.Phase == elasticache.PhasePromoting
	boot, booting := bootstrapOf(g, v)
	switch {
	case booting:
		cmds = boot
	case !promoting:
		cmds = slotCommands(g, v, anchor)
	}
	meshed = len(up) == len(nodes)
	for _, m := range up {
		for _, o := range up {
			if m.myID == o.myID || m.knows(o.myID) {
				continue
			}
			meshed = false
			if host, port, ok := splitAddr(o.addr); ok && !m.meeting(o.addr) {
				cmds = append(cmds, clusterCmd{member: m.cl.ID, args: []string{"CLUSTER", "MEET", host, port}})
			}
		}
	}
	if !booting {
		// (Forming by takeover, the primary member follows the other
		// until it takes over: bootstrapOf alone tells it whom to.)
		cmds = append(cmds, announceCommands(up)...)
		cmds = append(cmds, authCommands(up)...)
	}
	if !meshed || promoting || booting {
		return cmds, meshed
	}
	for _, m := range up {
		for _, l := range m.view {
			if !ids[l.id] && !l.has("handshake") {
				for _, o := range up {
					cmds = append(cmds, clusterCmd{member: o.cl.ID, args: []string{"CLUSTER", "FORGET", l.id}})
				}
				return cmds, true // one at a time: views change after each
			}
		}
	}
	return append(cmds, replicaCommands(g, v)...), true
}

// A new group's Redis Cluster is formed without waiting for the engine's
// writable delay: a fresh master reports cluster_state:fail (and answers
// CLUSTERDOWN) until 2 s after its first cluster cron (redis-server's
// CLUSTER_WRITABLE_DELAY), a replica does not wait, and a replica
// promoted by CLUSTER FAILOVER TAKEOVER keeps the ok state it had. So,
// shard by shard, the slots first go to one of the shard's other members,
// the primary member follows it, and once the primary member says
// cluster_state:ok as a replica it takes the slots over; the other
// member, left without slots, then follows it as any replica does
// (replicaCommands). Every engine is new and holds nothing (no restore:
// its data is on the primary members), and before the takeover every
// write is refused (the owner is within its delay, the primary member
// redirects to it), so nothing is lost. The end is the cluster the usual
// way forms: each primary member on its port with its shard's slots, the
// replicas following it, every node cluster_state:ok. A shard without a
// replica cannot form this way: a group with one forms the usual way.

// bootstrapping reports whether g is formed by the takeover above: a new
// serverless cache or cluster-mode group (creating, restoring nothing, no
// failover, no resharding) whose every shard has a replica.
func bootstrapping(g *elasticache.ReplicationGroup) bool {
	if g.Status != elasticache.GroupCreating || g.RestoreSnapshot != "" || g.Reslot != nil || g.Failover != nil || g.Resharding != nil ||
		len(g.Shards) == 0 || (g.Serverless == nil && !g.ClusterEnabled()) {
		return false
	}
	for _, sh := range g.Shards {
		if len(sh.Members) < 2 || sh.Primary == "" {
			return false
		}
	}
	return true
}

// bootstrapOf returns the commands of the takeover formation while it is
// under way (booting): until every primary member holds its shard's
// slots. A shard whose slots its primary member (or anything but the
// member they go to first) holds is formed; once all are, the usual
// commands take over.
func bootstrapOf(g *elasticache.ReplicationGroup, v shardView) (cmds []clusterCmd, booting bool) {
	if !bootstrapping(g) {
		return nil, false
	}
	for _, sh := range g.Shards {
		c, shardBooting := bootstrapShard(sh, v)
		cmds = append(cmds, c...)
		booting = booting || shardBooting
	}
	return cmds, booting
}

// bootstrapShard is bootstrapOf for one shard.
func bootstrapShard(sh elasticache.Shard, v shardView) (cmds []clusterCmd, booting bool) {
	other := sh.Members[0]
	if other == sh.Primary {
		other = sh.Members[1]
	}
	pm, om := v[sh.Primary], v[other]
	if !pm.answered() || !om.answered() {
		return nil, true // both first: the slots go to the other member
	}
	want, _ := elasticache.ParseSlots(sh.Slots)
	for _, view := range [][]clusterLine{pm.view, om.view} {
		for _, l := range view {
			if l.id != om.myID && len(l.slots) > 0 && overlaps(l.slots, want) {
				return nil, false // taken over, or formed the usual way
			}
		}
	}
	pself, _ := pm.self()
	oself, _ := om.self()
	switch {
	case len(oself.slots) == 0:
		args := []string{"CLUSTER", "ADDSLOTSRANGE"}
		for _, r := range want {
			args = append(args, strconv.Itoa(r.From), strconv.Itoa(r.To))
		}
		return []clusterCmd{{member: other, args: args}}, true
	case !oself.has("master") || !sameSlots(oself.slots, want) || !pm.knows(om.myID):
		return nil, true // meshCommands meets them; the views catch up
	case pself.master != om.myID:
		return []clusterCmd{{member: sh.Primary, authTo: other},
			{member: sh.Primary, args: []string{"CLUSTER", "REPLICATE", om.myID}}}, true
	case !pm.clusterOK:
		return nil, true
	default:
		return []clusterCmd{{member: sh.Primary, args: []string{"CLUSTER", "FAILOVER", "TAKEOVER"}}}, true
	}
}

// overlaps reports whether two sets of slot ranges share a slot.
func overlaps(a, b []elasticache.SlotRange) bool {
	for _, x := range a {
		for _, y := range b {
			if x.From <= y.To && y.From <= x.To {
				return true
			}
		}
	}
	return false
}

// authCommands give every replica whose link is down the credentials of
// the member it follows now (the cluster moves replicas to a promoted
// primary by itself).
func authCommands(up []shardMember) []clusterCmd {
	byID := map[string]string{}
	for _, m := range up {
		byID[m.myID] = m.cl.ID
	}
	var cmds []clusterCmd
	for _, m := range up {
		self, _ := m.self()
		if p, ok := byID[self.master]; ok && self.master != "" && m.info != nil && m.info.Role == "slave" && !m.info.LinkUp && !m.syncing {
			// A replica made one by a failover tried its new primary
			// without its credentials and may not try again soon:
			// following it anew reconnects at once.
			cmds = append(cmds, clusterCmd{member: m.cl.ID, authTo: p},
				clusterCmd{member: m.cl.ID, args: []string{"CLUSTER", "REPLICATE", self.master}})
		}
	}
	return cmds
}

// slotCommands assigns every shard's slots that no node owns (as its
// primary and the first member see them) to its primary.
func slotCommands(g *elasticache.ReplicationGroup, v shardView, anchor shardMember) []clusterCmd {
	var cmds []clusterCmd
	for _, sh := range g.Shards {
		pm, ok := v[sh.Primary]
		if !ok || !pm.answered() {
			continue
		}
		if self, _ := pm.self(); !self.has("master") {
			continue // the cluster is still making it a primary
		}
		owned := ownedSlots(pm.view, anchor.view)
		want, _ := elasticache.ParseSlots(sh.Slots)
		args := []string{"CLUSTER", "ADDSLOTSRANGE"}
		for _, r := range free(want, owned) {
			args = append(args, strconv.Itoa(r.From), strconv.Itoa(r.To))
		}
		if len(args) > 2 {
			cmds = append(cmds, clusterCmd{member: pm.cl.ID, args: args})
		}
	}
	return cmds
}

// announceCommands make a replica that other nodes still take for a
// master tell them at once what it is. A primary demoted by a takeover
// (the one of the formation, or of a failover) says so only in its own
// pings and pongs, which reach a given node within seconds (a node pings
// one node a second, and every node before half cluster-node-timeout);
// until then that node refuses to vote for it ("it is a master node"),
// and a coordinated failover to it fails and cannot be retried for four
// times cluster-node-timeout. A CLUSTER MEET from the replica sends its
// header (its role, its master) to the node right away; the node already
// knows it, so the handshake ends there.
func announceCommands(up []shardMember) []clusterCmd {
	var cmds []clusterCmd
	for _, r := range up {
		self, ok := r.self()
		if !ok || !self.has("slave") || self.master == "" {
			continue
		}
		for _, o := range up {
			if o.myID == r.myID {
				continue
			}
			if l, ok := o.line(r.myID); !ok || !l.has("master") {
				continue
			}
			if host, port, ok := splitAddr(o.addr); ok && !r.meeting(o.addr) {
				cmds = append(cmds, clusterCmd{member: r.cl.ID, args: []string{"CLUSTER", "MEET", host, port}})
			}
		}
	}
	return cmds
}

// replicaCommands makes every replica that holds no slots follow its
// shard's primary, with the primary's credentials.
func replicaCommands(g *elasticache.ReplicationGroup, v shardView) []clusterCmd {
	var cmds []clusterCmd
	for _, sh := range g.Shards {
		pm, ok := v[sh.Primary]
		if !ok || !pm.answered() {
			continue
		}
		if self, _ := pm.self(); !self.has("master") {
			continue
		}
		for _, id := range sh.Members {
			m, ok := v[id]
			if id == sh.Primary || !ok || !m.answered() {
				continue
			}
			ms, _ := m.self()
			if ms.master != pm.myID && len(ms.slots) == 0 {
				cmds = append(cmds, clusterCmd{member: id, authTo: sh.Primary},
					clusterCmd{member: id, args: []string{"CLUSTER", "REPLICATE", pm.myID}})
			}
		}
	}
	return cmds
}

// ownedSlots marks the slots any line of the views assigns.
func ownedSlots(views ...[]clusterLine) []bool {
	owned := make([]bool, elasticache.SlotCount)
	for _, view := range views {
		for _, l := range view {
			for _, r := range l.slots {
				for k := r.From; k <= r.To; k++ {
					owned[k] = true
				}
			}
		}
	}
	return owned
}

// free is the part of want that no node owns, as ranges.
func free(want []elasticache.SlotRange, owned []bool) []elasticache.SlotRange {
	var out []elasticache.SlotRange
	for _, r := range want {
		start := -1
		for k := r.From; k <= r.To+1; k++ {
			isFree := k <= r.To && !owned[k]
			switch {
			case isFree && start < 0:
				start = k
			case !isFree && start >= 0:
				out = append(out, elasticache.SlotRange{From: start, To: k - 1})
				start = -1
			}
		}
	}
	return out
}

func splitAddr(addr string) (host, port string, ok bool) {
	i := strings.LastIndexByte(addr, ':')
	if i < 0 {
		return "", "", false
	}
	return strings.Trim(addr[:i], "[]"), addr[i+1:], true
}

// shardConverged reports whether every member of a cluster-mode group runs
// in its role: its record converged, every member knows every other, each
// shard's primary holds exactly the shard's slots, each replica follows
// the shard's primary with its link up and every node knows it for one,
// and every node says cluster_state ok.
func shardConverged(g *elasticache.ReplicationGroup, v shardView, meshed bool) bool {
	return unconverged(g, v, meshed) == ""
}

// unconverged is what keeps a group from shardConverged ("" once it is),
// for the debug log.
func unconverged(g *elasticache.ReplicationGroup, v shardView, meshed bool) string {
	if !meshed || len(v) != len(g.Members) {
		return "not meshed"
	}
	for _, m := range v {
		cl := m.cl
		if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation || len(cl.Nodes) == 0 || cl.Nodes[0].Replace ||
			!m.answered() || !m.clusterOK || m.info == nil || len(m.view) != len(g.Members) {
			return cl.ID + " not running as a cluster node of the group"
		}
	}
	for _, sh := range g.Shards {
		pm := v[sh.Primary]
		self, _ := pm.self()
		want, _ := elasticache.ParseSlots(sh.Slots)
		if !self.has("master") || !sameSlots(self.slots, want) {
			return sh.Primary + " not the master of its slots"
		}
		for _, m := range v {
			// Every node routes the shard's slots to its primary.
			if l, ok := m.line(pm.myID); !ok || !sameSlots(l.slots, want) {
				return m.cl.ID + " does not route shard " + sh.ID + " to " + sh.Primary
			}
		}
		for _, id := range sh.Members {
			if id == sh.Primary {
				continue
			}
			ms, _ := v[id].self()
			if ms.master != pm.myID || v[id].info.Role != "slave" || !v[id].info.LinkUp {
				return id + " does not follow " + sh.Primary
			}
			for _, m := range v {
				// Every node knows it for a replica of the primary (or
				// would refuse to vote for it: announceCommands).
				if l, ok := m.line(ms.id); !ok || !l.has("slave") || l.master != pm.myID {
					return m.cl.ID + " does not know " + id + " for a replica of " + sh.Primary
				}
			}
		}
	}
	return ""
}

// sameSlots compares two sets of ranges as sets of slots.
func sameSlots(a, b []elasticache.SlotRange) bool {
	count := func(rs []elasticache.SlotRange) []bool {
		out := make([]bool, elasticache.SlotCount)
		for _, r := range rs {
			for k := r.From; k <= r.To; k++ {
				out[k] = true
			}
		}
		return out
	}
	return slices.Equal(count(a), count(b))
}
