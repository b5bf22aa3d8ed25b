package elasticache

import (
	"fmt"
	"regexp"
	"time"

	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Cluster statuses as ElastiCache spells them.
const (
	StatusCreating  = "creating"
	StatusAvailable = "available"
	StatusModifying = "modifying"
	StatusRebooting = "rebooting cluster nodes"
	StatusDeleting  = "deleting"
	StatusFailed    = "create-failed"
)

// Cluster is the stored record of a node-based cache cluster: the desired
// state the API writes and the status the reconciler writes back.
type Cluster struct {
	Account, Region string
	ID              string
	Engine          string // redis, valkey, memcached
	EngineVersion   string
	Family          string
	NodeType        string
	NumNodes        int
	Port            int
	SubnetGroup     string
	VpcID           string
	SecurityGroups  []string
	// CacheSecurityGroups are set for a cluster in EC2-Classic (then
	// SubnetGroup, VpcID and SecurityGroups are empty and nodes have no subnet).
	CacheSecurityGroups []string `json:",omitempty"`
	ParameterGroup      string
	PreferredAZs        []string
	AZMode              string
	Maintenance         string
	SnapshotWindow      string
	SnapshotRetain      int
	AutoMinor           bool
	NetworkType         string
	IPDiscovery         string
	Tags                []Tag
	CreatedAt           time.Time

	Status string
	// ParamStatus is the parameter group's status: in-sync, applying,
	// pending-reboot.
	ParamStatus string
	Nodes       []Node
	// Pending holds modifications not yet applied (ApplyImmediately=false).
	Pending *Pending `json:",omitempty"`
	// RemoveNodes lists node ids a modification is removing.
	RemoveNodes []string `json:",omitempty"`
	// Generation counts desired-state changes; the reconciler records the
	// generation it has converged to in ObservedGeneration.
	Generation         int64
	ObservedGeneration int64
	// ConfigInterfaceID and ConfigIP are a Memcached cluster's configuration
	// endpoint; ConfigVersion counts node list changes (auto discovery).
	ConfigInterfaceID string `json:",omitempty"`
	ConfigIP          string `json:",omitempty"`
	ConfigVersion     int    `json:",omitempty"`
	// LastError is the reconciler's last failure, for people.
	LastError string `json:",omitempty"`

	// ReplicationGroupID names the replication group the cluster is a
	// member of (rgmodel.go); the group's writes keep ReplicaOf and
	// HoldOnCrash in step with it, in the same transaction.
	ReplicationGroupID string `json:",omitempty"`
	// ReplicaOf is the member cluster this one replicates from; "" for
	// the group's primary.
	ReplicaOf string `json:",omitempty"`
	// HoldOnCrash marks the primary of a group with automatic failover:
	// its engine is not restarted after a crash (a replica is promoted).
	HoldOnCrash bool `json:",omitempty"`
	// ClusterModeChanged marks a member of a group whose cluster mode
	// was changed from disabled (rgclustermode.go): its engine, started
	// without cluster mode, restarts as a cluster node.
	ClusterModeChanged bool `json:",omitempty"`
	// TransitEncryptionMode is required for a cache with in-transit
	// encryption (tls.go), "" without; a group's members have the group's.
	TransitEncryptionMode string `json:",omitempty"`
	// PlainNames: a member of a group in preferred that had no TLS keeps
	// its node name without TLS besides its TLS one (tls.go).
	PlainNames bool `json:",omitempty"`
	// AuthTokens are the SHA-256 hashes of the AUTH tokens the engines
	// accept (authtoken.go): none, one, or two during a rotation.
	AuthTokens        []string  `json:",omitempty"`
	AuthTokenModified time.Time `json:",omitempty"`
	// AuthTokenStatus is ROTATING or SETTING while a change of the tokens
	// is being applied.
	AuthTokenStatus string `json:",omitempty"`
	// ACL is the engine's users when the cache's replication group has a
	// user group (RBAC, users.go): its users, the default user first;
	// none: the default user of the AUTH tokens. ACLPending: a change of
	// it is what the cluster is modifying for.
	ACL        []ACLUser `json:",omitempty"`
	ACLPending bool      `json:",omitempty"`

	// Snapshotting names the snapshot being taken of the cluster: it
	// shows as snapshotting, and takes no other change meanwhile
	// (snapmodel.go). RestoreSnapshot and RestoreFile: the cluster is
	// created from a snapshot, its node's engine started with that RDB
	// file of the snapshot store; cleared once it is available.
	Snapshotting    string `json:",omitempty"`
	RestoreSnapshot string `json:",omitempty"`
	RestoreFile     string `json:",omitempty"`

	// ServerlessCache names the serverless cache the cluster is a member
	// of (serverless.go): the node-based API does not show it.
	// InterfaceOf is the member whose node's interface this cluster's one
	// node shares (the cache's one address); DataLimit the data storage
	// maximum its engine is limited to, bytes (maxmemory), 0 none.
	// ReaderPort is a second port its one memcached engine also listens
	// on (a serverless Memcached cache's reader endpoint), 0 none.
	// ECPULimit is the serverless cache's ECPU/s maximum, 0 none: the
	// fronts of its engines meter the commands against it (cachectl).
	ServerlessCache string `json:",omitempty"`
	InterfaceOf     string `json:",omitempty"`
	DataLimit       int64  `json:",omitempty"`
	ReaderPort      int    `json:",omitempty"`
	ECPULimit       int32  `json:",omitempty"`
}

// APIStatus is the status Describe shows: snapshotting while a snapshot
// of an available cluster is taken.
func (c *Cluster) APIStatus() string {
	if c.Snapshotting != "" && c.Status == StatusAvailable {
		return StatusSnapshotting
	}
	return c.Status
}

// Node is one cache node of a cluster.
type Node struct {
	ID          string // 0001, 0002, …
	Status      string // creating, available, rebooting, deleting, …
	AZ          string
	SubnetID    string
	InterfaceID string // the node's network interface (eni-…)
	IP          string
	CreatedAt   time.Time
	ParamStatus string
	// Running is what the node's engine was started with (node type and
	// engine version); a difference from the cluster's means a restart.
	Running string `json:",omitempty"`
	// RebootRequested is set by RebootCacheCluster until the reboot is done.
	RebootRequested bool `json:",omitempty"`
	// Replace asks that the node's engine be replaced: its data removed
	// and a new engine started (a failed primary after a failover, or one
	// recovered in place). Cleared when the new engine runs.
	Replace bool `json:",omitempty"`
}

// Pending holds a cluster's modifications waiting for the maintenance window.
type Pending struct {
	NumNodes      int      `json:",omitempty"`
	RemoveNodes   []string `json:",omitempty"`
	NodeType      string   `json:",omitempty"`
	EngineVersion string   `json:",omitempty"`
}

// Tag is a resource tag.
type Tag struct{ Key, Value string }

// SubnetGroup is a cache subnet group.
type SubnetGroup struct {
	Account, Region string
	Name            string
	Description     string
	VpcID           string
	Subnets         []SubnetRef
	Tags            []Tag
}

// SubnetRef is a subnet of a subnet group.
type SubnetRef struct{ ID, AZ string }

// ParameterGroup is a customer-created cache parameter group; the default
// groups (default.redis7, …) are not stored but derived from the engine
// families.
type ParameterGroup struct {
	Account, Region string
	Name            string
	Family          string
	Description     string
	// Values overrides the family defaults.
	Values map[string]string
	Tags   []Tag
}

// Event is an ElastiCache event.
type Event struct {
	Time       time.Time
	SourceID   string
	SourceType string // cache-cluster, cache-parameter-group, cache-subnet-group, …
	Message    string
}

func scopePrefix(s auth.Scope) string {
	return store.Key("elasticache", s.AccountID, s.Region) + "/"
}

func clusterKey(account, region, id string) string {
	return store.Key("elasticache", account, region, "cluster", id)
}

func subnetGroupKey(s auth.Scope, name string) string {
	return store.Key("elasticache", s.AccountID, s.Region, "subnetgroup", name)
}

func paramGroupKey(s auth.Scope, name string) string {
	return store.Key("elasticache", s.AccountID, s.Region, "parametergroup", name)
}

func eventKey(account, region string, t time.Time, seq uint64) string {
	return store.Key("elasticache", account, region, "event", fmt.Sprintf("%020d-%08d", t.UnixNano(), seq))
}

// ClusterPrefix is the store prefix of every cluster of every scope; the
// reconciler watches it.
const ClusterPrefix = "elasticache/"

// ARN builds an ElastiCache ARN.
func ARN(s auth.Scope, kind, name string) string {
	return "arn:aws:elasticache:" + s.Region + ":" + s.AccountID + ":" + kind + ":" + name
}

// Identifier rules: 1-40 (clusters: 1-50) characters, letters, digits and
// hyphens, starting with a letter, no two consecutive hyphens, not ending
// with a hyphen; stored lowercase.
var identifierPattern = regexp.MustCompile(`^[a-zA-Z](?:[a-zA-Z0-9]|-[a-zA-Z0-9])*$`)

var subnetGroupPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
