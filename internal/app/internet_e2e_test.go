package app_test

// Access from outside AWS (SEEDS 002), proven through the product: VPCs,
// internet gateways, route tables, Elastic IPs and security groups are made
// through the EC2 API, outside clients with App.OutsideClient, and real TCP
// connections are opened from an outside client's namespace to an Elastic
// IP and back. Every packet starts inside a namespace of the installation
// under test and goes to an address inside such namespaces.
//
//	go test -race -count=1 -run 'Internet' ./internal/app/

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

const (
	trustedClient = "198.51.100.27"
	otherClient   = "203.0.113.9"
)

// outside makes the outside client addr and returns its namespace id.
func (n *npEnv) outside(t testing.TB, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	id, err := n.env.App.OutsideClient(ctx, netip.MustParseAddr(addr))
	if err != nil {
		t.Fatalf("OutsideClient(%s) = %v", addr, err)
	}
	return id
}

// listenWho answers every connection to port inside namespace id with the
// source address it came from, one line, until the test ends.
func (n *npEnv) listenWho(t testing.TB, id string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := n.env.App.Plane().Listen(ctx, id, "tcp4", fmt.Sprintf("0.0.0.0:%d", port))
	if err != nil {
		t.Fatalf("Listen(%s, %d) = %v", id, port, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprintf(c, "%s\n", c.RemoteAddr().(*net.TCPAddr).IP)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
}

// askWho connects from namespace id to addr:port; it returns the source
// address the listener saw and the address the reply came from, or the
// classified failure.
func (n *npEnv) askWho(id, addr string, port int, timeout time.Duration) (seen, from string, p probe, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	c, err := n.env.App.Plane().Dial(ctx, id, "tcp4", net.JoinHostPort(addr, fmt.Sprint(port)))
	if err != nil {
		p, err = classify(nil, err)
		return "", "", p, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", "", probe{}, fmt.Errorf("read from %s:%d: %w", addr, port, err)
	}
	return strings.TrimSpace(line), c.RemoteAddr().(*net.TCPAddr).IP.String(), probe{true, "connected"}, nil
}

// reaches asserts that id connects to addr:port and that the listener saw
// wantSeen and the replies came from addr.
func (n *npEnv) reaches(t testing.TB, what, id, addr string, port int, wantSeen string) {
	t.Helper()
	seen, from, p, err := n.askWho(id, addr, port, 5*time.Second)
	switch {
	case err != nil:
		t.Errorf("%s: %s -> %s:%d: %v", what, id, addr, port, err)
	case !p.Passed:
		t.Errorf("%s: %s -> %s:%d %s, want a connection", what, id, addr, port, p.Detail)
	case seen != wantSeen || from != addr:
		t.Errorf("%s: %s -> %s:%d: the listener saw %s and the replies came from %s; want %s and %s", what, id, addr, port, seen, from, wantSeen, addr)
	}
}

// blocked asserts that id cannot connect to addr:port (dropped or
// unroutable; a listener is there).
func (n *npEnv) blocked(t testing.TB, what, id, addr string, port int) {
	t.Helper()
	_, _, p, err := n.askWho(id, addr, port, 400*time.Millisecond)
	if err != nil {
		t.Errorf("%s: %s -> %s:%d: %v, want it blocked", what, id, addr, port, err)
		return
	}
	if p.Passed {
		t.Errorf("%s: %s -> %s:%d %s, want it blocked", what, id, addr, port, p.Detail)
	}
}

// TestNetplaneInternetElasticIP: an Elastic IP is reachable from outside
// only with an internet gateway attached, a route to it from the subnet
// and a security group rule; the instance sees the client's real address,
// the client sees replies from the Elastic IP, and the instance's own
// connections leave from the Elastic IP. Removing the route, disassociating
// the address or detaching the gateway cuts it.
func TestNetplaneInternetElasticIP(t *testing.T) {
	n := startNP(t)
	ctx := context.Background()
	vpc, subnets := n.createVPC(t, "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24")
	public := subnets[0]
	sg := n.createGroup(t, "nat", vpc)
	nat := n.runInstance(t, public, sg)
	plain := n.runInstance(t, public, sg) // public subnet, no Elastic IP
	trusted, other := n.outside(t, trustedClient), n.outside(t, otherClient)
	n.waitIdle(t)
	n.listenWho(t, nat.ENI, 6379)
	n.listenWho(t, plain.ENI, 6379)
	n.listenWho(t, trusted, 8080)

	alloc, err := n.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatalf("AllocateAddress = %v", err)
	}
	eip := aws.ToString(alloc.PublicIp)
	n.blocked(t, "unassociated Elastic IP", trusted, eip, 6379)

	igw, err := n.ec2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatalf("CreateInternetGateway = %v", err)
	}
	igwID := aws.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := n.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AttachInternetGateway = %v", err)
	}
	assoc, err := n.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)})
	if err != nil {
		t.Fatalf("AssociateAddress = %v", err)
	}
	n.waitIdle(t)
	n.blocked(t, "gateway attached, no route to it", trusted, eip, 6379)

	rtb := n.subnetRouteTable(t, vpc, public)
	route := func() {
		t.Helper()
		if _, err := n.ec2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igwID)}); err != nil {
			t.Fatalf("CreateRoute(0.0.0.0/0 -> %s) = %v", igwID, err)
		}
		n.waitIdle(t)
	}
	route()
	n.blocked(t, "public subnet, no security group rule", trusted, eip, 6379)

	n.allowIn(t, sg, tcpPerm(6379, trustedClient+"/32"))
	n.waitIdle(t)
	n.reaches(t, "public subnet, rule for the client", trusted, eip, 6379, trustedClient)
	if links := n.internetLinks(t); !strings.Contains(links, igwID+" to "+vpc) {
		t.Errorf("the internet namespace has no link to %s:\n%s", igwID, links)
	}
	n.blocked(t, "another outside client", other, eip, 6379)
	n.blocked(t, "the private address from outside", trusted, nat.IP, 6379)
	n.blocked(t, "an instance without an Elastic IP from outside", trusted, plain.IP, 6379)
	// Out: the instance's connection leaves from its Elastic IP.
	n.reaches(t, "instance to the internet", nat.ENI, trustedClient, 8080, eip)
	n.blocked(t, "instance without an Elastic IP to the internet", plain.ENI, trustedClient, 8080)

	// No route, no path (replies included).
	if _, err := n.ec2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String("0.0.0.0/0")}); err != nil {
		t.Fatalf("DeleteRoute = %v", err)
	}
	n.waitIdle(t)
	n.blocked(t, "route deleted", trusted, eip, 6379)
	n.blocked(t, "route deleted, outbound", nat.ENI, trustedClient, 8080)
	route()
	n.reaches(t, "route restored", trusted, eip, 6379, trustedClient)

	// Disassociating the Elastic IP cuts it.
	if _, err := n.ec2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: assoc.AssociationId}); err != nil {
		t.Fatalf("DisassociateAddress = %v", err)
	}
	n.waitIdle(t)
	n.blocked(t, "Elastic IP disassociated", trusted, eip, 6379)
	n.blocked(t, "Elastic IP disassociated, outbound", nat.ENI, trustedClient, 8080)

	// Detached, the gateway takes the VPC off the internet: no Elastic IP
	// can be associated, and the internet namespace has no link to it.
	if _, err := n.ec2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("DetachInternetGateway = %v", err)
	}
	n.waitIdle(t)
	if _, err := n.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)}); npCode(err) != "Gateway.NotAttached" {
		t.Errorf("AssociateAddress without a gateway = %v, want Gateway.NotAttached", err)
	}
	n.blocked(t, "gateway detached", trusted, eip, 6379)
	n.blocked(t, "gateway detached, outbound", nat.ENI, trustedClient, 8080)
	if links := n.internetLinks(t); strings.Contains(links, igwID) {
		t.Errorf("the internet namespace still has a link to %s after detaching:\n%s", igwID, links)
	}

	// Attached and associated again, it works again.
	if _, err := n.ec2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AttachInternetGateway again = %v", err)
	}
	if _, err := n.ec2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)}); err != nil {
		t.Fatalf("AssociateAddress again = %v", err)
	}
	n.waitIdle(t)
	n.reaches(t, "attached and associated again", trusted, eip, 6379, trustedClient)
}

