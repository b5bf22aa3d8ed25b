package ec2

import (
	"context"
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/dnsname"
)

// ---- private address allocation ----

// usedIPs returns the set of interface addresses of a subnet, computed once
// per transaction and kept up to date by allocIP and releaseIP.
func (st *scopeTx) usedIPs(subnet string) map[string]bool {
	if st.used == nil {
		st.used = map[string]map[string]bool{}
	}
	if m, ok := st.used[subnet]; ok {
		return m
	}
	m := map[string]bool{}
	for _, e := range st.list("eni") {
		if e := e.(*eniRec); e.SubnetID == subnet {
			m[e.PrivateIP] = true
		}
	}
	st.used[subnet] = m
	return m
}

func ip4u(a netip.Addr) uint32 { b := a.As4(); return binary.BigEndian.Uint32(b[:]) }
func u2ip4(u uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], u)
	return netip.AddrFrom4(b)
}

// allocIP reserves want (validated) or the lowest free address of the
// subnet, never one of the five AWS reserves.
func (st *scopeTx) allocIP(sn *subnetRec, want string) (string, error) {
	p := netip.MustParsePrefix(sn.CIDR)
	first := ip4u(p.Addr())
	last := first + (uint32(1) << (32 - p.Bits())) - 1
	used := st.usedIPs(sn.ID)
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !a.Is4() {
			return "", awserr.InvalidParameterValue("Value (%s) for parameter privateIpAddress is invalid. Expected a valid IPv4 address.", want)
		}
		if !p.Contains(a) {
			return "", awserr.InvalidParameterValue("Address %s does not fall within the subnet's address range", want)
		}
		if u := ip4u(a); u < first+4 || u == last {
			return "", awserr.InvalidParameterValue("Address %s is in subnet's reserved address range", want)
		}
		if used[a.String()] {
			return "", errInvalidIPAddressInUse(want)
		}
		used[a.String()] = true
		return a.String(), nil
	}
	for u := first + 4; u < last; u++ {
		s := u2ip4(u).String()
		if !used[s] {
			used[s] = true
			return s, nil
		}
	}
	return "", errInsufficientFreeAddressesInSubnet(sn.ID)
}

func (st *scopeTx) releaseIP(subnet, ip string) {
	delete(st.usedIPs(subnet), ip)
}

// resolveGroups validates group ids (or names, in the default VPC) for an
// interface in vpc ("": EC2-Classic); none means the VPC's default group.
func resolveGroups(st *scopeTx, vpc string, ids, names []string, limit int) ([]string, error) {
	var out []string
	for _, id := range ids {
		g, err := lookup[*groupRec](st, "sg", id)
		if err != nil {
			return nil, err
		}
		if g.VpcID != vpc {
			return nil, errInvalidParameter("Security group %s and subnet belong to different networks.", id)
		}
		if !slices.Contains(out, g.ID) {
			out = append(out, g.ID)
		}
	}
	for _, n := range names {
		var found *groupRec
		for _, g := range listT[*groupRec](st, "sg") {
			if g.Name == n && g.VpcID == vpc {
				found = g
			}
		}
		if found == nil && vpc == "" {
			return nil, errInvalidGroupNotFound("The security group '%s' does not exist", n)
		}
		if found == nil {
			return nil, errInvalidGroupNotFound("The security group '%s' does not exist in VPC '%s'", n, vpc)
		}
		if !slices.Contains(out, found.ID) {
			out = append(out, found.ID)
		}
	}
	if len(out) == 0 {
		for _, g := range listT[*groupRec](st, "sg") {
			if g.VpcID == vpc && g.Name == "default" {
				out = append(out, g.ID)
			}
		}
	}
	if len(out) > limit {
		return nil, errSecurityGroupsPerInterfaceLimitExceeded()
	}
	return out, nil
}

// newENI creates an interface record in sn with an allocated address.
func (t *txn) newENI(st *scopeTx, sn *subnetRec, groups []string, ip, desc string) (*eniRec, error) {
	addr, err := st.allocIP(sn, ip)
	if err != nil {
		return nil, err
	}
	e := &eniRec{ID: newID("eni-"), Owner: st.sc.Account, SubnetID: sn.ID, VpcID: sn.VpcID, AZ: sn.AZ, PrivateIP: addr,
		MAC: newMAC(), Description: desc, Groups: groups, InterfaceType: "interface", SourceDestCheck: true}
	st.put(e)
	return e, nil
}

