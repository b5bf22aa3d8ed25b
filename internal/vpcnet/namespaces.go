package vpcnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// Errors of the namespace lookups that are the asker's (errors.Is).
var (
	// ErrOutsideAddress marks an address that cannot be an outside client's.
	ErrOutsideAddress = errors.New("not usable for an outside client")
	// ErrNoNamespaces: the loopback network mode realises no namespace.
	ErrNoNamespaces = errors.New("this needs the namespaces network mode (root on Linux)")
	// ErrNoInstance: no instance of that id (in that region).
	ErrNoInstance = errors.New("no such instance")
	// ErrNotRunning: the instance exists but is not running, so its network
	// is not realised.
	ErrNotRunning = errors.New("instance is not running")
)

// AddOutside makes a simulated client on the internet with address a,
// realised at once: a namespace of its own attached to the internet
// namespace. It returns the netplane id of the client's namespace. The
// address must be an ordinary unicast IPv4 address outside the Elastic IP
// pool and outside every VPC (errors.Is(err, ErrOutsideAddress) otherwise).
func (n *Controller) AddOutside(ctx context.Context, a netip.Addr) (string, error) {
	if n.plane == nil {
		return "", fmt.Errorf("outside clients: %w", ErrNoNamespaces)
	}
	a = a.Unmap()
	if !a.Is4() || !a.IsGlobalUnicast() {
		return "", fmt.Errorf("%s is %w: want a unicast IPv4 address such as 198.51.100.27 (documentation ranges 198.51.100.0/24, 203.0.113.0/24)", a, ErrOutsideAddress)
	}
	if ec2.ElasticIPPool.Contains(a) {
		return "", fmt.Errorf("%s is %w: it is inside the Elastic IP pool %s; pick an address of the outside world, e.g. from 198.51.100.0/24 or 203.0.113.0/24", a, ErrOutsideAddress, ec2.ElasticIPPool)
	}
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return "", fmt.Errorf("read topology: %w", err)
	}
	for _, v := range topo.VPCs {
		if v.Contains(a) {
			return "", fmt.Errorf("%s is %w: it is inside %s of %s (account %s, %s); pick an address outside every VPC, e.g. from 198.51.100.0/24 or 203.0.113.0/24", a, ErrOutsideAddress, v.CIDR, v.ID, v.Account, v.Region)
		}
	}
	n.mu.Lock()
	if !n.outside[a] {
		if n.outside == nil {
			n.outside = map[netip.Addr]bool{}
		}
		n.outside[a] = true
	}
	n.mu.Unlock()
	if err := n.Sync(ctx); err != nil {
		return "", err
	}
	return netplane.OutsideID(a), nil
}

// InstanceNamespace returns the netplane id of the namespace of a running
// instance's primary network interface (the one `cachalot exec --instance`
// enters), realised before it returns. region "" looks in every region;
// instance ids are unique in an installation, whatever the account.
func (n *Controller) InstanceNamespace(ctx context.Context, region, instanceID string) (string, error) {
	if n.plane == nil {
		return "", fmt.Errorf("instance networks: %w", ErrNoNamespaces)
	}
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{Region: region})
	if err != nil {
		return "", fmt.Errorf("read topology: %w", err)
	}
	eni, state := primaryInterface(topo, instanceID)
	switch {
	case state == "":
		return "", fmt.Errorf("instance %s: %w", instanceID, ErrNoInstance)
	case state != "running":
		return "", fmt.Errorf("instance %s is %s: %w", instanceID, state, ErrNotRunning)
	}
	if err := n.Sync(ctx); err != nil {
		return "", err
	}
	return eni, nil
}

// primaryInterface returns the id of the instance's primary interface
// (device index 0) and the instance's state; "" when there is none.
func primaryInterface(t *ec2.Topology, instanceID string) (eni, state string) {
	for _, i := range t.Interfaces {
		if i.InstanceID == instanceID && i.DeviceIndex == 0 {
			return i.ID, i.InstanceState
		}
	}
	return "", ""
}

// NetnsPath is the path of the namespace whose netplane id is id (nsenter
// --net=PATH).
func (n *Controller) NetnsPath(id string) (string, error) {
	if n.plane == nil {
		return "", ErrNoNamespaces
	}
	return n.plane.NetnsPath(id)
}
