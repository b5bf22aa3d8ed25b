package elasticache_test

import (
	"context"
	"encoding/json"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// view is what the account sees of its replication groups and clusters.
func (w *world) view(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	gs, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal([]any{gs.ReplicationGroups, cs.CacheClusters})
	return string(b)
}

func waitGroupAvailable(t *testing.T, ec *elasticache.Client, id string) {
	t.Helper()
	waiter := elasticache.NewReplicationGroupAvailableWaiter(ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)}, time.Minute); err != nil {
		t.Fatalf("waiting for %s: %v", id, err)
	}
}

// awsMessages are the error texts of TestReplicationGroupBadInput's cases
// that AWS's own are known for (as infrastructure code reports them).
var awsMessages = map[string]string{
	"FailoverWithOneCluster": "When using automatic failover, there must be at least 2 cache clusters in the replication group.",
	"BelowMinimum":           "Must have at least 1 replica for Multi-AZ enabled Replication Group",
	"AZListLength":           "When specifying preferred availability zones, the number of cache clusters must be specified and must match the number of preferred availability zones.",
}

// TestReplicationGroupBadInput: every bad request of the issue gets AWS's
// code, and nothing is created or changed.
func TestReplicationGroupBadInput(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	for _, in := range []*elasticache.CreateReplicationGroupInput{
		{ReplicationGroupId: aws.String("ha"), ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"),
			NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true)},
		{ReplicationGroupId: aws.String("solo"), ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro")},
	} {
		if _, err := w.ec.CreateReplicationGroup(ctx, in); err != nil {
			t.Fatal(err)
		}
		waitGroupAvailable(t, w.ec, *in.ReplicationGroupId)
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("standalone"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "standalone", "available")
	mc := func(id string) error {
		_, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id), Engine: aws.String("memcached"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)})
		return err
	}
	if err := mc("memc"); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "memc", "available")

	create := func(edit func(in *elasticache.CreateReplicationGroupInput)) func() error {
		return func() error {
			in := &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("new"), ReplicationGroupDescription: aws.String("d"),
				CacheNodeType: aws.String("cache.t3.micro")}
			edit(in)
			_, err := w.ec.CreateReplicationGroup(ctx, in)
			return err
		}
	}
	for _, tc := range []struct {
		name, code string
		call       func() error
	}{
		{"FailoverWithOneCluster", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumCacheClusters, in.AutomaticFailoverEnabled = aws.Int32(1), aws.Bool(true)
		})},
		{"MultiAZWithoutFailover", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumCacheClusters, in.MultiAZEnabled = aws.Int32(2), aws.Bool(true)
		})},
		{"SevenClusters", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.NumCacheClusters = aws.Int32(7) })},
		{"AZListLength", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.NumCacheClusters, in.PreferredCacheClusterAZs = aws.Int32(3), []string{"us-east-1a", "us-east-1b"}
		})},
		{"Memcached", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.Engine = aws.String("memcached") })},
		{"UnknownPrimary", "CacheClusterNotFound", create(func(in *elasticache.CreateReplicationGroupInput) { in.PrimaryClusterId = aws.String("nobody") })},
		{"PrimaryInAGroup", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.PrimaryClusterId = aws.String("ha-002") })},
		{"MemcachedPrimary", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) {
			in.PrimaryClusterId, in.CacheNodeType = aws.String("memc"), nil
		})},
		{"Duplicate", "ReplicationGroupAlreadyExists", create(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("HA") })},
		{"BadID", "InvalidParameterValue", create(func(in *elasticache.CreateReplicationGroupInput) { in.ReplicationGroupId = aws.String("a--b") })},
		{"ClusterModeWithoutFailover", "InvalidParameterCombination", create(func(in *elasticache.CreateReplicationGroupInput) { in.NumNodeGroups = aws.Int32(3) })},
		{"RemovePrimary", "InvalidParameterValue", func() error {
			_, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("ha"),
				ApplyImmediately: aws.Bool(true), ReplicasToRemove: []string{"ha-001"}})
			return err
		}},
		{"BelowMinimum", "InvalidParameterValue", func() error {
			_, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("ha"),
				ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(0)})
			return err
		}},
		{"DecreaseNoOperation", "NoOperationFault", func() error {
			_, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("ha"),
				ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(1)})
			return err
		}},
		{"IncreaseNotImmediately", "InvalidParameterValue", func() error {
			_, err := w.ec.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("ha"),
				ApplyImmediately: aws.Bool(false), NewReplicaCount: aws.Int32(2)})
			return err
		}},
		{"IncreaseUnknownGroup", "ReplicationGroupNotFoundFault", func() error {
			_, err := w.ec.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("nope"),
				ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(2)})
			return err
		}},
		{"TestFailoverUnknownNodeGroup", "NodeGroupNotFoundFault", func() error {
			_, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("ha"), NodeGroupId: aws.String("0002")})
			return err
		}},
		{"TestFailoverUnknownGroup", "ReplicationGroupNotFoundFault", func() error {
			_, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("nope"), NodeGroupId: aws.String("0001")})
			return err
		}},
		{"TestFailoverWithoutFailover", "TestFailoverNotAvailableFault", func() error {
			_, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("solo"), NodeGroupId: aws.String("0001")})
			return err
		}},
		{"DeletePrimaryMember", "InvalidCacheClusterState", func() error {
			_, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("ha-001")})
			return err
		}},
		{"DeleteLastReplicaWithFailover", "InvalidParameterCombination", func() error {
			_, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("ha-002")})
			return err
		}},
		{"DisableFailoverKeepingMultiAZ", "InvalidParameterCombination", func() error {
			_, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("ha"),
				AutomaticFailoverEnabled: aws.Bool(false), ApplyImmediately: aws.Bool(true)})
			return err
		}},
		{"PromoteWithFailover", "InvalidParameterCombination", func() error {
			_, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("ha"),
				PrimaryClusterId: aws.String("ha-002"), ApplyImmediately: aws.Bool(true)})
			return err
		}},
		{"FailoverOnOneCluster", "InvalidParameterCombination", func() error {
			_, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("solo"),
				AutomaticFailoverEnabled: aws.Bool(true), ApplyImmediately: aws.Bool(true)})
			return err
		}},
		{"MemberOfUnknownGroup", "ReplicationGroupNotFoundFault", func() error {
			_, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("x"), ReplicationGroupId: aws.String("nope")})
			return err
		}},
		{"MemberOtherNodeType", "InvalidParameterCombination", func() error {
			_, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("x"), ReplicationGroupId: aws.String("ha"),
				CacheNodeType: aws.String("cache.m5.large")})
			return err
		}},
		{"DeleteUnknownGroup", "ReplicationGroupNotFoundFault", func() error {
			_, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("nope")})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := w.view(t)
			err := tc.call()
			if got := code(err); got != tc.code {
				t.Errorf("%s = %v, want %s", tc.name, err, tc.code)
			}
			if want, ok := awsMessages[tc.name]; ok && (err == nil || !strings.Contains(err.Error(), want)) {
				t.Errorf("%s = %v, want AWS's message %q", tc.name, err, want)
			}
			if after := w.view(t); after != before {
				t.Errorf("%s changed what the account sees:\nbefore %s\nafter  %s", tc.name, before, after)
			}
		})
	}
}

