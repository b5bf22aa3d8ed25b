// Command capacity measures issue 20's capacity figure through the real
// product: it starts `cachalot serve` (as root, namespaces network mode)
// with a fresh data dir, launches one EC2 instance in the default VPC as
// the client side, then really starts N idle Redis nodes through the API
// (CreateCacheCluster, one single-node Redis cluster per node, in the
// default VPC and default security group: a Redis cache cluster has one
// node, as on ElastiCache) and reports, in one run:
//
//  1. the time to create all of them (calls, and until every cluster is
//     available);
//  2. memory: RSS, PSS and anonymous PSS of the engine processes
//     (/proc/<pid>/smaps_rollup), the daemon's RSS and PSS, kernel memory
//     (/proc/meminfo Slab, SUnreclaim, Percpu, PageTables, KernelStack)
//     and MemAvailable before and after, per node;
//  3. idle CPU: the engines' and the daemon's utime+stime over -idle
//     (default 60 s) with nothing talking to the nodes, and the machine's
//     total busy time (/proc/stat) then and before the nodes existed;
//  4. a connect check (PING → +PONG) of -sample nodes from inside the
//     instance's namespace;
//  5. API latency with them present: DescribeCacheClusters (first page of
//     100, one cluster by id, every page), and one more CreateCacheCluster
//     (call, until available, until connectable);
//  6. a restart of serve (kill -9, engines keep running): until it
//     answers, until its log shows every node re-adopted, until every node
//     answers PING from the instance, and until a cluster created after
//     the restart is available; with -cold, also a cold restart (serve
//     killed and `cachalot teardown`, as a reboot would): until every
//     node is connectable again;
//  7. deletion of all of them through the API.
//
// A memory guard reads MemAvailable every second: below -min-available
// (default 3 GiB) it stops creating and measures what was created; below
// two thirds of that it aborts the run. Everything is removed on every
// exit path, SIGINT/SIGTERM included: DeleteCacheCluster for every
// cluster created, serve stopped, `cachalot teardown --data-dir`, and a
// check that no engine process and no namespace of the run is left.
//
// Network rule: nothing connects to a VPC address from the host's
// namespace; the prober runs inside the instance's namespace (`cachalot
// exec --instance`) and refuses to run in the host's.
//
// Usage (as root, from the repository root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/capacity -n 100 > out.md
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin          string
	n            int
	workers      int
	batch        int
	coldTimeout  time.Duration
	deleteBudget time.Duration
	createBudget time.Duration
	idle         time.Duration
	baseline     time.Duration
	sample       int
	describes    int
	restart      bool
	cold         bool
	minAvailable int64
	waitTimeout  time.Duration
	serveLog     string
	keep         bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-probe" {
		os.Exit(probeMain())
	}
	var o options
	var minGiB float64
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.n, "n", 100, "idle single-node Redis clusters to start")
	flag.IntVar(&o.workers, "workers", 4, "concurrent CreateCacheCluster / DeleteCacheCluster callers")
	flag.IntVar(&o.batch, "batch", 100, "clusters created before waiting until none is creating; 0: all at once")
	flag.DurationVar(&o.createBudget, "create-budget", 20*time.Minute, "no batch of creations begins after this long: the run measures what it created")
	flag.DurationVar(&o.coldTimeout, "cold-timeout", 10*time.Minute, "how long every node may take to be connectable after a cold restart")
	flag.DurationVar(&o.deleteBudget, "delete-budget", 10*time.Minute, "how long deletion through the API is waited for; teardown removes what is left")
	flag.DurationVar(&o.idle, "idle", 60*time.Second, "idle CPU measuring time")
	flag.DurationVar(&o.baseline, "baseline", 20*time.Second, "machine CPU measuring time before any node exists")
	flag.IntVar(&o.sample, "sample", 50, "nodes connect-checked from the instance after creation (all of them after a restart)")
	flag.IntVar(&o.describes, "describes", 200, "DescribeCacheClusters calls per latency figure")
	flag.BoolVar(&o.restart, "restart", true, "measure a warm restart of serve (kill -9, engines keep running)")
	flag.BoolVar(&o.cold, "cold", false, "also measure a cold restart (kill -9 and teardown: every engine and namespace started again)")
	flag.Float64Var(&minGiB, "min-available", 3, "GiB of MemAvailable below which creation stops (and below 2/3 of which the run aborts)")
	flag.DurationVar(&o.waitTimeout, "wait-timeout", 20*time.Minute, "how long all clusters may take to be available")
	flag.StringVar(&o.serveLog, "serve-log-level", "info", "--log-level of cachalot serve; the restart figure reads the re-adoptions it logs at info")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for serve.log) after the run")
	flag.Parse()
	o.minAvailable = int64(minGiB * (1 << 30))
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

// bench is one run's state.
type bench struct {
	o     options
	s     *cachalotproc.Server
	pr    *prober
	inst  cachalotproc.Instance
	self  string
	guard *memGuard

	base    baseline          // the machine before any node existed
	engines []int             // the engine pids measured by memory, then idleCPU
	addrs   map[string]string // every node's endpoint, by cluster id

	failedCalls atomic.Int64 // SDK calls that failed and were asked again

	mu  sync.Mutex
	ids []string // clusters created (for the cleanup)
}

