package elasticache

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

const (
	maxMemcachedNodes = 40
	defaultRedisPort  = 6379
	defaultMemcPort   = 11211
)

func defaultPort(eng string) int {
	if eng == catalog.Memcached {
		return defaultMemcPort
	}
	return defaultRedisPort
}

// resolveEngine validates the engine and version against what is installed.
func (s *Service) resolveEngine(eng, version string) (catalog.Installed, error) {
	switch eng {
	case catalog.Redis, catalog.Valkey, catalog.Memcached:
	default:
		return catalog.Installed{}, invalid("Invalid value for Engine: %s. Valid values are redis, valkey and memcached.", eng)
	}
	inst, err := s.cfg.Engines.Find(eng, version)
	switch {
	case errors.Is(err, catalog.ErrEngineNotInstalled):
		return catalog.Installed{}, invalid("No engine installed on this Cachalot host can serve %s %s: %s.", eng, version, catalog.InstallHint(eng))
	case err != nil:
		return catalog.Installed{}, invalid("Cannot find version %s for %s. Valid versions: %s.", version, eng, strings.Join(catalog.ValidVersions(eng), ", "))
	}
	return inst, nil
}

// CreateCacheCluster validates the request and records a cluster in status
// creating; the reconciler creates its nodes.
func (s *Service) CreateCacheCluster(ctx context.Context, in *elasticacheapi.CreateCacheClusterMessage) (*elasticacheapi.CreateCacheClusterResult, error) {
	scope := auth.ScopeFrom(ctx)
	if in.ReplicationGroupId != nil {
		return s.createMemberCluster(ctx, in)
	}
	in, restore, err := s.clusterRestore(ctx, in) // snaprestore.go
	if err != nil {
		return nil, err
	}
	spec, err := s.createSpec(ctx, in)
	if err != nil {
		return nil, err
	}
	var sg *SubnetGroup
	var groups, cacheGroups []string
	if spec.classic {
		sg = classicSubnetGroup(scope.Region)
		if cacheGroups, err = s.cacheSecurityGroupsFor(ctx, scope, in.CacheSecurityGroupNames); err != nil {
			return nil, err
		}
	} else if sg, groups, err = s.vpcPlacement(ctx, scope, aws.ToString(in.CacheSubnetGroupName), in.SecurityGroupIds); err != nil {
		return nil, err
	}
	nodeAZs, err := assignAZs(sg, spec.azs, spec.numNodes, spec.azMode)
	if err != nil {
		return nil, err
	}
	if s.cfg.Roles != nil {
		p, _ := auth.PrincipalFrom(ctx)
		if err := s.cfg.Roles.EnsureServiceLinkedRole(ctx, p, scope.AccountID); err != nil {
			return nil, err
		}
	}
	c := s.newCluster(scope, in, spec, sg, groups, cacheGroups, nodeAZs)
	paramGroup := aws.ToString(in.CacheParameterGroupName)
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(clusterKey(c.Account, c.Region, c.ID)); err == nil {
			return elasticacheapi.ErrCacheClusterAlreadyExistsFault("Cache cluster %s already exists.", c.ID)
		}
		if paramGroup == "" {
			c.ParameterGroup = defaultParamGroupName(spec.inst.Family)
		} else {
			pg, err := getParamGroup(tx, scope, paramGroup)
			if err != nil {
				return err
			}
			if pg.Family != spec.inst.Family {
				return combination("The parameter group %s has family %s, which does not match the engine family %s.", paramGroup, pg.Family, spec.inst.Family)
			}
			c.ParameterGroup = pg.Name
		}
		if msg := spec.inst.Substitution(spec.eng); msg != "" {
			if err := s.putEvent(tx, c.Account, c.Region, Event{SourceID: c.ID, SourceType: "cache-cluster", Message: msg}); err != nil {
				return err
			}
		}
		if restore != nil {
			if err := startRestore(tx, scope, restore.Name, c); err != nil {
				return err
			}
		}
		return putCluster(tx, c)
	})
	if err != nil {
		return nil, err
	}
	api, err := s.toAPI(scope, c, false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.CreateCacheClusterResult{CacheCluster: api}, nil
}

// clusterSpec is a CreateCacheCluster request, validated.
type clusterSpec struct {
	id, eng, nodeType, azMode string
	transit                   string   // TransitEncryptionMode; "" without TLS
	authTokens                []string // their hashes
	inst                      catalog.Installed
	classic                   bool
	numNodes, port            int
	azs                       []string
	tags                      []Tag
}

