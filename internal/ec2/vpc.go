package ec2

import (
	"context"
	"net/netip"
	"slices"
	"strconv"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// parseCIDR4 parses an IPv4 CIDR for CreateVpc and CreateSubnet and
// returns it canonical: like AWS, 10.250.1.0/16 is taken as 10.250.0.0/16.
func parseCIDR4(s, param string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, awserr.InvalidParameterValue("Value (%s) for parameter %s is invalid. This is not a valid CIDR block.", s, param)
	}
	return p.Masked(), nil
}

// ---- VPCs ----

var vpcFilters = filterSet[*vpcRec]{
	fields: map[string]func(*vpcRec) []string{
		"cidr":             func(v *vpcRec) []string { return one(v.CIDR) },
		"cidr-block":       func(v *vpcRec) []string { return one(v.CIDR) },
		"cidrBlock":        func(v *vpcRec) []string { return one(v.CIDR) },
		"instance-tenancy": func(v *vpcRec) []string { return one(v.Tenancy) },
		"ipv6-cidr-block-association.ipv6-cidr-block": func(v *vpcRec) []string { return v.ipv6Field(func(c vpcCIDR) string { return c.CIDR }) },
		"ipv6-cidr-block-association.ipv6-pool":       func(v *vpcRec) []string { return v.ipv6Field(func(vpcCIDR) string { return "Amazon" }) },
		"ipv6-cidr-block-association.association-id":  func(v *vpcRec) []string { return v.ipv6Field(func(c vpcCIDR) string { return c.AssocID }) },
		"ipv6-cidr-block-association.state":           func(v *vpcRec) []string { return v.ipv6Field(func(vpcCIDR) string { return "associated" }) },
		"cidr-block-association.cidr-block":           func(v *vpcRec) []string { return v.cidrStrings() },
		"cidr-block-association.association-id":       func(v *vpcRec) []string { return v.assocIDs() },
		"cidr-block-association.state":                func(v *vpcRec) []string { return one("associated") },
		"dhcp-options-id":                             func(v *vpcRec) []string { return one(vpcDopt(v)) },
		"is-default":                                  func(v *vpcRec) []string { return boolStr(v.IsDefault) },
		"isDefault":                                   func(v *vpcRec) []string { return boolStr(v.IsDefault) },
		"owner-id":                                    func(v *vpcRec) []string { return one(v.Owner) },
		"state":                                       func(v *vpcRec) []string { return one("available") },
		"vpc-id":                                      func(v *vpcRec) []string { return one(v.ID) },
	},
	tags: func(v *vpcRec) map[string]string { return v.Tags },
}

func vpcOut(region string, v *vpcRec) ec2api.Vpc {
	return ec2api.Vpc{
		Ipv6CidrBlockAssociationSet: v.ipv6Assocs(region),
		CidrBlock:                   ptr(v.CIDR),
		CidrBlockAssociationSet:     v.cidrAssocs(),
		DhcpOptionsId:               ptr(vpcDopt(v)),
		InstanceTenancy:             ptr(v.Tenancy),
		IsDefault:                   ptr(v.IsDefault),
		OwnerId:                     ptr(v.Owner),
		State:                       ptr("available"),
		Tags:                        tagList(v.Tags),
		VpcId:                       ptr(v.ID),
	}
}

