package ec2

import (
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
)

// vpcPieces adds the resources of the operations on prefix lists, DHCP
// options sets, VPC CIDR blocks, VPC endpoints and NAT gateways, and reports whether in
// was one of them.
func (a *arnList) vpcPieces(in any) bool {
	switch in := in.(type) {
	case *ec2api.ModifyManagedPrefixListRequest:
		a.prefixList(in.PrefixListId)
	case *ec2api.DeleteManagedPrefixListRequest:
		a.prefixList(in.PrefixListId)
	case *ec2api.RestoreManagedPrefixListVersionRequest:
		a.prefixList(in.PrefixListId)
	case *ec2api.GetManagedPrefixListEntriesRequest:
		a.prefixList(in.PrefixListId)
	case *ec2api.GetManagedPrefixListAssociationsRequest:
		a.prefixList(in.PrefixListId)
	case *ec2api.DeleteDhcpOptionsRequest:
		a.addp(policy.EC2DHCPOptions, in.DhcpOptionsId)
	case *ec2api.AssociateDhcpOptionsRequest:
		if str(in.DhcpOptionsId) != noDhcpOptions {
			a.addp(policy.EC2DHCPOptions, in.DhcpOptionsId)
		}
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.AssociateVpcCidrBlockRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DisassociateVpcCidrBlockRequest:
		for _, v := range listT[*vpcRec](a.st, "vpc") {
			if slices.Contains(v.assocIDs(), str(in.AssociationId)) || slices.ContainsFunc(v.IPv6, func(c vpcCIDR) bool { return c.AssocID == str(in.AssociationId) }) {
				a.add(policy.EC2VPC, v.ID)
			}
		}
	case *ec2api.CreateVpcEndpointRequest:
		a.addp(policy.EC2VPC, in.VpcId)
		a.addAll(policy.EC2RouteTable, in.RouteTableIds)
		a.addAll(policy.EC2Subnet, in.SubnetIds)
		a.addAll(policy.EC2SecurityGroup, in.SecurityGroupIds)
	case *ec2api.ModifyVpcEndpointRequest:
		a.addp(policy.EC2VPCEndpoint, in.VpcEndpointId)
		a.addAll(policy.EC2RouteTable, append(slices.Clip(in.AddRouteTableIds), in.RemoveRouteTableIds...))
		a.addAll(policy.EC2Subnet, append(slices.Clip(in.AddSubnetIds), in.RemoveSubnetIds...))
		a.addAll(policy.EC2SecurityGroup, append(slices.Clip(in.AddSecurityGroupIds), in.RemoveSecurityGroupIds...))
	case *ec2api.DeleteVpcEndpointsRequest:
		a.addAll(policy.EC2VPCEndpoint, in.VpcEndpointIds)
	case *ec2api.AssociateSubnetCidrBlockRequest:
		a.addp(policy.EC2Subnet, in.SubnetId)
	case *ec2api.DisassociateSubnetCidrBlockRequest:
		if sn := subnetOfIPv6Assoc(a.st, str(in.AssociationId)); sn != nil {
			a.add(policy.EC2Subnet, sn.ID)
		}
	case *ec2api.CreateNatGatewayRequest:
		a.addp(policy.EC2Subnet, in.SubnetId)
		a.addp(policy.EC2ElasticIP, in.AllocationId)
	case *ec2api.DeleteNatGatewayRequest:
		a.addp(policy.EC2NatGateway, in.NatGatewayId)
	default:
		return a.networkACLs(in)
	}
	return true
}

// prefixList adds a prefix list: AWS's have the account "aws" in their ARN.
func (a *arnList) prefixList(id *string) {
	if str(id) == "" {
		return
	}
	owner := a.st.sc.Account
	if r, err := findPrefixList(a.st, *id); err == nil && r.Owner == "AWS" {
		owner = "aws"
	}
	if arn := policy.EC2ARN(a.st.sc.Region, owner, policy.EC2PrefixList, *id); !slices.Contains(a.out, arn) {
		a.out = append(a.out, arn)
	}
}
