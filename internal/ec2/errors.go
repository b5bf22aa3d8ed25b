package ec2

import (
	"net/netip"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// The EC2 error vocabulary: every error code the service returns, with its
// HTTP status and, where EC2 words it one way, its message, in one table
// sorted by code, in the manner of the generated internal/api/*/zz_errors.go
// (botocore's EC2 model lists no errors, so this one is written by hand).
// Every error is the sender's (HTTP 400, Type Sender) unless its status says
// otherwise; no EC2 error here is the receiver's. Codes with one message
// take its arguments; codes EC2 words in several ways take a format. The
// codes every service shares are awserr's: InvalidParameterValue,
// InvalidParameterCombination, MissingParameter. The rest of the package
// builds errors only through this table (TestErrorsFromTable).

// HTTP statuses of the errors that are not 400 (domain packages do not
// import net/http).
const (
	statusForbidden          = 403
	statusPreconditionFailed = 412
)

// codeInvalidGroupNotFound is compared with, by code.
const codeInvalidGroupNotFound = "InvalidGroup.NotFound"

// errAccountSupportsEC2Classic returns AccountSupportsEC2Classic (HTTP 400).
func errAccountSupportsEC2Classic() *awserr.Error {
	return awserr.New("AccountSupportsEC2Classic", "You cannot create a default VPC because your account supports EC2-Classic.")
}

// errAddressLimitExceeded returns AddressLimitExceeded (HTTP 400).
func errAddressLimitExceeded() *awserr.Error {
	return awserr.New("AddressLimitExceeded", "The maximum number of addresses has been reached.")
}

// errAuthFailure returns AuthFailure (HTTP 403).
func errAuthFailure() *awserr.Error {
	return awserr.WithStatus(statusForbidden, "AuthFailure", "AWS was not able to validate the provided access credentials")
}

// errCannotDelete returns CannotDelete (HTTP 400).
func errCannotDelete(group string) *awserr.Error {
	return awserr.New("CannotDelete", "the specified group: \"%s\" name: \"default\" cannot be deleted by a user", group)
}

// errDefaultVpcAlreadyExists returns DefaultVpcAlreadyExists (HTTP 400).
func errDefaultVpcAlreadyExists() *awserr.Error {
	return awserr.New("DefaultVpcAlreadyExists", "A Default VPC already exists for this account in this region.")
}

// errDependencyViolation returns DependencyViolation (HTTP 400).
func errDependencyViolation(format string, args ...any) *awserr.Error {
	return awserr.New("DependencyViolation", format, args...)
}

// errDryRunOperation returns DryRunOperation (HTTP 412).
func errDryRunOperation() *awserr.Error {
	return awserr.WithStatus(statusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
}

// errGatewayNotAttached returns Gateway.NotAttached (HTTP 400).
func errGatewayNotAttached(format string, args ...any) *awserr.Error {
	return awserr.New("Gateway.NotAttached", format, args...)
}

// errIncorrectInstanceState returns IncorrectInstanceState (HTTP 400).
func errIncorrectInstanceState(format string, args ...any) *awserr.Error {
	return awserr.New("IncorrectInstanceState", format, args...)
}

// errInstanceLimitExceeded returns InstanceLimitExceeded (HTTP 400).
func errInstanceLimitExceeded(requested int32, limit int) *awserr.Error {
	return awserr.New("InstanceLimitExceeded", "You have requested more instances (%d) than your current instance limit of %d allows for the specified instance type.", requested, limit)
}

// errInsufficientAddressCapacity returns InsufficientAddressCapacity (HTTP 400).
func errInsufficientAddressCapacity() *awserr.Error {
	return awserr.New("InsufficientAddressCapacity", "Insufficient capacity in the Elastic IP pool.")
}

// errInsufficientFreeAddressesInSubnet returns InsufficientFreeAddressesInSubnet (HTTP 400).
func errInsufficientFreeAddressesInSubnet(subnet string) *awserr.Error {
	return awserr.New("InsufficientFreeAddressesInSubnet", "There are not enough free addresses in subnet '%s' to satisfy the requested number of instances.", subnet)
}

// errInternetGatewayLimitExceeded returns InternetGatewayLimitExceeded (HTTP 400).
func errInternetGatewayLimitExceeded() *awserr.Error {
	return awserr.New("InternetGatewayLimitExceeded", "The maximum number of internet gateways has been reached.")
}

// errInvalidAddressInUse returns InvalidAddress.InUse (HTTP 400).
func errInvalidAddressInUse(address string) *awserr.Error {
	return awserr.New("InvalidAddress.InUse", "Address %s is already allocated.", address)
}

// errInvalidAddressNotFound returns InvalidAddress.NotFound (HTTP 400).
func errInvalidAddressNotFound(address string) *awserr.Error {
	return awserr.New("InvalidAddress.NotFound", "Address '%s' not found.", address)
}

// errInvalidAllocationIDMalformed returns InvalidAllocationID.Malformed (HTTP 400).
func errInvalidAllocationIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidAllocationID.Malformed", "Invalid id: \"%s\" (expecting \"eipalloc-...\")", id)
}

