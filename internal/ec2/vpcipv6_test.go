package ec2

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// TestIPv6Blocks: Amazon-provided /56 blocks on VPCs (at creation and
// associated later), /64 blocks of them on subnets, with AWS's validation,
// shown in describes and filters and as local routes; failed calls change
// nothing; what the network plane cannot realise is refused.
func TestIPv6Blocks(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16"), AmazonProvidedIpv6CidrBlock: ptr(true)})).Vpc
	vpc := *v.VpcId
	if len(v.Ipv6CidrBlockAssociationSet) != 1 {
		t.Fatalf("CreateVpc Ipv6CidrBlockAssociationSet = %+v", v.Ipv6CidrBlockAssociationSet)
	}
	a := v.Ipv6CidrBlockAssociationSet[0]
	block := netip.MustParsePrefix(*a.Ipv6CidrBlock)
	if block.Bits() != 56 || !amazonIPv6Pool.Contains(block.Addr()) || *a.Ipv6Pool != "Amazon" || *a.NetworkBorderGroup != region {
		t.Errorf("IPv6 block = %+v", a)
	}
	sub := func(i int) string { // the i-th /64 of the block
		b := block.Addr().As16()
		b[7] = byte(i)
		return netip.PrefixFrom(netip.AddrFrom16(b), 64).String()
	}
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.1.0/24"), Ipv6CidrBlock: ptr(sub(1))})).Subnet
	if len(sn.Ipv6CidrBlockAssociationSet) != 1 || *sn.Ipv6CidrBlockAssociationSet[0].Ipv6CidrBlock != sub(1) {
		t.Fatalf("CreateSubnet Ipv6CidrBlockAssociationSet = %+v", sn.Ipv6CidrBlockAssociationSet)
	}
	plain := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.2.0/24")})).Subnet.SubnetId
	other := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.1.0.0/16")})).Vpc
	otherSn := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: other.VpcId, CidrBlock: ptr("10.1.1.0/24")})).Subnet.SubnetId

	for _, c := range []struct {
		name, code string
		call       func() error
	}{
		{"vpc-byoip", "UnsupportedOperation", func() error {
			return RefuseParams("CreateVpc", &ec2api.CreateVpcRequest{CidrBlock: ptr("10.2.0.0/16"), Ipv6CidrBlock: ptr("2001:db8::/56")})
		}},
		{"vpc-border-group-alone", "InvalidParameterCombination", func() error {
			_, err := s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.2.0.0/16"), Ipv6CidrBlockNetworkBorderGroup: ptr(region)})
			return err
		}},
		{"vpc-border-group-other", "InvalidParameterValue", func() error {
			_, err := s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.2.0.0/16"), AmazonProvidedIpv6CidrBlock: ptr(true), Ipv6CidrBlockNetworkBorderGroup: ptr("us-west-2")})
			return err
		}},
		{"associate-both", "InvalidParameterCombination", func() error {
			_, err := s.AssociateVpcCidrBlock(ctx, &ec2api.AssociateVpcCidrBlockRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.9.0.0/16"), AmazonProvidedIpv6CidrBlock: ptr(true)})
			return err
		}},
		{"subnet-not-64", "InvalidSubnet.Range", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(plain), Ipv6CidrBlock: ptr(strings.Replace(sub(2), "/64", "/60", 1))})
			return err
		}},
		{"subnet-outside-vpc", "InvalidSubnet.Range", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(plain), Ipv6CidrBlock: ptr("2001:db8::/64")})
			return err
		}},
		{"subnet-taken", "InvalidSubnet.Conflict", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(plain), Ipv6CidrBlock: ptr(sub(1))})
			return err
		}},
		{"subnet-already-has-one", "InvalidSubnet.Conflict", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: sn.SubnetId, Ipv6CidrBlock: ptr(sub(3))})
			return err
		}},
		{"subnet-vpc-without-ipv6", "InvalidSubnet.Range", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(otherSn), Ipv6CidrBlock: ptr(sub(4))})
			return err
		}},
		{"subnet-not-ipv6", "InvalidParameterValue", func() error {
			_, err := s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(plain), Ipv6CidrBlock: ptr("10.0.3.0/24")})
			return err
		}},
		{"create-subnet-bad-ipv6", "InvalidSubnet.Range", func() error {
			_, err := s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.4.0/24"), Ipv6CidrBlock: ptr("2001:db8::/64")})
			return err
		}},
		{"ipv6-native", "UnsupportedOperation", func() error {
			return RefuseParams("CreateSubnet", &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), Ipv6Native: ptr(true)})
		}},
		{"vpc-block-in-use", "InvalidCidrBlock.InUse", func() error {
			_, err := s.DisassociateVpcCidrBlock(ctx, &ec2api.DisassociateVpcCidrBlockRequest{AssociationId: a.AssociationId})
			return err
		}},
		{"unknown-subnet-assoc", "InvalidSubnetCidrBlockAssociationID.NotFound", func() error {
			_, err := s.DisassociateSubnetCidrBlock(ctx, &ec2api.DisassociateSubnetCidrBlockRequest{AssociationId: ptr("subnet-cidr-assoc-0123456789abcdef0")})
			return err
		}},
		{"assign-ipv6-on-creation", "UnsupportedOperation", func() error {
			return s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: sn.SubnetId, AssignIpv6AddressOnCreation: &ec2api.AttributeBooleanValue{Value: ptr(true)}})
		}},
		{"assign-ipv6-without-block", "InvalidParameterValue", func() error {
			return s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: ptr(plain), AssignIpv6AddressOnCreation: &ec2api.AttributeBooleanValue{Value: ptr(true)}})
		}},
	} {
		t.Run(c.name, func(t *testing.T) { failsUnchanged(t, st, c.code, c.call) })
	}

	// Local route in every table, new ones too.
	rtb := *must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable.RouteTableId
	tables := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{
		filter("route.destination-ipv6-cidr-block", block.String())}}))
	if len(tables.RouteTables) != 2 {
		t.Errorf("tables with the IPv6 local route: %d, want 2 (main and %s)", len(tables.RouteTables), rtb)
	}
	for _, r := range tables.RouteTables {
		for _, rt := range r.Routes {
			if rt.DestinationIpv6CidrBlock != nil && (rt.DestinationCidrBlock != nil || *rt.GatewayId != "local") {
				t.Errorf("IPv6 local route = %+v", rt)
			}
		}
	}
	// Filters.
	for _, c := range []struct {
		name string
		n    int
		got  func() int
	}{
		{"vpc-ipv6-cidr", 1, func() int {
			return len(must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("ipv6-cidr-block-association.ipv6-cidr-block", block.String())}})).Vpcs)
		}},
		{"vpc-ipv6-pool", 1, func() int {
			return len(must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("ipv6-cidr-block-association.ipv6-pool", "Amazon")}})).Vpcs)
		}},
		{"subnet-ipv6-cidr", 1, func() int {
			return len(must[*ec2api.DescribeSubnetsResult](t)(s.DescribeSubnets(ctx, &ec2api.DescribeSubnetsRequest{Filters: []ec2api.Filter{filter("ipv6-cidr-block-association.ipv6-cidr-block", sub(1))}})).Subnets)
		}},
	} {
		if got := c.got(); got != c.n {
			t.Errorf("filter %s: %d, want %d", c.name, got, c.n)
		}
	}

	// Subnet blocks come and go; then the VPC block goes, with its routes.
	as := must[*ec2api.AssociateSubnetCidrBlockResult](t)(s.AssociateSubnetCidrBlock(ctx, &ec2api.AssociateSubnetCidrBlockRequest{SubnetId: ptr(plain), Ipv6CidrBlock: ptr(sub(2))}))
	if *as.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State != "associating" {
		t.Errorf("AssociateSubnetCidrBlock state %s", *as.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State)
	}
	for _, id := range []string{*as.Ipv6CidrBlockAssociation.AssociationId, *sn.Ipv6CidrBlockAssociationSet[0].AssociationId} {
		must[*ec2api.DisassociateSubnetCidrBlockResult](t)(s.DisassociateSubnetCidrBlock(ctx, &ec2api.DisassociateSubnetCidrBlockRequest{AssociationId: ptr(id)}))
	}
	d := must[*ec2api.DescribeSubnetsResult](t)(s.DescribeSubnets(ctx, &ec2api.DescribeSubnetsRequest{SubnetIds: []string{*sn.SubnetId}}))
	if n := len(d.Subnets[0].Ipv6CidrBlockAssociationSet); n != 0 {
		t.Errorf("subnet still has %d IPv6 blocks", n)
	}
	dis := must[*ec2api.DisassociateVpcCidrBlockResult](t)(s.DisassociateVpcCidrBlock(ctx, &ec2api.DisassociateVpcCidrBlockRequest{AssociationId: a.AssociationId}))
	if dis.Ipv6CidrBlockAssociation == nil || *dis.Ipv6CidrBlockAssociation.Ipv6CidrBlock != block.String() {
		t.Errorf("DisassociateVpcCidrBlock = %+v", dis)
	}
	tables = must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{
		filter("route.destination-ipv6-cidr-block", block.String())}}))
	if len(tables.RouteTables) != 0 {
		t.Errorf("IPv6 local route left in %d tables", len(tables.RouteTables))
	}
	// A new one by AssociateVpcCidrBlock.
	av := must[*ec2api.AssociateVpcCidrBlockResult](t)(s.AssociateVpcCidrBlock(ctx, &ec2api.AssociateVpcCidrBlockRequest{VpcId: other.VpcId, AmazonProvidedIpv6CidrBlock: ptr(true)}))
	if av.Ipv6CidrBlockAssociation == nil || *av.Ipv6CidrBlockAssociation.Ipv6CidrBlockState.State != "associating" {
		t.Fatalf("AssociateVpcCidrBlock = %+v", av)
	}
	dv := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{VpcIds: []string{*other.VpcId}}))
	if len(dv.Vpcs[0].Ipv6CidrBlockAssociationSet) != 1 {
		t.Errorf("DescribeVpcs Ipv6CidrBlockAssociationSet = %+v", dv.Vpcs[0].Ipv6CidrBlockAssociationSet)
	}
}
