package netplane

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// requireRoot skips unless the test runs as root with nft and nsenter, and
// logs that it runs so that a silent skip shows in CI.
func requireRoot(t testing.TB) {
	t.Helper()
	// The marker is internal/privtest's, spelled out: netplane imports
	// nothing of Cachalot's, not even in tests.
	const marker = "[privileged]"
	if os.Geteuid() != 0 {
		t.Skipf("%s skipped: needs root", marker)
	}
	for _, bin := range []string{"nft", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s skipped: needs %s: %v", marker, bin, err)
		}
	}
	t.Logf("%s running as root", marker)
}

// syncBuffer is a log sink the planes of the tests write to.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Reset forgets what was written so far.
func (s *syncBuffer) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.Reset()
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newTestPlane returns a Plane with a prefix unique to the test, torn down
// in t.Cleanup, which then checks that nothing of the prefix is left.
func newTestPlane(t testing.TB) (*Plane, *syncBuffer) {
	t.Helper()
	requireRoot(t)
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	prefix := "t" + hex.EncodeToString(b[:])
	logs := &syncBuffer{}
	p, err := New(Config{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Teardown(context.Background()); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		assertNothingLeft(t, prefix)
	})
	return p, logs
}

func assertNothingLeft(t testing.TB, prefix string) {
	t.Helper()
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix+"-") {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	links, _ := netlink.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix+"-") {
			t.Errorf("host link %s left behind", l.Attrs().Name)
		}
	}
	if err := exec.Command("nft", "list", "table", "inet", prefix).Run(); err == nil {
		t.Errorf("host table inet %s left behind", prefix)
	}
}

func apply(t testing.TB, p *Plane, st State) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Apply(ctx, st); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// serve runs a line echo server inside eni's namespace until the test ends.
func serve(t testing.TB, p *Plane, eni string, ports ...int) {
	t.Helper()
	for _, port := range ports {
		serveConns(t, p, eni, port, func(c net.Conn) { _, _ = io.Copy(c, c) })
	}
}

