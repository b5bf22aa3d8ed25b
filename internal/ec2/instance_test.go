package ec2

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

func run(t testing.TB, s *Service, ctx context.Context, in *ec2api.RunInstancesRequest) *ec2api.Reservation {
	t.Helper()
	if in.ImageId == nil {
		in.ImageId = ptr("ami-12345678")
	}
	if in.MinCount == nil {
		in.MinCount, in.MaxCount = ptr(int32(1)), ptr(int32(1))
	}
	r, err := s.RunInstances(ctx, in)
	ok(t, err)
	return r
}

func TestRunInstances(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	web := createGroup(t, s, ctx, "web", "")
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(3)), MaxCount: ptr(int32(3)), SubnetId: ptr(def.Subnets[0].ID),
		SecurityGroupIds: []string{web, def.DefaultGroupID}, UserData: ptr("aGVsbG8="),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("instance"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("box")}}}}})
	if len(r.Instances) != 3 || *r.Instances[0].State.Name != "pending" || !wellFormed(*r.ReservationId, "r-") {
		t.Fatalf("reservation = %+v", r)
	}
	ips := map[string]bool{}
	for _, i := range r.Instances {
		ips[*i.PrivateIpAddress] = true
		if len(i.SecurityGroups) != 2 || *i.Tags[0].Value != "box" {
			t.Errorf("instance %s groups=%v tags=%v", *i.InstanceId, i.SecurityGroups, i.Tags)
		}
	}
	for _, want := range []string{"172.31.0.4", "172.31.0.5", "172.31.0.6"} {
		if !ips[want] {
			t.Errorf("allocated %v, want %s (first after the 4 reserved)", ips, want)
		}
	}
	// Described as running, filtered.
	for _, tc := range []struct {
		f    ec2api.Filter
		want int
	}{
		{filter("instance-state-name", "running"), 3},
		{filter("instance.group-id", web), 3},
		{filter("network-interface.group-id", def.DefaultGroupID), 3},
		{filter("private-ip-address", "172.31.0.5"), 1},
		{filter("subnet-id", def.Subnets[0].ID), 3},
		{filter("availability-zone", "us-east-1a"), 3},
		{filter("tag:Name", "b*"), 3},
		{filter("tag-key", "Nope"), 0},
		{filter("instance-state-name", "stopped"), 0},
	} {
		out := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{tc.f}}))
		n := 0
		for _, res := range out.Reservations {
			n += len(res.Instances)
			for _, i := range res.Instances {
				if *i.State.Name != "running" {
					t.Errorf("instance state %s, want running", *i.State.Name)
				}
			}
		}
		if n != tc.want {
			t.Errorf("DescribeInstances(%s=%v) = %d, want %d", *tc.f.Name, tc.f.Values, n, tc.want)
		}
	}
	id := *r.Instances[0].InstanceId
	// A group in use by an interface cannot be deleted.
	_, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(web)})
	wantCode(t, err, "DependencyViolation")
	// Start a running instance is a no-op; stop, start, terminate.
	_, err = s.StartInstances(ctx, &ec2api.StartInstancesRequest{InstanceIds: []string{id}})
	ok(t, err)
	st := must[*ec2api.StopInstancesResult](t)(s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: []string{id}}))
	if *st.StoppingInstances[0].CurrentState.Name != "stopping" || *st.StoppingInstances[0].PreviousState.Name != "running" {
		t.Errorf("stop = %+v", st.StoppingInstances[0])
	}
	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), InstanceType: &ec2api.AttributeValue{Value: ptr("t3.micro")}}))
	must[*ec2api.StartInstancesResult](t)(s.StartInstances(ctx, &ec2api.StartInstancesRequest{InstanceIds: []string{id}}))
	wantCode(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), InstanceType: &ec2api.AttributeValue{Value: ptr("t3.large")}}), "IncorrectInstanceState")
	ok(t, s.ModifyInstanceAttribute(ctx, &ec2api.ModifyInstanceAttributeRequest{InstanceId: ptr(id), Groups: []string{web}}))
	out := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{id}}))
	if i := out.Reservations[0].Instances[0]; len(i.SecurityGroups) != 1 || *i.SecurityGroups[0].GroupName != "web" || *i.InstanceType != "t3.micro" {
		t.Errorf("after modify: groups %+v type %s", i.SecurityGroups, *i.InstanceType)
	}
	attr := must[*ec2api.InstanceAttribute](t)(s.DescribeInstanceAttribute(ctx, &ec2api.DescribeInstanceAttributeRequest{InstanceId: ptr(id), Attribute: ptr("groupSet")}))
	if len(attr.Groups) != 1 || *attr.Groups[0].GroupId != web {
		t.Errorf("DescribeInstanceAttribute(groupSet) = %+v", attr.Groups)
	}
	term := must[*ec2api.TerminateInstancesResult](t)(s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: []string{id}}))
	if *term.TerminatingInstances[0].CurrentState.Name != "shutting-down" {
		t.Errorf("terminate = %+v", term.TerminatingInstances[0])
	}
	_, err = s.StartInstances(ctx, &ec2api.StartInstancesRequest{InstanceIds: []string{id}})
	wantCode(t, err, "IncorrectInstanceState")
	enis := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{Filters: []ec2api.Filter{filter("attachment.instance-id", id)}}))
	if len(enis.NetworkInterfaces) != 0 {
		t.Errorf("terminated instance keeps %d interfaces", len(enis.NetworkInterfaces))
	}
	// Its address is free again.
	r2 := run(t, s, ctx, &ec2api.RunInstancesRequest{SubnetId: ptr(def.Subnets[0].ID)})
	if got := *r2.Instances[0].PrivateIpAddress; !ips[got] {
		t.Errorf("new instance got %s, want the released address", got)
	}
}

