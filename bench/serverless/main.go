// Command serverless measures issue 15's creation figure through the real
// product: it starts `cachalot serve` (as root, namespaces network mode)
// with a fresh data dir and, through aws-sdk-go-v2 and real engines,
// creates a serverless cache (Redis OSS 7) until DescribeServerlessCaches
// says available — its primary on 6379 and replica on 6380 in one Redis
// Cluster with all slots, the replica's link up, cluster_state:ok on both —
// then deletes it until ServerlessCacheNotFoundFault, -creations times.
//
// -engine memcached measures serverless Memcached caches instead (one
// engine on 11211 and 11212 with TLS; no throughput comparison).
//
// Then, with -requests > 0 (Redis OSS only), redis-benchmark --tls from an instance in the
// default VPC against a serverless cache's endpoint (6379) and against a
// node-based Redis OSS cluster with in-transit encryption, in alternation,
// -rounds rounds each: the ratio of their throughputs (goal ≥ 0.9).
//
// It prints a Markdown report on stdout and progress on stderr. Everything
// started is removed on exit. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/serverless [-creations 10] > out.md
package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin       string
	engine    string
	creations int
	requests  int
	rounds    int
	poll      time.Duration
	keep      bool
	logLevel  string
	ecpuMax   int
}

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.StringVar(&o.engine, "engine", "redis", "serverless cache engine: redis, valkey or memcached")
	flag.IntVar(&o.creations, "creations", 10, "serverless caches created and deleted")
	flag.IntVar(&o.requests, "requests", 50000, "redis-benchmark -n per test; 0 skips the throughput comparison")
	flag.IntVar(&o.rounds, "rounds", 3, "redis-benchmark rounds per cache")
	flag.DurationVar(&o.poll, "poll", 5*time.Millisecond, "DescribeServerlessCaches polling interval")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.IntVar(&o.ecpuMax, "ecpu-max", 0, "ECPU/s maximum of the throughput comparison's serverless cache (its engines' fronts meter commands); 0: none")
	flag.StringVar(&o.logLevel, "log-level", "warn", "cachalot serve --log-level (debug: the server log has the creation's timeline)")
	flag.Parse()
	if o.engine == "memcached" {
		o.requests = 0 // redis-benchmark speaks no memcached
	}
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	fmt.Printf("# Serverless caches through the product: figures of issue 15\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, load %s, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.CPUs(), hostinfo.LoadAvg())
	fmt.Printf("    go build -o bin/cachalot ./cmd/cachalot && go run ./bench/serverless -engine %s -creations %d -requests %d -rounds %d\n\n", o.engine, o.creations, o.requests, o.rounds)
	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-slbench-", Key: "AKIASLBENCHBENCHBNCH", Secret: "slbench-secret", LogLevel: o.logLevel,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	}()
	log.Printf("serving on %s", srv.URL)
	var available, deleted, floor []time.Duration
	for i := range o.creations {
		if o.engine != "memcached" {
			// The engine's own floor, alternating with the product.
			d, err := engineFloor(ctx, o.poll)
			if err != nil {
				return fmt.Errorf("engine floor: %w", err)
			}
			floor = append(floor, d)
		}
		name := fmt.Sprintf("bench-%02d", i)
		t0 := time.Now()
		if _, err := srv.EC.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String(name), Engine: aws.String(o.engine)}); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		if err := wait(ctx, srv, name, "available", o.poll); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
		t1 := time.Now()
		if _, err := srv.EC.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String(name)}); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		if err := wait(ctx, srv, name, "deleted", o.poll); err != nil {
			return err
		}
		deleted = append(deleted, time.Since(t1))
		log.Printf("%s: available after %s, deleted after %s", name, available[i].Round(time.Millisecond), deleted[i].Round(time.Millisecond))
	}
	fmt.Printf("## Create → available\n\n")
	fmt.Printf("CreateServerlessCache (Engine "+o.engine+", defaults: the default VPC's subnets and group) until DescribeServerlessCaches says "+
		"`available`, polled every %v; then DeleteServerlessCache until ServerlessCacheNotFoundFault. Goal: create p50 < 500 ms "+
		"(ElastiCache: about a minute).\n\n", o.poll)
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| create → available %s\n| delete → gone %s\n", summary(available), summary(deleted))
	if len(floor) > 0 {
		fmt.Printf("| engine floor: bare `redis-server --cluster-enabled yes` start → `cluster_state:ok` %s\n", summary(floor))
		fmt.Printf("\nThe engine floor (alternating with the creations, same polling): redis-server started by the bench on loopback "+
			"with `--cluster-enabled yes`, `CLUSTER ADDSLOTSRANGE 0 16383` as soon as it answers PING, then `CLUSTER INFO` until "+
			"`cluster_state:ok`, timed from exec: the engine's CLUSTER_WRITABLE_DELAY (2 s from its first cluster cron) plus its start. "+
			"Creation p50 less the floor p50: %s (negative: creations do not wait for that delay).\n", ms(p50(available)-p50(floor)))
	}
	fmt.Printf("\n")
	if o.requests > 0 {
		if err := throughput(ctx, srv, o); err != nil {
			return err
		}
	}
	fmt.Printf("Load average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// wait polls the cache until it has status want ("deleted": gone).
func wait(ctx context.Context, s *cachalotproc.Server, name, want string, poll time.Duration) error {
	t0 := time.Now()
	for {
		out, err := s.EC.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String(name)})
		if want == "deleted" && err != nil && strings.Contains(err.Error(), "ServerlessCacheNotFoundFault") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("describe %s: %w", name, err)
		}
		if st := aws.ToString(out.ServerlessCaches[0].Status); st == want {
			return nil
		} else if time.Since(t0) > 2*time.Minute || ctx.Err() != nil {
			return fmt.Errorf("%s is %s after 2 minutes, want %s", name, st, want)
		}
		time.Sleep(poll)
	}
}