// TestReplicationGroupDescribe: the fields infrastructure code reads, the
// member clusters' settings, pagination and the group's ARN for tags.
func TestReplicationGroupDescribe(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	for _, id := range []string{"a1", "a2", "a3"} {
		if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
			ReplicationGroupDescription: aws.String("d " + id), CacheNodeType: aws.String("cache.t3.micro"), ReplicasPerNodeGroup: aws.Int32(1),
			Tags: []ectypes.Tag{{Key: aws.String("team"), Value: aws.String("web")}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		waitGroupAvailable(t, w.ec, id)
	}
	var ids []string
	var marker *string
	for {
		out, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{MaxRecords: aws.Int32(20), Marker: marker})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range out.ReplicationGroups {
			ids = append(ids, aws.ToString(g.ReplicationGroupId))
		}
		if marker = out.Marker; marker == nil {
			break
		}
	}
	if !slices.Equal(ids, []string{"a1", "a2", "a3"}) {
		t.Errorf("DescribeReplicationGroups pages = %v", ids)
	}
	out, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("A1")})
	if err != nil {
		t.Fatal(err)
	}
	g := out.ReplicationGroups[0]
	ng := g.NodeGroups[0]
	if aws.ToString(g.ARN) != "arn:aws:elasticache:us-east-1:"+w.env.App.AccountID()+":replicationgroup:a1" || aws.ToString(ng.NodeGroupId) != "0001" ||
		string(g.AutomaticFailover) != "disabled" || string(g.MultiAZ) != "disabled" || string(g.ClusterMode) != "disabled" ||
		aws.ToString(g.CacheNodeType) != "cache.t3.micro" || g.ReplicationGroupCreateTime == nil || aws.ToString(g.Engine) != "redis" ||
		len(ng.NodeGroupMembers) != 2 || ng.PrimaryEndpoint == nil || ng.ReaderEndpoint == nil || aws.ToString(g.SnapshotWindow) == "" {
		b, _ := json.MarshalIndent(g, "", "  ")
		t.Errorf("DescribeReplicationGroups(a1) =\n%s", b)
	}
	tags, err := w.ec.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: g.ARN})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "team" {
		t.Errorf("ListTagsForResource(%s) = %v, %v", aws.ToString(g.ARN), tags, err)
	}
	notIn, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheClustersNotInReplicationGroups: aws.Bool(true)})
	if err != nil || len(notIn.CacheClusters) != 0 {
		t.Errorf("DescribeCacheClusters(not in groups) = %v, %v; want none", notIn, err)
	}
	ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeReplicationGroup})
	if err != nil {
		t.Errorf("DescribeEvents(replication-group) = %v", err)
	} else {
		for _, e := range ev.Events {
			if e.SourceType != ectypes.SourceTypeReplicationGroup {
				t.Errorf("DescribeEvents(replication-group) returned %+v", e)
			}
		}
	}
}

