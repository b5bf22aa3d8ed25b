package netplane

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Network ACLs in the router's table. They are kept apart from the
// security groups' chains: per subnet boundary one chain per direction
// (nacl-out-<subnet>, nacl-in-<subnet>), reached through two verdict maps
// keyed by interface link (nacl-out: source link; nacl-in: destination
// link) from the forward chain, before the conntrack shortcut, since ACLs
// are stateless and replies are checked too. A chain first returns a
// packet that stays in its subnet (AWS checks ACLs at the subnet
// boundary only), then has one rule per entry in rule-number order (allow:
// return to the forward chain; deny: drop), then drops (the "*" entry).
//
// A direction whose first IPv4-matching entry allows everything (the
// default ACL unmodified) decides nothing: its subnet gets no map element,
// so packets of VPCs that do not use ACLs cost no lookup beyond the map,
// and a router whose subnets all have such ACLs gets neither maps nor
// dispatch rules (its ruleset is what it was before ACLs existed).
//
// ACL chains are part of the table's Frame: an entry change replaces the
// table (order matters in an ACL chain, and the incremental path appends
// rules). ACLs change seldom; security-group changes keep their fast path.

// aclInfo is a valid ACL with its entries sorted by number.
type aclInfo struct {
	NetworkACL
	in, out []ACLEntry
}

// validACLs indexes the valid ACLs by subnet. An ACL of an unknown VPC, an
// association with an unknown subnet or one of another VPC, and a second
// ACL claiming a subnet are left out and reported.
func (p *planner) validACLs(in []NetworkACL, v *valid) map[string]*aclInfo {
	bySubnet := map[string]*aclInfo{}
	owner := map[string]string{}
	for _, a := range sortedBy(in, func(a NetworkACL) string { return a.ID }) {
		if err := validID("acl", a.ID); err != nil {
			p.problem("network acl: %v", err)
			continue
		}
		if _, ok := v.vpcs[a.VPC]; !ok {
			p.problem("network acl %s: unknown vpc %q", a.ID, a.VPC)
			continue
		}
		info := &aclInfo{NetworkACL: a, in: sortedEntries(a.Ingress), out: sortedEntries(a.Egress)}
		for _, sid := range a.Subnets {
			sn, ok := v.subnets[sid]
			switch {
			case !ok:
				p.problem("network acl %s: unknown subnet %q", a.ID, sid)
			case sn.VPC != a.VPC:
				p.problem("network acl %s: subnet %s is in %s, not %s", a.ID, sid, sn.VPC, a.VPC)
			case owner[sid] != "":
				p.problem("network acl %s: subnet %s is already associated with %s", a.ID, sid, owner[sid])
			default:
				owner[sid] = a.ID
				bySubnet[sid] = info
			}
		}
	}
	return bySubnet
}

func sortedEntries(es []ACLEntry) []ACLEntry {
	out := slices.Clone(es)
	slices.SortStableFunc(out, func(a, b ACLEntry) int { return cmp.Compare(a.Number, b.Number) })
	return out
}

// allowsAll reports whether the entries let every IPv4 packet through: the
// first entry that can match IPv4 allows every protocol from/to 0.0.0.0/0.
func allowsAll(es []ACLEntry) bool {
	for _, e := range es {
		if !e.CIDR.IsValid() || !e.CIDR.Addr().Is4() {
			if e.CIDR.IsValid() {
				continue // IPv6: never matches an IPv4 packet
			}
			return false
		}
		p := strings.ToLower(strings.TrimSpace(e.Protocol))
		return e.Allow && e.CIDR.Bits() == 0 && (p == "-1" || p == "all")
	}
	return false
}

