package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// The kernel checker. What the kernel must hold is derived from the
// service's desired state as the API shows it, by the naming and layout
// internal/netplane documents (doc.go): a router namespace <prefix>-<vpc>
// per VPC with one nft table "inet <prefix>"; per network interface a
// namespace <prefix>-<eni> whose eth0 holds the address, a veth end
// <prefix>-i<sha256(eni)> in the router with the subnet's gateway as a /32
// and a /32 route to the interface, chains in-<eni> and out-<eni> reached
// through the ingress and egress verdict maps, one rule per security
// group rule (commented with its sgr- id), and a set per referenced group
// holding its members' addresses; and per cache node one engine process
// working in the node's directory inside the node's namespace. Both sides
// are flattened to sets of facts ("netns X", "route X/10.0.0.5/32 dev Y",
// …); a fact only expected is missing, one only observed is orphaned.

// netSnapshot is the network part of the desired state, read through the API.
type netSnapshot struct {
	vpcs    []string
	subnets map[string]netip.Prefix
	enis    []eniInfo
	// gateways are the attached internet gateways: VPC -> gateway id and
	// the destinations the VPC's route tables in effect send to it.
	gateways map[string]gateway
	rules    []ruleInfo
	nodes    []nodeInfo
	// problems are inconsistencies visible in the API alone: an interface
	// no node or instance owns, a node without its interface.
	problems []violation
}

type gateway struct {
	id    string
	dests []string // "default" or a CIDR
}

type eniInfo struct {
	id, vpc, subnet string
	ip, public      netip.Addr
	groups          []string
	desc, instance  string
	requester       string
}

type ruleInfo struct{ id, group, ref string } // ref: the referenced group, if any

// nodeInfo is one cache node: its engine node id (account.region.cluster.node)
// and interface ("" when the API shows none).
type nodeInfo struct{ engineID, eni string }

func snapshotNet(ctx context.Context, s *server, clusters []ectypes.CacheCluster, groups []ec2types.SecurityGroup) (netSnapshot, error) {
	snap := netSnapshot{subnets: map[string]netip.Prefix{}, gateways: map[string]gateway{}}
	vpcs, err := s.ec2.DescribeVpcs(ctx, &awsec2.DescribeVpcsInput{})
	if err != nil {
		return snap, fmt.Errorf("describe vpcs: %w", err)
	}
	for _, v := range vpcs.Vpcs {
		snap.vpcs = append(snap.vpcs, aws.ToString(v.VpcId))
	}
	subnets, err := s.ec2.DescribeSubnets(ctx, &awsec2.DescribeSubnetsInput{})
	if err != nil {
		return snap, fmt.Errorf("describe subnets: %w", err)
	}
	for _, sn := range subnets.Subnets {
		p, err := netip.ParsePrefix(aws.ToString(sn.CidrBlock))
		if err != nil {
			return snap, fmt.Errorf("subnet %s: %w", aws.ToString(sn.SubnetId), err)
		}
		snap.subnets[aws.ToString(sn.SubnetId)] = p
	}
	if err := snap.readGateways(ctx, s, subnets.Subnets); err != nil {
		return snap, err
	}
	enis, err := s.ec2.DescribeNetworkInterfaces(ctx, &awsec2.DescribeNetworkInterfacesInput{})
	if err != nil {
		return snap, fmt.Errorf("describe network interfaces: %w", err)
	}
	for _, e := range enis.NetworkInterfaces {
		ip, err := netip.ParseAddr(aws.ToString(e.PrivateIpAddress))
		if err != nil {
			return snap, fmt.Errorf("interface %s: %w", aws.ToString(e.NetworkInterfaceId), err)
		}
		info := eniInfo{id: aws.ToString(e.NetworkInterfaceId), vpc: aws.ToString(e.VpcId), subnet: aws.ToString(e.SubnetId),
			ip: ip, desc: aws.ToString(e.Description), requester: aws.ToString(e.RequesterId)}
		if e.Attachment != nil {
			info.instance = aws.ToString(e.Attachment.InstanceId)
		}
		if e.Association != nil {
			info.public, _ = netip.ParseAddr(aws.ToString(e.Association.PublicIp))
		}
		for _, g := range e.Groups {
			info.groups = append(info.groups, aws.ToString(g.GroupId))
		}
		snap.enis = append(snap.enis, info)
	}
	rules, err := s.ec2.DescribeSecurityGroupRules(ctx, &awsec2.DescribeSecurityGroupRulesInput{MaxResults: aws.Int32(1000)})
	if err != nil {
		return snap, fmt.Errorf("describe security group rules: %w", err)
	}
	for _, r := range rules.SecurityGroupRules {
		ri := ruleInfo{id: aws.ToString(r.SecurityGroupRuleId), group: aws.ToString(r.GroupId)}
		if r.ReferencedGroupInfo != nil {
			ri.ref = aws.ToString(r.ReferencedGroupInfo.GroupId)
		}
		snap.rules = append(snap.rules, ri)
	}
	snap.matchInterfaces(s.account, clusters)
	snap.servicePeering(s.account, clusters)
	return snap, nil
}

