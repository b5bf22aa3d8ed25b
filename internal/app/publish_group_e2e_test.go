package app_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// groupHostEnv is a serve in the namespaces mode writing a test hosts
// file, checked to be as the test found it, with the host's objects gone,
// after the harness's teardown.
type groupHostEnv struct {
	env    *apptest.Env
	ne     *nettest.Env
	ec     *elasticache.Client
	hosts  string
	prefix string
}

func startGroupHost(t *testing.T) *groupHostEnv {
	t.Helper()
	requirePublishTools(t)
	w := &groupHostEnv{hosts: filepath.Join(t.TempDir(), "hosts")}
	if err := os.WriteFile(w.hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the harness's teardown.
	t.Cleanup(func() {
		if b, _ := os.ReadFile(w.hosts); string(b) != machineHosts {
			t.Errorf("hosts file after teardown = %q, want it as the test found it", b)
		}
		if got := hostObjects(t, w.prefix); got != "" {
			t.Errorf("host objects after teardown:\n%s", got)
		}
	})
	w.env = apptest.Start(t, func(c *app.Config) { c.HostsFile = w.hosts; c.Network = app.NetworkNamespaces })
	w.prefix = app.InstallPrefix(w.env.DataDir)
	w.ne = &nettest.Env{Env: w.env, EC2: ec2.NewFromConfig(w.env.Config())}
	w.ec = elasticache.NewFromConfig(w.env.Config())
	return w
}

func (w *groupHostEnv) waitGroup(t *testing.T, id string) ectypes.ReplicationGroup {
	t.Helper()
	waiter := elasticache.NewReplicationGroupAvailableWaiter(w.ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	out, err := waiter.WaitForOutput(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)}, 2*time.Minute)
	if err != nil {
		t.Fatalf("waiting for %s: %v", id, err)
	}
	return out.ReplicationGroups[0]
}

// linesOf are the hosts block's lines naming name, as "address name…".
func linesOf(block []string, name string) []string {
	var out []string
	for _, l := range block {
		if slices.Contains(strings.Fields(l)[1:], name) {
			out = append(out, l)
		}
	}
	return out
}

func primaryMember(g ectypes.ReplicationGroup) string {
	for _, m := range g.NodeGroups[0].NodeGroupMembers {
		if aws.ToString(m.CurrentRole) == "primary" {
			return aws.ToString(m.CacheClusterId)
		}
	}
	return ""
}

// memberOfLine returns the member cluster whose own name is on a hosts
// line (<member>.<id6>.0001.…).
func memberOfLine(g ectypes.ReplicationGroup, line string) string {
	for _, m := range g.MemberClusters {
		for _, n := range strings.Fields(line)[1:] {
			if strings.HasPrefix(n, m+".") && strings.Contains(n, ".0001.") {
				return m
			}
		}
	}
	return ""
}

