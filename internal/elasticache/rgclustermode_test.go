package elasticache_test

import (
	"context"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	goredis "github.com/redis/go-redis/v9"

	"github.com/cachalot-dev/cachalot/internal/app"
)

func hostPort(ep *ectypes.Endpoint) string {
	return net.JoinHostPort(aws.ToString(ep.Address), strconv.Itoa(int(aws.ToInt32(ep.Port))))
}

// TestClusterModeMigrationLoopback: in the loopback network mode (real
// engines, no root), a group without cluster mode (a primary and two
// replicas, which move one after the other) goes disabled → compatible → enabled with ModifyReplicationGroup,
// then is resharded: while compatible both a cluster client through the
// configuration endpoint and a plain client through the primary endpoint
// read every key written before and write; once enabled the group is a
// cluster-mode group whose shard configuration can change. No key is lost.
// A group with keys in database 1 is refused the change by the group
// controller, with an event, and left as it was.
func TestClusterModeMigrationLoopback(t *testing.T) {
	w := newWorld(t, func(c *app.Config) {
		c.Network = app.NetworkLoopback
		if p := os.Getenv("CLUSTER_DEBUG_LOG"); p != "" {
			f, _ := os.Create(p)
			c.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	})
	ctx := context.Background()
	for id, n := range map[string]int32{"mig": 3, "multidb": 2} {
		if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(id),
			ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(n),
			AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	waitGroupAvailable(t, w.ec, "mig")
	waitGroupAvailable(t, w.ec, "multidb")
	g := w.describeGroup(t, "mig")
	primaryEP := hostPort(g.NodeGroups[0].PrimaryEndpoint)
	plain := goredis.NewClient(&goredis.Options{Addr: primaryEP, MaxRetries: -1})
	defer plain.Close()
	const n = 1000
	for i := range n {
		if err := plain.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}

	// The refused case: keys in database 1.
	mg := w.describeGroup(t, "multidb")
	db1 := goredis.NewClient(&goredis.Options{Addr: hostPort(mg.NodeGroups[0].PrimaryEndpoint), DB: 1})
	defer db1.Close()
	if err := db1.Set(ctx, "elsewhere", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("multidb"),
		ClusterMode: ectypes.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "multidb")
	if mg = w.describeGroup(t, "multidb"); string(mg.ClusterMode) != "disabled" || mg.ConfigurationEndpoint != nil {
		t.Errorf("multidb after the refused change: cluster mode %s, configuration endpoint %v", string(mg.ClusterMode), mg.ConfigurationEndpoint)
	}
	if ev := groupEvents(t, w, "multidb"); !slices.ContainsFunc(ev, func(m string) bool { return strings.Contains(m, "databases other than 0") }) {
		t.Errorf("multidb events = %q, want the refusal", ev)
	}

	t0 := time.Now()
	out, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"),
		ClusterMode: ectypes.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if rg := out.ReplicationGroup; aws.ToString(rg.Status) != "modifying" || string(rg.ClusterMode) != "disabled" ||
		rg.PendingModifiedValues == nil || string(rg.PendingModifiedValues.ClusterMode) != "compatible" {
		t.Errorf("ModifyReplicationGroup to compatible = status %s, cluster mode %s, pending %+v", aws.ToString(rg.Status), string(rg.ClusterMode), rg.PendingModifiedValues)
	}
	waitGroupAvailable(t, w.ec, "mig")
	t.Logf("disabled → compatible (1 primary + 2 replicas, %d keys): available after %s", n, time.Since(t0).Round(time.Millisecond))
	g = w.describeGroup(t, "mig")
	if string(g.ClusterMode) != "compatible" || aws.ToBool(g.ClusterEnabled) || g.ConfigurationEndpoint == nil ||
		g.NodeGroups[0].PrimaryEndpoint == nil || g.NodeGroups[0].ReaderEndpoint == nil || aws.ToString(g.NodeGroups[0].Slots) != "0-16383" {
		t.Fatalf("compatible: cluster mode %s, enabled %v, configuration endpoint %v, node group %+v", string(g.ClusterMode),
			aws.ToBool(g.ClusterEnabled), g.ConfigurationEndpoint, g.NodeGroups[0])
	}
	if got := hostPort(g.NodeGroups[0].PrimaryEndpoint); got != primaryEP {
		t.Errorf("primary endpoint %s, was %s", got, primaryEP)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{hostPort(g.ConfigurationEndpoint)}})
	defer cc.Close()
	check := func(what string, c goredis.Cmdable, count int) {
		t.Helper()
		for i := range count {
			if v, err := c.Get(ctx, "k"+strconv.Itoa(i)).Result(); err != nil || v != strconv.Itoa(i) {
				t.Fatalf("%s: k%d = %q, %v", what, i, v, err)
			}
		}
	}
	check("compatible, cluster client", cc, n)
	reader := goredis.NewClient(&goredis.Options{Addr: hostPort(g.NodeGroups[0].ReaderEndpoint)})
	defer reader.Close()
	v, err := reader.Get(ctx, "k1").Result()
	t.Logf("compatible: GET through the reader endpoint without READONLY = %q, %v", v, err)
	check("compatible, primary endpoint", plain, n)
	if err := plain.Set(ctx, "k"+strconv.Itoa(n), n, 0).Err(); err != nil {
		t.Fatalf("compatible: write through the primary endpoint: %v", err)
	}
	if err := cc.Set(ctx, "k"+strconv.Itoa(n+1), n+1, 0).Err(); err != nil {
		t.Fatalf("compatible: write through the configuration endpoint: %v", err)
	}
	if ev := groupEvents(t, w, "mig"); !slices.Contains(ev, "Cluster mode of replication group mig modified from disabled to compatible") {
		t.Errorf("events = %q", ev)
	}

	// A failover in compatible: the primary endpoint and the roles follow
	// the shard's new primary.
	before := primaryOf(g)
	if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("mig"), NodeGroupId: aws.String("0001")}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "mig")
	for deadline := time.Now().Add(30 * time.Second); primaryOf(g) == before && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		waitGroupAvailable(t, w.ec, "mig")
		g = w.describeGroup(t, "mig")
	}
	if now := primaryOf(g); now == before || g.NodeGroups[0].PrimaryEndpoint == nil {
		t.Fatalf("after TestFailover in compatible: primary %s (was %s), primary endpoint %v", now, before, g.NodeGroups[0].PrimaryEndpoint)
	}
	moved := goredis.NewClient(&goredis.Options{Addr: hostPort(g.NodeGroups[0].PrimaryEndpoint)})
	defer moved.Close()
	if err := moved.Set(ctx, "after-failover", "yes", 0).Err(); err != nil {
		t.Fatalf("write through the primary endpoint after the failover: %v", err)
	}
	cc.ReloadState(ctx)
	check("compatible, after a failover", cc, n+2)

	// Resharding waits for enabled.
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("mig"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); code(err) != "InvalidParameterCombination" {
		t.Errorf("reshard in compatible = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mig"),
		ClusterMode: ectypes.ClusterModeEnabled, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "mig")
	g = w.describeGroup(t, "mig")
	if string(g.ClusterMode) != "enabled" || !aws.ToBool(g.ClusterEnabled) || g.ConfigurationEndpoint == nil || g.NodeGroups[0].PrimaryEndpoint != nil {
		t.Fatalf("enabled: cluster mode %s, enabled %v, configuration endpoint %v, primary endpoint %v", string(g.ClusterMode),
			aws.ToBool(g.ClusterEnabled), g.ConfigurationEndpoint, g.NodeGroups[0].PrimaryEndpoint)
	}
	check("enabled", cc, n+2)
	if v, err := cc.Get(ctx, "after-failover").Result(); err != nil || v != "yes" {
		t.Errorf("after-failover = %q, %v", v, err)
	}

	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("mig"), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "mig")
	g = w.describeGroup(t, "mig")
	if len(g.NodeGroups) != 2 {
		t.Fatalf("node groups after the reshard: %d, want 2", len(g.NodeGroups))
	}
	cc.ReloadState(ctx)
	check("resharded", cc, n+2)
	var sizes []int64
	var mu sync.Mutex
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		size, err := m.DBSize(ctx).Result()
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, size)
		return err
	}); err != nil || len(sizes) != 2 || sizes[0]+sizes[1] != n+3 || sizes[0] == 0 || sizes[1] == 0 {
		t.Errorf("keys by primary = %v, %v; want %d on two", sizes, err, n+3)
	}
}

