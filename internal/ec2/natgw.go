package ec2

import (
	"context"
	"slices"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// NAT gateways. A public NAT gateway lives in a subnet with an Elastic IP:
// CreateNatGateway gives it a requester-managed network interface there
// (InterfaceType nat_gateway, its private address) and associates the
// Elastic IP with that interface, as AWS shows them. Subnets whose route
// tables send a destination to it (CreateRoute NatGatewayId) reach that
// destination through it: the network plane translates their packets to
// its Elastic IP as they leave by the VPC's internet gateway, when the NAT
// gateway's own subnet routes the destination to the gateway
// (netplane.InternetGateway.NATGateways; see vpcnet). The state is stored
// as what the gateway converges to at once: "available" (answered
// "pending" by CreateNatGateway), and "deleted" (answered "deleting" by
// DeleteNatGateway), shown for an hour then forgotten, as AWS does.
// Private NAT gateways (ConnectivityType private) and regional ones
// (AvailabilityMode regional) are refused. In a VPC without an internet
// gateway it fails at once (Gateway.NotAttached), as on AWS.

// natRec is a NAT gateway.
type natRec struct {
	tagged
	ID           string `json:"id"`
	Owner        string `json:"owner"`
	VpcID        string `json:"vpcId"`
	SubnetID     string `json:"subnetId"`
	AllocationID string `json:"allocationId"`
	AssocID      string `json:"assocId"`
	ENIID        string `json:"eniId"`
	PrivateIP    string `json:"privateIp"`
	PublicIP     string `json:"publicIp"`
	State        string `json:"state"` // available, failed, deleted
	// FailureCode and FailureMessage say why it failed (AWS's words).
	FailureCode    string    `json:"failureCode,omitempty"`
	FailureMessage string    `json:"failureMessage,omitempty"`
	Created        time.Time `json:"created"`
	Deleted        time.Time `json:"deleted,omitzero"`
	ClientToken    string    `json:"clientToken,omitempty"`
}

func (r *natRec) id() string { return r.ID }

// natInterfaceType is the InterfaceType of a NAT gateway's interface.
const natInterfaceType = "nat_gateway"

func natOut(r *natRec, state string) ec2api.NatGateway {
	out := ec2api.NatGateway{NatGatewayId: ptr(r.ID), VpcId: ptr(r.VpcID), SubnetId: ptr(r.SubnetID), State: ptr(state),
		CreateTime: ptr(r.Created), ConnectivityType: ptr("public"), AvailabilityMode: ptr("zonal"), Tags: tagList(r.Tags)}
	if out.Tags == nil {
		out.Tags = []ec2api.Tag{}
	}
	addr := ec2api.NatGatewayAddress{AllocationId: ptr(r.AllocationID), NetworkInterfaceId: ptr(r.ENIID), PrivateIp: ptr(r.PrivateIP),
		PublicIp: ptr(r.PublicIP), AssociationId: ptr(r.AssocID), IsPrimary: ptr(true), Status: ptr("succeeded")}
	switch state {
	case "pending":
		addr.Status = ptr("associating")
	case "deleting", "deleted":
		addr.Status = ptr("disassociating")
		if state == "deleted" {
			addr.Status = ptr("succeeded")
			out.DeleteTime = ptr(r.Deleted)
		}
	}
	out.NatGatewayAddresses = []ec2api.NatGatewayAddress{addr}
	if r.FailureCode != "" {
		out.NatGatewayAddresses = []ec2api.NatGatewayAddress{}
		if state != "pending" {
			out.FailureCode, out.FailureMessage = ptr(r.FailureCode), ptr(r.FailureMessage)
		}
	}
	return out
}

// CreateNatGateway implements ec2api.Operations.
func (s *Service) CreateNatGateway(ctx context.Context, in *ec2api.CreateNatGatewayRequest) (*ec2api.CreateNatGatewayResult, error) {
	if err := refuseParams("CreateNatGateway", in); err != nil {
		return nil, err
	}
	switch ct := str(in.ConnectivityType); ct {
	case "", "public":
	case "private":
		return nil, errUnsupportedOperation("Private NAT gateways (parameter ConnectivityType private) are not supported by Cachalot.")
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter ConnectivityType is invalid. Valid values are public, private.", ct)
	}
	switch m := str(in.AvailabilityMode); m {
	case "", "zonal":
	case "regional":
		return nil, errUnsupportedOperation("Regional NAT gateways (parameter AvailabilityMode regional) are not supported by Cachalot.")
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter AvailabilityMode is invalid. Valid values are zonal, regional.", m)
	}
	if in.SubnetId == nil {
		return nil, awserr.MissingParameter("SubnetId")
	}
	if in.AllocationId == nil {
		return nil, awserr.MissingParameter("AllocationId")
	}
	tags, err := tagsFor(in.TagSpecifications, "natgateway")
	if err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.CreateNatGatewayResult{ClientToken: in.ClientToken}
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		t.purgeDeletedNATs(st)
		if tok := str(in.ClientToken); tok != "" {
			for _, r := range listT[*natRec](st, "nat") {
				if r.ClientToken == tok {
					n := natOut(r, "pending")
					if r.State == "deleted" {
						n = natOut(r, "deleted")
					}
					out.NatGateway = &n
					return nil
				}
			}
		}
		sn, err := lookup[*subnetRec](st, "subnet", *in.SubnetId)
		if err != nil {
			return err
		}
		a, err := lookup[*addressRec](st, "eip", *in.AllocationId)
		if err != nil {
			return err
		}
		if a.AssociationID != "" {
			return errResourceAlreadyAssociated("Elastic IP address [%s] is already associated", a.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &natRec{ID: newID("nat-"), Owner: sc.Account, VpcID: sn.VpcID, SubnetID: sn.ID, AllocationID: a.ID, PublicIP: a.PublicIP,
			State: "available", Created: t.now, ClientToken: str(in.ClientToken)}
		r.Tags = tags
		if !slices.ContainsFunc(listT[*igwRec](st, "igw"), func(g *igwRec) bool { return g.VpcID == sn.VpcID }) {
			// AWS creates it and fails it at once.
			r.State, r.FailureCode = "failed", "Gateway.NotAttached"
			r.FailureMessage = "Network " + sn.VpcID + " has no Internet gateway attached"
			r.Deleted = t.now
			st.put(r)
			n := natOut(r, "pending")
			out.NatGateway = &n
			return nil
		}
		e, err := t.newENI(st, sn, []string{}, str(in.PrivateIpAddress), "Interface for NAT Gateway "+r.ID)
		if err != nil {
			return err
		}
		e.InterfaceType, e.RequesterManaged, e.RequesterID, e.SourceDestCheck = natInterfaceType, true, natRequester, false
		e.AllocationID = a.ID
		a = mut[*addressRec](st, a.ID)
		a.AssociationID, a.ENIID, a.PrivateIP = newID("eipassoc-"), e.ID, e.PrivateIP
		r.ENIID, r.PrivateIP, r.AssocID = e.ID, e.PrivateIP, a.AssociationID
		st.put(r)
		n := natOut(r, "pending")
		out.NatGateway = &n
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// natRequester is the RequesterId AWS shows on NAT gateway interfaces.
const natRequester = "amazon-nat-gateway"

// purgeDeletedNATs forgets NAT gateways deleted more than an hour ago.
func (t *txn) purgeDeletedNATs(st *scopeTx) {
	for _, r := range listT[*natRec](st, "nat") {
		if (r.State == "deleted" || r.State == "failed") && t.now.Sub(r.Deleted) > terminatedTTL {
			st.del(r.ID)
		}
	}
}

// DeleteNatGateway implements ec2api.Operations. The interface goes and
// the Elastic IP is disassociated (still allocated); routes to the gateway
// stay, as blackholes.
func (s *Service) DeleteNatGateway(ctx context.Context, in *ec2api.DeleteNatGatewayRequest) (*ec2api.DeleteNatGatewayResult, error) {
	if in.NatGatewayId == nil {
		return nil, awserr.MissingParameter("NatGatewayId")
	}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*natRec](st, "nat", *in.NatGatewayId)
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		if r.State == "deleted" {
			return nil
		}
		if r.State == "failed" { // nothing to release
			r = mut[*natRec](st, r.ID)
			r.State, r.Deleted = "deleted", t.now
			return nil
		}
		if e := mut[*eniRec](st, r.ENIID); e != nil {
			t.deleteENI(st, e)
		}
		r = mut[*natRec](st, r.ID)
		r.State, r.Deleted = "deleted", t.now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.DeleteNatGatewayResult{NatGatewayId: in.NatGatewayId}, nil
}

var natFilters = filterSet[*natRec]{
	fields: map[string]func(*natRec) []string{
		"nat-gateway-id": func(r *natRec) []string { return one(r.ID) },
		"state":          func(r *natRec) []string { return one(r.State) },
		"subnet-id":      func(r *natRec) []string { return one(r.SubnetID) },
		"vpc-id":         func(r *natRec) []string { return one(r.VpcID) },
	},
	tags: func(r *natRec) map[string]string { return r.Tags },
}

// DescribeNatGateways implements ec2api.Operations.
func (s *Service) DescribeNatGateways(ctx context.Context, in *ec2api.DescribeNatGatewaysRequest) (*ec2api.DescribeNatGatewaysResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeNatGatewaysResult{NatGateways: []ec2api.NatGateway{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		all := slices.DeleteFunc(listT[*natRec](st, "nat"), func(r *natRec) bool {
			return (r.State == "deleted" || r.State == "failed") && t.now.Sub(r.Deleted) > terminatedTTL
		})
		for _, id := range in.NatGatewayIds {
			if !slices.ContainsFunc(all, func(r *natRec) bool { return r.ID == id }) {
				return notFound("nat", id)
			}
		}
		items, _ := selectIDs(all, in.NatGatewayIds)
		items, err := filterItems(natFilters, in.Filter, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*natRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			out.NatGateways = append(out.NatGateways, natOut(r, r.State))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
