package ec2

import (
	"fmt"
	"testing"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// loadBench loads groups × rules and instances through the API.
func loadBench(b *testing.B, groups, rules, instances int) (*Service, []string) {
	s, _ := newTestService(b)
	ctx := ctxFor(acctA)
	def := defaults(b, s, acctA)
	var ids []string
	for i := range groups {
		id := createGroup(b, s, ctx, fmt.Sprintf("bench-%04d", i), "")
		var perms []ec2api.IpPermission
		for k := range rules {
			perms = append(perms, tcpFrom(int32(1000+k), fmt.Sprintf("10.%d.%d.0/24", i%250, k)))
		}
		if _, err := s.AuthorizeSecurityGroupIngress(ctx, &ec2api.AuthorizeSecurityGroupIngressRequest{GroupId: ptr(id), IpPermissions: perms}); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	for k := 0; k*100 < instances; k++ {
		n := int32(min(100, instances-k*100))
		if _, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-1"), MinCount: ptr(n), MaxCount: ptr(n),
			SubnetId: ptr(def.Subnets[k%3].ID), SecurityGroupIds: []string{ids[(k*7)%len(ids)]}}); err != nil {
			b.Fatal(err)
		}
	}
	return s, ids
}

func benchDescribe(b *testing.B, s *Service, action string, in any, call func() (any, error)) {
	op := ec2api.OperationTable(s)[action]
	b.ResetTimer()
	for b.Loop() {
		out, err := call()
		if err != nil {
			b.Fatal(err)
		}
		_ = awsproto.EncodeResult(ec2api.Metadata, op, out, "r")
	}
}

// Server-side cost (service + XML encoding) of the Describes of BENCH.md.
func BenchmarkDescribe(b *testing.B) {
	s, ids := loadBench(b, 1000, 50, 5000)
	ctx := ctxFor(acctA)
	b.Run("SecurityGroups/all", func(b *testing.B) {
		benchDescribe(b, s, "DescribeSecurityGroups", nil, func() (any, error) {
			return s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{MaxResults: ptr(int32(1000))})
		})
	})
	b.Run("SecurityGroups/group-name", func(b *testing.B) {
		benchDescribe(b, s, "DescribeSecurityGroups", nil, func() (any, error) {
			return s.DescribeSecurityGroups(ctx, &ec2api.DescribeSecurityGroupsRequest{Filters: []ec2api.Filter{filter("group-name", "bench-0042")}})
		})
	})
	b.Run("Instances/all", func(b *testing.B) {
		benchDescribe(b, s, "DescribeInstances", nil, func() (any, error) {
			return s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{MaxResults: ptr(int32(1000))})
		})
	})
	b.Run("Instances/group-id", func(b *testing.B) {
		benchDescribe(b, s, "DescribeInstances", nil, func() (any, error) {
			return s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{filter("instance.group-id", ids[7])}})
		})
	})
	b.Run("Instances/private-ip", func(b *testing.B) {
		benchDescribe(b, s, "DescribeInstances", nil, func() (any, error) {
			return s.DescribeInstances(ctx, &ec2api.DescribeInstancesRequest{Filters: []ec2api.Filter{filter("private-ip-address", "172.31.16.50")}})
		})
	})
}

// Write cost with 1,000 groups and 5,000 instances loaded.
func BenchmarkWrite(b *testing.B) {
	s, _ := loadBench(b, 1000, 50, 5000)
	ctx := ctxFor(acctA)
	b.Run("CreateSecurityGroup", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := s.CreateSecurityGroup(ctx, &ec2api.CreateSecurityGroupRequest{GroupName: ptr(fmt.Sprintf("w-%d", i)), Description: ptr("w")}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
