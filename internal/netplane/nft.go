package netplane

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// render builds the nft table of the router of v: the enforcement point of
// the interfaces in local. members maps a group id to the addresses of its
// members visible from v (its own and its peers'). igw is v's internet
// gateway, or nil; hl its link to the host, or nil. dns are the addresses of
// v's DNS server, none when it has none. The text is assembled in the order
// an admin reads it: head, group sets, maps and the router's chains, then one
// ingress and one egress chain per interface.
func (p *planner) render(v VPC, local []*ifaceInfo, groups map[string]SecurityGroup, members map[string][]netip.Addr, peerLinks []string, peerRoutes map[string][]routePair, igw *igwInfo, hl *hostLink, dns []netip.Addr) *Ruleset {
	rs := &Ruleset{Table: p.prefix}
	// Chains first, so that we know which sets they reference.
	chains, referenced := p.renderInterfaceChains(rs, local, groups)
	for _, g := range sortedKeys(referenced) {
		addrs := slices.Clone(members[g])
		slices.SortFunc(addrs, netip.Addr.Compare)
		rs.Sets = append(rs.Sets, Set{Name: g, Elements: slices.Compact(addrs)})
	}
	head := p.renderHead(v)
	var body strings.Builder
	renderMaps(&body, local)
	renderInput(&body, local, dns)
	var routeRules strings.Builder
	renderPeeringRoutes(&body, &routeRules, peerRoutes)
	if igw != nil {
		renderGateway(&body, &routeRules, igw, local)
	}
	var hostLast string
	if hl != nil {
		var first string
		first, hostLast = renderHostLink(&body, hl)
		routeRules.WriteString(first)
	}
	routeRules.WriteString(p.renderACLs(&body, local))
	renderForward(&body, routeRules.String(), hostLast, peerLinks, igw)
	if igw != nil {
		renderGatewayNAT(&body, igw)
	}
	var frame strings.Builder // not +=: quadratic with a thousand chains
	frame.WriteString(head + renderSets(rs.Sets, false) + body.String())
	for _, c := range rs.Chains {
		frame.WriteString("\n\tchain " + c.Name + " {}")
	}
	rs.Frame = frame.String() + "}\n"
	body.WriteString(chains)
	body.WriteString("}\n")

	rs.Text = head + renderSets(rs.Sets, true) + body.String()
	rs.Skeleton = head + renderSets(rs.Sets, false) + body.String()
	return rs
}

// renderInterfaceChains writes the ingress and egress chains of every
// interface in local: the rules of its groups, then a final drop. It
// returns the text and the group sets the rules reference, and appends the
// chains with their rules to rs.Chains.
func (p *planner) renderInterfaceChains(rs *Ruleset, local []*ifaceInfo, groups map[string]SecurityGroup) (string, map[string]bool) {
	referenced := map[string]bool{}
	var chains strings.Builder
	for _, in := range local {
		for _, dir := range []string{"in", "out"} {
			start := chains.Len()
			fmt.Fprintf(&chains, "\n\tchain %s-%s {\n", dir, in.ID)
			label := clean(strings.TrimSpace(in.Kind + " " + in.Owner))
			if label != "" {
				label = " " + label
			}
			// No group list here: membership changes must touch set elements only.
			fmt.Fprintf(&chains, "\t\t# %s %s%s\n", in.ID, in.PrivateIP, label)
			if dir == "out" && !in.DisableSourceDestCheck {
				fmt.Fprintf(&chains, "\t\tip saddr != %s drop comment %q\n", in.PrivateIP, in.ID+" source/destination check")
				fmt.Fprintf(&chains, "\t\tmeta nfproto ipv6 drop comment %q\n", in.ID+" has no IPv6 address")
			}
			for _, gid := range in.groups {
				p.renderGroupRules(&chains, gid, groups[gid], dir, referenced)
			}
			what := "ingress"
			if dir == "out" {
				what = "egress"
			}
			fmt.Fprintf(&chains, "\t\tdrop comment %q\n\t}\n", in.ID+" no "+what+" rule matched")
			rs.Chains = append(rs.Chains, Chain{Name: dir + "-" + in.ID, Rules: chainRules(chains.String()[start:])})
		}
	}
	return chains.String(), referenced
}