// errInvalidAllocationIDNotFound returns InvalidAllocationID.NotFound (HTTP 400).
func errInvalidAllocationIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidAllocationID.NotFound", "The allocation ID '%s' does not exist", id)
}

// errInvalidAssociationIDNotFound returns InvalidAssociationID.NotFound (HTTP 400).
func errInvalidAssociationIDNotFound(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidAssociationID.NotFound", format, args...)
}

// errInvalidAttachmentIDNotFound returns InvalidAttachmentID.NotFound (HTTP 400).
func errInvalidAttachmentIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidAttachmentID.NotFound", "The attachment ID '%s' does not exist", id)
}

// errInvalidGatewayIDNotFound returns InvalidGatewayID.NotFound (HTTP 400).
func errInvalidGatewayIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidGatewayID.NotFound", "The gateway ID '%s' does not exist", id)
}

// errInvalidGroupDuplicate returns InvalidGroup.Duplicate (HTTP 400).
func errInvalidGroupDuplicate(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidGroup.Duplicate", format, args...)
}

// errInvalidGroupNotFound returns InvalidGroup.NotFound (HTTP 400).
func errInvalidGroupNotFound(format string, args ...any) *awserr.Error {
	return awserr.New(codeInvalidGroupNotFound, format, args...)
}

// errInvalidGroupReserved returns InvalidGroup.Reserved (HTTP 400).
func errInvalidGroupReserved() *awserr.Error {
	return awserr.New("InvalidGroup.Reserved", "The security group 'default' is reserved")
}

// errInvalidGroupIdMalformed returns InvalidGroupId.Malformed (HTTP 400).
func errInvalidGroupIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidGroupId.Malformed", "Invalid id: \"%s\" (expecting \"sg-...\")", id)
}

// errInvalidID returns InvalidID (HTTP 400).
func errInvalidID(id string) *awserr.Error {
	return awserr.New("InvalidID", "The ID '%s' is not valid", id)
}

// errInvalidIPAddressInUse returns InvalidIPAddress.InUse (HTTP 400).
func errInvalidIPAddressInUse(address string) *awserr.Error {
	return awserr.New("InvalidIPAddress.InUse", "Address %s is in use.", address)
}

// errInvalidInstanceIDMalformed returns InvalidInstanceID.Malformed (HTTP 400).
func errInvalidInstanceIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidInstanceID.Malformed", "Invalid id: \"%s\"", id)
}

// errInvalidInstanceIDNotFound returns InvalidInstanceID.NotFound (HTTP 400).
func errInvalidInstanceIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidInstanceID.NotFound", "The instance ID '%s' does not exist", id)
}

// errInvalidInternetGatewayIDNotFound returns InvalidInternetGatewayID.NotFound (HTTP 400).
func errInvalidInternetGatewayIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidInternetGatewayID.NotFound", "The internetGateway ID '%s' does not exist", id)
}

// errInvalidInternetGatewayIdMalformed returns InvalidInternetGatewayId.Malformed (HTTP 400).
func errInvalidInternetGatewayIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidInternetGatewayId.Malformed", "Invalid id: \"%s\"", id)
}

// errInvalidNetworkAclEntryNotFound returns InvalidNetworkAclEntry.NotFound (HTTP 400).
func errInvalidNetworkAclEntryNotFound(acl string, n int32, dir string) *awserr.Error {
	return awserr.New("InvalidNetworkAclEntry.NotFound", "The network acl entry identified by %d (%s) does not exist in %s", n, dir, acl)
}

// errInvalidNetworkAclIDNotFound returns InvalidNetworkAclID.NotFound (HTTP 400).
func errInvalidNetworkAclIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidNetworkAclID.NotFound", "The networkAcl ID '%s' does not exist", id)
}

