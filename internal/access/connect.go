package access

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awserr"
	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// ConnectResult says what ConnectCompute did.
type ConnectResult struct {
	Decision
	CacheID, InstanceID, InterfaceID, VpcID string
	Port                                    int
	// CacheSideID and InstanceSideID are the pair in force afterwards.
	CacheSideID, CacheSideGroupName       string
	InstanceSideID, InstanceSideGroupName string
}

// Connect sets up the compute connection between a cache and an instance
// as the decision table says. Re-running it changes nothing once connected.
func (s *Service) Connect(ctx context.Context, cacheID, instanceID string) (*ConnectResult, error) {
	return s.connect(ctx, cacheID, instanceID, false)
}

// PreviewConnect says what Connect would do — the decision, the pair it
// would create or reuse — after the same checks and authorization, and
// changes nothing (the console's preview before "Set up"). The groups it
// would create have names but no ids.
func (s *Service) PreviewConnect(ctx context.Context, cacheID, instanceID string) (*ConnectResult, error) {
	return s.connect(ctx, cacheID, instanceID, true)
}

func (s *Service) connect(ctx context.Context, cacheID, instanceID string, preview bool) (*ConnectResult, error) {
	if err := s.authorizeEC2(ctx, "ConnectCompute", ConnectActions, onAny(describeOnly(ConnectActions))); err != nil {
		return nil, err
	}
	if instanceID == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter InstanceId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.load(ctx, cacheID, instanceID)
	if err != nil {
		return nil, err
	}
	c, ifc := w.cache, w.instance
	if ifc.VpcID != c.VpcID {
		return nil, invalid("Instance %s is in VPC %s but cache %s is in VPC %s: a compute connection needs both in the same VPC. "+
			"Create an instance in %s (RunInstances with a subnet of that VPC) and connect that one, or peer the VPCs and add rules by hand.",
			instanceID, ifc.VpcID, c.ID, c.VpcID, c.VpcID)
	}
	d := Decide(w.topo.Groups, c, instanceID, ifc.Groups)
	needs, err := s.connectNeeds(ctx, w, d)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeEC2(ctx, "ConnectCompute", ConnectActions, needs); err != nil {
		return nil, err
	}
	res := &ConnectResult{Decision: d, CacheID: c.ID, InstanceID: instanceID, InterfaceID: ifc.ID, VpcID: c.VpcID, Port: c.Port}
	if preview {
		if d.Action == ActionCreate {
			res.setPair("", d.CacheSideName, "", d.InstanceSideName)
		} else {
			res.setPair(d.Pair.CacheSide.ID, d.Pair.CacheSide.Name, d.Pair.InstanceSide.ID, d.Pair.InstanceSide.Name)
		}
		return res, nil
	}
	ec := s.checked(ctx, "ConnectCompute", ConnectActions, w)
	switch d.Action {
	case ActionNone:
		res.setPair(d.Pair.CacheSide.ID, d.Pair.CacheSide.Name, d.Pair.InstanceSide.ID, d.Pair.InstanceSide.Name)
		return res, nil
	case ActionAssociate:
		if len(ifc.Groups) >= s.cfg.MaxGroups {
			return nil, s.fullInstance(ifc)
		}
		if err := setInterfaceGroups(ctx, ec, ifc.ID, append(slices.Clone(ifc.Groups), d.Pair.InstanceSide.ID)); err != nil {
			return nil, err
		}
		res.setPair(d.Pair.CacheSide.ID, d.Pair.CacheSide.Name, d.Pair.InstanceSide.ID, d.Pair.InstanceSide.Name)
		return res, nil
	}
	// Create: check the cache can take a group and both sides have room
	// before creating anything.
	if c.Status != "available" && c.Status != "modifying" {
		return nil, awserr.New("InvalidCacheClusterState", "Cache cluster %s is %s: a compute connection can be set up once it is available.", c.ID, c.Status)
	}
	if len(c.SecurityGroups) >= s.cfg.MaxGroups {
		return nil, invalid("Cache %s already has %d security groups (%v), the maximum: remove one (ModifyCacheCluster) before connecting an instance.",
			c.ID, len(c.SecurityGroups), c.SecurityGroups)
	}
	if len(ifc.Groups) >= s.cfg.MaxGroups {
		return nil, s.fullInstance(ifc)
	}
	cs, is, err := s.createPair(ctx, ec, c, instanceID, ifc, d)
	if err != nil {
		return nil, err
	}
	res.setPair(cs, d.CacheSideName, is, d.InstanceSideName)
	return res, nil
}

