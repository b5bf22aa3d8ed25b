package ec2

import (
	"fmt"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

// The seed flow: add Custom TCP 6379 from 0.0.0.0/0 to the default group.
func TestSeedAuthorizeDefaultGroup(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	out := must[*ec2api.AuthorizeSecurityGroupIngressResult](t)(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{
		GroupId: ptr(def.DefaultGroupID), IpProtocol: ptr("tcp"), FromPort: ptr(int32(6379)), ToPort: ptr(int32(6379)), CidrIp: ptr("0.0.0.0/0")}))
	if !*out.Return || len(out.SecurityGroupRules) != 1 || !wellFormed(*out.SecurityGroupRules[0].SecurityGroupRuleId, "sgr-") {
		t.Fatalf("authorize = %+v", out)
	}
	g := describeGroup(t, s, ctx, def.DefaultGroupID)
	found := false
	for _, p := range g.IpPermissions {
		if *p.IpProtocol == "tcp" && *p.FromPort == 6379 && *p.ToPort == 6379 && *p.IpRanges[0].CidrIp == "0.0.0.0/0" {
			found = true
		}
	}
	if !found {
		t.Errorf("DescribeSecurityGroups does not show tcp/6379 from 0.0.0.0/0: %+v", g.IpPermissions)
	}
	rules := must[*ec2api.DescribeSecurityGroupRulesResult](t)(s.DescribeSecurityGroupRules(ctx, &ec2api.DescribeSecurityGroupRulesRequest{
		Filters: []ec2api.Filter{filter("group-id", def.DefaultGroupID)}}))
	if len(rules.SecurityGroupRules) != 3 {
		t.Errorf("DescribeSecurityGroupRules = %d rules, want 3", len(rules.SecurityGroupRules))
	}
	_, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(def.DefaultGroupID),
		IpPermissions: []ec2api.IpPermission{tcpFrom(6379, "0.0.0.0/0")}})
	wantCode(t, err, "InvalidPermission.Duplicate")
}

