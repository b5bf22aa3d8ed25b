package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
	"github.com/cachalot-dev/cachalot/bench/internal/load"
)

// arms of a throughput comparison.
const (
	armNode   = "node, client in instance"
	armHand   = "by hand, loopback"
	armNodeNS = "node, client in node's own namespace"
	armInstLo = "by hand, loopback inside the instance's namespace"
	armHandSS = "by hand in its own session, loopback"
)

// Ports of the engines started by hand inside the instance's namespace
// (its own port space).
const (
	instRedisPort = 16379
	instMcPort    = 21211
)

func throughput(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, pr *prober, o options, cl *cleanups) error {
	e, err := startThroughputArms(ctx, s, inst, pr, o.pollEvery, cl)
	if err != nil {
		return err
	}
	tests := []tputTest{
		{"redis-benchmark -P 1", e.redisBench(ctx, s, inst, o, 1)},
		{"redis-benchmark -P 16", e.redisBench(ctx, s, inst, o, 16)},
		{"memcaslap", e.mcBench(ctx, s, inst, o)},
	}
	printThroughputMethod(e, o)
	res, ops, err := runThroughputRounds(tests, o)
	if err != nil {
		return err
	}
	printThroughputTable(tests, res, ops)
	for _, id := range []string{"tput-redis", "tput-mc"} {
		if _, err := s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)}); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	return waitGone(ctx, s, []string{"tput-redis", "tput-mc"}, 20*time.Millisecond, time.Minute)
}

// tputEnv is where the arms of the throughput comparison run: the two
// nodes, the namespaces and the ports of the engines started by hand.
type tputEnv struct {
	redisEP, mcEP         string // the nodes' endpoints
	redisNS, mcNS, instNS string // the nodes' and the instance's namespaces
	// Ports of the hand baselines on the host's loopback, and of the ones
	// started in their own session.
	redisPort, mcPort, ssRedisPort, ssMcPort int
}

// tputTest is one benchmark, run once per arm.
type tputTest struct {
	name string
	run  func(arm string) (map[string]float64, error)
}

