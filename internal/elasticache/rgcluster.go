package elasticache

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Replication groups with cluster mode enabled: a Redis Cluster of 1 to 90
// shards (node groups), each a primary and up to five replicas, the key
// space's 16384 hash slots split over the shards. Cluster mode comes from
// the parameter group (cluster-enabled yes: default.<family>.cluster.on or
// a customer group). Members are stored as ordinary clusters of one node
// (<rg>-0001-001, <rg>-0001-002, <rg>-0002-001, …), each started as a
// cluster node; the group controller (internal/cachectl, shards.go) has
// them meet, assigns each shard's slots to its primary and attaches its
// replicas. Every engine runs without replicaof (Redis Cluster refuses
// it): a shard's roles live in the cluster, and the store records which
// member is each shard's primary (Shard.Primary), held on crash with
// automatic failover, which cluster mode requires.

// Shard is a node group of a cluster-mode group.
type Shard struct {
	ID    string // the node group id, 0001 …
	Slots string // its hash slots, as ParseSlots reads them
	// Members are its member clusters, in the order they joined; Primary
	// is the one that is its primary.
	Members []string
	Primary string
}

// ClusterModeEnabled is ReplicationGroup.ClusterMode of a sharded group.
const ClusterModeEnabled = "enabled"

// maxShards is the most node groups a cluster-mode group has.
const maxShards = 90

// ClusterEnabled reports whether the group is a cluster-mode group.
func (g *ReplicationGroup) ClusterEnabled() bool { return g.ClusterMode == ClusterModeEnabled }

// ShardOf returns the shard a member belongs to.
func (g *ReplicationGroup) ShardOf(member string) (*Shard, bool) {
	for i := range g.Shards {
		if slices.Contains(g.Shards[i].Members, member) {
			return &g.Shards[i], true
		}
	}
	return nil, false
}

// Shard returns the shard of a node group id.
func (g *ReplicationGroup) Shard(id string) (*Shard, bool) {
	for i := range g.Shards {
		if g.Shards[i].ID == id {
			return &g.Shards[i], true
		}
	}
	return nil, false
}

// applyShardRoles writes a cluster-mode group's roles into its members:
// no member replicates through replicaof (the cluster attaches replicas),
// and each shard's primary is held on crash with automatic failover.
func applyShardRoles(g *ReplicationGroup, members []*Cluster) {
	if g.ClusterMode == ClusterModeCompatible && len(g.Shards) == 1 {
		// Its primary endpoint names the one shard's primary.
		g.Primary = g.Shards[0].Primary
	}
	for _, c := range members {
		sh, ok := g.ShardOf(c.ID)
		if !ok || !slices.Contains(g.Members, c.ID) {
			continue
		}
		// While replicas of a group changing to compatible run without
		// cluster mode, none can take over as a cluster node: a primary
		// that crashes restarts in place with its data rather than being
		// replaced empty.
		held := g.autoFailover() && c.ID == sh.Primary && (g.ModeChange == nil || len(g.ModeChange.Pending) == 0)
		replicaOf := ""
		if g.modePending(c.ID) {
			// Not moved to cluster mode yet: a replica of the primary.
			replicaOf, held = sh.Primary, false
		}
		if c.ReplicaOf != replicaOf || c.HoldOnCrash != held || c.ReplicationGroupID != g.ID {
			c.ReplicaOf, c.HoldOnCrash, c.ReplicationGroupID = replicaOf, held, g.ID
			c.Generation++
		}
	}
}

// shardSpec is one node group of a CreateReplicationGroup request.
type shardSpec struct {
	id       string
	slots    string
	replicas int
	azs      []string // primary first; empty: spread by placement
}

var nodeGroupIDRE = regexp.MustCompile(`^[0-9A-Za-z]{1,4}$`)

// clusterParamGroup reports whether a parameter group name enables
// cluster mode: a default .cluster.on group, or a customer group with
// cluster-enabled yes. A group that does not exist is CacheParameterGroupNotFound.
func (s *Service) clusterParamGroup(ctx context.Context, scope auth.Scope, name string) (bool, error) {
	if name == "" {
		return false, nil
	}
	var on bool
	err := s.st.View(ctx, func(tx store.Tx) error {
		pg, err := getParamGroup(tx, scope, name)
		if err != nil {
			return err
		}
		on = pg.Values["cluster-enabled"] == "yes"
		return nil
	})
	return on, err
}