// CreateVpc implements ec2api.Operations.
func (s *Service) CreateVpc(ctx context.Context, in *ec2api.CreateVpcRequest) (*ec2api.CreateVpcResult, error) {
	if err := refuseParams("CreateVpc", in); err != nil {
		return nil, err
	}
	if in.CidrBlock == nil {
		return nil, awserr.MissingParameter("CidrBlock")
	}
	p, err := parseCIDR4(*in.CidrBlock, "cidrBlock")
	if err != nil {
		return nil, err
	}
	if p.Bits() < 16 || p.Bits() > 28 {
		return nil, errInvalidVpcRange(*in.CidrBlock)
	}
	if in.InstanceTenancy != nil && *in.InstanceTenancy != "default" && *in.InstanceTenancy != "dedicated" {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter instanceTenancy is invalid.", *in.InstanceTenancy)
	}
	tags, err := tagsFor(in.TagSpecifications, "vpc")
	if err != nil {
		return nil, err
	}
	if err := checkVPCIPv6Params(scopeOf(ctx).Region, in.AmazonProvidedIpv6CidrBlock, in.Ipv6CidrBlockNetworkBorderGroup); err != nil {
		return nil, err
	}
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var out ec2api.Vpc
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := t.createVPC(st, p.String(), false, tags)
		if err != nil {
			return err
		}
		if in.InstanceTenancy != nil {
			v.Tenancy = *in.InstanceTenancy
		}
		if isTrue(in.AmazonProvidedIpv6CidrBlock) {
			if _, err := t.newVPCIPv6(st, v); err != nil {
				return err
			}
		}
		out = vpcOut(st.sc.Region, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateVpcResult{Vpc: &out}, nil
}

// CreateDefaultVpc implements ec2api.Operations.
func (s *Service) CreateDefaultVpc(ctx context.Context, in *ec2api.CreateDefaultVpcRequest) (*ec2api.CreateDefaultVpcResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	var out ec2api.Vpc
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if st.meta.Classic {
			return errAccountSupportsEC2Classic()
		}
		v, err := t.createDefaultVPC(st)
		if err != nil {
			return err
		}
		out = vpcOut(st.sc.Region, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateDefaultVpcResult{Vpc: &out}, nil
}

// DescribeVpcs implements ec2api.Operations.
func (s *Service) DescribeVpcs(ctx context.Context, in *ec2api.DescribeVpcsRequest) (*ec2api.DescribeVpcsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcsResult{Vpcs: []ec2api.Vpc{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		items, missing := selectIDs(listT[*vpcRec](st, "vpc"), in.VpcIds)
		if missing != "" {
			return notFound("vpc", missing)
		}
		items, err := filterItems(vpcFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*vpcRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.Vpcs = append(out.Vpcs, vpcOut(st.sc.Region, v))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// DeleteVpc implements ec2api.Operations.
func (s *Service) DeleteVpc(ctx context.Context, in *ec2api.DeleteVpcRequest) error {
	id := str(in.VpcId)
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", id)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		dep := errDependencyViolation("The vpc '%s' has dependencies and cannot be deleted.", id)
		for _, sn := range listT[*subnetRec](st, "subnet") {
			if sn.VpcID == v.ID {
				return dep
			}
		}
		for _, g := range listT[*groupRec](st, "sg") {
			if g.VpcID == v.ID && g.Name != "default" {
				return dep
			}
		}
		for _, g := range listT[*igwRec](st, "igw") {
			if g.VpcID == v.ID {
				return dep
			}
		}
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.VpcID == v.ID && !r.Main {
				return dep
			}
		}
		for _, a := range listT[*aclRec](st, "acl") {
			if a.VpcID == v.ID && !a.IsDefault {
				return dep
			}
		}
		for _, e := range listT[*eniRec](st, "eni") {
			if e.VpcID == v.ID {
				return dep
			}
		}
		if len(endpointsIn(st, v.ID, "")) > 0 {
			return dep
		}
		for _, p := range listT[*pcxRec](st, "pcx") {
			if (p.RequesterVpc == v.ID || p.AccepterVpc == v.ID) && (p.Status == "active" || p.Status == "pending-acceptance") {
				return dep
			}
		}
		for _, kind := range []string{"sg", "rtb", "acl"} {
			for _, r := range st.list(kind) {
				if vpcOfRecord(r) == v.ID {
					st.del(r.id())
				}
			}
		}
		st.del(v.ID)
		if st.meta.DefaultVpcID == v.ID {
			m := st.meta
			m.DefaultVpcID = ""
			st.setMeta(m)
		}
		return nil
	})
}

func vpcOfRecord(r record) string {
	switch r := r.(type) {
	case *groupRec:
		return r.VpcID
	case *rtbRec:
		return r.VpcID
	case *aclRec:
		return r.VpcID
	case *subnetRec:
		return r.VpcID
	case *eniRec:
		return r.VpcID
	}
	return ""
}

// DescribeVpcAttribute implements ec2api.Operations.
func (s *Service) DescribeVpcAttribute(ctx context.Context, in *ec2api.DescribeVpcAttributeRequest) (*ec2api.DescribeVpcAttributeResult, error) {
	out := &ec2api.DescribeVpcAttributeResult{VpcId: in.VpcId}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		switch str(in.Attribute) {
		case "enableDnsSupport":
			out.EnableDnsSupport = &ec2api.AttributeBooleanValue{Value: ptr(v.DNSSupport)}
		case "enableDnsHostnames":
			out.EnableDnsHostnames = &ec2api.AttributeBooleanValue{Value: ptr(v.DNSHostnames)}
		case "enableNetworkAddressUsageMetrics":
			out.EnableNetworkAddressUsageMetrics = &ec2api.AttributeBooleanValue{Value: ptr(false)}
		default:
			return awserr.InvalidParameterValue("Value (%s) for parameter attribute is invalid. Unknown attribute.", str(in.Attribute))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ModifyVpcAttribute implements ec2api.Operations.
func (s *Service) ModifyVpcAttribute(ctx context.Context, in *ec2api.ModifyVpcAttributeRequest) error {
	n := 0
	for _, a := range []*ec2api.AttributeBooleanValue{in.EnableDnsSupport, in.EnableDnsHostnames, in.EnableNetworkAddressUsageMetrics} {
		if a != nil {
			n++
			if a.Value == nil {
				return awserr.MissingParameter("Value")
			}
		}
	}
	if n != 1 {
		return awserr.InvalidParameterCombination("Exactly one attribute must be specified.")
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if _, err := lookup[*vpcRec](st, "vpc", str(in.VpcId)); err != nil {
			return err
		}
		v := mut[*vpcRec](st, str(in.VpcId))
		switch {
		case in.EnableDnsSupport != nil:
			v.DNSSupport = *in.EnableDnsSupport.Value
		case in.EnableDnsHostnames != nil:
			if *in.EnableDnsHostnames.Value && !v.DNSSupport {
				return awserr.InvalidParameterCombination("Cannot enable DNS hostnames if DNS support is disabled.")
			}
			v.DNSHostnames = *in.EnableDnsHostnames.Value
		}
		return nil
	})
}

// ---- Subnets ----

type subnetView struct {
	*subnetRec
	free int32
}

func (v subnetView) id() string { return v.ID }

var subnetFilters = filterSet[subnetView]{
	fields: map[string]func(subnetView) []string{
		"availability-zone":               func(v subnetView) []string { return one(v.AZ) },
		"availabilityZone":                func(v subnetView) []string { return one(v.AZ) },
		"availability-zone-id":            func(v subnetView) []string { return one(zoneID(v.AZ)) },
		"available-ip-address-count":      func(v subnetView) []string { return one(itoa(v.free)) },
		"cidr-block":                      func(v subnetView) []string { return one(v.CIDR) },
		"cidr":                            func(v subnetView) []string { return one(v.CIDR) },
		"cidrBlock":                       func(v subnetView) []string { return one(v.CIDR) },
		"default-for-az":                  func(v subnetView) []string { return boolStr(v.DefaultForAZ) },
		"defaultForAz":                    func(v subnetView) []string { return boolStr(v.DefaultForAZ) },
		"map-public-ip-on-launch":         func(v subnetView) []string { return boolStr(v.MapPublicIP) },
		"enable-dns64":                    func(v subnetView) []string { return boolStr(v.Dns64) },
		"ipv6-native":                     func(v subnetView) []string { return boolStr(false) },
		"map-customer-owned-ip-on-launch": func(v subnetView) []string { return boolStr(false) },
		"customer-owned-ipv4-pool":        func(v subnetView) []string { return nil },
		"outpost-arn":                     func(v subnetView) []string { return nil },
		"enable-lni-at-device-index":      func(v subnetView) []string { return nil },
		"ipv6-cidr-block-association.ipv6-cidr-block": func(v subnetView) []string {
			if v.IPv6 == nil {
				return nil
			}
			return one(v.IPv6.CIDR)
		},
		"ipv6-cidr-block-association.association-id": func(v subnetView) []string {
			if v.IPv6 == nil {
				return nil
			}
			return one(v.IPv6.AssocID)
		},
		"ipv6-cidr-block-association.state": func(v subnetView) []string {
			if v.IPv6 == nil {
				return nil
			}
			return one("associated")
		},
		"private-dns-name-options-on-launch.hostname-type": func(v subnetView) []string { return one(v.hostnameType()) },
		"private-dns-name-options-on-launch.enable-resource-name-dns-a-record": func(v subnetView) []string {
			return boolStr(v.DnsA)
		},
		"private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": func(v subnetView) []string {
			return boolStr(false)
		},
		"owner-id":   func(v subnetView) []string { return one(v.Owner) },
		"state":      func(v subnetView) []string { return one("available") },
		"subnet-id":  func(v subnetView) []string { return one(v.ID) },
		"subnet-arn": func(v subnetView) []string { return one(subnetARN(v.subnetRec)) },
		"vpc-id":     func(v subnetView) []string { return one(v.VpcID) },
	},
	tags: func(v subnetView) map[string]string { return v.Tags },
}

func subnetARN(sn *subnetRec) string {
	return "arn:aws:ec2:" + sn.AZ[:len(sn.AZ)-1] + ":" + sn.Owner + ":subnet/" + sn.ID
}

func subnetOut(sn *subnetRec, free int32) ec2api.Subnet {
	return ec2api.Subnet{
		AssignIpv6AddressOnCreation: ptr(false),
		AvailabilityZone:            ptr(sn.AZ),
		AvailabilityZoneId:          ptr(zoneID(sn.AZ)),
		AvailableIpAddressCount:     ptr(free),
		CidrBlock:                   ptr(sn.CIDR),
		DefaultForAz:                ptr(sn.DefaultForAZ),
		EnableDns64:                 ptr(sn.Dns64),
		Ipv6Native:                  ptr(false),
		Ipv6CidrBlockAssociationSet: sn.ipv6Assocs(),
		PrivateDnsNameOptionsOnLaunch: &ec2api.PrivateDnsNameOptionsOnLaunch{HostnameType: ptr(sn.hostnameType()),
			EnableResourceNameDnsARecord: ptr(sn.DnsA), EnableResourceNameDnsAAAARecord: ptr(false)},
		MapCustomerOwnedIpOnLaunch: ptr(false),
		MapPublicIpOnLaunch:        ptr(sn.MapPublicIP),
		OwnerId:                    ptr(sn.Owner),
		State:                      ptr("available"),
		SubnetArn:                  ptr(subnetARN(sn)),
		SubnetId:                   ptr(sn.ID),
		Tags:                       tagList(sn.Tags),
		VpcId:                      ptr(sn.VpcID),
	}
}

// subnetSize is the number of addresses instances may use (AWS reserves five).
func subnetSize(cidr string) int32 {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return 0
	}
	return int32(1)<<(32-p.Bits()) - 5
}

// usedCounts returns the number of interface addresses per subnet.
func usedCounts(st *scopeTx) map[string]int32 {
	m := map[string]int32{}
	for _, e := range st.list("eni") {
		m[e.(*eniRec).SubnetID]++
	}
	return m
}

// CreateSubnet implements ec2api.Operations.
func (s *Service) CreateSubnet(ctx context.Context, in *ec2api.CreateSubnetRequest) (*ec2api.CreateSubnetResult, error) {
	if err := refuseParams("CreateSubnet", in); err != nil {
		return nil, err
	}
	if in.CidrBlock == nil {
		return nil, awserr.MissingParameter("CidrBlock")
	}
	p, err := parseCIDR4(*in.CidrBlock, "cidrBlock")
	if err != nil {
		return nil, err
	}
	tags, err := tagsFor(in.TagSpecifications, "subnet")
	if err != nil {
		return nil, err
	}
	var out ec2api.Subnet
	sc := scopeOf(ctx)
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		inVPC := slices.ContainsFunc(v.cidrs(), func(vp netip.Prefix) bool { return vp.Contains(p.Addr()) && p.Bits() >= vp.Bits() })
		if p.Bits() < 16 || p.Bits() > 28 || !inVPC {
			return errInvalidSubnetRange(p)
		}
		az := str(in.AvailabilityZone)
		if in.AvailabilityZoneId != nil {
			if az != "" {
				return awserr.InvalidParameterCombination("Only one of AvailabilityZone or AvailabilityZoneId may be specified.")
			}
			for _, z := range zones(sc.Region) {
				if zoneID(z) == *in.AvailabilityZoneId {
					az = z
				}
			}
			if az == "" {
				return awserr.InvalidParameterValue("Value (%s) for parameter availabilityZoneId is invalid. Subnets can currently only be created in the following availability zones: %v.", *in.AvailabilityZoneId, zones(sc.Region))
			}
		}
		if az == "" {
			az = zones(sc.Region)[int(randByte())%3]
		} else if !slices.Contains(zones(sc.Region), az) {
			return awserr.InvalidParameterValue("Value (%s) for parameter availabilityZone is invalid. Subnets can currently only be created in the following availability zones: %v.", az, zones(sc.Region))
		}
		n := 0
		for _, o := range listT[*subnetRec](st, "subnet") {
			if o.VpcID != v.ID {
				continue
			}
			n++
			if netip.MustParsePrefix(o.CIDR).Overlaps(p) {
				return errInvalidSubnetConflict(p)
			}
		}
		if n >= s.cfg.MaxSubnetsPerVPC {
			return errSubnetLimitExceeded()
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		sn := &subnetRec{ID: newID("subnet-"), Owner: sc.Account, VpcID: v.ID, CIDR: p.String(), AZ: az}
		sn.Tags = tags
		if in.Ipv6CidrBlock != nil {
			p6, err := subnetIPv6(st, v, sn.ID, *in.Ipv6CidrBlock)
			if err != nil {
				return err
			}
			sn.IPv6 = &vpcCIDR{AssocID: newID("subnet-cidr-assoc-"), CIDR: p6.String()}
		}
		st.put(sn)
		out = subnetOut(sn, subnetSize(sn.CIDR))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateSubnetResult{Subnet: &out}, nil
}

func randByte() byte {
	id := newID("")
	b, _ := strconv.ParseUint(id[:2], 16, 8)
	return byte(b)
}

// DescribeSubnets implements ec2api.Operations.
func (s *Service) DescribeSubnets(ctx context.Context, in *ec2api.DescribeSubnetsRequest) (*ec2api.DescribeSubnetsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeSubnetsResult{Subnets: []ec2api.Subnet{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, missing := selectIDs(listT[*subnetRec](st, "subnet"), in.SubnetIds)
		if missing != "" {
			return notFound("subnet", missing)
		}
		used := usedCounts(st)
		items := make([]subnetView, len(recs))
		for i, r := range recs {
			items[i] = subnetView{r, subnetSize(r.CIDR) - used[r.ID]}
		}
		items, err := filterItems(subnetFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, subnetView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.Subnets = append(out.Subnets, subnetOut(v.subnetRec, v.free))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// DeleteSubnet implements ec2api.Operations.
func (s *Service) DeleteSubnet(ctx context.Context, in *ec2api.DeleteSubnetRequest) error {
	id := str(in.SubnetId)
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if _, err := lookup[*subnetRec](st, "subnet", id); err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		for _, e := range listT[*eniRec](st, "eni") {
			if e.SubnetID == id {
				return errDependencyViolation("The subnet '%s' has dependencies and cannot be deleted.", id)
			}
		}
		if sn, _ := getT[*subnetRec](st, id); len(endpointsIn(st, sn.VpcID, id)) > 0 {
			return errDependencyViolation("The subnet '%s' has dependencies and cannot be deleted.", id)
		}
		for _, r := range listT[*rtbRec](st, "rtb") {
			if slices.ContainsFunc(r.Assocs, func(a rtbAssocR) bool { return a.SubnetID == id }) {
				r = mut[*rtbRec](st, r.ID)
				r.Assocs = slices.DeleteFunc(r.Assocs, func(a rtbAssocR) bool { return a.SubnetID == id })
			}
		}
		dropACLAssociations(st, id)
		st.del(id)
		return nil
	})
}

// ---- Account, zones, regions ----

// DescribeAccountAttributes implements ec2api.Operations.
func (s *Service) DescribeAccountAttributes(ctx context.Context, in *ec2api.DescribeAccountAttributesRequest) (*ec2api.DescribeAccountAttributesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	var classic bool
	var defVpc string
	err := s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		classic = st.meta.Classic
		if _, ok := st.get(st.meta.DefaultVpcID).(*vpcRec); ok {
			defVpc = st.meta.DefaultVpcID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	platforms := []string{"VPC"}
	if classic {
		platforms = []string{"EC2", "VPC"}
	}
	if defVpc == "" {
		defVpc = "none"
	}
	all := []struct {
		name string
		vals []string
	}{
		{"supported-platforms", platforms},
		{"vpc-max-security-groups-per-interface", []string{strconv.Itoa(s.cfg.GroupsPerInterface)}},
		{"max-elastic-ips", []string{strconv.Itoa(s.cfg.MaxElasticIPs)}},
		{"max-instances", []string{strconv.Itoa(s.cfg.MaxInstances)}},
		{"vpc-max-elastic-ips", []string{strconv.Itoa(s.cfg.MaxElasticIPs)}},
		{"default-vpc", []string{defVpc}},
	}
	for _, n := range in.AttributeNames {
		if !slices.ContainsFunc(all, func(a struct {
			name string
			vals []string
		}) bool {
			return a.name == n
		}) {
			return nil, awserr.InvalidParameterValue("Value (%s) for parameter attributeName is invalid.", n)
		}
	}
	out := &ec2api.DescribeAccountAttributesResult{AccountAttributes: []ec2api.AccountAttribute{}}
	for _, a := range all {
		if len(in.AttributeNames) > 0 && !slices.Contains(in.AttributeNames, a.name) {
			continue
		}
		aa := ec2api.AccountAttribute{AttributeName: ptr(a.name)}
		for _, v := range a.vals {
			aa.AttributeValues = append(aa.AttributeValues, ec2api.AccountAttributeValue{AttributeValue: ptr(v)})
		}
		out.AccountAttributes = append(out.AccountAttributes, aa)
	}
	return out, nil
}

var azFilters = filterSet[ec2api.AvailabilityZone]{fields: map[string]func(ec2api.AvailabilityZone) []string{
	"zone-name":            func(z ec2api.AvailabilityZone) []string { return one(*z.ZoneName) },
	"zone-id":              func(z ec2api.AvailabilityZone) []string { return one(*z.ZoneId) },
	"region-name":          func(z ec2api.AvailabilityZone) []string { return one(*z.RegionName) },
	"state":                func(z ec2api.AvailabilityZone) []string { return one(*z.State) },
	"zone-type":            func(z ec2api.AvailabilityZone) []string { return one(*z.ZoneType) },
	"group-name":           func(z ec2api.AvailabilityZone) []string { return one(*z.GroupName) },
	"network-border-group": func(z ec2api.AvailabilityZone) []string { return one(*z.NetworkBorderGroup) },
	"opt-in-status":        func(z ec2api.AvailabilityZone) []string { return one(*z.OptInStatus) },
}}

// DescribeAvailabilityZones implements ec2api.Operations.
func (s *Service) DescribeAvailabilityZones(ctx context.Context, in *ec2api.DescribeAvailabilityZonesRequest) (*ec2api.DescribeAvailabilityZonesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	if err := validScope(sc); err != nil {
		return nil, err
	}
	var all []ec2api.AvailabilityZone
	for _, z := range zones(sc.Region) {
		all = append(all, ec2api.AvailabilityZone{
			GroupName: ptr(sc.Region), NetworkBorderGroup: ptr(sc.Region), OptInStatus: ptr("opt-in-not-required"),
			RegionName: ptr(sc.Region), State: ptr("available"), ZoneId: ptr(zoneID(z)), ZoneName: ptr(z),
			ZoneType: ptr("availability-zone"), Messages: []ec2api.AvailabilityZoneMessage{},
		})
	}
	for _, n := range in.ZoneNames {
		if !slices.Contains(zones(sc.Region), n) {
			return nil, awserr.InvalidParameterValue("The zone '%s' does not exist.", n)
		}
	}
	var sel []ec2api.AvailabilityZone
	for _, z := range all {
		if len(in.ZoneNames) > 0 && !slices.Contains(in.ZoneNames, *z.ZoneName) {
			continue
		}
		if len(in.ZoneIds) > 0 && !slices.Contains(in.ZoneIds, *z.ZoneId) {
			continue
		}
		sel = append(sel, z)
	}
	sel, err := filterItems(azFilters, in.Filters, sel)
	if err != nil {
		return nil, err
	}
	if sel == nil {
		sel = []ec2api.AvailabilityZone{}
	}
	return &ec2api.DescribeAvailabilityZonesResult{AvailabilityZones: sel}, nil
}

var regionFilters = filterSet[ec2api.Region]{fields: map[string]func(ec2api.Region) []string{
	"endpoint":      func(r ec2api.Region) []string { return one(*r.Endpoint) },
	"region-name":   func(r ec2api.Region) []string { return one(*r.RegionName) },
	"opt-in-status": func(r ec2api.Region) []string { return one(*r.OptInStatus) },
}}

// DescribeRegions implements ec2api.Operations.
func (s *Service) DescribeRegions(ctx context.Context, in *ec2api.DescribeRegionsRequest) (*ec2api.DescribeRegionsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	for _, n := range in.RegionNames {
		if !slices.Contains(s.cfg.Regions, n) {
			return nil, awserr.InvalidParameterValue("Invalid region: %s", n)
		}
	}
	var sel []ec2api.Region
	for _, r := range s.cfg.Regions {
		if len(in.RegionNames) > 0 && !slices.Contains(in.RegionNames, r) {
			continue
		}
		sel = append(sel, ec2api.Region{Endpoint: ptr("ec2." + r + ".amazonaws.com"), OptInStatus: ptr("opt-in-not-required"), RegionName: ptr(r)})
	}
	sel, err := filterItems(regionFilters, in.Filters, sel)
	if err != nil {
		return nil, err
	}
	if sel == nil {
		sel = []ec2api.Region{}
	}
	return &ec2api.DescribeRegionsResult{Regions: sel}, nil
}
