package netplane

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// The tests' loopback addresses sit at the top of PublishedRange, away from
// the low offsets an installation allocates first, so that a test of this
// package never shares an address with a test of the wiring running at the
// same time.
const (
	testLoopbackA = "127.64.63.2"
	testLoopbackZ = "127.64.63.3"
)

// publishedState is testState plus a second VPC, vpc-0z, whose only
// interface has the same private address as eni-0b (10.0.1.20), both
// serving on 6379 and published to the host; sg-0b admits only sg-0a,
// sg-0z admits the host client.
func publishedState() State {
	st := testState()
	st.VPCs = append(st.VPCs, VPC{ID: "vpc-0z", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}})
	st.Subnets = append(st.Subnets, Subnet{ID: "subnet-0z", VPC: "vpc-0z", CIDR: pfx("10.0.1.0/24")})
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0z", Subnet: "subnet-0z", PrivateIP: addr("10.0.1.20"), Groups: []string{"sg-0z"}, Kind: "cache-node", Owner: "z-0001"})
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0z", VPC: "vpc-0z", Ingress: []Rule{{ID: "sgr-0zhost", Protocol: "tcp", FromPort: 6379, ToPort: 6379,
		CIDRs: []netip.Prefix{netip.PrefixFrom(HostClientAddr, 32)}}}})
	st.Published = []PublishedEndpoint{
		{Interface: "eni-0b", Port: 6379, Loopback: addr(testLoopbackA), Comment: "b 0001"},
		{Interface: "eni-0z", Port: 6379, Loopback: addr(testLoopbackZ), Comment: "z 0001"},
	}
	return st
}

// hostWho connects from the host to addr and returns the source address the
// listener saw.
func hostWho(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp4", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(line), nil
}

// hostObjects lists what the host holds of prefix: its links, their
// addresses and routes, and its table.
func hostObjects(t testing.TB, prefix string) []string {
	t.Helper()
	var out []string
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, prefix+"-") {
			out = append(out, "link "+l.Attrs().Name)
		}
	}
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if r.Dst != nil && HostLinkRange.Contains(netip.MustParseAddr(r.Dst.IP.String())) && r.Dst.IP.String() != HostClientAddr.String() {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && strings.HasPrefix(l.Attrs().Name, prefix+"-") {
				out = append(out, "route "+r.Dst.String())
			}
		}
	}
	if err := exec.Command("nft", "list", "table", "inet", prefix).Run(); err == nil {
		out = append(out, "table inet "+prefix)
	}
	return out
}

