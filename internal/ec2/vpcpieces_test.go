package ec2

import (
	"context"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/store"
	"github.com/google/go-cmp/cmp"
)

func dhcpConf(kv ...string) []ec2api.NewDhcpConfiguration {
	var out []ec2api.NewDhcpConfiguration
	for i := 0; i < len(kv); i += 2 {
		out = append(out, ec2api.NewDhcpConfiguration{Key: ptr(kv[i]), Values: []string{kv[i+1]}})
	}
	return out
}

func TestDhcpOptions(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	vpcs := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{VpcIds: []string{def.ID}}))
	defDopt := *vpcs.Vpcs[0].DhcpOptionsId
	if !wellFormed(defDopt, "dopt-") {
		t.Fatalf("default VPC DhcpOptionsId = %q, want the region's default set", defDopt)
	}
	d := must[*ec2api.DescribeDhcpOptionsResult](t)(s.DescribeDhcpOptions(ctx, &ec2api.DescribeDhcpOptionsRequest{DhcpOptionsIds: []string{defDopt}}))
	got := map[string]string{}
	for _, c := range d.DhcpOptions[0].DhcpConfigurations {
		got[*c.Key] = *c.Values[0].Value
	}
	if want := map[string]string{"domain-name": "ec2.internal", "domain-name-servers": "AmazonProvidedDNS"}; !cmp.Equal(got, want) {
		t.Errorf("default options = %v, want %v", got, want)
	}
	// A new VPC gets the default set too.
	nv := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.5.0.0/16")})).Vpc
	if *nv.DhcpOptionsId != defDopt {
		t.Errorf("new VPC DhcpOptionsId = %s, want %s", *nv.DhcpOptionsId, defDopt)
	}

	created := must[*ec2api.CreateDhcpOptionsResult](t)(s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{
		DhcpConfigurations: append(dhcpConf("domain-name", "corp.example.com", "netbios-node-type", "2"),
			ec2api.NewDhcpConfiguration{Key: ptr("domain-name-servers"), Values: []string{"10.5.0.2", "AmazonProvidedDNS"}}),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("dhcp-options"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("corp")}}}}})).DhcpOptions
	id := *created.DhcpOptionsId
	if len(created.DhcpConfigurations) != 3 || len(created.Tags) != 1 {
		t.Errorf("CreateDhcpOptions = %+v", created)
	}

	fails := []struct {
		name, code string
		call       func() error
	}{
		{"no configuration", "MissingParameter", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{})
			return err
		}},
		{"unknown key", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("tftp-server", "x")})
			return err
		}},
		{"bad server", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("ntp-servers", "ntp.example.com")})
			return err
		}},
		{"five servers", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: []ec2api.NewDhcpConfiguration{{Key: ptr("domain-name-servers"),
				Values: []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"}}}})
			return err
		}},
		{"bad node type", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("netbios-node-type", "3")})
			return err
		}},
		{"bad lease time", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("ipv6-address-preferred-lease-time", "10")})
			return err
		}},
		{"duplicate key", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("domain-name", "a.example", "domain-name", "b.example")})
			return err
		}},
		{"bad tag type", "InvalidParameterValue", func() error {
			_, err := s.CreateDhcpOptions(ctx, &ec2api.CreateDhcpOptionsRequest{DhcpConfigurations: dhcpConf("domain-name", "a.example"),
				TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("vpc"), Tags: []ec2api.Tag{{Key: ptr("k")}}}}})
			return err
		}},
		{"associate unknown", "InvalidDhcpOptionID.NotFound", func() error {
			return s.AssociateDhcpOptions(ctx, &ec2api.AssociateDhcpOptionsRequest{DhcpOptionsId: ptr("dopt-0123456789abcdef0"), VpcId: ptr(def.ID)})
		}},
		{"associate malformed", "InvalidDhcpOptionsId.Malformed", func() error {
			return s.AssociateDhcpOptions(ctx, &ec2api.AssociateDhcpOptionsRequest{DhcpOptionsId: ptr("dhcp-1"), VpcId: ptr(def.ID)})
		}},
		{"associate unknown VPC", "InvalidVpcID.NotFound", func() error {
			return s.AssociateDhcpOptions(ctx, &ec2api.AssociateDhcpOptionsRequest{DhcpOptionsId: ptr(id), VpcId: ptr("vpc-0123456789abcdef0")})
		}},
		{"delete associated default", "DependencyViolation", func() error {
			return s.DeleteDhcpOptions(ctx, &ec2api.DeleteDhcpOptionsRequest{DhcpOptionsId: ptr(defDopt)})
		}},
		{"delete unknown", "InvalidDhcpOptionID.NotFound", func() error {
			return s.DeleteDhcpOptions(ctx, &ec2api.DeleteDhcpOptionsRequest{DhcpOptionsId: ptr("dopt-0123456789abcdef0")})
		}},
		{"describe unknown", "InvalidDhcpOptionID.NotFound", func() error {
			_, err := s.DescribeDhcpOptions(ctx, &ec2api.DescribeDhcpOptionsRequest{DhcpOptionsIds: []string{"dopt-0123456789abcdef0"}})
			return err
		}},
		{"bad filter", "InvalidParameterValue", func() error {
			_, err := s.DescribeDhcpOptions(ctx, &ec2api.DescribeDhcpOptionsRequest{Filters: []ec2api.Filter{filter("vpc-id", def.ID)}})
			return err
		}},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) { failsUnchanged(t, st, f.code, f.call) })
	}

	// Every documented filter.
	for _, f := range []ec2api.Filter{filter("dhcp-options-id", id), filter("key", "netbios-node-type"), filter("value", "corp.*"),
		filter("owner-id", acctA), filter("tag:Name", "corp"), filter("tag-key", "Name"), filter("tag-value", "corp")} {
		d := must[*ec2api.DescribeDhcpOptionsResult](t)(s.DescribeDhcpOptions(ctx, &ec2api.DescribeDhcpOptionsRequest{Filters: []ec2api.Filter{f}}))
		if !slices.ContainsFunc(d.DhcpOptions, func(o ec2api.DhcpOptions) bool { return *o.DhcpOptionsId == id }) ||
			(*f.Name != "owner-id" && len(d.DhcpOptions) != 1) {
			t.Errorf("filter %s=%v: %d sets", *f.Name, f.Values, len(d.DhcpOptions))
		}
	}

	// Associate, describe the VPC with it, filter VPCs by it; then "default".
	ok(t, s.AssociateDhcpOptions(ctx, &ec2api.AssociateDhcpOptionsRequest{DhcpOptionsId: ptr(id), VpcId: nv.VpcId}))
	byDopt := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("dhcp-options-id", id)}}))
	if len(byDopt.Vpcs) != 1 || *byDopt.Vpcs[0].VpcId != *nv.VpcId {
		t.Errorf("DescribeVpcs dhcp-options-id = %+v", byDopt.Vpcs)
	}
	failsUnchanged(t, st, "DependencyViolation", func() error {
		return s.DeleteDhcpOptions(ctx, &ec2api.DeleteDhcpOptionsRequest{DhcpOptionsId: ptr(id)})
	})
	ok(t, s.AssociateDhcpOptions(ctx, &ec2api.AssociateDhcpOptionsRequest{DhcpOptionsId: ptr("default"), VpcId: nv.VpcId}))
	v := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{VpcIds: []string{*nv.VpcId}})).Vpcs[0]
	if *v.DhcpOptionsId != "default" {
		t.Errorf("after associating default: DhcpOptionsId = %s", *v.DhcpOptionsId)
	}
	ok(t, s.DeleteDhcpOptions(ctx, &ec2api.DeleteDhcpOptionsRequest{DhcpOptionsId: ptr(id)}))
	wantCode(t, s.DeleteDhcpOptions(ctx, &ec2api.DeleteDhcpOptionsRequest{DhcpOptionsId: ptr(id)}), "InvalidDhcpOptionID.NotFound")
}

