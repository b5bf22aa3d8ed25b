package elasticache_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// serverlessWorld is a world with an instance in the default VPC and the
// installation's CA exported for its clients.
type serverlessWorld struct {
	*world
	dir, eni, ca string
}

func (w *serverlessWorld) describe(t *testing.T, name string) (ectypes.ServerlessCache, error) {
	t.Helper()
	out, err := w.ec.DescribeServerlessCaches(context.Background(), &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String(name)})
	if err != nil {
		return ectypes.ServerlessCache{}, err
	}
	return out.ServerlessCaches[0], nil
}

// wait waits until the cache has status want ("deleted": it is gone).
func (w *serverlessWorld) wait(t *testing.T, name, want string) ectypes.ServerlessCache {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := w.describe(t, name)
		if want == "deleted" && code(err) == "ServerlessCacheNotFoundFault" {
			return c
		}
		if err != nil {
			t.Fatalf("DescribeServerlessCaches(%s) = %v", name, err)
		}
		if aws.ToString(c.Status) == want {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("serverless cache %s is %s, want %s", name, aws.ToString(c.Status), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// cli runs redis-cli with TLS and the CA on the instance owning eni.
func (w *serverlessWorld) cli(t *testing.T, eni, host string, port int32, args ...string) (string, error) {
	t.Helper()
	argv := append([]string{"timeout", "5", "redis-cli", "-h", host, "-p", fmt.Sprint(port), "--tls", "--cacert", w.ca}, args...)
	return w.run(t, eni, argv...)
}

// TestServerlessCache: a serverless Redis OSS cache with real engines in
// real namespaces, reached from an instance with redis-cli --tls -c: one
// name, writes on 6379, READONLY reads of replicated data on 6380,
// CLUSTER SLOTS with the endpoint's address on 6379 as primary and 6380
// as replica, SELECT 1 refused, plaintext refused; the data storage
// maximum refuses writes with the OOM error; a security group that opens
// only 6379 makes 6380 fail and explain names the missing rule; the loss
// of the primary engine is repaired with the endpoint and its roles
// unchanged; deletion.
func TestServerlessCache(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir; c.DataStorageUnit = 16 << 20 }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)

	t0 := time.Now()
	created, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("Sess"),
		Engine: aws.String("redis"), Description: aws.String("sessions"),
		CacheUsageLimits: &ectypes.CacheUsageLimits{DataStorage: &ectypes.DataStorage{Maximum: aws.Int32(2), Unit: ectypes.DataStorageUnitGb},
			ECPUPerSecond: &ectypes.ECPUPerSecond{Maximum: aws.Int32(5000)}},
		Tags: []ectypes.Tag{{Key: aws.String("team"), Value: aws.String("web")}}})
	if err != nil {
		t.Fatal(err)
	}
	sc := created.ServerlessCache
	if aws.ToString(sc.Status) != "creating" || aws.ToString(sc.ServerlessCacheName) != "sess" ||
		aws.ToString(sc.ARN) != "arn:aws:elasticache:us-east-1:000000000000:serverlesscache:sess" || aws.ToString(sc.MajorEngineVersion) != "7" ||
		len(sc.SubnetIds) == 0 || len(sc.SecurityGroupIds) != 1 || sc.SecurityGroupIds[0] != defaultGroup(t, w.world) {
		t.Errorf("CreateServerlessCache = status %s, name %s, ARN %s, major %s, subnets %v, groups %v",
			aws.ToString(sc.Status), aws.ToString(sc.ServerlessCacheName), aws.ToString(sc.ARN), aws.ToString(sc.MajorEngineVersion), sc.SubnetIds, sc.SecurityGroupIds)
	}
	sc2 := w.wait(t, "sess", "available")
	sc = &sc2
	t.Logf("create -> available: %s", time.Since(t0).Round(time.Millisecond))
	host := aws.ToString(sc.Endpoint.Address)
	if !strings.HasPrefix(host, "sess-") || !strings.HasSuffix(host, ".serverless.use1.cache.amazonaws.com") ||
		aws.ToInt32(sc.Endpoint.Port) != 6379 || aws.ToString(sc.ReaderEndpoint.Address) != host || aws.ToInt32(sc.ReaderEndpoint.Port) != 6380 {
		t.Fatalf("endpoints %s:%d and %s:%d, want sess-<id6>.serverless.use1.cache.amazonaws.com on 6379 and 6380",
			host, aws.ToInt32(sc.Endpoint.Port), aws.ToString(sc.ReaderEndpoint.Address), aws.ToInt32(sc.ReaderEndpoint.Port))
	}
	if l := sc.CacheUsageLimits; l == nil || aws.ToInt32(l.DataStorage.Maximum) != 2 || aws.ToInt32(l.ECPUPerSecond.Maximum) != 5000 {
		t.Errorf("CacheUsageLimits = %+v, want data storage 2 GB, ECPU 5000", l)
	}
	w.checkHidden(t)

	// Writes on 6379 (cluster mode, -c), reads of the replicated data on
	// 6380 with READONLY.
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", "greeting", "hello"); err != nil || out != "OK" {
		t.Fatalf("redis-cli --tls -c SET on %s:6379 = %q, %v; want OK", host, out, err)
	}
	w.readsOn6380(t, w.eni, host, "greeting", "hello")
	w.checkSlots(t, host)
	if out, _ := w.cli(t, w.eni, host, 6379, "SELECT", "1"); !strings.Contains(out, "ERR SELECT is not allowed in cluster mode") {
		t.Errorf("SELECT 1 = %q, want ERR SELECT is not allowed in cluster mode", out)
	}
	if out, _ := w.run(t, w.eni, "timeout", "5", "redis-cli", "-h", host, "-p", "6379", "PING"); out == "PONG" {
		t.Errorf("plaintext PING on %s:6379 answered PONG (serverless caches are TLS only)", host)
	}
	if out, _ := w.run(t, w.eni, "timeout", "5", "redis-cli", "-h", host, "-p", "6380", "PING"); out == "PONG" {
		t.Errorf("plaintext PING on %s:6380 answered PONG (serverless caches are TLS only)", host)
	}

	w.dataLimit(t, host)
	w.ecpuLimit(t, host)
	w.onlyWritePort(t, host)
	w.losePrimary(t, host)
	w.restartService(t, host)

	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("sess"),
		Description: aws.String("user sessions")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("sess")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("sess"),
		Description: aws.String("x")}); code(err) != "InvalidServerlessCacheStateFault" && code(err) != "ServerlessCacheNotFoundFault" {
		t.Errorf("ModifyServerlessCache while deleting = %v, want InvalidServerlessCacheStateFault", err)
	}
	w.wait(t, "sess", "deleted")
	ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeServerlessCache, SourceIdentifier: aws.String("sess")})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ev.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	got := strings.Join(msgs, "; ")
	if !strings.Contains(got, "Serverless cache sess created") || !strings.Contains(got, "Serverless cache sess deleted") {
		t.Errorf("events of sess = %q, want its creation and deletion", got)
	}
	all, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all.Events {
		if strings.Contains(aws.ToString(e.SourceIdentifier), "serverless--") {
			t.Errorf("event of the hidden realisation shown: %s %s", aws.ToString(e.SourceIdentifier), aws.ToString(e.Message))
		}
	}
}

