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
)

// InterfaceLink is the name of the link inside an interface's namespace.
const InterfaceLink = "eth0"

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
	// Namespaces: routers first, then interfaces, each sorted by name.
	Namespaces []Namespace
	// Veths are the veth pairs, end A in a router namespace.
	Veths []Veth
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
	// Ruleset is the enforcement point of a router; nil for interfaces.
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
type Route struct {
	Dst netip.Prefix
	Dev string
	Via netip.Addr
}

func (r Route) String() string {
	if r.Via.IsValid() {
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

func (p *planner) plan(st State) *Plan {
	// VPCs.
	vpcs := map[string]VPC{}
	for _, v := range sortedBy(st.VPCs, func(v VPC) string { return v.ID }) {
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

	// Subnets.
	subnets := map[string]Subnet{}
	for _, s := range sortedBy(st.Subnets, func(s Subnet) string { return s.ID }) {
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

	// Groups.
	groups := map[string]SecurityGroup{}
	for _, g := range sortedBy(st.Groups, func(g SecurityGroup) string { return g.ID }) {
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

	// Interfaces.
	var ifaces []*ifaceInfo
	seenIface := map[string]bool{}
	ipOwner := map[string]string{} // vpc/ip -> eni
	linkOwner := map[string]string{}
	for _, in := range sortedBy(st.Interfaces, func(i Interface) string { return i.ID }) {
		if err := validID("eni", in.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		if seenIface[in.ID] {
			p.problem("duplicate interface %s", in.ID)
			continue
		}
		seenIface[in.ID] = true
		s, ok := subnets[in.Subnet]
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
		link := linkName(p.prefix, 'i', in.ID)
		if o, dup := linkOwner[link]; dup {
			p.problem("interface %s: link name %s collides with %s", in.ID, link, o)
			continue
		}
		ipOwner[key] = in.ID
		linkOwner[link] = in.ID
		info := &ifaceInfo{Interface: in, vpc: s.VPC, subnet: s.CIDR, gw: s.CIDR.Addr().Next(), link: link}
		for _, gid := range sortedUnique(in.Groups) {
			g, ok := groups[gid]
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

	// Peerings.
	type peeringInfo struct {
		Peering
		link string
	}
	var peerings []peeringInfo
	peered := map[[2]string]bool{}
	for _, pc := range sortedBy(st.Peerings, func(p Peering) string { return p.ID }) {
		if err := validID("pcx", pc.ID); err != nil {
			p.problem("%w", err)
			continue
		}
		a, b := pc.Requester.VPC, pc.Accepter.VPC
		if _, ok := vpcs[a]; !ok {
			p.problem("peering %s: unknown requester vpc %q", pc.ID, a)
			continue
		}
		if _, ok := vpcs[b]; !ok {
			p.problem("peering %s: unknown accepter vpc %q", pc.ID, b)
			continue
		}
		if a == b || peered[[2]string{a, b}] || peered[[2]string{b, a}] {
			p.problem("peering %s: %s and %s cannot be peered twice or with themselves", pc.ID, a, b)
			continue
		}
		link := linkName(p.prefix, 'p', pc.ID)
		if o, dup := linkOwner[link]; dup {
			p.problem("peering %s: link name %s collides with %s", pc.ID, link, o)
			continue
		}
		linkOwner[link] = pc.ID
		peered[[2]string{a, b}] = true
		pc.Requester.Routes = p.peeringRoutes(pc.ID, pc.Requester.Routes)
		pc.Accepter.Routes = p.peeringRoutes(pc.ID, pc.Accepter.Routes)
		peerings = append(peerings, peeringInfo{Peering: pc, link: link})
	}

	// Group members, keyed by group then VPC.
	members := map[string]map[string][]netip.Addr{}
	for _, in := range ifaces {
		for _, g := range in.groups {
			if members[g] == nil {
				members[g] = map[string][]netip.Addr{}
			}
			members[g][in.vpc] = append(members[g][in.vpc], in.PrivateIP)
		}
	}

	plan := &Plan{Prefix: p.prefix}
	var ifaceNS []Namespace
	for _, vid := range sortedKeys(vpcs) {
		v := vpcs[vid]
		router := Namespace{Name: NamespaceName(p.prefix, vid), Role: RoleRouter, Resource: vid}
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
			ifaceNS = append(ifaceNS, Namespace{
				Name: nsName, Role: RoleInterface, Resource: in.ID,
				Links: []Link{{
					Name:  InterfaceLink,
					Alias: strings.TrimSpace(in.ID + " " + label),
					Addrs: []netip.Prefix{netip.PrefixFrom(in.PrivateIP, in.subnet.Bits())},
				}},
				Routes: []Route{{Dst: netip.PrefixFrom(netip.IPv4Unspecified(), 0), Dev: InterfaceLink, Via: in.gw}},
			})
		}
		// Peer VPCs: who we are peered with, and the peering links here.
		visible := map[string]bool{vid: true}
		var peerLinks []string
		peerRoutes := map[string][]routePair{} // link -> allowed (source subnet, destination); absent: unrestricted
		for _, pc := range peerings {
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
				pairs := []routePair{}
				for sid, dsts := range mine.SubnetRoutes {
					sn, ok := subnets[sid]
					if !ok || sn.VPC != vid {
						p.problem("peering %s: subnet %s is not a subnet of %s (its routes ignored)", pc.ID, sid, vid)
						continue
					}
					for _, d := range p.peeringRoutes(pc.ID, dsts) {
						pairs = append(pairs, routePair{src: sn.CIDR, dst: d})
					}
				}
				slices.SortFunc(pairs, func(a, b routePair) int {
					return cmp.Or(cmp.Compare(a.src.String(), b.src.String()), cmp.Compare(a.dst.String(), b.dst.String()))
				})
				peerRoutes[pc.link] = slices.Compact(pairs)
			}
			if vid == pc.Requester.VPC {
				plan.Veths = append(plan.Veths, Veth{
					A: VethEnd{Namespace: router.Name, Name: pc.link},
					B: VethEnd{Namespace: NamespaceName(p.prefix, other.VPC), Name: pc.link},
				})
			}
		}
		slices.SortFunc(router.Links, func(a, b Link) int { return cmp.Compare(a.Name, b.Name) })
		router.Routes = dedupRoutes(router.Routes)
		// Members visible from this VPC: its own and its peers'.
		vis := map[string][]netip.Addr{}
		for g, byVPC := range members {
			for v, addrs := range byVPC {
				if visible[v] {
					vis[g] = append(vis[g], addrs...)
				}
			}
		}
		router.Ruleset = p.render(v, local, groups, vis, peerLinks, peerRoutes)
		plan.Namespaces = append(plan.Namespaces, router)
	}
	slices.SortFunc(ifaceNS, func(a, b Namespace) int { return cmp.Compare(a.Name, b.Name) })
	plan.Namespaces = append(plan.Namespaces, ifaceNS...)
	slices.SortFunc(plan.Veths, func(a, b Veth) int {
		return cmp.Or(cmp.Compare(a.A.Namespace, b.A.Namespace), cmp.Compare(a.A.Name, b.A.Name))
	})
	return plan
}

// routePair is a (source subnet, destination) a route table sends over a peering.
type routePair struct{ src, dst netip.Prefix }

func (p *planner) peeringRoutes(id string, in []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, r := range in {
		if !r.IsValid() || !r.Addr().Is4() {
			p.problem("peering %s: route %s ignored: only IPv4 destinations are routed", id, r)
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
