package elasticache_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

// world is a running Cachalot with clients.
type world struct {
	env *apptest.Env
	ec  *elasticache.Client
	ec2 *ec2.Client
}

func newWorld(t *testing.T, opts ...apptest.Option) *world {
	t.Helper()
	env := apptest.Start(t, opts...)
	return &world{env: env, ec: elasticache.NewFromConfig(env.Config()), ec2: ec2.NewFromConfig(env.Config())}
}

// instance launches an instance in the default VPC with the given groups
// (none: the default group) and returns its id and primary interface.
func (w *world) instance(t *testing.T, groups ...string) (string, string) {
	t.Helper()
	out, err := w.ec2.RunInstances(context.Background(), &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: groups,
	})
	if err != nil {
		t.Fatalf("RunInstances = %v", err)
	}
	i := out.Instances[0]
	return aws.ToString(i.InstanceId), aws.ToString(i.NetworkInterfaces[0].NetworkInterfaceId)
}

// run executes a real client program as on the instance owning an
// interface: in its network, resolving names through the VPC's DNS server.
func (w *world) run(t *testing.T, eni string, argv ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.env.App.WaitIdle(ctx); err != nil {
		t.Fatalf("WaitIdle = %v", err)
	}
	cmd, err := w.env.App.InstanceCommand(ctx, eni, argv...)
	if err != nil {
		t.Fatalf("Command = %v", err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

func (w *world) waitStatus(t *testing.T, id, want string) *ectypes.CacheCluster {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := w.ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if want == "deleted" && code(err) == "CacheClusterNotFound" {
			return nil
		}
		if err != nil {
			t.Fatalf("DescribeCacheClusters(%s) = %v", id, err)
		}
		c := out.CacheClusters[0]
		if aws.ToString(c.CacheClusterStatus) == want {
			return &c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s is %s, want %s", id, aws.ToString(c.CacheClusterStatus), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func defaultGroup(t *testing.T, w *world) string {
	out, err := w.ec2.DescribeSecurityGroups(context.Background(), &ec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}}})
	if err != nil || len(out.SecurityGroups) != 1 {
		t.Fatalf("default group: %v %v", out, err)
	}
	return aws.ToString(out.SecurityGroups[0].GroupId)
}

// TestRedisClusterLifecycle is the seed walkthrough with real parts: create
// a Redis cluster, find it unreachable from an instance in another group,
// grant Custom TCP 6379 from 0.0.0.0/0 on the default group, SET/GET with
// redis-cli, change parameters, reboot, survive a service restart, revoke,
// delete.
func TestRedisClusterLifecycle(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := newWorld(t, func(c *app.Config) { c.DataDir = dir })
	ctx := context.Background()

	// The AWS CLI creates and waits, as a user would.
	w.env.CLIJSON(t, nil, "elasticache", "create-cache-cluster", "--cache-cluster-id", "web-cache",
		"--engine", "redis", "--cache-node-type", "cache.t3.micro", "--num-cache-nodes", "1")
	w.env.CLIJSON(t, nil, "elasticache", "wait", "cache-cluster-available", "--cache-cluster-id", "web-cache")
	c := w.waitStatus(t, "web-cache", "available")
	// The endpoint is a name, <cluster>.<id6>.0001.use1.cache.amazonaws.com,
	// resolving through the VPC's DNS server to a default-VPC address.
	addr := aws.ToString(c.CacheNodes[0].Endpoint.Address)
	if port := aws.ToInt32(c.CacheNodes[0].Endpoint.Port); port != 6379 || !strings.HasPrefix(addr, "web-cache.") || !strings.HasSuffix(addr, ".0001.use1.cache.amazonaws.com") {
		t.Fatalf("endpoint = %s:%d, want web-cache.<id>.0001.use1.cache.amazonaws.com on 6379", addr, port)
	}

	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app servers")})
	if err != nil {
		t.Fatal(err)
	}
	_, eni := w.instance(t, aws.ToString(sg.GroupId))
	if out, err := w.run(t, eni, "getent", "hosts", addr); err != nil || !strings.HasPrefix(out, "172.31.") {
		t.Fatalf("getent hosts %s on the instance = %q, %v; want a default-VPC address", addr, out, err)
	}
	if out, err := w.run(t, eni, "timeout", "1", "redis-cli", "-h", addr, "ping"); err == nil {
		t.Fatalf("redis-cli ping before any rule = %q, want a failure (the default group admits only its members)", out)
	}

	def := defaultGroup(t, w)
	w.env.CLIJSON(t, nil, "ec2", "authorize-security-group-ingress", "--group-id", def, "--protocol", "tcp", "--port", "6379", "--cidr", "0.0.0.0/0")
	if out, err := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "set", "greeting", "hello"); err != nil || out != "OK" {
		t.Fatalf("redis-cli set after the rule = %q, %v", out, err)
	}
	if out, _ := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "get", "greeting"); out != "hello" {
		t.Fatalf("redis-cli get = %q, want hello", out)
	}

	// A parameter group: dynamic parameters apply at once.
	if _, err := w.ec.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{
		CacheParameterGroupName: aws.String("lru"), CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("lru")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyCacheParameterGroup(ctx, &elasticache.ModifyCacheParameterGroupInput{CacheParameterGroupName: aws.String("lru"),
		ParameterNameValues: []ectypes.ParameterNameValue{{ParameterName: aws.String("maxmemory-policy"), ParameterValue: aws.String("allkeys-lru")}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("web-cache"),
		CacheParameterGroupName: aws.String("lru"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "web-cache", "available")
	// CONFIG is restricted for clients, as on ElastiCache: INFO shows it.
	if out, _ := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "info", "memory"); !strings.Contains(out, "maxmemory_policy:allkeys-lru") {
		t.Errorf("maxmemory-policy after modify = %q, want allkeys-lru", out)
	}

	// A service restart keeps the engine, and so the data.
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	w2 := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err := w2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	w.env.App = w2
	waitCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := w2.WaitIdle(waitCtx); err != nil {
		t.Fatal(err)
	}
	if out, _ := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "get", "greeting"); out != "hello" {
		t.Errorf("after a service restart get = %q, want hello", out)
	}
	w.env.URL = w2.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	w.ec2 = ec2.NewFromConfig(w.env.Config())

	// Reboot: the node restarts and an event says so.
	if _, err := w.ec.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("web-cache"), CacheNodeIdsToReboot: []string{"0001"}}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "web-cache", "available")
	ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String("web-cache"), SourceType: ectypes.SourceTypeCacheCluster})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ev.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	if !strings.Contains(strings.Join(msgs, "|"), "Cache cluster created") || !strings.Contains(strings.Join(msgs, "|"), "Cache node 0001 restarted") {
		t.Errorf("events = %q, want creation and restart", msgs)
	}

	// A crashed engine is restarted and the event recorded.
	if out, err := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "ping"); err != nil || out != "PONG" {
		t.Fatalf("after reboot: ping = %q, %v", out, err)
	}
	pid := nodePID(t, dir, "000000000000.us-east-1.web-cache.0001")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String("web-cache"), SourceType: ectypes.SourceTypeCacheCluster})
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, e := range ev.Events {
			found = found || strings.Contains(aws.ToString(e.Message), "Recovering cache nodes 0001")
		}
		if found && nodePID(t, dir, "000000000000.us-east-1.web-cache.0001") != pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery event after killing the engine")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; ; i++ {
		out, err := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "ping")
		if err == nil && out == "PONG" {
			break
		}
		if i == 50 {
			t.Fatalf("after a crash: ping = %q, %v", out, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// A new node type restarts the node with the new memory limit.
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("web-cache"),
		CacheNodeType: aws.String("cache.m5.large"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "web-cache", "available")
	want, _ := catalog.NodeTypeMemory("cache.m5.large")
	out, _ := w.run(t, eni, "timeout", "2", "redis-cli", "-h", addr, "info", "memory")
	var got int64
	if _, v, ok := strings.Cut(out, "\nmaxmemory:"); ok {
		fmt.Sscan(v, &got)
	}
	if exp := want * 3 / 4; got < exp*99/100 || got > exp*101/100 {
		t.Errorf("maxmemory after the node type change = %q, want about %d (cache.m5.large less the default 25%% reserved memory)", out, exp)
	}

	// Revoking the rule stops new connections.
	if _, err := w.ec2.RevokeSecurityGroupIngress(ctx, &ec2.RevokeSecurityGroupIngressInput{GroupId: aws.String(def), IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379), IpRanges: []ec2types.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}}); err != nil {
		t.Fatal(err)
	}
	if out, err := w.run(t, eni, "timeout", "1", "redis-cli", "-h", addr, "ping"); err == nil {
		t.Errorf("redis-cli ping after revoke = %q, want a failure", out)
	}

	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("web-cache")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "web-cache", "deleted")
}

