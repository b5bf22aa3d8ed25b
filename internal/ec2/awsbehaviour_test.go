package ec2

import (
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// TestAWSBehaviour pins where AWS answers in a way that surprises: CIDRs
// canonicalised, empty filters, malformed ids in filters, subnet fields
// and attributes, retired ClassicLink.
func TestAWSBehaviour(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)

	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.250.1.0/16")})).Vpc
	if *v.CidrBlock != "10.250.0.0/16" {
		t.Errorf("CreateVpc(10.250.1.0/16) CidrBlock = %s, want 10.250.0.0/16", *v.CidrBlock)
	}
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: v.VpcId, CidrBlock: ptr("10.250.3.7/24")})).Subnet
	if *sn.CidrBlock != "10.250.3.0/24" || sn.Ipv6CidrBlockAssociationSet == nil || *sn.PrivateDnsNameOptionsOnLaunch.HostnameType != "ip-name" {
		t.Errorf("CreateSubnet(10.250.3.7/24) = %s, ipv6 %v, dns %+v", *sn.CidrBlock, sn.Ipv6CidrBlockAssociationSet, sn.PrivateDnsNameOptionsOnLaunch)
	}
	for _, name := range []string{"cidr", "cidr-block", "cidr-block-association.cidr-block"} {
		got := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter(name, "10.250.0.0/16")}}))
		if len(got.Vpcs) != 1 {
			t.Errorf("DescribeVpcs(%s=10.250.0.0/16) = %d VPCs, want 1", name, len(got.Vpcs))
		}
	}
	g := createGroup(t, s, ctx, "web", *v.VpcId)
	ok(t, must2(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{tcpFrom(22, "10.0.0.5/16")}})))
	if r := describeGroup(t, s, ctx, g).IpPermissions[0].IpRanges[0]; *r.CidrIp != "10.0.0.0/16" {
		t.Errorf("rule CIDR = %s, want 10.0.0.0/16", *r.CidrIp)
	}
	failsUnchanged(t, st, "InvalidPermission.Duplicate", func() error {
		return must2(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{tcpFrom(22, "10.0.9.9/16")}}))
	})

	// A filter without values matches nothing.
	none := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{{Name: ptr("vpc-id")}}}))
	if len(none.Vpcs) != 0 {
		t.Errorf("DescribeVpcs(vpc-id without values) = %d VPCs, want none", len(none.Vpcs))
	}
	_, err := s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{Filters: []ec2api.Filter{filter("group-id", "web")}})
	wantCode(t, err, "InvalidGroupId.Malformed")

	// Subnet attributes: one per call; IPv6 ones only false; Outposts refused.
	ok(t, s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: sn.SubnetId, PrivateDnsHostnameTypeOnLaunch: ptr("resource-name")}))
	ok(t, s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: sn.SubnetId, EnableResourceNameDnsARecordOnLaunch: &ec2api.AttributeBooleanValue{Value: ptr(true)}}))
	ok(t, s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: sn.SubnetId, AssignIpv6AddressOnCreation: &ec2api.AttributeBooleanValue{Value: ptr(false)}}))
	got := must[*ec2api.DescribeSubnetsResult](t)(s.DescribeSubnets(ctx, &ec2api.DescribeSubnetsRequest{Filters: []ec2api.Filter{
		filter("private-dns-name-options-on-launch.hostname-type", "resource-name")}}))
	if len(got.Subnets) != 1 || !*got.Subnets[0].PrivateDnsNameOptionsOnLaunch.EnableResourceNameDnsARecord {
		t.Errorf("subnet after ModifySubnetAttribute = %+v", got.Subnets)
	}
	for name, in := range map[string]*ec2api.ModifySubnetAttributeRequest{
		"InvalidParameterValue":       {SubnetId: sn.SubnetId, AssignIpv6AddressOnCreation: &ec2api.AttributeBooleanValue{Value: ptr(true)}},
		"UnsupportedOperation":        {SubnetId: sn.SubnetId, EnableLniAtDeviceIndex: ptr(int32(1))},
		"InvalidParameterCombination": {SubnetId: sn.SubnetId, EnableDns64: &ec2api.AttributeBooleanValue{Value: ptr(true)}, MapPublicIpOnLaunch: &ec2api.AttributeBooleanValue{Value: ptr(true)}},
	} {
		failsUnchanged(t, st, name, func() error { return s.ModifySubnetAttribute(ctx, in) })
	}

	// ClassicLink is retired: not enabled anywhere, changes refused.
	cl := must[*ec2api.DescribeVpcClassicLinkResult](t)(s.DescribeVpcClassicLink(ctx, &ec2api.DescribeVpcClassicLinkRequest{VpcIds: []string{*v.VpcId}}))
	if len(cl.Vpcs) != 1 || *cl.Vpcs[0].ClassicLinkEnabled {
		t.Errorf("DescribeVpcClassicLink = %+v, want not enabled", cl.Vpcs)
	}
	dns := must[*ec2api.DescribeVpcClassicLinkDnsSupportResult](t)(s.DescribeVpcClassicLinkDnsSupport(ctx, &ec2api.DescribeVpcClassicLinkDnsSupportRequest{}))
	if len(dns.Vpcs) != 2 || *dns.Vpcs[0].ClassicLinkDnsSupported {
		t.Errorf("DescribeVpcClassicLinkDnsSupport = %+v, want the two VPCs, unsupported", dns.Vpcs)
	}
	_, err = s.EnableVpcClassicLink(ctx, &ec2api.EnableVpcClassicLinkRequest{VpcId: v.VpcId})
	wantCode(t, err, "UnsupportedOperation")
}
