package ec2_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
)

// TestVPCPiecesSDK drives prefix lists, DHCP options sets, secondary CIDR
// blocks and VPC endpoints with aws-sdk-go-v2 through the wire layer, in
// the order a Terraform VPC module creates, reads and destroys them, and
// the AWS CLI reads them back.
func TestVPCPiecesSDK(t *testing.T) {
	s := startWire(t)
	c := s.client()
	ctx := context.Background()
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}

	vpc, err := c.CreateVpc(ctx, &awsec2.CreateVpcInput{CidrBlock: aws.String("10.60.0.0/16")})
	if err != nil {
		t.Fatalf("CreateVpc: %v", err)
	}
	vpcID := vpc.Vpc.VpcId
	sec, err := c.AssociateVpcCidrBlock(ctx, &awsec2.AssociateVpcCidrBlockInput{VpcId: vpcID, CidrBlock: aws.String("10.61.0.0/16")})
	if err != nil {
		t.Fatalf("AssociateVpcCidrBlock: %v", err)
	}
	sn, err := c.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String("10.61.0.0/24"), AvailabilityZone: aws.String("us-east-1a")})
	if err != nil {
		t.Fatalf("CreateSubnet in the secondary block: %v", err)
	}

	dopt, err := c.CreateDhcpOptions(ctx, &awsec2.CreateDhcpOptionsInput{DhcpConfigurations: []ec2types.NewDhcpConfiguration{
		{Key: aws.String("domain-name"), Values: []string{"corp.internal"}},
		{Key: aws.String("domain-name-servers"), Values: []string{"AmazonProvidedDNS"}}}})
	if err != nil {
		t.Fatalf("CreateDhcpOptions: %v", err)
	}
	if _, err := c.AssociateDhcpOptions(ctx, &awsec2.AssociateDhcpOptionsInput{DhcpOptionsId: dopt.DhcpOptions.DhcpOptionsId, VpcId: vpcID}); err != nil {
		t.Fatalf("AssociateDhcpOptions: %v", err)
	}

	pl, err := c.CreateManagedPrefixList(ctx, &awsec2.CreateManagedPrefixListInput{PrefixListName: aws.String("office"), AddressFamily: aws.String("IPv4"),
		MaxEntries: aws.Int32(2), Entries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("198.51.100.0/24"), Description: aws.String("hq")}},
		TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypePrefixList, Tags: []ec2types.Tag{{Key: aws.String("Name"), Value: aws.String("office")}}}}})
	if err != nil {
		t.Fatalf("CreateManagedPrefixList: %v", err)
	}
	plID := pl.PrefixList.PrefixListId
	g, err := c.CreateSecurityGroup(ctx, &awsec2.CreateSecurityGroupInput{GroupName: aws.String("cache"), Description: aws.String("cache"), VpcId: vpcID})
	if err != nil {
		t.Fatalf("CreateSecurityGroup: %v", err)
	}
	if _, err := c.AuthorizeSecurityGroupIngress(ctx, &awsec2.AuthorizeSecurityGroupIngressInput{GroupId: g.GroupId, IpPermissions: []ec2types.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6379), ToPort: aws.Int32(6379), PrefixListIds: []ec2types.PrefixListId{{PrefixListId: plID}}}}}); err != nil {
		t.Fatalf("AuthorizeSecurityGroupIngress with a prefix list: %v", err)
	}
	sg, err := c.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{GroupIds: []string{*g.GroupId}})
	if err != nil || len(sg.SecurityGroups[0].IpPermissions) != 1 || aws.ToString(sg.SecurityGroups[0].IpPermissions[0].PrefixListIds[0].PrefixListId) != *plID {
		t.Fatalf("DescribeSecurityGroups = %+v, %v", sg, err)
	}
	if _, err := c.ModifyManagedPrefixList(ctx, &awsec2.ModifyManagedPrefixListInput{PrefixListId: plID, CurrentVersion: aws.Int64(1),
		AddEntries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("203.0.113.0/24")}}}); err != nil {
		t.Fatalf("ModifyManagedPrefixList: %v", err)
	}
	_, err = c.ModifyManagedPrefixList(ctx, &awsec2.ModifyManagedPrefixListInput{PrefixListId: plID, CurrentVersion: aws.Int64(1),
		AddEntries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("192.0.2.0/24")}}})
	if code(err) != "PrefixListVersionMismatch" {
		t.Errorf("ModifyManagedPrefixList with a stale version = %v, want PrefixListVersionMismatch", err)
	}
	entries, err := c.GetManagedPrefixListEntries(ctx, &awsec2.GetManagedPrefixListEntriesInput{PrefixListId: plID})
	if err != nil || len(entries.Entries) != 2 {
		t.Fatalf("GetManagedPrefixListEntries = %+v, %v", entries, err)
	}
	assoc, err := c.GetManagedPrefixListAssociations(ctx, &awsec2.GetManagedPrefixListAssociationsInput{PrefixListId: plID})
	if err != nil || len(assoc.PrefixListAssociations) != 1 {
		t.Fatalf("GetManagedPrefixListAssociations = %+v, %v", assoc, err)
	}
	aws3, err := c.DescribePrefixLists(ctx, &awsec2.DescribePrefixListsInput{Filters: []ec2types.Filter{{Name: aws.String("prefix-list-name"), Values: []string{"com.amazonaws.us-east-1.s3"}}}})
	if err != nil || len(aws3.PrefixLists) != 1 {
		t.Fatalf("DescribePrefixLists s3 = %+v, %v", aws3, err)
	}

	svc, err := c.DescribeVpcEndpointServices(ctx, &awsec2.DescribeVpcEndpointServicesInput{ServiceNames: []string{"com.amazonaws.us-east-1.elasticache"}})
	if err != nil || len(svc.ServiceDetails) != 1 || svc.ServiceDetails[0].ServiceType[0].ServiceType != ec2types.ServiceTypeInterface {
		t.Fatalf("DescribeVpcEndpointServices = %+v, %v", svc, err)
	}
	rtbs, err := c.DescribeRouteTables(ctx, &awsec2.DescribeRouteTablesInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{*vpcID}}}})
	if err != nil {
		t.Fatalf("DescribeRouteTables: %v", err)
	}
	gw, err := c.CreateVpcEndpoint(ctx, &awsec2.CreateVpcEndpointInput{VpcId: vpcID, ServiceName: aws.String("com.amazonaws.us-east-1.s3"),
		RouteTableIds: []string{*rtbs.RouteTables[0].RouteTableId}})
	if err != nil {
		t.Fatalf("CreateVpcEndpoint Gateway: %v", err)
	}
	ifc, err := c.CreateVpcEndpoint(ctx, &awsec2.CreateVpcEndpointInput{VpcId: vpcID, ServiceName: aws.String("com.amazonaws.us-east-1.elasticache"),
		VpcEndpointType: ec2types.VpcEndpointTypeInterface, SubnetIds: []string{*sn.Subnet.SubnetId}, SecurityGroupIds: []string{*g.GroupId}})
	if err != nil {
		t.Fatalf("CreateVpcEndpoint Interface: %v", err)
	}
	if _, err := c.ModifyVpcEndpoint(ctx, &awsec2.ModifyVpcEndpointInput{VpcEndpointId: ifc.VpcEndpoint.VpcEndpointId, PrivateDnsEnabled: aws.Bool(false)}); err != nil {
		t.Fatalf("ModifyVpcEndpoint: %v", err)
	}

	// Read back as the AWS CLI and the SDK do.
	var vpcs struct {
		Vpcs []struct {
			DhcpOptionsId           string
			CidrBlockAssociationSet []struct{ CidrBlock, AssociationId string }
		}
	}
	s.cli(t, &vpcs, "ec2", "describe-vpcs", "--vpc-ids", *vpcID)
	if len(vpcs.Vpcs) != 1 || vpcs.Vpcs[0].DhcpOptionsId != *dopt.DhcpOptions.DhcpOptionsId || len(vpcs.Vpcs[0].CidrBlockAssociationSet) != 2 {
		t.Errorf("aws ec2 describe-vpcs = %+v", vpcs)
	}
	var eps struct {
		VpcEndpoints []struct {
			VpcEndpointId, VpcEndpointType string
			PrivateDnsEnabled              bool
		}
	}
	s.cli(t, &eps, "ec2", "describe-vpc-endpoints", "--filters", "Name=vpc-id,Values="+*vpcID)
	if len(eps.VpcEndpoints) != 2 {
		t.Errorf("aws ec2 describe-vpc-endpoints = %+v", eps)
	}
	var pls struct {
		PrefixLists []struct{ PrefixListId, PrefixListName, OwnerId string }
	}
	s.cli(t, &pls, "ec2", "describe-managed-prefix-lists", "--filters", "Name=prefix-list-name,Values=office")
	if len(pls.PrefixLists) != 1 || pls.PrefixLists[0].PrefixListId != *plID {
		t.Errorf("aws ec2 describe-managed-prefix-lists = %+v", pls)
	}

	// Destroy, in Terraform's order; dependencies refuse first.
	_, err = c.DeleteManagedPrefixList(ctx, &awsec2.DeleteManagedPrefixListInput{PrefixListId: plID})
	if code(err) != "InvalidPrefixListModification" {
		t.Errorf("DeleteManagedPrefixList in use = %v", err)
	}
	_, err = c.DisassociateVpcCidrBlock(ctx, &awsec2.DisassociateVpcCidrBlockInput{AssociationId: sec.CidrBlockAssociation.AssociationId})
	if code(err) != "InvalidCidrBlock.InUse" {
		t.Errorf("DisassociateVpcCidrBlock with a subnet = %v", err)
	}
	del, err := c.DeleteVpcEndpoints(ctx, &awsec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{*gw.VpcEndpoint.VpcEndpointId, *ifc.VpcEndpoint.VpcEndpointId}})
	if err != nil || len(del.Unsuccessful) != 0 {
		t.Fatalf("DeleteVpcEndpoints = %+v, %v", del, err)
	}
	if _, err := c.DeleteSecurityGroup(ctx, &awsec2.DeleteSecurityGroupInput{GroupId: g.GroupId}); err != nil {
		t.Fatalf("DeleteSecurityGroup: %v", err)
	}
	if _, err := c.DeleteManagedPrefixList(ctx, &awsec2.DeleteManagedPrefixListInput{PrefixListId: plID}); err != nil {
		t.Fatalf("DeleteManagedPrefixList: %v", err)
	}
	if _, err := c.DeleteSubnet(ctx, &awsec2.DeleteSubnetInput{SubnetId: sn.Subnet.SubnetId}); err != nil {
		t.Fatalf("DeleteSubnet: %v", err)
	}
	if _, err := c.DisassociateVpcCidrBlock(ctx, &awsec2.DisassociateVpcCidrBlockInput{AssociationId: sec.CidrBlockAssociation.AssociationId}); err != nil {
		t.Fatalf("DisassociateVpcCidrBlock: %v", err)
	}
	_, err = c.DeleteDhcpOptions(ctx, &awsec2.DeleteDhcpOptionsInput{DhcpOptionsId: dopt.DhcpOptions.DhcpOptionsId})
	if code(err) != "DependencyViolation" {
		t.Errorf("DeleteDhcpOptions while associated = %v", err)
	}
	if _, err := c.DeleteVpc(ctx, &awsec2.DeleteVpcInput{VpcId: vpcID}); err != nil {
		t.Fatalf("DeleteVpc: %v", err)
	}
	if _, err := c.DeleteDhcpOptions(ctx, &awsec2.DeleteDhcpOptionsInput{DhcpOptionsId: dopt.DhcpOptions.DhcpOptionsId}); err != nil {
		t.Fatalf("DeleteDhcpOptions: %v", err)
	}
}