func TestSecurityGroupErrors(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	web := createGroup(t, s, ctx, "web", "")
	create := func(name, desc, vpc string) error {
		in := &ec2api.CreateSecurityGroupRequest{GroupName: ptr(name), Description: ptr(desc)}
		if vpc != "" {
			in.VpcId = ptr(vpc)
		}
		_, err := s.CreateSecurityGroup(ctx, in)
		return err
	}
	auth := func(group string, perms ...ec2api.IpPermission) error {
		_, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(group), IpPermissions: perms})
		return err
	}
	tests := []struct {
		name string
		err  func() error
		code string
	}{
		{"duplicate name", func() error { return create("web", "again", "") }, "InvalidGroup.Duplicate"},
		{"reserved name", func() error { return create("default", "x", "") }, "InvalidGroup.Reserved"},
		{"sg- name", func() error { return create("sg-123", "x", "") }, "InvalidParameterValue"},
		{"no description", func() error { return create("x", "", "") }, "MissingParameter"},
		{"unknown vpc", func() error { return create("x", "x", "vpc-0123456789abcdef0") }, "InvalidVpcID.NotFound"},
		{"malformed group", func() error { return auth("sg-xyz", tcpFrom(22, "0.0.0.0/0")) }, "InvalidGroupId.Malformed"},
		{"unknown group", func() error { return auth("sg-0123456789abcdef0", tcpFrom(22, "0.0.0.0/0")) }, "InvalidGroup.NotFound"},
		{"bad protocol", func() error {
			return auth(web, ec2api.IpPermission{IpProtocol: ptr("tcpx"), IpRanges: []ec2api.IpRange{{CidrIp: ptr("0.0.0.0/0")}}})
		}, "InvalidParameterValue"},
		{"tcp without ports", func() error {
			return auth(web, ec2api.IpPermission{IpProtocol: ptr("tcp"), IpRanges: []ec2api.IpRange{{CidrIp: ptr("0.0.0.0/0")}}})
		}, "InvalidParameterValue"},
		{"reversed ports", func() error {
			return auth(web, ec2api.IpPermission{IpProtocol: ptr("udp"), FromPort: ptr(int32(90)), ToPort: ptr(int32(80)), IpRanges: []ec2api.IpRange{{CidrIp: ptr("0.0.0.0/0")}}})
		}, "InvalidParameterValue"},
		{"no peer", func() error { return auth(web, ec2api.IpPermission{IpProtocol: ptr("-1")}) }, "InvalidParameterValue"},
		{"unknown referenced group", func() error { return auth(web, tcpFromGroup(22, "sg-0123456789abcdef0")) }, "InvalidGroup.NotFound"},
		{"duplicate in request", func() error { return auth(web, tcpFrom(22, "1.2.3.0/24"), tcpFrom(22, "1.2.3.0/24")) }, "InvalidPermission.Duplicate"},
		{"delete default", func() error {
			_, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(def.DefaultGroupID)})
			return err
		}, "CannotDelete"},
		{"delete by unknown name", func() error {
			_, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupName: ptr("nope")})
			return err
		}, "InvalidGroup.NotFound"},
		{"revoke missing", func() error {
			_, err := s.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: ptr(web), IpPermissions: []ec2api.IpPermission{tcpFrom(1, "0.0.0.0/0")}})
			return err
		}, "InvalidPermission.NotFound"},
		{"revoke unknown rule id", func() error {
			_, err := s.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: ptr(web), SecurityGroupRuleIds: []string{"sgr-0123456789abcdef0"}})
			return err
		}, "InvalidSecurityGroupRuleId.NotFound"},
		{"dry run", func() error {
			_, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(web), IpPermissions: []ec2api.IpPermission{tcpFrom(22, "0.0.0.0/0")}, DryRun: ptr(true)})
			return err
		}, "DryRunOperation"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.err(), tc.code) })
	}
	// Nothing above changed the group.
	g := describeGroup(t, s, ctx, web)
	if len(g.IpPermissions) != 0 || len(g.IpPermissionsEgress) != 1 {
		t.Errorf("failed calls changed the group: %+v", g)
	}
}

