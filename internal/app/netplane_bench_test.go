package app_test

// Figures of the network plane through the product.

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/cachalot-dev/cachalot/internal/app/apptest/nettest"
)

// BenchmarkNetplaneRuleToEnforced measures, through the product, the time
// from AuthorizeSecurityGroupIngress returning to the first successful
// connect from the client's namespace (connects polled every ~1 ms with
// 2 ms timeouts), and from RevokeSecurityGroupIngress returning to the
// start of the first new connect that is refused (20 ms timeouts, so a slow
// but allowed connect is not mistaken for a refusal).
//
//	go test -count=1 -run '^$' -bench NetplaneRuleToEnforced -benchtime 100x ./internal/app/
func BenchmarkNetplaneRuleToEnforced(b *testing.B) {
	n := nettest.Start(b)
	vpc, _, _ := n.DefaultVPC(b)
	cg, sg := n.CreateGroup(b, "client", vpc), n.CreateGroup(b, "server", vpc)
	c := n.RunInstance(b, "", cg)
	s := n.RunInstance(b, "", sg)
	n.WaitIdle(b)
	n.Listen(b, s.ENI, 7000)
	// Warm the neighbour caches: the rule under test is not the first packet.
	warm := n.AllowIn(b, sg, nettest.TCPPerm(7001, c.IP+"/32"))
	n.Listen(b, s.ENI, 7001)
	n.WaitIdle(b)
	if p, err := nettest.Connect(n, c.ENI, s.IP, 7001, 5*time.Second); err != nil || !p.Passed {
		b.Fatalf("warm-up connect = %v, %v", p, err)
	}
	n.RevokeIn(b, sg, warm)
	n.WaitIdle(b)

	var grant, revoke []time.Duration
	b.ResetTimer()
	for range b.N {
		rule := n.AllowIn(b, sg, nettest.TCPPerm(7000, c.IP+"/32"))
		t0 := time.Now()
		for {
			p, err := nettest.Connect(n, c.ENI, s.IP, 7000, 2*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if p.Passed {
				grant = append(grant, time.Since(t0))
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("rule not enforced 10s after AuthorizeSecurityGroupIngress")
			}
			time.Sleep(time.Millisecond)
		}
		n.RevokeIn(b, sg, rule)
		t0 = time.Now()
		for {
			start := time.Now()
			p, err := nettest.Connect(n, c.ENI, s.IP, 7000, 20*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			if !p.Passed {
				revoke = append(revoke, start.Sub(t0))
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("revoke not enforced 10s after RevokeSecurityGroupIngress")
			}
			time.Sleep(time.Millisecond)
		}
		n.WaitIdle(b)
	}
	b.StopTimer()
	nettest.ReportPct(b, "grant", grant)
	nettest.ReportPct(b, "revoke", revoke)
}

// BenchmarkNetplaneRunInstanceToReachable measures the time from calling
// RunInstances to the instance's namespace existing, and to its first
// successful connect to a server admitting the instance's group (connects
// polled every ~1 ms with 5 ms timeouts). Each instance is terminated
// (untimed) before the next, so the VPC keeps three interfaces.
//
//	go test -count=1 -run '^$' -bench NetplaneRunInstanceToReachable -benchtime 100x ./internal/app/
func BenchmarkNetplaneRunInstanceToReachable(b *testing.B) {
	n := nettest.Start(b)
	vpc, _, _ := n.DefaultVPC(b)
	cg, sg := n.CreateGroup(b, "client", vpc), n.CreateGroup(b, "server", vpc)
	n.AllowIn(b, sg, nettest.TCPPerm(7000, cg))
	s := n.RunInstance(b, "", sg)
	n.RunInstance(b, "", cg) // a neighbour, so the group set is never empty
	n.WaitIdle(b)
	n.Listen(b, s.ENI, 7000)
	ctx := context.Background()

	var exists, reachable []time.Duration
	slow := 0
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		in := n.RunInstance(b, "", cg)
		seen := false
		for {
			cctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
			c, err := n.App.Plane().Dial(cctx, in.ENI, "tcp4", net.JoinHostPort(s.IP, "7000"))
			cancel()
			if errors.Is(err, os.ErrNotExist) {
				if time.Since(t0) > 10*time.Second {
					b.Fatalf("no namespace for %s 10s after RunInstances", in.ENI)
				}
				time.Sleep(time.Millisecond)
				continue
			}
			if !seen {
				seen = true
				exists = append(exists, time.Since(t0))
			}
			p, err := nettest.Classify(c, err)
			if err == nil && p.Passed {
				d := time.Since(t0)
				reachable = append(reachable, d)
				if d > 500*time.Millisecond {
					slow++
				}
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("%s cannot connect 10s after RunInstances: %v %v", in.ID, p, err)
			}
			time.Sleep(time.Millisecond)
		}
		b.StopTimer()
		if _, err := n.EC2.TerminateInstances(ctx, &ec2.TerminateInstancesInput{InstanceIds: []string{in.ID}}); err != nil {
			b.Fatalf("TerminateInstances = %v", err)
		}
		n.WaitIdle(b)
		b.StartTimer()
	}
	b.StopTimer()
	nettest.ReportPct(b, "netns", exists)
	nettest.ReportPct(b, "connect", reachable)
	b.ReportMetric(float64(slow), "connects-over-500ms")
}
