package elasticache

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// DescribeSnapshots lists the caller's snapshots in the region, filtered by
// name, source cluster or group and source, in name order, 50 a page.
func (s *Service) DescribeSnapshots(ctx context.Context, in *elasticacheapi.DescribeSnapshotsMessage) (*elasticacheapi.DescribeSnapshotsListMessage, error) {
	scope := auth.ScopeFrom(ctx)
	source := aws.ToString(in.SnapshotSource)
	switch source {
	case "", SourceManual, SourceAutomated:
	default:
		return nil, invalid("Invalid value for SnapshotSource: %s. Valid values are manual and automated.", source)
	}
	maxRecords := int32(50)
	if in.MaxRecords != nil {
		if *in.MaxRecords < 20 || *in.MaxRecords > 50 {
			return nil, invalid("Invalid value for MaxRecords: %d. Valid values are between 20 and 50.", *in.MaxRecords)
		}
		maxRecords = *in.MaxRecords
	}
	name := strings.ToLower(aws.ToString(in.SnapshotName))
	cluster := strings.ToLower(aws.ToString(in.CacheClusterId))
	group := strings.ToLower(aws.ToString(in.ReplicationGroupId))
	var snaps []*Snapshot
	err := s.st.View(ctx, func(tx store.Tx) error {
		if name != "" {
			sn, err := getNodeSnapshot(tx, scope, name)
			if err != nil {
				return err
			}
			snaps = []*Snapshot{sn}
			return nil
		}
		var err error
		snaps, err = store.ListJSON[Snapshot](tx, snapshotPrefix(scope))
		return err
	})
	if err != nil {
		return nil, err
	}
	snaps = slices.DeleteFunc(snaps, func(sn *Snapshot) bool {
		return sn.ServerlessCache != "" || source != "" && sn.Source != source || group != "" && sn.GroupID != group ||
			cluster != "" && !snapshotOfCluster(sn, cluster)
	})
	pageItems, next, err := page(snaps, func(sn *Snapshot) string { return sn.Name }, in.Marker, &maxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.DescribeSnapshotsListMessage{Snapshots: []elasticacheapi.Snapshot{}, Marker: next}
	for _, sn := range pageItems {
		out.Snapshots = append(out.Snapshots, snapshotToAPI(scope, sn, aws.ToBool(in.ShowNodeGroupConfig)))
	}
	return out, nil
}

// snapshotOfCluster reports whether sn was taken of (or from) cluster id.
func snapshotOfCluster(sn *Snapshot, id string) bool {
	return sn.ClusterID == id || slices.ContainsFunc(sn.Nodes, func(n SnapshotNode) bool { return n.ClusterID == id })
}

// CopySnapshot makes a manual copy of an available snapshot, available at
// once: it shares the source's RDB files, which the snapshot store keeps
// while any snapshot names them. Exporting to Amazon S3 (TargetBucket) is
// refused: Cachalot has no S3.
func (s *Service) CopySnapshot(ctx context.Context, in *elasticacheapi.CopySnapshotMessage) (*elasticacheapi.CopySnapshotResult, error) {
	scope := auth.ScopeFrom(ctx)
	src := strings.ToLower(aws.ToString(in.SourceSnapshotName))
	dst := strings.ToLower(aws.ToString(in.TargetSnapshotName))
	if in.TargetBucket != nil {
		return nil, invalid("Exporting a snapshot to Amazon S3 (TargetBucket %s) is not supported by Cachalot: there is no S3; restore from the snapshot by SnapshotName.", *in.TargetBucket)
	}
	if in.KmsKeyId != nil {
		return nil, invalid("Encryption at rest (KmsKeyId) is not supported by Cachalot yet.")
	}
	if err := checkIdentifier("TargetSnapshotName", dst, 255); err != nil {
		return nil, err
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	var cp *Snapshot
	err = s.st.Update(ctx, func(tx store.Tx) error {
		sn, err := getNodeSnapshot(tx, scope, src)
		if err != nil {
			return err
		}
		if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring {
			return elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
		}
		if err := s.checkNewSnapshot(tx, scope, dst, true); err != nil {
			return err
		}
		c := *sn
		c.Name, c.Source, c.Status, c.CreatedAt, c.Tags = dst, SourceManual, SnapshotAvailable, s.cfg.Now().UTC(), tags
		c.Nodes = slices.Clone(sn.Nodes)
		c.FinalFor, c.LastError = false, ""
		cp = &c
		return putSnapshot(tx, cp)
	})
	if err != nil {
		return nil, err
	}
	out := snapshotToAPI(scope, cp, false)
	return &elasticacheapi.CopySnapshotResult{Snapshot: &out}, nil
}

// DeleteSnapshot marks an available snapshot deleting; the snapshot
// controller removes it and the files no snapshot names any more.
func (s *Service) DeleteSnapshot(ctx context.Context, in *elasticacheapi.DeleteSnapshotMessage) (*elasticacheapi.DeleteSnapshotResult, error) {
	scope := auth.ScopeFrom(ctx)
	var sn *Snapshot
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if sn, err = getNodeSnapshot(tx, scope, strings.ToLower(aws.ToString(in.SnapshotName))); err != nil {
			return err
		}
		if sn.Status != SnapshotAvailable {
			return elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
		}
		sn.Status = SnapshotDeleting
		return putSnapshot(tx, sn)
	})
	if err != nil {
		return nil, err
	}
	out := snapshotToAPI(scope, sn, false)
	return &elasticacheapi.DeleteSnapshotResult{Snapshot: &out}, nil
}
