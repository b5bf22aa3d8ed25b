package netplane

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// reportPercentiles reports the p50 and p99 of ds in milliseconds.
func reportPercentiles(b *testing.B, ds []time.Duration, what string) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(q * float64(len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), what+"-p50-ms")
	b.ReportMetric(at(0.99), what+"-p99-ms")
	b.ReportMetric(0, "ns/op") // meaningless here: wall time includes setup
}

func benchVPC() State {
	return State{
		VPCs:    []VPC{{ID: "vpc-0bench", CIDRs: []netip.Prefix{pfx("10.0.0.0/16")}}},
		Subnets: []Subnet{{ID: "subnet-0bench", VPC: "vpc-0bench", CIDR: pfx("10.0.0.0/16")}},
		Groups: []SecurityGroup{{ID: "sg-0bench", VPC: "vpc-0bench",
			Ingress: []Rule{{ID: "sgr-0self", Protocol: "tcp", FromPort: 6379, ToPort: 6379, Groups: []string{"sg-0bench"}}},
			Egress:  []Rule{{ID: "sgr-0out", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}}},
	}
}

func benchIface(i int) Interface {
	ip := netip.AddrFrom4([4]byte{10, 0, byte(1 + i/250), byte(4 + i%250)})
	return Interface{ID: fmt.Sprintf("eni-0b%05d", i), Subnet: "subnet-0bench", PrivateIP: ip, Groups: []string{"sg-0bench"}}
}

// BenchmarkCreateInterface: Apply of a State with one more interface than
// the last (namespace, veth pair, addresses, routes, ruleset with its
// chains), each one on top of all previous ones.
func BenchmarkCreateInterface(b *testing.B) {
	p, _ := newTestPlane(b)
	st := benchVPC()
	apply(b, p, st)
	var ds []time.Duration
	var steps []map[string]time.Duration
	for i := 0; b.Loop(); i++ {
		st.Interfaces = append(st.Interfaces, benchIface(i))
		s := map[string]time.Duration{}
		p.mu.Lock()
		p.trace = func(step string, d time.Duration) { s[step] += d }
		p.mu.Unlock()
		start := time.Now()
		apply(b, p, st)
		ds = append(ds, time.Since(start))
		p.mu.Lock()
		p.trace = nil
		p.mu.Unlock()
		steps = append(steps, s)
	}
	b.ReportMetric(float64(len(st.Interfaces)), "interfaces")
	reportPercentiles(b, ds, "create")
	logSteps(b, "create", ds, steps)
}

// BenchmarkRuleToEnforced: from Apply of a State with one rule added to the
// first successful TCP connect the rule allows.
func BenchmarkRuleToEnforced(b *testing.B) {
	p, _ := newTestPlane(b)
	st := benchVPC()
	st.Groups = append(st.Groups, SecurityGroup{ID: "sg-0client", VPC: "vpc-0bench",
		Egress: []Rule{{ID: "sgr-0out", Protocol: "-1", CIDRs: []netip.Prefix{pfx("0.0.0.0/0")}}}})
	server, client := benchIface(0), benchIface(1)
	client.Groups = []string{"sg-0client"}
	st.Interfaces = []Interface{server, client}
	apply(b, p, st)
	serve(b, p, server.ID, 6380)
	target := server.PrivateIP.String() + ":6380"
	base := st.Groups[0].Ingress
	var ds []time.Duration
	retries := 0
	for i := 0; b.Loop(); i++ {
		st.Groups[0].Ingress = append(slices.Clone(base), Rule{ID: fmt.Sprintf("sgr-0n%d", i), Protocol: "tcp", FromPort: 6380, ToPort: 6380,
			CIDRs: []netip.Prefix{netip.PrefixFrom(client.PrivateIP, 32)}})
		start := time.Now()
		apply(b, p, st)
		for {
			c, err := connect(p, client.ID, target, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Since(start) > 10*time.Second {
				b.Fatalf("rule not enforced after 10s: %v", err)
			}
			retries++
		}
		ds = append(ds, time.Since(start))
		b.StopTimer()
		st.Groups[0].Ingress = base
		apply(b, p, st)
		b.StartTimer()
	}
	b.ReportMetric(float64(retries), "failed-connects")
	reportPercentiles(b, ds, "enforced")
}

// requireRedisBench skips the opt-in redis-benchmark experiments unless
// NETPLANE_REDIS_BENCH is set and bins are installed.
func requireRedisBench(t *testing.T, bins ...string) {
	t.Helper()
	if os.Getenv("NETPLANE_REDIS_BENCH") == "" {
		t.Skip("set NETPLANE_REDIS_BENCH=1 to run")
	}
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("requires %s", bin)
		}
	}
}

