package ec2

import (
	"fmt"
	"slices"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// aclFixture is a VPC with two subnets, its default ACL and a custom one.
type aclFixture struct {
	vpc, sn1, sn2, def, custom string
}

func newACLFixture(t *testing.T, s *Service) aclFixture {
	t.Helper()
	ctx := ctxFor(acctA)
	var f aclFixture
	f.vpc = *must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.5.0.0/16")})).Vpc.VpcId
	f.sn1 = *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(f.vpc), CidrBlock: ptr("10.5.1.0/24")})).Subnet.SubnetId
	f.sn2 = *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: ptr(f.vpc), CidrBlock: ptr("10.5.2.0/24")})).Subnet.SubnetId
	d := must[*ec2api.DescribeNetworkAclsResult](t)(s.DescribeNetworkAcls(ctx, &ec2api.DescribeNetworkAclsRequest{Filters: []ec2api.Filter{filter("vpc-id", f.vpc)}}))
	if len(d.NetworkAcls) != 1 || !*d.NetworkAcls[0].IsDefault {
		t.Fatalf("ACLs of a new VPC = %+v, want its default ACL", d.NetworkAcls)
	}
	f.def = *d.NetworkAcls[0].NetworkAclId
	c := must[*ec2api.CreateNetworkAclResult](t)(s.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: ptr(f.vpc),
		TagSpecifications: []ec2api.TagSpecification{{ResourceType: ptr("network-acl"), Tags: []ec2api.Tag{{Key: ptr("Name"), Value: ptr("custom")}}}}}))
	f.custom = *c.NetworkAcl.NetworkAclId
	return f
}

func describeACL(t *testing.T, s *Service, id string) ec2api.NetworkAcl {
	t.Helper()
	out := must[*ec2api.DescribeNetworkAclsResult](t)(s.DescribeNetworkAcls(ctxFor(acctA), &ec2api.DescribeNetworkAclsRequest{NetworkAclIds: []string{id}}))
	if len(out.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls(%s) = %d ACLs", id, len(out.NetworkAcls))
	}
	return out.NetworkAcls[0]
}

// entryKeys renders entries as "in 100 allow -1 0.0.0.0/0" for comparison.
func entryKeys(es []ec2api.NetworkAclEntry) []string {
	var out []string
	for _, e := range es {
		dir := "in"
		if *e.Egress {
			dir = "out"
		}
		k := fmt.Sprintf("%s %d %s %s %s", dir, *e.RuleNumber, *e.RuleAction, *e.Protocol, str(e.CidrBlock)+str(e.Ipv6CidrBlock))
		if e.PortRange != nil {
			k += fmt.Sprintf(" ports %d-%d", *e.PortRange.From, *e.PortRange.To)
		}
		if e.IcmpTypeCode != nil {
			k += fmt.Sprintf(" icmp %d/%d", *e.IcmpTypeCode.Type, *e.IcmpTypeCode.Code)
		}
		out = append(out, k)
	}
	return out
}

