package netplane

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

// dnsState is two peered VPCs, each with an interface whose groups admit
// nothing at all; VPC a has DNS.
func dnsState(dns bool) State {
	return State{
		VPCs: []VPC{
			{ID: "vpc-0a", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}, DNS: dns},
			{ID: "vpc-0b", CIDRs: []netip.Prefix{pfx("10.1.0.0/16")}},
		},
		Subnets: []Subnet{
			{ID: "subnet-0a1", VPC: "vpc-0a", CIDR: pfx("10.0.0.0/24")},
			{ID: "subnet-0a2", VPC: "vpc-0a", CIDR: pfx("10.0.1.0/24")},
			{ID: "subnet-0b", VPC: "vpc-0b", CIDR: pfx("10.1.0.0/24")},
		},
		Interfaces: []Interface{
			{ID: "eni-0near", Subnet: "subnet-0a1", PrivateIP: addr("10.0.0.10"), Groups: []string{"sg-0closed"}},
			{ID: "eni-0far", Subnet: "subnet-0a2", PrivateIP: addr("10.0.1.10"), Groups: []string{"sg-0closed"}},
			{ID: "eni-0peer", Subnet: "subnet-0b", PrivateIP: addr("10.1.0.10"), Groups: []string{"sg-0bopen"}},
		},
		Groups: []SecurityGroup{
			{ID: "sg-0closed", VPC: "vpc-0a"}, // no rule: nothing in, nothing out
			{ID: "sg-0bopen", VPC: "vpc-0b", Egress: []Rule{{ID: "sgr-0ball", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}},
		},
		Peerings: []Peering{{ID: "pcx-0ab",
			Requester: PeeringSide{VPC: "vpc-0a", Routes: []netip.Prefix{pfx("10.1.0.0/16")}},
			Accepter:  PeeringSide{VPC: "vpc-0b", Routes: []netip.Prefix{pfx("10.0.0.0/16")}},
		}},
	}
}

// A VPC's DNS server addresses live in its router and admit queries from
// every interface of the VPC, whatever its groups (here: none admit
// anything), from a server whose sockets the caller opens in the router
// namespace; the reply comes from the address asked. Nothing else reaches
// them: not a peered VPC, not another port. Without DNS the addresses
// are gone.
func TestKernelDNSServerAddresses(t *testing.T) {
	p, _ := newTestPlane(t)
	apply(t, p, dnsState(true))
	ctx := context.Background()
	// A UDP socket on each address (so that an answer leaves from the
	// address asked), answering each datagram with its payload.
	for _, a := range []string{"10.0.0.2:53", "169.254.169.253:53"} {
		pc, err := p.ListenPacket(ctx, "vpc-0a", "udp4", a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { pc.Close() })
		go udpEcho(pc)
	}
	serveConns(t, p, "vpc-0a", 53, func(net.Conn) {})
	serveConns(t, p, "vpc-0a", 54, func(net.Conn) {})

	for _, eni := range []string{"eni-0near", "eni-0far"} {
		for _, server := range []string{"10.0.0.2", "169.254.169.253"} {
			if err := udpAsk(p, eni, server); err != nil {
				t.Errorf("%s -> %s:53/udp: %v, want an answer from %s", eni, server, err, server)
			}
			if err := tcpAsk(p, eni, server); err != nil {
				t.Errorf("%s -> %s:53/tcp: %v, want an answer", eni, server, err)
			}
		}
	}
	// A peered VPC's interface routes to 10.0.0.2 through the peering: the
	// router of vpc-0a does not serve it.
	if err := udpAsk(p, "eni-0peer", "10.0.0.2"); err == nil {
		t.Error("eni-0peer (peered VPC) -> 10.0.0.2:53/udp answered, want nothing")
	}
	// Another port of the DNS address is not served.
	if err := tcpAskPort(p, "eni-0near", "10.0.0.2", 54); err == nil {
		t.Error("eni-0near -> 10.0.0.2:54/tcp answered, want nothing")
	}

	apply(t, p, dnsState(false))
	if err := udpAsk(p, "eni-0near", "10.0.0.2"); err == nil {
		t.Error("after DNS off: eni-0near -> 10.0.0.2:53/udp answered, want nothing")
	}
	cmd, err := p.Command(ctx, "vpc-0a", "ip", "-4", "-o", "addr", "show", "dev", "lo")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := cmd.CombinedOutput(); err != nil || strings.Contains(string(b), "10.0.0.2") || strings.Contains(string(b), "169.254.169.253") || !strings.Contains(string(b), "127.0.0.1/8") {
		t.Errorf("after DNS off: the router's lo holds %s (%v), want 127.0.0.1/8 only", b, err)
	}
}

func udpEcho(pc net.PacketConn) {
	buf := make([]byte, 512)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		pc.WriteTo(buf[:n], from)
	}
}

// udpAsk sends a datagram from eni to server:53 and waits briefly for the
// echo, which must come from server.
func udpAsk(p *Plane, eni, server string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, eni, "udp4", net.JoinHostPort(server, "53"))
	if err != nil {
		return err
	}
	defer c.Close()
	// A connected UDP socket accepts datagrams from server:53 only: an
	// answer from another address would not be read.
	c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("query")); err != nil {
		return err
	}
	buf := make([]byte, 16)
	n, err := c.Read(buf)
	if err != nil {
		return err
	}
	if string(buf[:n]) != "query" {
		return errors.New("wrong answer " + string(buf[:n]))
	}
	return nil
}

func tcpAsk(p *Plane, eni, server string) error { return tcpAskPort(p, eni, server, 53) }

func tcpAskPort(p *Plane, eni, server string, port int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := p.Dial(ctx, eni, "tcp4", net.JoinHostPort(server, strconv.Itoa(port)))
	if err != nil {
		return err
	}
	return c.Close()
}
