package netplane

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The internet namespace, internet gateways and outside clients, with real
// connections. Every packet starts in a namespace of the test's prefix and
// goes to an address inside such namespaces.

const (
	trusted  = "198.51.100.27"
	stranger = "203.0.113.5"
	natEIP   = "100.64.0.73"  // eni-0nat, public subnet
	privEIP  = "100.64.0.74"  // eni-0priv, private subnet: no route to the gateway
	natIP    = "10.0.0.55"    // eni-0nat's private address
	otherEIP = "100.64.0.201" // eni-0other, a second VPC with a gateway of its own
)

// internetState: a VPC with a public subnet (0.0.0.0/0 to igw-0a) and a
// private one; eni-0nat (public, Elastic IP) admits the trusted client on
// 6379; eni-0priv has an Elastic IP but its subnet no route to the gateway;
// eni-0plain is public without an Elastic IP. vpc-0o has its own gateway.
func internetState() State {
	allOut := Rule{ID: "sgr-0allout", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}
	fromTrusted := Rule{ID: "sgr-0trusted", Protocol: "tcp", FromPort: 6379, ToPort: 6381, CIDRs: []netip.Prefix{pfx(trusted + "/32")}}
	return State{
		VPCs: []VPC{{ID: "vpc-0a", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}}, {ID: "vpc-0o", CIDRs: []netip.Prefix{pfx("10.5.0.0/16")}}},
		Subnets: []Subnet{
			{ID: "subnet-0pub", VPC: "vpc-0a", CIDR: pfx("10.0.0.0/24")},
			{ID: "subnet-0priv", VPC: "vpc-0a", CIDR: pfx("10.0.1.0/24")},
			{ID: "subnet-0o", VPC: "vpc-0o", CIDR: pfx("10.5.0.0/24")},
		},
		Interfaces: []Interface{
			{ID: "eni-0nat", Subnet: "subnet-0pub", PrivateIP: addr(natIP), Groups: []string{"sg-0nat"}, PublicIP: addr(natEIP)},
			{ID: "eni-0plain", Subnet: "subnet-0pub", PrivateIP: addr("10.0.0.66"), Groups: []string{"sg-0nat"}},
			{ID: "eni-0priv", Subnet: "subnet-0priv", PrivateIP: addr("10.0.1.77"), Groups: []string{"sg-0nat"}, PublicIP: addr(privEIP)},
			{ID: "eni-0other", Subnet: "subnet-0o", PrivateIP: addr("10.5.0.10"), Groups: []string{"sg-0o"}, PublicIP: addr(otherEIP)},
		},
		Groups: []SecurityGroup{
			{ID: "sg-0nat", VPC: "vpc-0a", Egress: []Rule{allOut}, Ingress: []Rule{fromTrusted}},
			{ID: "sg-0o", VPC: "vpc-0o", Egress: []Rule{allOut}, Ingress: []Rule{{ID: "sgr-0o", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx(natEIP + "/32")}}}},
		},
		InternetGateways: []InternetGateway{
			{ID: "igw-0a", VPC: "vpc-0a", SubnetRoutes: map[string][]netip.Prefix{"subnet-0pub": {pfx("0.0.0.0/0")}}},
			{ID: "igw-0o", VPC: "vpc-0o", SubnetRoutes: map[string][]netip.Prefix{"subnet-0o": {pfx("0.0.0.0/0")}}},
		},
		Outside: []netip.Addr{addr(trusted), addr(stranger)},
	}
}

// serveWho answers every connection on port inside namespace id with the
// address the connection came from, one line, until the test ends.
func serveWho(t testing.TB, p *Plane, id string, port int) {
	t.Helper()
	serveConns(t, p, id, port, func(c net.Conn) { fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP) })
}

// who connects from namespace id to addr and returns the source address the
// listener saw and the address the connection reached (the listener's as
// the dialler sees it).
func who(p *Plane, id, addr string, timeout time.Duration) (seen, peer string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := p.Dial(ctx, id, "tcp4", addr)
	if err != nil {
		return "", "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", err
	}
	return strings.TrimSpace(line), c.RemoteAddr().(*net.TCPAddr).IP.String(), nil
}

func out(a string) string { return OutsideID(addr(a)) }

