package ec2_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/auth"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/ec2/sgeval"
	"github.com/cachalot-dev/cachalot/internal/store"
)

type classicAccounts map[string]bool

func (c classicAccounts) EC2Classic(_ context.Context, id string) (bool, error) { return c[id], nil }

const (
	classicAcct = "333333333333"
	vpcAcct     = "444444444444"
	rgn         = "us-east-1"
)

func classicService(t *testing.T) *ec2.Service {
	t.Helper()
	st, err := store.OpenBolt(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return ec2.New(st, ec2.Config{Accounts: classicAccounts{classicAcct: true}})
}

func scoped(acct string) context.Context {
	return auth.WithScope(context.Background(), auth.Scope{AccountID: acct, Region: rgn})
}

func code(err error) string {
	if e, ok := awserr.As(err); ok {
		return e.Code
	}
	return ""
}

func p[T any](v T) *T { return &v }

// The classic network: instances of a Classic account launched without a
// subnet, cache node interfaces with ingress grants, and their export in
// Topology as a synthetic VPC that sgeval decides like any other.
func TestClassicNetworkTopology(t *testing.T) {
	s := classicService(t)
	ctx := scoped(classicAcct)
	for _, g := range []string{"app", "other"} {
		if _, err := s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: p(g), Description: p(g)}); err != nil {
			t.Fatal(err)
		}
	}
	launch := func(group string) ec2api.Instance {
		t.Helper()
		r, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: p("ami-12345678"), MinCount: p(int32(1)), MaxCount: p(int32(1)),
			SecurityGroups: []string{group}})
		if err != nil {
			t.Fatalf("RunInstances in EC2-Classic (group %s) = %v", group, err)
		}
		return r.Instances[0]
	}
	app, other := launch("app"), launch("other")
	def := launch("default") // the classic default group exists
	if _, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: p("ami-12345678"), MinCount: p(int32(1)), MaxCount: p(int32(1)),
		SecurityGroups: []string{"nope"}}); code(err) != "InvalidGroup.NotFound" {
		t.Errorf("RunInstances with an unknown classic group = %v, want InvalidGroup.NotFound", err)
	}

	// Describe: no VPC, no subnet, the classic groups, a 10/8 address.
	out, err := s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{*app.InstanceId}})
	if err != nil {
		t.Fatal(err)
	}
	got := out.Reservations[0].Instances[0]
	if got.VpcId != nil || got.SubnetId != nil {
		t.Errorf("classic instance has VpcId %v SubnetId %v, want none", got.VpcId, got.SubnetId)
	}
	if len(got.SecurityGroups) != 1 || *got.SecurityGroups[0].GroupName != "app" {
		t.Errorf("classic instance groups = %+v, want app", got.SecurityGroups)
	}
	if a := netip.MustParseAddr(*got.PrivateIpAddress); !netip.MustParsePrefix("10.0.0.0/8").Contains(a) {
		t.Errorf("classic instance address %s not in 10.0.0.0/8", a)
	}
	enis, err := s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(enis.NetworkInterfaces) != 0 {
		t.Errorf("DescribeNetworkInterfaces shows %d classic interfaces, want none", len(enis.NetworkInterfaces))
	}

	// A cache node in the classic network; a VPC-only account cannot have one.
	node, err := s.CreateManagedInterface(context.Background(), ec2.InterfaceSpec{Account: classicAcct, Region: rgn, Classic: true,
		Description: "ElastiCache web-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateManagedInterface(context.Background(), ec2.InterfaceSpec{Account: vpcAcct, Region: rgn, Classic: true}); code(err) != "InvalidParameterValue" {
		t.Errorf("classic interface in a VPC-only account = %v, want InvalidParameterValue", err)
	}
	if _, err := s.ClassicGroup(context.Background(), classicAcct, rgn, "app"); err != nil {
		t.Errorf("ClassicGroup(app) = %v", err)
	}
	if _, err := s.ClassicGroup(context.Background(), classicAcct, rgn, "nope"); code(err) != "InvalidGroup.NotFound" {
		t.Errorf("ClassicGroup(nope) = %v, want InvalidGroup.NotFound", err)
	}
	if _, err := s.ClassicGroup(context.Background(), vpcAcct, rgn, "default"); code(err) != "InvalidGroup.NotFound" {
		t.Errorf("ClassicGroup of a VPC-only account = %v, want InvalidGroup.NotFound", err)
	}

	topo := func() *ec2.Topology {
		t.Helper()
		tp, err := s.Topology(context.Background(), ec2.TopologySelector{})
		if err != nil {
			t.Fatal(err)
		}
		return tp
	}
	tp := topo()
	ids := ec2.ClassicNetwork(classicAcct, rgn)
	realID := regexp.MustCompile(`^[a-z]+-[0-9a-f]{8}([0-9a-f]{9})?$`)
	for _, id := range []string{ids.VpcID, ids.SubnetID, ids.RouteTableID} {
		if realID.MatchString(id) {
			t.Errorf("synthetic id %s has the form of a real id", id)
		}
	}
	if !slices.ContainsFunc(tp.VPCs, func(v ec2.TopoVPC) bool {
		// Classic instances resolve names with the Amazon-provided DNS
		// server, as the default DHCP options give a VPC's.
		return v.ID == ids.VpcID && v.CIDR.String() == "10.0.0.0/8" && v.DHCP != nil && slices.Equal(v.DHCP.DomainNameServers, []string{"AmazonProvidedDNS"})
	}) {
		t.Errorf("topology VPCs %+v lack the classic network %s with the default DHCP options", tp.VPCs, ids.VpcID)
	}
	if !slices.ContainsFunc(tp.Subnets, func(sn ec2.TopoSubnet) bool { return sn.ID == ids.SubnetID && sn.RouteTableID == ids.RouteTableID }) {
		t.Errorf("topology subnets lack the classic subnet")
	}
	if !slices.ContainsFunc(tp.RouteTables, func(r ec2.TopoRouteTable) bool {
		return r.ID == ids.RouteTableID && r.Main && len(r.Routes) == 1 && r.Routes[0].Target == "local"
	}) {
		t.Errorf("topology route tables lack the classic main table with its local route")
	}
	if slices.ContainsFunc(tp.VPCs, func(v ec2.TopoVPC) bool { return v.Account == vpcAcct && ec2.IsClassicVPC(v.ID) }) {
		t.Errorf("a VPC-only account has a classic network")
	}
	for _, g := range tp.Groups {
		if g.Account == classicAcct && g.VpcID != ids.VpcID {
			t.Errorf("classic group %s (%s) exported in %q, want %s", g.ID, g.Name, g.VpcID, ids.VpcID)
		}
	}
	for _, i := range tp.Interfaces {
		if i.Account == classicAcct && (i.VpcID != ids.VpcID || i.SubnetID != ids.SubnetID) {
			t.Errorf("classic interface %s exported in %s/%s", i.ID, i.VpcID, i.SubnetID)
		}
	}
	// The synthetic ids are not visible through the EC2 API.
	if _, err := s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{VpcIds: []string{ids.VpcID}}); err == nil {
		t.Errorf("DescribeVpcs(%s) succeeded, want an error", ids.VpcID)
	}
	vpcs, err := s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{})
	if err != nil || len(vpcs.Vpcs) != 0 {
		t.Errorf("DescribeVpcs in a classic account = %d VPCs, %v; want none", len(vpcs.Vpcs), err)
	}

	check := func(tp *ec2.Topology, from ec2api.Instance, port int32) sgeval.Verdict {
		return sgeval.New(tp).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: *from.NetworkInterfaces[0].NetworkInterfaceId},
			Dst: sgeval.Endpoint{Interface: node.ID}, Protocol: "tcp", Port: port})
	}
	for _, i := range []ec2api.Instance{app, other, def} {
		if v := check(tp, i, 6379); v.Allowed {
			t.Errorf("before any grant %s -> node allowed: %v", *i.InstanceId, v)
		}
	}
	// Instances of one classic group reach each other as its rules say: the
	// default group admits its own members.
	if v := sgeval.New(tp).Check(sgeval.Flow{Src: sgeval.Endpoint{Interface: *app.NetworkInterfaces[0].NetworkInterfaceId},
		Dst: sgeval.Endpoint{Interface: *def.NetworkInterfaces[0].NetworkInterfaceId}, Protocol: "tcp", Port: 22}); v.Allowed {
		t.Errorf("app -> default-group instance allowed without a rule: %v", v)
	}

	grants := []ec2.IngressGrant{{CacheSecurityGroup: "mycsg", GroupOwner: classicAcct, GroupName: "app", Port: 6379},
		{CacheSecurityGroup: "mycsg", GroupOwner: classicAcct, GroupName: "gone", Port: 6379}}
	if err := s.SetInterfaceIngressGrants(context.Background(), classicAcct, rgn, node.ID, grants); err != nil {
		t.Fatal(err)
	}
	before := topo().Revision
	rev := slices.Clone(grants)
	slices.Reverse(rev)
	if err := s.SetInterfaceIngressGrants(context.Background(), classicAcct, rgn, node.ID, rev); err != nil {
		t.Fatal(err)
	}
	tp = topo()
	if tp.Revision != before {
		t.Errorf("setting the same grants wrote the store (revision %d -> %d)", before, tp.Revision)
	}
	v := check(tp, app, 6379)
	if !v.Allowed || len(v.Ingress) != 1 || !strings.HasPrefix(v.Ingress[0].GroupID, "sg-grants") {
		t.Errorf("after the grant app -> node = %v, want allowed by the grants group", v)
	}
	if v := check(tp, app, 6380); v.Allowed {
		t.Errorf("after the grant app -> node tcp/6380 allowed: %v", v)
	}
	if v := check(tp, other, 6379); v.Allowed {
		t.Errorf("after the grant other -> node allowed: %v", v)
	}
	var grantGroup *ec2.TopoGroup
	for i := range tp.Groups {
		if strings.HasPrefix(tp.Groups[i].ID, "sg-grants") {
			grantGroup = &tp.Groups[i]
		}
	}
	if grantGroup == nil || len(grantGroup.Ingress) != 1 || !strings.Contains(grantGroup.Ingress[0].Description, "mycsg") ||
		realID.MatchString(grantGroup.ID) {
		t.Errorf("grants group = %+v, want one rule (the unknown group admits nobody) naming mycsg", grantGroup)
	}
	if err := s.SetInterfaceIngressGrants(context.Background(), classicAcct, rgn, node.ID, nil); err != nil {
		t.Fatal(err)
	}
	if v := check(topo(), app, 6379); v.Allowed {
		t.Errorf("after revoking the grant app -> node allowed: %v", v)
	}
	// The classic default group cannot be deleted.
	if _, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupName: p("default")}); code(err) != "CannotDelete" {
		t.Errorf("DeleteSecurityGroup(default) in EC2-Classic = %v, want CannotDelete", err)
	}
	// A VPC-only account still launches into its default VPC.
	r, err := s.RunInstances(scoped(vpcAcct), &ec2api.RunInstancesRequest{ImageId: p("ami-12345678"), MinCount: p(int32(1)), MaxCount: p(int32(1))})
	if err != nil || r.Instances[0].VpcId == nil {
		t.Errorf("RunInstances in a VPC-only account = %v, %v; want an instance in the default VPC", r, err)
	}
}
