package cachectl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// Online resharding of a cluster-mode group (elasticache/rgreshard.go):
// the group records every node group's slots once done
// (Resharding.Target); each run of the group controller reads, from every
// shard primary's own line of CLUSTER NODES, which node owns each slot and
// which slots are open (migrating or importing), and moves slots whose
// owner is not their target, a batch at a time, with the engine's own
// mechanism, as redis-cli --cluster reshard does:
//
//	destination: CLUSTER SETSLOT s IMPORTING <source id>
//	source:      CLUSTER SETSLOT s MIGRATING <destination id>
//	source:      CLUSTER GETKEYSINSLOT s n, MIGRATE … REPLACE KEYS … until empty
//	destination, source, every other primary: CLUSTER SETSLOT s NODE <destination id>
//
// Clients are served throughout: a key not yet moved is read where it
// was, one moved (or new) is reached with ASK, and MOVED once the slot is
// the destination's. Every step is idempotent, and what a run finds is the
// state to go on from: a slot found migrating is moved again from its
// first step (MIGRATE … REPLACE moves what is left; a key both sides hold
// after a crash between copy and delete is the source's, where writes
// went), a slot its target already owns but another node still claims or
// holds open is closed with SETSLOT NODE. A run works for at most
// reshardBudget, so the controller's other groups wait no longer, and
// records the progress; once no slot is off its target and none is open
// (and, when node groups are removed, elasticache.ReshardDrain after, their
// nodes answering MOVED to clients with an old map meanwhile), the group is
// given its new layout (elasticache.FinishResharding).

const (
	reshardBatch  = 64                     // slots moved together
	reshardKeys   = 1000                   // keys a MIGRATE moves at most
	reshardBudget = 500 * time.Millisecond // of moving per run
	migrateWait   = "5000"                 // MIGRATE's timeout, ms
)

// slotMove is one slot to move between shards' primaries (member ids).
type slotMove struct {
	slot     int
	from, to string
}

