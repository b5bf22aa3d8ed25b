package elasticache_test

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// groupWorld is a world with a replication group and an instance in the
// default VPC (the default group admits its own members, so the instance
// reaches the members and they reach each other).
type groupWorld struct {
	*world
	dir string
	eni string
	id  string
}

func (w *groupWorld) describe(t *testing.T) ectypes.ReplicationGroup {
	t.Helper()
	out, err := w.ec.DescribeReplicationGroups(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(w.id)})
	if err != nil {
		t.Fatalf("DescribeReplicationGroups = %v", err)
	}
	return out.ReplicationGroups[0]
}

// waitGroup waits until the group is available and cond holds.
func (w *groupWorld) waitGroup(t *testing.T, what string, cond func(g ectypes.ReplicationGroup) bool) ectypes.ReplicationGroup {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		g := w.describe(t)
		if aws.ToString(g.Status) == "available" && cond(g) {
			return g
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: group is %s, primary %s", what, aws.ToString(g.Status), primaryOf(g))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func primaryOf(g ectypes.ReplicationGroup) string {
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "primary" {
			return aws.ToString(m.CacheClusterId)
		}
	}
	return ""
}

// addr is a member's node endpoint (its DNS name, which the VPC's resolver
// answers inside the instance).
func (w *groupWorld) addr(t *testing.T, member string) string {
	t.Helper()
	c := w.waitStatus(t, member, "available")
	return aws.ToString(c.CacheNodes[0].Endpoint.Address)
}

// redis runs redis-cli in the instance against a member.
func (w *groupWorld) redis(t *testing.T, member string, args ...string) (string, error) {
	t.Helper()
	return w.run(t, w.eni, append([]string{"timeout", "3", "redis-cli", "-h", w.addr(t, member)}, args...)...)
}

// eventually retries redis-cli until it answers want.
func (w *groupWorld) eventually(t *testing.T, member, want string, args ...string) {
	t.Helper()
	var out string
	for i := 0; i < 100; i++ {
		out, _ = w.redis(t, member, args...)
		if out == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-cli %v on %s = %q, want %q", args, member, out, want)
}

func (w *groupWorld) events(t *testing.T, source ectypes.SourceType, id string) []string {
	t.Helper()
	ev, err := w.ec.DescribeEvents(context.Background(), &elasticache.DescribeEventsInput{SourceType: source, SourceIdentifier: aws.String(id), Duration: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ev.Events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

// TestReplicationGroupFailover: a group of a primary and two replicas with
// automatic failover and Multi-AZ, real engines in real namespaces:
// writes through the primary are read on the replicas, TestFailover, a
// primary killed with kill -9 and a primary hung (SIGSTOP) each promote a
// replica, writes resume on the new primary, the old one comes back as a
// replica with the data, a service restart re-adopts every member in its
// role, and the group is deleted.
func TestReplicationGroupFailover(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "orders"}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	out, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("Orders"),
		ReplicationGroupDescription: aws.String("orders"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(3), AutomaticFailoverEnabled: aws.Bool(true), MultiAZEnabled: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if g := out.ReplicationGroup; aws.ToString(g.Status) != "creating" || !slices.Equal(g.MemberClusters, []string{"orders-001", "orders-002", "orders-003"}) {
		t.Fatalf("CreateReplicationGroup = %s %v, want creating with three members", aws.ToString(g.Status), g.MemberClusters)
	}
	waiter := elasticache.NewReplicationGroupAvailableWaiter(w.ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("orders")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	g := w.describe(t)
	ng := g.NodeGroups[0]
	if string(g.AutomaticFailover) != "enabled" || string(g.MultiAZ) != "enabled" || aws.ToBool(g.ClusterEnabled) ||
		!strings.HasPrefix(aws.ToString(ng.PrimaryEndpoint.Address), "orders.") || !strings.HasPrefix(aws.ToString(ng.ReaderEndpoint.Address), "orders-ro.") ||
		primaryOf(g) != "orders-001" || len(ng.NodeGroupMembers) != 3 {
		t.Errorf("available group = failover %s, multi-AZ %s, cluster mode %v, endpoints %s / %s, primary %s",
			string(g.AutomaticFailover), string(g.MultiAZ), aws.ToBool(g.ClusterEnabled),
			aws.ToString(ng.PrimaryEndpoint.Address), aws.ToString(ng.ReaderEndpoint.Address), primaryOf(g))
	}
	member, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("orders-002"), ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if c := member.CacheClusters[0]; aws.ToString(c.ReplicationGroupId) != "orders" || aws.ToString(c.CacheNodeType) != "cache.t3.micro" ||
		aws.ToString(c.CacheParameterGroup.CacheParameterGroupName) != "default.redis7" || len(c.SecurityGroups) != 1 {
		t.Errorf("member orders-002 = group %s, node type %s, parameter group %s, groups %v", aws.ToString(c.ReplicationGroupId),
			aws.ToString(c.CacheNodeType), aws.ToString(c.CacheParameterGroup.CacheParameterGroupName), c.SecurityGroups)
	}

	// Writes on the primary reach the replicas, which refuse writes.
	if out, err := w.redis(t, "orders-001", "set", "k", "v1"); err != nil || out != "OK" {
		t.Fatalf("set on the primary = %q, %v", out, err)
	}
	w.eventually(t, "orders-002", "v1", "get", "k")
	w.eventually(t, "orders-003", "v1", "get", "k")

	// The names, through the VPC's resolver: the primary endpoint names the
	// primary, the reader endpoint every replica.
	primaryName, readerName := aws.ToString(ng.PrimaryEndpoint.Address), aws.ToString(ng.ReaderEndpoint.Address)
	w.byName(t, primaryName, "OK", "set", "k", "v1")
	w.byName(t, readerName, "v1", "get", "k")
	want := w.resolve(t, w.addr(t, "orders-002"))
	maps.Copy(want, w.resolve(t, w.addr(t, "orders-003")))
	if readers := w.resolve(t, readerName); len(want) != 2 || !maps.Equal(readers, want) {
		t.Errorf("the reader endpoint resolves to %v, want the replicas %v", readers, want)
	}
	if p := w.resolve(t, primaryName); !maps.Equal(p, w.resolve(t, w.addr(t, "orders-001"))) {
		t.Errorf("the primary endpoint resolves to %v, want orders-001's node", p)
	}
	if out, _ := w.redis(t, "orders-002", "set", "k", "x"); !strings.Contains(out, "READONLY") {
		t.Errorf("set on a replica = %q, want READONLY", out)
	}

	w.testFailover(t)
	w.killPrimary(t, syscall.SIGKILL, "kill -9")
	w.killPrimary(t, syscall.SIGSTOP, "hung")
	w.restartService(t)

	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("orders")}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("orders")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if cs, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(cs.CacheClusters) != 0 {
		t.Errorf("clusters after deleting the group = %v, %v", cs, err)
	}
}

// testFailover: TestFailover promotes a replica; writes resume on it; the
// old primary comes back as its replica; the events are AWS's, in order.
func (w *groupWorld) testFailover(t *testing.T) {
	ctx := context.Background()
	before := primaryOf(w.describe(t))
	if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("orders"), NodeGroupId: aws.String("0001")}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "test failover", func(g ectypes.ReplicationGroup) bool { return primaryOf(g) != before })
	now := primaryOf(g)
	if out, err := w.redis(t, now, "set", "k", "v2"); err != nil || out != "OK" {
		t.Fatalf("set on the new primary %s = %q, %v", now, out, err)
	}
	w.eventually(t, before, "v2", "get", "k")
	w.byName(t, aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), "v2", "get", "k")
	w.byName(t, aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), "OK", "set", "k", "v2")
	msg := "Failover from primary node " + before + " to replica node " + now + " completed"
	want := []string{"Test Failover API called for node group 0001", msg}
	if got := w.events(t, ectypes.SourceTypeReplicationGroup, "orders"); !slices.Equal(got[len(got)-2:], want) {
		t.Errorf("replication group events = %q, want to end with %q", got, want)
	}
	if got := w.events(t, ectypes.SourceTypeCacheCluster, before); !slices.Contains(got, "Recovering cache nodes 0001") || !slices.Contains(got, "Finished recovery for cache nodes 0001") {
		t.Errorf("events of %s = %q, want recovery", before, got)
	}
}

