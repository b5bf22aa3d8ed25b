package elasticache

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Snapshots (backups) of Valkey and Redis OSS clusters and replication
// groups. A snapshot is a stored record describing its source as it was
// (engine, version, node type, parameter and subnet group, …) and one
// node snapshot per node group, each naming an RDB file in the snapshot
// store (a directory the snapshot controller, internal/snapctl, owns).
// The API writes the record (creating, deleting) and marks the source
// snapshotting (Cluster.Snapshotting, ReplicationGroup.Snapshotting) in
// one transaction; the controller takes the RDB from the engine and
// writes the outcome back (snapstatus.go): available, or gone with an
// event, never available before the file is whole.

// Snapshot statuses and sources, as ElastiCache spells them.
const (
	SnapshotCreating  = "creating"
	SnapshotAvailable = "available"
	SnapshotRestoring = "restoring"
	SnapshotCopying   = "copying"
	SnapshotDeleting  = "deleting"

	SourceManual    = "manual"
	SourceAutomated = "automated"
)

// StatusSnapshotting is the status a cluster or group shows while a
// snapshot of it is taken.
const StatusSnapshotting = "snapshotting"

// Snapshot is the stored record of a snapshot.
type Snapshot struct {
	Account, Region string
	Name            string
	Source          string // manual, automated
	Status          string
	CreatedAt       time.Time

	// The source, as it was when the snapshot was requested. ClusterID
	// is the cluster snapshotted (a member, for a group); GroupID the
	// replication group, "" for a cluster outside one.
	ClusterID         string `json:",omitempty"`
	GroupID           string `json:",omitempty"`
	GroupDescription  string `json:",omitempty"`
	Engine            string
	EngineVersion     string
	Family            string
	NodeType          string
	NumNodes          int
	Port              int
	ParameterGroup    string
	SubnetGroup       string `json:",omitempty"`
	VpcID             string `json:",omitempty"`
	PreferredAZ       string `json:",omitempty"`
	Maintenance       string
	SnapshotWindow    string
	SnapshotRetain    int
	AutoMinor         bool
	AutomaticFailover string `json:",omitempty"`
	// ClusterMode is "enabled" for a snapshot of a cluster-mode group
	// (snapcluster.go): one node snapshot per shard, with its slots.
	ClusterMode     string `json:",omitempty"`
	SourceCreatedAt time.Time

	Nodes []SnapshotNode
	Tags  []Tag

	// CopyOf names the snapshot a CopySnapshot copies (status copying):
	// the controller copies its files.
	CopyOf string `json:",omitempty"`
	// FinalFor marks a final snapshot (FinalSnapshotIdentifier): once
	// taken, its source is deleted, in the same transaction.
	FinalFor bool `json:",omitempty"`
	// FinalRetain: the final snapshot's group keeps its primary
	// (RetainPrimaryCluster).
	FinalRetain bool `json:",omitempty"`
	// ServerlessCache names the serverless cache a serverless snapshot
	// was taken of (serverlesssnap.go); its Name is then
	// ServerlessGroupPrefix + the snapshot's name, and its GroupID the
	// cache's group. "" for a node-based snapshot.
	ServerlessCache string `json:",omitempty"`
	ServerlessMajor string `json:",omitempty"`
	// LastError is the controller's last failure, for people.
	LastError string `json:",omitempty"`
}

// SnapshotNode is the snapshot of one node group: taken from one node.
type SnapshotNode struct {
	ClusterID     string // the cluster taken from
	NodeID        string // its node
	NodeGroupID   string
	NodeCreatedAt time.Time
	TakenAt       time.Time `json:",omitempty"` // zero until taken
	Size          int64     `json:",omitempty"` // bytes of the RDB file
	// File is the RDB file's name in the snapshot store.
	File string
	// The node group's layout, for ShowNodeGroupConfig.
	PrimaryAZ  string   `json:",omitempty"`
	ReplicaAZs []string `json:",omitempty"`
	// Slots are the shard's hash slots (cluster mode), as ParseSlots
	// reads them; "" without cluster mode.
	Slots string `json:",omitempty"`
}

// SnapshotRef names a snapshot.
type SnapshotRef struct{ Account, Region, Name string }

// Ref is the snapshot's name.
func (sn *Snapshot) Ref() SnapshotRef { return SnapshotRef{sn.Account, sn.Region, sn.Name} }

func (r SnapshotRef) String() string { return r.Account + "/" + r.Region + "/" + r.Name }

// SourceID is the id events of the snapshot's source carry: the group's,
// else the cluster's.
func (sn *Snapshot) SourceID() string {
	if sn.GroupID != "" {
		return sn.GroupID
	}
	return sn.ClusterID
}

// sourceType is the event source type of the snapshot's source.
func (sn *Snapshot) sourceType() string {
	if sn.GroupID != "" {
		return "replication-group"
	}
	return "cache-cluster"
}

// sourceWords names the source in event messages.
func (sn *Snapshot) sourceWords() string {
	if sn.ServerlessCache != "" {
		return "serverless cache with ID '" + sn.ServerlessCache + "'"
	}
	if sn.GroupID != "" {
		return "replication group with ID '" + sn.GroupID + "'"
	}
	return "cache cluster with ID '" + sn.ClusterID + "'"
}

func snapshotKey(account, region, name string) string {
	return store.Key("elasticache", account, region, "snapshot", name)
}

