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
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app"
	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/netplane"
)

const (
	trustedClient = "198.51.100.27"
	otherClient   = "203.0.113.9"
)

// TestNetplaneInternetElasticIP: an Elastic IP is reachable from outside
// only with an internet gateway attached, a route to it from the subnet
// and a security group rule; the instance sees the client's real address,
// the client sees replies from the Elastic IP, and the instance's own
// connections leave from the Elastic IP. Removing the route, disassociating
// the address or detaching the gateway cuts it.
func TestNetplaneInternetElasticIP(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, subnets := n.CreateVPC(t, "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24")
	public := subnets[0]
	sg := n.CreateGroup(t, "nat", vpc)
	nat := n.RunInstance(t, public, sg)
	plain := n.RunInstance(t, public, sg) // public subnet, no Elastic IP
	trusted, other := n.Outside(t, trustedClient), n.Outside(t, otherClient)
	n.WaitIdle(t)
	n.ListenWho(t, nat.ENI, 6379)
	n.ListenWho(t, plain.ENI, 6379)
	n.ListenWho(t, trusted, 8080)

	alloc, err := n.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatalf("AllocateAddress = %v", err)
	}
	eip := aws.ToString(alloc.PublicIp)
	n.Blocked(t, "unassociated Elastic IP", trusted, eip, 6379)

	igw, err := n.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatalf("CreateInternetGateway = %v", err)
	}
	igwID := aws.ToString(igw.InternetGateway.InternetGatewayId)
	if _, err := n.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AttachInternetGateway = %v", err)
	}
	assoc, err := n.EC2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)})
	if err != nil {
		t.Fatalf("AssociateAddress = %v", err)
	}
	n.WaitIdle(t)
	n.Blocked(t, "gateway attached, no route to it", trusted, eip, 6379)

	rtb := n.SubnetRouteTable(t, vpc, public)
	route := func() {
		t.Helper()
		if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String("0.0.0.0/0"), GatewayId: aws.String(igwID)}); err != nil {
			t.Fatalf("CreateRoute(0.0.0.0/0 -> %s) = %v", igwID, err)
		}
		n.WaitIdle(t)
	}
	route()
	n.Blocked(t, "public subnet, no security group rule", trusted, eip, 6379)

	n.AllowIn(t, sg, nettest.TCPPerm(6379, trustedClient+"/32"))
	n.WaitIdle(t)
	n.Reaches(t, "public subnet, rule for the client", trusted, eip, 6379, trustedClient)
	if links := n.InternetLinks(t); !strings.Contains(links, igwID+" to "+vpc) {
		t.Errorf("the internet namespace has no link to %s:\n%s", igwID, links)
	}
	n.Blocked(t, "another outside client", other, eip, 6379)
	n.Blocked(t, "the private address from outside", trusted, nat.IP, 6379)
	n.Blocked(t, "an instance without an Elastic IP from outside", trusted, plain.IP, 6379)
	// Out: the instance's connection leaves from its Elastic IP.
	n.Reaches(t, "instance to the internet", nat.ENI, trustedClient, 8080, eip)
	n.Blocked(t, "instance without an Elastic IP to the internet", plain.ENI, trustedClient, 8080)

	// No route, no path (replies included).
	if _, err := n.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String("0.0.0.0/0")}); err != nil {
		t.Fatalf("DeleteRoute = %v", err)
	}
	n.WaitIdle(t)
	n.Blocked(t, "route deleted", trusted, eip, 6379)
	n.Blocked(t, "route deleted, outbound", nat.ENI, trustedClient, 8080)
	route()
	n.Reaches(t, "route restored", trusted, eip, 6379, trustedClient)

	// Disassociating the Elastic IP cuts it.
	if _, err := n.EC2.DisassociateAddress(ctx, &ec2.DisassociateAddressInput{AssociationId: assoc.AssociationId}); err != nil {
		t.Fatalf("DisassociateAddress = %v", err)
	}
	n.WaitIdle(t)
	n.Blocked(t, "Elastic IP disassociated", trusted, eip, 6379)
	n.Blocked(t, "Elastic IP disassociated, outbound", nat.ENI, trustedClient, 8080)

	// Detached, the gateway takes the VPC off the internet: no Elastic IP
	// can be associated, and the internet namespace has no link to it.
	if _, err := n.EC2.DetachInternetGateway(ctx, &ec2.DetachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("DetachInternetGateway = %v", err)
	}
	n.WaitIdle(t)
	if _, err := n.EC2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)}); nettest.Code(err) != "Gateway.NotAttached" {
		t.Errorf("AssociateAddress without a gateway = %v, want Gateway.NotAttached", err)
	}
	n.Blocked(t, "gateway detached", trusted, eip, 6379)
	n.Blocked(t, "gateway detached, outbound", nat.ENI, trustedClient, 8080)
	if links := n.InternetLinks(t); strings.Contains(links, igwID) {
		t.Errorf("the internet namespace still has a link to %s after detaching:\n%s", igwID, links)
	}

	// Attached and associated again, it works again.
	if _, err := n.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: aws.String(igwID), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AttachInternetGateway again = %v", err)
	}
	if _, err := n.EC2.AssociateAddress(ctx, &ec2.AssociateAddressInput{AllocationId: alloc.AllocationId, InstanceId: aws.String(nat.ID)}); err != nil {
		t.Fatalf("AssociateAddress again = %v", err)
	}
	n.WaitIdle(t)
	n.Reaches(t, "attached and associated again", trusted, eip, 6379, trustedClient)
}

