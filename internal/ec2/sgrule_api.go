package ec2

// The rule operations of the security-group API: authorize and revoke
// (ingress and egress, legacy and IpPermissions forms), DescribeSecurityGroupRules,
// ModifySecurityGroupRules and the rule-description updates.

import (
	"context"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

type sgAuth struct {
	groupID, groupName *string
	perms              []ec2api.IpPermission
	tags               []ec2api.TagSpecification
	dry                *bool
}

func (s *Service) authorize(ctx context.Context, a sgAuth, egress bool) ([]ec2api.SecurityGroupRule, error) {
	if len(a.perms) == 0 {
		return nil, awserr.MissingParameter("IpPermissions")
	}
	tags, err := tagsFor(a.tags, "security-group-rule")
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	var out []ec2api.SecurityGroupRule
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		g, err := findGroup(st, a.groupID, a.groupName)
		if err != nil {
			return err
		}
		if egress && g.VpcID == "" {
			return awserr.InvalidParameterValue("Egress rules are not supported on EC2-Classic security groups.")
		}
		rules, err := t.parsePerms(st, g, a.perms, true)
		if err != nil {
			return err
		}
		existing := *g.rules(egress)
		for i, r := range rules {
			dup := slices.ContainsFunc(existing, r.sameTarget) ||
				slices.ContainsFunc(rules[:i], r.sameTarget)
			if dup {
				return errInvalidPermissionDuplicate(ruleString(r))
			}
			r.Tags = tags
		}
		if len(existing)+len(rules) > s.cfg.RulesPerGroup {
			return errRulesPerSecurityGroupLimitExceeded()
		}
		if err := dryRun(a.dry); err != nil {
			return err
		}
		g = mut[*groupRec](st, g.ID)
		rs := g.rules(egress)
		*rs = append(*rs, rules...)
		for _, r := range rules {
			out = append(out, ruleOut(sc, g, r, egress))
		}
		return nil
	})
	return out, err
}

