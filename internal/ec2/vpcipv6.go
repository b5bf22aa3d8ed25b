package ec2

import (
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// IPv6 CIDR blocks of VPCs and subnets, as records with AWS's rules: a VPC
// gets Amazon-provided /56 blocks (CreateVpc or AssociateVpcCidrBlock
// AmazonProvidedIpv6CidrBlock; at most maxVPCIPv6 of them), each with a
// local route in every table of the VPC; a subnet takes one /64 of them
// (CreateSubnet Ipv6CidrBlock, AssociateSubnetCidrBlock), released by
// DisassociateSubnetCidrBlock; a VPC block with subnets in it cannot be
// disassociated. The network plane realises none of it: interfaces have
// no IPv6 address, so what would need one is refused (IPv6 addresses on
// instances and interfaces, AssignIpv6AddressOnCreation, IPv6-native
// subnets, IPv6 route destinations). Amazon's blocks come from
// amazonIPv6Pool, unique across the installation through the index
// ec2/_ipv6/<cidr>.

// amazonIPv6Pool is where Amazon-provided /56 blocks come from (the range
// AWS allocates from in us-east-1).
var amazonIPv6Pool = netip.MustParsePrefix("2600:1f18::/32")

// maxVPCIPv6 is AWS's quota of IPv6 CIDR blocks per VPC.
const maxVPCIPv6 = 5

const ipv6IndexPrefix = "ec2/_ipv6/"

// newVPCIPv6 picks a free Amazon-provided /56 and records it in v (a
// mutable copy), with its local route in every table of the VPC.
func (t *txn) newVPCIPv6(st *scopeTx, v *vpcRec) (vpcCIDR, error) {
	if len(v.IPv6) >= maxVPCIPv6 {
		return vpcCIDR{}, errCidrLimitExceeded(v.ID, maxVPCIPv6)
	}
	for range 32 {
		var b [3]byte
		_, _ = rand.Read(b[:])
		a := amazonIPv6Pool.Addr().As16()
		a[4], a[5], a[6] = b[0], b[1], b[2]
		p := netip.PrefixFrom(netip.AddrFrom16(a), 56).Masked().String()
		if _, taken := t.extra[ipv6IndexPrefix+p]; taken {
			continue
		}
		if _, err := t.tx.Get(ipv6IndexPrefix + p); err == nil {
			continue
		}
		c := vpcCIDR{AssocID: newID("vpc-cidr-assoc-"), CIDR: p}
		t.extra[ipv6IndexPrefix+p] = []byte(`"` + st.sc.Account + "/" + st.sc.Region + "/" + v.ID + `"`)
		v.IPv6 = append(v.IPv6, c)
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.VpcID == v.ID {
				r = mut[*rtbRec](st, r.ID)
				r.Routes = append(r.Routes, routeRec{Dest: p, Gateway: "local", Origin: "CreateRouteTable"})
			}
		}
		return c, nil
	}
	return vpcCIDR{}, errInsufficientAddressCapacity()
}

// vpcIPv6Out is one IPv6 block as DescribeVpcs shows it.
func vpcIPv6Out(region string, c vpcCIDR, state string) ec2api.VpcIpv6CidrBlockAssociation {
	return ec2api.VpcIpv6CidrBlockAssociation{AssociationId: ptr(c.AssocID), Ipv6CidrBlock: ptr(c.CIDR),
		Ipv6CidrBlockState: &ec2api.VpcCidrBlockState{State: ptr(state)}, Ipv6Pool: ptr("Amazon"), NetworkBorderGroup: ptr(region),
		IpSource: ptr("amazon"), Ipv6AddressAttribute: ptr("public")}
}

// ipv6Assocs returns the VPC's Ipv6CidrBlockAssociationSet.
func (r *vpcRec) ipv6Assocs(region string) []ec2api.VpcIpv6CidrBlockAssociation {
	out := []ec2api.VpcIpv6CidrBlockAssociation{}
	for _, c := range r.IPv6 {
		out = append(out, vpcIPv6Out(region, c, "associated"))
	}
	return out
}

func (r *vpcRec) ipv6Field(f func(vpcCIDR) string) []string {
	var out []string
	for _, c := range r.IPv6 {
		out = append(out, f(c))
	}
	return out
}

