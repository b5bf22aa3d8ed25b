package cachectl

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

// The replication group policy, pure: from a group's record and what was
// observed of its members, decide what the group controller writes —
// detect a failed primary, choose the replica to promote (the one with the
// least replication lag), follow a failover through its phases, and say
// when the group is available. It is table-tested without engines
// (failover_test.go); group.go observes and writes.

// memberView is what the group controller observed of one member cluster.
type memberView struct {
	cl    *elasticache.Cluster
	known bool // the supervisor supervises its node
	state engine.State
	role  engine.Role // the role the supervisor has given it
	pid   int         // its engine's process, 0 when none runs
	// info is its INFO replication; nil when it did not answer (or does
	// not run).
	info *engine.ReplicationInfo
}

// groupView is what the group controller observed of a group.
type groupView struct {
	members []memberView // in the group's order; members already gone are absent
	// failures counts the consecutive failed health checks of the
	// primary, this run's included.
	failures int
}

func (v groupView) member(id string) (memberView, bool) {
	i := slices.IndexFunc(v.members, func(m memberView) bool { return m.cl.ID == id })
	if i < 0 {
		return memberView{}, false
	}
	return v.members[i], true
}

// policy holds the failover policy's one tunable.
type policy struct {
	// failures is how many consecutive failed health checks make a
	// running primary failed (a hung engine).
	failures int
}

// decision is what the group controller does to a group in one run.
type decision struct {
	remove bool // the deletion converged: the group goes
	// failover switches the primary from a failed (or tested) primary to
	// a replica; with to "", the primary is recovered in place.
	failover  *switchTo
	promoted  bool // the new primary answers as one: the failover completed
	recovered bool // the failed node's replacement runs in its role
	cancel    bool // a test failover found no replica to promote
	available bool // everything is as desired: the group is available
}

// switchTo is a failover's choice.
type switchTo struct {
	from, to string
	reason   string
	offsets  string // the replicas' replication offsets, for the log
	roll     bool   // a rolling replacement's failover (rolling.go)
}

// primaryFailed reports whether the primary has failed, and how: its
// engine exited while held on crash, or it runs but has not answered
// p.failures health checks in a row. A node not supervised yet (starting,
// or not re-adopted since a restart) has not failed.
func (p policy) primaryFailed(m memberView, failures int) (bool, string) {
	switch {
	case !m.known:
		return false, ""
	case m.state == engine.StateFailed:
		return true, "engine exited"
	case m.state == engine.StateRunning && failures >= p.failures:
		return true, "not answering its health check"
	}
	return false, ""
}

// chooseReplica picks the replica to promote: of the members other than
// from that run and answer as replicas, the one furthest along the
// replication stream (least lag); the group's order breaks ties. "" when
// none can be promoted.
func chooseReplica(v groupView, from string) string {
	best, bestOffset := "", int64(-1)
	for _, m := range v.members {
		if m.cl.ID == from || !m.known || m.state != engine.StateRunning || m.info == nil || m.info.Role != "slave" || m.cl.Nodes[0].Replace {
			continue
		}
		if m.info.Offset > bestOffset {
			best, bestOffset = m.cl.ID, m.info.Offset
		}
	}
	return best
}

// offsets renders the members' replication offsets ("rg-002=1234 …").
func offsets(v groupView) string {
	var out []string
	for _, m := range v.members {
		if m.info != nil {
			out = append(out, m.cl.ID+"="+strconv.FormatInt(m.info.Offset, 10))
		}
	}
	return strings.Join(out, " ")
}

// decide is the group policy: what to do to g given v.
func (p policy) decide(g *elasticache.ReplicationGroup, v groupView) decision {
	if g.Status == elasticache.GroupDeleting {
		for _, m := range v.members {
			if m.cl.ReplicationGroupID == g.ID {
				return decision{}
			}
		}
		return decision{remove: true}
	}
	f := g.Failover
	switch {
	case f == nil:
		if g.AutomaticFailover == elasticache.FailoverEnabled && len(g.Members) > 1 {
			if pm, ok := v.member(g.Primary); ok {
				if failed, why := p.primaryFailed(pm, v.failures); failed {
					return decision{failover: &switchTo{from: g.Primary, to: chooseReplica(v, g.Primary), reason: why, offsets: offsets(v)}}
				}
			}
		}
		if to, ok := rollPrimary(g, v); ok {
			return decision{failover: &switchTo{from: g.Primary, to: to, reason: "new node type or engine version", offsets: offsets(v), roll: true}}
		}
		if groupConverged(g, v) && (g.Status != elasticache.GroupAvailable || g.ObservedGeneration != g.Generation ||
			g.AutomaticFailover == elasticache.FailoverEnabling || g.AutomaticFailover == elasticache.FailoverDisabling) {
			return decision{available: true}
		}
	case f.Phase == elasticache.PhaseRequested:
		to := chooseReplica(v, f.From)
		if to == "" {
			return decision{cancel: true}
		}
		return decision{failover: &switchTo{from: f.From, to: to, reason: "test failover", offsets: offsets(v)}}
	case f.Phase == elasticache.PhasePromoting:
		if m, ok := v.member(f.To); ok && m.info != nil && m.info.Primary() && !m.role.Replica() {
			return decision{promoted: true}
		}
	case f.Phase == elasticache.PhaseRecovering:
		if m, ok := v.member(f.From); ok && memberInRole(g, v, m) {
			return decision{recovered: true}
		}
	}
	return decision{}
}