func TestRunInstancesErrors(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	var six []string
	for _, n := range []string{"a", "b", "c", "d", "e", "f"} {
		six = append(six, createGroup(t, s, ctx, n, ""))
	}
	other := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	otherGroup := createGroup(t, s, ctx, "elsewhere", *other.Vpc.VpcId)
	sub := def.Subnets[1].ID
	tests := []struct {
		name string
		in   *ec2api.RunInstancesRequest
		code string
	}{
		{"zero count", &ec2api.RunInstancesRequest{MinCount: ptr(int32(0)), MaxCount: ptr(int32(1))}, "InvalidParameterValue"},
		{"max below min", &ec2api.RunInstancesRequest{MinCount: ptr(int32(2)), MaxCount: ptr(int32(1))}, "InvalidParameterValue"},
		{"unknown subnet", &ec2api.RunInstancesRequest{SubnetId: ptr("subnet-0123456789abcdef0")}, "InvalidSubnetID.NotFound"},
		{"six groups", &ec2api.RunInstancesRequest{SubnetId: ptr(sub), SecurityGroupIds: six}, "SecurityGroupsPerInterfaceLimitExceeded"},
		{"group of another vpc", &ec2api.RunInstancesRequest{SubnetId: ptr(sub), SecurityGroupIds: []string{otherGroup}}, "InvalidParameter"},
		{"reserved address", &ec2api.RunInstancesRequest{SubnetId: ptr(sub), PrivateIpAddress: ptr("172.31.16.1")}, "InvalidParameterValue"},
		{"broadcast", &ec2api.RunInstancesRequest{SubnetId: ptr(sub), PrivateIpAddress: ptr("172.31.31.255")}, "InvalidParameterValue"},
		{"outside subnet", &ec2api.RunInstancesRequest{SubnetId: ptr(sub), PrivateIpAddress: ptr("10.9.9.9")}, "InvalidParameterValue"},
		{"ip with count", &ec2api.RunInstancesRequest{MinCount: ptr(int32(1)), MaxCount: ptr(int32(2)), SubnetId: ptr(sub), PrivateIpAddress: ptr("172.31.16.10")}, "InvalidParameterCombination"},
		{"bad user data", &ec2api.RunInstancesRequest{UserData: ptr("%%%")}, "InvalidParameterValue"},
		{"dry run", &ec2api.RunInstancesRequest{DryRun: ptr(true)}, "DryRunOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			in.ImageId = ptr("ami-12345678")
			if in.MinCount == nil {
				in.MinCount, in.MaxCount = ptr(int32(1)), ptr(int32(1))
			}
			_, err := s.RunInstances(ctx, in)
			wantCode(t, err, tc.code)
		})
	}
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{SubnetId: ptr(sub), PrivateIpAddress: ptr("172.31.16.10")})
	_, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1)), SubnetId: ptr(sub), PrivateIpAddress: ptr("172.31.16.10")})
	wantCode(t, err, "InvalidIPAddress.InUse")
	_, err = s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{"i-0123456789abcdef0"}})
	wantCode(t, err, "InvalidInstanceID.NotFound")
	_, err = s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{*r.Instances[0].InstanceId}, MaxResults: ptr(int32(5))})
	wantCode(t, err, "InvalidParameterCombination")
	// Quota.
	small := New(openStore(t), Config{MaxInstances: 2})
	_, err = small.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(3)), MaxCount: ptr(int32(3))})
	wantCode(t, err, "InstanceLimitExceeded")
	got := must[*ec2api.Reservation](t)(small.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(5))}))
	if len(got.Instances) != 2 {
		t.Errorf("launched %d, want the 2 the quota allows", len(got.Instances))
	}
}