// wantsClusterMode decides, as AWS does, whether a CreateReplicationGroup
// request makes a cluster-mode group: ClusterMode enabled, more than one
// node group, or a parameter group with cluster-enabled yes. A request
// whose parts disagree is refused.
func (s *Service) wantsClusterMode(ctx context.Context, scope auth.Scope, in *elasticacheapi.CreateReplicationGroupMessage) (bool, error) {
	name := aws.ToString(in.CacheParameterGroupName)
	pgOn, err := s.clusterParamGroup(ctx, scope, name)
	if err != nil {
		return false, err
	}
	mode := aws.ToString(in.ClusterMode)
	multi := aws.ToInt32(in.NumNodeGroups) > 1 || len(in.NodeGroupConfiguration) > 1
	if mode == ClusterModeCompatible {
		// One node group whose engines are cluster nodes, created as a
		// group without cluster mode is (rgclustermode.go).
		switch {
		case multi:
			return false, combination("A replication group with cluster mode compatible has one node group.")
		case name != "" && !pgOn:
			return false, combination("Cluster mode should be enabled in the parameter group %s to create a replication group with cluster mode compatible.", name)
		}
		return false, nil
	}
	switch {
	case mode == "disabled" && (pgOn || multi):
		return false, combination("Cluster mode is disabled, but the request asks for cluster mode (a parameter group with cluster-enabled yes, or more than one node group).")
	case name != "" && !pgOn && (mode == ClusterModeEnabled || multi):
		return false, combination("Cluster mode should be enabled in the parameter group %s to create a replication group with cluster mode enabled or more than one node group.", name)
	case (pgOn || mode == ClusterModeEnabled || multi) && in.PrimaryClusterId != nil:
		return false, combination("PrimaryClusterId cannot be used for a replication group with cluster mode enabled.")
	}
	return pgOn || mode == ClusterModeEnabled || multi, nil
}

// clusterLayout validates the shards of a cluster-mode request: their
// number, replicas, slots and zones, and automatic failover, which
// cluster mode requires.
func clusterLayout(sp *groupSpec, in *elasticacheapi.CreateReplicationGroupMessage) error {
	if in.NumCacheClusters != nil {
		return combination("NumCacheClusters cannot be used with cluster mode enabled; use NumNodeGroups and ReplicasPerNodeGroup.")
	}
	if len(in.PreferredCacheClusterAZs) > 0 {
		return combination("PreferredCacheClusterAZs cannot be used with cluster mode enabled; use NodeGroupConfiguration.")
	}
	ngc := in.NodeGroupConfiguration
	n := max(len(ngc), 1)
	if in.NumNodeGroups != nil {
		n = int(*in.NumNodeGroups)
	}
	if n < 1 || n > maxShards {
		return invalid("NumNodeGroups must be between 1 and %d, not %d.", maxShards, n)
	}
	if len(ngc) > n {
		return invalid("The number of node group configurations (%d) is greater than the number of node groups (%d).", len(ngc), n)
	}
	replicas := int(aws.ToInt32(in.ReplicasPerNodeGroup))
	if replicas < 0 || replicas > maxGroupMembers-1 {
		return invalid("ReplicasPerNodeGroup must be between 0 and %d, not %d.", maxGroupMembers-1, replicas)
	}
	sp.autoFailover, sp.multiAZ = aws.ToBool(in.AutomaticFailoverEnabled), aws.ToBool(in.MultiAZEnabled)
	if !sp.autoFailover {
		return combination("Redis with cluster mode enabled cannot be created with auto failover turned off.")
	}
	shards, err := shardSpecs(n, replicas, ngc)
	if err != nil {
		return err
	}
	if sp.multiAZ {
		for _, sh := range shards {
			if sh.replicas == 0 {
				return combination("Multi-AZ requires at least one replica in every node group; node group %s has none.", sh.id)
			}
		}
	}
	sp.shards = shards
	return nil
}

// shardSpecs builds the n shards of a request from its node group
// configurations (the first len(ngc) shards) and defaults: ids 0001 …,
// ReplicasPerNodeGroup replicas, AWS's even split of the slots when no
// configuration gives Slots.
func shardSpecs(n, replicas int, ngc []elasticacheapi.NodeGroupConfiguration) ([]shardSpec, error) {
	shards := make([]shardSpec, n)
	ids := map[string]bool{}
	anySlots := false
	for i := range shards {
		sh := shardSpec{id: fmt.Sprintf("%04d", i+1), replicas: replicas}
		if i < len(ngc) {
			c := ngc[i]
			if c.NodeGroupId != nil {
				if !nodeGroupIDRE.MatchString(*c.NodeGroupId) {
					return nil, invalid("Invalid NodeGroupId %q: it must be 1 to 4 letters or digits.", *c.NodeGroupId)
				}
				sh.id = *c.NodeGroupId
			}
			if c.ReplicaCount != nil {
				sh.replicas = int(*c.ReplicaCount)
				if sh.replicas < 0 || sh.replicas > maxGroupMembers-1 {
					return nil, invalid("ReplicaCount must be between 0 and %d, not %d.", maxGroupMembers-1, sh.replicas)
				}
			}
			if c.Slots != nil {
				sh.slots, anySlots = strings.TrimSpace(*c.Slots), true
			}
			if c.PrimaryAvailabilityZone != nil || len(c.ReplicaAvailabilityZones) > 0 {
				if len(c.ReplicaAvailabilityZones) != sh.replicas {
					return nil, invalid("The number of ReplicaAvailabilityZones (%d) must match the replica count (%d) of node group %s.", len(c.ReplicaAvailabilityZones), sh.replicas, sh.id)
				}
				sh.azs = append([]string{aws.ToString(c.PrimaryAvailabilityZone)}, c.ReplicaAvailabilityZones...)
			}
		}
		if ids[sh.id] {
			return nil, invalid("The node group id %s is used more than once.", sh.id)
		}
		ids[sh.id] = true
		shards[i] = sh
	}
	slots := evenSlots(n)
	if anySlots {
		slots = make([]string, n)
		for i, sh := range shards {
			slots[i] = sh.slots
		}
		if err := checkSlotCover(slots); err != nil {
			return nil, err
		}
	}
	for i := range shards {
		shards[i].slots = slots[i]
	}
	return shards, nil
}

