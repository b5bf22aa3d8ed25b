package elasticache

import (
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Changing a replication group's cluster mode (ModifyReplicationGroup
// ClusterMode), as ElastiCache's "Modifying cluster mode" describes it:
// one way, disabled → compatible → enabled, one step at a time, on Redis
// OSS 7.0 or later (Valkey: any), with automatic failover and at least one
// replica, keys in database 0 only, and a parameter group with
// cluster-enabled yes (a default group's .cluster.on sibling is chosen by
// itself).
//
// disabled → compatible: the API records the change (ModeChange) and the
// group is modifying. The group controller (internal/cachectl,
// clustermode.go) first checks that the primary's keys are all in database
// 0 — else the change is undone with an event — then converts the group in
// one transaction (ConvertToCompatible): one shard, 0001, owning every
// slot, its members the group's, its primary the group's. The change rolls
// through the members, primary first (replicas cannot run as cluster
// nodes before there is a cluster to attach to, while a replica without
// cluster mode follows a cluster node): the primary takes the
// cluster-enabled parameter group and is marked ClusterModeChanged, which
// changes what its engine must run with (the cache controller's
// runningSpec), so it restarts in place as a cluster node keeping its data
// (writes paused, saved, loaded again: it claims the slots of its keys)
// while its replicas go on following it and serving reads; the
// cluster-mode machinery (shards.go) gives it the slots left. Then, one
// at a time (ConvertReplica), each replica is replaced, empty, as a
// cluster node that follows the primary by CLUSTER REPLICATE. The group is
// available again once the cluster is whole. In compatible mode the group
// keeps its primary and reader endpoints (and member roles) and also has a
// configuration endpoint.
//
// compatible → enabled: nothing moves in the engines; the group becomes a
// cluster-mode group (configuration endpoint only, shards resharded and
// scaled as any) once the controller has seen the cluster whole.
//
// Unlike ElastiCache, which keeps the group available, the primary
// endpoint does not answer for the second or so the primary takes to
// save, restart and load its data. In compatible mode a replica is a
// cluster replica: a client without cluster support reading through the
// reader endpoint gets MOVED unless it sends READONLY.

// ClusterModeCompatible is ReplicationGroup.ClusterMode of a group whose
// engines run as one Redis Cluster shard while it keeps the endpoints of a
// group without cluster mode.
const ClusterModeCompatible = "compatible"

// allSlots are the slots of the one shard of a compatible group.
var allSlots = "0-" + strconv.Itoa(SlotCount-1)

// clusterModeDisabled is how the API spells ClusterMode "".
const clusterModeDisabled = "disabled"

// ModeChange is a cluster mode change under way.
type ModeChange struct {
	From, To string // disabled, compatible, enabled
	// ParameterGroup is the cluster-enabled parameter group the members
	// move to (disabled → compatible).
	ParameterGroup string `json:",omitempty"`
	// Pending are the replicas still running without cluster mode, as
	// replicas of the primary (replicaof), in the order they move.
	Pending []string `json:",omitempty"`
}

// ClusterMembers are the members whose engines run (or are to run) as
// cluster nodes: all but the replicas a change to compatible has not
// moved yet.
func (g *ReplicationGroup) ClusterMembers() []string {
	if g.ModeChange == nil || len(g.ModeChange.Pending) == 0 {
		return g.Members
	}
	return slices.DeleteFunc(slices.Clone(g.Members), func(id string) bool { return slices.Contains(g.ModeChange.Pending, id) })
}

// modePending reports whether member still runs without cluster mode.
func (g *ReplicationGroup) modePending(member string) bool {
	return g.ModeChange != nil && slices.Contains(g.ModeChange.Pending, member)
}

// ClusterNodes reports whether the group's engines run as Redis Cluster
// nodes, its shards in Shards: cluster mode enabled or compatible.
func (g *ReplicationGroup) ClusterNodes() bool {
	return g.ClusterMode == ClusterModeEnabled || g.ClusterMode == ClusterModeCompatible
}

// apiClusterMode is the group's ClusterMode as the API spells it.
func (g *ReplicationGroup) apiClusterMode() string {
	if g.ClusterMode == "" {
		return clusterModeDisabled
	}
	return g.ClusterMode
}

// ModeCheckPending reports whether the group waits for the group
// controller to check its primary's keys before it is converted to
// compatible (ConvertToCompatible).
func (g *ReplicationGroup) ModeCheckPending() bool {
	return g.ModeChange != nil && g.ModeChange.To == ClusterModeCompatible && g.ClusterMode == "" && g.Status == GroupModifying
}

// clusterModeChange applies ModifyReplicationGroup's ClusterMode to g with
// AWS's rules and returns whether it changes anything. A change to
// compatible is recorded for the group controller; one to enabled takes
// effect in the record at once. Asking for the mode a group has changes
// nothing.
func (s *Service) clusterModeChange(tx store.Tx, g *ReplicationGroup, in *elasticacheapi.ModifyReplicationGroupMessage) (bool, error) {
	if in.ClusterMode == nil {
		return false, nil
	}
	cur, want := g.apiClusterMode(), string(*in.ClusterMode)
	switch {
	case want != ClusterModeEnabled && want != clusterModeDisabled && want != ClusterModeCompatible:
		return false, invalid("Invalid value %q for ClusterMode: it must be enabled, disabled or compatible.", want)
	case want == cur:
		return false, nil
	case cur == ClusterModeEnabled || want == clusterModeDisabled:
		return false, combination("Cluster mode of replication group %s cannot be changed from %s to %s: the cluster mode can only be changed from disabled to compatible and from compatible to enabled.", g.ID, cur, want)
	case want == ClusterModeEnabled && cur == clusterModeDisabled:
		return false, combination("Cluster mode of replication group %s cannot be changed from disabled to enabled directly: change it to compatible first.", g.ID)
	}
	if err := modeChangeAlone(g, in); err != nil {
		return false, err
	}
	if want == ClusterModeEnabled {
		// compatible → enabled: the engines are cluster nodes already.
		if pg := aws.ToString(in.CacheParameterGroupName); pg != "" && !strings.EqualFold(pg, g.ParameterGroup) {
			return false, combination("The parameter group cannot be changed while the cluster mode of replication group %s is changed to enabled.", g.ID)
		}
		g.ModeChange = &ModeChange{From: cur, To: want}
		g.ClusterMode, g.Primary = ClusterModeEnabled, ""
		return true, s.putGroupEvent(tx, g, modeChangeStarted(g.ID, want))
	}
	// disabled → compatible.
	switch {
	case g.Engine == "redis" && engineMajor(g.EngineVersion) < 7:
		return false, combination("Cluster mode compatible requires Redis OSS 7.0 or later; replication group %s runs %s.", g.ID, g.EngineVersion)
	case g.AutomaticFailover != FailoverEnabled:
		return false, combination("Automatic failover must be enabled on replication group %s, with at least one replica, to change its cluster mode.", g.ID)
	case len(g.Members) < 2:
		return false, combination("Replication group %s must have at least one replica to change its cluster mode.", g.ID)
	case g.Snapshotting != "" || g.Failover != nil:
		return false, elasticacheapi.ErrInvalidReplicationGroupStateFault("Replication group %s is not in the available state.", g.ID)
	}
	pg, err := s.compatibleParamGroup(tx, g, aws.ToString(in.CacheParameterGroupName))
	if err != nil {
		return false, err
	}
	g.ModeChange = &ModeChange{From: cur, To: want, ParameterGroup: pg}
	return true, s.putGroupEvent(tx, g, modeChangeStarted(g.ID, want))
}

// modeChangeAlone refuses a cluster mode change asked for together with
// another change that restarts or re-roles the engines.
func modeChangeAlone(g *ReplicationGroup, in *elasticacheapi.ModifyReplicationGroupMessage) error {
	other := ""
	switch {
	case in.CacheNodeType != nil && aws.ToString(in.CacheNodeType) != g.NodeType:
		other = "CacheNodeType"
	case in.EngineVersion != nil && aws.ToString(in.EngineVersion) != g.EngineVersion:
		other = "EngineVersion"
	case in.TransitEncryptionEnabled != nil || in.TransitEncryptionMode != nil:
		other = "TransitEncryptionMode"
	case in.PrimaryClusterId != nil:
		other = "PrimaryClusterId"
	case in.AutomaticFailoverEnabled != nil && !*in.AutomaticFailoverEnabled:
		other = "AutomaticFailoverEnabled"
	case len(in.UserGroupIdsToAdd) > 0 || len(in.UserGroupIdsToRemove) > 0 || in.RemoveUserGroups != nil || in.AuthToken != nil:
		other = "user groups and AUTH tokens"
	}
	if other != "" {
		return combination("The cluster mode of replication group %s cannot be changed together with %s: change one, then the other.", g.ID, other)
	}
	return nil
}

// compatibleParamGroup is the parameter group a group changed to
// compatible runs with: the one asked for, which must have cluster-enabled
// yes, else the default group's .cluster.on sibling (as ElastiCache picks
// it). A group on a customer parameter group must name one.
func (s *Service) compatibleParamGroup(tx store.Tx, g *ReplicationGroup, name string) (string, error) {
	scope := scopeOf(g)
	if name == "" {
		if !isDefaultParamGroup(g.ParameterGroup) {
			return "", combination("Replication group %s uses parameter group %s: provide a parameter group with cluster-enabled set to yes (CacheParameterGroupName) to change its cluster mode to compatible.", g.ID, g.ParameterGroup)
		}
		return clusterParamGroupName(g.Family), nil
	}
	pg, err := getParamGroup(tx, scope, name)
	if err != nil {
		return "", err
	}
	switch {
	case pg.Family != g.Family:
		return "", combination("The parameter group %s has family %s, which does not match the replication group's family %s.", pg.Name, pg.Family, g.Family)
	case pg.Values["cluster-enabled"] != "yes":
		return "", combination("The parameter group %s must have cluster-enabled set to yes to change the cluster mode of replication group %s to compatible.", pg.Name, g.ID)
	}
	return pg.Name, nil
}

// ConvertToCompatible turns a group whose primary's keys were found in
// database 0 only into a compatible group, in the group controller's
// transaction, and reports whether it changed anything: its primary
// restarts as a cluster node keeping its data; its replicas go on as
// replicas of it (a replica without cluster mode follows a cluster node),
// serving reads, until the group controller moves them one by one
// (ConvertReplica).
func ConvertToCompatible(g *ReplicationGroup, members []*Cluster) bool {
	if !g.ModeCheckPending() {
		return false
	}
	g.ClusterMode, g.ParameterGroup = ClusterModeCompatible, g.ModeChange.ParameterGroup
	g.Shards = []Shard{{ID: NodeGroupID, Slots: allSlots, Members: slices.Clone(g.Members), Primary: g.Primary}}
	g.ModeChange.Pending = g.Replicas()
	g.Generation++
	if c := memberOf(members, g.Primary); c != nil {
		toClusterNode(g, c)
	}
	applyShardRoles(g, members)
	return true
}

// ConvertReplica moves the next replica of a group changing to compatible
// (the group controller calls it once the primary runs as a cluster node
// with every slot and every member moved so far follows it), in the group
// controller's transaction, and reports whether it changed anything.
func ConvertReplica(g *ReplicationGroup, members []*Cluster, id string) bool {
	if g.ModeChange == nil || !slices.Contains(g.ModeChange.Pending, id) {
		return false
	}
	g.ModeChange.Pending = slices.DeleteFunc(g.ModeChange.Pending, func(p string) bool { return p == id })
	g.Generation++
	if c := memberOf(members, id); c != nil {
		toClusterNode(g, c)
		if len(c.Nodes) > 0 {
			// A replica restarted as a cluster node with its copy of
			// the keys would claim their slots as the primary did: it
			// starts empty and synchronises from the primary.
			c.Nodes[0].Replace = true
		}
	}
	applyShardRoles(g, members)
	return true
}

// toClusterNode gives a member the group's cluster-enabled parameter
// group and marks its engine to restart as a cluster node.
func toClusterNode(g *ReplicationGroup, c *Cluster) {
	c.ParameterGroup, c.ParamStatus, c.ClusterModeChanged = g.ParameterGroup, "in-sync", true
	for i := range c.Nodes {
		c.Nodes[i].ParamStatus = "in-sync"
	}
	if c.Status == StatusAvailable {
		c.Status = StatusModifying
	}
	c.Generation++
}

func memberOf(members []*Cluster, id string) *Cluster {
	for _, c := range members {
		if c.ID == id && c.Status != StatusDeleting {
			return c
		}
	}
	return nil
}

// CancelModeChange undoes a change to compatible that cannot be made
// (keys outside database 0, or the primary died before the check), in the
// group controller's transaction, and returns its event.
func CancelModeChange(g *ReplicationGroup, reason string) (GroupEvent, bool) {
	if !g.ModeCheckPending() {
		return GroupEvent{}, false
	}
	g.ModeChange = nil
	g.Status, g.ObservedGeneration = GroupAvailable, g.Generation
	return GroupEvent{SourceType: "replication-group", SourceID: g.ID,
		Message: "Failed to modify cluster mode of replication group " + g.ID + " to compatible: " + reason}, true
}

// FinishModeChange ends a cluster mode change when the group becomes
// available and returns its event.
func FinishModeChange(g *ReplicationGroup) (GroupEvent, bool) {
	mc := g.ModeChange
	if mc == nil || g.ClusterMode != mc.To || len(mc.Pending) > 0 {
		return GroupEvent{}, false
	}
	g.ModeChange = nil
	return GroupEvent{SourceType: "replication-group", SourceID: g.ID,
		Message: "Cluster mode of replication group " + g.ID + " modified from " + mc.From + " to " + mc.To}, true
}

func modeChangeStarted(id, to string) string {
	return "Modifying cluster mode of replication group " + id + " to " + to
}

// scopeOf is the account and region of a group, as an API scope.
func scopeOf(g *ReplicationGroup) auth.Scope {
	return auth.Scope{AccountID: g.Account, Region: g.Region}
}

// createCompatibleCheck refuses what a CreateReplicationGroup with
// ClusterMode compatible cannot have: an engine older than Redis OSS 7.0,
// an existing primary (its engine runs without cluster mode; create, then
// modify), a snapshot to restore (its keys may be in databases other than
// 0), more than one node group (wantsClusterMode).
func createCompatibleCheck(sp groupSpec, in *elasticacheapi.CreateReplicationGroupMessage, restore bool) error {
	switch {
	case strings.EqualFold(aws.ToString(in.Engine), "redis") && in.EngineVersion != nil && engineMajor(aws.ToString(in.EngineVersion)) < 7:
		return combination("Cluster mode compatible requires Redis OSS 7.0 or later.")
	case sp.primary != "":
		return combination("PrimaryClusterId cannot be used with cluster mode compatible: create the replication group with cluster mode disabled, then modify its cluster mode.")
	case restore:
		return invalid("Restoring a snapshot into a replication group with cluster mode compatible is not supported by Cachalot yet; restore it with cluster mode disabled, then modify its cluster mode.")
	}
	return nil
}

// compatibleGroupParameterGroup is groupParameterGroup for a group
// created with cluster mode compatible: the family's default .cluster.on
// group unless one with cluster-enabled yes is named.
func (s *Service) compatibleGroupParameterGroup(tx store.Tx, scope auth.Scope, g *ReplicationGroup, name string) error {
	if name == "" {
		g.ParameterGroup = clusterParamGroupName(g.Family)
		return nil
	}
	pg, err := getParamGroup(tx, scope, name)
	if err != nil {
		return err
	}
	switch {
	case pg.Family != g.Family:
		return combination("The parameter group %s has family %s, which does not match the engine family %s.", name, pg.Family, g.Family)
	case pg.Values["cluster-enabled"] != "yes":
		return combination("Cluster mode should be enabled in the parameter group %s to create a replication group with cluster mode compatible.", name)
	}
	g.ParameterGroup = pg.Name
	return nil
}
