package app_test

import (
	"context"
	"strings"
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

// TestDHCPOptionsResolvConf: what runs on an instance reads the resolver
// configuration of its VPC's DHCP options set: the default set's search
// domain and Amazon-provided server; a custom set's domain names and
// servers once associated (for programs started afterwards); none with
// "default".
func TestDHCPOptionsResolvConf(t *testing.T) {
	n := nettest.Start(t)
	ctx := context.Background()
	vpc, subnets := n.CreateVPC(t, "10.42.0.0/16", "10.42.1.0/24")
	i := n.RunInstance(t, subnets[0])
	n.WaitIdle(t)
	resolv := func() string {
		t.Helper()
		out, err := onInstance(t, n, i.ENI, "cat", "/etc/resolv.conf")
		if err != nil {
			t.Fatalf("cat /etc/resolv.conf on %s: %v: %s", i.ID, err, out)
		}
		return out
	}
	if got := resolv(); !strings.Contains(got, "search ec2.internal\n") || !strings.Contains(got, "nameserver 10.42.0.2") {
		t.Errorf("resolv.conf with the default set:\n%s", got)
	}
	d, err := n.EC2.CreateDhcpOptions(ctx, &ec2.CreateDhcpOptionsInput{DhcpConfigurations: []ec2types.NewDhcpConfiguration{
		{Key: aws.String("domain-name"), Values: []string{"corp.example example"}},
		{Key: aws.String("domain-name-servers"), Values: []string{"10.42.1.53", "AmazonProvidedDNS"}}}})
	if err != nil {
		t.Fatalf("CreateDhcpOptions = %v", err)
	}
	if _, err := n.EC2.AssociateDhcpOptions(ctx, &ec2.AssociateDhcpOptionsInput{DhcpOptionsId: d.DhcpOptions.DhcpOptionsId, VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AssociateDhcpOptions = %v", err)
	}
	n.WaitIdle(t)
	if got := resolv(); !strings.Contains(got, "search corp.example example\n") || !strings.Contains(got, "nameserver 10.42.1.53\nnameserver 10.42.0.2") {
		t.Errorf("resolv.conf with the custom set:\n%s", got)
	}
	if _, err := n.EC2.AssociateDhcpOptions(ctx, &ec2.AssociateDhcpOptionsInput{DhcpOptionsId: aws.String("default"), VpcId: aws.String(vpc)}); err != nil {
		t.Fatalf("AssociateDhcpOptions default = %v", err)
	}
	n.WaitIdle(t)
	if got := resolv(); strings.Contains(got, "nameserver") || strings.Contains(got, "search") {
		t.Errorf("resolv.conf without DHCP options:\n%s", got)
	}
}
