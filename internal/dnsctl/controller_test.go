package dnsctl

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/cachalot-dev/cachalot/internal/ec2"
	"github.com/cachalot-dev/cachalot/internal/elasticache"
)

// fakeWorld is the EC2 model, the caches' names and a network whose
// "router namespaces" are loopback sockets on ports of their own, each
// with a file standing for the namespace (its inode is the namespace's).
type fakeWorld struct {
	t   *testing.T
	dir string

	mu     sync.Mutex // guards the fields below
	topo   ec2.Topology
	names  []elasticache.EndpointName
	addrs  map[string]string // VPC id -> address its UDP socket got
	opened int               // sockets opened
	syncs  int               // Sync calls
}

func (f *fakeWorld) Topology(context.Context, ec2.TopologySelector) (*ec2.Topology, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.topo
	t.VPCs = slices.Clone(t.VPCs)
	return &t, nil
}

func (f *fakeWorld) AllNames(context.Context) ([]elasticache.EndpointName, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.names), nil
}

func (f *fakeWorld) Loopback() bool { return false }

func (f *fakeWorld) Sync(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.syncs++
	for _, v := range f.topo.VPCs { // realise: a namespace per VPC
		p := filepath.Join(f.dir, v.ID)
		if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeWorld) NetnsPath(id string) (string, error) { return filepath.Join(f.dir, id), nil }

func (f *fakeWorld) ListenPacket(ctx context.Context, id, network, addr string) (net.PacketConn, error) {
	if addr != "0.0.0.0:53" || network != "udp4" {
		return nil, errors.New("unexpected " + network + " " + addr)
	}
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.addrs[id] = pc.LocalAddr().String()
	f.opened++
	return pc, nil
}

func (f *fakeWorld) Listen(ctx context.Context, id, network, addr string) (net.Listener, error) {
	if addr != "0.0.0.0:53" || network != "tcp4" {
		return nil, errors.New("unexpected " + network + " " + addr)
	}
	var lc net.ListenConfig
	return lc.Listen(ctx, "tcp4", "127.0.0.1:0")
}

// ask queries VPC id's server over UDP: the answer's address, or its rcode.
func (f *fakeWorld) ask(id, name string) string {
	f.t.Helper()
	f.mu.Lock()
	addr := f.addrs[id]
	f.mu.Unlock()
	c := &dns.Client{Timeout: 2 * time.Second}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return "error " + err.Error()
	}
	if len(r.Answer) == 0 {
		return dns.RcodeToString[r.Rcode]
	}
	return r.Answer[0].(*dns.A).A.String()
}

func (f *fakeWorld) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

// The controller serves the VPCs with DNS support, answers from the latest
// store view after each reconcile, stops a VPC's server when its support is
// turned off or the VPC goes, reopens it when the router namespace is made
// anew, and serves nothing after Close.
func TestControllerConverges(t *testing.T) {
	f := &fakeWorld{t: t, dir: t.TempDir(), addrs: map[string]string{}}
	node := "web.km2jzi.0001.use1.cache.amazonaws.com"
	f.topo.VPCs = []ec2.TopoVPC{
		{Region: "us-east-1", ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16"), DNSSupport: true, DNSHostnames: true},
		{Region: "us-east-1", ID: "vpc-b", CIDR: netip.MustParsePrefix("10.1.0.0/16")},
	}
	f.topo.Interfaces = []ec2.TopoInterface{{ID: "eni-1", VpcID: "vpc-a", IP: ip("10.0.1.5"), InstanceID: "i-1", InstanceState: "running"}}
	f.names = []elasticache.EndpointName{{Name: node, IP: ip("10.0.1.9")}}
	c := New(Config{EC2: f, Caches: f, Network: f, Domain: "cache.amazonaws.com"})
	ctx := context.Background()
	reconcile := func() {
		t.Helper()
		if err := c.Reconcile(ctx, nil); err != nil {
			t.Fatalf("Reconcile = %v", err)
		}
	}
	serving := func(want ...string) {
		t.Helper()
		got := c.Serving()
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("serving %v, want %v", got, want)
		}
	}

	reconcile()
	serving("vpc-a")
	for name, want := range map[string]string{
		node:                         "10.0.1.9",
		"ip-10-0-1-5.ec2.internal":   "10.0.1.5",
		"nosuch.cache.amazonaws.com": "NXDOMAIN",
		"example.com":                "REFUSED",
	} {
		if got := f.ask("vpc-a", name); got != want {
			t.Errorf("vpc-a: %s = %s, want %s", name, got, want)
		}
	}

	// A node replaced: the next query after the reconcile sees it; the
	// server is not reopened for that.
	f.set(func() { f.names[0].IP = ip("10.0.1.10") })
	reconcile()
	if got := f.ask("vpc-a", node); got != "10.0.1.10" {
		t.Errorf("after the change: %s = %s, want 10.0.1.10", node, got)
	}
	// vpc-b turns DNS support on, vpc-a hostnames off.
	f.set(func() { f.topo.VPCs[1].DNSSupport, f.topo.VPCs[0].DNSHostnames = true, false })
	reconcile()
	serving("vpc-a", "vpc-b")
	if got := f.ask("vpc-b", node); got != "10.0.1.10" {
		t.Errorf("vpc-b: %s = %s, want 10.0.1.10 (cache names resolve in every VPC)", node, got)
	}
	if got := f.ask("vpc-a", "ip-10-0-1-5.ec2.internal"); got != "NXDOMAIN" {
		t.Errorf("vpc-a without hostnames: ip-10-0-1-5.ec2.internal = %s, want NXDOMAIN", got)
	}
	if f.opened != 2 {
		t.Errorf("%d sockets opened, want 2 (one per VPC)", f.opened)
	}
	// vpc-a's namespace made anew (deleted by hand, realised again): the
	// server moves into the new one.
	f.set(func() { f.opened = 0 })
	if err := os.Remove(filepath.Join(f.dir, "vpc-a")); err != nil {
		t.Fatal(err)
	}
	reconcile()
	if f.opened != 1 || f.ask("vpc-a", node) != "10.0.1.10" {
		t.Errorf("after a new namespace: %d sockets opened (want 1), %s = %s", f.opened, node, f.ask("vpc-a", node))
	}
	// DNS support off in vpc-a, vpc-b deleted.
	oldA := f.addrs["vpc-a"]
	f.set(func() {
		f.topo.VPCs = []ec2.TopoVPC{{Region: "us-east-1", ID: "vpc-a", CIDR: netip.MustParsePrefix("10.0.0.0/16")}}
	})
	reconcile()
	serving()
	c2 := &dns.Client{Timeout: 300 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(node), dns.TypeA)
	if r, _, err := c2.Exchange(m, oldA); err == nil {
		t.Errorf("vpc-a after DNS off answered %v", r)
	}
	// A start after Close serves nothing.
	f.set(func() { f.topo.VPCs[0].DNSSupport = true })
	c.Close()
	reconcile()
	serving()
}
