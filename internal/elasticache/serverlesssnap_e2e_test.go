package elasticache_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// waitSnap waits until serverless snapshot name has status want
// ("deleted": it is gone).
func (w *serverlessWorld) waitSnap(t *testing.T, name, want string) ectypes.ServerlessCacheSnapshot {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := w.ec.DescribeServerlessCacheSnapshots(context.Background(), &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheSnapshotName: aws.String(name)})
		if want == "deleted" && code(err) == "ServerlessCacheSnapshotNotFoundFault" {
			return ectypes.ServerlessCacheSnapshot{}
		}
		if err != nil {
			t.Fatalf("DescribeServerlessCacheSnapshots(%s) = %v", name, err)
		}
		sn := out.ServerlessCacheSnapshots[0]
		if aws.ToString(sn.Status) == want {
			return sn
		}
		if time.Now().After(deadline) {
			t.Fatalf("serverless snapshot %s is %s, want %s", name, aws.ToString(sn.Status), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func snapARN(name string) string {
	return "arn:aws:elasticache:us-east-1:000000000000:serverlesscachesnapshot:" + name
}

// snapshotAPI: the serverless snapshot operations on available cache
// cache, with real engines: create (creating, then available), duplicate
// names, filters and pages, copy, tags, export refused, hidden from the
// node-based API, delete.
func (w *serverlessWorld) snapshotAPI(t *testing.T, cache string) {
	t.Helper()
	ctx := context.Background()
	out, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String(cache),
		ServerlessCacheSnapshotName: aws.String("S1"), Tags: []ectypes.Tag{{Key: aws.String("k"), Value: aws.String("v")}}})
	if err != nil {
		t.Fatal(err)
	}
	sn := out.ServerlessCacheSnapshot
	if aws.ToString(sn.ServerlessCacheSnapshotName) != "s1" || aws.ToString(sn.ARN) != snapARN("s1") || aws.ToString(sn.Status) != "creating" ||
		aws.ToString(sn.SnapshotType) != "manual" || aws.ToString(sn.ServerlessCacheConfiguration.ServerlessCacheName) != cache {
		t.Errorf("CreateServerlessCacheSnapshot = name %s, ARN %s, status %s, type %s", aws.ToString(sn.ServerlessCacheSnapshotName),
			aws.ToString(sn.ARN), aws.ToString(sn.Status), aws.ToString(sn.SnapshotType))
	}
	for _, tc := range []struct {
		name, cache, snap, code string
	}{
		{"duplicate", cache, "s1", "ServerlessCacheSnapshotAlreadyExistsFault"},
		{"unknown-cache", "nope", "s9", "ServerlessCacheNotFoundFault"},
		{"bad-name", cache, "a--b", "InvalidParameterValue"},
	} {
		_, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String(tc.cache),
			ServerlessCacheSnapshotName: aws.String(tc.snap)})
		if code(err) != tc.code {
			t.Errorf("CreateServerlessCacheSnapshot %s = %v, want %s", tc.name, err, tc.code)
		}
	}
	s1 := w.waitSnap(t, "s1", "available")
	if n, err := strconv.Atoi(aws.ToString(s1.BytesUsedForCache)); err != nil || n <= 0 {
		t.Errorf("BytesUsedForCache = %q, want the RDB file's size", aws.ToString(s1.BytesUsedForCache))
	}
	if _, err := w.ec.CopyServerlessCacheSnapshot(ctx, &elasticache.CopyServerlessCacheSnapshotInput{SourceServerlessCacheSnapshotName: aws.String("s1"),
		TargetServerlessCacheSnapshotName: aws.String("s1")}); code(err) != "ServerlessCacheSnapshotAlreadyExistsFault" {
		t.Errorf("CopyServerlessCacheSnapshot onto s1 = %v, want ServerlessCacheSnapshotAlreadyExistsFault", err)
	}
	cp, err := w.ec.CopyServerlessCacheSnapshot(ctx, &elasticache.CopyServerlessCacheSnapshotInput{SourceServerlessCacheSnapshotName: aws.String("s1"),
		TargetServerlessCacheSnapshotName: aws.String("s2")})
	if err != nil || aws.ToString(cp.ServerlessCacheSnapshot.Status) != "available" {
		t.Fatalf("CopyServerlessCacheSnapshot = %v, %v; want s2 available", cp, err)
	}
	var names []string
	var token *string
	for {
		page, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheName: aws.String(cache),
			SnapshotType: aws.String("manual"), MaxResults: aws.Int32(1), NextToken: token})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range page.ServerlessCacheSnapshots {
			names = append(names, aws.ToString(s.ServerlessCacheSnapshotName))
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if strings.Join(names, ",") != "s1,s2" {
		t.Errorf("paged snapshots of %s = %v, want s1,s2", cache, names)
	}
	if auto, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{SnapshotType: aws.String("automated")}); err != nil || len(auto.ServerlessCacheSnapshots) != 0 {
		t.Errorf("automated serverless snapshots = %v, %v; want none", auto, err)
	}
	if nb, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{}); err != nil || len(nb.Snapshots) != 0 {
		t.Errorf("DescribeSnapshots = %v, %v; want no node-based snapshot", nb, err)
	}
	if _, err := w.ec.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String("serverless--s1")}); code(err) != "SnapshotNotFoundFault" {
		t.Errorf("DescribeSnapshots(serverless--s1) = %v, want SnapshotNotFoundFault", err)
	}
	tags, err := w.ec.ListTagsForResource(ctx, &elasticache.ListTagsForResourceInput{ResourceName: aws.String(snapARN("s1"))})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Key) != "k" {
		t.Errorf("ListTagsForResource(s1) = %v, %v; want k=v", tags, err)
	}
	if _, err := w.ec.ExportServerlessCacheSnapshot(ctx, &elasticache.ExportServerlessCacheSnapshotInput{ServerlessCacheSnapshotName: aws.String("s1"),
		S3BucketName: aws.String("b")}); code(err) != "InvalidParameterValue" {
		t.Errorf("ExportServerlessCacheSnapshot = %v, want InvalidParameterValue (no S3)", err)
	}
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("from-valkey"), Engine: aws.String("redis"),
		SnapshotArnsToRestore: []string{snapARN("s1")}}); code(err) != "InvalidParameterCombination" {
		t.Errorf("restore of a Valkey snapshot into a Redis OSS cache = %v, want InvalidParameterCombination", err)
	}
	for _, n := range []string{"s2", "s1"} {
		d, err := w.ec.DeleteServerlessCacheSnapshot(ctx, &elasticache.DeleteServerlessCacheSnapshotInput{ServerlessCacheSnapshotName: aws.String(n)})
		if err != nil || aws.ToString(d.ServerlessCacheSnapshot.Status) != "deleting" {
			t.Errorf("DeleteServerlessCacheSnapshot(%s) = %v, %v; want deleting", n, d, err)
		}
		w.waitSnap(t, n, "deleted")
	}
}