// createSpec validates a CreateCacheCluster request, in AWS's order, before
// anything is looked up in the network.
func (s *Service) createSpec(ctx context.Context, in *elasticacheapi.CreateCacheClusterMessage) (clusterSpec, error) {
	sp := clusterSpec{id: strings.ToLower(aws.ToString(in.CacheClusterId))}
	if err := checkIdentifier("CacheClusterId", sp.id, 50); err != nil {
		return sp, err
	}
	var err error
	if sp.classic, err = s.launchesInClassic(ctx, in); err != nil {
		return sp, err
	}
	sp.eng = strings.ToLower(aws.ToString(in.Engine))
	if sp.eng == "" {
		sp.eng = catalog.Redis
	}
	if sp.inst, err = s.resolveEngine(sp.eng, aws.ToString(in.EngineVersion)); err != nil {
		return sp, err
	}
	if sp.transit, err = transitMode(sp.eng, sp.inst.EngineVersion, in.TransitEncryptionEnabled, nil, in.AuthToken); err != nil {
		return sp, err
	}
	if sp.authTokens, err = newAuthTokens(in.AuthToken); err != nil {
		return sp, err
	}
	sp.nodeType = aws.ToString(in.CacheNodeType)
	if sp.nodeType == "" {
		return sp, invalid("The parameter CacheNodeType must be provided and must not be blank.")
	}
	if _, err := catalog.NodeTypeMemory(sp.nodeType); err != nil {
		return sp, invalid("Invalid CacheNodeType: %s", sp.nodeType)
	}
	if sp.numNodes, err = createNodeCount(sp.eng, in.NumCacheNodes); err != nil {
		return sp, err
	}
	sp.port = defaultPort(sp.eng)
	if in.Port != nil {
		sp.port = int(*in.Port)
		if sp.port < 1024 || sp.port > 65535 {
			return sp, invalid("Invalid port %d: the port must be between 1024 and 65535.", sp.port)
		}
	}
	sp.azMode = aws.ToString(in.AZMode)
	switch sp.azMode {
	case "", "single-az":
	case "cross-az":
		if sp.eng != catalog.Memcached {
			return sp, invalid("AZMode is only supported for Memcached clusters.")
		}
	default:
		return sp, invalid("Invalid AZMode: %s. Valid values are single-az and cross-az.", sp.azMode)
	}
	if sp.eng == catalog.Memcached && in.SnapshotRetentionLimit != nil && *in.SnapshotRetentionLimit > 0 {
		return sp, combination("Snapshots are not supported for Memcached clusters.")
	}
	if err := checkSnapshotSettings(in.SnapshotRetentionLimit, in.SnapshotWindow); err != nil {
		return sp, err
	}
	if sp.tags, err = fromAPITags(in.Tags); err != nil {
		return sp, err
	}
	sp.azs = append([]string(nil), in.PreferredAvailabilityZones...)
	if in.PreferredAvailabilityZone != nil {
		if len(sp.azs) > 0 {
			return sp, combination("Only one of PreferredAvailabilityZone and PreferredAvailabilityZones may be specified.")
		}
		sp.azs = []string{*in.PreferredAvailabilityZone}
	}
	if len(sp.azs) > 1 && len(sp.azs) != sp.numNodes {
		return sp, invalid("The number of PreferredAvailabilityZones (%d) must equal NumCacheNodes (%d).", len(sp.azs), sp.numNodes)
	}
	return sp, nil
}

// createNodeCount is the number of nodes a new cluster of engine eng gets.
func createNodeCount(eng string, n *int32) (int, error) {
	numNodes := int(aws.ToInt32(n))
	switch {
	case n == nil && eng == catalog.Memcached:
		return 0, invalid("The parameter NumCacheNodes must be provided and must not be blank.")
	case n == nil:
		return 1, nil
	case eng != catalog.Memcached && numNodes != 1:
		return 0, invalid("Cluster mode disabled %s clusters created without a replication group support only one node; use a replication group for replicas.", engineTitle(eng))
	case numNodes < 1:
		return 0, invalid("The parameter NumCacheNodes must be a positive number.")
	case numNodes > maxMemcachedNodes:
		return 0, elasticacheapi.ErrNodeQuotaForClusterExceededFault("Cannot create a Memcached cluster with more than %d nodes.", maxMemcachedNodes)
	}
	return numNodes, nil
}

