// Package sgeval is the pure security-group oracle: given an ec2.Topology and
// a flow, it decides whether EC2 would let the flow pass and explains why —
// the rules that allow it, or exactly what is missing. netplane's kernel
// realisation is tested against it, and "explain" answers users with it.
//
// A flow passes when there is a path (same VPC; or an active peering in the
// same region with routes to it on both sides; or, for an outside address,
// an Elastic IP on the interface, an attached internet gateway and a route
// to it; or, for Cachalot's host, the host link of a published interface)
// AND the source interface's egress allows it (rules of ANY of its
// groups) AND the destination interface's ingress allows it. Group
// references match the private addresses of the interfaces that are members
// of the group, in the same VPC or across an active peering. Security groups
// are stateful: a reply of an allowed flow passes regardless of rules.
//
// Network ACLs are not: when the flow leaves a subnet, the source
// subnet's ACL must allow it outbound and the destination subnet's
// inbound (first matching entry in rule-number order; none: the "*" entry
// denies), and, for the flows whose probes wait for an answer (TCP, UDP,
// ICMP echo), the answer must pass the same ACLs the other way, to the
// client's ephemeral port (Flow.SrcPort, or every port of Linux's
// ephemeral range). Two interfaces of one subnet are not filtered.
//
// It does no I/O and keeps no mutable state after New; an Evaluator is safe
// for concurrent use. It imports only ec2 (for the Topology types).
package sgeval

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// Endpoint is one end of a flow: an interface id, or (Interface empty) an
// address outside the VPCs.
type Endpoint struct {
	Interface string
	Addr      netip.Addr
	// Host marks Cachalot's host as the source, reaching an interface
	// published to it over its VPC's host link with Addr (the host client
	// address): no route or gateway is involved, only the destination's
	// ingress rules (whether the interface is published is not the
	// topology's to say).
	Host bool
}

func (e Endpoint) String() string {
	if e.Interface != "" {
		return e.Interface
	}
	return e.Addr.String()
}

// Flow is a packet's 5-tuple in model terms. Protocol is "tcp", "udp",
// "icmp", "icmpv6" or a protocol number; Port is the destination port (the
// ICMP type for ICMP) and Code the ICMP code (0, an echo request's, unless
// set). A Reply flow is the answer, from Src to Dst, in a
// connection that Dst opened to Src on Port; it passes when that connection
// may be opened.
type Flow struct {
	Src, Dst Endpoint
	Protocol string
	Port     int32
	Code     int32
	Reply    bool
	// SrcPort is the client's port for TCP and UDP, which network ACLs
	// check on the answers; 0: any port of Linux's ephemeral range
	// (EphemeralFirst-EphemeralLast), every one of which must be allowed.
	SrcPort int32
}

// Linux's default ephemeral port range (net.ipv4.ip_local_port_range),
// which clients in the interfaces' namespaces use.
const (
	EphemeralFirst = 32768
	EphemeralLast  = 60999
)

func (f Flow) String() string {
	s := fmt.Sprintf("%s -> %s %s/%d", f.Src, f.Dst, f.Protocol, f.Port)
	if f.Reply {
		s += " (reply)"
	}
	return s
}

// RuleRef names a rule that allows the flow.
type RuleRef struct {
	GroupID, RuleID string
	Egress          bool
}

// Missing is one thing that stops the flow.
type Missing struct {
	// Kind is "egress", "ingress", "route", "peering", "public-ip",
	// "internet-gateway", "interface" or "network-acl".
	Kind string
	// Interface whose groups or subnet lack it.
	Interface string
	// Groups of that interface, for egress and ingress.
	Groups   []string
	Protocol string
	Port     int32
	// Peer is the other end as a rule would name it: its address and, for an
	// interface, its groups.
	Peer   string
	Reason string
	// For "network-acl": the ACL, the subnet it guards, the direction
	// (Egress), the entry that denies (32767: the "*" entry) and whether
	// it is the answer's packet that it denies (Reply).
	ACL, Subnet string
	Entry       int32
	Egress      bool
	Reply       bool
}

func (m Missing) String() string { return m.Kind + ": " + m.Reason }