// A published replication group (1 primary + 2 replicas): each member's
// node gets an address; from the host, the primary endpoint's name takes
// writes and the reader endpoint's (at both replicas) reads them; the
// security group still decides and explain names the rule; after
// TestFailover, and after the primary's engine is killed with kill -9, the
// primary name follows the new primary and writes resume; unpublishing leaves no hosts line and no host object behind.
func TestPublishedGroupFromHost(t *testing.T) {
	w := startGroupHost(t)
	ctx := context.Background()
	vpc, _, _ := w.ne.DefaultVPC(t)
	sg := w.ne.CreateGroup(t, "pub-group", vpc)
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("pg"),
		ReplicationGroupDescription: aws.String("published"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(3), AutomaticFailoverEnabled: aws.Bool(true), SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "pg")
	primaryName, readerName := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address)

	out, code := cachalot(t, w.env.DataDir, "publish", "pg")
	if code != 0 || !strings.Contains(out, primaryName) || !strings.Contains(out, readerName) || !strings.Contains(out, "169.254.64.1") {
		t.Fatalf("cachalot publish pg = %d:\n%s\nwant the primary and reader names", code, out)
	}
	t.Logf("cachalot publish pg:\n%s", out)
	w.ne.WaitIdle(t)
	block := hostsBlock(t, w.hosts, w.prefix)
	if len(block) != 3 {
		t.Fatalf("hosts block = %q, want a line per member", block)
	}
	if p := linesOf(block, primaryName); len(p) != 1 || memberOfLine(g, p[0]) != primaryMember(g) {
		t.Errorf("primary name's lines = %q, want the line of %s", p, primaryMember(g))
	}
	if r := linesOf(block, readerName); len(r) != 2 || slices.Contains([]string{memberOfLine(g, r[0]), memberOfLine(g, r[1])}, primaryMember(g)) {
		t.Errorf("reader name's lines = %q, want both replicas'", r)
	}

	// No rule admits the host yet: refused, and explain says so.
	if got, ok := redisCLI(w.hosts, "-h", primaryName, "ping"); ok && got == "PONG" {
		t.Errorf("redis-cli -h %s ping = %q before any rule admits the host", primaryName, got)
	}
	if out, code := cachalot(t, w.env.DataDir, "explain", "--from", "host", "--to", "pg"); code != 3 || !strings.Contains(out, "DENIED") {
		t.Errorf("cachalot explain --from host --to pg = %d:\n%s\nwant DENIED", code, out)
	}
	rule := w.ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	w.ne.WaitIdle(t)
	if out, code := cachalot(t, w.env.DataDir, "explain", "--from", "host", "--to", "pg"); code != 0 || !strings.Contains(out, "ALLOWED") || !strings.Contains(out, rule) {
		t.Errorf("cachalot explain --from host --to pg = %d:\n%s\nwant ALLOWED by %s", code, out, rule)
	}

	waitFor(t, "redis-cli -h "+primaryName+" set", func() (string, bool) {
		got, ok := redisCLI(w.hosts, "-h", primaryName, "set", "k", "v1")
		return got, ok && got == "OK"
	})
	waitFor(t, "redis-cli -h "+readerName+" get", func() (string, bool) {
		got, ok := redisCLI(w.hosts, "-h", readerName, "get", "k")
		return got, ok && got == "v1"
	})
	if got, _ := redisCLI(w.hosts, "-h", readerName, "set", "k", "no"); !strings.Contains(got, "READONLY") {
		t.Errorf("set through the reader name = %q, want READONLY (a replica)", got)
	}
	if out, code := cachalot(t, w.env.DataDir, "published", "pg"); code != 0 || strings.Count(out, readerName) != 2 || strings.Count(out, primaryName) != 1 {
		t.Errorf("cachalot published pg = %d:\n%s\nwant the reader name twice, the primary name once", code, out)
	}

	// A failover, by TestFailover and then by a primary killed with
	// kill -9: the host's primary name follows the new primary each time.
	var now string
	failover := func(how string, cause func(primary string)) {
		t.Helper()
		before := primaryMember(g)
		cause(before)
		waitFor(t, how+": a new primary", func() (string, bool) {
			out, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("pg")})
			if err != nil {
				return err.Error(), false
			}
			g = out.ReplicationGroups[0]
			now = primaryMember(g)
			return now + " " + aws.ToString(g.Status), now != "" && now != before && aws.ToString(g.Status) == "available"
		})
		waitFor(t, how+": the primary name at "+now, func() (string, bool) {
			p := linesOf(hostsBlock(t, w.hosts, w.prefix), primaryName)
			return strings.Join(p, "|"), len(p) == 1 && memberOfLine(g, p[0]) == now
		})
		waitFor(t, how+": writes through the primary name", func() (string, bool) {
			got, ok := redisCLI(w.hosts, "-h", primaryName, "set", "k", how)
			return got, ok && got == "OK"
		})
		if got, _ := redisCLI(w.hosts, "-h", primaryName, "role"); !strings.HasPrefix(got, "master") {
			t.Errorf("%s: role through the primary name = %q, want master", how, got)
		}
		waitFor(t, how+": reads through the reader name", func() (string, bool) {
			got, ok := redisCLI(w.hosts, "-h", readerName, "get", "k")
			return got, ok && got == how
		})
		t.Logf("after %s (%s -> %s): %q", how, before, now, hostsBlock(t, w.hosts, w.prefix))
	}
	failover("test-failover", func(string) {
		if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("pg"), NodeGroupId: aws.String("0001")}); err != nil {
			t.Fatal(err)
		}
	})
	failover("kill-9", func(primary string) {
		pid := enginePID(t, w.env.DataDir, "000000000000.us-east-1."+primary+".0001")
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatalf("kill -9 %d (%s): %v", pid, primary, err)
		}
	})

	// A member cannot be published beside its group; unpublishing the
	// group removes every line and host object.
	if out, code := cachalot(t, w.env.DataDir, "publish", now); code == 0 || !strings.Contains(out, "PublishedNameConflict") {
		t.Errorf("cachalot publish %s = %d %q, want PublishedNameConflict", now, code, out)
	}
	if out, code := cachalot(t, w.env.DataDir, "unpublish", "pg"); code != 0 {
		t.Fatalf("cachalot unpublish pg = %d:\n%s", code, out)
	}
	w.ne.WaitIdle(t)
	if b, _ := os.ReadFile(w.hosts); string(b) != machineHosts {
		t.Errorf("hosts file after unpublish = %q, want the machine's", b)
	}
	if got := hostObjects(t, w.prefix); got != "" {
		t.Errorf("host objects after unpublish:\n%s", got)
	}
}

