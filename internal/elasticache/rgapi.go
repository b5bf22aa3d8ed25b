package elasticache

import (
	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
)

// groupToAPI renders a replication group as DescribeReplicationGroups
// shows it, from the group and its member clusters: every field of the
// model, with AWS's values for the features Cachalot does not have yet
// (encryption, global datastores, data tiering, log delivery, user groups).
func (s *Service) groupToAPI(scope auth.Scope, g *ReplicationGroup, members []*Cluster) (*elasticacheapi.ReplicationGroup, error) {
	multiAZ := "disabled"
	if g.MultiAZ {
		multiAZ = "enabled"
	}
	out := &elasticacheapi.ReplicationGroup{
		ARN:                       aws.String(ARN(scope, "replicationgroup", g.ID)),
		ReplicationGroupId:        aws.String(g.ID),
		Description:               aws.String(g.Description),
		Status:                    aws.String(g.APIStatus()),
		Engine:                    aws.String(g.Engine),
		CacheNodeType:             aws.String(g.NodeType),
		MemberClusters:            append([]string{}, g.Members...),
		AutomaticFailover:         aws.String(g.AutomaticFailover),
		MultiAZ:                   aws.String(multiAZ),
		ClusterEnabled:            aws.Bool(false),
		ClusterMode:               aws.String("disabled"),
		SnapshotRetentionLimit:    aws.Int32(int32(g.SnapshotRetain)),
		SnapshotWindow:            aws.String(g.SnapshotWindow),
		AtRestEncryptionEnabled:   aws.Bool(false),
		AutoMinorVersionUpgrade:   aws.Bool(g.AutoMinor),
		DataTiering:               aws.String("disabled"),
		NetworkType:               aws.String(g.NetworkType),
		IpDiscovery:               aws.String(g.IPDiscovery),
		LogDeliveryConfigurations: []elasticacheapi.LogDeliveryConfiguration{},
		PendingModifiedValues:     &elasticacheapi.ReplicationGroupPendingModifiedValues{},
	}
	out.TransitEncryptionEnabled, out.TransitEncryptionMode = transitAPI(g.TransitEncryptionMode)
	if p := g.TransitPending; p != nil && g.Status == GroupModifying {
		// Until the members follow: the mode as it was, the new one pending.
		out.TransitEncryptionEnabled, out.TransitEncryptionMode = transitAPI(p.From)
		out.PendingModifiedValues.TransitEncryptionEnabled, out.PendingModifiedValues.TransitEncryptionMode = transitAPI(g.TransitEncryptionMode)
	}
	out.AuthTokenEnabled, out.AuthTokenLastModifiedDate = authAPI(g.AuthTokens, g.AuthTokenModified)
	out.UserGroupIds = []string{}
	if g.UserGroupID != "" {
		out.UserGroupIds = []string{g.UserGroupID}
	}
	if g.AuthTokenStatus != "" && g.Status == GroupModifying {
		out.PendingModifiedValues.AuthTokenStatus = aws.String(g.AuthTokenStatus)
	}
	if p := g.PendingUserGroups; p != nil && g.Status == GroupModifying {
		out.PendingModifiedValues.UserGroups = &elasticacheapi.UserGroupsUpdateStatus{UserGroupIdsToAdd: p.Add, UserGroupIdsToRemove: p.Remove}
	}
	if g.SnapshottingCluster != "" {
		out.SnapshottingClusterId = aws.String(g.SnapshottingCluster)
	}
	if g.Status != GroupCreating {
		t := g.CreatedAt
		out.ReplicationGroupCreateTime = &t
	}
	switch g.AutomaticFailover {
	case FailoverEnabling:
		out.PendingModifiedValues.AutomaticFailoverStatus = aws.String(FailoverEnabled)
	case FailoverDisabling:
		out.PendingModifiedValues.AutomaticFailoverStatus = aws.String(FailoverDisabled)
	}
	if f := g.Failover; f != nil && f.To != "" && g.Primary != f.To {
		out.PendingModifiedValues.PrimaryClusterId = aws.String(f.To)
	}
	if mc := g.ModeChange; mc != nil && g.Status == GroupModifying {
		// Until the change is done: the mode as it was, the new one pending.
		out.PendingModifiedValues.ClusterMode = aws.String(mc.To)
	}
	if g.ClusterEnabled() {
		err := s.shardsToAPI(out, g, members)
		if mc := g.ModeChange; mc != nil && g.Status == GroupModifying {
			out.ClusterMode = aws.String(mc.From)
		}
		return out, err
	}
	ng, err := s.nodeGroupToAPI(g, members)
	if err != nil {
		return nil, err
	}
	if g.ClusterMode == ClusterModeCompatible {
		// Both ways in: the primary and reader endpoints of a group
		// without cluster mode, and the configuration endpoint.
		if !g.ModeCheckPending() && (g.ModeChange == nil || g.Status != GroupModifying) {
			out.ClusterMode = aws.String(ClusterModeCompatible)
		}
		ng.Slots = aws.String(g.Shards[0].Slots)
		out.ConfigurationEndpoint = s.configEndpoint(g, members)
	}
	out.NodeGroups = []elasticacheapi.NodeGroup{ng}
	return out, nil
}

