package app_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// diffACLRanges are the port ranges of generated ACL entries: the rules'
// ranges and the usual ephemeral ones. None has an end inside Linux's
// ephemeral range (32768-60999) but at its edges, so an answer to a
// client port is allowed or denied whatever port the client drew, as
// sgeval decides it for the whole range.
var diffACLRanges = [][2]int32{{1024, 65535}, {32768, 65535}, {0, 65535}, {1000, 9000}, {6000, 6999}, {80, 443}}

// addACLs gives some configurations network ACLs: a custom ACL for one
// subnet of a VPC with instances (its entries drawn so that both allowed
// and denied flows remain likely), and sometimes a changed default ACL.
func (g *diffGen) addACLs() {
	if g.rng.Float64() >= 0.5 {
		return
	}
	t, n, ctx := g.t, g.n, context.Background()
	vi := g.instVPCOf()
	v := g.vpcs[vi]
	if g.rng.Float64() < 0.75 {
		out, err := n.EC2.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(v.id)})
		if err != nil {
			t.Fatalf("CreateNetworkAcl(%s) = %v", v.id, err)
		}
		acl := aws.ToString(out.NetworkAcl.NetworkAclId)
		g.logf("CreateNetworkAcl in %s = %s", v.id, acl)
		for range g.rng.IntN(5) {
			g.addACLEntry(vi, acl, false)
		}
		for range g.rng.IntN(3) {
			g.addACLEntry(vi, acl, true)
		}
		sn := v.snIDs[g.rng.IntN(len(v.snIDs))]
		assoc := g.aclAssociation(sn)
		if _, err := n.EC2.ReplaceNetworkAclAssociation(ctx, &ec2.ReplaceNetworkAclAssociationInput{AssociationId: aws.String(assoc), NetworkAclId: aws.String(acl)}); err != nil {
			t.Fatalf("ReplaceNetworkAclAssociation(%s, %s) = %v", assoc, acl, err)
		}
		g.logf("ReplaceNetworkAclAssociation %s (%s) -> %s", assoc, sn, acl)
	}
	if g.rng.Float64() < 0.4 {
		out, err := n.EC2.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
			{Name: aws.String("vpc-id"), Values: []string{v.id}}, {Name: aws.String("default"), Values: []string{"true"}}}})
		if err != nil || len(out.NetworkAcls) != 1 {
			t.Fatalf("DescribeNetworkAcls(default of %s) = %v, %v", v.id, out, err)
		}
		def := aws.ToString(out.NetworkAcls[0].NetworkAclId)
		g.addACLEntry(vi, def, g.rng.IntN(2) == 0)
		if g.rng.Float64() < 0.3 {
			egress := g.rng.IntN(2) == 0
			if _, err := n.EC2.DeleteNetworkAclEntry(ctx, &ec2.DeleteNetworkAclEntryInput{NetworkAclId: aws.String(def), RuleNumber: aws.Int32(100), Egress: aws.Bool(egress)}); err != nil {
				t.Fatalf("DeleteNetworkAclEntry(%s, 100, egress %v) = %v", def, egress, err)
			}
			g.logf("DeleteNetworkAclEntry %s 100 egress=%v", def, egress)
		}
	}
}

// instVPCOf picks the VPC of a random instance.
func (g *diffGen) instVPCOf() int {
	return g.instVPC[g.rng.IntN(len(g.instVPC))]
}

// aclAssociation returns the ACL association id of a subnet.
func (g *diffGen) aclAssociation(subnet string) string {
	out, err := g.n.EC2.DescribeNetworkAcls(context.Background(), &ec2.DescribeNetworkAclsInput{Filters: []ec2types.Filter{
		{Name: aws.String("association.subnet-id"), Values: []string{subnet}}}})
	if err != nil || len(out.NetworkAcls) != 1 {
		g.t.Fatalf("DescribeNetworkAcls(association.subnet-id=%s) = %v, %v", subnet, out, err)
	}
	for _, a := range out.NetworkAcls[0].Associations {
		if aws.ToString(a.SubnetId) == subnet {
			return aws.ToString(a.NetworkAclAssociationId)
		}
	}
	g.t.Fatalf("no association of %s", subnet)
	return ""
}

// addACLEntry creates a random entry in acl (of VPC vi); a number already
// taken is counted as an API refusal.
func (g *diffGen) addACLEntry(vi int, acl string, egress bool) {
	v := g.vpcs[vi]
	in := &ec2.CreateNetworkAclEntryInput{NetworkAclId: aws.String(acl), Egress: aws.Bool(egress), RuleNumber: aws.Int32(int32(10 * (1 + g.rng.IntN(20))))}
	proto := []string{"6", "-1", "17", "1"}[g.weighted(0.55, 0.25, 0.1, 0.1)]
	in.Protocol = aws.String(proto)
	ports := "all"
	switch proto {
	case "6", "17":
		var r [2]int32
		if g.rng.Float64() < 0.4 {
			p := diffPorts[g.rng.IntN(len(diffPorts))]
			r = [2]int32{p, p}
		} else {
			r = diffACLRanges[g.rng.IntN(len(diffACLRanges))]
		}
		in.PortRange = &ec2types.PortRange{From: aws.Int32(r[0]), To: aws.Int32(r[1])}
		ports = fmt.Sprintf("%d-%d", r[0], r[1])
	case "1":
		tc := [][2]int32{{-1, -1}, {8, -1}, {0, -1}, {8, 0}, {0, 0}}[g.rng.IntN(5)]
		in.IcmpTypeCode = &ec2types.IcmpTypeCode{Type: aws.Int32(tc[0]), Code: aws.Int32(tc[1])}
		ports = fmt.Sprintf("type %d code %d", tc[0], tc[1])
	}
	cands := []string{"0.0.0.0/0", "0.0.0.0/0", "10.0.0.0/8", v.cidr.String()}
	for _, o := range g.vpcs {
		cands = append(cands, o.cidr.String())
		for _, s := range o.subnets {
			cands = append(cands, s.String())
		}
	}
	for _, i := range g.insts {
		cands = append(cands, netip.PrefixFrom(netip.MustParseAddr(i.IP), 32).String())
	}
	cidr := cands[g.rng.IntN(len(cands))]
	in.CidrBlock = aws.String(cidr)
	action := ec2types.RuleActionAllow
	if g.rng.Float64() < 0.35 {
		action = ec2types.RuleActionDeny
	}
	in.RuleAction = action
	desc := fmt.Sprintf("%s %d egress=%v %s %s %s %s", acl, *in.RuleNumber, egress, proto, ports, cidr, action)
	_, err := g.n.EC2.CreateNetworkAclEntry(context.Background(), in)
	switch code := nettest.Code(err); {
	case err == nil:
		g.logf("CreateNetworkAclEntry %s", desc)
	case code == "NetworkAclEntryAlreadyExists":
		g.stats.apiErrs[code]++
		g.logf("CreateNetworkAclEntry %s: number taken", desc)
	default:
		g.t.Fatalf("CreateNetworkAclEntry %s = %v", desc, err)
	}
}
