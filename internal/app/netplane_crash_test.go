package app_test

import (
	"context"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestNetplaneCrashConvergence runs the real binary: VPC resources, an
// instance pair and (with redis-server installed) a Redis cluster are made
// through the API; the daemon is killed with SIGKILL; the namespaces, rules
// and the engine keep working without it; a second daemon adopts them and
// converges a new rule; teardown leaves nothing of the installation.
func TestNetplaneCrashConvergence(t *testing.T) {
	privtest.RequireRoot(t)
	ctx := context.Background()
	d := apptest.BuildDaemon(t)
	dir := d.Dir
	prefix := app.InstallPrefix(dir)
	var ec *elasticache.Client // of the current daemon
	start := func() *ec2.Client {
		t.Helper()
		cfg := d.Start().Config()
		ec = elasticache.NewFromConfig(cfg)
		return ec2.NewFromConfig(cfg)
	}
	// The test's own plane handle with the installation's prefix: it only
	// enters the daemon's namespaces (Dial, Listen), never applies.
	plane, err := netplane.New(netplane.Config{Prefix: prefix, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reach := func(what, src, addr string, port int, want bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			c, err := plane.Dial(ctx, src, "tcp4", net.JoinHostPort(addr, strconv.Itoa(port)))
			cancel()
			p, perr := nettest.Classify(c, err)
			if perr == nil && p.Passed == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: connect %s -> %s:%d = %v %v for 30s, want passed=%v", what, src, addr, port, p.Detail, perr, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	ne := &nettest.Env{EC2: start()}
	vpc, _, _ := ne.DefaultVPC(t)
	cli, srv := ne.CreateGroup(t, "cli", vpc), ne.CreateGroup(t, "srv", vpc)
	ne.AllowIn(t, srv, nettest.TCPPerm(8080, cli))
	c := ne.RunInstance(t, "", cli, ne.DefaultGroupOf(t, vpc))
	s := ne.RunInstance(t, "", srv)
	// The cache first: its node is placed in a subnet of the default
	// subnet group, which the ACL subnet below would join.
	var redisAddr string
	if _, err := exec.LookPath("redis-server"); err == nil {
		if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("crash"),
			Engine: aws.String("redis"), CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1)}); err != nil {
			t.Fatalf("CreateCacheCluster = %v", err)
		}
		redisAddr = nettest.WaitCluster(t, ec, "crash")
	} else {
		t.Logf("redis-server not installed: the engine part is skipped")
	}

	// A server behind a network ACL (inbound 8080 and the answers to
	// ephemeral ports) in a subnet of its own.
	sn2, err := ne.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("172.31.200.0/24")})
	if err != nil {
		t.Fatalf("CreateSubnet = %v", err)
	}
	s2 := ne.RunInstance(t, aws.ToString(sn2.Subnet.SubnetId), srv)
	aclOut, err := ne.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("CreateNetworkAcl = %v", err)
	}
	acl := aws.ToString(aclOut.NetworkAcl.NetworkAclId)
	aclEntryT(t, ne, acl, 100, false, 8080, 8080)
	aclEntryT(t, ne, acl, 100, true, 1024, 65535)
	associateACL(t, ne, s2.Subnet, acl)

	// Listeners in the server's namespace, held by this process.
	for _, srvENI := range []string{s.ENI, s2.ENI} {
		for _, port := range []int{8080, 9090} {
			lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			l, err := plane.Listen(lctx, srvENI, "tcp4", "0.0.0.0:"+strconv.Itoa(port))
			cancel()
			if err != nil {
				t.Fatalf("Listen(%s, %d) = %v", srvENI, port, err)
			}
			closeL := nettest.ServeEcho(l)
			t.Cleanup(closeL)
		}
	}
	reach("first daemon", c.ENI, s.IP, 8080, true)
	reach("first daemon, no rule", c.ENI, s.IP, 9090, false)
	reach("first daemon, through the ACL", c.ENI, s2.IP, 8080, true)
	nettest.RedisPing(t, plane, c.ENI, redisAddr)
	// The VPC's DNS server is the daemon's: while it is dead names do not
	// resolve, and clients keep the address they resolved.
	redisIP := redisAddr
	if redisAddr != "" {
		redisIP = nettest.WaitResolve(t, plane, c.ENI, redisAddr)
	}
	nsBefore := nettest.OwnedNetns(t, prefix)
	enginesBefore := nettest.ProcsIn(t, dir, d.PID())
	if redisAddr != "" && len(enginesBefore) == 0 {
		t.Errorf("no engine process runs in %s", dir)
	}

	d.Stop(syscall.SIGKILL)
	if got := nettest.OwnedNetns(t, prefix); !slices.Equal(got, nsBefore) {
		t.Errorf("namespaces after kill -9 = %v, want %v", got, nsBefore)
	}
	if got := nettest.ProcsIn(t, dir, 0); !slices.Equal(got, enginesBefore) {
		t.Errorf("engine processes after kill -9 = %v, want %v", got, enginesBefore)
	}
	reach("daemon dead", c.ENI, s.IP, 8080, true)
	reach("daemon dead, no rule", c.ENI, s.IP, 9090, false)
	reach("daemon dead, through the ACL", c.ENI, s2.IP, 8080, true)
	nettest.RedisPing(t, plane, c.ENI, redisIP)

	// A second daemon adopts everything and converges a change.
	ne.EC2 = start()
	t0 := time.Now()
	ne.AllowIn(t, srv, nettest.TCPPerm(9090, cli))
	reach("second daemon, new rule", c.ENI, s.IP, 9090, true)
	t.Logf("a rule added right after the restart was enforced %v after the API call returned", time.Since(t0).Round(time.Millisecond))
	reach("second daemon, old rule", c.ENI, s.IP, 8080, true)
	reach("second daemon, other port", c.ENI, s.IP, 9091, false)
	// The ACL survived: 9090 is allowed by the group now, not by the ACL.
	reach("second daemon, through the ACL", c.ENI, s2.IP, 8080, true)
	reach("second daemon, the ACL denies", c.ENI, s2.IP, 9090, false)
	aclEntryT(t, ne, acl, 110, false, 9090, 9090)
	reach("second daemon, new ACL entry", c.ENI, s2.IP, 9090, true)
	if redisAddr != "" { // by name: the second daemon serves the VPC's DNS again
		nettest.RedisPing(t, plane, c.ENI, nettest.WaitResolve(t, plane, c.ENI, redisAddr))
	}
	if redisAddr != "" {
		nettest.WaitCluster(t, ec, "crash")
		if got := nettest.ProcsIn(t, dir, d.PID()); !slices.Equal(got, enginesBefore) {
			t.Errorf("engine processes after the restart = %v, want %v adopted", got, enginesBefore)
		}
	}

	// Teardown leaves nothing of this installation.
	d.Stop(syscall.SIGTERM)
	tctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(tctx, d.Bin, "teardown", "--data-dir", dir).CombinedOutput(); err != nil {
		t.Fatalf("cachalot teardown: %v\n%s", err, out)
	}
	if got := nettest.OwnedNetns(t, prefix); len(got) != 0 {
		t.Errorf("namespaces after teardown = %v, want none", got)
	}
	for _, argv := range [][]string{{"ip", "-o", "link"}, {"nft", "list", "tables"}} {
		out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		if strings.Contains(string(out), prefix) {
			t.Errorf("%v after teardown mentions %s:\n%s", argv, prefix, out)
		}
	}
	if got := nettest.Pgrep(t, dir); len(got) != 0 {
		t.Errorf("pgrep -f %s after teardown = %v, want none", dir, got)
	}
	if got := nettest.ProcsIn(t, dir, 0); len(got) != 0 {
		t.Errorf("processes working in %s after teardown = %v, want none", dir, got)
	}
}