func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "| – | – | 0 |"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("| %s | %s | %d |", ms(s[len(s)/2]), ms(s[len(s)-1]), len(s))
}

func p50(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// engineFloor starts a bare cluster-enabled redis-server on loopback,
// gives it every slot as soon as it answers and returns the time from
// exec until it says cluster_state:ok.
func engineFloor(ctx context.Context, poll time.Duration) (time.Duration, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return 0, err
	}
	dir, err := os.MkdirTemp("", "cachalot-floor-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"), "--dir", dir)
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	var c net.Conn
	for {
		if c, err = net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			break
		}
		if time.Since(t0) > 10*time.Second {
			return 0, err
		}
		time.Sleep(poll)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	do := func(cmd string) (string, error) {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, cmd+"\r\n"); err != nil {
			return "", err
		}
		l, err := r.ReadString('\n')
		if err != nil || !strings.HasPrefix(l, "$") {
			return l, err
		}
		n, _ := strconv.Atoi(strings.TrimSpace(l[1:]))
		b := make([]byte, n+2)
		_, err = io.ReadFull(r, b)
		return string(b), err
	}
	for {
		if l, err := do("PING"); err == nil && strings.HasPrefix(l, "+PONG") {
			break
		}
		time.Sleep(poll)
	}
	if l, err := do("CLUSTER ADDSLOTSRANGE 0 16383"); err != nil || !strings.HasPrefix(l, "+OK") {
		return 0, fmt.Errorf("addslots: %q %v", l, err)
	}
	for {
		info, err := do("CLUSTER INFO")
		if err != nil {
			return 0, err
		}
		if strings.Contains(info, "cluster_state:ok") {
			return time.Since(t0), nil
		}
		time.Sleep(poll)
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }

// throughput compares redis-benchmark --tls through a serverless cache's
// endpoint with a node-based TLS cluster's node, in alternation.
func throughput(ctx context.Context, s *cachalotproc.Server, o options) error {
	in := &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String("tput"), Engine: aws.String("redis")}
	if o.ecpuMax > 0 {
		in.CacheUsageLimits = &ectypes.CacheUsageLimits{ECPUPerSecond: &ectypes.ECPUPerSecond{Maximum: aws.Int32(int32(o.ecpuMax))}}
	}
	if _, err := s.EC.CreateServerlessCache(ctx, in); err != nil {
		return fmt.Errorf("create serverless: %w", err)
	}
	if _, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("nodebased"), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), TransitEncryptionEnabled: aws.Bool(true)}); err != nil {
		return fmt.Errorf("create cluster: %w", err)
	}
	if err := wait(ctx, s, "tput", "available", o.poll); err != nil {
		return err
	}
	sc, err := s.EC.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String("tput")})
	if err != nil {
		return err
	}
	slHost := aws.ToString(sc.ServerlessCaches[0].Endpoint.Address)
	var nodeHost string
	for t0 := time.Now(); nodeHost == ""; time.Sleep(o.poll) {
		out, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String("nodebased"), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return err
		}
		if c := out.CacheClusters[0]; aws.ToString(c.CacheClusterStatus) == "available" {
			nodeHost = aws.ToString(c.CacheNodes[0].Endpoint.Address)
		} else if time.Since(t0) > 2*time.Minute {
			return fmt.Errorf("nodebased not available after 2 minutes")
		}
	}
	ca, cleanup, err := exportCA(s)
	if err != nil {
		return err
	}
	defer cleanup()
	inst, err := s.LaunchInstance(ctx)
	if err != nil {
		return err
	}
	bench := func(host string) (map[string]float64, error) {
		out, err := s.ExecIn(ctx, inst.ID, "redis-benchmark", "-h", host, "-p", "6379", "--tls", "--cacert", ca,
			"-t", "set,get", "-c", "50", "-n", strconv.Itoa(o.requests), "--csv")
		if err != nil {
			return nil, err
		}
		return parseCSV(out)
	}
	rps := map[string]map[string][]float64{"serverless": {}, "node-based": {}}
	for r := range o.rounds {
		for _, arm := range []struct{ name, host string }{{"serverless", slHost}, {"node-based", nodeHost}} {
			m, err := bench(arm.host)
			if err != nil {
				return fmt.Errorf("%s round %d: %w", arm.name, r, err)
			}
			for op, v := range m {
				rps[arm.name][op] = append(rps[arm.name][op], v)
			}
			log.Printf("round %d %s: %v", r, arm.name, m)
		}
	}
	fmt.Printf("## redis-benchmark --tls: serverless endpoint vs a node-based TLS cluster\n\n")
	fmt.Printf("From one instance in the default VPC: `redis-benchmark -h HOST -p 6379 --tls --cacert ca.pem -t set,get -c 50 -n %d --csv` "+
		"against the serverless cache `tput` (its endpoint: the primary engine on 6379) and the node-based cluster `nodebased` "+
		"(`cache.t3.micro`, TransitEncryptionEnabled), alternately, %d rounds each; medians. Goal: ratio ≥ 0.9.\n\n", o.requests, o.rounds)
	fmt.Printf("| test | serverless req/s | node-based req/s | ratio |\n|---|---|---|---|\n")
	for _, op := range []string{"SET", "GET"} {
		a, b := median(rps["serverless"][op]), median(rps["node-based"][op])
		ratio := 0.0
		if b > 0 {
			ratio = a / b
		}
		fmt.Printf("| %s | %.0f | %.0f | %.2f |\n", op, a, b, ratio)
	}
	fmt.Println()
	return nil
}

// exportCA copies the installation's CA certificate where the instance's
// client (its own unprivileged identity) can read it.
func exportCA(s *cachalotproc.Server) (string, func(), error) {
	b, err := os.ReadFile(filepath.Join(s.Dir, "ca", "ca.pem"))
	if err != nil {
		return "", nil, fmt.Errorf("the installation's CA: %w", err)
	}
	dir, err := os.MkdirTemp("", "cachalot-slbench-ca-")
	if err != nil {
		return "", nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	path := filepath.Join(dir, "ca.pem")
	if err := os.Chmod(dir, 0o755); err != nil {
		cleanup()
		return "", nil, err
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		cleanup()
		return "", nil, err
	}
	return path, cleanup, nil
}

func parseCSV(out []byte) (map[string]float64, error) {
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

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}
