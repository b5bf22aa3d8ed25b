package ec2

import (
	"cmp"
	"context"
	"maps"
	"slices"

	"github.com/cachalot-dev/cachalot/internal/awserr"
)

// The Go API for other packages (ElastiCache creates its cache nodes'
// interfaces here; netplane reads Topology). Every function takes the
// account and region explicitly, creates the scope's defaults on first use
// like the wire API, validates, and returns *awserr.Error values the caller
// may pass on to its own clients.

// RequesterElastiCache is the RequesterId AWS shows on ElastiCache's interfaces.
const RequesterElastiCache = "amazon-elasticache"

// InterfaceSpec describes a requester-managed network interface.
type InterfaceSpec struct {
	Account, Region string
	SubnetID        string
	// Classic puts the interface in the account's EC2-Classic network
	// instead of a subnet (SubnetID and GroupIDs empty; the account must have
	// EC2-Classic): it has no security group, and admits only what
	// SetInterfaceIngressGrants grants. AZ is its zone (default <region>a).
	Classic bool
	AZ      string
	// GroupIDs must belong to the subnet's VPC; empty: the VPC's default group.
	GroupIDs []string
	// PrivateIP to use; empty: the lowest free address of the subnet.
	PrivateIP string
	// Description as DescribeNetworkInterfaces shows it, e.g. "ElastiCache my-cluster-0001-001".
	Description string
	// RequesterID is the managing service; default RequesterElastiCache.
	RequesterID string
	// InterfaceType; default "interface".
	InterfaceType string
	Tags          map[string]string
	// ServicePeering labels the interface (SetInterfaceServicePeering);
	// "" none.
	ServicePeering string
}

// Interface is a network interface as other packages see it.
type Interface struct {
	ID, Account, Region, SubnetID, VpcID, AZ, PrivateIP, MAC string
	Groups                                                   []string
	RequesterID, InstanceID, Description                     string
	Classic                                                  bool
}

func interfaceOf(sc scope, e *eniRec) Interface {
	return Interface{ID: e.ID, Account: sc.Account, Region: sc.Region, SubnetID: e.SubnetID, VpcID: e.VpcID, AZ: e.AZ,
		PrivateIP: e.PrivateIP, MAC: e.MAC, Groups: slices.Clone(e.Groups), RequesterID: e.RequesterID, InstanceID: e.InstanceID,
		Description: e.Description, Classic: e.Classic}
}

// CreateManagedInterface creates a requester-managed interface (status
// in-use, RequesterManaged true) in a subnet with the given groups, as AWS
// shows ElastiCache's node interfaces. Users cannot delete or modify it
// through the EC2 API.
//
// It is idempotent: when the same requester already has an unattached
// interface with the same non-empty Description and tags in the same
// subnet (and address, when one is asked for), that interface is returned,
// with the spec's groups, instead of a second one. A controller creates
// the interface and records its id in two transactions; killed between
// them, it asks again after the restart, and must get the first one back
// rather than leak it (found by the crash campaign, bench/crash).
func (s *Service) CreateManagedInterface(ctx context.Context, spec InterfaceSpec) (Interface, error) {
	out, err := s.CreateManagedInterfaces(ctx, []InterfaceSpec{spec})
	if err != nil {
		return Interface{}, err
	}
	return out[0], nil
}

