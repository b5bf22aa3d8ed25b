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

// groupSpec is a CreateReplicationGroup request, validated.
type groupSpec struct {
	id, desc, eng, nodeType, primary string
	inst                             catalog.Installed
	count                            int // clusters, the primary included
	port                             int
	azs                              []string
	autoFailover, multiAZ            bool
	tags                             []Tag
	transit                          string // TransitEncryptionMode; "" without TLS
	transitSet                       bool   // the request said TransitEncryptionEnabled
	authTokens                       []string
	userGroup                        string      // UserGroupIds (RBAC, usergroups.go)
	shards                           []shardSpec // cluster mode (rgcluster.go)
}

// CreateReplicationGroup validates the request and records the group and
// its member clusters in status creating, in one transaction; the cache
// controller starts the members, the group controller reports the group
// available once every replica follows the primary.
func (s *Service) CreateReplicationGroup(ctx context.Context, in *elasticacheapi.CreateReplicationGroupMessage) (*elasticacheapi.CreateReplicationGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	in, restore, reslot, err := s.groupRestore(ctx, in) // snaprestore.go
	if err != nil {
		return nil, err
	}
	cluster, err := s.wantsClusterMode(ctx, scope, in)
	if err != nil {
		return nil, err
	}
	sp, err := s.groupSpecOf(in, cluster)
	if err != nil {
		return nil, err
	}
	if cluster {
		if restore != nil && restore.ClusterMode != ClusterModeEnabled {
			// Its keys are moved into the shards owning their slots
			// (snapreslot.go): a cluster-mode engine could not load its
			// RDB, which may hold keys in databases other than 0.
			reslot = true
		}
		return s.createClusterGroup(ctx, scope, sp, in, restore, reslot)
	}
	if restore != nil {
		if err := oneNodeGroup(restore); err != nil {
			return nil, err
		}
	}
	compat := aws.ToString(in.ClusterMode) == ClusterModeCompatible
	if compat {
		if err := createCompatibleCheck(sp, in, restore != nil); err != nil {
			return nil, err
		}
	}
	var base *Cluster // the settings new members copy
	if sp.primary != "" {
		if base, err = s.existingPrimary(ctx, scope, &sp, in); err != nil {
			return nil, err
		}
	} else if base, err = s.groupBase(ctx, scope, sp, in); err != nil {
		return nil, err
	}
	sg, err := s.placementOf(ctx, scope, base)
	if err != nil {
		return nil, err
	}
	newCount := sp.count
	azs := sp.azs
	if sp.primary != "" {
		newCount--
		if len(azs) > 0 {
			azs = azs[1:]
		}
	}
	mode := "cross-az" // members spread over the zones, as ElastiCache places them
	nodeAZs, err := assignAZs(sg, azs, newCount, mode)
	if err != nil {
		return nil, err
	}
	if s.cfg.Roles != nil {
		p, _ := auth.PrincipalFrom(ctx)
		if err := s.cfg.Roles.EnsureServiceLinkedRole(ctx, p, scope.AccountID); err != nil {
			return nil, err
		}
	}
	g := s.newGroup(scope, sp, base)
	var members []*Cluster
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(g.Account, g.Region, g.ID)); err == nil {
			return elasticacheapi.ErrReplicationGroupAlreadyExistsFault("Replication group %s already exists.", g.ID)
		}
		if compat {
			if err := s.compatibleGroupParameterGroup(tx, scope, g, aws.ToString(in.CacheParameterGroupName)); err != nil {
				return err
			}
		} else if err := s.groupParameterGroup(tx, scope, g, aws.ToString(in.CacheParameterGroupName), base); err != nil {
			return err
		}
		if sp.userGroup != "" {
			if err := attachUserGroup(tx, scope, g, sp.userGroup); err != nil {
				return err
			}
		}
		members, err = s.createMembers(tx, g, sp, base, nodeAZs)
		if err != nil {
			return err
		}
		for _, c := range members {
			c.ACL = slices.Clone(g.ACL)
		}
		if compat {
			g.ClusterMode = ClusterModeCompatible
			g.Shards = []Shard{{ID: NodeGroupID, Slots: allSlots, Members: slices.Clone(g.Members), Primary: g.Primary}}
		}
		applyRoles(g, members)
		if restore != nil { // the primary loads the snapshot, replicas follow it
			g.RestoreSnapshot = restore.Name
			if err := startRestore(tx, scope, restore.Name, members[0]); err != nil {
				return err
			}
		}
		return putNewGroup(tx, g, members)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateReplicationGroupResult{ReplicationGroup: out}, nil
}

