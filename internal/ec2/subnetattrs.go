package ec2

import (
	"context"
	"strings"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// Subnet attributes, and the operations of ClassicLink, which AWS retired:
// its describes answer "not enabled" for every VPC, its changes
// UnsupportedOperation, as AWS answers today.

func (sn *subnetRec) hostnameType() string { return cmpOr(sn.HostnameType, "ip-name") }

// ModifySubnetAttribute implements ec2api.Operations: one attribute per
// call, as AWS. The IPv6 attributes can only be false (refused on a subnet
// with an IPv6 block: interfaces get no IPv6 address); the Outposts ones
// are refused.
func (s *Service) ModifySubnetAttribute(ctx context.Context, in *ec2api.ModifySubnetAttributeRequest) error {
	var set []string
	add := func(ok bool, name string) {
		if ok {
			set = append(set, name)
		}
	}
	add(in.MapPublicIpOnLaunch != nil, "MapPublicIpOnLaunch")
	add(in.AssignIpv6AddressOnCreation != nil, "AssignIpv6AddressOnCreation")
	add(in.EnableDns64 != nil, "EnableDns64")
	add(in.PrivateDnsHostnameTypeOnLaunch != nil, "PrivateDnsHostnameTypeOnLaunch")
	add(in.EnableResourceNameDnsARecordOnLaunch != nil, "EnableResourceNameDnsARecordOnLaunch")
	add(in.EnableResourceNameDnsAAAARecordOnLaunch != nil, "EnableResourceNameDnsAAAARecordOnLaunch")
	add(in.MapCustomerOwnedIpOnLaunch != nil, "MapCustomerOwnedIpOnLaunch")
	add(in.CustomerOwnedIpv4Pool != nil, "CustomerOwnedIpv4Pool")
	add(in.EnableLniAtDeviceIndex != nil, "EnableLniAtDeviceIndex")
	add(in.DisableLniAtDeviceIndex != nil, "DisableLniAtDeviceIndex")
	switch {
	case len(set) == 0:
		return awserr.InvalidParameterCombination("An attribute must be specified.")
	case len(set) == 2 && in.MapCustomerOwnedIpOnLaunch != nil && in.CustomerOwnedIpv4Pool != nil:
	case len(set) > 1:
		return awserr.InvalidParameterCombination("Fields for multiple attribute types specified: %s", strings.Join(set, ", "))
	}
	bv := func(a *ec2api.AttributeBooleanValue) bool { return a != nil && a.Value != nil && *a.Value }
	switch set[0] {
	case "AssignIpv6AddressOnCreation", "EnableResourceNameDnsAAAARecordOnLaunch":
		// checked against the subnet's IPv6 block below
	case "PrivateDnsHostnameTypeOnLaunch":
		if v := *in.PrivateDnsHostnameTypeOnLaunch; v != "ip-name" && v != "resource-name" {
			return awserr.InvalidParameterValue("Value (%s) for parameter PrivateDnsHostnameTypeOnLaunch is invalid. Valid values are ip-name, resource-name.", v)
		}
	case "MapCustomerOwnedIpOnLaunch", "CustomerOwnedIpv4Pool", "EnableLniAtDeviceIndex", "DisableLniAtDeviceIndex":
		return errUnsupportedOperation("The parameter %s is for subnets on an Outpost; Cachalot has none.", set[0])
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if _, err := lookup[*subnetRec](st, "subnet", str(in.SubnetId)); err != nil {
			return err
		}
		sn := mut[*subnetRec](st, str(in.SubnetId))
		switch set[0] {
		case "AssignIpv6AddressOnCreation", "EnableResourceNameDnsAAAARecordOnLaunch":
			if !bv(in.AssignIpv6AddressOnCreation) && !bv(in.EnableResourceNameDnsAAAARecordOnLaunch) {
				break
			}
			if sn.IPv6 == nil {
				return awserr.InvalidParameterValue("Invalid value for parameter %s: the subnet %s has no IPv6 CIDR block.", set[0], sn.ID)
			}
			return errUnsupportedOperation("The parameter %s is not supported by Cachalot: its network plane gives interfaces IPv4 addresses only.", set[0])
		case "MapPublicIpOnLaunch":
			sn.MapPublicIP = bv(in.MapPublicIpOnLaunch)
		case "EnableDns64":
			sn.Dns64 = bv(in.EnableDns64)
		case "PrivateDnsHostnameTypeOnLaunch":
			sn.HostnameType = *in.PrivateDnsHostnameTypeOnLaunch
		case "EnableResourceNameDnsARecordOnLaunch":
			sn.DnsA = bv(in.EnableResourceNameDnsARecordOnLaunch)
		}
		return nil
	})
}

// classicLinkVPCs returns the VPCs named (all when none are), or the error
// for the first unknown one.
func (s *Service) classicLinkVPCs(ctx context.Context, ids []string) ([]*vpcRec, error) {
	var out []*vpcRec
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, id := range ids {
			if _, err := lookup[*vpcRec](st, "vpc", id); err != nil {
				return err
			}
		}
		out, _ = selectIDs(listT[*vpcRec](st, "vpc"), ids)
		return nil
	})
	return out, err
}

