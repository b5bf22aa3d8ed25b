package elasticache

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Re-slotting restores: a CreateReplicationGroup with cluster mode
// enabled whose node groups differ from the snapshot's (another number of
// them, other slots), or that restores the snapshot of a cache without
// cluster mode, as ElastiCache allows. No shard's engine can load an RDB
// holding keys of slots it does not own, so the group is created empty,
// its Redis Cluster formed as any new group's, and the snapshot
// controller (internal/snapctl, reslot.go) moves every key of the
// snapshot's RDB files into the primary of the shard owning its slot
// (DUMP from a temporary engine loading the file, RESTORE … REPLACE
// ABSTTL into the shard): values and remaining TTLs intact. The group
// records the files (Reslot) until the load is done; the group controller
// does not report it available meanwhile, and the snapshot is restoring.
// A load interrupted (the service killed) is run again from the start:
// RESTORE REPLACE makes it idempotent.

// ReslotLoad is a re-slotting restore under way.
type ReslotLoad struct {
	// Files are the snapshot's RDB files, in the snapshot store, in node
	// group order.
	Files []string
}

// startReslotRestore marks the snapshot restoring and g created from it
// by a re-slotting load, inside tx (the snapshot read again: it may have
// changed since).
func startReslotRestore(tx store.Tx, scope auth.Scope, name string, g *ReplicationGroup) error {
	sn, err := getSnapshot(tx, scope, name)
	if err != nil {
		return err
	}
	if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring || len(sn.Nodes) == 0 {
		return elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
	}
	load := &ReslotLoad{}
	for _, n := range sn.Nodes {
		load.Files = append(load.Files, n.File)
	}
	sn.Status = SnapshotRestoring
	g.RestoreSnapshot, g.Reslot = sn.Name, load
	return putSnapshot(tx, sn)
}

// ReslotLoaded records that every key of the snapshot a creating group
// re-slots is in its shard: the group controller may report it
// available. A group no longer loading snapshot is left alone.
func (s *Service) ReslotLoaded(ctx context.Context, ref GroupRef, snapshot string) error {
	_, err := s.UpdateGroup(ctx, ref, func(g *ReplicationGroup, _ []*Cluster) ([]GroupEvent, bool) {
		if g.Reslot == nil || g.RestoreSnapshot != snapshot {
			return nil, false
		}
		g.Reslot = nil
		return nil, true
	})
	return err
}

// ReslotFailed records that the snapshot a creating group re-slots cannot
// be loaded (an RDB with keys outside database 0, which cluster mode
// cannot hold, or a file the engine refuses): the group is create-failed,
// with an event saying why.
func (s *Service) ReslotFailed(ctx context.Context, ref GroupRef, snapshot string, cause error) error {
	_, err := s.UpdateGroup(ctx, ref, func(g *ReplicationGroup, _ []*Cluster) ([]GroupEvent, bool) {
		if g.Reslot == nil || g.RestoreSnapshot != snapshot || g.Status != GroupCreating {
			return nil, false
		}
		g.Reslot = nil
		g.Status, g.LastError = GroupFailed, cause.Error()
		msg := fmt.Sprintf("Failed to restore snapshot %s into replication group %s: %v", snapshot, g.ID, cause)
		return []GroupEvent{{SourceType: "replication-group", SourceID: g.ID, Message: msg}}, true
	})
	return err
}

// ErrReslotData says a snapshot holds data a cluster-mode group cannot:
// keys in a database other than 0.
var ErrReslotData = errors.New("the snapshot holds keys in databases other than 0, which a cluster-mode replication group cannot hold")
