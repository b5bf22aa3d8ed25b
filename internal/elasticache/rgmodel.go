package elasticache

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Replication groups (cluster mode disabled): one primary cluster and up
// to five replica clusters of one node each, their members stored as
// ordinary clusters (<rg>-001, <rg>-002, …) that carry the group's id and
// their role. Every change of a group writes the group and its members in
// one transaction, so the cache controller, converging the members as
// clusters, always finds roles that agree with the group: the primary
// (ReplicaOf "", HoldOnCrash with automatic failover) and its replicas
// (ReplicaOf the primary). The group controller decides failovers and
// writes them the same way.

// Replication group statuses and automatic failover states, as
// ElastiCache spells them.
const (
	GroupCreating  = "creating"
	GroupAvailable = "available"
	GroupModifying = "modifying"
	GroupDeleting  = "deleting"
	GroupFailed    = "create-failed"

	FailoverEnabled   = "enabled"
	FailoverDisabled  = "disabled"
	FailoverEnabling  = "enabling"
	FailoverDisabling = "disabling"
)

// maxGroupMembers is the most clusters a replication group has: a primary
// and five replicas.
const maxGroupMembers = 6

// NodeGroupID is the id of the one node group of a group without cluster
// mode.
const NodeGroupID = "0001"

// ReplicationGroup is the stored record of a replication group: its
// settings (copied into every member), its members and roles, and the
// status the group controller writes back.
type ReplicationGroup struct {
	Account, Region string
	ID              string
	Description     string
	Engine          string
	EngineVersion   string
	Family          string
	NodeType        string
	Port            int
	ParameterGroup  string
	SubnetGroup     string
	VpcID           string
	SecurityGroups  []string
	// CacheSecurityGroups are set for a group in EC2-Classic.
	CacheSecurityGroups []string `json:",omitempty"`
	Maintenance         string
	SnapshotWindow      string
	SnapshotRetain      int
	SnapshottingCluster string `json:",omitempty"`
	// Snapshotting names the snapshot being taken of the group
	// (snapmodel.go); RestoreSnapshot the one it is created from.
	Snapshotting    string `json:",omitempty"`
	RestoreSnapshot string `json:",omitempty"`
	// Reslot is a restore into other node groups than the snapshot's,
	// whose keys the snapshot controller loads before the group is
	// available (snapreslot.go); nil otherwise.
	Reslot      *ReslotLoad `json:",omitempty"`
	AutoMinor   bool
	NetworkType string
	IPDiscovery string
	// AutomaticFailover is enabled, disabled, or enabling/disabling until
	// the members' roles follow a change.
	AutomaticFailover string
	MultiAZ           bool
	// Members are the member clusters, in the order they joined.
	Members []string
	// Primary is the member cluster that is the primary; "" in cluster
	// mode, where each shard has its own (Shards).
	Primary string
	// ClusterMode is "enabled" for a sharded group (rgcluster.go),
	// "compatible" for a group migrating to it (rgclustermode.go), ""
	// without cluster mode.
	ClusterMode string `json:",omitempty"`
	// ModeChange is a cluster mode change under way (rgclustermode.go).
	ModeChange *ModeChange `json:",omitempty"`
	// Shards are the node groups of a cluster-mode group, in order.
	Shards []Shard `json:",omitempty"`
	// Resharding is an online resharding under way (rgreshard.go).
	Resharding *Resharding `json:",omitempty"`
	Tags       []Tag
	CreatedAt  time.Time

	Status string
	// Failover is a failover in progress (Failover.Phase), recorded before
	// anything moves so that one half done when the service died is
	// finished after its restart.
	Failover *Failover `json:",omitempty"`
	// TestFailovers are the times of TestFailover calls in the last 24
	// hours (AWS's rolling limit).
	TestFailovers []time.Time `json:",omitempty"`
	// RetainPrimary: a deletion keeps the primary as a standalone cluster.
	RetainPrimary bool `json:",omitempty"`
	// Generation counts desired-state changes; the group controller
	// records the generation it converged to in ObservedGeneration.
	Generation         int64
	ObservedGeneration int64
	LastError          string `json:",omitempty"`
	// TransitEncryptionMode is the group's in-transit encryption, copied
	// into its members (tls.go); "" without.
	TransitEncryptionMode string `json:",omitempty"`
	// TransitPending is the transit change the group is modifying for
	// (PendingModifiedValues), nil otherwise; PlainNames: the group's
	// names without TLS resolve too (a group that had no TLS, in
	// preferred; tls.go).
	TransitPending *TransitChange `json:",omitempty"`
	PlainNames     bool           `json:",omitempty"`
	// AuthTokens, AuthTokenModified and AuthTokenStatus are the group's
	// AUTH tokens (authtoken.go), copied into its members.
	AuthTokens        []string  `json:",omitempty"`
	AuthTokenModified time.Time `json:",omitempty"`
	AuthTokenStatus   string    `json:",omitempty"`
	// UserGroupID is the group's user group (RBAC, users.go), "" without;
	// ACL is the engines' users it gives, copied into the members.
	UserGroupID string    `json:",omitempty"`
	ACL         []ACLUser `json:",omitempty"`
	// PendingUserGroups is the user group change the group is modifying
	// for (PendingModifiedValues.UserGroups), nil otherwise.
	PendingUserGroups *IDChange `json:",omitempty"`
	// Serverless is set on the group realising a serverless cache
	// (serverless.go), which the replication group API does not show.
	Serverless *Serverless `json:",omitempty"`
}