// serveConns calls handle on every connection to port inside namespace id,
// then closes it, until the test ends.
func serveConns(t testing.TB, p *Plane, id string, port int, handle func(net.Conn)) {
	t.Helper()
	l, err := p.Listen(context.Background(), id, "tcp4", fmt.Sprintf(":%d", port))
	if err != nil {
		t.Fatalf("Listen(%s :%d): %v", id, port, err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}

// run runs a command that must succeed (ip, nft: damage done by hand).
func run(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", args, err, out)
	}
}

// echo writes a line on c and reads it back, within timeout.
func echo(c net.Conn, timeout time.Duration) error {
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("ping\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "ping\n" {
		return fmt.Errorf("echo = %q", line)
	}
	return nil
}

// connect opens a TCP connection from eni to addr and exchanges a line,
// within timeout.
func connect(p *Plane, from, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := p.Dial(ctx, from, "tcp4", addr)
	if err != nil {
		return nil, err
	}
	if err := echo(c, timeout); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

const (
	okTimeout      = 3 * time.Second
	blockedTimeout = 400 * time.Millisecond
)

func canReach(t testing.TB, p *Plane, from, addr string) {
	t.Helper()
	c, err := connect(p, from, addr, okTimeout)
	if err != nil {
		t.Errorf("%s -> %s: %v, want a connection", from, addr, err)
		return
	}
	c.Close()
}

func cannotReach(t testing.TB, p *Plane, from, addr string) {
	t.Helper()
	c, err := connect(p, from, addr, blockedTimeout)
	if err == nil {
		c.Close()
		t.Errorf("%s -> %s connected, want it blocked", from, addr)
		return
	}
	// Blocked means dropped (a timeout) or unroutable, not refused: the
	// listener is there.
	var ne net.Error
	if (!errors.As(err, &ne) || !ne.Timeout()) && !errors.Is(err, syscall.ENETUNREACH) && !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Errorf("%s -> %s: %v, want a timeout (dropped) or unreachable", from, addr, err)
	}
}

// testState: one VPC, two subnets; A may reach B on 6379 (B's ingress
// references A's group); C is in no such group; D in another subnet.
func testState() State {
	allOut := Rule{ID: "sgr-0allout", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}
	return State{
		VPCs: []VPC{{ID: "vpc-0a", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}}},
		Subnets: []Subnet{
			{ID: "subnet-01", VPC: "vpc-0a", CIDR: pfx("10.0.1.0/24")},
			{ID: "subnet-02", VPC: "vpc-0a", CIDR: pfx("10.0.2.0/24")},
		},
		Interfaces: []Interface{
			{ID: "eni-0a", Subnet: "subnet-01", PrivateIP: addr("10.0.1.10"), Groups: []string{"sg-0a"}, Kind: "instance"},
			{ID: "eni-0b", Subnet: "subnet-01", PrivateIP: addr("10.0.1.20"), Groups: []string{"sg-0b"}, Kind: "cache-node"},
			{ID: "eni-0c", Subnet: "subnet-01", PrivateIP: addr("10.0.1.30"), Groups: []string{"sg-0c"}, Kind: "instance"},
			{ID: "eni-0d", Subnet: "subnet-02", PrivateIP: addr("10.0.2.40"), Groups: []string{"sg-0a"}, Kind: "instance"},
		},
		Groups: []SecurityGroup{
			// Egress only: replies must come back by conntrack alone.
			{ID: "sg-0a", VPC: "vpc-0a", Egress: []Rule{allOut}},
			// Ingress only: its replies leave by conntrack alone.
			{ID: "sg-0b", VPC: "vpc-0a", Ingress: []Rule{{ID: "sgr-0bfroma", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0a"}}}},
			{ID: "sg-0c", VPC: "vpc-0a", Egress: []Rule{allOut}},
		},
	}
}

func TestKernelReachability(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, testState())
	serve(t, p, "eni-0a", 6379)
	serve(t, p, "eni-0b", 6379, 6380)

	canReach(t, p, "eni-0a", "10.0.1.20:6379")    // same subnet, allowed by group reference
	canReach(t, p, "eni-0d", "10.0.1.20:6379")    // other subnet, same group
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379") // not in sg-0a
	cannotReach(t, p, "eni-0a", "10.0.1.20:6380") // port not allowed
	cannotReach(t, p, "eni-0b", "10.0.1.10:6379") // sg-0b has no egress; sg-0a no ingress
	cannotReach(t, p, "eni-0c", "10.0.1.10:6379") // sg-0a has no ingress
}

func TestKernelCommand(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, testState())
	serve(t, p, "eni-0b", 6379)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// An unmodified program sees only eth0 with the interface's address and
	// a default route via the subnet router.
	cmd, err := p.Command(ctx, "eni-0a", "ip", "-4", "-o", "addr", "show", "eth0")
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "10.0.1.10/24") {
		t.Errorf("ip addr in eni-0a = %q, %v; want 10.0.1.10/24", out, err)
	}
	cmd, _ = p.Command(ctx, "eni-0a", "ip", "route", "show", "default")
	out, err = cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "default via 10.0.1.1 dev eth0") {
		t.Errorf("default route in eni-0a = %q, %v", out, err)
	}

	// A child process (this test binary) dials from eni-0a and from eni-0c.
	for eni, want := range map[string]bool{"eni-0a": true, "eni-0c": false} {
		cmd, err := p.Command(ctx, eni, os.Args[0], "-test.run=^TestHelperProcess$")
		if err != nil {
			t.Fatal(err)
		}
		cmd.Env = append(os.Environ(), "NETPLANE_HELPER_DIAL=10.0.1.20:6379")
		out, err := cmd.CombinedOutput()
		if got := err == nil; got != want {
			t.Errorf("child dial from %s ok = %v (%v, %s), want %v", eni, got, err, out, want)
		}
	}

	if _, err := p.Command(ctx, "eni-0zz", "true"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Command(unknown interface) err = %v, want ErrNotExist", err)
	}
}