func TestVpcCidrBlocks(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	vpc := *must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")})).Vpc.VpcId
	assoc := func(cidr string) (*ec2api.AssociateVpcCidrBlockResult, error) {
		return s.AssociateVpcCidrBlock(ctx, &ec2api.AssociateVpcCidrBlockRequest{VpcId: ptr(vpc), CidrBlock: ptr(cidr)})
	}
	a := must[*ec2api.AssociateVpcCidrBlockResult](t)(assoc("10.1.7.0/16"))
	if *a.CidrBlockAssociation.CidrBlock != "10.1.0.0/16" || *a.CidrBlockAssociation.CidrBlockState.State != "associating" || *a.VpcId != vpc {
		t.Errorf("AssociateVpcCidrBlock = %+v", a.CidrBlockAssociation)
	}
	second := *a.CidrBlockAssociation.AssociationId
	primary := *must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{VpcIds: []string{vpc}})).Vpcs[0].CidrBlockAssociationSet[0].AssociationId

	// A subnet in the secondary block; the route tables route it locally.
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.1.1.0/24")})).Subnet
	rtbs := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{filter("vpc-id", vpc)}}))
	var dests []string
	for _, r := range rtbs.RouteTables[0].Routes {
		dests = append(dests, *r.DestinationCidrBlock+" "+*r.GatewayId)
	}
	if want := []string{"10.0.0.0/16 local", "10.1.0.0/16 local"}; !cmp.Equal(dests, want) {
		t.Errorf("main table routes = %v, want %v", dests, want)
	}
	rt := must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable
	if len(rt.Routes) != 2 {
		t.Errorf("new table routes = %d, want a local route per block", len(rt.Routes))
	}

	fails := []struct {
		name, cidr, code string
	}{
		{"too large", "10.2.0.0/15", "InvalidVpc.Range"},
		{"too small", "10.2.0.0/29", "InvalidVpc.Range"},
		{"overlaps primary", "10.0.128.0/17", "InvalidVpc.Range"},
		{"overlaps secondary", "10.1.0.0/20", "InvalidVpc.Range"},
		{"other private range", "192.168.0.0/16", "InvalidVpc.Range"},
		{"172.16/12 from 10/8", "172.20.0.0/16", "InvalidVpc.Range"},
		{"restricted", "198.19.0.0/16", "InvalidVpc.Range"},
		{"not a CIDR", "10.3.0.0", "InvalidParameterValue"},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			failsUnchanged(t, st, f.code, func() error { _, err := assoc(f.cidr); return err })
		})
	}
	failsUnchanged(t, st, "UnsupportedOperation", func() error {
		// Amazon-provided IPv6 blocks are honoured (vpcipv6_test.go); one's own are not.
		_, err := s.AssociateVpcCidrBlock(ctx, &ec2api.AssociateVpcCidrBlockRequest{VpcId: ptr(vpc), Ipv6CidrBlock: ptr("2001:db8::/56")})
		return err
	})
	failsUnchanged(t, st, "InvalidVpcID.NotFound", func() error {
		_, err := s.AssociateVpcCidrBlock(ctx, &ec2api.AssociateVpcCidrBlockRequest{VpcId: ptr("vpc-0123456789abcdef0"), CidrBlock: ptr("10.9.0.0/16")})
		return err
	})
	// Shared address space goes with any primary block; four more blocks
	// reach the limit of five.
	must[*ec2api.AssociateVpcCidrBlockResult](t)(assoc("100.64.0.0/16"))
	must[*ec2api.AssociateVpcCidrBlockResult](t)(assoc("10.2.0.0/16"))
	must[*ec2api.AssociateVpcCidrBlockResult](t)(assoc("10.3.0.0/16"))
	failsUnchanged(t, st, "CidrLimitExceeded", func() error { _, err := assoc("10.4.0.0/16"); return err })

	v := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("cidr-block-association.cidr-block", "10.1.0.0/16")}}))
	if len(v.Vpcs) != 1 || len(v.Vpcs[0].CidrBlockAssociationSet) != 5 || *v.Vpcs[0].CidrBlock != "10.0.0.0/16" {
		t.Fatalf("DescribeVpcs by secondary block = %+v", v.Vpcs)
	}
	byAssoc := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{Filters: []ec2api.Filter{filter("cidr-block-association.association-id", second)}}))
	if len(byAssoc.Vpcs) != 1 {
		t.Errorf("DescribeVpcs by association id = %d VPCs", len(byAssoc.Vpcs))
	}

	disassoc := func(id string) error {
		_, err := s.DisassociateVpcCidrBlock(ctx, &ec2api.DisassociateVpcCidrBlockRequest{AssociationId: ptr(id)})
		return err
	}
	failsUnchanged(t, st, "OperationNotPermitted", func() error { return disassoc(primary) })
	failsUnchanged(t, st, "InvalidCidrBlock.InUse", func() error { return disassoc(second) })
	failsUnchanged(t, st, "InvalidVpcCidrBlockAssociationID.NotFound", func() error { return disassoc("vpc-cidr-assoc-0123456789abcdef0") })

	ok(t, s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: sn.SubnetId}))
	d := must[*ec2api.DisassociateVpcCidrBlockResult](t)(s.DisassociateVpcCidrBlock(ctx, &ec2api.DisassociateVpcCidrBlockRequest{AssociationId: ptr(second)}))
	if *d.CidrBlockAssociation.CidrBlockState.State != "disassociating" || *d.VpcId != vpc {
		t.Errorf("DisassociateVpcCidrBlock = %+v", d)
	}
	rtbs = must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{RouteTableIds: []string{*rt.RouteTableId}}))
	if len(rtbs.RouteTables[0].Routes) != 4 { // 10.0/16, 100.64/16, 10.2/16, 10.3/16
		t.Errorf("routes after disassociation = %d, want 4", len(rtbs.RouteTables[0].Routes))
	}
	failsUnchanged(t, st, "InvalidSubnet.Range", func() error {
		_, err := s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.1.1.0/24")})
		return err
	})
	topo := must[*Topology](t)(s.Topology(ctx, TopologySelector{Account: acctA}))
	for _, tv := range topo.VPCs {
		if tv.ID == vpc && len(tv.Secondary) != 3 {
			t.Errorf("topology secondary blocks = %v, want 3", tv.Secondary)
		}
	}
}