// Verdict is the decision on a flow.
type Verdict struct {
	Allowed bool
	// Path is "local" (same VPC), a pcx-… id, "internet" or "host".
	Path string
	// Egress and Ingress are the rules that allow the flow at the source
	// and at the destination (every matching rule, sorted).
	Egress, Ingress []RuleRef
	// ACLs are the network ACL entries that let the flow's packets (and
	// its answers') cross subnet boundaries; empty when no boundary with
	// an ACL is crossed.
	ACLs []ACLRef
	// Missing lists what stops the flow; empty when Allowed.
	Missing []Missing
	// Reply is set when the flow was allowed as the reply of an allowed flow.
	Reply bool
}

// Evaluator answers flows against one topology.
type Evaluator struct {
	ifaces   map[string]*ec2.TopoInterface
	groups   map[string]*ec2.TopoGroup
	vpcs     map[string]*ec2.TopoVPC
	subnets  map[string]*ec2.TopoSubnet
	rtbs     map[string]*ec2.TopoRouteTable
	peerings map[[2]string]*ec2.TopoPeering // sorted vpc pair
	igwByVpc map[string]string
	// nats are the available NAT gateways, by id.
	nats map[string]*ec2.TopoNATGateway
	// prefixLists are the managed prefix lists' CIDRs, by id.
	prefixLists map[string][]netip.Prefix
	// acls is the network ACL in effect for each subnet.
	acls map[string]*ec2.TopoNetworkACL
}

// New indexes a topology. The Evaluator keeps pointers into t: t must not
// change afterwards.
func New(t *ec2.Topology) *Evaluator {
	e := &Evaluator{ifaces: map[string]*ec2.TopoInterface{}, groups: map[string]*ec2.TopoGroup{}, vpcs: map[string]*ec2.TopoVPC{},
		subnets: map[string]*ec2.TopoSubnet{}, rtbs: map[string]*ec2.TopoRouteTable{}, peerings: map[[2]string]*ec2.TopoPeering{},
		igwByVpc: map[string]string{}, prefixLists: map[string][]netip.Prefix{}, acls: map[string]*ec2.TopoNetworkACL{},
		nats: map[string]*ec2.TopoNATGateway{}}
	for i := range t.NetworkACLs {
		for _, sn := range t.NetworkACLs[i].Subnets {
			e.acls[sn] = &t.NetworkACLs[i]
		}
	}
	for i := range t.NATGateways {
		e.nats[t.NATGateways[i].ID] = &t.NATGateways[i]
	}
	for _, pl := range t.PrefixLists {
		e.prefixLists[pl.ID] = pl.CIDRs
	}
	for i := range t.Interfaces {
		e.ifaces[t.Interfaces[i].ID] = &t.Interfaces[i]
	}
	for i := range t.Groups {
		e.groups[t.Groups[i].ID] = &t.Groups[i]
	}
	for i := range t.VPCs {
		e.vpcs[t.VPCs[i].ID] = &t.VPCs[i]
	}
	for i := range t.Subnets {
		e.subnets[t.Subnets[i].ID] = &t.Subnets[i]
	}
	for i := range t.RouteTables {
		e.rtbs[t.RouteTables[i].ID] = &t.RouteTables[i]
	}
	for i := range t.Peerings {
		p := &t.Peerings[i]
		e.peerings[pair(p.RequesterVpcID, p.AccepterVpcID)] = p
	}
	for _, g := range t.InternetGateways {
		if g.VpcID != "" {
			e.igwByVpc[g.VpcID] = g.ID
		}
	}
	return e
}

func pair(a, b string) [2]string {
	if a > b {
		a, b = b, a
	}
	return [2]string{a, b}
}

// peered reports whether two VPCs are the same or joined by an active
// peering in the same region, and returns the peering id.
func (e *Evaluator) peered(a, b string) (string, bool) {
	if a == b {
		return "local", true
	}
	p, ok := e.peerings[pair(a, b)]
	if !ok {
		return "", false
	}
	va, vb := e.vpcs[a], e.vpcs[b]
	if va != nil && vb != nil && va.Region != vb.Region {
		return "", false
	}
	return p.ID, true
}

