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

// TestClusterModeTLS: a group of 2 shards × (1 primary + 1 replica) with
// cluster mode and in-transit encryption (and an AUTH token), real
// engines in real namespaces. From an instance, redis-cli --tls --cacert
// -c through clustercfg.<rg>.… sets and gets keys on both shards,
// following the nodes' TLS names (CLUSTER SLOTS shows them); plain text
// is refused; a per-shard TestFailover keeps every key, and so does a
// scale out to 3 shards (MIGRATE over TLS with the token).
func TestClusterModeTLS(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &clusterWorld{groupWorld: &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "vault"}}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("vault"),
		ReplicationGroupDescription: aws.String("tls cluster"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumNodeGroups: aws.Int32(2), ReplicasPerNodeGroup: aws.Int32(1), AutomaticFailoverEnabled: aws.Bool(true),
		CacheParameterGroupName:  aws.String("default.redis7.cluster.on"),
		TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token1)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	if !aws.ToBool(g.TransitEncryptionEnabled) || g.TransitEncryptionMode != ectypes.TransitEncryptionModeRequired || !aws.ToBool(g.AuthTokenEnabled) {
		t.Errorf("group: transit %v mode %s auth %v; want TLS required with an AUTH token", aws.ToBool(g.TransitEncryptionEnabled), g.TransitEncryptionMode, aws.ToBool(g.AuthTokenEnabled))
	}
	w.cfg = aws.ToString(g.ConfigurationEndpoint.Address)
	if !strings.HasPrefix(w.cfg, "clustercfg.vault.") {
		t.Fatalf("configuration endpoint %s, want clustercfg.vault.…", w.cfg)
	}
	suffix := strings.TrimPrefix(w.cfg, "clustercfg") // .vault.<id6>.<rc>.<domain>
	ca := exportCA(t, dir)
	tlsCLI := "timeout 8 redis-cli --tls --cacert " + ca + " --no-auth-warning -a " + token1 + " -c -h "

	const n = 200
	writeRead := func(round string) {
		t.Helper()
		out := w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "SET key:$i %s:$i"; done | %s%s | grep -v Redirected | sort | uniq -c`, n, round, tlsCLI, w.cfg))
		if strings.TrimSpace(out) != fmt.Sprintf("%d OK", n) {
			t.Fatalf("writing %d keys with redis-cli --tls -c = %q", n, out)
		}
		out = w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET key:$i"; done | %s%s | grep -v Redirected`, n, tlsCLI, w.cfg))
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != n {
			t.Fatalf("reading %d keys with redis-cli --tls -c: %d answers", n, len(lines))
		}
		for i, l := range lines {
			if want := fmt.Sprintf("%s:%d", round, i+1); l != want {
				t.Fatalf("GET key:%d = %q, want %q", i+1, l, want)
			}
		}
	}
	writeRead("v1")
	// CLUSTER SLOTS names the nodes by their TLS names, which the
	// certificate carries: clients verify the node they are sent to. (A
	// replica shows once it has replicated something.)
	var names []string
	for i := 0; i < 100 && len(names) != 4; i++ {
		names = strings.Fields(w.cli(t, tlsCLI+w.cfg+" cluster slots | grep -E '^vault-' | sort -u"))
		time.Sleep(50 * time.Millisecond)
	}
	if len(names) != 4 {
		t.Errorf("CLUSTER SLOTS names %q, want the 4 nodes", names)
	}
	for _, name := range append([]string{w.cfg}, names...) {
		// The certificate names the configuration endpoint and every node
		// (the group's wildcard), as a client checking names verifies.
		out, _ := w.run(t, w.eni, "bash", "-c", "timeout 5 openssl s_client -connect "+name+":6379 -CAfile "+ca+" -verify_hostname "+name+" -verify_return_error </dev/null 2>&1")
		if !strings.Contains(out, "Verify return code: 0 (ok)") {
			t.Errorf("openssl s_client -verify_hostname %s: %s", name, out)
		}
	}
	for _, name := range names {
		if !strings.HasSuffix(name, suffix) {
			t.Errorf("CLUSTER SLOTS names %q, want a name ending in %s", name, suffix)
		}
		// Every node holds keys: the primaries theirs, the replicas
		// their primary's, replicated over TLS.
		out := w.cli(t, "timeout 5 redis-cli --tls --cacert "+ca+" --no-auth-warning -a "+token1+" -h "+name+" dbsize")
		if strings.TrimSpace(out) == "0" {
			t.Errorf("node %s holds no key", name)
		}
	}

	for _, args := range []string{"PING", "--tls PING"} { // plain text; TLS without the CA
		if out, _ := w.run(t, w.eni, "bash", "-c", "timeout 5 redis-cli -h "+w.cfg+" "+args); strings.Contains(out, "PONG") {
			t.Errorf("redis-cli %s on %s answered %q; want refused", args, w.cfg, out)
		}
	}
	if out, _ := w.run(t, w.eni, "bash", "-c", "timeout 5 redis-cli --tls --cacert "+ca+" -h "+w.cfg+" GET key:1"); !strings.Contains(out, "NOAUTH") {
		t.Errorf("GET without AUTH = %q, want NOAUTH", out)
	}

	if _, err := w.ec.TestFailover(ctx, &elasticache.TestFailoverInput{ReplicationGroupId: aws.String("vault"), NodeGroupId: aws.String("0002")}); err != nil {
		t.Fatal(err)
	}
	w.waitEvent(t, ectypes.SourceTypeReplicationGroup, "vault", "Failover from primary node vault-0002-001 to replica node vault-0002-002 completed")
	w.waitGroup(t, "test failover", func(g ectypes.ReplicationGroup) bool { return g.PendingModifiedValues.PrimaryClusterId == nil })
	var out string
	for i := 0; i < 100; i++ {
		out = w.cli(t, tlsCLI+w.cfg+" cluster nodes | grep vault-0002-002 | grep -c master || true")
		if strings.TrimSpace(out) == "1" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.TrimSpace(out) != "1" {
		t.Errorf("after TestFailover vault-0002-002 is not a master: %q", out)
	}
	out = w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET key:$i"; done | %s%s | grep -c '^v1:' || true`, n, tlsCLI, w.cfg))
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("after TestFailover %s keys read back, want %d", strings.TrimSpace(out), n)
	}
	writeRead("v2")

	// Scale out to 3 shards: the slots move with MIGRATE, which goes over
	// TLS (tls-cluster) and authenticates with the token.
	if _, err := w.ec.ModifyReplicationGroupShardConfiguration(ctx, &elasticache.ModifyReplicationGroupShardConfigurationInput{
		ReplicationGroupId: aws.String("vault"), NodeGroupCount: aws.Int32(3), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g = w.waitResharded(t, "scale out")
	if len(g.NodeGroups) != 3 {
		t.Fatalf("after the scale out: %d node groups", len(g.NodeGroups))
	}
	out = w.cli(t, fmt.Sprintf(`for i in $(seq 1 %d); do echo "GET key:$i"; done | %s%s | grep -v Redirected | grep -c '^v2:' || true`, n, tlsCLI, w.cfg))
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("after the scale out %s keys read back, want %d", strings.TrimSpace(out), n)
	}
	name := "vault-0003-001" + suffix
	if out := w.cli(t, "timeout 5 redis-cli --tls --cacert "+ca+" --no-auth-warning -a "+token1+" -h "+name+" dbsize"); strings.TrimSpace(out) == "0" {
		t.Errorf("the new shard's primary %s holds no key after the scale out", name)
	}

	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("vault")}); err != nil {
		t.Fatal(err)
	}
	deleted := elasticache.NewReplicationGroupDeletedWaiter(w.ec, func(o *elasticache.ReplicationGroupDeletedWaiterOptions) { o.MinDelay = 50 * time.Millisecond })
	if err := deleted.Wait(ctx, &elasticache.DescribeReplicationGroupsInput{ReplicationGroupId: aws.String("vault")}, time.Minute); err != nil {
		t.Fatal(err)
	}
}