// internetLinks lists the links of the internet namespace with their
// aliases ("igw-… to vpc-…", "outside client …").
func (n *npEnv) internetLinks(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd, err := n.env.App.Plane().Command(ctx, netplane.InternetID, "ip", "-o", "link", "show")
	if err != nil {
		t.Fatalf("command in the internet namespace: %v", err)
	}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ip link show in the internet namespace: %v", err)
	}
	return string(out)
}

// TestNetplaneInternetOutsideAddresses: an outside client may not take an
// address of the Elastic IP pool (one just allocated proves the pools
// agree) or of a VPC; one that is refused creates nothing.
func TestNetplaneInternetOutsideAddresses(t *testing.T) {
	n := startNP(t)
	ctx := context.Background()
	alloc, err := n.ec2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatalf("AllocateAddress = %v", err)
	}
	n.createVPC(t, "10.7.0.0/16")
	for addr, want := range map[string]string{
		aws.ToString(alloc.PublicIp): "Elastic IP pool",
		"100.64.0.1":                 "Elastic IP pool",
		"172.31.5.5":                 "inside 172.31.0.0/16", // the default VPC
		"10.7.9.9":                   "inside 10.7.0.0/16",
		"127.0.0.1":                  "unicast",
		"169.254.0.1":                "unicast",
		"224.0.0.1":                  "unicast",
	} {
		_, err := n.env.App.OutsideClient(ctx, netip.MustParseAddr(addr))
		if !errors.Is(err, app.ErrOutsideAddress) || !strings.Contains(err.Error(), want) {
			t.Errorf("OutsideClient(%s) = %v, want ErrOutsideAddress mentioning %q", addr, err, want)
		}
	}
	if got := ownedNetns(t, app.InstallPrefix(n.env.DataDir)); slices.ContainsFunc(got, func(s string) bool {
		return strings.Contains(s, "outside") || strings.HasSuffix(s, "-internet")
	}) {
		t.Errorf("refused outside clients left namespaces: %v", got)
	}
}

// TestNetplaneInternetTeardown: teardown removes the internet namespace
// and the outside clients' with everything else.
func TestNetplaneInternetTeardown(t *testing.T) {
	n := startNP(t)
	vpc, subnets := n.createVPC(t, "10.0.0.0/16", "10.0.0.0/24")
	igw, err := n.ec2.CreateInternetGateway(context.Background(), &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.ec2.AttachInternetGateway(context.Background(), &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: aws.String(vpc)}); err != nil {
		t.Fatal(err)
	}
	n.runInstance(t, subnets[0])
	id := n.outside(t, trustedClient)
	n.waitIdle(t)
	prefix := app.InstallPrefix(n.env.DataDir)
	got := ownedNetns(t, prefix)
	for _, want := range []string{prefix + "-internet", netplane.NamespaceName(prefix, id)} {
		if !slices.Contains(got, want) {
			t.Fatalf("namespaces = %v, want %s among them", got, want)
		}
	}
	if err := n.env.App.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Teardown(ctx, n.env.DataDir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Teardown = %v", err)
	}
	if got := ownedNetns(t, prefix); len(got) != 0 {
		t.Errorf("namespaces left after teardown: %v", got)
	}
}
