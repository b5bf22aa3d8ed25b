package ec2

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// EC2-Classic.
//
// An account with EC2-Classic (scopeMeta.Classic) has, per region, a flat
// *classic network*: instances launched without a subnet join it, with a
// private address in 10.0.0.0/8 and classic security groups (groups without
// a VPC, referenced by name or id; the default one is "default"). ElastiCache
// puts the nodes of clusters launched with cache security groups in it, on
// requester-managed interfaces whose inbound access is the set of ingress
// grants ElastiCache writes (SetInterfaceIngressGrants): TCP on the cluster's
// port from members of the authorized classic groups.
//
// Nothing of it is a stored VPC: its interfaces have no subnet and no VPC
// (eniRec.Classic). Topology exports it as a synthetic VPC with one subnet
// and a main route table with the local route, and the grants of each
// classic interface as a synthetic security group attached to it, so that
// netplane realises and enforces it and sgeval explains it exactly like a
// VPC. The synthetic ids (vpc-classic…, subnet-classic…, rtb-classic…,
// sg-grants…, sgr-classic…, sgr-grant…) contain letters that are not hex
// digits, so they never equal a real id, which is 8 or 17 hex digits, and
// the EC2 API rejects them as malformed: they are never visible there.
//
// On AWS the classic network of a region was shared by every account, so a
// grant naming another account's group admitted that account's instances.
// Here each account has its own classic network in a region: a grant (or a
// classic group rule) naming another account's group is stored, exported and
// explained, but it matches no instance, since no path joins two accounts'
// classic networks (docs/access-flows.md).

// classicCIDR is the address space of a classic network.
const classicCIDR = "10.0.0.0/8"

// classicOutboundRule is the id of the allow-all outbound rule Topology gives
// every classic group: EC2-Classic groups have no outbound rules and do not
// restrict outbound traffic.
const classicOutboundRule = "sgr-classicoutbound"

// ClassicIDs are the synthetic ids of a scope's classic network in Topology.
type ClassicIDs struct {
	VpcID, SubnetID, RouteTableID string
}

// ClassicNetwork returns the synthetic ids of the classic network of an
// account and region, as Topology exports them.
func ClassicNetwork(account, region string) ClassicIDs {
	sum := sha256.Sum256([]byte(account + "/" + region))
	h := hex.EncodeToString(sum[:])[:17]
	return ClassicIDs{VpcID: "vpc-classic" + h, SubnetID: "subnet-classic" + h, RouteTableID: "rtb-classic" + h}
}

// IsClassicVPC reports whether a Topology VPC id is a synthetic classic network's.
func IsClassicVPC(id string) bool { return strings.HasPrefix(id, "vpc-classic") }

// grantsGroupID is the id of the synthetic group carrying an interface's
// ingress grants.
func grantsGroupID(eni string) string { return "sg-grants" + strings.TrimPrefix(eni, "eni-") }

// classicSubnet is the transient subnet record new classic interfaces are
// allocated from: no id and no VPC (usedIPs(""): the classic interfaces).
func classicSubnet(az string) *subnetRec {
	return &subnetRec{CIDR: classicCIDR, AZ: az}
}

// classicAZ validates a placement zone of the region; "" picks the first.
func classicAZ(region, az string) (string, error) {
	zs := zones(region)
	if az == "" {
		return zs[0], nil
	}
	if !slices.Contains(zs, az) {
		return "", awserr.InvalidParameterValue("Invalid availability zone: [%s]", az)
	}
	return az, nil
}

// ensureClassicDefault creates the classic "default" group if the scope is
// classic and lacks it (scopes created before classic instances existed).
// Its rules are AWS's: all TCP, UDP and ICMP from the group itself.
func (t *txn) ensureClassicDefault(st *scopeTx) {
	if !st.meta.Classic {
		return
	}
	for _, g := range listT[*groupRec](st, "sg") {
		if g.VpcID == "" && g.Name == "default" {
			return
		}
	}
	g := &groupRec{ID: newID("sg-"), Owner: st.sc.Account, Name: "default", Description: "default group"}
	self := func() *groupRef { return &groupRef{Owner: st.sc.Account, GroupID: g.ID, GroupName: "default"} }
	g.Ingress = []*ruleRec{
		{ID: newID("sgr-"), Protocol: "tcp", FromPort: 0, ToPort: 65535, Group: self()},
		{ID: newID("sgr-"), Protocol: "udp", FromPort: 0, ToPort: 65535, Group: self()},
		{ID: newID("sgr-"), Protocol: "icmp", FromPort: -1, ToPort: -1, Group: self()},
	}
	st.put(g)
}

