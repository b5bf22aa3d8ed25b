package netplane

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// NAT gateways. A public NAT gateway is realised in the router of its VPC,
// beside the internet gateway's one-to-one NAT: a packet from a subnet
// whose route table sends its destination to the NAT gateway leaves by the
// internet gateway's link with its source translated to the NAT gateway's
// Elastic IP (many-to-one, ports as the kernel's SNAT picks them), and
// conntrack translates the replies back. As on AWS the NAT gateway sends
// the packet on by its own subnet's route table: only destinations that
// subnet sends to the internet gateway are reached. Nothing from the
// internet opens a connection to a NAT gateway's address (the address is
// in no DNAT map; such a packet is dropped by the route check). The
// gateway's interface is a record only: no namespace holds its private
// address. The source subnets' security groups (egress) apply as to any
// packet to the internet.

// NATGateway is a public NAT gateway behind an internet gateway.
type NATGateway struct {
	ID     string // "nat-…"
	Subnet string // the subnet it is in
	// PublicIP is its Elastic IP: the source of what it forwards.
	PublicIP netip.Addr
	// SubnetRoutes says per subnet id of the VPC which destinations that
	// subnet's route table sends to the NAT gateway (0.0.0.0/0 for a
	// private subnet). A subnet absent from the map has no such route.
	SubnetRoutes map[string][]netip.Prefix
}

// natInfo is a valid NAT gateway: its set of (source subnet, destination)
// pairs that leave translated to PublicIP.
type natInfo struct {
	ID       string
	PublicIP netip.Addr
	set      string
	pairs    []routePair
}

// validNATs keeps the NAT gateways of g that are valid, in info.nats:
// known id, own subnet in the VPC, unclaimed public address; each with the
// (source subnet, destination) pairs its own subnet routes on to the
// internet gateway.
func (p *planner) validNATs(g InternetGateway, info *igwInfo, v *valid) {
	seen := map[string]bool{}
	for _, n := range sortedBy(g.NATGateways, func(n NATGateway) string { return n.ID }) {
		if err := validID("nat", n.ID); err != nil {
			p.problem("internet gateway %s: %w", g.ID, err)
			continue
		}
		if seen[n.ID] {
			p.problem("nat gateway %s: listed twice", n.ID)
			continue
		}
		seen[n.ID] = true
		if sn, ok := v.subnets[n.Subnet]; !ok || sn.VPC != g.VPC {
			p.problem("nat gateway %s: subnet %q is not a subnet of %s", n.ID, n.Subnet, g.VPC)
			continue
		}
		if err := publicAddr(n.PublicIP); err != nil {
			p.problem("nat gateway %s: %w", n.ID, err)
			continue
		}
		if o, dup := v.publicOwner[n.PublicIP]; dup {
			p.problem("nat gateway %s: public address %s already used by %s", n.ID, n.PublicIP, o)
			continue
		}
		v.publicOwner[n.PublicIP] = n.ID
		onward := info.routes[n.Subnet]
		ni := &natInfo{ID: n.ID, PublicIP: n.PublicIP, set: n.ID}
		for _, sid := range sortedKeys(n.SubnetRoutes) {
			sn, ok := v.subnets[sid]
			if !ok || sn.VPC != g.VPC {
				p.problem("nat gateway %s: subnet %s is not a subnet of %s (its routes ignored)", n.ID, sid, g.VPC)
				continue
			}
			for _, d := range p.ipv4Routes("nat gateway "+n.ID, n.SubnetRoutes[sid]) {
				if slices.ContainsFunc(onward, func(r netip.Prefix) bool { return r.Bits() <= d.Bits() && r.Contains(d.Addr()) }) {
					ni.pairs = append(ni.pairs, routePair{src: sn.CIDR.Masked(), dst: d})
				}
			}
		}
		slices.SortFunc(ni.pairs, func(a, b routePair) int {
			return cmp.Or(a.src.Addr().Compare(b.src.Addr()), cmp.Compare(a.src.Bits(), b.src.Bits()), a.dst.Addr().Compare(b.dst.Addr()), cmp.Compare(a.dst.Bits(), b.dst.Bits()))
		})
		ni.pairs = slices.Compact(ni.pairs)
		info.nats = append(info.nats, ni)
	}
}

// planNATs adds the router's routes to what the NAT gateways forward and
// the internet's routes to their addresses.
func planNATs(router, internet *Namespace, igw *igwInfo) {
	for _, n := range igw.nats {
		for _, rp := range n.pairs {
			router.Routes = append(router.Routes, Route{Dst: rp.dst, Dev: igw.link, Via: internetAddr, OnLink: true})
		}
		internet.Routes = append(internet.Routes, Route{Dst: netip.PrefixFrom(n.PublicIP, 32), Dev: igw.link, Via: gatewayAddr, OnLink: true})
	}
}

// renderNATSets writes the set of each NAT gateway with pairs to body and
// returns their names, for the internet gateway's route check.
func renderNATSets(body *strings.Builder, igw *igwInfo) []string {
	var sets []string
	for _, n := range igw.nats {
		if len(n.pairs) == 0 {
			continue
		}
		el := make([]string, len(n.pairs))
		for i, rp := range n.pairs {
			el[i] = rp.src.String() + " . " + rp.dst.String()
		}
		fmt.Fprintf(body, "\n\t# (source subnet, destination) pairs the route tables send to %s (Elastic IP %s)\n", n.ID, n.PublicIP)
		fmt.Fprintf(body, "\tset %s {\n\t\ttype ipv4_addr . ipv4_addr\n\t\tflags interval\n\t\telements = { %s }\n\t}\n", n.set, strings.Join(el, ",\n\t\t\t     "))
		sets = append(sets, n.set)
	}
	return sets
}

// renderNATSNAT writes the NAT gateways' source translation rules, which
// come before the one-to-one Elastic IP translation: a subnet routed to a
// NAT gateway leaves by it even from an interface with an Elastic IP.
func renderNATSNAT(body *strings.Builder, igw *igwInfo) {
	for _, n := range igw.nats {
		if len(n.pairs) == 0 {
			continue
		}
		fmt.Fprintf(body, "\t\toifname %q ip saddr . ip daddr @%s snat ip to %s comment %q\n", igw.link, n.set, n.PublicIP, n.ID+" to its Elastic IP")
	}
}