var redisBenchmarkLine = regexp.MustCompile(`(SET|GET): ([0-9.]+) requests per second`)

// parseRedisBenchmark reads SET and GET requests per second from
// redis-benchmark -q -t set,get output.
func parseRedisBenchmark(t *testing.T, out []byte) (set, get float64) {
	t.Helper()
	for _, m := range redisBenchmarkLine.FindAllStringSubmatch(string(out), -1) {
		var v float64
		fmt.Sscan(m[2], &v)
		if m[1] == "SET" {
			set = v
		} else {
			get = v
		}
	}
	if set == 0 || get == 0 {
		t.Fatalf("cannot parse redis-benchmark output:\n%s", out)
	}
	return set, get
}

// redisBenchRuns returns redis-benchmark's -n (NETPLANE_REDIS_N, else n)
// and the rounds (NETPLANE_REDIS_REPEAT, else repeat).
func redisBenchRuns(n string, repeat int) (string, int) {
	if v := os.Getenv("NETPLANE_REDIS_N"); v != "" {
		n = v
	}
	if r := os.Getenv("NETPLANE_REDIS_REPEAT"); r != "" {
		fmt.Sscan(r, &repeat)
	}
	return n, repeat
}

// pinned prefixes argv with taskset -c cpu when NETPLANE_REDIS_PIN is set:
// the server on CPU 0 and the client on CPU 1 in every mode alike, which
// takes the scheduler's placement out of the comparison.
func pinned(cpu int, argv ...string) []string {
	if os.Getenv("NETPLANE_REDIS_PIN") == "" {
		return argv
	}
	return append([]string{"taskset", "-c", fmt.Sprint(cpu)}, argv...)
}

// startRedisServer runs redis-server on server's port 6379 until the test
// ends and waits until client connects to it.
func startRedisServer(t *testing.T, ctx context.Context, p *Plane, server, client Interface) {
	t.Helper()
	startBenchServer(t, ctx, p, server, client, 6379, "redis-server", "--port", "6379", "--bind", "0.0.0.0", "--save", "", "--appendonly", "no", "--protected-mode", "no")
}

// startBenchServer runs argv (pinned to CPU 0 with NETPLANE_REDIS_PIN) in
// server's namespace until the test ends and waits until client connects to
// its port.
func startBenchServer(t *testing.T, ctx context.Context, p *Plane, server, client Interface, port int, argv ...string) {
	t.Helper()
	srv, err := p.Command(ctx, server.ID, pinned(0, argv...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	waitFor(t, p, client.ID, fmt.Sprintf("%s:%d", server.PrivateIP, port))
}

// directNamespace returns a namespace linked to server's by one veth pair
// (10.99.0.2/30 there, 10.99.0.1/30 in server's), without a router: the
// ceiling of any design with a namespace per interface.
func directNamespace(t *testing.T, p *Plane, server Interface) string {
	t.Helper()
	direct := p.prefix + "-direct"
	serverNS := NamespaceName(p.prefix, server.ID)
	run(t, "ip", "netns", "add", direct)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", direct).Run() })
	run(t, "ip", "link", "add", p.prefix+"-dA", "netns", direct, "type", "veth", "peer", "name", p.prefix+"-dB", "netns", serverNS)
	run(t, "ip", "-n", direct, "addr", "add", "10.99.0.2/30", "dev", p.prefix+"-dA")
	run(t, "ip", "-n", serverNS, "addr", "add", "10.99.0.1/30", "dev", p.prefix+"-dB")
	run(t, "ip", "-n", direct, "link", "set", p.prefix+"-dA", "up")
	run(t, "ip", "-n", serverNS, "link", "set", p.prefix+"-dB", "up")
	run(t, "ip", "-n", direct, "link", "set", "lo", "up")
	return direct
}

// benchCommand returns argv to run in the namespace of interface eni, or in
// the namespace named eni if it is a directNamespace.
func benchCommand(t *testing.T, ctx context.Context, p *Plane, eni string, argv ...string) *exec.Cmd {
	t.Helper()
	if strings.HasSuffix(eni, "-direct") {
		return exec.CommandContext(ctx, "nsenter", append([]string{"--net=" + filepath.Join(netnsDir, eni), "--"}, argv...)...)
	}
	cmd, err := p.Command(ctx, eni, argv...)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// benchPair returns a test plane (its fast path off with
// CACHALOT_NO_FAST_PATH=1, as for the daemon) and the bench VPC with a
// server and a client interface of one subnet.
func benchPair(t *testing.T) (*Plane, State, Interface, Interface) {
	t.Helper()
	p, _ := newTestPlane(t)
	p.noFastPath = os.Getenv("CACHALOT_NO_FAST_PATH") == "1"
	st := benchVPC()
	server, client := benchIface(0), benchIface(1)
	st.Interfaces = []Interface{server, client}
	return p, st, server, client
}

// benchRules returns rules-1 ingress rules to port that match nothing
// (other sources), sorted before the one that admits the bench group, then
// that one.
func benchRules(rules, port int) []Rule {
	var in []Rule
	for i := range rules - 1 {
		in = append(in, Rule{ID: fmt.Sprintf("sgr-0a%05d", i), Protocol: "tcp", FromPort: port, ToPort: port,
			CIDRs: []netip.Prefix{netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 16, byte(i / 250), byte(1 + i%250)}), 32)}})
	}
	return append(in, Rule{ID: "sgr-0zclient", Protocol: "tcp", FromPort: port, ToPort: port, Groups: []string{"sg-0bench"}})
}