// deleteENI removes an interface, its address and any Elastic IP association.
func (t *txn) deleteENI(st *scopeTx, e *eniRec) {
	if e.AllocationID != "" {
		if a := mut[*addressRec](st, e.AllocationID); a != nil {
			a.AssociationID, a.ENIID, a.InstanceID, a.PrivateIP = "", "", "", ""
		}
	}
	t.releasePublicIP(e)
	st.releaseIP(e.SubnetID, e.PrivateIP)
	st.del(e.ID)
}

// lookupVPCENI looks an interface up for the EC2 API, to which the
// interfaces of the EC2-Classic network do not exist (AWS shows none).
func lookupVPCENI(st *scopeTx, id string) (*eniRec, error) {
	e, err := lookup[*eniRec](st, "eni", id)
	if err == nil && e.Classic {
		return nil, notFound("eni", id)
	}
	return e, err
}

// vpcENIs lists the interfaces the EC2 API shows: all but the classic ones.
func vpcENIs(st *scopeTx) []*eniRec {
	return slices.DeleteFunc(listT[*eniRec](st, "eni"), func(e *eniRec) bool { return e.Classic })
}

// ---- output ----

func (st *scopeTx) groupIdents(ids []string) []ec2api.GroupIdentifier {
	out := make([]ec2api.GroupIdentifier, 0, len(ids))
	for _, id := range ids {
		gi := ec2api.GroupIdentifier{GroupId: ptr(id)}
		if g, ok := getT[*groupRec](st, id); ok {
			gi.GroupName = ptr(g.Name)
		}
		out = append(out, gi)
	}
	return out
}

func (st *scopeTx) eniOut(e *eniRec) ec2api.NetworkInterface {
	out := ec2api.NetworkInterface{
		AvailabilityZone:   ptr(e.AZ),
		AvailabilityZoneId: ptr(zoneID(e.AZ)),
		Description:        ptr(e.Description),
		Groups:             st.groupIdents(e.Groups),
		InterfaceType:      ptr(e.InterfaceType),
		Ipv6Addresses:      []ec2api.NetworkInterfaceIpv6Address{},
		MacAddress:         ptr(e.MAC),
		NetworkInterfaceId: ptr(e.ID),
		OwnerId:            ptr(e.Owner),
		PrivateDnsName:     ptr(dnsname.PrivateDNSName(st.sc.Region, e.PrivateIP)),
		PrivateIpAddress:   ptr(e.PrivateIP),
		RequesterManaged:   ptr(e.RequesterManaged),
		SourceDestCheck:    ptr(e.SourceDestCheck),
		Status:             ptr(e.status()),
		SubnetId:           ptr(e.SubnetID),
		TagSet:             tagList(e.Tags),
		VpcId:              ptr(e.VpcID),
	}
	if out.TagSet == nil {
		out.TagSet = []ec2api.Tag{}
	}
	if e.RequesterID != "" {
		out.RequesterId = ptr(e.RequesterID)
	}
	if e.Classic {
		out.SubnetId, out.VpcId = nil, nil
	}
	pip := ec2api.NetworkInterfacePrivateIpAddress{Primary: ptr(true), PrivateDnsName: out.PrivateDnsName, PrivateIpAddress: ptr(e.PrivateIP)}
	if a, ok := getT[*addressRec](st, e.AllocationID); ok {
		assoc := &ec2api.NetworkInterfaceAssociation{AllocationId: ptr(a.ID), AssociationId: ptr(a.AssociationID),
			IpOwnerId: ptr(a.Owner), PublicIp: ptr(a.PublicIP), PublicDnsName: ptr(st.publicDNSOf(e, a.PublicIP))}
		out.Association = assoc
		pip.Association = assoc
	} else if assoc := st.publicAssociation(e); assoc != nil {
		out.Association = assoc
		pip.Association = assoc
	}
	out.PrivateIpAddresses = []ec2api.NetworkInterfacePrivateIpAddress{pip}
	if e.InstanceID != "" {
		out.Attachment = &ec2api.NetworkInterfaceAttachment{AttachTime: ptr(e.AttachTime), AttachmentId: ptr(e.AttachmentID),
			DeleteOnTermination: ptr(e.DeleteOnTerm), DeviceIndex: ptr(e.DeviceIndex), InstanceId: ptr(e.InstanceID),
			InstanceOwnerId: ptr(e.Owner), NetworkCardIndex: ptr(int32(0)), Status: ptr("attached")}
	}
	return out
}

