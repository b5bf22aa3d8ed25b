package elasticache_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
)

// TestEngineVersions: versions ElastiCache offers that no binary of their
// own is installed for are served by a compatible installed engine,
// recorded and described as asked, with the substitution in the events and
// in DescribeCacheEngineVersions. Loopback mode: no root needed.
func TestEngineVersions(t *testing.T) {
	w := newWorld(t, func(c *app.Config) { c.Network = app.NetworkLoopback })
	ctx := context.Background()
	cases := []struct{ id, engine, version, family string }{
		{"r62", "redis", "6.2", "redis6.x"},
		{"r71", "redis", "7.1", "redis7"},
		{"v72", "valkey", "7.2", "valkey7"},
		{"v80", "valkey", "8.0", "valkey8"},
		{"m1622", "memcached", "1.6.22", "memcached1.6"},
	}
	for _, tc := range cases {
		if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(tc.id),
			Engine: aws.String(tc.engine), EngineVersion: aws.String(tc.version),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
			t.Fatalf("CreateCacheCluster(%s %s) = %v", tc.engine, tc.version, err)
		}
	}
	for _, tc := range cases {
		c := w.waitStatus(t, tc.id, "available")
		if got := aws.ToString(c.EngineVersion); got != tc.version || aws.ToString(c.Engine) != tc.engine {
			t.Errorf("%s: engine = %s %s, want %s %s", tc.id, aws.ToString(c.Engine), got, tc.engine, tc.version)
		}
		if got := aws.ToString(c.CacheParameterGroup.CacheParameterGroupName); got != "default."+tc.family {
			t.Errorf("%s: parameter group = %s, want default.%s", tc.id, got, tc.family)
		}
		addr := net.JoinHostPort(aws.ToString(c.CacheNodes[0].Endpoint.Address), fmt.Sprint(aws.ToInt32(c.CacheNodes[0].Endpoint.Port)))
		if tc.engine == "memcached" {
			if got := memcachedVersion(t, addr); !strings.HasPrefix(got, "VERSION ") {
				t.Errorf("%s: version = %q", tc.id, got)
			}
		} else {
			rc, err := redis.Dial(ctx, addr)
			if err != nil {
				t.Fatalf("%s: dial %s: %v", tc.id, addr, err)
			}
			if got, err := rc.Do(ctx, "PING"); err != nil || got != "PONG" {
				t.Errorf("%s: PING = %v, %v", tc.id, got, err)
			}
			rc.Close()
		}
		ev, err := w.ec.DescribeEvents(ctx, &elasticache.DescribeEventsInput{SourceIdentifier: aws.String(tc.id)})
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, e := range ev.Events {
			msg := aws.ToString(e.Message)
			found = found || (strings.HasPrefix(msg, "Engine ") && strings.HasSuffix(msg, " serves requested "+tc.engine+" "+tc.version))
		}
		if !found {
			t.Errorf("%s: no substitution event in %+v", tc.id, ev.Events)
		}
	}
	vers, err := w.ec.DescribeCacheEngineVersions(ctx, &elasticache.DescribeCacheEngineVersionsInput{Engine: aws.String("valkey"), EngineVersion: aws.String("8.0")})
	if err != nil || len(vers.CacheEngineVersions) != 1 || !strings.Contains(aws.ToString(vers.CacheEngineVersions[0].CacheEngineVersionDescription), "served by ") {
		t.Errorf("DescribeCacheEngineVersions(valkey 8.0) = %+v, %v", vers, err)
	}
	for _, bad := range []struct{ engine, version string }{{"redis", "9.9"}, {"memcached", "1.3.0"}} {
		_, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("bad"),
			Engine: aws.String(bad.engine), EngineVersion: aws.String(bad.version),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)})
		if code(err) != "InvalidParameterValue" || !strings.Contains(err.Error(), "Valid versions") {
			t.Errorf("CreateCacheCluster(%s %s) = %v, want InvalidParameterValue listing valid versions", bad.engine, bad.version, err)
		}
	}
	modifiedToSubstitute(t, w)
	for _, tc := range cases {
		if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(tc.id)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		w.waitStatus(t, tc.id, "deleted")
	}
}

// modifiedToSubstitute: an engine version changed by ModifyCacheCluster or
// ModifyReplicationGroup (applied immediately) and served by another
// installed engine records the substitution, as the create does.
func modifiedToSubstitute(t *testing.T, w *world) {
	ctx := context.Background()
	const want = " serves requested valkey 8.1"
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("v80"),
		EngineVersion: aws.String("8.1"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("ModifyCacheCluster(v80 to 8.1) = %v", err)
	}
	if c := w.waitStatus(t, "v80", "available"); aws.ToString(c.EngineVersion) != "8.1" {
		t.Errorf("v80 engine version = %s after the modify, want 8.1", aws.ToString(c.EngineVersion))
	}
	if !hasEventSuffix(t, w, ectypes.SourceTypeCacheCluster, "v80", want) {
		t.Errorf("no event ending %q on v80", want)
	}
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("rgv"),
		ReplicationGroupDescription: aws.String("versions"), Engine: aws.String("valkey"), EngineVersion: aws.String("8.0"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheClusters: aws.Int32(1)}); err != nil {
		t.Fatal(err)
	}
	waiter := elasticache.NewReplicationGroupAvailableWaiter(w.ec, func(o *elasticache.ReplicationGroupAvailableWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rgv")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String("rgv"),
		EngineVersion: aws.String("8.1"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("ModifyReplicationGroup(rgv to 8.1) = %v", err)
	}
	if !hasEventSuffix(t, w, ectypes.SourceTypeReplicationGroup, "rgv", want) {
		t.Errorf("no event ending %q on rgv", want)
	}
	if err := waiter.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("rgv")}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("rgv")}); err != nil {
		t.Fatal(err)
	}
}

func hasEventSuffix(t *testing.T, w *world, source ectypes.SourceType, id, suffix string) bool {
	t.Helper()
	ev, err := w.ec.DescribeEvents(context.Background(), &elasticache.DescribeEventsInput{SourceType: source, SourceIdentifier: aws.String(id), Duration: aws.Int32(60)})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev.Events {
		if strings.HasSuffix(aws.ToString(e.Message), suffix) {
			return true
		}
	}
	return false
}

// memcachedVersion asks a memcached node for its version.
func memcachedVersion(t *testing.T, addr string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(conn, "version\r\n")
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("read version: %v", err)
	}
	return strings.TrimSpace(line)
}