// groupSpecOf validates what a CreateReplicationGroup request says by
// itself, in AWS's order, before anything is looked up.
func (s *Service) groupSpecOf(in *elasticacheapi.CreateReplicationGroupMessage, cluster bool) (groupSpec, error) {
	sp := groupSpec{id: strings.ToLower(aws.ToString(in.ReplicationGroupId)), primary: strings.ToLower(aws.ToString(in.PrimaryClusterId))}
	if err := checkIdentifier("ReplicationGroupId", sp.id, 40); err != nil {
		return sp, err
	}
	if sp.desc = aws.ToString(in.ReplicationGroupDescription); strings.TrimSpace(sp.desc) == "" {
		return sp, invalid("The parameter ReplicationGroupDescription must be provided and must not be blank.")
	}
	if err := unsupportedGroupFeatures(in); err != nil {
		return sp, err
	}
	sp.eng = strings.ToLower(aws.ToString(in.Engine))
	switch sp.eng {
	case "", catalog.Redis, catalog.Valkey:
	case catalog.Memcached:
		return sp, invalid("Replication groups are not supported for the memcached engine; replication groups run Valkey or Redis OSS.")
	default:
		return sp, invalid("Invalid value for Engine: %s. Valid values are redis and valkey.", sp.eng)
	}
	var err error
	if sp.transit, err = transitMode(sp.eng, sp.inst.EngineVersion, in.TransitEncryptionEnabled, in.TransitEncryptionMode, in.AuthToken); err != nil {
		return sp, err
	}
	sp.transitSet = in.TransitEncryptionEnabled != nil
	if sp.authTokens, err = newAuthTokens(in.AuthToken); err != nil {
		return sp, err
	}
	if sp.userGroup, err = checkUserGroupIDs(in.UserGroupIds, sp.transit, in.AuthToken); err != nil {
		return sp, err
	}
	switch {
	case sp.transit == TransitPreferred && sp.userGroup != "":
		return sp, combination("Transit encryption preferred is not supported with redis access control.")
	}
	if cluster {
		err = clusterLayout(&sp, in)
	} else {
		err = memberLayout(&sp, in)
	}
	if err != nil {
		return sp, err
	}
	sp.nodeType = aws.ToString(in.CacheNodeType)
	if sp.primary == "" {
		if sp.nodeType == "" {
			return sp, invalid("The parameter CacheNodeType must be provided and must not be blank.")
		}
	}
	if sp.nodeType != "" {
		if _, err := catalog.NodeTypeMemory(sp.nodeType); err != nil {
			return sp, invalid("Invalid CacheNodeType: %s", sp.nodeType)
		}
	}
	if in.Port != nil && (*in.Port < 1024 || *in.Port > 65535) {
		return sp, invalid("Invalid port %d: the port must be between 1024 and 65535.", *in.Port)
	}
	if err := checkSnapshotSettings(in.SnapshotRetentionLimit, in.SnapshotWindow); err != nil {
		return sp, err
	}
	if sp.tags, err = fromAPITags(in.Tags); err != nil {
		return sp, err
	}
	return sp, nil
}