func TestKernelInternetGateway(t *testing.T) {
	p, _ := newTestPlane(t)
	st := internetState()
	apply(t, p, st)
	serveWho(t, p, "eni-0nat", 6379)
	serveWho(t, p, "eni-0priv", 6379)
	serveWho(t, p, "eni-0plain", 6379)
	serveWho(t, p, "eni-0other", 6379)
	serveWho(t, p, out(trusted), 8080)

	// In: the trusted client reaches the Elastic IP; the instance sees the
	// client's real address (the gateway translates the destination only).
	seen, peer, err := who(p, out(trusted), natEIP+":6379", okTimeout)
	if err != nil {
		t.Fatalf("trusted -> %s:6379: %v, want a connection", natEIP, err)
	}
	if seen != trusted || peer != natEIP {
		t.Errorf("trusted -> %s:6379: the instance saw %s, the client reached %s; want %s and %s", natEIP, seen, peer, trusted, natEIP)
	}
	// Security groups still apply: another outside address is not admitted.
	cannotReach(t, p, out(stranger), natEIP+":6379")
	cannotReach(t, p, out(trusted), natEIP+":22")
	// An Elastic IP in a subnet without a route to the gateway: replies
	// cannot leave.
	cannotReach(t, p, out(trusted), privEIP+":6379")
	// Private addresses are not routed on the internet.
	cannotReach(t, p, out(trusted), natIP+":6379")
	cannotReach(t, p, out(trusted), "10.0.0.66:6379")

	// Out: the instance's connection leaves from its Elastic IP.
	seen, peer, err = who(p, "eni-0nat", trusted+":8080", okTimeout)
	if err != nil {
		t.Fatalf("eni-0nat -> %s:8080: %v, want a connection", trusted, err)
	}
	if seen != natEIP || peer != trusted {
		t.Errorf("eni-0nat -> %s:8080: the client saw %s, the instance reached %s; want %s and %s", trusted, seen, peer, natEIP, trusted)
	}
	// Without an Elastic IP, or without a route, nothing leaves.
	cannotReach(t, p, "eni-0plain", trusted+":8080")
	cannotReach(t, p, "eni-0priv", trusted+":8080")

	// Between two VPCs over the internet, from Elastic IP to Elastic IP;
	// vpc-0o admits eni-0nat by its Elastic IP.
	seen, _, err = who(p, "eni-0nat", otherEIP+":6379", okTimeout)
	if err != nil || seen != natEIP {
		t.Errorf("eni-0nat -> %s:6379: saw %q, %v; want %s", otherEIP, seen, err, natEIP)
	}

	// A route to one destination only: the trusted client, not the stranger.
	st.InternetGateways[0].SubnetRoutes["subnet-0pub"] = []netip.Prefix{pfx(trusted + "/32")}
	st.Groups[0].Ingress = append(st.Groups[0].Ingress, Rule{ID: "sgr-0stranger", Protocol: "tcp", FromPort: 6379, ToPort: 6379, CIDRs: []netip.Prefix{pfx(stranger + "/32")}})
	apply(t, p, st)
	if seen, _, err := who(p, out(trusted), natEIP+":6379", okTimeout); err != nil || seen != trusted {
		t.Errorf("with a /32 route: trusted -> %s:6379: saw %q, %v", natEIP, seen, err)
	}
	cannotReach(t, p, out(stranger), natEIP+":6379")

	// Detaching the gateway cuts the path; the outside clients stay.
	st = internetState()
	st.InternetGateways = st.InternetGateways[1:]
	apply(t, p, st)
	cannotReach(t, p, out(trusted), natEIP+":6379")
	cannotReach(t, p, "eni-0nat", trusted+":8080")
	if _, _, err := who(p, out(trusted), otherEIP+":6379", okTimeout); err == nil {
		t.Errorf("trusted -> %s:6379 connected; sg-0o admits only %s", otherEIP, natEIP)
	}

	// Disassociating the Elastic IP cuts it too.
	st = internetState()
	st.Interfaces[0].PublicIP = netip.Addr{}
	apply(t, p, st)
	cannotReach(t, p, out(trusted), natEIP+":6379")
	cannotReach(t, p, "eni-0nat", trusted+":8080")

	// And re-attaching restores it.
	apply(t, p, internetState())
	if seen, _, err := who(p, out(trusted), natEIP+":6379", okTimeout); err != nil || seen != trusted {
		t.Errorf("re-attached: trusted -> %s:6379: saw %q, %v", natEIP, seen, err)
	}

	// The internet namespace exists only while needed.
	internet := filepath.Join(netnsDir, NamespaceName(p.Prefix(), InternetID))
	st = internetState()
	st.InternetGateways, st.Outside = nil, nil
	apply(t, p, st)
	for _, ns := range []string{internet, filepath.Join(netnsDir, NamespaceName(p.Prefix(), out(trusted)))} {
		if _, err := os.Stat(ns); !os.IsNotExist(err) {
			t.Errorf("%s still there without gateways and outside clients (%v)", ns, err)
		}
	}
	st.Outside = []netip.Addr{addr(trusted)}
	apply(t, p, st)
	if !isNsfs(internet) {
		t.Errorf("no internet namespace for an outside client")
	}
	cannotReach(t, p, out(trusted), natEIP+":6379")
}

