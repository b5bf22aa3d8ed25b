package vpcnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"

	"github.com/cachalot-dev/cachalot/internal/access"
	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine"
	"github.com/cachalot-dev/cachalot/internal/netplane"
	"github.com/cachalot-dev/cachalot/internal/store"
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

// Topology is the EC2 network model the controller realises.
type Topology interface {
	Topology(ctx context.Context, sel ec2.TopologySelector) (*ec2.Topology, error)
}

// Config configures a Controller.
type Config struct {
	EC2 Topology
	// Plane realises the topology; nil selects the loopback network mode
	// (nothing is realised, nodes listen on 127.0.0.1 ports of their own).
	Plane *netplane.Plane
	// Store keeps the loopback mode's host ports (keys under HostPortPrefix).
	Store store.Store
	// Published lists the endpoints published to the host, realised with
	// the topology (netplane's host links); nil publishes nothing. The
	// wiring adapts access.Service.HostEndpoints.
	Published func(ctx context.Context) ([]netplane.PublishedEndpoint, error)
	// ResolvDir holds the resolv.conf file of every VPC, which programs run
	// as on an instance see (EnterArgs, InstanceCommand; resolvconf.go);
	// "" gives them the host's.
	ResolvDir string
}

// Controller realises the EC2 model in the kernel through netplane: it reads
// the whole topology, maps it to netplane.State and applies it. It is a
// reconcile.Controller (watching ec2/ keys and the published caches), and what other controllers use
// to run, reach and serve processes in an interface's network (Sync applies
// at once, so an interface's namespace exists before a process starts in it).
type Controller struct {
	ec2       Topology
	plane     plane // nil in the loopback mode
	st        store.Store
	published func(ctx context.Context) ([]netplane.PublishedEndpoint, error)
	resolvDir string

	mu sync.Mutex // guards applied, dhcpWritten and outside; serialises Apply
	// applied is the state the last successful Apply realised; nil when
	// the next Sync must apply whatever the state (nothing applied yet, or
	// a full reconcile asked for it). Sync compares what it would apply
	// with it rather than the store revision the topology was read at:
	// every write to the store (a cluster's status, an event) moves the
	// revision, and after a restart a hundred clusters each syncing
	// before its engine starts would otherwise re-apply the whole
	// netplane a hundred times.
	applied *netplane.State
	// dhcpWritten are the DHCP options of each VPC the resolv.conf files
	// were last written for: the only input of those files that the
	// network plane's state does not hold (resolvconf.go).
	dhcpWritten map[string]*ec2.TopoDHCP
	// walk makes the next Sync apply with Apply, which checks every
	// namespace's links, addresses and routes, rather than ApplyChange,
	// which trusts those of the last Apply and converges only rulesets
	// when they are all that changed: at start, on a full reconcile and
	// after a failed Apply.
	walk bool
	// outside holds the addresses of the simulated clients on the internet
	// asked for since start (AddOutside). They are not EC2 resources and
	// are not kept: after a restart the first Apply removes their
	// namespaces, and the next `cachalot exec --outside` makes them again.
	outside map[netip.Addr]bool

	portMu sync.Mutex // serialises the choice of host ports (Bind)
}

// plane is what the controller uses of the network plane
// (*netplane.Plane); tests substitute a fake.
type plane interface {
	Apply(ctx context.Context, st netplane.State) error
	ApplyChange(ctx context.Context, st netplane.State) error
	Command(ctx context.Context, id string, argv ...string) (*exec.Cmd, error)
	CommandWith(ctx context.Context, id string, opt netplane.EnterOptions, argv ...string) (*exec.Cmd, error)
	EnterArgs(id string, opt netplane.EnterOptions) ([]string, error)
	ListenPacket(ctx context.Context, id, network, address string) (net.PacketConn, error)
	Dial(ctx context.Context, id, network, addr string) (net.Conn, error)
	Listen(ctx context.Context, id, network, addr string) (net.Listener, error)
	NetnsPath(id string) (string, error)
}

// New returns a controller; it has no side effects.
func New(cfg Config) *Controller {
	n := &Controller{ec2: cfg.EC2, st: cfg.Store, published: cfg.Published, resolvDir: cfg.ResolvDir, walk: true}
	if cfg.Plane != nil { // a nil *netplane.Plane must leave plane a nil interface
		n.plane = cfg.Plane
	}
	return n
}