// IDChange is a pending change of a set of ids: those added and removed.
type IDChange struct {
	Add, Remove []string `json:",omitempty"`
}

// Failover phases: requested (TestFailover: the controller chooses the
// replica), promoting (the roles are switched in the store; the new
// primary's engine is being promoted), recovering (promoted: the old
// primary's node is being replaced as a replica).
const (
	PhaseRequested  = "requested"
	PhasePromoting  = "promoting"
	PhaseRecovering = "recovering"
)

// Failover is a failover in progress.
type Failover struct {
	From string // the failed (or tested) primary's member cluster
	To   string // the promoted replica's; "" while requested
	Test bool   // started by TestFailover
	// Roll: the failover of a rolling replacement (a new node type or
	// engine version), from the old primary to an updated replica.
	Roll  bool
	Phase string
	At    time.Time // when it started
}

// GroupRef names a replication group.
type GroupRef struct{ Account, Region, ID string }

// Ref is the group's name.
func (g *ReplicationGroup) Ref() GroupRef { return GroupRef{g.Account, g.Region, g.ID} }

func (r GroupRef) String() string { return r.Account + "/" + r.Region + "/" + r.ID }

// Replicas are the members that are not the primary, in order.
func (g *ReplicationGroup) Replicas() []string {
	var out []string
	for _, m := range g.Members {
		if m != g.Primary {
			out = append(out, m)
		}
	}
	return out
}

// AutoFailover reports whether automatic failover is (or is becoming) on.
func (g *ReplicationGroup) AutoFailover() bool { return g.autoFailover() }

// autoFailover reports whether automatic failover is (or is becoming) on.
func (g *ReplicationGroup) autoFailover() bool {
	return g.AutomaticFailover == FailoverEnabled || g.AutomaticFailover == FailoverEnabling
}

func groupKey(account, region, id string) string {
	return store.Key("elasticache", account, region, "replicationgroup", id)
}

