package ec2

import (
	"context"
	"net/netip"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Secondary IPv4 CIDR blocks of VPCs (AssociateVpcCidrBlock,
// DisassociateVpcCidrBlock) with AWS's rules: /16 to /28, no overlap with
// the VPC's blocks or with a route of its tables, at most maxVPCCIDRs blocks
// (the primary included), the private range of the primary block (or a
// public one), 198.19.0.0/16 never; each block gets a local route in every
// table of the VPC. Subnets may be created in any block; the network plane
// realises every block of the VPC (TopoVPC.Secondary).

// vpcCIDR is a secondary IPv4 CIDR block of a VPC.
type vpcCIDR struct {
	AssocID string `json:"assocId"`
	CIDR    string `json:"cidr"`
}

// maxVPCCIDRs is AWS's default quota of IPv4 CIDR blocks per VPC.
const maxVPCCIDRs = 5

// cidrs returns the VPC's IPv4 blocks, the primary first.
func (r *vpcRec) cidrs() []netip.Prefix {
	out := []netip.Prefix{prefixOf(r.CIDR)}
	for _, c := range r.Secondary {
		out = append(out, prefixOf(c.CIDR))
	}
	return out
}

// cidrStrings returns the VPC's IPv4 blocks as strings, the primary first.
func (r *vpcRec) cidrStrings() []string {
	out := []string{r.CIDR}
	for _, c := range r.Secondary {
		out = append(out, c.CIDR)
	}
	return out
}

// cidrAssocs returns the VPC's CidrBlockAssociationSet.
func (r *vpcRec) cidrAssocs() []ec2api.VpcCidrBlockAssociation {
	out := []ec2api.VpcCidrBlockAssociation{{AssociationId: ptr(r.CIDRAssocID), CidrBlock: ptr(r.CIDR),
		CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr("associated")}}}
	for _, c := range r.Secondary {
		out = append(out, ec2api.VpcCidrBlockAssociation{AssociationId: ptr(c.AssocID), CidrBlock: ptr(c.CIDR),
			CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr("associated")}})
	}
	return out
}

func (r *vpcRec) assocIDs() []string {
	out := []string{r.CIDRAssocID}
	for _, c := range r.Secondary {
		out = append(out, c.AssocID)
	}
	return out
}

var (
	rfc1918 = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16")}
	// restrictedCIDR may never be added (AWS uses it).
	restrictedCIDR = netip.MustParsePrefix("198.19.0.0/16")
	// sharedSpace is 100.64.0.0/10, which AWS allows with any primary block.
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10")
)

// privateRange returns the RFC 1918 range containing p, or an invalid prefix.
func privateRange(p netip.Prefix) netip.Prefix {
	for _, r := range rfc1918 {
		if r.Contains(p.Addr()) && p.Bits() >= r.Bits() {
			return r
		}
	}
	return netip.Prefix{}
}

// secondaryAllowed applies AWS's table of the blocks a VPC with primary
// may add.
func secondaryAllowed(primary, p netip.Prefix) error {
	restricted := func() error {
		return errInvalidVpcRangeMsg("The CIDR '%s' is restricted. Use a CIDR from the same private address range as the current VPC CIDR, or use a publicly-routable CIDR.", p)
	}
	if p.Overlaps(restrictedCIDR) {
		return restricted()
	}
	if sharedSpace.Contains(p.Addr()) {
		return nil
	}
	pr, nr := privateRange(primary), privateRange(p)
	switch {
	case pr.IsValid() && nr.IsValid() && pr != nr:
		return restricted()
	case !pr.IsValid() && nr.IsValid() && !sharedSpace.Contains(primary.Addr()):
		return restricted() // a publicly routable primary takes no private block
	}
	return nil
}