// newCluster is the desired state of a new cluster, its nodes creating.
func (s *Service) newCluster(scope auth.Scope, in *elasticacheapi.CreateCacheClusterMessage, sp clusterSpec, sg *SubnetGroup, groups, cacheGroups []string, nodeAZs []SubnetRef) *Cluster {
	c := &Cluster{
		Account: scope.AccountID, Region: scope.Region, ID: sp.id,
		Engine: sp.eng, EngineVersion: sp.inst.EngineVersion, Family: sp.inst.Family,
		NodeType: sp.nodeType, NumNodes: sp.numNodes, Port: sp.port,
		SubnetGroup: sg.Name, VpcID: sg.VpcID, SecurityGroups: groups, CacheSecurityGroups: cacheGroups,
		PreferredAZs: sp.azs, AZMode: sp.azMode, TransitEncryptionMode: sp.transit, AuthTokens: sp.authTokens,
		Maintenance:    defaultString(aws.ToString(in.PreferredMaintenanceWindow), "sun:05:00-sun:06:00"),
		SnapshotWindow: aws.ToString(in.SnapshotWindow),
		SnapshotRetain: int(aws.ToInt32(in.SnapshotRetentionLimit)),
		AutoMinor:      in.AutoMinorVersionUpgrade == nil || *in.AutoMinorVersionUpgrade,
		NetworkType:    "ipv4", IPDiscovery: "ipv4",
		Tags: sp.tags, CreatedAt: s.cfg.Now().UTC(),
		Status: StatusCreating, ParamStatus: "in-sync", Generation: 1,
	}
	if len(c.AuthTokens) > 0 {
		c.AuthTokenModified = c.CreatedAt
	}
	if sp.eng != catalog.Memcached && c.SnapshotWindow == "" {
		c.SnapshotWindow = "06:30-07:30"
	}
	if sp.classic {
		c.SubnetGroup = ""
	}
	for i := 0; i < sp.numNodes; i++ {
		c.Nodes = append(c.Nodes, Node{ID: nodeID(i + 1), Status: StatusCreating, AZ: nodeAZs[i].AZ, SubnetID: nodeAZs[i].ID, ParamStatus: "in-sync"})
	}
	return c
}

func (s *Service) vpcPlacement(ctx context.Context, scope auth.Scope, subnetGroup string, ids []string) (*SubnetGroup, []string, error) {
	sg, err := s.subnetGroupFor(ctx, scope, subnetGroup)
	if err != nil {
		return nil, nil, err
	}
	groups := slices.Clone(ids)
	if len(groups) == 0 {
		def, err := s.cfg.Network.DefaultSecurityGroup(ctx, scope.AccountID, scope.Region, sg.VpcID)
		if err != nil {
			return nil, nil, fmt.Errorf("default security group of %s: %w", sg.VpcID, err)
		}
		groups = []string{def}
	} else if len(groups) > 5 {
		return nil, nil, invalid("A cluster may have at most 5 security groups.")
	} else if err := s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, sg.VpcID, groups); err != nil {
		return nil, nil, networkError(err)
	}
	return sg, groups, nil
}

