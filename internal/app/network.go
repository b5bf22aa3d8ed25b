package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

// Network modes.
const (
	// NetworkNamespaces realises VPCs in network namespaces with nftables
	// enforcement (root on Linux).
	NetworkNamespaces = "namespaces"
	// NetworkLoopback is for machines without root or Linux: nothing is
	// realised in the kernel, cache nodes listen on 127.0.0.1 ports of
	// their own, and security groups are NOT enforced.
	NetworkLoopback = "loopback"
)

// InstallPrefix is the kernel-object prefix of the installation whose data
// dir is dir: "cl" and five hex digits of the directory's absolute path.
func InstallPrefix(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	sum := sha256.Sum256([]byte(abs))
	return "cl" + hex.EncodeToString(sum[:])[:5]
}

// networkController realises the EC2 model in the kernel through netplane:
// it reads the whole topology, maps it to netplane.State and applies it. It
// is a reconcile.Controller (watching ec2/ keys) and the elasticache
// controller's NetworkRealizer (Sync applies at once, so a node's namespace
// exists before its engine starts).
type networkController struct {
	ec2   *ec2.Service
	plane *netplane.Plane // nil in NetworkLoopback mode

	mu      sync.Mutex // guards applied and outside; serialises Apply
	applied uint64     // store revision of the last applied topology
	// outside holds the addresses of the simulated clients on the internet
	// asked for since start (AddOutside). They are not EC2 resources and
	// are not kept: after a restart the first Apply removes their
	// namespaces, and the next `cachalot exec --outside` makes them again.
	outside map[netip.Addr]bool
}

// ErrOutsideAddress marks an address that cannot be an outside client's.
var ErrOutsideAddress = errors.New("not usable for an outside client")

// AddOutside makes a simulated client on the internet with address a,
// realised at once: a namespace of its own attached to the internet
// namespace. It returns the netplane id of the client's namespace. The
// address must be an ordinary unicast IPv4 address outside the Elastic IP
// pool and outside every VPC (errors.Is(err, ErrOutsideAddress) otherwise).
func (n *networkController) AddOutside(ctx context.Context, a netip.Addr) (string, error) {
	if n.plane == nil {
		return "", errors.New("outside clients need the namespaces network mode (root on Linux)")
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
		if v.CIDR.Contains(a) {
			return "", fmt.Errorf("%s is %w: it is inside %s of %s (account %s, %s); pick an address outside every VPC, e.g. from 198.51.100.0/24 or 203.0.113.0/24", a, ErrOutsideAddress, v.CIDR, v.ID, v.Account, v.Region)
		}
	}
	n.mu.Lock()
	if !n.outside[a] {
		if n.outside == nil {
			n.outside = map[netip.Addr]bool{}
		}
		n.outside[a] = true
		n.applied = 0 // not a store change: apply even an unchanged topology
	}
	n.mu.Unlock()
	if err := n.Sync(ctx); err != nil {
		return "", err
	}
	return netplane.OutsideID(a), nil
}

func (n *networkController) Name() string { return "network" }

func (n *networkController) Watches(key string) bool { return strings.HasPrefix(key, "ec2/") }

func (n *networkController) Reconcile(ctx context.Context, changed []string) error {
	if changed == nil {
		n.mu.Lock()
		n.applied = 0 // a full run re-applies even an unchanged topology
		n.mu.Unlock()
	}
	return n.Sync(ctx)
}

// Sync applies the current topology unless it was already applied.
func (n *networkController) Sync(ctx context.Context) error {
	if n.plane == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return fmt.Errorf("read topology: %w", err)
	}
	if topo.Revision == n.applied && n.applied != 0 {
		return nil
	}
	st := netplaneState(topo)
	st.Outside = outsideClients(topo, n.outside)
	if err := n.plane.Apply(ctx, st); err != nil {
		return err
	}
	n.applied = topo.Revision
	return nil
}

// Loopback reports whether nodes run on the host's loopback.
func (n *networkController) Loopback() bool { return n.plane == nil }

// Launcher runs a program inside the interface's network namespace (on the
// host in loopback mode).
func (n *networkController) Launcher(interfaceID string) engine.Launcher {
	if n.plane == nil {
		return engine.HostLauncher
	}
	return func(ctx context.Context, argv []string) *exec.Cmd {
		cmd, err := n.plane.Command(ctx, interfaceID, argv...)
		if err != nil {
			return &exec.Cmd{Path: argv[0], Args: argv, Err: fmt.Errorf("run in %s: %w", interfaceID, err)}
		}
		return cmd
	}
}

// Dialer connects from inside the interface's network namespace.
func (n *networkController) Dialer(interfaceID string) engine.DialFunc {
	if n.plane == nil {
		return dialLoopback
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.plane.Dial(ctx, interfaceID, network, addr)
	}
}

// Listen opens a listener inside the interface's network namespace.
func (n *networkController) Listen(ctx context.Context, interfaceID, network, addr string) (net.Listener, error) {
	if n.plane == nil {
		if !isLoopback(addr) {
			return nil, fmt.Errorf("loopback mode listens on loopback only, not %s", addr)
		}
		var lc net.ListenConfig
		return lc.Listen(ctx, network, addr)
	}
	return n.plane.Listen(ctx, interfaceID, network, addr)
}

