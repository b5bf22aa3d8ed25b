package ec2

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// TestServicePeering: interfaces labelled alike share a synthetic group
// admitting TCP among them (ingress and egress, referencing itself); the
// label moves with SetInterfaceServicePeering; the group is not visible
// through the EC2 API, and an instance's interface cannot be labelled.
func TestServicePeering(t *testing.T) {
	s, _ := newTestService(t)
	ctx, bg := ctxFor(acctA), context.Background()
	def := defaults(t, s, acctA)
	cache := createGroup(t, s, ctx, "cache", "")
	mk := func(label string) string {
		e, err := s.CreateManagedInterface(bg, InterfaceSpec{Account: acctA, Region: region, SubnetID: def.Subnets[0].ID,
			GroupIDs: []string{cache}, ServicePeering: label})
		ok(t, err)
		return e.ID
	}
	a, b, c := mk("rg one"), mk("rg one"), mk("")
	groupsOf := func() (map[string][]string, map[string]TopoGroup) {
		t.Helper()
		topo := must[*Topology](t)(s.Topology(bg, TopologySelector{Account: acctA, Region: region}))
		ifaces, groups := map[string][]string{}, map[string]TopoGroup{}
		for _, i := range topo.Interfaces {
			ifaces[i.ID] = i.Groups
		}
		for _, g := range topo.Groups {
			groups[g.ID] = g
		}
		return ifaces, groups
	}
	ifaces, groups := groupsOf()
	peer := servicePeeringGroupID(scope{acctA, region}, "rg one")
	if !slices.Equal(ifaces[a], []string{cache, peer}) || !slices.Equal(ifaces[b], []string{cache, peer}) || !slices.Equal(ifaces[c], []string{cache}) {
		t.Fatalf("interface groups = %v", ifaces)
	}
	g := groups[peer]
	if len(g.Ingress) != 1 || g.Ingress[0].Group == nil || g.Ingress[0].Group.GroupID != peer || g.Ingress[0].Protocol != "tcp" ||
		len(g.Egress) != 1 || g.Egress[0].Group.GroupID != peer || g.VpcID != def.ID {
		t.Errorf("peering group = %+v", g)
	}
	ok(t, s.SetInterfaceServicePeering(bg, acctA, region, b, ""))
	ok(t, s.SetInterfaceServicePeering(bg, acctA, region, c, "rg one"))
	if ifaces, _ = groupsOf(); !slices.Equal(ifaces[b], []string{cache}) || !slices.Equal(ifaces[c], []string{cache, peer}) {
		t.Errorf("after relabelling: %v", ifaces)
	}
	out := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{}))
	for _, sg := range out.SecurityGroups {
		if strings.HasPrefix(*sg.GroupId, "sg-peering") {
			t.Errorf("DescribeSecurityGroups shows %s", *sg.GroupId)
		}
	}
	inst := must[*ec2api.Reservation](t)(s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1))}))
	eni := *inst.Instances[0].NetworkInterfaces[0].NetworkInterfaceId
	wantCode(t, s.SetInterfaceServicePeering(bg, acctA, region, eni, "rg one"), "InvalidParameterValue")
}
