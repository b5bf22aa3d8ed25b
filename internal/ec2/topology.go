package ec2

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/store"
)

// Topology is the whole network model of some scopes as plain values: what
// the netplane reconciler realises and what sgeval reasons about. Lists are
// sorted by (Account, Region, ID). A Topology shares nothing with the
// Service's state and may be kept and modified freely.
type Topology struct {
	// Revision is the store revision the topology was read at.
	Revision         uint64
	VPCs             []TopoVPC
	Subnets          []TopoSubnet
	RouteTables      []TopoRouteTable
	Interfaces       []TopoInterface
	Groups           []TopoGroup
	Peerings         []TopoPeering // active peerings only
	ElasticIPs       []TopoElasticIP
	InternetGateways []TopoInternetGateway
	// NATGateways are the NAT gateways available (not failed or deleted).
	NATGateways []TopoNATGateway
	// PrefixLists are the managed prefix lists the rules may reference:
	// every customer-managed list, and the AWS-managed ones a rule names.
	PrefixLists []TopoPrefixList
	// NetworkACLs are the network ACLs, each with the subnets it is in
	// effect for (explicitly associated, or the default ACL's implicit
	// ones).
	NetworkACLs []TopoNetworkACL
}

// TopoNetworkACL is a network ACL with its numbered entries (the "*"
// entries, deny all, are implicit) and the subnets it applies to.
type TopoNetworkACL struct {
	Account, Region, ID, VpcID string
	IsDefault                  bool
	Subnets                    []string
	// Entries are sorted by direction (ingress first) and number.
	Entries []TopoACLEntry
}

// TopoACLEntry is one numbered ACL entry. Protocol is "-1" or a protocol
// number ("6", "17", "1", "58", …). For TCP and UDP, FromPort and ToPort
// are the destination port range; for ICMP they are the type and code (-1:
// any); otherwise -1. CIDR is the source (ingress) or destination (egress).
type TopoACLEntry struct {
	Number           int32
	Egress           bool
	Protocol         string
	FromPort, ToPort int32
	CIDR             netip.Prefix
	Allow            bool
}

// TopoPrefixList is a managed prefix list with its current entries. A rule
// with its PrefixListID admits exactly these CIDRs (none when empty).
type TopoPrefixList struct {
	Account, Region, ID string
	CIDRs               []netip.Prefix
}

// TopoVPC is a VPC.
type TopoVPC struct {
	Account, Region, ID string
	CIDR                netip.Prefix
	// Secondary are its secondary IPv4 CIDR blocks.
	Secondary []netip.Prefix
	// DHCP is its DHCP options set; nil when it has none (associated
	// with "default").
	DHCP      *TopoDHCP
	IsDefault bool
	// DNSSupport and DNSHostnames are the VPC attributes enableDnsSupport
	// (the Amazon-provided DNS server answers in the VPC) and
	// enableDnsHostnames (it also resolves the instances' private DNS
	// names, with DNSSupport).
	DNSSupport, DNSHostnames bool
}

// TopoDHCP is the part of a DHCP options set instances' resolvers use:
// the domain names to search and the DNS servers ("AmazonProvidedDNS" or
// addresses), each empty when the set has no such option.
type TopoDHCP struct {
	DomainNames, DomainNameServers []string
}

// Contains reports whether a is in one of the VPC's IPv4 blocks.
func (v TopoVPC) Contains(a netip.Addr) bool {
	return v.CIDR.Contains(a) || slices.ContainsFunc(v.Secondary, func(p netip.Prefix) bool { return p.Contains(a) })
}

// TopoSubnet is a subnet; RouteTableID is the table in effect (its explicit
// association, else the VPC's main table).
type TopoSubnet struct {
	Account, Region, ID, VpcID, AZ string
	CIDR                           netip.Prefix
	RouteTableID                   string
}

// TopoRouteTable is a route table.
type TopoRouteTable struct {
	Account, Region, ID, VpcID string
	Main                       bool
	Subnets                    []string // explicitly associated subnets
	Routes                     []TopoRoute
}

// TopoRoute is a route. Target is "local", igw-…, pcx-…, i-…, eni-… or nat-…;
// Active is false for a blackhole (target gone, detached or not active).
type TopoRoute struct {
	Dest   netip.Prefix
	Target string
	Active bool
}

