package elasticache_test

import (
	"context"
	"net"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cachalot-dev/cachalot/internal/app"
)

// TestClusterModeChange: ModifyReplicationGroup's ClusterMode follows
// AWS's one-way rules (disabled → compatible → enabled) and preconditions
// (automatic failover with a replica, a parameter group with
// cluster-enabled yes, no other engine change at once); a parameter group
// whose cluster-enabled differs is refused with AWS's message; the mode a
// group has is accepted; ModifyReplicationGroupShardConfiguration refuses
// a group without cluster mode. Nothing changes.
func TestClusterModeChange(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("mine"),
		CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []*elasticache.CreateReplicationGroupInput{
		{ReplicationGroupId: aws.String("plain"), NumCacheClusters: aws.Int32(1)},
		{ReplicationGroupId: aws.String("sharded"), NumNodeGroups: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)},
		{ReplicationGroupId: aws.String("ready"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)},
		{ReplicationGroupId: aws.String("custom"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
			CacheParameterGroupName: aws.String("mine")},
	} {
		in.ReplicationGroupDescription, in.CacheNodeType = aws.String("d"), aws.String("cache.t3.micro")
		if _, err := w.ec.CreateReplicationGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"plain", "sharded", "ready", "custom"} {
		waitGroupAvailable(t, w.ec, id)
	}
	for _, c := range []struct {
		name, group string
		mode        ectypes.ClusterMode
		edit        func(in *elasticache.ModifyReplicationGroupInput)
		want        string
	}{
		{"DisabledToEnabled", "ready", ectypes.ClusterModeEnabled, nil, "InvalidParameterCombination"},
		{"NoFailover", "plain", ectypes.ClusterModeCompatible, nil, "InvalidParameterCombination"},
		{"BadMode", "plain", "sideways", nil, "InvalidParameterValue"},
		{"EnabledToDisabled", "sharded", ectypes.ClusterModeDisabled, nil, "InvalidParameterCombination"},
		{"EnabledToCompatible", "sharded", ectypes.ClusterModeCompatible, nil, "InvalidParameterCombination"},
		{"WithNodeType", "ready", ectypes.ClusterModeCompatible, func(in *elasticache.ModifyReplicationGroupInput) {
			in.CacheNodeType = aws.String("cache.m5.large")
		}, "InvalidParameterCombination"},
		{"ParamGroupWithoutCluster", "ready", ectypes.ClusterModeCompatible, func(in *elasticache.ModifyReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("default.redis7")
		}, "InvalidParameterCombination"},
		{"ParamGroupMissing", "ready", ectypes.ClusterModeCompatible, func(in *elasticache.ModifyReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("nope")
		}, "CacheParameterGroupNotFound"},
		{"CustomGroupNeedsOne", "custom", ectypes.ClusterModeCompatible, nil, "InvalidParameterCombination"},
		{"ClusterParamGroupAlone", "ready", "", func(in *elasticache.ModifyReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("default.redis7.cluster.on")
		}, "InvalidParameterCombination"},
		{"SameDisabled", "plain", ectypes.ClusterModeDisabled, nil, ""},
		{"SameEnabled", "sharded", ectypes.ClusterModeEnabled, nil, ""},
	} {
		in := &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(c.group), ClusterMode: c.mode, ApplyImmediately: aws.Bool(true)}
		if c.edit != nil {
			c.edit(in)
		}
		_, err := w.ec.ModifyReplicationGroup(ctx, in)
		if got := code(err); (c.want == "" && err != nil) || (c.want != "" && got != c.want) {
			t.Errorf("%s: ModifyReplicationGroup %s ClusterMode %s = %v, want %q", c.name, c.group, c.mode, err, c.want)
		}
	}
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("plain"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); code(err) != "InvalidParameterValue" {
		t.Errorf("ModifyReplicationGroupShardConfiguration of a group without cluster mode = %v, want InvalidParameterValue", err)
	}
	for _, id := range []string{"plain", "sharded", "ready", "custom"} {
		g := w.describeGroup(t, id)
		wantMode := "disabled"
		if id == "sharded" {
			wantMode = "enabled"
		}
		if aws.ToString(g.Status) != "available" || string(g.ClusterMode) != wantMode || (id == "sharded") != aws.ToBool(g.ClusterEnabled) ||
			g.PendingModifiedValues.ClusterMode != "" {
			t.Errorf("%s after the refused changes: %s, cluster mode %s, enabled %v, pending %s", id, aws.ToString(g.Status), g.ClusterMode,
				aws.ToBool(g.ClusterEnabled), g.PendingModifiedValues.ClusterMode)
		}
	}
}

// TestClusterModeReshardLoopback: in the loopback network mode (no root),
// a scale-out with ReshardingConfiguration names the new node group and
// places its node in the zone asked for; keys written through go-redis's
// ClusterClient from the host are all there afterwards, on three shards.
func TestClusterModeReshardLoopback(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("local"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "local")
	ep := w.describeGroup(t, "local").ConfigurationEndpoint
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{net.JoinHostPort(aws.ToString(ep.Address), strconv.Itoa(int(aws.ToInt32(ep.Port))))}})
	defer c.Close()
	const n = 2000
	for i := range n {
		if err := c.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	out, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("local"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true),
		ReshardingConfiguration: []ectypes.ReshardingConfiguration{{NodeGroupId: aws.String("0007"), PreferredAvailabilityZones: []string{"us-east-1b"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.ReplicationGroup.Status); s != "modifying" {
		t.Errorf("status = %s, want modifying", s)
	}
	waitGroupAvailable(t, w.ec, "local")
	g := w.describeGroup(t, "local")
	slots, members := layout(g)
	if want := []string{"0001=0-5461", "0002=8192-13652", "0007=5462-8191,13653-16383"}; !slices.Equal(slots, want) {
		t.Errorf("node groups = %v, want %v", slots, want)
	}
	if !slices.Contains(members, "local-0007-001") || aws.ToString(g.NodeGroups[2].NodeGroupMembers[0].PreferredAvailabilityZone) != "us-east-1b" {
		t.Errorf("members = %v, new node group's zone %s", members, aws.ToString(g.NodeGroups[2].NodeGroupMembers[0].PreferredAvailabilityZone))
	}
	c.ReloadState(ctx)
	for i := range n {
		if v, err := c.Get(ctx, "k"+strconv.Itoa(i)).Result(); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("k%d = %q, %v after the scale-out", i, v, err)
		}
	}
	var sizes []int64
	var mu sync.Mutex
	if err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		size, err := m.DBSize(ctx).Result()
		mu.Lock()
		sizes = append(sizes, size)
		mu.Unlock()
		return err
	}); err != nil || len(sizes) != 3 || sizes[0]+sizes[1]+sizes[2] != n {
		t.Errorf("keys by primary = %v, %v; want %d on three", sizes, err, n)
	}
}
