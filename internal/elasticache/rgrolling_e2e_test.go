package elasticache_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
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
	for _, m := range g.MemberClusters {
		w.eventually(t, m, "500", "dbsize")
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
