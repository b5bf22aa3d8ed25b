package app_test

// Focused tests of the network plane through the product (see
// netplane_diff_test.go for the approach and how to run them).

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
	"github.com/cachalot-dev/cachalot/internal/privtest"
)

// TestNetplaneStatefulReplies: the client's group may only send, the
// server's may only receive, and a connection still works both ways,
// because security groups are stateful; the server cannot open one back.
func TestNetplaneStatefulReplies(t *testing.T) {
	n := nettest.Start(t)
	vpc, _, _ := n.DefaultVPC(t)
	cli := n.CreateGroup(t, "egress-only", vpc) // keeps its default all-egress rule, no ingress
	srv := n.CreateGroup(t, "ingress-only", vpc)
	n.RevokeAllEgress(t, srv)
	n.AllowIn(t, srv, nettest.TCPPerm(8080, cli))
	c := n.RunInstance(t, "", cli)
	s := n.RunInstance(t, "", srv)
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 8080)
	n.Listen(t, c.ENI, 9000)

	n.Expect(t, "client to server", c, s, 8080, true)
	n.Expect(t, "server to client", s, c, 9000, false)
	if v := nettest.ReplyVerdict(t, n, s.ENI, c.ENI, 8080); !v.Allowed || !v.Reply {
		t.Errorf("sgeval reply %s -> %s = %s, want allowed as a reply", s.ID, c.ID, v)
	}
	// The reply carries data, not just the handshake.
	conn := nettest.DialEcho(t, n, c.ENI, s.IP, 8080)
	nettest.Echo(t, conn, "hello through a stateful firewall")
}

// TestNetplaneRevokeKeepsEstablished: a rule added through the API admits
// new connections; once revoked, new connections are refused while one
// opened before the revoke keeps working (AWS tracks established flows).
func TestNetplaneRevokeKeepsEstablished(t *testing.T) {
	n := nettest.Start(t)
	vpc, _, _ := n.DefaultVPC(t)
	cg, sg := n.CreateGroup(t, "client", vpc), n.CreateGroup(t, "server", vpc)
	c := n.RunInstance(t, "", cg)
	s := n.RunInstance(t, "", sg)
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 7000)
	n.Expect(t, "before the rule", c, s, 7000, false)

	rule := n.AllowIn(t, sg, nettest.TCPPerm(7000, c.IP+"/32"))
	n.WaitIdle(t)
	n.Expect(t, "after authorize", c, s, 7000, true)
	established := nettest.DialEcho(t, n, c.ENI, s.IP, 7000)
	nettest.Echo(t, established, "before the revoke")

	n.RevokeIn(t, sg, rule)
	n.WaitIdle(t)
	n.Expect(t, "new connection after revoke", c, s, 7000, false)
	nettest.Echo(t, established, "after the revoke, on the connection opened before")
	// Still alive a little later, after more rule changes.
	other := n.AllowIn(t, sg, nettest.TCPPerm(7001, c.IP+"/32"))
	n.RevokeIn(t, sg, other)
	n.WaitIdle(t)
	nettest.Echo(t, established, "after two more ruleset replacements")
	n.Expect(t, "new connection after more changes", c, s, 7000, false)
}

// TestNetplaneGroupMembership: a rule admits members of a group; an
// instance joins it (ModifyInstanceAttribute, ModifyNetworkInterfaceAttribute)
// and can connect, leaves it and cannot.
func TestNetplaneGroupMembership(t *testing.T) {
	n := nettest.Start(t)
	vpc, _, _ := n.DefaultVPC(t)
	app, other, db := n.CreateGroup(t, "app", vpc), n.CreateGroup(t, "other", vpc), n.CreateGroup(t, "db", vpc)
	n.AllowIn(t, db, nettest.TCPPerm(5432, app))
	a := n.RunInstance(t, "", other)
	b := n.RunInstance(t, "", other)
	s := n.RunInstance(t, "", db)
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 5432)
	n.Expect(t, "a outside app", a, s, 5432, false)
	n.Expect(t, "b outside app", b, s, 5432, false)

	ctx := context.Background()
	if _, err := n.EC2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(a.ID), Groups: []string{other, app}}); err != nil {
		t.Fatalf("ModifyInstanceAttribute(%s, +app) = %v", a.ID, err)
	}
	if _, err := n.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(b.ENI), Groups: []string{app}}); err != nil {
		t.Fatalf("ModifyNetworkInterfaceAttribute(%s, app) = %v", b.ENI, err)
	}
	n.WaitIdle(t)
	n.Expect(t, "a joined app (ModifyInstanceAttribute)", a, s, 5432, true)
	n.Expect(t, "b joined app (ModifyNetworkInterfaceAttribute)", b, s, 5432, true)
	n.Expect(t, "a on another port", a, s, 5433, false)

	if _, err := n.EC2.ModifyInstanceAttribute(ctx, &ec2.ModifyInstanceAttributeInput{InstanceId: aws.String(a.ID), Groups: []string{other}}); err != nil {
		t.Fatalf("ModifyInstanceAttribute(%s, -app) = %v", a.ID, err)
	}
	if _, err := n.EC2.ModifyNetworkInterfaceAttribute(ctx, &ec2.ModifyNetworkInterfaceAttributeInput{NetworkInterfaceId: aws.String(b.ENI), Groups: []string{other}}); err != nil {
		t.Fatalf("ModifyNetworkInterfaceAttribute(%s, other) = %v", b.ENI, err)
	}
	n.WaitIdle(t)
	n.Expect(t, "a left app", a, s, 5432, false)
	n.Expect(t, "b left app", b, s, 5432, false)

	// A new instance launched into app is admitted at once.
	c := n.RunInstance(t, "", app)
	n.WaitIdle(t)
	n.Expect(t, "new member c", c, s, 5432, true)
}