// AuthorizeSecurityGroupIngress implements ec2api.Operations.
func (s *Service) AuthorizeSecurityGroupIngress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupIngressRequest) (*ec2api.AuthorizeSecurityGroupIngressResult, error) {
	perms, err := permsFromLegacy(in.IpPermissions, in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId)
	if err != nil {
		return nil, err
	}
	rules, err := s.authorize(ctx, sgAuth{in.GroupId, in.GroupName, perms, in.TagSpecifications, in.DryRun}, false)
	if err != nil {
		return nil, err
	}
	return &ec2api.AuthorizeSecurityGroupIngressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

// AuthorizeSecurityGroupEgress implements ec2api.Operations.
func (s *Service) AuthorizeSecurityGroupEgress(ctx context.Context, in *ec2api.AuthorizeSecurityGroupEgressRequest) (*ec2api.AuthorizeSecurityGroupEgressResult, error) {
	perms, err := permsFromLegacy(in.IpPermissions, in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId)
	if err != nil {
		return nil, err
	}
	rules, err := s.authorize(ctx, sgAuth{in.GroupId, nil, perms, in.TagSpecifications, in.DryRun}, true)
	if err != nil {
		return nil, err
	}
	return &ec2api.AuthorizeSecurityGroupEgressResult{Return: ptr(true), SecurityGroupRules: rules}, nil
}

type sgRevoke struct {
	groupID, groupName *string
	perms              []ec2api.IpPermission
	ruleIDs            []string
	dry                *bool
}

func (s *Service) revoke(ctx context.Context, a sgRevoke, egress bool) ([]ec2api.RevokedSecurityGroupRule, []ec2api.IpPermission, error) {
	if len(a.perms) == 0 && len(a.ruleIDs) == 0 {
		return nil, nil, awserr.MissingParameter("IpPermissions")
	}
	if len(a.perms) > 0 && len(a.ruleIDs) > 0 {
		return nil, nil, awserr.InvalidParameterCombination("The parameter 'SecurityGroupRuleIds' may not be used in combination with 'IpPermissions'.")
	}
	sc := scopeOf(ctx)
	var revoked []ec2api.RevokedSecurityGroupRule
	var unknown []ec2api.IpPermission
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		g, err := findGroup(st, a.groupID, a.groupName)
		if err != nil {
			return err
		}
		existing := *g.rules(egress)
		drop := map[string]bool{}
		if len(a.ruleIDs) > 0 {
			for _, id := range a.ruleIDs {
				if !slices.ContainsFunc(existing, func(r *ruleRec) bool { return r.ID == id }) {
					return errInvalidSecurityGroupRuleIdNotFound(id)
				}
				drop[id] = true
			}
		} else {
			for _, p := range a.perms {
				rules, err := t.parsePerms(st, g, []ec2api.IpPermission{p}, false)
				if err != nil {
					if awserr.HasCode(err, codeInvalidGroupNotFound) {
						unknown = append(unknown, p)
						continue
					}
					return err
				}
				for _, r := range rules {
					i := slices.IndexFunc(existing, r.sameTarget)
					if i < 0 {
						unknown = append(unknown, p)
						continue
					}
					drop[existing[i].ID] = true
				}
			}
			if len(drop) == 0 {
				return errInvalidPermissionNotFound("The specified rule does not exist in this security group.")
			}
		}
		if err := dryRun(a.dry); err != nil {
			return err
		}
		g = mut[*groupRec](st, g.ID)
		rs := g.rules(egress)
		var keep []*ruleRec
		for _, r := range *rs {
			if drop[r.ID] {
				o := ruleOut(sc, g, r, egress)
				rv := ec2api.RevokedSecurityGroupRule{CidrIpv4: o.CidrIpv4, CidrIpv6: o.CidrIpv6, Description: o.Description,
					FromPort: o.FromPort, ToPort: o.ToPort, GroupId: o.GroupId, IpProtocol: o.IpProtocol, IsEgress: o.IsEgress,
					PrefixListId: o.PrefixListId, SecurityGroupRuleId: o.SecurityGroupRuleId}
				if r.Group != nil {
					rv.ReferencedGroupId = ptr(r.Group.GroupID)
				}
				revoked = append(revoked, rv)
				continue
			}
			keep = append(keep, r)
		}
		*rs = keep
		return nil
	})
	return revoked, unknown, err
}

// RevokeSecurityGroupIngress implements ec2api.Operations.
func (s *Service) RevokeSecurityGroupIngress(ctx context.Context, in *ec2api.RevokeSecurityGroupIngressRequest) (*ec2api.RevokeSecurityGroupIngressResult, error) {
	perms, err := permsFromLegacy(in.IpPermissions, in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId)
	if err != nil {
		return nil, err
	}
	rv, unk, err := s.revoke(ctx, sgRevoke{in.GroupId, in.GroupName, perms, in.SecurityGroupRuleIds, in.DryRun}, false)
	if err != nil {
		return nil, err
	}
	return &ec2api.RevokeSecurityGroupIngressResult{Return: ptr(true), RevokedSecurityGroupRules: rv, UnknownIpPermissions: unk}, nil
}

// RevokeSecurityGroupEgress implements ec2api.Operations.
func (s *Service) RevokeSecurityGroupEgress(ctx context.Context, in *ec2api.RevokeSecurityGroupEgressRequest) (*ec2api.RevokeSecurityGroupEgressResult, error) {
	perms, err := permsFromLegacy(in.IpPermissions, in.CidrIp, in.IpProtocol, in.FromPort, in.ToPort, in.SourceSecurityGroupName, in.SourceSecurityGroupOwnerId)
	if err != nil {
		return nil, err
	}
	rv, unk, err := s.revoke(ctx, sgRevoke{in.GroupId, nil, perms, in.SecurityGroupRuleIds, in.DryRun}, true)
	if err != nil {
		return nil, err
	}
	return &ec2api.RevokeSecurityGroupEgressResult{Return: ptr(true), RevokedSecurityGroupRules: rv, UnknownIpPermissions: unk}, nil
}

type ruleView struct {
	g      *groupRec
	r      *ruleRec
	egress bool
}

