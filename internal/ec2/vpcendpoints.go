package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// VPC endpoints, as records: gateway endpoints with their route tables,
// interface endpoints with their subnets (one per zone) and security
// groups, the policy, private DNS and DNS entries AWS shows. The network
// plane does not realise them: an interface endpoint has no network
// interface (NetworkInterfaceIds is empty). A gateway endpoint shows in
// each of its route tables the route AWS adds, from the service's
// AWS-managed prefix list to the endpoint (endpointRoutes; a record: the
// network plane routes nothing to it). DescribeVpcEndpointServices lists the
// AWS services tools look up (vpcServices).

// vpceRec is a VPC endpoint.
type vpceRec struct {
	tagged
	ID          string    `json:"id"`
	Owner       string    `json:"owner"`
	VpcID       string    `json:"vpcId"`
	Type        string    `json:"type"` // Gateway, Interface
	Service     string    `json:"service"`
	Policy      string    `json:"policy,omitempty"`
	PrivateDNS  bool      `json:"privateDns,omitempty"`
	RouteTables []string  `json:"routeTables,omitempty"`
	Subnets     []string  `json:"subnets,omitempty"`
	Groups      []string  `json:"groups,omitempty"`
	ClientToken string    `json:"clientToken,omitempty"`
	Created     time.Time `json:"created"`
}

func (r *vpceRec) id() string { return r.ID }

// vpcService is an AWS service endpoints may reach.
type vpcService struct {
	name  string // after com.amazonaws.<region>.
	types []string
}

// vpcServices are the services of every region: those caches' neighbours
// and infrastructure modules ask for.
var vpcServices = []vpcService{
	{"dynamodb", []string{"Gateway", "Interface"}},
	{"ec2", []string{"Interface"}},
	{"ec2messages", []string{"Interface"}},
	{"ecr.api", []string{"Interface"}},
	{"ecr.dkr", []string{"Interface"}},
	{"elasticache", []string{"Interface"}},
	{"elasticache-fips", []string{"Interface"}},
	{"kms", []string{"Interface"}},
	{"logs", []string{"Interface"}},
	{"monitoring", []string{"Interface"}},
	{"s3", []string{"Gateway", "Interface"}},
	{"secretsmanager", []string{"Interface"}},
	{"sns", []string{"Interface"}},
	{"sqs", []string{"Interface"}},
	{"ssm", []string{"Interface"}},
	{"ssmmessages", []string{"Interface"}},
	{"sts", []string{"Interface"}},
}

// serviceView is one service of one type, as DescribeVpcEndpointServices
// lists it (a service with two types is listed once per type, as on AWS).
type serviceView struct {
	name, typ, region string
}

func (v serviceView) id() string { return v.name + "/" + v.typ }

func servicesOf(region string) []serviceView {
	var out []serviceView
	for _, s := range vpcServices {
		for _, t := range s.types {
			out = append(out, serviceView{"com.amazonaws." + region + "." + s.name, t, region})
		}
	}
	slices.SortFunc(out, func(a, b serviceView) int { return strings.Compare(a.id(), b.id()) }) // paginate's order
	return out
}

// findService returns the service named name of type typ in region.
func findService(region, name, typ string) (serviceView, error) {
	found := false
	for _, v := range servicesOf(region) {
		if v.name == name {
			found = true
			if v.typ == typ {
				return v, nil
			}
		}
	}
	if found {
		return serviceView{}, awserr.InvalidParameterValue("The Vpc Endpoint Service '%s' does not support the endpoint type %s.", name, typ)
	}
	return serviceView{}, errInvalidServiceName(name)
}

// short is the service's name after com.amazonaws.<region>.
func (v serviceView) short() string { return strings.TrimPrefix(v.name, "com.amazonaws."+v.region+".") }