// TestHelperProcess is the child of TestKernelCommand and
// TestKernelKilledMidApply, not a test.
func TestHelperProcess(t *testing.T) {
	if prefix := os.Getenv("NETPLANE_HELPER_APPLY"); prefix != "" {
		p, err := New(Config{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err == nil {
			err = p.Apply(context.Background(), bigState())
		}
		fmt.Fprintln(os.Stderr, "apply finished:", err)
		os.Exit(0)
	}
	target := os.Getenv("NETPLANE_HELPER_DIAL")
	if target == "" {
		t.Skip("helper process")
	}
	c, err := net.DialTimeout("tcp4", target, blockedTimeout)
	if err == nil {
		err = echo(c, okTimeout)
		c.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func TestKernelRuleAddRevoke(t *testing.T) {
	p, _ := newTestPlane(t)
	st := testState()
	apply(t, p, st)
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")

	// Authorize C's address by CIDR, then revoke.
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfromc", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx("10.0.1.30/32")}})
	apply(t, p, st)
	canReach(t, p, "eni-0c", "10.0.1.20:6379")
	est, err := connect(p, "eni-0c", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatalf("open a long-lived connection: %v", err)
	}
	defer est.Close()

	st.Groups[1].Ingress = st.Groups[1].Ingress[:1]
	apply(t, p, st)
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")
	// As on AWS, revoking does not cut an established connection.
	if err := echo(est, okTimeout); err != nil {
		t.Errorf("established connection after revoke: %v, want it alive", err)
	}
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
}

func TestKernelMembership(t *testing.T) {
	p, logs := newTestPlane(t)
	st := testState()
	// C joins sg-0x, a group without rules that B's ingress references.
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0x", VPC: "vpc-0a"})
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfromx", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0x"}})
	apply(t, p, st)
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")

	st.Interfaces[2].Groups = []string{"sg-0c", "sg-0x"}
	apply(t, p, st)
	canReach(t, p, "eni-0c", "10.0.1.20:6379")
	if !strings.Contains(logs.String(), "mode=incremental sets=1 chains=0") {
		t.Errorf("membership change not loaded as set elements only; logs:\n%s", logs)
	}

	st.Interfaces[2].Groups = []string{"sg-0c"}
	apply(t, p, st)
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")
}

func peeringState() State {
	st := testState()
	st.VPCs = append(st.VPCs, VPC{ID: "vpc-0e", CIDRs: []netip.Prefix{pfx("10.1.0.0/16")}})
	st.Subnets = append(st.Subnets, Subnet{ID: "subnet-0e", VPC: "vpc-0e", CIDR: pfx("10.1.0.0/24")})
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-0e", PrivateIP: addr("10.1.0.10"), Groups: []string{"sg-0e"}})
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0e", VPC: "vpc-0e",
		Egress:  []Rule{{ID: "sgr-0eallout", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}},
		Ingress: []Rule{{ID: "sgr-0efroma", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}}}})
	return st
}

func TestKernelPeering(t *testing.T) {
	p, _ := newTestPlane(t)
	st := peeringState()
	apply(t, p, st)
	serve(t, p, "eni-0e", 6379)
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0a", "10.1.0.10:6379")

	st.Peerings = []Peering{{ID: "pcx-01",
		Requester: PeeringSide{VPC: "vpc-0a", Routes: []netip.Prefix{pfx("10.1.0.0/16")}},
		Accepter:  PeeringSide{VPC: "vpc-0e", Routes: []netip.Prefix{pfx("10.0.0.0/16")}},
	}}
	apply(t, p, st)
	canReach(t, p, "eni-0a", "10.1.0.10:6379")
	cannotReach(t, p, "eni-0e", "10.0.1.20:6379") // B admits only sg-0a members
	// E joins nothing in vpc-0a; B admits the peer's CIDR once told to.
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bfrome", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0e"}})
	apply(t, p, st)
	canReach(t, p, "eni-0e", "10.0.1.20:6379") // group reference across the peering

	st.Peerings = nil
	apply(t, p, st)
	cannotReach(t, p, "eni-0a", "10.1.0.10:6379")
	h := nsHandleFor(t, p, "vpc-0a")
	links, _ := h.LinkList()
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, p.Prefix()+"-p") {
			t.Errorf("peering link %s left after the peering ended", l.Attrs().Name)
		}
	}
}