// checkHidden: the realisation of a serverless cache is not a cluster or
// a replication group of the node-based API.
func (w *serverlessWorld) checkHidden(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	cl, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil || len(cl.CacheClusters) != 0 {
		t.Errorf("DescribeCacheClusters = %d clusters, %v; want none", len(cl.CacheClusters), err)
	}
	rg, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil || len(rg.ReplicationGroups) != 0 {
		t.Errorf("DescribeReplicationGroups = %d groups, %v; want none", len(rg.ReplicationGroups), err)
	}
	if _, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("serverless--sess")}); code(err) != "ReplicationGroupNotFoundFault" {
		t.Errorf("DescribeReplicationGroups(serverless--sess) = %v, want ReplicationGroupNotFoundFault", err)
	}
	tags, err := w.ec.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String("arn:aws:elasticache:us-east-1:000000000000:serverlesscache:sess")})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "team" {
		t.Errorf("ListTagsForResource(serverlesscache:sess) = %v, %v; want team=web", tags, err)
	}
}

// readsOn6380 waits until a READONLY read on the reader port sees want.
func (w *serverlessWorld) readsOn6380(t *testing.T, eni, host, key, want string) {
	t.Helper()
	var out string
	for i := 0; i < 100; i++ { // replication is asynchronous
		out, _ = w.readonlyGet(t, eni, host, key)
		if out == want {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("READONLY GET %s on %s:6380 = %q, want %q (replicated)", key, host, out, want)
}

// readonlyGet sends READONLY then GET on one connection to 6380.
func (w *serverlessWorld) readonlyGet(t *testing.T, eni, host, key string) (string, error) {
	t.Helper()
	script := fmt.Sprintf("printf 'READONLY\\nGET %s\\n' | timeout 5 redis-cli -h %s -p 6380 --tls --cacert %s", key, host, w.ca)
	out, err := w.run(t, eni, "sh", "-c", script)
	lines := strings.Split(out, "\n")
	if len(lines) != 2 || lines[0] != "OK" {
		return out, err
	}
	return lines[1], err
}

// checkSlots: one slot range, the endpoint on 6379 as primary and on 6380
// as its replica, announced by its name (which cluster clients follow
// inside the VPCs and, published, from the host) with its address.
func (w *serverlessWorld) checkSlots(t *testing.T, host string) {
	t.Helper()
	ip := w.resolveOne(t, host)
	var slots string
	// The engine lists a replica once the primary has heard, by the
	// cluster's gossip, that it has received data.
	for i := 0; i < 100; i++ {
		slots, _ = w.cli(t, w.eni, host, 6379, "CLUSTER", "SLOTS")
		f := strings.Fields(slots)
		ok := len(f) >= 8 && f[0] == "0" && f[1] == "16383" && f[2] == host && f[3] == "6379" && strings.Count(slots, "16383") == 1 &&
			slices.Index(f, ip) == 6 && slices.Index(f[7:], ip) >= 0
		replicas := 0
		for i := 5; i < len(f); i++ {
			if f[i] == "6380" && f[i-1] == host {
				replicas++
			}
		}
		if ok && replicas == 1 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Errorf("CLUSTER SLOTS =\n%s\nwant one range 0-16383, primary %s:6379, one replica %s:6380, both at %s", slots, host, host, ip)
}

func (w *serverlessWorld) resolveOne(t *testing.T, host string) string {
	t.Helper()
	out, err := w.run(t, w.eni, "getent", "hosts", host)
	if err != nil || out == "" {
		t.Fatalf("getent hosts %s = %q, %v", host, out, err)
	}
	return strings.Fields(out)[0]
}

// dataLimit: writes beyond the data storage maximum get the OOM error;
// reads still work.
func (w *serverlessWorld) dataLimit(t *testing.T, host string) {
	t.Helper()
	// 2 "GB" of 16 MiB: 32 MiB. SETRANGE makes a 4 MiB string in one
	// command; 16 of them exceed the limit.
	var out string
	for i := 0; i < 16; i++ {
		out, _ = w.cli(t, w.eni, host, 6379, "-c", "SETRANGE", fmt.Sprintf("big%d", i), "4194304", "x")
		if strings.HasPrefix(out, "OOM") {
			break
		}
	}
	if !strings.Contains(out, "OOM command not allowed when used memory > 'maxmemory'") {
		t.Errorf("writes beyond the data storage maximum: last answer %q, want the OOM error", out)
	}
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "GET", "greeting"); err != nil || out != "hello" {
		t.Errorf("GET at the data limit = %q, %v; want hello", out, err)
	}
	for i := 0; i < 16; i++ {
		w.cli(t, w.eni, host, 6379, "-c", "DEL", fmt.Sprintf("big%d", i))
	}
}

// ecpuLimit: the cache's ECPU/s maximum (5,000) throttles it (the fronts
// meter commands, cachectl/ecpu.go): 30,000 pipelined PINGs, which the
// engine serves in well under a second unthrottled, take at least
// (30,000 − the bucket's 5,000) / 5,000 = 5 s, so redis-benchmark reports
// at most about 6,000 a second (a bound load cannot make pass).
func (w *serverlessWorld) ecpuLimit(t *testing.T, host string) {
	t.Helper()
	out, err := w.run(t, w.eni, "timeout", "60", "redis-benchmark", "--tls", "--cacert", w.ca, "-h", host, "-p", "6379",
		"-c", "1", "-P", "100", "-n", "30000", "-q", "PING")
	if err != nil {
		t.Fatalf("redis-benchmark: %v: %s", err, out)
	}
	var rps float64
	for _, line := range strings.Split(out, "\n") {
		// "PING: 5912.45 requests per second, p50=…" (after the
		// progress lines redis-benchmark rewrites with \r).
		if i := strings.LastIndex(line, "PING: "); i >= 0 {
			fmt.Sscanf(line[i:], "PING: %f requests per second", &rps)
		}
	}
	if rps == 0 || rps > 9000 {
		t.Errorf("30,000 pipelined PINGs at %.0f/s with an ECPU/s maximum of 5,000 (want at most ~6,000): %q", rps, out)
	}
	t.Logf("ECPU/s maximum 5,000: pipelined PINGs at %.0f/s", rps)
}

// onlyWritePort: an instance in a group the cache's group admits on 6379
// only reaches 6379, not 6380, and explain names the missing rule.
func (w *serverlessWorld) onlyWritePort(t *testing.T, host string) {
	t.Helper()
	ctx := context.Background()
	sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("app"), Description: aws.String("app")})
	if err != nil {
		t.Fatal(err)
	}
	app := aws.ToString(sg.GroupId)
	cacheSG, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("cache"), Description: aws.String("cache")})
	if err != nil {
		t.Fatal(err)
	}
	cache := aws.ToString(cacheSG.GroupId)
	if _, err := w.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cache),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(app)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("sess"),
		SecurityGroupIds: []string{cache}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("sess"),
		Description: aws.String("again")}); code(err) != "InvalidServerlessCacheStateFault" {
		t.Errorf("ModifyServerlessCache while modifying = %v, want InvalidServerlessCacheStateFault", err)
	}
	sc := w.wait(t, "sess", "available")
	if len(sc.SecurityGroupIds) != 1 || sc.SecurityGroupIds[0] != cache {
		t.Errorf("security groups %v, want [%s]", sc.SecurityGroupIds, cache)
	}
	inst, eni := w.instance(t, app)
	if out, err := w.cli(t, eni, host, 6379, "-c", "GET", "greeting"); err != nil || out != "hello" {
		t.Errorf("GET on 6379 from the app group = %q, %v; want hello (6379 is open)", out, err)
	}
	if out, _ := w.readonlyGet(t, eni, host, "greeting"); out == "hello" {
		t.Errorf("READONLY GET on 6380 from the app group answered %q; 6380 is not open to it", out)
	}
	explain := func(port string) string {
		return signedAccess(t, w.world, "ExplainCacheReachability", url.Values{"CacheClusterId": {"sess"}, "InstanceId": {inst}, "Port": {port}})
	}
	if got := explain("6379"); !strings.Contains(got, "<Allowed>true</Allowed>") {
		t.Errorf("explain on 6379 = %s, want allowed", got)
	}
	if got := explain("6380"); !strings.Contains(got, "<Allowed>false</Allowed>") || !strings.Contains(got, "tcp/6380") || !strings.Contains(got, cache) {
		t.Errorf("explain on 6380 = %s, want denied, naming the missing inbound rule on tcp/6380 of %s", got, cache)
	}
	// A compute connection opens both ports: reads from replicas work.
	if got := signedAccess(t, w.world, "ConnectCompute", url.Values{"CacheClusterId": {"sess"}, "InstanceId": {inst}}); !strings.Contains(got, "ConnectComputeResult") {
		t.Fatalf("ConnectCompute = %s", got)
	}
	w.wait(t, "sess", "available")
	w.readsOn6380(t, eni, host, "greeting", "hello")
	if got := explain("6380"); !strings.Contains(got, "<Allowed>true</Allowed>") {
		t.Errorf("explain on 6380 after ConnectCompute = %s, want allowed", got)
	}
	// The first instance (default group) is the one the rest uses.
	if _, err := w.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cache),
		IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6380),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(defaultGroup(t, w.world))}}}}}); err != nil {
		t.Fatal(err)
	}
}

