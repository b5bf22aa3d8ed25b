package elasticache_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/engine/memcached"
	"github.com/cachalot-dev/cachalot/internal/pki"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// exportCA copies the installation's CA certificate where a program run
// as on an instance (its own unprivileged identity) can read it, as a
// user would after `cachalot ca > ca.pem`.
func exportCA(t *testing.T, dataDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, app.CADir, pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cachalot-ca-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestTransitEncryption: a replication group and a cluster created with
// TransitEncryptionEnabled, real engines in real namespaces. From an
// instance, redis-cli --tls --cacert with the exported CA works on the
// group's TLS names (master., replica., members) and the cluster's node;
// without the CA it fails, and plain text is refused (mode required).
// Writes through the primary reach the replica (replication over TLS).
func TestTransitEncryption(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := &groupWorld{world: newWorld(t, func(c *app.Config) { c.DataDir = dir }), dir: dir, id: "secure"}
	ctx := context.Background()
	_, w.eni = w.instance(t)

	if _, err := w.ec.CreateReplicationGroup(ctx, &elasticache.CreateReplicationGroupInput{ReplicationGroupId: aws.String("secure"),
		ReplicationGroupDescription: aws.String("tls"), Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"),
		NumCacheClusters: aws.Int32(2), TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(token1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("single"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), TransitEncryptionEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	g := w.waitGroup(t, "created", func(ectypes.ReplicationGroup) bool { return true })
	ng := g.NodeGroups[0]
	primary, reader := aws.ToString(ng.PrimaryEndpoint.Address), aws.ToString(ng.ReaderEndpoint.Address)
	if !aws.ToBool(g.TransitEncryptionEnabled) || g.TransitEncryptionMode != ectypes.TransitEncryptionModeRequired ||
		!strings.HasPrefix(primary, "master.secure.") || !strings.HasPrefix(reader, "replica.secure.") {
		t.Fatalf("group: transit %v mode %s, endpoints %s %s; want TLS required, master.secure. and replica.secure.",
			aws.ToBool(g.TransitEncryptionEnabled), g.TransitEncryptionMode, primary, reader)
	}
	for _, m := range ng.NodeGroupMembers {
		if a := aws.ToString(m.ReadEndpoint.Address); !strings.HasPrefix(a, aws.ToString(m.CacheClusterId)+".secure.") {
			t.Errorf("member endpoint %s, want %s.secure.…", a, aws.ToString(m.CacheClusterId))
		}
	}
	single := w.waitStatus(t, "single", "available")
	if !aws.ToBool(single.TransitEncryptionEnabled) || single.TransitEncryptionMode != ectypes.TransitEncryptionModeRequired {
		t.Errorf("cluster: transit %v mode %s, want TLS required", aws.ToBool(single.TransitEncryptionEnabled), single.TransitEncryptionMode)
	}
	node := aws.ToString(single.CacheNodes[0].Endpoint.Address)

	ca := exportCA(t, dir)
	cli := func(host string, args ...string) (string, error) {
		return w.run(t, w.eni, append([]string{"timeout", "5", "redis-cli", "-h", host}, args...)...)
	}
	tlsCLI := func(host string, args ...string) (string, error) {
		return cli(host, append([]string{"--tls", "--cacert", ca}, args...)...)
	}
	authCLI := func(host, tok string, args ...string) (string, error) {
		return tlsCLI(host, append([]string{"--no-auth-warning", "-a", tok}, args...)...)
	}
	if !aws.ToBool(g.AuthTokenEnabled) || g.AuthTokenLastModifiedDate == nil {
		t.Errorf("group: AuthTokenEnabled %v, last modified %v; want enabled with a date", aws.ToBool(g.AuthTokenEnabled), g.AuthTokenLastModifiedDate)
	}
	if out, _ := tlsCLI(primary, "GET", "greeting"); !strings.HasPrefix(out, "NOAUTH") {
		t.Errorf("GET without AUTH = %q, want NOAUTH", out)
	}
	if out, err := authCLI(primary, token1, "SET", "greeting", "hello"); err != nil || out != "OK" {
		t.Fatalf("redis-cli --tls --cacert SET on %s = %q, %v; want OK", primary, out, err)
	}
	var out string
	for i := 0; i < 100; i++ { // replication is asynchronous
		if out, _ = authCLI(reader, token1, "GET", "greeting"); out == "hello" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out != "hello" {
		t.Errorf("GET on the reader endpoint %s = %q, want hello (replicated over TLS)", reader, out)
	}
	w.rotateTokens(t, primary, authCLI)
	if out, err := tlsCLI(node, "PING"); err != nil || out != "PONG" {
		t.Errorf("redis-cli --tls --cacert PING on %s = %q, %v; want PONG", node, out, err)
	}
	for _, host := range []string{primary, node} {
		if out, _ := cli(host, "--tls", "PING"); out == "PONG" {
			t.Errorf("redis-cli --tls without the CA on %s answered PONG", host)
		}
		if out, _ := cli(host, "PING"); out == "PONG" {
			t.Errorf("plaintext redis-cli on %s answered PONG (mode required)", host)
		}
	}
	if _, err := w.ec.DeleteReplicationGroup(ctx, &elasticache.DeleteReplicationGroupInput{ReplicationGroupId: aws.String("secure")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("single")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "single", "deleted")
}

// TestMemcachedTransitEncryption: a Memcached cluster created with
// TransitEncryptionEnabled, real memcached in real namespaces. From an
// instance, a TLS client trusting only the installation's CA and checking
// the server's name stores and reads on every node, and asks the
// configuration endpoint for the nodes over TLS; plain text gets no
// answer from either (TLS only).
func TestMemcachedTransitEncryption(t *testing.T) {
	privtest.RequireRoot(t)
	dir := t.TempDir()
	w := newWorld(t, func(c *app.Config) { c.DataDir = dir })
	ctx := context.Background()
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("mcsecure"), Engine: aws.String("memcached"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(2), TransitEncryptionEnabled: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	c := w.waitStatus(t, "mcsecure", "available")
	if !aws.ToBool(c.TransitEncryptionEnabled) || c.TransitEncryptionMode != ectypes.TransitEncryptionModeRequired || c.ConfigurationEndpoint == nil || len(c.CacheNodes) != 2 {
		t.Fatalf("cluster: transit %v mode %s, configuration endpoint %v, %d nodes; want TLS required, an endpoint, 2 nodes",
			aws.ToBool(c.TransitEncryptionEnabled), c.TransitEncryptionMode, c.ConfigurationEndpoint, len(c.CacheNodes))
	}
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mcsecure"),
		EngineVersion: aws.String("1.6.6"), ApplyImmediately: aws.Bool(true)}); code(err) != "InvalidParameterCombination" {
		t.Errorf("ModifyCacheCluster to 1.6.6 with TLS = %v, want InvalidParameterCombination", err)
	}
	_, eni := w.instance(t)
	resolve := func(name string) string { return nettest.WaitResolve(t, w.env.App.Plane(), eni, name) }
	caPEM, err := os.ReadFile(filepath.Join(dir, app.CADir, pki.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("no CA certificate")
	}
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return w.env.App.Plane().Dial(ctx, eni, network, addr)
	}
	// connect reaches name from the instance: over TLS verifying the
	// chain and the name, or in plain text.
	connect := func(ctx context.Context, name string, secure bool) (*memcached.Conn, error) {
		addr := net.JoinHostPort(resolve(name), "11211")
		if !secure {
			return memcached.DialWith(ctx, dial, addr)
		}
		return memcached.DialTLS(ctx, dial, addr, &tls.Config{RootCAs: roots, ServerName: name, MinVersion: tls.VersionTLS12})
	}
	for i, n := range c.CacheNodes {
		name := aws.ToString(n.Endpoint.Address)
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		mc, err := connect(mctx, name, true)
		if err != nil {
			t.Fatalf("node %d: TLS: %v", i, err)
		}
		key := fmt.Sprintf("k%d", i)
		if err := mc.Set(mctx, key, []byte("secret")); err != nil {
			t.Errorf("node %d: set over TLS: %v", i, err)
		}
		if v, ok, err := mc.Get(mctx, key); err != nil || !ok || string(v) != "secret" {
			t.Errorf("node %d: get over TLS = %q %v %v; want secret", i, v, ok, err)
		}
		mc.Close()
		if mc, err := connect(mctx, name, false); err == nil {
			if v, err := mc.Version(mctx); err == nil {
				t.Errorf("node %d: plaintext version = %s, want no answer (TLS only)", i, v)
			}
			mc.Close()
		}
		cancel()
	}
	// openssl s_client from the instance, trusting the exported CA and
	// checking the node's name, speaks the text protocol.
	ca := exportCA(t, dir)
	node0 := aws.ToString(c.CacheNodes[0].Endpoint.Address)
	script := `printf 'set osl 0 0 5\r\nhello\r\nget osl\r\nquit\r\n' | timeout 5 openssl s_client -quiet -verify_return_error -CAfile "$1" -verify_hostname "$2" -connect "$2:11211"`
	if out, err := w.run(t, eni, "sh", "-c", script, "sh", ca, node0); err != nil || !strings.Contains(out, "STORED") || !strings.Contains(out, "VALUE osl 0 5") {
		t.Errorf("openssl s_client set/get on %s = %q, %v; want STORED and the value", node0, out, err)
	}

	// A node added gets its name certified: the new certificate is set
	// live on the nodes (refresh_certs) and the configuration endpoint.
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("mcsecure"), NumCacheNodes: aws.Int32(3), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	c = w.waitStatus(t, "mcsecure", "available")
	if err := w.env.App.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if len(c.CacheNodes) != 3 {
		t.Fatalf("after adding: %d nodes, want 3", len(c.CacheNodes))
	}
	added := aws.ToString(c.CacheNodes[2].Endpoint.Address)
	cfgName := aws.ToString(c.ConfigurationEndpoint.Address)
	for _, host := range []string{added, node0, cfgName} {
		mctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		addr := net.JoinHostPort(resolve(host), "11211")
		mc, err := memcached.DialTLS(mctx, dial, addr, &tls.Config{RootCAs: roots, ServerName: added, MinVersion: tls.VersionTLS12})
		if err == nil {
			_, err = mc.Version(mctx)
			mc.Close()
		}
		if err != nil {
			t.Errorf("%s after adding a node: TLS verifying the added node's name: %v", host, err)
		}
		cancel()
	}

	// The configuration endpoint (Cachalot's own responder) is TLS only
	// too, with a certificate naming it.
	for _, secure := range []bool{true, false} {
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := connect(dctx, cfgName, secure)
		var v string
		if err == nil {
			v, err = conn.Version(dctx)
			conn.Close()
		}
		if secure && err != nil {
			t.Errorf("configuration endpoint over TLS: %v", err)
		}
		if !secure && err == nil {
			t.Errorf("configuration endpoint in plain text: version %s, want no answer", v)
		}
		cancel()
	}
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := dial(dctx, "tcp", net.JoinHostPort(resolve(cfgName), "11211"))
	if err != nil {
		t.Fatal(err)
	}
	tc := tls.Client(conn, &tls.Config{RootCAs: roots, ServerName: cfgName, MinVersion: tls.VersionTLS12})
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprint(tc, "config get cluster\r\n")
	var got []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(got, []byte("END\r\n")) {
		n, err := tc.Read(buf)
		if err != nil {
			t.Fatalf("config get cluster over TLS: %v (%q)", err, got)
		}
		got = append(got, buf[:n]...)
	}
	for _, n := range c.CacheNodes {
		if name := aws.ToString(n.Endpoint.Address); !strings.Contains(string(got), name+"|") {
			t.Errorf("config get cluster over TLS = %q, missing node %s", got, name)
		}
	}
	// A client polling on an open connection does not hold up deletion:
	// closing the endpoint closes its connections.
	defer tc.Close()
	if _, err := w.ec.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String("mcsecure")}); err != nil {
		t.Fatal(err)
	}
	w.waitStatus(t, "mcsecure", "deleted")
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := tc.Read(buf); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("configuration endpoint connection after deletion: read %q, %v; want closed", buf[:n], err)
	}
}

const (
	token1 = "first-Token-0123456789"
	token2 = "second-Token-0123456789!"
)

// rotateTokens: ROTATE keeps the old token and the new one working until
// SET keeps the new one only; the bad requests change nothing.
func (w *groupWorld) rotateTokens(t *testing.T, host string, authCLI func(host, tok string, args ...string) (string, error)) {
	t.Helper()
	ctx := context.Background()
	modify := func(tok, strategy string) error {
		in := &elasticache.ModifyReplicationGroupInput{ReplicationGroupId: aws.String(w.id), ApplyImmediately: aws.Bool(true),
			AuthTokenUpdateStrategy: ectypes.AuthTokenUpdateStrategyType(strategy)}
		if tok != "" {
			in.AuthToken = aws.String(tok)
		}
		out, err := w.ec.ModifyReplicationGroup(ctx, in)
		if err == nil && out.ReplicationGroup.PendingModifiedValues.AuthTokenStatus == "" {
			t.Errorf("ModifyReplicationGroup %s: no PendingModifiedValues.AuthTokenStatus", strategy)
		}
		return err
	}
	works := func(stage string, want map[string]bool) {
		t.Helper()
		w.waitGroup(t, stage, func(ectypes.ReplicationGroup) bool { return true })
		for tok, ok := range want {
			out, _ := authCLI(host, tok, "GET", "greeting")
			if (out == "hello") != ok {
				t.Errorf("%s: AUTH with %s… then GET = %q, want accepted %v", stage, tok[:6], out, ok)
			}
		}
	}
	for _, tc := range []struct{ tok, strategy, code string }{
		{token2, "SET", "InvalidParameterCombination"},     // SET without a prior ROTATE
		{"short-token", "ROTATE", "InvalidParameterValue"}, // fewer than 16 characters
		{"forbidden-@-character-token", "ROTATE", "InvalidParameterValue"},
		{strings.Repeat("x", 129), "ROTATE", "InvalidParameterValue"},
		{"", "DELETE", "InvalidParameterValue"}, // only when moving to RBAC
		{token2, "", "InvalidParameterCombination"},
	} {
		if err := modify(tc.tok, tc.strategy); code(err) != tc.code {
			t.Errorf("ModifyReplicationGroup %s %q = %v, want %s", tc.strategy, tc.tok, err, tc.code)
		}
	}
	works("after refused changes", map[string]bool{token1: true, token2: false})
	if err := modify(token2, "ROTATE"); err != nil {
		t.Fatal(err)
	}
	works("rotated", map[string]bool{token1: true, token2: true})
	if err := modify(token2, "SET"); err != nil {
		t.Fatal(err)
	}
	works("set", map[string]bool{token1: false, token2: true})
}

// TestTransitEncryptionBadInput: what Cachalot refuses about in-transit
// encryption, with AWS's codes; nothing is created.
func TestTransitEncryptionBadInput(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		cc   *elasticache.CreateCacheClusterInput
		rg   *elasticache.CreateReplicationGroupInput
		code string
		msg  string
	}{
		{name: "token-without-tls", code: "InvalidParameterValue", msg: "The AUTH token is only supported when encryption-in-transit is enabled",
			cc: &elasticache.CreateCacheClusterInput{AuthToken: aws.String("0123456789abcdef0123")}},
		{name: "rg-token-without-tls", code: "InvalidParameterValue", msg: "The AUTH token is only supported when encryption-in-transit is enabled",
			rg: &elasticache.CreateReplicationGroupInput{AuthToken: aws.String("0123456789abcdef0123")}},
		{name: "mode-without-tls", code: "InvalidParameterCombination", msg: "TransitEncryptionEnabled",
			rg: &elasticache.CreateReplicationGroupInput{TransitEncryptionMode: ectypes.TransitEncryptionModeRequired}},
		{name: "preferred-with-user-group", code: "InvalidParameterCombination", msg: "Transit encryption preferred is not supported with redis access control.",
			rg: &elasticache.CreateReplicationGroupInput{TransitEncryptionEnabled: aws.Bool(true), TransitEncryptionMode: ectypes.TransitEncryptionModePreferred, UserGroupIds: []string{"ug"}}},
		{name: "memcached-old", code: "InvalidParameterCombination", msg: "1.6.12",
			cc: &elasticache.CreateCacheClusterInput{Engine: aws.String("memcached"), EngineVersion: aws.String("1.6.6"), NumCacheNodes: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true)}},
		{name: "memcached-token", code: "InvalidParameterValue", msg: "AUTH token is not supported",
			cc: &elasticache.CreateCacheClusterInput{Engine: aws.String("memcached"), NumCacheNodes: aws.Int32(1), TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String("0123456789abcdef0123")}},
		{name: "token-short", code: "InvalidParameterValue", msg: "Invalid AuthToken provided",
			cc: &elasticache.CreateCacheClusterInput{TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String("too-short")}},
		{name: "token-forbidden-character", code: "InvalidParameterValue", msg: "Invalid AuthToken provided",
			rg: &elasticache.CreateReplicationGroupInput{TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String("with space 0123456789")}},
		{name: "token-too-long", code: "InvalidParameterValue", msg: "Invalid AuthToken provided",
			rg: &elasticache.CreateReplicationGroupInput{TransitEncryptionEnabled: aws.Bool(true), AuthToken: aws.String(strings.Repeat("a", 129))}},
		{name: "user-groups-without-tls", code: "InvalidParameterValue", msg: "Encryption in transit must be enabled",
			rg: &elasticache.CreateReplicationGroupInput{UserGroupIds: []string{"ug1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.cc != nil {
				in := *tc.cc
				in.CacheClusterId, in.CacheNodeType = aws.String("bad-"+tc.name), aws.String("cache.t3.micro")
				_, err = w.ec.CreateCacheCluster(ctx, &in)
			} else {
				in := *tc.rg
				in.ReplicationGroupId, in.ReplicationGroupDescription, in.CacheNodeType = aws.String("bad-"+tc.name), aws.String("x"), aws.String("cache.t3.micro")
				_, err = w.ec.CreateReplicationGroup(ctx, &in)
			}
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tc.code || !strings.Contains(ae.ErrorMessage(), tc.msg) {
				t.Fatalf("create = %v, want %s containing %q", err, tc.code, tc.msg)
			}
		})
	}
	cl, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{})
	if err != nil || len(cl.CacheClusters) != 0 {
		t.Errorf("clusters after refused creates: %d, %v; want none", len(cl.CacheClusters), err)
	}
	rg, err := w.ec.DescribeReplicationGroups(ctx, &elasticache.DescribeReplicationGroupsInput{})
	if err != nil || len(rg.ReplicationGroups) != 0 {
		t.Errorf("groups after refused creates: %d, %v; want none", len(rg.ReplicationGroups), err)
	}
}
