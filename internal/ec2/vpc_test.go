package ec2

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/google/go-cmp/cmp"
)

func TestDefaultVPC(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	vpcs := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{}))
	if len(vpcs.Vpcs) != 1 || *vpcs.Vpcs[0].CidrBlock != "172.31.0.0/16" || !*vpcs.Vpcs[0].IsDefault {
		t.Fatalf("DescribeVpcs = %+v, want one default 172.31.0.0/16", vpcs.Vpcs)
	}
	vpc := *vpcs.Vpcs[0].VpcId
	if !wellFormed(vpc, "vpc-") || len(vpc) != len("vpc-")+17 {
		t.Errorf("vpc id %q is not vpc- + 17 hex", vpc)
	}
	subnets := must[*ec2api.DescribeSubnetsResult](t)(s.DescribeSubnets(ctx, &ec2api.DescribeSubnetsRequest{}))
	got := map[string]string{}
	for _, sn := range subnets.Subnets {
		got[*sn.AvailabilityZone] = *sn.CidrBlock
		if !*sn.DefaultForAz || *sn.AvailableIpAddressCount != 4091 {
			t.Errorf("subnet %s: defaultForAz=%v available=%d", *sn.SubnetId, *sn.DefaultForAz, *sn.AvailableIpAddressCount)
		}
	}
	want := map[string]string{"us-east-1a": "172.31.0.0/20", "us-east-1b": "172.31.16.0/20", "us-east-1c": "172.31.32.0/20"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("default subnets (-want +got):\n%s", diff)
	}
	sgs := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{GroupNames: []string{"default"}}))
	if len(sgs.SecurityGroups) != 1 {
		t.Fatalf("default group: %d groups", len(sgs.SecurityGroups))
	}
	g := sgs.SecurityGroups[0]
	if len(g.IpPermissions) != 1 || *g.IpPermissions[0].IpProtocol != "-1" || *g.IpPermissions[0].UserIdGroupPairs[0].GroupId != *g.GroupId {
		t.Errorf("default group ingress = %+v, want all traffic from itself", g.IpPermissions)
	}
	if len(g.IpPermissionsEgress) != 1 || *g.IpPermissionsEgress[0].IpRanges[0].CidrIp != "0.0.0.0/0" {
		t.Errorf("default group egress = %+v, want all to 0.0.0.0/0", g.IpPermissionsEgress)
	}
	rtbs := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{filter("association.main", "true")}}))
	if len(rtbs.RouteTables) != 1 || len(rtbs.RouteTables[0].Routes) != 2 {
		t.Fatalf("main route table = %+v", rtbs.RouteTables)
	}
	igws := must[*ec2api.DescribeInternetGatewaysResult](t)(s.DescribeInternetGateways(ctx, &ec2api.DescribeInternetGatewaysRequest{Filters: []ec2api.Filter{filter("attachment.vpc-id", vpc)}}))
	if len(igws.InternetGateways) != 1 {
		t.Fatalf("igw attached to default vpc: %d", len(igws.InternetGateways))
	}
	if r := rtbs.RouteTables[0].Routes[1]; *r.DestinationCidrBlock != "0.0.0.0/0" || *r.GatewayId != *igws.InternetGateways[0].InternetGatewayId || *r.State != "active" {
		t.Errorf("default route = %+v", r)
	}
	acls := must[*ec2api.DescribeNetworkAclsResult](t)(s.DescribeNetworkAcls(ctx, &ec2api.DescribeNetworkAclsRequest{}))
	if len(acls.NetworkAcls) != 1 || len(acls.NetworkAcls[0].Associations) != 3 {
		t.Errorf("default ACL = %+v", acls.NetworkAcls)
	}
	// Another account gets its own.
	other := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctxFor(acctB), &ec2api.DescribeVpcsRequest{}))
	if len(other.Vpcs) != 1 || *other.Vpcs[0].VpcId == vpc {
		t.Errorf("account B vpcs = %+v", other.Vpcs)
	}
}

func TestDefaultVPCRace(t *testing.T) {
	s, _ := newTestService(t)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.DescribeSecurityGroups(ctxFor(acctA), &ec2api.DescribeSecurityGroupsRequest{})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	vpcs := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctxFor(acctA), &ec2api.DescribeVpcsRequest{}))
	if len(vpcs.Vpcs) != 1 {
		t.Fatalf("after racing first requests: %d VPCs, want 1", len(vpcs.Vpcs))
	}
}

type fakeAccounts map[string]bool