// errInvalidNetworkInterfaceInUse returns InvalidNetworkInterface.InUse (HTTP 400).
func errInvalidNetworkInterfaceInUse(id string) *awserr.Error {
	return awserr.New("InvalidNetworkInterface.InUse", "Interface: [%s] in use.", id)
}

// errInvalidNetworkInterfaceIDMalformed returns InvalidNetworkInterfaceID.Malformed (HTTP 400).
func errInvalidNetworkInterfaceIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidNetworkInterfaceID.Malformed", "Invalid id: \"%s\" (expecting \"eni-...\")", id)
}

// errInvalidNetworkInterfaceIDNotFound returns InvalidNetworkInterfaceID.NotFound (HTTP 400).
func errInvalidNetworkInterfaceIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidNetworkInterfaceID.NotFound", "The networkInterface ID '%s' does not exist", id)
}

// errInvalidNextToken returns InvalidNextToken (HTTP 400).
func errInvalidNextToken(token string) *awserr.Error {
	return awserr.New("InvalidNextToken", "The token '%s' is invalid", token)
}

// errInvalidParameter returns InvalidParameter (HTTP 400).
func errInvalidParameter(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidParameter", format, args...)
}

// errInvalidPermissionDuplicate returns InvalidPermission.Duplicate (HTTP 400).
func errInvalidPermissionDuplicate(rule string) *awserr.Error {
	return awserr.New("InvalidPermission.Duplicate", "the specified rule \"%s\" already exists", rule)
}

// errInvalidPermissionNotFound returns InvalidPermission.NotFound (HTTP 400).
func errInvalidPermissionNotFound(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidPermission.NotFound", format, args...)
}

// errInvalidPrefixListIdMalformed returns InvalidPrefixListId.Malformed (HTTP 400).
func errInvalidPrefixListIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidPrefixListId.Malformed", "The prefix list ID '%s' is malformed", id)
}

// errInvalidPrefixListIDNotFound returns InvalidPrefixListID.NotFound (HTTP 400).
func errInvalidPrefixListIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidPrefixListID.NotFound", "The prefix list ID '%s' does not exist", id)
}

// errNetworkAclEntryAlreadyExists returns NetworkAclEntryAlreadyExists (HTTP 400).
func errNetworkAclEntryAlreadyExists(n int32) *awserr.Error {
	return awserr.New("NetworkAclEntryAlreadyExists", "The network acl entry identified by %d already exists.", n)
}

// errNetworkAclEntryLimitExceeded returns NetworkAclEntryLimitExceeded (HTTP 400).
func errNetworkAclEntryLimitExceeded(acl string) *awserr.Error {
	return awserr.New("NetworkAclEntryLimitExceeded", "The maximum number of entries for network acl %s has been reached.", acl)
}

// errNetworkAclLimitExceeded returns NetworkAclLimitExceeded (HTTP 400).
func errNetworkAclLimitExceeded() *awserr.Error {
	return awserr.New("NetworkAclLimitExceeded", "The maximum number of network acls has been reached.")
}

// errPrefixListVersionMismatch returns PrefixListVersionMismatch (HTTP 400).
func errPrefixListVersionMismatch(id string, current int64) *awserr.Error {
	return awserr.New("PrefixListVersionMismatch", "The prefix list %s has been modified; its current version is %d.", id, current)
}

// errPrefixListMaxEntriesExceeded returns PrefixListMaxEntriesExceeded (HTTP 400).
func errPrefixListMaxEntriesExceeded(id string, max int32) *awserr.Error {
	return awserr.New("PrefixListMaxEntriesExceeded", "The prefix list %s would exceed its maximum number of entries (%d).", id, max)
}

// errInvalidPrefixListModification returns InvalidPrefixListModification (HTTP 400).
func errInvalidPrefixListModification(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidPrefixListModification", format, args...)
}

// errPrefixListResourceLimitExceeded returns PrefixListResourceLimitExceeded (HTTP 400).
func errPrefixListResourceLimitExceeded() *awserr.Error {
	return awserr.New("PrefixListResourceLimitExceeded", "The maximum number of prefix lists has been reached.")
}

// errInvalidDhcpOptionIDNotFound returns InvalidDhcpOptionID.NotFound (HTTP 400).
func errInvalidDhcpOptionIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidDhcpOptionID.NotFound", "The dhcpOption ID '%s' does not exist", id)
}