func TestNetworkInterfacesAndGoAPI(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	bg := context.Background()
	def := defaults(t, s, acctA)
	cache := createGroup(t, s, ctx, "cache", "")
	e, err := s.CreateManagedInterface(bg, InterfaceSpec{Account: acctA, Region: region, SubnetID: def.Subnets[2].ID, GroupIDs: []string{cache}, Description: "ElastiCache c1-0001-001"})
	ok(t, err)
	if e.PrivateIP != "172.31.32.4" || e.VpcID != def.ID || e.RequesterID != RequesterElastiCache {
		t.Errorf("managed interface = %+v", e)
	}
	out := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{
		Filters: []ec2api.Filter{filter("requester-id", "amazon-elasticache"), filter("group-id", cache)}}))
	if len(out.NetworkInterfaces) != 1 {
		t.Fatalf("describe managed interface: %d", len(out.NetworkInterfaces))
	}
	ni := out.NetworkInterfaces[0]
	if !*ni.RequesterManaged || *ni.Status != "in-use" || *ni.InterfaceType != "interface" || *ni.Groups[0].GroupName != "cache" {
		t.Errorf("interface = %+v", ni)
	}
	wantCode(t, s.DeleteNetworkInterface(ctx, &ec2api.DeleteNetworkInterfaceRequest{NetworkInterfaceId: ptr(e.ID)}), "OperationNotPermitted")
	wantCode(t, s.ModifyNetworkInterfaceAttribute(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: ptr(e.ID), Groups: []string{def.DefaultGroupID}}), "OperationNotPermitted")
	ok(t, s.SetInterfaceGroups(bg, acctA, region, e.ID, []string{def.DefaultGroupID, cache}))
	got, err := s.GetInterface(bg, acctA, region, e.ID)
	ok(t, err)
	if len(got.Groups) != 2 {
		t.Errorf("groups after SetInterfaceGroups = %v", got.Groups)
	}
	wantCode(t, s.ValidateGroups(bg, acctA, region, def.ID, []string{"sg-0123456789abcdef0"}), "InvalidGroup.NotFound")
	ok(t, s.ValidateGroups(bg, acctA, region, def.ID, []string{cache}))
	sn, err := s.Subnet(bg, acctA, region, def.Subnets[0].ID)
	ok(t, err)
	if sn.VpcID != def.ID || sn.AZ != "us-east-1a" {
		t.Errorf("Subnet = %+v", sn)
	}
	if g, err := s.DefaultSecurityGroup(bg, acctA, region, def.ID); err != nil || g != def.DefaultGroupID {
		t.Errorf("DefaultSecurityGroup = %s, %v", g, err)
	}
	// A user interface: create, modify, delete.
	u := must[*ec2api.CreateNetworkInterfaceResult](t)(s.CreateNetworkInterface(ctx, &ec2api.CreateNetworkInterfaceRequest{SubnetId: ptr(def.Subnets[2].ID), PrivateIpAddress: ptr("172.31.40.40"),
		Description: ptr("mine")}))
	if *u.NetworkInterface.PrivateIpAddress != "172.31.40.40" || *u.NetworkInterface.Status != "available" || *u.NetworkInterface.Groups[0].GroupId != def.DefaultGroupID {
		t.Errorf("user interface = %+v", u.NetworkInterface)
	}
	ok(t, s.ModifyNetworkInterfaceAttribute(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: u.NetworkInterface.NetworkInterfaceId, Groups: []string{cache}}))
	ok(t, s.DeleteNetworkInterface(ctx, &ec2api.DeleteNetworkInterfaceRequest{NetworkInterfaceId: u.NetworkInterface.NetworkInterfaceId}))
	wantCode(t, s.DeleteNetworkInterface(ctx, &ec2api.DeleteNetworkInterfaceRequest{NetworkInterfaceId: u.NetworkInterface.NetworkInterfaceId}), "InvalidNetworkInterfaceID.NotFound")
	ok(t, s.DeleteManagedInterface(bg, acctA, region, e.ID))
	ok(t, s.DeleteManagedInterface(bg, acctA, region, e.ID)) // already gone
}