// TopoInterface is a network interface: an instance's (InstanceID set) or a
// requester-managed one (RequesterID set, e.g. amazon-elasticache).
type TopoInterface struct {
	Account, Region, ID, SubnetID, VpcID, AZ string
	IP                                       netip.Addr
	MAC                                      string
	Groups                                   []string
	InstanceID                               string
	InstanceState                            string // running, stopped, … ("" without instance)
	DeviceIndex                              int32  // attachment's device index (0: the primary interface)
	RequesterID                              string
	InterfaceType                            string
	Description                              string
	PublicIP                                 netip.Addr // associated Elastic IP, else public address assigned at launch, if any
	// SourceDestCheck false lets the interface send packets with another
	// source address (NAT instances).
	SourceDestCheck bool
	AllocationID    string
	// MetadataHTTP is true on the primary interface of an instance whose
	// metadata endpoint is enabled (MetadataOptions.HttpEndpoint).
	MetadataHTTP bool
	// MetadataIPv6 is true when its IPv6 endpoint is enabled too
	// (MetadataOptions.HttpProtocolIpv6).
	MetadataIPv6 bool
}

// TopoGroup is a security group with its rules.
type TopoGroup struct {
	Account, Region, ID, VpcID, Name string
	Ingress, Egress                  []TopoRule
}

// TopoRule is one rule; exactly one of CIDR, PrefixListID and Group is set.
// Protocol is "-1", "tcp", "udp", "icmp", "icmpv6" or a number; FromPort and
// ToPort are -1 when the protocol has no ports (ICMP: type and code).
type TopoRule struct {
	ID, Protocol     string
	FromPort, ToPort int32
	CIDR             netip.Prefix
	PrefixListID     string
	Group            *TopoGroupRef
	Description      string
}

// TopoGroupRef names a referenced group; PeeringID is set when the group is
// in a peered VPC.
type TopoGroupRef struct {
	Account, GroupID, VpcID, PeeringID string
}

// TopoPeering is an active VPC peering.
type TopoPeering struct {
	ID, Region                       string
	RequesterAccount, RequesterVpcID string
	AccepterAccount, AccepterVpcID   string
	RequesterCIDR, AccepterCIDR      netip.Prefix
}

// TopoElasticIP is an Elastic IP and its association, if any.
type TopoElasticIP struct {
	Account, Region, AllocationID, AssociationID string
	PublicIP                                     netip.Addr
	InterfaceID                                  string
	PrivateIP                                    netip.Addr
}

// TopoInternetGateway is an internet gateway (VpcID empty when detached).
type TopoInternetGateway struct {
	Account, Region, ID, VpcID string
}

// TopoNATGateway is a public NAT gateway: its interface (InterfaceID,
// PrivateIP, in SubnetID) and its Elastic IP (PublicIP).
type TopoNATGateway struct {
	Account, Region, ID, VpcID, SubnetID, InterfaceID string
	PrivateIP, PublicIP                               netip.Addr
}

// TopologySelector chooses the scopes of a Topology; empty fields match all.
type TopologySelector struct {
	Account, Region string
}