// errInvalidDhcpOptionsIdMalformed returns InvalidDhcpOptionsId.Malformed (HTTP 400).
func errInvalidDhcpOptionsIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidDhcpOptionsId.Malformed", "Invalid id: \"%s\" (expecting \"dopt-...\")", id)
}

// errInvalidVpcCidrBlockAssociationIDNotFound returns InvalidVpcCidrBlockAssociationID.NotFound (HTTP 400).
func errInvalidSubnetCidrBlockAssociationIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidSubnetCidrBlockAssociationID.NotFound", "The subnet CIDR block with association ID '%s' does not exist", id)
}

// errInvalidVpcCidrBlockAssociationIDNotFound returns InvalidVpcCidrBlockAssociationID.NotFound (HTTP 400).
func errInvalidVpcCidrBlockAssociationIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidVpcCidrBlockAssociationID.NotFound", "The vpc CIDR block association ID '%s' does not exist", id)
}

// errCidrLimitExceeded returns CidrLimitExceeded (HTTP 400).
func errCidrLimitExceeded(vpc string, max int) *awserr.Error {
	return awserr.New("CidrLimitExceeded", "This network '%s' has met its maximum number of allowed CIDRs: %d", vpc, max)
}

// errInvalidCidrBlockInUse returns InvalidCidrBlock.InUse (HTTP 400).
func errInvalidCidrBlockInUse(vpc, cidr string) *awserr.Error {
	return awserr.New("InvalidCidrBlock.InUse", "The vpc %s currently has a subnet within CIDR block %s", vpc, cidr)
}

// errDuplicateSubnetsInSameZone returns DuplicateSubnetsInSameZone (HTTP 400).
func errDuplicateSubnetsInSameZone(subnet string) *awserr.Error {
	return awserr.New("DuplicateSubnetsInSameZone", "Found another VPC endpoint subnet in the availability zone of %s. VPC endpoint subnets should be in different availability zones supported by the VPC endpoint service.", subnet)
}

// errInvalidVpcEndpointIdNotFound returns InvalidVpcEndpointId.NotFound (HTTP 400).
func errInvalidVpcEndpointIdNotFound(id string) *awserr.Error {
	return awserr.New("InvalidVpcEndpointId.NotFound", "The Vpc Endpoint Id '%s' does not exist", id)
}

// errNatGatewayNotFound returns NatGatewayNotFound (HTTP 400).
func errNatGatewayNotFound(id string) *awserr.Error {
	return awserr.New("NatGatewayNotFound", "The Nat Gateway %s was not found", id)
}

// errNatGatewayMalformed returns NatGatewayMalformed (HTTP 400).
func errNatGatewayMalformed(id string) *awserr.Error {
	return awserr.New("NatGatewayMalformed", "The Nat Gateway ID '%s' is malformed", id)
}

// errInvalidVpcEndpointIdMalformed returns InvalidVpcEndpointId.Malformed (HTTP 400).
func errInvalidVpcEndpointIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidVpcEndpointId.Malformed", "Invalid Id: '%s'", id)
}

// errInvalidServiceName returns InvalidServiceName (HTTP 400).
func errInvalidServiceName(name string) *awserr.Error {
	return awserr.New("InvalidServiceName", "The Vpc Endpoint Service '%s' does not exist", name)
}

// errInvalidRouteNotFound returns InvalidRoute.NotFound (HTTP 400).
func errInvalidRouteNotFound(destination string, routeTable string) *awserr.Error {
	return awserr.New("InvalidRoute.NotFound", "no route with destination-cidr-block %s in route table %s", destination, routeTable)
}

// errInvalidRouteTableIDNotFound returns InvalidRouteTableID.NotFound (HTTP 400).
func errInvalidRouteTableIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidRouteTableID.NotFound", "The routeTable ID '%s' does not exist", id)
}

// errInvalidRouteTableIdMalformed returns InvalidRouteTableId.Malformed (HTTP 400).
func errInvalidRouteTableIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidRouteTableId.Malformed", "Invalid id: \"%s\"", id)
}

// errInvalidSecurityGroupRuleIdNotFound returns InvalidSecurityGroupRuleId.NotFound (HTTP 400).
func errInvalidSecurityGroupRuleIdNotFound(id string) *awserr.Error {
	return awserr.New("InvalidSecurityGroupRuleId.NotFound", "The security group rule ID '%s' does not exist", id)
}