// TestKernelInternetContained checks by route lookups (no packet is sent)
// that the internet namespace and the outside clients reach nothing but
// our namespaces, and that the host gained no route.
func TestKernelInternetContained(t *testing.T) {
	p, _ := newTestPlane(t)
	host, err := netlinkHostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	apply(t, p, internetState())
	for _, id := range []string{InternetID, out(trusted)} {
		h := nsHandleFor(t, p, id)
		for _, dst := range []string{"8.8.8.8", "172.17.0.1", "192.168.1.1", "192.0.2.1", "10.0.0.55"} {
			rs, err := h.RouteGet(net.ParseIP(dst))
			if err != nil {
				continue
			}
			if id == InternetID {
				t.Errorf("the internet namespace routes %s: %v", dst, rs)
				continue
			}
			// An outside client's one route leads to the internet namespace.
			for _, r := range rs {
				if l, err := h.LinkByIndex(r.LinkIndex); err != nil || l.Attrs().Name != InterfaceLink {
					t.Errorf("outside client routes %s elsewhere: %v", dst, r)
				}
			}
		}
		links, _ := h.LinkList()
		for _, l := range links {
			if n := l.Attrs().Name; n != "lo" && n != InterfaceLink && !strings.HasPrefix(n, p.Prefix()+"-") {
				t.Errorf("%s holds foreign link %s", id, n)
			}
		}
	}
	after, err := netlinkHostRoutes()
	if err != nil {
		t.Fatal(err)
	}
	if after != host {
		t.Errorf("the host's routes changed:\nbefore:\n%s\nafter:\n%s", host, after)
	}
}

func netlinkHostRoutes() (string, error) {
	out, err := exec.Command("ip", "-4", "route", "show", "table", "all").Output()
	return string(out), err
}

// TestKernelInternetConverges damages the internet's links and routes as a
// crash or an admin would; a restarted Plane converges, and a second Apply
// changes nothing.
func TestKernelInternetConverges(t *testing.T) {
	p, _ := newTestPlane(t)
	st := internetState()
	apply(t, p, st)
	prefix := p.Prefix()
	internet := NamespaceName(prefix, InternetID)
	run(t, "ip", "-n", internet, "route", "flush", "100.64.0.73/32")
	run(t, "ip", "-n", internet, "link", "del", linkName(prefix, 'o', trusted))
	run(t, "ip", "-n", NamespaceName(prefix, "vpc-0a"), "link", "del", linkName(prefix, 'g', "igw-0a"))
	run(t, "ip", "-n", NamespaceName(prefix, out(stranger)), "route", "flush", "default")
	run(t, "ip", "netns", "add", NamespaceName(prefix, out("192.0.2.99"))) // a stale outside client

	p2, err := New(Config{Prefix: prefix, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, p2, st)
	serveWho(t, p2, "eni-0nat", 6379)
	if seen, _, err := who(p2, out(trusted), natEIP+":6379", okTimeout); err != nil || seen != trusted {
		t.Errorf("after convergence: trusted -> %s:6379: saw %q, %v", natEIP, seen, err)
	}
	cannotReach(t, p2, out(stranger), natEIP+":6379")
	if _, err := os.Stat(filepath.Join(netnsDir, NamespaceName(prefix, out("192.0.2.99")))); !os.IsNotExist(err) {
		t.Errorf("stale outside namespace still there (%v)", err)
	}

	var buf syncBuffer
	p2.log = slog.New(slog.NewTextHandler(&buf, nil))
	apply(t, p2, st)
	if buf.String() != "" {
		t.Errorf("second Apply changed the kernel:\n%s", buf.String())
	}
}
