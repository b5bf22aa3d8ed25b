package elasticache_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	ecdomain "github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// streamScript adds ARGV[1] streams of three entries (a consumer group on
// every other one), every third one with a TTL of an hour or more.
const streamScript = `
for i = 1, tonumber(ARGV[1]) do
  local k = 'stream:' .. i
  redis.call('XADD', k, '1-1', 'a', i)
  redis.call('XADD', k, '2-1', 'b', 'x' .. i)
  redis.call('XADD', k, '3-1', 'c', 'y')
  if i % 2 == 0 then redis.call('XGROUP', 'CREATE', k, 'g', '0') end
  if i % 3 == 0 then redis.call('PEXPIRE', k, 3600000 + i) end
end
return redis.call('DBSIZE')`

// reslotKeys is how many keys the re-slotting restore tests write:
// 20,000 by default (CI, under the race detector on 2 shared cores), the
// issue's 100,000 with CACHALOT_RESLOT_KEYS=100000 (make restore-100k).
func reslotKeys(t *testing.T) int {
	if v := os.Getenv("CACHALOT_RESLOT_KEYS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("CACHALOT_RESLOT_KEYS=%q: want a number of keys, at least 100", v)
		}
		return n
	}
	return 20000
}

// TestSnapshotReslotRestore is the restore test: keys of every
// type (strings, lists, hashes, sets, sorted sets, streams), half with
// TTLs, snapshotted from a cluster, the cluster deleted with a final
// snapshot; the final snapshot restored into a single-node cluster, the
// first into a 3-shard cluster-mode group — a snapshot without cluster
// mode re-slotted, every key moved into the shard owning its slot while
// the group is creating and the snapshot restoring — and every key,
// type, value and remaining TTL compared. The group's re-slotted
// snapshot is then restored again into 2 shards of other slots.
func TestSnapshotReslotRestore(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	keys := reslotKeys(t)
	streams := keys / 20
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.m5.large")}); err != nil {
		t.Fatal(err)
	}
	src := dialNode(t, w.waitStatus(t, "src", "available").CacheNodes[0].Endpoint)
	if n, err := src.Do(ctx, "EVAL", fillScript, "0", fmt.Sprint(keys-streams)); err != nil || n != int64(keys-streams) {
		t.Fatalf("fill = %v, %v", n, err)
	}
	if n, err := src.Do(ctx, "EVAL", streamScript, "0", fmt.Sprint(streams)); err != nil || n != int64(keys) {
		t.Fatalf("fill streams = %v, %v", n, err)
	}
	was := readState(t, src)
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	w.waitSnapshot(t, "snap", "available")
	w.waitStatus(t, "src", "available")
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("src"), FinalSnapshotIdentifier: aws.String("src-final")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "src", "deleted")
	w.waitSnapshot(t, "src-final", "available")

	w.reslotRefusals(t)

	// The final snapshot into a cluster.
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("one"), SnapshotName: aws.String("src-final")}); err != nil {
		t.Fatal(err)
	}
	// The first into three shards.
	start := time.Now()
	out, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("three"),
		ReplicationGroupDescription: aws.String("re-slotted"), SnapshotName: aws.String("snap"), NumNodeGroups: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true), CacheParameterGroupName: aws.String("default.redis7.cluster.on")})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.ReplicationGroup.Status); s != "creating" {
		t.Errorf("CreateReplicationGroup status = %s, want creating", s)
	}
	w.waitSnapshot(t, "snap", "restoring")
	sameData(t, "cluster restored from the final snapshot", was, readState(t, dialNode(t, w.waitStatus(t, "one", "available").CacheNodes[0].Endpoint)))

	waitGroupAvailable(t, w.ec, "three")
	t.Logf("%d keys restored into 3 shards: available after %v", keys, time.Since(start).Round(time.Millisecond))
	w.waitSnapshot(t, "snap", "available") // no longer restoring
	sameData(t, "3 shards restored from a snapshot without cluster mode", was, w.shardsState(t, "three"))
	if evs := w.sourceEvents(t, "three"); !slices.Contains(evs, "Replication group three created") {
		t.Errorf("events of three = %q", evs)
	}

	// A cluster-mode snapshot of 3 shards into 2 of other slots.
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("three"), SnapshotName: aws.String("three-snap")}); err != nil {
		t.Fatal(err)
	}
	if s := w.waitSnapshot(t, "three-snap", "available"); len(s.NodeSnapshots) != 3 {
		t.Fatalf("snapshot of three: %d node snapshots", len(s.NodeSnapshots))
	}
	waitGroupAvailable(t, w.ec, "three")
	was = w.shardsState(t, "three")
	start = time.Now()
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("two"),
		ReplicationGroupDescription: aws.String("re-slotted"), SnapshotName: aws.String("three-snap"), AutomaticFailoverEnabled: aws.Bool(true),
		NodeGroupConfiguration: []ectypes.NodeGroupConfiguration{{Slots: aws.String("0-99,9000-16383")}, {Slots: aws.String("100-8999")}}}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "two")
	t.Logf("%d keys restored from 3 shards into 2: available after %v", keys, time.Since(start).Round(time.Millisecond))
	sameData(t, "2 shards of other slots restored from 3", was, w.shardsState(t, "two"))
}

