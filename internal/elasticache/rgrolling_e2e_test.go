package elasticache_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestReplicationGroupNodeTypeKeepsData: a node type change applied at
// once keeps every key, real engines in real namespaces — a group of a
// primary and two replicas rolls (replicas first, a failover to an
// updated replica, the old primary replaced as a replica), and a
// single-node group restarts its node on the data it saved.
func TestReplicationGroupNodeTypeKeepsData(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir}
	_, w.eni = w.instance(t)
	for _, tc := range []struct {
		id       string
		clusters int32
	}{{"rolled", 3}, {"solo", 1}} {
		t.Run(tc.id, func(t *testing.T) {
			w.id = tc.id
			w.nodeTypeChange(t, tc.clusters)
		})
	}
}

func (w *groupWorld) nodeTypeChange(t *testing.T, clusters int32) {
	ctx := context.Background()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ReplicationGroupDescription: aws.String(w.id), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(clusters), AutomaticFailoverEnabled: aws.Bool(clusters > 1)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "create", func(ectypes.ReplicationGroup) bool { return true })
	primaryName := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)
	const keys = 500
	script := "for i in $(seq 1 " + "500" + "); do echo SET key$i value$i; done | redis-cli -h " + primaryName + " >/dev/null && redis-cli -h " + primaryName + " dbsize"
	if out, err := w.run(t, w.eni, "sh", "-c", script); err != nil || out != "500" {
		t.Fatalf("writing %d keys = %q, %v", keys, out, err)
	}
	oldPrimary := primaryOf(g)
	stopProbe := w.probe(t, primaryName)

	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		CacheNodeType: aws.String("cache.t3.small"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g = w.waitGroup(t, "node type change", func(g ectypes.ReplicationGroup) bool {
		if aws.ToString(g.CacheNodeType) != "cache.t3.small" {
			return false
		}
		for _, m := range g.MemberClusters {
			c := w.waitStatus(t, m, "available")
			if aws.ToString(c.CacheNodeType) != "cache.t3.small" {
				return false
			}
		}
		return clusters == 1 || primaryOf(g) != oldPrimary
	})
	probes := stopProbe()
	// The primary endpoint answers writes throughout but for one window
	// (the failover, or the single node's restart).
	if windows := failureWindows(probes); windows > 1 || len(probes) == 0 || probes[len(probes)-1] != "ok" {
		t.Errorf("writes through the primary endpoint during the change: %d windows of failures in %q", windows, strings.Join(probes, " "))
	} else {
		t.Logf("writes through the primary endpoint during the change: %d of %d failed, in %d window(s)", len(probes)-strings.Count(strings.Join(probes, " "), "ok"), len(probes), windows)
	}
	for _, m := range g.MemberClusters {
		w.eventually(t, m, "501", "dbsize") // and the probe's key
	}
	w.byName(t, primaryName, "value500", "get", "key500")
	if out, _ := w.redis(t, primaryOf(g), "info", "memory"); !strings.Contains(out, "maxmemory:") || strings.Contains(out, "maxmemory:0\r") {
		t.Errorf("INFO memory of the primary = %q", out)
	}
	events := w.events(t, ectypes.SourceTypeReplicationGroup, w.id)
	failover := "Failover from primary node " + oldPrimary + " to replica node " + primaryOf(g) + " completed"
	if clusters > 1 && !slices.Contains(events, failover) {
		t.Errorf("replication group events = %q, want %q", events, failover)
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(w.id)}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(w.id)}, time.Minute); err != nil {
		t.Fatal(err)
	}
}

// probe writes through name from the instance, one redis-cli SET after the
// other (each resolving the name anew), until the returned function is
// called; it returns each write's outcome in order, "ok" or "fail".
func (w *groupWorld) probe(t *testing.T, name string) func() []string {
	t.Helper()
	stop := filepath.Join(t.TempDir(), "stop")
	script := `while [ ! -e "$0" ]; do if timeout 3 redis-cli -h "$1" set probe x 2>/dev/null | grep -q OK; then echo ok; else echo fail; fi; done`
	cmd, err := w.env.App.InstanceCommand(context.Background(), w.eni, "sh", "-c", script, stop, name)
	if err != nil {
		t.Fatal(err)
	}
	out := &apptest.Buffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200 && !strings.Contains(out.String(), "ok"); i++ {
		time.Sleep(10 * time.Millisecond) // the first write went through
	}
	return func() []string {
		if err := os.WriteFile(stop, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("probe: %v", err)
		}
		return strings.Fields(out.String())
	}
}

// failureWindows counts the runs of "fail" in probes.
func failureWindows(probes []string) int {
	n := 0
	for i, p := range probes {
		if p == "fail" && (i == 0 || probes[i-1] != "fail") {
			n++
		}
	}
	return n
}
