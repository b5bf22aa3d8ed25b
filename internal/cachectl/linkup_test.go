package cachectl

import (
	"maps"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine"
)

func TestReplicasToReconnect(t *testing.T) {
	running := engine.StateRunning
	withPID := func(m memberView, pid int) memberView { m.pid = pid; return m }
	unlinked := func(id string, pid int, syncing bool) memberView {
		m := withPID(member(id, running, true, 0), pid)
		info := *m.info
		info.LinkUp, info.Syncing = false, syncing
		m.info = &info
		return m
	}
	primary := withPID(member("rg-001", running, false, 100), 10)
	rg2 := EngineNodeID(elasticache.ClusterRef{Account: "000000000000", Region: "us-east-1", ID: "rg-002"}, "0001")
	for _, tc := range []struct {
		name    string
		status  string
		members []memberView
		want    map[string]int
	}{
		{"linked", elasticache.GroupCreating, []memberView{primary, withPID(member("rg-002", running, true, 0), 11), withPID(member("rg-003", running, true, 0), 12)}, nil},
		{"one-not-linked", elasticache.GroupCreating, []memberView{primary, unlinked("rg-002", 11, false), withPID(member("rg-003", running, true, 0), 12)}, map[string]int{rg2: 11}},
		{"syncing", elasticache.GroupCreating, []memberView{primary, unlinked("rg-002", 11, true), withPID(member("rg-003", running, true, 0), 12)}, nil},
		{"primary-not-answering", elasticache.GroupCreating, []memberView{member("rg-001", running, false, -1), unlinked("rg-002", 11, false), unlinked("rg-003", 12, false)}, nil},
		{"not-creating", elasticache.GroupAvailable, []memberView{primary, unlinked("rg-002", 11, false), withPID(member("rg-003", running, true, 0), 12)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := testGroup()
			g.Status = tc.status
			if got := replicasToReconnect(g, groupView{members: tc.members}); !maps.Equal(got, tc.want) {
				t.Errorf("replicasToReconnect = %v, want %v", got, tc.want)
			}
		})
	}
}
