package netplane

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// The host side: servers in VPCs published to the host (State.Published).
// See doc.go, "The host".

// HostNamespace names the daemon's own network namespace (the host's) in a
// Plan: Plan.Host.Name and the host ends of Plan.Veths. It is no file in
// /run/netns and never carries the prefix, so it cannot be taken for a
// namespace of ours.
const HostNamespace = "host"

// RoleHost is the role of the host's namespace in a Plan.
const RoleHost = "host"

// The addresses of publishing. A published endpoint's loopback address
// 127.64.x.y (in PublishedRange) has the link address 169.254.64+x.y (the
// same offset in HostLinkRange): the router of its VPC holds it on the
// host link and translates it to the server's private address. The host
// holds HostClientAddr on every host link and translates the source of
// everything it sends there to it: that is the address security groups see
// for the host. Offsets 0, 1 (HostClientAddr's) and the last one are not
// used.
var (
	PublishedRange = netip.MustParsePrefix("127.64.0.0/18")
	HostLinkRange  = netip.MustParsePrefix("169.254.64.0/18")
	HostClientAddr = netip.MustParseAddr("169.254.64.1")
)

// PublishedEndpoint is a server in a VPC made reachable from the host: a
// program on the host connecting to Loopback:Port reaches PrivateIP:Port
// of Interface, through the VPC's router, as the host client
// (HostClientAddr), so that the interface's security groups decide.
type PublishedEndpoint struct {
	Interface string // eni-… of the server
	Port      int    // TCP port, the same on both sides
	// Loopback is the host's address for the endpoint, in PublishedRange
	// (see PublishedAddr).
	Loopback netip.Addr
	// Comment says what the endpoint is, for people (nft comments).
	Comment string
}

// publishedOffsets is the number of addresses in PublishedRange.
const publishedOffsets = 1 << (32 - 18)

// PublishedAddr returns the loopback address of offset n in PublishedRange;
// ok is false for an offset that is not usable (0, 1, the last one, or
// outside the range).
func PublishedAddr(n int) (netip.Addr, bool) {
	if n < 2 || n >= publishedOffsets-1 {
		return netip.Addr{}, false
	}
	return addOffset(PublishedRange.Addr(), n), true
}

// PublishedOffset is the inverse of PublishedAddr.
func PublishedOffset(a netip.Addr) (int, bool) {
	if !a.Is4() || !PublishedRange.Contains(a) {
		return 0, false
	}
	n := int(a.As4()[2]&0x3f)<<8 | int(a.As4()[3])
	if n < 2 || n >= publishedOffsets-1 {
		return 0, false
	}
	return n, true
}

// HostLinkAddr is the link address of the published endpoint whose loopback
// address is loopback: the same offset in HostLinkRange.
func HostLinkAddr(loopback netip.Addr) (netip.Addr, bool) {
	n, ok := PublishedOffset(loopback)
	if !ok {
		return netip.Addr{}, false
	}
	return addOffset(HostLinkRange.Addr(), n), true
}

