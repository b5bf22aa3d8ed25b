package ec2

import (
	"github.com/cachalot-dev/cachalot/internal/paramtable"
)

// No silent parameter: every input parameter of the operations listed here
// is either handled (honoured, or validated and answered with AWS's error)
// or refused with UnsupportedOperation naming it. The tables are declared
// per operation and checked against the generated input shapes by
// TestParamTables, so a parameter a new botocore model adds fails the test
// until it is placed. Refusals are enforced by refuseParams
// (paramtable.FirstRefused), called by the wiring before every operation
// (RefuseParams) and by some operations themselves; TestNoSilentParameter
// (internal/apicheck) finds the fields no code reads.

// paramTable places each field (Go name of the generated input shape) of
// one operation's input.
type paramTable struct {
	// handled fields are read by the operation.
	handled []string
	// refused fields are answered UnsupportedOperation when set to other
	// than their default (non-nil and, for a boolean, true; non-empty)
	// or one of the values allowed; the reason completes the message.
	refused map[string]string
	// allowed are the values of refused string fields that are accepted
	// (compared case-insensitively): what AWS would do anyway here.
	allowed map[string][]string
	// noEffect fields are accepted and change nothing in Cachalot, for the
	// reason given (e.g. a filter of things Cachalot never has).
	noEffect map[string]string
}

// retiredOps answer UnsupportedOperation whatever their input, as AWS does
// for retired features: none of their fields is read.
var retiredOps = map[string]bool{"AttachClassicLinkVpc": true, "DetachClassicLinkVpc": true, "EnableVpcClassicLink": true,
	"DisableVpcClassicLink": true, "EnableVpcClassicLinkDnsSupport": true, "DisableVpcClassicLinkDnsSupport": true}

const (
	noBYOIPv6    = "Bring-your-own IPv6 blocks are not supported by Cachalot; use AmazonProvidedIpv6CidrBlock."
	noIPv6Native = "IPv6-only subnets are not supported by Cachalot: its network plane gives interfaces IPv4 addresses only."
)

const noNATSecondary = "Secondary addresses of NAT gateways are not supported by Cachalot."

