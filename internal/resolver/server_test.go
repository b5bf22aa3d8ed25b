package resolver

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/miekg/dns"
	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine behind.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startServer serves src on fresh loopback sockets and returns the address
// (the same port for UDP and TCP). The server is closed at cleanup.
// listenPair opens a UDP socket and a TCP listener on one loopback port.
// A port free for UDP may be taken for TCP by another test process: other
// ports are tried.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		if try == 20 {
			t.Fatal(err)
		}
	}
}

func startServer(t testing.TB, src Source) string {
	t.Helper()
	pc, ln := listenPair(t)
	addr := pc.LocalAddr().String()
	s := New(src, nil)
	t.Cleanup(func() { s.Close() })
	if err := s.Start(context.Background(), pc, ln); err != nil {
		t.Fatal(err)
	}
	return addr
}

func exchange(t testing.TB, network, addr, name string, qtype uint16) *dns.Msg {
	t.Helper()
	c := &dns.Client{Net: network}
	resp, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), addr)
	if err != nil {
		t.Fatalf("%s %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return resp
}

// TestServer asks a served view over UDP and TCP with the miekg/dns client.
func TestServer(t *testing.T) {
	addr := startServer(t, testTable(t))
	tests := []struct {
		name  string
		qname string
		qtype uint16
		want  summary
	}{
		{"node", node1, dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{node1 + ". 5 IN A 10.0.1.10"}}},
		{"primary", primary, dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{primary + ". 5 IN CNAME " + node1 + ".", node1 + ". 5 IN A 10.0.1.10"}}},
		{"aaaa", node1, dns.TypeAAAA, summary{Rcode: "NOERROR", Ns: []string{cacheSOA}}},
		{"instance", instance, dns.TypeA, summary{Rcode: "NOERROR", Answer: []string{instance + ". 60 IN A 10.0.1.5"}}},
		{"unknown", unknownName, dns.TypeA, summary{Rcode: "NXDOMAIN", Ns: []string{cacheSOA}}},
		{"outside", "example.com", dns.TypeA, summary{Rcode: "REFUSED"}},
	}
	for _, network := range []string{"udp", "tcp"} {
		for _, tt := range tests {
			t.Run(network+"/"+tt.name, func(t *testing.T) {
				got := summarize(exchange(t, network, addr, tt.qname, tt.qtype))
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			})
		}
	}
}

// TestServerTruncation: an answer too big for UDP comes truncated (TC set)
// over UDP, whole over TCP — the retry every stub resolver makes.
func TestServerTruncation(t *testing.T) {
	tab, name := bigTable(t)
	addr := startServer(t, tab)
	udp := exchange(t, "udp", addr, name, dns.TypeA)
	if !udp.Truncated || len(udp.Answer) >= 100 {
		t.Errorf("udp: TC=%v with %d answers, want TC and fewer than 100", udp.Truncated, len(udp.Answer))
	}
	tcp := exchange(t, "tcp", addr, name, dns.TypeA)
	if tcp.Truncated || len(tcp.Answer) != 100 {
		t.Errorf("tcp: TC=%v with %d answers, want all 100", tcp.Truncated, len(tcp.Answer))
	}
}

// TestServerSeesUpdate: a record change is in the answer to the next query.
func TestServerSeesUpdate(t *testing.T) {
	tab := testTable(t)
	addr := startServer(t, tab)
	first := exchange(t, "udp", addr, primary, dns.TypeA)
	if len(first.Answer) != 2 || first.Answer[1].(*dns.A).A.String() != ip1.String() {
		t.Fatalf("before failover: %v", first.Answer)
	}
	if err := tab.Set([]string{cacheZone, ec2Zone}, testRecords(node2)); err != nil {
		t.Fatal(err)
	}
	next := exchange(t, "udp", addr, primary, dns.TypeA)
	if len(next.Answer) != 2 || next.Answer[1].(*dns.A).A.String() != ip2.String() {
		t.Errorf("first query after failover: %v, want the CNAME to %s and %s", next.Answer, node2, ip2)
	}
}