// nodeGroupToAPI renders the group's one node group: its endpoints (once
// the primary has an address) and its members with their roles.
func (s *Service) nodeGroupToAPI(g *ReplicationGroup, members []*Cluster) (elasticacheapi.NodeGroup, error) {
	ng := elasticacheapi.NodeGroup{NodeGroupId: aws.String(NodeGroupID), Status: aws.String(g.Status), NodeGroupMembers: []elasticacheapi.NodeGroupMember{}}
	var primary *Cluster
	var replicas []*Cluster
	for _, c := range members {
		if c.ID == g.Primary {
			primary = c
		} else {
			replicas = append(replicas, c)
		}
	}
	names, err := s.nameScope(g.Account, g.Region)
	if err != nil {
		return ng, err
	}
	if primary != nil && len(primary.Nodes) > 0 && primary.Nodes[0].IP != "" {
		primaryName, readerName := groupEndpointNames(names, g)
		ng.PrimaryEndpoint = s.groupEndpoint(primaryName, primary, g.Port)
		reader := primary
		if len(replicas) > 0 && len(replicas[0].Nodes) > 0 && replicas[0].Nodes[0].IP != "" {
			reader = replicas[0]
		}
		ng.ReaderEndpoint = s.groupEndpoint(readerName, reader, g.Port)
	}
	for _, c := range members {
		if len(c.Nodes) == 0 {
			continue
		}
		n := c.Nodes[0]
		m := elasticacheapi.NodeGroupMember{
			CacheClusterId:            aws.String(c.ID),
			CacheNodeId:               aws.String(n.ID),
			PreferredAvailabilityZone: aws.String(n.AZ),
		}
		if n.IP != "" {
			m.ReadEndpoint = s.groupEndpoint(nodeName(names, c, n.ID), c, g.Port)
		}
		if g.Status != GroupCreating {
			role := "replica"
			if c.ID == g.Primary {
				role = "primary"
			}
			m.CurrentRole = aws.String(role)
		}
		ng.NodeGroupMembers = append(ng.NodeGroupMembers, m)
	}
	return ng, nil
}

// groupEndpoint is an endpoint of a group: its DNS name, which the VPC's
// resolver answers with the node of c; in the loopback network mode, the
// host address of that node.
func (s *Service) groupEndpoint(name string, c *Cluster, port int) *elasticacheapi.Endpoint {
	n := c.Nodes[0]
	if s.cfg.HostAddrs != nil {
		if ip, hport, ok := s.cfg.HostAddrs.HostAddr(n.InterfaceID, port); ok {
			return &elasticacheapi.Endpoint{Address: aws.String(ip), Port: aws.Int32(int32(hport))}
		}
	}
	return &elasticacheapi.Endpoint{Address: aws.String(name), Port: aws.Int32(int32(port))}
}