// TestMemcachedCluster: three nodes, auto discovery on the configuration
// endpoint, a real client per node from an instance, adding and removing a node.
func TestMemcachedCluster(t *testing.T) {
	privtest.RequireRoot(t)
	w := newWorld(t)
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("sessions"), Engine: aws.String("memcached"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(3), AZMode: ectypes.AZModeCrossAz}); err != nil {
		t.Fatal(err)
	}
	c := w.waitStatus(t, "sessions", "available")
	if len(c.CacheNodes) != 3 || c.ConfigurationEndpoint == nil {
		t.Fatalf("cluster = %d nodes, configuration endpoint %v", len(c.CacheNodes), c.ConfigurationEndpoint)
	}
	_, eni := w.instance(t) // the default group admits its members
	resolve := func(name string) string { return nettest.WaitResolve(t, w.env.App.Plane(), eni, name) }
	discover := func() string {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if err := w.env.App.WaitIdle(dctx); err != nil {
			t.Fatal(err)
		}
		cfg := net.JoinHostPort(resolve(aws.ToString(c.ConfigurationEndpoint.Address)), "11211")
		conn, err := w.env.App.Plane().Dial(dctx, eni, "tcp", cfg)
		if err != nil {
			t.Fatalf("dial configuration endpoint: %v", err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprint(conn, "config get cluster\r\n")
		buf := make([]byte, 4096)
		var got []byte
		for !bytes.Contains(got, []byte("END\r\n")) {
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatalf("read config: %v (%q)", err, got)
			}
			got = append(got, buf[:n]...)
		}
		return string(got)
	}
	// Auto discovery answers host|ip|port, the host being the node's name.
	conf := discover()
	for _, n := range c.CacheNodes {
		name := aws.ToString(n.Endpoint.Address)
		if want := name + "|" + resolve(name) + "|11211"; !strings.Contains(conf, want) {
			t.Errorf("config get cluster = %q, missing node %s", conf, want)
		}
	}
	for i, n := range c.CacheNodes {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			return w.env.App.Plane().Dial(ctx, eni, network, addr)
		}
		mc, err := memcached.DialWith(mctx, dial, net.JoinHostPort(resolve(aws.ToString(n.Endpoint.Address)), "11211"))
		if err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
		key := fmt.Sprintf("k%d", i)
		if err := mc.Set(mctx, key, []byte("v")); err != nil {
			t.Errorf("node %d set: %v", i, err)
		}
		if v, ok, err := mc.Get(mctx, key); err != nil || !ok || string(v) != "v" {
			t.Errorf("node %d get = %q %v %v", i, v, ok, err)
		}
		mc.Close()
		cancel()
	}
	if out, err := w.run(t, eni, "memcstat", "--servers="+aws.ToString(c.CacheNodes[0].Endpoint.Address)); err != nil || !strings.Contains(out, "curr_items") {
		t.Errorf("memcstat = %q, %v", out, err)
	}

	// Add a node, then remove one: discovery follows.
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("sessions"), NumCacheNodes: aws.Int32(4), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	c = w.waitStatus(t, "sessions", "available")
	if len(c.CacheNodes) != 4 || strings.Count(discover(), "|11211") != 4 {
		t.Errorf("after adding: %d nodes, discovery %q", len(c.CacheNodes), discover())
	}
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("sessions"), NumCacheNodes: aws.Int32(3),
		CacheNodeIdsToRemove: []string{"0002"}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	c = w.waitStatus(t, "sessions", "available")
	conf = discover()
	if len(c.CacheNodes) != 3 || strings.Count(conf, "|11211") != 3 || !strings.HasPrefix(strings.SplitN(conf, "\r\n", 2)[1], "3\n") {
		t.Errorf("after removing: %d nodes, discovery %q (want version 3)", len(c.CacheNodes), conf)
	}
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("sessions")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "sessions", "deleted")
}