// chainRules returns the rules of one rendered chain: its lines but the
// first (chain … {), the last (}) and comment lines.
func chainRules(text string) []string {
	lines := strings.Split(strings.TrimSpace(text), "\n")
	var rules []string
	for _, l := range lines[1 : len(lines)-1] {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			rules = append(rules, l)
		}
	}
	return rules
}

// renderGroupRules writes the rules of group g for direction dir ("in":
// ingress, "out": egress) in rule-id order, noting the sets they reference.
func (p *planner) renderGroupRules(b *strings.Builder, gid string, g SecurityGroup, dir string, referenced map[string]bool) {
	key := [2]string{gid, dir}
	r, ok := p.groupRules[key]
	if !ok {
		r = p.renderGroupRulesOnce(gid, g, dir)
		if p.groupRules == nil {
			p.groupRules = map[[2]string]renderedRules{}
		}
		p.groupRules[key] = r
	}
	b.WriteString(r.text)
	for _, ref := range r.refs {
		referenced[ref] = true
	}
	p.problems = append(p.problems, r.problems...)
}

func (p *planner) renderGroupRulesOnce(gid string, g SecurityGroup, dir string) renderedRules {
	var out renderedRules
	var b strings.Builder
	rules := g.Ingress
	if dir == "out" {
		rules = g.Egress
	}
	for _, r := range sortedBy(rules, func(r Rule) string { return r.ID }) {
		lines, refs, err := ruleLines(r, dir)
		if err != nil {
			out.problems = append(out.problems, fmt.Errorf("netplane: %w: %w", ErrInvalid,
				fmt.Errorf("security group %s rule %s: %w (rule left out)", gid, r.ID, err)))
			continue
		}
		out.refs = append(out.refs, refs...)
		comment := `"` + clean(strings.TrimSpace(r.ID+" "+gid)) + `"`
		for _, l := range lines {
			b.WriteString("\t\t")
			b.WriteString(l)
			b.WriteString(" comment ")
			b.WriteString(comment)
			b.WriteString("\n")
		}
	}
	out.text = b.String()
	return out
}

// renderHead is the comment header and the opening of the table.
func (p *planner) renderHead(v VPC) string {
	var head strings.Builder
	cidrs := make([]string, len(v.CIDRs))
	for i, c := range v.CIDRs {
		cidrs[i] = c.String()
	}
	fmt.Fprintf(&head, "# Cachalot network plane %s: enforcement point of %s (%s).\n", p.prefix, v.ID, strings.Join(cidrs, ", "))
	fmt.Fprintf(&head, "# Generated from the security groups; Apply replaces it atomically.\n")
	fmt.Fprintf(&head, "table inet %s {\n", p.prefix)
	fmt.Fprintf(&head, "\tcomment %q\n", "cachalot "+v.ID)
	return head.String()
}

// renderSets declares the group sets, with their elements or (for the
// skeleton) without.
func renderSets(sets []Set, withElements bool) string {
	var b strings.Builder
	for _, s := range sets {
		fmt.Fprintf(&b, "\n\tset %s {\n\t\ttype ipv4_addr\n\t\tcomment %q\n", s.Name, "members of "+s.Name)
		if withElements && len(s.Elements) > 0 {
			el := make([]string, len(s.Elements))
			for i, a := range s.Elements {
				el[i] = a.String()
			}
			fmt.Fprintf(&b, "\t\telements = { %s }\n", strings.Join(el, ", "))
		}
		b.WriteString("\t}\n")
	}
	return b.String()
}

// renderMaps writes the verdict maps from a link to its interface's chains.
func renderMaps(body *strings.Builder, local []*ifaceInfo) {
	for _, m := range []struct{ name, dir, what string }{
		{"egress", "out", "source link -> egress chain of its interface"},
		{"ingress", "in", "destination link -> ingress chain of its interface"},
	} {
		fmt.Fprintf(body, "\n\t# %s\n\tmap %s {\n\t\ttype ifname : verdict\n", m.what, m.name)
		if len(local) > 0 {
			el := make([]string, len(local))
			for i, in := range local {
				el[i] = fmt.Sprintf("%q : jump %s-%s", in.link, m.dir, in.ID)
			}
			fmt.Fprintf(body, "\t\telements = { %s }\n", strings.Join(el, ",\n\t\t\t     "))
		}
		body.WriteString("\t}\n")
	}
}

