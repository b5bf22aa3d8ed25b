package elasticache

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
)

// TestClusterModeRestoreDefaults: a restore of a cluster-mode snapshot
// takes cluster mode, the node groups, their slots and replica counts
// from the snapshot unless the request says otherwise, and refuses
// another number of node groups or other slots.
func TestClusterModeRestoreDefaults(t *testing.T) {
	sn := &Snapshot{Name: "two", ClusterMode: ClusterModeEnabled, Nodes: []SnapshotNode{
		{NodeGroupID: "0001", Slots: "0-8191", ReplicaAZs: []string{"a"}},
		{NodeGroupID: "0002", Slots: "8192-16383", ReplicaAZs: []string{"b", "c"}},
	}}
	in := &elasticacheapi.CreateReplicationGroupMessage{}
	if err := clusterModeRestore(sn, in); err != nil {
		t.Fatal(err)
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
	if err := clusterModeRestore(sn, in); err != nil || in.NodeGroupConfiguration[0].ReplicaCount != nil || aws.ToString(in.NodeGroupConfiguration[1].Slots) != "8192-16383" {
		t.Errorf("restore with ReplicasPerNodeGroup and the same slots = %v, %+v", err, in.NodeGroupConfiguration)
	}
	for what, in := range map[string]*elasticacheapi.CreateReplicationGroupMessage{
		"3 node groups": {NumNodeGroups: aws.Int32(3)},
		"1 node group":  {NumNodeGroups: aws.Int32(1)},
		"other slots":   {NodeGroupConfiguration: []elasticacheapi.NodeGroupConfiguration{{Slots: aws.String("0-100")}}},
	} {
		if err := clusterModeRestore(sn, in); err == nil {
			t.Errorf("restore into %s: no error", what)
		}
	}
	if err := oneNodeGroup(sn); err == nil {
		t.Error("a cluster-mode snapshot restores into a cache without cluster mode")
	}
}
