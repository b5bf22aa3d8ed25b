package netplane

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strings"
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
	type series struct {
		plan, apply, enforced []time.Duration
		steps                 []map[string]time.Duration // per change, by step of Apply
	}
	got := map[bool]*series{false: {}, true: {}} // by fullReplace
	change := func(i int, full bool) {
		p.mu.Lock()
		p.fullReplace = full
		p.mu.Unlock()
		st.Groups[0].Ingress = append(slices.Clone(base), Rule{ID: fmt.Sprintf("sgr-0n%d", i), Protocol: "tcp", FromPort: 6380, ToPort: 6380,
			CIDRs: []netip.Prefix{netip.PrefixFrom(client.PrivateIP, 32)}})
		s := got[full]
		steps := map[string]time.Duration{}
		p.mu.Lock()
		p.trace = func(step string, d time.Duration) { steps[step] += d }
		p.mu.Unlock()
		start := time.Now()
		plan, err := NewPlan(p.Prefix(), st)
		if err != nil {
			b.Fatal(err)
		}
		s.plan = append(s.plan, time.Since(start))
		if err := p.ApplyPlanChange(context.Background(), plan); err != nil {
			b.Fatal(err)
		}
		s.apply = append(s.apply, time.Since(start))
		p.mu.Lock()
		p.trace = nil
		p.mu.Unlock()
		steps["outside-apply"] = s.apply[len(s.apply)-1] - s.plan[len(s.plan)-1] - steps["apply"]
		s.steps = append(s.steps, steps)
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
		logSteps(b, name, s.apply, s.steps)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		b.Logf("load average: %s", la)
	}
}

// logSteps logs, for the Applies of one series, the p50 and p99 of each
// step (span) and the steps of the slowest 2 %, so that a tail can be
// traced to its cause.
func logSteps(b *testing.B, name string, applies []time.Duration, steps []map[string]time.Duration) {
	b.Helper()
	by := map[string][]time.Duration{}
	for _, st := range steps {
		for k, d := range st {
			by[k] = append(by[k], d)
		}
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }
	pct := func(ds []time.Duration, q float64) time.Duration {
		ds = slices.Sorted(slices.Values(ds))
		return ds[int(q*float64(len(ds)-1))]
	}
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(by)) {
		// A step absent from an Apply took 0 there.
		ds := append(by[k], make([]time.Duration, len(steps)-len(by[k]))...)
		lines = append(lines, fmt.Sprintf("  %-18s p50 %7s ms  p99 %7s ms  max %7s ms", k, ms(pct(ds, 0.5)), ms(pct(ds, 0.99)), ms(pct(ds, 1))))
	}
	b.Logf("%s: Apply steps over %d changes\n%s", name, len(steps), strings.Join(lines, "\n"))
	idx := make([]int, len(applies))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(i, j int) int { return cmp.Compare(applies[j], applies[i]) })
	for _, i := range idx[:max(1, len(idx)/50)] {
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(steps[i])) {
			parts = append(parts, k+"="+ms(steps[i][k]))
		}
		b.Logf("%s: slow Apply %s ms: %s", name, ms(applies[i]), strings.Join(parts, " "))
	}
}
