package iam_test

import (
	"encoding/base64"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/api/stsapi"
	"github.com/cachalot-dev/cachalot/internal/app/apptest"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
	"github.com/cachalot-dev/cachalot/internal/sdktest"
)

// Resource-level authorization holds whatever way a request names a
// resource (issue 21: a Deny on cluster:victim was bypassed by naming the
// cluster VICTIM, a Deny on a security group by naming the group, and
// CreateTags was authorized on "*"). A caller allowed everything but denied
// everything on a set of victim resources calls every implemented
// operation, naming a victim every way the operation accepts — id, name,
// case, ARN, association, public IP, nested member, implied default — and
// must be denied by that explicit deny each time. Every implemented
// operation is in the table or listed as naming no resource.

// authzCase is one way an operation names a victim. query holds the
// operation's parameters, with ${…} standing for the fixtures' ids.
type authzCase struct {
	service, action, how, query string
}

// noResource are the implemented operations that name no resource: they
// are authorized on "*", as on AWS (EC2 Describe*, List*, account-level
// and caller-level actions).
var noResource = map[string]string{
	"elasticache.DescribeCacheEngineVersions":     "engine catalogue",
	"elasticache.DescribeEngineDefaultParameters": "engine catalogue",
	"elasticache.DescribeEvents":                  "account's events (AWS: resource *)",
	"ec2.AllocateAddress":                         "creates",
	"ec2.CreateInternetGateway":                   "creates",
	"ec2.CreateVpc":                               "creates",
	"ec2.CreateDefaultVpc":                        "creates",
	"ec2.DescribeAccountAttributes":               "Describe*",
	"ec2.DescribeAddresses":                       "Describe*",
	"ec2.DescribeAvailabilityZones":               "Describe*",
	"ec2.DescribeInstances":                       "Describe*",
	"ec2.DescribeIamInstanceProfileAssociations":  "Describe*",
	"ec2.DescribeInternetGateways":                "Describe*",
	"ec2.DescribeNetworkAcls":                     "Describe*",
	"ec2.DescribeNetworkInterfaces":               "Describe*",
	"ec2.DescribeRegions":                         "Describe*",
	"ec2.DescribeRouteTables":                     "Describe*",
	"ec2.DescribeSecurityGroupRules":              "Describe*",
	"ec2.DescribeSecurityGroups":                  "Describe*",
	"ec2.DescribeSubnets":                         "Describe*",
	"ec2.DescribeTags":                            "Describe*",
	"ec2.DescribeVpcPeeringConnections":           "Describe*",
	"ec2.DescribeVpcs":                            "Describe*",
	"ec2.DescribeImages":                          "Describe*",
	"ec2.DescribeInstanceCreditSpecifications":    "Describe*",
	"ec2.DescribeInstanceStatus":                  "Describe*",
	"ec2.DescribeInstanceTypes":                   "Describe*",
	"ec2.DescribeInstanceTypeOfferings":           "Describe*",
	"ec2.DescribeKeyPairs":                        "Describe*",
	"ec2.DescribeLaunchTemplates":                 "Describe*",
	"ec2.DescribeLaunchTemplateVersions":          "Describe*",
	"ec2.DescribeVpcClassicLink":                  "Describe*",
	"ec2.DescribeVpcClassicLinkDnsSupport":        "Describe*",
	"ec2.DescribeClassicLinkInstances":            "Describe*",
	"ec2.DescribeVolumes":                         "Describe*",
	"ec2.CreateLaunchTemplate":                    "creates",
	"ec2.CreateVolume":                            "creates",
	"ec2.RegisterImage":                           "creates",
	"ec2.CreateManagedPrefixList":                 "creates",
	"ec2.CreateDhcpOptions":                       "creates",
	"ec2.DescribeManagedPrefixLists":              "Describe*",
	"ec2.DescribePrefixLists":                     "Describe*",
	"ec2.DescribeDhcpOptions":                     "Describe*",
	"ec2.DescribeVpcEndpoints":                    "Describe*",
	"ec2.DescribeNatGateways":                     "Describe*",
	"ec2.DescribeVpcEndpointServices":             "Describe*",
	"iam.CreateAccountAlias":                      "account",
	"iam.DeleteAccountAlias":                      "account",
	"iam.ListAccountAliases":                      "account",
	"iam.GetAccountSummary":                       "account",
	"iam.ListGroups":                              "List*",
	"iam.ListPolicies":                            "List*",
	"iam.ListRoles":                               "List*",
	"iam.ListUsers":                               "List*",
	"iam.ListInstanceProfiles":                    "List*",
	"iam.ListVirtualMFADevices":                   "List*",
	"sts.GetCallerIdentity":                       "needs no permission",
	"sts.GetAccessKeyInfo":                        "AWS: resource *",
	"sts.GetSessionToken":                         "the caller's own",
}

