package elasticache

// The status write-back API of snapshots: what the snapshot controller
// (internal/snapctl) reads and writes. Each outcome is one transaction:
// the snapshot, its source's status and the events together.

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// SnapshotWatchKey reports whether a store key concerns the snapshot
// controller: a snapshot, a cluster or a replication group (restores,
// automatic snapshots, sources deleted).
func SnapshotWatchKey(key string) bool {
	return SnapshotKey(key) || GroupConvergeKey(key)
}

// SnapshotState is the stored state the snapshot controller converges:
// every snapshot, cluster and replication group, read in one transaction.
type SnapshotState struct {
	Snapshots []*Snapshot
	Clusters  []*Cluster
	Groups    []*ReplicationGroup
}

// SnapshotState reads the snapshots, clusters and groups of every account
// and region.
func (s *Service) SnapshotState(ctx context.Context) (SnapshotState, error) {
	var st SnapshotState
	err := s.st.View(ctx, func(tx store.Tx) error {
		return tx.Scan(ClusterPrefix, func(key string, b []byte) error {
			var err error
			switch {
			case strings.Contains(key, "/snapshot/"):
				st.Snapshots, err = appendJSON(st.Snapshots, key, b)
			case strings.Contains(key, "/cluster/"):
				st.Clusters, err = appendJSON(st.Clusters, key, b)
			case strings.Contains(key, "/replicationgroup/"):
				st.Groups, err = appendJSON(st.Groups, key, b)
			}
			return err
		})
	})
	if err != nil {
		return st, fmt.Errorf("read snapshots: %w", err)
	}
	return st, nil
}

func appendJSON[T any](l []*T, key string, b []byte) ([]*T, error) {
	v := new(T)
	if err := json.Unmarshal(b, v); err != nil {
		return l, fmt.Errorf("decode %s: %w", key, err)
	}
	return append(l, v), nil
}

// NodeTaken is a node snapshot written to the store: its size and when.
type NodeTaken struct {
	NodeGroupID string
	Size        int64
	At          time.Time
}

// SnapshotSucceededMessage and SnapshotFailedMessage are the events of a
// snapshot's source (ElastiCache's SnapshotComplete and SnapshotFailed).
func SnapshotSucceededMessage(sn *Snapshot) string {
	return "Snapshot succeeded for snapshot with ID '" + sn.Name + "' of " + sn.sourceWords()
}

// SnapshotFailedMessage: see SnapshotSucceededMessage.
func SnapshotFailedMessage(sn *Snapshot) string {
	return "Snapshot failed for snapshot with ID '" + sn.Name + "' of " + sn.sourceWords()
}

// SnapshotTaken records a snapshot whose files are whole in the store:
// available, its source no longer snapshotting (deleted, for a final
// snapshot), with the source's event, in one transaction.
func (s *Service) SnapshotTaken(ctx context.Context, ref SnapshotRef, taken []NodeTaken) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		sn, err := getSnapshot(tx, auth.Scope{AccountID: ref.Account, Region: ref.Region}, ref.Name)
		if err != nil || sn.Status != SnapshotCreating {
			return ignoreNotFound(err)
		}
		for _, t := range taken {
			for i := range sn.Nodes {
				if sn.Nodes[i].NodeGroupID == t.NodeGroupID {
					sn.Nodes[i].Size, sn.Nodes[i].TakenAt = t.Size, t.At.UTC()
				}
			}
		}
		sn.Status, sn.LastError = SnapshotAvailable, ""
		if err := s.endSnapshotting(tx, sn, true); err != nil {
			return err
		}
		if err := putSnapshot(tx, sn); err != nil {
			return err
		}
		return s.putEvent(tx, sn.Account, sn.Region, Event{SourceID: sn.SourceID(), SourceType: sn.sourceType(), Message: SnapshotSucceededMessage(sn)})
	})
	if err != nil {
		return fmt.Errorf("snapshot %s taken: %w", ref, err)
	}
	return nil
}

// SnapshotFailed removes a snapshot that could not be taken and records
// why on its source, which is no longer snapshotting (and, for a final
// snapshot, not deleted), in one transaction.
func (s *Service) SnapshotFailed(ctx context.Context, ref SnapshotRef, cause error) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		sn, err := getSnapshot(tx, auth.Scope{AccountID: ref.Account, Region: ref.Region}, ref.Name)
		if err != nil || sn.Status != SnapshotCreating {
			return ignoreNotFound(err)
		}
		if err := s.endSnapshotting(tx, sn, false); err != nil {
			return err
		}
		if err := tx.Delete(snapshotKey(sn.Account, sn.Region, sn.Name)); err != nil {
			return err
		}
		msg := SnapshotFailedMessage(sn) + ": " + cause.Error()
		if sn.FinalFor {
			msg += "; the deletion was not done"
		}
		return s.putEvent(tx, sn.Account, sn.Region, Event{SourceID: sn.SourceID(), SourceType: sn.sourceType(), Message: msg})
	})
	if err != nil {
		return fmt.Errorf("snapshot %s failed: %w", ref, err)
	}
	return nil
}