func (f fakeAccounts) EC2Classic(_ context.Context, id string) (bool, error) { return f[id], nil }

func TestAccountAttributes(t *testing.T) {
	st := openStore(t)
	s := New(st, Config{Accounts: fakeAccounts{acctB: true}})
	attrs := func(acct string, names ...string) map[string][]string {
		out := must[*ec2api.DescribeAccountAttributesResult](t)(s.DescribeAccountAttributes(ctxFor(acct), &ec2api.DescribeAccountAttributesRequest{AttributeNames: names}))
		m := map[string][]string{}
		for _, a := range out.AccountAttributes {
			for _, v := range a.AttributeValues {
				m[*a.AttributeName] = append(m[*a.AttributeName], *v.AttributeValue)
			}
		}
		return m
	}
	a := attrs(acctA)
	if !slices.Equal(a["supported-platforms"], []string{"VPC"}) || a["vpc-max-security-groups-per-interface"][0] != "5" || a["default-vpc"][0] == "none" {
		t.Errorf("VPC account attributes = %v", a)
	}
	for _, k := range []string{"max-instances", "max-elastic-ips", "vpc-max-elastic-ips"} {
		if len(a[k]) != 1 {
			t.Errorf("attribute %s missing", k)
		}
	}
	b := attrs(acctB, "supported-platforms", "default-vpc")
	want := map[string][]string{"supported-platforms": {"EC2", "VPC"}, "default-vpc": {"none"}}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("classic account attributes (-want +got):\n%s", diff)
	}
	_, err := s.DescribeAccountAttributes(ctxFor(acctA), &ec2api.DescribeAccountAttributesRequest{AttributeNames: []string{"bogus"}})
	wantCode(t, err, "InvalidParameterValue")
	// A classic account may create a classic group without a VPC.
	out := must[*ec2api.CreateSecurityGroupResult](t)(s.CreateSecurityGroup(ctxFor(acctB), &ec2api.CreateSecurityGroupRequest{GroupName: ptr("web"), Description: ptr("web")}))
	g := describeGroup(t, s, ctxFor(acctB), *out.GroupId)
	if g.VpcId != nil || len(g.IpPermissionsEgress) != 0 {
		t.Errorf("classic group = %+v", g)
	}
	_, err = s.CreateDefaultVpc(ctxFor(acctB), &ec2api.CreateDefaultVpcRequest{})
	wantCode(t, err, "AccountSupportsEC2Classic")
}

func TestVPCErrors(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	tests := []struct {
		name string
		cidr string
		code string
	}{
		{"too big", "10.0.0.0/8", "InvalidVpc.Range"},
		{"too small", "10.0.0.0/29", "InvalidVpc.Range"},
		{"garbage", "ten/16", "InvalidParameterValue"},
		{"v6", "fd00::/56", "InvalidParameterValue"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr(tc.cidr)})
			wantCode(t, err, tc.code)
		})
	}
	_, err := s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16"), DryRun: ptr(true)})
	wantCode(t, err, "DryRunOperation")
	for range 4 {
		ok(t, func() error {
			_, err := s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")})
			return err
		}())
	}
	_, err = s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")})
	wantCode(t, err, "VpcLimitExceeded")
	wantCode(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr("vpc-0123456789abcdef0")}), "InvalidVpcID.NotFound")
	wantCode(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr("vpc-zz")}), "InvalidVpcID.Malformed")
	def := defaults(t, s, acctA)
	wantCode(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(def.ID)}), "DependencyViolation")
}