func addOffset(base netip.Addr, n int) netip.Addr {
	b := base.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v += uint32(n)
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// hostEndpoint is a valid published endpoint.
type hostEndpoint struct {
	PublishedEndpoint
	link    netip.Addr // in HostLinkRange
	iface   *ifaceInfo
	comment string // cleaned
}

// validPublished keeps the published endpoints of valid interfaces with a
// usable loopback address and port, unique by loopback address and port.
func (p *planner) validPublished(in []PublishedEndpoint, v *valid) map[string][]hostEndpoint {
	byID := map[string]*ifaceInfo{}
	for _, i := range v.ifaces {
		byID[i.ID] = i
	}
	out := map[string][]hostEndpoint{} // by vpc
	seen := map[netip.AddrPort]string{}
	sorted := slices.Clone(in)
	slices.SortFunc(sorted, func(a, b PublishedEndpoint) int {
		return cmp.Or(a.Loopback.Compare(b.Loopback), cmp.Compare(a.Port, b.Port), cmp.Compare(a.Interface, b.Interface))
	})
	for _, e := range sorted {
		what := fmt.Sprintf("published endpoint %s:%d of %s", e.Loopback, e.Port, e.Interface)
		in, ok := byID[e.Interface]
		if !ok {
			p.problem("%s: unknown interface", what)
			continue
		}
		link, ok := HostLinkAddr(e.Loopback)
		if !ok {
			p.problem("%s: loopback address outside %s or reserved", what, PublishedRange)
			continue
		}
		if e.Port < 1 || e.Port > 65535 {
			p.problem("%s: invalid port", what)
			continue
		}
		ap := netip.AddrPortFrom(e.Loopback, uint16(e.Port))
		if o, dup := seen[ap]; dup {
			p.problem("%s: address already published for %s", what, o)
			continue
		}
		seen[ap] = e.Interface
		out[in.vpc] = append(out[in.vpc], hostEndpoint{PublishedEndpoint: e, link: link, iface: in,
			comment: clean(strings.TrimSpace(e.Interface + " " + e.Comment))})
	}
	return out
}

// hostLink is the link between the host and the router of one VPC.
type hostLink struct {
	vpc       string
	name      string
	endpoints []hostEndpoint // sorted by loopback address and port
}

// planHostLinks adds to the router of vpc the link to the host and the
// routes and addresses of its published endpoints, and returns the link, or
// nil when the VPC publishes nothing.
func (p *planner) planHostLinks(plan *Plan, router *Namespace, vpc string, v *valid) *hostLink {
	eps := v.published[vpc]
	if len(eps) == 0 {
		return nil
	}
	name, ok := p.claimLink(v.linkOwner, 'h', vpc, "host link of "+vpc)
	if !ok {
		return nil
	}
	hl := &hostLink{vpc: vpc, name: name, endpoints: eps}
	var addrs []netip.Prefix
	for _, e := range eps {
		addrs = append(addrs, netip.PrefixFrom(e.link, 32))
	}
	slices.SortFunc(addrs, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	addrs = slices.Compact(addrs)
	router.Links = append(router.Links, Link{Name: name, Alias: vpc + " to the host", Addrs: addrs})
	router.Routes = append(router.Routes, Route{Dst: netip.PrefixFrom(HostClientAddr, 32), Dev: name})
	plan.Veths = append(plan.Veths, Veth{
		A: VethEnd{Namespace: router.Name, Name: name},
		B: VethEnd{Namespace: HostNamespace, Name: name},
	})
	return hl
}

// planHost lays out the host's side of the host links: each link with
// HostClientAddr, a route to every link address, and the host's table.
func (p *planner) planHost(links []*hostLink) *Namespace {
	if len(links) == 0 {
		return nil
	}
	host := &Namespace{Name: HostNamespace, Role: RoleHost, Resource: HostNamespace}
	for _, hl := range links {
		host.Links = append(host.Links, Link{Name: hl.name, Alias: hl.vpc + " published to the host",
			Addrs: []netip.Prefix{netip.PrefixFrom(HostClientAddr, 32)}})
		for _, e := range hl.endpoints {
			host.Routes = append(host.Routes, Route{Dst: netip.PrefixFrom(e.link, 32), Dev: hl.name})
		}
	}
	slices.SortFunc(host.Links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
	host.Routes = dedupRoutes(host.Routes)
	host.Ruleset = p.renderHost(links)
	return host
}

// renderHost builds the host's table: a DNAT rule per published endpoint in
// the output hook (only the host's own packets: nothing from another
// machine is ever translated), the source translation to the host client
// on the host links, and the guards that make the links one-way: a VPC
// opens nothing on the host and the host forwards nothing to or from them.
func (p *planner) renderHost(links []*hostLink) *Ruleset {
	var eps []hostEndpoint
	names := make([]string, 0, len(links))
	for _, hl := range links {
		eps = append(eps, hl.endpoints...)
		names = append(names, fmt.Sprintf("%q", hl.name))
	}
	slices.SortFunc(eps, func(a, b hostEndpoint) int {
		return cmp.Or(a.Loopback.Compare(b.Loopback), cmp.Compare(a.Port, b.Port))
	})
	slices.Sort(names)
	var b strings.Builder
	fmt.Fprintf(&b, "# Cachalot network plane %s: caches published to the host.\n", p.prefix)
	fmt.Fprintf(&b, "# Generated from the published endpoints; Apply replaces it atomically.\n")
	fmt.Fprintf(&b, "table inet %s {\n", p.prefix)
	fmt.Fprintf(&b, "\tcomment %q\n", "cachalot published endpoints")
	fmt.Fprintf(&b, "\n\t# the links to the routers of VPCs with published endpoints\n")
	fmt.Fprintf(&b, "\tset links {\n\t\ttype ifname\n\t\telements = { %s }\n\t}\n", strings.Join(names, ", "))
	b.WriteString("\n\t# Programs on this host reach each endpoint at its loopback address.\n")
	b.WriteString("\tchain output {\n\t\ttype nat hook output priority -100; policy accept;\n")
	for _, e := range eps {
		fmt.Fprintf(&b, "\t\tip daddr %s tcp dport %d dnat ip to %s comment %q\n", e.Loopback, e.Port, e.link, e.comment)
	}
	b.WriteString("\t}\n")
	b.WriteString("\n\t# Into a VPC, the host is the host client.\n")
	b.WriteString("\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\toifname @links snat ip to %s comment %q\n\t}\n", HostClientAddr, "the host client")
	b.WriteString("\n\t# Only replies come back; a VPC opens nothing on the host.\n")
	b.WriteString("\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n")
	b.WriteString("\t\tiifname @links ct state established,related accept\n")
	fmt.Fprintf(&b, "\t\tiifname @links drop comment %q\n\t}\n", "nothing from a VPC but replies")
	b.WriteString("\n\t# The host forwards nothing to or from a VPC.\n")
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\tiifname @links drop comment %q\n", "no forwarding from a VPC")
	fmt.Fprintf(&b, "\t\toifname @links drop comment %q\n\t}\n", "no forwarding into a VPC")
	b.WriteString("}\n")
	return &Ruleset{Table: p.prefix, Text: b.String(), Skeleton: b.String()}
}

// renderHostLink writes the router's part of its host link: the translation
// of link addresses to private ones (map and prerouting chain) to body, and
// returns the forward-chain guards: first (before the conntrack shortcut)
// from the host only the host client; last (after the interfaces' chains)
// from the host only to an interface, whose ingress decides, and to the
// host only replies.
func renderHostLink(body *strings.Builder, hl *hostLink) (first, last string) {
	var el []string
	seen := map[netip.Addr]bool{}
	for _, e := range hl.endpoints {
		if seen[e.link] {
			continue
		}
		seen[e.link] = true
		el = append(el, e.link.String()+" : "+e.iface.PrivateIP.String())
	}
	fmt.Fprintf(body, "\n\t# published to the host: link address -> private address\n")
	fmt.Fprintf(body, "\tmap host-dnat {\n\t\ttype ipv4_addr : ipv4_addr\n\t\telements = { %s }\n\t}\n", strings.Join(el, ",\n\t\t\t     "))
	fmt.Fprintf(body, "\tchain host-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;\n")
	fmt.Fprintf(body, "\t\tiifname %q dnat ip to ip daddr map @host-dnat comment %q\n\t}\n", hl.name, "published endpoint to private address")
	first = fmt.Sprintf("\t\tiifname %q ip saddr != %s drop comment %q\n", hl.name, HostClientAddr, "from the host: the host client only")
	last = fmt.Sprintf("\t\tiifname %q drop comment %q\n\t\toifname %q drop comment %q\n",
		hl.name, "from the host: to published interfaces only", hl.name, "to the host: replies only")
	return first, last
}
