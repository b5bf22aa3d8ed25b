package netplane

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

// Namespace roles.
const (
	RoleRouter    = "router"    // a VPC's router and enforcement point
	RoleInterface = "interface" // one network interface
	RoleInternet  = "internet"  // the outside world, behind the internet gateways
	RoleOutside   = "outside"   // one simulated client on the internet
)

// InternetID is the resource id of the internet namespace
// (<prefix>-internet): NamespaceName(prefix, InternetID).
const InternetID = "internet"

// OutsideID is the resource id of the namespace of the outside client with
// address a (<prefix>-outside-198.51.100.27), for NamespaceName, NetnsPath,
// Command, Dial and Listen.
func OutsideID(a netip.Addr) string { return "outside-" + a.String() }

// The addresses of the links to the internet namespace, from the link-local
// range no VPC may use (AWS refuses 169.254.0.0/16 as a VPC CIDR): the
// internet side of every link holds internetAddr, the router side of an
// internet gateway's link gatewayAddr, both /32 and reached as on-link
// gateways, so no subnet is shared with anything.
var (
	internetAddr = netip.MustParseAddr("169.254.0.1")
	gatewayAddr  = netip.MustParseAddr("169.254.0.2")
)

// InterfaceLink is the name of the link inside an interface's namespace.
const InterfaceLink = "eth0"

// ResolverLinkLocal is the address of the Amazon-provided DNS server every
// VPC shares.
var ResolverLinkLocal = netip.MustParseAddr("169.254.169.253")

// ResolverAddrs returns the addresses of the Amazon-provided DNS server of
// a VPC whose primary IPv4 block is cidr: the block's base address + 2
// (10.0.0.2 for 10.0.0.0/16) and ResolverLinkLocal. ok is false for a block
// too small to have a base + 2 (/31, /32) or not IPv4.
func ResolverAddrs(cidr netip.Prefix) (addrs []netip.Addr, ok bool) {
	if !cidr.IsValid() || !cidr.Addr().Is4() || cidr.Bits() > 30 {
		return nil, false
	}
	return []netip.Addr{cidr.Masked().Addr().Next().Next(), ResolverLinkLocal}, true
}

// LoopbackLink is the loopback link of every namespace; in a router it also
// holds the addresses of the VPC's DNS server.
const LoopbackLink = "lo"

// loopbackAddr is lo's own IPv4 address.
var loopbackAddr = netip.MustParsePrefix("127.0.0.1/8")

// maxIfname is Linux's IFNAMSIZ-1.
const maxIfname = 15

