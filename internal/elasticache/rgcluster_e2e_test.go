package elasticache_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// clusterWorld is a groupWorld whose group has cluster mode enabled.
type clusterWorld struct {
	*groupWorld
	cfg     string // the configuration endpoint's name
	masters int    // the shards check expects; 0 for 3
}

// cli runs redis-cli in cluster mode (-c) against the configuration
// endpoint from the instance, with a shell command line for pipes.
func (w *clusterWorld) cli(t *testing.T, script string) string {
	t.Helper()
	out, err := w.run(t, w.eni, "bash", "-c", script)
	if err != nil {
		t.Fatalf("on the instance: %s = %q, %v", script, out, err)
	}
	return out
}

// check runs redis-cli --cluster check through the configuration endpoint
// until every slot is covered, every node agrees and the shards hold keys
// keys, and returns its report.
func (w *clusterWorld) check(t *testing.T, keys int) string {
	t.Helper()
	masters := w.masters
	if masters == 0 {
		masters = 3
	}
	want := fmt.Sprintf("[OK] %d keys in %d masters.", keys, masters)
	var out string
	for i := 0; i < 100; i++ {
		out, _ = w.run(t, w.eni, "bash", "-c", "timeout 5 redis-cli --cluster check "+w.cfg+":6379; timeout 5 redis-cli --cluster info "+w.cfg+":6379")
		if strings.Contains(out, "[OK] All 16384 slots covered.") && strings.Contains(out, "[OK] All nodes agree about slots configuration.") &&
			strings.Contains(out, want) && !strings.Contains(out, "[ERR]") && !strings.Contains(out, "[WARNING]") {
			return out
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-cli --cluster check = %s\nwant all slots covered and %q", out, want)
	return ""
}

// writeKeys writes n keys through the configuration endpoint with
// redis-cli -c, in one pipe, values tagged with round.
func (w *clusterWorld) writeKeys(t *testing.T, n int, round string) {
	t.Helper()
	out := w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "SET key:$i %s:$i"; done | timeout 8 redis-cli -c -h %s | grep -v Redirected | sort | uniq -c`, n, round, w.cfg))
	if strings.TrimSpace(out) != fmt.Sprintf("%d OK", n) {
		t.Fatalf("writing %d keys with redis-cli -c = %q", n, out)
	}
}

// readKeys reads every key back with redis-cli -c and checks its value.
func (w *clusterWorld) readKeys(t *testing.T, n int, round string) {
	t.Helper()
	out := w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET key:$i"; done | timeout 8 redis-cli -c -h %s | grep -v Redirected`, n, w.cfg))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Fatalf("reading %d keys with redis-cli -c: %d answers", n, len(lines))
	}
	for i, l := range lines {
		if want := fmt.Sprintf("%s:%d", round, i+1); l != want {
			t.Fatalf("GET key:%d = %q, want %q", i+1, l, want)
		}
	}
}

