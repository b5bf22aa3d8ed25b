package ec2

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// ---- protocol and rule parsing ----

// normProtocol returns the protocol as AWS stores it: -1, tcp, udp, icmp,
// icmpv6 or a number 0..255.
func normProtocol(p string) (string, error) {
	switch strings.ToLower(p) {
	case "-1":
		return "-1", nil
	case "tcp", "6":
		return "tcp", nil
	case "udp", "17":
		return "udp", nil
	case "icmp", "1":
		return "icmp", nil
	case "icmpv6", "58":
		return "icmpv6", nil
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < -1 || n > 255 {
		return "", awserr.InvalidParameterValue("Invalid value '%s' for IP protocol. Unknown protocol.", p)
	}
	return strconv.Itoa(n), nil
}

// hasPorts reports whether rules of the protocol carry ports (or ICMP type/code).
func hasPorts(proto string) bool {
	return proto == "tcp" || proto == "udp" || proto == "icmp" || proto == "icmpv6"
}

func portsOf(proto string, from, to *int32) (int32, int32, error) {
	switch proto {
	case "tcp", "udp":
		if from == nil || to == nil {
			return 0, 0, awserr.InvalidParameterValue("Invalid value for portRange. Must specify both from and to ports with TCP/UDP.")
		}
		if *from < 0 || *from > 65535 || *to < 0 || *to > 65535 {
			return 0, 0, awserr.InvalidParameterValue("Invalid value for portRange. Ports must be between 0 and 65535.")
		}
		if *from > *to {
			return 0, 0, awserr.InvalidParameterValue("Invalid TCP/UDP port range: the from port (%d) is greater than the to port (%d).", *from, *to)
		}
		return *from, *to, nil
	case "icmp", "icmpv6":
		f, t := int32(-1), int32(-1)
		if from != nil {
			f = *from
		}
		if to != nil {
			t = *to
		}
		if f < -1 || f > 255 || t < -1 || t > 255 {
			return 0, 0, awserr.InvalidParameterValue("Invalid value for ICMP type or code: type %d, code %d.", f, t)
		}
		if f == -1 && t != -1 {
			return 0, 0, awserr.InvalidParameterValue("Invalid ICMP code %d for ICMP type -1: the code must be -1.", t)
		}
		return f, t, nil
	}
	return -1, -1, nil
}

func parseRuleCIDR(s string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4() == v6 || p.Masked() != p {
		return "", awserr.InvalidParameterValue("CIDR block %s is malformed", s)
	}
	return p.String(), nil
}

// ruleString describes a rule as AWS's duplicate / not-found messages do.
func ruleString(r *ruleRec) string {
	peer := r.CIDRv4 + r.CIDRv6 + r.PrefixList
	if r.Group != nil {
		peer = r.Group.GroupID
	}
	proto := strings.ToUpper(r.Protocol)
	if r.Protocol == "-1" {
		proto = "ALL"
	}
	return fmt.Sprintf("peer: %s, %s, from port: %d, to port: %d, ALLOW", peer, proto, r.FromPort, r.ToPort)
}

// permsFromLegacy turns the top-level CidrIp/IpProtocol/... parameters into
// an IpPermission, as AWS does.
func permsFromLegacy(perms []ec2api.IpPermission, cidr, proto *string, from, to *int32, srcName, srcOwner *string) ([]ec2api.IpPermission, error) {
	legacy := cidr != nil || proto != nil || from != nil || to != nil || srcName != nil || srcOwner != nil
	if !legacy {
		return perms, nil
	}
	if len(perms) > 0 {
		return nil, awserr.InvalidParameterCombination("The parameter 'ipPermissions' may not be used in combination with 'cidrIp', 'ipProtocol', 'fromPort', 'toPort' or 'sourceSecurityGroup*'.")
	}
	p := ec2api.IpPermission{IpProtocol: proto, FromPort: from, ToPort: to}
	if proto == nil {
		p.IpProtocol = ptr("-1")
	}
	if cidr != nil {
		p.IpRanges = []ec2api.IpRange{{CidrIp: cidr}}
	}
	if srcName != nil || srcOwner != nil {
		p.UserIdGroupPairs = []ec2api.UserIdGroupPair{{GroupName: srcName, UserId: srcOwner}}
		if proto == nil {
			p.FromPort, p.ToPort = nil, nil
		}
	}
	return []ec2api.IpPermission{p}, nil
}

// parsePerms validates IpPermissions for group g and returns one rule per
// peer. It resolves group references (other accounts' too) through t.
func (t *txn) parsePerms(st *scopeTx, g *groupRec, perms []ec2api.IpPermission, needIDs bool) ([]*ruleRec, error) {
	var out []*ruleRec
	for _, p := range perms {
		if p.IpProtocol == nil {
			return nil, awserr.InvalidParameterValue("Invalid value 'null' for IP protocol. Unknown protocol.")
		}
		proto, err := normProtocol(*p.IpProtocol)
		if err != nil {
			return nil, err
		}
		from, to, err := portsOf(proto, p.FromPort, p.ToPort)
		if err != nil {
			return nil, err
		}
		base := func() *ruleRec {
			r := &ruleRec{Protocol: proto, FromPort: from, ToPort: to}
			if needIDs {
				r.ID = newID("sgr-")
			}
			return r
		}
		n := 0
		for _, rg := range p.IpRanges {
			c, err := parseRuleCIDR(str(rg.CidrIp), false)
			if err != nil {
				return nil, err
			}
			r := base()
			r.CIDRv4, r.Description = c, str(rg.Description)
			out = append(out, r)
			n++
		}
		for _, rg := range p.Ipv6Ranges {
			c, err := parseRuleCIDR(str(rg.CidrIpv6), true)
			if err != nil {
				return nil, err
			}
			r := base()
			r.CIDRv6, r.Description = c, str(rg.Description)
			out = append(out, r)
			n++
		}
		for _, pl := range p.PrefixListIds {
			if !strings.HasPrefix(str(pl.PrefixListId), "pl-") {
				return nil, errInvalidPrefixListIdMalformed(str(pl.PrefixListId))
			}
			r := base()
			r.PrefixList, r.Description = str(pl.PrefixListId), str(pl.Description)
			out = append(out, r)
			n++
		}
		for _, pair := range p.UserIdGroupPairs {
			ref, err := t.resolveRef(st, g, pair)
			if err != nil {
				return nil, err
			}
			r := base()
			r.Group, r.Description = ref, str(pair.Description)
			out = append(out, r)
			n++
		}
		if n == 0 {
			return nil, awserr.InvalidParameterValue("The request must contain the parameter ipRanges, ipv6Ranges, prefixListIds or groups (user id / group pairs).")
		}
	}
	for _, r := range out {
		if len(r.Description) > 255 {
			return nil, awserr.InvalidParameterValue("Invalid rule description: longer than 255 characters.")
		}
	}
	return out, nil
}

// resolveRef resolves a UserIdGroupPair of a rule of group g.
func (t *txn) resolveRef(st *scopeTx, g *groupRec, pair ec2api.UserIdGroupPair) (*groupRef, error) {
	owner := str(pair.UserId)
	id := str(pair.GroupId)
	// "owner/sg-…" is accepted as the id of another account's group.
	if o, gid, ok := strings.Cut(id, "/"); ok {
		owner, id = o, gid
	}
	if owner == "" {
		owner = st.sc.Account
	}
	if id == "" && pair.GroupName == nil {
		return nil, awserr.InvalidParameterValue("A group id or group name must be given in each user id / group pair.")
	}
	target := st
	if owner != st.sc.Account {
		if !accountRe.MatchString(owner) {
			return nil, errInvalidUserIDMalformed(owner)
		}
		var err error
		target, err = t.scope(scope{Account: owner, Region: st.sc.Region})
		if err != nil {
			return nil, err
		}
	}
	var ref *groupRec
	if id != "" {
		r, err := lookup[*groupRec](target, "sg", id)
		if err != nil {
			return nil, err
		}
		ref = r
	} else {
		name := *pair.GroupName
		for _, o := range listT[*groupRec](target, "sg") {
			if o.Name == name && (o.VpcID == g.VpcID || owner != st.sc.Account) {
				ref = o
				break
			}
		}
		if ref == nil {
			return nil, errInvalidGroupNotFound("The security group '%s' does not exist", name)
		}
	}
	gr := &groupRef{Owner: owner, GroupID: ref.ID, VpcID: ref.VpcID}
	if ref.VpcID != g.VpcID {
		pcx := activePeering(st, g.VpcID, ref.VpcID)
		if pcx == nil {
			return nil, errInvalidGroupNotFound("You have specified two resources that belong to different networks.")
		}
		gr.PeeringID = pcx.ID
	}
	if owner == st.sc.Account {
		gr.GroupName = ref.Name
	}
	return gr, nil
}

// activePeering returns the active peering between two VPCs seen from st.
func activePeering(st *scopeTx, a, b string) *pcxRec {
	for _, p := range listT[*pcxRec](st, "pcx") {
		if p.Status == "active" && ((p.RequesterVpc == a && p.AccepterVpc == b) || (p.RequesterVpc == b && p.AccepterVpc == a)) {
			return p
		}
	}
	return nil
}

// ---- output ----

func sgARN(sc scope, id string) string {
	return "arn:aws:ec2:" + sc.Region + ":" + sc.Account + ":security-group/" + id
}

// ipPermissions aggregates rules into AWS's IpPermissions: one entry per
// (protocol, ports), in order of first appearance.
func ipPermissions(rules []*ruleRec) []ec2api.IpPermission {
	out := []ec2api.IpPermission{}
	idx := map[[3]string]int{}
	for _, r := range rules {
		k := [3]string{r.Protocol, itoa(r.FromPort), itoa(r.ToPort)}
		i, ok := idx[k]
		if !ok {
			p := ec2api.IpPermission{IpProtocol: ptr(r.Protocol), IpRanges: []ec2api.IpRange{}, Ipv6Ranges: []ec2api.Ipv6Range{},
				PrefixListIds: []ec2api.PrefixListId{}, UserIdGroupPairs: []ec2api.UserIdGroupPair{}}
			if hasPorts(r.Protocol) {
				p.FromPort, p.ToPort = ptr(r.FromPort), ptr(r.ToPort)
			}
			out = append(out, p)
			i = len(out) - 1
			idx[k] = i
		}
		p := &out[i]
		var desc *string
		if r.Description != "" {
			desc = ptr(r.Description)
		}
		switch {
		case r.CIDRv4 != "":
			p.IpRanges = append(p.IpRanges, ec2api.IpRange{CidrIp: ptr(r.CIDRv4), Description: desc})
		case r.CIDRv6 != "":
			p.Ipv6Ranges = append(p.Ipv6Ranges, ec2api.Ipv6Range{CidrIpv6: ptr(r.CIDRv6), Description: desc})
		case r.PrefixList != "":
			p.PrefixListIds = append(p.PrefixListIds, ec2api.PrefixListId{PrefixListId: ptr(r.PrefixList), Description: desc})
		case r.Group != nil:
			pair := ec2api.UserIdGroupPair{GroupId: ptr(r.Group.GroupID), UserId: ptr(r.Group.Owner), Description: desc}
			if r.Group.PeeringID != "" {
				pair.VpcId = ptr(r.Group.VpcID)
				pair.VpcPeeringConnectionId = ptr(r.Group.PeeringID)
				pair.PeeringStatus = ptr("active")
			}
			p.UserIdGroupPairs = append(p.UserIdGroupPairs, pair)
		}
	}
	return out
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

func ruleOut(sc scope, g *groupRec, r *ruleRec, egress bool) ec2api.SecurityGroupRule {
	out := ec2api.SecurityGroupRule{
		FromPort:             ptr(r.FromPort),
		ToPort:               ptr(r.ToPort),
		GroupId:              ptr(g.ID),
		GroupOwnerId:         ptr(g.Owner),
		IpProtocol:           ptr(r.Protocol),
		IsEgress:             ptr(egress),
		SecurityGroupRuleArn: ptr("arn:aws:ec2:" + sc.Region + ":" + sc.Account + ":security-group-rule/" + r.ID),
		SecurityGroupRuleId:  ptr(r.ID),
		Tags:                 tagList(r.Tags),
	}
	if out.Tags == nil {
		out.Tags = []ec2api.Tag{}
	}
	if r.Description != "" {
		out.Description = ptr(r.Description)
	}
	switch {
	case r.CIDRv4 != "":
		out.CidrIpv4 = ptr(r.CIDRv4)
	case r.CIDRv6 != "":
		out.CidrIpv6 = ptr(r.CIDRv6)
	case r.PrefixList != "":
		out.PrefixListId = ptr(r.PrefixList)
	case r.Group != nil:
		out.ReferencedGroupInfo = &ec2api.ReferencedSecurityGroup{GroupId: ptr(r.Group.GroupID), UserId: ptr(r.Group.Owner)}
		if r.Group.PeeringID != "" {
			out.ReferencedGroupInfo.VpcId = ptr(r.Group.VpcID)
			out.ReferencedGroupInfo.VpcPeeringConnectionId = ptr(r.Group.PeeringID)
			out.ReferencedGroupInfo.PeeringStatus = ptr("active")
		}
	}
	return out
}

// ---- group lookup ----

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

// ---- operations ----

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
