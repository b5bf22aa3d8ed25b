package elasticache_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
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
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// mcNode is the engine node of serverless Memcached cache mc.
const mcNode = "000000000000.us-east-1.serverless--mc-001.0001"

// mc runs a memcached text-protocol conversation over TLS, verified
// against the installation's CA for host, with openssl s_client on the
// instance owning eni, and returns the server's answers. Its parts (\r\n
// line ends) are sent a moment apart, then quit: memcached 1.6.18 leaves
// the tail of a large pipelined TLS input unread until more arrives.
func (w *serverlessWorld) mc(t *testing.T, eni, host string, port int32, parts ...string) (string, error) {
	t.Helper()
	feed := ""
	for _, p := range append(parts, "quit\r\n") {
		f, err := os.CreateTemp("", "cachalot-mc-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(f.Name()) })
		if _, err := f.WriteString(p); err != nil {
			t.Fatal(err)
		}
		f.Close()
		if err := os.Chmod(f.Name(), 0o644); err != nil {
			t.Fatal(err)
		}
		if feed != "" {
			feed += "; sleep 0.2; "
		}
		feed += "cat " + f.Name()
	}
	cmd := fmt.Sprintf("(%s) | timeout 8 openssl s_client -quiet -verify_return_error -CAfile %s -servername %s -connect %s:%d 2>/dev/null",
		feed, w.ca, host, host, port)
	out, err := w.run(t, eni, "sh", "-c", cmd)
	return strings.ReplaceAll(out, "\r", ""), err
}

// TestServerlessMemcached: a serverless Memcached cache with a real
// engine in real namespaces, reached from an instance with a TLS client
// (openssl s_client, the memcached text protocol): one name, 11211 and
// 11212 serving one cache, plaintext refused; the data storage maximum
// (memcached -m) evicts least recently used items; a security group that
// opens only 11211 makes 11212 fail and explain names the missing rule; a
// killed engine is restarted in place and a service restart re-adopts it;
// user groups refused (snapshots: TestServerlessMemcachedSnapshot);
// deletion removes everything.
func TestServerlessMemcached(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir; c.DataStorageUnit = 16 << 20 }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)

	t0 := time.Now()
	created, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("mc"),
		Engine: aws.String("memcached"), Description: aws.String("pages"),
		CacheUsageLimits: &ectypes.CacheUsageLimits{DataStorage: &ectypes.DataStorage{Maximum: aws.Int32(2), Unit: ectypes.DataStorageUnitGb}}})
	if err != nil {
		t.Fatal(err)
	}
	if sc := created.ServerlessCache; aws.ToString(sc.Status) != "creating" || aws.ToString(sc.Engine) != "memcached" || aws.ToString(sc.MajorEngineVersion) != "1.6" ||
		!strings.HasPrefix(aws.ToString(sc.FullEngineVersion), "1.6") {
		t.Errorf("CreateServerlessCache = status %s, engine %s, major %s, full %s; want creating memcached 1.6",
			aws.ToString(sc.Status), aws.ToString(sc.Engine), aws.ToString(sc.MajorEngineVersion), aws.ToString(sc.FullEngineVersion))
	}
	sc := w.wait(t, "mc", "available")
	t.Logf("create -> available: %s", time.Since(t0).Round(time.Millisecond))
	host := aws.ToString(sc.Endpoint.Address)
	if !strings.HasPrefix(host, "mc-") || !strings.HasSuffix(host, ".serverless.use1.cache.amazonaws.com") ||
		aws.ToInt32(sc.Endpoint.Port) != 11211 || sc.ReaderEndpoint == nil || aws.ToString(sc.ReaderEndpoint.Address) != host || aws.ToInt32(sc.ReaderEndpoint.Port) != 11212 {
		t.Fatalf("endpoints %v and %v, want mc-<id6>.serverless.use1.cache.amazonaws.com on 11211 and 11212", sc.Endpoint, sc.ReaderEndpoint)
	}
	if cl, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(cl.CacheClusters) != 0 {
		t.Errorf("DescribeCacheClusters = %v, %v; want none (the realisation is hidden)", cl, err)
	}

	// Set on 11211, get on 11212: one cache.
	if out, err := w.mc(t, w.eni, host, 11211, "set greeting 0 0 5\r\nhello\r\n"); err != nil || out != "STORED" {
		t.Fatalf("TLS set on %s:11211 = %q, %v; want STORED", host, out, err)
	}
	if out, err := w.mc(t, w.eni, host, 11212, "get greeting\r\n"); err != nil || out != "VALUE greeting 0 5\nhello\nEND" {
		t.Fatalf("TLS get on %s:11212 = %q, %v; want the value set on 11211", host, out, err)
	}
	for _, port := range []int{11211, 11212} {
		script := fmt.Sprintf(`exec 3<>/dev/tcp/%s/%d && printf 'version\r\n' >&3 && timeout 3 head -c 100 <&3`, host, port)
		if out, _ := w.run(t, w.eni, "bash", "-c", script); strings.Contains(out, "VERSION") {
			t.Errorf("plaintext version on %s:%d answered %q (serverless caches are TLS only)", host, port, out)
		}
	}

	w.mcDataLimit(t, host)
	w.mcOnlyWritePort(t, host)
	w.mcRefusals(t)
	w.mcKillEngine(t, host)
	w.mcRestartService(t, host)

	if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("mc")}); err != nil {
		t.Fatal(err)
	}
	w.wait(t, "mc", "deleted")
	if _, err := os.Stat(filepath.Join(dir, "engines", mcNode)); !os.IsNotExist(err) {
		t.Errorf("engine directory of the deleted cache: %v, want gone", err)
	}
	if out, _ := w.mc(t, w.eni, host, 11211, "version\r\n"); strings.Contains(out, "VERSION") {
		t.Errorf("the deleted cache still answers: %q", out)
	}
	ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeServerlessCache, SourceIdentifier: aws.String("mc")})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ev.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	if got := strings.Join(msgs, "; "); !strings.Contains(got, "Serverless cache mc created") || !strings.Contains(got, "Serverless cache mc deleted") {
		t.Errorf("events of mc = %q, want its creation and deletion", got)
	}
}