// memberInRole reports whether a member runs in the role the group gives
// it: a primary answering as one, or a replica following the group's
// primary with its link up; its cluster converged.
func memberInRole(g *elasticache.ReplicationGroup, v groupView, m memberView) bool {
	cl := m.cl
	if cl.Status != elasticache.StatusAvailable || cl.ObservedGeneration != cl.Generation || len(cl.Nodes) == 0 || cl.Nodes[0].Replace {
		return false
	}
	if !m.known || m.state != engine.StateRunning || m.info == nil {
		return false
	}
	if cl.ID == g.Primary {
		return m.info.Primary() && !m.role.Replica() && m.role.HoldOnCrash == cl.HoldOnCrash
	}
	pm, ok := v.member(g.Primary)
	return ok && m.info.Role == "slave" && m.info.LinkUp &&
		m.role.ReplicaOf.NodeID == EngineNodeID(pm.cl.Ref(), pm.cl.Nodes[0].ID)
}

// awaitingLinks reports whether g waits only for replicas' links to come
// up: every member runs (its cluster converged) and answers, and one at
// least is a replica of the right primary whose link is still down — an
// initial synchronisation in progress, which ends without a store write.
func awaitingLinks(g *elasticache.ReplicationGroup, v groupView) bool {
	if g.Status == elasticache.GroupDeleting || len(v.members) != len(g.Members) {
		return false
	}
	pending := false
	for _, m := range v.members {
		if memberInRole(g, v, m) {
			continue
		}
		if m.info == nil || m.info.Role != "slave" || m.info.LinkUp || m.cl.Status != elasticache.StatusAvailable || !m.role.Replica() {
			return false
		}
		pending = true
	}
	return pending
}

// groupConverged reports whether every member of g runs in its role.
func groupConverged(g *elasticache.ReplicationGroup, v groupView) bool {
	if len(v.members) != len(g.Members) {
		return false
	}
	for _, m := range v.members {
		if !memberInRole(g, v, m) {
			return false
		}
	}
	return true
}

// nodeOf is the node id of a member (its one node).
func nodeOf(g *elasticache.ReplicationGroup, members []*elasticache.Cluster, id string) (*elasticache.Cluster, *elasticache.Node) {
	for _, c := range members {
		if c.ID == id && len(c.Nodes) > 0 {
			return c, &c.Nodes[0]
		}
	}
	return nil, nil
}

// applyDecision writes a decision into the stored group and its members,
// as the domain's UpdateGroup applies it, and returns the events in
// ElastiCache's wording and order. It is pure.
func applyDecision(g *elasticache.ReplicationGroup, members []*elasticache.Cluster, d decision, now time.Time) ([]elasticache.GroupEvent, bool) {
	ev := func(typ, src, msg string) elasticache.GroupEvent {
		return elasticache.GroupEvent{SourceType: typ, SourceID: src, Message: msg}
	}
	switch {
	case d.failover != nil:
		s := d.failover
		test := g.Failover != nil && g.Failover.Test
		c, n := nodeOf(g, members, s.from)
		if n == nil {
			return nil, false
		}
		n.Replace = true
		c.Generation++
		g.Status = elasticache.GroupModifying
		g.Generation++
		if s.to == "" {
			// Nothing to promote: the primary is replaced where it is.
			g.Failover = &elasticache.Failover{From: s.from, Test: test, Phase: elasticache.PhaseRecovering, At: now}
			return []elasticache.GroupEvent{ev("cache-cluster", s.from, "Recovering cache nodes "+n.ID)}, true
		}
		g.Primary = s.to
		g.Failover = &elasticache.Failover{From: s.from, To: s.to, Test: test, Roll: s.roll, Phase: elasticache.PhasePromoting, At: now}
		elasticache.ApplyRoles(g, members)
		return nil, true
	case d.promoted:
		f := g.Failover
		msg := "Failover from primary node " + f.From + " to replica node " + f.To + " completed"
		f.Phase = elasticache.PhaseRecovering
		_, n := nodeOf(g, members, f.From)
		events := []elasticache.GroupEvent{ev("cache-cluster", f.To, msg), ev("replication-group", g.ID, msg)}
		if n != nil && !f.Roll {
			events = append(events, ev("cache-cluster", f.From, "Recovering cache nodes "+n.ID))
		}
		return events, true
	case d.recovered:
		f := g.Failover
		g.Failover = nil
		if _, n := nodeOf(g, members, f.From); n != nil && !f.Roll {
			return []elasticache.GroupEvent{ev("cache-cluster", f.From, "Finished recovery for cache nodes "+n.ID)}, true
		}
		return nil, true
	case d.cancel:
		g.Failover = nil
		g.Status, g.ObservedGeneration = elasticache.GroupAvailable, g.Generation
		return nil, true
	case d.available:
		var events []elasticache.GroupEvent
		if g.Status == elasticache.GroupCreating {
			events = append(events, ev("replication-group", g.ID, elasticache.GroupCreatedMessage(g.ID)))
		}
		g.Status, g.ObservedGeneration, g.LastError = elasticache.GroupAvailable, g.Generation, ""
		switch g.AutomaticFailover {
		case elasticache.FailoverEnabling:
			g.AutomaticFailover = elasticache.FailoverEnabled
		case elasticache.FailoverDisabling:
			g.AutomaticFailover = elasticache.FailoverDisabled
		}
		return events, true
	}
	return nil, false
}