func ignoreNotFound(err error) error {
	if awserr.HasCode(err, "SnapshotNotFoundFault") {
		return nil
	}
	return err
}

// endSnapshotting clears the snapshotting mark of sn's source (the group
// and the member taken from, or the cluster) and, for a final snapshot
// taken, deletes the source.
func (s *Service) endSnapshotting(tx store.Tx, sn *Snapshot, taken bool) error {
	scope := auth.Scope{AccountID: sn.Account, Region: sn.Region}
	for _, n := range sn.Nodes {
		var c Cluster // a serverless cache's member too
		err := store.GetJSON(tx, clusterKey(sn.Account, sn.Region, n.ClusterID), &c)
		if err != nil {
			continue // gone
		}
		if c.Snapshotting == sn.Name {
			c.Snapshotting = ""
			if sn.FinalFor && taken && sn.GroupID == "" {
				markDeleting(&c)
			}
			if err := putCluster(tx, &c); err != nil {
				return err
			}
		}
	}
	if sn.GroupID == "" {
		return nil
	}
	get := getGroup
	if sn.ServerlessCache != "" {
		get = func(tx store.Tx, s auth.Scope, _ string) (*ReplicationGroup, error) {
			return getServerless(tx, s, sn.ServerlessCache)
		}
	}
	g, err := get(tx, scope, sn.GroupID)
	if err != nil || g.Snapshotting != sn.Name {
		return nil // gone, or no longer marked
	}
	g.Snapshotting = ""
	if sn.FinalFor && taken {
		members, err := groupMembers(tx, g)
		if err != nil {
			return err
		}
		return deleteGroupTx(tx, g, members, sn.FinalRetain)
	}
	return putGroup(tx, g)
}

// RemoveSnapshot removes a deleting snapshot's record; its files go once
// no snapshot names them (SnapshotFiles).
func (s *Service) RemoveSnapshot(ctx context.Context, ref SnapshotRef) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		return tx.Delete(snapshotKey(ref.Account, ref.Region, ref.Name))
	})
	if err != nil {
		return fmt.Errorf("remove snapshot %s: %w", ref, err)
	}
	return nil
}

// ExpireSnapshot marks an available automatic snapshot deleting (past its
// retention, or its source deleted).
func (s *Service) ExpireSnapshot(ctx context.Context, ref SnapshotRef) error {
	err := s.st.Update(ctx, func(tx store.Tx) error {
		sn, err := getSnapshot(tx, auth.Scope{AccountID: ref.Account, Region: ref.Region}, ref.Name)
		if err != nil || sn.Status != SnapshotAvailable || sn.Source != SourceAutomated {
			return ignoreNotFound(err)
		}
		sn.Status = SnapshotDeleting
		return putSnapshot(tx, sn)
	})
	if err != nil {
		return fmt.Errorf("expire snapshot %s: %w", ref, err)
	}
	return nil
}

// SettleRestores ends the restores that are over: a cluster or group
// created from a snapshot that is no longer creating forgets it, and a
// restoring snapshot no creating cache still loads from is available
// again, in one transaction. It reports whether it changed anything.
func (s *Service) SettleRestores(ctx context.Context) (bool, error) {
	changed := false
	err := s.st.Update(ctx, func(tx store.Tx) error {
		changed = false
		var clusters []*Cluster
		var groups []*ReplicationGroup
		var snaps []*Snapshot
		err := tx.Scan(ClusterPrefix, func(key string, b []byte) error {
			var err error
			switch {
			case strings.Contains(key, "/snapshot/"):
				snaps, err = appendJSON(snaps, key, b)
			case strings.Contains(key, "/cluster/"):
				clusters, err = appendJSON(clusters, key, b)
			case strings.Contains(key, "/replicationgroup/"):
				groups, err = appendJSON(groups, key, b)
			}
			return err
		})
		if err != nil {
			return err
		}
		loading := map[SnapshotRef]bool{} // snapshots still restored from
		for _, c := range clusters {
			switch {
			case c.RestoreSnapshot == "":
			case c.Status == StatusCreating:
				loading[SnapshotRef{c.Account, c.Region, c.RestoreSnapshot}] = true
			default:
				c.RestoreSnapshot, c.RestoreFile = "", ""
				changed = true
				if err := putCluster(tx, c); err != nil {
					return err
				}
			}
		}
		for _, g := range groups {
			switch {
			case g.RestoreSnapshot == "":
			case g.Status == GroupCreating:
				loading[SnapshotRef{g.Account, g.Region, g.RestoreSnapshot}] = true
			default:
				g.RestoreSnapshot, g.Reslot = "", nil
				changed = true
				if err := putGroup(tx, g); err != nil {
					return err
				}
			}
		}
		for _, sn := range snaps {
			if sn.Status == SnapshotRestoring && !loading[sn.Ref()] {
				sn.Status = SnapshotAvailable
				changed = true
				if err := putSnapshot(tx, sn); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("settle restores: %w", err)
	}
	return changed, nil
}
