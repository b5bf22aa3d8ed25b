package access_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// EC2-Classic end to end (SEEDS 001, 002): a Classic account, instances in
// the EC2 groups "app" and "other" launched without a subnet, a Redis
// cluster "web" with the cache security group "mycsg". The cache security
// group's authorizations decide, in the kernel, who connects: nobody before,
// the app instance (and only it) after authorizing "app", nobody again after
// revoking — for new connections; an established one stays, as on AWS.
// explain agrees with every real attempt.
func TestClassicCacheSecurityGroups(t *testing.T) {
	privtest.RequireRoot(t)
	env := apptest.Start(t)
	ctx := context.Background()
	acct := env.App.AccountID()
	if err := env.App.Accounts().SetEC2Classic(ctx, acct, true); err != nil {
		t.Fatal(err)
	}
	w := &world{env: env, ec: elasticache.NewFromConfig(env.Config()), ec2: ec2.NewFromConfig(env.Config()), port: 6379}
	for _, g := range []string{"app", "other"} {
		if _, err := w.ec2.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(g), Description: aws.String(g + " servers")}); err != nil {
			t.Fatal(err)
		}
	}
	launch := func(group string) (string, string) {
		t.Helper()
		out, err := w.ec2.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"), InstanceType: ec2types.InstanceTypeT3Micro,
			MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroups: []string{group}})
		if err != nil {
			t.Fatalf("RunInstances in EC2-Classic = %v", err)
		}
		i := out.Instances[0]
		if i.VpcId != nil || i.SubnetId != nil || len(i.SecurityGroups) != 1 || aws.ToString(i.SecurityGroups[0].GroupName) != group {
			t.Errorf("classic instance: VpcId %v SubnetId %v groups %+v; want no VPC, no subnet, group %s", i.VpcId, i.SubnetId, i.SecurityGroups, group)
		}
		return aws.ToString(i.InstanceId), aws.ToString(i.NetworkInterfaces[0].NetworkInterfaceId)
	}
	appInst, appENI := launch("app")
	_, otherENI := launch("other")

	if _, err := w.ec.CreateCacheSecurityGroup(ctx, &elasticache.CreateCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("mycsg"),
		Description: aws.String("web cache")}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("web"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1), CacheSecurityGroupNames: []string{"mycsg"}}); err != nil {
		t.Fatalf("CreateCacheCluster in EC2-Classic = %v", err)
	}
	w.addr = nettest.WaitResolve(t, w.env.App.Plane(), appENI, w.waitAvailable(t).Addr)
	if a, err := netip.ParseAddr(w.addr); err != nil || !netip.MustParsePrefix("10.0.0.0/8").Contains(a) {
		t.Errorf("classic node address %q, want one in 10.0.0.0/8", w.addr)
	}
	out, err := w.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("web")})
	if err != nil {
		t.Fatal(err)
	}
	c := out.CacheClusters[0]
	type membership struct{ Name, Status string }
	csgs := func(ms []ectypes.CacheSecurityGroupMembership) []membership {
		var out []membership
		for _, m := range ms {
			out = append(out, membership{aws.ToString(m.CacheSecurityGroupName), aws.ToString(m.Status)})
		}
		return out
	}
	if diff := cmp.Diff([]membership{{"mycsg", "active"}}, csgs(c.CacheSecurityGroups)); diff != "" {
		t.Errorf("CacheSecurityGroups (-want +got):\n%s", diff)
	}
	if c.CacheSubnetGroupName != nil || len(c.SecurityGroups) != 0 {
		t.Errorf("classic cluster shows CacheSubnetGroupName %v and SecurityGroups %+v, want neither", c.CacheSubnetGroupName, c.SecurityGroups)
	}

	w.agree(t, appInst, appENI, w.port, "before authorizing")
	w.wantReachable(t, appENI, false, "before authorizing")
	w.wantReachable(t, otherENI, false, "before authorizing")

	authz := &elasticache.AuthorizeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("mycsg"),
		EC2SecurityGroupName: aws.String("app"), EC2SecurityGroupOwnerId: aws.String(acct)}
	if _, err := w.ec.AuthorizeCacheSecurityGroupIngress(ctx, authz); err != nil {
		t.Fatalf("AuthorizeCacheSecurityGroupIngress = %v", err)
	}
	if !w.agree(t, appInst, appENI, w.port, "after authorizing app") {
		t.Fatalf("the app instance cannot connect after authorizing its group")
	}
	w.wantReachable(t, otherENI, false, "after authorizing app")
	if e := w.explain(t, appInst, 6380); e.Allowed {
		t.Errorf("explain allows tcp/6380, which no authorization names:\n%s", e.Explanation)
	}

	// In use: the group cannot be deleted.
	if _, err := w.ec.DeleteCacheSecurityGroup(ctx, &elasticache.DeleteCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("mycsg")}); code(err) != "InvalidCacheSecurityGroupState" {
		t.Errorf("DeleteCacheSecurityGroup of a group in use = %v, want InvalidCacheSecurityGroupState", err)
	}

	// A connection established while authorized survives the revocation;
	// new ones are refused.
	live := w.dialRESP(t, appENI)
	defer live.Close()
	if _, err := w.ec.RevokeCacheSecurityGroupIngress(ctx, &elasticache.RevokeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("mycsg"),
		EC2SecurityGroupName: aws.String("app"), EC2SecurityGroupOwnerId: aws.String(acct)}); err != nil {
		t.Fatalf("RevokeCacheSecurityGroupIngress = %v", err)
	}
	w.agree(t, appInst, appENI, w.port, "after revoking")
	w.wantReachable(t, appENI, false, "after revoking")
	if err := live.ping(5 * time.Second); err != nil {
		t.Errorf("the connection established before revoking broke: %v", err)
	}

	// ModifyCacheCluster moves the cluster to another cache security group:
	// "default", which authorizes "other".
	if _, err := w.ec.AuthorizeCacheSecurityGroupIngress(ctx, &elasticache.AuthorizeCacheSecurityGroupIngressInput{CacheSecurityGroupName: aws.String("default"),
		EC2SecurityGroupName: aws.String("other"), EC2SecurityGroupOwnerId: aws.String(acct)}); err != nil {
		t.Fatal(err)
	}
	w.wantReachable(t, otherENI, false, "after authorizing other on a group the cluster does not use")
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("web"),
		CacheSecurityGroupNames: []string{"default"}, ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatalf("ModifyCacheCluster CacheSecurityGroupNames = %v", err)
	}
	w.waitAvailable(t)
	w.wantReachable(t, otherENI, true, "after moving the cluster to default")
	w.wantReachable(t, appENI, false, "after moving the cluster to default")
	if _, err := w.ec.ModifyCacheCluster(ctx, &elasticache.ModifyCacheClusterInput{CacheClusterId: aws.String("web"),
		SecurityGroupIds: []string{"sg-12345678"}}); code(err) != "InvalidParameterCombination" {
		t.Errorf("ModifyCacheCluster SecurityGroupIds on a classic cluster = %v, want InvalidParameterCombination", err)
	}
	if _, err := w.ec.DeleteCacheSecurityGroup(ctx, &elasticache.DeleteCacheSecurityGroupInput{CacheSecurityGroupName: aws.String("mycsg")}); err != nil {
		t.Errorf("DeleteCacheSecurityGroup of a group no longer in use = %v", err)
	}
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return fmt.Sprint(err)
}

// respConn is an open RESP connection from inside an interface's namespace.
type respConn struct {
	net.Conn
	r *bufio.Reader
}

func (w *world) dialRESP(t *testing.T, eni string) *respConn {
	t.Helper()
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := w.env.App.Plane().Dial(dctx, eni, "tcp", net.JoinHostPort(w.addr, strconv.Itoa(w.port)))
	if err != nil {
		t.Fatalf("dial the cache from %s: %v", eni, err)
	}
	c := &respConn{Conn: conn, r: bufio.NewReader(conn)}
	if err := c.ping(5 * time.Second); err != nil {
		t.Fatalf("PING on a new connection from %s: %v", eni, err)
	}
	return c
}

// ping sends PING and wants +PONG within timeout.
func (c *respConn) ping(timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}