// clusterClientEnv names the configuration endpoint the helper test's
// ClusterClient starts from; set only in the child TestPublishedClusterMode
// runs with the test's hosts file as /etc/hosts.
const clusterClientEnv = "CACHALOT_TEST_CLUSTER_ENDPOINT"

// clusterCAEnv names, for a TLS cache, the CA file the helper test's
// ClusterClient trusts.
const clusterCAEnv = "CACHALOT_TEST_CLUSTER_CA"

// TestHostClusterClient is the go-redis ClusterClient side of
// TestPublishedClusterMode, run by it in a private mount namespace where
// the test's hosts file is /etc/hosts: it writes and reads keys across
// the shards and says how many each primary holds.
func TestHostClusterClient(t *testing.T) {
	addr := os.Getenv(clusterClientEnv)
	if addr == "" {
		t.Skip("run by TestPublishedClusterMode")
	}
	ctx := context.Background()
	opts := &goredis.ClusterOptions{Addrs: []string{addr}, DialTimeout: 2 * time.Second, MaxRedirects: 3}
	if caFile := os.Getenv(clusterCAEnv); caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			t.Fatalf("no certificate in %s", caFile)
		}
		opts.TLSConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c := goredis.NewClusterClient(opts)
	defer c.Close()
	for i := range 200 {
		if err := c.Set(ctx, fmt.Sprintf("host:%d", i), i, 0).Err(); err != nil {
			t.Fatalf("SET host:%d = %v", i, err)
		}
	}
	for i := range 200 {
		if got, err := c.Get(ctx, fmt.Sprintf("host:%d", i)).Int(); err != nil || got != i {
			t.Fatalf("GET host:%d = %d, %v", i, got, err)
		}
	}
	var mu sync.Mutex // guards sizes: ForEachMaster runs in parallel
	var sizes []string
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		n, err := m.DBSize(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, fmt.Sprintf("%s=%d", m.Options().Addr, n))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(sizes)
	fmt.Printf("primaries: %s\n", strings.Join(sizes, " "))
}

// A published cluster-mode group of 2 shards × (1 primary + 1 replica):
// the configuration endpoint's name resolves on the host to every node;
// the nodes announce their names, which resolve there to their published
// addresses, so redis-cli -c and go-redis's ClusterClient follow MOVED
// and CLUSTER SLOTS from the host; both shards hold keys.
func TestPublishedClusterMode(t *testing.T) {
	w := startGroupHost(t)
	ctx := context.Background()
	vpc, _, _ := w.ne.DefaultVPC(t)
	sg := w.ne.CreateGroup(t, "pub-cm", vpc)
	w.ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("pcm"),
		ReplicationGroupDescription: aws.String("published"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on"), SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "pcm")
	cfg := aws.ToString(g.ConfigurationEndpoint.Address)
	if out, code := cachalot(t, w.env.DataDir, "publish", "pcm"); code != 0 || !strings.Contains(out, cfg) {
		t.Fatalf("cachalot publish pcm = %d:\n%s\nwant the configuration endpoint %s", code, out, cfg)
	}
	w.ne.WaitIdle(t)
	block := hostsBlock(t, w.hosts, w.prefix)
	if len(block) != 4 || len(linesOf(block, cfg)) != 4 {
		t.Fatalf("hosts block = %q, want 4 nodes, each with the configuration endpoint", block)
	}
	t.Logf("hosts block: %q", block)

	// redis-cli -c: keys of both shards ("foo" hashes to slot 12182, "bar"
	// to 5061), following MOVED to the nodes' names.
	for _, kv := range [][2]string{{"foo", "1"}, {"bar", "2"}} {
		waitFor(t, "redis-cli -c set "+kv[0], func() (string, bool) {
			got, ok := redisCLI(w.hosts, "-c", "-h", cfg, "set", kv[0], kv[1])
			return got, ok && got == "OK"
		})
		if got, _ := redisCLI(w.hosts, "-c", "-h", cfg, "get", kv[0]); got != kv[1] {
			t.Errorf("redis-cli -c get %s = %q, want %s", kv[0], got, kv[1])
		}
	}
	slots, _ := redisCLI(w.hosts, "-h", cfg, "cluster", "slots")
	if !strings.Contains(slots, ".0001.use1.cache.amazonaws.com") {
		t.Errorf("CLUSTER SLOTS = %q, want the nodes' names", slots)
	}

	// go-redis's ClusterClient, in a process whose /etc/hosts is the
	// test's hosts file.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$0" /etc/hosts && exec "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, w.hosts,
		self, "-test.run", "^TestHostClusterClient$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), clusterClientEnv+"="+cfg+":6379")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestHostClusterClient") {
		t.Fatalf("ClusterClient from the host: %v\n%s", err, out)
	}
	var primaries string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, "primaries: ") {
			primaries = l
		}
	}
	if f := strings.Fields(primaries); len(f) != 3 || strings.HasSuffix(f[1], "=0") || strings.HasSuffix(f[2], "=0") {
		t.Errorf("ClusterClient: %q, want two primaries holding keys", primaries)
	}
	t.Logf("ClusterClient from the host: %s", primaries)

	if out, code := cachalot(t, w.env.DataDir, "unpublish", "pcm"); code != 0 {
		t.Fatalf("cachalot unpublish pcm = %d:\n%s", code, out)
	}
	w.ne.WaitIdle(t)
	if b, _ := os.ReadFile(w.hosts); string(b) != machineHosts {
		t.Errorf("hosts file after unpublish = %q, want the machine's", b)
	}
	if got := hostObjects(t, w.prefix); got != "" {
		t.Errorf("host objects after unpublish:\n%s", got)
	}
}