// errInvalidStateTransition returns InvalidStateTransition (HTTP 400).
func errInvalidStateTransition(id string, from string, to string) *awserr.Error {
	return awserr.New("InvalidStateTransition", "Invalid state transition for %s, attempted to transition from %s to %s", id, from, to)
}

// errInvalidSubnetConflict returns InvalidSubnet.Conflict (HTTP 400).
func errInvalidSubnetConflict(cidr netip.Prefix) *awserr.Error {
	return awserr.New("InvalidSubnet.Conflict", "The CIDR '%s' conflicts with another subnet", cidr)
}

// errInvalidSubnetRange returns InvalidSubnet.Range (HTTP 400).
func errInvalidSubnetRange(cidr netip.Prefix) *awserr.Error {
	return awserr.New("InvalidSubnet.Range", "The CIDR '%s' is invalid.", cidr)
}

// errInvalidSubnetIDMalformed returns InvalidSubnetID.Malformed (HTTP 400).
func errInvalidSubnetIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidSubnetID.Malformed", "Invalid id: \"%s\"", id)
}

// errInvalidSubnetIDNotFound returns InvalidSubnetID.NotFound (HTTP 400).
func errInvalidSubnetIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist", id)
}

// errInvalidUserIDMalformed returns InvalidUserID.Malformed (HTTP 400).
func errInvalidUserIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidUserID.Malformed", "Invalid user id: \"%s\"", id)
}

// errInvalidVpcRange returns InvalidVpc.Range (HTTP 400).
func errInvalidVpcRange(cidr string) *awserr.Error {
	return awserr.New("InvalidVpc.Range", "The CIDR '%s' is invalid.", cidr)
}

// errInvalidVpcRangeMsg returns InvalidVpc.Range (HTTP 400) worded as given.
func errInvalidVpcRangeMsg(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidVpc.Range", format, args...)
}

// errInvalidVpcIDMalformed returns InvalidVpcID.Malformed (HTTP 400).
func errInvalidVpcIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidVpcID.Malformed", "Invalid id: \"%s\"", id)
}

// errInvalidVpcIDNotFound returns InvalidVpcID.NotFound (HTTP 400).
func errInvalidVpcIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist", id)
}

// errInvalidVpcPeeringConnectionIDNotFound returns InvalidVpcPeeringConnectionID.NotFound (HTTP 400).
func errInvalidVpcPeeringConnectionIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidVpcPeeringConnectionID.NotFound", "The vpcPeeringConnection ID '%s' does not exist", id)
}

// errInvalidVpcPeeringConnectionIdMalformed returns InvalidVpcPeeringConnectionId.Malformed (HTTP 400).
func errInvalidVpcPeeringConnectionIdMalformed(id string) *awserr.Error {
	return awserr.New("InvalidVpcPeeringConnectionId.Malformed", "Invalid id: \"%s\"", id)
}

// errOperationNotPermitted returns OperationNotPermitted (HTTP 400).
func errOperationNotPermitted(format string, args ...any) *awserr.Error {
	return awserr.New("OperationNotPermitted", format, args...)
}

// errResourceAlreadyAssociated returns Resource.AlreadyAssociated (HTTP 400).
func errResourceAlreadyAssociated(format string, args ...any) *awserr.Error {
	return awserr.New("Resource.AlreadyAssociated", format, args...)
}

// errRouteAlreadyExists returns RouteAlreadyExists (HTTP 400).
func errRouteAlreadyExists(destination string) *awserr.Error {
	return awserr.New("RouteAlreadyExists", "The route identified by %s already exists.", destination)
}

// errRulesPerSecurityGroupLimitExceeded returns RulesPerSecurityGroupLimitExceeded (HTTP 400).
func errRulesPerSecurityGroupLimitExceeded() *awserr.Error {
	return awserr.New("RulesPerSecurityGroupLimitExceeded", "The maximum number of rules per security group has been reached.")
}

// errSecurityGroupLimitExceeded returns SecurityGroupLimitExceeded (HTTP 400).
func errSecurityGroupLimitExceeded() *awserr.Error {
	return awserr.New("SecurityGroupLimitExceeded", "The maximum number of security groups for the VPC has been reached.")
}

