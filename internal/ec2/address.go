package ec2

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// ElasticIPPool is where Elastic IPs come from: 100.64.0.0/10, the shared address space of RFC 6598
// (carrier-grade NAT): it is never routed on the Internet and not used for
// documentation, so an address handed out here can never be mistaken for,
// or leak to, a real public address. The index ec2/_eip/<ip> keeps each
// address unique across accounts and regions.
var ElasticIPPool = netip.MustParsePrefix("100.64.0.0/10")

const eipIndexPrefix = "ec2/_eip/"

func (t *txn) eipTaken(ip string) (bool, error) {
	if v, ok := t.extra[eipIndexPrefix+ip]; ok {
		return v != nil, nil
	}
	_, err := t.tx.Get(eipIndexPrefix + ip)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (t *txn) pickEIP(want string) (string, error) {
	if want != "" {
		a, err := netip.ParseAddr(want)
		if err != nil || !ElasticIPPool.Contains(a) {
			return "", awserr.InvalidParameterValue("Address %s is not in Cachalot's Elastic IP pool %s.", want, ElasticIPPool)
		}
		taken, err := t.eipTaken(a.String())
		if err != nil {
			return "", err
		}
		if taken {
			return "", errInvalidAddressInUse(want)
		}
		return a.String(), nil
	}
	base := ip4u(ElasticIPPool.Addr())
	size := uint32(1) << (32 - ElasticIPPool.Bits())
	for range 64 {
		var b [4]byte
		_, _ = rand.Read(b[:])
		off := binary.BigEndian.Uint32(b[:]) % size
		if off%256 == 0 || off%256 == 255 {
			continue
		}
		ip := u2ip4(base + off).String()
		taken, err := t.eipTaken(ip)
		if err != nil {
			return "", err
		}
		if !taken {
			return ip, nil
		}
	}
	return "", errInsufficientAddressCapacity()
}

func addressOut(a *addressRec) ec2api.Address {
	out := ec2api.Address{AllocationId: ptr(a.ID), Domain: ptr("vpc"), PublicIp: ptr(a.PublicIP), PublicIpv4Pool: ptr("cachalot"),
		NetworkBorderGroup: nil, Tags: tagList(a.Tags)}
	if a.AssociationID != "" {
		out.AssociationId = ptr(a.AssociationID)
		out.NetworkInterfaceId = ptr(a.ENIID)
		out.NetworkInterfaceOwnerId = ptr(a.Owner)
		out.PrivateIpAddress = ptr(a.PrivateIP)
		if a.InstanceID != "" {
			out.InstanceId = ptr(a.InstanceID)
		}
	}
	return out
}

// AllocateAddress implements ec2api.Operations.
func (s *Service) AllocateAddress(ctx context.Context, in *ec2api.AllocateAddressRequest) (*ec2api.AllocateAddressResult, error) {
	if d := str(in.Domain); d != "" && d != "vpc" {
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter domain is invalid: Cachalot allocates only VPC addresses.", d)
	}
	tags, err := tagsFor(in.TagSpecifications, "elastic-ip")
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.AllocateAddressResult{Domain: ptr("vpc"), PublicIpv4Pool: ptr("cachalot"), NetworkBorderGroup: ptr(sc.Region)}
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		if len(st.list("eip")) >= s.cfg.MaxElasticIPs {
			return errAddressLimitExceeded()
		}
		ip, err := t.pickEIP(str(in.Address))
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		a := &addressRec{ID: newID("eipalloc-"), Owner: sc.Account, PublicIP: ip}
		a.Tags = tags
		st.put(a)
		t.extra[eipIndexPrefix+ip] = []byte(`"` + sc.Account + "/" + sc.Region + "/" + a.ID + `"`)
		out.AllocationId, out.PublicIp = ptr(a.ID), ptr(ip)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func findAddress(st *scopeTx, alloc, public *string) (*addressRec, error) {
	if alloc != nil {
		return lookup[*addressRec](st, "eip", *alloc)
	}
	if public == nil {
		return nil, awserr.MissingParameter("AllocationId")
	}
	for _, a := range listT[*addressRec](st, "eip") {
		if a.PublicIP == *public {
			return a, nil
		}
	}
	return nil, errInvalidAddressNotFound(*public)
}

// AssociateAddress implements ec2api.Operations.
func (s *Service) AssociateAddress(ctx context.Context, in *ec2api.AssociateAddressRequest) (*ec2api.AssociateAddressResult, error) {
	out := &ec2api.AssociateAddressResult{}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		a, err := findAddress(st, in.AllocationId, in.PublicIp)
		if err != nil {
			return err
		}
		var e *eniRec
		switch {
		case in.NetworkInterfaceId != nil:
			if e, err = lookup[*eniRec](st, "eni", *in.NetworkInterfaceId); err != nil {
				return err
			}
			if in.InstanceId != nil && e.InstanceID != *in.InstanceId {
				return awserr.InvalidParameterCombination("The network interface %s is not attached to instance %s.", e.ID, *in.InstanceId)
			}
		case in.InstanceId != nil:
			i, err := lookup[*instanceRec](st, "instance", *in.InstanceId)
			if err != nil {
				return err
			}
			if i.State != "running" && i.State != "stopped" {
				return errIncorrectInstanceState("The instance '%s' is not in a valid state for this operation.", i.ID)
			}
			e, _ = getT[*eniRec](st, i.PrimaryENI)
			if e == nil {
				return errIncorrectInstanceState("The instance '%s' has no network interface.", i.ID)
			}
		default:
			return awserr.MissingParameter("InstanceId")
		}
		if e.InterfaceType == natInterfaceType || a.natOwned(st) {
			return errOperationNotPermitted("Elastic IP addresses of NAT gateways change only with the NAT gateway (%s, %s).", a.ID, e.ID)
		}
		if p := str(in.PrivateIpAddress); p != "" && p != e.PrivateIP {
			return awserr.InvalidParameterValue("The private IP address %s is not assigned to network interface %s.", p, e.ID)
		}
		attached := false
		for _, g := range listT[*igwRec](st, "igw") {
			if g.VpcID == e.VpcID {
				attached = true
			}
		}
		if !attached {
			return errGatewayNotAttached("Network %s is not attached to any internet gateway", e.VpcID)
		}
		reassoc := in.AllowReassociation != nil && *in.AllowReassociation
		if a.AssociationID != "" && a.ENIID != e.ID && !reassoc {
			return errResourceAlreadyAssociated("resource %s is already associated with associate-id %s", a.ID, a.AssociationID)
		}
		if e.AllocationID != "" && e.AllocationID != a.ID && !reassoc {
			return errResourceAlreadyAssociated("The network interface %s already has an Elastic IP address associated.", e.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		var old *eniRec
		if a.ENIID != "" && a.ENIID != e.ID {
			if old = mut[*eniRec](st, a.ENIID); old != nil {
				old.AllocationID = ""
			}
		}
		if e.AllocationID != "" && e.AllocationID != a.ID {
			if old := mut[*addressRec](st, e.AllocationID); old != nil {
				old.AssociationID, old.ENIID, old.InstanceID, old.PrivateIP = "", "", "", ""
			}
		}
		a = mut[*addressRec](st, a.ID)
		a.AssociationID, a.ENIID, a.InstanceID, a.PrivateIP = newID("eipassoc-"), e.ID, e.InstanceID, e.PrivateIP
		me := mut[*eniRec](st, e.ID)
		me.AllocationID = a.ID
		t.releasePublicIP(me)            // the Elastic IP replaces the public address
		if a.ENIID != "" && old != nil { // the interface the address left gets a public one again
			if err := t.assignPublicIPIfRunning(st, old); err != nil {
				return err
			}
		}
		out.AssociationId = ptr(a.AssociationID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DisassociateAddress implements ec2api.Operations.
func (s *Service) DisassociateAddress(ctx context.Context, in *ec2api.DisassociateAddressRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		var a *addressRec
		if in.AssociationId != nil {
			for _, o := range listT[*addressRec](st, "eip") {
				if o.AssociationID == *in.AssociationId {
					a = o
				}
			}
			if a == nil {
				return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", *in.AssociationId)
			}
		} else {
			var err error
			if a, err = findAddress(st, nil, in.PublicIp); err != nil {
				return err
			}
			if a.AssociationID == "" {
				return errInvalidAssociationIDNotFound("The address '%s' is not associated", a.PublicIP)
			}
		}
		if a.natOwned(st) {
			return errOperationNotPermitted("The Elastic IP address %s is associated with a NAT gateway; delete the NAT gateway to disassociate it.", a.PublicIP)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		if e := mut[*eniRec](st, a.ENIID); e != nil {
			e.AllocationID = ""
			if err := t.assignPublicIPIfRunning(st, e); err != nil {
				return err
			}
		}
		a = mut[*addressRec](st, a.ID)
		a.AssociationID, a.ENIID, a.InstanceID, a.PrivateIP = "", "", "", ""
		return nil
	})
}

// ReleaseAddress implements ec2api.Operations.
func (s *Service) ReleaseAddress(ctx context.Context, in *ec2api.ReleaseAddressRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		a, err := findAddress(st, in.AllocationId, in.PublicIp)
		if err != nil {
			return err
		}
		if a.AssociationID != "" {
			return errInvalidIPAddressInUse(a.PublicIP)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(a.ID)
		t.extra[eipIndexPrefix+a.PublicIP] = nil
		return nil
	})
}

var addressFilters = filterSet[*addressRec]{
	fields: map[string]func(*addressRec) []string{
		"allocation-id":              func(a *addressRec) []string { return one(a.ID) },
		"association-id":             func(a *addressRec) []string { return one(a.AssociationID) },
		"domain":                     func(a *addressRec) []string { return one("vpc") },
		"instance-id":                func(a *addressRec) []string { return one(a.InstanceID) },
		"network-interface-id":       func(a *addressRec) []string { return one(a.ENIID) },
		"network-interface-owner-id": func(a *addressRec) []string { return one(map[bool]string{true: a.Owner}[a.ENIID != ""]) },
		"private-ip-address":         func(a *addressRec) []string { return one(a.PrivateIP) },
		"public-ip":                  func(a *addressRec) []string { return one(a.PublicIP) },
		"network-border-group":       func(a *addressRec) []string { return nil },
	},
	tags: func(a *addressRec) map[string]string { return a.Tags },
}

// DescribeAddresses implements ec2api.Operations.
func (s *Service) DescribeAddresses(ctx context.Context, in *ec2api.DescribeAddressesRequest) (*ec2api.DescribeAddressesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeAddressesResult{Addresses: []ec2api.Address{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		items, missing := selectIDs(listT[*addressRec](st, "eip"), in.AllocationIds)
		if missing != "" {
			return notFound("eip", missing)
		}
		if len(in.PublicIps) > 0 {
			var sel []*addressRec
			for _, ip := range in.PublicIps {
				a, err := findAddress(st, nil, &ip)
				if err != nil {
					return err
				}
				sel = append(sel, a)
			}
			items = sel
		}
		items, err := filterItems(addressFilters, in.Filters, items)
		if err != nil {
			return err
		}
		for _, a := range items {
			out.Addresses = append(out.Addresses, addressOut(a))
		}
		return nil
	})
	return out, err
}

// natOwned reports whether a is the Elastic IP of a NAT gateway.
func (a *addressRec) natOwned(st *scopeTx) bool {
	e, ok := getT[*eniRec](st, a.ENIID)
	return ok && e.InterfaceType == natInterfaceType
}