func (v serviceView) detail(zones []string) ec2api.ServiceDetail {
	h := sha256.Sum256([]byte(v.id()))
	d := ec2api.ServiceDetail{ServiceName: ptr(v.name), ServiceId: ptr("vpce-svc-" + hex.EncodeToString(h[:])[:17]),
		ServiceType: []ec2api.ServiceTypeDetail{{ServiceType: ptr(v.typ)}}, ServiceRegion: ptr(v.region), Owner: ptr("amazon"),
		AvailabilityZones: zones, BaseEndpointDnsNames: []string{v.short() + "." + v.region + ".amazonaws.com"},
		AcceptanceRequired: ptr(false), ManagesVpcEndpoints: ptr(false), VpcEndpointPolicySupported: ptr(true),
		SupportedIpAddressTypes: []string{"ipv4"}}
	for _, z := range zones {
		d.AvailabilityZoneIds = append(d.AvailabilityZoneIds, zoneID(z))
	}
	if v.typ == "Interface" {
		d.BaseEndpointDnsNames = []string{v.short() + "." + v.region + ".vpce.amazonaws.com"}
		d.PrivateDnsName = ptr(v.short() + "." + v.region + ".amazonaws.com")
		d.PrivateDnsNameVerificationState = ptr("verified")
		d.PrivateDnsNames = []ec2api.PrivateDnsDetails{{PrivateDnsName: d.PrivateDnsName}}
	}
	return d
}

var serviceFilters = filterSet[serviceView]{
	fields: map[string]func(serviceView) []string{
		"service-name":               func(v serviceView) []string { return one(v.name) },
		"service-type":               func(v serviceView) []string { return one(v.typ) },
		"service-region":             func(v serviceView) []string { return one(v.region) },
		"supported-ip-address-types": func(v serviceView) []string { return one("ipv4") },
		"owner":                      func(v serviceView) []string { return one("amazon") },
	},
	tags: func(serviceView) map[string]string { return nil },
}

// DescribeVpcEndpointServices implements ec2api.Operations.
func (s *Service) DescribeVpcEndpointServices(ctx context.Context, in *ec2api.DescribeVpcEndpointServicesRequest) (*ec2api.DescribeVpcEndpointServicesResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	if err := validScope(sc); err != nil {
		return nil, err
	}
	for _, r := range in.ServiceRegions {
		if r != sc.Region {
			return nil, errUnsupportedOperation("Cross-region endpoint services are not supported by Cachalot: %s.", r)
		}
	}
	items := servicesOf(sc.Region)
	for _, n := range in.ServiceNames {
		if !slices.ContainsFunc(items, func(v serviceView) bool { return v.name == n }) {
			return nil, errInvalidServiceName(n)
		}
	}
	if len(in.ServiceNames) > 0 {
		items = slices.DeleteFunc(items, func(v serviceView) bool { return !slices.Contains(in.ServiceNames, v.name) })
	}
	items, err := filterItems(serviceFilters, in.Filters, items)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate(items, serviceView.id, in.MaxResults, in.NextToken, 5, 1000)
	if err != nil {
		return nil, err
	}
	out := &ec2api.DescribeVpcEndpointServicesResult{ServiceDetails: []ec2api.ServiceDetail{}, ServiceNames: []string{}, NextToken: next}
	for _, v := range page {
		out.ServiceDetails = append(out.ServiceDetails, v.detail(zones(sc.Region)))
		if !slices.Contains(out.ServiceNames, v.name) {
			out.ServiceNames = append(out.ServiceNames, v.name)
		}
	}
	return out, nil
}

// fullAccessPolicy is the policy of an endpoint created without one.
const fullAccessPolicy = `{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`

func validPolicy(doc string) error {
	var v map[string]any
	if len(doc) > 20480 || json.Unmarshal([]byte(doc), &v) != nil {
		return awserr.InvalidParameterValue("The policy document is not valid JSON.")
	}
	return nil
}

// hostedZone is the hosted zone id of the endpoint DNS names of a region
// (AWS's for us-east-1).
func hostedZone(region string) string {
	if region == "us-east-1" {
		return "Z7HUB22UULQXV"
	}
	h := sha256.Sum256([]byte(region))
	return "Z" + strings.ToUpper(hex.EncodeToString(h[:]))[:13]
}

