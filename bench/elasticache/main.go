// Command elasticache measures issue 5's figures through the real product:
// it starts `cachalot serve` (as root, namespaces network mode) on a
// loopback port with a fresh data dir, launches one EC2 instance in the
// default security group, and then, in one run, through aws-sdk-go-v2:
//
//  1. create-to-connectable time of a one-node Redis cluster and of a
//     three-node Memcached cluster (from the CreateCacheCluster call until a
//     client inside the instance's network namespace gets PONG / VERSION
//     from every node), and create-to-available as DescribeCacheClusters
//     reports it;
//  2. redis-benchmark (and memcaslap) throughput from inside the instance
//     to a node's VPC address, against the same engine started by hand on
//     127.0.0.1 on the host, in interleaved rounds, with three diagnostic
//     arms that locate the difference (client in the node's own namespace;
//     engine by hand on loopback inside the instance's namespace; the hand
//     baseline started in its own session, as nodes are);
//  3. resident memory of idle Redis nodes (RSS, PSS, kernel memory, the
//     MemAvailable drop) and from it how many idle nodes 24 GiB holds;
//  4. with -restart N, the time to converge N single-node Redis clusters
//     after a restart of serve (restart.go: warm and cold);
//  5. with -control N, the control plane under N concurrent SDK clients
//     mixing reads and writes while clusters converge and reboot
//     (control.go).
//
// It prints a Markdown report on stdout and progress on stderr.
//
// Network rule: nothing here connects to a VPC address from the host's
// network namespace. Every client of a node runs inside a namespace
// Cachalot created: the in-namespace prober and redis-benchmark/memcaslap
// run through `cachalot exec --instance` (nsenter into the instance's
// namespace), the diagnostic arms in a node's or the instance's namespace
// through `nsenter --net=/run/netns/<ns>` of this installation; the prober
// refuses to run in the benchmark's own (host) namespace. The engines
// started by hand listen on 127.0.0.1 only.
//
// Everything started is removed on exit, also on error or SIGINT/SIGTERM:
// the hand-started engines are killed, the server is stopped, then
// `cachalot teardown --data-dir` removes the installation's engines and
// namespaces, and the data dir is deleted. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/elasticache [-creations 20] [-rounds 5] [-idle 100] [-restart 100] [-control 200] > out.md
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin           string
	creations     int
	rounds        int
	requests      int
	mcOps         int
	idle          int
	restart       int
	restartRounds int
	pollEvery     time.Duration
	createTimeout time.Duration
	serveLog      string
	keep          bool
	control       controlOptions
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-probe" {
		os.Exit(probeMain())
	}
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.creations, "creations", 20, "create/delete cycles per cluster kind for the create-to-connectable figures; 0 skips")
	flag.IntVar(&o.rounds, "rounds", 5, "interleaved throughput rounds; 0 skips")
	flag.IntVar(&o.requests, "requests", 100000, "redis-benchmark -n")
	flag.IntVar(&o.mcOps, "mc-ops", 200000, "memcaslap -x (operations per run)")
	flag.IntVar(&o.idle, "idle", 100, "idle single-node Redis clusters for the memory figures; 0 skips")
	flag.IntVar(&o.restart, "restart", 0, "single-node Redis clusters for the converge-after-restart figures; 0 skips")
	flag.IntVar(&o.restartRounds, "restart-rounds", 3, "warm and cold restarts each, with -restart")
	flag.DurationVar(&o.pollEvery, "poll", 5*time.Millisecond, "DescribeCacheClusters polling interval while waiting for a cluster")
	flag.DurationVar(&o.createTimeout, "create-timeout", 60*time.Second, "how long a created cluster may take to be available and connectable")
	flag.StringVar(&o.serveLog, "serve-log-level", "info", "--log-level of cachalot serve (its log is serve.log in the data dir; see -keep-data-dir); -restart reads the re-adoptions it logs at info")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.IntVar(&o.control.clients, "control", 0, "concurrent SDK clients for the control-plane-under-load figures (control.go); 0 skips")
	flag.DurationVar(&o.control.duration, "control-duration", 60*time.Second, "measuring time, with -control")
	flag.IntVar(&o.control.clusters, "control-clusters", 10, "single-node Redis clusters created and rebooted meanwhile, with -control")
	flag.BoolVar(&o.control.writesOnly, "control-writes-only", false, "with -control: every call a write (no reads)")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

