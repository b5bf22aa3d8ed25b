package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
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

	mu      sync.Mutex // guards applied; serialises Apply
	applied uint64     // store revision of the last applied topology
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
	if err := n.plane.Apply(ctx, netplaneState(topo)); err != nil {
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
			DisableSourceDestCheck: !i.SourceDestCheck,
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
	return st
}