func vpceOut(sc scope, st *scopeTx, r *vpceRec) ec2api.VpcEndpoint {
	out := ec2api.VpcEndpoint{CreationTimestamp: ptr(r.Created), OwnerId: ptr(r.Owner), PolicyDocument: ptr(r.Policy),
		PrivateDnsEnabled: ptr(r.PrivateDNS), RequesterManaged: ptr(false), ServiceName: ptr(r.Service), ServiceRegion: ptr(sc.Region),
		State: ptr("available"), Tags: tagList(r.Tags), VpcEndpointId: ptr(r.ID), VpcEndpointType: ptr(r.Type), VpcId: ptr(r.VpcID),
		RouteTableIds: slices.Clone(r.RouteTables), SubnetIds: slices.Clone(r.Subnets), NetworkInterfaceIds: []string{},
		Groups: []ec2api.SecurityGroupIdentifier{}, DnsEntries: []ec2api.DnsEntry{}}
	if r.Type == "Interface" {
		out.IpAddressType = ptr("ipv4")
		out.DnsOptions = &ec2api.DnsOptions{DnsRecordIpType: ptr("ipv4")}
		for _, g := range r.Groups {
			gi := ec2api.SecurityGroupIdentifier{GroupId: ptr(g)}
			if gr, ok := getT[*groupRec](st, g); ok {
				gi.GroupName = ptr(gr.Name)
			}
			out.Groups = append(out.Groups, gi)
		}
		short := strings.TrimPrefix(r.Service, "com.amazonaws."+sc.Region+".")
		zone := hostedZone(sc.Region)
		base := r.ID + "-" + r.ID[len("vpce-"):len("vpce-")+8] + "." + short + "." + sc.Region + ".vpce.amazonaws.com"
		out.DnsEntries = append(out.DnsEntries, ec2api.DnsEntry{DnsName: ptr(base), HostedZoneId: ptr(zone)})
		for _, sid := range r.Subnets {
			if sn, ok := getT[*subnetRec](st, sid); ok {
				n := r.ID + "-" + r.ID[len("vpce-"):len("vpce-")+8] + "-" + sn.AZ + "." + short + "." + sc.Region + ".vpce.amazonaws.com"
				out.DnsEntries = append(out.DnsEntries, ec2api.DnsEntry{DnsName: ptr(n), HostedZoneId: ptr(zone)})
			}
		}
		if r.PrivateDNS {
			out.DnsEntries = append(out.DnsEntries, ec2api.DnsEntry{DnsName: ptr(short + "." + sc.Region + ".amazonaws.com"), HostedZoneId: ptr("ZONEIDPENDING")})
		}
	}
	return out
}

// endpointRouteTables checks route tables of a gateway endpoint's VPC.
func endpointRouteTables(st *scopeTx, vpc string, ids []string) error {
	for _, id := range ids {
		r, err := lookup[*rtbRec](st, "rtb", id)
		if err != nil {
			return err
		}
		if r.VpcID != vpc {
			return awserr.InvalidParameterValue("The route table %s is not in the VPC %s.", id, vpc)
		}
	}
	return nil
}

// endpointSubnets checks the subnets of an interface endpoint: in its VPC,
// at most one per zone.
func endpointSubnets(st *scopeTx, vpc string, ids []string) error {
	zones := map[string]string{}
	for _, id := range ids {
		sn, err := lookup[*subnetRec](st, "subnet", id)
		if err != nil {
			return err
		}
		if sn.VpcID != vpc {
			return awserr.InvalidParameterValue("The subnet %s is not in the VPC %s.", id, vpc)
		}
		if o, ok := zones[sn.AZ]; ok && o != id {
			return errDuplicateSubnetsInSameZone(id)
		}
		zones[sn.AZ] = id
	}
	return nil
}

func addUnique(l []string, ids []string) []string {
	for _, id := range ids {
		if !slices.Contains(l, id) {
			l = append(l, id)
		}
	}
	return l
}

// endpointRefusals answers UnsupportedOperation for what Cachalot's
// endpoints do not have: IPv6 and DNS options other than IPv4.
func endpointRefusals(ipType *string, dns *ec2api.DnsOptionsSpecification) error {
	if t := str(ipType); t != "" && t != "ipv4" {
		if t != "dualstack" && t != "ipv6" {
			return awserr.InvalidParameterValue("Value (%s) for parameter IpAddressType is invalid. Valid values are ipv4, dualstack, ipv6.", t)
		}
		return errUnsupportedOperation("The parameter IpAddressType %s is not supported: %s", t, noIPv6)
	}
	if dns != nil {
		if t := str(dns.DnsRecordIpType); t != "" && t != "ipv4" {
			return errUnsupportedOperation("The parameter DnsOptions.DnsRecordIpType %s is not supported: %s", t, noIPv6)
		}
		if dns.PrivateDnsOnlyForInboundResolverEndpoint != nil || dns.PrivateDnsPreference != nil || len(dns.PrivateDnsSpecifiedDomains) > 0 {
			return errUnsupportedOperation("The DnsOptions other than DnsRecordIpType are not supported by Cachalot (Route 53 Resolver endpoints).")
		}
	}
	return nil
}

