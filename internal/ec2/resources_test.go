package ec2

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/store"
)

// ResourceARNs names every resource by the id the operation will act on,
// however the input names it (issue 21: a Deny on a security group was
// bypassed by naming the group, and CreateTags was authorized on "*").
func TestResourceARNs(t *testing.T) {
	s, _ := newTestService(t)
	ctx := ctxFor(acctA)
	vpcs := must[*ec2api.DescribeVpcsResult](t)(s.DescribeVpcs(ctx, &ec2api.DescribeVpcsRequest{}))
	vpc := *vpcs.Vpcs[0].VpcId
	groups := must[*ec2api.DescribeSecurityGroupsResult](t)(s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{}))
	def := *groups.SecurityGroups[0].GroupId
	web := *must[*ec2api.CreateSecurityGroupResult](t)(s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{
		GroupName: ptr("web"), Description: ptr("web")})).GroupId
	run := must[*ec2api.Reservation](t)(s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(int32(1)), MaxCount: ptr(int32(1))}))
	inst, subnet := *run.Instances[0].InstanceId, *run.Instances[0].SubnetId
	eip := must[*ec2api.AllocateAddressResult](t)(s.AllocateAddress(ctx, &ec2api.AllocateAddressRequest{}))
	assoc := *must[*ec2api.AssociateAddressResult](t)(s.AssociateAddress(ctx, &ec2api.AssociateAddressRequest{
		AllocationId: eip.AllocationId, InstanceId: ptr(inst)})).AssociationId
	rtb := *must[*ec2api.CreateRouteTableResult](t)(s.CreateRouteTable(ctx, &ec2api.CreateRouteTableRequest{VpcId: ptr(vpc)})).RouteTable.RouteTableId
	rtbAssoc := *must[*ec2api.AssociateRouteTableResult](t)(s.AssociateRouteTable(ctx, &ec2api.AssociateRouteTableRequest{
		RouteTableId: ptr(rtb), SubnetId: ptr(subnet)})).AssociationId

	arn := func(typ, id string) string { return "arn:aws:ec2:us-east-1:" + acctA + ":" + typ + "/" + id }
	tests := []struct {
		name string
		in   any
		want []string
	}{
		{"group by id", &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(web)}, []string{arn("security-group", web)}},
		{"group by name", &ec2api.AuthorizeSecurityGroupIngressRequest{GroupName: ptr("web")}, []string{arn("security-group", web)}},
		{"default group by name", &ec2api.DeleteSecurityGroupRequest{GroupName: ptr("default")}, []string{arn("security-group", def)}},
		{"unknown group name", &ec2api.DeleteSecurityGroupRequest{GroupName: ptr("nope")}, nil},
		{"unknown group id", &ec2api.DeleteSecurityGroupRequest{GroupId: ptr("sg-0000000000000000f")}, []string{arn("security-group", "sg-0000000000000000f")}},
		{"launch by group name", &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), SecurityGroups: []string{"web"}},
			[]string{arn("subnet", subnet), arn("security-group", web), "arn:aws:ec2:us-east-1::image/ami-12345678"}},
		{"launch into the default group", &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), SubnetId: ptr(subnet), KeyName: ptr("k")},
			[]string{arn("subnet", subnet), arn("security-group", def), "arn:aws:ec2:us-east-1::image/ami-12345678", arn("key-pair", "k")}},
		{"launch through an interface", &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"),
			NetworkInterfaces: []ec2api.InstanceNetworkInterfaceSpecification{{SubnetId: ptr(subnet), Groups: []string{web}}}},
			[]string{arn("subnet", subnet), arn("security-group", web), "arn:aws:ec2:us-east-1::image/ami-12345678"}},
		{"tags", &ec2api.CreateTagsRequest{Resources: []string{web, inst, vpc, *eip.AllocationId, "sgr-0123456789abcdef0", "ami-12345678"}},
			[]string{arn("security-group", web), arn("instance", inst), arn("vpc", vpc), arn("elastic-ip", *eip.AllocationId),
				arn("security-group-rule", "sgr-0123456789abcdef0")}},
		{"reboot", &ec2api.RebootInstancesRequest{InstanceIds: []string{inst}}, []string{arn("instance", inst)}},
		{"attach volume", &ec2api.AttachVolumeRequest{VolumeId: ptr("vol-0123456789abcdef0"), InstanceId: ptr(inst)},
			[]string{arn("volume", "vol-0123456789abcdef0"), arn("instance", inst)}},
		{"delete key pair", &ec2api.DeleteKeyPairRequest{KeyName: ptr("k")}, []string{arn("key-pair", "k")}},
		{"address by public IP", &ec2api.ReleaseAddressRequest{PublicIp: eip.PublicIp}, []string{arn("elastic-ip", *eip.AllocationId)}},
		{"address by association", &ec2api.DisassociateAddressRequest{AssociationId: ptr(assoc)}, []string{arn("elastic-ip", *eip.AllocationId)}},
		{"address by public IP to disassociate", &ec2api.DisassociateAddressRequest{PublicIp: eip.PublicIp}, []string{arn("elastic-ip", *eip.AllocationId)}},
		{"route table by association", &ec2api.DisassociateRouteTableRequest{AssociationId: ptr(rtbAssoc)}, []string{arn("route-table", rtb), arn("subnet", subnet)}},
		{"new security group in the default VPC", &ec2api.CreateSecurityGroupRequest{GroupName: ptr("x")}, []string{arn("vpc", vpc)}},
		{"peer VPC in its account", &ec2api.CreateVpcPeeringConnectionRequest{VpcId: ptr(vpc), PeerVpcId: ptr("vpc-1"), PeerOwnerId: ptr(acctB)},
			[]string{arn("vpc", vpc), "arn:aws:ec2:us-east-1:" + acctB + ":vpc/vpc-1"}},
		{"instance attribute", &ec2api.DescribeInstanceAttributeRequest{InstanceId: ptr(inst)}, []string{arn("instance", inst)}},
		{"describe is *", &ec2api.DescribeInstancesRequest{InstanceIds: []string{inst}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.ResourceARNs(ctx, tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResourceARNs(%T) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// Naming resources reads and never creates: a scope never used stays
// unused (no default VPC made on behalf of a request not yet authorized).
func TestResourceARNsCreateNothing(t *testing.T) {
	s, st := newTestService(t)
	got, err := s.ResourceARNs(ctxFor(acctB), &ec2api.AuthorizeSecurityGroupIngressRequest{GroupName: ptr("default")})
	if err != nil || got != nil {
		t.Fatalf("ResourceARNs(fresh scope) = %v, %v; want nil, nil", got, err)
	}
	err = st.View(ctxFor(acctB), func(tx store.Tx) error {
		return tx.Scan("ec2/", func(key string, _ []byte) error {
			if strings.Contains(key, acctB) {
				t.Errorf("ResourceARNs wrote %s", key)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