func TestRuleLifecycle(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	web := createGroup(t, s, ctx, "web", "")
	app := createGroup(t, s, ctx, "app", "")
	perms := []ec2api.IpPermission{
		tcpFrom(443, "0.0.0.0/0"),
		{IpProtocol: ptr("6"), FromPort: ptr(int32(80)), ToPort: ptr(int32(80)), IpRanges: []ec2api.IpRange{{CidrIp: ptr("10.0.0.0/8"), Description: ptr("internal")}},
			Ipv6Ranges: []ec2api.Ipv6Range{{CidrIpv6: ptr("2001:db8::/32")}}},
		{IpProtocol: ptr("icmp"), FromPort: ptr(int32(8)), ToPort: ptr(int32(-1)), IpRanges: []ec2api.IpRange{{CidrIp: ptr("192.168.0.0/16")}}},
		{IpProtocol: ptr("50"), IpRanges: []ec2api.IpRange{{CidrIp: ptr("172.16.0.0/12")}}},
		tcpFromGroup(8080, app),
	}
	out := must[*ec2api.AuthorizeSecurityGroupIngressResult](t)(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(web), IpPermissions: perms}))
	if len(out.SecurityGroupRules) != 6 {
		t.Fatalf("rules = %d, want 6", len(out.SecurityGroupRules))
	}
	g := describeGroup(t, s, ctx, web)
	if len(g.IpPermissions) != 5 {
		t.Fatalf("IpPermissions = %d entries, want 5: %+v", len(g.IpPermissions), g.IpPermissions)
	}
	if p := g.IpPermissions[1]; *p.IpProtocol != "tcp" || len(p.IpRanges) != 1 || len(p.Ipv6Ranges) != 1 || *p.IpRanges[0].Description != "internal" {
		t.Errorf("aggregated permission = %+v", p)
	}
	if p := g.IpPermissions[3]; *p.IpProtocol != "50" || p.FromPort != nil {
		t.Errorf("protocol 50 permission = %+v", p)
	}
	for _, tc := range []struct {
		filter ec2api.Filter
		want   int
	}{
		{filter("ip-permission.from-port", "8080"), 1},
		{filter("ip-permission.group-id", app), 1},
		{filter("ip-permission.cidr", "10.*"), 1},
		{filter("ip-permission.ipv6-cidr", "2001:db8::/32"), 1},
		{filter("ip-permission.protocol", "icmp"), 1},
		{filter("egress.ip-permission.cidr", "0.0.0.0/0"), 3}, // web, app and default
		{filter("group-name", "we?"), 1},
		{filter("group-name", "web", "app"), 2},
		{filter("ip-permission.to-port", "9999"), 0},
	} {
		got := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{Filters: []ec2api.Filter{tc.filter}}))
		if len(got.SecurityGroups) != tc.want {
			t.Errorf("filter %s=%v: %d groups, want %d", *tc.filter.Name, tc.filter.Values, len(got.SecurityGroups), tc.want)
		}
	}
	// app is referenced by web: it cannot be deleted.
	_, err := s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(app)})
	wantCode(t, err, "DependencyViolation")
	// Modify a rule, update a description, revoke by id and by permission.
	rid := *out.SecurityGroupRules[0].SecurityGroupRuleId
	must[*ec2api.ModifySecurityGroupRulesResult](t)(s.ModifySecurityGroupRules(ctx, &ec2api.ModifySecurityGroupRulesRequest{GroupId: ptr(web),
		SecurityGroupRules: []ec2api.SecurityGroupRuleUpdate{{SecurityGroupRuleId: ptr(rid), SecurityGroupRule: &ec2api.SecurityGroupRuleRequest{
			IpProtocol: ptr("tcp"), FromPort: ptr(int32(8443)), ToPort: ptr(int32(8443)), CidrIpv4: ptr("0.0.0.0/0"), Description: ptr("tls")}}}}))
	must[*ec2api.UpdateSecurityGroupRuleDescriptionsIngressResult](t)(s.UpdateSecurityGroupRuleDescriptionsIngress(ctx, &ec2api.UpdateSecurityGroupRuleDescriptionsIngressRequest{
		GroupId: ptr(web), IpPermissions: []ec2api.IpPermission{{IpProtocol: ptr("tcp"), FromPort: ptr(int32(8080)), ToPort: ptr(int32(8080)),
			UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: ptr(app), Description: ptr("from app")}}}}}))
	rules := must[*ec2api.DescribeSecurityGroupRulesResult](t)(s.DescribeSecurityGroupRules(ctx, &ec2api.DescribeSecurityGroupRulesRequest{SecurityGroupRuleIds: []string{rid}}))
	if r := rules.SecurityGroupRules[0]; *r.FromPort != 8443 || *r.Description != "tls" || *r.IsEgress {
		t.Errorf("modified rule = %+v", r)
	}
	rv := must[*ec2api.RevokeSecurityGroupIngressResult](t)(s.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: ptr(web), SecurityGroupRuleIds: []string{rid}}))
	if len(rv.RevokedSecurityGroupRules) != 1 {
		t.Errorf("revoked = %+v", rv)
	}
	rv = must[*ec2api.RevokeSecurityGroupIngressResult](t)(s.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{GroupId: ptr(web),
		IpPermissions: []ec2api.IpPermission{tcpFromGroup(8080, app), tcpFrom(1, "1.1.1.1/32")}}))
	if len(rv.RevokedSecurityGroupRules) != 1 || len(rv.UnknownIpPermissions) != 1 {
		t.Errorf("partial revoke = %+v", rv)
	}
	must[*ec2api.DeleteSecurityGroupResult](t)(s.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: ptr(app)}))
	// Egress: revoke the default allow-all, add one.
	must[*ec2api.RevokeSecurityGroupEgressResult](t)(s.RevokeSecurityGroupEgress(ctx, &ec2api.RevokeSecurityGroupEgressRequest{GroupId: ptr(web),
		IpPermissions: []ec2api.IpPermission{{IpProtocol: ptr("-1"), IpRanges: []ec2api.IpRange{{CidrIp: ptr("0.0.0.0/0")}}}}}))
	must[*ec2api.AuthorizeSecurityGroupEgressResult](t)(s.AuthorizeSecurityGroupEgress(ctx, &ec2api.AuthorizeSecurityGroupEgressRequest{GroupId: ptr(web),
		IpPermissions: []ec2api.IpPermission{tcpFrom(6379, "172.31.0.0/16")}}))
	if g := describeGroup(t, s, ctx, web); len(g.IpPermissionsEgress) != 1 || *g.IpPermissionsEgress[0].FromPort != 6379 {
		t.Errorf("egress = %+v", g.IpPermissionsEgress)
	}
}