func TestElasticIPs(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{})
	inst := *r.Instances[0].InstanceId
	a := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{Domain: ptr("vpc")}))
	if ip := netip.MustParseAddr(*a.PublicIp); !ElasticIPPool.Contains(ip) || !wellFormed(*a.AllocationId, "eipalloc-") {
		t.Fatalf("allocated %s %s", *a.PublicIp, *a.AllocationId)
	}
	as := must[*ec2api.AssociateAddressResult](t)(s.AssociateAddress(ctx, &ec2api.AssociateAddressRequest{AllocationId: a.AllocationId, InstanceId: ptr(inst)}))
	wantCode(t, s.ReleaseAddress(ctx, &ec2api.ReleaseAddressRequest{AllocationId: a.AllocationId}), "InvalidIPAddress.InUse")
	d := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{filter("ip-address", *a.PublicIp)}}))
	if len(d.Reservations) != 1 || *d.Reservations[0].Instances[0].PublicIpAddress != *a.PublicIp {
		t.Errorf("instance does not show its EIP: %+v", d.Reservations)
	}
	addrs := must[*ec2api.DescribeAddressesResult](t)(s.DescribeAddresses(ctx, &ec2api.DescribeAddressesRequest{Filters: []ec2api.Filter{filter("instance-id", inst)}}))
	if len(addrs.Addresses) != 1 || *addrs.Addresses[0].AssociationId != *as.AssociationId {
		t.Errorf("addresses = %+v", addrs.Addresses)
	}
	wantCode(t, s.DisassociateAddress(ctx, &ec2api.DisassociateAddressRequest{AssociationId: ptr("eipassoc-0123456789abcdef0")}), "InvalidAssociationID.NotFound")
	ok(t, s.DisassociateAddress(ctx, &ec2api.DisassociateAddressRequest{AssociationId: as.AssociationId}))
	ok(t, s.ReleaseAddress(ctx, &ec2api.ReleaseAddressRequest{AllocationId: a.AllocationId}))
	wantCode(t, s.ReleaseAddress(ctx, &ec2api.ReleaseAddressRequest{AllocationId: a.AllocationId}), "InvalidAllocationID.NotFound")
	for range 5 {
		must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{}))
	}
	_, err := s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{})
	wantCode(t, err, "AddressLimitExceeded")
	// A VPC without an internet gateway cannot take one.
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: v.Vpc.VpcId, CidrBlock: ptr("10.0.1.0/24")}))
	r2 := run(t, s, ctx, &ec2api.RunInstancesRequest{SubnetId: sn.Subnet.SubnetId})
	addrs = must[*ec2api.DescribeAddressesResult](t)(s.DescribeAddresses(ctx, &ec2api.DescribeAddressesRequest{}))
	_, err = s.AssociateAddress(ctx, &ec2api.AssociateAddressRequest{AllocationId: addrs.Addresses[0].AllocationId, InstanceId: r2.Instances[0].InstanceId})
	wantCode(t, err, "Gateway.NotAttached")
}

