package ec2

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/ec2api"
	"github.com/cachalot-dev/cachalot/internal/awsproto"
)

// loadBench loads groups × rules and instances through the API.
func loadBench(b testing.TB, groups, rules, instances int) (*Service, []string) {
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
		if _, err := s.RunInstances(ctx, &ec2api.RunInstancesRequest{ImageId: ptr("ami-12345678"), MinCount: ptr(n), MaxCount: ptr(n),
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

// BenchmarkConcurrentWrites: 8 writers tagging groups of a scope holding
// 200 groups (10 rules each) and 500 instances, each CreateTags a durable
// store write; writes/s and per-write latency. The writes of one group
// commit follow each other in one store transaction: each must find the
// scope's state left by the one before in the snapshot cache, not decode
// the whole scope again under the store's write lock (state.go, cache).
func BenchmarkConcurrentWrites(b *testing.B) {
	s, ids := loadBench(b, 200, 10, 500)
	ctx := ctxFor(acctA)
	const writers = 8
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := s.CreateTags(ctx, &ec2api.CreateTagsRequest{Resources: []string{ids[int(i)%len(ids)]},
					Tags: []ec2api.Tag{{Key: ptr(fmt.Sprintf("w%d", w)), Value: ptr(fmt.Sprint(i))}}}); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "writes/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}