func TestSubnetsAndVPCDelete(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.1.0.0/16"),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("vpc"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("app")}}}}}))
	vpc := *v.Vpc.VpcId
	tests := []struct {
		name, cidr, az, code string
	}{
		{"outside vpc", "10.2.0.0/24", "", "InvalidSubnet.Range"},
		{"too small", "10.1.0.0/29", "", "InvalidSubnet.Range"},
		{"bad zone", "10.1.0.0/24", "eu-west-1a", "InvalidParameterValue"},
		{"ok", "10.1.0.0/24", "us-east-1b", ""},
		{"conflict", "10.1.0.128/25", "", "InvalidSubnet.Conflict"},
	}
	var subnet string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr(tc.cidr)}
			if tc.az != "" {
				in.AvailabilityZone = ptr(tc.az)
			}
			out, err := s.CreateSubnet(ctx, in)
			if tc.code != "" {
				wantCode(t, err, tc.code)
				return
			}
			ok(t, err)
			subnet = *out.Subnet.SubnetId
			if *out.Subnet.AvailableIpAddressCount != 251 || *out.Subnet.AvailabilityZoneId != "use1-az2" {
				t.Errorf("subnet = %+v", out.Subnet)
			}
		})
	}
	got := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("tag:Name", "a*")}}))
	if len(got.Vpcs) != 1 || *got.Vpcs[0].VpcId != vpc {
		t.Errorf("DescribeVpcs(tag:Name=a*) = %+v", got.Vpcs)
	}
	ok(t, s.ModifyVpcAttribute(ctx, &ec2api.ModifyVpcAttributeRequest{VpcId: ptr(vpc), EnableDnsHostnames: &ec2api.AttributeBooleanValue{Value: ptr(true)}}))
	attr := must[*ec2api.DescribeVpcAttributeResult](t)(s.DescribeVpcAttribute(ctx, &ec2api.DescribeVpcAttributeRequest{VpcId: ptr(vpc), Attribute: ptr("enableDnsHostnames")}))
	if !*attr.EnableDnsHostnames.Value {
		t.Errorf("enableDnsHostnames not set")
	}
	ok(t, s.ModifySubnetAttribute(ctx, &ec2api.ModifySubnetAttributeRequest{SubnetId: ptr(subnet), MapPublicIpOnLaunch: &ec2api.AttributeBooleanValue{Value: ptr(true)}}))
	eni := must[*ec2api.CreateNetworkInterfaceResult](t)(s.CreateNetworkInterface(ctx, &ec2api.CreateNetworkInterfaceRequest{SubnetId: ptr(subnet)}))
	wantCode(t, s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: ptr(subnet)}), "DependencyViolation")
	wantCode(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(vpc)}), "DependencyViolation")
	ok(t, s.DeleteNetworkInterface(ctx, &ec2api.DeleteNetworkInterfaceRequest{NetworkInterfaceId: eni.NetworkInterface.NetworkInterfaceId}))
	ok(t, s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: ptr(subnet)}))
	ok(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(vpc)}))
	sgs := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{Filters: []ec2api.Filter{filter("vpc-id", vpc)}}))
	if len(sgs.SecurityGroups) != 0 {
		t.Errorf("groups of deleted VPC remain: %d", len(sgs.SecurityGroups))
	}
}

func TestRegionsAndZones(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	az := must[*ec2api.DescribeAvailabilityZonesResult](t)(s.DescribeAvailabilityZones(ctx, &ec2api.DescribeAvailabilityZonesRequest{Filters: []ec2api.Filter{filter("zone-name", "*b")}}))
	if len(az.AvailabilityZones) != 1 || *az.AvailabilityZones[0].ZoneName != "us-east-1b" || *az.AvailabilityZones[0].ZoneId != "use1-az2" {
		t.Errorf("zones = %+v", az.AvailabilityZones)
	}
	rg := must[*ec2api.DescribeRegionsResult](t)(s.DescribeRegions(ctx, &ec2api.DescribeRegionsRequest{RegionNames: []string{"eu-west-1"}}))
	if len(rg.Regions) != 1 || *rg.Regions[0].Endpoint != "ec2.eu-west-1.amazonaws.com" {
		t.Errorf("regions = %+v", rg.Regions)
	}
	_, err := s.DescribeRegions(ctx, &ec2api.DescribeRegionsRequest{RegionNames: []string{"mars-1"}})
	wantCode(t, err, "InvalidParameterValue")
	_, err = s.DescribeRegions(ctx, &ec2api.DescribeRegionsRequest{Filters: []ec2api.Filter{filter("bogus", "x")}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestStoreIsSourceOfTruth(t *testing.T) {
	st := openStore(t)
	a, b := New(st, Config{}), New(st, Config{})
	ctx := ctxFor(acctA)
	// a caches the scope, b writes, a must see it.
	must[*ec2api.DescribeSecurityGroupsResult](t)(a.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{}))
	id := createGroup(t, b, ctx, "from-b", "")
	g := describeGroup(t, a, ctx, id)
	if *g.GroupName != "from-b" {
		t.Fatalf("group = %+v", g)
	}
	ok(t, func() error {
		_, err := a.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(id), IpPermissions: []ec2api.IpPermission{tcpFrom(22, "10.0.0.0/8")}})
		return err
	}())
	if g := describeGroup(t, b, ctx, id); len(g.IpPermissions) != 1 {
		t.Fatalf("b does not see a's rule: %+v", g.IpPermissions)
	}
}