// memberLayout validates the members of a group without cluster mode:
// their number, automatic failover and Multi-AZ, their zones.
func memberLayout(sp *groupSpec, in *elasticacheapi.CreateReplicationGroupMessage) error {
	var err error
	if sp.count, err = groupCount(in, sp.primary != ""); err != nil {
		return err
	}
	sp.autoFailover, sp.multiAZ = aws.ToBool(in.AutomaticFailoverEnabled), aws.ToBool(in.MultiAZEnabled)
	if sp.autoFailover && sp.count < 2 {
		return combination("When using automatic failover, there must be at least 2 cache clusters in the replication group.")
	}
	if sp.multiAZ && !sp.autoFailover {
		return combination("Multi-AZ can only be enabled when automatic failover is enabled.")
	}
	sp.azs = slices.Clone(in.PreferredCacheClusterAZs)
	if ng := in.NodeGroupConfiguration; len(ng) == 1 && len(sp.azs) == 0 && ng[0].PrimaryAvailabilityZone != nil {
		sp.azs = append([]string{*ng[0].PrimaryAvailabilityZone}, ng[0].ReplicaAvailabilityZones...)
	}
	if len(sp.azs) > 0 && len(sp.azs) != sp.count {
		return invalid("When specifying preferred availability zones, the number of cache clusters must be specified and must match the number of preferred availability zones.")
	}
	return nil
}

// unsupportedGroupFeatures refuses what Cachalot does not do yet, as
// CreateCacheCluster does.
func unsupportedGroupFeatures(in *elasticacheapi.CreateReplicationGroupMessage) error {
	switch {
	case aws.ToBool(in.AtRestEncryptionEnabled) || in.KmsKeyId != nil:
		return invalid("Encryption at rest is not supported by Cachalot yet.")
	case in.ServerlessCacheSnapshotName != nil:
		return invalid("Restoring from a serverless cache snapshot is not supported by Cachalot yet.")
	case in.GlobalReplicationGroupId != nil:
		return invalid("Global datastores are not supported by Cachalot yet.")
	case len(in.UserGroupIds) > 0 && !aws.ToBool(in.TransitEncryptionEnabled):
		return invalid("Encryption in transit must be enabled to use user groups.")
	case aws.ToBool(in.DataTieringEnabled):
		return invalid("Data tiering is not supported by Cachalot yet.")
	case len(in.LogDeliveryConfigurations) > 0:
		return invalid("Log delivery is not supported by Cachalot yet.")
	}
	return nil
}

// groupCount is the number of clusters a new group has, the primary
// included: NumCacheClusters, or ReplicasPerNodeGroup (or the one node
// group's ReplicaCount) plus the primary; one by default.
func groupCount(in *elasticacheapi.CreateReplicationGroupMessage, fromPrimary bool) (int, error) {
	replicas := in.ReplicasPerNodeGroup
	if ng := in.NodeGroupConfiguration; len(ng) == 1 && ng[0].ReplicaCount != nil {
		if replicas != nil && *replicas != *ng[0].ReplicaCount {
			return 0, combination("ReplicasPerNodeGroup and the node group's ReplicaCount differ.")
		}
		replicas = ng[0].ReplicaCount
	}
	switch {
	case in.NumCacheClusters != nil && replicas != nil:
		return 0, combination("Only one of NumCacheClusters and ReplicasPerNodeGroup may be specified.")
	case in.NumCacheClusters != nil:
		n := int(*in.NumCacheClusters)
		if n < 1 || n > maxGroupMembers {
			return 0, invalid("NumCacheClusters must be between 1 and %d, not %d.", maxGroupMembers, n)
		}
		return n, nil
	case replicas != nil:
		n := int(*replicas)
		if n < 0 || n > maxGroupMembers-1 {
			return 0, invalid("ReplicasPerNodeGroup must be between 0 and %d, not %d.", maxGroupMembers-1, n)
		}
		return n + 1, nil
	}
	return 1, nil
}

