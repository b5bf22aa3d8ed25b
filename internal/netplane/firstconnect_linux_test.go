package netplane

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// A stalled first connect: a lost SYN or an unanswered neighbour
// solicitation costs a second (TCP's initial RTO, the default neigh
// retrans_time), or 100 ms where netplane lowers retrans_time; a healthy
// path a few milliseconds.
const (
	slowConnect = 500 * time.Millisecond
	lateConnect = 50 * time.Millisecond
)

// BenchmarkFirstConnect: how soon a brand-new interface is connectable, in
// both directions, measured the way clients meet it.
//
// Inbound: an existing interface (a client that learnt the new address from
// the API, as bench/elasticache's prober does) connects to the new one from
// before Apply starts, every millisecond with 25 ms timeouts, until one
// connect is answered (accepted, or refused: nothing listens, a RST proves
// the path). Time from Apply's return; a connect answered before counts 0.
//
// Outbound: right after Apply returns, the new interface connects once to a
// listener of an existing one (3 s timeout); a lost SYN shows as ~1 s.
//
// The interface is removed (untimed) before the next iteration, and the
// addresses are reused in turn, as ElastiCache nodes reuse them.
//
//	go test -count=1 -run '^$' -bench FirstConnect -benchtime 300x ./internal/netplane/
func BenchmarkFirstConnect(b *testing.B) {
	// nodes=3 adds three interfaces per Apply, as a three-node cluster
	// does; subnets=2 puts them in another subnet than the client, so that
	// the client sends to its gateway and only the router resolves them.
	for _, k := range []int{1, 3} {
		for _, subnets := range []int{1, 2} {
			b.Run(fmt.Sprintf("nodes=%d/subnets=%d", k, subnets), func(b *testing.B) { benchFirstConnect(b, k, subnets == 2) })
		}
	}
}

func benchFirstConnect(b *testing.B, k int, otherSubnet bool) {
	p, _ := newTestPlane(b)
	st := benchVPC()
	nodeSubnet, nodeNet := "subnet-0bench", byte(0)
	if otherSubnet {
		st.Subnets = []Subnet{{ID: "subnet-0bench", VPC: "vpc-0bench", CIDR: pfx("10.0.0.0/17")},
			{ID: "subnet-0nodes", VPC: "vpc-0bench", CIDR: pfx("10.0.128.0/17")}}
		nodeSubnet, nodeNet = "subnet-0nodes", 128
	}
	server, client := benchIface(0), benchIface(1)
	st.Interfaces = []Interface{server, client}
	apply(b, p, st)
	serve(b, p, server.ID, 6379)
	waitFor(b, p, client.ID, server.PrivateIP.String()+":6379")
	base := st.Interfaces

	var in, out []time.Duration
	slowIn, slowOut, lateIn, lateOut := 0, 0, 0, 0
	for i := 0; b.Loop(); i++ {
		var nodes []Interface
		for j := range k {
			nodes = append(nodes, Interface{ID: fmt.Sprintf("eni-0n%05d%d", i, j), Subnet: nodeSubnet,
				PrivateIP: netip.AddrFrom4([4]byte{10, 0, nodeNet, byte(50 + (i%4)*k + j)}), Groups: []string{"sg-0bench"}})
		}
		st.Interfaces = append(base[:len(base):len(base)], nodes...)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reached := make([]chan time.Time, k)
		for j, node := range nodes {
			reached[j] = make(chan time.Time, 1)
			go func() { reached[j] <- probeUntilAnswered(ctx, p, client.ID, node.PrivateIP.String()+":6379") }()
		}
		apply(b, p, st)
		applied := time.Now()

		for _, node := range nodes {
			start := time.Now()
			c, err := connect(p, node.ID, server.PrivateIP.String()+":6379", 3*time.Second)
			if err != nil {
				b.Fatalf("iteration %d: %s -> server: %v", i, node.ID, err)
			}
			c.Close()
			d := time.Since(start)
			out = append(out, d)
			if d > lateConnect {
				lateOut++
				b.Logf("iteration %d: outbound first connect from %s (router link %s) took %v", i, node.ID, linkName(p.prefix, 'i', node.ID), d)
			}
			if d > slowConnect {
				slowOut++
			}
		}

		for j, node := range nodes {
			at := <-reached[j]
			if at.IsZero() {
				b.Fatalf("iteration %d: %s never answered from %s", i, node.PrivateIP, client.ID)
			}
			d := max(at.Sub(applied), 0)
			in = append(in, d)
			if d > lateConnect {
				lateIn++
				b.Logf("iteration %d: inbound first connect to %s %s (router link %s) took %v after Apply", i, node.ID, node.PrivateIP, linkName(p.prefix, 'i', node.ID), d)
			}
			if d > slowConnect {
				slowIn++
			}
		}
		cancel()

		b.StopTimer()
		st.Interfaces = base
		apply(b, p, st)
		b.StartTimer()
	}
	b.ReportMetric(float64(slowIn), "slow-inbound")
	b.ReportMetric(float64(slowOut), "slow-outbound")
	b.ReportMetric(float64(lateIn), "late-inbound")
	b.ReportMetric(float64(lateOut), "late-outbound")
	reportPercentiles(b, in, "inbound")
	reportPercentiles(b, out, "outbound")
}

// probeUntilAnswered connects from id to addr every millisecond (25 ms
// timeouts) until a connect is accepted or refused, and returns when; the
// zero time if ctx ends first.
func probeUntilAnswered(ctx context.Context, p *Plane, id, addr string) time.Time {
	for ctx.Err() == nil {
		dctx, cancel := context.WithTimeout(ctx, 25*time.Millisecond)
		c, err := p.Dial(dctx, id, "tcp4", addr)
		cancel()
		if err == nil {
			c.Close()
			return time.Now()
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			return time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	return time.Time{}
}
