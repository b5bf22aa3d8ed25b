package ec2

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
)

func describeInstance(t testing.TB, s *Service, ctx context.Context, id string) ec2api.Instance {
	t.Helper()
	d := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{InstanceIds: []string{id}}))
	return d.Reservations[0].Instances[0]
}

func topoPublicIP(t testing.TB, s *Service, eni string) netip.Addr {
	t.Helper()
	topo := must[*Topology](t)(s.Topology(context.Background(), TopologySelector{Account: acctA}))
	for _, i := range topo.Interfaces {
		if i.ID == eni {
			return i.PublicIP
		}
	}
	return netip.Addr{}
}

// TestPublicIPOnLaunch: the default subnet maps public addresses, a new
// subnet does not unless asked (subnet attribute or the interface's
// AssociatePublicIpAddress, which wins); the address comes from the
// Elastic IP pool, is shown with AWS's public DNS name, is released on
// stop and terminate and replaced on start, and gives way to an Elastic IP.
func TestPublicIPOnLaunch(t *testing.T) {
	s, st := newTestService(t)
	ctx := ctxFor(acctA)
	def := defaults(t, s, acctA)
	v := must[*ec2api.CreateVpcResult](t)(s.CreateVpc(ctx, &ec2api.CreateVpcRequest{CidrBlock: ptr("10.0.0.0/16")}))
	sn := *must[*ec2api.CreateSubnetResult](t)(s.CreateSubnet(ctx, &ec2api.CreateSubnetRequest{VpcId: v.Vpc.VpcId, CidrBlock: ptr("10.0.1.0/24")})).Subnet.SubnetId
	ni := func(subnet string, public *bool) []ec2api.InstanceNetworkInterfaceSpecification {
		return []ec2api.InstanceNetworkInterfaceSpecification{{DeviceIndex: ptr(int32(0)), SubnetId: ptr(subnet), AssociatePublicIpAddress: public}}
	}
	for _, c := range []struct {
		name string
		in   ec2api.RunInstancesRequest
		want bool
	}{
		{"default-subnet", ec2api.RunInstancesRequest{SubnetId: ptr(def.Subnets[0].ID)}, true},
		{"default-vpc-no-subnet", ec2api.RunInstancesRequest{}, true},
		{"default-subnet-interface-false", ec2api.RunInstancesRequest{NetworkInterfaces: ni(def.Subnets[0].ID, ptr(false))}, false},
		{"new-subnet", ec2api.RunInstancesRequest{SubnetId: ptr(sn)}, false},
		{"new-subnet-interface-true", ec2api.RunInstancesRequest{NetworkInterfaces: ni(sn, ptr(true))}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, s, ctx, &c.in)
			i := r.Instances[0]
			got := i.PublicIpAddress != nil && *i.PublicIpAddress != ""
			if got != c.want {
				t.Fatalf("RunInstances PublicIpAddress = %v, want one: %v", i.PublicIpAddress, c.want)
			}
			d := describeInstance(t, s, ctx, *i.InstanceId)
			if !got {
				if d.PublicIpAddress != nil || *d.PublicDnsName != "" || d.NetworkInterfaces[0].Association != nil {
					t.Errorf("describe shows a public address: %v %v", d.PublicIpAddress, *d.PublicDnsName)
				}
				return
			}
			ip := *d.PublicIpAddress
			if !ElasticIPPool.Contains(netip.MustParseAddr(ip)) || ip != *i.PublicIpAddress {
				t.Errorf("public address %s, at launch %s", ip, *i.PublicIpAddress)
			}
			as := d.NetworkInterfaces[0].Association
			if as == nil || *as.PublicIp != ip || *as.IpOwnerId != "amazon" {
				t.Errorf("interface association = %+v", as)
			}
			eni := *d.NetworkInterfaces[0].NetworkInterfaceId
			if got := topoPublicIP(t, s, eni); got.String() != ip {
				t.Errorf("topology public address = %s, want %s", got, ip)
			}
			f := must[*ec2api.DescribeInstancesResult](t)(s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{filter("ip-address", ip)}}))
			if len(f.Reservations) != 1 {
				t.Errorf("filter ip-address %s: %d reservations", ip, len(f.Reservations))
			}
			nis := must[*ec2api.DescribeNetworkInterfacesResult](t)(s.DescribeNetworkInterfaces(ctx, &ec2api.DescribeNetworkInterfacesRequest{NetworkInterfaceIds: []string{eni}}))
			if a := nis.NetworkInterfaces[0].Association; a == nil || *a.PublicIp != ip {
				t.Errorf("DescribeNetworkInterfaces association = %+v", a)
			}
		})
	}

	// The default VPC has DNS hostnames: AWS's public DNS name.
	r := run(t, s, ctx, &ec2api.RunInstancesRequest{})
	id := *r.Instances[0].InstanceId
	d := describeInstance(t, s, ctx, id)
	first := *d.PublicIpAddress
	if want := "ec2-" + strings.ReplaceAll(first, ".", "-") + ".compute-1.amazonaws.com"; *d.PublicDnsName != want {
		t.Errorf("PublicDnsName = %s, want %s", *d.PublicDnsName, want)
	}
	eni := *d.NetworkInterfaces[0].NetworkInterfaceId
	// The metadata service serves it (public-ipv4, public-hostname).
	m := must[*Metadata](t)(s.InstanceMetadata(ctx, acctA, region, id))
	if m.PublicIP != first || m.PublicHostname != *d.PublicDnsName {
		t.Errorf("metadata public address %q %q, want %q %q", m.PublicIP, m.PublicHostname, first, *d.PublicDnsName)
	}

	// Stopped: no address (released to the pool); started: a new one.
	must[*ec2api.StopInstancesResult](t)(s.StopInstances(ctx, &ec2api.StopInstancesRequest{InstanceIds: []string{id}}))
	if d := describeInstance(t, s, ctx, id); d.PublicIpAddress != nil || *d.PublicDnsName != "" {
		t.Errorf("stopped instance has public address %v", d.PublicIpAddress)
	}
	if got := topoPublicIP(t, s, eni); got.IsValid() {
		t.Errorf("stopped instance's topology public address %s", got)
	}
	// Back in the pool: allocatable as an Elastic IP (and released again).
	back := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{Address: ptr(first)}))
	ok(t, s.ReleaseAddress(ctx, &ec2api.ReleaseAddressRequest{AllocationId: back.AllocationId}))
	must[*ec2api.StartInstancesResult](t)(s.StartInstances(ctx, &ec2api.StartInstancesRequest{InstanceIds: []string{id}}))
	d = describeInstance(t, s, ctx, id)
	if d.PublicIpAddress == nil {
		t.Fatal("started instance has no public address")
	}

	// An Elastic IP replaces it; disassociated, a new public address.
	a := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{}))
	as := must[*ec2api.AssociateAddressResult](t)(s.AssociateAddress(ctx, &ec2api.AssociateAddressRequest{AllocationId: a.AllocationId, InstanceId: ptr(id)}))
	d = describeInstance(t, s, ctx, id)
	if *d.PublicIpAddress != *a.PublicIp || *d.NetworkInterfaces[0].Association.IpOwnerId != acctA {
		t.Errorf("with an Elastic IP: %s owner %s", *d.PublicIpAddress, *d.NetworkInterfaces[0].Association.IpOwnerId)
	}
	ok(t, s.DisassociateAddress(ctx, &ec2api.DisassociateAddressRequest{AssociationId: as.AssociationId}))
	d = describeInstance(t, s, ctx, id)
	if d.PublicIpAddress == nil || *d.PublicIpAddress == *a.PublicIp {
		t.Errorf("after disassociation public address = %v", d.PublicIpAddress)
	}

	// ModifyNetworkInterfaceAttribute AssociatePublicIpAddress false removes it.
	ok(t, s.ModifyNetworkInterfaceAttribute(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: ptr(eni), AssociatePublicIpAddress: ptr(false)}))
	if d := describeInstance(t, s, ctx, id); d.PublicIpAddress != nil {
		t.Errorf("after AssociatePublicIpAddress=false: %v", *d.PublicIpAddress)
	}
	ok(t, s.ModifyNetworkInterfaceAttribute(ctx, &ec2api.ModifyNetworkInterfaceAttributeRequest{NetworkInterfaceId: ptr(eni), AssociatePublicIpAddress: ptr(true)}))
	d = describeInstance(t, s, ctx, id)
	if d.PublicIpAddress == nil {
		t.Fatal("after AssociatePublicIpAddress=true: none")
	}
	last := *d.PublicIpAddress
	// A public address in use is not allocatable; the failed call changes nothing.
	failsUnchanged(t, st, "InvalidAddress.InUse", func() error {
		_, err := s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{Address: ptr(last)})
		return err
	})

	// A mapped public address keeps the gateway attached, as on AWS.
	igws := must[*ec2api.DescribeInternetGatewaysResult](t)(s.DescribeInternetGateways(ctx, &ec2api.DescribeInternetGatewaysRequest{Filters: []ec2api.Filter{filter("attachment.vpc-id", def.ID)}}))
	failsUnchanged(t, st, "DependencyViolation", func() error {
		return s.DetachInternetGateway(ctx, &ec2api.DetachInternetGatewayRequest{InternetGatewayId: igws.InternetGateways[0].InternetGatewayId, VpcId: ptr(def.ID)})
	})

	// Terminated: released.
	must[*ec2api.TerminateInstancesResult](t)(s.TerminateInstances(ctx, &ec2api.TerminateInstancesRequest{InstanceIds: []string{id}}))
	if d := describeInstance(t, s, ctx, id); d.PublicIpAddress != nil {
		t.Errorf("terminated instance has public address %v", *d.PublicIpAddress)
	}
	must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{Address: ptr(last)}))
}