// TestReplicationGroupInfrastructureSequence is what infrastructure code
// (aws_elasticache_replication_group) does: create, wait, read the
// members' settings with node info, add a replica, turn automatic failover
// off, remove a replica, add and delete a member cluster by hand, delete
// the group and wait until it is gone.
func TestReplicationGroupInfrastructureSequence(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	created, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("tf-rg"),
		ReplicationGroupDescription: aws.String("managed by terraform"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true), Port: aws.Int32(6380),
		PreferredCacheClusterAZs: []string{"us-east-1a", "us-east-1b"}, SnapshotRetentionLimit: aws.Int32(3),
		Tags: []ectypes.Tag{{Key: aws.String("Name"), Value: aws.String("tf-rg")}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := created.ReplicationGroup.MemberClusters; !slices.Equal(got, []string{"tf-rg-001", "tf-rg-002"}) {
		t.Errorf("create response members = %v", got)
	}
	waitGroupAvailable(t, w.ec, "tf-rg")
	members := func() []ectypes.CacheCluster {
		t.Helper()
		g := w.describeGroup(t, "tf-rg")
		var out []ectypes.CacheCluster
		for _, id := range g.MemberClusters {
			c, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, c.CacheClusters[0])
		}
		return out
	}
	ms := members()
	for i, c := range ms {
		if aws.ToString(c.ReplicationGroupId) != "tf-rg" || aws.ToString(c.CacheClusterStatus) != "available" || len(c.CacheNodes) != 1 ||
			c.CacheNodes[0].Endpoint == nil || aws.ToString(c.PreferredAvailabilityZone) != []string{"us-east-1a", "us-east-1b"}[i] ||
			aws.ToInt32(c.SnapshotRetentionLimit) != 3 || aws.ToString(c.Engine) != "redis" || aws.ToString(c.EngineVersion) == "" {
			b, _ := json.MarshalIndent(c, "", "  ")
			t.Errorf("member %d =\n%s", i, b)
		}
	}

	if _, err := w.ec.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("tf-rg"),
		ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "tf-rg")
	if n := len(members()); n != 3 {
		t.Errorf("after IncreaseReplicaCount(2): %d members", n)
	}

	mod, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("tf-rg"),
		AutomaticFailoverEnabled: aws.Bool(false), ReplicationGroupDescription: aws.String("still terraform"),
		SnapshotWindow: aws.String("03:00-04:00"), ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if g := mod.ReplicationGroup; aws.ToString(g.Status) != "modifying" || string(g.PendingModifiedValues.AutomaticFailoverStatus) != "disabled" {
		t.Errorf("ModifyReplicationGroup = %s, pending failover %s; want modifying, disabled pending", aws.ToString(g.Status), g.PendingModifiedValues.AutomaticFailoverStatus)
	}
	waitGroupAvailable(t, w.ec, "tf-rg")
	if g := w.describeGroup(t, "tf-rg"); string(g.AutomaticFailover) != "disabled" || aws.ToString(g.Description) != "still terraform" || aws.ToString(g.SnapshotWindow) != "03:00-04:00" {
		t.Errorf("after modify: failover %s, description %q, window %s", g.AutomaticFailover, aws.ToString(g.Description), aws.ToString(g.SnapshotWindow))
	}

	if _, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("tf-rg"),
		ApplyImmediately: aws.Bool(true), NewReplicaCount: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "tf-rg")
	if n := len(members()); n != 2 {
		t.Errorf("after DecreaseReplicaCount(1): %d members", n)
	}

	// A replica added and removed as a cluster.
	added, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("tf-rg-extra"), ReplicationGroupId: aws.String("tf-rg")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(added.CacheCluster.ReplicationGroupId) != "tf-rg" || aws.ToInt32(added.CacheCluster.NumCacheNodes) != 1 {
		t.Errorf("CreateCacheCluster in a group = %+v", added.CacheCluster)
	}
	waitGroupAvailable(t, w.ec, "tf-rg")
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("tf-rg-extra")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "tf-rg-extra", "deleted")
	waitGroupAvailable(t, w.ec, "tf-rg")

	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("tf-rg"),
		FinalSnapshotIdentifier: aws.String("tf-rg-final")}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("tf-rg")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if cs, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(cs.CacheClusters) != 0 {
		t.Errorf("clusters after deleting the group = %v, %v", cs, err)
	}
}

