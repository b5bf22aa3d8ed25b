package elasticache

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

// TestClusterModeRestoreDefaults: a restore of a cluster-mode snapshot
// takes cluster mode, the node groups, their slots and replica counts
// from the snapshot unless the request says otherwise, and re-slots into
// another number of node groups or other slots.
func TestClusterModeRestoreDefaults(t *testing.T) {
	sn := &Snapshot{Name: "two", ClusterMode: ClusterModeEnabled, Nodes: []SnapshotNode{
		{NodeGroupID: "0001", Slots: "0-8191", ReplicaAZs: []string{"a"}},
		{NodeGroupID: "0002", Slots: "8192-16383", ReplicaAZs: []string{"b", "c"}},
	}}
	in := &elasticacheapi.CreateReplicationGroupMessage{}
	if reslot, err := clusterModeRestore(sn, in); err != nil || reslot {
		t.Fatalf("restore with the snapshot's layout = reslot %v, %v", reslot, err)
	}
	if aws.ToString(in.ClusterMode) != ClusterModeEnabled || aws.ToInt32(in.NumNodeGroups) != 2 || len(in.NodeGroupConfiguration) != 2 {
		t.Fatalf("restore request = mode %q, %d node groups, %d configurations", aws.ToString(in.ClusterMode), aws.ToInt32(in.NumNodeGroups), len(in.NodeGroupConfiguration))
	}
	for i, c := range in.NodeGroupConfiguration {
		n := sn.Nodes[i]
		if aws.ToString(c.NodeGroupId) != n.NodeGroupID || aws.ToString(c.Slots) != n.Slots || int(aws.ToInt32(c.ReplicaCount)) != len(n.ReplicaAZs) {
			t.Errorf("node group %d = %s %s %d replicas", i, aws.ToString(c.NodeGroupId), aws.ToString(c.Slots), aws.ToInt32(c.ReplicaCount))
		}
	}
	in = &elasticacheapi.CreateReplicationGroupMessage{ReplicasPerNodeGroup: aws.Int32(0),
		NodeGroupConfiguration: []elasticacheapi.NodeGroupConfiguration{{Slots: aws.String("0-4095,4096-8191")}}}
	if reslot, err := clusterModeRestore(sn, in); err != nil || reslot || in.NodeGroupConfiguration[0].ReplicaCount != nil || aws.ToString(in.NodeGroupConfiguration[1].Slots) != "8192-16383" {
		t.Errorf("restore with ReplicasPerNodeGroup and the same slots = reslot %v, %v, %+v", reslot, err, in.NodeGroupConfiguration)
	}
	for what, tc := range map[string]struct {
		in     *elasticacheapi.CreateReplicationGroupMessage
		groups int32
	}{
		"3 node groups":      {&elasticacheapi.CreateReplicationGroupMessage{NumNodeGroups: aws.Int32(3)}, 3},
		"1 node group":       {&elasticacheapi.CreateReplicationGroupMessage{NumNodeGroups: aws.Int32(1)}, 1},
		"3 configurations":   {&elasticacheapi.CreateReplicationGroupMessage{NodeGroupConfiguration: make([]elasticacheapi.NodeGroupConfiguration, 3)}, 3},
		"other slots":        {&elasticacheapi.CreateReplicationGroupMessage{NodeGroupConfiguration: []elasticacheapi.NodeGroupConfiguration{{Slots: aws.String("0-100")}}}, 1},
		"other slots, split": {&elasticacheapi.CreateReplicationGroupMessage{NodeGroupConfiguration: []elasticacheapi.NodeGroupConfiguration{{Slots: aws.String("0-8190")}, {Slots: aws.String("8191-16383")}}}, 2},
	} {
		reslot, err := clusterModeRestore(sn, tc.in)
		if err != nil || !reslot || aws.ToInt32(tc.in.NumNodeGroups) != tc.groups {
			t.Errorf("restore into %s = reslot %v, %d node groups, %v; want a re-slotting restore into %d", what, reslot, aws.ToInt32(tc.in.NumNodeGroups), err, tc.groups)
		}
	}
	if reslot, err := clusterModeRestore(&Snapshot{Name: "plain", Nodes: []SnapshotNode{{}}}, &elasticacheapi.CreateReplicationGroupMessage{}); err != nil || reslot {
		t.Errorf("restore of a snapshot without cluster mode = reslot %v, %v; the caller decides", reslot, err)
	}
	if err := oneNodeGroup(sn); err == nil {
		t.Error("a cluster-mode snapshot restores into a cache without cluster mode")
	}
}

// TestKeySlot: Redis Cluster's key slots, hash tags included (values from
// CLUSTER KEYSLOT).
func TestKeySlot(t *testing.T) {
	for key, want := range map[string]int{
		"":              0,
		"foo":           12182,
		"bar":           5061,
		"key:1":         6657,
		"{user1000}.a":  3443,
		"{user1000}.b":  3443,
		"user1000":      3443,
		"foo{}{bar}":    8363,
		"foo{{bar}}zap": 4015,
		"foo{bar}{zap}": 5061,
		"123456789":     12739,
	} {
		if got := KeySlot(key); got != want {
			t.Errorf("KeySlot(%q) = %d, want %d", key, got, want)
		}
	}
}
