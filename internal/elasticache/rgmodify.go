package elasticache

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// testFailoverLimit is how many node groups an account may test in a
// rolling 24 hours, as on AWS.
const testFailoverLimit = 15

// DeleteReplicationGroup marks the group and its members deleting; the
// cache controller stops and removes the members, the group controller
// removes the group once they are gone. RetainPrimaryCluster keeps the
// primary as a standalone cluster, its data in place. With a
// FinalSnapshotIdentifier the group is snapshotted first and deleted when
// the snapshot is taken (snapfinal.go).
func (s *Service) DeleteReplicationGroup(ctx context.Context, in *elasticacheapi.DeleteReplicationGroupMessage) (*elasticacheapi.DeleteReplicationGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	final := strings.ToLower(aws.ToString(in.FinalSnapshotIdentifier))
	if in.FinalSnapshotIdentifier != nil {
		if err := checkIdentifier("FinalSnapshotIdentifier", final, 255); err != nil {
			return nil, err
		}
	}
	retain := aws.ToBool(in.RetainPrimaryCluster)
	var g *ReplicationGroup
	var members []*Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = getGroup(tx, scope, aws.ToString(in.ReplicationGroupId)); err != nil {
			return err
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		switch g.APIStatus() {
		case GroupAvailable, GroupFailed, GroupCreating:
		case GroupDeleting:
			return nil
		default:
			return elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in a valid state to be deleted.", g.ID)
		}
		if retain && g.Status == GroupCreating {
			return combination("RetainPrimaryCluster cannot be used while the replication group is being created.")
		}
		if final != "" { // deleted once the snapshot is taken (snapfinal.go)
			if err := s.beginFinalSnapshot(tx, scope, "", g.ID, final, retain); err != nil {
				return err
			}
			if g, err = getGroup(tx, scope, g.ID); err != nil {
				return err
			}
			members, err = groupMembers(tx, g)
			return err
		}
		return deleteGroupTx(tx, g, members, retain)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DeleteReplicationGroupResult{ReplicationGroup: out}, nil
}

// deleteGroupTx marks g deleting, and its members (but a retained
// primary, which leaves the group), inside tx.
func deleteGroupTx(tx store.Tx, g *ReplicationGroup, members []*Cluster, retain bool) error {
	g.Status, g.RetainPrimary, g.Failover = GroupDeleting, retain, nil
	g.Generation++
	for _, c := range members {
		if retain && c.ID == g.Primary {
			c.ReplicationGroupID, c.ReplicaOf, c.HoldOnCrash = "", "", false
			c.Generation++
		} else {
			markDeleting(c)
		}
		if err := putCluster(tx, c); err != nil {
			return err
		}
	}
	return putGroup(tx, g)
}

// markDeleting marks a cluster and its nodes deleting.
func markDeleting(c *Cluster) {
	c.Status = StatusDeleting
	c.Generation++
	for i := range c.Nodes {
		c.Nodes[i].Status = StatusDeleting
	}
}

// modifyGroup reads an available group and its members for a change and
// applies edit, which returns the clusters it made or removed from the
// group besides the members, and whether the change needs convergence:
// then the group is modifying at a new generation, with its members'
// roles. The group and every cluster are written in one transaction.
func (s *Service) modifyGroup(ctx context.Context, id string, edit func(tx store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error)) (*ReplicationGroup, []*Cluster, error) {
	scope := auth.ScopeFrom(ctx)
	var g *ReplicationGroup
	var members []*Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = getGroup(tx, scope, id); err != nil {
			return err
		}
		if g.APIStatus() != GroupAvailable {
			return elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state.", g.ID)
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		touched, converge, err := edit(tx, g, members)
		if err != nil {
			return err
		}
		if converge {
			g.Status = GroupModifying
			g.Generation++
			applyRoles(g, slices.Concat(members, touched))
		}
		for _, c := range slices.Concat(members, touched) {
			if err := putCluster(tx, c); err != nil {
				return err
			}
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		return putGroup(tx, g)
	})
	return g, members, err
}

// groupChecks is what ModifyReplicationGroup checked outside its
// transaction.
type groupChecks struct {
	newInst *catalog.Installed
}

// ModifyReplicationGroup changes a group and, where the setting is a
// member's, every member: automatic failover and Multi-AZ (AWS's rules),
// manual promotion (PrimaryClusterId, with both off), security groups,
// parameter group, node type and engine version (at once with
// ApplyImmediately, else pending on the members), windows, description,
// snapshot settings.
func (s *Service) ModifyReplicationGroup(ctx context.Context, in *elasticacheapi.ModifyReplicationGroupMessage) (*elasticacheapi.ModifyReplicationGroupResult, error) {
	scope := auth.ScopeFrom(ctx)
	switch {
	case len(in.LogDeliveryConfigurations) > 0:
		return nil, invalid("Log delivery is not supported by Cachalot yet.")
	case in.NodeGroupId != nil && aws.ToString(in.NodeGroupId) != NodeGroupID && !s.isClusterGroup(ctx, scope, aws.ToString(in.ReplicationGroupId)):
		return nil, elasticacheapi.ErrNodeGroupNotFoundFault("The node group %s was not found in replication group %s.", aws.ToString(in.NodeGroupId), aws.ToString(in.ReplicationGroupId))
	}
	pre, err := s.groupPrecheck(ctx, scope, in)
	if err != nil {
		return nil, err
	}
	g, members, err := s.modifyGroup(ctx, aws.ToString(in.ReplicationGroupId), func(tx store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error) {
		mode, err := s.clusterModeChange(tx, g, in) // rgclustermode.go
		if err != nil {
			return nil, false, err
		}
		changed, err := modifyFailover(g, members, in)
		if err != nil {
			return nil, false, err
		}
		shared := in
		if mode && g.ModeChange.ParameterGroup != "" {
			// The parameter group is the cluster mode change's.
			cp := *in
			cp.CacheParameterGroupName, shared = nil, &cp
		}
		more, err := s.modifyMembers(tx, scope, g, members, shared, pre)
		if err != nil {
			return nil, false, err
		}
		tokens, err := s.modifyGroupAccess(tx, scope, g, members, in) // usergroups.go
		if err != nil {
			return nil, false, err
		}
		transit, err := modifyTransit(g, members, in.TransitEncryptionEnabled, in.TransitEncryptionMode) // tls.go
		return nil, mode || changed || more || tokens || transit, err
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.ModifyReplicationGroupResult{ReplicationGroup: out}, nil
}

// groupPrecheck validates the parts of ModifyReplicationGroup that need
// the network model or the engine catalog, against the group as it is.
func (s *Service) groupPrecheck(ctx context.Context, scope auth.Scope, in *elasticacheapi.ModifyReplicationGroupMessage) (groupChecks, error) {
	var pre groupChecks
	if err := checkSnapshotSettings(in.SnapshotRetentionLimit, in.SnapshotWindow); err != nil {
		return pre, err
	}
	var cur *ReplicationGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		cur, err = getGroup(tx, scope, aws.ToString(in.ReplicationGroupId))
		return err
	})
	if err != nil {
		return pre, err
	}
	if e := strings.ToLower(aws.ToString(in.Engine)); e != "" && e != cur.Engine {
		return pre, invalid("Changing the engine of a replication group (%s to %s) is not supported by Cachalot yet.", cur.Engine, e)
	}
	if len(in.SecurityGroupIds) > 0 {
		if len(cur.CacheSecurityGroups) > 0 {
			return pre, combination("Replication group %s is in EC2-Classic: use CacheSecurityGroupNames, not SecurityGroupIds.", cur.ID)
		}
		if len(in.SecurityGroupIds) > 5 {
			return pre, invalid("A cluster may have at most 5 security groups.")
		}
		if err := s.cfg.Network.ValidateGroups(ctx, scope.AccountID, scope.Region, cur.VpcID, in.SecurityGroupIds); err != nil {
			return pre, networkError(err)
		}
	}
	if len(in.CacheSecurityGroupNames) > 0 {
		return pre, invalid("Changing the cache security groups of a replication group is not supported by Cachalot yet.")
	}
	if v := aws.ToString(in.EngineVersion); v != "" && v != cur.EngineVersion {
		inst, err := s.resolveEngine(cur.Engine, v)
		if err != nil {
			return pre, err
		}
		if inst.Family != cur.Family {
			return pre, combination("Upgrading across parameter group families (%s to %s) requires a compatible parameter group; not supported by Cachalot yet.", cur.Family, inst.Family)
		}
		pre.newInst = &inst
	}
	if nt := aws.ToString(in.CacheNodeType); nt != "" {
		if _, err := catalog.NodeTypeMemory(nt); err != nil {
			return pre, invalid("Invalid CacheNodeType: %s", nt)
		}
	}
	return pre, nil
}

// modifyFailover applies automatic failover, Multi-AZ and a manual
// promotion to g, with AWS's rules.
func modifyFailover(g *ReplicationGroup, members []*Cluster, in *elasticacheapi.ModifyReplicationGroupMessage) (bool, error) {
	if g.ClusterNodes() {
		return modifyClusterFailover(g, in)
	}
	auto := g.autoFailover()
	if in.AutomaticFailoverEnabled != nil {
		auto = *in.AutomaticFailoverEnabled
	}
	multiAZ := g.MultiAZ
	if in.MultiAZEnabled != nil {
		multiAZ = *in.MultiAZEnabled
	}
	if multiAZ && !auto {
		return false, combination("Multi-AZ can only be enabled when automatic failover is enabled.")
	}
	if auto && len(members) < 2 {
		return false, combination("When using automatic failover, there must be at least 2 cache clusters in the replication group.")
	}
	changed := false
	if auto != g.autoFailover() {
		g.AutomaticFailover = FailoverDisabling
		if auto {
			g.AutomaticFailover = FailoverEnabling
		}
		changed = true
	}
	if multiAZ != g.MultiAZ {
		g.MultiAZ, changed = multiAZ, true
	}
	if p := strings.ToLower(aws.ToString(in.PrimaryClusterId)); p != "" && p != g.Primary {
		if auto || multiAZ {
			return false, combination("A new primary can be chosen with PrimaryClusterId only when automatic failover and Multi-AZ are disabled.")
		}
		if !slices.Contains(g.Members, p) {
			return false, invalid("Cache cluster %s is not a member of replication group %s.", p, g.ID)
		}
		g.Primary, changed = p, true
	}
	return changed, nil
}

// modifyMembers applies the settings ModifyReplicationGroup shares with
// its members to g and every member inside the transaction.
func (s *Service) modifyMembers(tx store.Tx, scope auth.Scope, g *ReplicationGroup, members []*Cluster, in *elasticacheapi.ModifyReplicationGroupMessage, pre groupChecks) (bool, error) {
	immediate := aws.ToBool(in.ApplyImmediately)
	changed := false
	touch := func(c *Cluster) {
		if c.Status == StatusAvailable {
			c.Status = StatusModifying
		}
		c.Generation++
		changed = true
	}
	if err := checkGroupSnapshotting(g, in); err != nil {
		return false, err
	}
	if id := strings.ToLower(aws.ToString(in.SnapshottingClusterId)); id != "" {
		if !slices.Contains(g.Members, id) {
			return false, invalid("Cache cluster %s is not a member of replication group %s.", id, g.ID)
		}
		g.SnapshottingCluster = id
	}
	if groups := in.SecurityGroupIds; len(groups) > 0 && !slices.Equal(groups, g.SecurityGroups) {
		g.SecurityGroups = slices.Clone(groups)
		for _, c := range members {
			c.SecurityGroups = slices.Clone(groups)
			touch(c)
		}
	}
	if pg := aws.ToString(in.CacheParameterGroupName); pg != "" && pg != g.ParameterGroup {
		if err := sameClusterEnabled(tx, scope, g, pg); err != nil {
			return false, err
		}
		for _, c := range members {
			if err := setParameterGroup(tx, scope, c, pg); err != nil {
				return false, err
			}
			touch(c)
		}
		g.ParameterGroup = pg
	}
	if nt := aws.ToString(in.CacheNodeType); nt != "" && nt != g.NodeType {
		for _, c := range members {
			if immediate {
				c.NodeType = nt
				touch(c)
			} else {
				c.Pending = pendingOr(c.Pending)
				c.Pending.NodeType = nt
			}
		}
		if immediate {
			g.NodeType = nt
		}
	}
	if pre.newInst != nil {
		for _, c := range members {
			if immediate {
				c.EngineVersion = pre.newInst.EngineVersion
				touch(c)
			} else {
				c.Pending = pendingOr(c.Pending)
				c.Pending.EngineVersion = pre.newInst.EngineVersion
			}
		}
		if immediate {
			g.EngineVersion = pre.newInst.EngineVersion
			if msg := pre.newInst.Substitution(g.Engine); msg != "" {
				if err := s.putGroupEvent(tx, g, msg); err != nil {
					return false, err
				}
			}
		}
	}
	s.modifyRecorded(g, members, in)
	return changed, nil
}

// sameClusterEnabled refuses a new parameter group whose cluster-enabled
// differs from the group's engines' (ClusterMode changes it), with AWS's
// message.
func sameClusterEnabled(tx store.Tx, scope auth.Scope, g *ReplicationGroup, name string) error {
	pg, err := getParamGroup(tx, scope, name)
	if err != nil {
		return err
	}
	if (pg.Values["cluster-enabled"] == "yes") != g.ClusterNodes() {
		return combination("The parameter cluster-enabled has a different value in the requested parameter group than the current parameter group. This parameter value cannot be changed for a cache cluster")
	}
	return nil
}

// modifyRecorded records the settings that need no convergence, on the
// group and its members.
func (s *Service) modifyRecorded(g *ReplicationGroup, members []*Cluster, in *elasticacheapi.ModifyReplicationGroupMessage) {
	if d := aws.ToString(in.ReplicationGroupDescription); d != "" {
		g.Description = d
	}
	set := func(window *string, retain *int, autoMinor *bool, maintenance *string) {
		if v := aws.ToString(in.SnapshotWindow); v != "" {
			*window = v
		}
		if in.SnapshotRetentionLimit != nil {
			*retain = int(*in.SnapshotRetentionLimit)
		}
		if in.AutoMinorVersionUpgrade != nil {
			*autoMinor = *in.AutoMinorVersionUpgrade
		}
		if v := aws.ToString(in.PreferredMaintenanceWindow); v != "" {
			*maintenance = v
		}
	}
	set(&g.SnapshotWindow, &g.SnapshotRetain, &g.AutoMinor, &g.Maintenance)
	for _, c := range members {
		set(&c.SnapshotWindow, &c.SnapshotRetain, &c.AutoMinor, &c.Maintenance)
	}
}

// replicaCount is the new replica count of an Increase/DecreaseReplicaCount
// request (NewReplicaCount, or the one node group's ConfigureShard) and
// the zones it names for new replicas.
func replicaCount(apply *bool, n *int32, shards []elasticacheapi.ConfigureShard) (int, []string, bool, error) {
	if !aws.ToBool(apply) {
		return 0, nil, false, invalid("ApplyImmediately must be true: replica counts change immediately.")
	}
	if len(shards) > 1 {
		return 0, nil, false, invalid("A replication group without cluster mode has one node group, %s.", NodeGroupID)
	}
	if len(shards) == 1 {
		if id := aws.ToString(shards[0].NodeGroupId); id != NodeGroupID {
			return 0, nil, false, elasticacheapi.ErrNodeGroupNotFoundFault("The node group %s was not found.", id)
		}
		if n != nil {
			return 0, nil, false, combination("Only one of NewReplicaCount and ReplicaConfiguration may be specified.")
		}
		return int(aws.ToInt32(shards[0].NewReplicaCount)), shards[0].PreferredAvailabilityZones, true, nil
	}
	if n == nil {
		return 0, nil, false, nil
	}
	return int(*n), nil, true, nil
}

// IncreaseReplicaCount adds replica clusters to a group, at once.
func (s *Service) IncreaseReplicaCount(ctx context.Context, in *elasticacheapi.IncreaseReplicaCountMessage) (*elasticacheapi.IncreaseReplicaCountResult, error) {
	scope := auth.ScopeFrom(ctx)
	if s.isClusterGroup(ctx, scope, aws.ToString(in.ReplicationGroupId)) {
		return s.increaseClusterReplicas(ctx, scope, in)
	}
	n, azs, ok, err := replicaCount(in.ApplyImmediately, in.NewReplicaCount, in.ReplicaConfiguration)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("The parameter NewReplicaCount must be provided.")
	}
	if n > maxGroupMembers-1 {
		return nil, invalid("NewReplicaCount must be between 1 and %d, not %d.", maxGroupMembers-1, n)
	}
	sg, err := s.groupPlacement(ctx, scope, aws.ToString(in.ReplicationGroupId))
	if err != nil {
		return nil, err
	}
	g, members, err := s.modifyGroup(ctx, aws.ToString(in.ReplicationGroupId), func(tx store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error) {
		have := len(g.Members) - 1
		switch {
		case n == have:
			return nil, false, elasticacheapi.ErrNoOperationFault("Replication group %s already has %d replicas.", g.ID, n)
		case n < have:
			return nil, false, invalid("NewReplicaCount %d is less than the current replica count %d; use DecreaseReplicaCount.", n, have)
		case len(azs) > 0 && len(azs) != n-have:
			return nil, false, invalid("The number of PreferredAvailabilityZones (%d) must match the number of replicas added (%d).", len(azs), n-have)
		}
		added, err := s.addMembers(tx, g, sg, n-have, azs)
		return added, true, err
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.IncreaseReplicaCountResult{ReplicationGroup: out}, nil
}

// groupPlacement is the subnet group a group's new members are placed in.
func (s *Service) groupPlacement(ctx context.Context, scope auth.Scope, id string) (*SubnetGroup, error) {
	var g *ReplicationGroup
	err := s.st.View(ctx, func(tx store.Tx) error {
		var err error
		g, err = getGroup(tx, scope, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.placementOf(ctx, scope, &Cluster{SubnetGroup: g.SubnetGroup, CacheSecurityGroups: g.CacheSecurityGroups})
}

// addMembers adds count new replica clusters to g inside tx, in the zones
// given or spread over the subnet group's, and returns them.
func (s *Service) addMembers(tx store.Tx, g *ReplicationGroup, sg *SubnetGroup, count int, azs []string) ([]*Cluster, error) {
	mode := "cross-az"
	zones, err := assignAZs(sg, azs, count, mode)
	if err != nil {
		return nil, err
	}
	if len(azs) == 0 {
		// Continue the spread after the members there are.
		zones, _ = assignAZs(sg, nil, len(g.Members)+count, mode)
		zones = zones[len(g.Members):]
	}
	taken := func(id string) bool { _, err := tx.Get(clusterKey(g.Account, g.Region, id)); return err == nil }
	var out []*Cluster
	for i, id := range nextMemberIDs(g, count, taken) {
		c := s.newMember(g, id, zones[i])
		g.Members = append(g.Members, id)
		out = append(out, c)
	}
	return out, nil
}

// DecreaseReplicaCount removes replica clusters from a group, at once:
// those named, or the last ones.
func (s *Service) DecreaseReplicaCount(ctx context.Context, in *elasticacheapi.DecreaseReplicaCountMessage) (*elasticacheapi.DecreaseReplicaCountResult, error) {
	scope := auth.ScopeFrom(ctx)
	if s.isClusterGroup(ctx, scope, aws.ToString(in.ReplicationGroupId)) {
		return s.decreaseClusterReplicas(ctx, scope, in)
	}
	n, _, ok, err := replicaCount(in.ApplyImmediately, in.NewReplicaCount, in.ReplicaConfiguration)
	if err != nil {
		return nil, err
	}
	if ok && len(in.ReplicasToRemove) > 0 {
		return nil, combination("Only one of NewReplicaCount and ReplicasToRemove may be specified.")
	}
	if !ok && len(in.ReplicasToRemove) == 0 {
		return nil, invalid("Either NewReplicaCount or ReplicasToRemove must be provided.")
	}
	g, members, err := s.modifyGroup(ctx, aws.ToString(in.ReplicationGroupId), func(_ store.Tx, g *ReplicationGroup, members []*Cluster) ([]*Cluster, bool, error) {
		remove, err := replicasToRemove(g, n, ok, in.ReplicasToRemove)
		if err != nil {
			return nil, false, err
		}
		var gone []*Cluster
		for _, c := range members {
			if slices.Contains(remove, c.ID) {
				markDeleting(c)
				c.ReplicationGroupID, c.ReplicaOf = "", ""
				gone = append(gone, c)
			}
		}
		g.Members = slices.DeleteFunc(g.Members, func(id string) bool { return slices.Contains(remove, id) })
		if slices.Contains(remove, g.SnapshottingCluster) {
			g.SnapshottingCluster = ""
		}
		return gone, true, nil
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.DecreaseReplicaCountResult{ReplicationGroup: out}, nil
}

// replicasToRemove checks a decrease against AWS's rules and returns the
// member clusters it removes.
func replicasToRemove(g *ReplicationGroup, n int, byCount bool, named []string) ([]string, error) {
	have := len(g.Members) - 1
	var remove []string
	if byCount {
		switch {
		case n == have:
			return nil, elasticacheapi.ErrNoOperationFault("Replication group %s already has %d replicas.", g.ID, n)
		case n > have:
			return nil, invalid("NewReplicaCount %d is greater than the current replica count %d; use IncreaseReplicaCount.", n, have)
		case n < 0:
			return nil, invalid("NewReplicaCount must not be negative.")
		}
		replicas := g.Replicas()
		remove = replicas[n:]
	} else {
		for _, id := range named {
			id = strings.ToLower(id)
			switch {
			case id == g.Primary:
				return nil, invalid("Cache cluster %s is the primary of replication group %s and cannot be removed; only replicas can.", id, g.ID)
			case !slices.Contains(g.Members, id):
				return nil, invalid("Cache cluster %s is not a member of replication group %s.", id, g.ID)
			}
			if !slices.Contains(remove, id) {
				remove = append(remove, id)
			}
		}
		n = have - len(remove)
	}
	if n < minReplicas(g) {
		// AWS's texts (seen in the errors infrastructure code reports).
		if g.MultiAZ {
			return nil, invalid("Must have at least 1 replica for Multi-AZ enabled Replication Group")
		}
		return nil, invalid("Must have at least 1 replica when cluster mode is disabled with auto failover enabled.")
	}
	return remove, nil
}

// minReplicas is the fewest replicas a group may have: one with automatic
// failover or Multi-AZ.
func minReplicas(g *ReplicationGroup) int {
	if g.autoFailover() || g.MultiAZ {
		return 1
	}
	return 0
}

// TestFailover fails the group's primary over to a replica, as a real
// failure would be handled: the group controller promotes the replica
// with the least lag and replaces the old primary's node as a replica.
func (s *Service) TestFailover(ctx context.Context, in *elasticacheapi.TestFailoverMessage) (*elasticacheapi.TestFailoverResult, error) {
	scope := auth.ScopeFrom(ctx)
	now := s.cfg.Now().UTC()
	var g *ReplicationGroup
	var members []*Cluster
	err := s.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if g, err = getGroup(tx, scope, aws.ToString(in.ReplicationGroupId)); err != nil {
			return err
		}
		if g.ClusterNodes() {
			if members, err = groupMembers(tx, g); err != nil {
				return err
			}
			return s.testShardFailover(tx, scope, g, aws.ToString(in.NodeGroupId), now)
		}
		if ng := aws.ToString(in.NodeGroupId); ng != NodeGroupID {
			return elasticacheapi.ErrNodeGroupNotFoundFault("The node group %s was not found in replication group %s.", ng, g.ID)
		}
		switch {
		case g.APIStatus() != GroupAvailable:
			return elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state.", g.ID)
		case g.AutomaticFailover != FailoverEnabled:
			return elasticacheapi.ErrTestFailoverNotAvailableFault("TestFailover is not available for replication group %s: automatic failover is not enabled.", g.ID)
		}
		if err := s.checkTestFailoverRate(tx, scope, now); err != nil {
			return err
		}
		if members, err = groupMembers(tx, g); err != nil {
			return err
		}
		g.TestFailovers = append(recentTests(g.TestFailovers, now), now)
		g.Failover = &Failover{From: g.Primary, Test: true, Phase: PhaseRequested, At: now}
		g.Status = GroupModifying
		g.Generation++
		if err := s.putGroupEvent(tx, g, "Test Failover API called for node group "+NodeGroupID); err != nil {
			return err
		}
		return putGroup(tx, g)
	})
	if err != nil {
		return nil, err
	}
	out, err := s.groupToAPI(scope, g, members)
	if err != nil {
		return nil, err
	}
	return &elasticacheapi.TestFailoverResult{ReplicationGroup: out}, nil
}

// recentTests keeps the test failover times of the last 24 hours.
func recentTests(ts []time.Time, now time.Time) []time.Time {
	return slices.DeleteFunc(slices.Clone(ts), func(t time.Time) bool { return now.Sub(t) >= 24*time.Hour })
}

// checkTestFailoverRate refuses a test failover past the account's rolling
// 24-hour limit in the region.
func (s *Service) checkTestFailoverRate(tx store.Tx, scope auth.Scope, now time.Time) error {
	groups, err := store.ListJSON[ReplicationGroup](tx, store.Key("elasticache", scope.AccountID, scope.Region, "replicationgroup")+"/")
	if err != nil {
		return err
	}
	n := 0
	for _, g := range groups {
		n += len(recentTests(g.TestFailovers, now))
	}
	if n >= testFailoverLimit {
		return elasticacheapi.ErrAPICallRateForCustomerExceededFault("The customer has exceeded the allowed rate of API calls: at most %d node groups may be tested for failover in a rolling 24-hour period.", testFailoverLimit)
	}
	return nil
}