func TestVpcEndpoints(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	vpc := *must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")})).Vpc.VpcId
	sa := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.1.0/24"), AvailabilityZone: ptr("us-east-1a")})).Subnet.SubnetId
	sa2 := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.2.0/24"), AvailabilityZone: ptr("us-east-1a")})).Subnet.SubnetId
	sb := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.3.0/24"), AvailabilityZone: ptr("us-east-1b")})).Subnet.SubnetId
	rtb := *must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable.RouteTableId
	g := createGroup(t, s, ctx, "endpoints", vpc)
	otherRtb := *must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{
		filter("vpc-id", defaults(t, s, acctA).ID)}})).RouteTables[0].RouteTableId

	svc := must[*ec2api.DescribeVpcEndpointServicesResult](t)(s.DescribeVpcEndpointServices(ctx, &ec2api.DescribeVpcEndpointServicesRequest{
		ServiceNames: []string{"com.amazonaws.us-east-1.s3"}}))
	if len(svc.ServiceDetails) != 2 || !cmp.Equal(svc.ServiceNames, []string{"com.amazonaws.us-east-1.s3"}) {
		t.Errorf("DescribeVpcEndpointServices s3 = %d details, names %v; want Gateway and Interface", len(svc.ServiceDetails), svc.ServiceNames)
	}
	for _, f := range []ec2api.Filter{filter("service-type", "Gateway"), filter("service-name", "*.elasticache"), filter("owner", "amazon"),
		filter("service-region", "us-east-1"), filter("supported-ip-address-types", "ipv4")} {
		d := must[*ec2api.DescribeVpcEndpointServicesResult](t)(s.DescribeVpcEndpointServices(ctx, &ec2api.DescribeVpcEndpointServicesRequest{Filters: []ec2api.Filter{f}}))
		if len(d.ServiceDetails) == 0 {
			t.Errorf("service filter %s: nothing", *f.Name)
		}
	}

	create := func(in *ec2api.CreateVpcEndpointRequest) (*ec2api.CreateVpcEndpointResult, error) {
		if in.VpcId == nil {
			in.VpcId = ptr(vpc)
		}
		return s.CreateVpcEndpoint(ctx, in)
	}
	fails := []struct {
		name, code string
		in         *ec2api.CreateVpcEndpointRequest
	}{
		{"no service", "MissingParameter", &ec2api.CreateVpcEndpointRequest{}},
		{"unknown service", "InvalidServiceName", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.nothing")}},
		{"gateway of interface service", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache")}},
		{"bad type", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), VpcEndpointType: ptr("Tunnel")}},
		{"load balancer type", "UnsupportedOperation", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), VpcEndpointType: ptr("GatewayLoadBalancer")}},
		{"gateway with subnets", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), SubnetIds: []string{sa}}},
		{"gateway other VPC table", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{otherRtb}}},
		{"gateway unknown table", "InvalidRouteTableID.NotFound", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{"rtb-0123456789abcdef0"}}},
		{"interface with tables", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache"), VpcEndpointType: ptr("Interface"), RouteTableIds: []string{rtb}}},
		{"interface two subnets one zone", "DuplicateSubnetsInSameZone", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache"), VpcEndpointType: ptr("Interface"), SubnetIds: []string{sa, sa2}}},
		{"interface unknown group", "InvalidGroup.NotFound", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache"), VpcEndpointType: ptr("Interface"), SecurityGroupIds: []string{"sg-0123456789abcdef0"}}},
		{"interface ipv6", "UnsupportedOperation", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache"), VpcEndpointType: ptr("Interface"), IpAddressType: ptr("dualstack")}},
		{"bad policy", "InvalidParameterValue", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), PolicyDocument: ptr("{not json")}},
		{"unknown VPC", "InvalidVpcID.NotFound", &ec2api.CreateVpcEndpointRequest{VpcId: ptr("vpc-0123456789abcdef0"), ServiceName: ptr("com.amazonaws.us-east-1.s3")}},
		{"dry run", "DryRunOperation", &ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), DryRun: ptr(true)}},
	}
	for _, f := range fails {
		t.Run(f.name, func(t *testing.T) {
			failsUnchanged(t, st, f.code, func() error { _, err := create(f.in); return err })
		})
	}

	gw := must[*ec2api.CreateVpcEndpointResult](t)(create(&ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"),
		RouteTableIds: []string{rtb}, ClientToken: ptr("tok-1"),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("vpc-endpoint"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("s3")}}}}})).VpcEndpoint
	if *gw.VpcEndpointType != "Gateway" || *gw.State != "available" || !cmp.Equal(gw.RouteTableIds, []string{rtb}) || *gw.PolicyDocument != fullAccessPolicy {
		t.Errorf("gateway endpoint = %+v", gw)
	}
	again := must[*ec2api.CreateVpcEndpointResult](t)(create(&ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"),
		RouteTableIds: []string{rtb}, ClientToken: ptr("tok-1")})).VpcEndpoint
	if *again.VpcEndpointId != *gw.VpcEndpointId {
		t.Errorf("same ClientToken made a second endpoint %s", *again.VpcEndpointId)
	}
	failsUnchanged(t, st, "RouteAlreadyExists", func() error {
		_, err := create(&ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{rtb}})
		return err
	})
	ifc := must[*ec2api.CreateVpcEndpointResult](t)(create(&ec2api.CreateVpcEndpointRequest{ServiceName: ptr("com.amazonaws.us-east-1.elasticache"),
		VpcEndpointType: ptr("Interface"), SubnetIds: []string{sa}})).VpcEndpoint
	if !*ifc.PrivateDnsEnabled || len(ifc.Groups) != 1 || len(ifc.DnsEntries) != 3 || !cmp.Equal(ifc.SubnetIds, []string{sa}) {
		t.Errorf("interface endpoint = %+v", ifc)
	}

	// Modify: interface subnets and groups, policy; gateway tables.
	mod := func(in *ec2api.ModifyVpcEndpointRequest) error { _, err := s.ModifyVpcEndpoint(ctx, in); return err }
	ok(t, mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: ifc.VpcEndpointId, AddSubnetIds: []string{sb}, AddSecurityGroupIds: []string{g},
		PolicyDocument: ptr(`{"Statement":[]}`), PrivateDnsEnabled: ptr(false)}))
	failsUnchanged(t, st, "DuplicateSubnetsInSameZone", func() error {
		return mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: ifc.VpcEndpointId, AddSubnetIds: []string{sa2}})
	})
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		return mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: gw.VpcEndpointId, AddSubnetIds: []string{sb}})
	})
	failsUnchanged(t, st, "InvalidParameterCombination", func() error {
		return mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: gw.VpcEndpointId, PolicyDocument: ptr("{}"), ResetPolicy: ptr(true)})
	})
	failsUnchanged(t, st, "InvalidVpcEndpointId.NotFound", func() error {
		return mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: ptr("vpce-0123456789abcdef0"), ResetPolicy: ptr(true)})
	})
	ok(t, mod(&ec2api.ModifyVpcEndpointRequest{VpcEndpointId: gw.VpcEndpointId, RemoveRouteTableIds: []string{rtb}}))
	d := must[*ec2api.DescribeVpcEndpointsResult](t)(s.DescribeVpcEndpoints(ctx, &ec2api.DescribeVpcEndpointsRequest{VpcEndpointIds: []string{*ifc.VpcEndpointId, *gw.VpcEndpointId}}))
	if len(d.VpcEndpoints) != 2 {
		t.Fatalf("DescribeVpcEndpoints = %d", len(d.VpcEndpoints))
	}
	for _, e := range d.VpcEndpoints {
		switch *e.VpcEndpointId {
		case *ifc.VpcEndpointId:
			if !cmp.Equal(e.SubnetIds, []string{sa, sb}) || len(e.Groups) != 2 || *e.PrivateDnsEnabled || *e.PolicyDocument != `{"Statement":[]}` {
				t.Errorf("modified interface endpoint = %+v", e)
			}
		default:
			if len(e.RouteTableIds) != 0 {
				t.Errorf("gateway endpoint tables = %v, want none", e.RouteTableIds)
			}
		}
	}
	for _, f := range []ec2api.Filter{filter("service-name", "com.amazonaws.us-east-1.s3"), filter("vpc-endpoint-type", "Gateway"),
		filter("vpc-endpoint-id", *gw.VpcEndpointId), filter("tag:Name", "s3"), filter("tag-key", "Name"), filter("tag-value", "s3")} {
		d := must[*ec2api.DescribeVpcEndpointsResult](t)(s.DescribeVpcEndpoints(ctx, &ec2api.DescribeVpcEndpointsRequest{Filters: []ec2api.Filter{f}}))
		if len(d.VpcEndpoints) != 1 || *d.VpcEndpoints[0].VpcEndpointId != *gw.VpcEndpointId {
			t.Errorf("endpoint filter %s: %d endpoints", *f.Name, len(d.VpcEndpoints))
		}
	}
	for _, f := range []ec2api.Filter{filter("vpc-id", vpc), filter("vpc-endpoint-state", "available"), filter("service-region", "us-east-1")} {
		d := must[*ec2api.DescribeVpcEndpointsResult](t)(s.DescribeVpcEndpoints(ctx, &ec2api.DescribeVpcEndpointsRequest{Filters: []ec2api.Filter{f}}))
		if len(d.VpcEndpoints) != 2 {
			t.Errorf("endpoint filter %s: %d endpoints, want 2", *f.Name, len(d.VpcEndpoints))
		}
	}
	if d := must[*ec2api.DescribeVpcEndpointsResult](t)(s.DescribeVpcEndpoints(ctx, &ec2api.DescribeVpcEndpointsRequest{Filters: []ec2api.Filter{filter("ip-address-type", "ipv4")}})); len(d.VpcEndpoints) != 1 {
		t.Errorf("ip-address-type ipv4: %d endpoints, want the interface one", len(d.VpcEndpoints))
	}

	// The subnet and the VPC are in use.
	failsUnchanged(t, st, "DependencyViolation", func() error { return s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: ptr(sb)}) })
	failsUnchanged(t, st, "DependencyViolation", func() error { return s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(vpc)}) })
	failsUnchanged(t, st, "DependencyViolation", func() error {
		_, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(g)})
		return err
	})

	del := must[*ec2api.DeleteVpcEndpointsResult](t)(s.DeleteVpcEndpoints(ctx, &ec2api.DeleteVpcEndpointsRequest{VpcEndpointIds: []string{*gw.VpcEndpointId, "vpce-0123456789abcdef0"}}))
	if len(del.Unsuccessful) != 1 || *del.Unsuccessful[0].ResourceId != "vpce-0123456789abcdef0" || *del.Unsuccessful[0].Error.Code != "InvalidVpcEndpointId.NotFound" {
		t.Errorf("DeleteVpcEndpoints unsuccessful = %+v", del.Unsuccessful)
	}
	wantCode(t, func() error {
		_, err := s.DescribeVpcEndpoints(ctx, &ec2api.DescribeVpcEndpointsRequest{VpcEndpointIds: []string{*gw.VpcEndpointId}})
		return err
	}(), "InvalidVpcEndpointId.NotFound")
}