func TestGatewaysAndRoutes(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	vpc := *v.Vpc.VpcId
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(vpc), CidrBlock: ptr("10.0.1.0/24")}))
	igw := must[*ec2api.CreateInternetGatewayResult](t)(s.CreateInternetGateway(ctx, &ec2api.CreateInternetGatewayRequest{}))
	gid := igw.InternetGateway.InternetGatewayId
	rt := must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)}))
	rtb := rt.RouteTable.RouteTableId
	_, err := s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("0.0.0.0/0"), GatewayId: gid})
	wantCode(t, err, "InvalidParameterValue") // not attached to this VPC
	ok(t, s.AttachInternetGateway(ctx, &ec2api.AttachInternetGatewayRequest{InternetGatewayId: gid, VpcId: ptr(vpc)}))
	wantCode(t, s.AttachInternetGateway(ctx, &ec2api.AttachInternetGatewayRequest{InternetGatewayId: gid, VpcId: ptr(vpc)}), "Resource.AlreadyAssociated")
	must[*ec2api.CreateRouteResult](t)(s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("0.0.0.0/0"), GatewayId: gid}))
	_, err = s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("0.0.0.0/0"), GatewayId: gid})
	wantCode(t, err, "RouteAlreadyExists")
	_, err = s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("10.9.0.0/16")})
	wantCode(t, err, "InvalidParameterCombination")
	inst := run(t, s, ctx, &ec2api.RunInstancesRequest{SubnetId: sn.Subnet.SubnetId})
	must[*ec2api.CreateRouteResult](t)(s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("192.168.0.0/16"), InstanceId: inst.Instances[0].InstanceId}))
	ok(t, s.ReplaceRoute(ctx, &ec2api.ReplaceRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("192.168.0.0/16"), GatewayId: gid}))
	wantCode(t, s.DeleteRoute(ctx, &ec2api.DeleteRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("10.0.0.0/16")}), "InvalidParameterValue")
	wantCode(t, s.DeleteRoute(ctx, &ec2api.DeleteRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("10.8.0.0/16")}), "InvalidRoute.NotFound")
	ok(t, s.DeleteRoute(ctx, &ec2api.DeleteRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("192.168.0.0/16")}))
	as := must[*ec2api.AssociateRouteTableResult](t)(s.AssociateRouteTable(ctx, &ec2api.AssociateRouteTableRequest{RouteTableId: rtb, SubnetId: sn.Subnet.SubnetId}))
	_, err = s.AssociateRouteTable(ctx, &ec2api.AssociateRouteTableRequest{RouteTableId: rtb, SubnetId: sn.Subnet.SubnetId})
	wantCode(t, err, "Resource.AlreadyAssociated")
	wantCode(t, s.DeleteRouteTable(ctx, &ec2api.DeleteRouteTableRequest{RouteTableId: rtb}), "DependencyViolation")
	tables := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{
		filter("association.subnet-id", *sn.Subnet.SubnetId), filter("route.gateway-id", *gid)}}))
	if len(tables.RouteTables) != 1 {
		t.Errorf("route tables by subnet and gateway = %d", len(tables.RouteTables))
	}
	topo, err := s.Topology(context.Background(), TopologySelector{Account: acctA})
	ok(t, err)
	for _, tsn := range topo.Subnets {
		if tsn.ID == *sn.Subnet.SubnetId && tsn.RouteTableID != *rtb {
			t.Errorf("topology subnet route table = %s, want %s", tsn.RouteTableID, *rtb)
		}
	}
	re := must[*ec2api.ReplaceRouteTableAssociationResult](t)(s.ReplaceRouteTableAssociation(ctx, &ec2api.ReplaceRouteTableAssociationRequest{AssociationId: as.AssociationId, RouteTableId: rtb}))
	ok(t, s.DisassociateRouteTable(ctx, &ec2api.DisassociateRouteTableRequest{AssociationId: re.NewAssociationId}))
	// The main association moves to another table and back.
	mainRtb := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{filter("vpc-id", vpc), filter("association.main", "true")}}))
	mainAssoc := mainRtb.RouteTables[0].Associations[0].RouteTableAssociationId
	moved := must[*ec2api.ReplaceRouteTableAssociationResult](t)(s.ReplaceRouteTableAssociation(ctx, &ec2api.ReplaceRouteTableAssociationRequest{AssociationId: mainAssoc, RouteTableId: rtb}))
	wantCode(t, s.DeleteRouteTable(ctx, &ec2api.DeleteRouteTableRequest{RouteTableId: rtb}), "DependencyViolation")
	must[*ec2api.ReplaceRouteTableAssociationResult](t)(s.ReplaceRouteTableAssociation(ctx, &ec2api.ReplaceRouteTableAssociationRequest{AssociationId: moved.NewAssociationId, RouteTableId: mainRtb.RouteTables[0].RouteTableId}))
	wantCode(t, s.DetachInternetGateway(ctx, &ec2api.DetachInternetGatewayRequest{InternetGatewayId: gid, VpcId: ptr("vpc-0123456789abcdef0")}), "InvalidVpcID.NotFound")
	wantCode(t, s.DeleteInternetGateway(ctx, &ec2api.DeleteInternetGatewayRequest{InternetGatewayId: gid}), "DependencyViolation")
	ok(t, s.DetachInternetGateway(ctx, &ec2api.DetachInternetGatewayRequest{InternetGatewayId: gid, VpcId: ptr(vpc)}))
	tables = must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{RouteTableIds: []string{*rtb}}))
	if st := *tables.RouteTables[0].Routes[1].State; st != "blackhole" {
		t.Errorf("route via detached gateway is %s, want blackhole", st)
	}
	ok(t, s.DeleteInternetGateway(ctx, &ec2api.DeleteInternetGatewayRequest{InternetGatewayId: gid}))
	ok(t, s.DeleteRouteTable(ctx, &ec2api.DeleteRouteTableRequest{RouteTableId: rtb}))
}