func TestNetworkACLDefaultsAndAssociations(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	f := newACLFixture(t, s)
	def := describeACL(t, s, f.def)
	wantDefault := []string{"out 100 allow -1 0.0.0.0/0", "out 32767 deny -1 0.0.0.0/0", "in 100 allow -1 0.0.0.0/0", "in 32767 deny -1 0.0.0.0/0"}
	if got := entryKeys(def.Entries); !slices.Equal(got, wantDefault) {
		t.Errorf("default ACL entries = %q, want %q", got, wantDefault)
	}
	if len(def.Associations) != 2 {
		t.Errorf("default ACL associations = %+v, want both subnets", def.Associations)
	}
	custom := describeACL(t, s, f.custom)
	if got, want := entryKeys(custom.Entries), []string{"out 32767 deny -1 0.0.0.0/0", "in 32767 deny -1 0.0.0.0/0"}; !slices.Equal(got, want) || *custom.IsDefault || len(custom.Associations) != 0 {
		t.Errorf("new ACL = entries %q default %v associations %+v; want %q, not default, none", got, *custom.IsDefault, custom.Associations, want)
	}
	if len(custom.Tags) != 1 || *custom.Tags[0].Value != "custom" {
		t.Errorf("new ACL tags = %+v", custom.Tags)
	}

	// Move sn1 to the custom ACL, then back: a new association id each time.
	var assoc string
	for _, a := range def.Associations {
		if *a.SubnetId == f.sn1 {
			assoc = *a.NetworkAclAssociationId
		}
	}
	r := must[*ec2api.ReplaceNetworkAclAssociationResult](t)(s.ReplaceNetworkAclAssociation(ctx, &ec2api.ReplaceNetworkAclAssociationRequest{AssociationId: ptr(assoc), NetworkAclId: ptr(f.custom)}))
	if *r.NewAssociationId == assoc {
		t.Errorf("new association id = the old one %s", assoc)
	}
	if c := describeACL(t, s, f.custom); len(c.Associations) != 1 || *c.Associations[0].SubnetId != f.sn1 || *c.Associations[0].NetworkAclAssociationId != *r.NewAssociationId {
		t.Errorf("custom ACL associations = %+v", c.Associations)
	}
	if d := describeACL(t, s, f.def); len(d.Associations) != 1 || *d.Associations[0].SubnetId != f.sn2 {
		t.Errorf("default ACL associations = %+v, want sn2 only", d.Associations)
	}
	for _, fl := range []struct{ name, value, want string }{
		{"association.subnet-id", f.sn1, f.custom},
		{"association.association-id", *r.NewAssociationId, f.custom},
		{"association.network-acl-id", f.custom, f.custom},
		{"default", "false", f.custom},
		{"entry.rule-number", "100", f.def},
		{"entry.rule-action", "allow", f.def},
		{"entry.protocol", "-1", f.custom},
		{"tag:Name", "custom", f.custom},
	} {
		out := must[*ec2api.DescribeNetworkAclsResult](t)(s.DescribeNetworkAcls(ctx, &ec2api.DescribeNetworkAclsRequest{Filters: []ec2api.Filter{filter("vpc-id", f.vpc), filter(fl.name, fl.value)}}))
		var got []string
		for _, a := range out.NetworkAcls {
			got = append(got, *a.NetworkAclId)
		}
		if fl.name == "entry.protocol" { // both have the * entries
			if len(got) != 2 {
				t.Errorf("filter %s=%s = %v, want both", fl.name, fl.value, got)
			}
			continue
		}
		if len(got) != 1 || got[0] != fl.want {
			t.Errorf("filter %s=%s = %v, want [%s]", fl.name, fl.value, got, fl.want)
		}
	}
	// In use: cannot be deleted; nor can the VPC while a custom ACL exists.
	wantCode(t, s.DeleteNetworkAcl(ctx, &ec2api.DeleteNetworkAclRequest{NetworkAclId: ptr(f.custom)}), "DependencyViolation")
	// Deleting the subnet drops its association.
	ok(t, s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: ptr(f.sn1)}))
	if c := describeACL(t, s, f.custom); len(c.Associations) != 0 {
		t.Errorf("associations after DeleteSubnet = %+v", c.Associations)
	}
	ok(t, s.DeleteSubnet(ctx, &ec2api.DeleteSubnetRequest{SubnetId: ptr(f.sn2)}))
	wantCode(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(f.vpc)}), "DependencyViolation")
	ok(t, s.DeleteNetworkAcl(ctx, &ec2api.DeleteNetworkAclRequest{NetworkAclId: ptr(f.custom)}))
	ok(t, s.DeleteVpc(ctx, &ec2api.DeleteVpcRequest{VpcId: ptr(f.vpc)}))
	out := must[*ec2api.DescribeNetworkAclsResult](t)(s.DescribeNetworkAcls(ctx, &ec2api.DescribeNetworkAclsRequest{Filters: []ec2api.Filter{filter("vpc-id", f.vpc)}}))
	if len(out.NetworkAcls) != 0 {
		t.Errorf("ACLs of a deleted VPC = %+v", out.NetworkAcls)
	}
}

