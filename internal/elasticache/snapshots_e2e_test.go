package elasticache_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// fillScript writes ARGV[1] keys of every type (string, list, hash, set,
// sorted set), every other one with a TTL of an hour or more.
const fillScript = `
for i = 1, tonumber(ARGV[1]) do
  local k = 'key:' .. i
  local t = i % 5
  if t == 0 then redis.call('SET', k, 'value-' .. i)
  elseif t == 1 then redis.call('RPUSH', k, 'a' .. i, 'b', 'c' .. i)
  elseif t == 2 then redis.call('HSET', k, 'f1', i, 'f2', 'x' .. i)
  elseif t == 3 then redis.call('SADD', k, 'm' .. i, 'n', 'o' .. i)
  else redis.call('ZADD', k, i, 'z' .. i, i / 7, 'y') end
  if i % 2 == 0 then redis.call('PEXPIRE', k, 3600000 + i) end
end
return redis.call('DBSIZE')`

// stateScript returns every key with its type, value and remaining TTL
// in milliseconds. The value is the serialised one (DUMP), but for sets
// and hashes, whose order a hash table loaded again may change: their
// sorted members or fields and values.
const stateScript = `
local out = {}
for _, k in ipairs(redis.call('KEYS', '*')) do
  local t = redis.call('TYPE', k)['ok']
  local v
  if t == 'set' then
    v = redis.call('SMEMBERS', k)
  elseif t == 'hash' then
    local h = redis.call('HGETALL', k)
    v = {}
    for i = 1, #h, 2 do v[#v+1] = h[i] .. '=' .. h[i+1] end
  end
  if v then table.sort(v); v = table.concat(v, '\n') else v = redis.call('DUMP', k) end
  out[#out+1] = k
  out[#out+1] = t
  out[#out+1] = v
  out[#out+1] = redis.call('PTTL', k)
end
return out`

// keyState is one key as stateScript reports it.
type keyState struct {
	typ, dump string
	pttl      int64
}

// cacheState is every key of a cache and when it was read.
type cacheState struct {
	keys map[string]keyState
	at   time.Time
}