func TestPeeringAcrossAccounts(t *testing.T) {
	s, _ := newTestService(t)
	ca, cb := ctxFor(acctA), ctxFor(acctB)
	va := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ca, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.1.0.0/16")}))
	vb := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(cb, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.2.0.0/16")}))
	ga := createGroup(t, s, ca, "client", *va.Vpc.VpcId)
	gb := createGroup(t, s, cb, "server", *vb.Vpc.VpcId)
	// No peering yet: B cannot reference A's group.
	_, err := s.AuthorizeSecurityGroupIngress(cb, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(gb),
		IpPermissions: []ec2api.IpPermission{{IpProtocol: ptr("tcp"), FromPort: ptr(int32(6379)), ToPort: ptr(int32(6379)),
			UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: ptr(acctA + "/" + ga)}}}}})
	wantCode(t, err, "InvalidGroup.NotFound")
	p := must[*ec2api.CreateVpcPeeringConnectionResult](t)(s.CreateVpcPeeringConnection(ca, &ec2api.CreateVpcPeeringConnectionRequest{VpcId: va.Vpc.VpcId,
		PeerVpcId: vb.Vpc.VpcId, PeerOwnerId: ptr(acctB)}))
	pcx := p.VpcPeeringConnection.VpcPeeringConnectionId
	seen := must[*ec2api.DescribeVpcPeeringConnectionsResult](t)(s.DescribeVpcPeeringConnections(cb, &ec2api.DescribeVpcPeeringConnectionsRequest{
		Filters: []ec2api.Filter{filter("status-code", "pending-acceptance")}}))
	if len(seen.VpcPeeringConnections) != 1 {
		t.Fatalf("accepter sees %d pending peerings", len(seen.VpcPeeringConnections))
	}
	_, err = s.AcceptVpcPeeringConnection(ca, &ec2api.AcceptVpcPeeringConnectionRequest{VpcPeeringConnectionId: pcx})
	wantCode(t, err, "OperationNotPermitted")
	acc := must[*ec2api.AcceptVpcPeeringConnectionResult](t)(s.AcceptVpcPeeringConnection(cb, &ec2api.AcceptVpcPeeringConnectionRequest{VpcPeeringConnectionId: pcx}))
	if *acc.VpcPeeringConnection.Status.Code != "active" {
		t.Fatalf("status = %s", *acc.VpcPeeringConnection.Status.Code)
	}
	_, err = s.AcceptVpcPeeringConnection(cb, &ec2api.AcceptVpcPeeringConnectionRequest{VpcPeeringConnectionId: pcx})
	wantCode(t, err, "InvalidStateTransition")
	must[*ec2api.AuthorizeSecurityGroupIngressResult](t)(s.AuthorizeSecurityGroupIngress(cb, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(gb),
		IpPermissions: []ec2api.IpPermission{{IpProtocol: ptr("tcp"), FromPort: ptr(int32(6379)), ToPort: ptr(int32(6379)),
			UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: ptr(ga), UserId: ptr(acctA)}}}}}))
	g := describeGroup(t, s, cb, gb)
	if pair := g.IpPermissions[0].UserIdGroupPairs[0]; *pair.UserId != acctA || *pair.VpcPeeringConnectionId != *pcx {
		t.Errorf("pair = %+v", pair)
	}
	// A's group is referenced by B's rule: A cannot delete it.
	_, err = s.DeleteSecurityGroup(ca, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(ga)})
	wantCode(t, err, "DependencyViolation")
	topo, err := s.Topology(context.Background(), TopologySelector{Region: region})
	ok(t, err)
	if len(topo.Peerings) != 1 || topo.Peerings[0].ID != *pcx {
		t.Errorf("topology peerings = %+v", topo.Peerings)
	}
	rt := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ca, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{filter("vpc-id", *va.Vpc.VpcId)}}))
	must[*ec2api.CreateRouteResult](t)(s.CreateRoute(ca, &ec2api.CreateRouteRequest{RouteTableId: rt.RouteTables[0].RouteTableId, DestinationCidrBlock: ptr("10.2.0.0/16"), VpcPeeringConnectionId: pcx}))
	must[*ec2api.DeleteVpcPeeringConnectionResult](t)(s.DeleteVpcPeeringConnection(cb, &ec2api.DeleteVpcPeeringConnectionRequest{VpcPeeringConnectionId: pcx}))
	seen = must[*ec2api.DescribeVpcPeeringConnectionsResult](t)(s.DescribeVpcPeeringConnections(ca, &ec2api.DescribeVpcPeeringConnectionsRequest{VpcPeeringConnectionIds: []string{*pcx}}))
	if *seen.VpcPeeringConnections[0].Status.Code != "deleted" {
		t.Errorf("after delete: %s", *seen.VpcPeeringConnections[0].Status.Code)
	}
	rt = must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ca, &ec2api.DescribeRouteTablesRequest{RouteTableIds: []string{*rt.RouteTables[0].RouteTableId}}))
	if st := *rt.RouteTables[0].Routes[1].State; st != "blackhole" {
		t.Errorf("route via deleted peering is %s", st)
	}
	_, err = s.DescribeVpcPeeringConnections(ca, &ec2api.DescribeVpcPeeringConnectionsRequest{VpcPeeringConnectionIds: []string{"pcx-0123456789abcdef0"}})
	wantCode(t, err, "InvalidVpcPeeringConnectionID.NotFound")
	// Overlapping CIDRs fail.
	vc := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(cb, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.1.0.0/20")}))
	f := must[*ec2api.CreateVpcPeeringConnectionResult](t)(s.CreateVpcPeeringConnection(ca, &ec2api.CreateVpcPeeringConnectionRequest{VpcId: va.Vpc.VpcId,
		PeerVpcId: vc.Vpc.VpcId, PeerOwnerId: ptr(acctB)}))
	if *f.VpcPeeringConnection.Status.Code != "failed" {
		t.Errorf("overlapping peering status = %s", *f.VpcPeeringConnection.Status.Code)
	}
}