func (r *ConnectResult) setPair(cs, csName, is, isName string) {
	r.CacheSideID, r.CacheSideGroupName, r.InstanceSideID, r.InstanceSideGroupName = cs, csName, is, isName
}

func (s *Service) fullInstance(ifc *ec2.TopoInterface) error {
	return awserr.New("SecurityGroupsPerInterfaceLimitExceeded",
		"Instance %s's network interface %s already has %d security groups (%v), the maximum: remove one (ModifyNetworkInterfaceAttribute) before connecting it to a cache.",
		ifc.InstanceID, ifc.ID, len(ifc.Groups), ifc.Groups)
}

func setInterfaceGroups(ctx context.Context, ec EC2, eni string, groups []string) error {
	return ec.ModifyNetworkInterfaceAttribute(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{
		NetworkInterfaceId: aws.String(eni), Groups: groups})
}

func tcpPerm(port Ports, group, desc string) []ec2api.IpPermission {
	return []ec2api.IpPermission{{
		IpProtocol: aws.String("tcp"), FromPort: aws.Int32(int32(port.From)), ToPort: aws.Int32(int32(port.To)),
		UserIdGroupPairs: []ec2api.UserIdGroupPair{{GroupId: aws.String(group), Description: aws.String(desc)}},
	}}
}

var allEgress = []ec2api.IpPermission{{IpProtocol: aws.String("-1"), IpRanges: []ec2api.IpRange{{CidrIp: aws.String("0.0.0.0/0")}}}}

