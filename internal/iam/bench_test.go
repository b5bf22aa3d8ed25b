package iam

import (
	"fmt"
	"testing"
	"time"

	"github.com/cachalot-dev/cachalot/internal/api/elasticacheapi"
	"github.com/cachalot-dev/cachalot/internal/api/iamapi"
	"github.com/cachalot-dev/cachalot/internal/auth"
)

// benchUser creates a user whose identity policies are n customer managed
// policies: up to 10 attached to the user, the rest attached to groups of
// 10 (AWS's default quotas). Only the last policy allows the request, and
// every policy carries a Deny that does not apply, so the evaluator has to
// look at all of them.
func benchUser(b *testing.B, f *fixture, n int) auth.Principal {
	b.Helper()
	ctx := as(f.root)
	p := f.user(b, "bench")
	for i := range n {
		doc := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
			{"Sid":"Allow%d","Effect":"Allow","Action":["elasticache:Describe*","elasticache:List*"],"Resource":"arn:aws:elasticache:*:*:cluster:app-%d-*"},
			{"Sid":"Deny%d","Effect":"Deny","Action":"elasticache:Delete*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`, i, i, i)
		out, err := f.svc.CreatePolicy(ctx, &iamapi.CreatePolicyRequest{PolicyName: ptr(fmt.Sprintf("p%d", i)), PolicyDocument: ptr(doc)})
		if err != nil {
			b.Fatal(err)
		}
		if i < 10 {
			if err := f.svc.AttachUserPolicy(ctx, &iamapi.AttachUserPolicyRequest{UserName: ptr("bench"), PolicyArn: out.Policy.Arn}); err != nil {
				b.Fatal(err)
			}
			continue
		}
		g := fmt.Sprintf("g%d", i/10)
		if i%10 == 0 {
			if _, err := f.svc.CreateGroup(ctx, &iamapi.CreateGroupRequest{GroupName: ptr(g)}); err != nil {
				b.Fatal(err)
			}
			if err := f.svc.AddUserToGroup(ctx, &iamapi.AddUserToGroupRequest{GroupName: ptr(g), UserName: ptr("bench")}); err != nil {
				b.Fatal(err)
			}
		}
		if err := f.svc.AttachGroupPolicy(ctx, &iamapi.AttachGroupPolicyRequest{GroupName: ptr(g), PolicyArn: out.Policy.Arn}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// BenchmarkAuthorize is the per-request authorization cost as the endpoint
// pays it: the resources hook on the decoded input, then Authorize (cached
// policy set, one Evaluate per resource). "cold" forgets the caches before
// every request (policy gathering from the store and parsing included).
func BenchmarkAuthorize(b *testing.B) {
	for _, n := range []int{1, 10, 100} {
		for _, cold := range []bool{false, true} {
			name := fmt.Sprintf("policies=%d", n)
			if cold {
				name += "/cold"
			}
			b.Run(name, func(b *testing.B) {
				f := newFixture(b)
				p := benchUser(b, f, n)
				ctx := as(p)
				in := &elasticacheapi.DescribeCacheClustersMessage{CacheClusterId: ptr(fmt.Sprintf("app-%d-main", n-1))}
				now := time.Now()
				authorize := func() {
					res, err := f.svc.Resources(ctx, "elasticache", "DescribeCacheClusters", in)
					if err != nil {
						b.Fatal(err)
					}
					err = f.svc.Authorize(ctx, auth.Request{Principal: p, Service: "elasticache", Action: "DescribeCacheClusters",
						Resources: res, Region: "us-east-1", SourceIP: "127.0.0.1", Time: now})
					if err != nil {
						b.Fatal(err)
					}
				}
				authorize()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if cold {
						f.svc.invalidate()
					}
					authorize()
				}
			})
		}
	}
}