func dialNode(t *testing.T, ep *ectypes.Endpoint) *redis.Conn {
	t.Helper()
	c, err := redis.Dial(context.Background(), net.JoinHostPort(aws.ToString(ep.Address), fmt.Sprint(aws.ToInt32(ep.Port))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func readState(t *testing.T, c *redis.Conn) cacheState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	at := time.Now()
	v, err := c.Do(ctx, "EVAL", stateScript, "0")
	if err != nil {
		t.Fatalf("read state: %v", err)
	}
	a := v.([]any)
	st := cacheState{keys: map[string]keyState{}, at: at}
	for i := 0; i+3 < len(a); i += 4 {
		st.keys[a[i].(string)] = keyState{typ: a[i+1].(string), dump: a[i+2].(string), pttl: a[i+3].(int64)}
	}
	return st
}

// sameData compares every key, type and value of two caches, and their
// remaining TTLs: the restored one, read later, less by at most the time
// between the reads (and 5 s for the scripts' own running time).
func sameData(t *testing.T, what string, was, now cacheState) {
	t.Helper()
	if len(now.keys) != len(was.keys) {
		t.Errorf("%s: %d keys, want %d", what, len(now.keys), len(was.keys))
	}
	elapsed := now.at.Sub(was.at).Milliseconds() + 5000
	bad := 0
	for k, w := range was.keys {
		g, ok := now.keys[k]
		switch {
		case !ok:
			t.Errorf("%s: key %s missing", what, k)
		case g.typ != w.typ || g.dump != w.dump:
			t.Errorf("%s: key %s is %s %q, want %s %q", what, k, g.typ, g.dump, w.typ, w.dump)
		case (w.pttl < 0) != (g.pttl < 0) || w.pttl >= 0 && (g.pttl > w.pttl || w.pttl-g.pttl > elapsed):
			t.Errorf("%s: key %s has TTL %d ms, want %d less at most %d", what, k, g.pttl, w.pttl, elapsed)
		default:
			continue
		}
		if bad++; bad > 5 {
			t.Fatalf("%s: more differences left out", what)
		}
	}
}

func (w *world) waitSnapshot(t *testing.T, name, want string) ectypes.Snapshot {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := w.ec.DescribeSnapshots(context.Background(), &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name), ShowNodeGroupConfig: aws.Bool(true)})
		if want == "deleted" && code(err) == "SnapshotNotFoundFault" {
			return ectypes.Snapshot{}
		}
		if err != nil {
			t.Fatalf("DescribeSnapshots(%s) = %v", name, err)
		}
		if s := out.Snapshots[0]; aws.ToString(s.SnapshotStatus) == want {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %s is %s, want %s", name, aws.ToString(out.Snapshots[0].SnapshotStatus), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *world) sourceEvents(t *testing.T, id string) []string {
	t.Helper()
	out, err := w.ec.DescribeEvents(context.Background(), &elasticache.DescribeEventsInput{SourceIdentifier: aws.String(id), Duration: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range out.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	return msgs
}

// snapshotFiles lists the RDB files of the snapshot store.
func snapshotFiles(t *testing.T, dataDir string) []string {
	t.Helper()
	ents, err := os.ReadDir(app.SnapshotsDir(dataDir))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

// TestSnapshotRestore: keys of every type with TTLs, snapshotted from a
// cluster, then the cluster deleted with a final snapshot; both restored
// (a cluster and a replication group of two) with every key, type, value
// and remaining TTL; copies, deletion and the snapshot store's files.
func TestSnapshotRestore(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	const keys = 100000
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.m5.large")}); err != nil {
		t.Fatal(err)
	}
	src := dialNode(t, w.waitStatus(t, "src", "available").CacheNodes[0].Endpoint)
	if n, err := src.Do(ctx, "EVAL", fillScript, "0", fmt.Sprint(keys)); err != nil || n != int64(keys) {
		t.Fatalf("fill = %v, %v", n, err)
	}
	was := readState(t, src)

	out, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("snap1"),
		Tags: []ectypes.Tag{{Key: aws.String("team"), Value: aws.String("cache")}}})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.Snapshot.SnapshotStatus); s != "creating" {
		t.Errorf("CreateSnapshot status = %s, want creating", s)
	}
	snap := w.waitSnapshot(t, "snap1", "available")
	checkSnapshot(t, snap)
	if msgs := w.sourceEvents(t, "src"); !slices.Contains(msgs, "Snapshot succeeded for snapshot with ID 'snap1' of cache cluster with ID 'src'") {
		t.Errorf("events of src = %q", msgs)
	}
	w.waitStatus(t, "src", "available")
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("snap1")}); code(err) != "SnapshotAlreadyExistsFault" {
		t.Errorf("CreateSnapshot(snap1 again) = %v, want SnapshotAlreadyExistsFault", err)
	}

	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("src"), FinalSnapshotIdentifier: aws.String("src-final")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "src", "deleted")
	w.waitSnapshot(t, "src-final", "available")

	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("dst"), SnapshotName: aws.String("src-final")}); err != nil {
		t.Fatal(err)
	}
	dst := w.waitStatus(t, "dst", "available")
	if aws.ToString(dst.CacheNodeType) != "cache.m5.large" {
		t.Errorf("restored node type = %s, want the snapshot's", aws.ToString(dst.CacheNodeType))
	}
	sameData(t, "cluster restored from the final snapshot", was, readState(t, dialNode(t, dst.CacheNodes[0].Endpoint)))
	w.waitSnapshot(t, "src-final", "available")

	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("rg"),
		ReplicationGroupDescription: aws.String("restored"), NumCacheClusters: aws.Int32(2), SnapshotName: aws.String("snap1")}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "rg")
	sameData(t, "group primary restored", was, readState(t, dialNode(t, w.waitStatus(t, "rg-001", "available").CacheNodes[0].Endpoint)))
	replica := dialNode(t, w.waitStatus(t, "rg-002", "available").CacheNodes[0].Endpoint)
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := replica.Do(ctx, "DBSIZE"); n != int64(keys) && time.Now().Before(deadline); n, _ = replica.Do(ctx, "DBSIZE") {
		time.Sleep(50 * time.Millisecond)
	}
	sameData(t, "group replica", was, readState(t, replica))

	w.copyAndDelete(t)
	w.groupSnapshots(t)
}