// TestServerViews: two VPCs' resolvers each answer from their own view only.
func TestServerViews(t *testing.T) {
	a, b := new(Table), new(Table)
	if err := a.Set([]string{cacheZone}, []Record{{Name: node1, TTL: CacheTTL, Addr: ip1}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Set([]string{cacheZone}, []Record{{Name: node2, TTL: CacheTTL, Addr: ip2}}); err != nil {
		t.Fatal(err)
	}
	addrA, addrB := startServer(t, a), startServer(t, b)
	for _, tt := range []struct {
		addr, name, want string
	}{
		{addrA, node1, "NOERROR"}, {addrA, node2, "NXDOMAIN"},
		{addrB, node2, "NOERROR"}, {addrB, node1, "NXDOMAIN"},
	} {
		if got := dns.RcodeToString[exchange(t, "udp", tt.addr, tt.name, dns.TypeA).Rcode]; got != tt.want {
			t.Errorf("query %s at %s = %s, want %s", tt.name, tt.addr, got, tt.want)
		}
	}
}

func TestStartErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("no-sockets", func(t *testing.T) {
		s := New(testTable(t), nil)
		if err := s.Start(ctx, nil, nil); err == nil {
			t.Error("Start(nil, nil) succeeded")
		}
		s.Close()
	})
	t.Run("twice", func(t *testing.T) {
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
		pc2, _ := net.ListenPacket("udp", "127.0.0.1:0")
		defer pc2.Close()
		s := New(testTable(t), nil)
		defer s.Close()
		if err := s.Start(ctx, pc, nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Start(ctx, pc2, nil); err == nil || !strings.Contains(err.Error(), "already started") {
			t.Errorf("second Start = %v, want already started", err)
		}
	})
	t.Run("after-close", func(t *testing.T) {
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
		defer pc.Close()
		s := New(testTable(t), nil)
		s.Close()
		if err := s.Start(ctx, pc, nil); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Errorf("Start after Close = %v, want closed", err)
		}
	})
	t.Run("partial", func(t *testing.T) {
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		// TCP starts; the UDP socket is already closed, so UDP fails.
		// Close then stops the TCP side and leaves no goroutine behind.
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
		pc.Close()
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		s := New(testTable(t), nil)
		if err := s.Start(ctx, pc, ln); err == nil || !strings.Contains(err.Error(), "serve udp") {
			t.Errorf("Start = %v, want a udp error", err)
		}
		if c, err := net.Dial("tcp", ln.Addr().String()); err != nil {
			t.Errorf("TCP is not serving after the partial start: %v", err)
		} else {
			c.Close()
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
		if err := s.Close(); err != nil {
			t.Errorf("second Close = %v", err)
		}
		if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
			c.Close()
			t.Error("Close left the listener open")
		}
	})
	t.Run("cancelled-context", func(t *testing.T) {
		// Whether Start sees the cancellation or the start first, Close
		// stops whatever began.
		defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
		pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		s := New(testTable(t), nil)
		_ = s.Start(cctx, pc, ln)
		s.Close()
	})
	t.Run("close-before-start", func(t *testing.T) {
		if err := New(testTable(t), nil).Close(); err != nil {
			t.Error(err)
		}
	})
}

// TestCloseWithClients: Close returns while a TCP client holds an idle
// connection (closing it) and leaves no goroutine of the server behind.
func TestCloseWithClients(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	pc, ln := listenPair(t)
	s := New(testTable(t), nil)
	if err := s.Start(context.Background(), pc, ln); err != nil {
		t.Fatal(err)
	}
	conn, err := dns.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.WriteMsg(new(dns.Msg).SetQuestion(node1+".", dns.TypeA)); err != nil {
		t.Fatal(err)
	}
	if resp, err := conn.ReadMsg(); err != nil || len(resp.Answer) != 1 {
		t.Fatalf("query on the kept connection: %v, %v", resp, err)
	}
	exchange(t, "udp", pc.LocalAddr().String(), node1, dns.TypeA)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ReadMsg(); err == nil {
		t.Error("the idle connection is still open after Close")
	}
}

// TestGoResolver asks the server with Go's own stub resolver, as a Go
// application inside an instance would (there through resolv.conf; here by
// dialing the server directly).
func TestGoResolver(t *testing.T) {
	addr := startServer(t, testTable(t))
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	ctx := context.Background()
	if got, err := r.LookupHost(ctx, primary+"."); err != nil || len(got) != 1 || got[0] != "10.0.1.10" {
		t.Errorf("LookupHost(%s) = %v, %v; want [10.0.1.10]", primary, got, err)
	}
	if got, err := r.LookupCNAME(ctx, reader+"."); err != nil || got != node2+"." {
		t.Errorf("LookupCNAME(%s) = %q, %v; want %s.", reader, got, err, node2)
	}
	var dnsErr *net.DNSError
	if _, err := r.LookupHost(ctx, unknownName+"."); !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
		t.Errorf("LookupHost(%s) = %v, want not found", unknownName, err)
	}
}