// dnsClientsSet names the set of (link, address) pairs allowed to query
// the VPC's DNS server.
const dnsClientsSet = "dns-clients"

// renderInput writes the router's input chain. The router offers one
// service, the VPC's Amazon-provided DNS server when dns holds its
// addresses: DNS queries to them from the VPC's interfaces, each from its
// own link and address, security groups aside (as on AWS). Everything else
// addressed to the router is dropped.
func renderInput(body *strings.Builder, local []*ifaceInfo, dns []netip.Addr) {
	if len(dns) == 0 || len(local) == 0 {
		body.WriteString("\n\t# The router itself offers no service.\n")
		body.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t}\n")
		return
	}
	clients := make([]string, len(local))
	for i, in := range local {
		clients[i] = fmt.Sprintf("%q . %s", in.link, in.PrivateIP)
	}
	servers := make([]string, len(dns))
	for i, a := range dns {
		servers[i] = a.String()
	}
	body.WriteString("\n\t# The router offers one service: the Amazon-provided DNS server, to the\n")
	body.WriteString("\t# VPC's interfaces (from their own link and address); security groups do not apply.\n")
	// A named set, not an anonymous one in the rule: an interface that
	// comes or goes changes its elements only (see incrementalChange).
	fmt.Fprintf(body, "\tset %s {\n\t\ttype ifname . ipv4_addr\n\t\tcomment %q\n\t\telements = { %s }\n\t}\n",
		dnsClientsSet, "link and address of each interface", strings.Join(clients, ",\n\t\t\t     "))
	body.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n")
	fmt.Fprintf(body, "\t\tiifname . ip saddr @%s ip daddr { %s } meta l4proto { tcp, udp } th dport 53 accept comment %q\n",
		dnsClientsSet, strings.Join(servers, ", "), "Amazon-provided DNS server")
	body.WriteString("\t}\n")
}

// renderPeeringRoutes writes the per-subnet peering route sets to body and
// the forward-chain rules checking them to routeRules: what may leave
// through each peering link, checked before the conntrack shortcut so that
// replies obey them too.
func renderPeeringRoutes(body, routeRules *strings.Builder, peerRoutes map[string][]routePair) {
	for _, link := range sortedKeys(peerRoutes) {
		pairs := peerRoutes[link]
		if len(pairs) == 0 {
			fmt.Fprintf(routeRules, "\t\toifname %q drop comment %q\n", link, "no subnet routes to this peering")
			continue
		}
		set := "routes-" + link
		el := make([]string, len(pairs))
		for i, rp := range pairs {
			el[i] = rp.src.String() + " . " + rp.dst.String()
		}
		fmt.Fprintf(body, "\n\t# (source subnet, destination) pairs the route tables send over %s\n", link)
		fmt.Fprintf(body, "\tset %s {\n\t\ttype ipv4_addr . ipv4_addr\n\t\tflags interval\n\t\telements = { %s }\n\t}\n", set, strings.Join(el, ",\n\t\t\t     "))
		fmt.Fprintf(routeRules, "\t\toifname %q ip saddr . ip daddr != @%s drop comment %q\n", link, set, "no route from the source subnet")
	}
}

