package ec2

// Security group rules as EC2 takes and gives them: the protocol and port
// normalisation AWS applies, IpPermissions parsed into rule records
// (CIDRs, prefix lists, group references across accounts and peerings),
// and rule records rendered back as IpPermissions and SecurityGroupRules.

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

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

// parseRuleCIDR parses a rule's CIDR and returns it canonical (AWS takes
// 10.0.0.5/16 as 10.0.0.0/16, so two rules equal once canonical are
// duplicates).
func parseRuleCIDR(s string, v6 bool) (string, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || p.Addr().Is4() == v6 {
		return "", awserr.InvalidParameterValue("CIDR block %s is malformed", s)
	}
	return p.Masked().String(), nil
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
			// The list must exist (the caller's or AWS's): the rule
			// admits its CIDRs (prefixlists.go).
			if _, err := findPrefixList(st, str(pl.PrefixListId)); err != nil {
				return nil, err
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