// A published endpoint is reached from the host at its loopback address
// and the engine's port, through the router of its VPC, as the host client:
// its security groups decide. Two VPCs with the same private addresses
// publish side by side. A VPC reaches nothing of the host. Withdrawing the
// endpoints removes everything of the host's; Teardown too.
func TestKernelPublished(t *testing.T) {
	p, _ := newTestPlane(t)
	st := publishedState()
	apply(t, p, st)
	serveConns(t, p, "eni-0b", 6379, func(c net.Conn) { fmt.Fprintf(c, "b %s\n", c.RemoteAddr().(*net.TCPAddr).IP) })
	serveConns(t, p, "eni-0z", 6379, func(c net.Conn) { fmt.Fprintf(c, "z %s\n", c.RemoteAddr().(*net.TCPAddr).IP) })

	if got, err := hostWho(testLoopbackZ+":6379", okTimeout); err != nil || got != "z "+HostClientAddr.String() {
		t.Errorf("host -> %s:6379 = %q, %v; want z's server, reached from %s", testLoopbackZ, got, err, HostClientAddr)
	}
	if got, err := hostWho(testLoopbackA+":6379", blockedTimeout); err == nil {
		t.Errorf("host -> %s:6379 = %q; want it blocked by sg-0b", testLoopbackA, got)
	}
	// The instance in vpc-0a reaches its cache as before, and nothing of
	// the host.
	if seen, _, err := who(p, "eni-0a", "10.0.1.20:6379", okTimeout); err != nil || seen != "b 10.0.1.10" {
		t.Errorf("eni-0a -> eni-0b = %q, %v; want b's server", seen, err)
	}
	hostPort := serveHost(t)
	cannotReach(t, p, "eni-0a", net.JoinHostPort(HostClientAddr.String(), hostPort))

	// A rule admitting the host client opens eni-0b to the host.
	st.Groups[1].Ingress = append(st.Groups[1].Ingress, Rule{ID: "sgr-0bhost", Protocol: "tcp", FromPort: 6379, ToPort: 6379,
		CIDRs: []netip.Prefix{netip.PrefixFrom(HostClientAddr, 32)}})
	apply(t, p, st)
	if got, err := hostWho(testLoopbackA+":6379", okTimeout); err != nil || got != "b "+HostClientAddr.String() {
		t.Errorf("host -> %s:6379 with the rule = %q, %v; want b's server", testLoopbackA, got, err)
	}
	// Another port of a published address is not published.
	if _, err := hostWho(testLoopbackA+":6380", blockedTimeout); err == nil {
		t.Errorf("host -> %s:6380 connected; only 6379 is published", testLoopbackA)
	}
	if got := hostObjects(t, p.Prefix()); len(got) != 5 { // 2 links, 2 routes, the table
		t.Errorf("host objects = %v, want 2 links, 2 routes and the table", got)
	}

	// Withdraw vpc-0z's endpoint, then all.
	st.Published = st.Published[:1]
	apply(t, p, st)
	if _, err := hostWho(testLoopbackZ+":6379", blockedTimeout); err == nil {
		t.Errorf("host -> %s:6379 connected after it was withdrawn", testLoopbackZ)
	}
	if got, err := hostWho(testLoopbackA+":6379", okTimeout); err != nil || !strings.HasPrefix(got, "b ") {
		t.Errorf("host -> %s:6379 after z was withdrawn = %q, %v", testLoopbackA, got, err)
	}
	st.Published = nil
	apply(t, p, st)
	if got := hostObjects(t, p.Prefix()); len(got) != 0 {
		t.Errorf("host objects after everything was withdrawn = %v, want none", got)
	}
	apply(t, p, publishedState())
	if err := p.Teardown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := hostObjects(t, p.Prefix()); len(got) != 0 {
		t.Errorf("host objects after Teardown = %v, want none", got)
	}
}

// A route the host already has to a link address is never replaced: the
// endpoint stays unpublished, and Apply says why.
func TestKernelPublishedKeepsHostRoutes(t *testing.T) {
	p, _ := newTestPlane(t)
	st := publishedState()
	st.Published = st.Published[1:] // z only
	link, _ := HostLinkAddr(addr(testLoopbackZ))
	dummy := "d" + p.Prefix()[1:] + "x" // not a link of the plane's: another owner's
	run(t, "ip", "link", "add", dummy, "type", "veth", "peer", "name", dummy+"p")
	t.Cleanup(func() { exec.Command("ip", "link", "del", dummy).Run() })
	run(t, "ip", "link", "set", dummy, "up")
	run(t, "ip", "route", "add", link.String()+"/32", "dev", dummy)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := p.Apply(ctx, st)
	if err == nil || !strings.Contains(err.Error(), "already routes") {
		t.Errorf("Apply with the host's own route to %s = %v, want it reported", link, err)
	}
	out, _ := exec.Command("ip", "route", "show", link.String()+"/32").Output()
	if !strings.Contains(string(out), dummy) {
		t.Errorf("the host's route to %s = %q, want it kept on %s", link, out, dummy)
	}
}

// serveHost listens on the host at HostClientAddr's side (every address)
// and returns the port, until the test ends.
func serveHost(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("host\n"))
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestKernelTableExists: the netlink question that spares an nft run when
// the host holds no table of ours.
func TestKernelTableExists(t *testing.T) {
	p, _ := newTestPlane(t)
	path, err := p.hostNetns()
	if err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	check := func(want bool) {
		t.Helper()
		p.mu.Lock()
		defer p.mu.Unlock()
		if got, err := p.tableExists(HostNamespace, path, st.Ino, p.prefix); got != want || err != nil {
			t.Errorf("tableExists(inet %s) = %v, %v, want %v", p.prefix, got, err, want)
		}
	}
	check(false)
	run(t, "nft", "add", "table", "inet", p.prefix)
	check(true)
	run(t, "nft", "delete", "table", "inet", p.prefix)
	check(false)
}
