package instancectl

import (
	"context"
	"net"
	"os/exec"
	"slices"
	"sync"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/engine/identity"
)

type fakeTopo struct {
	mu   sync.Mutex // guards topo
	topo ec2.Topology
}

func (f *fakeTopo) Topology(context.Context, ec2.TopologySelector) (*ec2.Topology, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.topo
	t.Interfaces = slices.Clone(t.Interfaces)
	return &t, nil
}

// fakeMDNet listens on loopback ports and records the commands run in
// each interface's network.
type fakeMDNet struct {
	mu       sync.Mutex // guards commands
	commands map[string][][]string
}

func (*fakeMDNet) Loopback() bool             { return false }
func (*fakeMDNet) Sync(context.Context) error { return nil }
func (f *fakeMDNet) Command(ctx context.Context, id string, argv ...string) (*exec.Cmd, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.commands == nil {
		f.commands = map[string][][]string{}
	}
	f.commands[id] = append(f.commands[id], argv)
	return exec.CommandContext(ctx, "true"), nil
}
func (*fakeMDNet) Listen(ctx context.Context, _, network, _ string) (net.Listener, error) {
	var lc net.ListenConfig
	if network == "tcp6" {
		return lc.Listen(ctx, network, "[::1]:0")
	}
	return lc.Listen(ctx, network, "127.0.0.1:0")
}

// fakeServer records which instances are served, and which forgotten.
type fakeServer struct {
	mu        sync.Mutex // guards serving, forgotten
	serving   map[string]int
	forgotten []string
}

func (f *fakeServer) Serve(l net.Listener, account, region, instance string) error {
	f.mu.Lock()
	if f.serving == nil {
		f.serving = map[string]int{}
	}
	f.serving[instance]++
	f.mu.Unlock()
	for {
		c, err := l.Accept()
		if err != nil {
			break
		}
		c.Close()
	}
	f.mu.Lock()
	f.serving[instance]--
	f.mu.Unlock()
	return nil
}

func (f *fakeServer) Forget(account, region, instance string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.forgotten = append(f.forgotten, instance)
}