// reshardPlanOf is, from what was observed, the commands that close open
// slots whose move is done, the slots still to move (in order) and whether
// the group is ready for moves: meshed, no failover, every shard's
// primary a primary. It is pure.
func reshardPlanOf(g *elasticache.ReplicationGroup, v shardView, meshed bool) (fix []clusterCmd, moves []slotMove, ready bool) {
	r := g.Resharding
	if r == nil || !meshed || g.Failover != nil {
		return nil, nil, false
	}
	// Every primary must see every slot served before slots move: a
	// new primary learns the owners by gossip, and cluster_state:ok does
	// not wait for it with cluster-require-full-coverage no (ElastiCache's
	// default). A node importing a slot ignores what gossip says of its
	// owner, so one made to import a slot it had not heard of yet is told
	// to forget the import (SETSLOT STABLE) and learn the owner first.
	covered := true
	for _, sh := range g.Shards {
		m, ok := v[sh.Primary]
		if !ok || !m.answered() {
			continue
		}
		owned := ownedSlots(m.view)
		self, _ := m.self()
		for k := range self.importing {
			if !owned[k] {
				fix = append(fix, clusterCmd{member: sh.Primary, args: []string{"CLUSTER", "SETSLOT", strconv.Itoa(k), "STABLE"}})
			}
		}
		covered = covered && !slices.Contains(owned, false)
	}
	if !covered {
		return fix, nil, false
	}
	type primary struct {
		m    shardMember
		self clusterLine
	}
	byShard := map[string]primary{}
	for _, sh := range g.Shards {
		m, ok := v[sh.Primary]
		if !ok || !m.answered() || !m.clusterOK {
			// A new primary takes keys once it serves the cluster (a
			// master says cluster_state:ok a while after it started):
			// before, MIGRATE to it, and clients sent to it with ASK,
			// would get CLUSTERDOWN.
			return nil, nil, false
		}
		self, _ := m.self()
		if !self.has("master") {
			// A removed shard's primary that gave its last slot away
			// follows the node that took it: it owns nothing.
			if len(self.slots) > 0 || !slices.Contains(r.Remove, sh.ID) {
				return nil, nil, false
			}
		}
		byShard[sh.ID] = primary{m, self}
	}
	target := make([]string, elasticache.SlotCount)
	for id, slots := range r.Target {
		rs, _ := elasticache.ParseSlots(slots)
		for _, rg := range rs {
			for k := rg.From; k <= rg.To; k++ {
				target[k] = id
			}
		}
	}
	owner := make([]string, elasticache.SlotCount)
	for _, sh := range g.Shards {
		for _, rg := range byShard[sh.ID].self.slots {
			for k := rg.From; k <= rg.To; k++ {
				if owner[k] == "" || target[k] == sh.ID {
					owner[k] = sh.ID
				}
			}
		}
	}
	idOf := func(shard string) string { return byShard[shard].m.myID }
	for _, sh := range g.Shards {
		p := byShard[sh.ID]
		if !p.self.has("master") {
			continue // SETSLOT is for primaries; a replica holds nothing open
		}
		for k := range elasticache.SlotCount {
			claims := slices.ContainsFunc(p.self.slots, func(rg elasticache.SlotRange) bool { return rg.From <= k && k <= rg.To })
			_, migrating := p.self.migrating[k]
			_, importing := p.self.importing[k]
			done := owner[k] != "" && owner[k] == target[k]
			switch {
			case done && owner[k] != sh.ID && (claims || migrating || importing):
				// The move is done but this node still claims the slot or
				// holds it open: close it.
				fix = append(fix, clusterCmd{member: sh.Primary, args: []string{"CLUSTER", "SETSLOT", strconv.Itoa(k), "NODE", idOf(owner[k])}})
			case done && owner[k] == sh.ID && (migrating || importing):
				fix = append(fix, clusterCmd{member: sh.Primary, args: []string{"CLUSTER", "SETSLOT", strconv.Itoa(k), "NODE", p.m.myID}})
			case !done && owner[k] != sh.ID && target[k] != sh.ID && importing:
				fix = append(fix, clusterCmd{member: sh.Primary, args: []string{"CLUSTER", "SETSLOT", strconv.Itoa(k), "STABLE"}})
			}
		}
	}
	for k := range elasticache.SlotCount {
		if owner[k] != target[k] && owner[k] != "" && target[k] != "" {
			from, _ := g.Shard(owner[k])
			to, _ := g.Shard(target[k])
			moves = append(moves, slotMove{slot: k, from: from.Primary, to: to.Primary})
		}
	}
	return fix, moves, true
}

// reshard runs one step of a group's resharding and writes its progress,
// or its end, back. It reports whether anything was done.
func (c *Groups) reshard(ctx context.Context, g *elasticache.ReplicationGroup, v shardView, meshed bool) error {
	fix, moves, ready := reshardPlanOf(g, v, meshed)
	for _, cmd := range fix {
		if err := c.clusterDo(ctx, v, cmd); err != nil {
			return fmt.Errorf("close slot: %s: %w", cmd.args, err)
		}
	}
	if !ready {
		return nil
	}
	left := len(moves)
	var err error
	if len(moves) > 0 {
		var n int
		n, err = c.moveSlots(ctx, v, moves)
		left -= n
	}
	ref, gen, now := g.Ref(), g.Generation, c.cfg.Now().UTC()
	_, werr := c.cfg.Domain.UpdateGroup(ctx, ref, func(cur *elasticache.ReplicationGroup, ms []*elasticache.Cluster) ([]elasticache.GroupEvent, bool) {
		if cur.Generation != gen || cur.Resharding == nil {
			return nil, false
		}
		if left == 0 && len(fix) == 0 && len(moves) == 0 {
			switch r := cur.Resharding; {
			case len(r.Remove) > 0 && r.Drained.IsZero():
				r.Drained, r.Moved = now, r.Total
				return nil, true
			case len(r.Remove) > 0 && now.Sub(r.Drained) < elasticache.ReshardDrain:
				return nil, false
			}
			return elasticache.FinishResharding(cur, ms), true
		}
		moved := max(cur.Resharding.Total-left, 0)
		if moved == cur.Resharding.Moved {
			return nil, false
		}
		cur.Resharding.Moved = moved
		return nil, true
	})
	if err != nil {
		return err
	}
	return werr
}

