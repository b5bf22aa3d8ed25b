package app_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	ecdomain "github.com/cachalot-dev/cachalot/internal/elasticache"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/engine/redis"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/cachalot-dev/cachalot/internal/vpcnet"
)

// TestReadoptAfterMigration: caches created by the previous version in the
// loopback mode (internal/store/testdata/v1-loopback.db: a Redis cluster
// and a 2-node Memcached cluster) come back under the new version on the
// host ports they had, which now live in the VPC-network controller's keys
// and in no domain record; after a restart of the daemon their engines are
// re-adopted, not restarted.
func TestReadoptAfterMigration(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../store/testdata/v1-loopback.db")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, app.StoreFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	env := apptest.Start(t, func(c *app.Config) { c.DataDir = dir; c.Network = app.NetworkLoopback })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}

	// The previous version's ports (testdata/README.md), as Describe says.
	want := map[string]string{
		"legacy-redis 0001":       "127.0.0.1:35221",
		"legacy-memcached 0001":   "127.0.0.1:44203",
		"legacy-memcached 0002":   "127.0.0.1:42743",
		"legacy-memcached config": "127.0.0.1:36137",
		"legacy-memcached status": "available",
		"legacy-redis status":     "available",
	}
	ec := elasticache.NewFromConfig(env.Config())
	got := describeEndpoints(t, ec)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("after the migration (-want +got):\n%s", diff)
	}

	// The ports are vpcnet's (the migration's keys are its keys), and no
	// cluster record holds one.
	err = env.App.Store().View(ctx, func(tx store.Tx) error {
		ifaces := map[string]ifacePort{}
		if err := store.ScanJSON(tx, "elasticache/000000000000/us-east-1/cluster/", func(_ string, c *ecdomain.Cluster) error {
			for _, n := range c.Nodes {
				ifaces[c.ID+" "+n.ID] = ifacePort{n.InterfaceID, c.Port}
			}
			if c.ConfigInterfaceID != "" {
				ifaces[c.ID+" config"] = ifacePort{c.ConfigInterfaceID, c.Port}
			}
			return nil
		}); err != nil {
			return err
		}
		if len(ifaces) != 4 {
			t.Errorf("interfaces of the clusters = %v, want three nodes and a configuration endpoint", ifaces)
		}
		for name, iface := range ifaces {
			var rec vpcnet.HostPortRecord
			if err := store.GetJSON(tx, vpcnet.HostPortKey(iface.id, iface.port), &rec); err != nil {
				t.Errorf("%s: host port of %s/%d: %v", name, iface.id, iface.port, err)
			} else if addr := "127.0.0.1:" + strconv.Itoa(rec.HostPort); addr != want[name] {
				t.Errorf("%s: vpcnet keeps %s, want %s", name, addr, want[name])
			}
		}
		return tx.Scan("elasticache/", func(k string, v []byte) error {
			if strings.Contains(k, "/cluster/") && strings.Contains(string(v), "HostPort") {
				t.Errorf("%s holds a host port: %s", k, v)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	checkCaches(t, want)

	// A restart re-adopts the engines: same processes, same answers.
	pids := map[string]int{}
	for _, id := range []string{"legacy-redis.0001", "legacy-memcached.0001", "legacy-memcached.0002"} {
		pids[id] = enginePID(t, dir, "000000000000.us-east-1."+id)
	}
	if err := env.App.Close(); err != nil {
		t.Fatal(err)
	}
	a2 := app.New(app.Config{Listen: "127.0.0.1:0", DataDir: dir, Network: app.NetworkLoopback, Logger: slog.New(slog.DiscardHandler)})
	// Closed before apptest's cleanup tears the installation down, or its
	// supervisor would restart the engines being torn down.
	t.Cleanup(func() { a2.Close() })
	if err := a2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	env.App, env.URL = a2, a2.URL()
	if err := a2.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	for id, pid := range pids {
		if got := enginePID(t, dir, "000000000000.us-east-1."+id); got != pid {
			t.Errorf("after a restart %s runs pid %d, want %d re-adopted", id, got, pid)
		}
	}
	got = describeEndpoints(t, elasticache.NewFromConfig(env.Config()))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}
	checkCaches(t, want)
}

type ifacePort struct {
	id   string
	port int
}

// describeEndpoints summarises DescribeCacheClusters.
func describeEndpoints(t *testing.T, ec *elasticache.Client) map[string]string {
	t.Helper()
	out, err := ec.DescribeCacheClusters(context.Background(), &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range out.CacheClusters {
		id := aws.ToString(c.CacheClusterId)
		got[id+" status"] = aws.ToString(c.CacheClusterStatus)
		if ep := c.ConfigurationEndpoint; ep != nil {
			got[id+" config"] = net.JoinHostPort(aws.ToString(ep.Address), strconv.Itoa(int(aws.ToInt32(ep.Port))))
		}
		for _, n := range c.CacheNodes {
			got[id+" "+aws.ToString(n.CacheNodeId)] = net.JoinHostPort(aws.ToString(n.Endpoint.Address), strconv.Itoa(int(aws.ToInt32(n.Endpoint.Port))))
		}
	}
	return got
}

// checkCaches talks to every cache where Describe says it is: PING, the
// memcached version, and auto discovery on the configuration endpoint.
func checkCaches(t *testing.T, want map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := redis.Dial(ctx, want["legacy-redis 0001"])
	if err != nil {
		t.Fatalf("redis: %v", err)
	}
	defer rc.Close()
	if got, err := rc.Do(ctx, "PING"); err != nil || got != "PONG" {
		t.Errorf("redis PING = %v, %v", got, err)
	}
	for _, n := range []string{"0001", "0002"} {
		mc, err := memcached.Dial(ctx, want["legacy-memcached "+n])
		if err != nil {
			t.Fatalf("memcached %s: %v", n, err)
		}
		if _, err := mc.Version(ctx); err != nil {
			t.Errorf("memcached %s version: %v", n, err)
		}
		mc.Close()
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", want["legacy-memcached config"])
	if err != nil {
		t.Fatalf("configuration endpoint: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(c, "config get cluster\r\n")
	r := bufio.NewReader(c)
	var payload []string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("config get cluster: %v after %q", err, payload)
		}
		if line == "END\r\n" {
			break
		}
		payload = append(payload, strings.TrimSpace(line))
	}
	nodes := strings.Join(payload, " ")
	for _, n := range []string{"0001", "0002"} {
		_, port, _ := net.SplitHostPort(want["legacy-memcached "+n])
		if !strings.Contains(nodes, "127.0.0.1|127.0.0.1|"+port) {
			t.Errorf("config get cluster = %q, missing node %s on %s", payload, n, port)
		}
	}
}

// enginePID reads the pid of a node's engine from the supervisor's state.
func enginePID(t *testing.T, dataDir, nodeID string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "engines", nodeID, "cachalot-node.json"))
	if err != nil {
		t.Fatalf("engine state of %s: %v", nodeID, err)
	}
	var st struct {
		PID int `json:"pid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.PID == 0 {
		t.Fatalf("engine state of %s: %s %v", nodeID, b, err)
	}
	return st.PID
}