// TestRedisThroughEnforcement runs redis-benchmark from one interface to a
// redis-server in another through the router's ruleset, with 10, 1,000 and
// 10,000 rules in force, against the same on loopback inside a namespace.
// Opt-in (NETPLANE_REDIS_BENCH=1): it takes about a minute and needs
// redis-server and redis-benchmark.
func TestRedisThroughEnforcement(t *testing.T) {
	requireRedisBench(t, "redis-server", "redis-benchmark")
	p, st, server, client := benchPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	n, repeat := redisBenchRuns("200000", 3)

	run := func(eni, host string, pipeline int) (set, get float64) {
		t.Helper()
		argv := pinned(1, "redis-benchmark", "-h", host, "-p", "6379", "-c", "50", "-n", n, "-t", "set,get", "-q", "-P", fmt.Sprint(pipeline))
		cmd, err := p.Command(ctx, eni, argv...)
		if err != nil {
			t.Fatal(err)
		}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return parseRedisBenchmark(t, out)
	}

	for i, rules := range benchRuleCounts(10, 1000, 10000) {
		st.Groups[0].Ingress = benchRules(rules, 6379)
		start := time.Now()
		apply(t, p, st)
		applyTime := time.Since(start)
		if i == 0 {
			startRedisServer(t, ctx, p, server, client)
		}
		for _, pipeline := range []int{1, 16} {
			// Interleaved pairs, medians: the machine is shared and noisy.
			var ls, lg, es, eg, rs, rg []float64
			for round := range repeat {
				var lset, lget, eset, eget float64
				inTurns(round,
					func() { lset, lget = run(server.ID, "127.0.0.1", pipeline) },
					func() { eset, eget = run(client.ID, server.PrivateIP.String(), pipeline) })
				ls, lg, es, eg = append(ls, lset), append(lg, lget), append(es, eset), append(eg, eget)
				rs, rg = append(rs, eset/lset), append(rg, eget/lget)
			}
			t.Logf("rules=%5d apply=%7.1fms -P %2d  SET %8.0f/s vs loopback %8.0f/s ratio %.2f %s   GET %8.0f/s vs loopback %8.0f/s ratio %.2f %s (%d pairs); load %s",
				rules, float64(applyTime.Microseconds())/1000, pipeline, median(es), median(ls), median(rs), medianCI(rs), median(eg), median(lg), median(rg), medianCI(rg), repeat, loadavg())
		}
	}
}

