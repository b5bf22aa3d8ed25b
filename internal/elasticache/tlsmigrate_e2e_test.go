package elasticache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestTransitEncryptionMigration: a 1+1 group created without TLS gets
// it in the two steps ElastiCache documents, real engines in real
// namespaces, real SDK and redis-cli from an instance. In preferred,
// plaintext and redis-cli --tls --cacert both work on the same port, on
// the old names and the new TLS ones, and replication goes on; a daemon
// restart brings the fronts back; in required plaintext is refused and
// TLS works; the data written before is there at every step. Invalid
// transitions are refused with AWS's errors and change nothing; back to
// preferred, then disabled, plaintext works again.
func TestTransitEncryptionMigration(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "migrate"}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ReplicationGroupDescription: aws.String("tls later"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	plainPrimary := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)
	plainReader := aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address)
	ca := exportCA(t, dir)
	cli := func(host string, args ...string) (string, error) {
		return w.run(t, w.eni, append([]string{"timeout", "3", "redis-cli", "-h", host}, args...)...)
	}
	tlsCLI := func(host string, args ...string) (string, error) {
		return cli(host, append([]string{"--tls", "--cacert", ca}, args...)...)
	}
	// until retries a client (names move, replication is asynchronous).
	until := func(what string, f func(host string, args ...string) (string, error), host, want string, args ...string) {
		t.Helper()
		var out string
		for i := 0; i < 200; i++ {
			if out, _ = f(host, args...); out == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %s %v = %q, want %q", what, host, args, out, want)
	}
	until("plaintext, no TLS", cli, plainPrimary, "OK", "SET", "before", "tls")
	until("replicated", cli, plainReader, "tls", "GET", "before")

	modify := func(enabled *bool, mode ectypes.TransitEncryptionMode) (*elasticache.ModifyReplicationGroupOutput, error) {
		return w.ec.ModifyReplicationGroup(ctx, &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
			ApplyImmediately: aws.Bool(true), TransitEncryptionEnabled: enabled, TransitEncryptionMode: mode})
	}
	refused := func(what string, enabled *bool, mode ectypes.TransitEncryptionMode, wantMode ectypes.TransitEncryptionMode, msg string) {
		t.Helper()
		_, err := modify(enabled, mode)
		if code(err) != "InvalidParameterCombination" || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: ModifyReplicationGroup = %v, want InvalidParameterCombination containing %q", what, err, msg)
		}
		g := w.describe(t)
		if aws.ToString(g.Status) != "available" || g.TransitEncryptionMode != wantMode || aws.ToBool(g.TransitEncryptionEnabled) != (wantMode != "") {
			t.Errorf("%s: after the refusal the group is %s, transit %v %q; want available, unchanged (%q)", what,
				aws.ToString(g.Status), aws.ToBool(g.TransitEncryptionEnabled), g.TransitEncryptionMode, wantMode)
		}
	}
	refused("mode without enabling", nil, ectypes.TransitEncryptionModePreferred, "", "To modify transit encryption mode, set encryption-in-transit as enabled.")
	refused("enabled without a mode", aws.Bool(true), "", "", "set TransitEncryptionMode to preferred")
	refused("straight to required", aws.Bool(true), ectypes.TransitEncryptionModeRequired, "", "two steps")

	// Step one: preferred. The answer shows the change pending.
	out, err := modify(aws.Bool(true), ectypes.TransitEncryptionModePreferred)
	if err != nil {
		t.Fatalf("enable, preferred: %v", err)
	}
	if rg := out.ReplicationGroup; aws.ToString(rg.Status) != "modifying" || aws.ToBool(rg.TransitEncryptionEnabled) ||
		rg.PendingModifiedValues == nil || !aws.ToBool(rg.PendingModifiedValues.TransitEncryptionEnabled) ||
		rg.PendingModifiedValues.TransitEncryptionMode != ectypes.TransitEncryptionModePreferred {
		t.Errorf("ModifyReplicationGroup answer: status %s, transit %v, pending %+v; want modifying, off, pending enabled preferred",
			aws.ToString(rg.Status), aws.ToBool(rg.TransitEncryptionEnabled), rg.PendingModifiedValues)
	}
	g = w.waitGroup(t, "preferred", func(g ectypes.ReplicationGroup) bool {
		return g.TransitEncryptionMode == ectypes.TransitEncryptionModePreferred
	})
	primary, reader := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address)
	if !aws.ToBool(g.TransitEncryptionEnabled) || !strings.HasPrefix(primary, "master."+w.id+".") || !strings.HasPrefix(reader, "replica."+w.id+".") {
		t.Errorf("preferred: transit %v, endpoints %s %s; want enabled, master. and replica.", aws.ToBool(g.TransitEncryptionEnabled), primary, reader)
	}
	preferred := func(step string) {
		t.Helper()
		until(step+": TLS on the new name", tlsCLI, primary, "tls", "GET", "before")
		until(step+": plaintext on the new name, same port", cli, primary, "tls", "GET", "before")
		until(step+": plaintext on the old name", cli, plainPrimary, "tls", "GET", "before")
		until(step+": TLS write", tlsCLI, primary, "OK", "SET", "during-"+step, "both")
		until(step+": replicated, read in plaintext", cli, plainReader, "both", "GET", "during-"+step)
		until(step+": replicated, read over TLS", tlsCLI, reader, "both", "GET", "during-"+step)
		if out, _ := cli(primary, "--tls", "PING"); out == "PONG" {
			t.Errorf("%s: redis-cli --tls without the CA answered PONG", step)
		}
	}
	preferred("preferred")

	// A daemon restart: the engines are re-adopted, the fronts come back.
	w.restartService(t)
	preferred("restarted")

	// Step two: required. Plaintext refused, TLS works, data intact,
	// the names without TLS gone.
	if _, err := modify(nil, ectypes.TransitEncryptionModeRequired); err != nil {
		t.Fatalf("required: %v", err)
	}
	g = w.waitGroup(t, "required", func(g ectypes.ReplicationGroup) bool {
		return g.TransitEncryptionMode == ectypes.TransitEncryptionModeRequired
	})
	until("required: TLS", tlsCLI, primary, "tls", "GET", "before")
	until("required: TLS, data written in preferred", tlsCLI, primary, "both", "GET", "during-restarted")
	if out, _ := cli(primary, "PING"); out == "PONG" {
		t.Error("required: plaintext answered PONG")
	}
	until("required: TLS write", tlsCLI, primary, "OK", "SET", "after", "required")
	until("required: replicated over TLS", tlsCLI, reader, "required", "GET", "after")
	for i := 0; ; i++ {
		if _, err := w.run(t, w.eni, "getent", "ahostsv4", plainPrimary); err != nil {
			break
		}
		if i == 100 {
			t.Errorf("required: the name without TLS %s still resolves", plainPrimary)
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	refused("required to disabled", aws.Bool(false), "", ectypes.TransitEncryptionModeRequired, "set TransitEncryptionMode to preferred first")

	// And back down: preferred, then disabled.
	if _, err := modify(nil, ectypes.TransitEncryptionModePreferred); err != nil {
		t.Fatalf("back to preferred: %v", err)
	}
	w.waitGroup(t, "back to preferred", func(g ectypes.ReplicationGroup) bool {
		return g.TransitEncryptionMode == ectypes.TransitEncryptionModePreferred
	})
	until("back to preferred: plaintext", cli, primary, "required", "GET", "after")
	if _, err := modify(aws.Bool(false), ""); err != nil {
		t.Fatalf("disable: %v", err)
	}
	g = w.waitGroup(t, "disabled", func(g ectypes.ReplicationGroup) bool { return !aws.ToBool(g.TransitEncryptionEnabled) })
	primary = aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address)
	if primary != plainPrimary {
		t.Errorf("disabled: primary endpoint %s, want %s", primary, plainPrimary)
	}
	until("disabled: plaintext", cli, primary, "tls", "GET", "before")
	if out, _ := tlsCLI(primary, "PING"); out == "PONG" {
		t.Error("disabled: TLS answered PONG")
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(w.id)}); err != nil {
		t.Fatal(err)
	}
}