// groupBase validates a new group's engine, node type, port and placement
// and returns them as the cluster its members copy.
func (s *Service) groupBase(ctx context.Context, scope auth.Scope, sp groupSpec, in *elasticacheapi.CreateReplicationGroupMessage) (*Cluster, error) {
	eng := sp.eng
	if eng == "" {
		eng = catalog.Redis
	}
	inst, err := s.resolveEngine(eng, aws.ToString(in.EngineVersion))
	if err != nil {
		return nil, err
	}
	if sp.transit == TransitPreferred {
		if err := preferredSupported(eng, inst.EngineVersion); err != nil {
			return nil, err
		}
	}
	b := &Cluster{Account: scope.AccountID, Region: scope.Region, Engine: eng, EngineVersion: inst.EngineVersion, Family: inst.Family,
		NodeType: sp.nodeType, Port: defaultRedisPort,
		Maintenance:    defaultString(aws.ToString(in.PreferredMaintenanceWindow), "sun:05:00-sun:06:00"),
		SnapshotWindow: defaultString(aws.ToString(in.SnapshotWindow), "06:30-07:30"),
		SnapshotRetain: int(aws.ToInt32(in.SnapshotRetentionLimit)),
		AutoMinor:      in.AutoMinorVersionUpgrade == nil || *in.AutoMinorVersionUpgrade,
		NetworkType:    "ipv4", IPDiscovery: "ipv4", TransitEncryptionMode: sp.transit, AuthTokens: sp.authTokens,
	}
	if in.Port != nil {
		b.Port = int(*in.Port)
	}
	classic, err := s.launchesInClassic(ctx, &elasticacheapi.CreateCacheClusterMessage{
		CacheSubnetGroupName: in.CacheSubnetGroupName, SecurityGroupIds: in.SecurityGroupIds, CacheSecurityGroupNames: in.CacheSecurityGroupNames})
	if err != nil {
		return nil, err
	}
	if classic {
		if b.CacheSecurityGroups, err = s.cacheSecurityGroupsFor(ctx, scope, in.CacheSecurityGroupNames); err != nil {
			return nil, err
		}
		return b, nil
	}
	sg, groups, err := s.vpcPlacement(ctx, scope, aws.ToString(in.CacheSubnetGroupName), in.SecurityGroupIds)
	if err != nil {
		return nil, err
	}
	b.SubnetGroup, b.VpcID, b.SecurityGroups = sg.Name, sg.VpcID, groups
	return b, nil
}

// existingPrimary reads the cluster a group is created around
// (PrimaryClusterId): it must be an available Valkey or Redis OSS cluster
// of one node, in no group; its settings are the group's.
func (s *Service) existingPrimary(ctx context.Context, scope auth.Scope, sp *groupSpec, in *elasticacheapi.CreateReplicationGroupMessage) (*Cluster, error) {
	var c *Cluster
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, sp.primary)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := checkPrimaryCluster(c); err != nil {
		return nil, err
	}
	if sp.eng != "" && sp.eng != c.Engine {
		return nil, combination("The engine %s does not match the engine %s of the primary cluster %s.", sp.eng, c.Engine, c.ID)
	}
	if v := aws.ToString(in.EngineVersion); v != "" && v != c.EngineVersion {
		return nil, combination("The engine version %s does not match the version %s of the primary cluster %s.", v, c.EngineVersion, c.ID)
	}
	if sp.nodeType != "" && sp.nodeType != c.NodeType {
		return nil, combination("The node type %s does not match the node type %s of the primary cluster %s.", sp.nodeType, c.NodeType, c.ID)
	}
	if sp.transitSet && sp.transit != c.TransitEncryptionMode {
		return nil, combination("TransitEncryptionEnabled does not match the in-transit encryption of the primary cluster %s.", c.ID)
	}
	if sp.authTokens != nil {
		return nil, combination("AuthToken cannot be specified with PrimaryClusterId: the group keeps the AUTH token of the primary cluster %s.", c.ID)
	}
	sp.eng, sp.nodeType = c.Engine, c.NodeType
	base := *c
	base.Tags = nil
	return &base, nil
}

// checkPrimaryCluster says whether c may become a group's primary.
func checkPrimaryCluster(c *Cluster) error {
	switch {
	case c.Engine == catalog.Memcached:
		return invalid("Cache cluster %s runs memcached; replication groups run Valkey or Redis OSS.", c.ID)
	case c.ReplicationGroupID != "":
		return invalid("Cache cluster %s is already a member of replication group %s.", c.ID, c.ReplicationGroupID)
	case c.APIStatus() != StatusAvailable:
		return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", c.ID)
	}
	return nil
}