// moveSlots moves slots, a batch of one source and destination at a
// time, until the budget is spent, and returns how many it moved.
func (c *Groups) moveSlots(ctx context.Context, v shardView, moves []slotMove) (int, error) {
	start := time.Now()
	done := 0
	for len(moves) > 0 && time.Since(start) < reshardBudget {
		batch := []int{moves[0].slot}
		from, to := moves[0].from, moves[0].to
		i := 1
		for ; i < len(moves) && len(batch) < reshardBatch && moves[i].from == from && moves[i].to == to; i++ {
			batch = append(batch, moves[i].slot)
		}
		if err := c.moveBatch(ctx, v, from, to, batch); err != nil {
			return done, err
		}
		done += len(batch)
		moves = moves[i:]
	}
	return done, nil
}

// moveBatch moves slots from one primary (member id) to another.
func (c *Groups) moveBatch(ctx context.Context, v shardView, from, to string, slots []int) error {
	src, dst := v[from], v[to]
	host, port, ok := splitAddr(dst.addr)
	if !ok {
		return fmt.Errorf("move slots to %s: no address", to)
	}
	auth, err := c.cfg.Engines.MigrateAuth(EngineNodeID(dst.cl.Ref(), dst.cl.Nodes[0].ID))
	if err != nil {
		return err
	}
	setslot := func(state, node string) [][]string {
		out := make([][]string, len(slots))
		for i, k := range slots {
			out[i] = []string{"CLUSTER", "SETSLOT", strconv.Itoa(k), state, node}
		}
		return out
	}
	if err := c.commands(ctx, dst, setslot("IMPORTING", src.myID)...); err != nil {
		return err
	}
	if err := c.commands(ctx, src, setslot("MIGRATING", dst.myID)...); err != nil {
		return err
	}
	open := slices.Clone(slots)
	for len(open) > 0 {
		get := make([][]string, len(open))
		for i, k := range open {
			get[i] = []string{"CLUSTER", "GETKEYSINSLOT", strconv.Itoa(k), strconv.Itoa(reshardKeys)}
		}
		out, err := c.commandsOut(ctx, src, get...)
		if err != nil {
			return err
		}
		var migrate [][]string
		var still []int
		for i, reply := range out {
			keys, _ := reply.([]any)
			if len(keys) == 0 {
				continue
			}
			args := append([]string{"MIGRATE", host, port, "", "0", migrateWait, "REPLACE"}, auth...)
			args = append(args, "KEYS")
			for _, k := range keys {
				if s, ok := k.(string); ok {
					args = append(args, s)
				}
			}
			migrate = append(migrate, args)
			still = append(still, open[i])
		}
		if len(migrate) > 0 {
			if err := c.commands(ctx, src, migrate...); err != nil {
				return err
			}
		}
		open = still
	}
	node := setslot("NODE", dst.myID)
	if err := c.commands(ctx, dst, node...); err != nil {
		return err
	}
	if err := c.commands(ctx, src, node...); err != nil {
		return err
	}
	// The other primaries learn it from gossip too; telling them at once
	// spares clients a redirection through the old owner.
	for _, m := range v {
		if self, _ := m.self(); m.answered() && self.has("master") && m.cl.ID != from && m.cl.ID != to {
			_ = c.commands(ctx, m, node...)
		}
	}
	return nil
}

func (c *Groups) commands(ctx context.Context, m shardMember, cmds ...[]string) error {
	_, err := c.commandsOut(ctx, m, cmds...)
	return err
}

// commandsOut runs commands on a member's engine, in one round trip:
// every command runs, and the first error reply is the error.
func (c *Groups) commandsOut(ctx context.Context, m shardMember, cmds ...[]string) ([]any, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := c.cfg.Engines.Pipeline(ctx, EngineNodeID(m.cl.Ref(), m.cl.Nodes[0].ID), cmds...)
	if err != nil {
		return out, fmt.Errorf("resharding, on %s: %w", m.cl.ID, err)
	}
	return out, nil
}