// dialLoopback dials on the host, refusing anything but loopback: in
// loopback mode a VPC address must never be dialled from the host.
func dialLoopback(ctx context.Context, network, addr string) (net.Conn, error) {
	if !isLoopback(addr) {
		return nil, fmt.Errorf("loopback mode dials loopback only, not %s", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// outsideClients lists the outside clients that are still outside every
// VPC (one created since AddOutside took the address leaves it out).
func outsideClients(t *ec2.Topology, outside map[netip.Addr]bool) []netip.Addr {
	var out []netip.Addr
	for a := range outside {
		if !slices.ContainsFunc(t.VPCs, func(v ec2.TopoVPC) bool { return v.CIDR.Contains(a) }) {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, netip.Addr.Compare)
	return out
}

// stoppedStates are instance states whose interfaces are not realised.
var stoppedStates = map[string]bool{"stopped": true, "stopping": true, "terminated": true, "shutting-down": true}

// netplaneState maps the EC2 topology to the network plane's desired state.
func netplaneState(t *ec2.Topology) netplane.State {
	var st netplane.State
	for _, v := range t.VPCs {
		st.VPCs = append(st.VPCs, netplane.VPC{ID: v.ID, CIDRs: []netip.Prefix{v.CIDR}})
	}
	for _, s := range t.Subnets {
		st.Subnets = append(st.Subnets, netplane.Subnet{ID: s.ID, VPC: s.VpcID, CIDR: s.CIDR})
	}
	for _, i := range t.Interfaces {
		if i.InstanceID != "" && stoppedStates[i.InstanceState] {
			continue
		}
		kind, owner := "interface", i.ID
		switch {
		case i.InstanceID != "":
			kind, owner = "instance", i.InstanceID
		case i.RequesterID == ec2.RequesterElastiCache:
			kind, owner = "cache-node", strings.TrimPrefix(i.Description, "ElastiCache ")
		}
		st.Interfaces = append(st.Interfaces, netplane.Interface{
			ID: i.ID, Subnet: i.SubnetID, PrivateIP: i.IP, Groups: i.Groups, Kind: kind, Owner: owner,
			DisableSourceDestCheck: !i.SourceDestCheck, PublicIP: i.PublicIP,
		})
	}
	rules := func(in []ec2.TopoRule) []netplane.Rule {
		out := make([]netplane.Rule, 0, len(in))
		for _, r := range in {
			nr := netplane.Rule{ID: r.ID, Protocol: r.Protocol, FromPort: int(r.FromPort), ToPort: int(r.ToPort)}
			switch {
			case r.CIDR.IsValid():
				nr.CIDRs = []netip.Prefix{r.CIDR}
			case r.Group != nil:
				nr.Groups = []string{r.Group.GroupID}
			default:
				continue // prefix lists are not realised
			}
			out = append(out, nr)
		}
		return out
	}
	for _, g := range t.Groups {
		st.Groups = append(st.Groups, netplane.SecurityGroup{ID: g.ID, VPC: g.VpcID, Ingress: rules(g.Ingress), Egress: rules(g.Egress)})
	}
	// Peering routes: per subnet, the destinations the route table in
	// effect for it (its explicit association, else the main table) sends
	// over each peering; the union per VPC becomes the router's routes.
	tableRoutes := map[string][]ec2.TopoRoute{}
	for _, rt := range t.RouteTables {
		tableRoutes[rt.ID] = rt.Routes
	}
	type side struct{ pcx, vpc string }
	union := map[side][]netip.Prefix{}
	bySubnet := map[side]map[string][]netip.Prefix{}
	for _, sn := range t.Subnets {
		for _, r := range tableRoutes[sn.RouteTableID] {
			if !strings.HasPrefix(r.Target, "pcx-") || !r.Active {
				continue
			}
			k := side{r.Target, sn.VpcID}
			if bySubnet[k] == nil {
				bySubnet[k] = map[string][]netip.Prefix{}
			}
			bySubnet[k][sn.ID] = append(bySubnet[k][sn.ID], r.Dest)
			if !slices.Contains(union[k], r.Dest) {
				union[k] = append(union[k], r.Dest)
			}
		}
	}
	peeringSide := func(pcx, vpc string) netplane.PeeringSide {
		k := side{pcx, vpc}
		sr := bySubnet[k]
		if sr == nil {
			sr = map[string][]netip.Prefix{} // no subnet routes over it: nothing may leave
		}
		return netplane.PeeringSide{VPC: vpc, Routes: union[k], SubnetRoutes: sr}
	}
	for _, p := range t.Peerings {
		st.Peerings = append(st.Peerings, netplane.Peering{
			ID:        p.ID,
			Requester: peeringSide(p.ID, p.RequesterVpcID),
			Accepter:  peeringSide(p.ID, p.AccepterVpcID),
		})
	}
	// Internet gateways: attached ones only, with per subnet the
	// destinations its route table sends to the gateway.
	for _, g := range t.InternetGateways {
		if g.VpcID == "" {
			continue
		}
		routes := map[string][]netip.Prefix{}
		for _, sn := range t.Subnets {
			if sn.VpcID != g.VpcID {
				continue
			}
			for _, r := range tableRoutes[sn.RouteTableID] {
				if r.Target == g.ID && r.Active {
					routes[sn.ID] = append(routes[sn.ID], r.Dest)
				}
			}
		}
		st.InternetGateways = append(st.InternetGateways, netplane.InternetGateway{ID: g.ID, VPC: g.VpcID, SubnetRoutes: routes})
	}
	return st
}