// readGateways finds the attached internet gateways and what the route
// tables in effect for the VPC's subnets send to each.
func (snap *netSnapshot) readGateways(ctx context.Context, s *server, subnets []ec2types.Subnet) error {
	igws, err := s.ec2.DescribeInternetGateways(ctx, &awsec2.DescribeInternetGatewaysInput{})
	if err != nil {
		return fmt.Errorf("describe internet gateways: %w", err)
	}
	tables, err := s.ec2.DescribeRouteTables(ctx, &awsec2.DescribeRouteTablesInput{})
	if err != nil {
		return fmt.Errorf("describe route tables: %w", err)
	}
	main, explicit := map[string]ec2types.RouteTable{}, map[string]ec2types.RouteTable{}
	for _, t := range tables.RouteTables {
		for _, a := range t.Associations {
			switch {
			case aws.ToBool(a.Main):
				main[aws.ToString(t.VpcId)] = t
			case a.SubnetId != nil:
				explicit[aws.ToString(a.SubnetId)] = t
			}
		}
	}
	for _, g := range igws.InternetGateways {
		for _, a := range g.Attachments {
			vpc := aws.ToString(a.VpcId)
			gw := gateway{id: aws.ToString(g.InternetGatewayId)}
			for _, sn := range subnets {
				if aws.ToString(sn.VpcId) != vpc {
					continue
				}
				t, ok := explicit[aws.ToString(sn.SubnetId)]
				if !ok {
					t = main[vpc]
				}
				for _, r := range t.Routes {
					if aws.ToString(r.GatewayId) != gw.id || r.State == ec2types.RouteStateBlackhole {
						continue
					}
					d := aws.ToString(r.DestinationCidrBlock)
					if d == "0.0.0.0/0" {
						d = "default"
					}
					if !slices.Contains(gw.dests, d) {
						gw.dests = append(gw.dests, d)
					}
				}
			}
			snap.gateways[vpc] = gw
		}
	}
	return nil
}

// matchInterfaces pairs cache nodes with their interfaces (by the
// description ElastiCache gives them) and records interfaces no one owns.
func (snap *netSnapshot) matchInterfaces(account string, clusters []ectypes.CacheCluster) {
	owner := map[string]int{} // description -> interfaces with it
	for _, e := range snap.enis {
		owner[e.desc]++
	}
	wanted := map[string]bool{}
	for _, c := range clusters {
		id := aws.ToString(c.CacheClusterId)
		if aws.ToString(c.Engine) == "memcached" {
			wanted["ElastiCache "+id+" configuration endpoint"] = true
		}
		for _, n := range c.CacheNodes {
			desc := "ElastiCache " + id + "-" + aws.ToString(n.CacheNodeId)
			wanted[desc] = true
			ni := nodeInfo{engineID: account + "." + region + "." + id + "." + aws.ToString(n.CacheNodeId)}
			for _, e := range snap.enis {
				if e.desc == desc {
					ni.eni = e.id
				}
			}
			if ni.eni == "" {
				snap.problems = append(snap.problems, violation{"api-missing", "interface of node " + ni.engineID, "no network interface described " + desc})
			}
			snap.nodes = append(snap.nodes, ni)
		}
	}
	for _, e := range snap.enis {
		switch {
		case e.instance != "":
		case e.requester != "" && wanted[e.desc] && owner[e.desc] == 1:
		case e.requester != "" && wanted[e.desc]:
			snap.problems = append(snap.problems, violation{"api-orphaned", "interface " + e.id, fmt.Sprintf("%d interfaces described %q", owner[e.desc], e.desc)})
		default:
			snap.problems = append(snap.problems, violation{"api-orphaned", "interface " + e.id, fmt.Sprintf("no node or instance owns it (%q, requester %q)", e.desc, e.requester)})
		}
	}
}

// linkName repeats netplane's name of an interface's veth end in its router.
func linkName(prefix string, role byte, id string) string {
	sum := sha256.Sum256([]byte(id))
	return prefix + "-" + string(role) + hex.EncodeToString(sum[:])[:15-len(prefix)-2]
}

// facts is a set of kernel facts.
type facts map[string]bool

func (f facts) add(format string, args ...any) { f[fmt.Sprintf(format, args...)] = true }