// TestBadInput: AWS's codes, and nothing changes.
func TestBadInput(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	create := func(mod func(*elasticache.CreateCacheClusterInput)) error {
		in := &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("bad"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}
		mod(in)
		_, err := w.ec.CreateCacheCluster(ctx, in)
		return err
	}
	tests := []struct {
		name string
		mod  func(*elasticache.CreateCacheClusterInput)
		want string
	}{
		{"unknown engine version", func(in *elasticache.CreateCacheClusterInput) { in.EngineVersion = aws.String("3.2.4") }, "InvalidParameterValue"},
		{"unknown engine", func(in *elasticache.CreateCacheClusterInput) { in.Engine = aws.String("mongodb") }, "InvalidParameterValue"},
		{"two redis nodes", func(in *elasticache.CreateCacheClusterInput) { in.NumCacheNodes = aws.Int32(2) }, "InvalidParameterValue"},
		{"bad node type", func(in *elasticache.CreateCacheClusterInput) { in.CacheNodeType = aws.String("cache.huge") }, "InvalidParameterValue"},
		{"bad id", func(in *elasticache.CreateCacheClusterInput) { in.CacheClusterId = aws.String("1-bad--id-") }, "InvalidParameterValue"},
		{"memcached 41 nodes", func(in *elasticache.CreateCacheClusterInput) {
			in.Engine = aws.String("memcached")
			in.NumCacheNodes = aws.Int32(41)
		}, "NodeQuotaForClusterExceeded"},
		{"unknown subnet group", func(in *elasticache.CreateCacheClusterInput) { in.CacheSubnetGroupName = aws.String("nope") }, "CacheSubnetGroupNotFoundFault"},
		{"unknown parameter group", func(in *elasticache.CreateCacheClusterInput) { in.CacheParameterGroupName = aws.String("nope") }, "CacheParameterGroupNotFound"},
		{"unknown security group", func(in *elasticache.CreateCacheClusterInput) { in.SecurityGroupIds = []string{"sg-0123456789abcdef0"} }, "InvalidParameterValue"},
		{"bad port", func(in *elasticache.CreateCacheClusterInput) { in.Port = aws.Int32(80) }, "InvalidParameterValue"},
		{"SNS topic", func(in *elasticache.CreateCacheClusterInput) {
			in.NotificationTopicArn = aws.String("arn:aws:sns:us-east-1:000000000000:t")
		}, "InvalidParameterCombination"},
		{"IPv6", func(in *elasticache.CreateCacheClusterInput) { in.NetworkType = ectypes.NetworkTypeIpv6 }, "InvalidParameterCombination"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := code(create(tt.mod)); got != tt.want {
				t.Errorf("code = %s, want %s", got, tt.want)
			}
		})
	}
	out, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil || len(out.CacheClusters) != 0 {
		t.Fatalf("after rejected creates: %d clusters, %v", len(out.CacheClusters), err)
	}
	if err := create(func(in *elasticache.CreateCacheClusterInput) {
		in.NetworkType, in.IpDiscovery = ectypes.NetworkTypeIpv4, ectypes.IpDiscoveryIpv4 // what AWS does anyway
	}); err != nil {
		t.Fatal(err)
	}
	if got := code(create(func(*elasticache.CreateCacheClusterInput) {})); got != "CacheClusterAlreadyExists" {
		t.Errorf("duplicate: %s", got)
	}
	if _, err := w.ec.RebootCacheCluster(ctx, &elasticache.RebootCacheClusterInput{CacheClusterId: aws.String("bad"), CacheNodeIdsToReboot: []string{"0001"}}); code(err) != "InvalidCacheClusterState" {
		t.Errorf("reboot while creating: %v", err)
	}
	if _, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("nope")}); code(err) != "CacheClusterNotFound" {
		t.Errorf("describe unknown: %v", err)
	}
	if _, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{MaxRecords: aws.Int32(5)}); code(err) != "InvalidParameterValue" {
		t.Errorf("MaxRecords 5: %v", err)
	}
	if _, err := w.ec.DeleteCacheParameterGroup(ctx, &elasticache.DeleteCacheParameterGroupInput{CacheParameterGroupName: aws.String("default.redis7")}); code(err) != "InvalidCacheParameterGroupState" {
		t.Errorf("delete default parameter group: %v", err)
	}
	ver, err := w.ec.DescribeCacheEngineVersions(ctx, &elasticache.DescribeCacheEngineVersionsInput{Engine: aws.String("redis")})
	if err != nil || len(ver.CacheEngineVersions) == 0 || aws.ToString(ver.CacheEngineVersions[0].CacheParameterGroupFamily) != "redis7" {
		t.Errorf("DescribeCacheEngineVersions(redis) = %+v, %v", ver, err)
	}
}