func subnetIPv6Out(c vpcCIDR, state string) ec2api.SubnetIpv6CidrBlockAssociation {
	return ec2api.SubnetIpv6CidrBlockAssociation{AssociationId: ptr(c.AssocID), Ipv6CidrBlock: ptr(c.CIDR),
		Ipv6CidrBlockState: &ec2api.SubnetCidrBlockState{State: ptr(state)}, IpSource: ptr("amazon"), Ipv6AddressAttribute: ptr("public")}
}

// checkVPCIPv6Params validates CreateVpc's and AssociateVpcCidrBlock's
// IPv6 parameters: the border group only with an Amazon block, and the
// region's.
func checkVPCIPv6Params(region string, amazon *bool, nbg *string) error {
	if nbg == nil {
		return nil
	}
	if !isTrue(amazon) {
		return awserr.InvalidParameterCombination("The parameter Ipv6CidrBlockNetworkBorderGroup requires AmazonProvidedIpv6CidrBlock.")
	}
	if *nbg != region {
		return awserr.InvalidParameterValue("Value (%s) for parameter Ipv6CidrBlockNetworkBorderGroup is invalid: Cachalot's network border group is the region, %s.", *nbg, region)
	}
	return nil
}

// associateVPCIPv6 is AssociateVpcCidrBlock with AmazonProvidedIpv6CidrBlock.
func (s *Service) associateVPCIPv6(ctx context.Context, in *ec2api.AssociateVpcCidrBlockRequest) (*ec2api.AssociateVpcCidrBlockResult, error) {
	if in.CidrBlock != nil {
		return nil, awserr.InvalidParameterCombination("The parameters CidrBlock and AmazonProvidedIpv6CidrBlock cannot be used together.")
	}
	sc := scopeOf(ctx)
	if err := checkVPCIPv6Params(sc.Region, in.AmazonProvidedIpv6CidrBlock, in.Ipv6CidrBlockNetworkBorderGroup); err != nil {
		return nil, err
	}
	out := &ec2api.AssociateVpcCidrBlockResult{VpcId: in.VpcId}
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", *in.VpcId)
		if err != nil {
			return err
		}
		c, err := t.newVPCIPv6(st, mut[*vpcRec](st, v.ID))
		if err != nil {
			return err
		}
		a := vpcIPv6Out(sc.Region, c, "associating")
		out.Ipv6CidrBlockAssociation = &a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// disassociateVPCIPv6 removes the IPv6 block with association id from v,
// unless a subnet uses it. ok is false when id is not one of v's.
func (t *txn) disassociateVPCIPv6(st *scopeTx, v *vpcRec, id string) (ec2api.VpcIpv6CidrBlockAssociation, bool, error) {
	i := slices.IndexFunc(v.IPv6, func(c vpcCIDR) bool { return c.AssocID == id })
	if i < 0 {
		return ec2api.VpcIpv6CidrBlockAssociation{}, false, nil
	}
	c := v.IPv6[i]
	p := prefixOf(c.CIDR)
	for _, sn := range listT[*subnetRec](st, "subnet") {
		if sn.VpcID == v.ID && sn.IPv6 != nil && p.Overlaps(prefixOf(sn.IPv6.CIDR)) {
			return ec2api.VpcIpv6CidrBlockAssociation{}, true, errInvalidCidrBlockInUse(v.ID, c.CIDR)
		}
	}
	m := mut[*vpcRec](st, v.ID)
	m.IPv6 = slices.Delete(m.IPv6, i, i+1)
	t.extra[ipv6IndexPrefix+c.CIDR] = nil
	for _, r := range listT[*rtbRec](st, "rtb") {
		if r.VpcID == v.ID {
			r = mut[*rtbRec](st, r.ID)
			r.Routes = slices.DeleteFunc(r.Routes, func(rt routeRec) bool { return rt.Gateway == "local" && rt.Dest == c.CIDR })
		}
	}
	return vpcIPv6Out(st.sc.Region, c, "disassociating"), true, nil
}

// subnetIPv6 validates an IPv6 block for subnet sn of v: a /64 in one of
// v's blocks, used by no other subnet.
func subnetIPv6(st *scopeTx, v *vpcRec, snID, cidr string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() {
		return netip.Prefix{}, awserr.InvalidParameterValue("Value (%s) for parameter ipv6CidrBlock is invalid. This is not a valid IPv6 CIDR block.", cidr)
	}
	p = p.Masked()
	if p.Bits() != 64 {
		return netip.Prefix{}, errInvalidSubnetRange(p)
	}
	if !slices.ContainsFunc(v.IPv6, func(c vpcCIDR) bool { return prefixOf(c.CIDR).Contains(p.Addr()) }) {
		return netip.Prefix{}, errInvalidSubnetRange(p)
	}
	for _, o := range listT[*subnetRec](st, "subnet") {
		if o.ID != snID && o.VpcID == v.ID && o.IPv6 != nil && prefixOf(o.IPv6.CIDR).Overlaps(p) {
			return netip.Prefix{}, errInvalidSubnetConflict(p)
		}
	}
	return p, nil
}

// AssociateSubnetCidrBlock implements ec2api.Operations: an IPv6 /64 of
// the VPC's blocks.
func (s *Service) AssociateSubnetCidrBlock(ctx context.Context, in *ec2api.AssociateSubnetCidrBlockRequest) (*ec2api.AssociateSubnetCidrBlockResult, error) {
	if err := refuseParams("AssociateSubnetCidrBlock", in); err != nil {
		return nil, err
	}
	switch {
	case in.SubnetId == nil:
		return nil, awserr.MissingParameter("SubnetId")
	case in.Ipv6CidrBlock == nil:
		return nil, awserr.MissingParameter("Ipv6CidrBlock")
	}
	out := &ec2api.AssociateSubnetCidrBlockResult{SubnetId: in.SubnetId}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		sn, err := lookup[*subnetRec](st, "subnet", *in.SubnetId)
		if err != nil {
			return err
		}
		if sn.IPv6 != nil {
			return errInvalidSubnetConflict(prefixOf(sn.IPv6.CIDR))
		}
		v, err := lookup[*vpcRec](st, "vpc", sn.VpcID)
		if err != nil {
			return err
		}
		p, err := subnetIPv6(st, v, sn.ID, *in.Ipv6CidrBlock)
		if err != nil {
			return err
		}
		c := vpcCIDR{AssocID: newID("subnet-cidr-assoc-"), CIDR: p.String()}
		mut[*subnetRec](st, sn.ID).IPv6 = &c
		a := subnetIPv6Out(c, "associating")
		out.Ipv6CidrBlockAssociation = &a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DisassociateSubnetCidrBlock implements ec2api.Operations.
func (s *Service) DisassociateSubnetCidrBlock(ctx context.Context, in *ec2api.DisassociateSubnetCidrBlockRequest) (*ec2api.DisassociateSubnetCidrBlockResult, error) {
	if in.AssociationId == nil {
		return nil, awserr.MissingParameter("AssociationId")
	}
	out := &ec2api.DisassociateSubnetCidrBlockResult{}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		sn := subnetOfIPv6Assoc(st, *in.AssociationId)
		if sn == nil {
			return errInvalidSubnetCidrBlockAssociationIDNotFound(*in.AssociationId)
		}
		a := subnetIPv6Out(*sn.IPv6, "disassociating")
		m := mut[*subnetRec](st, sn.ID)
		m.IPv6 = nil
		out.SubnetId, out.Ipv6CidrBlockAssociation = ptr(sn.ID), &a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// subnetOfIPv6Assoc returns the subnet whose IPv6 association is id, or nil.
func subnetOfIPv6Assoc(st *scopeTx, id string) *subnetRec {
	for _, sn := range listT[*subnetRec](st, "subnet") {
		if sn.IPv6 != nil && sn.IPv6.AssocID == id {
			return sn
		}
	}
	return nil
}

// ipv6Assocs returns the subnet's Ipv6CidrBlockAssociationSet.
func (sn *subnetRec) ipv6Assocs() []ec2api.SubnetIpv6CidrBlockAssociation {
	if sn.IPv6 == nil {
		return []ec2api.SubnetIpv6CidrBlockAssociation{}
	}
	return []ec2api.SubnetIpv6CidrBlockAssociation{subnetIPv6Out(*sn.IPv6, "associated")}
}

// isIPv6Dest reports whether a route destination is an IPv6 CIDR (the
// local routes of IPv6 blocks).
func isIPv6Dest(d string) bool { return strings.Contains(d, ":") }
