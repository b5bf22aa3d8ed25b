package app_test

// Network ACLs through the product: made with the EC2 API, enforced by the
// routers (stateless, first matching entry in rule-number order, at the
// subnet boundary), explained by sgeval. See netplane_diff_test.go for the
// approach and the network rule.
//
//	go test -race -count=1 -run 'NetplaneNetworkACL' ./internal/app/

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// aclEntry creates (or, replace, replaces) an entry of acl.
func aclEntry(t *testing.T, n *nettest.Env, replace bool, acl string, number int32, egress bool, proto string, from, to int32, cidr, action string) {
	t.Helper()
	ctx := context.Background()
	var pr *ec2types.PortRange
	if proto == "6" || proto == "17" {
		pr = &ec2types.PortRange{From: aws.Int32(from), To: aws.Int32(to)}
	}
	var err error
	if replace {
		_, err = n.EC2.ReplaceNetworkAclEntry(ctx, &ec2.ReplaceNetworkAclEntryInput{NetworkAclId: aws.String(acl), RuleNumber: aws.Int32(number),
			Egress: aws.Bool(egress), Protocol: aws.String(proto), PortRange: pr, CidrBlock: aws.String(cidr), RuleAction: ec2types.RuleAction(action)})
	} else {
		_, err = n.EC2.CreateNetworkAclEntry(ctx, &ec2.CreateNetworkAclEntryInput{NetworkAclId: aws.String(acl), RuleNumber: aws.Int32(number),
			Egress: aws.Bool(egress), Protocol: aws.String(proto), PortRange: pr, CidrBlock: aws.String(cidr), RuleAction: ec2types.RuleAction(action)})
	}
	if err != nil {
		t.Fatalf("network acl entry %s %d egress=%v %s %d-%d %s %s (replace %v) = %v", acl, number, egress, proto, from, to, cidr, action, replace, err)
	}
}

// aclEntryT adds an entry allowing TCP ports from-to from (to) anywhere.
func aclEntryT(t *testing.T, n *nettest.Env, acl string, number int32, egress bool, from, to int32) {
	t.Helper()
	aclEntry(t, n, false, acl, number, egress, "6", from, to, "0.0.0.0/0", "allow")
}

// associateACL moves subnet to acl and returns the new association id.
func associateACL(t *testing.T, n *nettest.Env, subnet, acl string) string {
	t.Helper()
	ctx := context.Background()
	out, err := n.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil || len(out.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls(association.subnet-id=%s) = %v, %v; want one ACL", subnet, out, err)
	}
	var assoc string
	for _, a := range out.NetworkAcls[0].Associations {
		if aws.ToString(a.SubnetId) == subnet {
			assoc = aws.ToString(a.NetworkAclAssociationId)
		}
	}
	r, err := n.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: aws.String(assoc), NetworkAclId: aws.String(acl)})
	if err != nil {
		t.Fatalf("ReplaceNetworkAclAssociation(%s, %s) = %v", assoc, acl, err)
	}
	return aws.ToString(r.NewAssociationId)
}

// TestNetplaneNetworkACL: a client in one subnet and a server in another
// (security groups allow 6379); the server's subnet gets a custom ACL:
// nothing passes; inbound 6379 alone is not enough (stateless: the answer
// to the client's ephemeral port is denied outbound); the outbound
// ephemeral entry makes it work; a lower-numbered deny wins over the
// allow, replacing it with an allow restores; an interface in the same
// subnet is not filtered; moving the subnet back to the default ACL
// restores everything. Each step is checked in the kernel and by sgeval,
// which names the entry that denies.
func TestNetplaneNetworkACL(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, cidr, subnets := n.DefaultVPC(t)
	if len(subnets) < 2 {
		t.Fatalf("default VPC has %d subnets, want 2", len(subnets))
	}
	snA, snB := aws.ToString(subnets[0].SubnetId), aws.ToString(subnets[1].SubnetId)
	srvG := n.CreateGroup(t, "srv", vpc)
	n.AllowIn(t, srvG, nettest.TCPPerm(6379, cidr.String()))
	c := n.RunInstance(t, snA)
	s := n.RunInstance(t, snB, srvG)
	s2 := n.RunInstance(t, snB, srvG) // the server's neighbour, same subnet
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 6379)
	n.Expect(t, "default ACL", c, s, 6379, true)

	out, err := n.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("CreateNetworkAcl = %v", err)
	}
	acl := aws.ToString(out.NetworkAcl.NetworkAclId)
	associateACL(t, n, snB, acl)
	n.WaitIdle(t)
	n.Expect(t, "new ACL: only the * entries", c, s, 6379, false)
	n.Expect(t, "new ACL, same subnet", s2, s, 6379, true)
	if v := n.Verdict(t, c.ENI, s.ENI, 6379); !strings.Contains(v.String(), acl) || !strings.Contains(v.String(), "the * entry") {
		t.Errorf("sgeval = %s; want the * entry of %s named", v, acl)
	}

	aclEntry(t, n, false, acl, 100, false, "6", 6379, 6379, "0.0.0.0/0", "allow")
	n.WaitIdle(t)
	n.Expect(t, "inbound 6379 only: the answer is denied (stateless)", c, s, 6379, false)
	v := n.Verdict(t, c.ENI, s.ENI, 6379)
	if len(v.Missing) != 1 || v.Missing[0].Kind != "network-acl" || !v.Missing[0].Reply || !v.Missing[0].Egress || v.Missing[0].ACL != acl {
		t.Errorf("sgeval = %s (%+v); want one missing piece: the answer denied outbound by %s", v, v.Missing, acl)
	}

	aclEntry(t, n, false, acl, 100, true, "6", 1024, 65535, "0.0.0.0/0", "allow")
	n.WaitIdle(t)
	n.Expect(t, "inbound 6379 and outbound ephemeral ports", c, s, 6379, true)
	conn := nettest.DialEcho(t, n, c.ENI, s.IP, 6379)
	nettest.Echo(t, conn, "through a stateless ACL")

	// Rule order: a lower number decides first.
	aclEntry(t, n, false, acl, 50, false, "6", 6000, 7000, c.IP+"/32", "deny")
	n.WaitIdle(t)
	n.Expect(t, "deny 50 before allow 100", c, s, 6379, false)
	if v := n.Verdict(t, c.ENI, s.ENI, 6379); len(v.Missing) != 1 || v.Missing[0].Entry != 50 || v.Missing[0].Reply {
		t.Errorf("sgeval = %s; want entry 50 named", v)
	}
	// The connection opened before the deny carries data again once 50
	// allows (no conntrack state was needed or lost).
	aclEntry(t, n, true, acl, 50, false, "6", 6000, 7000, c.IP+"/32", "allow")
	aclEntry(t, n, false, acl, 200, false, "6", 6379, 6379, "0.0.0.0/0", "deny")
	n.WaitIdle(t)
	n.Expect(t, "allow 50, allow 100, deny 200", c, s, 6379, true)
	nettest.Echo(t, conn, "after the table was replaced")

	if _, err := n.EC2.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: aws.String(acl), RuleNumber: aws.Int32(100), Egress: aws.Bool(true)}); err != nil {
		t.Fatalf("DeleteNetworkAclEntry = %v", err)
	}
	n.WaitIdle(t)
	n.Expect(t, "outbound entry deleted", c, s, 6379, false)

	// Back to the default ACL.
	def, err := n.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("default"), Values: []string{"true"}}}})
	if err != nil || len(def.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls(default) = %v, %v", def, err)
	}
	associateACL(t, n, snB, aws.ToString(def.NetworkAcls[0].NetworkAclId))
	n.WaitIdle(t)
	n.Expect(t, "default ACL again", c, s, 6379, true)
	if _, err := n.EC2.DeleteNetworkAcl(ctx, &ec2.DeleteNetworkAclInput{NetworkAclId: aws.String(acl)}); err != nil {
		t.Fatalf("DeleteNetworkAcl = %v", err)
	}
	n.WaitIdle(t)
	if rs := n.RouterRuleset(vpc); strings.Contains(rs, "nacl") {
		t.Errorf("router ruleset still has ACL chains with only allow-all ACLs:\n%s", rs)
	}
}