// losePrimary kills the primary engine (6379): the replica is promoted,
// the lost engine comes back as its replica, and the primary role returns
// to 6379; the data and the endpoint are unchanged.
func (w *serverlessWorld) losePrimary(t *testing.T, host string) {
	t.Helper()
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", "before-loss", "kept"); err != nil || out != "OK" {
		t.Fatalf("SET before the loss = %q, %v", out, err)
	}
	w.readsOn6380(t, w.eni, host, "before-loss", "kept")
	pid := nodePID(t, w.dir, "000000000000.us-east-1.serverless--sess-0001-001.0001")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		slots, _ := w.cli(t, w.eni, host, 6379, "CLUSTER", "SLOTS")
		if f := strings.Fields(slots); len(f) >= 8 && f[3] == "6379" {
			{
				c, err := w.describe(t, "sess")
				if err == nil && aws.ToString(c.Status) == "available" && aws.ToString(c.Endpoint.Address) == host {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the loss of the primary engine: CLUSTER SLOTS =\n%s\nwant the primary back on 6379", slots)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "GET", "before-loss"); err != nil || out != "kept" {
		t.Errorf("GET after the loss = %q, %v; want kept", out, err)
	}
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", "after-loss", "ok"); err != nil || out != "OK" {
		t.Errorf("SET after the loss = %q, %v; want OK", out, err)
	}
	w.readsOn6380(t, w.eni, host, "after-loss", "ok")
}