// CreateManagedInterfaces creates several requester-managed interfaces of
// one account and region (each as CreateManagedInterface, in order) in one
// transaction: all or none, and one change of the model, which the network
// realises in one pass rather than one per interface (a cluster's nodes).
func (s *Service) CreateManagedInterfaces(ctx context.Context, specs []InterfaceSpec) ([]Interface, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	sc := scope{specs[0].Account, specs[0].Region}
	for _, spec := range specs[1:] {
		if (scope{spec.Account, spec.Region}) != sc {
			return nil, awserr.InvalidParameterCombination("Managed interfaces created together must be of one account and region.")
		}
	}
	out := make([]Interface, len(specs))
	err := s.update(ctx, sc, func(t *txn, st *scopeTx) error {
		for i, spec := range specs {
			var err error
			if out[i], err = createManaged(t, st, spec, s.cfg.GroupsPerInterface); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// createManaged creates (or finds, see managedTwin) one managed interface
// in the transaction.
func createManaged(t *txn, st *scopeTx, spec InterfaceSpec, groupsPerInterface int) (Interface, error) {
	sc := st.sc
	var sn *subnetRec
	var groups []string
	switch {
	case spec.Classic && !st.meta.Classic:
		return Interface{}, awserr.InvalidParameterValue("Account %s does not support EC2-Classic.", sc.Account)
	case spec.Classic && (spec.SubnetID != "" || len(spec.GroupIDs) > 0):
		return Interface{}, awserr.InvalidParameterCombination("An EC2-Classic interface has no subnet and no security groups.")
	case spec.Classic:
		az, err := classicAZ(sc.Region, spec.AZ)
		if err != nil {
			return Interface{}, err
		}
		sn = classicSubnet(az)
	default:
		var err error
		if sn, err = lookup[*subnetRec](st, "subnet", spec.SubnetID); err != nil {
			return Interface{}, err
		}
		if groups, err = resolveGroups(st, sn.VpcID, spec.GroupIDs, nil, groupsPerInterface); err != nil {
			return Interface{}, err
		}
	}
	if e := managedTwin(st, sn.ID, spec); e != nil {
		if !spec.Classic {
			e.Groups = groups
		}
		return interfaceOf(sc, e), nil
	}
	e, err := t.newENI(st, sn, groups, spec.PrivateIP, spec.Description)
	if err != nil {
		return Interface{}, err
	}
	e.Classic = spec.Classic
	e.RequesterManaged = true
	e.RequesterID = spec.RequesterID
	if e.RequesterID == "" {
		e.RequesterID = RequesterElastiCache
	}
	if spec.InterfaceType != "" {
		e.InterfaceType = spec.InterfaceType
	}
	e.ServicePeering = spec.ServicePeering
	if len(spec.Tags) > 0 {
		e.Tags = map[string]string{}
		for k, v := range spec.Tags {
			e.Tags[k] = v
		}
	}
	return interfaceOf(sc, e), nil
}

// managedTwin returns, for update, the interface CreateManagedInterface
// made earlier for the same spec in subnet, if any (see there).
func managedTwin(st *scopeTx, subnet string, spec InterfaceSpec) *eniRec {
	if spec.Description == "" {
		return nil
	}
	requester := cmp.Or(spec.RequesterID, RequesterElastiCache)
	for _, e := range listT[*eniRec](st, "eni") {
		if e.RequesterManaged && e.RequesterID == requester && e.Description == spec.Description &&
			e.SubnetID == subnet && e.Classic == spec.Classic && e.InstanceID == "" &&
			(spec.PrivateIP == "" || spec.PrivateIP == e.PrivateIP) &&
			(spec.InterfaceType == "" || spec.InterfaceType == e.InterfaceType) &&
			maps.Equal(e.Tags, spec.Tags) {
			return mut[*eniRec](st, e.ID)
		}
	}
	return nil
}

// DeleteManagedInterface deletes an interface (requester-managed or not, but
// not one attached to an instance). Deleting one already gone is not an error.
func (s *Service) DeleteManagedInterface(ctx context.Context, account, region, id string) error {
	return s.update(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, ok := getT[*eniRec](st, id)
		if !ok {
			return nil
		}
		if e.InstanceID != "" {
			return errInvalidNetworkInterfaceInUse(e.ID)
		}
		t.deleteENI(st, e)
		return nil
	})
}

// SetInterfaceGroups replaces the groups of an interface (any, including
// requester-managed ones). Groups must belong to its VPC; 1 to 5 of them.
func (s *Service) SetInterfaceGroups(ctx context.Context, account, region, id string, groups []string) error {
	if len(groups) == 0 {
		return awserr.MissingParameter("SecurityGroupId")
	}
	return s.update(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, err := lookup[*eniRec](st, "eni", id)
		if err != nil {
			return err
		}
		if e.Classic && e.InstanceID == "" {
			return awserr.InvalidParameterValue("Interface %s is in EC2-Classic: its access is set by ingress grants.", id)
		}
		g, err := resolveGroups(st, e.VpcID, groups, nil, s.cfg.GroupsPerInterface)
		if err != nil {
			return err
		}
		if slices.Equal(e.Groups, g) {
			// Nothing to write: the cache controller sets the groups of
			// every node it converges, after a restart every node's.
			return nil
		}
		mut[*eniRec](st, id).Groups = g
		return nil
	})
}

// GetInterface returns an interface.
func (s *Service) GetInterface(ctx context.Context, account, region, id string) (Interface, error) {
	var out Interface
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		e, err := lookup[*eniRec](st, "eni", id)
		if err != nil {
			return err
		}
		out = interfaceOf(st.sc, e)
		return nil
	})
	return out, err
}

// SubnetInfo describes a subnet.
type SubnetInfo struct {
	ID, VpcID, CIDR, AZ string
	DefaultForAZ        bool
}