func nsHandleFor(t testing.TB, p *Plane, id string) *netlink.Handle {
	t.Helper()
	path, _ := p.NetnsPath(id)
	ns, err := netns.GetFromPath(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Close() })
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestKernelContained checks by route lookups (no packet is sent) that
// nothing outside our namespaces is routable from them.
func TestKernelContained(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, peeringState())
	for _, id := range []string{"vpc-0a", "vpc-0e"} {
		h := nsHandleFor(t, p, id)
		for _, dst := range []string{"192.0.2.1", "8.8.8.8", "172.17.0.1", "10.2.0.1"} {
			if rs, err := h.RouteGet(net.ParseIP(dst)); err == nil {
				t.Errorf("router of %s routes %s: %v", id, dst, rs)
			}
		}
		links, _ := h.LinkList()
		for _, l := range links {
			if n := l.Attrs().Name; n != "lo" && !strings.HasPrefix(n, p.Prefix()+"-") {
				t.Errorf("router of %s holds foreign link %s", id, n)
			}
		}
	}
	// Without peering, vpc-0a's router has no route to vpc-0e.
	h := nsHandleFor(t, p, "vpc-0a")
	if rs, err := h.RouteGet(net.ParseIP("10.1.0.10")); err == nil {
		t.Errorf("router of vpc-0a routes to unpeered 10.1.0.10: %v", rs)
	}
}

func TestKernelConvergesAfterCrash(t *testing.T) {
	p, _ := newTestPlane(t)
	st := peeringState()
	st.Peerings = []Peering{{ID: "pcx-01",
		Requester: PeeringSide{VPC: "vpc-0a", Routes: []netip.Prefix{pfx("10.1.0.0/16")}},
		Accepter:  PeeringSide{VPC: "vpc-0e", Routes: []netip.Prefix{pfx("10.0.0.0/16")}},
	}}
	apply(t, p, st)

	// Damage it as a kill -9 halfway through, or an admin, would.
	prefix := p.Prefix()
	run := func(args ...string) { t.Helper(); run(t, args...) }
	ns := func(id string) string { return NamespaceName(prefix, id) }
	run("ip", "-n", ns("eni-0b"), "link", "del", "eth0")                               // veth gone
	run("ip", "-n", ns("eni-0a"), "route", "flush", "default")                         // route gone
	run("ip", "-n", ns("eni-0d"), "addr", "flush", "dev", "eth0")                      // address gone
	run("ip", "netns", "exec", ns("vpc-0e"), "nft", "delete", "table", "inet", prefix) // table gone
	run("ip", "netns", "exec", ns("vpc-0a"), "nft", "flush", "chain", "inet", prefix, "in-eni-0b")
	run("ip", "-n", ns("vpc-0a"), "link", "add", prefix+"-istale", "type", "veth", "peer", "name", prefix+"-istal2") // stale link of ours
	run("ip", "netns", "add", ns("eni-0gone"))                                                                       // stale namespace of ours
	if err := os.WriteFile(filepath.Join(netnsDir, ns("eni-0half")), nil, 0o444); err != nil {                       // created, never mounted
		t.Fatal(err)
	}
	// A namespace that is not ours must survive.
	foreign := "x" + prefix + "-keep"
	run("ip", "netns", "add", foreign)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", foreign).Run() })

	// A restarted daemon: a new Plane, empty memory.
	p2, err := New(Config{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, p2, st)
	// The first Plane, whose memory is stale, converges too.
	run("ip", "netns", "exec", ns("vpc-0a"), "nft", "flush", "chain", "inet", prefix, "in-eni-0b")
	apply(t, p, st)

	serve(t, p, "eni-0b", 6379, 6380)
	serve(t, p, "eni-0e", 6379)
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
	canReach(t, p, "eni-0d", "10.0.1.20:6379")
	canReach(t, p, "eni-0a", "10.1.0.10:6379")
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")
	cannotReach(t, p, "eni-0a", "10.0.1.20:6380")
	cannotReach(t, p, "eni-0c", "10.1.0.10:6380")

	for _, gone := range []string{ns("eni-0gone"), ns("eni-0half")} {
		if _, err := os.Stat(filepath.Join(netnsDir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale namespace %s still there (%v)", gone, err)
		}
	}
	for _, l := range []string{"-istale", "-istal2"} {
		if _, err := nsHandleFor(t, p, "vpc-0a").LinkByName(prefix + l); err == nil {
			t.Errorf("stale link %s%s still there", prefix, l)
		}
	}
	if _, err := os.Stat(filepath.Join(netnsDir, foreign)); err != nil {
		t.Errorf("foreign namespace %s was touched: %v", foreign, err)
	}

	// Idempotent: a second Apply changes nothing.
	plan, _ := p.Plan(st)
	var buf syncBuffer
	p.log = slog.New(slog.NewTextHandler(&buf, nil))
	apply(t, p, st)
	if buf.String() != "" {
		t.Errorf("second Apply changed the kernel:\n%s", buf.String())
	}
	_ = plan
}

func TestKernelTeardown(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, peeringState())
	if err := p.Teardown(context.Background()); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	assertNothingLeft(t, p.Prefix())
	// Teardown twice is fine; Apply after Teardown rebuilds.
	if err := p.Teardown(context.Background()); err != nil {
		t.Fatalf("second Teardown: %v", err)
	}
	apply(t, p, testState())
	serve(t, p, "eni-0b", 6379)
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
}

// TestKernelGoldenLoads checks that every golden ruleset is accepted by nft,
// in a scratch namespace of the test's prefix.
func TestKernelGoldenLoads(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, State{VPCs: []VPC{{ID: "vpc-0scratch", CIDRs: []netip.Prefix{pfx("10.9.0.0/16")}}}})
	files, _ := filepath.Glob("testdata/ruleset-*.golden")
	if len(files) == 0 {
		t.Fatal("no golden rulesets")
	}
	path, _ := p.NetnsPath("vpc-0scratch")
	for _, f := range files {
		cmd := exec.Command("nsenter", "--net="+path, "--", "nft", "-c", "-f", f)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("nft -c -f %s: %v\n%s", f, err, out)
		}
	}
}

