package elasticache_test

import (
	"context"
	"net"
	"strconv"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// TestClusterModeBadInput: every bad cluster-mode request of the issue
// gets AWS's code, and nothing is created or changed.
func TestClusterModeBadInput(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{CacheParameterGroupName: aws.String("plain"),
		CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("d")}); err != nil {
		t.Fatal(err)
	}
	ngc := func(slots ...string) []ectypes.NodeGroupConfiguration {
		var out []ectypes.NodeGroupConfiguration
		for _, s := range slots {
			out = append(out, ectypes.NodeGroupConfiguration{Slots: aws.String(s), ReplicaCount: aws.Int32(1)})
		}
		return out
	}
	create := func(edit func(in *elasticache.CreateReplicationGroupInput)) func() error {
		return func() error {
			in := &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("shards"), ReplicationGroupDescription: aws.String("d"),
				CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1),
				AutomaticFailoverEnabled: aws.Bool(true), CacheParameterGroupName: aws.String("default.redis7.cluster.on")}
			edit(in)
			_, err := w.ec.CreateReplicationGroup(ctx, in)
			return err
		}
	}
	for _, tc := range []struct {
		name, code string
		call       func() error
	}{
		{"FailoverOff", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) { in.AutomaticFailoverEnabled = aws.Bool(false) })},
		{"FailoverOmitted", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) { in.AutomaticFailoverEnabled = nil })},
		{"NonClusterParameterGroup", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("default.redis7")
		})},
		{"CustomNonClusterGroup", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("plain")
		})},
		{"ClusterGroupModeDisabled", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups, in.ClusterMode = nil, ectypes.ClusterModeDisabled
		})},
		{"OverlappingSlots", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = ngc("0-6000", "6000-10922", "10923-16383")
		})},
		{"GapInSlots", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = ngc("0-5000", "5462-10922", "10923-16383")
		})},
		{"SlotPast16383", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = ngc("0-5461", "5462-10922", "10923-16384")
		})},
		{"BadSlots", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = ngc("0-5461", "x", "10923-16383")
		})},
		{"MoreConfigurationsThanGroups", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumNodeGroups, in.NodeGroupConfiguration = aws.Int32(2), ngc("0-5461", "5462-10922", "10923-16383")
		})},
		{"NinetyOneShards", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.NumNodeGroups = aws.Int32(91) })},
		{"SixReplicas", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicasPerNodeGroup = aws.Int32(6) })},
		{"NumCacheClusters", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.ReplicasPerNodeGroup, in.NumCacheClusters = nil, aws.Int32(3)
		})},
		{"DuplicateNodeGroupID", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = []ectypes.NodeGroupConfiguration{{NodeGroupId: aws.String("0001")}, {NodeGroupId: aws.String("0001")}}
		})},
		{"ReplicaZonesCount", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NodeGroupConfiguration = []ectypes.NodeGroupConfiguration{{PrimaryAvailabilityZone: aws.String("us-east-1a"), ReplicaCount: aws.Int32(2),
				ReplicaAvailabilityZones: []string{"us-east-1b"}}}
		})},
		{"UnknownParameterGroup", "CacheParameterGroupNotFound", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.CacheParameterGroupName, in.ClusterMode = aws.String("nope"), ectypes.ClusterModeEnabled
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.view(t)
			err := tc.call()
			if got := code(err); got != tc.code {
				t.Errorf("%s = %v, want %s", tc.name, err, tc.code)
			}
			if after := w.view(t); after != before {
				t.Errorf("%s changed what the account sees:\nbefore %s\nafter  %s", tc.name, before, after)
			}
		})
	}
}

// TestClusterModeParameterGroups: the default .cluster.on groups are
// listed and enable cluster mode.
func TestClusterModeParameterGroups(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	out, err := w.ec.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{CacheParameterGroupName: aws.String("default.redis7.cluster.on")})
	if err != nil || len(out.CacheParameterGroups) != 1 || aws.ToString(out.CacheParameterGroups[0].CacheParameterGroupFamily) != "redis7" {
		t.Fatalf("DescribeCacheParameterGroups(default.redis7.cluster.on) = %v, %v", out, err)
	}
	params, err := w.ec.DescribeCacheParameters(ctx, &elasticache.DescribeCacheParametersInput{CacheParameterGroupName: aws.String("default.redis7.cluster.on")})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range params.Parameters {
		if aws.ToString(p.ParameterName) == "cluster-enabled" {
			found = aws.ToString(p.ParameterValue) == "yes"
		}
	}
	if !found {
		t.Errorf("default.redis7.cluster.on: cluster-enabled is not yes")
	}
	all, err := w.ec.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{MaxRecords: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, g := range all.CacheParameterGroups {
		names[aws.ToString(g.CacheParameterGroupName)] = true
	}
	for _, want := range []string{"default.redis7.cluster.on", "default.valkey8.cluster.on", "default.redis6.x.cluster.on"} {
		if !names[want] {
			t.Errorf("DescribeCacheParameterGroups lacks %s", want)
		}
	}
	if names["default.memcached1.6.cluster.on"] {
		t.Errorf("DescribeCacheParameterGroups lists a cluster.on group for memcached")
	}
}

// TestClusterModeLoopback: in the loopback network mode (no root) a
// cluster-mode group forms its Redis Cluster on 127.0.0.1 ports and its
// configuration endpoint is a host address a cluster client follows.
func TestClusterModeLoopback(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("local"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumNodeGroups: aws.Int32(2),
		ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		NodeGroupConfiguration: []ectypes.NodeGroupConfiguration{{Slots: aws.String("0-99,8000-16383")}, {Slots: aws.String("100-7999")}}}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "local")
	g := w.describeGroup(t, "local")
	ep := g.ConfigurationEndpoint
	if ep == nil || aws.ToString(ep.Address) != "127.0.0.1" {
		t.Fatalf("configuration endpoint = %+v, want a host address", ep)
	}
	if s := aws.ToString(g.NodeGroups[0].Slots) + " " + aws.ToString(g.NodeGroups[1].Slots); s != "0-99,8000-16383 100-7999" {
		t.Errorf("slots = %s", s)
	}
	c, err := redis.Dial(ctx, net.JoinHostPort(aws.ToString(ep.Address), strconv.Itoa(int(aws.ToInt32(ep.Port)))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	slots, err := c.Do(ctx, "CLUSTER", "SLOTS")
	if err != nil {
		t.Fatal(err)
	}
	// Three ranges: 0-99 and 8000-16383 on one primary, 100-7999 on the other.
	if rs, ok := slots.([]any); !ok || len(rs) != 3 {
		t.Errorf("CLUSTER SLOTS = %v, want three ranges", slots)
	}
}
