package cachectl

import (
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// selfLine returns a pointer to a member's own line of its view.
func selfLine(v shardView, member string) *clusterLine {
	m := v[member]
	for i := range m.view {
		if m.view[i].has("myself") {
			return &m.view[i]
		}
	}
	return nil
}

// TestReshardPlanOf: the slots a resharding still moves and the open
// slots it closes, from what the primaries say of themselves — from the
// start, half way through a slot's move (found MIGRATING/IMPORTING: moved
// again), and after the destination took a slot the source still claims
// (closed with SETSLOT NODE).
func TestReshardPlanOf(t *testing.T) {
	g, v := testCluster(3, 1)
	g.Status = elasticache.GroupModifying
	g.Resharding = &elasticache.Resharding{Target: map[string]string{"0001": "0-8191", "0002": "8192-16383"}, Remove: []string{"0003"}, Total: 8191}
	p1, p2 := v["rg-0001-001"].myID, v["rg-0002-001"].myID

	fix, moves, ready := reshardPlanOf(g, v, true)
	if !ready || len(fix) != 0 || len(moves) != 2730+5461 {
		t.Fatalf("from the start: ready %v, fix %v, %d moves; want ready, no fix, %d moves", ready, argsOf(fix), len(moves), 2730+5461)
	}
	if moves[0] != (slotMove{5462, "rg-0002-001", "rg-0001-001"}) || moves[len(moves)-1] != (slotMove{16383, "rg-0003-001", "rg-0002-001"}) {
		t.Errorf("moves = %v … %v", moves[0], moves[len(moves)-1])
	}
	if _, _, ready := reshardPlanOf(g, v, false); ready {
		t.Errorf("ready while not meshed")
	}

	// Half way through slot 5462: it is moved again from the start.
	selfLine(v, "rg-0002-001").openSlot("5462->-" + p1)
	selfLine(v, "rg-0001-001").openSlot("5462-<-" + p2)
	fix, moves, _ = reshardPlanOf(g, v, true)
	if len(fix) != 0 || len(moves) != 2730+5461 || moves[0].slot != 5462 {
		t.Errorf("slot 5462 open: fix %v, %d moves from %v", argsOf(fix), len(moves), moves[0])
	}

	// The destination took 5462; the source still claims it: closed.
	l1 := selfLine(v, "rg-0001-001")
	l1.slots, l1.importing = []elasticache.SlotRange{{From: 0, To: 5462}}, nil
	fix, moves, _ = reshardPlanOf(g, v, true)
	if want := []string{"rg-0002-001: CLUSTER SETSLOT 5462 NODE " + p1}; !slices.Equal(argsOf(fix), want) || len(moves) != 2729+5461 || moves[0].slot != 5463 {
		t.Errorf("slot 5462 taken: fix %v, want %v; %d moves from %v", argsOf(fix), want, len(moves), moves[0])
	}

	// A primary that does not know who serves slot 100 yet, and imports
	// it: not ready; it forgets the import and learns the owner first.
	l2 := selfLine(v, "rg-0002-001")
	for i := range v["rg-0002-001"].view {
		if l := &v["rg-0002-001"].view[i]; l.id == p1 {
			l.slots = []elasticache.SlotRange{{From: 0, To: 99}, {From: 101, To: 5462}}
		}
	}
	l2.openSlot("100-<-" + p1)
	fix, _, ready = reshardPlanOf(g, v, true)
	if want := []string{"rg-0002-001: CLUSTER SETSLOT 100 STABLE"}; ready || !slices.Equal(argsOf(fix), want) {
		t.Errorf("slot 100 unknown: ready %v, fix %v; want not ready, %v", ready, argsOf(fix), want)
	}

	// A failover in progress: no move.
	g.Failover = &elasticache.Failover{From: "rg-0001-001", Phase: elasticache.PhaseRequested}
	if _, _, ready := reshardPlanOf(g, v, true); ready {
		t.Errorf("ready during a failover")
	}
}