// createPair creates and associates a new pair through ec; on failure it
// undoes what it did (directly: the undo is not the caller's to authorize),
// so a failed call leaves no group behind.
func (s *Service) createPair(ctx context.Context, ec EC2, c Cache, instanceID string, ifc *ec2.TopoInterface, d Decision) (cacheSide, instanceSide string, err error) {
	var undo []func(context.Context) error
	defer func() {
		if err == nil {
			return
		}
		// Undo with a context that survives the caller's cancellation.
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		for i := len(undo) - 1; i >= 0; i-- {
			if uerr := undo[i](uctx); uerr != nil {
				s.cfg.Logger.Warn("undo of a failed compute connection", "cache", c.ID, "instance", instanceID, "err", uerr)
			}
		}
	}()
	mk := func(name, desc string) (string, error) {
		out, err := ec.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{
			GroupName: aws.String(name), Description: aws.String(desc), VpcId: aws.String(c.VpcID)})
		if err != nil {
			return "", fmt.Errorf("create security group %s: %w", name, err)
		}
		id := aws.ToString(out.GroupId)
		undo = append(undo, func(ctx context.Context) error { return s.deleteGroup(ctx, s.cfg.EC2, id) })
		return id, nil
	}
	if instanceSide, err = mk(d.InstanceSideName, fmt.Sprintf("Instance %s to ElastiCache cache %s (compute connection)", instanceID, c.ID)); err != nil {
		return "", "", err
	}
	if cacheSide, err = mk(d.CacheSideName, fmt.Sprintf("ElastiCache cache %s from instance %s (compute connection)", c.ID, instanceID)); err != nil {
		return "", "", err
	}
	// The undo steps name the pair by these copies: the results are zeroed
	// by a failing return before the undo runs.
	cs, is := cacheSide, instanceSide
	// The rules reference each other: drop them before deleting on undo.
	if _, err = ec.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{
		GroupId: aws.String(cacheSide), IpPermissions: tcpPerm(c.Ports(), instanceSide, cacheRuleDesc)}); err != nil {
		return "", "", fmt.Errorf("authorize ingress on %s: %w", cacheSide, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		_, err := s.cfg.EC2.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{
			GroupId: aws.String(cs), IpPermissions: tcpPerm(c.Ports(), is, cacheRuleDesc)})
		return err
	})
	if _, err = ec.RevokeSecurityGroupEgress(ctx, &ec2api.RevokeSecurityGroupEgressRequest{
		GroupId: aws.String(instanceSide), IpPermissions: allEgress}); err != nil {
		return "", "", fmt.Errorf("revoke the default egress of %s: %w", instanceSide, err)
	}
	if _, err = ec.AuthorizeSecurityGroupEgress(ctx, &ec2api.AuthorizeSecurityGroupEgressRequest{
		GroupId: aws.String(instanceSide), IpPermissions: tcpPerm(c.Ports(), cacheSide, instanceRuleDesc)}); err != nil {
		return "", "", fmt.Errorf("authorize egress on %s: %w", instanceSide, err)
	}
	undo = append(undo, func(ctx context.Context) error {
		_, err := s.cfg.EC2.RevokeSecurityGroupEgress(ctx, &ec2api.RevokeSecurityGroupEgressRequest{
			GroupId: aws.String(is), IpPermissions: tcpPerm(c.Ports(), cs, instanceRuleDesc)})
		return err
	})
	if err = s.cfg.Caches.EditSecurityGroups(ctx, c.ID, func(groups []string) ([]string, error) {
		if slices.Contains(groups, cacheSide) {
			return groups, nil
		}
		if len(groups) >= s.cfg.MaxGroups {
			return nil, invalid("Cache %s already has %d security groups, the maximum.", c.ID, len(groups))
		}
		return append(groups, cacheSide), nil
	}); err != nil {
		return "", "", err
	}
	undo = append(undo, func(ctx context.Context) error { return s.removeFromCache(ctx, c.ID, cs) })
	if err = setInterfaceGroups(ctx, ec, ifc.ID, append(slices.Clone(ifc.Groups), instanceSide)); err != nil {
		return "", "", err
	}
	return cacheSide, instanceSide, nil
}

func (s *Service) removeFromCache(ctx context.Context, cacheID, group string) error {
	return s.cfg.Caches.EditSecurityGroups(ctx, cacheID, func(groups []string) ([]string, error) {
		return slices.DeleteFunc(groups, func(g string) bool { return g == group }), nil
	})
}

// deleteGroup deletes a group, retrying for a while when an interface still
// uses it (a cache's interfaces follow its groups through the reconciler).
func (s *Service) deleteGroup(ctx context.Context, ec EC2, id string) error {
	deadline := time.Now().Add(15 * time.Second)
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, 500*time.Millisecond) {
		_, err := ec.DeleteSecurityGroup(ctx, &ec2api.DeleteSecurityGroupRequest{GroupId: aws.String(id)})
		if e, ok := awserr.As(err); ok && e.Code == "InvalidGroup.NotFound" {
			return nil
		}
		if e, ok := awserr.As(err); !ok || e.Code != "DependencyViolation" || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("delete security group %s: %w", id, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
	}
}

// DisconnectResult says what DisconnectCompute removed.
type DisconnectResult struct {
	CacheID, InstanceID string
	// Removed lists the groups deleted (cache side first, per pair).
	Removed []string
}

