package netplane

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// BenchmarkCreateConnectable: a VPC router already holds n interfaces (one
// of them a server on 6379, all in one self-referencing group); each
// iteration adds one interface with ApplyChange, as vpcnet does for every
// change after start, and times the plan, the Apply and until the first TCP
// connect (with an echoed line) from the new interface to the server
// succeeds. The interface is then removed again (ApplyChange, not timed),
// so that every iteration starts from n. Apply's steps are logged.
//
//	go test -count=1 -run '^$' -bench 'CreateConnectable/n=100$' -benchtime 100x -v ./internal/netplane/
func BenchmarkCreateConnectable(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) { benchCreateConnectable(b, n) })
	}
}

func benchCreateConnectable(b *testing.B, n int) {
	p, _ := newTestPlane(b)
	st := benchVPC()
	for i := range n {
		st.Interfaces = append(st.Interfaces, benchIface(i))
	}
	setup := time.Now()
	apply(b, p, st)
	b.Logf("n=%d: initial Apply took %v", n, time.Since(setup).Round(time.Millisecond))
	server := st.Interfaces[0]
	serve(b, p, server.ID, 6379)
	target := server.PrivateIP.String() + ":6379"
	base := st.Interfaces
	change := func(s State) {
		b.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.ApplyChange(ctx, s); err != nil {
			b.Fatalf("ApplyChange: %v", err)
		}
	}
	var plans, applies, connectable []time.Duration
	var steps []map[string]time.Duration
	retries := 0
	for i := 0; b.Loop(); i++ {
		in := benchIface(n + i%100)
		st.Interfaces = append(base[:len(base):len(base)], in)
		s := map[string]time.Duration{}
		p.mu.Lock()
		p.trace = func(step string, d time.Duration) { s[step] += d }
		p.mu.Unlock()
		start := time.Now()
		plan, err := NewPlan(p.Prefix(), st)
		if err != nil {
			b.Fatal(err)
		}
		plans = append(plans, time.Since(start))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = p.ApplyPlanChange(ctx, plan)
		cancel()
		if err != nil {
			b.Fatalf("ApplyPlanChange: %v", err)
		}
		applies = append(applies, time.Since(start))
		p.mu.Lock()
		p.trace = nil
		p.mu.Unlock()
		steps = append(steps, s)
		for {
			c, err := connect(p, in.ID, target, 20*time.Millisecond)
			if err == nil {
				c.Close()
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("new interface %s cannot connect after 10s: %v", in.ID, err)
			}
			retries++
		}
		connectable = append(connectable, time.Since(start))
		b.StopTimer()
		st.Interfaces = base
		change(st)
		b.StartTimer()
	}
	b.ReportMetric(float64(retries), "failed-connects")
	reportPercentiles(b, plans, "plan")
	reportPercentiles(b, applies, "apply")
	reportPercentiles(b, connectable, "connectable")
	logSteps(b, fmt.Sprintf("n=%d create", n), applies, steps)
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", la)
	}
}

// BenchmarkNewPlanInterfaces: the plan of a VPC holding n interfaces in one
// self-referencing group (BenchmarkCreateConnectable's), built for every
// change of the topology.
func BenchmarkNewPlanInterfaces(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := benchVPC()
			for i := range n {
				st.Interfaces = append(st.Interfaces, benchIface(i))
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewPlan("cl", st); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIncrementalChangeInterfaces: the computation (no kernel) of the
// change that adds one interface to a router holding n.
func BenchmarkIncrementalChangeInterfaces(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			st := benchVPC()
			st.VPCs[0].DNS = true
			for i := range n {
				st.Interfaces = append(st.Interfaces, benchIface(i))
			}
			before, err := NewPlan("cl", st)
			if err != nil {
				b.Fatal(err)
			}
			st.Interfaces = append(st.Interfaces, benchIface(n))
			after, err := NewPlan("cl", st)
			if err != nil {
				b.Fatal(err)
			}
			prev, next := before.Namespaces[0].Ruleset, after.Namespaces[0].Ruleset
			b.ReportAllocs()
			for b.Loop() {
				if splitFrame(prev).base != splitFrame(next).base {
					b.Fatal("frame base changed")
				}
				incrementalChange(prev, next, nil)
			}
		})
	}
}
