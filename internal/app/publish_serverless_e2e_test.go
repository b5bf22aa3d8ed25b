package app_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// waitServerless polls a serverless cache until it is available.
func (w *groupHostEnv) waitServerless(t *testing.T, name string) ectypes.ServerlessCache {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		out, err := w.ec.DescribeServerlessCaches(context.Background(), &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String(name)})
		if err == nil && len(out.ServerlessCaches) == 1 && aws.ToString(out.ServerlessCaches[0].Status) == "available" {
			return out.ServerlessCaches[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("serverless cache %s not available after 2 minutes: %v", name, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A published serverless cache: its one name resolves on the host to one
// published address serving both ports; redis-cli --tls trusting the
// installation's CA writes on 6379, and in cluster mode follows the MOVED
// a read on 6380 answers to the name the engines announce; go-redis's
// ClusterClient, from CLUSTER SLOTS, does the same; a security group that
// opens only 6379 to the host makes 6380 fail; unpublishing restores the
// hosts file.
func TestPublishedServerless(t *testing.T) {
	w := startGroupHost(t)
	ctx := context.Background()
	vpc, _, _ := w.ne.DefaultVPC(t)
	sg := w.ne.CreateGroup(t, "pub-sls", vpc)
	w.ne.AllowIn(t, sg, nettest.TCPPerm(6379, "169.254.64.1/32"))
	if _, err := w.ec.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("psls"),
		Engine: aws.String("redis"), SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatal(err)
	}
	sc := w.waitServerless(t, "psls")
	name := aws.ToString(sc.Endpoint.Address)
	ca, code := cachalot(t, w.env.DataDir, "ca")
	if code != 0 {
		t.Fatalf("cachalot ca = %d %s", code, ca)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := cachalot(t, w.env.DataDir, "publish", "psls")
	if code != 0 || !strings.Contains(out, name) || !strings.Contains(out, ":6379") || !strings.Contains(out, ":6380") {
		t.Fatalf("cachalot publish psls = %d:\n%s\nwant %s on 6379 and 6380", code, out, name)
	}
	w.ne.WaitIdle(t)
	block := hostsBlock(t, w.hosts, w.prefix)
	if len(block) != 1 || len(linesOf(block, name)) != 1 {
		t.Fatalf("hosts block = %q, want one line naming %s", block, name)
	}
	tls := []string{"--tls", "--cacert", caFile, "-h", name}
	waitFor(t, "redis-cli --tls -h "+name+" -p 6379 set", func() (string, bool) {
		got, ok := redisCLI(w.hosts, append(tls, "-p", "6379", "set", "k", "serverless")...)
		return got, ok && got == "OK"
	})
	// 6380 is closed to the host: only 6379 is allowed.
	if got, ok := redisCLI(w.hosts, append(tls, "-p", "6380", "ping")...); ok && got == "PONG" {
		t.Errorf("6380 answered %q with only 6379 open to the host", got)
	}
	w.ne.AllowIn(t, sg, nettest.TCPPerm(6380, "169.254.64.1/32"))
	// A read on the replica port without READONLY is moved to the
	// primary at the announced name, which redis-cli -c follows.
	waitFor(t, "redis-cli --tls -c -h "+name+" -p 6380 get", func() (string, bool) {
		got, ok := redisCLI(w.hosts, append(tls, "-c", "-p", "6380", "get", "k")...)
		return got, ok && got == "serverless"
	})
	if slots, _ := redisCLI(w.hosts, append(tls, "-p", "6379", "cluster", "slots")...); !strings.Contains(slots, name+"\n6379") || !strings.Contains(slots, name+"\n6380") {
		t.Errorf("CLUSTER SLOTS = %q, want %s on 6379 and 6380", slots, name)
	}

	// go-redis's ClusterClient, in a process whose /etc/hosts is the
	// test's hosts file, starting from the endpoint.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	script := `mount --bind "$0" /etc/hosts && exec "$@"`
	cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script, w.hosts,
		self, "-test.run", "^TestHostClusterClient$", "-test.count", "1", "-test.v")
	cmd.Env = append(os.Environ(), clusterClientEnv+"="+name+":6379", clusterCAEnv+"="+caFile)
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "--- PASS: TestHostClusterClient") {
		t.Fatalf("ClusterClient from the host: %v\n%s", err, out)
	}

	if out, code := cachalot(t, w.env.DataDir, "unpublish", "psls"); code != 0 {
		t.Fatalf("cachalot unpublish psls = %d:\n%s", code, out)
	}
	w.ne.WaitIdle(t)
	if b, _ := os.ReadFile(w.hosts); string(b) != machineHosts {
		t.Errorf("hosts file after unpublish = %q, want the machine's", b)
	}
}