// placementOf is the subnet group new members of base are placed in.
func (s *Service) placementOf(ctx context.Context, scope auth.Scope, base *Cluster) (*SubnetGroup, error) {
	if len(base.CacheSecurityGroups) > 0 {
		return classicSubnetGroup(scope.Region), nil
	}
	return s.subnetGroupFor(ctx, scope, base.SubnetGroup)
}

// newGroup is the desired state of a new group, creating.
func (s *Service) newGroup(scope auth.Scope, sp groupSpec, b *Cluster) *ReplicationGroup {
	g := &ReplicationGroup{
		Account: scope.AccountID, Region: scope.Region, ID: sp.id, Description: sp.desc,
		Engine: b.Engine, EngineVersion: b.EngineVersion, Family: b.Family, NodeType: b.NodeType, Port: b.Port,
		SubnetGroup: b.SubnetGroup, VpcID: b.VpcID, SecurityGroups: slices.Clone(b.SecurityGroups),
		CacheSecurityGroups: slices.Clone(b.CacheSecurityGroups),
		Maintenance:         b.Maintenance, SnapshotWindow: b.SnapshotWindow, SnapshotRetain: b.SnapshotRetain,
		AutoMinor: b.AutoMinor, NetworkType: b.NetworkType, IPDiscovery: b.IPDiscovery,
		TransitEncryptionMode: b.TransitEncryptionMode, AuthTokens: b.AuthTokens,
		AutomaticFailover: FailoverDisabled, MultiAZ: sp.multiAZ,
		Tags: sp.tags, CreatedAt: s.cfg.Now().UTC(), Status: GroupCreating, Generation: 1,
	}
	if sp.autoFailover {
		g.AutomaticFailover = FailoverEnabled
	}
	if len(g.AuthTokens) > 0 {
		g.AuthTokenModified = g.CreatedAt
	}
	return g
}

// groupParameterGroup sets the group's parameter group: the one named, of
// the engine's family and without cluster mode, else the primary's, else
// the family's default.
func (s *Service) groupParameterGroup(tx store.Tx, scope auth.Scope, g *ReplicationGroup, name string, base *Cluster) error {
	switch {
	case name == "" && base.ParameterGroup != "":
		g.ParameterGroup = base.ParameterGroup
		return nil
	case name == "" || name == defaultParamGroupName(g.Family):
		g.ParameterGroup = defaultParamGroupName(g.Family)
		return nil
	case isDefaultParamGroup(name):
		return combination("The parameter group %s does not match the engine family %s.", name, g.Family)
	}
	pg, err := getParamGroup(tx, scope, name)
	if err != nil {
		return err
	}
	if pg.Family != g.Family {
		return combination("The parameter group %s has family %s, which does not match the engine family %s.", name, pg.Family, g.Family)
	}
	if pg.Values["cluster-enabled"] == "yes" {
		return combination("The parameter group %s enables cluster mode; a replication group with cluster mode disabled needs a parameter group without it.", name)
	}
	g.ParameterGroup = pg.Name
	return nil
}

// createMembers makes the member clusters of a new group inside tx: the
// existing primary (joining the group, data kept) and new clusters in the
// zones given, the first of them the primary when there is none yet.
func (s *Service) createMembers(tx store.Tx, g *ReplicationGroup, sp groupSpec, base *Cluster, zones []SubnetRef) ([]*Cluster, error) {
	var members []*Cluster
	if sp.primary != "" {
		c, err := getCluster(tx, auth.Scope{AccountID: g.Account, Region: g.Region}, sp.primary)
		if err != nil {
			return nil, err
		}
		if err := checkPrimaryCluster(c); err != nil {
			return nil, err
		}
		if c.ParameterGroup != g.ParameterGroup {
			return nil, combination("The parameter group %s differs from the primary cluster's %s.", g.ParameterGroup, c.ParameterGroup)
		}
		g.Members, g.Primary = []string{c.ID}, c.ID
		members = append(members, c)
	}
	taken := func(id string) bool { _, err := tx.Get(clusterKey(g.Account, g.Region, id)); return err == nil }
	ids := nextMemberIDs(g, len(zones), taken)
	for i, id := range ids {
		c := s.newMember(g, id, zones[i])
		members = append(members, c)
		g.Members = append(g.Members, id)
	}
	if g.Primary == "" {
		g.Primary = g.Members[0]
	}
	if g.SnapshotRetain > 0 && g.SnapshottingCluster == "" {
		// Automatic snapshots are taken from a replica, as ElastiCache
		// picks one, else from the primary.
		g.SnapshottingCluster = g.Members[len(g.Members)-1]
	}
	return members, nil
}