// mcDataLimit: 2 "GB" of 16 MiB is memcached -m 32; writing 48 MiB is
// stored, the least recently used items evicted (ElastiCache: "evicting
// data in your cache using LRU logic"), the memory never above the limit.
func (w *serverlessWorld) mcDataLimit(t *testing.T, host string) {
	t.Helper()
	var b strings.Builder
	val := strings.Repeat("x", 512<<10)
	const n = 96
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "set big%d 0 0 %d\r\n%s\r\n", i, len(val), val)
	}
	b.WriteString("get big0\r\nstats\r\n")
	out, err := w.mc(t, w.eni, host, 11211, b.String())
	if err != nil {
		t.Fatalf("writes beyond the data storage maximum: %v", err)
	}
	stats := map[string]int64{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "STAT" {
			stats[f[1]], _ = strconv.ParseInt(f[2], 10, 64)
		}
	}
	if got := strings.Count(out, "STORED"); got != n {
		t.Errorf("%d of %d writes of 512 KiB stored; want all (memcached evicts at its limit)", got, n)
	}
	if stats["limit_maxbytes"] != 32<<20 || stats["evictions"] == 0 || stats["bytes"] > stats["limit_maxbytes"] {
		t.Errorf("stats: limit_maxbytes %d (want %d), evictions %d (want > 0), bytes %d (want <= the limit)",
			stats["limit_maxbytes"], 32<<20, stats["evictions"], stats["bytes"])
	}
	if strings.Contains(out, "VALUE big0 ") {
		t.Errorf("the least recently used item big0 survived 48 MiB written into 32 MiB")
	}
	if got, _ := w.mc(t, w.eni, host, 11212, fmt.Sprintf("get big%d\r\n", n-1)); !strings.HasPrefix(got, fmt.Sprintf("VALUE big%d 0 %d", n-1, len(val))) {
		t.Errorf("the last item written is not readable on 11212: %.80q", got)
	}
	// greeting was evicted too; the rest of the test reads it.
	if out, err := w.mc(t, w.eni, host, 11211, "delete big95\r\n", "set greeting 0 0 5\r\nhello\r\n"); err != nil || out != "DELETED\nSTORED" {
		t.Fatalf("set after the evictions = %q, %v", out, err)
	}
}