func TestTags(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	g := createGroup(t, s, ctx, "tagged", "")
	ok(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{def.ID, g}, Tags: []ec2api.Tag{{Key: ptr("env"), Value: ptr("dev")}, {Key: ptr("team"), Value: ptr("cache")}}}))
	wantCode(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{"vpc-0123456789abcdef0"}, Tags: []ec2api.Tag{{Key: ptr("a"), Value: ptr("b")}}}), "InvalidVpcID.NotFound")
	wantCode(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{g}, Tags: []ec2api.Tag{{Key: ptr("aws:x"), Value: ptr("b")}}}), "InvalidParameterValue")
	out := must[*ec2api.DescribeTagsResult](t)(s.DescribeTags(ctx, &ec2api.DescribeTagsRequest{Filters: []ec2api.Filter{filter("key", "env")}}))
	if len(out.Tags) != 2 {
		t.Errorf("DescribeTags(key=env) = %+v", out.Tags)
	}
	out = must[*ec2api.DescribeTagsResult](t)(s.DescribeTags(ctx, &ec2api.DescribeTagsRequest{Filters: []ec2api.Filter{filter("resource-type", "security-group")}}))
	if len(out.Tags) != 2 || *out.Tags[0].ResourceId != g {
		t.Errorf("DescribeTags(resource-type=security-group) = %+v", out.Tags)
	}
	ok(t, s.DeleteTags(ctx, &ec2api.DeleteTagsRequest{Resources: []string{g}, Tags: []ec2api.Tag{{Key: ptr("env"), Value: ptr("prod")}, {Key: ptr("team")}}}))
	if got := describeGroup(t, s, ctx, g).Tags; len(got) != 1 || *got[0].Key != "env" {
		t.Errorf("after DeleteTags: %+v", got)
	}
	// Rule tags.
	r := must[*ec2api.AuthorizeSecurityGroupIngressResult](t)(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g),
		IpPermissions: []ec2api.IpPermission{tcpFrom(22, "10.0.0.0/8")}}))
	ok(t, s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{*r.SecurityGroupRules[0].SecurityGroupRuleId}, Tags: []ec2api.Tag{{Key: ptr("why"), Value: ptr("ssh")}}}))
	rules := must[*ec2api.DescribeSecurityGroupRulesResult](t)(s.DescribeSecurityGroupRules(ctx, &ec2api.DescribeSecurityGroupRulesRequest{Filters: []ec2api.Filter{filter("tag:why", "ssh")}}))
	if len(rules.SecurityGroupRules) != 1 {
		t.Errorf("rules tagged why=ssh: %d", len(rules.SecurityGroupRules))
	}
}

// The per-snapshot filter indexes must not change what a Describe returns.
func TestFilterIndexesAgreeWithScan(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	g1, g2 := createGroup(t, s, ctx, "one", ""), createGroup(t, s, ctx, "two", "")
	run(t, s, ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(50)), MaxCount: ptr(int32(50)), SubnetId: ptr(def.Subnets[0].ID), SecurityGroupIds: []string{g1}})
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{MinCount: ptr(int32(30)), MaxCount: ptr(int32(30)), SubnetId: ptr(def.Subnets[1].ID), SecurityGroupIds: []string{g1, g2}})
	for _, f := range [][]ec2api.Filter{
		{filter("private-ip-address", "172.31.0.9", "172.31.16.4", "10.0.0.1")},
		{filter("instance.group-id", g2)},
		{filter("instance.group-id", g1), filter("subnet-id", def.Subnets[0].ID)},
		{filter("instance-id", *r.Instances[3].InstanceId, *r.Instances[7].InstanceId)},
		{filter("vpc-id", def.ID), filter("private-ip-address", "172.31.0.*")},
	} {
		got := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: f}))
		var ids []string
		for _, res := range got.Reservations {
			for _, i := range res.Instances {
				ids = append(ids, *i.InstanceId)
			}
		}
		// The same filters without the index: a scan over every instance.
		var want []string
		err := s.view(ctx, scopeOf(ctx), func(tx *txn, st *scopeTx) error {
			var items []instView
			for _, rec := range listT[*instanceRec](st, "instance") {
				items = append(items, instView{rec, st})
			}
			sel, err := filterItems(instanceFilters, f, items)
			for _, v := range sel {
				want = append(want, v.ID)
			}
			return err
		})
		ok(t, err)
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) || len(ids) == 0 {
			t.Errorf("filters %v: indexed %d instances, scan %d", f, len(ids), len(want))
		}
	}
}