// TestServerlessBadInput: what CreateServerlessCache and
// ModifyServerlessCache refuse, with AWS's codes; nothing is created.
func TestServerlessBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	vpc, err := w.ec2.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := w.ec2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.9.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	subnets, err := w.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("default-for-az"), Values: []string{"true"}}}})
	if err != nil || len(subnets.Subnets) == 0 {
		t.Fatalf("default subnets: %v", err)
	}
	gb := func(min, max *int32, unit ectypes.DataStorageUnit) *ectypes.CacheUsageLimits {
		return &ectypes.CacheUsageLimits{DataStorage: &ectypes.DataStorage{Minimum: min, Maximum: max, Unit: unit}}
	}
	for _, tc := range []struct {
		name string
		in   elasticache.CreateServerlessCacheInput
		code string
		msg  string
	}{
		{"engine-unknown", elasticache.CreateServerlessCacheInput{Engine: aws.String("mysql")}, "InvalidParameterValue", "Invalid value for Engine: mysql"},
		{"memcached-major", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), MajorEngineVersion: aws.String("8")}, "InvalidParameterValue", "Specified engine does not support major engine version 8"},
		{"memcached-user-group", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), UserGroupId: aws.String("ug1")}, "InvalidParameterCombination", "Valkey and Redis OSS serverless caches only"},
		{"memcached-restore-unknown", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:s1"}}, "ServerlessCacheSnapshotNotFoundFault", "s1"},
		{"memcached-restore-node-based", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:000000000000:snapshot:s1"}}, "InvalidParameterValue", "node-based snapshot"},
		{"memcached-retention", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), SnapshotRetentionLimit: aws.Int32(36)}, "InvalidParameterValue", "SnapshotRetentionLimit"},
		{"memcached-daily-time", elasticache.CreateServerlessCacheInput{Engine: aws.String("memcached"), SnapshotRetentionLimit: aws.Int32(1), DailySnapshotTime: aws.String("24:00")}, "InvalidParameterValue", "DailySnapshotTime"},
		{"major-unknown", elasticache.CreateServerlessCacheInput{MajorEngineVersion: aws.String("6")}, "InvalidParameterValue", "Specified engine does not support major engine version 6"},
		{"name-hyphens", elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("a--b")}, "InvalidParameterValue", "ServerlessCacheName is not a valid identifier"},
		{"name-digit", elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("1cache")}, "InvalidParameterValue", "ServerlessCacheName is not a valid identifier"},
		{"name-long", elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String(strings.Repeat("a", 41))}, "InvalidParameterValue", "ServerlessCacheName is not a valid identifier"},
		{"data-zero", elasticache.CreateServerlessCacheInput{CacheUsageLimits: gb(nil, aws.Int32(0), ectypes.DataStorageUnitGb)}, "InvalidParameterValue", "between 1 and 5000 GB"},
		{"data-too-big", elasticache.CreateServerlessCacheInput{CacheUsageLimits: gb(nil, aws.Int32(5001), ectypes.DataStorageUnitGb)}, "InvalidParameterValue", "between 1 and 5000 GB"},
		{"data-min-above-max", elasticache.CreateServerlessCacheInput{CacheUsageLimits: gb(aws.Int32(10), aws.Int32(5), ectypes.DataStorageUnitGb)}, "InvalidParameterCombination", "cannot be greater than the maximum"},
		{"data-unit", elasticache.CreateServerlessCacheInput{CacheUsageLimits: gb(nil, aws.Int32(5), "TB")}, "InvalidParameterValue", "Unit"},
		{"ecpu-low", elasticache.CreateServerlessCacheInput{CacheUsageLimits: &ectypes.CacheUsageLimits{ECPUPerSecond: &ectypes.ECPUPerSecond{Maximum: aws.Int32(999)}}}, "InvalidParameterValue", "between 1000 and 15000000"},
		{"ecpu-min-above-max", elasticache.CreateServerlessCacheInput{CacheUsageLimits: &ectypes.CacheUsageLimits{ECPUPerSecond: &ectypes.ECPUPerSecond{Minimum: aws.Int32(5000), Maximum: aws.Int32(2000)}}}, "InvalidParameterCombination", "cannot be greater than the maximum"},
		{"subnets-two-vpcs", elasticache.CreateServerlessCacheInput{SubnetIds: []string{aws.ToString(subnets.Subnets[0].SubnetId), aws.ToString(other.Subnet.SubnetId)}}, "InvalidParameterValue", "different VPCs"},
		{"subnet-unknown", elasticache.CreateServerlessCacheInput{SubnetIds: []string{"subnet-0123456789abcdef0"}}, "InvalidParameterValue", "does not exist"},
		{"sg-unknown", elasticache.CreateServerlessCacheInput{SecurityGroupIds: []string{"sg-0123456789abcdef0"}}, "InvalidParameterValue", "sg-0123456789abcdef0"},
		{"user-group-unknown", elasticache.CreateServerlessCacheInput{UserGroupId: aws.String("ug1")}, "UserGroupNotFound", "ug1"},
		{"restore-unknown", elasticache.CreateServerlessCacheInput{SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:s1"}}, "ServerlessCacheSnapshotNotFoundFault", "s1"},
		{"restore-two", elasticache.CreateServerlessCacheInput{SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:s1", "arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:s2"}}, "InvalidParameterValue", "one ARN"},
		{"restore-node-based", elasticache.CreateServerlessCacheInput{SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:000000000000:snapshot:s1"}}, "InvalidParameterValue", "node-based snapshot"},
		{"restore-other-account", elasticache.CreateServerlessCacheInput{SnapshotArnsToRestore: []string{"arn:aws:elasticache:us-east-1:111111111111:serverlesscachesnapshot:s1"}}, "InvalidParameterValue", "Invalid snapshot ARN"},
		{"retention", elasticache.CreateServerlessCacheInput{SnapshotRetentionLimit: aws.Int32(36)}, "InvalidParameterValue", "SnapshotRetentionLimit"},
		{"daily-time", elasticache.CreateServerlessCacheInput{DailySnapshotTime: aws.String("25:00")}, "InvalidParameterValue", "DailySnapshotTime"},
		{"network-type", elasticache.CreateServerlessCacheInput{NetworkType: ectypes.NetworkTypeIpv6}, "InvalidParameterValue", "NetworkType"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.ServerlessCacheName == nil {
				in.ServerlessCacheName = aws.String("bad-" + tc.name)
			}
			if in.Engine == nil {
				in.Engine = aws.String("redis")
			}
			_, err := w.ec.CreateServerlessCache(ctx, &in)
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Fatalf("CreateServerlessCache = %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
	out, err := w.ec.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{})
	if err != nil || len(out.ServerlessCaches) != 0 {
		t.Errorf("serverless caches after refused creates: %v, %v; want none", out, err)
	}
	for _, tc := range []struct {
		name string
		call func() error
		code string
	}{
		{"describe-unknown", func() error {
			_, err := w.ec.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String("nope")})
			return err
		}, "ServerlessCacheNotFoundFault"},
		{"describe-max-results", func() error {
			_, err := w.ec.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{MaxResults: aws.Int32(0)})
			return err
		}, "InvalidParameterValue"},
		{"modify-unknown", func() error {
			_, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("nope")})
			return err
		}, "ServerlessCacheNotFoundFault"},
		{"delete-unknown", func() error {
			_, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("nope")})
			return err
		}, "ServerlessCacheNotFoundFault"},
		{"delete-final-snapshot", func() error {
			_, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("nope"), FinalSnapshotName: aws.String("f")})
			return err
		}, "ServerlessCacheNotFoundFault"},
		{"snapshot-export", func() error {
			_, err := w.ec.ExportServerlessCacheSnapshot(ctx, &elasticache.ExportServerlessCacheSnapshotInput{ServerlessCacheSnapshotName: aws.String("s1"), S3BucketName: aws.String("b")})
			return err
		}, "ServerlessCacheSnapshotNotFoundFault"},
		{"snapshot-of-unknown", func() error {
			_, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String("nope"), ServerlessCacheSnapshotName: aws.String("s1")})
			return err
		}, "ServerlessCacheNotFoundFault"},
		{"snapshot-describe-unknown", func() error {
			_, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheSnapshotName: aws.String("s1")})
			return err
		}, "ServerlessCacheSnapshotNotFoundFault"},
		{"snapshot-copy-unknown", func() error {
			_, err := w.ec.CopyServerlessCacheSnapshot(ctx, &elasticache.CopyServerlessCacheSnapshotInput{SourceServerlessCacheSnapshotName: aws.String("s1"), TargetServerlessCacheSnapshotName: aws.String("s2")})
			return err
		}, "ServerlessCacheSnapshotNotFoundFault"},
		{"snapshot-delete-unknown", func() error {
			_, err := w.ec.DeleteServerlessCacheSnapshot(ctx, &elasticache.DeleteServerlessCacheSnapshotInput{ServerlessCacheSnapshotName: aws.String("s1")})
			return err
		}, "ServerlessCacheSnapshotNotFoundFault"},
	} {
		if err := tc.call(); code(err) != tc.code {
			t.Errorf("%s = %v, want %s", tc.name, err, tc.code)
		}
	}
}

