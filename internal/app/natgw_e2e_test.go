package app_test

// Public addresses on launch and NAT gateways, proven through the product
// with real connections between an outside client's namespace and the
// instances' (all inside the installation's own namespaces).
//
//	go test -race -count=1 -run 'TestNetplaneInternet(PublicIP|NATGateway)' ./internal/app/

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// publicVPC makes a VPC with a public subnet (its own route table:
// 0.0.0.0/0 to an attached internet gateway) and a private one (the main
// table, local only), and a group admitting the trusted client on 6379.
func publicVPC(t *testing.T, n *nettest.Env) (vpc, public, private, sg, publicRtb string) {
	t.Helper()
	ctx := context.Background()
	vpc, subnets := n.CreateVPC(t, "10.0.0.0/16", "10.0.0.0/24", "10.0.1.0/24")
	public, private = subnets[0], subnets[1]
	igw, err := n.EC2.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.EC2.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: aws.String(vpc)}); err != nil {
		t.Fatal(err)
	}
	rt, err := n.EC2.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: aws.String(vpc)})
	if err != nil {
		t.Fatal(err)
	}
	publicRtb = aws.ToString(rt.RouteTable.RouteTableId)
	if _, err := n.EC2.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: aws.String(publicRtb), SubnetId: aws.String(public)}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(publicRtb), DestinationCidrBlock: aws.String("0.0.0.0/0"),
		GatewayId: igw.InternetGateway.InternetGatewayId}); err != nil {
		t.Fatal(err)
	}
	sg = n.CreateGroup(t, "web", vpc)
	n.AllowIn(t, sg, nettest.TCPPerm(6379, trustedClient+"/32"))
	return vpc, public, private, sg, publicRtb
}

func publicIPOf(t *testing.T, n *nettest.Env, id string) string {
	t.Helper()
	d, err := n.EC2.DescribeInstances(context.Background(), &ec2.DescribeInstancesInput{InstanceIds: []string{id}})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(d.Reservations[0].Instances[0].PublicIpAddress)
}

// TestNetplaneInternetPublicIP: a subnet with MapPublicIpOnLaunch gives a
// launched instance a public address reachable from the simulated
// internet exactly as an Elastic IP (security groups apply, its own
// connections leave from it); stopped, the address is gone; started, a
// new one works.
func TestNetplaneInternetPublicIP(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	_, public, _, sg, _ := publicVPC(t, n)
	if _, err := n.EC2.ModifySubnetAttribute(ctx, &ec2.ModifySubnetAttributeInput{SubnetId: aws.String(public),
		MapPublicIpOnLaunch: &ec2types.AttributeBooleanValue{Value: aws.Bool(true)}}); err != nil {
		t.Fatalf("ModifySubnetAttribute = %v", err)
	}
	web := n.RunInstance(t, public, sg)
	trusted, other := n.Outside(t, trustedClient), n.Outside(t, otherClient)
	pub := publicIPOf(t, n, web.ID)
	if pub == "" {
		t.Fatal("no public address on launch in a subnet with MapPublicIpOnLaunch")
	}
	n.WaitIdle(t)
	n.ListenWho(t, web.ENI, 6379)
	n.ListenWho(t, trusted, 8080)
	n.Reaches(t, "public address from outside", trusted, pub, 6379, trustedClient)
	n.Blocked(t, "public address, no rule for this client", other, pub, 6379)
	n.Reaches(t, "instance to the internet", web.ENI, trustedClient, 8080, pub)

	if _, err := n.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{web.ID}}); err != nil {
		t.Fatalf("StopInstances = %v", err)
	}
	if got := publicIPOf(t, n, web.ID); got != "" {
		t.Errorf("stopped instance has public address %s", got)
	}
	n.WaitIdle(t)
	n.Blocked(t, "stopped instance's former public address", trusted, pub, 6379)

	if _, err := n.EC2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{web.ID}}); err != nil {
		t.Fatalf("StartInstances = %v", err)
	}
	again := publicIPOf(t, n, web.ID)
	if again == "" {
		t.Fatal("started instance has no public address")
	}
	n.WaitIdle(t)
	n.ListenWho(t, web.ENI, 6379)
	n.Reaches(t, "new public address after start", trusted, again, 6379, trustedClient)
}

// TestNetplaneInternetNATGateway: an instance in a private subnet (no
// public address) reaches a listener on the simulated internet through a
// NAT gateway of the public subnet, and the outside sees the NAT gateway's
// Elastic IP; nothing reaches the instance from outside; deleting the
// route, or the NAT gateway, breaks it.
func TestNetplaneInternetNATGateway(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, public, private, sg, _ := publicVPC(t, n)
	app := n.RunInstance(t, private, sg)
	if pub := publicIPOf(t, n, app.ID); pub != "" {
		t.Fatalf("instance of a private subnet has public address %s", pub)
	}
	trusted := n.Outside(t, trustedClient)
	alloc, err := n.EC2.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
	if err != nil {
		t.Fatal(err)
	}
	eip := aws.ToString(alloc.PublicIp)
	nat, err := n.EC2.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{SubnetId: aws.String(public), AllocationId: alloc.AllocationId})
	if err != nil {
		t.Fatalf("CreateNatGateway = %v", err)
	}
	natID := aws.ToString(nat.NatGateway.NatGatewayId)
	w := ec2.NewNatGatewayAvailableWaiter(n.EC2)
	if err := w.Wait(ctx, &ec2.DescribeNatGatewaysInput{NatGatewayIds: []string{natID}}, 30*time.Second); err != nil {
		t.Fatalf("NAT gateway never available: %v", err)
	}
	n.WaitIdle(t)
	n.ListenWho(t, trusted, 8080)
	n.ListenWho(t, app.ENI, 6379)
	n.Blocked(t, "private subnet without a route", app.ENI, trustedClient, 8080)

	privRtb := n.SubnetRouteTable(t, vpc, private)
	if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(privRtb), DestinationCidrBlock: aws.String("0.0.0.0/0"),
		NatGatewayId: aws.String(natID)}); err != nil {
		t.Fatalf("CreateRoute(0.0.0.0/0 -> %s) = %v", natID, err)
	}
	n.WaitIdle(t)
	n.Reaches(t, "private subnet through the NAT gateway", app.ENI, trustedClient, 8080, eip)
	n.Blocked(t, "the NAT gateway's address from outside", trusted, eip, 6379)
	n.Blocked(t, "the private address from outside", trusted, app.IP, 6379)

	if _, err := n.EC2.DeleteRoute(ctx, &ec2.DeleteRouteInput{RouteTableId: aws.String(privRtb), DestinationCidrBlock: aws.String("0.0.0.0/0")}); err != nil {
		t.Fatalf("DeleteRoute = %v", err)
	}
	n.WaitIdle(t)
	n.Blocked(t, "route to the NAT gateway deleted", app.ENI, trustedClient, 8080)

	if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(privRtb), DestinationCidrBlock: aws.String("0.0.0.0/0"),
		NatGatewayId: aws.String(natID)}); err != nil {
		t.Fatalf("CreateRoute again = %v", err)
	}
	n.WaitIdle(t)
	n.Reaches(t, "route restored", app.ENI, trustedClient, 8080, eip)
	if _, err := n.EC2.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(natID)}); err != nil {
		t.Fatalf("DeleteNatGateway = %v", err)
	}
	n.WaitIdle(t)
	n.Blocked(t, "NAT gateway deleted", app.ENI, trustedClient, 8080)
}