// TestCreateManagedInterfaceIdempotent: asked again for the interface of
// the same node (the controller was killed after creating it and before
// recording its id), CreateManagedInterface returns the first one, with
// the groups asked for, instead of leaking a second; another node, subnet
// or address gets its own.
func TestCreateManagedInterfaceIdempotent(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	bg := context.Background()
	def := defaults(t, s, acctA)
	cache := createGroup(t, s, ctx, "cache", "")
	spec := InterfaceSpec{Account: acctA, Region: region, SubnetID: def.Subnets[0].ID, Description: "ElastiCache c1-0001",
		Tags: map[string]string{"elasticache:cluster": "c1", "elasticache:node": "0001"}}
	first := must[Interface](t)(s.CreateManagedInterface(bg, spec))
	again := spec
	again.GroupIDs = []string{cache}
	second := must[Interface](t)(s.CreateManagedInterface(bg, again))
	if second.ID != first.ID || second.PrivateIP != first.PrivateIP || !slices.Equal(second.Groups, []string{cache}) {
		t.Errorf("second create = %s %s %v, want %s %s [%s]", second.ID, second.PrivateIP, second.Groups, first.ID, first.PrivateIP, cache)
	}
	out := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{
		Filters: []ec2api.Filter{filter("description", "ElastiCache c1-0001")}}))
	if len(out.NetworkInterfaces) != 1 {
		t.Errorf("interfaces described %q: %d, want 1", spec.Description, len(out.NetworkInterfaces))
	}

	other := func(f func(*InterfaceSpec)) string {
		sp := spec
		f(&sp)
		return must[Interface](t)(s.CreateManagedInterface(bg, sp)).ID
	}
	for name, f := range map[string]func(*InterfaceSpec){
		"another node":    func(sp *InterfaceSpec) { sp.Description = "ElastiCache c1-0002" },
		"another subnet":  func(sp *InterfaceSpec) { sp.SubnetID = def.Subnets[1].ID },
		"another address": func(sp *InterfaceSpec) { sp.PrivateIP = "172.31.0.200" },
		"other tags":      func(sp *InterfaceSpec) { sp.Tags = map[string]string{"elasticache:cluster": "c2"} },
		"no description":  func(sp *InterfaceSpec) { sp.Description = "" },
	} {
		if id := other(f); id == first.ID {
			t.Errorf("%s: got the first interface %s back, want a new one", name, id)
		}
	}
	// Deleted, it is created anew.
	ok(t, s.DeleteManagedInterface(bg, acctA, region, first.ID))
	if id := must[Interface](t)(s.CreateManagedInterface(bg, spec)).ID; id == first.ID {
		t.Errorf("create after delete returned the deleted interface %s", id)
	}
}

// TestCreateManagedInterfaces: several interfaces in one transaction, in
// order and with distinct addresses, or none of them when one fails; all
// of one account and region.
func TestCreateManagedInterfaces(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	bg := context.Background()
	def := defaults(t, s, acctA)
	spec := func(node, subnet string) InterfaceSpec {
		return InterfaceSpec{Account: acctA, Region: region, SubnetID: subnet, Description: "ElastiCache c1-" + node,
			Tags: map[string]string{"elasticache:cluster": "c1", "elasticache:node": node}}
	}
	count := func() int {
		out := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{}))
		return len(out.NetworkInterfaces)
	}
	before := count()
	bad := spec("0003", "subnet-00000000000000000")
	if _, err := s.CreateManagedInterfaces(bg, []InterfaceSpec{spec("0001", def.Subnets[0].ID), spec("0002", def.Subnets[0].ID), bad}); err == nil {
		t.Fatal("CreateManagedInterfaces with an unknown subnet succeeded")
	}
	if n := count(); n != before {
		t.Errorf("a failed CreateManagedInterfaces left %d interfaces, want %d (none)", n, before)
	}
	other := spec("0002", def.Subnets[0].ID)
	other.Account = acctB
	wantCode(t, must2(s.CreateManagedInterfaces(bg, []InterfaceSpec{spec("0001", def.Subnets[0].ID), other})), "InvalidParameterCombination")

	specs := []InterfaceSpec{spec("0001", def.Subnets[0].ID), spec("0002", def.Subnets[1].ID), spec("config", def.Subnets[0].ID)}
	got := must[[]Interface](t)(s.CreateManagedInterfaces(bg, specs))
	seen := map[string]bool{}
	for i, ifc := range got {
		if ifc.SubnetID != specs[i].SubnetID || ifc.Description != specs[i].Description || seen[ifc.PrivateIP] || ifc.PrivateIP == "" {
			t.Errorf("interface %d = %+v, want in %s for %q with an address of its own", i, ifc, specs[i].SubnetID, specs[i].Description)
		}
		seen[ifc.PrivateIP] = true
	}
	if n := count(); n != before+3 {
		t.Errorf("interfaces after CreateManagedInterfaces = %d, want %d", n, before+3)
	}
	// Asked again (a controller killed before recording them), the same
	// ones come back.
	again := must[[]Interface](t)(s.CreateManagedInterfaces(bg, specs))
	for i := range again {
		if again[i].ID != got[i].ID {
			t.Errorf("interface %d asked again = %s, want %s", i, again[i].ID, got[i].ID)
		}
	}
}

// must2 keeps a call's error.
func must2[T any](_ T, err error) error { return err }