// killPrimary sends sig to the primary's engine and waits for a replica
// to be promoted, writes to resume on it, and the old primary to follow
// it with the data.
func (w *groupWorld) killPrimary(t *testing.T, sig syscall.Signal, how string) {
	before := primaryOf(w.describe(t))
	key := "k-" + strings.ReplaceAll(how, " ", "")
	if out, err := w.redis(t, before, "set", key, how); err != nil || out != "OK" {
		t.Fatalf("set before %s = %q, %v", how, out, err)
	}
	for _, m := range w.describe(t).MemberClusters {
		if m != before {
			w.eventually(t, m, how, "get", key)
		}
	}
	pid := nodePID(t, w.dir, "000000000000.us-east-1."+before+".0001")
	t0 := time.Now()
	if err := syscall.Kill(pid, sig); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, how, func(g ectypes.ReplicationGroup) bool { return primaryOf(g) != before })
	now := primaryOf(g)
	t.Logf("%s: %s failed over to %s, available again after %s", how, before, now, time.Since(t0).Round(time.Millisecond))
	if out, err := w.redis(t, now, "set", "after-"+key, "ok"); err != nil || out != "OK" {
		t.Fatalf("%s: set on the new primary %s = %q, %v", how, now, out, err)
	}
	if out, _ := w.redis(t, now, "get", key); out != how {
		t.Errorf("%s: the new primary has %s = %q, want %q", how, key, out, how)
	}
	w.eventually(t, before, "ok", "get", "after-"+key)
	// Writes go on through the primary endpoint's name, which moved.
	w.byName(t, aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), "OK", "set", "by-name-"+key, "ok")
}