type eniView struct {
	*eniRec
	st *scopeTx
}

func (v eniView) id() string { return v.ID }

func (v eniView) groupNames() []string {
	var out []string
	for _, id := range v.Groups {
		if g, ok := getT[*groupRec](v.st, id); ok {
			out = append(out, g.Name)
		}
	}
	return out
}

func (v eniView) publicIP() string {
	if a, ok := getT[*addressRec](v.st, v.AllocationID); ok {
		return a.PublicIP
	}
	return v.PublicIP
}

var eniFilters = filterSet[eniView]{
	fields: map[string]func(eniView) []string{
		"network-interface-id":                    func(v eniView) []string { return one(v.ID) },
		"subnet-id":                               func(v eniView) []string { return one(v.SubnetID) },
		"vpc-id":                                  func(v eniView) []string { return one(v.VpcID) },
		"availability-zone":                       func(v eniView) []string { return one(v.AZ) },
		"private-ip-address":                      func(v eniView) []string { return one(v.PrivateIP) },
		"addresses.private-ip-address":            func(v eniView) []string { return one(v.PrivateIP) },
		"addresses.primary":                       func(v eniView) []string { return boolStr(true) },
		"private-dns-name":                        func(v eniView) []string { return one(dnsname.PrivateDNSName(v.st.sc.Region, v.PrivateIP)) },
		"group-id":                                func(v eniView) []string { return v.Groups },
		"group-name":                              func(v eniView) []string { return v.groupNames() },
		"description":                             func(v eniView) []string { return []string{v.Description} },
		"status":                                  func(v eniView) []string { return one(v.status()) },
		"requester-id":                            func(v eniView) []string { return one(v.RequesterID) },
		"requester-managed":                       func(v eniView) []string { return boolStr(v.RequesterManaged) },
		"interface-type":                          func(v eniView) []string { return one(v.InterfaceType) },
		"owner-id":                                func(v eniView) []string { return one(v.Owner) },
		"mac-address":                             func(v eniView) []string { return one(v.MAC) },
		"source-dest-check":                       func(v eniView) []string { return boolStr(v.SourceDestCheck) },
		"attachment.instance-id":                  func(v eniView) []string { return one(v.InstanceID) },
		"attachment.instance-owner-id":            func(v eniView) []string { return one(map[bool]string{true: v.Owner}[v.InstanceID != ""]) },
		"attachment.attachment-id":                func(v eniView) []string { return one(v.AttachmentID) },
		"attachment.device-index":                 func(v eniView) []string { return one(map[bool]string{true: itoa(v.DeviceIndex)}[v.InstanceID != ""]) },
		"attachment.status":                       func(v eniView) []string { return one(map[bool]string{true: "attached"}[v.InstanceID != ""]) },
		"attachment.delete-on-termination":        func(v eniView) []string { return boolStr(v.DeleteOnTerm) },
		"association.public-ip":                   func(v eniView) []string { return one(v.publicIP()) },
		"association.allocation-id":               func(v eniView) []string { return one(v.AllocationID) },
		"addresses.association.public-ip":         func(v eniView) []string { return one(v.publicIP()) },
		"addresses.association.owner-id":          func(v eniView) []string { return one(map[bool]string{true: v.Owner}[v.AllocationID != ""]) },
		"association.association-id":              func(v eniView) []string { return nil },
		"network-interface-permission.permission": func(v eniView) []string { return nil },
	},
	tags: func(v eniView) map[string]string { return v.Tags },
}

// ---- operations ----