// normProto maps protocol names and numbers to AWS's rule spelling.
func normProto(p string) string {
	switch strings.ToLower(p) {
	case "tcp", "6":
		return "tcp"
	case "udp", "17":
		return "udp"
	case "icmp", "1":
		return "icmp"
	case "icmpv6", "58":
		return "icmpv6"
	case "-1", "all":
		return "-1"
	}
	if n, err := strconv.Atoi(p); err == nil {
		return strconv.Itoa(n)
	}
	return p
}

// portMatch reports whether a rule's protocol and ports cover the flow's.
// An ICMP rule names a type (FromPort) and a code (ToPort), -1 for all; a
// rule for all types covers every code.
func portMatch(r *ec2.TopoRule, proto string, port, code int32) bool {
	if r.Protocol == "-1" {
		return true
	}
	if r.Protocol != proto {
		return false
	}
	switch proto {
	case "tcp", "udp":
		return r.FromPort <= port && port <= r.ToPort
	case "icmp", "icmpv6":
		return r.FromPort == -1 || (r.FromPort == port && (r.ToPort == -1 || r.ToPort == code))
	}
	return true
}

// peer is the other end of a flow as rules see it.
type peer struct {
	addr  netip.Addr
	iface *ec2.TopoInterface // nil for an outside address
}

func (p peer) String() string {
	if p.iface == nil {
		return p.addr.String()
	}
	return fmt.Sprintf("%s (%s, groups %s)", p.addr, p.iface.ID, strings.Join(p.iface.Groups, ","))
}

// peerMatch reports whether a rule's source/destination covers the peer, for
// a rule of a group in vpc.
func (e *Evaluator) peerMatch(r *ec2.TopoRule, p peer, vpc string) bool {
	switch {
	case r.CIDR.IsValid():
		return r.CIDR.Contains(p.addr)
	case r.PrefixListID != "":
		return slices.ContainsFunc(e.prefixLists[r.PrefixListID], func(c netip.Prefix) bool { return c.Contains(p.addr) })
	case r.Group != nil:
		if p.iface == nil || !slices.Contains(p.iface.Groups, r.Group.GroupID) {
			return false
		}
		_, ok := e.peered(vpc, p.iface.VpcID)
		return ok
	}
	return false
}

// allowing returns the rules of the interface's groups that allow the flow.
func (e *Evaluator) allowing(ifc *ec2.TopoInterface, egress bool, proto string, port, code int32, p peer) []RuleRef {
	var out []RuleRef
	for _, gid := range ifc.Groups {
		g := e.groups[gid]
		if g == nil {
			continue
		}
		rules := g.Ingress
		if egress {
			rules = g.Egress
		}
		for i := range rules {
			r := &rules[i]
			if portMatch(r, proto, port, code) && e.peerMatch(r, p, ifc.VpcID) {
				out = append(out, RuleRef{GroupID: g.ID, RuleID: r.ID, Egress: egress})
			}
		}
	}
	if len(out) > 1 {
		slices.SortFunc(out, func(a, b RuleRef) int {
			if c := strings.Compare(a.GroupID, b.GroupID); c != 0 {
				return c
			}
			return strings.Compare(a.RuleID, b.RuleID)
		})
	}
	return out
}

// route returns the active route of a subnet's table for addr (longest
// prefix match), or nil.
func (e *Evaluator) route(subnet string, addr netip.Addr) *ec2.TopoRoute {
	sn := e.subnets[subnet]
	if sn == nil {
		return nil
	}
	t := e.rtbs[sn.RouteTableID]
	if t == nil {
		return nil
	}
	var best *ec2.TopoRoute
	for i := range t.Routes {
		r := &t.Routes[i]
		if r.Dest.Contains(addr) && (best == nil || r.Dest.Bits() > best.Dest.Bits()) {
			best = r
		}
	}
	return best
}