// expectedKernel is what the kernel must hold for the snapshot.
func expectedKernel(prefix string, snap netSnapshot) facts {
	f := facts{}
	groupsOf := map[string][]ruleInfo{}
	for _, r := range snap.rules {
		groupsOf[r.group] = append(groupsOf[r.group], r)
	}
	for _, vpc := range snap.vpcs {
		router := prefix + "-" + vpc
		f.add("netns %s", router)
		f.add("table %s/inet %s", router, prefix)
		referenced := map[string]bool{}
		members := map[string][]netip.Addr{}
		for _, e := range snap.enis {
			if e.vpc != vpc {
				continue
			}
			for _, g := range e.groups {
				members[g] = append(members[g], e.ip)
			}
		}
		for _, e := range snap.enis {
			if e.vpc != vpc {
				continue
			}
			ns, link := prefix+"-"+e.id, linkName(prefix, 'i', e.id)
			sn := snap.subnets[e.subnet]
			gw := sn.Masked().Addr().Next()
			f.add("netns %s", ns)
			f.add("addr %s/eth0 %s/%d", ns, e.ip, sn.Bits())
			f.add("route %s/%s dev eth0", ns, sn.Masked())
			f.add("route %s/default via %s dev eth0", ns, gw)
			f.add("link %s/%s", router, link)
			f.add("addr %s/%s %s/32", router, link, gw)
			f.add("route %s/%s/32 dev %s", router, e.ip, link)
			f.add("chain %s/in-%s", router, e.id)
			f.add("chain %s/out-%s", router, e.id)
			f.add("vmap %s/ingress %s -> in-%s", router, link, e.id)
			f.add("vmap %s/egress %s -> out-%s", router, link, e.id)
			for _, g := range e.groups {
				for _, r := range groupsOf[g] {
					f.add("rule %s/%s", router, r.id)
					if r.ref != "" {
						referenced[r.ref] = true
					}
				}
			}
		}
		if gw, ok := snap.gateways[vpc]; ok {
			expectedGateway(f, prefix, router, vpc, gw, snap.enis)
		}
		for g := range referenced {
			f.add("set %s/%s", router, g)
			for _, a := range members[g] {
				f.add("member %s/%s %s", router, g, a)
			}
		}
	}
	for _, n := range snap.nodes {
		f.add("engine %s in %s", n.engineID, cmpOr(n.eni, "?", prefix+"-"+n.eni))
	}
	return f
}

// expectedGateway adds the facts of an internet gateway: the internet
// namespace, the veth pair between it and the router (169.254.0.1 on the
// internet side, .2 on the router's), the router's routes to it, the
// internet's routes to the public addresses, and the router's 1:1 NAT maps.
func expectedGateway(f facts, prefix, router, vpc string, gw gateway, enis []eniInfo) {
	internet, link := prefix+"-internet", linkName(prefix, 'g', gw.id)
	f.add("netns %s", internet)
	f.add("link %s/%s", router, link)
	f.add("addr %s/%s 169.254.0.2/32", router, link)
	f.add("link %s/%s", internet, link)
	f.add("addr %s/%s 169.254.0.1/32", internet, link)
	for _, d := range gw.dests {
		f.add("route %s/%s via 169.254.0.1 dev %s", router, d, link)
	}
	for _, e := range enis {
		if e.vpc != vpc || !e.public.IsValid() {
			continue
		}
		f.add("route %s/%s/32 via 169.254.0.2 dev %s", internet, e.public, link)
		f.add("nat %s/eip-dnat %s -> %s", router, e.public, e.ip)
		f.add("nat %s/eip-snat %s -> %s", router, e.ip, e.public)
	}
}

func cmpOr(v, ifEmpty, otherwise string) string {
	if v == "" {
		return ifEmpty
	}
	return otherwise
}

// diffFacts returns the facts only expected (missing) and only observed
// (orphaned), sorted.
func diffFacts(want, got facts) (missing, orphaned []string) {
	for k := range want {
		if !got[k] {
			missing = append(missing, k)
		}
	}
	for k := range got {
		if !want[k] {
			orphaned = append(orphaned, k)
		}
	}
	slices.Sort(missing)
	slices.Sort(orphaned)
	return missing, orphaned
}

// kernelViolations turns a diff into violations.
func kernelViolations(missing, orphaned []string) []violation {
	var out []violation
	for _, m := range missing {
		what, detail, _ := strings.Cut(m, " ")
		out = append(out, violation{"kernel-missing", what, detail})
	}
	for _, o := range orphaned {
		what, detail, _ := strings.Cut(o, " ")
		out = append(out, violation{"kernel-orphaned", what, detail})
	}
	return out
}