// groupSnapshots: a group's snapshot is taken from a replica, described
// with its node group; deleting the group with a final snapshot takes one
// more before the members go.
func (w *world) groupSnapshots(t *testing.T) {
	ctx := context.Background()
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{ReplicationGroupId: aws.String("rg"), SnapshotName: aws.String("rg-manual")}); err != nil {
		t.Fatal(err)
	}
	s := w.waitSnapshot(t, "rg-manual", "available")
	ns := s.NodeSnapshots
	if aws.ToString(s.ReplicationGroupId) != "rg" || aws.ToInt32(s.NumNodeGroups) != 1 || len(ns) != 1 ||
		aws.ToString(ns[0].CacheClusterId) != "rg-002" || aws.ToString(ns[0].NodeGroupId) != "0001" ||
		ns[0].NodeGroupConfiguration == nil || aws.ToInt32(ns[0].NodeGroupConfiguration.ReplicaCount) != 1 {
		t.Errorf("group snapshot = %+v, node snapshots %+v", s, ns)
	}
	if msgs := w.sourceEvents(t, "rg"); !slices.Contains(msgs, "Snapshot succeeded for snapshot with ID 'rg-manual' of replication group with ID 'rg'") {
		t.Errorf("events of rg = %q", msgs)
	}
	waitGroupAvailable(t, w.ec, "rg")
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("rg"),
		FinalSnapshotIdentifier: aws.String("rg-final")}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rg")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	w.waitSnapshot(t, "rg-final", "available")
	out, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{ReplicationGroupId: aws.String("rg")})
	if err != nil || len(out.Snapshots) != 2 {
		t.Errorf("DescribeSnapshots(ReplicationGroupId rg) = %d, %v; want 2", len(out.Snapshots), err)
	}
	if files := snapshotFiles(t, w.env.DataDir); len(files) != 2 {
		t.Errorf("snapshot store = %q, want the files of rg-manual and rg-final", files)
	}
}

// TestSnapshotSurvivesRestart: a snapshot requested just before the
// service stops (its take interrupted, or not begun) is taken after the
// restart, whole, and restores.
func TestSnapshotSurvivesRestart(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.m5.large")}); err != nil {
		t.Fatal(err)
	}
	src := dialNode(t, w.waitStatus(t, "src", "available").CacheNodes[0].Endpoint)
	if _, err := src.Do(ctx, "EVAL", fillScript, "0", "100000"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	if err := w.env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: w.env.DataDir, Network: app.NetworkLoopback})
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	w.env.App, w.env.URL = a, a.URL()
	w.ec = elasticache.NewFromConfig(w.env.Config())
	w.waitSnapshot(t, "s", "available")
	w.waitStatus(t, "src", "available")
	for _, f := range snapshotFiles(t, w.env.DataDir) {
		if strings.HasSuffix(f, ".tmp") {
			t.Errorf("temporary file %s left in the snapshot store", f)
		}
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("dst"), SnapshotName: aws.String("s")}); err != nil {
		t.Fatal(err)
	}
	dst := dialNode(t, w.waitStatus(t, "dst", "available").CacheNodes[0].Endpoint)
	if n, err := dst.Do(ctx, "DBSIZE"); err != nil || n != int64(100000) {
		t.Errorf("DBSIZE of the restored cluster = %v, %v; want 100000", n, err)
	}
}

// checkSnapshot checks the fields of a cluster's snapshot.
func checkSnapshot(t *testing.T, s ectypes.Snapshot) {
	t.Helper()
	if !strings.HasSuffix(aws.ToString(s.ARN), ":snapshot:snap1") || aws.ToString(s.SnapshotSource) != "manual" ||
		aws.ToString(s.CacheClusterId) != "src" || aws.ToString(s.Engine) != "redis" || aws.ToString(s.CacheNodeType) != "cache.m5.large" ||
		aws.ToInt32(s.Port) != 6379 || aws.ToString(s.CacheParameterGroupName) == "" || s.CacheClusterCreateTime == nil {
		t.Errorf("snapshot = %+v", s)
	}
	if len(s.NodeSnapshots) != 1 {
		t.Fatalf("NodeSnapshots = %+v", s.NodeSnapshots)
	}
	ns := s.NodeSnapshots[0]
	if aws.ToString(ns.CacheNodeId) != "0001" || aws.ToString(ns.CacheSize) == "0 MB" || !strings.HasSuffix(aws.ToString(ns.CacheSize), " MB") || ns.SnapshotCreateTime == nil {
		t.Errorf("NodeSnapshots[0] = %+v (CacheSize %s)", ns, aws.ToString(ns.CacheSize))
	}
}

