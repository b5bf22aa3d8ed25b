package app_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// TestNetplanePrefixList: a rule whose source is a managed prefix list
// admits exactly the list's CIDRs, in the kernel and in sgeval, and follows
// ModifyManagedPrefixList: an address added is admitted, one removed is
// refused, an empty list admits nothing.
func TestNetplanePrefixList(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, _, _ := n.DefaultVPC(t)
	cg, sg := n.CreateGroup(t, "clients", vpc), n.CreateGroup(t, "server", vpc)
	a, b := n.RunInstance(t, "", cg), n.RunInstance(t, "", cg)
	s := n.RunInstance(t, "", sg)
	pl, err := n.EC2.CreateManagedPrefixList(ctx, &ec2.CreateManagedPrefixListInput{PrefixListName: aws.String("clients"),
		AddressFamily: aws.String("IPv4"), MaxEntries: aws.Int32(5), Entries: []ec2types.AddPrefixListEntry{{Cidr: aws.String(a.IP + "/32")}}})
	if err != nil {
		t.Fatalf("CreateManagedPrefixList = %v", err)
	}
	id := pl.PrefixList.PrefixListId
	n.AllowIn(t, sg, ec2types.IpPermission{IpProtocol: aws.String("tcp"), FromPort: aws.Int32(6380), ToPort: aws.Int32(6380),
		PrefixListIds: []ec2types.PrefixListId{{PrefixListId: id}}})
	n.WaitIdle(t)
	n.Listen(t, s.ENI, 6380)
	n.Expect(t, "a in the list", a, s, 6380, true)
	n.Expect(t, "b outside the list", b, s, 6380, false)
	n.Expect(t, "a on another port", a, s, 6381, false)

	modify := func(version int64, add, remove string) {
		t.Helper()
		in := &ec2.ModifyManagedPrefixListInput{PrefixListId: id, CurrentVersion: aws.Int64(version)}
		if add != "" {
			in.AddEntries = []ec2types.AddPrefixListEntry{{Cidr: aws.String(add + "/32")}}
		}
		if remove != "" {
			in.RemoveEntries = []ec2types.RemovePrefixListEntry{{Cidr: aws.String(remove + "/32")}}
		}
		if _, err := n.EC2.ModifyManagedPrefixList(ctx, in); err != nil {
			t.Fatalf("ModifyManagedPrefixList(v%d, +%s -%s) = %v", version, add, remove, err)
		}
		n.WaitIdle(t)
	}
	modify(1, b.IP, a.IP)
	n.Expect(t, "a removed from the list", a, s, 6380, false)
	n.Expect(t, "b added to the list", b, s, 6380, true)
	modify(2, "", b.IP)
	n.Expect(t, "empty list: a", a, s, 6380, false)
	n.Expect(t, "empty list: b", b, s, 6380, false)
}

// TestNetplaneSecondaryCIDR: a subnet in a secondary CIDR block of a VPC
// works like one in the primary block: instances in either reach each
// other (the VPC's local routes cover both blocks).
func TestNetplaneSecondaryCIDR(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, subnets := n.CreateVPC(t, "10.40.0.0/16", "10.40.1.0/24")
	if _, err := n.EC2.AssociateVpcCidrBlock(ctx, &ec2.AssociateVpcCidrBlockInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.41.0.0/16")}); err != nil {
		t.Fatalf("AssociateVpcCidrBlock = %v", err)
	}
	so, err := n.EC2.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: aws.String(vpc), CidrBlock: aws.String("10.41.1.0/24")})
	if err != nil {
		t.Fatalf("CreateSubnet in the secondary block = %v", err)
	}
	g := n.CreateGroup(t, "both", vpc)
	n.AllowIn(t, g, nettest.TCPPerm(7000, g))
	p := n.RunInstance(t, subnets[0], g)
	q := n.RunInstance(t, aws.ToString(so.Subnet.SubnetId), g)
	n.WaitIdle(t)
	n.Listen(t, p.ENI, 7000)
	n.Listen(t, q.ENI, 7000)
	n.Expect(t, "primary to secondary", p, q, 7000, true)
	n.Expect(t, "secondary to primary", q, p, 7000, true)
	n.Expect(t, "secondary to primary, closed port", q, p, 7001, false)
}