// IngressGrant admits, on an interface in the classic network, TCP on Port
// from the members of the classic group GroupName of account GroupOwner;
// CacheSecurityGroup names the cache security group that authorizes it (for
// people: rule descriptions and explanations).
type IngressGrant struct {
	CacheSecurityGroup, GroupOwner, GroupName string
	Port                                      int32
}

type grantRec struct {
	CacheSecurityGroup string `json:"csg,omitempty"`
	Owner              string `json:"owner"`
	Name               string `json:"name"`
	Port               int32  `json:"port"`
}

func cmpGrant(a, b grantRec) int {
	return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.CacheSecurityGroup, b.CacheSecurityGroup))
}

// SetInterfaceIngressGrants replaces the ingress grants of an interface in
// the classic network (a cache node's). Nothing is written when they are
// unchanged.
func (s *Service) SetInterfaceIngressGrants(ctx context.Context, account, region, id string, grants []IngressGrant) error {
	want := make([]grantRec, 0, len(grants))
	for _, g := range grants {
		if g.Port < 1 || g.Port > 65535 || g.GroupName == "" || !accountRe.MatchString(g.GroupOwner) {
			return awserr.InvalidParameterValue("Invalid ingress grant %+v: a port, a group name and a 12-digit owner are required.", g)
		}
		want = append(want, grantRec{CacheSecurityGroup: g.CacheSecurityGroup, Owner: g.GroupOwner, Name: g.GroupName, Port: g.Port})
	}
	slices.SortFunc(want, cmpGrant)
	want = slices.Compact(want)
	return s.update(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, err := lookup[*eniRec](st, "eni", id)
		if err != nil {
			return err
		}
		if !e.Classic {
			return awserr.InvalidParameterValue("Interface %s is not in EC2-Classic: use security groups.", id)
		}
		if slices.Equal(e.Grants, want) {
			return nil
		}
		mut[*eniRec](st, id).Grants = want
		return nil
	})
}

// InterfaceIngressGrants returns the grants of an interface, sorted.
func (s *Service) InterfaceIngressGrants(ctx context.Context, account, region, id string) ([]IngressGrant, error) {
	var out []IngressGrant
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, err := lookup[*eniRec](st, "eni", id)
		if err != nil {
			return err
		}
		for _, g := range e.Grants {
			out = append(out, IngressGrant{CacheSecurityGroup: g.CacheSecurityGroup, GroupOwner: g.Owner, GroupName: g.Name, Port: g.Port})
		}
		return nil
	})
	return out, err
}

// ClassicGroup returns the EC2-Classic security group name of an account in
// a region. An account without EC2-Classic, or without such a group, gets
// InvalidGroup.NotFound.
func (s *Service) ClassicGroup(ctx context.Context, account, region, name string) (GroupInfo, error) {
	var out GroupInfo
	err := s.update(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		t.ensureClassicDefault(st)
		for _, g := range listT[*groupRec](st, "sg") {
			if g.VpcID == "" && g.Name == name {
				out = GroupInfo{ID: g.ID, Name: g.Name, Description: g.Description, Owner: g.Owner,
					Ingress: topoRules(g.Ingress), Egress: topoRules(g.Egress), Tags: map[string]string{}}
				for k, v := range g.Tags {
					out.Tags[k] = v
				}
				return nil
			}
		}
		return errInvalidGroupNotFound("The security group '%s' does not exist", name)
	})
	return out, err
}

