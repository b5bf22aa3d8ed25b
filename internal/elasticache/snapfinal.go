package elasticache

import (
	"context"
	"fmt"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Final snapshots (FinalSnapshotIdentifier on DeleteCacheCluster and
// DeleteReplicationGroup): the deletion records a snapshot, creating, and
// leaves its source snapshotting; the snapshot controller takes it before
// any engine stops, and the same transaction that makes it available
// marks the source deleting (snapstatus.go, endSnapshotting). A final
// snapshot that fails leaves the source in place, with an event.

// beginFinalSnapshot starts the final snapshot name of the cluster
// clusterID or the group groupID inside tx.
func (s *Service) beginFinalSnapshot(tx store.Tx, scope auth.Scope, clusterID, groupID, name string, retain bool) error {
	if err := s.checkNewSnapshot(tx, scope, name, true); err != nil {
		return err
	}
	var sn *Snapshot
	var err error
	if groupID != "" {
		sn, err = s.beginGroupSnapshot(tx, scope, groupID, "", name, SourceManual)
	} else {
		c, gerr := getCluster(tx, scope, clusterID)
		if gerr != nil {
			return gerr
		}
		if c.ReplicationGroupID != "" {
			return combination("A final snapshot of cluster %s, a member of replication group %s, must be taken by DeleteReplicationGroup.", c.ID, c.ReplicationGroupID)
		}
		if c.Status != StatusAvailable {
			return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state; a final snapshot cannot be taken.", c.ID)
		}
		sn, err = s.beginClusterSnapshot(tx, scope, clusterID, name, SourceManual)
	}
	if err != nil {
		return err
	}
	sn.FinalFor, sn.FinalRetain = true, retain
	return putSnapshot(tx, sn)
}

// SnapshotSourceRef names the source of an automatic snapshot: a cluster
// outside a group (ClusterID) or a replication group (GroupID).
type SnapshotSourceRef struct{ Account, Region, ClusterID, GroupID string }

// StartAutomaticSnapshot records an automatic snapshot of src, creating,
// and marks src snapshotting, in one transaction.
func (s *Service) StartAutomaticSnapshot(ctx context.Context, src SnapshotSourceRef, name string) error {
	scope := auth.Scope{AccountID: src.Account, Region: src.Region}
	err := s.st.Update(ctx, func(tx store.Tx) error {
		if cache, ok := strings.CutPrefix(src.GroupID, ServerlessGroupPrefix); ok {
			// A serverless cache's daily snapshot, among its snapshots.
			_, err := s.beginServerlessSnapshot(tx, scope, cache, name, SourceAutomated, nil)
			return err
		}
		if err := s.checkNewSnapshot(tx, scope, name, false); err != nil {
			return err
		}
		var sn *Snapshot
		var err error
		if src.GroupID != "" {
			sn, err = s.beginGroupSnapshot(tx, scope, src.GroupID, "", name, SourceAutomated)
		} else {
			sn, err = s.beginClusterSnapshot(tx, scope, src.ClusterID, name, SourceAutomated)
		}
		if err != nil {
			return err
		}
		return putSnapshot(tx, sn)
	})
	if err != nil {
		return fmt.Errorf("start automatic snapshot %s: %w", name, err)
	}
	return nil
}