func defaultString(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func engineTitle(eng string) string {
	switch eng {
	case catalog.Valkey:
		return "Valkey"
	case catalog.Memcached:
		return "Memcached"
	}
	return "Redis OSS"
}

func nodeID(n int) string { return fmt.Sprintf("%04d", n) }

// assignAZs picks a subnet for each node: the preferred AZs in order, else
// round robin over the subnet group's AZs (one AZ for single-az).
func assignAZs(sg *SubnetGroup, azs []string, n int, mode string) ([]SubnetRef, error) {
	byAZ := map[string]SubnetRef{}
	var order []string
	for _, sn := range sg.Subnets {
		if _, ok := byAZ[sn.AZ]; !ok {
			byAZ[sn.AZ] = sn
			order = append(order, sn.AZ)
		}
	}
	slices.Sort(order)
	if len(order) == 0 {
		return nil, elasticacheapi.ErrInvalidVPCNetworkStateFault("Cache subnet group %s has no subnets.", sg.Name)
	}
	out := make([]SubnetRef, n)
	for i := range out {
		var az string
		switch {
		case len(azs) == 1:
			az = azs[0]
		case len(azs) > 1:
			az = azs[i]
		case mode == "cross-az":
			az = order[i%len(order)]
		default:
			az = order[0]
		}
		sn, ok := byAZ[az]
		if !ok {
			return nil, invalid("The availability zone %s is not in the cache subnet group %s.", az, sg.Name)
		}
		out[i] = sn
	}
	return out, nil
}

// networkError turns an EC2 model error into ElastiCache's wording.
func networkError(err error) error {
	if e, ok := awserr.As(err); ok {
		return invalid("%s", e.Message)
	}
	return err
}

// toAPI renders a cluster as DescribeCacheClusters shows it.
func (s *Service) toAPI(scope auth.Scope, c *Cluster, showNodes bool) (*elasticacheapi.CacheCluster, error) {
	out := &elasticacheapi.CacheCluster{
		ARN:                        aws.String(ARN(scope, "cluster", c.ID)),
		CacheClusterId:             aws.String(c.ID),
		CacheClusterStatus:         aws.String(c.APIStatus()),
		CacheNodeType:              aws.String(c.NodeType),
		Engine:                     aws.String(c.Engine),
		EngineVersion:              aws.String(c.EngineVersion),
		NumCacheNodes:              aws.Int32(int32(c.NumNodes)),
		PreferredMaintenanceWindow: aws.String(c.Maintenance),
		AutoMinorVersionUpgrade:    aws.Bool(c.AutoMinor),
		AtRestEncryptionEnabled:    aws.Bool(false),
		NetworkType:                aws.String(c.NetworkType),
		IpDiscovery:                aws.String(c.IPDiscovery),
		ClientDownloadLandingPage:  aws.String("https://console.aws.amazon.com/elasticache/home#client-download:"),
		CacheSecurityGroups:        []elasticacheapi.CacheSecurityGroupMembership{},
		PendingModifiedValues:      &elasticacheapi.PendingModifiedValues{},
		CacheParameterGroup: &elasticacheapi.CacheParameterGroupStatus{
			CacheParameterGroupName: aws.String(c.ParameterGroup),
			ParameterApplyStatus:    aws.String(c.ParamStatus),
			CacheNodeIdsToReboot:    []string{},
		},
	}
	out.TransitEncryptionEnabled, out.TransitEncryptionMode = transitAPI(c.TransitEncryptionMode)
	out.AuthTokenEnabled, out.AuthTokenLastModifiedDate = authAPI(c.AuthTokens, c.AuthTokenModified)
	if c.AuthTokenStatus != "" && c.Status == StatusModifying {
		out.PendingModifiedValues.AuthTokenStatus = aws.String(c.AuthTokenStatus)
	}
	if !c.CreatedAt.IsZero() && c.Status != StatusCreating {
		t := c.CreatedAt
		out.CacheClusterCreateTime = &t
	}
	if c.SubnetGroup != "" {
		out.CacheSubnetGroupName = aws.String(c.SubnetGroup)
	}
	if c.ReplicationGroupID != "" {
		out.ReplicationGroupId = aws.String(c.ReplicationGroupID)
		out.ReplicationGroupLogDeliveryEnabled = aws.Bool(false)
	}
	for _, g := range c.CacheSecurityGroups {
		out.CacheSecurityGroups = append(out.CacheSecurityGroups, elasticacheapi.CacheSecurityGroupMembership{
			CacheSecurityGroupName: aws.String(g), Status: aws.String("active")})
	}
	if c.Engine != catalog.Memcached {
		out.SnapshotWindow = aws.String(c.SnapshotWindow)
		out.SnapshotRetentionLimit = aws.Int32(int32(c.SnapshotRetain))
	}
	if len(c.Nodes) > 0 {
		azs := map[string]bool{}
		for _, n := range c.Nodes {
			azs[n.AZ] = true
		}
		if len(azs) == 1 {
			out.PreferredAvailabilityZone = aws.String(c.Nodes[0].AZ)
		} else {
			out.PreferredAvailabilityZone = aws.String("Multiple")
		}
	}
	for _, g := range c.SecurityGroups {
		out.SecurityGroups = append(out.SecurityGroups, elasticacheapi.SecurityGroupMembership{SecurityGroupId: aws.String(g), Status: aws.String("active")})
	}
	if p := c.Pending; p != nil {
		if p.NumNodes != 0 {
			out.PendingModifiedValues.NumCacheNodes = aws.Int32(int32(p.NumNodes))
		}
		if len(p.RemoveNodes) > 0 {
			out.PendingModifiedValues.CacheNodeIdsToRemove = p.RemoveNodes
		}
		if p.NodeType != "" {
			out.PendingModifiedValues.CacheNodeType = aws.String(p.NodeType)
		}
		if p.EngineVersion != "" {
			out.PendingModifiedValues.EngineVersion = aws.String(p.EngineVersion)
		}
	}
	for _, n := range c.Nodes {
		if n.ParamStatus == "pending-reboot" {
			out.CacheParameterGroup.CacheNodeIdsToReboot = append(out.CacheParameterGroup.CacheNodeIdsToReboot, n.ID)
		}
	}
	config, eps, err := s.endpoints(c)
	if err != nil {
		return nil, err
	}
	if config.valid() {
		out.ConfigurationEndpoint = &elasticacheapi.Endpoint{Address: aws.String(config.host), Port: aws.Int32(int32(config.port))}
	}
	if showNodes {
		out.CacheNodes = []elasticacheapi.CacheNode{}
		for _, n := range c.Nodes {
			cn := elasticacheapi.CacheNode{
				CacheNodeId:              aws.String(n.ID),
				CacheNodeStatus:          aws.String(n.Status),
				CustomerAvailabilityZone: aws.String(n.AZ),
				ParameterGroupStatus:     aws.String(n.ParamStatus),
			}
			if !n.CreatedAt.IsZero() {
				t := n.CreatedAt
				cn.CacheNodeCreateTime = &t
			}
			if ep, ok := eps[n.ID]; ok {
				cn.Endpoint = &elasticacheapi.Endpoint{Address: aws.String(ep.host), Port: aws.Int32(int32(ep.port))}
			}
			out.CacheNodes = append(out.CacheNodes, cn)
		}
	}
	return out, nil
}

// DescribeCacheClusters lists the caller's clusters in the region.
func (s *Service) DescribeCacheClusters(ctx context.Context, in *elasticacheapi.DescribeCacheClustersMessage) (*elasticacheapi.CacheClusterMessage, error) {
	scope := auth.ScopeFrom(ctx)
	// Serverless caches' engines are clusters of the store, not of the API.
	notInGroups := aws.ToBool(in.ShowCacheClustersNotInReplicationGroups)
	keep := func(c *Cluster) bool { return c.ServerlessCache == "" && (!notInGroups || c.ReplicationGroupID == "") }
	var (
		pageItems []*Cluster
		next      *string
	)
	err := s.st.View(ctx, func(tx store.Tx) error {
		if id := aws.ToString(in.CacheClusterId); id != "" {
			c, err := getCluster(tx, scope, id)
			if err != nil {
				return err
			}
			pageItems, next, err = page(slices.DeleteFunc([]*Cluster{c}, func(c *Cluster) bool { return !keep(c) }),
				func(c *Cluster) string { return c.ID }, in.Marker, in.MaxRecords)
			return err
		}
		var err error
		pageItems, next, err = pageScan(tx, store.Key("elasticache", scope.AccountID, scope.Region, "cluster")+"/",
			func(c *Cluster) string { return c.ID }, keep, in.Marker, in.MaxRecords)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := &elasticacheapi.CacheClusterMessage{CacheClusters: []elasticacheapi.CacheCluster{}, Marker: next}
	for _, c := range pageItems {
		api, err := s.toAPI(scope, c, aws.ToBool(in.ShowCacheNodeInfo))
		if err != nil {
			return nil, err
		}
		out.CacheClusters = append(out.CacheClusters, *api)
	}
	return out, nil
}

// DeleteCacheCluster marks the cluster deleting; the reconciler stops its
// engines, releases its interfaces and removes it.
func (s *Service) DeleteCacheCluster(ctx context.Context, in *elasticacheapi.DeleteCacheClusterMessage) (*elasticacheapi.DeleteCacheClusterResult, error) {
	scope := auth.ScopeFrom(ctx)
	final := strings.ToLower(aws.ToString(in.FinalSnapshotIdentifier))
	if in.FinalSnapshotIdentifier != nil {
		if err := checkIdentifier("FinalSnapshotIdentifier", final, 255); err != nil {
			return nil, err
		}
	}
	var c *Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, aws.ToString(in.CacheClusterId))
		if err != nil {
			return err
		}
		switch c.APIStatus() {
		case StatusAvailable, StatusFailed, "incompatible-network", "restore-failed", StatusCreating:
		case StatusDeleting:
			return nil
		default:
			return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in a valid state to be deleted.", c.ID)
		}
		if final != "" { // deleted once the snapshot is taken (snapfinal.go)
			if err := s.beginFinalSnapshot(tx, scope, c.ID, "", final, false); err != nil {
				return err
			}
			c, err = getCluster(tx, scope, c.ID)
			return err
		}
		if c.ReplicationGroupID != "" {
			if err := s.leaveGroup(tx, c); err != nil {
				return err
			}
		}
		markDeleting(c)
		return putCluster(tx, c)
	})
	if err != nil {
		return nil, err
	}
	api, err := s.toAPI(scope, c, false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DeleteCacheClusterResult{CacheCluster: api}, nil
}

// RebootCacheCluster reboots the named nodes.
func (s *Service) RebootCacheCluster(ctx context.Context, in *elasticacheapi.RebootCacheClusterMessage) (*elasticacheapi.RebootCacheClusterResult, error) {
	scope := auth.ScopeFrom(ctx)
	if len(in.CacheNodeIdsToReboot) == 0 {
		return nil, invalid("The parameter CacheNodeIdsToReboot must be provided and must not be empty.")
	}
	var c *Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, aws.ToString(in.CacheClusterId))
		if err != nil {
			return err
		}
		if c.APIStatus() != StatusAvailable {
			return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", c.ID)
		}
		for _, id := range in.CacheNodeIdsToReboot {
			i := slices.IndexFunc(c.Nodes, func(n Node) bool { return n.ID == id })
			if i < 0 {
				return invalid("Cache node %s not found in cluster %s.", id, c.ID)
			}
			c.Nodes[i].RebootRequested = true
			c.Nodes[i].Status = "rebooting"
		}
		c.Status = StatusRebooting
		c.Generation++
		return putCluster(tx, c)
	})
	if err != nil {
		return nil, err
	}
	api, err := s.toAPI(scope, c, false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.RebootCacheClusterResult{CacheCluster: api}, nil
}