// Topology returns the network model of the selected scopes, read in one
// transaction. Scopes never used are absent (they are created on first use).
func (s *Service) Topology(ctx context.Context, sel TopologySelector) (*Topology, error) {
	topo := &Topology{}
	err := s.st.View(ctx, func(tx store.Tx) error {
		topo.Revision = tx.Revision()
		t := &txn{s: s, tx: tx, now: s.now(), scopes: map[scope]*scopeTx{}}
		var scs []scope
		err := tx.Scan(scopeIndexPrefix, func(key string, _ []byte) error {
			acct, rg, ok := strings.Cut(key[len(scopeIndexPrefix):], "/")
			if ok && (sel.Account == "" || sel.Account == acct) && (sel.Region == "" || sel.Region == rg) {
				scs = append(scs, scope{acct, rg})
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list ec2 scopes: %w", err)
		}
		seenPcx := map[string]bool{}
		classic := false
		for _, sc := range scs {
			st, err := t.scope(sc)
			if err != nil {
				return err
			}
			appendTopology(topo, st, seenPcx)
			classic = classic || st.meta.Classic
		}
		if classic { // the synthetic objects were appended after each scope's
			sortTopo(topo.VPCs, func(v TopoVPC) [3]string { return [3]string{v.Account, v.Region, v.ID} })
			sortTopo(topo.Subnets, func(v TopoSubnet) [3]string { return [3]string{v.Account, v.Region, v.ID} })
			sortTopo(topo.RouteTables, func(v TopoRouteTable) [3]string { return [3]string{v.Account, v.Region, v.ID} })
			sortTopo(topo.Groups, func(v TopoGroup) [3]string { return [3]string{v.Account, v.Region, v.ID} })
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return topo, nil
}

// secondaryOf returns a VPC's secondary blocks, nil when it has none.
func secondaryOf(v *vpcRec) []netip.Prefix {
	if len(v.Secondary) == 0 {
		return nil
	}
	return v.cidrs()[1:]
}

func sortTopo[T any](s []T, key func(T) [3]string) {
	slices.SortStableFunc(s, func(a, b T) int {
		ka, kb := key(a), key(b)
		return cmp.Or(strings.Compare(ka[0], kb[0]), strings.Compare(ka[1], kb[1]), strings.Compare(ka[2], kb[2]))
	})
}

func prefixOf(s string) netip.Prefix {
	p, _ := netip.ParsePrefix(s)
	return p
}

func addrOf(s string) netip.Addr {
	a, _ := netip.ParseAddr(s)
	return a
}

func topoRules(rs []*ruleRec) []TopoRule {
	out := make([]TopoRule, 0, len(rs))
	for _, r := range rs {
		tr := TopoRule{ID: r.ID, Protocol: r.Protocol, FromPort: r.FromPort, ToPort: r.ToPort, PrefixListID: r.PrefixList, Description: r.Description}
		switch {
		case r.CIDRv4 != "":
			tr.CIDR = prefixOf(r.CIDRv4)
		case r.CIDRv6 != "":
			tr.CIDR = prefixOf(r.CIDRv6)
		case r.Group != nil:
			tr.Group = &TopoGroupRef{Account: r.Group.Owner, GroupID: r.Group.GroupID, VpcID: r.Group.VpcID, PeeringID: r.Group.PeeringID}
		}
		out = append(out, tr)
	}
	return out
}

func appendTopology(topo *Topology, st *scopeTx, seenPcx map[string]bool) {
	sc := st.sc
	firstIface, firstGroup := len(topo.Interfaces), len(topo.Groups)
	if st.meta.Classic {
		defer func() { appendClassic(topo, st, firstIface, firstGroup) }()
	}
	mainRtb := map[string]string{}  // vpc -> main table
	assocRtb := map[string]string{} // subnet -> table
	for _, r := range listT[*rtbRec](st, "rtb") {
		tr := TopoRouteTable{Account: sc.Account, Region: sc.Region, ID: r.ID, VpcID: r.VpcID, Main: r.Main}
		if r.Main {
			mainRtb[r.VpcID] = r.ID
		}
		for _, a := range r.Assocs {
			tr.Subnets = append(tr.Subnets, a.SubnetID)
			assocRtb[a.SubnetID] = r.ID
		}
		for _, rt := range r.Routes {
			target := cmp.Or(rt.Gateway, rt.PeeringID, rt.InstanceID, rt.ENIID, rt.NatID)
			tr.Routes = append(tr.Routes, TopoRoute{Dest: prefixOf(rt.Dest), Target: target, Active: routeState(st, r.VpcID, rt) == "active"})
		}
		topo.RouteTables = append(topo.RouteTables, tr)
	}
	for _, v := range listT[*vpcRec](st, "vpc") {
		topo.VPCs = append(topo.VPCs, TopoVPC{Account: sc.Account, Region: sc.Region, ID: v.ID, CIDR: prefixOf(v.CIDR), Secondary: secondaryOf(v), DHCP: topoDHCP(st, v), IsDefault: v.IsDefault,
			DNSSupport: v.DNSSupport, DNSHostnames: v.DNSHostnames})
	}
	for _, sn := range listT[*subnetRec](st, "subnet") {
		topo.Subnets = append(topo.Subnets, TopoSubnet{Account: sc.Account, Region: sc.Region, ID: sn.ID, VpcID: sn.VpcID, AZ: sn.AZ,
			CIDR: prefixOf(sn.CIDR), RouteTableID: cmp.Or(assocRtb[sn.ID], mainRtb[sn.VpcID])})
	}
	for _, e := range listT[*eniRec](st, "eni") {
		ti := TopoInterface{Account: sc.Account, Region: sc.Region, ID: e.ID, SubnetID: e.SubnetID, VpcID: e.VpcID, AZ: e.AZ,
			IP: addrOf(e.PrivateIP), MAC: e.MAC, Groups: slices.Clone(e.Groups), InstanceID: e.InstanceID, DeviceIndex: e.DeviceIndex, RequesterID: e.RequesterID,
			InterfaceType: e.InterfaceType, Description: e.Description, AllocationID: e.AllocationID,
			SourceDestCheck: e.SourceDestCheck}
		if i, ok := getT[*instanceRec](st, e.InstanceID); ok {
			ti.InstanceState = i.State
			ti.MetadataHTTP = i.PrimaryENI == e.ID && i.Attrs.Meta.Endpoint != "disabled"
			ti.MetadataIPv6 = ti.MetadataHTTP && i.Attrs.Meta.IPv6 == "enabled"
		}
		if a, ok := getT[*addressRec](st, e.AllocationID); ok {
			ti.PublicIP = addrOf(a.PublicIP)
		} else if e.PublicIP != "" {
			ti.PublicIP = addrOf(e.PublicIP)
		}
		topo.Interfaces = append(topo.Interfaces, ti)
	}
	for _, g := range listT[*groupRec](st, "sg") {
		topo.Groups = append(topo.Groups, TopoGroup{Account: sc.Account, Region: sc.Region, ID: g.ID, VpcID: g.VpcID, Name: g.Name,
			Ingress: topoRules(g.Ingress), Egress: topoRules(g.Egress)})
	}
	appendServicePeering(topo, st, firstIface)
	for _, p := range listT[*pcxRec](st, "pcx") {
		if p.Status != "active" || seenPcx[p.ID] {
			continue
		}
		seenPcx[p.ID] = true
		topo.Peerings = append(topo.Peerings, TopoPeering{ID: p.ID, Region: p.Region, RequesterAccount: p.RequesterOwner, RequesterVpcID: p.RequesterVpc,
			AccepterAccount: p.AccepterOwner, AccepterVpcID: p.AccepterVpc, RequesterCIDR: prefixOf(p.RequesterCIDR), AccepterCIDR: prefixOf(p.AccepterCIDR)})
	}
	for _, g := range listT[*natRec](st, "nat") {
		if g.State != "available" {
			continue
		}
		topo.NATGateways = append(topo.NATGateways, TopoNATGateway{Account: sc.Account, Region: sc.Region, ID: g.ID, VpcID: g.VpcID,
			SubnetID: g.SubnetID, InterfaceID: g.ENIID, PrivateIP: addrOf(g.PrivateIP), PublicIP: addrOf(g.PublicIP)})
	}
	for _, a := range listT[*addressRec](st, "eip") {
		topo.ElasticIPs = append(topo.ElasticIPs, TopoElasticIP{Account: sc.Account, Region: sc.Region, AllocationID: a.ID, AssociationID: a.AssociationID,
			PublicIP: addrOf(a.PublicIP), InterfaceID: a.ENIID, PrivateIP: addrOf(a.PrivateIP)})
	}
	for _, g := range listT[*igwRec](st, "igw") {
		topo.InternetGateways = append(topo.InternetGateways, TopoInternetGateway{Account: sc.Account, Region: sc.Region, ID: g.ID, VpcID: g.VpcID})
	}
	appendPrefixLists(topo, st)
	appendNetworkACLs(topo, st)
}

// appendNetworkACLs adds the scope's network ACLs.
func appendNetworkACLs(topo *Topology, st *scopeTx) {
	assocs := aclAssociations(st)
	for _, a := range listT[*aclRec](st, "acl") {
		ta := TopoNetworkACL{Account: st.sc.Account, Region: st.sc.Region, ID: a.ID, VpcID: a.VpcID, IsDefault: a.IsDefault}
		for _, as := range assocs[a.ID] {
			ta.Subnets = append(ta.Subnets, as.Subnet)
		}
		for _, e := range a.entries() {
			te := TopoACLEntry{Number: e.Number, Egress: e.Egress, Protocol: e.Protocol, FromPort: -1, ToPort: -1,
				CIDR: prefixOf(cmp.Or(e.CIDR, e.IPv6CIDR)), Allow: e.Action == "allow"}
			switch {
			case e.HasPorts:
				te.FromPort, te.ToPort = e.FromPort, e.ToPort
			case e.HasICMP:
				te.FromPort, te.ToPort = e.IcmpType, e.IcmpCode
			}
			ta.Entries = append(ta.Entries, te)
		}
		topo.NetworkACLs = append(topo.NetworkACLs, ta)
	}
}

// appendPrefixLists adds the scope's prefix lists: its own, and AWS's that
// one of its rules references.
func appendPrefixLists(topo *Topology, st *scopeTx) {
	add := func(r *plRec) {
		tp := TopoPrefixList{Account: st.sc.Account, Region: st.sc.Region, ID: r.ID, CIDRs: make([]netip.Prefix, 0, len(r.Entries))}
		for _, e := range r.Entries {
			tp.CIDRs = append(tp.CIDRs, prefixOf(e.CIDR))
		}
		topo.PrefixLists = append(topo.PrefixLists, tp)
	}
	referenced := map[string]bool{}
	for _, g := range listT[*groupRec](st, "sg") {
		for _, r := range g.Ingress {
			referenced[r.PrefixList] = true
		}
		for _, r := range g.Egress {
			referenced[r.PrefixList] = true
		}
	}
	for _, r := range awsManaged(st.sc.Region) {
		if referenced[r.ID] {
			add(r)
		}
	}
	for _, r := range listT[*plRec](st, "pl") {
		add(r)
	}
}