// getGroup reads a replication group or returns ReplicationGroupNotFound.
func getGroup(tx store.Tx, s auth.Scope, id string) (*ReplicationGroup, error) {
	var g ReplicationGroup
	err := store.GetJSON(tx, groupKey(s.AccountID, s.Region, strings.ToLower(id)), &g)
	if errors.Is(err, store.ErrNotFound) || err == nil && g.Serverless != nil {
		return nil, elasticacheapi.ErrReplicationGroupNotFoundFault("ReplicationGroup %s not found.", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read replication group %s: %w", id, err)
	}
	return &g, nil
}

func putGroup(tx store.Tx, g *ReplicationGroup) error {
	return store.PutJSON(tx, groupKey(g.Account, g.Region, g.ID), g)
}

// putNewGroup writes a group being created with its member clusters
// (node-based, cluster mode and serverless creations).
func putNewGroup(tx store.Tx, g *ReplicationGroup, members []*Cluster) error {
	for _, c := range members {
		if err := putCluster(tx, c); err != nil {
			return err
		}
	}
	return putGroup(tx, g)
}

// groupMembers reads a group's member clusters, in the group's order;
// members already removed are skipped.
func groupMembers(tx store.Tx, g *ReplicationGroup) ([]*Cluster, error) {
	var out []*Cluster
	for _, id := range g.Members {
		var c Cluster
		err := store.GetJSON(tx, clusterKey(g.Account, g.Region, id), &c)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read member %s of %s: %w", id, g.ID, err)
		}
		out = append(out, &c)
	}
	return out, nil
}

// ApplyRoles writes the group's roles into its members, as applyRoles; the
// group controller calls it when a failover switches the primary.
func ApplyRoles(g *ReplicationGroup, members []*Cluster) { applyRoles(g, members) }

// applyRoles writes the group's roles into its members: the primary
// replicates from nothing and, with automatic failover, is held on crash;
// every other member replicates from the primary. A member whose role
// changes gets a new generation, so the cache controller applies it.
// Clusters that are not (or no longer) members are left alone.
func applyRoles(g *ReplicationGroup, members []*Cluster) {
	if g.ClusterNodes() {
		applyShardRoles(g, members)
		return
	}
	hold := g.autoFailover() && len(g.Members) > 1
	for _, c := range members {
		if !slices.Contains(g.Members, c.ID) {
			continue
		}
		replicaOf, held := g.Primary, false
		if c.ID == g.Primary {
			replicaOf, held = "", hold
		}
		if c.ReplicaOf != replicaOf || c.HoldOnCrash != held || c.ReplicationGroupID != g.ID {
			c.ReplicaOf, c.HoldOnCrash, c.ReplicationGroupID = replicaOf, held, g.ID
			c.Generation++
		}
	}
}

// putGroupEvent records an event of a replication group in tx.
func (s *Service) putGroupEvent(tx store.Tx, g *ReplicationGroup, msg string) error {
	return s.putEvent(tx, g.Account, g.Region, Event{SourceID: g.ID, SourceType: "replication-group", Message: msg})
}

// memberID is the id of a group's n-th member cluster (my-rg-001).
func memberID(rg string, n int) string { return fmt.Sprintf("%s-%03d", rg, n) }

// nextMemberIDs returns count new member ids for g, numbered after the
// highest <rg>-NNN in use and after the members there are (a group made
// around an existing cluster numbers its first replica 002), skipping ids
// taken by other clusters (taken).
func nextMemberIDs(g *ReplicationGroup, count int, taken func(id string) bool) []string {
	next := len(g.Members) + 1
	for _, m := range g.Members {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(m, g.ID+"-"), "%03d", &n); err == nil && strings.HasPrefix(m, g.ID+"-") && n >= next {
			next = n + 1
		}
	}
	var out []string
	for len(out) < count {
		id := memberID(g.ID, next)
		next++
		if slices.Contains(g.Members, id) || taken(id) {
			continue
		}
		out = append(out, id)
	}
	return out
}

// APIStatus is the status Describe shows: snapshotting while a snapshot
// of an available group is taken.
func (g *ReplicationGroup) APIStatus() string {
	if g.Snapshotting != "" && g.Status == GroupAvailable {
		return StatusSnapshotting
	}
	return g.Status
}