// AssociateVpcCidrBlock implements ec2api.Operations for IPv4 blocks.
func (s *Service) AssociateVpcCidrBlock(ctx context.Context, in *ec2api.AssociateVpcCidrBlockRequest) (*ec2api.AssociateVpcCidrBlockResult, error) {
	if err := refuseParams("AssociateVpcCidrBlock", in); err != nil {
		return nil, err
	}
	switch {
	case in.VpcId == nil:
		return nil, awserr.MissingParameter("VpcId")
	case isTrue(in.AmazonProvidedIpv6CidrBlock) || in.Ipv6CidrBlockNetworkBorderGroup != nil:
		return s.associateVPCIPv6(ctx, in) // vpcipv6.go
	case in.CidrBlock == nil:
		return nil, awserr.MissingParameter("CidrBlock")
	}
	p, err := parseCIDR4(*in.CidrBlock, "cidrBlock")
	if err != nil {
		return nil, err
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, errInvalidVpcRange(*in.CidrBlock)
	}
	out := &ec2api.AssociateVpcCidrBlockResult{VpcId: in.VpcId}
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", *in.VpcId)
		if err != nil {
			return err
		}
		if len(v.Secondary)+1 >= maxVPCCIDRs {
			return errCidrLimitExceeded(v.ID, maxVPCCIDRs)
		}
		for _, c := range v.cidrs() {
			if c.Overlaps(p) {
				return errInvalidVpcRangeMsg("The CIDR '%s' conflicts with another CIDR block of the VPC: %s.", p, c)
			}
		}
		if err := secondaryAllowed(prefixOf(v.CIDR), p); err != nil {
			return err
		}
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.VpcID != v.ID {
				continue
			}
			for _, rt := range r.Routes {
				if d, err := netip.ParsePrefix(rt.Dest); err == nil && rt.Gateway != "local" && p.Overlaps(d) && d.Bits() >= p.Bits() {
					return errInvalidVpcRangeMsg("The CIDR '%s' is the same as or larger than the destination %s of a route in the route table %s.", p, d, r.ID)
				}
			}
		}
		c := vpcCIDR{AssocID: newID("vpc-cidr-assoc-"), CIDR: p.String()}
		m := mut[*vpcRec](st, v.ID)
		m.Secondary = append(m.Secondary, c)
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.VpcID == v.ID {
				r = mut[*rtbRec](st, r.ID)
				r.Routes = append(r.Routes, routeRec{Dest: c.CIDR, Gateway: "local", Origin: "CreateRouteTable"})
			}
		}
		out.CidrBlockAssociation = &ec2api.VpcCidrBlockAssociation{AssociationId: ptr(c.AssocID), CidrBlock: ptr(c.CIDR),
			CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr("associating")}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DisassociateVpcCidrBlock implements ec2api.Operations for IPv4 blocks:
// not the primary one, nor one with subnets.
func (s *Service) DisassociateVpcCidrBlock(ctx context.Context, in *ec2api.DisassociateVpcCidrBlockRequest) (*ec2api.DisassociateVpcCidrBlockResult, error) {
	if in.AssociationId == nil {
		return nil, awserr.MissingParameter("AssociationId")
	}
	id := *in.AssociationId
	out := &ec2api.DisassociateVpcCidrBlockResult{}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var v *vpcRec
		for _, o := range listT[*vpcRec](st, "vpc") {
			if slices.Contains(o.assocIDs(), id) {
				v = o
			}
		}
		if v == nil {
			for _, o := range listT[*vpcRec](st, "vpc") {
				a, ok, err := t.disassociateVPCIPv6(st, o, id) // vpcipv6.go
				if ok {
					out.VpcId, out.Ipv6CidrBlockAssociation = ptr(o.ID), &a
					return err
				}
			}
			return errInvalidVpcCidrBlockAssociationIDNotFound(id)
		}
		if v.CIDRAssocID == id {
			return errOperationNotPermitted("The vpc CIDR block with association ID %s may not be disassociated. It is the primary IPv4 CIDR block of the VPC", id)
		}
		i := slices.IndexFunc(v.Secondary, func(c vpcCIDR) bool { return c.AssocID == id })
		c := v.Secondary[i]
		p := prefixOf(c.CIDR)
		for _, sn := range listT[*subnetRec](st, "subnet") {
			if sn.VpcID == v.ID && p.Overlaps(prefixOf(sn.CIDR)) {
				return errInvalidCidrBlockInUse(v.ID, c.CIDR)
			}
		}
		m := mut[*vpcRec](st, v.ID)
		m.Secondary = slices.Delete(m.Secondary, i, i+1)
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.VpcID == v.ID {
				r = mut[*rtbRec](st, r.ID)
				r.Routes = slices.DeleteFunc(r.Routes, func(rt routeRec) bool { return rt.Gateway == "local" && rt.Dest == c.CIDR })
			}
		}
		out.VpcId = ptr(v.ID)
		out.CidrBlockAssociation = &ec2api.VpcCidrBlockAssociation{AssociationId: ptr(c.AssocID), CidrBlock: ptr(c.CIDR),
			CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr("disassociating")}}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