// TestNetplaneNetworkACLCache: a Redis cache (a real redis-server) in a
// subnet of its own cache subnet group, an instance in another subnet. A
// custom ACL on the cache's subnet that admits 6379 inbound alone stops
// PING (the answers are denied); the outbound ephemeral entry lets it
// through; back on the default ACL it works as before.
func TestNetplaneNetworkACLCache(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	n := nettest.Start(t)
	ctx := context.Background()
	ec := elasticache.NewFromConfig(n.Config())
	vpc, cidr, subnets := n.DefaultVPC(t)
	if len(subnets) < 2 {
		t.Fatalf("default VPC has %d subnets, want 2", len(subnets))
	}
	cacheSubnet, instSubnet := aws.ToString(subnets[1].SubnetId), aws.ToString(subnets[0].SubnetId)
	if _, err := ec.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{CacheSubnetGroupName: aws.String("acl-sn"),
		CacheSubnetGroupDescription: aws.String("one subnet"), SubnetIds: []string{cacheSubnet}}); err != nil {
		t.Fatalf("CreateCacheSubnetGroup = %v", err)
	}
	sg := n.CreateGroup(t, "acl-cache", vpc)
	n.AllowIn(t, sg, nettest.TCPPerm(6379, cidr.String()))
	if _, err := ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("aclc"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1), CacheSubnetGroupName: aws.String("acl-sn"),
		SecurityGroupIds: []string{sg}}); err != nil {
		t.Fatalf("CreateCacheCluster = %v", err)
	}
	addr := nettest.WaitCluster(t, ec, "aclc")
	inst := n.RunInstance(t, instSubnet)
	n.WaitIdle(t)
	ip := nettest.WaitResolve(t, n.App.Plane(), inst.ENI, addr)
	nettest.RedisPing(t, n.App.Plane(), inst.ENI, ip)

	out, err := n.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatalf("CreateNetworkAcl = %v", err)
	}
	acl := aws.ToString(out.NetworkAcl.NetworkAclId)
	aclEntryT(t, n, acl, 100, false, 6379, 6379)
	assoc := associateACL(t, n, cacheSubnet, acl)
	n.WaitIdle(t)
	if p, err := nettest.Connect(n, inst.ENI, ip, 6379, 1500*time.Millisecond); err != nil || p.Passed {
		t.Errorf("inbound 6379 only: connect to the cache = %+v, %v; want blocked (the answers are denied)", p, err)
	}
	aclEntryT(t, n, acl, 100, true, 1024, 65535)
	n.WaitIdle(t)
	nettest.RedisPing(t, n.App.Plane(), inst.ENI, ip)

	def, err := n.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("vpc-id"), Values: []string{vpc}}, {Name: aws.String("default"), Values: []string{"true"}}}})
	if err != nil || len(def.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls(default) = %v, %v", def, err)
	}
	if _, err := n.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: aws.String(assoc),
		NetworkAclId: def.NetworkAcls[0].NetworkAclId}); err != nil {
		t.Fatalf("ReplaceNetworkAclAssociation back = %v", err)
	}
	n.WaitIdle(t)
	nettest.RedisPing(t, n.App.Plane(), inst.ENI, ip)
}
