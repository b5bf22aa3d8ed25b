package ec2

// Security groups themselves: create, delete, describe and look up. Their
// rules are in sgrule.go (parsing and rendering) and sgrule_api.go (the rule
// operations).

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

func sgARN(sc scope, id string) string {
	return "arn:aws:ec2:" + sc.Region + ":" + sc.Account + ":security-group/" + id
}

func groupOut(sc scope, g *groupRec) ec2api.SecurityGroup {
	out := ec2api.SecurityGroup{
		Description:         ptr(g.Description),
		GroupId:             ptr(g.ID),
		GroupName:           ptr(g.Name),
		IpPermissions:       ipPermissions(g.Ingress),
		IpPermissionsEgress: ipPermissions(g.Egress),
		OwnerId:             ptr(g.Owner),
		SecurityGroupArn:    ptr(sgARN(sc, g.ID)),
		Tags:                tagList(g.Tags),
	}
	if g.VpcID != "" {
		out.VpcId = ptr(g.VpcID)
	}
	return out
}

// findGroup resolves a GroupId or (default VPC / EC2-Classic) GroupName.
func findGroup(st *scopeTx, id, name *string) (*groupRec, error) {
	if id != nil && *id != "" {
		return lookup[*groupRec](st, "sg", *id)
	}
	if name == nil || *name == "" {
		return nil, awserr.MissingParameter("GroupId")
	}
	vpc := st.meta.DefaultVpcID
	for _, g := range listT[*groupRec](st, "sg") {
		if g.Name == *name && g.VpcID == vpc {
			return g, nil
		}
	}
	if vpc == "" {
		return nil, errInvalidGroupNotFound("The security group '%s' does not exist", *name)
	}
	return nil, errInvalidGroupNotFound("The security group '%s' does not exist in default VPC '%s'", *name, vpc)
}