// TestServerlessLifecycleAPI: in the loopback network mode (no root),
// creation with defaults, pagination by NextToken/MaxResults, modify
// while modifying or creating refused, a duplicate name refused, deletion.
func TestServerlessLifecycleAPI(t *testing.T) {
	w := &serverlessWorld{world: newWorld(t)}
	ctx := context.Background()
	long := "c3" + strings.Repeat("x", 38) // the longest name: 40 characters
	for _, name := range []string{"c1", "c2", long} {
		out, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String(name), Engine: aws.String("valkey")})
		if err != nil {
			t.Fatal(err)
		}
		if name == "c1" {
			if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String(name),
				Description: aws.String("x")}); code(err) != "InvalidServerlessCacheStateFault" && aws.ToString(out.ServerlessCache.Status) == "creating" {
				t.Errorf("ModifyServerlessCache while creating = %v, want InvalidServerlessCacheStateFault", err)
			}
		}
	}
	// Deleted while it is being created.
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("c0"), Engine: aws.String("redis")}); err != nil {
		t.Fatal(err)
	}
	if out, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("c0")}); err != nil || aws.ToString(out.ServerlessCache.Status) != "deleting" {
		t.Fatalf("DeleteServerlessCache(creating) = %v, %v; want deleting", out, err)
	}
	w.wait(t, "c0", "deleted")
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("C1"), Engine: aws.String("redis")}); code(err) != "ServerlessCacheAlreadyExistsFault" {
		t.Errorf("CreateServerlessCache(C1) again = %v, want ServerlessCacheAlreadyExistsFault", err)
	}
	var names []string
	var token *string
	for {
		out, err := w.ec.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{MaxResults: aws.Int32(2), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.ServerlessCaches) > 2 {
			t.Errorf("page of %d, want at most 2", len(out.ServerlessCaches))
		}
		for _, c := range out.ServerlessCaches {
			names = append(names, aws.ToString(c.ServerlessCacheName))
		}
		if token = out.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "c1,c2,"+long {
		t.Errorf("paged names = %v, want c1,c2,%s", names, long)
	}
	sc := w.wait(t, "c2", "available")
	if aws.ToString(sc.Engine) != "valkey" || aws.ToString(sc.Endpoint.Address) == "" || sc.ReaderEndpoint == nil {
		t.Errorf("c2 = engine %s, endpoint %v, reader %v", aws.ToString(sc.Engine), sc.Endpoint, sc.ReaderEndpoint)
	}
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("c2"),
		CacheUsageLimits: &ectypes.CacheUsageLimits{DataStorage: &ectypes.DataStorage{Maximum: aws.Int32(10), Unit: ectypes.DataStorageUnitGb}}}); code(err) != "InvalidParameterValue" {
		t.Errorf("ModifyServerlessCache of the data storage maximum = %v, want InvalidParameterValue (not supported yet)", err)
	}
	m, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("c2"),
		CacheUsageLimits:       &ectypes.CacheUsageLimits{ECPUPerSecond: &ectypes.ECPUPerSecond{Maximum: aws.Int32(20000)}},
		SnapshotRetentionLimit: aws.Int32(3), Description: aws.String("two")})
	if err != nil {
		t.Fatal(err)
	}
	if s := m.ServerlessCache; aws.ToString(s.Description) != "two" || aws.ToInt32(s.SnapshotRetentionLimit) != 3 || aws.ToInt32(s.CacheUsageLimits.ECPUPerSecond.Maximum) != 20000 {
		t.Errorf("ModifyServerlessCache = %+v", s)
	}
	if out, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheName: aws.String("c2")}); err != nil || len(out.ServerlessCacheSnapshots) != 0 {
		t.Errorf("DescribeServerlessCacheSnapshots = %v, %v; want none", out, err)
	}
	w.wait(t, "c2", "available")
	w.snapshotAPI(t, "c2")
	for _, name := range []string{"c1", "c2", long} {
		w.wait(t, name, "available")
		if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String(name)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"c1", "c2", long} {
		w.wait(t, name, "deleted")
	}
}