func (w *clusterWorld) waitEvent(t *testing.T, source ectypes.SourceType, id, msg string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !slices.Contains(w.events(t, source, id), msg) {
		if time.Now().After(deadline) {
			t.Fatalf("events of %s = %q, want %q", id, w.events(t, source, id), msg)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestClusterModeGroup: a group of 3 shards × (1 primary + 1 replica)
// with cluster mode enabled, real engines in real namespaces: a Redis
// Cluster whose slots are AWS's even split, reached through the
// configuration endpoint with redis-cli -c from an instance; a shard
// primary killed with kill -9 is replaced by its replica with no key
// lost; TestFailover of another shard; a service restart re-adopts the
// cluster with its slots; the group is deleted.
func TestClusterModeGroup(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	gw := &groupWorld{world: newWorld(t, func(c *app.Config) {
		c.DataDir = dir
		if p := os.Getenv("CLUSTER_DEBUG_LOG"); p != "" {
			f, _ := os.Create(p)
			c.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}), dir: dir, id: "shop"}
	w := &clusterWorld{groupWorld: gw}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	t0 := time.Now()
	out, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("shop"),
		ReplicationGroupDescription: aws.String("shop"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(3), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on")})
	if err != nil {
		t.Fatal(err)
	}
	wantMembers := []string{"shop-0001-001", "shop-0001-002", "shop-0002-001", "shop-0002-002", "shop-0003-001", "shop-0003-002"}
	if g := out.ReplicationGroup; aws.ToString(g.Status) != "creating" || !slices.Equal(g.MemberClusters, wantMembers) ||
		!aws.ToBool(g.ClusterEnabled) || string(g.ClusterMode) != "enabled" {
		t.Fatalf("CreateReplicationGroup = %s %v cluster %v %s", aws.ToString(g.Status), g.MemberClusters, aws.ToBool(g.ClusterEnabled), g.ClusterMode)
	}
	waiter := elasticache.NewReplicationGroupAvailableWaiter(w.ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("shop")}, 30*time.Second); err != nil {
		g := w.describe(t)
		nodes, _ := w.run(t, w.eni, "redis-cli", "-h", aws.ToString(g.ConfigurationEndpoint.Address), "cluster", "nodes")
		t.Fatalf("%v\n%s", err, nodes)
	}
	t.Logf("3 shards x 2 nodes available after %s", time.Since(t0).Round(time.Millisecond))
	g := w.describe(t)
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	if !strings.HasPrefix(w.cfg, "shop.") || !strings.Contains(w.cfg, ".clustercfg.") || aws.ToInt32(g.ConfigurationEndpoint.Port) != 6379 {
		t.Errorf("configuration endpoint = %s:%d", w.cfg, aws.ToInt32(g.ConfigurationEndpoint.Port))
	}
	var slots []string
	for _, ng := range g.NodeGroups {
		slots = append(slots, aws.ToString(ng.NodeGroupId)+"="+aws.ToString(ng.Slots))
		for _, m := range ng.NodeGroupMembers {
			if m.CurrentRole != nil || m.ReadEndpoint != nil {
				t.Errorf("member %s has a role or read endpoint; AWS shows none in cluster mode", aws.ToString(m.CacheClusterId))
			}
		}
	}
	if want := []string{"0001=0-5461", "0002=5462-10922", "0003=10923-16383"}; !slices.Equal(slots, want) {
		t.Errorf("node groups = %v, want %v", slots, want)
	}
	if got := strings.ReplaceAll(w.cli(t, "redis-cli -c -h "+w.cfg+" cluster info | grep -E 'cluster_state|cluster_known_nodes|cluster_size'"), "\r", ""); got != "cluster_state:ok\ncluster_known_nodes:6\ncluster_size:3" {
		t.Errorf("CLUSTER INFO = %q", got)
	}

	// Clients read the cluster's layout; they may not change it.
	for _, args := range []string{"cluster meet 10.9.9.9 6379", "cluster reset hard", "cluster forget 0000", "cluster addslots 1"} {
		if out, _ := w.run(t, w.eni, "bash", "-c", "redis-cli -h "+w.cfg+" "+args); !strings.Contains(out, "NOPERM") {
			t.Errorf("redis-cli %s = %q, want NOPERM", args, out)
		}
	}
	const n = 1000
	w.writeKeys(t, n, "v1")
	w.readKeys(t, n, "v1")
	w.check(t, n)

	w.killShardPrimary(t, "shop-0002-001", "shop-0002-002")
	w.readKeys(t, n, "v1")
	w.writeKeys(t, n, "v2")
	w.check(t, n)

	if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("shop"), NodeGroupId: aws.String("0001")}); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, ectypes.SourceTypeReplicationGroup, "shop", "Failover from primary node shop-0001-001 to replica node shop-0001-002 completed")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := exec.Command("bash", "-c", "tail -n 40 "+dir+"/engines/*shop-0001-00*/redis.log").CombinedOutput()
			t.Logf("engine logs:\n%s", b)
		}
	})
	w.waitGroup(t, "test failover", func(g ectypes.ReplicationGroup) bool { return g.PendingModifiedValues.PrimaryClusterId == nil })
	w.readKeys(t, n, "v2")
	w.check(t, n)
	if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("shop"), NodeGroupId: aws.String("0009")}); err == nil || !strings.Contains(err.Error(), "NodeGroupNotFoundFault") {
		t.Errorf("TestFailover of node group 0009 = %v, want NodeGroupNotFoundFault", err)
	}

	w.replicaCounts(t, n)
	w.restartCluster(t)
	w.readKeys(t, n, "v2")
	w.check(t, n)

	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("shop")}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("shop")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if cs, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{}); err != nil || len(cs.CacheClusters) != 0 {
		t.Errorf("clusters after deleting the group = %v, %v", cs, err)
	}
}

