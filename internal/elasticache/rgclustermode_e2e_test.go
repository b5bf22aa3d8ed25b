package elasticache_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestClusterModeMigration: a group without cluster mode (a primary and a
// replica, Redis OSS 7, real engines in real namespaces) is changed to
// cluster mode compatible — the service restarted while it changes — and
// then enabled, then resharded to two shards, as ElastiCache's "Modifying
// cluster mode" goes. From an instance: keys written with redis-cli
// through the primary endpoint before are read back with redis-cli -c
// through the configuration endpoint; in compatible the primary endpoint
// still takes writes (plain redis-cli), which the cluster client sees;
// after the reshard redis-cli --cluster check finds every key in one of
// two shards.
func TestClusterModeMigration(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &clusterWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "legacy"}, masters: 1}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ReplicationGroupDescription: aws.String("to cluster mode"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	primaryName := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)
	const n = 200
	w.cfg = primaryName // redis-cli -c against a node without cluster mode is plain redis-cli
	w.writeKeys(t, n, "before")

	out, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ClusterMode: ectypes.ClusterModeCompatible, ApplyImmediately: aws.Bool(true)})
	if err != nil {
		t.Fatalf("compatible: %v", err)
	}
	if rg := out.ReplicationGroup; aws.ToString(rg.Status) != "modifying" || rg.PendingModifiedValues.ClusterMode != ectypes.ClusterModeCompatible {
		t.Errorf("ModifyReplicationGroup = %s, pending cluster mode %q", aws.ToString(rg.Status), rg.PendingModifiedValues.ClusterMode)
	}
	w.restartMidway(t)
	g = w.waitGroup(t, "compatible", func(g ectypes.ReplicationGroup) bool { return g.ClusterMode == ectypes.ClusterModeCompatible })
	if g.ConfigurationEndpoint == nil || g.NodeGroups[0].PrimaryEndpoint == nil || aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address) != primaryName {
		t.Fatalf("compatible: configuration endpoint %v, primary endpoint %v (was %s)", g.ConfigurationEndpoint, g.NodeGroups[0].PrimaryEndpoint, primaryName)
	}
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	if !strings.HasPrefix(w.cfg, w.id+".") || !strings.Contains(w.cfg, ".clustercfg.") {
		t.Errorf("configuration endpoint %s, want %s.….clustercfg.…", w.cfg, w.id)
	}
	w.readKeys(t, n, "before")
	w.byName(t, primaryName, "OK", "set", "plain-write", "through the primary endpoint")
	if got := strings.TrimSpace(w.cli(t, "timeout 5 redis-cli -c -h "+w.cfg+" get plain-write")); got != "through the primary endpoint" {
		t.Errorf("cluster client reads the primary endpoint's write = %q", got)
	}
	w.check(t, n+1)
	if ev := w.events(t, ectypes.SourceTypeReplicationGroup, w.id); !slices.Contains(ev, "Cluster mode of replication group legacy modified from disabled to compatible") {
		t.Errorf("events = %q", ev)
	}

	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ClusterMode: ectypes.ClusterModeEnabled, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("enabled: %v", err)
	}
	g = w.waitGroup(t, "enabled", func(g ectypes.ReplicationGroup) bool { return g.ClusterMode == ectypes.ClusterModeEnabled })
	if !aws.ToBool(g.ClusterEnabled) || g.NodeGroups[0].PrimaryEndpoint != nil {
		t.Errorf("enabled: cluster enabled %v, primary endpoint %v", aws.ToBool(g.ClusterEnabled), g.NodeGroups[0].PrimaryEndpoint)
	}
	w.readKeys(t, n, "before")

	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String(w.id), NodeGroupCount: aws.Int32(2), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("reshard: %v", err)
	}
	g = w.waitGroup(t, "resharded", func(g ectypes.ReplicationGroup) bool { return len(g.NodeGroups) == 2 })
	w.masters = 2
	w.check(t, n+1)
	w.readKeys(t, n, "before")
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(w.id)}); err != nil {
		t.Fatal(err)
	}
}

// restartMidway restarts Cachalot while its group is changing: the new
// service finds the change in the store and finishes it.
func (w *groupWorld) restartMidway(t *testing.T) {
	t.Helper()
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.dir})
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
}