// TestDhcpOptionsOldScope: a scope created before DHCP options sets gets
// its default set at its next write, and new VPCs are associated with it.
func TestDhcpOptionsOldScope(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	defaults(t, s, acctA)
	sc := scope{acctA, region}
	ok(t, st.Update(context.Background(), func(tx store.Tx) error {
		var m scopeMeta
		if err := store.GetJSON(tx, sc.metaKey(), &m); err != nil {
			return err
		}
		if err := tx.Delete(sc.key(m.DefaultDoptID)); err != nil {
			return err
		}
		m.DefaultDoptID, m.Gen = "", m.Gen+1
		return store.PutJSON(tx, sc.metaKey(), m)
	}))
	s = New(st, Config{}) // an empty cache, as after an upgrade
	if d := must[*ec2api.DescribeDhcpOptionsResult](t)(s.DescribeDhcpOptions(ctx, &ec2api.DescribeDhcpOptionsRequest{})); len(d.DhcpOptions) != 0 {
		t.Fatalf("old scope has %d DHCP options sets, want none", len(d.DhcpOptions))
	}
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.6.0.0/16")})).Vpc
	if !wellFormed(*v.DhcpOptionsId, "dopt-") {
		t.Errorf("new VPC of an old scope: DhcpOptionsId = %s, want the default set created on the write", *v.DhcpOptionsId)
	}
}