// ModifyCacheCluster changes a cluster; see the package doc for what applies
// at once and what waits for ApplyImmediately.
func (s *Service) ModifyCacheCluster(ctx context.Context, in *elasticacheapi.ModifyCacheClusterMessage) (*elasticacheapi.ModifyCacheClusterResult, error) {
	scope := auth.ScopeFrom(ctx)
	if len(in.CacheSecurityGroupNames) > 0 {
		if len(in.SecurityGroupIds) > 0 {
			return nil, combination("Use of cache security groups is not permitted along with cache subnet group and/or security groups ids.")
		}
		if err := s.requireClassic(ctx); err != nil {
			return nil, err
		}
	}
	pre, err := s.modifyPrecheck(ctx, scope, in)
	if err != nil {
		return nil, err
	}
	var c *Cluster
	err = s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		c, err = getCluster(tx, scope, aws.ToString(in.CacheClusterId))
		if err != nil {
			return err
		}
		if c.APIStatus() != StatusAvailable {
			return elasticacheapi.ErrInvalidCacheClusterStateFault("Cache cluster %s is not in the available state.", c.ID)
		}
		if err := memberRefusal(c, in); err != nil {
			return err // it joined a group since the precheck
		}
		changed, err := s.modifyCluster(ctx, tx, scope, c, in, pre)
		if err != nil {
			return err
		}
		tokens, err := modifyAuthTokens(c.TransitEncryptionMode, &c.AuthTokens, &c.AuthTokenModified, &c.AuthTokenStatus, in.AuthToken, in.AuthTokenUpdateStrategy, s.cfg.Now())
		if err != nil {
			return err
		}
		if tokens {
			changed = true
			c.Status = StatusModifying
		}
		if changed {
			c.Generation++
			if pre.immediate || len(in.SecurityGroupIds) > 0 || len(pre.cacheGroups) > 0 || aws.ToString(in.CacheParameterGroupName) != "" {
				c.Status = StatusModifying
			}
		}
		return putCluster(tx, c)
	})
	if err != nil {
		return nil, err
	}
	api, err := s.toAPI(scope, c, false)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.ModifyCacheClusterResult{CacheCluster: api}, nil
}