// resolve returns the addresses a name has in the instance (getent,
// through the VPC's resolver).
func (w *groupWorld) resolve(t *testing.T, name string) map[string]bool {
	t.Helper()
	out, err := w.run(t, w.eni, "getent", "ahostsv4", name)
	if err != nil {
		t.Fatalf("getent ahostsv4 %s = %q, %v", name, out, err)
	}
	addrs := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			addrs[f[0]] = true
		}
	}
	return addrs
}

// byName retries redis-cli against a DNS name from the instance (resolved
// by the VPC's resolver) until it answers want.
func (w *groupWorld) byName(t *testing.T, name, want string, args ...string) {
	t.Helper()
	var out string
	for i := 0; i < 100; i++ {
		out, _ = w.run(t, w.eni, append([]string{"timeout", "3", "redis-cli", "-h", name}, args...)...)
		if out == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-cli -h %s %v = %q, want %q", name, args, out, want)
}

// restartService restarts Cachalot: every member is re-adopted in its role
// (no engine restarts), and replication goes on.
func (w *groupWorld) restartService(t *testing.T) {
	ctx := context.Background()
	g := w.describe(t)
	pids := map[string]int{}
	for _, m := range g.MemberClusters {
		pids[m] = nodePID(t, w.dir, "000000000000.us-east-1."+m+".0001")
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.dir})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	g = w.waitGroup(t, "restart", func(ectypes.ReplicationGroup) bool { return true })
	for m, pid := range pids {
		if now := nodePID(t, w.dir, "000000000000.us-east-1."+m+".0001"); now != pid {
			t.Errorf("after a service restart %s runs pid %d, want %d re-adopted", m, now, pid)
		}
	}
	primary := primaryOf(g)
	if out, err := w.redis(t, primary, "set", "after-restart", "yes"); err != nil || out != "OK" {
		t.Fatalf("set after restart = %q, %v", out, err)
	}
	for _, m := range g.MemberClusters {
		w.eventually(t, m, "yes", "get", "after-restart")
	}
}

// TestReplicationGroupDedicatedGroup: a group in a dedicated security
// group that admits only the application's group on its port — the
// recommended setup — still replicates (node-to-node traffic does not
// cross the customer's groups, as on AWS), its members are reachable from
// the application and not from elsewhere, and the access flows work on
// the group: explain to its endpoints, connect compute.
func TestReplicationGroupDedicatedGroup(t *testing.T) {
	privtest.RequireRoot(t)
	w := newWorld(t)
	ctx := context.Background()
	group := func(name string) string {
		out, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	app, cache, other := group("app"), group("cache"), group("other")
	if _, err := w.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cache),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(app)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("sessions"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true), SecurityGroupIds: []string{cache}}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "sessions") // available means the replica's link is up
	gw := &groupWorld{world: w, id: "sessions"}
	_, gw.eni = w.instance(t, app)
	if out, err := gw.redis(t, "sessions-001", "set", "k", "v"); err != nil || out != "OK" {
		t.Fatalf("set from the application = %q, %v", out, err)
	}
	gw.eventually(t, "sessions-002", "v", "get", "k")

	otherInst, otherENI := w.instance(t, other)
	if out, err := w.run(t, otherENI, "timeout", "1", "redis-cli", "-h", gw.addr(t, "sessions-001"), "ping"); err == nil {
		t.Fatalf("ping from another group = %q, want refused", out)
	}
	explain := func(inst string) string {
		t.Helper()
		a := signedAccess(t, w, "ExplainCacheReachability", url.Values{"CacheClusterId": {"sessions"}, "InstanceId": {inst}})
		return a
	}
	if got := explain(otherInst); !strings.Contains(got, "<Allowed>false</Allowed>") || !strings.Contains(got, "primary") || !strings.Contains(got, "reader") {
		t.Errorf("explain from another group = %s, want denied, per endpoint", got)
	}
	if got := signedAccess(t, w, "ConnectCompute", url.Values{"CacheClusterId": {"sessions"}, "InstanceId": {otherInst}}); !strings.Contains(got, "ConnectComputeResult") {
		t.Fatalf("ConnectCompute = %s", got)
	}
	waitGroupAvailable(t, w.ec, "sessions")
	for i := 0; ; i++ {
		out, err := w.run(t, otherENI, "timeout", "1", "redis-cli", "-h", gw.addr(t, "sessions-002"), "get", "k")
		if err == nil && out == "v" {
			break
		}
		if i == 50 {
			t.Fatalf("after ConnectCompute: get = %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := explain(otherInst); !strings.Contains(got, "<Allowed>true</Allowed>") {
		t.Errorf("explain after ConnectCompute = %s, want allowed", got)
	}
}

// signedAccess calls one of Cachalot's own ElastiCache actions as root and
// returns the answer's body.
func signedAccess(t *testing.T, w *world, action string, params url.Values) string {
	t.Helper()
	params.Set("Action", action)
	params.Set("Version", "2015-02-02")
	req, err := sdktest.SignedQuery(w.env.URL, aws.Credentials{AccessKeyID: w.env.Root.AccessKeyID, SecretAccessKey: w.env.Root.SecretAccessKey},
		"elasticache", apptest.Region, params)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sdktest.Send(req)
	if err != nil {
		t.Fatal(err)
	}
	return a.Body
}