func TestRuleLimit(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	g := createGroup(t, s, ctx, "many", "")
	var perms []ec2api.IpPermission
	for i := range 60 {
		perms = append(perms, tcpFrom(int32(1000+i), "10.0.0.0/8"))
	}
	must[*ec2api.AuthorizeSecurityGroupIngressResult](t)(s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: perms}))
	_, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{tcpFrom(1, "10.0.0.0/8")}})
	wantCode(t, err, "RulesPerSecurityGroupLimitExceeded")
	// Egress counts separately: 59 more fit next to the default rule.
	perms = perms[:59]
	must[*ec2api.AuthorizeSecurityGroupEgressResult](t)(s.AuthorizeSecurityGroupEgress(ctx, &ec2api.AuthorizeSecurityGroupEgressRequest{GroupId: ptr(g), IpPermissions: perms}))
	_, err = s.AuthorizeSecurityGroupEgress(ctx, &ec2api.AuthorizeSecurityGroupEgressRequest{GroupId: ptr(g), IpPermissions: []ec2api.IpPermission{tcpFrom(1, "10.0.0.0/8")}})
	wantCode(t, err, "RulesPerSecurityGroupLimitExceeded")
}

func TestDescribePagination(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	for i := range 12 {
		createGroup(t, s, ctx, fmt.Sprintf("g%02d", i), "")
	}
	seen := map[string]bool{}
	var token *string
	pages := 0
	for {
		out := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{MaxResults: ptr(int32(5)), NextToken: token}))
		pages++
		for _, g := range out.SecurityGroups {
			if seen[*g.GroupId] {
				t.Fatalf("group %s returned twice", *g.GroupId)
			}
			seen[*g.GroupId] = true
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if len(seen) != 13 || pages != 3 {
		t.Errorf("paginated %d groups in %d pages, want 13 in 3", len(seen), pages)
	}
	_, err := s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{MaxResults: ptr(int32(2))})
	wantCode(t, err, "InvalidParameterValue")
	_, err = s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{NextToken: ptr("!!")})
	wantCode(t, err, "InvalidNextToken")
	_, err = s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{Filters: []ec2api.Filter{filter("nope", "x")}})
	wantCode(t, err, "InvalidParameterValue")
}

func TestGlobMatch(t *testing.T) {
	for _, tc := range []struct {
		p, v string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"a?c", "abc", true}, {"a?c", "ac", false}, {"*b*", "abc", true},
		{`a\*`, "a*", true}, {`a\*`, "ab", false}, {"a*c", "abcbc", true}, {"a*d", "abc", false}, {"", "", true},
		// ? is one character, however many bytes (found by FuzzFilters).
		{"w?rker", "wörker", true}, {"??", "é", false}, {"*ö?", "aöö€", true}, {"*ö?", "aö€€", false}, {`\ö`, "ö", true},
	} {
		if got := globMatch(tc.p, tc.v); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.p, tc.v, got, tc.want)
		}
	}
}