// newMember is a new member cluster of g, creating, with the group's
// settings and one node in zone.
func (s *Service) newMember(g *ReplicationGroup, id string, zone SubnetRef) *Cluster {
	return &Cluster{
		Account: g.Account, Region: g.Region, ID: id,
		Engine: g.Engine, EngineVersion: g.EngineVersion, Family: g.Family, NodeType: g.NodeType, NumNodes: 1, Port: g.Port,
		SubnetGroup: g.SubnetGroup, VpcID: g.VpcID, SecurityGroups: slices.Clone(g.SecurityGroups),
		CacheSecurityGroups: slices.Clone(g.CacheSecurityGroups), ParameterGroup: g.ParameterGroup,
		Maintenance: g.Maintenance, SnapshotWindow: g.SnapshotWindow, SnapshotRetain: g.SnapshotRetain,
		AutoMinor: g.AutoMinor, NetworkType: g.NetworkType, IPDiscovery: g.IPDiscovery,
		TransitEncryptionMode: g.TransitEncryptionMode, PlainNames: g.PlainNames, AuthTokens: slices.Clone(g.AuthTokens), ACL: slices.Clone(g.ACL),
		CreatedAt: s.cfg.Now().UTC(), Status: StatusCreating, ParamStatus: "in-sync", Generation: 1,
		ReplicationGroupID: g.ID,
		Nodes:              []Node{{ID: nodeID(1), Status: StatusCreating, AZ: zone.AZ, SubnetID: zone.ID, ParamStatus: "in-sync"}},
	}
}

// DescribeReplicationGroups lists the caller's replication groups.
func (s *Service) DescribeReplicationGroups(ctx context.Context, in *elasticacheapi.DescribeReplicationGroupsMessage) (*elasticacheapi.ReplicationGroupMessage, error) {
	scope := auth.ScopeFrom(ctx)
	type entry struct {
		g       *ReplicationGroup
		members []*Cluster
	}
	var entries []entry
	err := s.st.View(ctx, func(tx store.Tx) error {
		var groups []*ReplicationGroup
		if id := aws.ToString(in.ReplicationGroupId); id != "" {
			g, err := getGroup(tx, scope, id)
			if err != nil {
				return err
			}
			groups = []*ReplicationGroup{g}
		} else {
			var err error
			if groups, err = store.ListJSON[ReplicationGroup](tx, store.Key("elasticache", scope.AccountID, scope.Region, "replicationgroup")+"/"); err != nil {
				return err
			}
			groups = slices.DeleteFunc(groups, func(g *ReplicationGroup) bool { return g.Serverless != nil })
		}
		for _, g := range groups {
			m, err := groupMembers(tx, g)
			if err != nil {
				return err
			}
			entries = append(entries, entry{g, m})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	pageItems, next, err := page(entries, func(e entry) string { return e.g.ID }, in.Marker, in.MaxRecords)
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.ReplicationGroupMessage{ReplicationGroups: []elasticacheapi.ReplicationGroup{}, Marker: next}
	for _, e := range pageItems {
		g, err := s.groupToAPI(scope, e.g, e.members)
		if err != nil {
			return nil, err
		}
		out.ReplicationGroups = append(out.ReplicationGroups, *g)
	}
	return out, nil
}