// CreateSecurityGroup implements ec2api.Operations.
func (s *Service) CreateSecurityGroup(ctx context.Context, in *ec2api.CreateSecurityGroupRequest) (*ec2api.CreateSecurityGroupResult, error) {
	name, desc := str(in.GroupName), str(in.Description)
	switch {
	case name == "":
		return nil, awserr.MissingParameter("GroupName")
	case len(name) > 255:
		return nil, awserr.InvalidParameterValue("Invalid value '%s' for groupName. Length exceeds maximum of 255.", name)
	case strings.HasPrefix(strings.ToLower(name), "sg-"):
		return nil, awserr.InvalidParameterValue("Group names may not be in the format sg-*.")
	case desc == "":
		return nil, awserr.MissingParameter("GroupDescription")
	case len(desc) > 255:
		return nil, awserr.InvalidParameterValue("Invalid value for groupDescription. Length exceeds maximum of 255.")
	}
	if name == "default" {
		return nil, errInvalidGroupReserved()
	}
	tags, err := tagsFor(in.TagSpecifications, "security-group")
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.CreateSecurityGroupResult{}
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		vpc := str(in.VpcId)
		classic := false
		if vpc == "" {
			vpc = st.meta.DefaultVpcID
			if _, ok := st.get(vpc).(*vpcRec); !ok {
				if !st.meta.Classic {
					return errVPCIdNotSpecified()
				}
				vpc, classic = "", true
			}
		} else if _, err := lookup[*vpcRec](st, "vpc", vpc); err != nil {
			return err
		}
		n := 0
		for _, g := range listT[*groupRec](st, "sg") {
			if g.VpcID != vpc {
				continue
			}
			n++
			if g.Name == name {
				if classic {
					return errInvalidGroupDuplicate("The security group '%s' already exists", name)
				}
				return errInvalidGroupDuplicate("The security group '%s' already exists for VPC '%s'", name, vpc)
			}
		}
		if n >= s.cfg.MaxGroupsPerVPC {
			return errSecurityGroupLimitExceeded()
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		g := &groupRec{ID: newID("sg-"), Owner: sc.Account, VpcID: vpc, Name: name, Description: desc}
		g.Tags = tags
		if !classic {
			g.Egress = []*ruleRec{allowAllEgress()}
		}
		st.put(g)
		out.GroupId = ptr(g.ID)
		out.SecurityGroupArn = ptr(sgARN(sc, g.ID))
		out.Tags = tagList(tags)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteSecurityGroup implements ec2api.Operations.
func (s *Service) DeleteSecurityGroup(ctx context.Context, in *ec2api.DeleteSecurityGroupRequest) (*ec2api.DeleteSecurityGroupResult, error) {
	sc := scopeOf(ctx)
	var id string
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		g, err := findGroup(st, in.GroupId, in.GroupName)
		if err != nil {
			return err
		}
		id = g.ID
		if g.Name == "default" {
			return errCannotDelete(g.ID)
		}
		for _, e := range listT[*eniRec](st, "eni") {
			if slices.Contains(e.Groups, g.ID) {
				return errDependencyViolation("resource %s has a dependent object", g.ID)
			}
		}
		for _, e := range listT[*vpceRec](st, "vpce") {
			if slices.Contains(e.Groups, g.ID) { // an interface endpoint's (vpcendpoints.go)
				return errDependencyViolation("resource %s has a dependent object", g.ID)
			}
		}
		// Rules of any group of any account in the region may reference it.
		others, err := t.regionScopes(sc.Region)
		if err != nil {
			return err
		}
		for _, o := range others {
			for _, og := range listT[*groupRec](o, "sg") {
				if og.ID == g.ID {
					continue
				}
				for _, r := range append(slices.Clip(og.Ingress), og.Egress...) {
					if r.Group != nil && r.Group.GroupID == g.ID {
						return errDependencyViolation("resource %s has a dependent object", g.ID)
					}
				}
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(g.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteSecurityGroupResult{GroupId: ptr(id), Return: ptr(true)}, nil
}

// regionScopes returns every existing scope of the region.
func (t *txn) regionScopes(region string) ([]*scopeTx, error) {
	var out []*scopeTx
	err := t.tx.Scan(scopeIndexPrefix, func(key string, _ []byte) error {
		acct, rg, ok := strings.Cut(key[len(scopeIndexPrefix):], "/")
		if !ok || rg != region {
			return nil
		}
		st, err := t.scope(scope{Account: acct, Region: rg})
		if err != nil {
			return err
		}
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list ec2 scopes: %w", err)
	}
	// The caller's own scope may not be indexed yet (first transaction).
	for sc, st := range t.scopes {
		if sc.Region == region && !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

func ruleFilterFns(rules func(*groupRec) []*ruleRec) map[string]func(*groupRec) []string {
	collect := func(f func(*ruleRec) string) func(*groupRec) []string {
		return func(g *groupRec) []string {
			var out []string
			for _, r := range rules(g) {
				if v := f(r); v != "" {
					out = append(out, v)
				}
			}
			return out
		}
	}
	return map[string]func(*groupRec) []string{
		"cidr":           collect(func(r *ruleRec) string { return r.CIDRv4 }),
		"ipv6-cidr":      collect(func(r *ruleRec) string { return r.CIDRv6 }),
		"prefix-list-id": collect(func(r *ruleRec) string { return r.PrefixList }),
		"protocol":       collect(func(r *ruleRec) string { return r.Protocol }),
		"from-port":      collect(func(r *ruleRec) string { return itoa(r.FromPort) }),
		"to-port":        collect(func(r *ruleRec) string { return itoa(r.ToPort) }),
		"group-id": collect(func(r *ruleRec) string {
			if r.Group == nil {
				return ""
			}
			return r.Group.GroupID
		}),
		"group-name": collect(func(r *ruleRec) string {
			if r.Group == nil {
				return ""
			}
			return r.Group.GroupName
		}),
		"user-id": collect(func(r *ruleRec) string {
			if r.Group == nil {
				return ""
			}
			return r.Group.Owner
		}),
	}
}

var groupFilters = func() filterSet[*groupRec] {
	fs := filterSet[*groupRec]{
		fields: map[string]func(*groupRec) []string{
			"description": func(g *groupRec) []string { return one(g.Description) },
			"group-id":    func(g *groupRec) []string { return one(g.ID) },
			"group-name":  func(g *groupRec) []string { return one(g.Name) },
			"owner-id":    func(g *groupRec) []string { return one(g.Owner) },
			"vpc-id":      func(g *groupRec) []string { return one(g.VpcID) },
		},
		tags: func(g *groupRec) map[string]string { return g.Tags },
	}
	for k, f := range ruleFilterFns(func(g *groupRec) []*ruleRec { return g.Ingress }) {
		fs.fields["ip-permission."+k] = f
	}
	for k, f := range ruleFilterFns(func(g *groupRec) []*ruleRec { return g.Egress }) {
		fs.fields["egress.ip-permission."+k] = f
	}
	return fs
}()

// DescribeSecurityGroups implements ec2api.Operations.
func (s *Service) DescribeSecurityGroups(ctx context.Context, in *ec2api.DescribeSecurityGroupsRequest) (*ec2api.DescribeSecurityGroupsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.DescribeSecurityGroupsResult{SecurityGroups: []ec2api.SecurityGroup{}}
	err := s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		all := listT[*groupRec](st, "sg")
		for _, id := range in.GroupIds {
			if _, err := lookup[*groupRec](st, "sg", id); err != nil {
				return err
			}
		}
		items, _ := selectIDs(all, in.GroupIds)
		if len(in.GroupNames) > 0 {
			var sel []*groupRec
			for _, n := range in.GroupNames {
				g, err := findGroup(st, nil, &n)
				if err != nil {
					return err
				}
				if len(in.GroupIds) == 0 || slices.Contains(items, g) {
					sel = append(sel, g)
				}
			}
			slices.SortFunc(sel, func(a, b *groupRec) int { return strings.Compare(a.ID, b.ID) })
			items = slices.Compact(sel)
		}
		if err := malformedGroupFilter(in.Filters); err != nil {
			return err
		}
		items = narrow(st, "sg", groupFilters, in.Filters, items, func(g *groupRec) *groupRec { return g })
		items, err := filterItems(groupFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*groupRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		out.SecurityGroups = make([]ec2api.SecurityGroup, 0, len(page))
		for _, g := range page {
			out.SecurityGroups = append(out.SecurityGroups, st.groupOut(g))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// groupOut converts g, memoised per snapshot (records are immutable).
func (st *scopeTx) groupOut(g *groupRec) ec2api.SecurityGroup {
	if st.owned {
		return groupOut(st.sc, g)
	}
	if v, ok := st.base.memo.Load(g); ok {
		return v.(ec2api.SecurityGroup)
	}
	o := groupOut(st.sc, g)
	st.base.memo.Store(g, o)
	return o
}

// malformedGroupFilter answers InvalidGroupId.Malformed for a group-id
// filter value that cannot be a group id (no wildcard), as AWS does.
func malformedGroupFilter(filters []ec2api.Filter) error {
	for _, f := range filters {
		if str(f.Name) != "group-id" {
			continue
		}
		for _, v := range f.Values {
			if !strings.ContainsAny(v, "*?\\") && !wellFormed(v, "sg-") {
				return errInvalidGroupIdMalformed(v)
			}
		}
	}
	return nil
}