// TestNetplanePeering: an instance in VPC B reaches one in VPC A only once
// the peering is accepted, both sides route to each other and a rule admits
// it; not after the peering is deleted.
func TestNetplanePeering(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpcA, cidrA, _ := n.DefaultVPC(t)
	vpcB, subB := n.CreateVPC(t, "10.20.0.0/16", "10.20.1.0/24")
	ga, gb := n.CreateGroup(t, "a", vpcA), n.CreateGroup(t, "b", vpcB)
	a := n.RunInstance(t, "", ga)
	b := n.RunInstance(t, subB[0], gb)
	n.WaitIdle(t)
	n.Listen(t, a.ENI, 6379)
	n.Listen(t, b.ENI, 6379)
	n.Expect(t, "no peering", b, a, 6379, false)

	po, err := n.EC2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(vpcB), PeerVpcId: aws.String(vpcA)})
	if err != nil {
		t.Fatalf("CreateVpcPeeringConnection = %v", err)
	}
	pcx := aws.ToString(po.VpcPeeringConnection.VpcPeeringConnectionId)
	rule := n.AllowIn(t, ga, nettest.TCPPerm(6379, "10.20.0.0/16"))
	n.WaitIdle(t)
	n.Expect(t, "peering pending, rule present", b, a, 6379, false)
	n.RevokeIn(t, ga, rule)

	if _, err := n.EC2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
		t.Fatalf("AcceptVpcPeeringConnection = %v", err)
	}
	n.WaitIdle(t)
	n.Expect(t, "accepted, no routes", b, a, 6379, false)

	route := func(rtb, dest string) {
		t.Helper()
		if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(rtb), DestinationCidrBlock: aws.String(dest), VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
			t.Fatalf("CreateRoute(%s, %s) = %v", rtb, dest, err)
		}
	}
	route(n.MainRouteTable(t, vpcB), cidrA.String())
	n.AllowIn(t, ga, nettest.TCPPerm(6379, "10.20.0.0/16"))
	n.WaitIdle(t)
	n.Expect(t, "route on B's side only, rule present", b, a, 6379, false)

	route(n.MainRouteTable(t, vpcA), "10.20.0.0/16")
	n.WaitIdle(t)
	n.Expect(t, "routes on both sides and a rule", b, a, 6379, true)
	n.Expect(t, "reverse direction (B admits nothing)", a, b, 6379, false)

	// A rule naming the peer VPC's group instead of its CIDR.
	n.RevokeIn(t, ga, nettest.FindRule(t, n, ga, "10.20.0.0/16"))
	n.WaitIdle(t)
	n.Expect(t, "CIDR rule revoked", b, a, 6379, false)
	n.AllowIn(t, ga, nettest.TCPPerm(6379, gb))
	n.WaitIdle(t)
	n.Expect(t, "rule naming the peer's group", b, a, 6379, true)

	if _, err := n.EC2.DeleteVpcPeeringConnection(ctx, &ec2.DeleteVpcPeeringConnectionInput{VpcPeeringConnectionId: aws.String(pcx)}); err != nil {
		t.Fatalf("DeleteVpcPeeringConnection = %v", err)
	}
	n.WaitIdle(t)
	n.Expect(t, "peering deleted", b, a, 6379, false)
}