// TestKernelFailClosed: when no ruleset can be loaded, the router does not
// forward at all.
func TestKernelFailClosed(t *testing.T) {
	good, _ := newTestPlane(t)
	p, err := New(Config{Prefix: good.Prefix(), Nft: "false", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), testState()); err == nil {
		t.Fatal("Apply with a broken nft succeeded")
	}
	serve(t, p, "eni-0b", 6379)
	cannotReach(t, p, "eni-0a", "10.0.1.20:6379")
	cmd, err := p.Command(context.Background(), "vpc-0a", "cat", "/proc/sys/net/ipv4/ip_forward")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.Output(); err != nil || strings.TrimSpace(string(out)) != "0" {
		t.Errorf("router ip_forward = %q, %v; want 0", out, err)
	}
	// The real nft then converges it.
	apply(t, good, testState())
	canReach(t, good, "eni-0a", "10.0.1.20:6379")
}

// bigState is testState with 30 more interfaces, so that applying it from
// scratch takes long enough to be killed halfway.
func bigState() State {
	st := testState()
	for i := range 30 {
		st.Interfaces = append(st.Interfaces, Interface{ID: fmt.Sprintf("eni-0x%02d", i), Subnet: "subnet-02",
			PrivateIP: netip.AddrFrom4([4]byte{10, 0, 2, byte(100 + i)}), Groups: []string{"sg-0c"}})
	}
	return st
}

// TestKernelKilledMidApply: a process applying a State is killed with
// SIGKILL at several points; a fresh Apply then converges.
func TestKernelKilledMidApply(t *testing.T) {
	p, _ := newTestPlane(t)
	for _, after := range []time.Duration{100 * time.Millisecond, 250 * time.Millisecond, 400 * time.Millisecond, 700 * time.Millisecond} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "NETPLANE_HELPER_APPLY="+p.Prefix())
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(after)
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		owned, _ := p.ownedNamespaces()
		t.Logf("killed after %v with %d namespaces of 35 made: %q", after, len(owned), strings.TrimSpace(out.String()))
		apply(t, p, testState()) // fewer interfaces than the child wanted
	}
	serve(t, p, "eni-0b", 6379)
	canReach(t, p, "eni-0a", "10.0.1.20:6379")
	cannotReach(t, p, "eni-0c", "10.0.1.20:6379")
	ents, _ := os.ReadDir(netnsDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), p.Prefix()+"-eni-0x") {
			t.Errorf("namespace %s of the killed Apply left behind", e.Name())
		}
	}
}