// A published group with in-transit encryption and an AUTH token: the host
// resolves its TLS names (master.<rg>…, replica.<rg>…), and redis-cli
// --tls trusting the installation's CA (cachalot ca) writes through the
// primary's and reads through the reader's.
func TestPublishedTLSGroup(t *testing.T) {
	w := startGroupHost(t)
	ctx := context.Background()
	vpc, _, _ := w.ne.DefaultVPC(t)
	sg := w.ne.CreateGroup(t, "pub-tls", vpc)
	w.ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	const token = "host-token-0123456789"
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("ptls"),
		ReplicationGroupDescription: aws.String("published"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token),
		SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "ptls")
	primaryName, readerName := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address)
	if !strings.HasPrefix(primaryName, "master.ptls.") || !strings.HasPrefix(readerName, "replica.ptls.") {
		t.Fatalf("endpoints %s, %s, want the TLS names", primaryName, readerName)
	}
	ca, code := cachalot(t, w.env.DataDir, "ca")
	if code != 0 {
		t.Fatalf("cachalot ca = %d %s", code, ca)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, code := cachalot(t, w.env.DataDir, "publish", "ptls"); code != 0 || !strings.Contains(out, primaryName) || !strings.Contains(out, "ptls-002.ptls.") {
		t.Fatalf("cachalot publish ptls = %d:\n%s\nwant the TLS names", code, out)
	}
	w.ne.WaitIdle(t)
	t.Logf("hosts block: %q", hostsBlock(t, w.hosts, w.prefix))
	tls := []string{"--tls", "--cacert", caFile, "--no-auth-warning", "-a", token}
	waitFor(t, "redis-cli --tls -h "+primaryName+" set", func() (string, bool) {
		got, ok := redisCLI(w.hosts, append(tls, "-h", primaryName, "set", "k", "tls")...)
		return got, ok && got == "OK"
	})
	waitFor(t, "redis-cli --tls -h "+readerName+" get", func() (string, bool) {
		got, ok := redisCLI(w.hosts, append(tls, "-h", readerName, "get", "k")...)
		return got, ok && got == "tls"
	})
}

// serve --publish-all publishes a replication group as a whole, its members
// not on their own: every member's node has one hosts line, with the
// group's names; deleting the group removes them.
func TestPublishAllGroup(t *testing.T) {
	requirePublishTools(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	if err := os.WriteFile(hosts, []byte(machineHosts), 0o644); err != nil {
		t.Fatal(err)
	}
	env := apptest.Start(t, func(c *app.Config) { c.HostsFile = hosts; c.Network = app.NetworkNamespaces; c.PublishAll = true })
	prefix := app.InstallPrefix(env.DataDir)
	w := &groupHostEnv{env: env, ne: &nettest.Env{Env: env, EC2: ec2.NewFromConfig(env.Config())}, ec: elasticache.NewFromConfig(env.Config()),
		hosts: hosts, prefix: prefix}
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("all"),
		ReplicationGroupDescription: aws.String("published"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "all")
	w.ne.WaitIdle(t)
	primaryName := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)
	waitFor(t, "the group's hosts lines", func() (string, bool) {
		b := hostsBlock(t, hosts, prefix)
		return strings.Join(b, "|"), len(b) == 2 && len(linesOf(b, primaryName)) == 1
	})
	out, code := cachalot(t, env.DataDir, "published")
	if code != 0 || !strings.Contains(out, "published all (by serve --publish-all)") || strings.Contains(out, "published all-00") {
		t.Errorf("cachalot published = %d:\n%s\nwant the group, not its members", code, out)
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("all")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "no hosts line after the group's deletion", func() (string, bool) {
		b, _ := os.ReadFile(hosts)
		return string(b), string(b) == machineHosts
	})
}
