package netplane

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"maps"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// fastPathAttached returns the ids of the fast-path programs attached to
// link name in the namespace at nsPath.
func fastPathAttached(t testing.TB, nsPath, name string) []ebpf.ProgramID {
	t.Helper()
	var ids []ebpf.ProgramID
	err := inNamespace(nsPath, func() error {
		nl, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		res, err := link.QueryPrograms(link.QueryOptions{Target: nl.Attrs().Index, Attach: ebpf.AttachTCXIngress})
		if err != nil {
			return err
		}
		for _, ap := range res.Programs {
			if isFastPathProgram(ap.ID) {
				ids = append(ids, ap.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

// linkTx returns the packets sent by link name in the namespace at nsPath.
func linkTx(t testing.TB, nsPath, name string) uint64 {
	t.Helper()
	var tx uint64
	err := inNamespace(nsPath, func() error {
		nl, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		tx = nl.Attrs().Statistics.TxPackets
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// checkFastPathMap checks that p's map for the router at routerPath holds
// exactly one entry per link of links, as the kernel has them: keyed by the
// interface's address, the router-side link's ifindex and Ethernet address,
// the subnet tag, and the Ethernet address of eth0 in the interface's
// namespace.
func checkFastPathMap(t testing.TB, p *Plane, routerPath string, links []fpLink) {
	t.Helper()
	want := map[[4]byte]fastPathValue{}
	for _, l := range links {
		var v fastPathValue
		err := inNamespace(routerPath, func() error {
			nl, err := netlink.LinkByName(l.name)
			if err != nil {
				return err
			}
			v.Ifindex = uint32(nl.Attrs().Index)
			copy(v.SrcMAC[:], nl.Attrs().HardwareAddr)
			return nil
		})
		if err == nil {
			err = inNamespace(filepath.Join(netnsDir, l.ifaceNS), func() error {
				nl, err := netlink.LinkByName(InterfaceLink)
				if err != nil {
					return err
				}
				copy(v.DstMAC[:], nl.Attrs().HardwareAddr)
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		v.Subnet = l.subnet.As4()
		want[l.addr.As4()] = v
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.fastPaths[filepath.Base(routerPath)]
	if r == nil {
		t.Fatal("no fast path for the router")
	}
	got := map[[4]byte]fastPathValue{}
	var k [4]byte
	var v fastPathValue
	it := r.fp.m.Iterate()
	for it.Next(&k, &v) {
		got[k] = v
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(got, want) || !maps.Equal(r.entries, want) || len(r.attached) != len(links) {
		t.Errorf("fast path map %v (known %v, %d links attached), want %v (%d links)", got, r.entries, len(r.attached), want, len(links))
	}
}

// captureFrames opens a packet socket on link name in the namespace at
// nsPath, for readFrames.
func captureFrames(t testing.TB, nsPath, name string) (fd int, mac net.HardwareAddr) {
	t.Helper()
	fd = -1
	err := inNamespace(nsPath, func() error {
		nl, err := netlink.LinkByName(name)
		if err != nil {
			return err
		}
		mac = nl.Attrs().HardwareAddr
		proto := int(binary.NativeEndian.Uint16([]byte{0x08, 0x00})) // htons(ETH_P_IP)
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, proto); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: uint16(proto), Ifindex: nl.Attrs().Index})
	})
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd, mac
}

// readFrames returns the Ethernet headers (destination, source) of the
// IPv4 TCP frames from src to dst received on fd so far.
func readFrames(t testing.TB, fd int, src, dst netip.Addr) [][2]net.HardwareAddr {
	t.Helper()
	var out [][2]net.HardwareAddr
	buf := make([]byte, 2048)
	for {
		n, _, err := unix.Recvfrom(fd, buf, unix.MSG_DONTWAIT)
		if err != nil {
			if err == unix.EAGAIN {
				return out
			}
			t.Fatal(err)
		}
		f := buf[:n]
		if n < 34 || f[12] != 0x08 || f[13] != 0 || f[23] != 6 ||
			netip.AddrFrom4([4]byte(f[26:30])) != src || netip.AddrFrom4([4]byte(f[30:34])) != dst {
			continue
		}
		out = append(out, [2]net.HardwareAddr{slices.Clone(f[0:6]), slices.Clone(f[6:12])})
	}
}

func requireFastPath(t testing.TB, p *Plane) {
	t.Helper()
	if p.fastPathErr != nil {
		t.Skipf("the kernel cannot run the fast path: %v", p.fastPathErr)
	}
}

// fastPathWorld applies testState with the fast path on (or skips), serves
// port 6379 on eni-0b, and returns the plane, the state and the path of
// vpc-0a's router namespace.
func fastPathWorld(t *testing.T) (*Plane, State, string) {
	t.Helper()
	p, _ := newTestPlane(t)
	st := testState()
	apply(t, p, st)
	requireFastPath(t, p)
	serve(t, p, "eni-0b", 6379)
	router, err := p.NetnsPath("vpc-0a")
	if err != nil {
		t.Fatal(err)
	}
	return p, st, router
}

// TestKernelFastPathEstablished: with the fast path on, an established
// connection between two interfaces of one subnet is carried by it (the
// router forwards none of its packets itself), one across subnets is not;
// revoking the rule keeps both and refuses new ones; a network ACL cuts the
// cross-subnet one only (ACLs do not apply inside a subnet); a conntrack
// flush in the router sends the same-subnet one back to the slow path,
// where no rule admits it any more, so its packets are dropped.
func TestKernelFastPathEstablished(t *testing.T) {
	p, st, router := fastPathWorld(t)
	plan, err := p.Plan(st)
	if err != nil {
		t.Fatal(err)
	}
	serverLink := ""
	checkFastPathMap(t, p, router, fastPathLinks(plan)[NamespaceName(p.prefix, "vpc-0a")])
	for _, l := range fastPathLinks(plan)[NamespaceName(p.prefix, "vpc-0a")] {
		if ids := fastPathAttached(t, router, l.name); len(ids) != 1 {
			t.Errorf("link %s: fast-path programs %v, want one", l.name, ids)
		}
		if l.addr == addr("10.0.1.20") {
			serverLink = l.name
		}
	}

	same, err := connect(p, "eni-0a", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer same.Close()
	cross, err := connect(p, "eni-0d", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer cross.Close()
	const n = 100
	// The frames the fast path delivers carry the Ethernet addresses the
	// router would give them (bpf_redirect_peer delivers any: only a
	// capture sees them).
	server, err := p.NetnsPath("eni-0b")
	if err != nil {
		t.Fatal(err)
	}
	capture, eth0 := captureFrames(t, server, InterfaceLink)
	var routerMAC net.HardwareAddr
	if err := inNamespace(router, func() error {
		nl, err := netlink.LinkByName(serverLink)
		if err == nil {
			routerMAC = nl.Attrs().HardwareAddr
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	readFrames(t, capture, addr("10.0.1.10"), addr("10.0.1.20"))
	tx := linkTx(t, router, serverLink)
	for range n {
		if err := echo(same, okTimeout); err != nil {
			t.Fatalf("same subnet: %v", err)
		}
	}
	if d := linkTx(t, router, serverLink) - tx; d > n/10 {
		t.Errorf("same subnet: the router forwarded %d packets of %d echoes itself, want the fast path to carry them", d, n)
	}
	frames := readFrames(t, capture, addr("10.0.1.10"), addr("10.0.1.20"))
	if len(frames) < n {
		t.Errorf("captured %d frames of %d echoes on the server's eth0, want at least %d", len(frames), n, n)
	}
	for _, f := range frames {
		if !bytes.Equal(f[0], eth0) || !bytes.Equal(f[1], routerMAC) {
			t.Errorf("frame to %s from %s, want to %s (eth0) from %s (the router's link)", f[0], f[1], eth0, routerMAC)
			break
		}
	}
	tx = linkTx(t, router, serverLink)
	for range n {
		if err := echo(cross, okTimeout); err != nil {
			t.Fatalf("across subnets: %v", err)
		}
	}
	if d := linkTx(t, router, serverLink) - tx; d < n {
		t.Errorf("across subnets: the router forwarded %d packets of %d echoes, want all (no fast path)", d, n)
	}

	// Revoke: established connections stay, new ones are refused.
	st.Groups[1].Ingress = nil
	apply(t, p, st)
	if err := echo(same, okTimeout); err != nil {
		t.Errorf("same subnet after revoke: %v, want the established connection kept", err)
	}
	if err := echo(cross, okTimeout); err != nil {
		t.Errorf("across subnets after revoke: %v, want the established connection kept", err)
	}
	cannotReach(t, p, "eni-0a", "10.0.1.20:6379")
	cannotReach(t, p, "eni-0d", "10.0.1.20:6379")

	// A deny-all ACL on the server's subnet: stateless, it cuts the
	// connection from the other subnet, not the one inside it.
	st.NetworkACLs = []NetworkACL{{ID: "acl-0x", VPC: "vpc-0a", Subnets: []string{"subnet-01"}}}
	apply(t, p, st)
	if err := echo(cross, blockedTimeout); err == nil {
		t.Error("across subnets under a deny-all ACL: echoed, want dropped")
	}
	if err := echo(same, okTimeout); err != nil {
		t.Errorf("same subnet under a deny-all ACL: %v, want the established connection kept", err)
	}

	// A conntrack flush in the router: once the flow cache's entries have
	// run out, the next packets take the slow path, which no longer
	// admits the connection.
	if err := inNamespace(router, func() error { return netlink.ConntrackTableFlush(netlink.ConntrackTable) }); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * fastPathFlowTTL)
	if err := echo(same, blockedTimeout); err == nil {
		t.Error("same subnet after a conntrack flush, no rule admitting it: echoed, want dropped")
	}
}

// TestKernelFastPathLifecycle: a new interface added by ApplyChange gets
// the fast path; a restarted Plane (a new one, same prefix) replaces the
// program in place (one per link) and the connection still works; one with
// NoFastPath detaches it everywhere, and traffic takes the slow path.
func TestKernelFastPathLifecycle(t *testing.T) {
	p, st, router := fastPathWorld(t)
	links := func() []fpLink {
		plan, err := p.Plan(st)
		if err != nil {
			t.Fatal(err)
		}
		return fastPathLinks(plan)[NamespaceName(p.prefix, "vpc-0a")]
	}
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0a"}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	ls := links()
	if len(ls) != 5 {
		t.Fatalf("links %v, want 5", ls)
	}
	checkFastPathMap(t, p, router, ls)
	for _, l := range ls {
		if ids := fastPathAttached(t, router, l.name); len(ids) != 1 {
			t.Errorf("link %s: fast-path programs %v, want one", l.name, ids)
		}
	}
	canReach(t, p, "eni-0e", "10.0.1.20:6379")
	c, err := connect(p, "eni-0e", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// An interface removed: its entry leaves the map.
	st.Interfaces = st.Interfaces[:len(st.Interfaces)-1]
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	checkFastPathMap(t, p, router, links())
	st.Interfaces = append(st.Interfaces, Interface{ID: "eni-0e", Subnet: "subnet-01", PrivateIP: addr("10.0.1.50"), Groups: []string{"sg-0a"}})
	if err := p.ApplyChange(ctx, st); err != nil {
		t.Fatal(err)
	}
	ls = links()
	checkFastPathMap(t, p, router, ls)
	c.Close()
	if c, err = connect(p, "eni-0e", "10.0.1.20:6379", okTimeout); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	// Restart: a new Plane replaces the program, keeping one per link.
	before := fastPathAttached(t, router, ls[0].name)
	p2, err := New(Config{Prefix: p.prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	apply(t, p2, st)
	checkFastPathMap(t, p2, router, ls)
	for _, l := range ls {
		ids := fastPathAttached(t, router, l.name)
		if len(ids) != 1 || ids[0] == before[0] {
			t.Errorf("link %s after restart: fast-path programs %v (before %v), want one, replaced", l.name, ids, before)
		}
	}
	if err := echo(c, okTimeout); err != nil {
		t.Errorf("established connection across the restart: %v", err)
	}

	// Turned off: detached everywhere.
	p3, err := New(Config{Prefix: p.prefix, NoFastPath: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	apply(t, p3, st)
	for _, l := range ls {
		if ids := fastPathAttached(t, router, l.name); len(ids) != 0 {
			t.Errorf("link %s with NoFastPath: fast-path programs %v, want none", l.name, ids)
		}
	}
	var serverLink string
	for _, l := range ls {
		if l.addr == netip.MustParseAddr("10.0.1.20") {
			serverLink = l.name
		}
	}
	tx := linkTx(t, router, serverLink)
	if err := echo(c, okTimeout); err != nil {
		t.Errorf("established connection with the fast path off: %v", err)
	}
	if d := linkTx(t, router, serverLink) - tx; d == 0 {
		t.Error("with the fast path off the router forwarded nothing itself")
	}
}

// TestKernelFastPathRefresh: the fast path refreshes the router's conntrack
// entry of a connection it carries once less than half of the established
// timeout is left, and leaves it alone before.
func TestKernelFastPathRefresh(t *testing.T) {
	p, _, router := fastPathWorld(t)
	c := echoedConn(t, p)
	sport := uint16(c.LocalAddr().(*net.TCPAddr).Port)
	// entry returns the connection's entry in the router, after setting its
	// timeout to set seconds unless set is 0.
	entry := func(set uint32) *netlink.ConntrackFlow {
		t.Helper()
		var flow *netlink.ConntrackFlow
		err := inNamespace(router, func() error {
			flows, err := netlink.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
			if err != nil {
				return err
			}
			for _, f := range flows {
				if f.Forward.SrcIP.Equal(net.ParseIP("10.0.1.10")) && f.Forward.DstIP.Equal(net.ParseIP("10.0.1.20")) &&
					f.Forward.SrcPort == sport && f.Forward.DstPort == 6379 {
					flow = f
				}
			}
			if flow == nil || set == 0 {
				return nil
			}
			flow.TimeOut = set
			return netlink.ConntrackUpdate(netlink.ConntrackTable, unix.AF_INET, flow)
		})
		if err != nil {
			t.Fatal(err)
		}
		if flow == nil {
			t.Fatal("no conntrack entry for the connection in the router")
		}
		return flow
	}
	const established = ctEstablishedTimeoutMs / 1000
	entry(established/2 + 3600)
	time.Sleep(2 * fastPathFlowTTL)
	for range 10 {
		if err := echo(c, okTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if got := entry(0).TimeOut; got > established/2+3600 {
		t.Errorf("timeout %d s with more than half left, after echoes: want it left alone (at most %d)", got, established/2+3600)
	}
	entry(100)
	time.Sleep(2 * fastPathFlowTTL) // the next packet is checked against conntrack
	for range 10 {
		if err := echo(c, okTimeout); err != nil {
			t.Fatal(err)
		}
	}
	if got := entry(0).TimeOut; got < established-3600 {
		t.Errorf("timeout %d s after echoes with 100 s left: want it refreshed to %d", got, established)
	}
}

// TestKernelFastPathFlowCache: a checked flow is cached both ways with the
// links and Ethernet addresses of the plane's map; a cached flow is
// forwarded without conntrack (an entry made to last survives a revoke and
// a conntrack flush), but only when it comes in by its own link; a change of
// the plane's map empties the cache; a FIN removes a flow both ways.
func TestKernelFastPathFlowCache(t *testing.T) {
	p, st, router := fastPathWorld(t)
	p.mu.Lock()
	r := p.fastPaths[NamespaceName(p.prefix, "vpc-0a")]
	p.mu.Unlock()
	if r == nil {
		t.Fatal("no fast path in the router")
	}
	client, server := r.entries[addr("10.0.1.10").As4()], r.entries[addr("10.0.1.20").As4()]
	key := func(c net.Conn, reverse bool) [12]byte {
		var k [12]byte
		src, dst := addr("10.0.1.10").As4(), addr("10.0.1.20").As4()
		sport, dport := uint16(c.LocalAddr().(*net.TCPAddr).Port), uint16(6379)
		if reverse {
			src, dst, sport, dport = dst, src, dport, sport
		}
		copy(k[0:], src[:])
		copy(k[4:], dst[:])
		binary.BigEndian.PutUint16(k[8:], sport)
		binary.BigEndian.PutUint16(k[10:], dport)
		return k
	}
	lookup := func(k [12]byte) (flowValue, bool) {
		var v flowValue
		err := r.fp.flows.Lookup(k, &v)
		if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
			t.Fatal(err)
		}
		return v, err == nil
	}

	// A FIN removes the flow both ways.
	c0 := echoedConn(t, p)
	for _, rev := range []bool{false, true} {
		if _, ok := lookup(key(c0, rev)); !ok {
			t.Errorf("after an echo (reverse %v): flow not cached", rev)
		}
	}
	k0, k0r := key(c0, false), key(c0, true)
	c0.Close()
	deadline := time.Now().Add(okTimeout)
	for {
		_, fwd := lookup(k0)
		_, rev := lookup(k0r)
		if !fwd && !rev {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after close: flow still cached (forward %v, reverse %v)", fwd, rev)
		}
		time.Sleep(10 * time.Millisecond)
	}

	// The cached values: the links and addresses of the plane's map.
	c := echoedConn(t, p)
	for _, f := range []struct {
		rev      bool
		from, to fastPathValue
	}{{false, client, server}, {true, server, client}} {
		v, ok := lookup(key(c, f.rev))
		if !ok {
			t.Fatalf("reverse %v: flow not cached", f.rev)
		}
		if v.Ingress != f.from.Ifindex || v.Ifindex != f.to.Ifindex || v.SrcMAC != f.to.SrcMAC || v.DstMAC != f.to.DstMAC {
			t.Errorf("reverse %v: cached %+v, want ingress %d, to link %d from %x to %x", f.rev, v, f.from.Ifindex, f.to.Ifindex, f.to.SrcMAC, f.to.DstMAC)
		}
	}

	// Made to last, the cached flow carries the connection with its
	// conntrack entry gone and no rule admitting it.
	for _, rev := range []bool{false, true} {
		v, _ := lookup(key(c, rev))
		v.Expiry = 1 << 62
		if err := r.fp.flows.Put(key(c, rev), v); err != nil {
			t.Fatal(err)
		}
	}
	st.Groups[1].Ingress = nil
	apply(t, p, st)
	if err := inNamespace(router, func() error { return netlink.ConntrackTableFlush(netlink.ConntrackTable) }); err != nil {
		t.Fatal(err)
	}
	if err := echo(c, okTimeout); err != nil {
		t.Errorf("cached flow, conntrack flushed: %v, want it forwarded from the cache", err)
	}
	// Not when it comes in by another link: then conntrack decides.
	v, _ := lookup(key(c, false))
	v.Ingress = server.Ifindex
	if err := r.fp.flows.Put(key(c, false), v); err != nil {
		t.Fatal(err)
	}
	if err := echo(c, blockedTimeout); err == nil {
		t.Error("cached flow from another link, conntrack flushed: echoed, want dropped")
	}

	// A change of the plane's map (an interface removed) empties the cache.
	if _, ok := lookup(key(c, true)); !ok {
		t.Fatal("reverse flow not cached before the change")
	}
	st.Interfaces = slices.DeleteFunc(st.Interfaces, func(i Interface) bool { return i.ID == "eni-0d" })
	apply(t, p, st)
	if n := countFlows(t, r.fp.flows); n != 0 {
		t.Errorf("after an interface was removed: %d flows cached, want none", n)
	}
}

func countFlows(t *testing.T, m *ebpf.Map) int {
	t.Helper()
	var k [12]byte
	var v flowValue
	n := 0
	it := m.Iterate()
	for it.Next(&k, &v) {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// echoedConn connects from eni-0a to the echo server of fastPathWorld and
// echoes once; the connection is closed when the test ends.
func echoedConn(t *testing.T, p *Plane) net.Conn {
	t.Helper()
	c, err := connect(p, "eni-0a", "10.0.1.20:6379", okTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := echo(c, okTimeout); err != nil {
		t.Fatal(err)
	}
	return c
}