// modifyChecks is what ModifyCacheCluster checked outside its transaction.
type modifyChecks struct {
	cacheGroups []string           // new cache security groups (EC2-Classic)
	newInst     *catalog.Installed // a new engine version, or nil
	immediate   bool
}

// modifyPrecheck validates the parts of a ModifyCacheCluster request that
// need the network model or the engine catalog, against the cluster as it
// is now; the transaction checks the rest.
func (s *Service) modifyPrecheck(ctx context.Context, scope auth.Scope, in *elasticacheapi.ModifyCacheClusterMessage) (modifyChecks, error) {
	pre := modifyChecks{immediate: aws.ToBool(in.ApplyImmediately)}
	if err := checkSnapshotSettings(in.SnapshotRetentionLimit, in.SnapshotWindow); err != nil {
		return pre, err
	}
	var current Cluster
	err := s.st.View(ctx, func(tx store.Tx) error {
		cc, err := getCluster(tx, scope, aws.ToString(in.CacheClusterId))
		if err == nil {
			current = *cc
		}
		return err
	})
	if err != nil {
		return pre, err
	}
	if err := memberRefusal(&current, in); err != nil {
		return pre, err
	}
	if current.Engine == catalog.Memcached && aws.ToInt32(in.SnapshotRetentionLimit) > 0 {
		return pre, combination("Snapshots are not supported for Memcached clusters.")
	}
	switch {
	case len(in.CacheSecurityGroupNames) > 0 && len(current.CacheSecurityGroups) == 0:
		return pre, combination("Cache security groups can only be used with clusters created outside of a VPC (EC2-Classic); use SecurityGroupIds.")
	case len(in.CacheSecurityGroupNames) > 0:
		if pre.cacheGroups, err = s.cacheSecurityGroupsFor(ctx, scope, in.CacheSecurityGroupNames); err != nil {
			return pre, err
		}
	case len(in.SecurityGroupIds) > 0 && len(current.CacheSecurityGroups) > 0:
		return pre, combination("Cluster %s is in EC2-Classic: use CacheSecurityGroupNames, not SecurityGroupIds.", current.ID)
	}
	if len(in.SecurityGroupIds) > 0 {
		if len(in.SecurityGroupIds) > 5 {
			return pre, invalid("A cluster may have at most 5 security groups.")
		}
		if err := s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, current.VpcID, in.SecurityGroupIds); err != nil {
			return pre, networkError(err)
		}
	}
	if v := aws.ToString(in.EngineVersion); v != "" && v != current.EngineVersion {
		inst, err := s.resolveEngine(current.Engine, v)
		if err != nil {
			return pre, err
		}
		if inst.Family != current.Family {
			return pre, combination("Upgrading across parameter group families (%s to %s) requires a compatible parameter group; not supported by Cachalot yet.", current.Family, inst.Family)
		}
		if current.TransitEncryptionMode != "" {
			if _, err := transitMode(current.Engine, inst.EngineVersion, aws.Bool(true), nil, nil); err != nil {
				return pre, err
			}
		}
		pre.newInst = &inst
	}
	if nt := aws.ToString(in.CacheNodeType); nt != "" {
		if current.Engine == catalog.Memcached {
			return pre, combination("Modifying the node type of a Memcached cluster is not supported.")
		}
		if _, err := catalog.NodeTypeMemory(nt); err != nil {
			return pre, invalid("Invalid CacheNodeType: %s", nt)
		}
	}
	return pre, nil
}