// mcOnlyWritePort: an instance in a group the cache's group admits on
// 11211 only reaches 11211, not 11212; explain names the missing rule; a
// compute connection opens both.
func (w *serverlessWorld) mcOnlyWritePort(t *testing.T, host string) {
	t.Helper()
	ctx := context.Background()
	newGroup := func(name string) string {
		sg, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(sg.GroupId)
	}
	app, cache := newGroup("app"), newGroup("cache")
	allow := func(from, to int32, src string) {
		if _, err := w.ec2.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: aws.String(cache),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
				UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(src)}}}}}); err != nil {
			t.Fatal(err)
		}
	}
	allow(11211, 11211, app)
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("mc"),
		SecurityGroupIds: []string{cache}}); err != nil {
		t.Fatal(err)
	}
	if sc := w.wait(t, "mc", "available"); len(sc.SecurityGroupIds) != 1 || sc.SecurityGroupIds[0] != cache {
		t.Errorf("security groups %v, want [%s]", sc.SecurityGroupIds, cache)
	}
	inst, eni := w.instance(t, app)
	if out, err := w.mc(t, eni, host, 11211, "get greeting\r\n"); err != nil || out != "VALUE greeting 0 5\nhello\nEND" {
		t.Errorf("get on 11211 from the app group = %q, %v; want hello (11211 is open)", out, err)
	}
	if out, _ := w.mc(t, eni, host, 11212, "get greeting\r\n"); strings.Contains(out, "hello") {
		t.Errorf("get on 11212 from the app group answered %q; 11212 is not open to it", out)
	}
	explain := func(port string) string {
		return signedAccess(t, w.world, "ExplainCacheReachability", url.Values{"CacheClusterId": {"mc"}, "InstanceId": {inst}, "Port": {port}})
	}
	if got := explain("11211"); !strings.Contains(got, "<Allowed>true</Allowed>") {
		t.Errorf("explain on 11211 = %s, want allowed", got)
	}
	if got := explain("11212"); !strings.Contains(got, "<Allowed>false</Allowed>") || !strings.Contains(got, "tcp/11212") || !strings.Contains(got, cache) {
		t.Errorf("explain on 11212 = %s, want denied, naming the missing inbound rule on tcp/11212 of %s", got, cache)
	}
	if got := signedAccess(t, w.world, "ConnectCompute", url.Values{"CacheClusterId": {"mc"}, "InstanceId": {inst}}); !strings.Contains(got, "ConnectComputeResult") {
		t.Fatalf("ConnectCompute = %s", got)
	}
	w.wait(t, "mc", "available")
	if out, err := w.mc(t, eni, host, 11212, "get greeting\r\n"); err != nil || out != "VALUE greeting 0 5\nhello\nEND" {
		t.Errorf("get on 11212 after ConnectCompute = %q, %v; want hello", out, err)
	}
	// The first instance (default group) is the one the rest uses.
	allow(11211, 11212, defaultGroup(t, w.world))
}

// mcRefusals: what a serverless Memcached cache refuses.
func (w *serverlessWorld) mcRefusals(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		call func() error
	}{
		{"modify-user-group", func() error {
			_, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("mc"), UserGroupId: aws.String("ug1")})
			return err
		}},
		{"modify-remove-user-group", func() error {
			_, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String("mc"), RemoveUserGroup: aws.Bool(true)})
			return err
		}},
	} {
		if err := tc.call(); code(err) != "InvalidParameterCombination" {
			t.Errorf("%s = %v, want InvalidParameterCombination", tc.name, err)
		}
	}
	if sc := w.wait(t, "mc", "available"); aws.ToString(sc.Status) != "available" {
		t.Errorf("after refused requests the cache is %s", aws.ToString(sc.Status))
	}
}

// mcKillEngine: kill -9 of the engine: the supervisor restarts it in place
// (memcached keeps no data across a restart), the endpoint unchanged.
func (w *serverlessWorld) mcKillEngine(t *testing.T, host string) {
	t.Helper()
	pid := nodePID(t, w.dir, mcNode)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := w.mc(t, w.eni, host, 11211, "set after-kill 0 0 2\r\nok\r\n")
		if out == "STORED" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after kill -9 of the engine: set = %q, want STORED", out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if now := nodePID(t, w.dir, mcNode); now == pid {
		t.Errorf("engine pid %d after kill -9, want a new process", now)
	}
	if out, err := w.mc(t, w.eni, host, 11212, "get after-kill\r\n"); err != nil || out != "VALUE after-kill 0 2\nok\nEND" {
		t.Errorf("get on 11212 after the restart = %q, %v", out, err)
	}
	if sc := w.wait(t, "mc", "available"); aws.ToString(sc.Endpoint.Address) != host {
		t.Errorf("endpoint after the engine's restart %s, want %s", aws.ToString(sc.Endpoint.Address), host)
	}
}

// mcRestartService restarts Cachalot: the engine is re-adopted (same
// process) with its data; the cache stays available at its endpoint.
func (w *serverlessWorld) mcRestartService(t *testing.T, host string) {
	t.Helper()
	ctx := context.Background()
	pid := nodePID(t, w.dir, mcNode)
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
	if sc := w.wait(t, "mc", "available"); aws.ToString(sc.Endpoint.Address) != host || aws.ToInt32(sc.ReaderEndpoint.Port) != 11212 {
		t.Errorf("after a restart: endpoint %v, reader %v; want %s on 11211 and 11212", sc.Endpoint, sc.ReaderEndpoint, host)
	}
	if now := nodePID(t, w.dir, mcNode); now != pid {
		t.Errorf("after a service restart the engine runs pid %d, want %d re-adopted", now, pid)
	}
	if out, err := w.mc(t, w.eni, host, 11212, "get after-kill\r\n"); err != nil || out != "VALUE after-kill 0 2\nok\nEND" {
		t.Errorf("get on 11212 after a service restart = %q, %v; want the data kept", out, err)
	}
}