func (v ruleView) id() string { return v.r.ID }

var ruleFilters = filterSet[ruleView]{
	fields: map[string]func(ruleView) []string{
		"group-id":               func(v ruleView) []string { return one(v.g.ID) },
		"security-group-rule-id": func(v ruleView) []string { return one(v.r.ID) },
		"is-egress":              func(v ruleView) []string { return boolStr(v.egress) },
		"ip-protocol":            func(v ruleView) []string { return one(v.r.Protocol) },
		"cidr":                   func(v ruleView) []string { return one(v.r.CIDRv4 + v.r.CIDRv6) },
		"from-port":              func(v ruleView) []string { return one(itoa(v.r.FromPort)) },
		"to-port":                func(v ruleView) []string { return one(itoa(v.r.ToPort)) },
		"referenced-group-id": func(v ruleView) []string {
			if v.r.Group == nil {
				return nil
			}
			return one(v.r.Group.GroupID)
		},
	},
	tags: func(v ruleView) map[string]string { return v.r.Tags },
}

// DescribeSecurityGroupRules implements ec2api.Operations.
func (s *Service) DescribeSecurityGroupRules(ctx context.Context, in *ec2api.DescribeSecurityGroupRulesRequest) (*ec2api.DescribeSecurityGroupRulesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.DescribeSecurityGroupRulesResult{SecurityGroupRules: []ec2api.SecurityGroupRule{}}
	err := s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		var items []ruleView
		want := map[string]bool{}
		for _, id := range in.SecurityGroupRuleIds {
			want[id] = true
		}
		// A group-id filter without wildcards narrows the scan to those groups.
		groups := listT[*groupRec](st, "sg")
		for _, f := range in.Filters {
			if str(f.Name) == "group-id" && !slices.ContainsFunc(f.Values, func(v string) bool { return strings.ContainsAny(v, "*?\\") }) {
				var sel []*groupRec
				for _, v := range f.Values {
					if g, ok := getT[*groupRec](st, v); ok {
						sel = append(sel, g)
					}
				}
				groups = sel
			}
		}
		for _, g := range groups {
			for _, r := range g.Ingress {
				if len(want) == 0 || want[r.ID] {
					items = append(items, ruleView{g, r, false})
				}
			}
			for _, r := range g.Egress {
				if len(want) == 0 || want[r.ID] {
					items = append(items, ruleView{g, r, true})
				}
			}
		}
		if len(want) > 0 && len(items) != len(want) {
			for id := range want {
				if !slices.ContainsFunc(items, func(v ruleView) bool { return v.r.ID == id }) {
					return errInvalidSecurityGroupRuleIdNotFound(id)
				}
			}
		}
		slices.SortFunc(items, func(a, b ruleView) int { return strings.Compare(a.r.ID, b.r.ID) })
		items, err := filterItems(ruleFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, ruleView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.SecurityGroupRules = append(out.SecurityGroupRules, ruleOut(sc, v.g, v.r, v.egress))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// ModifySecurityGroupRules implements ec2api.Operations.
func (s *Service) ModifySecurityGroupRules(ctx context.Context, in *ec2api.ModifySecurityGroupRulesRequest) (*ec2api.ModifySecurityGroupRulesResult, error) {
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		g, err := lookup[*groupRec](st, "sg", str(in.GroupId))
		if err != nil {
			return err
		}
		g = mut[*groupRec](st, g.ID)
		for _, u := range in.SecurityGroupRules {
			id := str(u.SecurityGroupRuleId)
			egress := false
			i := slices.IndexFunc(g.Ingress, func(r *ruleRec) bool { return r.ID == id })
			if i < 0 {
				egress = true
				i = slices.IndexFunc(g.Egress, func(r *ruleRec) bool { return r.ID == id })
			}
			if i < 0 {
				return errInvalidSecurityGroupRuleIdNotFound(id)
			}
			if u.SecurityGroupRule == nil {
				return awserr.MissingParameter("SecurityGroupRule")
			}
			q := u.SecurityGroupRule
			p := ec2api.IpPermission{IpProtocol: q.IpProtocol, FromPort: q.FromPort, ToPort: q.ToPort}
			switch {
			case q.CidrIpv4 != nil:
				p.IpRanges = []ec2api.IpRange{{CidrIp: q.CidrIpv4, Description: q.Description}}
			case q.CidrIpv6 != nil:
				p.Ipv6Ranges = []ec2api.Ipv6Range{{CidrIpv6: q.CidrIpv6, Description: q.Description}}
			case q.PrefixListId != nil:
				p.PrefixListIds = []ec2api.PrefixListId{{PrefixListId: q.PrefixListId, Description: q.Description}}
			case q.ReferencedGroupId != nil:
				p.UserIdGroupPairs = []ec2api.UserIdGroupPair{{GroupId: q.ReferencedGroupId, Description: q.Description}}
			}
			rules, err := t.parsePerms(st, g, []ec2api.IpPermission{p}, false)
			if err != nil {
				return err
			}
			nr := rules[0]
			rs := g.rules(egress)
			old := (*rs)[i]
			nr.ID, nr.Tags = old.ID, old.Tags
			for j, o := range *rs {
				if j != i && o.sameTarget(nr) {
					return errInvalidPermissionDuplicate(ruleString(nr))
				}
			}
			(*rs)[i] = nr
		}
		return dryRun(in.DryRun)
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifySecurityGroupRulesResult{Return: ptr(true)}, nil
}

func (s *Service) updateDescriptions(ctx context.Context, id, name *string, perms []ec2api.IpPermission, descs []ec2api.SecurityGroupRuleDescription, dry *bool, egress bool) error {
	if len(perms) == 0 && len(descs) == 0 {
		return awserr.MissingParameter("IpPermissions")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		g, err := findGroup(st, id, name)
		if err != nil {
			return err
		}
		g = mut[*groupRec](st, g.ID)
		rs := *g.rules(egress)
		for _, d := range descs {
			i := slices.IndexFunc(rs, func(r *ruleRec) bool { return r.ID == str(d.SecurityGroupRuleId) })
			if i < 0 {
				return errInvalidSecurityGroupRuleIdNotFound(str(d.SecurityGroupRuleId))
			}
			rs[i].Description = str(d.Description)
		}
		if len(perms) > 0 {
			rules, err := t.parsePerms(st, g, perms, false)
			if err != nil {
				return err
			}
			for _, r := range rules {
				i := slices.IndexFunc(rs, r.sameTarget)
				if i < 0 {
					return errInvalidPermissionNotFound("The specified rule \"%s\" does not exist in this security group.", ruleString(r))
				}
				rs[i].Description = r.Description
			}
		}
		return dryRun(dry)
	})
}

// UpdateSecurityGroupRuleDescriptionsIngress implements ec2api.Operations.
func (s *Service) UpdateSecurityGroupRuleDescriptionsIngress(ctx context.Context, in *ec2api.UpdateSecurityGroupRuleDescriptionsIngressRequest) (*ec2api.UpdateSecurityGroupRuleDescriptionsIngressResult, error) {
	if err := s.updateDescriptions(ctx, in.GroupId, in.GroupName, in.IpPermissions, in.SecurityGroupRuleDescriptions, in.DryRun, false); err != nil {
		return nil, err
	}
	return &ec2api.UpdateSecurityGroupRuleDescriptionsIngressResult{Return: ptr(true)}, nil
}

// UpdateSecurityGroupRuleDescriptionsEgress implements ec2api.Operations.
func (s *Service) UpdateSecurityGroupRuleDescriptionsEgress(ctx context.Context, in *ec2api.UpdateSecurityGroupRuleDescriptionsEgressRequest) (*ec2api.UpdateSecurityGroupRuleDescriptionsEgressResult, error) {
	if err := s.updateDescriptions(ctx, in.GroupId, in.GroupName, in.IpPermissions, in.SecurityGroupRuleDescriptions, in.DryRun, true); err != nil {
		return nil, err
	}
	return &ec2api.UpdateSecurityGroupRuleDescriptionsEgressResult{Return: ptr(true)}, nil
}