// reslotRefusals: a re-slotting restore's layout is checked as any
// cluster-mode group's: node group counts, slots overlapping or leaving a
// gap; nothing is created and the snapshot stays available.
func (w *world) reslotRefusals(t *testing.T) {
	ctx := context.Background()
	ngc := func(slots ...string) []ectypes.NodeGroupConfiguration {
		var out []ectypes.NodeGroupConfiguration
		for _, s := range slots {
			out = append(out, ectypes.NodeGroupConfiguration{Slots: aws.String(s)})
		}
		return out
	}
	for _, tc := range []struct {
		name, code string
		in         elasticache.CreateReplicationGroupInput
	}{
		{"TooManyShards", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NumNodeGroups: aws.Int32(91)}},
		{"NoShards", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NumNodeGroups: aws.Int32(0), ClusterMode: ectypes.ClusterModeEnabled}},
		{"SlotsOverlap", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NodeGroupConfiguration: ngc("0-9000", "8000-16383")}},
		{"SlotsGap", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NodeGroupConfiguration: ngc("0-8000", "8002-16383")}},
		{"SlotsPastEnd", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NodeGroupConfiguration: ngc("0-8000", "8001-16384")}},
		{"MoreConfigurations", "InvalidParameterValue", elasticache.CreateReplicationGroupInput{NumNodeGroups: aws.Int32(2), NodeGroupConfiguration: ngc("0-5000", "5001-10000", "10001-16383")}},
		{"FailoverOff", "InvalidParameterCombination", elasticache.CreateReplicationGroupInput{NumNodeGroups: aws.Int32(2), AutomaticFailoverEnabled: aws.Bool(false)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.ReplicationGroupId, in.ReplicationGroupDescription, in.SnapshotName = aws.String("bad"), aws.String("bad"), aws.String("snap")
			if in.AutomaticFailoverEnabled == nil {
				in.AutomaticFailoverEnabled = aws.Bool(true)
			}
			if _, err := w.ec.CreateReplicationGroup(ctx, &in); code(err) != tc.code {
				t.Errorf("restore = %v, want %s", err, tc.code)
			}
		})
	}
	if _, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("bad")}); code(err) != "ReplicationGroupNotFoundFault" {
		t.Errorf("a refused restore left a group: %v", err)
	}
	w.waitSnapshot(t, "snap", "available")
}