func (m *Metadata) openInstances() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.open {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestMetadataListeners: a listener per running instance with the
// endpoint enabled, on its primary interface, with the address added
// first; none for stopped, disabled, terminated or interface-less ones;
// the states visited in any order converge to the same listeners.
func TestMetadataListeners(t *testing.T) {
	iface := func(id, inst, state string, enabled bool) ec2.TopoInterface {
		return ec2.TopoInterface{Account: "111111111111", Region: "us-east-1", ID: id, InstanceID: inst, InstanceState: state, MetadataHTTP: enabled}
	}
	states := map[string][]ec2.TopoInterface{
		"empty":    nil,
		"two":      {iface("eni-a", "i-a", "running", true), iface("eni-b", "i-b", "running", true), iface("eni-c", "", "", false)},
		"stopped":  {iface("eni-a", "i-a", "stopped", true), iface("eni-b", "i-b", "running", true)},
		"disabled": {iface("eni-a", "i-a", "running", false), iface("eni-b", "i-b", "running", true)},
		"gone":     {iface("eni-b", "i-b", "terminated", true)},
		"ipv6":     {iface("eni-b", "i-b", "running", true)},
	}
	states["ipv6"][0].MetadataIPv6 = true
	want := map[string][]string{
		"empty": nil, "two": {"111111111111/us-east-1/i-a", "111111111111/us-east-1/i-b"},
		"stopped": {"111111111111/us-east-1/i-b"}, "disabled": {"111111111111/us-east-1/i-b"}, "gone": nil,
		"ipv6": {"111111111111/us-east-1/i-b"},
	}
	order := []string{"two", "stopped", "two", "disabled", "gone", "two", "ipv6", "empty", "disabled", "ipv6", "stopped", "gone", "two", "two"}
	topo, n, srv := &fakeTopo{}, &fakeMDNet{}, &fakeServer{}
	m := NewMetadata(topo, n, srv, nil)
	for _, s := range order {
		topo.mu.Lock()
		topo.topo.Interfaces = states[s]
		topo.mu.Unlock()
		if err := m.Reconcile(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if got := m.openInstances(); !slices.Equal(got, want[s]) {
			t.Errorf("after %s: listeners = %v, want %v", s, got, want[s])
		}
		m.mu.Lock()
		if l := m.open["111111111111/us-east-1/i-b"]; l != nil && len(l.ls) != map[bool]int{false: 1, true: 2}[s == "ipv6"] {
			t.Errorf("after %s: i-b has %d listeners, want %d", s, len(l.ls), map[bool]int{false: 1, true: 2}[s == "ipv6"])
		}
		m.mu.Unlock()
	}
	n.mu.Lock()
	if cmds := n.commands["eni-a"]; len(cmds) < 2 || !slices.Equal(cmds[0], []string{"nft", "-f", "-"}) ||
		!slices.Equal(cmds[1], []string{"ip", "-4", "addr", "replace", "169.254.169.254/32", "dev", "lo"}) {
		t.Errorf("commands in eni-a's network = %v, want port 80 translated, then the metadata address added to lo", cmds)
	}
	n.mu.Unlock()
	m.Close()
	srv.mu.Lock()
	defer srv.mu.Unlock()
	for inst, k := range srv.serving {
		if k != 0 {
			t.Errorf("%s still served %d times after Close", inst, k)
		}
	}
	if !slices.Contains(srv.forgotten, "i-a") {
		t.Errorf("forgotten = %v, want i-a forgotten once gone", srv.forgotten)
	}
}

// TestUserDataAfterMetadata: an instance's user data starts once its
// metadata service listens, though the metadata controller itself has not
// run yet.
func TestUserDataAfterMetadata(t *testing.T) {
	f := &fakeEC2{
		topo: ec2.Topology{Interfaces: []ec2.TopoInterface{
			{Account: "a", Region: "r", ID: "eni-1", InstanceID: "i-1", InstanceState: "running", MetadataHTTP: true},
		}},
		userData: map[string]string{"i-1": "echo hi\n"},
		console:  map[string]*string{},
	}
	srv := &fakeServer{}
	md := NewMetadata(&fakeTopo{}, &fakeMDNet{}, srv, nil) // its own topology is empty: only Ensure opens
	c := New(f, &hostNet{}, Config{Identities: identity.New(t.TempDir(), identity.UserData()), Metadata: md})
	if err := c.Reconcile(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	c.Wait()
	if got := md.openInstances(); !slices.Equal(got, []string{"a/r/i-1"}) {
		t.Errorf("metadata listeners when user data started = %v, want i-1's", got)
	}
	md.Close()
}

// failingMDNet fails every command in an interface's network, as when its
// namespace is gone, after calling then (if set).
type failingMDNet struct {
	fakeMDNet
	then func()
}

func (f *failingMDNet) Command(ctx context.Context, id string, argv ...string) (*exec.Cmd, error) {
	if f.then != nil {
		f.then()
	}
	return exec.CommandContext(ctx, "false"), nil
}

// TestMetadataInstanceGoneMeanwhile: a service that cannot be opened is a
// failure while its instance should still have one, and none once the
// instance was terminated meanwhile (its namespace gone with it).
func TestMetadataInstanceGoneMeanwhile(t *testing.T) {
	running := []ec2.TopoInterface{{Account: "111111111111", Region: "us-east-1", ID: "eni-a", InstanceID: "i-a", InstanceState: "running", MetadataHTTP: true}}
	topo := &fakeTopo{topo: ec2.Topology{Interfaces: running}}
	n := &failingMDNet{}
	m := NewMetadata(topo, n, &fakeServer{}, nil)
	defer m.Close()
	if err := m.Reconcile(context.Background(), nil); err == nil {
		t.Error("Reconcile with the service failing to open, instance running: nil, want the failure")
	}
	n.then = func() {
		topo.mu.Lock()
		defer topo.mu.Unlock()
		topo.topo.Interfaces = []ec2.TopoInterface{running[0]}
		topo.topo.Interfaces[0].InstanceState = "terminated"
	}
	if err := m.Reconcile(context.Background(), nil); err != nil {
		t.Errorf("Reconcile with the instance terminated while its service was opened: %v, want nil", err)
	}
	if got := m.openInstances(); len(got) != 0 {
		t.Errorf("listeners = %v, want none", got)
	}
}