// modifyCluster applies a ModifyCacheCluster request to c inside the
// transaction and reports whether the desired state changed.
func (s *Service) modifyCluster(ctx context.Context, tx store.Tx, scope auth.Scope, c *Cluster, in *elasticacheapi.ModifyCacheClusterMessage, pre modifyChecks) (bool, error) {
	immediate, cacheGroups, newInst := pre.immediate, pre.cacheGroups, pre.newInst
	if e := strings.ToLower(aws.ToString(in.Engine)); e != "" && e != c.Engine {
		return false, combination("Changing the engine of cache cluster %s from %s to %s is not supported by Cachalot yet.", c.ID, c.Engine, e)
	}
	changed, err := s.modifyNodeCount(ctx, tx, scope, c, in, immediate)
	if err != nil {
		return false, err
	}
	if len(in.SecurityGroupIds) > 0 && !slices.Equal(in.SecurityGroupIds, c.SecurityGroups) {
		c.SecurityGroups = slices.Clone(in.SecurityGroupIds)
		changed = true
	}
	if len(cacheGroups) > 0 && !slices.Equal(cacheGroups, c.CacheSecurityGroups) {
		if len(c.CacheSecurityGroups) == 0 {
			return false, combination("Cache security groups can only be used with clusters created outside of a VPC (EC2-Classic); use SecurityGroupIds.")
		}
		c.CacheSecurityGroups = cacheGroups
		changed = true
	}
	if pgName := aws.ToString(in.CacheParameterGroupName); pgName != "" && pgName != c.ParameterGroup {
		if err := setParameterGroup(tx, scope, c, pgName); err != nil {
			return false, err
		}
		changed = true
	}
	if nt := aws.ToString(in.CacheNodeType); nt != "" && nt != c.NodeType {
		if immediate {
			c.NodeType = nt
		} else {
			c.Pending = pendingOr(c.Pending)
			c.Pending.NodeType = nt
		}
		changed = true
	}
	if newInst != nil {
		if immediate {
			c.EngineVersion = newInst.EngineVersion
			if msg := newInst.Substitution(c.Engine); msg != "" {
				if err := s.putEvent(tx, c.Account, c.Region, Event{SourceID: c.ID, SourceType: "cache-cluster", Message: msg}); err != nil {
					return false, err
				}
			}
		} else {
			c.Pending = pendingOr(c.Pending)
			c.Pending.EngineVersion = newInst.EngineVersion
		}
		changed = true
	}
	if w := aws.ToString(in.PreferredMaintenanceWindow); w != "" {
		c.Maintenance = w
	}
	if w := aws.ToString(in.SnapshotWindow); w != "" {
		c.SnapshotWindow = w
	}
	if in.SnapshotRetentionLimit != nil {
		c.SnapshotRetain = int(*in.SnapshotRetentionLimit)
	}
	if in.AutoMinorVersionUpgrade != nil {
		c.AutoMinor = *in.AutoMinorVersionUpgrade
	}
	return changed, nil
}