// TestNetplanePeeringRouteTablePerSubnet: the route to a peer is in the
// route table of one subnet only; an instance of the other subnet must not
// reach the peer (AWS routes by the table of the sender's subnet).
//
// Known bug 1: the kernel lets it through. internal/vpcnet (state.go) merges
// the peering routes of every route table of a VPC into one per-VPC list
// (netplane.PeeringSide.Routes), and the VPC router routes by destination
// only, so a route in any table serves every subnet.
func TestNetplanePeeringRouteTablePerSubnet(t *testing.T) {
	privtest.RequireRoot(t)
	n := nettest.Start(t)
	ctx := context.Background()
	vpcA, subA := n.CreateVPC(t, "10.1.0.0/16", "10.1.1.0/24", "10.1.2.0/24")
	vpcB, subB := n.CreateVPC(t, "10.2.0.0/16", "10.2.1.0/24")
	ga, gb := n.CreateGroup(t, "a", vpcA), n.CreateGroup(t, "b", vpcB)
	n.AllowIn(t, gb, nettest.TCPPerm(80, "10.1.0.0/16"))
	po, err := n.EC2.CreateVpcPeeringConnection(ctx, &ec2.CreateVpcPeeringConnectionInput{VpcId: aws.String(vpcA), PeerVpcId: aws.String(vpcB)})
	if err != nil {
		t.Fatalf("CreateVpcPeeringConnection = %v", err)
	}
	pcx := po.VpcPeeringConnection.VpcPeeringConnectionId
	if _, err := n.EC2.AcceptVpcPeeringConnection(ctx, &ec2.AcceptVpcPeeringConnectionInput{VpcPeeringConnectionId: pcx}); err != nil {
		t.Fatalf("AcceptVpcPeeringConnection = %v", err)
	}
	for _, r := range []struct{ rtb, dest string }{{n.SubnetRouteTable(t, vpcA, subA[0]), "10.2.0.0/16"}, {n.MainRouteTable(t, vpcB), "10.1.0.0/16"}} {
		if _, err := n.EC2.CreateRoute(ctx, &ec2.CreateRouteInput{RouteTableId: aws.String(r.rtb), DestinationCidrBlock: aws.String(r.dest), VpcPeeringConnectionId: pcx}); err != nil {
			t.Fatalf("CreateRoute(%s, %s) = %v", r.rtb, r.dest, err)
		}
	}
	a1 := n.RunInstance(t, subA[0], ga)
	a2 := n.RunInstance(t, subA[1], ga)
	b := n.RunInstance(t, subB[0], gb)
	n.WaitIdle(t)
	n.Listen(t, b.ENI, 80)
	n.Expect(t, "a1 (its subnet's table routes to the peer)", a1, b, 80, true)
	n.Expect(t, "a2 (its subnet's table, the main one, does not)", a2, b, 80, false)
}

// TestNetplaneStopStart: stopping an instance removes its interface from
// the kernel (nothing reaches it), starting it realises the interface again
// with the same address and groups.
func TestNetplaneStopStart(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, _, _ := n.DefaultVPC(t)
	g := n.CreateGroup(t, "web", vpc)
	n.AllowIn(t, g, nettest.TCPPerm(80, "0.0.0.0/0"))
	a := n.RunInstance(t, "", g)
	s := n.RunInstance(t, "", g)
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 80)
	n.Expect(t, "running", a, s, 80, true)
	if _, err := n.EC2.StopInstances(ctx, &ec2.StopInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StopInstances = %v", err)
	}
	n.WaitIdle(t)
	if p, err := nettest.Connect(n, a.ENI, s.IP, 80, 400*time.Millisecond); err != nil || p.Passed {
		t.Errorf("connect to the stopped instance = %v, %v; want blocked", p, err)
	}
	if _, err := n.App.Plane().Dial(ctx, s.ENI, "tcp4", a.IP+":80"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stopped instance's namespace: Dial = %v, want no namespace", err)
	}
	if _, err := n.EC2.StartInstances(ctx, &ec2.StartInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StartInstances = %v", err)
	}
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 80)
	n.Expect(t, "started again", a, s, 80, true)
	n.Expect(t, "started again, other port", a, s, 81, false)
}

// TestNetplaneStoppedInstance: a stopped instance's interface is not
// realised, so nothing reaches it; the evaluator must say so too.
//
// Known bug 2: sgeval.Check ignores TopoInterface.InstanceState and answers
// "allowed via local" for a flow to (or from) a stopped instance, while
// internal/vpcnet leaves stopped instances out of the kernel.
func TestNetplaneStoppedInstance(t *testing.T) {
	privtest.RequireRoot(t)
	n := nettest.Start(t)
	vpc, _, _ := n.DefaultVPC(t)
	g := n.CreateGroup(t, "web", vpc)
	n.AllowIn(t, g, nettest.TCPPerm(80, "0.0.0.0/0"))
	a := n.RunInstance(t, "", g)
	s := n.RunInstance(t, "", g)
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 80)
	n.Expect(t, "running", a, s, 80, true)
	if _, err := n.EC2.StopInstances(context.Background(), &ec2.StopInstancesInput{InstanceIds: []string{s.ID}}); err != nil {
		t.Fatalf("StopInstances = %v", err)
	}
	n.WaitIdle(t)
	n.Expect(t, "stopped", a, s, 80, false)
}