// CreateNetworkInterface implements ec2api.Operations.
func (s *Service) CreateNetworkInterface(ctx context.Context, in *ec2api.CreateNetworkInterfaceRequest) (*ec2api.CreateNetworkInterfaceResult, error) {
	if in.Ipv6AddressCount != nil || len(in.Ipv6Addresses) > 0 || in.SecondaryPrivateIpAddressCount != nil ||
		len(in.PrivateIpAddresses) > 1 || in.Ipv4PrefixCount != nil || len(in.Ipv4Prefixes) > 0 || in.Ipv6PrefixCount != nil || len(in.Ipv6Prefixes) > 0 {
		return nil, awserr.InvalidParameterValue("Cachalot interfaces have exactly one private IPv4 address.")
	}
	if t := str(in.InterfaceType); t != "" && t != "interface" && t != "efa" && t != "efa-only" && t != "trunk" {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter interfaceType is invalid.", t)
	}
	tags, err := tagsFor(in.TagSpecifications, "network-interface")
	if err != nil {
		return nil, err
	}
	ip := str(in.PrivateIpAddress)
	if len(in.PrivateIpAddresses) == 1 {
		ip = str(in.PrivateIpAddresses[0].PrivateIpAddress)
	}
	var out ec2api.NetworkInterface
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		sn, err := lookup[*subnetRec](st, "subnet", str(in.SubnetId))
		if err != nil {
			return err
		}
		groups, err := resolveGroups(st, sn.VpcID, in.Groups, nil, s.cfg.GroupsPerInterface)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		e, err := t.newENI(st, sn, groups, ip, str(in.Description))
		if err != nil {
			return err
		}
		if in.InterfaceType != nil {
			e.InterfaceType = *in.InterfaceType
		}
		e.Tags = tags
		out = st.eniOut(e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateNetworkInterfaceResult{NetworkInterface: &out, ClientToken: in.ClientToken}, nil
}

// DeleteNetworkInterface implements ec2api.Operations.
func (s *Service) DeleteNetworkInterface(ctx context.Context, in *ec2api.DeleteNetworkInterfaceRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		e, err := lookupVPCENI(st, str(in.NetworkInterfaceId))
		if err != nil {
			return err
		}
		if e.InstanceID != "" {
			return errInvalidNetworkInterfaceInUse(e.ID)
		}
		if e.RequesterManaged {
			return errOperationNotPermitted("You are not allowed to manage '%s' interfaces.", e.RequesterID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		t.deleteENI(st, e)
		return nil
	})
}

// DescribeNetworkInterfaces implements ec2api.Operations.
func (s *Service) DescribeNetworkInterfaces(ctx context.Context, in *ec2api.DescribeNetworkInterfacesRequest) (*ec2api.DescribeNetworkInterfacesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNetworkInterfacesResult{NetworkInterfaces: []ec2api.NetworkInterface{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, missing := selectIDs(vpcENIs(st), in.NetworkInterfaceIds)
		if missing != "" {
			return notFound("eni", missing)
		}
		recs = narrow(st, "eni", eniFilters, in.Filters, recs, func(r *eniRec) eniView { return eniView{r, st} })
		items := make([]eniView, len(recs))
		for i, r := range recs {
			items[i] = eniView{r, st}
		}
		items, err := filterItems(eniFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, eniView.id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.NetworkInterfaces = append(out.NetworkInterfaces, st.eniOut(v.eniRec))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// ModifyNetworkInterfaceAttribute implements ec2api.Operations.
func (s *Service) ModifyNetworkInterfaceAttribute(ctx context.Context, in *ec2api.ModifyNetworkInterfaceAttributeRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		e, err := lookupVPCENI(st, str(in.NetworkInterfaceId))
		if err != nil {
			return err
		}
		if e.RequesterManaged {
			return errOperationNotPermitted("You are not allowed to manage '%s' interfaces.", e.RequesterID)
		}
		e = mut[*eniRec](st, e.ID)
		switch {
		case in.Groups != nil:
			if len(in.Groups) == 0 {
				return awserr.MissingParameter("SecurityGroupId")
			}
			g, err := resolveGroups(st, e.VpcID, in.Groups, nil, s.cfg.GroupsPerInterface)
			if err != nil {
				return err
			}
			e.Groups = g
		case in.Description != nil:
			e.Description = str(in.Description.Value)
		case in.SourceDestCheck != nil && in.SourceDestCheck.Value != nil:
			e.SourceDestCheck = *in.SourceDestCheck.Value
		case in.AssociatePublicIpAddress != nil:
			// AWS: a public address on an attached interface; the instance's
			// state decides when it exists (publicip.go).
			e.AutoPublic = *in.AssociatePublicIpAddress
			if !e.AutoPublic {
				t.releasePublicIP(e)
			} else if err := t.assignPublicIPIfRunning(st, e); err != nil {
				return err
			}
		case in.Attachment != nil:
			if e.InstanceID == "" || str(in.Attachment.AttachmentId) != e.AttachmentID {
				return errInvalidAttachmentIDNotFound(str(in.Attachment.AttachmentId))
			}
			if in.Attachment.DeleteOnTermination != nil {
				e.DeleteOnTerm = *in.Attachment.DeleteOnTermination
			}
		default:
			return awserr.InvalidParameterCombination("No attribute specified.")
		}
		return dryRun(in.DryRun)
	})
}