// Disconnect removes exactly what Connect created for the pair: every valid
// pair of the two name patterns is dissociated from the cache and the
// instance and deleted. Modified groups (no longer valid) are left alone.
func (s *Service) Disconnect(ctx context.Context, cacheID, instanceID string) (*DisconnectResult, error) {
	if err := s.authorizeEC2(ctx, "DisconnectCompute", DisconnectActions, onAny(describeOnly(DisconnectActions))); err != nil {
		return nil, err
	}
	if instanceID == "" {
		return nil, awserr.New("MissingParameter", "The request must contain the parameter InstanceId")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, err := s.load(ctx, cacheID, instanceID)
	if err != nil {
		return nil, err
	}
	c, ifc := w.cache, w.instance
	res := &DisconnectResult{CacheID: c.ID, InstanceID: instanceID}
	pairs := validPairs(w.topo.Groups, c.VpcID, c.ID, instanceID, c.Ports())
	if len(pairs) == 0 {
		return res, nil
	}
	var mine []string
	for _, p := range pairs {
		mine = append(mine, p.CacheSide.ID, p.InstanceSide.ID)
	}
	isMine := func(g string) bool { return slices.Contains(mine, g) }
	var keep []string
	if slices.ContainsFunc(ifc.Groups, isMine) {
		keep = slices.DeleteFunc(slices.Clone(ifc.Groups), isMine)
		if len(keep) == 0 {
			return nil, invalid("Instance %s has no security group but the compute connection's: associate another one (ModifyNetworkInterfaceAttribute) before disconnecting.", instanceID)
		}
	}
	needs, err := s.disconnectNeeds(ctx, w, pairs, keep)
	if err != nil {
		return nil, err
	}
	if err := s.authorizeEC2(ctx, "DisconnectCompute", DisconnectActions, needs); err != nil {
		return nil, err
	}
	ec := s.checked(ctx, "DisconnectCompute", DisconnectActions, w)
	if slices.ContainsFunc(c.SecurityGroups, isMine) {
		err := s.cfg.Caches.EditSecurityGroups(ctx, c.ID, func(groups []string) ([]string, error) {
			out := slices.DeleteFunc(groups, isMine)
			if len(out) == 0 {
				return nil, invalid("Cache %s has no security group but the compute connection's: associate another one (ModifyCacheCluster) before disconnecting.", c.ID)
			}
			return out, nil
		})
		if err != nil {
			return nil, err
		}
	}
	if keep != nil {
		if err := setInterfaceGroups(ctx, ec, ifc.ID, keep); err != nil {
			return nil, err
		}
	}
	var errs []error
	for _, p := range pairs {
		cs, is := p.CacheSide.ID, p.InstanceSide.ID
		if _, err := ec.RevokeSecurityGroupIngress(ctx, &ec2api.RevokeSecurityGroupIngressRequest{
			GroupId: aws.String(cs), IpPermissions: tcpPerm(c.Ports(), is, cacheRuleDesc)}); err != nil {
			errs = append(errs, fmt.Errorf("revoke ingress of %s: %w", cs, err))
			continue
		}
		if _, err := ec.RevokeSecurityGroupEgress(ctx, &ec2api.RevokeSecurityGroupEgressRequest{
			GroupId: aws.String(is), IpPermissions: tcpPerm(c.Ports(), cs, instanceRuleDesc)}); err != nil {
			errs = append(errs, fmt.Errorf("revoke egress of %s: %w", is, err))
			continue
		}
		for _, g := range []string{is, cs} {
			if err := s.deleteGroup(ctx, ec, g); err != nil {
				errs = append(errs, err)
			} else {
				res.Removed = append(res.Removed, g)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return res, nil
}

// ConnectedResource is an instance connected to a cache by ConnectCompute.
type ConnectedResource struct {
	InstanceID, InterfaceID, Address string
	CacheSideID, InstanceSideID      string
}

// Connected lists the instances connected to a cache by the automatic setup
// — a valid pair associated on both sides — and only those.
func (s *Service) Connected(ctx context.Context, cacheID string) ([]ConnectedResource, Cache, error) {
	if err := s.authorizeEC2(ctx, "DescribeConnectedComputeResources", DescribeActions, onAny(DescribeActions)); err != nil {
		return nil, Cache{}, err
	}
	w, err := s.load(ctx, cacheID, "")
	if err != nil {
		return nil, Cache{}, err
	}
	var out []ConnectedResource
	for _, cn := range connectedTo(w.topo, w.cache) {
		out = append(out, ConnectedResource{InstanceID: cn.iface.InstanceID, InterfaceID: cn.iface.ID, Address: cn.iface.IP.String(),
			CacheSideID: cn.pair.CacheSide.ID, InstanceSideID: cn.pair.InstanceSide.ID})
	}
	return out, w.cache, nil
}
