package ec2

import (
	"context"
	"net/netip"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// ---- Internet gateways ----

func igwOut(g *igwRec) ec2api.InternetGateway {
	out := ec2api.InternetGateway{InternetGatewayId: ptr(g.ID), OwnerId: ptr(g.Owner), Tags: tagList(g.Tags), Attachments: []ec2api.InternetGatewayAttachment{}}
	if g.VpcID != "" {
		out.Attachments = append(out.Attachments, ec2api.InternetGatewayAttachment{State: ptr("available"), VpcId: ptr(g.VpcID)})
	}
	return out
}

var igwFilters = filterSet[*igwRec]{
	fields: map[string]func(*igwRec) []string{
		"attachment.state":    func(g *igwRec) []string { return one(map[bool]string{true: "available"}[g.VpcID != ""]) },
		"attachment.vpc-id":   func(g *igwRec) []string { return one(g.VpcID) },
		"internet-gateway-id": func(g *igwRec) []string { return one(g.ID) },
		"owner-id":            func(g *igwRec) []string { return one(g.Owner) },
	},
	tags: func(g *igwRec) map[string]string { return g.Tags },
}

// CreateInternetGateway implements ec2api.Operations.
func (s *Service) CreateInternetGateway(ctx context.Context, in *ec2api.CreateInternetGatewayRequest) (*ec2api.CreateInternetGatewayResult, error) {
	tags, err := tagsFor(in.TagSpecifications, "internet-gateway")
	if err != nil {
		return nil, err
	}
	var out ec2api.InternetGateway
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if len(st.list("igw")) >= s.cfg.MaxInternetGateways {
			return errInternetGatewayLimitExceeded()
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		g := &igwRec{ID: newID("igw-"), Owner: st.sc.Account}
		g.Tags = tags
		st.put(g)
		out = igwOut(g)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateInternetGatewayResult{InternetGateway: &out}, nil
}

// AttachInternetGateway implements ec2api.Operations.
func (s *Service) AttachInternetGateway(ctx context.Context, in *ec2api.AttachInternetGatewayRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		g, err := lookup[*igwRec](st, "igw", str(in.InternetGatewayId))
		if err != nil {
			return err
		}
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		if g.VpcID != "" {
			return errResourceAlreadyAssociated("resource %s is already attached to network %s", g.ID, g.VpcID)
		}
		for _, o := range listT[*igwRec](st, "igw") {
			if o.VpcID == v.ID {
				return errResourceAlreadyAssociated("Network %s already has an internet gateway attached", v.ID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		mut[*igwRec](st, g.ID).VpcID = v.ID
		return nil
	})
}

// DetachInternetGateway implements ec2api.Operations.
func (s *Service) DetachInternetGateway(ctx context.Context, in *ec2api.DetachInternetGatewayRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		g, err := lookup[*igwRec](st, "igw", str(in.InternetGatewayId))
		if err != nil {
			return err
		}
		if _, err := lookup[*vpcRec](st, "vpc", str(in.VpcId)); err != nil {
			return err
		}
		if g.VpcID != str(in.VpcId) {
			return errGatewayNotAttached("resource %s is not attached to network %s", g.ID, str(in.VpcId))
		}
		for _, e := range listT[*eniRec](st, "eni") {
			if e.VpcID == g.VpcID && (e.AllocationID != "" || e.PublicIP != "") {
				return errDependencyViolation("Network %s has some mapped public address(es). Please unmap those public address(es) before detaching the gateway.", g.VpcID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		mut[*igwRec](st, g.ID).VpcID = ""
		return nil
	})
}

// DeleteInternetGateway implements ec2api.Operations.
func (s *Service) DeleteInternetGateway(ctx context.Context, in *ec2api.DeleteInternetGatewayRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		g, err := lookup[*igwRec](st, "igw", str(in.InternetGatewayId))
		if err != nil {
			return err
		}
		if g.VpcID != "" {
			return errDependencyViolation("The internetGateway '%s' has dependencies and cannot be deleted.", g.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(g.ID)
		return nil
	})
}

// DescribeInternetGateways implements ec2api.Operations.
func (s *Service) DescribeInternetGateways(ctx context.Context, in *ec2api.DescribeInternetGatewaysRequest) (*ec2api.DescribeInternetGatewaysResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeInternetGatewaysResult{InternetGateways: []ec2api.InternetGateway{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		items, missing := selectIDs(listT[*igwRec](st, "igw"), in.InternetGatewayIds)
		if missing != "" {
			return notFound("igw", missing)
		}
		items, err := filterItems(igwFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*igwRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, g := range page {
			out.InternetGateways = append(out.InternetGateways, igwOut(g))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

// ---- Route tables ----

// routeState is "active" while the target exists and works, else "blackhole".
func routeState(st *scopeTx, vpc string, r routeRec) string {
	switch {
	case r.Gateway == "local":
		return "active"
	case r.Gateway != "":
		if g, ok := getT[*igwRec](st, r.Gateway); ok && g.VpcID == vpc {
			return "active"
		}
	case r.PeeringID != "":
		if p, ok := getT[*pcxRec](st, r.PeeringID); ok && p.Status == "active" {
			return "active"
		}
	case r.InstanceID != "":
		if i, ok := getT[*instanceRec](st, r.InstanceID); ok && i.State == "running" {
			return "active"
		}
	case r.ENIID != "":
		if _, ok := getT[*eniRec](st, r.ENIID); ok {
			return "active"
		}
	case r.NatID != "":
		if g, ok := getT[*natRec](st, r.NatID); ok && g.State == "available" {
			return "active"
		}
	}
	return "blackhole"
}

func rtbOut(st *scopeTx, r *rtbRec) ec2api.RouteTable {
	out := ec2api.RouteTable{RouteTableId: ptr(r.ID), OwnerId: ptr(r.Owner), VpcId: ptr(r.VpcID), Tags: tagList(r.Tags),
		Routes: []ec2api.Route{}, Associations: []ec2api.RouteTableAssociation{}, PropagatingVgws: []ec2api.PropagatingVgw{}}
	for _, rt := range r.Routes {
		o := ec2api.Route{DestinationCidrBlock: ptr(rt.Dest), Origin: ptr(rt.Origin), State: ptr(routeState(st, r.VpcID, rt))}
		if isIPv6Dest(rt.Dest) {
			o.DestinationCidrBlock, o.DestinationIpv6CidrBlock = nil, ptr(rt.Dest)
		}
		switch {
		case rt.Gateway != "":
			o.GatewayId = ptr(rt.Gateway)
		case rt.PeeringID != "":
			o.VpcPeeringConnectionId = ptr(rt.PeeringID)
		case rt.InstanceID != "":
			o.InstanceId, o.InstanceOwnerId = ptr(rt.InstanceID), ptr(r.Owner)
			if i, ok := getT[*instanceRec](st, rt.InstanceID); ok {
				o.NetworkInterfaceId = ptr(i.PrimaryENI)
			}
		case rt.ENIID != "":
			o.NetworkInterfaceId = ptr(rt.ENIID)
		case rt.NatID != "":
			o.NatGatewayId = ptr(rt.NatID)
		}
		out.Routes = append(out.Routes, o)
	}
	for _, e := range endpointRoutes(st, r) {
		out.Routes = append(out.Routes, ec2api.Route{DestinationPrefixListId: ptr(e.pl), GatewayId: ptr(e.vpce), Origin: ptr("CreateRoute"), State: ptr("active")})
	}
	assocState := &ec2api.RouteTableAssociationState{State: ptr("associated")}
	if r.Main {
		out.Associations = append(out.Associations, ec2api.RouteTableAssociation{Main: ptr(true), RouteTableAssociationId: ptr(r.MainID),
			RouteTableId: ptr(r.ID), AssociationState: assocState})
	}
	for _, a := range r.Assocs {
		out.Associations = append(out.Associations, ec2api.RouteTableAssociation{Main: ptr(false), RouteTableAssociationId: ptr(a.ID),
			RouteTableId: ptr(r.ID), SubnetId: ptr(a.SubnetID), AssociationState: assocState})
	}
	return out
}

type rtbView struct {
	*rtbRec
	st *scopeTx
}

func (v rtbView) id() string { return v.ID }

func (v rtbView) routes(f func(routeRec) string) []string {
	var out []string
	for _, r := range v.Routes {
		if s := f(r); s != "" {
			out = append(out, s)
		}
	}
	return out
}

var rtbFilters = filterSet[rtbView]{
	fields: map[string]func(rtbView) []string{
		"route-table-id": func(v rtbView) []string { return one(v.ID) },
		"vpc-id":         func(v rtbView) []string { return one(v.VpcID) },
		"owner-id":       func(v rtbView) []string { return one(v.Owner) },
		"association.route-table-association-id": func(v rtbView) []string {
			out := []string{}
			if v.Main {
				out = append(out, v.MainID)
			}
			for _, a := range v.Assocs {
				out = append(out, a.ID)
			}
			return out
		},
		"association.route-table-id": func(v rtbView) []string { return one(v.ID) },
		"association.subnet-id": func(v rtbView) []string {
			var out []string
			for _, a := range v.Assocs {
				out = append(out, a.SubnetID)
			}
			return out
		},
		"association.main": func(v rtbView) []string { return boolStr(v.Main) },
		"route.destination-cidr-block": func(v rtbView) []string {
			return v.routes(func(r routeRec) string { return map[bool]string{false: r.Dest}[isIPv6Dest(r.Dest)] })
		},
		"route.gateway-id": func(v rtbView) []string {
			out := v.routes(func(r routeRec) string { return r.Gateway })
			for _, e := range endpointRoutes(v.st, v.rtbRec) {
				out = append(out, e.vpce)
			}
			return out
		},
		"route.destination-prefix-list-id": func(v rtbView) []string {
			var out []string
			for _, e := range endpointRoutes(v.st, v.rtbRec) {
				out = append(out, e.pl)
			}
			return out
		},
		"route.vpc-peering-connection-id": func(v rtbView) []string { return v.routes(func(r routeRec) string { return r.PeeringID }) },
		"route.instance-id":               func(v rtbView) []string { return v.routes(func(r routeRec) string { return r.InstanceID }) },
		"route.nat-gateway-id":            func(v rtbView) []string { return v.routes(func(r routeRec) string { return r.NatID }) },
		"route.origin":                    func(v rtbView) []string { return v.routes(func(r routeRec) string { return r.Origin }) },
		"route.state": func(v rtbView) []string {
			return v.routes(func(r routeRec) string { return routeState(v.st, v.VpcID, r) })
		},
		"route.destination-ipv6-cidr-block": func(v rtbView) []string {
			return v.routes(func(r routeRec) string { return map[bool]string{true: r.Dest}[isIPv6Dest(r.Dest)] })
		},
	},
	tags: func(v rtbView) map[string]string { return v.Tags },
}

// CreateRouteTable implements ec2api.Operations.
func (s *Service) CreateRouteTable(ctx context.Context, in *ec2api.CreateRouteTableRequest) (*ec2api.CreateRouteTableResult, error) {
	tags, err := tagsFor(in.TagSpecifications, "route-table")
	if err != nil {
		return nil, err
	}
	var out ec2api.RouteTable
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", str(in.VpcId))
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r := &rtbRec{ID: newID("rtb-"), Owner: st.sc.Account, VpcID: v.ID}
		for _, c := range v.cidrStrings() {
			r.Routes = append(r.Routes, routeRec{Dest: c, Gateway: "local", Origin: "CreateRouteTable"})
		}
		for _, c := range v.IPv6 {
			r.Routes = append(r.Routes, routeRec{Dest: c.CIDR, Gateway: "local", Origin: "CreateRouteTable"})
		}
		r.Tags = tags
		st.put(r)
		out = rtbOut(st, r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateRouteTableResult{RouteTable: &out, ClientToken: in.ClientToken}, nil
}

// DeleteRouteTable implements ec2api.Operations.
func (s *Service) DeleteRouteTable(ctx context.Context, in *ec2api.DeleteRouteTableRequest) error {
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		if r.Main || len(r.Assocs) > 0 {
			return errDependencyViolation("The routeTable '%s' has dependencies and cannot be deleted.", r.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.del(r.ID)
		return nil
	})
}

// DescribeRouteTables implements ec2api.Operations.
func (s *Service) DescribeRouteTables(ctx context.Context, in *ec2api.DescribeRouteTablesRequest) (*ec2api.DescribeRouteTablesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	out := &ec2api.DescribeRouteTablesResult{RouteTables: []ec2api.RouteTable{}}
	err := s.view(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		recs, missing := selectIDs(listT[*rtbRec](st, "rtb"), in.RouteTableIds)
		if missing != "" {
			return notFound("rtb", missing)
		}
		items := make([]rtbView, len(recs))
		for i, r := range recs {
			items[i] = rtbView{r, st}
		}
		items, err := filterItems(rtbFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, rtbView.id, in.MaxResults, in.NextToken, 5, 100)
		if err != nil {
			return err
		}
		for _, v := range page {
			out.RouteTables = append(out.RouteTables, rtbOut(st, v.rtbRec))
		}
		out.NextToken = next
		return nil
	})
	return out, err
}

type routeTarget struct {
	gateway, peering, instance, eni *string
	others                          []*string
}

// resolveTarget validates a route's single target for a table of vpc.
func resolveTarget(st *scopeTx, vpc string, tg routeTarget) (routeRec, error) {
	n := 0
	for _, p := range append([]*string{tg.gateway, tg.peering, tg.instance, tg.eni}, tg.others...) {
		if p != nil {
			n++
		}
	}
	for k, p := range tg.others {
		if p != nil && k != 0 { // others[0] is NatGatewayId
			return routeRec{}, awserr.InvalidParameterValue("Cachalot routes target internet gateways, NAT gateways, peering connections, instances and network interfaces only.")
		}
	}
	if n != 1 {
		return routeRec{}, awserr.InvalidParameterCombination("Exactly one of gatewayId, vpcPeeringConnectionId, instanceId or networkInterfaceId must be specified.")
	}
	var r routeRec
	switch {
	case tg.gateway != nil:
		g, err := lookup[*igwRec](st, "igw", *tg.gateway)
		if err != nil {
			if *tg.gateway == "local" {
				return routeRec{}, awserr.InvalidParameterValue("The local route cannot be created or replaced with a gateway.")
			}
			return routeRec{}, errInvalidGatewayIDNotFound(*tg.gateway)
		}
		if g.VpcID != vpc {
			return routeRec{}, awserr.InvalidParameterValue("route table and network gateway %s belong to different networks", g.ID)
		}
		r.Gateway = g.ID
	case tg.peering != nil:
		p, err := lookup[*pcxRec](st, "pcx", *tg.peering)
		if err != nil {
			return routeRec{}, err
		}
		if p.RequesterVpc != vpc && p.AccepterVpc != vpc {
			return routeRec{}, awserr.InvalidParameterValue("route table and peering connection %s belong to different networks", p.ID)
		}
		if p.Status != "active" && p.Status != "pending-acceptance" {
			return routeRec{}, errInvalidVpcPeeringConnectionIDNotFound(p.ID)
		}
		r.PeeringID = p.ID
	case tg.instance != nil:
		i, err := lookup[*instanceRec](st, "instance", *tg.instance)
		if err != nil {
			return routeRec{}, err
		}
		if i.VpcID != vpc || i.State == "terminated" {
			return routeRec{}, awserr.InvalidParameterValue("route table and instance %s belong to different networks", i.ID)
		}
		r.InstanceID = i.ID
	case tg.eni != nil:
		e, err := lookup[*eniRec](st, "eni", *tg.eni)
		if err != nil {
			return routeRec{}, err
		}
		if e.VpcID != vpc {
			return routeRec{}, awserr.InvalidParameterValue("route table and network interface %s belong to different networks", e.ID)
		}
		r.ENIID = e.ID
	case len(tg.others) > 0 && tg.others[0] != nil:
		g, err := lookup[*natRec](st, "nat", *tg.others[0])
		if err != nil {
			return routeRec{}, err
		}
		if g.State != "available" {
			return routeRec{}, errNatGatewayNotFound(g.ID)
		}
		if g.VpcID != vpc {
			return routeRec{}, awserr.InvalidParameterValue("route table and NAT gateway %s belong to different networks", g.ID)
		}
		r.NatID = g.ID
	}
	return r, nil
}

func routeDest(cidr *string, v6, pl *string) (string, error) {
	if v6 != nil || pl != nil {
		return "", awserr.InvalidParameterValue("Cachalot routes have IPv4 destinations only.")
	}
	if cidr == nil {
		return "", awserr.MissingParameter("DestinationCidrBlock")
	}
	p, err := netip.ParsePrefix(*cidr)
	if err != nil || !p.Addr().Is4() || p.Masked() != p {
		return "", awserr.InvalidParameterValue("Value (%s) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block.", *cidr)
	}
	return p.String(), nil
}

// CreateRoute implements ec2api.Operations.
func (s *Service) CreateRoute(ctx context.Context, in *ec2api.CreateRouteRequest) (*ec2api.CreateRouteResult, error) {
	dest, err := routeDest(in.DestinationCidrBlock, in.DestinationIpv6CidrBlock, in.DestinationPrefixListId)
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		nr, err := resolveTarget(st, r.VpcID, routeTarget{in.GatewayId, in.VpcPeeringConnectionId, in.InstanceId, in.NetworkInterfaceId,
			[]*string{in.NatGatewayId, in.TransitGatewayId, in.EgressOnlyInternetGatewayId, in.LocalGatewayId, in.CarrierGatewayId, in.VpcEndpointId, in.CoreNetworkArn, in.OdbNetworkArn}})
		if err != nil {
			return err
		}
		if slices.ContainsFunc(r.Routes, func(o routeRec) bool { return o.Dest == dest }) {
			return errRouteAlreadyExists(dest)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		nr.Dest, nr.Origin = dest, "CreateRoute"
		r = mut[*rtbRec](st, r.ID)
		r.Routes = append(r.Routes, nr)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.CreateRouteResult{Return: ptr(true)}, nil
}

// ReplaceRoute implements ec2api.Operations.
func (s *Service) ReplaceRoute(ctx context.Context, in *ec2api.ReplaceRouteRequest) error {
	dest, err := routeDest(in.DestinationCidrBlock, in.DestinationIpv6CidrBlock, in.DestinationPrefixListId)
	if err != nil {
		return err
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		i := slices.IndexFunc(r.Routes, func(o routeRec) bool { return o.Dest == dest })
		if i < 0 {
			return awserr.InvalidParameterValue("There is no route defined for '%s' in the route table. Use CreateRoute instead.", dest)
		}
		if r.Routes[i].Gateway == "local" {
			return awserr.InvalidParameterValue("The local route cannot be replaced.")
		}
		nr, err := resolveTarget(st, r.VpcID, routeTarget{in.GatewayId, in.VpcPeeringConnectionId, in.InstanceId, in.NetworkInterfaceId,
			[]*string{in.NatGatewayId, in.TransitGatewayId, in.EgressOnlyInternetGatewayId, in.LocalGatewayId, in.CarrierGatewayId, in.VpcEndpointId, in.CoreNetworkArn, in.OdbNetworkArn}})
		if err != nil {
			return err
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		nr.Dest, nr.Origin = dest, "CreateRoute"
		r = mut[*rtbRec](st, r.ID)
		r.Routes[i] = nr
		return nil
	})
}

// DeleteRoute implements ec2api.Operations.
func (s *Service) DeleteRoute(ctx context.Context, in *ec2api.DeleteRouteRequest) error {
	dest, err := routeDest(in.DestinationCidrBlock, in.DestinationIpv6CidrBlock, in.DestinationPrefixListId)
	if err != nil {
		return err
	}
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		i := slices.IndexFunc(r.Routes, func(o routeRec) bool { return o.Dest == dest })
		if i < 0 {
			return errInvalidRouteNotFound(dest, r.ID)
		}
		if r.Routes[i].Gateway == "local" {
			return awserr.InvalidParameterValue("cannot remove local route %s in route table %s", dest, r.ID)
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r = mut[*rtbRec](st, r.ID)
		r.Routes = slices.Delete(r.Routes, i, i+1)
		return nil
	})
}

// AssociateRouteTable implements ec2api.Operations.
func (s *Service) AssociateRouteTable(ctx context.Context, in *ec2api.AssociateRouteTableRequest) (*ec2api.AssociateRouteTableResult, error) {
	if in.GatewayId != nil || in.PublicIpv4Pool != nil {
		return nil, awserr.InvalidParameterValue("Cachalot associates route tables with subnets only.")
	}
	out := &ec2api.AssociateRouteTableResult{AssociationState: &ec2api.RouteTableAssociationState{State: ptr("associated")}}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		if in.SubnetId == nil {
			return awserr.MissingParameter("SubnetId")
		}
		sn, err := lookup[*subnetRec](st, "subnet", *in.SubnetId)
		if err != nil {
			return err
		}
		if sn.VpcID != r.VpcID {
			return awserr.InvalidParameterValue("Route table %s and subnet %s belong to different networks", r.ID, sn.ID)
		}
		for _, o := range listT[*rtbRec](st, "rtb") {
			if slices.ContainsFunc(o.Assocs, func(a rtbAssocR) bool { return a.SubnetID == sn.ID }) {
				return errResourceAlreadyAssociated("the specified association for route table %s conflicts with an existing association", r.ID)
			}
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		r = mut[*rtbRec](st, r.ID)
		a := rtbAssocR{ID: newID("rtbassoc-"), SubnetID: sn.ID}
		r.Assocs = append(r.Assocs, a)
		out.AssociationId = ptr(a.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DisassociateRouteTable implements ec2api.Operations.
func (s *Service) DisassociateRouteTable(ctx context.Context, in *ec2api.DisassociateRouteTableRequest) error {
	id := str(in.AssociationId)
	return s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		for _, r := range listT[*rtbRec](st, "rtb") {
			if r.Main && r.MainID == id {
				return awserr.InvalidParameterValue("cannot disassociate the main route table association %s", id)
			}
			if slices.ContainsFunc(r.Assocs, func(a rtbAssocR) bool { return a.ID == id }) {
				if err := dryRun(in.DryRun); err != nil {
					return err
				}
				r = mut[*rtbRec](st, r.ID)
				r.Assocs = slices.DeleteFunc(r.Assocs, func(a rtbAssocR) bool { return a.ID == id })
				return nil
			}
		}
		return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
	})
}

// ReplaceRouteTableAssociation implements ec2api.Operations: it moves a
// subnet association, or the main association, to another table of the VPC.
func (s *Service) ReplaceRouteTableAssociation(ctx context.Context, in *ec2api.ReplaceRouteTableAssociationRequest) (*ec2api.ReplaceRouteTableAssociationResult, error) {
	id := str(in.AssociationId)
	out := &ec2api.ReplaceRouteTableAssociationResult{AssociationState: &ec2api.RouteTableAssociationState{State: ptr("associated")}}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		to, err := lookup[*rtbRec](st, "rtb", str(in.RouteTableId))
		if err != nil {
			return err
		}
		for _, r := range listT[*rtbRec](st, "rtb") {
			isMain := r.Main && r.MainID == id
			i := slices.IndexFunc(r.Assocs, func(a rtbAssocR) bool { return a.ID == id })
			if !isMain && i < 0 {
				continue
			}
			if r.VpcID != to.VpcID {
				return awserr.InvalidParameterValue("Route table %s and association %s belong to different networks", to.ID, id)
			}
			if err := dryRun(in.DryRun); err != nil {
				return err
			}
			newID := newID("rtbassoc-")
			out.NewAssociationId = ptr(newID)
			if r.ID == to.ID { // same table: only the association id changes
				r = mut[*rtbRec](st, r.ID)
				if isMain {
					r.MainID = newID
				} else {
					r.Assocs[i].ID = newID
				}
				return nil
			}
			from := mut[*rtbRec](st, r.ID)
			dst := mut[*rtbRec](st, to.ID)
			if isMain {
				from.Main, from.MainID = false, ""
				dst.Main, dst.MainID = true, newID
				return nil
			}
			subnet := from.Assocs[i].SubnetID
			from.Assocs = slices.Delete(from.Assocs, i, i+1)
			dst.Assocs = append(dst.Assocs, rtbAssocR{ID: newID, SubnetID: subnet})
			return nil
		}
		return errInvalidAssociationIDNotFound("The association ID '%s' does not exist", id)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