// renderForward writes the router's forward chain: route checks, the
// conntrack shortcut, the per-interface verdict maps, the host link's
// guards, then peerings and the internet gateway.
func renderForward(body *strings.Builder, routeRules, hostRules string, peerLinks []string, igw *igwInfo) {
	body.WriteString("\n\tchain forward {\n\t\ttype filter hook forward priority filter; policy drop;\n")
	body.WriteString(routeRules)
	body.WriteString("\t\tct state established,related accept\n")
	body.WriteString("\t\tct state invalid drop\n")
	body.WriteString("\t\tiifname vmap @egress\n")
	body.WriteString("\t\toifname vmap @ingress\n")
	body.WriteString(hostRules)
	if len(peerLinks) > 0 {
		names := make([]string, len(peerLinks))
		for i, l := range peerLinks {
			names[i] = strconv.Quote(l)
		}
		set := "{ " + strings.Join(names, ", ") + " }"
		fmt.Fprintf(body, "\t\tiifname %s drop comment %q\n", set, "no transit between peerings")
		fmt.Fprintf(body, "\t\toifname %s accept comment %q\n", set, "to a peered VPC: egress passed, its router checks ingress")
	}
	if igw != nil {
		fmt.Fprintf(body, "\t\toifname %q accept comment %q\n", igw.link, "to the internet: egress passed")
	}
	body.WriteString("\t}\n")
}