// renderACLs writes the ACL maps and chains of the interfaces in local to
// body and returns the forward chain's dispatch rules ("" when no subnet
// of local has an ACL that decides anything).
func (p *planner) renderACLs(body *strings.Builder, local []*ifaceInfo) string {
	if len(p.acls) == 0 {
		return ""
	}
	links := map[string][]string{} // subnet -> its interfaces' links
	for _, in := range local {
		if p.acls[in.Subnet] != nil {
			links[in.Subnet] = append(links[in.Subnet], in.link)
		}
	}
	type dirInfo struct{ dir, field, what string }
	dirs := []dirInfo{{"out", "daddr", "egress"}, {"in", "saddr", "ingress"}}
	var chains strings.Builder
	elements := map[string][]string{}
	for _, sid := range sortedKeys(links) {
		a := p.acls[sid]
		ls := links[sid]
		slices.Sort(ls)
		quoted := make([]string, len(ls))
		for i, l := range ls {
			quoted[i] = strconv.Quote(l)
		}
		for _, d := range dirs {
			entries := a.in
			peerLink := "iifname"
			if d.dir == "out" {
				entries, peerLink = a.out, "oifname"
			}
			if allowsAll(entries) {
				continue
			}
			chain := "nacl-" + d.dir + "-" + sid
			for _, l := range ls {
				elements[d.dir] = append(elements[d.dir], fmt.Sprintf("%q : jump %s", l, chain))
			}
			fmt.Fprintf(&chains, "\n\t# %s %s: %s entries of %s\n\tchain %s {\n", sid, p.aclSubnetCIDR(sid), d.what, a.ID, chain)
			fmt.Fprintf(&chains, "\t\t%s { %s } return comment %q\n", peerLink, strings.Join(quoted, ", "), "within "+sid+": no ACL")
			for _, e := range entries {
				p.renderACLEntry(&chains, a.ID, d.what, d.field, e)
			}
			fmt.Fprintf(&chains, "\t\tdrop comment %q\n\t}\n", a.ID+" "+d.what+" * deny")
		}
	}
	if len(elements) == 0 {
		return ""
	}
	for _, d := range dirs {
		key := "source"
		if d.dir == "in" {
			key = "destination"
		}
		fmt.Fprintf(body, "\n\t# network ACLs: %s link -> %s chain of its subnet's ACL\n\tmap nacl-%s {\n\t\ttype ifname : verdict\n", key, d.what, d.dir)
		if el := elements[d.dir]; len(el) > 0 {
			fmt.Fprintf(body, "\t\telements = { %s }\n", strings.Join(el, ",\n\t\t\t     "))
		}
		body.WriteString("\t}\n")
	}
	body.WriteString(chains.String())
	return "\t\tiifname vmap @nacl-out\n\t\toifname vmap @nacl-in\n"
}

// aclSubnetCIDR is the subnet's CIDR for a comment.
func (p *planner) aclSubnetCIDR(sid string) string {
	if c, ok := p.aclSubnetCIDRs[sid]; ok {
		return c.String()
	}
	return ""
}

// renderACLEntry writes one entry. An entry that cannot be rendered is
// reported and, fail-closed, left out when it allows, or rendered as a
// drop of everything when it denies (a later allow must not admit what it
// would have denied).
func (p *planner) renderACLEntry(b *strings.Builder, acl, what, field string, e ACLEntry) {
	verdict := "return"
	action := "allow"
	if !e.Allow {
		verdict, action = "drop", "deny"
	}
	comment := strconv.Quote(fmt.Sprintf("%s %s %d %s", acl, what, e.Number, action))
	match, err := protoMatch(Rule{Protocol: e.Protocol, FromPort: e.FromPort, ToPort: e.ToPort})
	if err == nil && !e.CIDR.IsValid() {
		err = fmt.Errorf("invalid CIDR")
	}
	if err != nil {
		p.problem("network acl %s %s entry %d: %v", acl, what, e.Number, err)
		if !e.Allow {
			fmt.Fprintf(b, "\t\tdrop comment %s\n", comment)
		}
		return
	}
	family := "ip"
	if e.CIDR.Addr().Is6() {
		family = "ip6"
	}
	cidr := ""
	if e.CIDR.Bits() > 0 || family == "ip6" {
		cidr = family + " " + field + " " + e.CIDR.Masked().String() + " "
	} else {
		cidr = "meta nfproto ipv4 "
	}
	if match != "" {
		match += " "
	}
	fmt.Fprintf(b, "\t\t%s%s%s comment %s\n", cidr, match, verdict, comment)
}
