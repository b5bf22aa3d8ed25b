package ec2

import (
	"context"
	"slices"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/iam/policy"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// Resource-level authorization of EC2 operations.

// ResourceARNs returns the ARNs of the resources an EC2 operation's input
// names, for IAM's resource-level authorization, resolved in the caller's
// account and region the way the operation itself resolves them: group
// names in the default VPC or the EC2-Classic network (findGroup), the
// subnet and groups RunInstances launches into, Elastic IPs by public IP or
// association id, route tables by association id, the Resources of
// CreateTags and DeleteTags by their id prefixes. Whatever way an input
// names a resource, the ARN is the one of the id the operation will act on,
// so a Deny on that ARN holds.
//
// It only reads: a scope never used has no resources yet, and a name that
// resolves to nothing is left out (the operation then fails with its
// NotFound, or — the default group of a scope it creates — acts on a group
// no policy can have named). nil means the input names no resource (the
// caller authorizes on "*"); so do the Describe* operations, which support
// no resource-level permissions on AWS, but for DescribeInstanceAttribute
// and DescribeVpcAttribute, which do.
func (s *Service) ResourceARNs(ctx context.Context, in any) ([]string, error) {
	sc := scopeOf(ctx)
	if validScope(sc) != nil {
		return nil, nil // the operation fails on the scope
	}
	var out []string
	err := s.st.View(ctx, func(tx store.Tx) error {
		t := &txn{s: s, tx: tx, now: s.now(), scopes: map[scope]*scopeTx{}}
		st, err := t.scope(sc)
		if err != nil {
			return err
		}
		a := &arnList{st: st}
		a.of(in)
		out = a.out
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// arnList collects the ARNs of one input within its scope.
type arnList struct {
	st  *scopeTx
	out []string
}

func (a *arnList) add(typ, id string) {
	if id == "" {
		return
	}
	arn := policy.EC2ARN(a.st.sc.Region, a.st.sc.Account, typ, id)
	if !slices.Contains(a.out, arn) {
		a.out = append(a.out, arn)
	}
}

func (a *arnList) addp(typ string, id *string) { a.add(typ, str(id)) }

func (a *arnList) addAll(typ string, ids []string) {
	for _, id := range ids {
		a.add(typ, id)
	}
}

// of adds the resources of one operation's input.
func (a *arnList) of(in any) {
	if a.vpcPieces(in) { // resources_vpc.go
		return
	}
	switch in := in.(type) {
	case *ec2api.AssociateAddressRequest:
		a.address(in.AllocationId, in.PublicIp)
		a.addp(policy.EC2Instance, in.InstanceId)
		a.addp(policy.EC2NetworkInterface, in.NetworkInterfaceId)
	case *ec2api.DisassociateAddressRequest:
		a.addressAssociation(in.AssociationId, in.PublicIp)
	case *ec2api.ReleaseAddressRequest:
		a.address(in.AllocationId, in.PublicIp)
	case *ec2api.CreateNetworkInterfaceRequest:
		a.addp(policy.EC2Subnet, in.SubnetId)
		a.addAll(policy.EC2SecurityGroup, in.Groups)
	case *ec2api.DeleteNetworkInterfaceRequest:
		a.addp(policy.EC2NetworkInterface, in.NetworkInterfaceId)
	case *ec2api.ModifyNetworkInterfaceAttributeRequest:
		a.addp(policy.EC2NetworkInterface, in.NetworkInterfaceId)
		a.addAll(policy.EC2SecurityGroup, in.Groups)
	case *ec2api.RunInstancesRequest:
		a.launch(in)
	case *ec2api.TerminateInstancesRequest:
		a.addAll(policy.EC2Instance, in.InstanceIds)
	case *ec2api.StopInstancesRequest:
		a.addAll(policy.EC2Instance, in.InstanceIds)
	case *ec2api.StartInstancesRequest:
		a.addAll(policy.EC2Instance, in.InstanceIds)
	case *ec2api.ModifyInstanceAttributeRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
		a.addAll(policy.EC2SecurityGroup, in.Groups)
	case *ec2api.DescribeInstanceAttributeRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.RebootInstancesRequest:
		a.addAll(policy.EC2Instance, in.InstanceIds)
	case *ec2api.ModifyInstanceMetadataOptionsRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.AssociateIamInstanceProfileRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.DisassociateIamInstanceProfileRequest:
		a.profileAssociation(in.AssociationId)
	case *ec2api.ReplaceIamInstanceProfileAssociationRequest:
		a.profileAssociation(in.AssociationId)
	case *ec2api.ModifyInstanceCreditSpecificationRequest:
		for _, c := range in.InstanceCreditSpecifications {
			a.addp(policy.EC2Instance, c.InstanceId)
		}
	case *ec2api.CreateImageRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.DeregisterImageRequest:
		a.image(in.ImageId)
	case *ec2api.AttachVolumeRequest:
		a.addp(policy.EC2Volume, in.VolumeId)
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.DetachVolumeRequest:
		a.addp(policy.EC2Volume, in.VolumeId)
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.DeleteVolumeRequest:
		a.addp(policy.EC2Volume, in.VolumeId)
	case *ec2api.CreateKeyPairRequest:
		a.addp(policy.EC2KeyPair, in.KeyName)
	case *ec2api.ImportKeyPairRequest:
		a.addp(policy.EC2KeyPair, in.KeyName)
	case *ec2api.DeleteKeyPairRequest:
		a.keyPair(in.KeyName, in.KeyPairId)
	case *ec2api.CreateLaunchTemplateVersionRequest:
		a.template(in.LaunchTemplateId, in.LaunchTemplateName)
	case *ec2api.ModifyLaunchTemplateRequest:
		a.template(in.LaunchTemplateId, in.LaunchTemplateName)
	case *ec2api.DeleteLaunchTemplateRequest:
		a.template(in.LaunchTemplateId, in.LaunchTemplateName)
	case *ec2api.EnableVpcClassicLinkRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DisableVpcClassicLinkRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.EnableVpcClassicLinkDnsSupportRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DisableVpcClassicLinkDnsSupportRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.AttachClassicLinkVpcRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
		a.addp(policy.EC2VPC, in.VpcId)
		a.addAll(policy.EC2SecurityGroup, in.Groups)
	case *ec2api.DetachClassicLinkVpcRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.GetConsoleOutputRequest:
		a.addp(policy.EC2Instance, in.InstanceId)
	case *ec2api.AttachInternetGatewayRequest:
		a.addp(policy.EC2InternetGateway, in.InternetGatewayId)
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DetachInternetGatewayRequest:
		a.addp(policy.EC2InternetGateway, in.InternetGatewayId)
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DeleteInternetGatewayRequest:
		a.addp(policy.EC2InternetGateway, in.InternetGatewayId)
	case *ec2api.CreateRouteTableRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DeleteRouteTableRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
	case *ec2api.CreateRouteRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
		a.routeTargets(in.GatewayId, in.InstanceId, in.NetworkInterfaceId, in.VpcPeeringConnectionId, in.NatGatewayId)
	case *ec2api.ReplaceRouteRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
		a.routeTargets(in.GatewayId, in.InstanceId, in.NetworkInterfaceId, in.VpcPeeringConnectionId, in.NatGatewayId)
	case *ec2api.DeleteRouteRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
	case *ec2api.AssociateRouteTableRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
		a.addp(policy.EC2Subnet, in.SubnetId)
		a.routeTargets(in.GatewayId, nil, nil, nil, nil)
	case *ec2api.DisassociateRouteTableRequest:
		a.routeTableAssociation(str(in.AssociationId))
	case *ec2api.ReplaceRouteTableAssociationRequest:
		a.addp(policy.EC2RouteTable, in.RouteTableId)
		a.routeTableAssociation(str(in.AssociationId))
	default:
		a.ofMore(in)
	}
}

// ofMore is the second half of of: peering, tags, security groups, VPCs and
// subnets.
func (a *arnList) ofMore(in any) {
	switch in := in.(type) {
	case *ec2api.CreateVpcPeeringConnectionRequest:
		a.addp(policy.EC2VPC, in.VpcId)
		a.peerVPC(in)
	case *ec2api.AcceptVpcPeeringConnectionRequest:
		a.addp(policy.EC2VPCPeeringConnection, in.VpcPeeringConnectionId)
	case *ec2api.RejectVpcPeeringConnectionRequest:
		a.addp(policy.EC2VPCPeeringConnection, in.VpcPeeringConnectionId)
	case *ec2api.DeleteVpcPeeringConnectionRequest:
		a.addp(policy.EC2VPCPeeringConnection, in.VpcPeeringConnectionId)
	case *ec2api.CreateTagsRequest:
		a.tagged(in.Resources)
	case *ec2api.DeleteTagsRequest:
		a.tagged(in.Resources)
	case *ec2api.CreateSecurityGroupRequest:
		if in.VpcId != nil {
			a.addp(policy.EC2VPC, in.VpcId)
		} else {
			a.add(policy.EC2VPC, a.st.meta.DefaultVpcID)
		}
	case *ec2api.DeleteSecurityGroupRequest:
		a.group(in.GroupId, in.GroupName)
	case *ec2api.AuthorizeSecurityGroupIngressRequest:
		a.group(in.GroupId, in.GroupName)
	case *ec2api.AuthorizeSecurityGroupEgressRequest:
		a.group(in.GroupId, nil)
	case *ec2api.RevokeSecurityGroupIngressRequest:
		a.group(in.GroupId, in.GroupName)
		a.addAll(policy.EC2SecurityGroupRule, in.SecurityGroupRuleIds)
	case *ec2api.RevokeSecurityGroupEgressRequest:
		a.group(in.GroupId, nil)
		a.addAll(policy.EC2SecurityGroupRule, in.SecurityGroupRuleIds)
	case *ec2api.ModifySecurityGroupRulesRequest:
		a.group(in.GroupId, nil)
		for _, r := range in.SecurityGroupRules {
			a.addp(policy.EC2SecurityGroupRule, r.SecurityGroupRuleId)
		}
	case *ec2api.UpdateSecurityGroupRuleDescriptionsIngressRequest:
		a.group(in.GroupId, in.GroupName)
		for _, d := range in.SecurityGroupRuleDescriptions {
			a.addp(policy.EC2SecurityGroupRule, d.SecurityGroupRuleId)
		}
	case *ec2api.UpdateSecurityGroupRuleDescriptionsEgressRequest:
		a.group(in.GroupId, in.GroupName)
		for _, d := range in.SecurityGroupRuleDescriptions {
			a.addp(policy.EC2SecurityGroupRule, d.SecurityGroupRuleId)
		}
	case *ec2api.DeleteVpcRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.ModifyVpcAttributeRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DescribeVpcAttributeRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.CreateSubnetRequest:
		a.addp(policy.EC2VPC, in.VpcId)
	case *ec2api.DeleteSubnetRequest:
		a.addp(policy.EC2Subnet, in.SubnetId)
	case *ec2api.ModifySubnetAttributeRequest:
		a.addp(policy.EC2Subnet, in.SubnetId)
	}
}

// group adds the group an operation names by id or, in the default VPC or
// the EC2-Classic network, by name (findGroup).
func (a *arnList) group(id, name *string) {
	if g, err := findGroup(a.st, id, name); err == nil {
		a.add(policy.EC2SecurityGroup, g.ID)
	} else if str(id) != "" {
		a.add(policy.EC2SecurityGroup, str(id)) // malformed or unknown: the ARN of what was named
	}
}

// groupNamed returns the id of the group named name in vpc ("" for the
// EC2-Classic network), or "".
func (a *arnList) groupNamed(vpc, name string) string {
	for _, g := range listT[*groupRec](a.st, "sg") {
		if g.Name == name && g.VpcID == vpc {
			return g.ID
		}
	}
	return ""
}

// launch adds what RunInstances names or launches into: its subnet (the
// default one when none is named), its groups (by id, by name in the launch
// VPC, or the VPC's default group when none is named), image and key pair.
func (a *arnList) launch(in *ec2api.RunInstancesRequest) {
	if spec := in.LaunchTemplate; spec != nil {
		// The template is a resource of the launch, and what it gives is
		// launched as if the request had named it.
		a.template(spec.LaunchTemplateId, spec.LaunchTemplateName)
		if merged, _, err := withLaunchTemplate(a.st, in); err == nil {
			in = merged
		}
	}
	subnet, groups := str(in.SubnetId), slices.Clone(in.SecurityGroupIds)
	for _, ni := range in.NetworkInterfaces {
		if subnet == "" {
			subnet = str(ni.SubnetId)
		}
		groups = append(groups, ni.Groups...)
		a.addp(policy.EC2NetworkInterface, ni.NetworkInterfaceId)
	}
	a.add(policy.EC2Subnet, subnet)
	a.addAll(policy.EC2SecurityGroup, groups)
	vpc, known := "", false
	if sn, err := launchSubnet(a.st, in, subnet); err == nil {
		vpc, known = sn.VpcID, true
		if subnet == "" {
			a.add(policy.EC2Subnet, sn.ID) // "" for EC2-Classic
		}
	}
	for _, n := range in.SecurityGroups {
		if known {
			a.add(policy.EC2SecurityGroup, a.groupNamed(vpc, n))
		}
	}
	if len(groups) == 0 && len(in.SecurityGroups) == 0 && known {
		a.add(policy.EC2SecurityGroup, a.groupNamed(vpc, "default"))
	}
	a.image(in.ImageId)
	a.addp(policy.EC2KeyPair, in.KeyName)
}

// image adds an image: image ARNs carry no account, as AWS's do
// (arn:aws:ec2:<region>::image/<id>).
func (a *arnList) image(id *string) {
	if arn := policy.EC2ARN(a.st.sc.Region, "", policy.EC2Image, str(id)); str(id) != "" && !slices.Contains(a.out, arn) {
		a.out = append(a.out, arn)
	}
}

// keyPair adds a key pair named by name or by id: its ARN is by name
// (arn:aws:ec2:<region>:<account>:key-pair/<name>).
func (a *arnList) keyPair(name, id *string) {
	if id != nil {
		if k, err := lookup[*keyRec](a.st, "key", *id); err == nil {
			a.add(policy.EC2KeyPair, k.Name)
		}
	}
	a.addp(policy.EC2KeyPair, name)
}

// template adds a launch template named by id or by name: its ARN is by id.
func (a *arnList) template(id, name *string) {
	if lt, err := findTemplate(a.st, id, name); err == nil {
		a.add(policy.EC2LaunchTemplate, lt.ID)
	} else {
		a.addp(policy.EC2LaunchTemplate, id) // unknown: the ARN of what was named
	}
}

// address adds an Elastic IP named by allocation id or public IP
// (findAddress).
func (a *arnList) address(alloc, public *string) {
	if ad, err := findAddress(a.st, alloc, public); err == nil {
		a.add(policy.EC2ElasticIP, ad.ID)
	} else if alloc != nil {
		a.add(policy.EC2ElasticIP, *alloc)
	}
}

// addressAssociation adds the Elastic IP of an association id or public IP
// (DisassociateAddress).
func (a *arnList) addressAssociation(assoc, public *string) {
	if assoc == nil {
		a.address(nil, public)
		return
	}
	for _, ad := range listT[*addressRec](a.st, "eip") {
		if ad.AssociationID == *assoc {
			a.add(policy.EC2ElasticIP, ad.ID)
		}
	}
}

// routeTableAssociation adds the route table and subnet of a route table
// association id (the main association has no subnet).
func (a *arnList) routeTableAssociation(id string) {
	if id == "" {
		return
	}
	for _, r := range listT[*rtbRec](a.st, "rtb") {
		if r.Main && r.MainID == id {
			a.add(policy.EC2RouteTable, r.ID)
		}
		for _, as := range r.Assocs {
			if as.ID == id {
				a.add(policy.EC2RouteTable, r.ID)
				a.add(policy.EC2Subnet, as.SubnetID)
			}
		}
	}
}

// routeTargets adds the targets a route names.
func (a *arnList) routeTargets(gateway, instance, eni, pcx, nat *string) {
	if g := str(gateway); strings.HasPrefix(g, "igw-") {
		a.add(policy.EC2InternetGateway, g)
	}
	a.addp(policy.EC2Instance, instance)
	a.addp(policy.EC2NetworkInterface, eni)
	a.addp(policy.EC2VPCPeeringConnection, pcx)
	a.addp(policy.EC2NatGateway, nat)
}

// peerVPC adds the accepter VPC of a peering request, in its owner's
// account (the caller's by default).
func (a *arnList) peerVPC(in *ec2api.CreateVpcPeeringConnectionRequest) {
	id := str(in.PeerVpcId)
	if id == "" {
		return
	}
	owner, region := str(in.PeerOwnerId), str(in.PeerRegion)
	if owner == "" {
		owner = a.st.sc.Account
	}
	if region == "" {
		region = a.st.sc.Region
	}
	a.out = append(a.out, policy.EC2ARN(region, owner, policy.EC2VPC, id))
}

// taggedTypes maps the kinds of ids CreateTags and DeleteTags accept to
// their ARN types.
var taggedTypes = map[string]string{
	"vpc": policy.EC2VPC, "subnet": policy.EC2Subnet, "sg": policy.EC2SecurityGroup, "instance": policy.EC2Instance,
	"eni": policy.EC2NetworkInterface, "eip": policy.EC2ElasticIP, "igw": policy.EC2InternetGateway,
	"rtb": policy.EC2RouteTable, "acl": policy.EC2NetworkACL, "pcx": policy.EC2VPCPeeringConnection,
	"pl": policy.EC2PrefixList, "dopt": policy.EC2DHCPOptions, "vpce": policy.EC2VPCEndpoint,
	"nat": policy.EC2NatGateway,
}

// tagged adds the resources CreateTags or DeleteTags names, typed by their
// id prefixes (taggable); an id of no known kind is not taggable and fails
// the operation.
func (a *arnList) tagged(ids []string) {
	for _, id := range ids {
		if strings.HasPrefix(id, "sgr-") {
			a.add(policy.EC2SecurityGroupRule, id)
		} else if typ := taggedTypes[kindOf(id)]; typ != "" {
			a.add(typ, id)
		}
	}
}

// profileAssociation adds the instance of an instance profile association.
func (a *arnList) profileAssociation(id *string) {
	if id == nil {
		return
	}
	if i, err := instanceOfAssociation(a.st, *id); err == nil {
		a.add(policy.EC2Instance, i.ID)
	}
}