func snapshotPrefix(s auth.Scope) string {
	return store.Key("elasticache", s.AccountID, s.Region, "snapshot") + "/"
}

// SnapshotKey reports whether a store key holds a snapshot.
func SnapshotKey(key string) bool {
	return strings.HasPrefix(key, ClusterPrefix) && strings.Contains(key, "/snapshot/")
}

// snapshotFile names a new node snapshot's RDB file in the store: unique
// per snapshot request (a name may be reused once deleted).
func snapshotFile(account, region, name, nodeGroup string, at time.Time) string {
	return fmt.Sprintf("%s.%s.%s.%s.%d.rdb", account, region, name, nodeGroup, at.UnixNano())
}

func getSnapshot(tx store.Tx, s auth.Scope, name string) (*Snapshot, error) {
	var sn Snapshot
	if err := store.GetJSON(tx, snapshotKey(s.AccountID, s.Region, name), &sn); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, elasticacheapi.ErrSnapshotNotFoundFault("Snapshot %s not found.", name)
		}
		return nil, fmt.Errorf("read snapshot %s: %w", name, err)
	}
	return &sn, nil
}

// getNodeSnapshot is getSnapshot for the node-based API, which does not
// see serverless snapshots.
func getNodeSnapshot(tx store.Tx, s auth.Scope, name string) (*Snapshot, error) {
	if hiddenID(name) {
		return nil, elasticacheapi.ErrSnapshotNotFoundFault("Snapshot %s not found.", name)
	}
	return getSnapshot(tx, s, name)
}

func putSnapshot(tx store.Tx, sn *Snapshot) error {
	return store.PutJSON(tx, snapshotKey(sn.Account, sn.Region, sn.Name), sn)
}

// cacheSize is a node snapshot's size as DescribeSnapshots shows it.
func cacheSize(b int64) string {
	return fmt.Sprintf("%d MB", (b+(1<<20)-1)>>20)
}

// snapshotToAPI renders a snapshot as DescribeSnapshots shows it.
func snapshotToAPI(scope auth.Scope, sn *Snapshot, showNodeGroups bool) elasticacheapi.Snapshot {
	created := sn.SourceCreatedAt
	out := elasticacheapi.Snapshot{
		ARN:                        aws.String(ARN(scope, "snapshot", sn.Name)),
		SnapshotName:               aws.String(sn.Name),
		SnapshotStatus:             aws.String(sn.Status),
		SnapshotSource:             aws.String(sn.Source),
		Engine:                     aws.String(sn.Engine),
		EngineVersion:              aws.String(sn.EngineVersion),
		CacheNodeType:              aws.String(sn.NodeType),
		NumCacheNodes:              aws.Int32(int32(sn.NumNodes)),
		Port:                       aws.Int32(int32(sn.Port)),
		CacheParameterGroupName:    aws.String(sn.ParameterGroup),
		PreferredMaintenanceWindow: aws.String(sn.Maintenance),
		SnapshotWindow:             aws.String(sn.SnapshotWindow),
		SnapshotRetentionLimit:     aws.Int32(int32(sn.SnapshotRetain)),
		AutoMinorVersionUpgrade:    aws.Bool(sn.AutoMinor),
		DataTiering:                aws.String("disabled"),
		CacheClusterCreateTime:     &created,
		NodeSnapshots:              []elasticacheapi.NodeSnapshot{},
	}
	if sn.SubnetGroup != "" {
		out.CacheSubnetGroupName = aws.String(sn.SubnetGroup)
	}
	if sn.VpcID != "" {
		out.VpcId = aws.String(sn.VpcID)
	}
	if sn.GroupID != "" {
		out.ReplicationGroupId = aws.String(sn.GroupID)
		out.ReplicationGroupDescription = aws.String(sn.GroupDescription)
		out.NumNodeGroups = aws.Int32(int32(len(sn.Nodes)))
		out.AutomaticFailover = aws.String(sn.AutomaticFailover)
	} else {
		out.CacheClusterId = aws.String(sn.ClusterID)
		out.PreferredAvailabilityZone = aws.String(sn.PreferredAZ)
	}
	for _, n := range sn.Nodes {
		nodeCreated := n.NodeCreatedAt
		ns := elasticacheapi.NodeSnapshot{
			CacheClusterId:      aws.String(n.ClusterID),
			CacheNodeId:         aws.String(n.NodeID),
			CacheNodeCreateTime: &nodeCreated,
			CacheSize:           aws.String(cacheSize(n.Size)),
		}
		if !n.TakenAt.IsZero() {
			t := n.TakenAt
			ns.SnapshotCreateTime = &t
		}
		if sn.GroupID != "" {
			ns.NodeGroupId = aws.String(n.NodeGroupID)
		}
		if showNodeGroups && sn.GroupID != "" {
			ns.NodeGroupConfiguration = &elasticacheapi.NodeGroupConfiguration{
				NodeGroupId:              aws.String(n.NodeGroupID),
				PrimaryAvailabilityZone:  aws.String(n.PrimaryAZ),
				ReplicaAvailabilityZones: append([]string{}, n.ReplicaAZs...),
				ReplicaCount:             aws.Int32(int32(len(n.ReplicaAZs))),
			}
			if n.Slots != "" {
				ns.NodeGroupConfiguration.Slots = aws.String(n.Slots)
			}
		}
		out.NodeSnapshots = append(out.NodeSnapshots, ns)
	}
	return out
}