// groupEvents are the messages of a group's events of the last hour.
func groupEvents(t *testing.T, w *world, id string) []string {
	t.Helper()
	ev, err := w.ec.DescribeEvents(context.Background(), &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeReplicationGroup,
		SourceIdentifier: aws.String(id), StartTime: aws.Time(time.Now().Add(-time.Hour))})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ev.Events {
		out = append(out, aws.ToString(e.Message))
	}
	return out
}

// TestClusterModeCompatibleCreateLoopback: CreateReplicationGroup with
// ClusterMode compatible makes a group of one node group whose engines are
// one Redis Cluster shard (the default .cluster.on parameter group), with
// the primary, reader and configuration endpoints; more than one node
// group, or a parameter group without cluster mode, is refused.
func TestClusterModeCompatibleCreateLoopback(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	create := func(edit func(in *elasticache.CreateReplicationGroupInput)) (*elasticache.CreateReplicationGroupOutput, error) {
		in := &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("born"), ReplicationGroupDescription: aws.String("d"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true),
			ClusterMode: ectypes.ClusterModeCompatible}
		if edit != nil {
			edit(in)
		}
		return w.ec.CreateReplicationGroup(ctx, in)
	}
	for name, edit := range map[string]func(in *elasticache.CreateReplicationGroupInput){
		"TwoNodeGroups": func(in *elasticache.CreateReplicationGroupInput) {
			in.NumCacheClusters, in.NumNodeGroups, in.ReplicasPerNodeGroup = nil, aws.Int32(2), aws.Int32(1)
		},
		"ParamGroupWithoutCluster": func(in *elasticache.CreateReplicationGroupInput) {
			in.CacheParameterGroupName = aws.String("default.redis7")
		},
	} {
		if _, err := create(edit); code(err) != "InvalidParameterCombination" {
			t.Errorf("%s: CreateReplicationGroup = %v, want InvalidParameterCombination", name, err)
		}
	}
	out, err := create(nil)
	if err != nil {
		t.Fatal(err)
	}
	if g := out.ReplicationGroup; g.ClusterMode != ectypes.ClusterModeCompatible || !slices.Equal(g.MemberClusters, []string{"born-001", "born-002"}) {
		t.Errorf("CreateReplicationGroup = cluster mode %s, members %v", g.ClusterMode, g.MemberClusters)
	}
	waitGroupAvailable(t, w.ec, "born")
	g := w.describeGroup(t, "born")
	if g.ClusterMode != ectypes.ClusterModeCompatible || g.ConfigurationEndpoint == nil || g.NodeGroups[0].PrimaryEndpoint == nil {
		t.Fatalf("compatible: cluster mode %s, configuration endpoint %v, primary endpoint %v", g.ClusterMode, g.ConfigurationEndpoint, g.NodeGroups[0].PrimaryEndpoint)
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{hostPort(g.ConfigurationEndpoint)}})
	defer cc.Close()
	plain := goredis.NewClient(&goredis.Options{Addr: hostPort(g.NodeGroups[0].PrimaryEndpoint)})
	defer plain.Close()
	for i := range 100 {
		if err := cc.Set(ctx, "c"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := plain.DBSize(ctx).Result(); err != nil || n != 100 {
		t.Errorf("DBSIZE through the primary endpoint = %d, %v; want 100", n, err)
	}
}

// TestClusterModeMigrationSurvivesRestart: the service stops while a
// change to compatible rolls through the members — while the primary
// restarts as a cluster node, and once it is one and a replica is not yet
// — and the service started again finishes it from the store; no key is
// lost.
func TestClusterModeMigrationSurvivesRestart(t *testing.T) {
	t.Run("PrimaryRestarting", func(t *testing.T) {
		migrationRestart(t, func(status, pgs map[string]string) bool {
			return pgs["mid-001"] == "default.redis7.cluster.on"
		})
	})
	t.Run("ReplicasRolling", func(t *testing.T) {
		migrationRestart(t, func(status, pgs map[string]string) bool {
			return pgs["mid-001"] == "default.redis7.cluster.on" && status["mid-001"] == "available" && pgs["mid-003"] == "default.redis7"
		})
	})
}

// migrationRestart changes a group of 1 primary + 2 replicas to
// compatible and restarts the service as soon as midway holds of its
// members' statuses and parameter groups.
func migrationRestart(t *testing.T, midway func(status, pgs map[string]string) bool) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("mid"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "mid")
	g := w.describeGroup(t, "mid")
	plain := goredis.NewClient(&goredis.Options{Addr: hostPort(g.NodeGroups[0].PrimaryEndpoint)})
	defer plain.Close()
	const n = 500
	for i := range n {
		if err := plain.Set(ctx, "k"+strconv.Itoa(i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("mid"),
		ClusterMode: ectypes.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	members := func() (status, pgs map[string]string) {
		out, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
		if err != nil {
			t.Fatal(err)
		}
		status, pgs = map[string]string{}, map[string]string{}
		for _, c := range out.CacheClusters {
			status[aws.ToString(c.CacheClusterId)] = aws.ToString(c.CacheClusterStatus)
			pgs[aws.ToString(c.CacheClusterId)] = aws.ToString(c.CacheParameterGroup.CacheParameterGroupName)
		}
		return status, pgs
	}
	reached := false
	for deadline := time.Now().Add(30 * time.Second); !reached && time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		reached = midway(members())
	}
	if !reached {
		status, pgs := members()
		t.Fatalf("the change never was midway: statuses %v, parameter groups %v", status, pgs)
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	cfg := app.Config{Listen: "127.0.0.1:0", DataDir: w.env.DataDir, Network: app.NetworkLoopback}
	if p := os.Getenv("CLUSTER_DEBUG_LOG"); p != "" {
		f, _ := os.Create(p)
		cfg.Logger = slog.New(slog.NewTextHandler(f, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	a := app.New(cfg)
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	waitGroupAvailable(t, w.ec, "mid")
	g = w.describeGroup(t, "mid")
	if g.ClusterMode != ectypes.ClusterModeCompatible || g.ConfigurationEndpoint == nil {
		t.Fatalf("after the restart: cluster mode %s, configuration endpoint %v", g.ClusterMode, g.ConfigurationEndpoint)
	}
	_, pgs := members()
	for id, pg := range pgs {
		if pg != "default.redis7.cluster.on" {
			t.Errorf("member %s on parameter group %s", id, pg)
		}
	}
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{hostPort(g.ConfigurationEndpoint)}})
	defer cc.Close()
	for i := range n {
		if v, err := cc.Get(ctx, "k"+strconv.Itoa(i)).Result(); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("k%d = %q, %v after the restart", i, v, err)
		}
	}
	nodes, err := cc.ClusterNodes(ctx).Result()
	if err != nil || strings.Count(nodes, " slave ") != 2 || strings.Count(nodes, " master ")+strings.Count(nodes, ",master ") != 1 {
		t.Errorf("CLUSTER NODES = %q, %v; want a primary and 2 replicas", nodes, err)
	}
}

// TestClusterModeMigrationKeepsWrites: a client writes through the primary
// endpoint without pause while the group changes to compatible; every
// write acknowledged is there afterwards, read through the configuration
// endpoint. How long the primary endpoint refused writes is logged (the
// primary's restart as a cluster node, and Redis OSS 7.0's 2 s before a
// new cluster primary takes writes).
func TestClusterModeMigrationKeepsWrites(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("busy"),
		ReplicationGroupDescription: aws.String("d"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "busy")
	g := w.describeGroup(t, "busy")
	plain := goredis.NewClient(&goredis.Options{Addr: hostPort(g.NodeGroups[0].PrimaryEndpoint), MaxRetries: -1,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond})
	defer plain.Close()
	stop := make(chan struct{})
	done := make(chan struct{})
	var acked []int
	var failed int
	var longest time.Duration
	go func() {
		defer close(done)
		var downSince time.Time
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := plain.Set(ctx, "w"+strconv.Itoa(i), i, 0).Err(); err != nil {
				failed++
				if downSince.IsZero() {
					downSince = time.Now()
				}
				time.Sleep(5 * time.Millisecond)
				continue
			}
			if !downSince.IsZero() {
				longest = max(longest, time.Since(downSince))
				downSince = time.Time{}
			}
			acked = append(acked, i)
		}
	}()
	time.Sleep(200 * time.Millisecond) // some writes before
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("busy"),
		ClusterMode: ectypes.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "busy")
	time.Sleep(200 * time.Millisecond) // some writes after
	close(stop)
	<-done
	t.Logf("writes through the primary endpoint during the change: %d acknowledged, %d refused, longest refusal %s",
		len(acked), failed, longest.Round(time.Millisecond))
	g = w.describeGroup(t, "busy")
	cc := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{hostPort(g.ConfigurationEndpoint)}})
	defer cc.Close()
	for _, i := range acked {
		if v, err := cc.Get(ctx, "w"+strconv.Itoa(i)).Result(); err != nil || v != strconv.Itoa(i) {
			t.Fatalf("acknowledged write w%d = %q, %v after the change", i, v, err)
		}
	}
	if len(acked) == 0 {
		t.Fatal("no write acknowledged")
	}
}
