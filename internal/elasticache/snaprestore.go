package elasticache

import (
	"context"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Restores: CreateCacheCluster and CreateReplicationGroup with a
// SnapshotName create a cache whose engine starts with the snapshot's RDB
// file (the primary's; replicas synchronise from it). The request takes
// the snapshot's engine, version, node type and port unless it says
// otherwise; the snapshot is restoring while a cache loads from it, and
// the cache names the file (Cluster.RestoreFile) so that the snapshot
// store keeps it. Seeding from Amazon S3 (SnapshotArns) is refused:
// Cachalot has no S3.

// refuseSnapshotArns is the answer to SnapshotArns.
func refuseSnapshotArns() error {
	return invalid("Seeding a cache from RDB files in Amazon S3 (SnapshotArns) is not supported by Cachalot: there is no S3; create a snapshot and restore it with SnapshotName.")
}

// restoreSnapshot reads the snapshot a new cache restores and checks it
// may be: available (or already restoring). The caller checks its node
// groups fit the cache (oneNodeGroup).
func (s *Service) restoreSnapshot(ctx context.Context, scope auth.Scope, name string) (*Snapshot, error) {
	var sn *Snapshot
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		sn, err = getNodeSnapshot(tx, scope, strings.ToLower(name))
		return err
	})
	if err != nil {
		return nil, err
	}
	if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring {
		return nil, elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
	}
	return sn, nil
}

// oneNodeGroup refuses restoring a snapshot of a cluster-mode group into
// a cache without cluster mode.
func oneNodeGroup(sn *Snapshot) error {
	if len(sn.Nodes) != 1 || sn.ClusterMode == ClusterModeEnabled {
		return combination("Snapshot %s is of a replication group with cluster mode enabled (%d node groups); it can only be restored into a replication group with cluster mode enabled.", sn.Name, len(sn.Nodes))
	}
	return nil
}

// restoreDefaults fills what a restore request leaves out from the
// snapshot and refuses an engine that cannot load it.
func restoreDefaults(sn *Snapshot, eng, version, nodeType **string, port **int32) error {
	if *eng == nil || **eng == "" {
		*eng = aws.String(sn.Engine)
	}
	e := strings.ToLower(**eng)
	if e == catalog.Memcached {
		return combination("Snapshot %s is of %s; Memcached caches cannot be restored from snapshots.", sn.Name, engineTitle(sn.Engine))
	}
	if *version == nil || **version == "" {
		if e == sn.Engine {
			*version = aws.String(sn.EngineVersion)
		}
	} else if e == sn.Engine && versionLess(**version, sn.EngineVersion) {
		return combination("Snapshot %s was taken of %s %s; it cannot be restored into the older version %s.", sn.Name, engineTitle(sn.Engine), sn.EngineVersion, **version)
	}
	if *nodeType == nil || **nodeType == "" {
		*nodeType = aws.String(sn.NodeType)
	}
	if *port == nil {
		*port = aws.Int32(int32(sn.Port))
	}
	return nil
}

// versionLess compares dotted versions numerically.
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// clusterRestore is a CreateCacheCluster request with the snapshot's
// defaults, and the snapshot (nil without SnapshotName).
func (s *Service) clusterRestore(ctx context.Context, in *elasticacheapi.CreateCacheClusterMessage) (*elasticacheapi.CreateCacheClusterMessage, *Snapshot, error) {
	if in.SnapshotArns != nil {
		return nil, nil, refuseSnapshotArns()
	}
	if in.SnapshotName == nil {
		return in, nil, nil
	}
	sn, err := s.restoreSnapshot(ctx, auth.ScopeFrom(ctx), *in.SnapshotName)
	if err != nil {
		return nil, nil, err
	}
	if err := oneNodeGroup(sn); err != nil {
		return nil, nil, err
	}
	cp := *in
	if err := restoreDefaults(sn, &cp.Engine, &cp.EngineVersion, &cp.CacheNodeType, &cp.Port); err != nil {
		return nil, nil, err
	}
	return &cp, sn, nil
}

// groupRestore is clusterRestore for CreateReplicationGroup; reslot says
// a cluster-mode snapshot is restored into another layout of node groups
// (clusterModeRestore).
func (s *Service) groupRestore(ctx context.Context, in *elasticacheapi.CreateReplicationGroupMessage) (_ *elasticacheapi.CreateReplicationGroupMessage, _ *Snapshot, reslot bool, _ error) {
	switch {
	case in.SnapshotArns != nil:
		return nil, nil, false, refuseSnapshotArns()
	case in.SnapshotName == nil:
		return in, nil, false, nil
	case in.PrimaryClusterId != nil:
		return nil, nil, false, combination("PrimaryClusterId and SnapshotName cannot be used together.")
	}
	sn, err := s.restoreSnapshot(ctx, auth.ScopeFrom(ctx), *in.SnapshotName)
	if err != nil {
		return nil, nil, false, err
	}
	cp := *in
	if err := restoreDefaults(sn, &cp.Engine, &cp.EngineVersion, &cp.CacheNodeType, &cp.Port); err != nil {
		return nil, nil, false, err
	}
	if reslot, err = clusterModeRestore(sn, &cp); err != nil { // snapcluster.go
		return nil, nil, false, err
	}
	return &cp, sn, reslot, nil
}

// startRestore marks the snapshot restoring and c restored from it,
// inside tx (the snapshot read again: it may have changed since).
func startRestore(tx store.Tx, scope auth.Scope, name string, c *Cluster) error {
	sn, err := getSnapshot(tx, scope, name)
	if err != nil {
		return err
	}
	if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring || len(sn.Nodes) != 1 {
		return elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
	}
	sn.Status = SnapshotRestoring
	c.RestoreSnapshot, c.RestoreFile = sn.Name, sn.Nodes[0].File
	return putSnapshot(tx, sn)
}
