package vpcnet

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// TestNetplaneStateNATGateway: a NAT gateway becomes part of its VPC's
// internet gateway, with per subnet the active routes to it; its interface
// is no namespace of its own.
func TestNetplaneStateNATGateway(t *testing.T) {
	p := netip.MustParsePrefix
	topo := &ec2.Topology{
		VPCs:    []ec2.TopoVPC{{ID: "vpc-1", CIDR: p("10.0.0.0/16")}},
		Subnets: []ec2.TopoSubnet{{ID: "subnet-pub", VpcID: "vpc-1", CIDR: p("10.0.0.0/24"), RouteTableID: "rtb-pub"}, {ID: "subnet-priv", VpcID: "vpc-1", CIDR: p("10.0.1.0/24"), RouteTableID: "rtb-priv"}},
		RouteTables: []ec2.TopoRouteTable{
			{ID: "rtb-pub", VpcID: "vpc-1", Routes: []ec2.TopoRoute{{Dest: p("0.0.0.0/0"), Target: "igw-1", Active: true}}},
			{ID: "rtb-priv", VpcID: "vpc-1", Routes: []ec2.TopoRoute{{Dest: p("0.0.0.0/0"), Target: "nat-1", Active: true}, {Dest: p("192.0.2.0/24"), Target: "nat-2", Active: false}}},
		},
		Interfaces: []ec2.TopoInterface{
			{ID: "eni-nat", SubnetID: "subnet-pub", VpcID: "vpc-1", IP: netip.MustParseAddr("10.0.0.9"), InterfaceType: "nat_gateway", PublicIP: netip.MustParseAddr("100.64.0.9")},
			{ID: "eni-app", SubnetID: "subnet-priv", VpcID: "vpc-1", IP: netip.MustParseAddr("10.0.1.9"), InterfaceType: "interface", InstanceID: "i-1", InstanceState: "running"},
		},
		InternetGateways: []ec2.TopoInternetGateway{{ID: "igw-1", VpcID: "vpc-1"}},
		NATGateways:      []ec2.TopoNATGateway{{ID: "nat-1", VpcID: "vpc-1", SubnetID: "subnet-pub", InterfaceID: "eni-nat", PrivateIP: netip.MustParseAddr("10.0.0.9"), PublicIP: netip.MustParseAddr("100.64.0.9")}},
	}
	st := netplaneState(topo)
	if len(st.Interfaces) != 1 || st.Interfaces[0].ID != "eni-app" {
		t.Errorf("interfaces = %+v, want eni-app only", st.Interfaces)
	}
	want := []netplane.InternetGateway{{ID: "igw-1", VPC: "vpc-1", SubnetRoutes: map[string][]netip.Prefix{"subnet-pub": {p("0.0.0.0/0")}},
		NATGateways: []netplane.NATGateway{{ID: "nat-1", Subnet: "subnet-pub", PublicIP: netip.MustParseAddr("100.64.0.9"),
			SubnetRoutes: map[string][]netip.Prefix{"subnet-priv": {p("0.0.0.0/0")}}}}}}
	if diff := cmp.Diff(want, st.InternetGateways, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); diff != "" {
		t.Errorf("internet gateways (-want +got):\n%s", diff)
	}
	if _, err := netplane.NewPlan("cl1a2b", st); err != nil {
		t.Errorf("NewPlan = %v", err)
	}
}
