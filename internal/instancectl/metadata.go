package instancectl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"

	"github.com/cachalot-dev/cachalot/internal/ec2"
)

// The instance metadata service's side of the controller. Each running
// instance whose metadata endpoint is enabled has, inside its network
// namespace, the address 169.254.169.254/32 on lo (and fd00:ec2::254/128
// with HttpProtocolIpv6 enabled), a TCP listener held by the daemon on
// metadataPort of it, which port 80 is translated to (metadataNAT), served by the metadata server (internal/imds,
// passed by the wiring). The address makes the service local to the
// instance's namespace: nothing outside it can reach the listener, and the
// instance reaches it over its own loopback, past any network rule. The
// listener's namespace says which instance asks.
//
// Listeners die with the daemon; the address stays with the namespace. A
// full reconcile after a restart (or kill -9) re-adds the address (ip addr
// replace: idempotent) and listens again. An instance that stops, whose
// endpoint is disabled (ModifyInstanceMetadataOptions HttpEndpoint
// disabled) or that is terminated has its listener closed, so connections
// are refused; termination removes the namespace, address included (the
// closed listener no longer pins it).

// MetadataIP is the instance metadata service's address, and MetadataIPv6
// its IPv6 address (served when HttpProtocolIpv6 is enabled).
const (
	MetadataIP   = "169.254.169.254"
	MetadataIPv6 = "fd00:ec2::254"
)

// metadataPort is the port the daemon's listener holds on the service's
// address inside an instance's namespace, outside the kernel's ephemeral
// range (32768–60999) so no outgoing connection of the instance takes it;
// port 80 reaches it through metadataNAT.
const metadataPort = 65254

// metadataNAT is the nftables table loaded in each instance's namespace
// (replaced whole: idempotent) that translates the service's port 80 to
// metadataPort, for the instance's own packets only.
var metadataNAT = fmt.Sprintf(`add table inet cachalot-imds
delete table inet cachalot-imds
table inet cachalot-imds {
	comment "instance metadata service: port 80 to the daemon's listener"
	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr %[1]s tcp dport 80 dnat ip to %[1]s:%[3]d
		ip6 daddr %[2]s tcp dport 80 dnat ip6 to [%[2]s]:%[3]d
	}
}
`, MetadataIP, MetadataIPv6, metadataPort)

// Topology reads the EC2 model (ec2.Service).
type Topology interface {
	Topology(ctx context.Context, sel ec2.TopologySelector) (*ec2.Topology, error)
}

// MetadataNetwork is what the metadata controller needs of the network
// (vpcnet.Controller).
type MetadataNetwork interface {
	Loopback() bool
	Sync(ctx context.Context) error
	// Command runs argv inside the interface's network namespace.
	Command(ctx context.Context, interfaceID string, argv ...string) (*exec.Cmd, error)
	// Listen listens inside the interface's network namespace.
	Listen(ctx context.Context, interfaceID, network, addr string) (net.Listener, error)
}

// MetadataServer serves one instance's metadata on l until l is closed
// (imds.Server).
type MetadataServer interface {
	Serve(l net.Listener, account, region, instance string) error
	// Forget drops what is cached for an instance that is gone.
	Forget(account, region, instance string)
}

// Metadata is the controller of the instances' metadata endpoints. It is a
// reconcile.Controller watching ec2/ keys.
type Metadata struct {
	ec2 Topology
	net MetadataNetwork
	srv MetadataServer
	log *slog.Logger

	// lmu serialises the opening of listeners (Reconcile and Ensure may
	// open the same one); taken before mu.
	lmu sync.Mutex
	mu  sync.Mutex // guards open
	// open holds the listeners, by account/region/instance.
	open map[string]*mdListener
	wg   sync.WaitGroup
}

type mdListener struct {
	eni  string
	ipv6 bool
	ls   []net.Listener
}

func (l *mdListener) close() {
	for _, x := range l.ls {
		x.Close()
	}
}

// NewMetadata returns the controller; it has no side effects.
func NewMetadata(topo Topology, n MetadataNetwork, srv MetadataServer, log *slog.Logger) *Metadata {
	if log == nil {
		log = slog.Default()
	}
	return &Metadata{ec2: topo, net: n, srv: srv, log: log, open: map[string]*mdListener{}}
}

// Name implements reconcile.Controller.
func (m *Metadata) Name() string { return "instance-metadata" }

// Watches implements reconcile.Controller: the EC2 model.
func (m *Metadata) Watches(key string) bool { return strings.HasPrefix(key, "ec2/") }