func waitFor(t testing.TB, p *Plane, from, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := p.Dial(ctx, from, "tcp4", addr)
		cancel()
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never reachable from %s: %v", addr, from, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchRuleCounts returns the rule counts in NETPLANE_REDIS_RULES (a comma
// list), else def.
func benchRuleCounts(def ...int) []int {
	v := os.Getenv("NETPLANE_REDIS_RULES")
	if v == "" {
		return def
	}
	var counts []int
	for _, f := range strings.Split(v, ",") {
		var n int
		if _, err := fmt.Sscan(f, &n); err == nil && n > 0 {
			counts = append(counts, n)
		}
	}
	return counts
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// medianCI returns "[lo–hi]", a distribution-free ~95 % confidence
// interval of the median of xs (the order statistics n/2 ∓ 0.98·√n), or ""
// for fewer than 6 values.
func medianCI(xs []float64) string {
	n := len(xs)
	if n < 6 {
		return ""
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	k := int((float64(n) - 1.96*math.Sqrt(float64(n))) / 2)
	return fmt.Sprintf("[%.2f–%.2f]", s[k], s[n-1-k])
}

// inTurns runs each of arms once, starting with arms[round mod len(arms)]:
// interleaved arms take turns going first, so that none is always measured
// right after the same other.
func inTurns(round int, arms ...func()) {
	for k := range arms {
		arms[(round+k)%len(arms)]()
	}
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

var memcaslapLine = regexp.MustCompile(`Ops: (\d+) TPS: (\d+)`)

// TestMemcachedThroughEnforcement runs memcaslap (its default mix: 90 %
// get, 10 % set, ~1 KiB values; -c 50 -T 1) from one interface to a
// memcached (one worker thread) in another of the same subnet, through the
// plane as it is (its fast path on, unless CACHALOT_NO_FAST_PATH=1),
// with 10 and 10,000 rules in force, in interleaved rounds with the same on
// loopback in the server's namespace and from a namespace linked to the
// server's by one veth pair (the ceiling); medians of the rounds' ratios.
// Opt-in (NETPLANE_REDIS_BENCH=1), needs memcached and memcaslap;
// NETPLANE_REDIS_N sets memcaslap's -x, NETPLANE_REDIS_REPEAT the rounds and
// NETPLANE_REDIS_PIN pins the server to CPU 0 and the client to CPU 1.
//
//	NETPLANE_REDIS_BENCH=1 go test -count=1 -run '^TestMemcachedThroughEnforcement$' -v ./internal/netplane/
func TestMemcachedThroughEnforcement(t *testing.T) {
	requireRedisBench(t, "memcached", "memcaslap")
	p, st, server, client := benchPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	n, repeat := redisBenchRuns("400000", 5)

	tps := func(eni, host string) float64 {
		t.Helper()
		argv := pinned(1, "memcaslap", "-s", host+":11211", "-c", "50", "-T", "1", "-x", n)
		out, err := benchCommand(t, ctx, p, eni, argv...).CombinedOutput()
		m := memcaslapLine.FindSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		var v float64
		fmt.Sscan(string(m[2]), &v)
		return v
	}
	var direct string
	for i, rules := range benchRuleCounts(10, 10000) {
		st.Groups[0].Ingress = benchRules(rules, 11211)
		apply(t, p, st)
		if i == 0 {
			startBenchServer(t, ctx, p, server, client, 11211, "memcached", "-u", "nobody", "-p", "11211", "-U", "0", "-t", "1", "-m", "256")
			direct = directNamespace(t, p, server)
		}
		t.Logf("rules=%5d load average at start: %s", rules, loadavg())
		var lo, vpc, veth, ratio, vethRatio []float64
		for round := range repeat {
			var l, v, d float64
			inTurns(round,
				func() { l = tps(server.ID, "127.0.0.1") },
				func() { v = tps(client.ID, server.PrivateIP.String()) },
				func() { d = tps(direct, "10.99.0.1") })
			lo, vpc, veth, ratio, vethRatio = append(lo, l), append(vpc, v), append(veth, d), append(ratio, v/l), append(vethRatio, d/l)
			t.Logf("rules=%5d round %d: VPC %.0f TPS, loopback %.0f TPS, bare veth pair %.0f TPS, ratios %.2f (veth %.2f)", rules, round+1, v, l, d, v/l, d/l)
		}
		t.Logf("rules=%5d memcaslap VPC %8.0f TPS vs loopback %8.0f TPS ratio %.2f %s; bare veth pair %8.0f TPS ratio %.2f %s (medians of %d rounds); load average at end: %s",
			rules, median(vpc), median(lo), median(ratio), medianCI(ratio), median(veth), median(vethRatio), medianCI(vethRatio), repeat, loadavg())
	}
}