// CreateVpcEndpoint implements ec2api.Operations for Gateway and
// Interface endpoints of AWS services.
func (s *Service) CreateVpcEndpoint(ctx context.Context, in *ec2api.CreateVpcEndpointRequest) (*ec2api.CreateVpcEndpointResult, error) {
	if err := refuseParams("CreateVpcEndpoint", in); err != nil {
		return nil, err
	}
	if in.VpcId == nil {
		return nil, awserr.MissingParameter("VpcId")
	}
	if in.ServiceName == nil {
		return nil, awserr.MissingParameter("ServiceName")
	}
	typ := cmpOr(str(in.VpcEndpointType), "Gateway")
	switch typ {
	case "Gateway", "Interface":
	case "GatewayLoadBalancer", "Resource", "ServiceNetwork":
		return nil, errUnsupportedOperation("The VpcEndpointType %s is not supported by Cachalot.", typ)
	default:
		return nil, awserr.InvalidParameterValue("Value (%s) for parameter VpcEndpointType is invalid. Valid values are Interface, Gateway, GatewayLoadBalancer, Resource, ServiceNetwork.", typ)
	}
	if err := endpointRefusals(in.IpAddressType, in.DnsOptions); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	if r := str(in.ServiceRegion); r != "" && r != sc.Region {
		return nil, errUnsupportedOperation("Cross-region endpoint services are not supported by Cachalot: %s.", r)
	}
	if typ == "Gateway" {
		switch {
		case len(in.SubnetIds) > 0:
			return nil, awserr.InvalidParameterValue("Subnets are not supported for a Gateway endpoint; use RouteTableIds.")
		case len(in.SecurityGroupIds) > 0:
			return nil, awserr.InvalidParameterValue("Security groups are not supported for a Gateway endpoint.")
		case in.PrivateDnsEnabled != nil && *in.PrivateDnsEnabled:
			return nil, awserr.InvalidParameterValue("Private DNS is not supported for a Gateway endpoint.")
		case in.IpAddressType != nil || in.DnsOptions != nil:
			return nil, awserr.InvalidParameterValue("IpAddressType and DnsOptions are not supported for a Gateway endpoint.")
		}
	} else if len(in.RouteTableIds) > 0 {
		return nil, awserr.InvalidParameterValue("Route tables are not supported for an Interface endpoint; use SubnetIds.")
	}
	policyDoc := fullAccessPolicy
	if in.PolicyDocument != nil {
		if err := validPolicy(*in.PolicyDocument); err != nil {
			return nil, err
		}
		policyDoc = *in.PolicyDocument
	}
	tags, err := tagsFor(in.TagSpecifications, "vpc-endpoint")
	if err != nil {
		return nil, err
	}
	out := &ec2api.CreateVpcEndpointResult{ClientToken: in.ClientToken}
	err = s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		if tok := str(in.ClientToken); tok != "" {
			for _, r := range listT[*vpceRec](st, "vpce") {
				if r.ClientToken == tok {
					ve := vpceOut(sc, st, r)
					out.VpcEndpoint = &ve
					return nil
				}
			}
		}
		v, err := lookup[*vpcRec](st, "vpc", *in.VpcId)
		if err != nil {
			return err
		}
		svc, err := findService(sc.Region, *in.ServiceName, typ)
		if err != nil {
			return err
		}
		r := &vpceRec{ID: newID("vpce-"), Owner: sc.Account, VpcID: v.ID, Type: typ, Service: svc.name, Policy: policyDoc,
			ClientToken: str(in.ClientToken), Created: t.now}
		r.Tags = tags
		if typ == "Gateway" {
			if err := endpointRouteTables(st, v.ID, in.RouteTableIds); err != nil {
				return err
			}
			for _, o := range listT[*vpceRec](st, "vpce") {
				if o.VpcID == v.ID && o.Service == svc.name && o.Type == "Gateway" {
					if rt := slices.IndexFunc(in.RouteTableIds, func(id string) bool { return slices.Contains(o.RouteTables, id) }); rt >= 0 {
						return errRouteAlreadyExists(in.RouteTableIds[rt])
					}
				}
			}
			r.RouteTables = addUnique(nil, in.RouteTableIds)
		} else {
			if err := endpointSubnets(st, v.ID, in.SubnetIds); err != nil {
				return err
			}
			groups, err := resolveGroups(st, v.ID, in.SecurityGroupIds, nil, t.s.cfg.GroupsPerInterface)
			if err != nil {
				return err
			}
			r.Subnets, r.Groups = addUnique(nil, in.SubnetIds), groups
			r.PrivateDNS = in.PrivateDnsEnabled == nil || *in.PrivateDnsEnabled
		}
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		st.put(r)
		ve := vpceOut(sc, st, r)
		out.VpcEndpoint = &ve
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

var vpceFilters = filterSet[*vpceRec]{
	fields: map[string]func(*vpceRec) []string{
		"ip-address-type": func(r *vpceRec) []string {
			if r.Type == "Interface" {
				return one("ipv4")
			}
			return nil
		},
		"service-name":       func(r *vpceRec) []string { return one(r.Service) },
		"service-region":     func(r *vpceRec) []string { return one(strings.Split(r.Service, ".")[2]) },
		"vpc-id":             func(r *vpceRec) []string { return one(r.VpcID) },
		"vpc-endpoint-id":    func(r *vpceRec) []string { return one(r.ID) },
		"vpc-endpoint-state": func(r *vpceRec) []string { return one("available") },
		"vpc-endpoint-type":  func(r *vpceRec) []string { return one(r.Type) },
	},
	tags: func(r *vpceRec) map[string]string { return r.Tags },
}

// DescribeVpcEndpoints implements ec2api.Operations.
func (s *Service) DescribeVpcEndpoints(ctx context.Context, in *ec2api.DescribeVpcEndpointsRequest) (*ec2api.DescribeVpcEndpointsResult, error) {
	if err := dryRun(in.DryRun); err != nil {
		return nil, err
	}
	sc := scopeOf(ctx)
	out := &ec2api.DescribeVpcEndpointsResult{VpcEndpoints: []ec2api.VpcEndpoint{}}
	err := s.view(ctx, sc, func(t *txn, st *scopeTx) error {
		for _, id := range in.VpcEndpointIds {
			if _, err := lookup[*vpceRec](st, "vpce", id); err != nil {
				return err
			}
		}
		items, _ := selectIDs(listT[*vpceRec](st, "vpce"), in.VpcEndpointIds)
		items, err := filterItems(vpceFilters, in.Filters, items)
		if err != nil {
			return err
		}
		page, next, err := paginate(items, (*vpceRec).id, in.MaxResults, in.NextToken, 5, 1000)
		if err != nil {
			return err
		}
		for _, r := range page {
			out.VpcEndpoints = append(out.VpcEndpoints, vpceOut(sc, st, r))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ModifyVpcEndpoint implements ec2api.Operations.
func (s *Service) ModifyVpcEndpoint(ctx context.Context, in *ec2api.ModifyVpcEndpointRequest) (*ec2api.ModifyVpcEndpointResult, error) {
	if err := refuseParams("ModifyVpcEndpoint", in); err != nil {
		return nil, err
	}
	if in.VpcEndpointId == nil {
		return nil, awserr.MissingParameter("VpcEndpointId")
	}
	if err := endpointRefusals(in.IpAddressType, in.DnsOptions); err != nil {
		return nil, err
	}
	if in.PolicyDocument != nil {
		if in.ResetPolicy != nil && *in.ResetPolicy {
			return nil, awserr.InvalidParameterCombination("PolicyDocument and ResetPolicy cannot be specified together.")
		}
		if err := validPolicy(*in.PolicyDocument); err != nil {
			return nil, err
		}
	}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		r, err := lookup[*vpceRec](st, "vpce", *in.VpcEndpointId)
		if err != nil {
			return err
		}
		gw := r.Type == "Gateway"
		switch {
		case gw && (len(in.AddSubnetIds) > 0 || len(in.RemoveSubnetIds) > 0 || len(in.AddSecurityGroupIds) > 0 || len(in.RemoveSecurityGroupIds) > 0):
			return awserr.InvalidParameterValue("Subnets and security groups are not supported for a Gateway endpoint.")
		case gw && (in.PrivateDnsEnabled != nil && *in.PrivateDnsEnabled || in.IpAddressType != nil || in.DnsOptions != nil):
			return awserr.InvalidParameterValue("Private DNS, IpAddressType and DnsOptions are not supported for a Gateway endpoint.")
		case !gw && (len(in.AddRouteTableIds) > 0 || len(in.RemoveRouteTableIds) > 0):
			return awserr.InvalidParameterValue("Route tables are not supported for an Interface endpoint.")
		}
		r = mut[*vpceRec](st, r.ID)
		if gw {
			if err := endpointRouteTables(st, r.VpcID, in.AddRouteTableIds); err != nil {
				return err
			}
			r.RouteTables = slices.DeleteFunc(addUnique(r.RouteTables, in.AddRouteTableIds), func(id string) bool { return slices.Contains(in.RemoveRouteTableIds, id) })
		} else {
			subnets := slices.DeleteFunc(addUnique(slices.Clone(r.Subnets), in.AddSubnetIds), func(id string) bool { return slices.Contains(in.RemoveSubnetIds, id) })
			if err := endpointSubnets(st, r.VpcID, subnets); err != nil {
				return err
			}
			r.Subnets = subnets
			if len(in.AddSecurityGroupIds) > 0 {
				if _, err := resolveGroups(st, r.VpcID, in.AddSecurityGroupIds, nil, t.s.cfg.GroupsPerInterface); err != nil {
					return err
				}
			}
			groups := slices.DeleteFunc(addUnique(slices.Clone(r.Groups), in.AddSecurityGroupIds), func(id string) bool { return slices.Contains(in.RemoveSecurityGroupIds, id) })
			if len(groups) == 0 {
				return awserr.InvalidParameterValue("An Interface endpoint must have at least one security group.")
			}
			if len(groups) > t.s.cfg.GroupsPerInterface {
				return errSecurityGroupsPerInterfaceLimitExceeded()
			}
			r.Groups = groups
			if in.PrivateDnsEnabled != nil {
				r.PrivateDNS = *in.PrivateDnsEnabled
			}
		}
		switch {
		case in.PolicyDocument != nil:
			r.Policy = *in.PolicyDocument
		case in.ResetPolicy != nil && *in.ResetPolicy:
			r.Policy = fullAccessPolicy
		}
		return dryRun(in.DryRun)
	})
	if err != nil {
		return nil, err
	}
	return &ec2api.ModifyVpcEndpointResult{Return: ptr(true)}, nil
}

// DeleteVpcEndpoints implements ec2api.Operations: the endpoints that
// cannot be deleted are listed as unsuccessful, the others deleted.
func (s *Service) DeleteVpcEndpoints(ctx context.Context, in *ec2api.DeleteVpcEndpointsRequest) (*ec2api.DeleteVpcEndpointsResult, error) {
	if len(in.VpcEndpointIds) == 0 {
		return nil, awserr.MissingParameter("VpcEndpointId")
	}
	out := &ec2api.DeleteVpcEndpointsResult{Unsuccessful: []ec2api.UnsuccessfulItem{}}
	err := s.update(ctx, scopeOf(ctx), func(t *txn, st *scopeTx) error {
		if err := dryRun(in.DryRun); err != nil {
			return err
		}
		for _, id := range in.VpcEndpointIds {
			if _, err := lookup[*vpceRec](st, "vpce", id); err != nil {
				e, _ := awserr.As(err)
				out.Unsuccessful = append(out.Unsuccessful, ec2api.UnsuccessfulItem{ResourceId: ptr(id),
					Error: &ec2api.UnsuccessfulItemError{Code: ptr(e.Code), Message: ptr(e.Message)}})
				continue
			}
			st.del(id)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// endpointsIn returns the endpoints of vpc using subnet (any, when "").
func endpointsIn(st *scopeTx, vpc, subnet string) []*vpceRec {
	var out []*vpceRec
	for _, r := range listT[*vpceRec](st, "vpce") {
		if r.VpcID == vpc && (subnet == "" || slices.Contains(r.Subnets, subnet)) {
			out = append(out, r)
		}
	}
	return out
}

// endpointRoute is the route a gateway endpoint adds to a route table:
// destination the service's AWS-managed prefix list, target the endpoint.
type endpointRoute struct{ pl, vpce string }

// endpointRoutes returns the routes the gateway endpoints associated with
// r add to it, in endpoint id order.
func endpointRoutes(st *scopeTx, r *rtbRec) []endpointRoute {
	var out []endpointRoute
	for _, e := range listT[*vpceRec](st, "vpce") {
		if e.Type != "Gateway" || e.VpcID != r.VpcID || !slices.Contains(e.RouteTables, r.ID) {
			continue
		}
		short := strings.TrimPrefix(e.Service, "com.amazonaws."+st.sc.Region+".")
		out = append(out, endpointRoute{pl: awsPrefixListID(st.sc.Region, short), vpce: e.ID})
	}
	return out
}
