package elasticache_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// TestClusterModeChange: ModifyReplicationGroup's ClusterMode follows
// AWS's one-way rules (disabled → compatible → enabled), a change Cachalot
// does not make is refused, never ignored; the mode a group has is
// accepted; ModifyReplicationGroupShardConfiguration refuses a group
// without cluster mode. Nothing changes.
func TestClusterModeChange(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("plain"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("sharded"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "plain")
	waitGroupAvailable(t, w.ec, "sharded")
	for _, c := range []struct {
		group string
		mode  ectypes.ClusterMode
		want  string
	}{
		{"plain", ectypes.ClusterModeEnabled, "InvalidParameterCombination"},
		{"plain", ectypes.ClusterModeCompatible, "InvalidParameterValue"},
		{"plain", "sideways", "InvalidParameterValue"},
		{"sharded", ectypes.ClusterModeDisabled, "InvalidParameterCombination"},
		{"sharded", ectypes.ClusterModeCompatible, "InvalidParameterCombination"},
		{"plain", ectypes.ClusterModeDisabled, ""},
		{"sharded", ectypes.ClusterModeEnabled, ""},
	} {
		_, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(c.group),
			ClusterMode: c.mode, ApplyImmediately: aws.Bool(true)})
		if got := code(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("ModifyReplicationGroup %s ClusterMode %s = %v, want %q", c.group, c.mode, err, c.want)
		}
	}
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("plain"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); code(err) != "InvalidParameterValue" {
		t.Errorf("ModifyReplicationGroupShardConfiguration of a group without cluster mode = %v, want InvalidParameterValue", err)
	}
	for _, id := range []string{"plain", "sharded"} {
		g := w.describeGroup(t, id)
		if aws.ToString(g.Status) != "available" || (id == "plain") == aws.ToBool(g.ClusterEnabled) {
			t.Errorf("%s after the refused changes: %s, cluster enabled %v", id, aws.ToString(g.Status), aws.ToBool(g.ClusterEnabled))
		}
	}
}
