package ec2

import (
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// RunInstances' parameters beyond the network: image, key, type, block
// devices, attributes and options, validated against the image and the
// instance type as AWS does (params.go lists which are handled and which
// refused).

// launchOpts is what RunInstances records on each instance it launches
// beyond its network identity.
type launchOpts struct {
	img   *image
	attrs instAttrs
	root  volumeSpec
	extra []launchBDM
	// eniDesc and eniDelete come from the network interface specification.
	eniDesc   string
	eniDelete bool
	// publicIP is the specification's AssociatePublicIpAddress, nil
	// when absent (the subnet's MapPublicIpOnLaunch then decides).
	publicIP *bool
	// profile is the instance profile resolved before the transaction.
	profile *profileAssoc
}

// parseLaunchOpts validates the parameters RunInstances records, with the
// image (found in the scope) and the type (spec.itype).
func parseLaunchOpts(st *scopeTx, in *ec2api.RunInstancesRequest, spec *runSpec) (*launchOpts, error) {
	img, err := findImage(st, str(in.ImageId))
	if err != nil {
		return nil, err
	}
	if err := validInstanceType(spec.itype); err != nil {
		return nil, err
	}
	typ := findType(spec.itype)
	if !slices.Contains(typ.archs, img.arch) {
		return nil, awserr.InvalidParameterValue("The architecture '%s' of the specified instance type does not match the architecture '%s' of the specified AMI. Specify an instance type and an AMI that have matching architectures, and try again.",
			typ.archs[len(typ.archs)-1], img.arch)
	}
	if in.KeyName != nil && findKey(st, *in.KeyName) == nil {
		return nil, errInvalidKeyPairNotFound(*in.KeyName)
	}
	o := &launchOpts{img: img, eniDelete: true}
	a := &o.attrs
	a.Arch, a.RootDevice, a.Platform = img.arch, img.rootDevice, ""
	if err := parseRunAttrs(in, typ, a); err != nil {
		return nil, err
	}
	if img.imds == "v2.0" {
		a.Meta = metaOpts{Tokens: "required", HopLimit: 2}
	}
	if m := in.MetadataOptions; m != nil {
		if err := applyMeta(&a.Meta, m.HttpTokens, m.HttpEndpoint, m.HttpProtocolIpv6, m.InstanceMetadataTags, m.HttpPutResponseHopLimit); err != nil {
			return nil, err
		}
	}
	if o.root, o.extra, err = parseLaunchBDMs(in.BlockDeviceMappings, img); err != nil {
		return nil, err
	}
	if a.Hibernate && !o.root.encrypted {
		return nil, awserr.InvalidParameterCombination("Hibernation requires an encrypted root volume: set Encrypted on the root device's block device mapping.")
	}
	if len(in.NetworkInterfaces) == 1 {
		ni := in.NetworkInterfaces[0]
		if err := checkLaunchENI(ni); err != nil {
			return nil, err
		}
		o.eniDesc = str(ni.Description)
		o.eniDelete = ni.DeleteOnTermination == nil || *ni.DeleteOnTermination
		o.publicIP = ni.AssociatePublicIpAddress
	}
	return o, nil
}

// parseRunAttrs validates the instance attributes and options RunInstances
// takes and records them in a.
func parseRunAttrs(in *ec2api.RunInstancesRequest, typ *itype, a *instAttrs) error {
	a.DisableTerm = in.DisableApiTermination != nil && *in.DisableApiTermination
	a.DisableStop = in.DisableApiStop != nil && *in.DisableApiStop
	if b := str(in.InstanceInitiatedShutdownBehavior); b != "" {
		if b != "stop" && b != "terminate" {
			return awserr.InvalidParameterValue("Value (%s) for parameter instanceInitiatedShutdownBehavior is invalid. Valid values are stop, terminate.", b)
		}
		a.Shutdown = b
	}
	if in.EbsOptimized != nil && *in.EbsOptimized {
		if !typ.nitro {
			return awserr.InvalidParameterCombination("EBS-optimized instances are not supported for your requested configuration. Please check the documentation for supported configurations.")
		}
		a.EbsOptimized = true
	}
	if cs := in.CreditSpecification; cs != nil {
		c := str(cs.CpuCredits)
		if c != "standard" && c != "unlimited" {
			return awserr.InvalidParameterValue("Value (%s) for parameter CpuCredits is invalid. Valid values are standard, unlimited.", c)
		}
		if !typ.burstable {
			return awserr.InvalidParameterCombination("The parameter CreditSpecification is not supported for %s instance type.", typ.name)
		}
		a.Credits = c
	}
	a.Monitoring = in.Monitoring != nil && in.Monitoring.Enabled != nil && *in.Monitoring.Enabled
	if h := in.HibernationOptions; h != nil && h.Configured != nil && *h.Configured {
		if typ.maker == "AWS" {
			return errUnsupportedOperation("Hibernation is not supported for the %s instance type.", typ.name)
		}
		a.Hibernate = true
	}
	return checkRunOptions(in)
}

// checkRunOptions accepts the default value of the options Cachalot has
// one behaviour for and refuses the others, naming them.
func checkRunOptions(in *ec2api.RunInstancesRequest) error {
	refuse := func(param string) error {
		return errUnsupportedOperation("The value of parameter %s is not supported by Cachalot: only its default is.", param)
	}
	switch {
	case in.EnablePrimaryIpv6 != nil && *in.EnablePrimaryIpv6:
		return refuse("EnablePrimaryIpv6")
	case in.Ipv6AddressCount != nil && *in.Ipv6AddressCount > 0:
		return refuse("Ipv6AddressCount")
	case in.EnclaveOptions != nil && in.EnclaveOptions.Enabled != nil && *in.EnclaveOptions.Enabled:
		return refuse("EnclaveOptions.Enabled")
	case in.CapacityReservationSpecification != nil && in.CapacityReservationSpecification.CapacityReservationTarget != nil:
		return refuse("CapacityReservationSpecification.CapacityReservationTarget")
	case in.CapacityReservationSpecification != nil && !slices.Contains([]string{"", "open", "none"}, str(in.CapacityReservationSpecification.CapacityReservationPreference)):
		return refuse("CapacityReservationSpecification.CapacityReservationPreference")
	case in.MaintenanceOptions != nil && !slices.Contains([]string{"", "default"}, str(in.MaintenanceOptions.AutoRecovery)):
		return refuse("MaintenanceOptions.AutoRecovery")
	case in.NetworkPerformanceOptions != nil && !slices.Contains([]string{"", "default"}, str(in.NetworkPerformanceOptions.BandwidthWeighting)):
		return refuse("NetworkPerformanceOptions.BandwidthWeighting")
	case in.PrivateDnsNameOptions != nil && !slices.Contains([]string{"", "ip-name"}, str(in.PrivateDnsNameOptions.HostnameType)):
		return refuse("PrivateDnsNameOptions.HostnameType")
	case in.PrivateDnsNameOptions != nil && (isTrue(in.PrivateDnsNameOptions.EnableResourceNameDnsARecord) || isTrue(in.PrivateDnsNameOptions.EnableResourceNameDnsAAAARecord)):
		return refuse("PrivateDnsNameOptions.EnableResourceNameDnsARecord")
	}
	if p := in.Placement; p != nil {
		switch {
		case !slices.Contains([]string{"", "default"}, str(p.Tenancy)):
			return refuse("Placement.Tenancy")
		case p.GroupName != nil && *p.GroupName != "", p.GroupId != nil, p.PartitionNumber != nil, p.SpreadDomain != nil:
			return errUnsupportedOperation("Placement groups (parameter Placement.GroupName) are not supported by Cachalot.")
		case p.HostId != nil, p.HostResourceGroupArn != nil, p.Affinity != nil:
			return errUnsupportedOperation("Dedicated hosts (parameter Placement.HostId) are not supported by Cachalot.")
		}
	}
	return nil
}

func isTrue(p *bool) bool { return p != nil && *p }

// checkLaunchENI refuses what the one network interface of a launch may
// not ask of a Cachalot instance.
func checkLaunchENI(ni ec2api.InstanceNetworkInterfaceSpecification) error {
	refuse := func(param string) error {
		return errUnsupportedOperation("The parameter NetworkInterface.%s is not supported by Cachalot.", param)
	}
	switch {
	case ni.DeviceIndex != nil && *ni.DeviceIndex != 0:
		return awserr.InvalidParameterValue("Cachalot instances have one network interface, at device index 0.")
	case isTrue(ni.AssociateCarrierIpAddress):
		return refuse("AssociateCarrierIpAddress")
	case ni.ConnectionTrackingSpecification != nil:
		return refuse("ConnectionTrackingSpecification")
	case ni.EnaQueueCount != nil:
		return refuse("EnaQueueCount")
	case ni.EnaSrdSpecification != nil:
		return refuse("EnaSrdSpecification")
	case ni.InterfaceType != nil && *ni.InterfaceType != "interface":
		return refuse("InterfaceType")
	case ni.Ipv4PrefixCount != nil || len(ni.Ipv4Prefixes) > 0:
		return refuse("Ipv4Prefix")
	case (ni.Ipv6AddressCount != nil && *ni.Ipv6AddressCount > 0) || len(ni.Ipv6Addresses) > 0 || ni.Ipv6PrefixCount != nil || len(ni.Ipv6Prefixes) > 0 || isTrue(ni.PrimaryIpv6):
		return refuse("Ipv6AddressCount")
	case ni.NetworkCardIndex != nil && *ni.NetworkCardIndex != 0:
		return refuse("NetworkCardIndex")
	case len(ni.PrivateIpAddresses) > 1 || (ni.SecondaryPrivateIpAddressCount != nil && *ni.SecondaryPrivateIpAddressCount > 0):
		return refuse("SecondaryPrivateIpAddressCount")
	}
	return nil
}