// Check decides a flow.
func (e *Evaluator) Check(f Flow) Verdict {
	if f.Reply {
		orig := Flow{Src: f.Dst, Dst: f.Src, Protocol: f.Protocol, Port: f.Port, Code: f.Code}
		v := e.Check(orig)
		v.Reply = v.Allowed
		return v
	}
	proto := normProto(f.Protocol)
	var v Verdict
	src, dst := e.ifaces[f.Src.Interface], e.ifaces[f.Dst.Interface]
	for _, end := range []struct {
		ep  Endpoint
		ifc *ec2.TopoInterface
	}{{f.Src, src}, {f.Dst, dst}} {
		if end.ep.Interface != "" && end.ifc == nil {
			v.Missing = append(v.Missing, Missing{Kind: "interface", Interface: end.ep.Interface, Reason: "interface " + end.ep.Interface + " does not exist"})
		}
		if end.ep.Interface == "" && !end.ep.Addr.IsValid() {
			v.Missing = append(v.Missing, Missing{Kind: "interface", Reason: "endpoint has neither an interface nor an address"})
		}
		if end.ifc != nil && end.ifc.InstanceID != "" && instanceDown[end.ifc.InstanceState] {
			v.Missing = append(v.Missing, Missing{Kind: "interface", Interface: end.ifc.ID,
				Reason: "instance " + end.ifc.InstanceID + " is " + end.ifc.InstanceState})
		}
	}
	if len(v.Missing) > 0 {
		return v
	}
	if src == nil && dst == nil {
		v.Missing = append(v.Missing, Missing{Kind: "interface", Reason: "neither end is an interface of a VPC"})
		return v
	}
	srcPeer, dstPeer := peer{addr: f.Src.Addr}, peer{addr: f.Dst.Addr}
	if src != nil {
		srcPeer = peer{addr: src.IP, iface: src}
	}
	if dst != nil {
		dstPeer = peer{addr: dst.IP, iface: dst}
	}
	if f.Src.Host && src == nil && dst != nil {
		v.Path = "host"
	} else {
		v.Path = e.path(&v, src, dst, srcPeer, dstPeer)
	}
	base := Missing{Protocol: proto, Port: f.Port}
	if src != nil {
		v.Egress = e.allowing(src, true, proto, f.Port, f.Code, dstPeer)
		if len(v.Egress) == 0 {
			m := base
			m.Kind, m.Interface, m.Groups, m.Peer = "egress", src.ID, slices.Clone(src.Groups), dstPeer.String()
			m.Reason = fmt.Sprintf("no outbound rule of %s (groups of %s) allows %s/%d to %s",
				strings.Join(src.Groups, ", "), src.ID, proto, f.Port, dstPeer)
			v.Missing = append(v.Missing, m)
		}
	}
	if dst != nil {
		v.Ingress = e.allowing(dst, false, proto, f.Port, f.Code, srcPeer)
		if len(v.Ingress) == 0 {
			m := base
			m.Kind, m.Interface, m.Groups, m.Peer = "ingress", dst.ID, slices.Clone(dst.Groups), srcPeer.String()
			m.Reason = fmt.Sprintf("no inbound rule of %s (groups of %s) allows %s/%d from %s",
				strings.Join(dst.Groups, ", "), dst.ID, proto, f.Port, srcPeer)
			v.Missing = append(v.Missing, m)
		}
	}
	e.checkACLs(&v, f, proto, src, dst, srcPeer.addr, dstPeer.addr)
	v.Allowed = len(v.Missing) == 0
	return v
}

// path checks reachability and returns the path name, adding what is missing.
func (e *Evaluator) path(v *Verdict, src, dst *ec2.TopoInterface, srcPeer, dstPeer peer) string {
	switch {
	case src != nil && dst != nil:
		id, ok := e.peered(src.VpcID, dst.VpcID)
		if !ok {
			v.Missing = append(v.Missing, Missing{Kind: "peering", Interface: src.ID, Peer: dst.ID,
				Reason: fmt.Sprintf("%s (%s) and %s (%s) are in different VPCs with no active peering in the same region", src.ID, src.VpcID, dst.ID, dst.VpcID)})
			return ""
		}
		if id == "local" {
			return id
		}
		for _, side := range []struct {
			from *ec2.TopoInterface
			to   netip.Addr
		}{{src, dst.IP}, {dst, src.IP}} {
			r := e.route(side.from.SubnetID, side.to)
			if r == nil || r.Target != id || !r.Active {
				v.Missing = append(v.Missing, Missing{Kind: "route", Interface: side.from.ID, Peer: side.to.String(),
					Reason: fmt.Sprintf("the route table of %s has no active route to %s via %s", side.from.SubnetID, side.to, id)})
			}
		}
		return id
	case src != nil: // to the outside
		if id, ok := e.throughNAT(v, src, dstPeer.addr); ok {
			return id
		}
		e.internet(v, src, dstPeer.addr)
	default: // from the outside
		e.internet(v, dst, srcPeer.addr)
	}
	return "internet"
}

