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

// TestNetworkACLSDK drives the network ACL operations through the wire
// layer with aws-sdk-go-v2 and the AWS CLI (the CLI's port range and ICMP
// shorthands, the SDK reading them back, errors by code).
func TestNetworkACLSDK(t *testing.T) {
	s := startWire(t)
	c := s.client()
	ctx := context.Background()
	vpc, err := c.CreateVpc(ctx, &awsec2.CreateVpcInput{CidrBlock: aws.String("10.70.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	sn, err := c.CreateSubnet(ctx, &awsec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.70.1.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	acl, err := c.CreateNetworkAcl(ctx, &awsec2.CreateNetworkAclInput{VpcId: vpc.Vpc.VpcId})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(acl.NetworkAcl.NetworkAclId)
	s.cli(t, nil, "ec2", "create-network-acl-entry", "--network-acl-id", id, "--ingress", "--rule-number", "100", "--protocol", "udp",
		"--port-range", "From=53,To=53", "--cidr-block", "10.0.0.0/8", "--rule-action", "allow")
	s.cli(t, nil, "ec2", "create-network-acl-entry", "--network-acl-id", id, "--egress", "--rule-number", "110", "--protocol", "icmp",
		"--icmp-type-code", "Type=8,Code=-1", "--cidr-block", "0.0.0.0/0", "--rule-action", "deny")
	var described struct {
		NetworkAcls []struct {
			Associations []struct{ NetworkAclAssociationId, SubnetId string }
		}
	}
	s.cli(t, &described, "ec2", "describe-network-acls", "--filters", "Name=association.subnet-id,Values="+aws.ToString(sn.Subnet.SubnetId))
	if len(described.NetworkAcls) != 1 || len(described.NetworkAcls[0].Associations) != 1 {
		t.Fatalf("describe-network-acls by subnet = %+v", described)
	}
	var replaced struct{ NewAssociationId string }
	s.cli(t, &replaced, "ec2", "replace-network-acl-association", "--association-id", described.NetworkAcls[0].Associations[0].NetworkAclAssociationId, "--network-acl-id", id)
	if replaced.NewAssociationId == "" {
		t.Errorf("replace-network-acl-association gave no new association id")
	}

	out, err := c.DescribeNetworkAcls(ctx, &awsec2.DescribeNetworkAclsInput{NetworkAclIds: []string{id}})
	if err != nil || len(out.NetworkAcls) != 1 {
		t.Fatalf("DescribeNetworkAcls = %v, %v", out, err)
	}
	a := out.NetworkAcls[0]
	if len(a.Associations) != 1 || aws.ToString(a.Associations[0].NetworkAclAssociationId) != replaced.NewAssociationId {
		t.Errorf("associations = %+v", a.Associations)
	}
	var udp, icmp *ec2types.NetworkAclEntry
	for i, e := range a.Entries {
		switch aws.ToInt32(e.RuleNumber) {
		case 100:
			udp = &a.Entries[i]
		case 110:
			icmp = &a.Entries[i]
		}
	}
	if udp == nil || aws.ToString(udp.Protocol) != "17" || udp.PortRange == nil || aws.ToInt32(udp.PortRange.From) != 53 || aws.ToBool(udp.Egress) || udp.RuleAction != ec2types.RuleActionAllow {
		t.Errorf("udp entry = %+v", udp)
	}
	if icmp == nil || aws.ToString(icmp.Protocol) != "1" || icmp.IcmpTypeCode == nil || aws.ToInt32(icmp.IcmpTypeCode.Type) != 8 || aws.ToInt32(icmp.IcmpTypeCode.Code) != -1 || !aws.ToBool(icmp.Egress) || icmp.RuleAction != ec2types.RuleActionDeny {
		t.Errorf("icmp entry = %+v", icmp)
	}
	if len(a.Entries) != 4 {
		t.Errorf("entries = %d, want 2 and the two * entries", len(a.Entries))
	}

	_, err = c.CreateNetworkAclEntry(ctx, &awsec2.CreateNetworkAclEntryInput{NetworkAclId: aws.String(id), RuleNumber: aws.Int32(100), Egress: aws.Bool(false),
		Protocol: aws.String("-1"), CidrBlock: aws.String("0.0.0.0/0"), RuleAction: ec2types.RuleActionDeny})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NetworkAclEntryAlreadyExists" {
		t.Errorf("duplicate entry = %v, want NetworkAclEntryAlreadyExists", err)
	}
	_, err = c.DeleteNetworkAcl(ctx, &awsec2.DeleteNetworkAclInput{NetworkAclId: aws.String(id)})
	if !errors.As(err, &ae) || ae.ErrorCode() != "DependencyViolation" {
		t.Errorf("DeleteNetworkAcl in use = %v, want DependencyViolation", err)
	}
}