// shardsState reads every shard primary of a cluster-mode group (each
// key checked to be in the shard owning its slot) as one cache.
func (w *world) shardsState(t *testing.T, id string) cacheState {
	t.Helper()
	out, err := w.ec.DescribeReplicationGroups(context.Background(), &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	all := cacheState{keys: map[string]keyState{}}
	for _, ng := range out.ReplicationGroups[0].NodeGroups {
		owner, err := ecdomain.SlotOwners([]string{aws.ToString(ng.Slots)})
		if err != nil {
			t.Fatal(err)
		}
		var primary string
		for _, m := range ng.NodeGroupMembers {
			if aws.ToString(m.CurrentRole) == "primary" || len(ng.NodeGroupMembers) == 1 {
				primary = aws.ToString(m.CacheClusterId)
			}
		}
		st := readState(t, dialNode(t, w.waitStatus(t, primary, "available").CacheNodes[0].Endpoint))
		all.at = st.at // the last read: the TTLs' tolerance covers every shard's
		misplaced := 0
		for k, v := range st.keys {
			if owner[ecdomain.KeySlot(k)] != 0 {
				misplaced++
			}
			all.keys[k] = v
		}
		if misplaced > 0 {
			t.Errorf("node group %s (slots %s) holds %d keys of other slots", aws.ToString(ng.NodeGroupId), aws.ToString(ng.Slots), misplaced)
		}
	}
	return all
}

// TestReslotRestoreSurvivesRestart: the service stopped while a
// re-slotting restore has moved part of the keys (its temporary engine
// left running, as after kill -9) leaves the group creating; after the
// restart the load runs again, the group becomes available with every
// key, and no temporary engine is left.
func TestReslotRestoreSurvivesRestart(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	keys := reslotKeys(t)
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.m5.large")}); err != nil {
		t.Fatal(err)
	}
	src := dialNode(t, w.waitStatus(t, "src", "available").CacheNodes[0].Endpoint)
	if _, err := src.Do(ctx, "EVAL", fillScript, "0", fmt.Sprint(keys)); err != nil {
		t.Fatal(err)
	}
	was := readState(t, src)
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	w.waitSnapshot(t, "s", "available")
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("rs"),
		ReplicationGroupDescription: aws.String("d"), SnapshotName: aws.String("s"), NumNodeGroups: aws.Int32(3),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	var shards []*redis.Conn
	for i := 1; i <= 3; i++ {
		shards = append(shards, dialNode(t, w.waitStatus(t, fmt.Sprintf("rs-%04d-001", i), "available").CacheNodes[0].Endpoint))
	}
	// Stop once part of the keys is in.
	moved := int64(0)
	for deadline := time.Now().Add(time.Minute); moved == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no key moved into the shards in a minute")
		}
		moved = 0
		for _, c := range shards {
			n, _ := c.Do(ctx, "DBSIZE")
			k, _ := n.(int64)
			moved += k
		}
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("service stopped with %d of %d keys moved", moved, keys)
	if moved >= int64(keys) {
		t.Log("the load ended before the service stopped: the restart only settles it")
	}
	g, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rs")})
	if code(err) != "RequestCanceled" && err == nil && aws.ToString(g.ReplicationGroups[0].Status) == "available" && moved < int64(keys) {
		t.Fatal("group available before its keys were in")
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.env.DataDir, Network: app.NetworkLoopback})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	waitGroupAvailable(t, w.ec, "rs")
	sameData(t, "3 shards restored across a restart", was, w.shardsState(t, "rs"))
	w.waitSnapshot(t, "s", "available")
	ents, err := os.ReadDir(app.EnginesDir(w.env.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "reslot.") {
			t.Errorf("temporary engine %s left after the restore", e.Name())
		}
	}
}

// TestReslotRestoreOtherDatabases: a snapshot holding keys outside
// database 0 cannot be re-slotted (cluster mode has database 0 only): the
// group is create-failed with an event saying why, and the snapshot is
// available again.
func TestReslotRestoreOtherDatabases(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	src := dialNode(t, w.waitStatus(t, "src", "available").CacheNodes[0].Endpoint)
	for _, cmd := range [][]string{{"SET", "a", "0"}, {"SELECT", "3"}, {"SET", "b", "3"}} {
		if _, err := src.Do(ctx, cmd...); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("dbs")}); err != nil {
		t.Fatal(err)
	}
	w.waitSnapshot(t, "dbs", "available")
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("d"), SnapshotName: aws.String("dbs"), NumNodeGroups: aws.Int32(2),
		AutomaticFailoverEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		out, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("g")})
		if err != nil {
			t.Fatal(err)
		}
		st := aws.ToString(out.ReplicationGroups[0].Status)
		if st == "create-failed" {
			break
		}
		if st != "creating" || time.Now().After(deadline) {
			t.Fatalf("group restored from a snapshot with keys in database 3 is %s, want create-failed", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	evs := w.sourceEvents(t, "g")
	if !slices.ContainsFunc(evs, func(e string) bool { return strings.Contains(e, "databases other than 0") }) {
		t.Errorf("events of g = %q, want the restore's failure", evs)
	}
	w.waitSnapshot(t, "dbs", "available")
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("g")}); err != nil {
		t.Errorf("DeleteReplicationGroup(create-failed) = %v", err)
	}
}
