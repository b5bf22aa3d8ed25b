package ec2

import (
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// TestNatGateways: a public NAT gateway takes an Elastic IP and a
// requester-managed interface in its subnet, is routed to, shown by
// DescribeNatGateways (with filters) and in the topology, and deleted
// (routes to it stay as blackholes, the Elastic IP stays allocated);
// failed calls change nothing.
func TestNatGateways(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	pub := def.Subnets[0].ID
	eip := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{}))
	other := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{}))
	inst := *run(t, s, ctx, &ec2api.RunInstancesRequest{}).Instances[0].InstanceId
	must[*ec2api.AssociateAddressResult](t)(s.AssociateAddress(ctx, &ec2api.AssociateAddressRequest{AllocationId: other.AllocationId, InstanceId: ptr(inst)}))

	for _, c := range []struct {
		name, code string
		in         ec2api.CreateNatGatewayRequest
	}{
		{"no-subnet", "MissingParameter", ec2api.CreateNatGatewayRequest{AllocationId: eip.AllocationId}},
		{"no-allocation", "MissingParameter", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub)}},
		{"unknown-subnet", "InvalidSubnetID.NotFound", ec2api.CreateNatGatewayRequest{SubnetId: ptr("subnet-0123456789abcdef0"), AllocationId: eip.AllocationId}},
		{"unknown-allocation", "InvalidAllocationID.NotFound", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: ptr("eipalloc-0123456789abcdef0")}},
		{"allocation-in-use", "Resource.AlreadyAssociated", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: other.AllocationId}},
		{"private", "UnsupportedOperation", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, ConnectivityType: ptr("private")}},
		{"bad-connectivity", "InvalidParameterValue", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, ConnectivityType: ptr("both")}},
		{"regional", "UnsupportedOperation", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, AvailabilityMode: ptr("regional")}},
		{"secondary", "UnsupportedOperation", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, SecondaryAllocationIds: []string{"eipalloc-0123456789abcdef0"}}},
		{"dry-run", "DryRunOperation", ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, DryRun: ptr(true)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			failsUnchanged(t, st, c.code, func() error {
				_, err := s.CreateNatGateway(ctx, &c.in)
				return err
			})
		})
	}

	cr := must[*ec2api.CreateNatGatewayResult](t)(s.CreateNatGateway(ctx, &ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId,
		ClientToken: ptr("tok-1"), TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("natgateway"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("nat")}}}}}))
	nat := cr.NatGateway
	if *nat.State != "pending" || !wellFormed(*nat.NatGatewayId, "nat-") || len(nat.NatGatewayAddresses) != 1 || *nat.NatGatewayAddresses[0].PublicIp != *eip.PublicIp {
		t.Fatalf("created %+v", nat)
	}
	id := *nat.NatGatewayId
	again := must[*ec2api.CreateNatGatewayResult](t)(s.CreateNatGateway(ctx, &ec2api.CreateNatGatewayRequest{SubnetId: ptr(pub), AllocationId: eip.AllocationId, ClientToken: ptr("tok-1")}))
	if *again.NatGateway.NatGatewayId != id {
		t.Errorf("same client token made %s, want %s", *again.NatGateway.NatGatewayId, id)
	}
	eni := *nat.NatGatewayAddresses[0].NetworkInterfaceId
	nis := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{NetworkInterfaceIds: []string{eni}}))
	if ni := nis.NetworkInterfaces[0]; *ni.InterfaceType != "nat_gateway" || !*ni.RequesterManaged || ni.Association == nil || *ni.Association.PublicIp != *eip.PublicIp {
		t.Errorf("NAT interface = %+v", ni)
	}
	addrs := must[*ec2api.DescribeAddressesResult](t)(s.DescribeAddresses(ctx, &ec2api.DescribeAddressesRequest{AllocationIds: []string{*eip.AllocationId}}))
	if *addrs.Addresses[0].NetworkInterfaceId != eni {
		t.Errorf("Elastic IP interface = %v, want %s", addrs.Addresses[0].NetworkInterfaceId, eni)
	}
	failsUnchanged(t, st, "OperationNotPermitted", func() error {
		return s.DisassociateAddress(ctx, &ec2api.DisassociateAddressRequest{AssociationId: addrs.Addresses[0].AssociationId})
	})
	failsUnchanged(t, st, "InvalidIPAddress.InUse", func() error {
		return s.ReleaseAddress(ctx, &ec2api.ReleaseAddressRequest{AllocationId: eip.AllocationId})
	})
	failsUnchanged(t, st, "OperationNotPermitted", func() error {
		return s.DeleteNetworkInterface(ctx, &ec2api.DeleteNetworkInterfaceRequest{NetworkInterfaceId: ptr(eni)})
	})

	for _, c := range []struct {
		name    string
		filters []ec2api.Filter
		want    int
	}{
		{"state", []ec2api.Filter{filter("state", "available")}, 1},
		{"state-other", []ec2api.Filter{filter("state", "deleted")}, 0},
		{"subnet", []ec2api.Filter{filter("subnet-id", pub)}, 1},
		{"vpc", []ec2api.Filter{filter("vpc-id", def.ID)}, 1},
		{"id", []ec2api.Filter{filter("nat-gateway-id", id)}, 1},
		{"tag", []ec2api.Filter{filter("tag:Name", "nat")}, 1},
		{"tag-key", []ec2api.Filter{filter("tag-key", "Other")}, 0},
	} {
		t.Run("filter-"+c.name, func(t *testing.T) {
			d := must[*ec2api.DescribeNatGatewaysResult](t)(s.DescribeNatGateways(ctx, &ec2api.DescribeNatGatewaysRequest{Filter: c.filters}))
			if len(d.NatGateways) != c.want {
				t.Errorf("DescribeNatGateways(%s) = %d, want %d", c.name, len(d.NatGateways), c.want)
			}
		})
	}
	_, err := s.DescribeNatGateways(ctx, &ec2api.DescribeNatGatewaysRequest{NatGatewayIds: []string{"nat-0123456789abcdef0"}})
	wantCode(t, err, "NatGatewayNotFound")

	// A private subnet routes the internet to it.
	sn := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(def.ID), CidrBlock: ptr("172.31.200.0/24")}))
	rt := must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(def.ID)}))
	rtb := rt.RouteTable.RouteTableId
	must[*ec2api.AssociateRouteTableResult](t)(s.AssociateRouteTable(ctx, &ec2api.AssociateRouteTableRequest{RouteTableId: rtb, SubnetId: sn.Subnet.SubnetId}))
	failsUnchanged(t, st, "NatGatewayNotFound", func() error {
		_, err := s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("0.0.0.0/0"), NatGatewayId: ptr("nat-0123456789abcdef0")})
		return err
	})
	must[*ec2api.CreateRouteResult](t)(s.CreateRoute(ctx, &ec2api.CreateRouteRequest{RouteTableId: rtb, DestinationCidrBlock: ptr("0.0.0.0/0"), NatGatewayId: ptr(id)}))
	tables := must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{Filters: []ec2api.Filter{filter("route.nat-gateway-id", id)}}))
	if len(tables.RouteTables) != 1 || *tables.RouteTables[0].Routes[1].NatGatewayId != id || *tables.RouteTables[0].Routes[1].State != "active" {
		t.Fatalf("route tables to the NAT gateway = %+v", tables.RouteTables)
	}
	topo := must[*Topology](t)(s.Topology(ctx, TopologySelector{Account: acctA}))
	if len(topo.NATGateways) != 1 || topo.NATGateways[0].PublicIP.String() != *eip.PublicIp || topo.NATGateways[0].SubnetID != pub {
		t.Errorf("topology NAT gateways = %+v", topo.NATGateways)
	}
	for _, r := range topo.RouteTables {
		if r.ID == *rtb && (r.Routes[1].Target != id || !r.Routes[1].Active) {
			t.Errorf("topology route = %+v", r.Routes[1])
		}
	}

	// Deleted: deleting, then deleted; the route is a blackhole, the
	// address stays allocated and is free.
	del := must[*ec2api.DeleteNatGatewayResult](t)(s.DeleteNatGateway(ctx, &ec2api.DeleteNatGatewayRequest{NatGatewayId: ptr(id)}))
	if *del.NatGatewayId != id {
		t.Errorf("deleted %s", *del.NatGatewayId)
	}
	d := must[*ec2api.DescribeNatGatewaysResult](t)(s.DescribeNatGateways(ctx, &ec2api.DescribeNatGatewaysRequest{NatGatewayIds: []string{id}}))
	if *d.NatGateways[0].State != "deleted" || d.NatGateways[0].DeleteTime == nil {
		t.Errorf("after delete: %+v", d.NatGateways[0])
	}
	tables = must[*ec2api.DescribeRouteTablesResult](t)(s.DescribeRouteTables(ctx, &ec2api.DescribeRouteTablesRequest{RouteTableIds: []string{*rtb}}))
	if *tables.RouteTables[0].Routes[1].State != "blackhole" {
		t.Errorf("route to a deleted NAT gateway is %s", *tables.RouteTables[0].Routes[1].State)
	}
	addrs = must[*ec2api.DescribeAddressesResult](t)(s.DescribeAddresses(ctx, &ec2api.DescribeAddressesRequest{AllocationIds: []string{*eip.AllocationId}}))
	if addrs.Addresses[0].AssociationId != nil {
		t.Errorf("Elastic IP still associated: %v", *addrs.Addresses[0].AssociationId)
	}
	_, err = s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{NetworkInterfaceIds: []string{eni}})
	wantCode(t, err, "InvalidNetworkInterfaceID.NotFound")
	if topo := must[*Topology](t)(s.Topology(ctx, TopologySelector{Account: acctA})); len(topo.NATGateways) != 0 {
		t.Errorf("deleted NAT gateway in topology: %+v", topo.NATGateways)
	}

	// Without an internet gateway: created, failed at once.
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	priv := must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: v.Vpc.VpcId, CidrBlock: ptr("10.0.1.0/24")}))
	f := must[*ec2api.CreateNatGatewayResult](t)(s.CreateNatGateway(ctx, &ec2api.CreateNatGatewayRequest{SubnetId: priv.Subnet.SubnetId, AllocationId: eip.AllocationId}))
	d = must[*ec2api.DescribeNatGatewaysResult](t)(s.DescribeNatGateways(ctx, &ec2api.DescribeNatGatewaysRequest{NatGatewayIds: []string{*f.NatGateway.NatGatewayId}}))
	if g := d.NatGateways[0]; *g.State != "failed" || *g.FailureCode != "Gateway.NotAttached" {
		t.Errorf("NAT gateway without internet gateway: %+v", g)
	}
}