// startThroughputArms creates the two nodes and starts the engines of the
// hand arms (on the host, in their own session, in the instance's
// namespace), stopped by cl.
func startThroughputArms(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, pr *prober, pollEvery time.Duration, cl *cleanups) (*tputEnv, error) {
	e := &tputEnv{}
	var err error
	if e.redisEP, err = createAndWait(ctx, s, "tput-redis", "redis", pollEvery); err != nil {
		return nil, err
	}
	if e.mcEP, err = createAndWait(ctx, s, "tput-mc", "memcached", pollEvery); err != nil {
		return nil, err
	}
	// The endpoints are names; the arms use the addresses they resolve to
	// on the instance (the node's own namespace has no resolver).
	if e.redisEP, err = resolveOnInstance(ctx, s, inst, e.redisEP); err != nil {
		return nil, err
	}
	if e.mcEP, err = resolveOnInstance(ctx, s, inst, e.mcEP); err != nil {
		return nil, err
	}
	if e.redisNS, err = nodeNamespace(s, e.redisEP); err != nil {
		return nil, err
	}
	if e.mcNS, err = nodeNamespace(s, e.mcEP); err != nil {
		return nil, err
	}
	if e.instNS, err = namespaceByLink(s, pr.NetNS); err != nil {
		return nil, err
	}
	if err := checkNamespace(e.instNS); err != nil {
		return nil, err
	}
	handDir := filepath.Join(s.Dir, "by-hand")
	if err := os.MkdirAll(handDir, 0o750); err != nil {
		return nil, err
	}
	e.redisPort, _ = load.FreePort()
	e.mcPort, _ = load.FreePort()
	e.ssRedisPort, _ = load.FreePort()
	e.ssMcPort, _ = load.FreePort()
	inInst := []string{"nsenter", "--net=" + e.instNS, "--"}
	// The node's engine runs in its own session (the supervisor starts it
	// with setsid), hence in its own scheduler autogroup when
	// kernel.sched_autogroup_enabled=1; these two are the hand baseline
	// started the same way.
	for _, argv := range [][]string{
		{"redis-server", "--port", strconv.Itoa(e.ssRedisPort), "--bind", "127.0.0.1", "--save", ""},
		{"memcached", "-l", "127.0.0.1", "-p", strconv.Itoa(e.ssMcPort), "-U", "0", "-u", "nobody"},
	} {
		if err := startByHand(handDir, argv, true, cl); err != nil {
			return nil, err
		}
	}
	for _, argv := range [][]string{
		{"redis-server", "--port", strconv.Itoa(e.redisPort), "--bind", "127.0.0.1", "--save", ""},
		{"memcached", "-l", "127.0.0.1", "-p", strconv.Itoa(e.mcPort), "-U", "0", "-u", "nobody"},
		// nsenter execs the engine in place: same pid, killed below.
		append(slices.Clone(inInst), "redis-server", "--port", strconv.Itoa(instRedisPort), "--bind", "127.0.0.1", "--save", ""),
		append(slices.Clone(inInst), "memcached", "-l", "127.0.0.1", "-p", strconv.Itoa(instMcPort), "-U", "0", "-u", "nobody"),
	} {
		if err := startByHand(handDir, argv, false, cl); err != nil {
			return nil, err
		}
	}
	for _, p := range []int{e.redisPort, e.mcPort, e.ssRedisPort, e.ssMcPort} {
		if err := load.WaitTCP(fmt.Sprintf("127.0.0.1:%d", p), 10*time.Second); err != nil {
			return nil, err
		}
	}
	for _, kind := range []string{"redis", "memcached"} {
		addr := fmt.Sprintf("127.0.0.1:%d", instRedisPort)
		if kind == "memcached" {
			addr = fmt.Sprintf("127.0.0.1:%d", instMcPort)
		}
		if _, err := pr.probe(kind, []string{addr}); err != nil {
			return nil, fmt.Errorf("engine by hand in the instance's namespace: %w", err)
		}
	}
	return e, nil
}

// startByHand starts argv in dir, in a session of its own when setsid, killed
// by cl (and by the kernel should the bench die).
func startByHand(dir string, argv []string, setsid bool, cl *cleanups) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: setsid, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	cl.add(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return nil
}

