package elasticache

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// defaultSnapshotQuota is the number of manual snapshots an account keeps
// per region unless Config.SnapshotQuota says otherwise.
const defaultSnapshotQuota = 1000

// CreateSnapshot records a manual snapshot of a cluster or a replication
// group, creating, and marks its source snapshotting; the snapshot
// controller takes it from the engine.
func (s *Service) CreateSnapshot(ctx context.Context, in *elasticacheapi.CreateSnapshotMessage) (*elasticacheapi.CreateSnapshotResult, error) {
	scope := auth.ScopeFrom(ctx)
	name := strings.ToLower(aws.ToString(in.SnapshotName))
	if err := checkIdentifier("SnapshotName", name, 255); err != nil {
		return nil, err
	}
	if in.KmsKeyId != nil {
		return nil, invalid("Encryption at rest (KmsKeyId) is not supported by Cachalot yet.")
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	clusterID, groupID := aws.ToString(in.CacheClusterId), aws.ToString(in.ReplicationGroupId)
	switch {
	case clusterID == "" && groupID == "":
		return nil, combination("At least one of CacheClusterId or ReplicationGroupId must be specified.")
	case clusterID != "" && groupID != "":
		return nil, combination("Only one of CacheClusterId or ReplicationGroupId may be specified.")
	}
	var sn *Snapshot
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if err := s.checkNewSnapshot(tx, scope, name, true); err != nil {
			return err
		}
		var err error
		if groupID != "" {
			sn, err = s.beginGroupSnapshot(tx, scope, groupID, "", name, SourceManual)
		} else {
			sn, err = s.beginClusterSnapshot(tx, scope, clusterID, name, SourceManual)
		}
		if err != nil {
			return err
		}
		sn.Tags = tags
		return putSnapshot(tx, sn)
	})
	if err != nil {
		return nil, err
	}
	out := snapshotToAPI(scope, sn, false)
	return &elasticacheapi.CreateSnapshotResult{Snapshot: &out}, nil
}

// checkNewSnapshot refuses a snapshot name in use and, for a manual
// snapshot, one over the quota.
func (s *Service) checkNewSnapshot(tx store.Tx, scope auth.Scope, name string, manual bool) error {
	if _, err := tx.Get(snapshotKey(scope.AccountID, scope.Region, name)); err == nil {
		return elasticacheapi.ErrSnapshotAlreadyExistsFault("Snapshot %s already exists.", name)
	}
	if !manual {
		return nil
	}
	quota := s.cfg.SnapshotQuota
	if quota <= 0 {
		quota = defaultSnapshotQuota
	}
	n := 0
	err := store.ScanJSON(tx, snapshotPrefix(scope), func(_ string, sn *Snapshot) error {
		if sn.Source == SourceManual && sn.ServerlessCache == "" {
			n++
		}
		return nil
	})
	if err != nil {
		return err
	}
	if n >= quota {
		return elasticacheapi.ErrSnapshotQuotaExceededFault("The request cannot be processed because it would exceed the maximum number of snapshots (%d).", quota)
	}
	return nil
}

// checkSnapshottable refuses a cluster whose engine or node type has no
// snapshots.
func checkSnapshottable(c *Cluster) error {
	switch {
	case c.Engine == catalog.Memcached:
		return elasticacheapi.ErrSnapshotFeatureNotSupportedFault("Snapshots are not supported for Memcached clusters.")
	case c.NodeType == "cache.t1.micro":
		return elasticacheapi.ErrSnapshotFeatureNotSupportedFault("Snapshots are not supported for cache node type %s.", c.NodeType)
	}
	return nil
}

// beginClusterSnapshot starts a snapshot of a cluster inside tx; a member
// of a replication group is snapshotted as its group, from it.
func (s *Service) beginClusterSnapshot(tx store.Tx, scope auth.Scope, id, name, source string) (*Snapshot, error) {
	c, err := getCluster(tx, scope, id)
	if err != nil {
		return nil, err
	}
	if err := checkSnapshottable(c); err != nil {
		return nil, err
	}
	if c.ReplicationGroupID != "" {
		sn, err := s.beginGroupSnapshot(tx, scope, c.ReplicationGroupID, c.ID, name, source)
		if err == nil {
			sn.ClusterID = c.ID
		}
		return sn, err
	}
	if c.APIStatus() != StatusAvailable || len(c.Nodes) == 0 {
		return nil, elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", c.ID)
	}
	now := s.cfg.Now().UTC()
	sn := snapshotOf(c, name, source, now)
	sn.ClusterID = c.ID
	sn.PreferredAZ = c.Nodes[0].AZ
	n := c.Nodes[0]
	sn.Nodes = []SnapshotNode{{ClusterID: c.ID, NodeID: n.ID, NodeGroupID: NodeGroupID, NodeCreatedAt: n.CreatedAt,
		File: snapshotFile(c.Account, c.Region, name, NodeGroupID, now), PrimaryAZ: n.AZ}}
	c.Snapshotting = name
	if err := putCluster(tx, c); err != nil {
		return nil, err
	}
	return sn, nil
}