// paramTables are the tables, by operation name.
var paramTables = map[string]paramTable{
	"RunInstances": {
		handled: []string{"AdditionalInfo", "BlockDeviceMappings", "CapacityReservationSpecification", "ClientToken", "CreditSpecification",
			"DisableApiStop", "DisableApiTermination", "DryRun", "EbsOptimized", "EnablePrimaryIpv6", "EnclaveOptions", "HibernationOptions",
			"IamInstanceProfile", "ImageId", "InstanceInitiatedShutdownBehavior", "InstanceType", "Ipv6AddressCount", "KeyName", "LaunchTemplate", "MaintenanceOptions",
			"MaxCount", "MetadataOptions", "MinCount", "Monitoring", "NetworkInterfaces", "NetworkPerformanceOptions", "Placement",
			"PrivateDnsNameOptions", "PrivateIpAddress", "SecurityGroupIds", "SecurityGroups", "SubnetId", "TagSpecifications", "UserData"},
		refused: map[string]string{
			"CpuOptions":                   "Cachalot instances take their type's default CPU options.",
			"ElasticGpuSpecification":      "Elastic Graphics is retired.",
			"ElasticInferenceAccelerators": "Elastic Inference is retired.",
			"InstanceMarketOptions":        "Spot instances are not supported by Cachalot.",
			"Ipv6Addresses":                "Cachalot subnets have no IPv6 CIDR block.",
			"KernelId":                     "Kernels are for paravirtual images; Cachalot images are hvm.",
			"RamdiskId":                    "Ramdisks are for paravirtual images; Cachalot images are hvm.",
			"LicenseSpecifications":        "License Manager is not supported by Cachalot.",
			"Operator":                     "Managed instances are not supported by Cachalot.",
			"SecondaryInterfaces":          "Secondary interfaces are not supported by Cachalot.",
		},
	},
	"CreateVpc": {
		handled: []string{"AmazonProvidedIpv6CidrBlock", "CidrBlock", "DryRun", "InstanceTenancy", "Ipv6CidrBlockNetworkBorderGroup", "TagSpecifications"},
		refused: map[string]string{
			"Ipv6CidrBlock":        noBYOIPv6,
			"Ipv6Pool":             noBYOIPv6,
			"Ipv6IpamPoolId":       noIPAM,
			"Ipv6NetmaskLength":    noIPAM,
			"Ipv4IpamPoolId":       noIPAM,
			"Ipv4NetmaskLength":    noIPAM,
			"VpcEncryptionControl": "VPC encryption controls are not supported by Cachalot.",
		},
	},
	"CreateSubnet": {
		handled: []string{"AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "DryRun", "Ipv6CidrBlock", "TagSpecifications", "VpcId"},
		refused: map[string]string{
			"Ipv6Native":        noIPv6Native,
			"Ipv6IpamPoolId":    noIPAM,
			"Ipv6NetmaskLength": noIPAM,
			"Ipv4IpamPoolId":    noIPAM,
			"Ipv4NetmaskLength": noIPAM,
			"OutpostArn":        "Outposts are not supported by Cachalot.",
		},
	},
	"CreateSecurityGroup": {handled: []string{"Description", "DryRun", "GroupName", "TagSpecifications", "VpcId"}},
	"AuthorizeSecurityGroupIngress": {handled: []string{"CidrIp", "DryRun", "FromPort", "GroupId", "GroupName", "IpPermissions", "IpProtocol",
		"SourceSecurityGroupName", "SourceSecurityGroupOwnerId", "TagSpecifications", "ToPort"}},
	"AuthorizeSecurityGroupEgress": {handled: []string{"CidrIp", "DryRun", "FromPort", "GroupId", "IpPermissions", "IpProtocol",
		"SourceSecurityGroupName", "SourceSecurityGroupOwnerId", "TagSpecifications", "ToPort"}},
	"AllocateAddress": {
		refused: map[string]string{
			"CustomerOwnedIpv4Pool": "Outposts are not supported by Cachalot.",
			"IpamPoolId":            noIPAM,
			"NetworkBorderGroup":    "Cachalot's network border group is the region.",
			"PublicIpv4Pool":        "Cachalot allocates Elastic IPs from Amazon's pool only (amazon).",
		},
		allowed: map[string][]string{"PublicIpv4Pool": {"amazon"}},
	},
	"ReleaseAddress":              {refused: map[string]string{"NetworkBorderGroup": "Cachalot's network border group is the region."}},
	"CreateLaunchTemplateVersion": {refused: map[string]string{"ResolveAlias": noSSM}},
	"DescribeLaunchTemplateVersions": {refused: map[string]string{"ResolveAlias": noSSM},
		noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"CreateNetworkInterface": {refused: map[string]string{
		"ConnectionTrackingSpecification": noConntrackTimeouts,
		"EnablePrimaryIpv6":               noIPv6,
		"Operator":                        "Managed network interfaces are not supported by Cachalot.",
	}},
	"ModifyNetworkInterfaceAttribute": {refused: map[string]string{
		"AssociatedSubnetIds":             "Multi-subnet network interfaces are not supported by Cachalot.",
		"ConnectionTrackingSpecification": noConntrackTimeouts,
		"EnaSrdSpecification":             "ENA Express is not supported by Cachalot.",
		"EnablePrimaryIpv6":               noIPv6,
	}},
	"CreateNatGateway": {refused: map[string]string{
		"SecondaryAllocationIds":         noNATSecondary,
		"SecondaryPrivateIpAddressCount": noNATSecondary,
		"SecondaryPrivateIpAddresses":    noNATSecondary,
		"AvailabilityZoneAddresses":      "Regional NAT gateways are not supported by Cachalot.",
		"VpcId":                          "Regional NAT gateways are not supported by Cachalot; give SubnetId.",
	}},
	"AssociateSubnetCidrBlock":          {refused: map[string]string{"Ipv6IpamPoolId": noIPAM, "Ipv6NetmaskLength": noIPAM}},
	"ReplaceRoute":                      {refused: map[string]string{"LocalTarget": "Resetting the local route is not supported by Cachalot: it is never replaced."}},
	"DescribeAvailabilityZones":         {noEffect: map[string]string{"AllAvailabilityZones": "Cachalot has no Local or Wavelength Zones: every zone is listed either way."}},
	"DescribeRegions":                   {noEffect: map[string]string{"AllRegions": "every Cachalot region is enabled: all are listed either way."}},
	"DescribeClassicLinkInstances":      {noEffect: map[string]string{"Filters": noClassicLink, "InstanceIds": noClassicLink, "MaxResults": noClassicLink, "NextToken": noClassicLink}},
	"DescribeImages":                    {noEffect: map[string]string{"IncludeDeprecated": "no image of the catalogue is deprecated.", "IncludeDisabled": "no image of the catalogue is disabled."}},
	"DescribeInstanceTypes":             {noEffect: map[string]string{"IncludeUnsupportedInRegion": "every instance type of the catalogue is offered in every region."}},
	"DescribeInstanceStatus":            {noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"DescribeInstances":                 {noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"DescribeLaunchTemplates":           {noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"DescribeNetworkInterfaces":         {noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"DescribeVolumes":                   {noEffect: map[string]string{"IncludeManagedResources": noManaged}},
	"DetachVolume":                      {noEffect: map[string]string{"Force": "volumes are records: a detach never waits for an operating system."}},
	"GetConsoleOutput":                  {noEffect: map[string]string{"Latest": "the whole output of the instance's program is returned, its latest part included."}},
	"ModifyInstanceCreditSpecification": {noEffect: map[string]string{"ClientToken": noToken}},
	"ModifyLaunchTemplate":              {noEffect: map[string]string{"ClientToken": noToken}},
	"StartInstances":                    {noEffect: map[string]string{"AdditionalInfo": "reserved by AWS."}},
	"StopInstances":                     {noEffect: map[string]string{"Force": noGraceful, "SkipOsShutdown": noGraceful}},
	"TerminateInstances":                {noEffect: map[string]string{"Force": noGraceful, "SkipOsShutdown": noGraceful}},
	"ModifySubnetAttribute": {handled: []string{"AssignIpv6AddressOnCreation", "CustomerOwnedIpv4Pool", "DisableLniAtDeviceIndex", "EnableDns64",
		"EnableLniAtDeviceIndex", "EnableResourceNameDnsAAAARecordOnLaunch", "EnableResourceNameDnsARecordOnLaunch", "MapCustomerOwnedIpOnLaunch",
		"MapPublicIpOnLaunch", "PrivateDnsHostnameTypeOnLaunch", "SubnetId"}},
	// The VPC pieces (prefixlists.go, dhcp.go, vpccidr.go, vpcendpoints.go).
	"CreateManagedPrefixList": {handled: []string{"AddressFamily", "ClientToken", "DryRun", "Entries", "MaxEntries", "PrefixListName", "TagSpecifications"}},
	"ModifyManagedPrefixList": {handled: []string{"AddEntries", "CurrentVersion", "DryRun", "MaxEntries", "PrefixListId", "PrefixListName", "RemoveEntries"},
		refused: map[string]string{"IpamPrefixListResolverSyncEnabled": noIPAM}},
	"CreateDhcpOptions": {handled: []string{"DhcpConfigurations", "DryRun", "TagSpecifications"}},
	"AssociateVpcCidrBlock": {handled: []string{"AmazonProvidedIpv6CidrBlock", "CidrBlock", "Ipv6CidrBlockNetworkBorderGroup", "VpcId"},
		refused: map[string]string{
			"Ipv6CidrBlock":     noBYOIPv6,
			"Ipv6Pool":          noBYOIPv6,
			"Ipv4IpamPoolId":    noIPAM,
			"Ipv4NetmaskLength": noIPAM,
			"Ipv6IpamPoolId":    noIPAM,
			"Ipv6NetmaskLength": noIPAM,
		}},
	"CreateVpcEndpoint": {handled: []string{"ClientToken", "DnsOptions", "DryRun", "IpAddressType", "PolicyDocument", "PrivateDnsEnabled",
		"RouteTableIds", "SecurityGroupIds", "ServiceName", "ServiceRegion", "SubnetIds", "TagSpecifications", "VpcEndpointType", "VpcId"},
		refused: map[string]string{
			"ResourceConfigurationArn": noLattice,
			"ServiceNetworkArn":        noLattice,
			"SubnetConfigurations":     noEndpointENIs,
		}},
	"ModifyVpcEndpoint": {handled: []string{"AddRouteTableIds", "AddSecurityGroupIds", "AddSubnetIds", "DnsOptions", "DryRun", "IpAddressType",
		"PolicyDocument", "PrivateDnsEnabled", "RemoveRouteTableIds", "RemoveSecurityGroupIds", "RemoveSubnetIds", "ResetPolicy", "VpcEndpointId"},
		refused: map[string]string{"SubnetConfigurations": noEndpointENIs}},
}

const (
	noIPv6              = "Cachalot VPCs and subnets have no IPv6 CIDR blocks yet."
	noIPAM              = "IPAM pools are not supported by Cachalot."
	noSSM               = "Cachalot has no Systems Manager parameters to resolve."
	noConntrackTimeouts = "Connection tracking timeouts are the kernel's in Cachalot."
	noManaged           = "Cachalot has no managed instances, interfaces or volumes of other services to include."
	noClassicLink       = "ClassicLink is retired: no instance is linked."
	noToken             = "the modification is idempotent: repeating it changes nothing."
	noGraceful          = "instances stop at once (their program is killed), as a forced stop without OS shutdown does."

	noLattice      = "VPC Lattice resource and service network endpoints are not supported by Cachalot."
	noEndpointENIs = "Cachalot's VPC endpoints are records without network interfaces, so their addresses cannot be chosen."
)

// refuseParams answers UnsupportedOperation for the first refused field of
// op's table that in (a pointer to the input shape) sets.
func refuseParams(op string, in any) error {
	tab := paramTables[op]
	if name, reason, ok := paramtable.FirstRefused(in, tab.refused, tab.allowed); ok {
		return errUnsupportedOperation("The parameter %s is not supported: %s", name, reason)
	}
	return nil
}

// RefuseParams answers the first refused parameter of operation op that in
// (a pointer to its input shape) sets. The wiring calls it before every
// operation the endpoint serves, so no operation runs with a parameter it
// would silently ignore.
func RefuseParams(op string, in any) error { return refuseParams(op, in) }