// VPCInfo describes a VPC with its subnets and default group.
type VPCInfo struct {
	ID, CIDR       string
	IsDefault      bool
	DefaultGroupID string
	Subnets        []SubnetInfo
}

func vpcInfo(st *scopeTx, v *vpcRec) VPCInfo {
	out := VPCInfo{ID: v.ID, CIDR: v.CIDR, IsDefault: v.IsDefault}
	for _, g := range listT[*groupRec](st, "sg") {
		if g.VpcID == v.ID && g.Name == "default" {
			out.DefaultGroupID = g.ID
		}
	}
	for _, sn := range listT[*subnetRec](st, "subnet") {
		if sn.VpcID == v.ID {
			out.Subnets = append(out.Subnets, SubnetInfo{ID: sn.ID, VpcID: sn.VpcID, CIDR: sn.CIDR, AZ: sn.AZ, DefaultForAZ: sn.DefaultForAZ})
		}
	}
	slices.SortFunc(out.Subnets, func(a, b SubnetInfo) int {
		if a.AZ != b.AZ {
			return cmpStr(a.AZ, b.AZ)
		}
		return cmpStr(a.ID, b.ID)
	})
	return out
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// DefaultVPC returns the default VPC of an account and region (created on
// first use), its subnets sorted by zone, and its default group. It returns
// an awserr with code VPCIdNotSpecified when there is none (EC2-Classic
// accounts, or the default VPC was deleted).
func (s *Service) DefaultVPC(ctx context.Context, account, region string) (VPCInfo, error) {
	var out VPCInfo
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		v, ok := getT[*vpcRec](st, st.meta.DefaultVpcID)
		if !ok {
			return errVPCIdNotSpecified()
		}
		out = vpcInfo(st, v)
		return nil
	})
	return out, err
}

// VPC returns a VPC with its subnets and default group.
func (s *Service) VPC(ctx context.Context, account, region, vpcID string) (VPCInfo, error) {
	var out VPCInfo
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		v, err := lookup[*vpcRec](st, "vpc", vpcID)
		if err != nil {
			return err
		}
		out = vpcInfo(st, v)
		return nil
	})
	return out, err
}

// Subnet returns a subnet (and so the VPC it belongs to).
func (s *Service) Subnet(ctx context.Context, account, region, subnetID string) (SubnetInfo, error) {
	var out SubnetInfo
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		sn, err := lookup[*subnetRec](st, "subnet", subnetID)
		if err != nil {
			return err
		}
		out = SubnetInfo{ID: sn.ID, VpcID: sn.VpcID, CIDR: sn.CIDR, AZ: sn.AZ, DefaultForAZ: sn.DefaultForAZ}
		return nil
	})
	return out, err
}

// DefaultSecurityGroup returns the id of a VPC's default group.
func (s *Service) DefaultSecurityGroup(ctx context.Context, account, region, vpcID string) (string, error) {
	info, err := s.VPC(ctx, account, region, vpcID)
	if err != nil {
		return "", err
	}
	return info.DefaultGroupID, nil
}

// ValidateGroups checks that every id is a security group of the account in
// vpcID and that there are at most the per-interface limit of them. It
// returns InvalidGroup.NotFound, InvalidGroupId.Malformed, InvalidParameter
// (another VPC) or SecurityGroupsPerInterfaceLimitExceeded.
func (s *Service) ValidateGroups(ctx context.Context, account, region, vpcID string, ids []string) error {
	return s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		if len(ids) == 0 {
			return nil
		}
		_, err := resolveGroups(st, vpcID, ids, nil, s.cfg.GroupsPerInterface)
		return err
	})
}

// GroupInfo describes a security group.
type GroupInfo struct {
	ID, Name, Description, VpcID, Owner string
	Ingress, Egress                     []TopoRule
	Tags                                map[string]string
}

// SecurityGroups returns groups by id, in the order given.
func (s *Service) SecurityGroups(ctx context.Context, account, region string, ids []string) ([]GroupInfo, error) {
	var out []GroupInfo
	err := s.view(ctx, scope{account, region}, func(t *txn, st *scopeTx) error {
		for _, id := range ids {
			g, err := lookup[*groupRec](st, "sg", id)
			if err != nil {
				return err
			}
			gi := GroupInfo{ID: g.ID, Name: g.Name, Description: g.Description, VpcID: g.VpcID, Owner: g.Owner,
				Ingress: topoRules(g.Ingress), Egress: topoRules(g.Egress), Tags: map[string]string{}}
			for k, v := range g.Tags {
				gi.Tags[k] = v
			}
			out = append(out, gi)
		}
		return nil
	})
	return out, err
}
