package netplane

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"testing"
	"time"
)

// BenchmarkRuleChange1000: a security group holding 1,000 rules gets one
// more, admitting a client; each iteration times, for each way of loading
// a change (incremental: only the changed chain, through the router's nft
// session; replace: the whole table through a new nft process, as before),
// in alternating order, the building of the plan, its Apply, and the time
// from the start of the change to the first successful connect the rule
// allows. The rule is then revoked (not timed, incremental). Run with -benchtime 200x
// for 200 changes of each kind.
func BenchmarkRuleChange1000(b *testing.B) {
	p, _ := newTestPlane(b)
	st := benchVPC()
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0client", VPC: "vpc-0bench",
		Egress: []Rule{{ID: "sgr-0out", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}})
	server, client := benchIface(0), benchIface(1)
	client.Groups = []string{"sg-0client"}
	st.Interfaces = []Interface{server, client}
	g := &st.Groups[0]
	for i := range 999 {
		g.Ingress = append(g.Ingress, Rule{ID: fmt.Sprintf("sgr-0a%05d", i), Protocol: "tcp", FromPort: 6379, ToPort: 6379,
			CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(1 + i%250)}), 32)}})
	}
	apply(b, p, st)
	serve(b, p, server.ID, 6380)
	target := server.PrivateIP.String() + ":6380"
	base := slices.Clone(g.Ingress)
	type series struct{ plan, apply, enforced []time.Duration }
	got := map[bool]*series{false: {}, true: {}} // by fullReplace
	change := func(i int, full bool) {
		p.mu.Lock()
		p.fullReplace = full
		p.mu.Unlock()
		st.Groups[0].Ingress = append(slices.Clone(base), Rule{ID: fmt.Sprintf("sgr-0n%d", i), Protocol: "tcp", FromPort: 6380, ToPort: 6380,
			CIDRs: []netip.Prefix{netip.PrefixFrom(client.PrivateIP, 32)}})
		s := got[full]
		start := time.Now()
		plan, err := NewPlan(p.Prefix(), st)
		if err != nil {
			b.Fatal(err)
		}
		s.plan = append(s.plan, time.Since(start))
		if err := p.ApplyPlan(context.Background(), plan); err != nil {
			b.Fatal(err)
		}
		s.apply = append(s.apply, time.Since(start))
		for {
			c, err := connect(p, client.ID, target, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("rule not enforced after 10s: %v", err)
			}
		}
		s.enforced = append(s.enforced, time.Since(start))
		// The revoke is incremental in both series, so that the next
		// incremental change finds the rule handles known, as in the
		// steady state; the first change after a table replacement pays
		// one listing of the table to learn them (BENCH.md).
		p.mu.Lock()
		p.fullReplace = false
		p.mu.Unlock()
		st.Groups[0].Ingress = base
		apply(b, p, st)
	}
	for i := 0; b.Loop(); i++ {
		change(i, i%2 == 1)
		change(i, i%2 == 0)
	}
	for _, full := range []bool{false, true} {
		name := "incremental"
		if full {
			name = "replace"
		}
		s := got[full]
		reportPercentiles(b, s.plan, name+"-plan")
		reportPercentiles(b, s.apply, name+"-apply")
		reportPercentiles(b, s.enforced, name+"-enforced")
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", la)
	}
}