// restartService restarts Cachalot: both engines are re-adopted (same
// processes), the cache stays available with its data and endpoint.
func (w *serverlessWorld) restartService(t *testing.T, host string) {
	t.Helper()
	ctx := context.Background()
	nodes := []string{"000000000000.us-east-1.serverless--sess-0001-001.0001", "000000000000.us-east-1.serverless--sess-0001-002.0001"}
	pids := map[string]int{}
	for _, n := range nodes {
		pids[n] = nodePID(t, w.dir, n)
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.dir, DataStorageUnit: 16 << 20})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec, w.ec2 = elasticache.NewFromConfig(w.env.Config()), ec2.NewFromConfig(w.env.Config())
	sc := w.wait(t, "sess", "available")
	if aws.ToString(sc.Endpoint.Address) != host {
		t.Errorf("endpoint after a restart %s, want %s", aws.ToString(sc.Endpoint.Address), host)
	}
	for _, n := range nodes {
		if now := nodePID(t, w.dir, n); now != pids[n] {
			t.Errorf("after a service restart %s runs pid %d, want %d re-adopted", n, now, pids[n])
		}
	}
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", "after-restart", "yes"); err != nil || out != "OK" {
		t.Fatalf("SET after a restart = %q, %v", out, err)
	}
	w.readsOn6380(t, w.eni, host, "after-restart", "yes")
}