// createClusterGroup is CreateReplicationGroup for a cluster-mode group:
// the group and every shard's members, in one transaction; restoring
// the snapshot restore (nil for none) into them: each shard's primary
// seeded with its node group's RDB, or, re-slotting, every key loaded
// into the shard owning its slot before the group is available.
func (s *Service) createClusterGroup(ctx context.Context, scope auth.Scope, sp groupSpec, in *elasticacheapi.CreateReplicationGroupMessage, restore *Snapshot, reslot bool) (*elasticacheapi.CreateReplicationGroupResult, error) {
	base, err := s.groupBase(ctx, scope, sp, in)
	if err != nil {
		return nil, err
	}
	sg, err := s.placementOf(ctx, scope, base)
	if err != nil {
		return nil, err
	}
	zones := make([][]SubnetRef, len(sp.shards))
	for i, sh := range sp.shards {
		var azs []string
		for _, z := range sh.azs {
			if z != "" {
				azs = append(azs, z)
			}
		}
		if len(azs) != len(sh.azs) {
			azs = nil // a zone left out: placement chooses them all
		}
		if zones[i], err = assignAZs(sg, azs, sh.replicas+1, "cross-az"); err != nil {
			return nil, err
		}
	}
	if s.cfg.Roles != nil {
		p, _ := auth.PrincipalFrom(ctx)
		if err := s.cfg.Roles.EnsureServiceLinkedRole(ctx, p, scope.AccountID); err != nil {
			return nil, err
		}
	}
	g := s.newGroup(scope, sp, base)
	g.ClusterMode = ClusterModeEnabled
	var members []*Cluster
	err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(g.Account, g.Region, g.ID)); err == nil {
			return elasticacheapi.ErrReplicationGroupAlreadyExistsFault("Replication group %s already exists.", g.ID)
		}
		if err := s.clusterParameterGroup(tx, scope, g, aws.ToString(in.CacheParameterGroupName)); err != nil {
			return err
		}
		if sp.userGroup != "" {
			// RBAC: the members' engines take the group's users
			// (newMember copies g.ACL), as without cluster mode.
			if err := attachUserGroup(tx, scope, g, sp.userGroup); err != nil {
				return err
			}
		}
		members = nil
		g.Members, g.Shards = nil, nil
		for i, spec := range sp.shards {
			sh := Shard{ID: spec.id, Slots: spec.slots}
			for k := range spec.replicas + 1 {
				id := fmt.Sprintf("%s-%04d-%03d", g.ID, i+1, k+1)
				if _, err := tx.Get(clusterKey(g.Account, g.Region, id)); err == nil {
					return elasticacheapi.ErrCacheClusterAlreadyExistsFault("Cache cluster %s already exists.", id)
				}
				members = append(members, s.newMember(g, id, zones[i][k]))
				sh.Members = append(sh.Members, id)
				g.Members = append(g.Members, id)
			}
			sh.Primary = sh.Members[0]
			g.Shards = append(g.Shards, sh)
		}
		applyRoles(g, members)
		switch {
		case restore != nil && reslot: // the keys loaded into their shards (snapreslot.go)
			if err := startReslotRestore(tx, scope, restore.Name, g); err != nil {
				return err
			}
		case restore != nil: // each shard's primary loads its RDB (snapcluster.go)
			if err := startShardedRestore(tx, scope, restore.Name, g, members); err != nil {
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

// clusterParameterGroup sets a cluster-mode group's parameter group: the
// one named, of the engine's family with cluster-enabled yes, else the
// family's default .cluster.on group.
func (s *Service) clusterParameterGroup(tx store.Tx, scope auth.Scope, g *ReplicationGroup, name string) error {
	if name == "" {
		name = clusterParamGroupName(g.Family)
	}
	pg, err := getParamGroup(tx, scope, name)
	if err != nil {
		return err
	}
	if pg.Family != g.Family {
		return combination("The parameter group %s has family %s, which does not match the engine family %s.", name, pg.Family, g.Family)
	}
	if pg.Values["cluster-enabled"] != "yes" {
		return combination("Cluster mode should be enabled in the parameter group %s to create a replication group with cluster mode enabled.", name)
	}
	g.ParameterGroup = pg.Name
	return nil
}