// modifyNodeCount applies NumCacheNodes (Memcached only): at once, or as
// pending until the maintenance window.
func (s *Service) modifyNodeCount(ctx context.Context, tx store.Tx, scope auth.Scope, c *Cluster, in *elasticacheapi.ModifyCacheClusterMessage, immediate bool) (bool, error) {
	if in.NumCacheNodes == nil || int(*in.NumCacheNodes) == c.NumNodes {
		return false, nil
	}
	n := int(*in.NumCacheNodes)
	if c.Engine != catalog.Memcached {
		return false, invalid("The number of nodes of a %s cluster cannot be changed; use a replication group.", engineTitle(c.Engine))
	}
	if n < 1 || n > maxMemcachedNodes {
		return false, elasticacheapi.ErrNodeQuotaForClusterExceededFault("NumCacheNodes must be between 1 and %d.", maxMemcachedNodes)
	}
	var remove []string
	if n < c.NumNodes {
		if len(in.CacheNodeIdsToRemove) != c.NumNodes-n {
			return false, combination("To reduce NumCacheNodes from %d to %d, CacheNodeIdsToRemove must name exactly %d nodes.", c.NumNodes, n, c.NumNodes-n)
		}
		for _, id := range in.CacheNodeIdsToRemove {
			if !slices.ContainsFunc(c.Nodes, func(nd Node) bool { return nd.ID == id }) {
				return false, invalid("Cache node %s not found in cluster %s.", id, c.ID)
			}
		}
		remove = slices.Clone(in.CacheNodeIdsToRemove)
	} else if len(in.CacheNodeIdsToRemove) > 0 {
		return false, combination("CacheNodeIdsToRemove may only be given when NumCacheNodes decreases.")
	}
	if immediate {
		return true, s.resizeNodes(ctx, tx, scope, c, n, remove, in.NewAvailabilityZones)
	}
	c.Pending = pendingOr(c.Pending)
	c.Pending.NumNodes, c.Pending.RemoveNodes = n, remove
	return true, nil
}

// setParameterGroup points c at parameter group pgName of its family; the
// controller applies its values.
func setParameterGroup(tx store.Tx, scope auth.Scope, c *Cluster, pgName string) error {
	if !isDefaultParamGroup(pgName) {
		pg, err := getParamGroup(tx, scope, pgName)
		if err != nil {
			return err
		}
		if pg.Family != c.Family {
			return combination("The parameter group %s has family %s, which does not match the cluster's family %s.", pgName, pg.Family, c.Family)
		}
	} else if pgName != defaultParamGroupName(c.Family) {
		return combination("The parameter group %s does not match the cluster's family %s.", pgName, c.Family)
	}
	c.ParameterGroup = pgName
	c.ParamStatus = "applying"
	return nil
}

func pendingOr(p *Pending) *Pending {
	if p == nil {
		return &Pending{}
	}
	return p
}

// resizeNodes adds nodes (in new AZs, or round robin) or marks nodes for removal.
func (s *Service) resizeNodes(ctx context.Context, tx store.Tx, scope auth.Scope, c *Cluster, n int, remove, newAZs []string) error {
	if n < c.NumNodes {
		c.RemoveNodes = remove
		for i := range c.Nodes {
			if slices.Contains(remove, c.Nodes[i].ID) {
				c.Nodes[i].Status = StatusDeleting
			}
		}
		c.NumNodes = n
		return nil
	}
	var sg SubnetGroup
	if len(c.CacheSecurityGroups) > 0 {
		sg = *classicSubnetGroup(c.Region)
	} else if err := store.GetJSON(tx, subnetGroupKey(scope, c.SubnetGroup), &sg); err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		def, err := s.subnetGroupFor(ctx, scope, c.SubnetGroup)
		if err != nil {
			return err
		}
		sg = *def
	}
	add := n - c.NumNodes
	if len(newAZs) > 0 && len(newAZs) != add {
		return invalid("NewAvailabilityZones must name one zone per node added (%d).", add)
	}
	refs, err := assignAZs(&sg, newAZs, add, c.AZMode)
	if err != nil {
		return err
	}
	next := 1
	for _, nd := range c.Nodes {
		if v, err := strconv.Atoi(nd.ID); err == nil && v >= next {
			next = v + 1
		}
	}
	for i := 0; i < add; i++ {
		c.Nodes = append(c.Nodes, Node{ID: nodeID(next + i), Status: StatusCreating, AZ: refs[i].AZ, SubnetID: refs[i].ID, ParamStatus: "in-sync"})
	}
	c.NumNodes = n
	return nil
}