// Reconcile implements reconcile.Controller: it closes the listeners of
// instances that should have none and opens the missing ones.
func (m *Metadata) Reconcile(ctx context.Context, _ []string) error {
	if m.net.Loopback() {
		return nil // no instance networks: no metadata service
	}
	topo, err := m.ec2.Topology(ctx, ec2.TopologySelector{})
	if err != nil {
		return err
	}
	want := metadataWanted(topo)
	var missing []string
	m.mu.Lock()
	for key, l := range m.open {
		if w, ok := want[key]; !ok || w.ID != l.eni || w.MetadataIPv6 != l.ipv6 {
			l.close()
			delete(m.open, key)
			if !ok {
				acct, rest, _ := strings.Cut(key, "/")
				region, inst, _ := strings.Cut(rest, "/")
				m.srv.Forget(acct, region, inst)
			}
		}
	}
	for key := range want {
		if m.open[key] == nil {
			missing = append(missing, key)
		}
	}
	m.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	if err := m.net.Sync(ctx); err != nil {
		return err
	}
	failed := map[string]error{}
	for _, key := range missing {
		if err := m.listen(ctx, key, want[key]); err != nil {
			failed[key] = fmt.Errorf("metadata service of %s: %w", want[key].InstanceID, err)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	// An instance stopped or terminated while its service was being opened
	// (its namespace already gone) is no failure: the model moved on.
	if now, err := m.ec2.Topology(ctx, ec2.TopologySelector{}); err == nil {
		still := metadataWanted(now)
		for key := range failed {
			if w, ok := still[key]; !ok || w.ID != want[key].ID {
				delete(failed, key)
			}
		}
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(failed)) {
		errs = append(errs, failed[key])
	}
	return errors.Join(errs...)
}

// metadataWanted returns, by account/region/instance, the primary
// interfaces of the instances of topo that should serve metadata.
func metadataWanted(topo *ec2.Topology) map[string]ec2.TopoInterface {
	want := map[string]ec2.TopoInterface{}
	for _, i := range topo.Interfaces {
		if i.InstanceID != "" && i.InstanceState == "running" && i.MetadataHTTP {
			want[i.Account+"/"+i.Region+"/"+i.InstanceID] = i
		}
	}
	return want
}

// Ensure opens the metadata service of the instance of interface i now
// if it should have one and has none yet: user data runs only once it
// answers, as on EC2, where a launch script may read its instance's
// metadata.
func (m *Metadata) Ensure(ctx context.Context, i ec2.TopoInterface) error {
	if m.net.Loopback() || i.InstanceID == "" || i.InstanceState != "running" || !i.MetadataHTTP {
		return nil
	}
	key := i.Account + "/" + i.Region + "/" + i.InstanceID
	m.mu.Lock()
	open := m.open[key] != nil
	m.mu.Unlock()
	if open {
		return nil
	}
	if err := m.net.Sync(ctx); err != nil {
		return err
	}
	return m.listen(ctx, key, i)
}

// listen adds the metadata address (and the IPv6 one when enabled) to the
// namespace's lo and serves a listener on each.
func (m *Metadata) listen(ctx context.Context, key string, i ec2.TopoInterface) error {
	m.lmu.Lock()
	defer m.lmu.Unlock()
	m.mu.Lock()
	open := m.open[key] != nil
	m.mu.Unlock()
	if open {
		return nil // opened meanwhile
	}
	port := fmt.Sprint(metadataPort)
	addrs := []struct{ family, prefix, network, addr string }{{"-4", MetadataIP + "/32", "tcp4", MetadataIP + ":" + port}}
	if i.MetadataIPv6 {
		addrs = append(addrs, struct{ family, prefix, network, addr string }{"-6", MetadataIPv6 + "/128", "tcp6", "[" + MetadataIPv6 + "]:" + port})
	}
	// Port 80 of the service's address is translated to the listener's
	// port in the instance's own namespace: a listener on port 80 itself
	// would take port 80 from the instance's programs, which bind it on
	// every address (a web server on 0.0.0.0:80).
	cmd, err := m.net.Command(ctx, i.ID, "nft", "-f", "-")
	if err != nil {
		return err
	}
	cmd.Stdin = strings.NewReader(metadataNAT)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("metadata address translation: %w: %s", err, strings.TrimSpace(string(out)))
	}
	ml := &mdListener{eni: i.ID, ipv6: i.MetadataIPv6}
	for _, a := range addrs {
		// nodad: the address is usable at once (no duplicate detection on lo).
		argv := []string{"ip", a.family, "addr", "replace", a.prefix, "dev", "lo"}
		if a.family == "-6" {
			argv = append(argv, "nodad")
		}
		cmd, err := m.net.Command(ctx, i.ID, argv...)
		if err != nil {
			ml.close()
			return err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			ml.close()
			return fmt.Errorf("add %s to lo: %w: %s", a.prefix, err, strings.TrimSpace(string(out)))
		}
		l, err := m.net.Listen(ctx, i.ID, a.network, a.addr)
		if err != nil {
			ml.close()
			return err
		}
		ml.ls = append(ml.ls, l)
	}
	m.mu.Lock()
	m.open[key] = ml
	m.wg.Add(len(ml.ls))
	m.mu.Unlock()
	for _, l := range ml.ls {
		go func() {
			defer m.wg.Done()
			if err := m.srv.Serve(l, i.Account, i.Region, i.InstanceID); err != nil {
				m.log.Warn("instance metadata service stopped", "instance", i.InstanceID, "err", err)
			}
		}()
	}
	m.log.Debug("instance metadata service listening", "instance", i.InstanceID, "interface", i.ID, "ipv6", i.MetadataIPv6)
	return nil
}

// Close closes every listener and waits for their servers to return.
func (m *Metadata) Close() {
	m.mu.Lock()
	for key, l := range m.open {
		l.close()
		delete(m.open, key)
	}
	m.mu.Unlock()
	m.wg.Wait()
}