func elasticacheCases() []authzCase {
	c := func(action, how, query string) authzCase { return authzCase{"elasticache", action, how, query} }
	pg := "CacheParameterGroupFamily=redis7&Description=d"
	return []authzCase{
		c("CreateCacheSecurityGroup", "upper case", "CacheSecurityGroupName=VICTIM-CSG&Description=d"),
		c("DescribeCacheSecurityGroups", "mixed case", "CacheSecurityGroupName=Victim-Csg"),
		c("DeleteCacheSecurityGroup", "as stored", "CacheSecurityGroupName=victim-csg"),
		c("DeleteCacheSecurityGroup", "upper case", "CacheSecurityGroupName=VICTIM-CSG"),
		c("AuthorizeCacheSecurityGroupIngress", "upper case", "CacheSecurityGroupName=VICTIM-CSG&EC2SecurityGroupName=web&EC2SecurityGroupOwnerId=${acct}"),
		c("RevokeCacheSecurityGroupIngress", "upper case", "CacheSecurityGroupName=VICTIM-CSG&EC2SecurityGroupName=web&EC2SecurityGroupOwnerId=${acct}"),
		c("ListAllowedNodeTypeModifications", "upper case", "CacheClusterId=VICTIM"),
		c("CreateCacheCluster", "upper case", "CacheClusterId=VICTIM"),
		c("CreateCacheCluster", "its parameter group", "CacheClusterId=other&CacheParameterGroupName=VICTIM-PG"),
		c("CreateCacheCluster", "its subnet group", "CacheClusterId=other&CacheSubnetGroupName=Victim-Sn"),
		c("CreateCacheCluster", "its cache security group", "CacheClusterId=other&CacheSecurityGroupNames.CacheSecurityGroupName.1=VICTIM-CSG"),
		c("DescribeCacheClusters", "upper case", "CacheClusterId=VICTIM"),
		c("DeleteCacheCluster", "as stored", "CacheClusterId=victim"),
		c("DeleteCacheCluster", "upper case", "CacheClusterId=VICTIM"),
		c("DeleteCacheCluster", "mixed case", "CacheClusterId=ViCtIm"),
		c("RebootCacheCluster", "upper case", "CacheClusterId=VICTIM&CacheNodeIdsToReboot.CacheNodeId.1=0001"),
		c("ModifyCacheCluster", "upper case", "CacheClusterId=VICTIM"),
		c("ModifyCacheCluster", "its parameter group", "CacheClusterId=other&CacheParameterGroupName=VICTIM-PG"),
		c("ModifyCacheCluster", "its cache security group", "CacheClusterId=other&CacheSecurityGroupNames.CacheSecurityGroupName.1=Victim-CSG"),
		c("CreateCacheParameterGroup", "upper case", "CacheParameterGroupName=VICTIM-PG&"+pg),
		c("DescribeCacheParameterGroups", "upper case", "CacheParameterGroupName=VICTIM-PG"),
		c("DescribeCacheParameters", "upper case", "CacheParameterGroupName=VICTIM-PG"),
		c("ModifyCacheParameterGroup", "upper case", "CacheParameterGroupName=VICTIM-PG&ParameterNameValues.ParameterNameValue.1.ParameterName=maxmemory-policy&ParameterNameValues.ParameterNameValue.1.ParameterValue=noeviction"),
		c("ResetCacheParameterGroup", "upper case", "CacheParameterGroupName=VICTIM-PG&ResetAllParameters=true"),
		c("DeleteCacheParameterGroup", "upper case", "CacheParameterGroupName=Victim-PG"),
		c("CreateCacheSubnetGroup", "upper case", "CacheSubnetGroupName=VICTIM-SN&CacheSubnetGroupDescription=d&SubnetIds.SubnetIdentifier.1=${vsubnet}"),
		c("DescribeCacheSubnetGroups", "upper case", "CacheSubnetGroupName=VICTIM-SN"),
		c("ModifyCacheSubnetGroup", "upper case", "CacheSubnetGroupName=VICTIM-SN&CacheSubnetGroupDescription=d"),
		c("DeleteCacheSubnetGroup", "upper case", "CacheSubnetGroupName=VICTIM-SN"),
		c("ListTagsForResource", "ARN as stored", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:cluster:victim"),
		c("ListTagsForResource", "ARN, upper case", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:cluster:VICTIM"),
		c("AddTagsToResource", "ARN, upper case", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:parametergroup:VICTIM-PG&Tags.Tag.1.Key=k&Tags.Tag.1.Value=v"),
		c("RemoveTagsFromResource", "ARN, upper case", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:subnetgroup:VICTIM-SN&TagKeys.member.1=k"),
		c("CreateReplicationGroup", "upper case", "ReplicationGroupId=VICTIM-RG&ReplicationGroupDescription=d"),
		c("CreateReplicationGroup", "its primary cluster", "ReplicationGroupId=other&ReplicationGroupDescription=d&PrimaryClusterId=VICTIM"),
		c("CreateReplicationGroup", "its parameter group", "ReplicationGroupId=other&ReplicationGroupDescription=d&CacheParameterGroupName=VICTIM-PG"),
		c("CreateReplicationGroup", "its subnet group", "ReplicationGroupId=other&ReplicationGroupDescription=d&CacheSubnetGroupName=Victim-Sn"),
		c("DescribeReplicationGroups", "upper case", "ReplicationGroupId=VICTIM-RG"),
		c("DeleteReplicationGroup", "as stored", "ReplicationGroupId=victim-rg"),
		c("DeleteReplicationGroup", "mixed case", "ReplicationGroupId=Victim-Rg"),
		c("ModifyReplicationGroup", "upper case", "ReplicationGroupId=VICTIM-RG&ApplyImmediately=true"),
		c("ModifyReplicationGroup", "its new primary", "ReplicationGroupId=other&PrimaryClusterId=VICTIM"),
		c("ModifyReplicationGroup", "its parameter group", "ReplicationGroupId=other&CacheParameterGroupName=VICTIM-PG"),
		c("ModifyReplicationGroup", "its snapshotting cluster", "ReplicationGroupId=other&SnapshottingClusterId=Victim"),
		c("IncreaseReplicaCount", "upper case", "ReplicationGroupId=VICTIM-RG&ApplyImmediately=true&NewReplicaCount=2"),
		c("ModifyReplicationGroupShardConfiguration", "upper case", "ReplicationGroupId=VICTIM-RG&ApplyImmediately=true&NodeGroupCount=3"),
		c("DecreaseReplicaCount", "upper case", "ReplicationGroupId=VICTIM-RG&ApplyImmediately=true&NewReplicaCount=1"),
		c("DecreaseReplicaCount", "a replica removed", "ReplicationGroupId=other&ApplyImmediately=true&ReplicasToRemove.member.1=VICTIM"),
		c("TestFailover", "upper case", "ReplicationGroupId=VICTIM-RG&NodeGroupId=0001"),
		c("CreateCacheCluster", "its replication group", "CacheClusterId=other&ReplicationGroupId=VICTIM-RG"),
		c("ListTagsForResource", "replication group ARN, upper case", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:replicationgroup:VICTIM-RG"),
		c("CreateUser", "id", "UserId=victim-user&UserName=u&Engine=redis&AccessString=on+~*+%2B@all&NoPasswordRequired=true"),
		c("ModifyUser", "id", "UserId=victim-user&AccessString=off"),
		c("DeleteUser", "id", "UserId=victim-user"),
		c("DescribeUsers", "id", "UserId=victim-user"),
		c("CreateUserGroup", "id", "UserGroupId=victim-ug&Engine=redis&UserIds.member.1=default"),
		c("CreateUserGroup", "its user", "UserGroupId=other&Engine=redis&UserIds.member.1=victim-user"),
		c("ModifyUserGroup", "id", "UserGroupId=victim-ug&UserIdsToAdd.member.1=u1"),
		c("ModifyUserGroup", "a user added", "UserGroupId=other&UserIdsToAdd.member.1=victim-user"),
		c("ModifyUserGroup", "a user removed", "UserGroupId=other&UserIdsToRemove.member.1=victim-user"),
		c("DeleteUserGroup", "id", "UserGroupId=victim-ug"),
		c("DescribeUserGroups", "id", "UserGroupId=victim-ug"),
		c("CreateReplicationGroup", "its user group", "ReplicationGroupId=other&ReplicationGroupDescription=d&TransitEncryptionEnabled=true&UserGroupIds.member.1=victim-ug"),
		c("ModifyReplicationGroup", "a user group added", "ReplicationGroupId=other&UserGroupIdsToAdd.member.1=victim-ug"),
		c("ModifyReplicationGroup", "a user group removed", "ReplicationGroupId=other&UserGroupIdsToRemove.member.1=victim-ug"),
		c("ListTagsForResource", "user ARN", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:user:victim-user"),
		c("ListTagsForResource", "user group ARN", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:usergroup:victim-ug"),
		c("ConnectCompute", "cluster, upper case", "CacheClusterId=VICTIM&InstanceId=i-0123456789abcdef0"),
		c("ConnectCompute", "instance", "CacheClusterId=other&InstanceId=${vinst}"),
		c("DisconnectCompute", "cluster, upper case", "CacheClusterId=VICTIM&InstanceId=i-0123456789abcdef0"),
		c("DisconnectCompute", "instance", "CacheClusterId=other&InstanceId=${vinst}"),
		c("DescribeConnectedComputeResources", "upper case", "CacheClusterId=VICTIM"),
		c("ExplainCacheReachability", "cluster, upper case", "CacheClusterId=VICTIM&InstanceId=i-0123456789abcdef0"),
		c("ExplainCacheReachability", "instance", "CacheClusterId=other&InstanceId=${vinst}"),
		c("CreateSnapshot", "upper case", "SnapshotName=VICTIM-SNAP&CacheClusterId=other"),
		c("CreateSnapshot", "its cluster", "SnapshotName=other-snap&CacheClusterId=VICTIM"),
		c("CreateSnapshot", "its replication group", "SnapshotName=other-snap&ReplicationGroupId=Victim-RG"),
		c("DescribeSnapshots", "upper case", "SnapshotName=VICTIM-SNAP"),
		c("DescribeSnapshots", "its cluster", "CacheClusterId=VICTIM"),
		c("CopySnapshot", "source, upper case", "SourceSnapshotName=VICTIM-SNAP&TargetSnapshotName=other-snap"),
		c("CopySnapshot", "target, mixed case", "SourceSnapshotName=other-snap&TargetSnapshotName=Victim-Snap"),
		c("DeleteSnapshot", "as stored", "SnapshotName=victim-snap"),
		c("DeleteSnapshot", "upper case", "SnapshotName=VICTIM-SNAP"),
		c("CreateCacheCluster", "the snapshot it restores", "CacheClusterId=other&SnapshotName=VICTIM-SNAP"),
		c("DeleteCacheCluster", "its final snapshot", "CacheClusterId=other&FinalSnapshotIdentifier=VICTIM-SNAP"),
		c("ListTagsForResource", "snapshot ARN, upper case", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:snapshot:VICTIM-SNAP"),
		c("CreateServerlessCache", "upper case", "ServerlessCacheName=VICTIM-SL&Engine=redis"),
		c("DescribeServerlessCaches", "upper case", "ServerlessCacheName=VICTIM-SL"),
		c("ModifyServerlessCache", "mixed case", "ServerlessCacheName=Victim-Sl&Description=d"),
		c("DeleteServerlessCache", "as stored", "ServerlessCacheName=victim-sl"),
		c("ListTagsForResource", "serverless cache ARN", "ResourceName=arn:aws:elasticache:us-east-1:${acct}:serverlesscache:victim-sl"),
		c("CreateServerlessCacheSnapshot", "its cache", "ServerlessCacheName=VICTIM-SL&ServerlessCacheSnapshotName=s1"),
		c("CreateServerlessCacheSnapshot", "snapshot", "ServerlessCacheName=other&ServerlessCacheSnapshotName=victim-ss"),
		c("DescribeServerlessCacheSnapshots", "snapshot", "ServerlessCacheSnapshotName=victim-ss"),
		c("DescribeServerlessCacheSnapshots", "its cache", "ServerlessCacheName=Victim-Sl"),
		c("CopyServerlessCacheSnapshot", "source", "SourceServerlessCacheSnapshotName=victim-ss&TargetServerlessCacheSnapshotName=t1"),
		c("CopyServerlessCacheSnapshot", "target", "SourceServerlessCacheSnapshotName=s1&TargetServerlessCacheSnapshotName=victim-ss"),
		c("DeleteServerlessCacheSnapshot", "snapshot", "ServerlessCacheSnapshotName=victim-ss"),
		c("ExportServerlessCacheSnapshot", "snapshot", "ServerlessCacheSnapshotName=victim-ss&S3BucketName=b"),
		c("DescribeServerlessCacheSnapshots", "snapshot, upper case", "ServerlessCacheSnapshotName=VICTIM-SS"),
		c("DeleteServerlessCacheSnapshot", "snapshot, mixed case", "ServerlessCacheSnapshotName=Victim-Ss"),
		c("DeleteServerlessCache", "its final snapshot", "ServerlessCacheName=other&FinalSnapshotName=VICTIM-SS"),
		c("CreateServerlessCache", "the snapshot it restores", "ServerlessCacheName=other&Engine=redis&SnapshotArnsToRestore.SnapshotArn.1=arn:aws:elasticache:us-east-1:${acct}:serverlesscachesnapshot:VICTIM-SS"),
	}
}

func ec2Cases() []authzCase {
	c := func(action, how, query string) authzCase { return authzCase{"ec2", action, how, query} }
	const otherSG, otherInst, otherRtb = "sg-0123456789abcdef0", "i-0123456789abcdef0", "rtb-0123456789abcdef0"
	perm := "&IpPermissions.1.IpProtocol=tcp&IpPermissions.1.FromPort=80&IpPermissions.1.ToPort=80&IpPermissions.1.IpRanges.1.CidrIp=10.9.0.0/16"
	run := "Action=RunInstances&ImageId=ami-12345678&MinCount=1&MaxCount=1&"
	return []authzCase{
		c("AssociateAddress", "allocation id", "AllocationId=${eip}&InstanceId="+otherInst),
		c("AssociateAddress", "public IP", "PublicIp=${eipip}&InstanceId="+otherInst),
		c("AssociateAddress", "instance", "AllocationId=eipalloc-0123456789abcdef0&InstanceId=${vinst}"),
		c("AssociateAddress", "interface", "AllocationId=eipalloc-0123456789abcdef0&NetworkInterfaceId=${veni}"),
		c("DisassociateAddress", "association id", "AssociationId=${assoc}"),
		c("DisassociateAddress", "public IP", "PublicIp=${eipip}"),
		c("ReleaseAddress", "allocation id", "AllocationId=${eip}"),
		c("ReleaseAddress", "public IP", "PublicIp=${eipip}"),
		c("CreateNetworkInterface", "subnet", "SubnetId=${vsubnet}"),
		c("CreateNetworkInterface", "group", "SubnetId=subnet-0123456789abcdef0&SecurityGroupId.1=${vsg}"),
		c("DeleteNetworkInterface", "id", "NetworkInterfaceId=${veni}"),
		c("ModifyNetworkInterfaceAttribute", "id", "NetworkInterfaceId=${veni}&SourceDestCheck.Value=false"),
		c("ModifyNetworkInterfaceAttribute", "group", "NetworkInterfaceId=eni-0123456789abcdef0&SecurityGroupId.1=${vsg}"),
		c("RunInstances", "group id", run+"SecurityGroupId.1=${vsg}"),
		c("RunInstances", "group name", run+"SecurityGroup.1=victim-sg"),
		c("RunInstances", "default group by name", run+"SecurityGroup.1=default"),
		c("RunInstances", "default group implied", run),
		c("RunInstances", "subnet", run+"SubnetId=${vsubnet}&SecurityGroupId.1="+otherSG),
		c("RunInstances", "interface's subnet", run+"NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId=${vsubnet}&NetworkInterface.1.SecurityGroupId.1="+otherSG),
		c("RunInstances", "interface's group", run+"NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.SubnetId=subnet-0123456789abcdef0&NetworkInterface.1.SecurityGroupId.1=${vsg}"),
		c("TerminateInstances", "id", "InstanceId.1=${vinst}"),
		c("StopInstances", "id", "InstanceId.1="+otherInst+"&InstanceId.2=${vinst}"),
		c("StartInstances", "id", "InstanceId.1=${vinst}"),
		c("ModifyInstanceAttribute", "id", "InstanceId=${vinst}&InstanceType.Value=m1.large"),
		c("ModifyInstanceAttribute", "group", "InstanceId="+otherInst+"&GroupId.1=${vsg}"),
		c("DescribeInstanceAttribute", "id", "InstanceId=${vinst}&Attribute=instanceType"),
		c("GetConsoleOutput", "id", "InstanceId=${vinst}"),
		c("AttachInternetGateway", "gateway", "InternetGatewayId=${igw}&VpcId=${ovpc}"),
		c("AttachInternetGateway", "VPC", "InternetGatewayId=igw-0123456789abcdef0&VpcId=${dvpc}"),
		c("DetachInternetGateway", "gateway", "InternetGatewayId=${igw}&VpcId=${ovpc}"),
		c("DetachInternetGateway", "VPC", "InternetGatewayId=igw-0123456789abcdef0&VpcId=${dvpc}"),
		c("DeleteInternetGateway", "id", "InternetGatewayId=${igw}"),
		c("CreateRouteTable", "VPC", "VpcId=${dvpc}"),
		c("CreateNetworkAcl", "VPC", "VpcId=${dvpc}"),
		c("DeleteNetworkAcl", "id", "NetworkAclId=${vacl}"),
		c("CreateNetworkAclEntry", "acl", "NetworkAclId=${acl}&RuleNumber=200&Protocol=-1&RuleAction=deny&Egress=false&CidrBlock=10.0.0.0/8"),
		c("ReplaceNetworkAclEntry", "acl", "NetworkAclId=${acl}&RuleNumber=100&Protocol=-1&RuleAction=deny&Egress=false&CidrBlock=0.0.0.0/0"),
		c("DeleteNetworkAclEntry", "acl", "NetworkAclId=${acl}&RuleNumber=100&Egress=true"),
		c("ReplaceNetworkAclAssociation", "acl", "AssociationId=aclassoc-0123456789abcdef0&NetworkAclId=${vacl}"),
		c("ReplaceNetworkAclAssociation", "association's subnet", "AssociationId=${vaclassoc}&NetworkAclId=acl-0123456789abcdef0"),
		c("DeleteRouteTable", "id", "RouteTableId=${vrtb}"),
		c("CreateRoute", "table", "RouteTableId=${vrtb}&DestinationCidrBlock=10.8.0.0/16&GatewayId=local"),
		c("CreateRoute", "gateway", "RouteTableId="+otherRtb+"&DestinationCidrBlock=10.8.0.0/16&GatewayId=${igw}"),
		c("CreateRoute", "peering", "RouteTableId="+otherRtb+"&DestinationCidrBlock=10.8.0.0/16&VpcPeeringConnectionId=${pcx}"),
		c("ReplaceRoute", "table", "RouteTableId=${vrtb}&DestinationCidrBlock=10.8.0.0/16&GatewayId=local"),
		c("DeleteRoute", "table", "RouteTableId=${vrtb}&DestinationCidrBlock=10.8.0.0/16"),
		c("AssociateRouteTable", "table", "RouteTableId=${vrtb}&SubnetId=subnet-0123456789abcdef0"),
		c("AssociateRouteTable", "subnet", "RouteTableId="+otherRtb+"&SubnetId=${vsubnet}"),
		c("DisassociateRouteTable", "association", "AssociationId=${vrtbassoc}"),
		c("ReplaceRouteTableAssociation", "association", "AssociationId=${vrtbassoc}&RouteTableId="+otherRtb),
		c("ReplaceRouteTableAssociation", "table", "AssociationId=rtbassoc-0123456789abcdef0&RouteTableId=${vrtb}"),
		c("CreateVpcPeeringConnection", "VPC", "VpcId=${dvpc}&PeerVpcId=vpc-0123456789abcdef0"),
		c("CreateVpcPeeringConnection", "peer VPC", "VpcId=vpc-0123456789abcdef0&PeerVpcId=${dvpc}"),
		c("AcceptVpcPeeringConnection", "id", "VpcPeeringConnectionId=${pcx}"),
		c("RejectVpcPeeringConnection", "id", "VpcPeeringConnectionId=${pcx}"),
		c("DeleteVpcPeeringConnection", "id", "VpcPeeringConnectionId=${pcx}"),
		c("RebootInstances", "id", "InstanceId.1=${vinst}"),
		c("ModifyInstanceMetadataOptions", "id", "InstanceId=${vinst}&HttpTokens=required"),
		c("AssociateIamInstanceProfile", "instance", "InstanceId=${vinst}&IamInstanceProfile.Name=vinst-profile"),
		c("DisassociateIamInstanceProfile", "association", "AssociationId=${viip}"),
		c("ReplaceIamInstanceProfileAssociation", "association", "AssociationId=${viip}&IamInstanceProfile.Name=vinst-profile"),
		c("ModifyInstanceCreditSpecification", "id", "InstanceCreditSpecification.1.InstanceId=${vinst}&InstanceCreditSpecification.1.CpuCredits=standard"),
		c("CreateImage", "instance", "InstanceId=${vinst}&Name=other-image"),
		c("DeregisterImage", "id", "ImageId=${vami}"),
		c("RunInstances", "image", "Action=RunInstances&ImageId=${vami}&MinCount=1&MaxCount=1&SecurityGroupId.1="+otherSG),
		c("CreateKeyPair", "name", "KeyName=victim-key"),
		c("ImportKeyPair", "name", "KeyName=victim-key&PublicKeyMaterial=${pubkey}"),
		c("DeleteKeyPair", "name", "KeyName=victim-key"),
		c("DeleteKeyPair", "id", "KeyPairId=${vkp}"),
		c("RunInstances", "key pair", run+"KeyName=victim-key&SecurityGroupId.1="+otherSG),
		c("CreateLaunchTemplateVersion", "id", "LaunchTemplateId=${vlt}&LaunchTemplateData.InstanceType=t3.micro"),
		c("CreateLaunchTemplateVersion", "name", "LaunchTemplateName=victim-lt&LaunchTemplateData.InstanceType=t3.micro"),
		c("ModifyLaunchTemplate", "id", "LaunchTemplateId=${vlt}&SetDefaultVersion=1"),
		c("ModifyLaunchTemplate", "name", "LaunchTemplateName=victim-lt&SetDefaultVersion=1"),
		c("DeleteLaunchTemplate", "id", "LaunchTemplateId=${vlt}"),
		c("DeleteLaunchTemplate", "name", "LaunchTemplateName=victim-lt"),
		c("RunInstances", "launch template", "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateName=victim-lt"),
		c("RunInstances", "launch template's group", "Action=RunInstances&MinCount=1&MaxCount=1&LaunchTemplate.LaunchTemplateName=lt-victim-sg"),
		c("AttachVolume", "volume", "VolumeId=${vvol}&InstanceId="+otherInst+"&Device=/dev/sdf"),
		c("AttachVolume", "instance", "VolumeId=vol-0123456789abcdef0&InstanceId=${vinst}&Device=/dev/sdf"),
		c("DetachVolume", "volume", "VolumeId=${vvol}"),
		c("DeleteVolume", "volume", "VolumeId=${vvol}"),
		c("EnableVpcClassicLink", "VPC", "VpcId=${dvpc}"),
		c("DisableVpcClassicLink", "VPC", "VpcId=${dvpc}"),
		c("EnableVpcClassicLinkDnsSupport", "VPC", "VpcId=${dvpc}"),
		c("DisableVpcClassicLinkDnsSupport", "VPC", "VpcId=${dvpc}"),
		c("AttachClassicLinkVpc", "instance", "InstanceId=${vinst}&VpcId=vpc-0123456789abcdef0&SecurityGroupId.1="+otherSG),
		c("AttachClassicLinkVpc", "VPC", "InstanceId="+otherInst+"&VpcId=${dvpc}&SecurityGroupId.1="+otherSG),
		c("AttachClassicLinkVpc", "group", "InstanceId="+otherInst+"&VpcId=vpc-0123456789abcdef0&SecurityGroupId.1=${vsg}"),
		c("DetachClassicLinkVpc", "instance", "InstanceId=${vinst}&VpcId=vpc-0123456789abcdef0"),
		c("DetachClassicLinkVpc", "VPC", "InstanceId="+otherInst+"&VpcId=${dvpc}"),
		c("CreateTags", "security group", "ResourceId.1=${vsg}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "instance among others", "ResourceId.1="+otherInst+"&ResourceId.2=${vinst}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "VPC", "ResourceId.1=${dvpc}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "subnet", "ResourceId.1=${vsubnet}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "interface", "ResourceId.1=${veni}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "Elastic IP", "ResourceId.1=${eip}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "internet gateway", "ResourceId.1=${igw}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "route table", "ResourceId.1=${vrtb}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "network ACL", "ResourceId.1=${acl}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "peering", "ResourceId.1=${pcx}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "prefix list", "ResourceId.1=${vpl}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "DHCP options", "ResourceId.1=${vdopt}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "VPC endpoint", "ResourceId.1=${vpce}&Tag.1.Key=k&Tag.1.Value=v"),
		c("DeleteTags", "prefix list", "ResourceId.1=${vpl}"),
		c("ModifyManagedPrefixList", "id", "PrefixListId=${vpl}&PrefixListName=renamed"),
		c("DeleteManagedPrefixList", "id", "PrefixListId=${vpl}"),
		c("RestoreManagedPrefixListVersion", "id", "PrefixListId=${vpl}&CurrentVersion=2&PreviousVersion=1"),
		c("GetManagedPrefixListEntries", "id", "PrefixListId=${vpl}"),
		c("GetManagedPrefixListAssociations", "id", "PrefixListId=${vpl}"),
		c("DeleteDhcpOptions", "id", "DhcpOptionsId=${vdopt}"),
		c("AssociateDhcpOptions", "options", "DhcpOptionsId=${vdopt}&VpcId=vpc-0123456789abcdef0"),
		c("AssociateDhcpOptions", "VPC", "DhcpOptionsId=default&VpcId=${dvpc}"),
		c("AssociateVpcCidrBlock", "VPC", "VpcId=${dvpc}&CidrBlock=172.29.0.0/16"),
		c("DisassociateVpcCidrBlock", "association", "AssociationId=${vcidr}"),
		c("CreateVpcEndpoint", "VPC", "VpcId=${dvpc}&ServiceName=com.amazonaws.us-east-1.s3"),
		c("CreateVpcEndpoint", "route table", "VpcId=vpc-0123456789abcdef0&ServiceName=com.amazonaws.us-east-1.s3&RouteTableId.1=${vrtb}"),
		c("CreateVpcEndpoint", "subnet", "VpcId=vpc-0123456789abcdef0&VpcEndpointType=Interface&ServiceName=com.amazonaws.us-east-1.elasticache&SubnetId.1=${vsubnet}"),
		c("CreateVpcEndpoint", "group", "VpcId=vpc-0123456789abcdef0&VpcEndpointType=Interface&ServiceName=com.amazonaws.us-east-1.elasticache&SecurityGroupId.1=${vsg}"),
		c("ModifyVpcEndpoint", "id", "VpcEndpointId=${vpce}&ResetPolicy=true"),
		c("ModifyVpcEndpoint", "route table", "VpcEndpointId=vpce-0123456789abcdef0&AddRouteTableId.1=${vrtb}"),
		c("DeleteVpcEndpoints", "id", "VpcEndpointId.1=${vpce}"),
		c("AssociateSubnetCidrBlock", "subnet", "SubnetId=${vsubnet}&Ipv6CidrBlock=2600:1f18::/64"),
		c("DisassociateSubnetCidrBlock", "association", "AssociationId=${vsubcidr}"),
		c("DisassociateVpcCidrBlock", "IPv6 association", "AssociationId=${vcidrsix}"),
		c("CreateNatGateway", "subnet", "SubnetId=${vsubnet}&AllocationId=eipalloc-0123456789abcdef0"),
		c("CreateNatGateway", "Elastic IP", "SubnetId=subnet-0123456789abcdef0&AllocationId=${eip}"),
		c("DeleteNatGateway", "id", "NatGatewayId=${vnat}"),
		c("CreateTags", "NAT gateway", "ResourceId.1=${vnat}&Tag.1.Key=k&Tag.1.Value=v"),
		c("CreateTags", "security group rule", "ResourceId.1=${vsgr}&Tag.1.Key=k&Tag.1.Value=v"),
		c("DeleteTags", "security group", "ResourceId.1=${vsg}"),
		c("DeleteTags", "instance", "ResourceId.1=${vinst}&Tag.1.Key=k"),
		c("CreateSecurityGroup", "VPC", "GroupName=g&GroupDescription=d&VpcId=${dvpc}"),
		c("CreateSecurityGroup", "default VPC implied", "GroupName=g&GroupDescription=d"),
		c("DeleteSecurityGroup", "id", "GroupId=${vsg}"),
		c("DeleteSecurityGroup", "name", "GroupName=victim-sg"),
		c("DeleteSecurityGroup", "default group by name", "GroupName=default"),
		c("AuthorizeSecurityGroupIngress", "id", "GroupId=${vsg}"+perm),
		c("AuthorizeSecurityGroupIngress", "name", "GroupName=victim-sg"+perm),
		c("AuthorizeSecurityGroupIngress", "default group by name", "GroupName=default"+perm),
		c("AuthorizeSecurityGroupIngress", "default group by name, legacy parameters", "GroupName=default&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=0.0.0.0/0"),
		c("AuthorizeSecurityGroupEgress", "id", "GroupId=${vsg}"+perm),
		c("RevokeSecurityGroupIngress", "id", "GroupId=${vsg}"+perm),
		c("RevokeSecurityGroupIngress", "name", "GroupName=victim-sg"+perm),
		c("RevokeSecurityGroupIngress", "rule", "GroupId="+otherSG+"&SecurityGroupRuleId.1=${vsgr}"),
		c("RevokeSecurityGroupEgress", "id", "GroupId=${defsg}"+perm),
		c("RevokeSecurityGroupEgress", "rule", "GroupId="+otherSG+"&SecurityGroupRuleId.1=${vsgr}"),
		c("ModifySecurityGroupRules", "group", "GroupId=${vsg}&SecurityGroupRule.1.SecurityGroupRuleId=sgr-0123456789abcdef0"),
		c("ModifySecurityGroupRules", "rule", "GroupId="+otherSG+"&SecurityGroupRule.1.SecurityGroupRuleId=${vsgr}"),
		c("UpdateSecurityGroupRuleDescriptionsIngress", "id", "GroupId=${vsg}"+perm),
		c("UpdateSecurityGroupRuleDescriptionsIngress", "name", "GroupName=victim-sg"+perm),
		c("UpdateSecurityGroupRuleDescriptionsIngress", "rule", "GroupId="+otherSG+"&SecurityGroupRuleDescription.1.SecurityGroupRuleId=${vsgr}&SecurityGroupRuleDescription.1.Description=x"),
		c("UpdateSecurityGroupRuleDescriptionsEgress", "id", "GroupId=${defsg}"+perm),
		c("UpdateSecurityGroupRuleDescriptionsEgress", "default group by name", "GroupName=default"+perm),
		c("DeleteVpc", "id", "VpcId=${dvpc}"),
		c("ModifyVpcAttribute", "id", "VpcId=${dvpc}&EnableDnsHostnames.Value=false"),
		c("DescribeVpcAttribute", "id", "VpcId=${dvpc}&Attribute=enableDnsSupport"),
		c("CreateSubnet", "VPC", "VpcId=${dvpc}&CidrBlock=172.31.200.0/24"),
		c("DeleteSubnet", "id", "SubnetId=${vsubnet}"),
		c("ModifySubnetAttribute", "id", "SubnetId=${vsubnet}&MapPublicIpOnLaunch.Value=true"),
	}
}

func iamCases() []authzCase {
	c := func(action, how, query string) authzCase { return authzCase{"iam", action, how, query} }
	var out []authzCase
	// user: every operation naming a user, as stored and in another case.
	for _, u := range []string{"victim", "VICTIM"} {
		for _, op := range []string{"GetUser", "DeleteUser", "ListUserTags", "GetLoginProfile", "DeleteLoginProfile", "CreateAccessKey",
			"ListAccessKeys", "ListGroupsForUser", "ListMFADevices", "ListAttachedUserPolicies", "ListUserPolicies",
			"DeleteUserPermissionsBoundary", "UpdateLoginProfile", "CreateLoginProfile"} {
			out = append(out, c(op, "user "+u, "UserName="+u))
		}
	}
	out = append(out,
		c("CreateUser", "name", "UserName=victim&Path=/p/"),
		c("UpdateUser", "name, upper case", "UserName=VICTIM&NewUserName=renamed"),
		c("UpdateUser", "new name", "UserName=someone&NewUserName=victim&NewPath=/p/"),
		c("TagUser", "upper case", "UserName=VICTIM&Tags.member.1.Key=k&Tags.member.1.Value=v"),
		c("UntagUser", "upper case", "UserName=VICTIM&TagKeys.member.1=k"),
		c("UpdateAccessKey", "upper case", "UserName=VICTIM&AccessKeyId=${vkey}&Status=Inactive"),
		c("DeleteAccessKey", "upper case", "UserName=VICTIM&AccessKeyId=${vkey}"),
		c("GetAccessKeyLastUsed", "access key", "AccessKeyId=${vkey}"),
		c("PutUserPermissionsBoundary", "upper case", "UserName=VICTIM&PermissionsBoundary=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("PutUserPolicy", "upper case", "UserName=VICTIM&PolicyName=p&PolicyDocument=${doc}"),
		c("GetUserPolicy", "upper case", "UserName=VICTIM&PolicyName=p"),
		c("DeleteUserPolicy", "upper case", "UserName=VICTIM&PolicyName=p"),
		c("AttachUserPolicy", "user, upper case", "UserName=VICTIM&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("AttachUserPolicy", "policy", "UserName=nobody&PolicyArn=arn:aws:iam::${acct}:policy/victim-policy"),
		c("DetachUserPolicy", "user, upper case", "UserName=VICTIM&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("AddUserToGroup", "user, upper case", "UserName=VICTIM&GroupName=nobody"),
		c("AddUserToGroup", "group, upper case", "UserName=nobody&GroupName=VICTIM-GROUP"),
		c("RemoveUserFromGroup", "user, upper case", "UserName=VICTIM&GroupName=nobody"),
		c("RemoveUserFromGroup", "group, upper case", "UserName=nobody&GroupName=VICTIM-GROUP"),
		c("EnableMFADevice", "user, upper case", "UserName=VICTIM&SerialNumber=arn:aws:iam::${acct}:mfa/other&AuthenticationCode1=123456&AuthenticationCode2=654321"),
		c("EnableMFADevice", "device", "UserName=nobody&SerialNumber=arn:aws:iam::${acct}:mfa/victim-mfa&AuthenticationCode1=123456&AuthenticationCode2=654321"),
		c("ResyncMFADevice", "device", "UserName=nobody&SerialNumber=arn:aws:iam::${acct}:mfa/victim-mfa&AuthenticationCode1=123456&AuthenticationCode2=654321"),
		c("DeactivateMFADevice", "device", "UserName=nobody&SerialNumber=arn:aws:iam::${acct}:mfa/victim-mfa"),
		c("DeactivateMFADevice", "user, upper case", "UserName=VICTIM&SerialNumber=arn:aws:iam::${acct}:mfa/other"),
		c("DeleteVirtualMFADevice", "device", "SerialNumber=arn:aws:iam::${acct}:mfa/victim-mfa"),
		c("CreateVirtualMFADevice", "name", "VirtualMFADeviceName=victim-mfa"),
		c("SimulatePrincipalPolicy", "user ARN", "PolicySourceArn=arn:aws:iam::${acct}:user/p/victim&ActionNames.member.1=ec2:DescribeVpcs"),
		c("SimulatePrincipalPolicy", "user ARN, upper case, no path", "PolicySourceArn=arn:aws:iam::${acct}:user/VICTIM&ActionNames.member.1=ec2:DescribeVpcs"),
		c("SimulatePrincipalPolicy", "group ARN, another path", "PolicySourceArn=arn:aws:iam::${acct}:group/x/Victim-Group&ActionNames.member.1=ec2:DescribeVpcs"),
		c("SimulatePrincipalPolicy", "role ARN, upper case", "PolicySourceArn=arn:aws:iam::${acct}:role/r/VICTIM-ROLE&ActionNames.member.1=ec2:DescribeVpcs"),
	)
	// group
	for _, op := range []string{"GetGroup", "DeleteGroup", "ListAttachedGroupPolicies", "ListGroupPolicies"} {
		out = append(out, c(op, "upper case", "GroupName=VICTIM-GROUP"))
	}
	out = append(out,
		c("CreateGroup", "name", "GroupName=victim-group&Path=/g/"),
		c("UpdateGroup", "name, upper case", "GroupName=VICTIM-GROUP&NewGroupName=renamed"),
		c("UpdateGroup", "new name", "GroupName=some-group&NewGroupName=victim-group&NewPath=/g/"),
		c("PutGroupPolicy", "upper case", "GroupName=VICTIM-GROUP&PolicyName=p&PolicyDocument=${doc}"),
		c("GetGroupPolicy", "upper case", "GroupName=VICTIM-GROUP&PolicyName=p"),
		c("DeleteGroupPolicy", "upper case", "GroupName=VICTIM-GROUP&PolicyName=p"),
		c("AttachGroupPolicy", "upper case", "GroupName=VICTIM-GROUP&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("DetachGroupPolicy", "upper case", "GroupName=VICTIM-GROUP&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
	)
	// role
	for _, op := range []string{"GetRole", "DeleteRole", "ListRoleTags", "ListAttachedRolePolicies", "ListRolePolicies",
		"ListInstanceProfilesForRole", "DeleteRolePermissionsBoundary"} {
		out = append(out, c(op, "upper case", "RoleName=VICTIM-ROLE"))
	}
	out = append(out,
		c("CreateRole", "name", "RoleName=victim-role&Path=/r/&AssumeRolePolicyDocument=${trust}"),
		c("UpdateRole", "upper case", "RoleName=VICTIM-ROLE&Description=d"),
		c("UpdateRoleDescription", "upper case", "RoleName=VICTIM-ROLE&Description=d"),
		c("UpdateAssumeRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyDocument=${trust}"),
		c("TagRole", "upper case", "RoleName=VICTIM-ROLE&Tags.member.1.Key=k&Tags.member.1.Value=v"),
		c("UntagRole", "upper case", "RoleName=VICTIM-ROLE&TagKeys.member.1=k"),
		c("PutRolePermissionsBoundary", "upper case", "RoleName=VICTIM-ROLE&PermissionsBoundary=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("PutRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyName=p&PolicyDocument=${doc}"),
		c("GetRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyName=p"),
		c("DeleteRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyName=p"),
		c("AttachRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("DetachRolePolicy", "upper case", "RoleName=VICTIM-ROLE&PolicyArn=arn:aws:iam::aws:policy/ReadOnlyAccess"),
		c("CreateInstanceProfile", "name", "InstanceProfileName=victim-profile&Path=/ip/"),
		c("GetInstanceProfile", "upper case", "InstanceProfileName=VICTIM-PROFILE"),
		c("DeleteInstanceProfile", "upper case", "InstanceProfileName=VICTIM-PROFILE"),
		c("AddRoleToInstanceProfile", "profile", "InstanceProfileName=VICTIM-PROFILE&RoleName=nobody"),
		c("AddRoleToInstanceProfile", "role", "InstanceProfileName=nobody&RoleName=VICTIM-ROLE"),
		c("RemoveRoleFromInstanceProfile", "profile", "InstanceProfileName=VICTIM-PROFILE&RoleName=nobody"),
		c("RemoveRoleFromInstanceProfile", "role", "InstanceProfileName=nobody&RoleName=VICTIM-ROLE"),
		c("CreateServiceLinkedRole", "service", "AWSServiceName=elasticache.amazonaws.com"),
		c("DeleteServiceLinkedRole", "name", "RoleName=AWSServiceRoleForElastiCache"),
		c("DeleteServiceLinkedRole", "name, lower case", "RoleName=awsserviceroleforelasticache"),
		c("GetServiceLinkedRoleDeletionStatus", "task", "DeletionTaskId=task/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
	)
	// managed policy
	pol := "PolicyArn=arn:aws:iam::${acct}:policy/victim-policy"
	out = append(out,
		c("CreatePolicy", "name", "PolicyName=victim-policy&PolicyDocument=${doc}"),
		c("GetPolicy", "ARN", pol),
		c("DeletePolicy", "ARN", pol),
		c("CreatePolicyVersion", "ARN", pol+"&PolicyDocument=${doc}"),
		c("GetPolicyVersion", "ARN", pol+"&VersionId=v1"),
		c("ListPolicyVersions", "ARN", pol),
		c("DeletePolicyVersion", "ARN", pol+"&VersionId=v1"),
		c("SetDefaultPolicyVersion", "ARN", pol+"&VersionId=v1"),
		c("TagPolicy", "ARN", pol+"&Tags.member.1.Key=k&Tags.member.1.Value=v"),
		c("UntagPolicy", "ARN", pol+"&TagKeys.member.1=k"),
		c("ListPolicyTags", "ARN", pol),
		c("ListEntitiesForPolicy", "ARN", pol),
		c("AttachGroupPolicy", "policy", "GroupName=nobody&"+pol),
		c("AttachRolePolicy", "policy", "RoleName=nobody&"+pol),
		c("DetachUserPolicy", "policy", "UserName=nobody&"+pol),
		c("DetachGroupPolicy", "policy", "GroupName=nobody&"+pol),
		c("DetachRolePolicy", "policy", "RoleName=nobody&"+pol),
	)
	return out
}

func stsCases() []authzCase {
	c := func(how, arn string) authzCase {
		return authzCase{"sts", "AssumeRole", how, "RoleSessionName=s1&RoleArn=" + arn}
	}
	return []authzCase{
		c("ARN", "arn:aws:iam::${acct}:role/r/victim-role"),
		c("ARN, upper case", "arn:aws:iam::${acct}:role/r/VICTIM-ROLE"),
		c("ARN without its path", "arn:aws:iam::${acct}:role/victim-role"),
	}
}

func TestResourceDenyHoldsForEveryWayOfNaming(t *testing.T) {
	env := apptest.Start(t, loopback)
	fx := authzFixtures(t, env)
	tester := denyVictims(t, env, fx)
	cases := slices.Concat(elasticacheCases(), ec2Cases(), iamCases(), stsCases())

	// Every implemented operation is covered.
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.service+"."+c.action] = true
	}
	for _, op := range implementedOperations(t) {
		if !covered[op] && noResource[op] == "" {
			t.Errorf("%s is implemented but neither named by a case nor listed in noResource", op)
		}
		if covered[op] && noResource[op] != "" {
			t.Errorf("%s is both named by cases and listed in noResource", op)
		}
	}

	for _, c := range cases {
		t.Run(c.service+"/"+c.action+"/"+c.how, func(t *testing.T) {
			query := expand(c.query, fx)
			got := signedCall(t, env, tester, c.service, c.action, query)
			want := "AccessDenied"
			if c.service == "ec2" {
				want = "UnauthorizedOperation"
			}
			if got.code != want || got.status != http.StatusForbidden {
				t.Fatalf("%s %s: %d %s %q, want 403 %s", c.action, query, got.status, got.code, got.msg, want)
			}
			// sts:AssumeRole is decided with the role's trust policy and
			// words its denial without the policy's detail.
			if c.action != "AssumeRole" && !strings.Contains(got.msg, "with an explicit deny") {
				t.Errorf("%s %s: %q, want the victims' explicit deny", c.action, query, got.msg)
			}
		})
	}

	// The victims are intact.
	ec := elasticache.NewFromConfig(env.Config())
	if _, err := ec.DescribeCacheParameterGroups(ctx, &elasticache.DescribeCacheParameterGroupsInput{CacheParameterGroupName: aws.String("victim-pg")}); err != nil {
		t.Errorf("victim-pg: %v", err)
	}
	if _, err := ec.DescribeCacheSubnetGroups(ctx, &elasticache.DescribeCacheSubnetGroupsInput{CacheSubnetGroupName: aws.String("victim-sn")}); err != nil {
		t.Errorf("victim-sn: %v", err)
	}
	e := ec2.NewFromConfig(env.Config())
	groups, err := e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupIds: []string{fx["defsg"], fx["vsg"]}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.SecurityGroups {
		if n := len(g.IpPermissions); (*g.GroupId == fx["vsg"] && n != 1) || (*g.GroupId == fx["defsg"] && n != 1) {
			t.Errorf("%s has %d ingress permissions, want 1 (its own)", *g.GroupId, n)
		}
		if len(g.Tags) > 0 {
			t.Errorf("%s was tagged %v", *g.GroupId, g.Tags)
		}
	}
	inst, err := e.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{fx["vinst"]}})
	if err != nil {
		t.Fatal(err)
	}
	if st := inst.Reservations[0].Instances[0].State.Name; st != ec2types.InstanceStateNameRunning {
		t.Errorf("victim instance is %s", st)
	}
	if _, err := iam.NewFromConfig(env.Config()).GetUser(ctx, &iam.GetUserInput{UserName: aws.String("victim")}); err != nil {
		t.Errorf("victim user: %v", err)
	}

	// The caller is allowed everything else: the denials above are the
	// victims' deny, not an absence of permission.
	if got := signedCall(t, env, tester, "ec2", "AuthorizeSecurityGroupIngress",
		"GroupName=bystander&IpProtocol=tcp&FromPort=22&ToPort=22&CidrIp=10.0.0.0/8"); got.status != http.StatusOK {
		t.Errorf("AuthorizeSecurityGroupIngress on a bystander group: %+v, want 200", got)
	}
	if got := signedCall(t, env, tester, "elasticache", "CreateCacheParameterGroup",
		"CacheParameterGroupName=Bystander-PG&CacheParameterGroupFamily=redis7&Description=d"); got.status != http.StatusOK {
		t.Errorf("CreateCacheParameterGroup Bystander-PG: %+v, want 200", got)
	}
}

// authzFixtures creates the victims (as root) and returns their ids by the
// names the cases use.
func authzFixtures(t *testing.T, env *apptest.Env) map[string]string {
	t.Helper()
	fx := map[string]string{"acct": env.App.AccountID(),
		"doc":   url.QueryEscape(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}]}`),
		"trust": url.QueryEscape(trust(env.App.AccountID(), "")),
	}
	e := ec2.NewFromConfig(env.Config())
	vpcs := must[*ec2.DescribeVpcsOutput](t)(e.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{}))
	fx["dvpc"] = *vpcs.Vpcs[0].VpcId
	sgs := must[*ec2.DescribeSecurityGroupsOutput](t)(e.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{GroupNames: []string{"default"}}))
	fx["defsg"] = *sgs.SecurityGroups[0].GroupId
	fx["vsg"] = *must[*ec2.CreateSecurityGroupOutput](t)(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{
		GroupName: aws.String("victim-sg"), Description: aws.String("d")})).GroupId
	must[*ec2.CreateSecurityGroupOutput](t)(e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String("bystander"), Description: aws.String("d")}))
	rule := must[*ec2.AuthorizeSecurityGroupIngressOutput](t)(e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
		GroupId: aws.String(fx["vsg"]), IpProtocol: aws.String("tcp"), FromPort: aws.Int32(22), ToPort: aws.Int32(22), CidrIp: aws.String("10.0.0.0/8")}))
	fx["vsgr"] = *rule.SecurityGroupRules[0].SecurityGroupRuleId
	fx["ovpc"] = *must[*ec2.CreateVpcOutput](t)(e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16")})).Vpc.VpcId
	fx["vsubnet"] = *must[*ec2.CreateSubnetOutput](t)(e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(fx["ovpc"]),
		CidrBlock: aws.String("10.1.1.0/24")})).Subnet.SubnetId
	run := must[*ec2.RunInstancesOutput](t)(e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-12345678"),
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SecurityGroupIds: []string{fx["vsg"]}}))
	fx["vinst"] = *run.Instances[0].InstanceId
	fx["veni"] = *must[*ec2.CreateNetworkInterfaceOutput](t)(e.CreateNetworkInterface(ctx, &ec2.CreateNetworkInterfaceInput{
		SubnetId: aws.String(fx["vsubnet"])})).NetworkInterface.NetworkInterfaceId
	eip := must[*ec2.AllocateAddressOutput](t)(e.AllocateAddress(ctx, &ec2.AllocateAddressInput{}))
	fx["eip"], fx["eipip"] = *eip.AllocationId, *eip.PublicIp
	fx["assoc"] = *must[*ec2.AssociateAddressOutput](t)(e.AssociateAddress(ctx, &ec2.AssociateAddressInput{
		AllocationId: eip.AllocationId, InstanceId: aws.String(fx["vinst"])})).AssociationId
	igws := must[*ec2.DescribeInternetGatewaysOutput](t)(e.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{
		Filters: []ec2types.Filter{{Name: aws.String("attachment.vpc-id"), Values: []string{fx["dvpc"]}}}}))
	fx["igw"] = *igws.InternetGateways[0].InternetGatewayId
	fx["vrtb"] = *must[*ec2.CreateRouteTableOutput](t)(e.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(fx["ovpc"])})).RouteTable.RouteTableId
	fx["vrtbassoc"] = *must[*ec2.AssociateRouteTableOutput](t)(e.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{
		RouteTableId: aws.String(fx["vrtb"]), SubnetId: aws.String(fx["vsubnet"])})).AssociationId
	fx["pcx"] = *must[*ec2.CreateVpcPeeringConnectionOutput](t)(e.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{
		VpcId: aws.String(fx["dvpc"]), PeerVpcId: aws.String(fx["ovpc"])})).VpcPeeringConnection.VpcPeeringConnectionId
	acls := must[*ec2.DescribeNetworkAclsOutput](t)(e.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{fx["dvpc"]}}}}))
	fx["acl"] = *acls.NetworkAcls[0].NetworkAclId
	fx["vacl"] = *must[*ec2.CreateNetworkAclOutput](t)(e.CreateNetworkAcl(ctx, &ec2.CreateNetworkAclInput{VpcId: aws.String(fx["ovpc"])})).NetworkAcl.NetworkAclId
	sacls := must[*ec2.DescribeNetworkAclsOutput](t)(e.DescribeNetworkAcls(ctx, &ec2.DescribeNetworkAclsInput{
		Filters: []ec2types.Filter{{Name: aws.String("association.subnet-id"), Values: []string{fx["vsubnet"]}}}}))
	for _, as := range sacls.NetworkAcls[0].Associations {
		if aws.ToString(as.SubnetId) == fx["vsubnet"] {
			fx["vaclassoc"] = *as.NetworkAclAssociationId
		}
	}
	fx["vkp"] = *must[*ec2.CreateKeyPairOutput](t)(e.CreateKeyPair(ctx, &ec2.CreateKeyPairInput{KeyName: aws.String("victim-key")})).KeyPairId
	fx["pubkey"] = url.QueryEscape(base64.StdEncoding.EncodeToString([]byte("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGX1nJ2Qe3Gm0H1kq0l0p0u1Jm7mJQ3gK8m1c2m3Q4Zr other")))
	fx["vlt"] = *must[*ec2.CreateLaunchTemplateOutput](t)(e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("victim-lt"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12345678")}})).LaunchTemplate.LaunchTemplateId
	must[*ec2.CreateLaunchTemplateOutput](t)(e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("lt-victim-sg"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12345678"), SecurityGroupIds: []string{fx["vsg"]}}}))
	fx["vvol"] = *must[*ec2.CreateVolumeOutput](t)(e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: run.Instances[0].Placement.AvailabilityZone,
		Size: aws.Int32(1)})).VolumeId
	pl := must[*ec2.CreateManagedPrefixListOutput](t)(e.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{PrefixListName: aws.String("victim-pl"),
		AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(5), Entries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("10.9.0.0/16")}}})).PrefixList
	fx["vpl"] = *pl.PrefixListId
	must[*ec2.ModifyManagedPrefixListOutput](t)(e.ModifyManagedPrefixList(ctx, &ec2.ModifyManagedPrefixListInput{PrefixListId: pl.PrefixListId,
		CurrentVersion: aws.Int64(1), AddEntries: []ec2types.AddPrefixListEntry{{Cidr: aws.String("10.8.0.0/16")}}}))
	fx["vdopt"] = *must[*ec2.CreateDhcpOptionsOutput](t)(e.CreateDhcpOptions(ctx, &ec2.CreateDhcpOptionsInput{DhcpConfigurations: []ec2types.NewDhcpConfiguration{
		{Key: aws.String("domain-name"), Values: []string{"victim.internal"}}}})).DhcpOptions.DhcpOptionsId
	fx["vcidr"] = *must[*ec2.AssociateVpcCidrBlockOutput](t)(e.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(fx["dvpc"]),
		CidrBlock: aws.String("172.30.0.0/16")})).CidrBlockAssociation.AssociationId
	fx["vpce"] = *must[*ec2.CreateVpcEndpointOutput](t)(e.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: aws.String(fx["ovpc"]),
		ServiceName: aws.String("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{fx["vrtb"]}})).VpcEndpoint.VpcEndpointId
	v6 := must[*ec2.AssociateVpcCidrBlockOutput](t)(e.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(fx["ovpc"]),
		AmazonProvidedIpv6CidrBlock: aws.Bool(true)})).Ipv6CidrBlockAssociation
	fx["vcidrsix"] = *must[*ec2.AssociateVpcCidrBlockOutput](t)(e.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(fx["dvpc"]),
		AmazonProvidedIpv6CidrBlock: aws.Bool(true)})).Ipv6CidrBlockAssociation.AssociationId
	sub6 := strings.Replace(*v6.Ipv6CidrBlock, "/56", "/64", 1)
	fx["vsubcidr"] = *must[*ec2.AssociateSubnetCidrBlockOutput](t)(e.AssociateSubnetCidrBlock(ctx, &ec2.AssociateSubnetCidrBlockInput{
		SubnetId: aws.String(fx["vsubnet"]), Ipv6CidrBlock: aws.String(sub6)})).Ipv6CidrBlockAssociation.AssociationId
	nateip := must[*ec2.AllocateAddressOutput](t)(e.AllocateAddress(ctx, &ec2.AllocateAddressInput{}))
	fx["vnat"] = *must[*ec2.CreateNatGatewayOutput](t)(e.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: run.Instances[0].SubnetId,
		AllocationId: nateip.AllocationId})).NatGateway.NatGatewayId
	fx["vami"] = *must[*ec2.CreateImageOutput](t)(e.CreateImage(ctx, &ec2.CreateImageInput{InstanceId: aws.String(fx["vinst"]), Name: aws.String("victim-image")})).ImageId
	must[*iam.CreateInstanceProfileOutput](t)(iam.NewFromConfig(env.Config()).CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String("vinst-profile")}))
	fx["viip"] = *must[*ec2.AssociateIamInstanceProfileOutput](t)(e.AssociateIamInstanceProfile(ctx, &ec2.AssociateIamInstanceProfileInput{
		InstanceId: aws.String(fx["vinst"]), IamInstanceProfile: &ec2types.IamInstanceProfileSpecification{Name: aws.String("vinst-profile")}})).IamInstanceProfileAssociation.AssociationId

	ec := elasticache.NewFromConfig(env.Config())
	must[*elasticache.CreateCacheParameterGroupOutput](t)(ec.CreateCacheParameterGroup(ctx, &elasticache.CreateCacheParameterGroupInput{
		CacheParameterGroupName: aws.String("victim-pg"), CacheParameterGroupFamily: aws.String("redis7"), Description: aws.String("d")}))
	must[*elasticache.CreateCacheSubnetGroupOutput](t)(ec.CreateCacheSubnetGroup(ctx, &elasticache.CreateCacheSubnetGroupInput{
		CacheSubnetGroupName: aws.String("victim-sn"), CacheSubnetGroupDescription: aws.String("d"), SubnetIds: []string{*run.Instances[0].SubnetId}}))

	c := iam.NewFromConfig(env.Config())
	must[*iam.CreateUserOutput](t)(c.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String("victim"), Path: aws.String("/p/")}))
	fx["vkey"] = newKey(t, c, "victim").AccessKeyID
	must[*iam.CreateGroupOutput](t)(c.CreateGroup(ctx, &iam.CreateGroupInput{GroupName: aws.String("victim-group"), Path: aws.String("/g/")}))
	must[*iam.CreateRoleOutput](t)(c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("victim-role"), Path: aws.String("/r/"),
		AssumeRolePolicyDocument: aws.String(trust(fx["acct"], ""))}))
	must[*iam.CreateInstanceProfileOutput](t)(c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{
		InstanceProfileName: aws.String("victim-profile"), Path: aws.String("/ip/")}))
	must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("victim-policy"),
		PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:DescribeVpcs","Resource":"*"}]}`)}))
	must[*iam.CreateVirtualMFADeviceOutput](t)(c.CreateVirtualMFADevice(ctx, &iam.CreateVirtualMFADeviceInput{VirtualMFADeviceName: aws.String("victim-mfa")}))
	must[*iam.CreateServiceLinkedRoleOutput](t)(c.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String("elasticache.amazonaws.com")}))
	return fx
}

// denyVictims creates the caller of the cases: allowed everything, denied
// everything on the victims.
func denyVictims(t *testing.T, env *apptest.Env, fx map[string]string) aws.Credentials {
	t.Helper()
	ec := func(typ, id string) string {
		return "arn:aws:elasticache:us-east-1:" + fx["acct"] + ":" + typ + ":" + id
	}
	e2 := func(typ, id string) string { return "arn:aws:ec2:us-east-1:" + fx["acct"] + ":" + typ + "/" + id }
	im := func(res string) string { return "arn:aws:iam::" + fx["acct"] + ":" + res }
	victims := []string{
		ec("cluster", "victim"), ec("replicationgroup", "victim-rg"), ec("parametergroup", "victim-pg"), ec("subnetgroup", "victim-sn"), ec("securitygroup", "victim-csg"),
		ec("user", "victim-user"), ec("usergroup", "victim-ug"), ec("serverlesscache", "victim-sl"), ec("serverlesscachesnapshot", "victim-ss"),
		e2("security-group", fx["defsg"]), e2("security-group", fx["vsg"]), e2("security-group-rule", fx["vsgr"]), e2("vpc", fx["dvpc"]),
		e2("subnet", fx["vsubnet"]), e2("instance", fx["vinst"]), e2("network-interface", fx["veni"]), e2("elastic-ip", fx["eip"]),
		e2("internet-gateway", fx["igw"]), e2("route-table", fx["vrtb"]), e2("vpc-peering-connection", fx["pcx"]), e2("network-acl", fx["acl"]), e2("network-acl", fx["vacl"]),
		e2("key-pair", "victim-key"), e2("launch-template", fx["vlt"]), e2("volume", fx["vvol"]),
		e2("prefix-list", fx["vpl"]), e2("dhcp-options", fx["vdopt"]), e2("vpc-endpoint", fx["vpce"]), e2("natgateway", fx["vnat"]),
		"arn:aws:ec2:us-east-1::image/" + fx["vami"], ec("snapshot", "victim-snap"),
		im("user/p/victim"), im("group/g/victim-group"), im("role/r/victim-role"), im("instance-profile/ip/victim-profile"),
		im("policy/victim-policy"), im("mfa/victim-mfa"), im("role/aws-service-role/elasticache.amazonaws.com/AWSServiceRoleForElastiCache"),
	}
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},` +
		`{"Effect":"Deny","Action":"*","Resource":["` + strings.Join(victims, `","`) + `"]}]}`
	c := iam.NewFromConfig(env.Config())
	p := must[*iam.CreatePolicyOutput](t)(c.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String("deny-victims"), PolicyDocument: aws.String(doc)}))
	creds := newUser(t, c, "tester")
	must[*iam.AttachUserPolicyOutput](t)(c.AttachUserPolicy(ctx, &iam.AttachUserPolicyInput{UserName: aws.String("tester"), PolicyArn: p.Policy.Arn}))
	return creds
}

var placeholder = regexp.MustCompile(`\$\{([a-z]+)\}`)

func expand(q string, fx map[string]string) string {
	return placeholder.ReplaceAllStringFunc(q, func(m string) string {
		v, ok := fx[m[2:len(m)-1]]
		if !ok {
			panic("no fixture " + m)
		}
		return v
	})
}

type callAnswer struct {
	status    int
	code, msg string
}

var apiVersions = map[string]string{"elasticache": elasticacheapi.Metadata.APIVersion, "ec2": ec2api.Metadata.APIVersion,
	"iam": iamapi.Metadata.APIVersion, "sts": stsapi.Metadata.APIVersion}

// signedCall sends Action=action with query's parameters to service, signed
// with creds as aws-sdk-go-v2 signs.
func signedCall(t *testing.T, env *apptest.Env, creds aws.Credentials, service, action, query string) callAnswer {
	t.Helper()
	a := rawCall(t, env, creds, service, action, query)
	return callAnswer{status: a.Status, code: a.Code, msg: a.Msg}
}

// rawCall sends Action=action with query's parameters to service, signed
// with creds as aws-sdk-go-v2 signs, and returns the whole answer.
func rawCall(t *testing.T, env *apptest.Env, creds aws.Credentials, service, action, query string) sdktest.Answer {
	t.Helper()
	params, err := url.ParseQuery(query)
	if err != nil {
		t.Fatalf("query %q: %v", query, err)
	}
	params.Set("Action", action)
	params.Set("Version", apiVersions[service])
	req, err := sdktest.SignedQuery(env.URL, creds, service, apptest.Region, params)
	if err != nil {
		t.Fatal(err)
	}
	a, err := sdktest.Send(req)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// implementedOperations lists, as service.Action, the operations the
// domain packages implement: the methods of their Service types named after
// an operation of the service's API, and Cachalot's own ElastiCache actions
// (internal/access).
func implementedOperations(t *testing.T) []string {
	t.Helper()
	tables := []struct {
		service, dir string
		ops          map[string]awsproto.Operation
	}{
		{"elasticache", "../elasticache", elasticacheapi.OperationTable(elasticacheapi.Unimplemented{})},
		{"ec2", "../ec2", ec2api.OperationTable(ec2api.Unimplemented{})},
		{"iam", ".", iamapi.OperationTable(iamapi.Unimplemented{})},
		{"sts", "../sts", stsapi.OperationTable(stsapi.Unimplemented{})},
	}
	var out []string
	for _, tb := range tables {
		for _, f := range parseDir(t, tb.dir) {
			for _, d := range f.Decls {
				fn, ok := d.(*ast.FuncDecl)
				if !ok || fn.Recv == nil || len(fn.Recv.List) != 1 {
					continue
				}
				star, ok := fn.Recv.List[0].Type.(*ast.StarExpr)
				if !ok {
					continue
				}
				if id, ok := star.X.(*ast.Ident); !ok || id.Name != "Service" {
					continue
				}
				if _, isOp := tb.ops[fn.Name.Name]; isOp {
					out = append(out, tb.service+"."+fn.Name.Name)
				}
			}
		}
	}
	// internal/access: the keys of the map (*Service).Operations returns.
	for _, f := range parseDir(t, "../access") {
		ast.Inspect(f, func(n ast.Node) bool {
			fn, ok := n.(*ast.FuncDecl)
			if !ok || fn.Name.Name != "Operations" || fn.Recv == nil {
				return true
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if kv, ok := n.(*ast.KeyValueExpr); ok {
					if lit, ok := kv.Key.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						name, _ := strconv.Unquote(lit.Value)
						out = append(out, "elasticache."+name)
					}
				}
				return true
			})
			return false
		})
	}
	if len(out) < 150 {
		t.Fatalf("found %d implemented operations; the source walk is broken", len(out))
	}
	return out
}

func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, n := range names {
		if strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, n, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}
