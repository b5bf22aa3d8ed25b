package elasticache_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestClusterModeSnapshotRestore: a cluster-mode group of 2 shards ×
// (1 primary + 1 replica), real engines in real namespaces, 1,000 keys
// written with redis-cli -c from an instance; a snapshot holds one RDB
// per shard (taken from its replica) with the shard's slots; restored into
// a new 2-shard group, every key and value is there and the Redis Cluster
// is whole; a restore out of cluster mode is refused; re-slotted into 3
// shards, every key is moved into its new shard; the first restored
// group is deleted with a final snapshot of both shards.
func TestClusterModeSnapshotRestore(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &clusterWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "src"}, masters: 2}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	waiter := elasticache.NewReplicationGroupAvailableWaiter(w.ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	create := func(in *elasticache.CreateReplicationGroupInput) {
		t.Helper()
		if _, err := w.ec.CreateReplicationGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
		if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: in.ReplicationGroupId}, 60*time.Second); err != nil {
			t.Fatal(err)
		}
		w.id = aws.ToString(in.ReplicationGroupId)
		w.cfg = aws.ToString(w.describe(t).ConfigurationEndpoint.Address)
	}
	create(&elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("src"),
		ReplicationGroupDescription: aws.String("src"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on")})
	w.writeKeys(t, 1000, "v1")
	w.check(t, 1000)

	_, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src-0001-002"), SnapshotName: aws.String("x")})
	if code(err) != "InvalidParameterCombination" {
		t.Errorf("CreateSnapshot of a cluster-mode member = %v, want InvalidParameterCombination", err)
	}
	out, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("src"), SnapshotName: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	if s := out.Snapshot; aws.ToString(s.SnapshotStatus) != "creating" || aws.ToInt32(s.NumNodeGroups) != 2 {
		t.Fatalf("CreateSnapshot = %s with %d node groups", aws.ToString(s.SnapshotStatus), aws.ToInt32(s.NumNodeGroups))
	}
	sn := w.waitSnapshot(t, "two", "available")
	wantSlots := map[string]string{"0001": "0-8191", "0002": "8192-16383"}
	if len(sn.NodeSnapshots) != 2 || aws.ToString(sn.CacheClusterId) != "" || aws.ToString(sn.ReplicationGroupId) != "src" {
		t.Fatalf("snapshot = %d node snapshots, cluster %q, group %q", len(sn.NodeSnapshots), aws.ToString(sn.CacheClusterId), aws.ToString(sn.ReplicationGroupId))
	}
	for _, ns := range sn.NodeSnapshots {
		id := aws.ToString(ns.NodeGroupId)
		ngc := ns.NodeGroupConfiguration
		if ngc == nil || aws.ToString(ngc.Slots) != wantSlots[id] || aws.ToInt32(ngc.ReplicaCount) != 1 ||
			aws.ToString(ns.CacheClusterId) != "src-"+id+"-002" || aws.ToString(ns.CacheSize) == "" {
			t.Errorf("node snapshot %s = %+v, %+v; want slots %s, 1 replica, taken from the replica", id, ns, ngc, wantSlots[id])
		}
	}
	if evs := w.events(t, ectypes.SourceTypeReplicationGroup, "src"); !slices.Contains(evs, "Snapshot succeeded for snapshot with ID 'two' of replication group with ID 'src'") {
		t.Errorf("events of src = %q", evs)
	}

	// Restores out of cluster mode.
	for what, in := range map[string]*elasticache.CreateReplicationGroupInput{
		"no cluster mode": {ClusterMode: ectypes.ClusterModeDisabled, NumCacheClusters: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(false)},
	} {
		in.ReplicationGroupId, in.ReplicationGroupDescription, in.SnapshotName = aws.String("bad"), aws.String("bad"), aws.String("two")
		if in.AutomaticFailoverEnabled == nil {
			in.AutomaticFailoverEnabled = aws.Bool(true)
		}
		if _, err := w.ec.CreateReplicationGroup(ctx, in); !strings.HasPrefix(code(err), "InvalidParameter") {
			t.Errorf("restore into %s = %v, want a refusal", what, err)
		}
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("bad"), SnapshotName: aws.String("two")}); code(err) != "InvalidParameterCombination" {
		t.Errorf("CreateCacheCluster from a cluster-mode snapshot = %v, want InvalidParameterCombination", err)
	}

	// The restore: the snapshot's engine, node type, cluster mode, node
	// groups and slots; each new shard's primary loads its shard's keys.
	create(&elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("dst"),
		ReplicationGroupDescription: aws.String("dst"), SnapshotName: aws.String("two"), AutomaticFailoverEnabled: aws.Bool(true)})
	g := w.describe(t)
	if len(g.NodeGroups) != 2 || !aws.ToBool(g.ClusterEnabled) || len(g.MemberClusters) != 4 {
		t.Fatalf("restored group: %d node groups, cluster %v, members %v", len(g.NodeGroups), aws.ToBool(g.ClusterEnabled), g.MemberClusters)
	}
	for _, ng := range g.NodeGroups {
		if aws.ToString(ng.Slots) != wantSlots[aws.ToString(ng.NodeGroupId)] {
			t.Errorf("restored node group %s has slots %s", aws.ToString(ng.NodeGroupId), aws.ToString(ng.Slots))
		}
	}
	w.check(t, 1000)
	w.readKeys(t, 1000, "v1")
	if info := w.cli(t, "redis-cli -h "+w.cfg+" cluster info"); !strings.Contains(info, "cluster_state:ok") || !strings.Contains(info, "cluster_slots_assigned:16384") || !strings.Contains(info, "cluster_known_nodes:4") {
		t.Errorf("CLUSTER INFO of the restored group = %s", info)
	}
	w.waitSnapshot(t, "two", "available") // no longer restoring

	// Re-slotted into 3 shards × (1 primary + 1 replica): every key moved
	// into its shard's primary in its namespace, replicated, whole.
	create(&elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("three"), ReplicationGroupDescription: aws.String("three"),
		SnapshotName: aws.String("two"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true)})
	w.masters = 3
	w.check(t, 1000)
	w.readKeys(t, 1000, "v1")
	w.waitSnapshot(t, "two", "available")

	// The restored group deleted with a final snapshot of both shards.
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("dst"), FinalSnapshotIdentifier: aws.String("dst-final")}); err != nil {
		t.Fatal(err)
	}
	final := w.waitSnapshot(t, "dst-final", "available")
	if len(final.NodeSnapshots) != 2 || aws.ToInt32(final.NodeSnapshots[0].NodeGroupConfiguration.ReplicaCount) != 1 {
		t.Errorf("final snapshot = %+v", final.NodeSnapshots)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("dst")})
		if code(err) == "ReplicationGroupNotFoundFault" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dst after its final snapshot: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
