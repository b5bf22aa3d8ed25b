package vpcnet

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// TestNetplaneStateACLs: the topology's network ACLs reach the network
// plane with their subnets and their entries split by direction.
func TestNetplaneStateACLs(t *testing.T) {
	all := netip.MustParsePrefix("0.0.0.0/0")
	topo := &ec2.Topology{NetworkACLs: []ec2.TopoNetworkACL{{ID: "acl-0x", VpcID: "vpc-0a", Subnets: []string{"subnet-01"},
		Entries: []ec2.TopoACLEntry{
			{Number: 100, Protocol: "6", FromPort: 6379, ToPort: 6379, CIDR: all, Allow: true},
			{Number: 50, Egress: true, Protocol: "1", FromPort: 0, ToPort: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8")},
		}}}}
	want := []netplane.NetworkACL{{ID: "acl-0x", VPC: "vpc-0a", Subnets: []string{"subnet-01"},
		Ingress: []netplane.ACLEntry{{Number: 100, Protocol: "6", FromPort: 6379, ToPort: 6379, CIDR: all, Allow: true}},
		Egress:  []netplane.ACLEntry{{Number: 50, Protocol: "1", FromPort: 0, ToPort: -1, CIDR: netip.MustParsePrefix("10.0.0.0/8")}}}}
	if diff := cmp.Diff(want, netplaneState(topo).NetworkACLs, cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("NetworkACLs (-want +got):\n%s", diff)
	}
}