// cleanups run in reverse order on every exit path of run.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }
func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
}

func run(ctx context.Context, o options) (err error) {
	var cl cleanups
	defer cl.run()
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	loads := []string{"start " + hostinfo.LoadAvg()}
	fmt.Printf("# ElastiCache through the product: figures of issue 5\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.CPUs())
	fmt.Printf("    go run ./bench/elasticache %s\n\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("Binary under test: %s (%s). Engines: %s; %s.\n\n", o.bin, fileInfo(bin), toolVersion("redis-server", "--version"), toolVersion("memcached", "-V"))

	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-ecbench-", Key: "AKIAECBENCHBENCHBNCH", Secret: "ecbench-secret", LogLevel: o.serveLog,
	})
	if err != nil {
		return err
	}
	cl.add(func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	})
	log.Printf("serving on %s, data dir %s, account %s", srv.URL, srv.Dir, srv.Account)

	inst, err := srv.LaunchInstance(ctx)
	if err != nil {
		return err
	}
	// "running" can precede the instance's namespace by a few ms (the
	// network controller realises it asynchronously): retry, bounded.
	pr, err := startProber(ctx, srv, inst.ID, self, 50, 100*time.Millisecond)
	if err != nil {
		return err
	}
	cl.add(func() { pr.close() })
	log.Printf("instance %s (%s), prober in its namespace", inst.ID, inst.IP)
	fmt.Printf("Client side: instance %s (%s) in the default security group of the default VPC; every client of a node runs inside its network namespace (`cachalot exec --instance`).\n\n", inst.ID, inst.IP)

	if o.creations > 0 {
		loads = append(loads, "create-to-connectable "+hostinfo.LoadAvg())
		if err := createToConnectable(ctx, srv, pr, o); err != nil {
			return fmt.Errorf("create-to-connectable: %w", err)
		}
	}
	if o.rounds > 0 {
		loads = append(loads, "throughput "+hostinfo.LoadAvg())
		if err := throughput(ctx, srv, inst, pr, o, &cl); err != nil {
			return fmt.Errorf("throughput: %w", err)
		}
	}
	if o.idle > 0 {
		loads = append(loads, "idle memory "+hostinfo.LoadAvg())
		if err := idleMemory(ctx, srv, o); err != nil {
			return fmt.Errorf("idle memory: %w", err)
		}
	}
	if o.restart > 0 {
		loads = append(loads, "restart "+hostinfo.LoadAvg())
		if err := convergeAfterRestart(ctx, srv, inst, &pr, self, o); err != nil {
			return fmt.Errorf("converge after restart: %w", err)
		}
	}
	if o.control.clients > 0 {
		loads = append(loads, "control plane "+hostinfo.LoadAvg())
		if err := controlPlane(ctx, srv, o.control); err != nil {
			return fmt.Errorf("control plane: %w", err)
		}
	}
	loads = append(loads, "end "+hostinfo.LoadAvg())
	fmt.Printf("\n## Load average (1, 5, 15 min) during the run\n\n")
	for _, l := range loads {
		fmt.Printf("- %s\n", l)
	}
	return ctx.Err()
}

func fileInfo(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	return "built " + st.ModTime().UTC().Format(time.RFC3339)
}

var errTimeout = errors.New("timed out")

// toolVersion is the first line of `name flag`'s output.
func toolVersion(name, flag string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, flag).Output()
	if err != nil {
		return name + " (version unknown)"
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return line
}
