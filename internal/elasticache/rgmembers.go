package elasticache

import (
	"context"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// createMemberCluster is CreateCacheCluster with ReplicationGroupId: a new
// replica of the group, with the group's settings. What the request says
// of engine, version, node type and port must agree with the group.
func (s *Service) createMemberCluster(ctx context.Context, in *elasticacheapi.CreateCacheClusterMessage) (*elasticacheapi.CreateCacheClusterResult, error) {
	scope := auth.ScopeFrom(ctx)
	id := strings.ToLower(aws.ToString(in.CacheClusterId))
	if err := checkIdentifier("CacheClusterId", id, 50); err != nil {
		return nil, err
	}
	rg := aws.ToString(in.ReplicationGroupId)
	sg, err := s.groupPlacement(ctx, scope, rg)
	if err != nil {
		return nil, err
	}
	var zones []string
	if z := aws.ToString(in.PreferredAvailabilityZone); z != "" {
		zones = []string{z}
	}
	tags, err := fromAPITags(in.Tags)
	if err != nil {
		return nil, err
	}
	var c *Cluster
	_, _, err = s.modifyGroup(ctx, rg, func(tx store.Tx, g *ReplicationGroup, _ []*Cluster) ([]*Cluster, bool, error) {
		if err := memberRequestAgrees(g, in); err != nil {
			return nil, false, err
		}
		if len(g.Members) >= maxGroupMembers {
			return nil, false, elasticacheapi.ErrNodeQuotaForClusterExceededFault("Replication group %s already has %d cache clusters, the most it may have.", g.ID, maxGroupMembers)
		}
		if _, err := tx.Get(clusterKey(g.Account, g.Region, id)); err == nil {
			return nil, false, elasticacheapi.ErrCacheClusterAlreadyExistsFault("Cache cluster %s already exists.", id)
		}
		mode := "cross-az"
		placed, err := assignAZs(sg, zones, len(g.Members)+1, mode)
		if err != nil {
			return nil, false, err
		}
		c = s.newMember(g, id, placed[len(placed)-1])
		c.Tags = tags
		g.Members = append(g.Members, id)
		return []*Cluster{c}, true, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := s.toAPI(scope, c, false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateCacheClusterResult{CacheCluster: out}, nil
}

// memberRequestAgrees checks a CreateCacheCluster request joining g.
func memberRequestAgrees(g *ReplicationGroup, in *elasticacheapi.CreateCacheClusterMessage) error {
	switch {
	case in.Engine != nil && !strings.EqualFold(*in.Engine, g.Engine) && !(g.Engine == catalog.Redis && *in.Engine == ""):
		return combination("The engine %s does not match the engine %s of replication group %s.", *in.Engine, g.Engine, g.ID)
	case in.EngineVersion != nil && *in.EngineVersion != g.EngineVersion:
		return combination("The engine version %s does not match the version %s of replication group %s.", *in.EngineVersion, g.EngineVersion, g.ID)
	case in.CacheNodeType != nil && *in.CacheNodeType != g.NodeType:
		return combination("The node type %s does not match the node type %s of replication group %s.", *in.CacheNodeType, g.NodeType, g.ID)
	case in.NumCacheNodes != nil && *in.NumCacheNodes != 1:
		return invalid("A member cluster of a replication group has one node.")
	case in.Port != nil && int(*in.Port) != g.Port:
		return combination("The port %d does not match the port %d of replication group %s.", *in.Port, g.Port, g.ID)
	case in.CacheParameterGroupName != nil && *in.CacheParameterGroupName != g.ParameterGroup:
		return combination("The parameter group %s does not match the parameter group %s of replication group %s.", *in.CacheParameterGroupName, g.ParameterGroup, g.ID)
	case len(in.PreferredAvailabilityZones) > 1:
		return invalid("A member cluster of a replication group has one node: give at most one availability zone.")
	}
	return nil
}

// leaveGroup takes a member being deleted out of its group inside tx, as
// AWS allows: a replica may go, the primary may not (promote another
// member first, or delete the group), nor may a group with automatic
// failover drop below two clusters.
func (s *Service) leaveGroup(tx store.Tx, c *Cluster) error {
	g, err := getGroup(tx, auth.Scope{AccountID: c.Account, Region: c.Region}, c.ReplicationGroupID)
	if err != nil {
		return err
	}
	switch {
	case g.Status == GroupDeleting:
		return nil
	case c.ID == g.Primary:
		return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is the primary of replication group %s: it cannot be deleted while the group exists.", c.ID, g.ID)
	case g.APIStatus() != GroupAvailable:
		return elasticacheapi.ErrInvalidCacheClusterStateFault("Replication group %s of cache cluster %s is not in the available state.", g.ID, c.ID)
	case g.autoFailover() && len(g.Members) <= 2:
		return combination("When using automatic failover, there must be at least 2 cache clusters in the replication group.")
	case g.MultiAZ && len(g.Members) <= 2:
		return combination("Multi-AZ requires at least one replica in the replication group.")
	}
	g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return id == c.ID })
	if g.SnapshottingCluster == c.ID {
		g.SnapshottingCluster = ""
	}
	g.Status = GroupModifying
	g.Generation++
	c.ReplicationGroupID, c.ReplicaOf = "", ""
	return putGroup(tx, g)
}

// memberRefusal refuses, on a member cluster of a replication group, the
// changes AWS makes through the group: a member's node type and engine
// version are the group's (scaling and upgrading a cluster with replicas
// is ModifyReplicationGroup), and its node count is 1 (replicas are
// added and removed with IncreaseReplicaCount / DecreaseReplicaCount).
// A value equal to the current one is no change and passes.
func memberRefusal(c *Cluster, in *elasticacheapi.ModifyCacheClusterMessage) error {
	if c.ReplicationGroupID == "" {
		return nil
	}
	switch {
	case in.NumCacheNodes != nil && int(*in.NumCacheNodes) != c.NumNodes:
		return combination("Cache cluster %s is a member of replication group %s: its number of nodes cannot be changed; use IncreaseReplicaCount or DecreaseReplicaCount on the replication group.", c.ID, c.ReplicationGroupID)
	case aws.ToString(in.CacheNodeType) != "" && aws.ToString(in.CacheNodeType) != c.NodeType:
		return combination("Cache cluster %s is a member of replication group %s: modify its node type with ModifyReplicationGroup.", c.ID, c.ReplicationGroupID)
	case aws.ToString(in.EngineVersion) != "" && aws.ToString(in.EngineVersion) != c.EngineVersion:
		return combination("Cache cluster %s is a member of replication group %s: modify its engine version with ModifyReplicationGroup.", c.ID, c.ReplicationGroupID)
	case in.AuthToken != nil || in.AuthTokenUpdateStrategy != nil:
		return combination("Cache cluster %s is a member of replication group %s: modify its AUTH token with ModifyReplicationGroup.", c.ID, c.ReplicationGroupID)
	}
	return nil
}
