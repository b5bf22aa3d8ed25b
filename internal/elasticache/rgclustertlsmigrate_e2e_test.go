package elasticache_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestClusterModeTransitMigration: a cluster-mode group (2 shards, a
// replica each) created without TLS gets it in the two steps, real
// engines, redis-cli -c from an instance. In preferred, cluster clients
// in plaintext and with --tls --cacert both follow the cluster through
// the configuration endpoint (old and new names) to the nodes' port, which
// the nodes announce (never their own split ports); in required plaintext
// is refused; every key written before is read back at each step.
func TestClusterModeTransitMigration(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &clusterWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "shardtls"}}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ReplicationGroupDescription: aws.String("tls later"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName: aws.String("default.redis7.cluster.on")}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	plainCfg := aws.ToString(g.ConfigurationEndpoint.Address)
	ca := exportCA(t, dir)
	const n = 100
	cli := func(tls bool) string {
		if tls {
			return "timeout 8 redis-cli --tls --cacert " + ca + " -c -h "
		}
		return "timeout 8 redis-cli -c -h "
	}
	// try runs a script on the instance until it prints want.
	try := func(what, script, want string) {
		t.Helper()
		var out string
		for i := 0; i < 100; i++ {
			if out, _ = w.run(t, w.eni, "bash", "-c", script); strings.TrimSpace(out) == want {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: %s = %q, want %q", what, script, out, want)
	}
	write := func(what string, tls bool, host, round string) {
		t.Helper()
		try(what, fmt.Sprintf(`for i in $(seq 1 %d); do echo "SET %s:$i v$i"; done | %s%s | grep -v Redirected | sort | uniq -c | sed 's/^ *//'`,
			n, round, cli(tls), host), fmt.Sprintf("%d OK", n))
	}
	read := func(what string, tls bool, host, round string) {
		t.Helper()
		try(what, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET %s:$i"; done | %s%s | grep -v Redirected | awk '{ok += ($0 == "v" NR)} END {print ok}'`,
			n, round, cli(tls), host), fmt.Sprint(n))
	}
	write("plaintext, no TLS", false, plainCfg, "before")

	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id), ApplyImmediately: aws.Bool(true),
		TransitEncryptionEnabled: aws.Bool(true), TransitEncryptionMode: ectypes.TransitEncryptionModePreferred}); err != nil {
		t.Fatalf("preferred: %v", err)
	}
	g = w.waitGroup(t, "preferred", func(g ectypes.ReplicationGroup) bool {
		return g.TransitEncryptionMode == ectypes.TransitEncryptionModePreferred
	})
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	if !strings.HasPrefix(w.cfg, "clustercfg."+w.id+".") {
		t.Fatalf("preferred: configuration endpoint %s, want clustercfg.%s.…", w.cfg, w.id)
	}
	read("preferred: TLS, new name", true, w.cfg, "before")
	read("preferred: plaintext, new name", false, w.cfg, "before")
	read("preferred: plaintext, old name", false, plainCfg, "before")
	write("preferred: TLS write", true, w.cfg, "during")
	read("preferred: plaintext read of the TLS writes", false, plainCfg, "during")
	// The nodes announce the cache port, never the engine's own ports.
	try("preferred: announced ports", cli(true)+w.cfg+` cluster slots | grep -E '^[0-9]+$' | awk '$1 > 20000 && $1 < 30000' | wc -l`, "0")

	if _, err := w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id), ApplyImmediately: aws.Bool(true),
		TransitEncryptionMode: ectypes.TransitEncryptionModeRequired}); err != nil {
		t.Fatalf("required: %v", err)
	}
	w.waitGroup(t, "required", func(g ectypes.ReplicationGroup) bool {
		return g.TransitEncryptionMode == ectypes.TransitEncryptionModeRequired
	})
	read("required: TLS", true, w.cfg, "before")
	read("required: TLS, written in preferred", true, w.cfg, "during")
	if out, _ := w.run(t, w.eni, "bash", "-c", "timeout 3 redis-cli -h "+w.cfg+" ping"); out == "PONG" {
		t.Error("required: plaintext answered PONG")
	}
	write("required: TLS write", true, w.cfg, "after")
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(w.id)}); err != nil {
		t.Fatal(err)
	}
}