// beginGroupSnapshot starts a snapshot of a replication group inside tx,
// taken from the member from (if given), else the group's snapshotting
// cluster, else a replica (as ElastiCache prefers), else the primary.
func (s *Service) beginGroupSnapshot(tx store.Tx, scope auth.Scope, id, from, name, source string) (*Snapshot, error) {
	g, err := getGroup(tx, scope, id)
	if err != nil {
		return nil, err
	}
	members, err := groupMembers(tx, g)
	if err != nil {
		return nil, err
	}
	if g.APIStatus() != GroupAvailable {
		return nil, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state.", g.ID)
	}
	if g.ClusterEnabled() {
		return s.beginShardedSnapshot(tx, g, members, from, name, source) // snapcluster.go
	}
	var primary, take *Cluster
	for _, c := range members {
		if c.ID == g.Primary {
			primary = c
		}
	}
	if primary == nil || len(primary.Nodes) == 0 {
		return nil, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s has no primary.", g.ID)
	}
	if err := checkSnapshottable(primary); err != nil {
		return nil, err
	}
	pick := func(id string) {
		if i := slices.IndexFunc(members, func(c *Cluster) bool { return c.ID == id }); take == nil && i >= 0 {
			take = members[i]
		}
	}
	pick(from)
	pick(g.SnapshottingCluster)
	for _, c := range members {
		if c.ID != g.Primary && c.APIStatus() == StatusAvailable {
			pick(c.ID)
		}
	}
	pick(g.Primary)
	if take.APIStatus() != StatusAvailable || len(take.Nodes) == 0 {
		return nil, elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", take.ID)
	}
	now := s.cfg.Now().UTC()
	sn := snapshotOf(take, name, source, now)
	sn.GroupID, sn.GroupDescription, sn.AutomaticFailover = g.ID, g.Description, g.AutomaticFailover
	sn.SnapshotWindow, sn.SnapshotRetain, sn.SourceCreatedAt = g.SnapshotWindow, g.SnapshotRetain, g.CreatedAt
	node := SnapshotNode{ClusterID: take.ID, NodeID: take.Nodes[0].ID, NodeGroupID: NodeGroupID, NodeCreatedAt: take.Nodes[0].CreatedAt,
		File: snapshotFile(g.Account, g.Region, name, NodeGroupID, now), PrimaryAZ: primary.Nodes[0].AZ}
	for _, c := range members {
		if c.ID != g.Primary && len(c.Nodes) > 0 {
			node.ReplicaAZs = append(node.ReplicaAZs, c.Nodes[0].AZ)
		}
	}
	sn.Nodes = []SnapshotNode{node}
	g.Snapshotting, take.Snapshotting = name, name
	if err := putCluster(tx, take); err != nil {
		return nil, err
	}
	if err := putGroup(tx, g); err != nil {
		return nil, err
	}
	return sn, nil
}

// snapshotOf is a new snapshot of c's settings, creating.
func snapshotOf(c *Cluster, name, source string, now time.Time) *Snapshot {
	return &Snapshot{
		Account: c.Account, Region: c.Region, Name: name, Source: source, Status: SnapshotCreating, CreatedAt: now,
		Engine: c.Engine, EngineVersion: c.EngineVersion, Family: c.Family, NodeType: c.NodeType,
		NumNodes: c.NumNodes, Port: c.Port, ParameterGroup: c.ParameterGroup,
		SubnetGroup: c.SubnetGroup, VpcID: c.VpcID, Maintenance: c.Maintenance,
		SnapshotWindow: c.SnapshotWindow, SnapshotRetain: c.SnapshotRetain, AutoMinor: c.AutoMinor,
		SourceCreatedAt: c.CreatedAt,
	}
}

// maxSnapshotRetention is the most days automatic snapshots are kept.
const maxSnapshotRetention = 35

// checkSnapshotSettings validates SnapshotRetentionLimit (0 to 35 days)
// and SnapshotWindow (hh24:mi-hh24:mi, UTC, at least 60 minutes).
func checkSnapshotSettings(retain *int32, window *string) error {
	if retain != nil && (*retain < 0 || *retain > maxSnapshotRetention) {
		return invalid("Invalid SnapshotRetentionLimit %d: the snapshot retention limit must be between 0 and %d days.", *retain, maxSnapshotRetention)
	}
	w := aws.ToString(window)
	if w == "" {
		return nil
	}
	from, to, ok := strings.Cut(w, "-")
	f, okf := clockMinute(from)
	t, okt := clockMinute(to)
	if !ok || !okf || !okt {
		return invalid("Invalid SnapshotWindow %s: the format is hh24:mi-hh24:mi (UTC), for example 05:00-06:00.", w)
	}
	if (t-f+24*60)%(24*60) < 60 {
		return invalid("Snapshot window must be at least 60 minutes.")
	}
	return nil
}

// clockMinute reads hh:mm as minutes of the day.
func clockMinute(s string) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	h, err1 := strconv.Atoi(s[:2])
	m, err2 := strconv.Atoi(s[3:])
	if err1 != nil || err2 != nil || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, false
	}
	return h*60 + m, true
}

// checkGroupSnapshotting is AWS's rule for turning automatic snapshots on
// in a replication group: the request names the cluster they are taken
// from, unless the group has one already.
func checkGroupSnapshotting(g *ReplicationGroup, in *elasticacheapi.ModifyReplicationGroupMessage) error {
	if aws.ToInt32(in.SnapshotRetentionLimit) > 0 && g.SnapshotRetain == 0 && in.SnapshottingClusterId == nil && g.SnapshottingCluster == "" {
		return combination("Must specify both SnapshotRetentionLimit and SnapshottingClusterId to turn on snapshots")
	}
	return nil
}