// killShardPrimary kills a shard primary's engine with kill -9 and waits
// for its replica to be promoted and the old primary's node to come back
// as the new primary's replica.
func (w *clusterWorld) killShardPrimary(t *testing.T, primary, replica string) {
	t.Helper()
	pid := nodePID(t, w.dir, "000000000000.us-east-1."+primary+".0001")
	t0 := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, ectypes.SourceTypeReplicationGroup, "shop", "Failover from primary node "+primary+" to replica node "+replica+" completed")
	t.Logf("kill -9 of %s: %s promoted after %s", primary, replica, time.Since(t0).Round(time.Millisecond))
	w.waitEvent(t, ectypes.SourceTypeCacheCluster, primary, "Finished recovery for cache nodes 0001")
	w.waitGroup(t, "kill -9", func(ectypes.ReplicationGroup) bool { return true })
}

// restartCluster restarts Cachalot: every member's engine is re-adopted
// (same process), the cluster keeps its slots, the group stays available.
func (w *clusterWorld) restartCluster(t *testing.T) {
	t.Helper()
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
	w.waitGroup(t, "restart", func(ectypes.ReplicationGroup) bool { return true })
	for m, pid := range pids {
		if now := nodePID(t, w.dir, "000000000000.us-east-1."+m+".0001"); now != pid {
			t.Errorf("after a service restart %s runs pid %d, want %d re-adopted", m, now, pid)
		}
	}
}

// replicaCounts: IncreaseReplicaCount gives shard 0003 a second replica,
// which joins the cluster and follows the shard's primary with the data;
// DecreaseReplicaCount removes it, and the cluster forgets it.
func (w *clusterWorld) replicaCounts(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	knownNodes := func() string {
		return w.cli(t, "redis-cli -c -h "+w.cfg+" cluster info | grep cluster_known_nodes | tr -d '\\r'")
	}
	if _, err := w.ec.IncreaseReplicaCount(ctx, &elasticache.IncreaseReplicaCountInput{ReplicationGroupId: aws.String("shop"), ApplyImmediately: aws.Bool(true),
		ReplicaConfiguration: []ectypes.ConfigureShard{{NodeGroupId: aws.String("0003"), NewReplicaCount: aws.Int32(2)}}}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "increase", func(ectypes.ReplicationGroup) bool { return true })
	if !slices.Contains(g.MemberClusters, "shop-0003-003") || len(g.NodeGroups[2].NodeGroupMembers) != 3 {
		t.Fatalf("after IncreaseReplicaCount: members %v", g.MemberClusters)
	}
	if got := knownNodes(); got != "cluster_known_nodes:7" {
		t.Errorf("after IncreaseReplicaCount: %s", got)
	}
	w.check(t, n)
	if _, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("shop"), ApplyImmediately: aws.Bool(true),
		ReplicasToRemove: []string{"shop-0003-003"}}); err != nil {
		t.Fatal(err)
	}
	g = w.waitGroup(t, "decrease", func(ectypes.ReplicationGroup) bool { return true })
	if slices.Contains(g.MemberClusters, "shop-0003-003") {
		t.Fatalf("after DecreaseReplicaCount: members %v", g.MemberClusters)
	}
	if got := knownNodes(); got != "cluster_known_nodes:6" {
		t.Errorf("after DecreaseReplicaCount: %s", got)
	}
	if _, err := w.ec.DecreaseReplicaCount(ctx, &elasticache.DecreaseReplicaCountInput{ReplicationGroupId: aws.String("shop"), ApplyImmediately: aws.Bool(true),
		ReplicaConfiguration: []ectypes.ConfigureShard{{NodeGroupId: aws.String("0009"), NewReplicaCount: aws.Int32(0)}}}); err == nil || !strings.Contains(err.Error(), "NodeGroupNotFoundFault") {
		t.Errorf("DecreaseReplicaCount of node group 0009 = %v, want NodeGroupNotFoundFault", err)
	}
	w.check(t, n)
}