func TestNetworkACLEntries(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	f := newACLFixture(t, s)
	entry := func(n int32, egress bool, proto, cidr, action string) *ec2api.CreateNetworkAclEntryRequest {
		return &ec2api.CreateNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(n), Egress: ptr(egress), Protocol: ptr(proto), CidrBlock: ptr(cidr), RuleAction: ptr(action)}
	}
	ports := func(r *ec2api.CreateNetworkAclEntryRequest, from, to int32) *ec2api.CreateNetworkAclEntryRequest {
		r.PortRange = &ec2api.PortRange{From: ptr(from), To: ptr(to)}
		return r
	}
	icmp := func(r *ec2api.CreateNetworkAclEntryRequest, typ, code int32) *ec2api.CreateNetworkAclEntryRequest {
		r.IcmpTypeCode = &ec2api.IcmpTypeCode{Type: ptr(typ), Code: ptr(code)}
		return r
	}
	ok(t, s.CreateNetworkAclEntry(ctx, ports(entry(100, false, "tcp", "10.0.0.7/16", "allow"), 6379, 6379)))
	ok(t, s.CreateNetworkAclEntry(ctx, ports(entry(90, false, "17", "0.0.0.0/0", "DENY"), 53, 53)))
	ok(t, s.CreateNetworkAclEntry(ctx, icmp(entry(110, false, "icmp", "0.0.0.0/0", "allow"), 8, -1)))
	ok(t, s.CreateNetworkAclEntry(ctx, ports(entry(100, true, "6", "0.0.0.0/0", "allow"), 1024, 65535)))
	ok(t, s.CreateNetworkAclEntry(ctx, entry(120, false, "47", "192.168.0.0/16", "allow")))
	ok(t, s.CreateNetworkAclEntry(ctx, &ec2api.CreateNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(130)), Egress: ptr(false),
		Protocol: ptr("-1"), Ipv6CidrBlock: ptr("2001:db8::/32"), RuleAction: ptr("deny")}))
	want := []string{ // egress first, as AWS lists them
		"out 100 allow 6 0.0.0.0/0 ports 1024-65535",
		"out 32767 deny -1 0.0.0.0/0",
		"in 90 deny 17 0.0.0.0/0 ports 53-53",
		"in 100 allow 6 10.0.0.0/16 ports 6379-6379",
		"in 110 allow 1 0.0.0.0/0 icmp 8/-1",
		"in 120 allow 47 192.168.0.0/16",
		"in 130 deny -1 2001:db8::/32",
		"in 32767 deny -1 0.0.0.0/0",
	}
	if got := entryKeys(describeACL(t, s, f.custom).Entries); !slices.Equal(got, want) {
		t.Errorf("entries = %q\nwant %q", got, want)
	}

	// Refused: each leaves the store as it was.
	for _, c := range []struct {
		name, code string
		call       func() error
	}{
		{"duplicate", "NetworkAclEntryAlreadyExists", func() error {
			return s.CreateNetworkAclEntry(ctx, ports(entry(100, false, "tcp", "0.0.0.0/0", "deny"), 1, 2))
		}},
		{"rule 0", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(0, false, "-1", "0.0.0.0/0", "allow")) }},
		{"rule 32767", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(32767, false, "-1", "0.0.0.0/0", "allow")) }},
		{"action", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "-1", "0.0.0.0/0", "permit")) }},
		{"protocol", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "256", "0.0.0.0/0", "allow")) }},
		{"protocol name", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "sctp", "0.0.0.0/0", "allow")) }},
		{"cidr", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "-1", "10.0.0.0/33", "allow")) }},
		{"ipv6 as cidrBlock", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "-1", "::/0", "allow")) }},
		{"no cidr", "MissingParameter", func() error {
			r := entry(5, false, "-1", "", "allow")
			r.CidrBlock = nil
			return s.CreateNetworkAclEntry(ctx, r)
		}},
		{"both cidrs", "InvalidParameterCombination", func() error {
			r := entry(5, false, "-1", "0.0.0.0/0", "allow")
			r.Ipv6CidrBlock = ptr("::/0")
			return s.CreateNetworkAclEntry(ctx, r)
		}},
		{"tcp without ports", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "tcp", "0.0.0.0/0", "allow")) }},
		{"ports reversed", "InvalidParameterValue", func() error {
			return s.CreateNetworkAclEntry(ctx, ports(entry(5, false, "udp", "0.0.0.0/0", "allow"), 100, 99))
		}},
		{"port 65536", "InvalidParameterValue", func() error {
			return s.CreateNetworkAclEntry(ctx, ports(entry(5, false, "udp", "0.0.0.0/0", "allow"), 1, 65536))
		}},
		{"icmp without type", "InvalidParameterValue", func() error { return s.CreateNetworkAclEntry(ctx, entry(5, false, "1", "0.0.0.0/0", "allow")) }},
		{"icmp type 256", "InvalidParameterValue", func() error {
			return s.CreateNetworkAclEntry(ctx, icmp(entry(5, false, "1", "0.0.0.0/0", "allow"), 256, 0))
		}},
		{"unknown acl", "InvalidNetworkAclID.NotFound", func() error {
			r := entry(5, false, "-1", "0.0.0.0/0", "allow")
			r.NetworkAclId = ptr("acl-0123456789abcdef0")
			return s.CreateNetworkAclEntry(ctx, r)
		}},
		{"dry run", "DryRunOperation", func() error {
			r := entry(5, false, "-1", "0.0.0.0/0", "allow")
			r.DryRun = ptr(true)
			return s.CreateNetworkAclEntry(ctx, r)
		}},
		{"replace missing", "InvalidNetworkAclEntry.NotFound", func() error {
			return s.ReplaceNetworkAclEntry(ctx, &ec2api.ReplaceNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(101)), Egress: ptr(true),
				Protocol: ptr("-1"), CidrBlock: ptr("0.0.0.0/0"), RuleAction: ptr("deny")})
		}},
		{"delete missing (other direction)", "InvalidNetworkAclEntry.NotFound", func() error {
			return s.DeleteNetworkAclEntry(ctx, &ec2api.DeleteNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(90)), Egress: ptr(true)})
		}},
		{"delete the * entry", "InvalidParameterValue", func() error {
			return s.DeleteNetworkAclEntry(ctx, &ec2api.DeleteNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(32767)), Egress: ptr(false)})
		}},
		{"delete default ACL", "InvalidParameterValue", func() error {
			return s.DeleteNetworkAcl(ctx, &ec2api.DeleteNetworkAclRequest{NetworkAclId: ptr(f.def)})
		}},
		{"delete unknown ACL", "InvalidNetworkAclID.NotFound", func() error {
			return s.DeleteNetworkAcl(ctx, &ec2api.DeleteNetworkAclRequest{NetworkAclId: ptr("acl-0123456789abcdef0")})
		}},
		{"create in unknown VPC", "InvalidVpcID.NotFound", func() error {
			_, err := s.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: ptr("vpc-0123456789abcdef0")})
			return err
		}},
		{"unknown association", "InvalidAssociationID.NotFound", func() error {
			_, err := s.ReplaceNetworkAclAssociation(ctx, &ec2api.ReplaceNetworkAclAssociationRequest{AssociationId: ptr("aclassoc-0123456789abcdef0"), NetworkAclId: ptr(f.custom)})
			return err
		}},
		{"other account's ACL", "InvalidNetworkAclID.NotFound", func() error {
			return s.CreateNetworkAclEntry(ctxFor(acctB), entry(5, false, "-1", "0.0.0.0/0", "allow"))
		}},
	} {
		t.Run(c.name, func(t *testing.T) { failsUnchanged(t, st, c.code, c.call) })
	}

	// At most 20 entries per direction.
	for n := int32(1); ; n++ {
		err := s.CreateNetworkAclEntry(ctx, entry(1000+n, true, "-1", "0.0.0.0/0", "allow"))
		if err != nil {
			wantCode(t, err, "NetworkAclEntryLimitExceeded")
			if n != 20 { // out 100 exists: 19 more fit
				t.Errorf("limit reached at the %dth new egress entry, want the 20th", n)
			}
			break
		}
	}
	ok(t, s.CreateNetworkAclEntry(ctx, entry(5000, false, "-1", "0.0.0.0/0", "allow"))) // the other direction has room
	// A client token makes CreateNetworkAcl idempotent.
	c1 := must[*ec2api.CreateNetworkAclResult](t)(s.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: ptr(f.vpc), ClientToken: ptr("tok-1")}))
	c2 := must[*ec2api.CreateNetworkAclResult](t)(s.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: ptr(f.vpc), ClientToken: ptr("tok-1")}))
	if *c1.NetworkAcl.NetworkAclId != *c2.NetworkAcl.NetworkAclId || *c2.ClientToken != "tok-1" {
		t.Errorf("same client token: %s then %s", *c1.NetworkAcl.NetworkAclId, *c2.NetworkAcl.NetworkAclId)
	}
	ok(t, s.DeleteNetworkAcl(ctx, &ec2api.DeleteNetworkAclRequest{NetworkAclId: c1.NetworkAcl.NetworkAclId}))

	// An ACL of another VPC cannot take this VPC's subnet.
	other := *must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.6.0.0/16")})).Vpc.VpcId
	otherACL := *must[*ec2api.CreateNetworkAclResult](t)(s.CreateNetworkAcl(ctx, &ec2api.CreateNetworkAclRequest{VpcId: ptr(other)})).NetworkAcl.NetworkAclId
	assoc := *describeACL(t, s, f.def).Associations[0].NetworkAclAssociationId
	failsUnchanged(t, st, "InvalidParameterValue", func() error {
		_, err := s.ReplaceNetworkAclAssociation(ctx, &ec2api.ReplaceNetworkAclAssociationRequest{AssociationId: ptr(assoc), NetworkAclId: ptr(otherACL)})
		return err
	})

	// Replace and delete.
	ok(t, s.ReplaceNetworkAclEntry(ctx, &ec2api.ReplaceNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(100)), Egress: ptr(false),
		Protocol: ptr("udp"), PortRange: &ec2api.PortRange{From: ptr(int32(1)), To: ptr(int32(2))}, CidrBlock: ptr("10.1.2.3/32"), RuleAction: ptr("deny")}))
	ok(t, s.DeleteNetworkAclEntry(ctx, &ec2api.DeleteNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(90)), Egress: ptr(false)}))
	got := entryKeys(describeACL(t, s, f.custom).Entries)
	if !slices.Contains(got, "in 100 deny 17 10.1.2.3/32 ports 1-2") || slices.ContainsFunc(got, func(k string) bool { return k[:6] == "in 90 " }) {
		t.Errorf("entries after replace and delete = %q", got)
	}
	// The default ACL's entries may be changed like any other.
	ok(t, s.DeleteNetworkAclEntry(ctx, &ec2api.DeleteNetworkAclEntryRequest{NetworkAclId: ptr(f.def), RuleNumber: ptr(int32(100)), Egress: ptr(true)}))
	if got, want := entryKeys(describeACL(t, s, f.def).Entries), []string{"out 32767 deny -1 0.0.0.0/0", "in 100 allow -1 0.0.0.0/0", "in 32767 deny -1 0.0.0.0/0"}; !slices.Equal(got, want) {
		t.Errorf("default ACL after deleting out 100 = %q, want %q", got, want)
	}
}