var classicLinkFilters = filterSet[*vpcRec]{
	fields: map[string]func(*vpcRec) []string{
		"is-classic-link-enabled": func(v *vpcRec) []string { return boolStr(false) },
	},
	tags: func(v *vpcRec) map[string]string { return v.Tags },
}

// DescribeVpcClassicLink implements ec2api.Operations: no VPC has
// ClassicLink enabled.
func (s *Service) DescribeVpcClassicLink(ctx context.Context, in *ec2api.DescribeVpcClassicLinkRequest) (*ec2api.DescribeVpcClassicLinkResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	vpcs, err := s.classicLinkVPCs(ctx, in.VpcIds)
	if err != nil {
		return nil, err
	}
	vpcs, err = filterItems(classicLinkFilters, in.Filters, vpcs)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcClassicLinkResult{Vpcs: []ec2api.VpcClassicLink{}}
	for _, v := range vpcs {
		out.Vpcs = append(out.Vpcs, ec2api.VpcClassicLink{VpcId: ptr(v.ID), ClassicLinkEnabled: ptr(false), Tags: tagList(v.Tags)})
	}
	return out, nil
}

// DescribeVpcClassicLinkDnsSupport implements ec2api.Operations: no VPC
// has ClassicLink DNS support.
func (s *Service) DescribeVpcClassicLinkDnsSupport(ctx context.Context, in *ec2api.DescribeVpcClassicLinkDnsSupportRequest) (*ec2api.DescribeVpcClassicLinkDnsSupportResult, error) {
	vpcs, err := s.classicLinkVPCs(ctx, in.VpcIds)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(vpcs, func(v *vpcRec) string { return v.ID }, in.MaxResults, in.NextToken, 5, 255)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcClassicLinkDnsSupportResult{Vpcs: []ec2api.ClassicLinkDnsSupport{}, NextToken: next}
	for _, v := range page {
		out.Vpcs = append(out.Vpcs, ec2api.ClassicLinkDnsSupport{VpcId: ptr(v.ID), ClassicLinkDnsSupported: ptr(false)})
	}
	return out, nil
}

func errClassicLinkRetired() error {
	return errUnsupportedOperation("The functionality you requested is not available in this region: ClassicLink is retired.")
}

// EnableVpcClassicLink implements ec2api.Operations: ClassicLink is retired.
func (s *Service) EnableVpcClassicLink(ctx context.Context, in *ec2api.EnableVpcClassicLinkRequest) (*ec2api.EnableVpcClassicLinkResult, error) {
	return nil, errClassicLinkRetired()
}

// DisableVpcClassicLink implements ec2api.Operations: ClassicLink is retired.
func (s *Service) DisableVpcClassicLink(ctx context.Context, in *ec2api.DisableVpcClassicLinkRequest) (*ec2api.DisableVpcClassicLinkResult, error) {
	return nil, errClassicLinkRetired()
}

// EnableVpcClassicLinkDnsSupport implements ec2api.Operations: ClassicLink is retired.
func (s *Service) EnableVpcClassicLinkDnsSupport(ctx context.Context, in *ec2api.EnableVpcClassicLinkDnsSupportRequest) (*ec2api.EnableVpcClassicLinkDnsSupportResult, error) {
	return nil, errClassicLinkRetired()
}

// DisableVpcClassicLinkDnsSupport implements ec2api.Operations: ClassicLink is retired.
func (s *Service) DisableVpcClassicLinkDnsSupport(ctx context.Context, in *ec2api.DisableVpcClassicLinkDnsSupportRequest) (*ec2api.DisableVpcClassicLinkDnsSupportResult, error) {
	return nil, errClassicLinkRetired()
}

// AttachClassicLinkVpc implements ec2api.Operations: ClassicLink is retired.
func (s *Service) AttachClassicLinkVpc(ctx context.Context, in *ec2api.AttachClassicLinkVpcRequest) (*ec2api.AttachClassicLinkVpcResult, error) {
	return nil, errClassicLinkRetired()
}

// DetachClassicLinkVpc implements ec2api.Operations: ClassicLink is retired.
func (s *Service) DetachClassicLinkVpc(ctx context.Context, in *ec2api.DetachClassicLinkVpcRequest) (*ec2api.DetachClassicLinkVpcResult, error) {
	return nil, errClassicLinkRetired()
}

// DescribeClassicLinkInstances implements ec2api.Operations: no instance
// is linked.
func (s *Service) DescribeClassicLinkInstances(ctx context.Context, in *ec2api.DescribeClassicLinkInstancesRequest) (*ec2api.DescribeClassicLinkInstancesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	return &ec2api.DescribeClassicLinkInstancesResult{Instances: []ec2api.ClassicLinkInstance{}}, nil
}