// errSecurityGroupsPerInterfaceLimitExceeded returns SecurityGroupsPerInterfaceLimitExceeded (HTTP 400).
func errSecurityGroupsPerInterfaceLimitExceeded() *awserr.Error {
	return awserr.New("SecurityGroupsPerInterfaceLimitExceeded", "The maximum number of security groups per interface has been reached.")
}

// errSubnetLimitExceeded returns SubnetLimitExceeded (HTTP 400).
func errSubnetLimitExceeded() *awserr.Error {
	return awserr.New("SubnetLimitExceeded", "The maximum number of subnets has been reached.")
}

// errTagLimitExceeded returns TagLimitExceeded (HTTP 400).
func errTagLimitExceeded() *awserr.Error {
	return awserr.New("TagLimitExceeded", "The maximum number of tags for a resource is 50.")
}

// errVPCIdNotSpecified returns VPCIdNotSpecified (HTTP 400).
func errVPCIdNotSpecified() *awserr.Error {
	return awserr.New("VPCIdNotSpecified", "No default VPC for this user")
}

// errVpcLimitExceeded returns VpcLimitExceeded (HTTP 400).
func errVpcLimitExceeded() *awserr.Error {
	return awserr.New("VpcLimitExceeded", "The maximum number of VPCs has been reached.")
}

// errVpcPeeringConnectionAlreadyExists returns VpcPeeringConnectionAlreadyExists (HTTP 400).
func errVpcPeeringConnectionAlreadyExists(requester string, accepter string, existing string) *awserr.Error {
	return awserr.New("VpcPeeringConnectionAlreadyExists", "A VPC peering connection between %s and %s already exists: %s", requester, accepter, existing)
}

// Instances as tools read them, images, key pairs, launch templates and
// volumes (instancetypes.go, instanceattrs.go, images.go, keypairs.go,
// launchtemplates.go, volumes.go).

// errInvalidInstanceIDsNotFound returns InvalidInstanceID.NotFound naming every missing id.
func errInvalidInstanceIDsNotFound(ids string) *awserr.Error {
	return awserr.New("InvalidInstanceID.NotFound", "The instance IDs '%s' do not exist", ids)
}

// errInvalidInstanceType returns InvalidInstanceType (HTTP 400).
func errInvalidInstanceType(names []string) *awserr.Error {
	return awserr.New("InvalidInstanceType", "The following supplied instance types do not exist: [%s]", strings.Join(names, ", "))
}

// errUnsupportedOperation returns UnsupportedOperation (HTTP 400).
func errUnsupportedOperation(format string, args ...any) *awserr.Error {
	return awserr.New("UnsupportedOperation", format, args...)
}

// errInvalidAMIIDNotFound returns InvalidAMIID.NotFound (HTTP 400).
func errInvalidAMIIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidAMIID.NotFound", "The image id '[%s]' does not exist", id)
}

// errInvalidAMIIDMalformed returns InvalidAMIID.Malformed (HTTP 400).
func errInvalidAMIIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidAMIID.Malformed", "Invalid id: \"%s\" (expecting \"ami-...\")", id)
}

// errInvalidAMINameDuplicate returns InvalidAMIName.Duplicate (HTTP 400).
func errInvalidAMINameDuplicate(name, id string) *awserr.Error {
	return awserr.New("InvalidAMIName.Duplicate", "AMI name %s is already in use by AMI %s", name, id)
}

// errInvalidAMINameMalformed returns InvalidAMIName.Malformed (HTTP 400).
func errInvalidAMINameMalformed(name string) *awserr.Error {
	return awserr.New("InvalidAMIName.Malformed", "AMI names must be between 3 and 128 characters long, and may contain letters, numbers, '(', ')', '.', '-', '/' and '_' (got %q)", name)
}

// errAuthFailureImage returns AuthFailure (HTTP 403) for an image of another owner.
func errAuthFailureImage(id string) *awserr.Error {
	return awserr.WithStatus(statusForbidden, "AuthFailure", "Not authorized for image:%s", id)
}

// errInvalidKeyPairNotFound returns InvalidKeyPair.NotFound (HTTP 400).
func errInvalidKeyPairNotFound(name string) *awserr.Error {
	return awserr.New("InvalidKeyPair.NotFound", "The key pair '%s' does not exist", name)
}

// errInvalidKeyPairDuplicate returns InvalidKeyPair.Duplicate (HTTP 400).
func errInvalidKeyPairDuplicate(name string) *awserr.Error {
	return awserr.New("InvalidKeyPair.Duplicate", "The keypair '%s' already exists.", name)
}