func (e *Evaluator) internet(v *Verdict, ifc *ec2.TopoInterface, outside netip.Addr) {
	if !ifc.PublicIP.IsValid() {
		v.Missing = append(v.Missing, Missing{Kind: "public-ip", Interface: ifc.ID, Peer: outside.String(),
			Reason: fmt.Sprintf("%s has no Elastic IP, so %s cannot reach it from outside the VPC", ifc.ID, outside)})
	}
	igw, ok := e.igwByVpc[ifc.VpcID]
	if !ok {
		v.Missing = append(v.Missing, Missing{Kind: "internet-gateway", Interface: ifc.ID,
			Reason: fmt.Sprintf("VPC %s has no internet gateway attached", ifc.VpcID)})
		return
	}
	r := e.route(ifc.SubnetID, outside)
	if r == nil || r.Target != igw || !r.Active {
		v.Missing = append(v.Missing, Missing{Kind: "route", Interface: ifc.ID, Peer: outside.String(),
			Reason: fmt.Sprintf("the route table of %s has no active route to %s via %s", ifc.SubnetID, outside, igw)})
	}
}

// throughNAT checks a connection from ifc to the outside address that ifc's
// subnet routes to a NAT gateway: the NAT gateway's own subnet must route
// it on to the VPC's internet gateway (ifc needs no public address; its
// packets leave from the NAT gateway's Elastic IP). ok is false when the
// route is not to a NAT gateway.
func (e *Evaluator) throughNAT(v *Verdict, ifc *ec2.TopoInterface, outside netip.Addr) (string, bool) {
	r := e.route(ifc.SubnetID, outside)
	if r == nil || !strings.HasPrefix(r.Target, "nat-") {
		return "", false
	}
	nat := e.nats[r.Target]
	if nat == nil || !r.Active {
		v.Missing = append(v.Missing, Missing{Kind: "route", Interface: ifc.ID, Peer: outside.String(),
			Reason: fmt.Sprintf("the route table of %s sends %s to %s, which is not available", ifc.SubnetID, outside, r.Target)})
		return r.Target, true
	}
	igw, ok := e.igwByVpc[ifc.VpcID]
	if !ok {
		v.Missing = append(v.Missing, Missing{Kind: "internet-gateway", Interface: ifc.ID,
			Reason: fmt.Sprintf("VPC %s has no internet gateway attached", ifc.VpcID)})
		return nat.ID, true
	}
	if on := e.route(nat.SubnetID, outside); on == nil || on.Target != igw || !on.Active {
		v.Missing = append(v.Missing, Missing{Kind: "route", Interface: ifc.ID, Peer: outside.String(),
			Reason: fmt.Sprintf("the route table of %s (subnet of %s) has no active route to %s via %s", nat.SubnetID, nat.ID, outside, igw)})
	}
	return nat.ID, true
}

// String renders the verdict for people: the allowing rules, or one line
// per missing piece.
func (v Verdict) String() string {
	var b strings.Builder
	if !v.Allowed {
		b.WriteString("denied")
		for _, m := range v.Missing {
			b.WriteString("\n  - " + m.String())
		}
		return b.String()
	}
	b.WriteString("allowed")
	if v.Reply {
		b.WriteString(" as the reply of an allowed connection")
	}
	if v.Path != "" {
		b.WriteString(" via " + v.Path)
	}
	for _, r := range v.Egress {
		b.WriteString("\n  - outbound " + r.GroupID + " " + r.RuleID)
	}
	for _, r := range v.Ingress {
		b.WriteString("\n  - inbound " + r.GroupID + " " + r.RuleID)
	}
	for _, r := range v.ACLs {
		b.WriteString("\n  - " + r.String())
	}
	return b.String()
}

// instanceDown are the instance states in which an instance's interfaces
// carry no traffic.
var instanceDown = map[string]bool{"stopped": true, "stopping": true, "shutting-down": true, "terminated": true}