// TestLoopbackMode: without namespaces, nodes listen on 127.0.0.1 ports of
// their own (the engine's own when it is free: vpcnet's
// TestLoopbackBindHonoursPort) and are reachable there (no enforcement, by
// design).
func TestLoopbackMode(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("local"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		if strings.Contains(err.Error(), "not installed") {
			t.Skip("redis-server is not installed (apt-get install redis-server)")
		}
		t.Fatal(err)
	}
	c := w.waitStatus(t, "local", "available")
	ep := c.CacheNodes[0].Endpoint
	if aws.ToString(ep.Address) != "127.0.0.1" || aws.ToInt32(ep.Port) <= 0 {
		t.Fatalf("loopback endpoint = %s:%d, want 127.0.0.1 and a port of its own", aws.ToString(ep.Address), aws.ToInt32(ep.Port))
	}
	rc, err := redis.Dial(ctx, net.JoinHostPort("127.0.0.1", fmt.Sprint(aws.ToInt32(ep.Port))))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, err := rc.Do(ctx, "PING"); err != nil || got != "PONG" {
		t.Errorf("PING = %v, %v", got, err)
	}
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("local")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "local", "deleted")
}

// nodePID reads the pid of a node's engine from the supervisor's state file.
func nodePID(t *testing.T, dataDir, nodeID string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "engines", nodeID, "cachalot-node.json"))
	if err != nil {
		t.Fatalf("engine state of %s: %v", nodeID, err)
	}
	var st struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.PID == 0 {
		t.Fatalf("engine state of %s: %s %v", nodeID, b, err)
	}
	return st.PID
}