// redisBench runs redis-benchmark (set, get) with the given pipeline depth
// against the arm's server; the result is rps per operation.
func (e *tputEnv) redisBench(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, o options, pipeline int) func(string) (map[string]float64, error) {
	return func(arm string) (map[string]float64, error) {
		args := []string{"-t", "set,get", "-c", "50", "-n", strconv.Itoa(o.requests), "--csv"}
		if pipeline > 1 {
			args = append(args, "-P", strconv.Itoa(pipeline))
		}
		host, port := splitHostPort(e.redisEP)
		var argv []string
		switch arm {
		case armNode:
			argv = append([]string{"redis-benchmark", "-h", host, "-p", port}, args...)
		case armNodeNS:
			argv = append([]string{"nsenter", "--net=" + e.redisNS, "--", "redis-benchmark", "-h", host, "-p", port}, args...)
		case armHand:
			argv = append([]string{"redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(e.redisPort)}, args...)
		case armInstLo:
			argv = append([]string{"nsenter", "--net=" + e.instNS, "--", "redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(instRedisPort)}, args...)
		case armHandSS:
			argv = append([]string{"redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(e.ssRedisPort)}, args...)
		}
		out, err := runArm(ctx, s, inst, arm, argv)
		if err != nil {
			return nil, err
		}
		return parseRedisCSV(out)
	}
}

// mcBench runs memcaslap's default mix against the arm's server; the result
// is its TPS.
func (e *tputEnv) mcBench(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, o options) func(string) (map[string]float64, error) {
	return func(arm string) (map[string]float64, error) {
		addr := e.mcEP
		args := []string{"-c", "50", "-T", "2", "-x", strconv.Itoa(o.mcOps)}
		var argv []string
		switch arm {
		case armNode:
			argv = append([]string{"memcaslap", "-s", addr}, args...)
		case armNodeNS:
			argv = append([]string{"nsenter", "--net=" + e.mcNS, "--", "memcaslap", "-s", addr}, args...)
		case armHand:
			argv = append([]string{"memcaslap", "-s", fmt.Sprintf("127.0.0.1:%d", e.mcPort)}, args...)
		case armInstLo:
			argv = append([]string{"nsenter", "--net=" + e.instNS, "--", "memcaslap", "-s", fmt.Sprintf("127.0.0.1:%d", instMcPort)}, args...)
		case armHandSS:
			argv = append([]string{"memcaslap", "-s", fmt.Sprintf("127.0.0.1:%d", e.ssMcPort)}, args...)
		}
		out, err := runArm(ctx, s, inst, arm, argv)
		if err != nil {
			return nil, err
		}
		m := regexp.MustCompile(`Ops: (\d+) TPS: (\d+)`).FindSubmatch(out)
		if m == nil {
			return nil, fmt.Errorf("memcaslap output without TPS: %q", out)
		}
		if ops, _ := strconv.Atoi(string(m[1])); ops < o.mcOps {
			return nil, fmt.Errorf("memcaslap ran %d of %d operations: %q", ops, o.mcOps, out)
		}
		tps, _ := strconv.ParseFloat(string(m[2]), 64)
		return map[string]float64{"get 90% / set 10%": tps}, nil
	}
}

// printThroughputMethod prints the section's heading and method.
func printThroughputMethod(e *tputEnv, o options) {
	fmt.Printf("## 2. Throughput through a node vs the same engine by hand on loopback\n\n")
	fmt.Printf("Nodes: `tput-redis` (Redis, 1 node, %s) and `tput-mc` (Memcached, 1 node, %s), created through the API, default security group. "+
		"Baselines started by hand on the host: `redis-server --port P --bind 127.0.0.1 --save ''` and `memcached -l 127.0.0.1 -p P -U 0 -u nobody` "+
		"(Debian defaults otherwise; `--bind`/`-l` keep them off the host's network).\n\n", e.redisEP, e.mcEP)
	fmt.Printf("- Redis: `redis-benchmark -h HOST -p PORT -t set,get -c 50 -n %d --csv`, with and without `-P 16`.\n", o.requests)
	fmt.Printf("- Memcached: `memcaslap -s HOST:PORT -c 50 -T 2 -x %d` (libmemcached-tools; memtier-benchmark is not in Debian 12), its default mix: 90%% get, 10%% set, ~1 KiB values; figure: its TPS.\n", o.mcOps)
	fmt.Printf("- Arms: **node** = the client inside the instance's namespace (`cachalot exec --instance`), traffic instance → veth → VPC router (nftables security groups) → veth → node; "+
		"**hand** = client and server on the host's loopback; **own ns** (diagnostic) = the client inside the node's own namespace (`nsenter --net=/run/netns/<node ns>`) "+
		"to the node's VPC address, i.e. the node's configuration without the router hop; **ns lo** (diagnostic) = the same engine started by hand as in **hand**, "+
		"but inside the instance's namespace (`nsenter --net=/run/netns/<instance ns> redis-server --port %d --bind 127.0.0.1 --save ''`, memcached likewise on %d), client there too: "+
		"loopback inside a network namespace, no router, no Cachalot configuration; **hand, own session** (diagnostic) = the **hand** baseline started with setsid, "+
		"as the supervisor starts every node (with `kernel.sched_autogroup_enabled=%s` a new session is a new scheduler autogroup, which CFS shares CPU between as one entity).\n",
		instRedisPort, instMcPort, strings.TrimSpace(readFile("/proc/sys/kernel/sched_autogroup_enabled")))
	fmt.Printf("- %d rounds; in each round every test runs every arm back to back, the order of arms rotating per round. Medians over rounds; the per-round ratio pairs arms under the same background load.\n\n", o.rounds)
}

// runThroughputRounds runs every test on every arm, o.rounds times, the
// order of arms rotating per round. It returns res[test][op][arm], the rps
// of each round, and each test's operations in the order first seen.
func runThroughputRounds(tests []tputTest, o options) (map[string]map[string]map[string][]float64, map[string][]string, error) {
	arms := []string{armNode, armHand, armNodeNS, armInstLo, armHandSS}
	res := map[string]map[string]map[string][]float64{}
	var ops = map[string][]string{}
	for r := range o.rounds {
		order := slices.Clone(arms)
		for range r % len(arms) {
			order = append(order[1:], order[0])
		}
		for _, t := range tests {
			for _, arm := range order {
				m, err := t.run(arm)
				if err != nil {
					return nil, nil, fmt.Errorf("%s, %s: %w", t.name, arm, err)
				}
				if res[t.name] == nil {
					res[t.name] = map[string]map[string][]float64{}
				}
				for op, v := range m {
					if res[t.name][op] == nil {
						res[t.name][op] = map[string][]float64{}
						ops[t.name] = append(ops[t.name], op)
					}
					res[t.name][op][arm] = append(res[t.name][op][arm], v)
				}
			}
		}
		log.Printf("throughput: round %d/%d (load %s)", r+1, o.rounds, hostinfo.LoadAvg())
	}
	return res, ops, nil
}

// printThroughputTable prints the medians and ratios per test and
// operation, then every round's figures.
func printThroughputTable(tests []tputTest, res map[string]map[string]map[string][]float64, ops map[string][]string) {
	fmt.Printf("| test | op | node (median rps) | hand (median rps) | **node / hand** (ratio of medians) | median of per-round ratios | own ns / hand | ns lo / hand | hand, own session / hand | **node / hand, own session** |\n|---|---|---|---|---|---|---|---|---|---|\n")
	var raw []string
	for _, t := range tests {
		for _, op := range orderOps(ops[t.name]) {
			a := res[t.name][op]
			var ratios []float64
			for i := range min(len(a[armNode]), len(a[armHand])) {
				ratios = append(ratios, a[armNode][i]/a[armHand][i])
			}
			n, h, own, lo, ss := median(a[armNode]), median(a[armHand]), median(a[armNodeNS]), median(a[armInstLo]), median(a[armHandSS])
			fmt.Printf("| %s | %s | %.0f | %.0f | **%.2f** | %.2f | %.2f | %.2f | %.2f | **%.2f** |\n", t.name, op, n, h, n/h, median(ratios), own/h, lo/h, ss/h, n/ss)
			raw = append(raw, fmt.Sprintf("- %s %s: node %s; hand %s; own ns %s; ns lo %s; hand, own session %s", t.name, op,
				ints(a[armNode]), ints(a[armHand]), ints(a[armNodeNS]), ints(a[armInstLo]), ints(a[armHandSS])))
		}
	}
	fmt.Printf("\nGoal: node / hand ≥ 0.95. All rounds, rps:\n\n%s\n\n", strings.Join(raw, "\n"))
}

// runArm runs one benchmark client where the arm says, bounded to 3 min.
func runArm(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, arm string, argv []string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	if arm == armNode {
		return s.ExecIn(ctx, inst.ID, argv...)
	}
	if arm == armNodeNS || arm == armInstLo {
		if err := checkNamespace(strings.TrimPrefix(argv[1], "--net=")); err != nil {
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, stderr.String())
	}
	return out, nil
}

// createAndWait creates a one-node cluster and returns its endpoint once it
// is available and answers from the instance.
func createAndWait(ctx context.Context, s *cachalotproc.Server, id, engine string, every time.Duration) (string, error) {
	_, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String(engine),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", id, err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		d, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err == nil && len(d.CacheClusters) == 1 && aws.ToString(d.CacheClusters[0].CacheClusterStatus) == "available" {
			if eps := endpoints(d.CacheClusters[0]); len(eps) == 1 {
				return eps[0], nil
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%s not available in 1 min (last error %v): %w", id, err, errTimeout)
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}

// nodeNamespace finds the /run/netns entry of this installation whose
// namespace holds the engine process listening on endpoint.
func nodeNamespace(s *cachalotproc.Server, endpoint string) (string, error) {
	ip, _ := splitHostPort(endpoint)
	inodes := map[uint64]string{}
	nss, _ := filepath.Glob("/run/netns/" + cachalotproc.InstallPrefix(s.Dir) + "-*")
	for _, ns := range nss {
		var st syscall.Stat_t
		if syscall.Stat(ns, &st) == nil {
			inodes[st.Ino] = ns
		}
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		cmdline, err := os.ReadFile(p + "/cmdline")
		if err != nil || !(strings.Contains(string(cmdline), ip+":") || strings.Contains(string(cmdline), ip+"\x00")) {
			continue
		}
		link, err := os.Readlink(p + "/ns/net")
		if err != nil {
			continue
		}
		var ino uint64
		if _, err := fmt.Sscanf(link, "net:[%d]", &ino); err == nil && inodes[ino] != "" {
			return inodes[ino], nil
		}
	}
	return "", fmt.Errorf("no namespace of installation %s holds the engine of %s", cachalotproc.InstallPrefix(s.Dir), endpoint)
}

// namespaceByLink returns the /run/netns entry of this installation whose
// namespace is link ("net:[inode]", as /proc/PID/ns/net reads).
func namespaceByLink(s *cachalotproc.Server, link string) (string, error) {
	var ino uint64
	if _, err := fmt.Sscanf(link, "net:[%d]", &ino); err != nil {
		return "", fmt.Errorf("namespace %q: %w", link, err)
	}
	nss, _ := filepath.Glob("/run/netns/" + cachalotproc.InstallPrefix(s.Dir) + "-*")
	for _, ns := range nss {
		var st syscall.Stat_t
		if syscall.Stat(ns, &st) == nil && st.Ino == ino {
			return ns, nil
		}
	}
	return "", fmt.Errorf("no namespace of installation %s is %s", cachalotproc.InstallPrefix(s.Dir), link)
}

// checkNamespace refuses a namespace path that is the benchmark's own (the
// host's).
func checkNamespace(path string) error {
	var ns, host syscall.Stat_t
	if err := syscall.Stat(path, &ns); err != nil {
		return err
	}
	if err := syscall.Stat("/proc/self/ns/net", &host); err != nil {
		return err
	}
	if ns.Ino == host.Ino {
		return fmt.Errorf("%s is the host's network namespace", path)
	}
	return nil
}

func parseRedisCSV(out []byte) (map[string]float64, error) {
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("redis-benchmark csv: %w", err)
	}
	m := map[string]float64{}
	for _, r := range rows {
		if len(r) < 2 {
			continue
		}
		if v, err := strconv.ParseFloat(r[1], 64); err == nil {
			m[r[0]] = v
		}
	}
	if len(m) == 0 {
		return nil, fmt.Errorf("redis-benchmark printed no figures: %q", out)
	}
	return m, nil
}

func splitHostPort(ep string) (string, string) {
	i := strings.LastIndexByte(ep, ':')
	return ep[:i], ep[i+1:]
}

func orderOps(ops []string) []string {
	s := slices.Clone(ops)
	slices.SortFunc(s, func(a, b string) int { // SET before GET, as redis-benchmark runs them
		return strings.Compare(b, a)
	})
	return s
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func ints(v []float64) string {
	var b []string
	for _, x := range v {
		b = append(b, strconv.FormatFloat(x, 'f', 0, 64))
	}
	return "[" + strings.Join(b, " ") + "]"
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// resolveOnInstance turns an endpoint "name:port" into "address:port", the
// name resolved on the instance, through its VPC's DNS server.
func resolveOnInstance(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, endpoint string) (string, error) {
	host, port := splitHostPort(endpoint)
	out, err := s.ExecCmd(ctx, inst.ID, "getent", "hosts", host).Output()
	f := strings.Fields(string(out))
	if err != nil || len(f) == 0 {
		return "", fmt.Errorf("resolve %s on %s: %q %v", host, inst.ID, out, err)
	}
	return net.JoinHostPort(f[0], port), nil
}