// TestServerlessSnapshotRestore: keys written to a serverless cache over
// TLS are in a snapshot of it, and in a new serverless cache restored from
// the snapshot, read over TLS with the slots whole; a final snapshot
// deletes its cache once taken; restores that cannot be are refused.
func TestServerlessSnapshotRestore(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &serverlessWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	w.ca = exportCA(t, dir)

	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("src"), Engine: aws.String("redis")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String("src"),
		ServerlessCacheSnapshotName: aws.String("early")}); code(err) != "InvalidServerlessCacheStateFault" {
		t.Errorf("CreateServerlessCacheSnapshot of a creating cache = %v, want InvalidServerlessCacheStateFault", err)
	}
	src := w.wait(t, "src", "available")
	host := aws.ToString(src.Endpoint.Address)
	for i := 0; i < 20; i++ {
		if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", fmt.Sprintf("key:%d", i), fmt.Sprintf("value-%d", i)); err != nil || out != "OK" {
			t.Fatalf("SET key:%d = %q, %v", i, out, err)
		}
	}
	if _, err := w.ec.CreateServerlessCacheSnapshot(ctx, &elasticache.CreateServerlessCacheSnapshotInput{ServerlessCacheName: aws.String("src"),
		ServerlessCacheSnapshotName: aws.String("snap")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("early"), Engine: aws.String("redis"),
		SnapshotArnsToRestore: []string{snapARN("snap")}}); code(err) != "InvalidServerlessCacheSnapshotStateFault" && code(err) != "" {
		t.Errorf("restore from a creating snapshot = %v, want InvalidServerlessCacheSnapshotStateFault", err)
	} else if err == nil {
		w.wait(t, "early", "available") // the snapshot was taken already
	}
	w.waitSnap(t, "snap", "available")
	ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceType: ectypes.SourceTypeServerlessCache, SourceIdentifier: aws.String("src")})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ev.Events {
		msgs = append(msgs, aws.ToString(e.Message))
	}
	if got := strings.Join(msgs, "; "); !strings.Contains(got, "Serverless cache src: Snapshot succeeded for snapshot with ID 'snap' of serverless cache with ID 'src'") {
		t.Errorf("events of src = %q, want the snapshot's success", got)
	}
	// Keys written after the snapshot are not in it.
	if out, err := w.cli(t, w.eni, host, 6379, "-c", "SET", "later", "x"); err != nil || out != "OK" {
		t.Fatalf("SET later = %q, %v", out, err)
	}

	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("mc"), Engine: aws.String("memcached"),
		SnapshotArnsToRestore: []string{snapARN("snap")}}); code(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), "Memcached") {
		t.Errorf("restore of a Redis OSS snapshot into a Memcached cache = %v, want InvalidParameterCombination", err)
	}
	created, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("dst"), Engine: aws.String("redis"),
		SnapshotArnsToRestore: []string{snapARN("snap")}})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(created.ServerlessCache.Status) != "creating" {
		t.Errorf("restored cache status %s, want creating", aws.ToString(created.ServerlessCache.Status))
	}
	dst := w.wait(t, "dst", "available")
	dhost := aws.ToString(dst.Endpoint.Address)
	for i := 0; i < 20; i++ {
		if out, err := w.cli(t, w.eni, dhost, 6379, "-c", "GET", fmt.Sprintf("key:%d", i)); err != nil || out != fmt.Sprintf("value-%d", i) {
			t.Errorf("GET key:%d on the restored cache = %q, %v; want value-%d", i, out, err, i)
		}
	}
	if out, _ := w.cli(t, w.eni, dhost, 6379, "-c", "EXISTS", "later"); out != "0" {
		t.Errorf("EXISTS later on the restored cache = %q, want 0 (written after the snapshot)", out)
	}
	// The seeded primary holds every slot, the replica follows it.
	var slots string
	for i := 0; i < 100; i++ {
		slots, _ = w.cli(t, w.eni, dhost, 6379, "CLUSTER", "SLOTS")
		f := strings.Fields(slots)
		if len(f) >= 8 && f[0] == "0" && f[1] == "16383" && f[3] == "6379" && strings.Count(slots, "16383") == 1 && strings.Contains(slots, "\n6380\n") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if f := strings.Fields(slots); len(f) < 8 || f[0] != "0" || f[1] != "16383" || f[3] != "6379" || strings.Count(slots, "16383") != 1 || !strings.Contains(slots, "\n6380\n") {
		t.Errorf("CLUSTER SLOTS of the restored cache =\n%s\nwant one range 0-16383 on 6379 with a replica on 6380", slots)
	}
	w.readsOn6380(t, w.eni, dhost, "key:3", "value-3")
	if out, err := w.cli(t, w.eni, dhost, 6379, "-c", "SET", "new", "y"); err != nil || out != "OK" {
		t.Errorf("SET on the restored cache = %q, %v", out, err)
	}
	w.waitSnap(t, "snap", "available") // no longer restoring

	// A final snapshot: the cache is deleted once it is taken, and the
	// snapshot restores.
	del, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("dst"), FinalSnapshotName: aws.String("snap")})
	if code(err) != "ServerlessCacheSnapshotAlreadyExistsFault" {
		t.Errorf("DeleteServerlessCache with a final snapshot name in use = %v, %v; want ServerlessCacheSnapshotAlreadyExistsFault", del, err)
	}
	del, err = w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String("dst"), FinalSnapshotName: aws.String("dst-final")})
	if err != nil || aws.ToString(del.ServerlessCache.Status) != "deleting" {
		t.Fatalf("DeleteServerlessCache(dst, final) = %v, %v; want deleting", del, err)
	}
	if sc, err := w.describe(t, "dst"); err == nil && aws.ToString(sc.Status) != "deleting" {
		t.Errorf("dst while its final snapshot is taken is %s, want deleting", aws.ToString(sc.Status))
	} else if err != nil && code(err) != "ServerlessCacheNotFoundFault" {
		t.Error(err)
	}
	w.wait(t, "dst", "deleted")
	final := w.waitSnap(t, "dst-final", "available")
	if aws.ToString(final.ServerlessCacheConfiguration.ServerlessCacheName) != "dst" {
		t.Errorf("final snapshot of %s, want dst", aws.ToString(final.ServerlessCacheConfiguration.ServerlessCacheName))
	}
	if out, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheName: aws.String("dst")}); err != nil || len(out.ServerlessCacheSnapshots) != 1 {
		t.Errorf("snapshots of the deleted cache dst = %v, %v; want its final snapshot", out, err)
	}
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("again"), Engine: aws.String("redis"),
		SnapshotArnsToRestore: []string{snapARN("dst-final")}}); err != nil {
		t.Fatal(err)
	}
	again := w.wait(t, "again", "available")
	ahost := aws.ToString(again.Endpoint.Address)
	for _, kv := range [][2]string{{"key:7", "value-7"}, {"new", "y"}} {
		if out, err := w.cli(t, w.eni, ahost, 6379, "-c", "GET", kv[0]); err != nil || out != kv[1] {
			t.Errorf("GET %s on the cache restored from the final snapshot = %q, %v; want %s", kv[0], out, err, kv[1])
		}
	}
	w.dailySnapshot(t, "again")
	for _, name := range []string{"src", "again", "early"} {
		if _, err := w.ec.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String(name)}); err != nil && code(err) != "ServerlessCacheNotFoundFault" {
			t.Error(err)
		}
	}
	for _, name := range []string{"src", "again", "early"} {
		w.wait(t, name, "deleted")
	}
}

