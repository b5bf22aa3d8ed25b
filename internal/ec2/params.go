package ec2

import (
	"reflect"
)

// No silent parameter: every input parameter of the operations listed here
// is either handled (honoured, or validated and answered with AWS's error)
// or refused with UnsupportedOperation naming it. The tables are declared
// per operation and checked against the generated input shapes by
// TestParamTables, so a parameter a new botocore model adds fails the test
// until it is placed. Refusals are enforced by refuseParams, called by the
// operations themselves.

// paramTable places each field (Go name of the generated input shape) of
// one operation's input.
type paramTable struct {
	// handled fields are read by the operation.
	handled []string
	// refused fields are answered UnsupportedOperation when set to other
	// than their default (non-nil and, for a boolean, true; non-empty);
	// the reason completes the message.
	refused map[string]string
}

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
		handled: []string{"CidrBlock", "DryRun", "InstanceTenancy", "TagSpecifications"},
		refused: map[string]string{
			"AmazonProvidedIpv6CidrBlock":     noIPv6,
			"Ipv6CidrBlock":                   noIPv6,
			"Ipv6CidrBlockNetworkBorderGroup": noIPv6,
			"Ipv6Pool":                        noIPv6,
			"Ipv6IpamPoolId":                  noIPAM,
			"Ipv6NetmaskLength":               noIPAM,
			"Ipv4IpamPoolId":                  noIPAM,
			"Ipv4NetmaskLength":               noIPAM,
			"VpcEncryptionControl":            "VPC encryption controls are not supported by Cachalot.",
		},
	},
	"CreateSubnet": {
		handled: []string{"AvailabilityZone", "AvailabilityZoneId", "CidrBlock", "DryRun", "TagSpecifications", "VpcId"},
		refused: map[string]string{
			"Ipv6CidrBlock":     noIPv6,
			"Ipv6Native":        noIPv6,
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
	"ModifySubnetAttribute": {handled: []string{"AssignIpv6AddressOnCreation", "CustomerOwnedIpv4Pool", "DisableLniAtDeviceIndex", "EnableDns64",
		"EnableLniAtDeviceIndex", "EnableResourceNameDnsAAAARecordOnLaunch", "EnableResourceNameDnsARecordOnLaunch", "MapCustomerOwnedIpOnLaunch",
		"MapPublicIpOnLaunch", "PrivateDnsHostnameTypeOnLaunch", "SubnetId"}},
}

const (
	noIPv6 = "Cachalot VPCs and subnets have no IPv6 CIDR blocks yet."
	noIPAM = "IPAM pools are not supported by Cachalot."
)

// refuseParams answers UnsupportedOperation for the first refused field of
// op's table that in (a pointer to the input shape) sets.
func refuseParams(op string, in any) error {
	tab := paramTables[op]
	if len(tab.refused) == 0 {
		return nil
	}
	v := reflect.ValueOf(in).Elem()
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		reason, ok := tab.refused[name]
		if !ok {
			continue
		}
		f := v.Field(i)
		set := f.Kind() == reflect.Slice && f.Len() > 0
		if f.Kind() == reflect.Pointer && !f.IsNil() {
			set = f.Elem().Kind() != reflect.Bool || f.Elem().Bool()
		}
		if set {
			return errUnsupportedOperation("The parameter %s is not supported: %s", name, reason)
		}
	}
	return nil
}