// Name implements reconcile.Controller.
func (n *Controller) Name() string { return "network" }

// Watches implements reconcile.Controller: the EC2 model and the caches
// published to the host.
func (n *Controller) Watches(key string) bool {
	return strings.HasPrefix(key, "ec2/") || access.PublishedKey(key)
}

// Reconcile implements reconcile.Controller: it applies the topology, or,
// in the loopback mode, forgets the host ports of deleted interfaces.
func (n *Controller) Reconcile(ctx context.Context, changed []string) error {
	if n.plane == nil {
		return n.forgetDeleted(ctx)
	}
	if changed == nil {
		n.mu.Lock()
		n.applied = nil // a full run re-applies even an unchanged topology
		n.walk = true   // and checks every namespace
		n.mu.Unlock()
	}
	return n.Sync(ctx)
}

// Sync applies the current topology and published endpoints unless the
// state they map to is the one last applied: a Sync after a change of the EC2 model applies it before it
// returns, and one without such a change costs a read of the topology.
func (n *Controller) Sync(ctx context.Context) error {
	if n.plane == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	topo, err := n.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return fmt.Errorf("read topology: %w", err)
	}
	st := netplaneState(topo)
	st.Outside = outsideClients(topo, n.outside)
	if n.published != nil {
		if st.Published, err = n.published(ctx); err != nil {
			return fmt.Errorf("read published endpoints: %w", err)
		}
	}
	dhcp := make(map[string]*ec2.TopoDHCP, len(topo.VPCs))
	for _, v := range topo.VPCs {
		dhcp[v.ID] = v.DHCP
	}
	if n.applied != nil && reflect.DeepEqual(*n.applied, st) {
		if reflect.DeepEqual(n.dhcpWritten, dhcp) {
			return nil
		}
		// Only DHCP options changed: the files, not the network.
		if err := n.writeResolvConfs(topo); err != nil {
			return err
		}
		n.dhcpWritten = dhcp
		return nil
	}
	apply := n.plane.ApplyChange
	if n.walk {
		apply = n.plane.Apply
	}
	if err := apply(ctx, st); err != nil {
		n.applied, n.walk = nil, true
		return err
	}
	n.walk = false
	if err := n.writeResolvConfs(topo); err != nil {
		return err
	}
	n.applied, n.dhcpWritten = &st, dhcp
	return nil
}

// Loopback reports whether processes run on the host's loopback (the
// loopback network mode) rather than in their interface's namespace.
func (n *Controller) Loopback() bool { return n.plane == nil }

// Command returns a command that runs argv inside the interface's network
// namespace; an error in the loopback mode, which has no such network.
func (n *Controller) Command(ctx context.Context, interfaceID string, argv ...string) (*exec.Cmd, error) {
	if n.plane == nil {
		return nil, ErrNoNamespaces
	}
	return n.plane.Command(ctx, interfaceID, argv...)
}

// Launcher runs a program inside the interface's network namespace (on the
// host in loopback mode).
func (n *Controller) Launcher(interfaceID string) engine.Launcher {
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
func (n *Controller) Dialer(interfaceID string) engine.DialFunc {
	if n.plane == nil {
		return dialLoopback
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return n.plane.Dial(ctx, interfaceID, network, addr)
	}
}

// Listen opens a listener inside the interface's network namespace.
func (n *Controller) Listen(ctx context.Context, interfaceID, network, addr string) (net.Listener, error) {
	if n.plane == nil {
		if !isLoopback(addr) {
			return nil, fmt.Errorf("loopback mode listens on loopback only, not %s", addr)
		}
		var lc net.ListenConfig
		return lc.Listen(ctx, network, addr)
	}
	return n.plane.Listen(ctx, interfaceID, network, addr)
}

// ListenPacket opens a packet listener (udp4, …) inside the namespace of
// an interface or VPC router; an error in the loopback mode, which has no
// such network.
func (n *Controller) ListenPacket(ctx context.Context, id, network, addr string) (net.PacketConn, error) {
	if n.plane == nil {
		return nil, ErrNoNamespaces
	}
	return n.plane.ListenPacket(ctx, id, network, addr)
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