// renderGatewayNAT writes the internet gateway's one-to-one NAT chains.
func renderGatewayNAT(body *strings.Builder, igw *igwInfo) {
	fmt.Fprintf(body, "\n\t# %s does the one-to-one NAT of the Elastic IPs.\n", igw.ID)
	fmt.Fprintf(body, "\tchain igw-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	fmt.Fprintf(body, "\t\tiifname %q dnat ip to ip daddr map @eip-dnat comment %q\n\t}\n", igw.link, "Elastic IP to private address")
	fmt.Fprintf(body, "\tchain igw-postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	renderNATSNAT(body, igw)
	fmt.Fprintf(body, "\t\toifname %q snat ip to ip saddr map @eip-snat comment %q\n\t}\n", igw.link, "private address to Elastic IP")
}

// renderGateway writes the maps and the set of the internet gateway igw of
// the interfaces in local to body, and its route check to routeRules: a
// packet may leave through the gateway only from an interface with an
// Elastic IP whose subnet routes the destination to the gateway (replies
// included, as the check comes before the conntrack shortcut); anything
// else, such as a packet from the internet that no Elastic IP matched, is
// dropped.
func renderGateway(body, routeRules *strings.Builder, igw *igwInfo, local []*ifaceInfo) {
	var dnat, snat []string
	var pairs []routePair
	for _, in := range local { // sorted by id
		if !in.PublicIP.IsValid() {
			continue
		}
		dnat = append(dnat, in.PublicIP.String()+" : "+in.PrivateIP.String())
		snat = append(snat, in.PrivateIP.String()+" : "+in.PublicIP.String())
		for _, d := range igw.routes[in.Subnet] {
			pairs = append(pairs, routePair{src: netip.PrefixFrom(in.PrivateIP, 32), dst: d})
		}
	}
	slices.SortFunc(pairs, func(a, b routePair) int {
		return cmp.Or(a.src.Addr().Compare(b.src.Addr()), a.dst.Addr().Compare(b.dst.Addr()), cmp.Compare(a.dst.Bits(), b.dst.Bits()))
	})
	pairs = slices.Compact(pairs)
	fmt.Fprintf(body, "\n\t# %s: Elastic IP -> private address of the interfaces holding one, and back\n", igw.ID)
	for _, m := range []struct {
		name string
		el   []string
	}{{"eip-dnat", dnat}, {"eip-snat", snat}} {
		fmt.Fprintf(body, "\tmap %s {\n\t\ttype ipv4_addr : ipv4_addr\n", m.name)
		if len(m.el) > 0 {
			fmt.Fprintf(body, "\t\telements = { %s }\n", strings.Join(m.el, ",\n\t\t\t     "))
		}
		body.WriteString("\t}\n")
	}
	const why = "no Elastic IP, or no route to the internet gateway"
	natSets := renderNATSets(body, igw) // natgw.go
	if len(pairs) == 0 && len(natSets) == 0 {
		fmt.Fprintf(routeRules, "\t\toifname %q drop comment %q\n", igw.link, why)
		return
	}
	var check strings.Builder
	if len(pairs) > 0 {
		set := "routes-" + igw.link
		el := make([]string, len(pairs))
		for i, rp := range pairs {
			el[i] = rp.src.String() + " . " + rp.dst.String()
		}
		fmt.Fprintf(body, "\n\t# (interface with an Elastic IP, destination) pairs the route tables send to %s\n", igw.ID)
		fmt.Fprintf(body, "\tset %s {\n\t\ttype ipv4_addr . ipv4_addr\n\t\tflags interval\n\t\telements = { %s }\n\t}\n", set, strings.Join(el, ",\n\t\t\t     "))
		check.WriteString(" ip saddr . ip daddr != @" + set)
	}
	for _, set := range natSets {
		check.WriteString(" ip saddr . ip daddr != @" + set)
	}
	fmt.Fprintf(routeRules, "\t\toifname %q%s drop comment %q\n", igw.link, check.String(), why)
}

// clean makes s safe inside an nft comment or an ifalias: nft strings have
// no escapes, so anything but a conservative set of characters becomes "_",
// and nft limits comments to 128 bytes.
func clean(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(" ._:/@+=,-()", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}

// ruleLines renders one security group rule as nft rule lines (without
// comment) for direction dir ("in": peers are sources, matches accept;
// "out": peers are destinations, matches return to the forward chain, where
// the receiver's ingress is checked), and the group sets it references.
func ruleLines(r Rule, dir string) (lines, refs []string, err error) {
	match, err := protoMatch(r)
	if err != nil {
		return nil, nil, err
	}
	field, verdict := "saddr", "accept"
	if dir == "out" {
		field, verdict = "daddr", "return"
	}
	tail := verdict
	if match != "" {
		tail = match + " " + verdict
	}
	for _, c := range r.CIDRs {
		switch {
		case !c.IsValid():
			return nil, nil, fmt.Errorf("invalid CIDR")
		case c.Addr().Is4():
			lines = append(lines, "ip "+field+" "+c.Masked().String()+" "+tail)
		default:
			lines = append(lines, "ip6 "+field+" "+c.Masked().String()+" "+tail)
		}
	}
	for _, g := range sortedUnique(r.Groups) {
		if validID("sg", g) != nil {
			return nil, nil, fmt.Errorf("invalid group reference %q", g)
		}
		refs = append(refs, g)
		lines = append(lines, "ip "+field+" @"+g+" "+tail)
	}
	if len(lines) == 0 {
		return nil, nil, fmt.Errorf("no CIDR and no group")
	}
	return lines, refs, nil
}

// protoMatch renders the protocol and port part of a rule.
func protoMatch(r Rule) (string, error) {
	proto := strings.ToLower(strings.TrimSpace(r.Protocol))
	switch proto {
	case "-1", "all":
		return "", nil
	case "6":
		proto = "tcp"
	case "17":
		proto = "udp"
	case "1":
		proto = "icmp"
	case "58":
		proto = "icmpv6"
	}
	switch proto {
	case "tcp", "udp":
		from, to := r.FromPort, r.ToPort
		switch {
		case from == -1 && to == -1, from == 0 && to == 65535:
			return "meta l4proto " + proto, nil
		case from < 0 || to > 65535 || from > to:
			return "", fmt.Errorf("invalid %s port range %d-%d", proto, from, to)
		case from == to:
			return proto + " dport " + strconv.Itoa(from), nil
		default:
			return fmt.Sprintf("%s dport %d-%d", proto, from, to), nil
		}
	case "icmp", "icmpv6":
		typ, code := r.FromPort, r.ToPort
		switch {
		case typ == -1:
			if proto == "icmpv6" {
				return "meta l4proto ipv6-icmp", nil
			}
			return "meta l4proto icmp", nil
		case typ < 0 || typ > 255 || code < -1 || code > 255:
			return "", fmt.Errorf("invalid %s type %d code %d", proto, typ, code)
		case code == -1:
			return fmt.Sprintf("%s type %d", proto, typ), nil
		default:
			return fmt.Sprintf("%s type %d %s code %d", proto, typ, proto, code), nil
		}
	}
	n, err := strconv.Atoi(proto)
	if err != nil || n < 0 || n > 255 {
		return "", fmt.Errorf("unknown protocol %q", r.Protocol)
	}
	return fmt.Sprintf("meta l4proto %d", n), nil
}