// TestNetworkACLTopology: the topology carries each ACL with the subnets it
// applies to (implicit default associations included) and its entries.
func TestNetworkACLTopology(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	f := newACLFixture(t, s)
	d := describeACL(t, s, f.def)
	for _, a := range d.Associations {
		if *a.SubnetId == f.sn2 {
			must[*ec2api.ReplaceNetworkAclAssociationResult](t)(s.ReplaceNetworkAclAssociation(ctx, &ec2api.ReplaceNetworkAclAssociationRequest{AssociationId: a.NetworkAclAssociationId, NetworkAclId: ptr(f.custom)}))
		}
	}
	ok(t, s.CreateNetworkAclEntry(ctx, &ec2api.CreateNetworkAclEntryRequest{NetworkAclId: ptr(f.custom), RuleNumber: ptr(int32(7)), Egress: ptr(true),
		Protocol: ptr("icmp"), IcmpTypeCode: &ec2api.IcmpTypeCode{Type: ptr(int32(0)), Code: ptr(int32(-1))}, CidrBlock: ptr("10.5.1.0/24"), RuleAction: ptr("allow")}))
	topo, err := s.Topology(ctx, TopologySelector{Account: acctA})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]TopoNetworkACL{}
	for _, a := range topo.NetworkACLs {
		got[a.ID] = a
	}
	if a := got[f.def]; !slices.Equal(a.Subnets, []string{f.sn1}) || len(a.Entries) != 2 || !a.Entries[0].Allow {
		t.Errorf("default ACL in topology = %+v", a)
	}
	c := got[f.custom]
	if !slices.Equal(c.Subnets, []string{f.sn2}) || len(c.Entries) != 1 {
		t.Fatalf("custom ACL in topology = %+v", c)
	}
	if e := c.Entries[0]; e.Number != 7 || !e.Egress || e.Protocol != "1" || e.FromPort != 0 || e.ToPort != -1 || e.CIDR.String() != "10.5.1.0/24" || !e.Allow {
		t.Errorf("entry = %+v", e)
	}
}