var (
	prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,6}$`)
	idRE     = regexp.MustCompile(`^[a-z]{2,8}-[0-9A-Za-z]{1,40}$`)
)

// Plan is everything the kernel should hold for a State. It is computed
// purely by NewPlan and realised by Plane.Apply.
type Plan struct {
	Prefix string
	// Namespaces: routers first, then the internet (if any VPC has an
	// internet gateway or any outside client exists), then interfaces and
	// outside clients, each sorted by name.
	Namespaces []Namespace
	// Veths are the veth pairs, end A in a router namespace (or the
	// internet's), end B possibly in the host's (HostNamespace).
	Veths []Veth
	// Host is what the host's own namespace holds for the published
	// endpoints (links to routers, routes, a table); nil when nothing is
	// published. It is never created or deleted, only its objects carrying
	// the prefix.
	Host *Namespace
}

// Namespace is one network namespace we own, /run/netns/<Name>.
type Namespace struct {
	Name     string
	Role     string // RoleRouter or RoleInterface
	Resource string // vpc-… or eni-…
	// Links are the links to configure in this namespace (veth ends, created
	// by Plan.Veths): addresses, alias, up. Sorted by name.
	Links  []Link
	Routes []Route // IPv4 main-table routes besides the kernel's, sorted
	// Ruleset is the enforcement point of a router, or the host's table of
	// published endpoints; nil for interfaces.
	Ruleset *Ruleset
}

// Link is the configuration of one link.
type Link struct {
	Name  string
	Alias string // ifalias, for people: which resource the link belongs to
	Addrs []netip.Prefix
}

// Veth is a veth pair between two namespaces.
type Veth struct{ A, B VethEnd }

// VethEnd is one end of a veth pair.
type VethEnd struct{ Namespace, Name string }

// Route is an IPv4 route: via Via on Dev, or a device route if Via is zero.
// OnLink: Via is reached on Dev without a subnet covering it.
type Route struct {
	Dst    netip.Prefix
	Dev    string
	Via    netip.Addr
	OnLink bool
}

func (r Route) String() string {
	switch {
	case r.Via.IsValid() && r.OnLink:
		return fmt.Sprintf("%s via %s dev %s onlink", r.Dst, r.Via, r.Dev)
	case r.Via.IsValid():
		return fmt.Sprintf("%s via %s dev %s", r.Dst, r.Via, r.Dev)
	}
	return fmt.Sprintf("%s dev %s", r.Dst, r.Dev)
}

// Ruleset is the nftables table of one enforcement point.
type Ruleset struct {
	Table string // the table is "inet <Table>"
	// Text defines the whole table in nft syntax (nft -f), elements included.
	Text string
	// Skeleton is Text with the set elements left out: two rulesets with the
	// same Skeleton differ only in group membership.
	Skeleton string
	Sets     []Set // the group-member sets, sorted by name
	// Chains are the interfaces' ingress and egress chains (in-<eni>,
	// out-<eni>) in table order, each with its rules as nft rule text.
	Chains []Chain
	// Frame is Skeleton with the rules of Chains left out (their names
	// kept): two rulesets with the same Frame differ only in set elements
	// and in the rules of some interface chains, so the change from one to
	// the other touches just those (see Plane.ensureRuleset).
	Frame string
}

// Chain is an interface chain of a Ruleset and its rules, one nft rule
// (without "add rule") per entry.
type Chain struct {
	Name  string
	Rules []string
}

// Set is a named set of addresses.
type Set struct {
	Name     string
	Elements []netip.Addr
}

// Namespace name helpers, exported for the wiring's diagnostics.

// NamespaceName is the namespace of a VPC router or interface given its id.
func NamespaceName(prefix, id string) string { return prefix + "-" + id }

func linkName(prefix string, role byte, id string) string {
	sum := sha256.Sum256([]byte(id))
	n := maxIfname - len(prefix) - 2
	return prefix + "-" + string(role) + hex.EncodeToString(sum[:])[:n]
}

// ValidPrefix reports whether prefix can name an installation: 2 to 7
// characters, a lowercase letter then lowercase letters or digits.
func ValidPrefix(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("netplane: invalid prefix %q: want 2-7 characters [a-z][a-z0-9]*", prefix)
	}
	return nil
}

func validID(kind, id string) error {
	if !idRE.MatchString(id) || !strings.HasPrefix(id, kind+"-") {
		return fmt.Errorf("invalid %s id %q", kind, id)
	}
	return nil
}

// ErrInvalid marks the problems NewPlan finds in a State (the objects it
// leaves out); errors.Is(err, ErrInvalid) tells them from kernel errors.
var ErrInvalid = errors.New("invalid desired state")

type planner struct {
	prefix   string
	problems []error
	// groupRules memoizes renderGroupRules by group and direction: every
	// interface of a group (in any VPC) has the same rules.
	groupRules map[[2]string]renderedRules
	// acls is the network ACL of each subnet that has one, and
	// aclSubnetCIDRs the subnets' CIDRs, for the ACL chains (nacl.go).
	acls           map[string]*aclInfo
	aclSubnetCIDRs map[string]netip.Prefix
}

// renderedRules are the rendered rules of one group in one direction, the
// sets they reference and the problems met.
type renderedRules struct {
	text     string
	refs     []string
	problems []error
}

func (p *planner) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Errorf("netplane: %w: %w", ErrInvalid, fmt.Errorf(format, args...)))
}

type ifaceInfo struct {
	Interface
	vpc    string
	subnet netip.Prefix
	gw     netip.Addr
	link   string   // router-side link name
	groups []string // valid groups, sorted
}

// NewPlan computes the Plan for st. Invalid objects (dangling references,
// addresses outside their subnet, colliding names, unknown protocols…) are
// left out, fail-closed, and reported in the returned error, joined; the Plan
// then covers everything else. Only an invalid prefix yields a nil Plan.
func NewPlan(prefix string, st State) (*Plan, error) {
	if err := ValidPrefix(prefix); err != nil {
		return nil, err
	}
	p := &planner{prefix: prefix}
	plan := p.plan(st)
	return plan, errors.Join(p.problems...)
}

// valid is what the planner keeps of a State: every object that passed
// validation, indexed, and the names and addresses they claimed.
type valid struct {
	vpcs     map[string]VPC
	subnets  map[string]Subnet
	groups   map[string]SecurityGroup
	ifaces   []*ifaceInfo
	peerings []peeringInfo
	igws     map[string]*igwInfo // by vpc; at most one per VPC
	outside  []netip.Addr
	// published are the valid published endpoints, by vpc.
	published map[string][]hostEndpoint
	// members are the addresses of each group's interfaces, by group then VPC.
	members map[string]map[string][]netip.Addr
	// linkOwner is the resource that claimed each link name.
	linkOwner map[string]string
	// publicOwner is the interface that claimed each public address.
	publicOwner map[netip.Addr]string
}

// peeringInfo is a valid peering.
type peeringInfo struct {
	Peering
	link string
}

// plan validates st, section by section in the order the problems are
// reported, then lays out a router per VPC, the internet namespace and a
// namespace per interface and outside client.
func (p *planner) plan(st State) *Plan {
	v := &valid{linkOwner: map[string]string{}, publicOwner: map[netip.Addr]string{}}
	v.vpcs = p.validVPCs(st.VPCs)
	v.subnets = p.validSubnets(st.Subnets, v.vpcs)
	v.groups = p.validGroups(st.Groups, v.vpcs)
	v.ifaces = p.validInterfaces(st.Interfaces, v)
	v.peerings = p.validPeerings(st.Peerings, v)
	v.igws = p.validGateways(st.InternetGateways, v)
	v.outside = p.validOutside(st.Outside, v)
	v.published = p.validPublished(st.Published, v)
	v.members = groupMembers(v.ifaces)
	p.acls = p.validACLs(st.NetworkACLs, v)
	p.aclSubnetCIDRs = map[string]netip.Prefix{}
	for id, sn := range v.subnets {
		p.aclSubnetCIDRs[id] = sn.CIDR
	}

	plan := &Plan{Prefix: p.prefix}
	var ifaceNS []Namespace
	var hostLinks []*hostLink
	internet := Namespace{Name: NamespaceName(p.prefix, InternetID), Role: RoleInternet, Resource: InternetID}
	for _, vid := range sortedKeys(v.vpcs) {
		router, hl := p.planRouter(plan, v, vid, &internet, &ifaceNS)
		plan.Namespaces = append(plan.Namespaces, router)
		if hl != nil {
			hostLinks = append(hostLinks, hl)
		}
	}
	plan.Host = p.planHost(hostLinks)
	for _, a := range v.outside {
		ns := p.planOutside(plan, &internet, a)
		ifaceNS = append(ifaceNS, ns)
	}
	if len(internet.Links) > 0 {
		slices.SortFunc(internet.Links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
		internet.Routes = dedupRoutes(internet.Routes)
		plan.Namespaces = append(plan.Namespaces, internet)
	}
	slices.SortFunc(ifaceNS, func(a, b Namespace) int { return cmp.Compare(a.Name, b.Name) })
	plan.Namespaces = append(plan.Namespaces, ifaceNS...)
	slices.SortFunc(plan.Veths, func(a, b Veth) int {
		return cmp.Or(cmp.Compare(a.A.Namespace, b.A.Namespace), cmp.Compare(a.A.Name, b.A.Name))
	})
	return plan
}

// validVPCs keeps the VPCs with a valid, unique id, and of their CIDR blocks
// the valid IPv4 ones.
func (p *planner) validVPCs(in []VPC) map[string]VPC {
	vpcs := map[string]VPC{}
	for _, v := range sortedBy(in, func(v VPC) string { return v.ID }) {
		if err := validID("vpc", v.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if _, dup := vpcs[v.ID]; dup {
			p.problem("duplicate vpc %s", v.ID)
			continue
		}
		var cidrs []netip.Prefix
		for _, c := range v.CIDRs {
			if !c.IsValid() || !c.Addr().Is4() || c.Masked() != c {
				p.problem("vpc %s: invalid IPv4 CIDR block %s", v.ID, c)
				continue
			}
			cidrs = append(cidrs, c)
		}
		v.CIDRs = cidrs
		vpcs[v.ID] = v
	}
	return vpcs
}

// validSubnets keeps the subnets of known VPCs whose CIDR is inside their
// VPC and overlaps no other subnet of it.
func (p *planner) validSubnets(in []Subnet, vpcs map[string]VPC) map[string]Subnet {
	subnets := map[string]Subnet{}
	for _, s := range sortedBy(in, func(s Subnet) string { return s.ID }) {
		if err := validID("subnet", s.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if _, dup := subnets[s.ID]; dup {
			p.problem("duplicate subnet %s", s.ID)
			continue
		}
		v, ok := vpcs[s.VPC]
		if !ok {
			p.problem("subnet %s: unknown vpc %q", s.ID, s.VPC)
			continue
		}
		if !s.CIDR.IsValid() || !s.CIDR.Addr().Is4() || s.CIDR.Masked() != s.CIDR || s.CIDR.Bits() > 28 {
			p.problem("subnet %s: invalid IPv4 CIDR %s (want a network address, /28 or larger)", s.ID, s.CIDR)
			continue
		}
		if !slices.ContainsFunc(v.CIDRs, func(c netip.Prefix) bool { return c.Bits() <= s.CIDR.Bits() && c.Contains(s.CIDR.Addr()) }) {
			p.problem("subnet %s: CIDR %s is outside vpc %s", s.ID, s.CIDR, v.ID)
			continue
		}
		overlap := false
		for _, o := range subnets {
			if o.VPC == s.VPC && o.CIDR.Overlaps(s.CIDR) {
				p.problem("subnet %s: CIDR %s overlaps subnet %s", s.ID, s.CIDR, o.ID)
				overlap = true
			}
		}
		if !overlap {
			subnets[s.ID] = s
		}
	}
	return subnets
}

// validGroups keeps the security groups of known VPCs.
func (p *planner) validGroups(in []SecurityGroup, vpcs map[string]VPC) map[string]SecurityGroup {
	groups := map[string]SecurityGroup{}
	for _, g := range sortedBy(in, func(g SecurityGroup) string { return g.ID }) {
		if err := validID("sg", g.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if _, dup := groups[g.ID]; dup {
			p.problem("duplicate security group %s", g.ID)
			continue
		}
		if _, ok := vpcs[g.VPC]; !ok {
			p.problem("security group %s: unknown vpc %q", g.ID, g.VPC)
			continue
		}
		groups[g.ID] = g
	}
	return groups
}

// validInterfaces keeps the interfaces of known subnets with a usable,
// unique private address and a link name of their own; an invalid or taken
// public address is dropped, and so are groups unknown or of another VPC.
func (p *planner) validInterfaces(all []Interface, v *valid) []*ifaceInfo {
	var ifaces []*ifaceInfo
	seenIface := map[string]bool{}
	ipOwner := map[string]string{} // vpc/ip -> eni
	for _, in := range sortedBy(all, func(i Interface) string { return i.ID }) {
		if err := validID("eni", in.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if seenIface[in.ID] {
			p.problem("duplicate interface %s", in.ID)
			continue
		}
		seenIface[in.ID] = true
		s, ok := v.subnets[in.Subnet]
		if !ok {
			p.problem("interface %s: unknown subnet %q", in.ID, in.Subnet)
			continue
		}
		if err := usableAddr(s.CIDR, in.PrivateIP); err != nil {
			p.problem("interface %s: %w", in.ID, err)
			continue
		}
		key := s.VPC + "/" + in.PrivateIP.String()
		if o, dup := ipOwner[key]; dup {
			p.problem("interface %s: address %s already used by %s", in.ID, in.PrivateIP, o)
			continue
		}
		link, ok := p.claimLink(v.linkOwner, 'i', in.ID, "interface "+in.ID)
		if !ok {
			continue
		}
		ipOwner[key] = in.ID
		if in.PublicIP.IsValid() {
			if err := publicAddr(in.PublicIP); err != nil {
				p.problem("interface %s: public %w (left without it)", in.ID, err)
				in.PublicIP = netip.Addr{}
			} else if o, dup := v.publicOwner[in.PublicIP]; dup {
				p.problem("interface %s: public address %s already used by %s (left without it)", in.ID, in.PublicIP, o)
				in.PublicIP = netip.Addr{}
			} else {
				v.publicOwner[in.PublicIP] = in.ID
			}
		}
		info := &ifaceInfo{Interface: in, vpc: s.VPC, subnet: s.CIDR, gw: s.CIDR.Addr().Next(), link: link}
		for _, gid := range sortedUnique(in.Groups) {
			g, ok := v.groups[gid]
			switch {
			case !ok:
				p.problem("interface %s: unknown security group %q", in.ID, gid)
			case g.VPC != s.VPC:
				p.problem("interface %s: security group %s belongs to %s, not %s", in.ID, gid, g.VPC, s.VPC)
			default:
				info.groups = append(info.groups, gid)
			}
		}
		ifaces = append(ifaces, info)
	}
	return ifaces
}

// validPeerings keeps the peerings of two distinct known VPCs not already
// peered, with their IPv4 routes.
func (p *planner) validPeerings(in []Peering, v *valid) []peeringInfo {
	var peerings []peeringInfo
	peered := map[[2]string]bool{}
	for _, pc := range sortedBy(in, func(p Peering) string { return p.ID }) {
		if err := validID("pcx", pc.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		a, b := pc.Requester.VPC, pc.Accepter.VPC
		if _, ok := v.vpcs[a]; !ok {
			p.problem("peering %s: unknown requester vpc %q", pc.ID, a)
			continue
		}
		if _, ok := v.vpcs[b]; !ok {
			p.problem("peering %s: unknown accepter vpc %q", pc.ID, b)
			continue
		}
		if a == b || peered[[2]string{a, b}] || peered[[2]string{b, a}] {
			p.problem("peering %s: %s and %s cannot be peered twice or with themselves", pc.ID, a, b)
			continue
		}
		link, ok := p.claimLink(v.linkOwner, 'p', pc.ID, "peering "+pc.ID)
		if !ok {
			continue
		}
		peered[[2]string{a, b}] = true
		pc.Requester.Routes = p.ipv4Routes("peering "+pc.ID, pc.Requester.Routes)
		pc.Accepter.Routes = p.ipv4Routes("peering "+pc.ID, pc.Accepter.Routes)
		peerings = append(peerings, peeringInfo{Peering: pc, link: link})
	}
	return peerings
}

// validGateways keeps the internet gateways of known VPCs, at most one per
// VPC, with the routes of those of their subnets that belong to the VPC.
func (p *planner) validGateways(in []InternetGateway, v *valid) map[string]*igwInfo {
	igws := map[string]*igwInfo{} // by vpc
	for _, g := range sortedBy(in, func(g InternetGateway) string { return g.ID }) {
		if err := validID("igw", g.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if _, ok := v.vpcs[g.VPC]; !ok {
			p.problem("internet gateway %s: unknown vpc %q", g.ID, g.VPC)
			continue
		}
		if o, dup := igws[g.VPC]; dup {
			p.problem("internet gateway %s: vpc %s already has %s", g.ID, g.VPC, o.ID)
			continue
		}
		link, ok := p.claimLink(v.linkOwner, 'g', g.ID, "internet gateway "+g.ID)
		if !ok {
			continue
		}
		info := &igwInfo{ID: g.ID, link: link, routes: map[string][]netip.Prefix{}}
		for _, sid := range sortedKeys(g.SubnetRoutes) {
			sn, ok := v.subnets[sid]
			if !ok || sn.VPC != g.VPC {
				p.problem("internet gateway %s: subnet %s is not a subnet of %s (its routes ignored)", g.ID, sid, g.VPC)
				continue
			}
			info.routes[sid] = p.ipv4Routes("internet gateway "+g.ID, g.SubnetRoutes[sid])
		}
		p.validNATs(g, info, v) // natgw.go
		igws[g.VPC] = info
	}
	return igws
}

// validOutside keeps the outside clients, sorted and unique, whose address
// is usable and whose link name is free.
func (p *planner) validOutside(in []netip.Addr, v *valid) []netip.Addr {
	var outside []netip.Addr
	addrs := slices.Clone(in)
	slices.SortFunc(addrs, netip.Addr.Compare)
	for _, a := range slices.Compact(addrs) {
		if err := p.outsideAddr(a, v.vpcs, v.publicOwner); err != nil {
			p.problem("outside client %s: %w", a, err)
			continue
		}
		if _, ok := p.claimLink(v.linkOwner, 'o', a.String(), "outside client "+a.String()); ok {
			outside = append(outside, a)
		}
	}
	return outside
}

// groupMembers returns the addresses of each group's interfaces, keyed by
// group then VPC.
func groupMembers(ifaces []*ifaceInfo) map[string]map[string][]netip.Addr {
	members := map[string]map[string][]netip.Addr{}
	for _, in := range ifaces {
		for _, g := range in.groups {
			if members[g] == nil {
				members[g] = map[string][]netip.Addr{}
			}
			members[g][in.vpc] = append(members[g][in.vpc], in.PrivateIP)
		}
	}
	return members
}

// planRouter lays out the router namespace of VPC vid: its interfaces (each
// namespace appended to ifaceNS), its peerings, its internet gateway, its
// link to the host (returned, nil without published endpoints) and the
// ruleset that enforces its security groups.
func (p *planner) planRouter(plan *Plan, v *valid, vid string, internet *Namespace, ifaceNS *[]Namespace) (Namespace, *hostLink) {
	router := Namespace{Name: NamespaceName(p.prefix, vid), Role: RoleRouter, Resource: vid}
	local := p.planInterfaces(plan, &router, vid, v.ifaces, ifaceNS)
	visible, peerLinks, peerRoutes := p.planPeerings(plan, &router, vid, v)
	igw := v.igws[vid]
	if igw != nil {
		p.planGateway(plan, &router, internet, vid, igw, local)
	}
	hl := p.planHostLinks(plan, &router, vid, v)
	// The router's lo holds its loopback address and, with DNS, the DNS
	// server's addresses; listing it always removes them when DNS goes.
	lo := Link{Name: LoopbackLink, Addrs: []netip.Prefix{loopbackAddr}}
	var dns []netip.Addr
	if vpc := v.vpcs[vid]; vpc.DNS && len(vpc.CIDRs) > 0 {
		var ok bool
		if dns, ok = ResolverAddrs(vpc.CIDRs[0]); !ok {
			p.problem("vpc %s: no DNS server address in %s", vid, vpc.CIDRs[0])
		}
		for _, a := range dns {
			lo.Addrs = append(lo.Addrs, netip.PrefixFrom(a, 32))
		}
	}
	router.Links = append(router.Links, lo)
	slices.SortFunc(router.Links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
	router.Routes = dedupRoutes(router.Routes)
	// Members visible from this VPC: its own and its peers'.
	vis := map[string][]netip.Addr{}
	for g, byVPC := range v.members {
		for vpc, addrs := range byVPC {
			if visible[vpc] {
				vis[g] = append(vis[g], addrs...)
			}
		}
	}
	router.Ruleset = p.render(v.vpcs[vid], local, v.groups, vis, peerLinks, peerRoutes, igw, hl, dns)
	return router, hl
}

// planInterfaces links each interface of VPC vid to the router: a veth pair,
// the router's gateway address and host route, and the interface's own
// namespace (appended to ifaceNS). It returns the VPC's interfaces.
func (p *planner) planInterfaces(plan *Plan, router *Namespace, vid string, ifaces []*ifaceInfo, ifaceNS *[]Namespace) []*ifaceInfo {
	var local []*ifaceInfo
	for _, in := range ifaces {
		if in.vpc != vid {
			continue
		}
		local = append(local, in)
		nsName := NamespaceName(p.prefix, in.ID)
		label := clean(strings.TrimSpace(in.Kind + " " + in.Owner))
		router.Links = append(router.Links, Link{
			Name:  in.link,
			Alias: strings.TrimSpace(in.ID + " " + label),
			Addrs: []netip.Prefix{netip.PrefixFrom(in.gw, 32)},
		})
		router.Routes = append(router.Routes, Route{Dst: netip.PrefixFrom(in.PrivateIP, 32), Dev: in.link})
		plan.Veths = append(plan.Veths, Veth{
			A: VethEnd{Namespace: router.Name, Name: in.link},
			B: VethEnd{Namespace: nsName, Name: InterfaceLink},
		})
		*ifaceNS = append(*ifaceNS, Namespace{
			Name: nsName, Role: RoleInterface, Resource: in.ID,
			Links: []Link{{
				Name:  InterfaceLink,
				Alias: strings.TrimSpace(in.ID + " " + label),
				Addrs: []netip.Prefix{netip.PrefixFrom(in.PrivateIP, in.subnet.Bits())},
			}},
			Routes: []Route{{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Dev: InterfaceLink, Via: in.gw}},
		})
	}
	return local
}

// planPeerings adds to the router of VPC vid the link and routes of each of
// its peerings (the requester's side creates the veth pair). It returns the
// VPCs visible from vid (itself and its peers), the peering links, and for
// the links whose routes are per subnet the (source subnet, destination)
// pairs allowed over them; a link absent from peerRoutes is unrestricted.
func (p *planner) planPeerings(plan *Plan, router *Namespace, vid string, v *valid) (visible map[string]bool, peerLinks []string, peerRoutes map[string][]routePair) {
	visible = map[string]bool{vid: true}
	peerRoutes = map[string][]routePair{}
	for _, pc := range v.peerings {
		var mine, other PeeringSide
		switch vid {
		case pc.Requester.VPC:
			mine, other = pc.Requester, pc.Accepter
		case pc.Accepter.VPC:
			mine, other = pc.Accepter, pc.Requester
		default:
			continue
		}
		visible[other.VPC] = true
		peerLinks = append(peerLinks, pc.link)
		router.Links = append(router.Links, Link{Name: pc.link, Alias: pc.ID + " to " + other.VPC})
		for _, r := range mine.Routes {
			router.Routes = append(router.Routes, Route{Dst: r, Dev: pc.link})
		}
		if mine.SubnetRoutes != nil {
			peerRoutes[pc.link] = p.peeringRoutePairs(pc.ID, vid, mine.SubnetRoutes, v.subnets)
		}
		if vid == pc.Requester.VPC {
			plan.Veths = append(plan.Veths, Veth{
				A: VethEnd{Namespace: router.Name, Name: pc.link},
				B: VethEnd{Namespace: NamespaceName(p.prefix, other.VPC), Name: pc.link},
			})
		}
	}
	return visible, peerLinks, peerRoutes
}

// peeringRoutePairs returns, sorted and unique, the (source subnet,
// destination) pairs that the route tables of vid's subnets send over
// peering pcx.
func (p *planner) peeringRoutePairs(pcx, vid string, subnetRoutes map[string][]netip.Prefix, subnets map[string]Subnet) []routePair {
	pairs := []routePair{}
	for sid, dsts := range subnetRoutes {
		sn, ok := subnets[sid]
		if !ok || sn.VPC != vid {
			p.problem("peering %s: subnet %s is not a subnet of %s (its routes ignored)", pcx, sid, vid)
			continue
		}
		for _, d := range p.ipv4Routes("peering "+pcx, dsts) {
			pairs = append(pairs, routePair{src: sn.CIDR, dst: d})
		}
	}
	slices.SortFunc(pairs, func(a, b routePair) int {
		return cmp.Or(cmp.Compare(a.src.String(), b.src.String()), cmp.Compare(a.dst.String(), b.dst.String()))
	})
	return slices.Compact(pairs)
}

// claimLink names the link of resource id with role ('i', 'p', 'g', 'o') and
// claims the name in owners, or reports that it collides (what names the
// resource in the problem).
func (p *planner) claimLink(owners map[string]string, role byte, id, what string) (string, bool) {
	link := linkName(p.prefix, role, id)
	if o, dup := owners[link]; dup {
		p.problem("%s: link name %s collides with %s", what, link, o)
		return "", false
	}
	owners[link] = id
	return link, true
}

// routePair is a (source subnet, destination) a route table sends over a peering.
type routePair struct{ src, dst netip.Prefix }

// igwInfo is a valid internet gateway.
type igwInfo struct {
	ID     string
	link   string                    // its link, same name in the router and the internet namespace
	routes map[string][]netip.Prefix // subnet id -> destinations routed to it
	nats   []*natInfo                // the NAT gateways behind it, by id
}

// planGateway links the router of vpc to the internet namespace through igw:
// a veth pair, the router's routes to what its subnets send to the gateway,
// and the internet namespace's routes to the public addresses of local.
func (p *planner) planGateway(plan *Plan, router, internet *Namespace, vpc string, igw *igwInfo, local []*ifaceInfo) {
	router.Links = append(router.Links, Link{Name: igw.link, Alias: igw.ID + " internet gateway", Addrs: []netip.Prefix{netip.PrefixFrom(gatewayAddr, 32)}})
	internet.Links = append(internet.Links, Link{Name: igw.link, Alias: igw.ID + " to " + vpc, Addrs: []netip.Prefix{netip.PrefixFrom(internetAddr, 32)}})
	plan.Veths = append(plan.Veths, Veth{
		A: VethEnd{Namespace: router.Name, Name: igw.link},
		B: VethEnd{Namespace: internet.Name, Name: igw.link},
	})
	for _, dsts := range igw.routes {
		for _, d := range dsts {
			router.Routes = append(router.Routes, Route{Dst: d, Dev: igw.link, Via: internetAddr, OnLink: true})
		}
	}
	for _, in := range local {
		if !in.PublicIP.IsValid() {
			continue
		}
		internet.Routes = append(internet.Routes, Route{Dst: netip.PrefixFrom(in.PublicIP, 32), Dev: igw.link, Via: gatewayAddr, OnLink: true})
	}
	planNATs(router, internet, igw)
}

// planOutside adds the namespace of the outside client a, linked to the
// internet namespace.
func (p *planner) planOutside(plan *Plan, internet *Namespace, a netip.Addr) Namespace {
	link := linkName(p.prefix, 'o', a.String())
	ns := Namespace{
		Name: NamespaceName(p.prefix, OutsideID(a)), Role: RoleOutside, Resource: OutsideID(a),
		Links:  []Link{{Name: InterfaceLink, Alias: "outside client " + a.String(), Addrs: []netip.Prefix{netip.PrefixFrom(a, 32)}}},
		Routes: []Route{{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Dev: InterfaceLink, Via: internetAddr, OnLink: true}},
	}
	internet.Links = append(internet.Links, Link{Name: link, Alias: "outside client " + a.String(), Addrs: []netip.Prefix{netip.PrefixFrom(internetAddr, 32)}})
	internet.Routes = append(internet.Routes, Route{Dst: netip.PrefixFrom(a, 32), Dev: link})
	plan.Veths = append(plan.Veths, Veth{
		A: VethEnd{Namespace: internet.Name, Name: link},
		B: VethEnd{Namespace: ns.Name, Name: InterfaceLink},
	})
	return ns
}

// publicAddr reports whether a may be an interface's public address.
func publicAddr(a netip.Addr) error {
	if !a.Is4() || !a.IsGlobalUnicast() { // not link-local, loopback, multicast, broadcast, unspecified
		return fmt.Errorf("address %s is not a unicast IPv4 address", a)
	}
	return nil
}

// outsideAddr reports whether a may be an outside client's address: unicast,
// in no VPC, no interface's public address.
func (p *planner) outsideAddr(a netip.Addr, vpcs map[string]VPC, public map[netip.Addr]string) error {
	if err := publicAddr(a); err != nil {
		return err
	}
	for _, vid := range sortedKeys(vpcs) {
		for _, c := range vpcs[vid].CIDRs {
			if c.Contains(a) {
				return fmt.Errorf("address %s is inside %s of %s", a, c, vid)
			}
		}
	}
	if o, ok := public[a]; ok {
		return fmt.Errorf("address %s is the public address of %s", a, o)
	}
	return nil
}

func (p *planner) ipv4Routes(what string, in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range in {
		if !r.IsValid() || !r.Addr().Is4() {
			p.problem("%s: route %s ignored: only IPv4 destinations are routed", what, r)
			continue
		}
		out = append(out, r.Masked())
	}
	return out
}

// usableAddr reports whether ip may be assigned to an interface in subnet:
// inside it and not one of the five addresses AWS reserves.
func usableAddr(subnet netip.Prefix, ip netip.Addr) error {
	if !ip.IsValid() || !ip.Is4() || !subnet.Contains(ip) {
		return fmt.Errorf("address %s is not an IPv4 address in subnet %s", ip, subnet)
	}
	first := subnet.Addr()
	b := first.As4()
	host := uint32(1)<<(32-subnet.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	last := v | host
	a := ip.As4()
	x := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	if x-v <= 3 || x == last {
		return fmt.Errorf("address %s is reserved in subnet %s (network, router, resolver, future use, broadcast)", ip, subnet)
	}
	return nil
}

func dedupRoutes(rs []Route) []Route {
	slices.SortFunc(rs, func(a, b Route) int {
		return cmp.Or(a.Dst.Addr().Compare(b.Dst.Addr()), cmp.Compare(a.Dst.Bits(), b.Dst.Bits()), cmp.Compare(a.Dev, b.Dev))
	})
	// Two routes to one destination: keep the first (lowest link name).
	return slices.CompactFunc(rs, func(a, b Route) bool { return a.Dst == b.Dst })
}

func sortedBy[T any](in []T, key func(T) string) []T {
	out := slices.Clone(in)
	slices.SortStableFunc(out, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func sortedUnique(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}