// errInvalidKeyFormat returns InvalidKey.Format (HTTP 400).
func errInvalidKeyFormat() *awserr.Error {
	return awserr.New("InvalidKey.Format", "Key is not in valid OpenSSH public key format")
}

// errInvalidLaunchTemplateNameAlreadyExists returns InvalidLaunchTemplateName.AlreadyExistsException (HTTP 400).
func errInvalidLaunchTemplateNameAlreadyExists(name string) *awserr.Error {
	return awserr.New("InvalidLaunchTemplateName.AlreadyExistsException", "Launch template name already in use.")
}

// errInvalidLaunchTemplateIDNotFound returns InvalidLaunchTemplateId.NotFound (HTTP 400).
func errInvalidLaunchTemplateIDNotFound(id string) *awserr.Error {
	return awserr.New("InvalidLaunchTemplateId.NotFound", "The specified launch template, with template ID %s, does not exist.", id)
}

// errInvalidLaunchTemplateNameNotFound returns InvalidLaunchTemplateName.NotFoundException (HTTP 400).
func errInvalidLaunchTemplateNameNotFound(name string) *awserr.Error {
	return awserr.New("InvalidLaunchTemplateName.NotFoundException", "At least one of the launch templates specified in the request does not exist.")
}

// errInvalidLaunchTemplateIDMalformed returns InvalidLaunchTemplateId.Malformed (HTTP 400).
func errInvalidLaunchTemplateIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidLaunchTemplateId.Malformed", "The specified ID for the launch template '%s' is not valid. The ID must be in the format \"lt-xxxxxxxxxxxxxxxxx\".", id)
}

// errInvalidLaunchTemplateVersionNotFound returns InvalidLaunchTemplateId.VersionNotFound (HTTP 400).
func errInvalidLaunchTemplateVersionNotFound(version, id string) *awserr.Error {
	return awserr.New("InvalidLaunchTemplateId.VersionNotFound", "Could not find launch template version %s for template %s", version, id)
}

// errInvalidVolumeNotFound returns InvalidVolume.NotFound (HTTP 400).
func errInvalidVolumeNotFound(id string) *awserr.Error {
	return awserr.New("InvalidVolume.NotFound", "The volume '%s' does not exist.", id)
}

// errInvalidVolumeIDMalformed returns InvalidVolumeID.Malformed (HTTP 400).
func errInvalidVolumeIDMalformed(id string) *awserr.Error {
	return awserr.New("InvalidVolumeID.Malformed", "Invalid id: \"%s\" (expecting \"vol-...\")", id)
}

// errVolumeInUse returns VolumeInUse (HTTP 400).
func errVolumeInUse(format string, args ...any) *awserr.Error {
	return awserr.New("VolumeInUse", format, args...)
}

// errIncorrectState returns IncorrectState (HTTP 400).
func errIncorrectState(format string, args ...any) *awserr.Error {
	return awserr.New("IncorrectState", format, args...)
}

// errInvalidAttachmentNotFound returns InvalidAttachment.NotFound (HTTP 400).
func errInvalidAttachmentNotFound(vol, inst string) *awserr.Error {
	return awserr.New("InvalidAttachment.NotFound", "Volume '%s' is not attached to instance '%s'", vol, inst)
}

// errInvalidBlockDeviceMapping returns InvalidBlockDeviceMapping (HTTP 400).
func errInvalidBlockDeviceMapping(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidBlockDeviceMapping", format, args...)
}

// errInvalidParameterDependency returns InvalidParameterDependency (HTTP 400).
func errInvalidParameterDependency(format string, args ...any) *awserr.Error {
	return awserr.New("InvalidParameterDependency", format, args...)
}

// errInvalidSnapshotNotFound returns InvalidSnapshot.NotFound (HTTP 400).
func errInvalidSnapshotNotFound(id string) *awserr.Error {
	return awserr.New("InvalidSnapshot.NotFound", "The snapshot '%s' does not exist.", id)
}

// errInvalidLaunchTemplateNameMalformed returns InvalidLaunchTemplateName.MalformedException (HTTP 400).
func errInvalidLaunchTemplateNameMalformed() *awserr.Error {
	return awserr.New("InvalidLaunchTemplateName.MalformedException", "A launch template name must be between 3 and 128 characters, and may contain letters, numbers, and the following characters: - ( ) . / _.'")
}