// appendClassic exports a classic scope's network: the synthetic VPC, subnet
// and main route table; its interfaces (already in topo) moved into them;
// the classic groups with their implicit outbound rule; and each classic
// interface's grants as a synthetic group attached to it.
func appendClassic(topo *Topology, st *scopeTx, firstIface, firstGroup int) {
	sc := st.sc
	ids := ClassicNetwork(sc.Account, sc.Region)
	cidr := netip.MustParsePrefix(classicCIDR)
	// Classic instances resolve with the Amazon-provided DNS server and
	// the region's domain, as the default DHCP options give a VPC.
	topo.VPCs = append(topo.VPCs, TopoVPC{Account: sc.Account, Region: sc.Region, ID: ids.VpcID, CIDR: cidr,
		DNSSupport: true, DNSHostnames: true, DHCP: &TopoDHCP{DomainNames: []string{defaultDomainName(sc.Region)}, DomainNameServers: []string{"AmazonProvidedDNS"}}})
	topo.Subnets = append(topo.Subnets, TopoSubnet{Account: sc.Account, Region: sc.Region, ID: ids.SubnetID, VpcID: ids.VpcID,
		CIDR: cidr, RouteTableID: ids.RouteTableID})
	topo.RouteTables = append(topo.RouteTables, TopoRouteTable{Account: sc.Account, Region: sc.Region, ID: ids.RouteTableID,
		VpcID: ids.VpcID, Main: true, Routes: []TopoRoute{{Dest: cidr, Target: "local", Active: true}}})
	outbound := TopoRule{ID: classicOutboundRule, Protocol: "-1", FromPort: -1, ToPort: -1, CIDR: netip.MustParsePrefix("0.0.0.0/0"),
		Description: "EC2-Classic groups do not restrict outbound traffic"}
	for i := firstGroup; i < len(topo.Groups); i++ {
		g := &topo.Groups[i]
		if g.VpcID != "" {
			continue
		}
		g.VpcID = ids.VpcID
		g.Egress = append(g.Egress, outbound)
		for _, r := range g.Ingress {
			if r.Group != nil && r.Group.VpcID == "" {
				r.Group.VpcID = ClassicNetwork(r.Group.Account, sc.Region).VpcID
			}
		}
	}
	n := len(topo.Interfaces)
	for i := firstIface; i < n; i++ {
		ti := &topo.Interfaces[i]
		e, ok := getT[*eniRec](st, ti.ID)
		if !ok || !e.Classic {
			continue
		}
		ti.SubnetID, ti.VpcID = ids.SubnetID, ids.VpcID
		if e.InstanceID != "" {
			continue // an instance's access is its classic groups'
		}
		gid := grantsGroupID(e.ID)
		g := TopoGroup{Account: sc.Account, Region: sc.Region, ID: gid, VpcID: ids.VpcID,
			Name:   "cache security groups of " + cmp.Or(strings.TrimPrefix(e.Description, "ElastiCache "), e.ID),
			Egress: []TopoRule{outbound}}
		for _, gr := range e.Grants {
			rule := TopoRule{Protocol: "tcp", FromPort: gr.Port, ToPort: gr.Port,
				Description: "cache security group " + gr.CacheSecurityGroup + ": EC2-Classic group " + gr.Name + " of " + gr.Owner}
			sum := sha256.Sum256(fmt.Appendf(nil, "%s/%s/%s/%s/%d", e.ID, gr.CacheSecurityGroup, gr.Owner, gr.Name, gr.Port))
			rule.ID = "sgr-grant" + hex.EncodeToString(sum[:])[:12]
			ref := &TopoGroupRef{Account: gr.Owner, VpcID: ClassicNetwork(gr.Owner, sc.Region).VpcID}
			if ost, err := st.t.scope(scope{gr.Owner, sc.Region}); err == nil {
				for _, cg := range listT[*groupRec](ost, "sg") {
					if cg.VpcID == "" && cg.Name == gr.Name {
						ref.GroupID = cg.ID
					}
				}
			}
			if ref.GroupID == "" {
				continue // the group is gone: the grant admits nobody
			}
			rule.Group = ref
			g.Ingress = append(g.Ingress, rule)
		}
		topo.Groups = append(topo.Groups, g)
		ti.Groups = append(ti.Groups, gid)
	}
}