// TestVPCPiecesPagination pages through every new Describe one item at a
// time (or the least AWS allows) and finds each item once.
func TestVPCPiecesPagination(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	for i := range 3 {
		createPL(t, s, ctx, "list-"+itoa(int32(i)), 1)
	}
	all := func(page func(tok *string) ([]string, *string)) []string {
		var out []string
		var tok *string
		for {
			ids, next := page(tok)
			out = append(out, ids...)
			if next == nil {
				return out
			}
			tok = next
		}
	}
	pls := all(func(tok *string) ([]string, *string) {
		d := must[*ec2api.DescribeManagedPrefixListsResult](t)(s.DescribeManagedPrefixLists(ctx, &ec2api.DescribeManagedPrefixListsRequest{MaxResults: ptr(int32(1)), NextToken: tok}))
		var ids []string
		for _, l := range d.PrefixLists {
			ids = append(ids, *l.PrefixListId)
		}
		return ids, d.NextToken
	})
	full := must[*ec2api.DescribeManagedPrefixListsResult](t)(s.DescribeManagedPrefixLists(ctx, &ec2api.DescribeManagedPrefixListsRequest{}))
	if len(pls) != 5 || len(full.PrefixLists) != 5 || len(slices.Compact(slices.Sorted(slices.Values(pls)))) != 5 {
		t.Errorf("paged prefix lists = %v, want the 5 lists once each", pls)
	}
	svcs := all(func(tok *string) ([]string, *string) {
		d := must[*ec2api.DescribeVpcEndpointServicesResult](t)(s.DescribeVpcEndpointServices(ctx, &ec2api.DescribeVpcEndpointServicesRequest{MaxResults: ptr(int32(5)), NextToken: tok}))
		var ids []string
		for _, sd := range d.ServiceDetails {
			ids = append(ids, *sd.ServiceName+"/"+string(*sd.ServiceType[0].ServiceType))
		}
		return ids, d.NextToken
	})
	fullSvc := must[*ec2api.DescribeVpcEndpointServicesResult](t)(s.DescribeVpcEndpointServices(ctx, &ec2api.DescribeVpcEndpointServicesRequest{}))
	if len(svcs) != len(fullSvc.ServiceDetails) || len(slices.Compact(slices.Sorted(slices.Values(svcs)))) != len(svcs) {
		t.Errorf("paged services = %d (%v), want %d once each", len(svcs), svcs, len(fullSvc.ServiceDetails))
	}
}
