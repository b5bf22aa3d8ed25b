package vpcnet

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// outsideClients lists the outside clients that are still outside every
// VPC (one created since AddOutside took the address leaves it out).
func outsideClients(t *ec2.Topology, outside map[netip.Addr]bool) []netip.Addr {
	var out []netip.Addr
	for a := range outside {
		if !slices.ContainsFunc(t.VPCs, func(v ec2.TopoVPC) bool { return v.Contains(a) }) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// stoppedStates are instance states whose interfaces are not realised.
var stoppedStates = map[string]bool{"stopped": true, "stopping": true, "terminated": true, "shutting-down": true}

// netplaneState maps the EC2 topology to the network plane's desired state.
func netplaneState(t *ec2.Topology) netplane.State {
	var st netplane.State
	for _, v := range t.VPCs {
		st.VPCs = append(st.VPCs, netplane.VPC{ID: v.ID, CIDRs: append([]netip.Prefix{v.CIDR}, v.Secondary...), DNS: v.DNSSupport})
	}
	for _, s := range t.Subnets {
		st.Subnets = append(st.Subnets, netplane.Subnet{ID: s.ID, VPC: s.VpcID, CIDR: s.CIDR})
	}
	for _, i := range t.Interfaces {
		if i.InstanceID != "" && stoppedStates[i.InstanceState] {
			continue
		}
		if i.InterfaceType == "nat_gateway" {
			continue // realised by the router (netplane.NATGateway), not as a namespace
		}
		kind, owner := "interface", i.ID
		switch {
		case i.InstanceID != "":
			kind, owner = "instance", i.InstanceID
		case i.RequesterID == ec2.RequesterElastiCache:
			kind, owner = "cache-node", strings.TrimPrefix(i.Description, "ElastiCache ")
		}
		st.Interfaces = append(st.Interfaces, netplane.Interface{
			ID: i.ID, Subnet: i.SubnetID, PrivateIP: i.IP, Groups: i.Groups, Kind: kind, Owner: owner,
			DisableSourceDestCheck: !i.SourceDestCheck, PublicIP: i.PublicIP,
		})
	}
	// A rule referencing a managed prefix list admits exactly the list's
	// current CIDRs; an empty (or unknown) list admits nothing.
	prefixLists := make(map[string][]netip.Prefix, len(t.PrefixLists))
	for _, pl := range t.PrefixLists {
		prefixLists[pl.ID] = pl.CIDRs
	}
	rules := func(in []ec2.TopoRule) []netplane.Rule {
		out := make([]netplane.Rule, 0, len(in))
		for _, r := range in {
			nr := netplane.Rule{ID: r.ID, Protocol: r.Protocol, FromPort: int(r.FromPort), ToPort: int(r.ToPort)}
			switch {
			case r.CIDR.IsValid():
				nr.CIDRs = []netip.Prefix{r.CIDR}
			case r.Group != nil:
				nr.Groups = []string{r.Group.GroupID}
			case r.PrefixListID != "" && len(prefixLists[r.PrefixListID]) > 0:
				nr.CIDRs = prefixLists[r.PrefixListID]
			default:
				continue
			}
			out = append(out, nr)
		}
		return out
	}
	for _, g := range t.Groups {
		st.Groups = append(st.Groups, netplane.SecurityGroup{ID: g.ID, VPC: g.VpcID, Ingress: rules(g.Ingress), Egress: rules(g.Egress)})
	}
	// Peering routes: per subnet, the destinations the route table in
	// effect for it (its explicit association, else the main table) sends
	// over each peering; the union per VPC becomes the router's routes.
	tableRoutes := map[string][]ec2.TopoRoute{}
	for _, rt := range t.RouteTables {
		tableRoutes[rt.ID] = rt.Routes
	}
	type side struct{ pcx, vpc string }
	union := map[side][]netip.Prefix{}
	bySubnet := map[side]map[string][]netip.Prefix{}
	for _, sn := range t.Subnets {
		for _, r := range tableRoutes[sn.RouteTableID] {
			if !strings.HasPrefix(r.Target, "pcx-") || !r.Active {
				continue
			}
			k := side{r.Target, sn.VpcID}
			if bySubnet[k] == nil {
				bySubnet[k] = map[string][]netip.Prefix{}
			}
			bySubnet[k][sn.ID] = append(bySubnet[k][sn.ID], r.Dest)
			if !slices.Contains(union[k], r.Dest) {
				union[k] = append(union[k], r.Dest)
			}
		}
	}
	peeringSide := func(pcx, vpc string) netplane.PeeringSide {
		k := side{pcx, vpc}
		sr := bySubnet[k]
		if sr == nil {
			sr = map[string][]netip.Prefix{} // no subnet routes over it: nothing may leave
		}
		return netplane.PeeringSide{VPC: vpc, Routes: union[k], SubnetRoutes: sr}
	}
	for _, p := range t.Peerings {
		st.Peerings = append(st.Peerings, netplane.Peering{
			ID:        p.ID,
			Requester: peeringSide(p.ID, p.RequesterVpcID),
			Accepter:  peeringSide(p.ID, p.AccepterVpcID),
		})
	}
	// Internet gateways: attached ones only, with per subnet the
	// destinations its route table sends to the gateway.
	for _, g := range t.InternetGateways {
		if g.VpcID == "" {
			continue
		}
		routes := map[string][]netip.Prefix{}
		for _, sn := range t.Subnets {
			if sn.VpcID != g.VpcID {
				continue
			}
			for _, r := range tableRoutes[sn.RouteTableID] {
				if r.Target == g.ID && r.Active {
					routes[sn.ID] = append(routes[sn.ID], r.Dest)
				}
			}
		}
		st.InternetGateways = append(st.InternetGateways, netplane.InternetGateway{ID: g.ID, VPC: g.VpcID, SubnetRoutes: routes,
			NATGateways: natGateways(t, g.VpcID, tableRoutes)})
	}
	for _, a := range t.NetworkACLs {
		na := netplane.NetworkACL{ID: a.ID, VPC: a.VpcID, Subnets: a.Subnets}
		for _, e := range a.Entries {
			ne := netplane.ACLEntry{Number: int(e.Number), Protocol: e.Protocol, FromPort: int(e.FromPort), ToPort: int(e.ToPort), CIDR: e.CIDR, Allow: e.Allow}
			if e.Egress {
				na.Egress = append(na.Egress, ne)
			} else {
				na.Ingress = append(na.Ingress, ne)
			}
		}
		st.NetworkACLs = append(st.NetworkACLs, na)
	}
	return st
}

// natGateways maps the NAT gateways of vpc, with per subnet the
// destinations its route table sends to each.
func natGateways(t *ec2.Topology, vpc string, tableRoutes map[string][]ec2.TopoRoute) []netplane.NATGateway {
	var out []netplane.NATGateway
	for _, n := range t.NATGateways {
		if n.VpcID != vpc {
			continue
		}
		routes := map[string][]netip.Prefix{}
		for _, sn := range t.Subnets {
			if sn.VpcID != vpc {
				continue
			}
			for _, r := range tableRoutes[sn.RouteTableID] {
				if r.Target == n.ID && r.Active {
					routes[sn.ID] = append(routes[sn.ID], r.Dest)
				}
			}
		}
		out = append(out, netplane.NATGateway{ID: n.ID, Subnet: n.SubnetID, PublicIP: n.PublicIP, SubnetRoutes: routes})
	}
	return out
}