// flaky records a failed call that is asked again. Seen here: with
// clusters present, about one DescribeCacheClusters in 20 fails in the
// SDK with "deserialization failed, failed to decode response body, read
// tcp …: use of closed network connection" after a 200 (the SDK's
// default transport closing the connection while the body is read; not
// seen with http.DefaultTransport reading the body in RoundTrip).
func (b *bench) flaky(err error, attempt int) {
	if b.failedCalls.Add(1) <= 3 {
		log.Printf("call failed (attempt %d, asked again): %v", attempt+1, err)
	}
}

func (b *bench) created(id string) {
	b.mu.Lock()
	b.ids = append(b.ids, id)
	b.mu.Unlock()
}

func (b *bench) clusterIDs() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.ids...)
}

func run(ctx context.Context, o options) error {
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
	ctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	b := &bench{o: o, self: self, guard: startGuard(ctx, o.minAvailable, abort)}
	cl.add(b.guard.stop)

	loads := []string{"start " + hostinfo.LoadAvg()}
	fmt.Printf("# Capacity: idle Redis nodes actually started\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.CPUs())
	fmt.Printf("    go run ./bench/capacity %s\n\n", strings.Join(os.Args[1:], " "))
	fmt.Printf("Binary under test: %s (%s). Engine: %s.\n\n", o.bin, fileInfo(bin), toolVersion("redis-server", "--version"))

	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-capbench-", Key: "AKIACAPBENCHCAPBENCH", Secret: "capbench-secret", LogLevel: o.serveLog,
		TeardownTimeout: 10 * time.Minute,
	})
	if err != nil {
		return err
	}
	b.s = srv
	srv.EC = elasticache.New(srv.EC.Options(), func(o *elasticache.Options) {
		o.HTTPClient = &http.Client{Transport: eagerBody{awshttp.NewBuildableClient().GetTransport()}}
	})
	cl.add(func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	})
	cl.add(b.deleteAll) // before Close: every cluster created, deleted through the API
	log.Printf("serving on %s, data dir %s, account %s", srv.URL, srv.Dir, srv.Account)

	if b.inst, err = srv.LaunchInstance(ctx); err != nil {
		return err
	}
	if err := b.startProber(ctx); err != nil {
		return err
	}
	cl.add(func() { b.pr.close() })
	fmt.Printf("Client side: instance %s (%s) in the default VPC's default security group; the connect checks run inside its namespace.\n\n", b.inst.ID, b.inst.IP)

	steps := []struct {
		name string
		f    func(context.Context) error
		on   bool
	}{
		{"create", b.createAll, true},
		{"memory", b.memory, true},
		{"idle cpu", b.idleCPU, true},
		{"connect", b.connectSample, true},
		{"api", b.apiLatency, true},
		{"restart", b.warmRestart, o.restart},
		{"cold restart", b.coldRestart, o.cold},
		{"delete", b.deleteTimed, true},
	}
	for _, st := range steps {
		if !st.on {
			continue
		}
		loads = append(loads, st.name+" "+hostinfo.LoadAvg())
		if err := st.f(ctx); err != nil {
			if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
				err = fmt.Errorf("%w (%v)", err, c)
			}
			return fmt.Errorf("%s: %w", st.name, err)
		}
	}
	loads = append(loads, "end "+hostinfo.LoadAvg())
	fmt.Printf("SDK calls that failed and were asked again (all steps): %d.\n", b.failedCalls.Load())
	fmt.Printf("\n## Load average (1, 5, 15 min) at each step\n\n")
	for _, l := range loads {
		fmt.Printf("- %s\n", l)
	}
	fmt.Println()
	return nil
}

// startProber starts the prober in the instance's namespace.
func (b *bench) startProber(ctx context.Context) (err error) {
	b.pr, err = startProber(ctx, b.s, b.inst.ID, b.self)
	return err
}

// deleteAll asks for the deletion of every cluster created (the cleanup
// path; teardown removes whatever is left).
func (b *bench) deleteAll() {
	ids := b.clusterIDs()
	if len(ids) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	failed := parallel(ctx, b.o.workers, ids, func(ctx context.Context, id string) error {
		_, err := b.s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)})
		if err != nil && strings.Contains(err.Error(), "CacheClusterNotFound") {
			return nil
		}
		return err
	})
	log.Printf("cleanup: DeleteCacheCluster asked for %d clusters (%d failed); teardown removes the rest", len(ids), failed)
	b.mu.Lock()
	b.ids = nil
	b.mu.Unlock()
}

// parallel runs f over ids with workers goroutines and returns how many
// failed (the first error is logged).
func parallel(ctx context.Context, workers int, ids []string, f func(context.Context, string) error) int {
	var next, failed atomic.Int64
	var once sync.Once
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(ids) {
					return
				}
				if err := f(ctx, ids[i]); err != nil {
					failed.Add(1)
					once.Do(func() { log.Printf("%s: %v", ids[i], err) })
				}
			}
		}()
	}
	wg.Wait()
	return int(failed.Load())
}

func fileInfo(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return err.Error()
	}
	return "built " + st.ModTime().UTC().Format(time.RFC3339)
}

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

// eagerBody reads every response body within RoundTrip. With the SDK's
// default transport, about one DescribeCacheClusters in 10–20 with
// clusters present failed here after a 200 with "failed to decode
// response body, read tcp …: use of closed network connection" (the
// transport closing the connection while the SDK still reads the body;
// aws/aws-sdk-go-v2#2737 describes the same race); with the body read
// inside RoundTrip none failed in hundreds of calls. The benchmark
// measures the service, so it reads eagerly and counts what still fails.
type eagerBody struct{ rt http.RoundTripper }

func (e eagerBody) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := e.rt.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp, nil
}