// TestTransitEncryptionPreferredCreate: a 1+1 group created with
// TransitEncryptionMode preferred starts its engines split with their
// fronts: from an instance, plaintext and redis-cli --tls --cacert both
// work on the TLS names' port, and a write replicates.
func TestTransitEncryptionPreferredCreate(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "fresh"}
	ctx := context.Background()
	_, w.eni = w.instance(t)
	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String(w.id),
		ReplicationGroupDescription: aws.String("preferred"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), TransitEncryptionEnabled: aws.Bool(true), TransitEncryptionMode: ectypes.TransitEncryptionModePreferred}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	primary, reader := aws.ToString(g.NodeGroups[0].PrimaryEndpoint.Address), aws.ToString(g.NodeGroups[0].ReaderEndpoint.Address)
	if g.TransitEncryptionMode != ectypes.TransitEncryptionModePreferred || !strings.HasPrefix(primary, "master."+w.id+".") {
		t.Fatalf("group: mode %q, primary %s; want preferred, master.", g.TransitEncryptionMode, primary)
	}
	ca := exportCA(t, dir)
	run := func(tls bool, host string, args ...string) string {
		argv := []string{"timeout", "3", "redis-cli", "-h", host}
		if tls {
			argv = append(argv, "--tls", "--cacert", ca)
		}
		out, _ := w.run(t, w.eni, append(argv, args...)...)
		return out
	}
	until := func(what string, tls bool, host, want string, args ...string) {
		t.Helper()
		var out string
		for i := 0; i < 200; i++ {
			if out = run(tls, host, args...); out == want {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s: %s %v = %q, want %q", what, host, args, out, want)
	}
	until("plaintext write", false, primary, "OK", "SET", "k", "plain")
	until("TLS read", true, primary, "plain", "GET", "k")
	until("TLS write", true, primary, "OK", "SET", "k2", "tls")
	until("replicated, plaintext read", false, reader, "tls", "GET", "k2")
	until("replicated, TLS read", true, reader, "tls", "GET", "k2")
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String(w.id)}); err != nil {
		t.Fatal(err)
	}
}
