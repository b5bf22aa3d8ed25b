// Command engine measures the engine supervisor of internal/engine on this
// host and prints a Markdown report: Start-to-ready latency of Redis and
// memcached nodes, resident memory of idle nodes (and from it how many
// idle nodes a 24 GiB host holds), and redis-benchmark throughput against
// a supervised node versus a redis-server started by hand with default
// settings, in the same run.
//
// Every process it starts listens on 127.0.0.1 and is killed before it
// exits (Teardown of its data dir). Usage:
//
//	go run ./bench/engine -starts 50 -idle 100 -requests 200000 > internal/engine/BENCH.md
package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
	"github.com/cachalot-dev/cachalot/internal/catalog"
	"github.com/cachalot-dev/cachalot/internal/engine"
	mcclient "github.com/cachalot-dev/cachalot/internal/engine/memcached"
	redisclient "github.com/cachalot-dev/cachalot/internal/engine/redis"
)

func main() {
	starts := flag.Int("starts", 50, "Start/Stop cycles per engine for the latency figures")
	idle := flag.Int("idle", 100, "idle nodes per engine started at once for the memory figures; 0 skips")
	requests := flag.Int("requests", 100000, "redis-benchmark requests per test")
	verbose := flag.Bool("v", false, "log supervisor debug output to stderr")
	rounds := flag.Int("rounds", 7, "alternating throughput rounds (supervised, by hand); 0 skips")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	dataDir, err := os.MkdirTemp("", "cachalot-bench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dataDir)
	cfg := engine.Config{DataDir: dataDir, ReadyTimeout: 20 * time.Second, StopTimeout: 5 * time.Second}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sup := engine.New(cfg)
	defer func() {
		tctx, tcancel := context.WithTimeout(context.Background(), time.Minute)
		defer tcancel()
		if err := sup.Teardown(tctx); err != nil {
			log.Printf("teardown: %v", err)
		}
	}()

	cat, err := engine.Discover(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	redis, err := cat.Find(catalog.Redis, "")
	if err != nil {
		log.Fatal(err)
	}
	mc, err := cat.Find(catalog.Memcached, "")
	if err != nil {
		log.Fatal(err)
	}
	mem, _ := catalog.NodeTypeMemory("cache.t3.micro")

	fmt.Printf("# Engine supervision figures\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostInfo(), hostinfo.CPUs())
	fmt.Printf("    go run ./bench/engine %s > internal/engine/BENCH.md\n\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("Load average at start: %s (the host is shared: other sessions' work competes for the 2 CPUs).\n\n", hostinfo.LoadAvg())
	fmt.Printf("Engines: %s %s, %s %s. Nodes are cache.t3.micro (maxmemory %d bytes, less 25%% reserved), on 127.0.0.1.\n\n",
		redis.Engine, redis.Version, mc.Engine, mc.Version, mem)

	// 1. Start → ready latency.
	fmt.Printf("## Start to ready\n\nTime of `Supervisor.Start` (render config, launch, poll every 10 ms until the first PING / `version` is answered), %d sequential cold starts each, every node stopped after. Baseline in the same loop, alternating: the bare binary started by hand (`redis-server --port P --bind 127.0.0.1 --save \"\"`, `memcached -l 127.0.0.1 -p P -U 0 -u nobody`) and polled the same way; the difference is the supervisor's own cost.\n\n", *starts)
	fmt.Printf("| engine | how | n | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	for _, in := range []catalog.Installed{redis, mc} {
		if *starts <= 0 {
			break
		}
		var ds, bare []time.Duration
		for i := range *starts {
			spec := engine.NodeSpec{NodeID: fmt.Sprintf("lat-%s-%d", in.Engine, i), Engine: in, BindIP: "127.0.0.1", Port: freePort(), MaxMemory: mem}
			t0 := time.Now()
			if _, err := sup.Start(ctx, spec); err != nil {
				log.Fatal(err)
			}
			ds = append(ds, time.Since(t0))
			if err := sup.Stop(ctx, spec.NodeID); err != nil {
				log.Fatal(err)
			}
			bare = append(bare, bareStart(ctx, in, dataDir))
		}
		for _, row := range []struct {
			how string
			ds  []time.Duration
		}{{"Supervisor.Start", ds}, {"bare binary", bare}} {
			slices.Sort(row.ds)
			fmt.Printf("| %s | %s | %d | %s | %s | %s |\n", in.Engine, row.how, len(row.ds), pct(row.ds, 50), pct(row.ds, 99), row.ds[len(row.ds)-1].Round(100*time.Microsecond))
		}
	}

	// 2. Idle memory.
	if *idle > 0 {
		idleMemory(ctx, sup, []catalog.Installed{redis, mc}, *idle, mem)
	}
	// 3. Throughput.
	if *rounds > 0 {
		throughput(ctx, sup, redis, dataDir, mem, *requests, *rounds)
	}
	fmt.Printf("\nLoad average at end: %s.\n", hostinfo.LoadAvg())
}

func idleMemory(ctx context.Context, sup *engine.Supervisor, engines []catalog.Installed, idle int, mem int64) {
	fmt.Printf("\n## Idle memory\n\n%d idle nodes of each engine started at once and measured 2 s after the last became ready: RSS (VmRSS of /proc/PID/status), of which anonymous (RssAnon), and PSS (/proc/PID/smaps_rollup, which shares the engine binary's file pages among the processes mapping them); MemAvailable drop of /proc/meminfo as a cross-check (includes kernel memory such as page tables and sockets, and the noise of other work on the shared host). Nodes per 24 GiB = 24 GiB / per-node figure.\n\n", idle)
	fmt.Printf("| engine | nodes | RSS per node | RssAnon per node | PSS per node | MemAvailable drop per node | nodes per 24 GiB by RSS | by PSS | by MemAvailable drop |\n|---|---|---|---|---|---|---|---|---|\n")
	for _, in := range engines {
		before := memAvailable()
		var pids []int
		for i := range idle {
			spec := engine.NodeSpec{NodeID: fmt.Sprintf("idle-%s-%d", in.Engine, i), Engine: in, BindIP: "127.0.0.1", Port: freePort(), MaxMemory: mem}
			st, err := sup.Start(ctx, spec)
			if err != nil {
				log.Fatal(err)
			}
			pids = append(pids, st.PID)
		}
		time.Sleep(2 * time.Second)
		var total, anon, pss int64
		for _, pid := range pids {
			total += kb(fmt.Sprintf("/proc/%d/status", pid), "VmRSS:")
			anon += kb(fmt.Sprintf("/proc/%d/status", pid), "RssAnon:")
			pss += kb(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss:")
		}
		drop := before - memAvailable()
		n := int64(len(pids))
		per, perAnon, perPss, perAvail := total/n, anon/n, pss/n, drop/n
		const host = 24 << 30
		fmt.Printf("| %s | %d | %.2f MiB | %.2f MiB | %.2f MiB | %.2f MiB | %d | %d | %d |\n", in.Engine, len(pids),
			mib(per), mib(perAnon), mib(perPss), mib(perAvail), host/max(per, 1), host/max(perPss, 1), host/max(perAvail, 1))
		for _, n := range sup.Nodes() {
			if err := sup.Stop(ctx, n.NodeID); err != nil {
				log.Fatal(err)
			}
		}
	}

}

func throughput(ctx context.Context, sup *engine.Supervisor, redis catalog.Installed, dataDir string, mem int64, requests, rounds int) {
	fmt.Printf("\n## Throughput\n\n`redis-benchmark -h 127.0.0.1 -p PORT -c 50 -n %d -t set,get --csv`, alternating %d rounds between a node started by the supervisor and `redis-server --port PORT --bind 127.0.0.1` started by hand (Debian's compiled-in defaults, no config file), same run, who goes first alternating per round. Medians of requests/s, and the median of the per-round ratios (each round runs both back to back, so it pairs them under the same background load).\n\n", requests, rounds)
	spec := engine.NodeSpec{NodeID: "tput", Engine: redis, BindIP: "127.0.0.1", Port: freePort(), MaxMemory: mem}
	if _, err := sup.Start(ctx, spec); err != nil {
		log.Fatal(err)
	}
	handPort := freePort()
	handDir := filepath.Join(dataDir, "by-hand")
	_ = os.MkdirAll(handDir, 0o750)
	hand := exec.CommandContext(ctx, redis.Path, "--port", strconv.Itoa(handPort), "--bind", "127.0.0.1")
	hand.Dir = handDir // under dataDir: Teardown kills it too
	if err := hand.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = hand.Process.Kill(); _ = hand.Wait() }()
	waitPort(handPort)
	res := map[string]map[string][]float64{"supervised": {}, "by hand": {}}
	for r := range rounds {
		order := []string{"supervised", "by hand"}
		if r%2 == 1 {
			order = []string{"by hand", "supervised"} // alternate who goes first
		}
		for _, who := range order {
			port := spec.Port
			if who == "by hand" {
				port = handPort
			}
			for test, rps := range benchmark(ctx, port, requests) {
				res[who][test] = append(res[who][test], rps)
			}
		}
	}
	fmt.Printf("| test | supervised rps (median) | by hand rps (median) | ratio of medians | median of per-round ratios |\n|---|---|---|---|---|\n")
	for _, test := range []string{"SET", "GET"} {
		sv, bh := res["supervised"][test], res["by hand"][test]
		var ratios []float64
		for i := range min(len(sv), len(bh)) {
			ratios = append(ratios, sv[i]/bh[i])
		}
		a, b := median(sv), median(bh)
		fmt.Printf("| %s | %.0f | %.0f | %.2f | %.2f |\n", test, a, b, a/b, median(ratios))
	}
	fmt.Printf("\nAll rounds, rps: supervised SET %.0f, GET %.0f; by hand SET %.0f, GET %.0f.\n",
		res["supervised"]["SET"], res["supervised"]["GET"], res["by hand"]["SET"], res["by hand"]["GET"])
}

// bareStart starts the engine binary by hand and returns the time until it
// answers, then kills it.
func bareStart(ctx context.Context, in catalog.Installed, dataDir string) time.Duration {
	port := freePort()
	argv := []string{in.Path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", ""}
	if in.Engine == catalog.Memcached {
		argv = []string{in.Path, "-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-u", "nobody"}
	}
	dir := filepath.Join(dataDir, "bare")
	_ = os.MkdirAll(dir, 0o750)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for range 3000 {
		if answers(ctx, in.Engine, addr) {
			return time.Since(t0)
		}
		time.Sleep(10 * time.Millisecond)
	}
	log.Fatalf("bare %s never answered", in.Engine)
	return 0
}

func answers(ctx context.Context, eng, addr string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if eng == catalog.Memcached {
		c, err := mcclient.Dial(ctx, addr)
		if err != nil {
			return false
		}
		defer c.Close()
		_, err = c.Version(ctx)
		return err == nil
	}
	c, err := redisclient.Dial(ctx, addr)
	if err != nil {
		return false
	}
	defer c.Close()
	s, err := c.String(ctx, "PING")
	return err == nil && s == "PONG"
}

func benchmark(ctx context.Context, port, n int) map[string]float64 {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-benchmark", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "50", "-n", strconv.Itoa(n), "-t", "set,get", "--csv").Output()
	if err != nil {
		log.Fatalf("redis-benchmark: %v", err)
	}
	rows, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil {
		log.Fatalf("redis-benchmark csv: %v", err)
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
	return m
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitPort(port int) {
	for range 200 {
		if c, err := net.Dial("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err == nil {
			c.Close()
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	log.Fatalf("port %d never opened", port)
}

func pct(ds []time.Duration, p int) time.Duration {
	i := (len(ds)*p + 99) / 100
	return ds[min(max(i-1, 0), len(ds)-1)].Round(100 * time.Microsecond)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// kb returns a "Key:  N kB" figure of a /proc file, in bytes.
func kb(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		log.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		log.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemAvailable:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func hostInfo() string {
	b, _ := os.ReadFile("/etc/debian_version")
	return "Debian " + strings.TrimSpace(string(b))
}