// copyAndDelete: a copy is available at once and shares the files; the
// snapshot store keeps a file while a snapshot names it.
func (w *world) copyAndDelete(t *testing.T) {
	ctx := context.Background()
	if _, err := w.ec.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("snap1"), TargetSnapshotName: aws.String("snap1-copy")}); err != nil {
		t.Fatal(err)
	}
	w.waitSnapshot(t, "snap1-copy", "available")
	if _, err := w.ec.CopySnapshot(ctx, &elasticache.CopySnapshotInput{SourceSnapshotName: aws.String("snap1"), TargetSnapshotName: aws.String("x"),
		TargetBucket: aws.String("bucket")}); code(err) != "InvalidParameterValue" {
		t.Errorf("CopySnapshot(TargetBucket) = %v, want InvalidParameterValue", err)
	}
	files := snapshotFiles(t, w.env.DataDir)
	if len(files) != 2 {
		t.Errorf("snapshot store = %q, want the files of snap1 and src-final", files)
	}
	all, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{CacheClusterId: aws.String("src")})
	if err != nil || len(all.Snapshots) != 3 {
		t.Errorf("DescribeSnapshots(CacheClusterId src) = %d snapshots, %v; want 3", len(all.Snapshots), err)
	}
	for _, name := range []string{"snap1", "snap1-copy", "src-final"} {
		del, err := w.ec.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String(name)})
		if err != nil {
			t.Fatal(err)
		}
		if s := aws.ToString(del.Snapshot.SnapshotStatus); s != "deleting" {
			t.Errorf("DeleteSnapshot(%s) status = %s, want deleting", name, s)
		}
		w.waitSnapshot(t, name, "deleted")
		if name == "snap1" && len(snapshotFiles(t, w.env.DataDir)) != 2 {
			t.Errorf("snap1's file removed while its copy names it")
		}
	}
	ctxIdle, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := w.env.App.WaitIdle(ctxIdle); err != nil {
		t.Fatal(err)
	}
	if files := snapshotFiles(t, w.env.DataDir); len(files) != 0 {
		t.Errorf("snapshot store after every snapshot is deleted = %q", files)
	}
	if _, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("snap1")}); code(err) != "SnapshotNotFoundFault" {
		t.Errorf("DescribeSnapshots(deleted) = %v, want SnapshotNotFoundFault", err)
	}
}

// TestSnapshotRefusals: Memcached has no snapshots; a snapshot needs a
// source; restores from S3 are refused.
func TestSnapshotRefusals(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("mc"),
		Engine: aws.String("memcached"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("mc"), SnapshotName: aws.String("s")}); code(err) != "SnapshotFeatureNotSupportedFault" {
		t.Errorf("CreateSnapshot(memcached) = %v, want SnapshotFeatureNotSupportedFault", err)
	}
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{SnapshotName: aws.String("s")}); code(err) != "InvalidParameterCombination" {
		t.Errorf("CreateSnapshot(no source) = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("nope"), SnapshotName: aws.String("s")}); code(err) != "CacheClusterNotFound" {
		t.Errorf("CreateSnapshot(no cluster) = %v, want CacheClusterNotFound", err)
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("r"), SnapshotArns: []string{"arn:aws:s3:::b/x.rdb"},
		CacheNodeType: aws.String("cache.t3.micro")}); code(err) != "InvalidParameterValue" {
		t.Errorf("CreateCacheCluster(SnapshotArns) = %v, want InvalidParameterValue", err)
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("r"), SnapshotName: aws.String("nope")}); code(err) != "SnapshotNotFoundFault" {
		t.Errorf("CreateCacheCluster(SnapshotName nope) = %v, want SnapshotNotFoundFault", err)
	}
	if _, err := w.ec.DeleteSnapshot(ctx, &elasticache.DeleteSnapshotInput{SnapshotName: aws.String("nope")}); code(err) != "SnapshotNotFoundFault" {
		t.Errorf("DeleteSnapshot(nope) = %v, want SnapshotNotFoundFault", err)
	}
	if _, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{MaxRecords: aws.Int32(100)}); code(err) != "InvalidParameterValue" {
		t.Errorf("DescribeSnapshots(MaxRecords 100) = %v, want InvalidParameterValue", err)
	}
	for _, in := range []*elasticache.CreateCacheClusterInput{
		{SnapshotRetentionLimit: aws.Int32(36)},
		{SnapshotWindow: aws.String("05:00-05:30")},
		{SnapshotWindow: aws.String("5-6")},
	} {
		in.CacheClusterId, in.CacheNodeType = aws.String("bad"), aws.String("cache.t3.micro")
		if _, err := w.ec.CreateCacheCluster(ctx, in); code(err) != "InvalidParameterValue" {
			t.Errorf("CreateCacheCluster(retention %d, window %s) = %v, want InvalidParameterValue", aws.ToInt32(in.SnapshotRetentionLimit), aws.ToString(in.SnapshotWindow), err)
		}
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		ReplicationGroupDescription: aws.String("g"), CacheNodeType: aws.String("cache.t3.micro")}); err != nil {
		t.Fatal(err)
	}
	waitGroupAvailable(t, w.ec, "g")
	_, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"), SnapshotRetentionLimit: aws.Int32(3)})
	if code(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), "Must specify both SnapshotRetentionLimit and SnapshottingClusterId") {
		t.Errorf("ModifyReplicationGroup(SnapshotRetentionLimit only) = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("g"),
		SnapshotRetentionLimit: aws.Int32(3), SnapshottingClusterId: aws.String("g-001")}); err != nil {
		t.Errorf("ModifyReplicationGroup(SnapshotRetentionLimit, SnapshottingClusterId) = %v", err)
	}
}