func (w *world) describeGroup(t *testing.T, id string) ectypes.ReplicationGroup {
	t.Helper()
	out, err := w.ec.DescribeReplicationGroups(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ReplicationGroups[0]
}

// TestReplicationGroupAroundExistingCluster: a group created around an
// available cluster (PrimaryClusterId) keeps its data, which its new
// replica receives; deleting the group with RetainPrimaryCluster leaves
// the cluster standalone with its data.
func TestReplicationGroupAroundExistingCluster(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("seed"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	addrOf := func(id string) string {
		c := w.waitStatus(t, id, "available")
		return net.JoinHostPort(aws.ToString(c.CacheNodes[0].Endpoint.Address), strconv.Itoa(int(aws.ToInt32(c.CacheNodes[0].Endpoint.Port))))
	}
	do := func(addr string, args ...string) string {
		t.Helper()
		c, err := redis.Dial(ctx, addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		v, err := c.String(ctx, args...)
		if err != nil {
			return "error: " + err.Error()
		}
		return v
	}
	seed := addrOf("seed")
	if got := do(seed, "SET", "kept", "yes"); got != "OK" {
		t.Fatalf("SET = %q", got)
	}
	out, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("grown"),
		ReplicationGroupDescription: aws.String("d"), PrimaryClusterId: aws.String("seed"), NumCacheClusters: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.ReplicationGroup.MemberClusters; !slices.Equal(got, []string{"seed", "grown-002"}) {
		t.Errorf("members = %v, want [seed grown-002]", got)
	}
	waitGroupAvailable(t, w.ec, "grown")
	if g := w.describeGroup(t, "grown"); aws.ToString(g.CacheNodeType) != "cache.t3.micro" || primaryOf(g) != "seed" {
		t.Errorf("group = node type %s, primary %s", aws.ToString(g.CacheNodeType), primaryOf(g))
	}
	replica := addrOf("grown-002")
	for i := 0; do(replica, "GET", "kept") != "yes"; i++ {
		if i == 100 {
			t.Fatal("the new replica does not have the primary's data")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := do(seed, "GET", "kept"); got != "yes" {
		t.Errorf("the primary lost its data joining the group: %q", got)
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("grown"),
		RetainPrimaryCluster: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("grown")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "grown-002", "deleted")
	c := w.waitStatus(t, "seed", "available")
	if c.ReplicationGroupId != nil {
		t.Errorf("retained cluster still names group %s", aws.ToString(c.ReplicationGroupId))
	}
	if got := do(seed, "GET", "kept"); got != "yes" {
		t.Errorf("the retained primary lost its data: %q", got)
	}
	if got := do(seed, "SET", "after", "ok"); got != "OK" {
		t.Errorf("the retained primary refuses writes: %q", got)
	}
}