// TestNetplaneInternetOutsideAddresses: an outside client may not take an
// address of the Elastic IP pool (one just allocated proves the pools
// agree) or of a VPC; one that is refused creates nothing.
func TestNetplaneInternetOutsideAddresses(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	alloc, err := n.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatalf("AllocateAddress = %v", err)
	}
	n.CreateVPC(t, "10.7.0.0/16")
	// The default VPC's internet gateway makes the internet namespace by
	// itself: compare with what exists once the network has settled.
	n.WaitIdle(t)
	prefix := app.InstallPrefix(n.DataDir)
	before := nettest.OwnedNetns(t, prefix)
	for addr, want := range map[string]string{
		aws.ToString(alloc.PublicIp): "Elastic IP pool",
		"100.64.0.1":                 "Elastic IP pool",
		"172.31.5.5":                 "inside 172.31.0.0/16", // the default VPC
		"10.7.9.9":                   "inside 10.7.0.0/16",
		"127.0.0.1":                  "unicast",
		"169.254.0.1":                "unicast",
		"224.0.0.1":                  "unicast",
	} {
		_, err := n.App.OutsideClient(ctx, netip.MustParseAddr(addr))
		if !errors.Is(err, app.ErrOutsideAddress) || !strings.Contains(err.Error(), want) {
			t.Errorf("OutsideClient(%s) = %v, want ErrOutsideAddress mentioning %q", addr, err, want)
		}
	}
	n.WaitIdle(t)
	if got := nettest.OwnedNetns(t, prefix); slices.ContainsFunc(got, func(s string) bool {
		return strings.Contains(s, "outside") || !slices.Contains(before, s)
	}) {
		t.Errorf("refused outside clients left namespaces: %v (before them: %v)", got, before)
	}
}

// TestNetplaneInternetTeardown: teardown removes the internet namespace
// and the outside clients' with everything else.
func TestNetplaneInternetTeardown(t *testing.T) {
	n := nettest.Start(t)
	vpc, subnets := n.CreateVPC(t, "10.0.0.0/16", "10.0.0.0/24")
	igw, err := n.EC2.CreateInternetGateway(context.Background(), &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.EC2.AttachInternetGateway(context.Background(), &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: aws.String(vpc)}); err != nil {
		t.Fatal(err)
	}
	n.RunInstance(t, subnets[0])
	id := n.Outside(t, trustedClient)
	n.WaitIdle(t)
	prefix := app.InstallPrefix(n.DataDir)
	got := nettest.OwnedNetns(t, prefix)
	for _, want := range []string{prefix + "-internet", netplane.NamespaceName(prefix, id)} {
		if !slices.Contains(got, want) {
			t.Fatalf("namespaces = %v, want %s among them", got, want)
		}
	}
	if err := n.App.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := app.Teardown(ctx, n.DataDir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("Teardown = %v", err)
	}
	if got := nettest.OwnedNetns(t, prefix); len(got) != 0 {
		t.Errorf("namespaces left after teardown: %v", got)
	}
}