// dailySnapshot: a retention and a DailySnapshotTime of this minute make
// the cache take its automatic snapshot now (type automated, named
// automatic.<cache>-YYYY-MM-DD-HH-MM); a retention of 0 expires it.
func (w *serverlessWorld) dailySnapshot(t *testing.T, cache string) {
	t.Helper()
	ctx := context.Background()
	daily := time.Now().UTC().Format("15:04")
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String(cache),
		SnapshotRetentionLimit: aws.Int32(1), DailySnapshotTime: aws.String(daily)}); err != nil {
		t.Fatal(err)
	}
	automated := func() []ectypes.ServerlessCacheSnapshot {
		out, err := w.ec.DescribeServerlessCacheSnapshots(ctx, &elasticache.DescribeServerlessCacheSnapshotsInput{ServerlessCacheName: aws.String(cache),
			SnapshotType: aws.String("automated")})
		if err != nil {
			t.Fatal(err)
		}
		return out.ServerlessCacheSnapshots
	}
	deadline := time.Now().Add(time.Minute)
	var got []ectypes.ServerlessCacheSnapshot
	for got = automated(); (len(got) != 1 || aws.ToString(got[0].Status) != "available") && time.Now().Before(deadline); got = automated() {
		time.Sleep(100 * time.Millisecond)
	}
	if len(got) != 1 || aws.ToString(got[0].Status) != "available" || !strings.HasPrefix(aws.ToString(got[0].ServerlessCacheSnapshotName), "automatic."+cache+"-") ||
		aws.ToString(got[0].SnapshotType) != "automated" {
		t.Fatalf("automated snapshots of %s (daily at %s, retention 1) = %+v, want one available automatic.%s-…", cache, daily, got, cache)
	}
	t.Logf("daily snapshot %s", aws.ToString(got[0].ServerlessCacheSnapshotName))
	w.wait(t, cache, "available")
	if _, err := w.ec.ModifyServerlessCache(ctx, &elasticache.ModifyServerlessCacheInput{ServerlessCacheName: aws.String(cache),
		SnapshotRetentionLimit: aws.Int32(0)}); err != nil {
		t.Fatal(err)
	}
	w.waitSnap(t, aws.ToString(got[0].ServerlessCacheSnapshotName), "deleted")
}
