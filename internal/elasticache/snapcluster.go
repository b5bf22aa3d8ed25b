package elasticache

import (
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Snapshots of cluster-mode groups: one node snapshot per shard, its RDB
// taken from one of the shard's available replicas (as ElastiCache
// prefers) else its primary, recording the shard's slots and layout. A
// restore (CreateReplicationGroup SnapshotName into cluster mode) into as
// many shards with the same slots seeds each shard's primary with its
// shard's RDB: a cluster node that loads keys claims their (unassigned)
// slots, all inside its shard's range, and the group controller assigns
// it the rest of the range. Any other layout re-slots (snapreslot.go).

// beginShardedSnapshot is beginGroupSnapshot for a cluster-mode group g
// (available, its members read), inside tx.
func (s *Service) beginShardedSnapshot(tx store.Tx, g *ReplicationGroup, members []*Cluster, from, name, source string) (*Snapshot, error) {
	byID := map[string]*Cluster{}
	for _, c := range members {
		byID[c.ID] = c
	}
	if from != "" {
		return nil, combination("Cache cluster %s is a member of replication group %s, which has cluster mode enabled; snapshot the replication group (ReplicationGroupId).", from, g.ID)
	}
	now := s.cfg.Now().UTC()
	var sn *Snapshot
	var takes []*Cluster
	for _, sh := range g.Shards {
		primary := byID[sh.Primary]
		if primary == nil || len(primary.Nodes) == 0 {
			return nil, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s has no primary in node group %s.", g.ID, sh.ID)
		}
		if err := checkSnapshottable(primary); err != nil {
			return nil, err
		}
		var take *Cluster
		for _, id := range sh.Members {
			if c := byID[id]; c != nil && id != sh.Primary && c.APIStatus() == StatusAvailable && len(c.Nodes) > 0 && (take == nil || id == g.SnapshottingCluster) {
				take = c
			}
		}
		if take == nil {
			take = primary
		}
		if take.APIStatus() != StatusAvailable {
			return nil, elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", take.ID)
		}
		if sn == nil {
			sn = snapshotOf(take, name, source, now)
		}
		node := SnapshotNode{ClusterID: take.ID, NodeID: take.Nodes[0].ID, NodeGroupID: sh.ID, NodeCreatedAt: take.Nodes[0].CreatedAt,
			File: snapshotFile(g.Account, g.Region, name, sh.ID, now), PrimaryAZ: primary.Nodes[0].AZ, Slots: sh.Slots}
		for _, id := range sh.Members {
			if c := byID[id]; c != nil && id != sh.Primary && len(c.Nodes) > 0 {
				node.ReplicaAZs = append(node.ReplicaAZs, c.Nodes[0].AZ)
			}
		}
		sn.Nodes = append(sn.Nodes, node)
		takes = append(takes, take)
	}
	if sn == nil {
		return nil, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s has no node groups.", g.ID)
	}
	sn.GroupID, sn.GroupDescription, sn.AutomaticFailover = g.ID, g.Description, g.AutomaticFailover
	sn.SnapshotWindow, sn.SnapshotRetain, sn.SourceCreatedAt = g.SnapshotWindow, g.SnapshotRetain, g.CreatedAt
	sn.ParameterGroup, sn.ClusterMode = g.ParameterGroup, ClusterModeEnabled
	sn.NumNodes = 1
	g.Snapshotting = name
	for _, c := range takes {
		c.Snapshotting = name
		if err := putCluster(tx, c); err != nil {
			return nil, err
		}
	}
	if err := putGroup(tx, g); err != nil {
		return nil, err
	}
	return sn, nil
}

// clusterModeRestore fills a cluster-mode CreateReplicationGroup request
// restoring sn from the snapshot: cluster mode and, unless the request
// gives them, its number of node groups and, per node group, its id,
// slots and replica count. It reports whether the restore re-slots:
// another number of node groups or other slots, so that keys move
// between shards (snapreslot.go); the request's layout is then its own,
// validated as any cluster-mode request's.
func clusterModeRestore(sn *Snapshot, in *elasticacheapi.CreateReplicationGroupMessage) (reslot bool, err error) {
	if sn.ClusterMode != ClusterModeEnabled {
		return false, nil // a cluster-mode target re-slots (CreateReplicationGroup)
	}
	n := len(sn.Nodes)
	if in.ClusterMode == nil && aws.ToString(in.CacheParameterGroupName) == "" {
		in.ClusterMode = aws.String(ClusterModeEnabled)
	}
	want := max(n, len(in.NodeGroupConfiguration))
	switch {
	case in.NumNodeGroups != nil:
		want = int(*in.NumNodeGroups)
	case len(in.NodeGroupConfiguration) > 0 && !snapshotSlots(sn, in.NodeGroupConfiguration):
		want = len(in.NodeGroupConfiguration) // the request's own layout
	}
	if want != n || len(in.NodeGroupConfiguration) > n {
		if in.NumNodeGroups == nil {
			in.NumNodeGroups = aws.Int32(int32(want))
		}
		return true, nil
	}
	in.NumNodeGroups = aws.Int32(int32(n))
	ngc := make([]elasticacheapi.NodeGroupConfiguration, n)
	copy(ngc, in.NodeGroupConfiguration)
	for i, node := range sn.Nodes {
		c := &ngc[i]
		if c.NodeGroupId == nil {
			c.NodeGroupId = aws.String(node.NodeGroupID)
		}
		if c.Slots == nil {
			c.Slots = aws.String(node.Slots)
		} else if !sameSlots(*c.Slots, node.Slots) {
			reslot = true
		}
		if c.ReplicaCount == nil && in.ReplicasPerNodeGroup == nil && c.PrimaryAvailabilityZone == nil && len(c.ReplicaAvailabilityZones) == 0 {
			c.ReplicaCount = aws.Int32(int32(len(node.ReplicaAZs)))
		}
	}
	in.NodeGroupConfiguration = ngc
	return reslot, nil
}

// snapshotSlots reports whether the node group configurations of a
// request give no slots but the snapshot's node groups' (in order).
func snapshotSlots(sn *Snapshot, ngc []elasticacheapi.NodeGroupConfiguration) bool {
	for i, c := range ngc {
		if i >= len(sn.Nodes) || c.Slots != nil && !sameSlots(*c.Slots, sn.Nodes[i].Slots) {
			return false
		}
	}
	return true
}

// sameSlots reports whether two slot lists name the same slots.
func sameSlots(a, b string) bool {
	set := func(s string) ([]bool, error) {
		rs, err := ParseSlots(strings.TrimSpace(s))
		on := make([]bool, SlotCount)
		for _, r := range rs {
			for k := r.From; k <= r.To && k < SlotCount; k++ {
				on[k] = true
			}
		}
		return on, err
	}
	sa, errA := set(a)
	sb, errB := set(b)
	return errA == nil && errB == nil && slices.Equal(sa, sb)
}

// startShardedRestore marks the snapshot restoring and each shard's
// primary restored from its node group's RDB file, inside tx (the
// snapshot read again: it may have changed since).
func startShardedRestore(tx store.Tx, scope auth.Scope, name string, g *ReplicationGroup, members []*Cluster) error {
	sn, err := getSnapshot(tx, scope, name)
	if err != nil {
		return err
	}
	if sn.Status != SnapshotAvailable && sn.Status != SnapshotRestoring || len(sn.Nodes) != len(g.Shards) {
		return elasticacheapi.ErrInvalidSnapshotStateFault("Snapshot %s is not in the available state (it is %s).", sn.Name, sn.Status)
	}
	for i, sh := range g.Shards {
		k := slices.IndexFunc(members, func(c *Cluster) bool { return c.ID == sh.Primary })
		if k < 0 {
			continue
		}
		members[k].RestoreSnapshot, members[k].RestoreFile = sn.Name, sn.Nodes[i].File
	}
	sn.Status = SnapshotRestoring
	g.RestoreSnapshot = sn.Name
	return putSnapshot(tx, sn)
}
