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
	"strings"
	"sync"

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
	// ResolvDir holds the resolv.conf file of every VPC, which programs run
	// as on an instance see (EnterArgs, InstanceCommand; resolvconf.go);
	// "" gives them the host's.
	ResolvDir string
}

// Controller realises the EC2 model in the kernel through netplane: it reads
// the whole topology, maps it to netplane.State and applies it. It is a
// reconcile.Controller (watching ec2/ keys), and what other controllers use
// to run, reach and serve processes in an interface's network (Sync applies
// at once, so an interface's namespace exists before a process starts in it).
type Controller struct {
	ec2       Topology
	plane     *netplane.Plane // nil in the loopback mode
	st        store.Store
	resolvDir string

	mu      sync.Mutex // guards applied and outside; serialises Apply
	applied uint64     // store revision of the last applied topology
	// outside holds the addresses of the simulated clients on the internet
	// asked for since start (AddOutside). They are not EC2 resources and
	// are not kept: after a restart the first Apply removes their
	// namespaces, and the next `cachalot exec --outside` makes them again.
	outside map[netip.Addr]bool

	portMu sync.Mutex // serialises the choice of host ports (Bind)
}

// New returns a controller; it has no side effects.
func New(cfg Config) *Controller {
	return &Controller{ec2: cfg.EC2, plane: cfg.Plane, st: cfg.Store, resolvDir: cfg.ResolvDir}
}

// Name implements reconcile.Controller.
func (n *Controller) Name() string { return "network" }

// Watches implements reconcile.Controller: the EC2 model.
func (n *Controller) Watches(key string) bool { return strings.HasPrefix(key, "ec2/") }

// Reconcile implements reconcile.Controller: it applies the topology, or,
// in the loopback mode, forgets the host ports of deleted interfaces.
func (n *Controller) Reconcile(ctx context.Context, changed []string) error {
	if n.plane == nil {
		return n.forgetDeleted(ctx)
	}
	if changed == nil {
		n.mu.Lock()
		n.applied = 0 // a full run re-applies even an unchanged topology
		n.mu.Unlock()
	}
	return n.Sync(ctx)
}

// Sync applies the current topology unless it was already applied.
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
	if topo.Revision == n.applied && n.applied != 0 {
		return nil
	}
	st := netplaneState(topo)
	st.Outside = outsideClients(topo, n.outside)
	if err := n.plane.Apply(ctx, st); err != nil {
		return err
	}
	if err := n.writeResolvConfs(topo); err != nil {
		return err
	}
	n.applied = topo.Revision
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
