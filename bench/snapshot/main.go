// Command snapshot measures issue 16's figures through the real product:
// it starts `cachalot serve` (as root, namespaces network mode) with a
// fresh data dir, launches one EC2 instance in the default security group,
// creates a Redis OSS cluster, fills it with -mb MiB of values from the
// instance (redis-cli EVAL), and then, in the same run:
//
//  1. snapshot: CreateSnapshot → DescribeSnapshots says available, against
//     an RDB copied by hand (`redis-cli --rdb FILE`, then `cp` and `sync`)
//     from the same redis-server binary holding the same dataset, started
//     by the benchmark on loopback from the first snapshot (a cache node
//     refuses SYNC, as ElastiCache does, so it cannot be the source);
//  2. restore: CreateCacheCluster with SnapshotName → available (the
//     engine has loaded the data), against a redis-server started by hand
//     on a copy of the same RDB (`cp`, start, until it answers PING).
//
// Throughputs are the RDB's size over the time. It prints a Markdown
// report on stdout and progress on stderr; everything started is removed
// on exit. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/snapshot [-mb 1024] [-runs 3] > out.md
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
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

type options struct {
	bin      string
	mb, runs int
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.mb, "mb", 1024, "dataset size in MiB (values of 1000 bytes)")
	flag.IntVar(&o.runs, "runs", 3, "snapshots and restores measured (each against its by-hand copy)")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

// fill writes ARGV[2] keys from ARGV[1] on, values of 1000 bytes that the
// RDB's compression (LZF, per value) cannot shrink: slices of a pool of
// SHA-1 hex digits, each slice without repeats.
const fill = `local parts = {}
local h = ARGV[1]
for j = 1, 1700 do h = redis.sha1hex(h); parts[j] = h end
local pool = table.concat(parts)
for i = tonumber(ARGV[1]), tonumber(ARGV[1]) + tonumber(ARGV[2]) - 1 do
  local off = (i * 7919) % (#pool - 1000) + 1
  redis.call('SET', 'key:' .. i, string.sub(pool, off, off + 999))
end
return redis.call('DBSIZE')`

type bench struct {
	o     options
	s     *cachalotproc.Server
	inst  cachalotproc.Instance
	addr  string // the source node's address, as the instance reaches it
	keys  int
	work  string // scratch directory of the by-hand copies
	bytes int64  // the RDB's size
	file  string // the last snapshot's file in the store
	hand  *server
}

// server is a redis-server the benchmark runs on loopback.
type server struct {
	cmd  *exec.Cmd
	port int
	dir  string
}

// startServer starts redis-server on a copy of rdb in a new directory of
// work; it answers once the data is loaded.
func startServer(ctx context.Context, work, rdb string) (*server, error) {
	dir, err := os.MkdirTemp(work, "server-")
	if err != nil {
		return nil, err
	}
	port, err := load.FreePort()
	if err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, "cp", rdb, filepath.Join(dir, "dump.rdb")).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp: %w: %s", err, out)
	}
	srv := &server{port: port, dir: dir, cmd: exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--dbfilename", "dump.rdb", "--save", "", "--appendonly", "no", "--daemonize", "no",
		// As Cachalot's engines: a replica (redis-cli --rdb) is served at once.
		"--repl-diskless-sync-delay", "0")}
	// As Cachalot's engines, in a session of its own (engine.Supervisor
	// starts them with Setsid, to outlive the daemon): with the kernel's
	// autogroup scheduling (sched_autogroup_enabled, Debian's default)
	// every session is one scheduling group with an equal share of the
	// CPUs, so on a machine shared with other sessions a server in the
	// benchmark's own session would be measured with another share of
	// the CPUs than the product's engine (issue 16: 0.30 then).
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := srv.cmd.Start(); err != nil {
		return nil, err
	}
	for {
		out, _ := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(port), "PING").Output()
		if strings.TrimSpace(string(out)) == "PONG" {
			return srv, nil
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			srv.stop()
			return nil, err
		}
	}
}

func (s *server) stop() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	fmt.Printf("# Snapshots through the product: figures of issue 16\n\n")
	hostinfo.PrintGenerated("snapshot")
	s, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-snapbench-", Key: "AKIASNAPBENCHBENCHBN", Secret: "snapbench-secret", LogLevel: "warn"})
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(o.keep); err != nil {
			log.Printf("close: %v", err)
		}
	}()
	b := &bench{o: o, s: s}
	if b.work, err = os.MkdirTemp("", "cachalot-snapbench-work-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.work)
	if err := b.setup(ctx); err != nil {
		return err
	}
	return b.measure(ctx)
}

// setup launches the instance and the source cluster and fills it.
func (b *bench) setup(ctx context.Context) error {
	var err error
	if b.inst, err = b.s.LaunchInstance(ctx); err != nil {
		return err
	}
	if _, err := b.s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String("src"),
		Engine: aws.String("redis"), CacheNodeType: aws.String("cache.m5.large")}); err != nil {
		return err
	}
	if b.addr, err = b.waitCluster(ctx, "src"); err != nil {
		return err
	}
	b.keys = b.o.mb << 20 / 1000
	log.Printf("filling %d keys (%d MiB of values)", b.keys, b.o.mb)
	const chunk = 100000
	for from := 1; from <= b.keys; from += chunk {
		n := min(chunk, b.keys-from+1)
		if _, err := b.s.ExecIn(ctx, b.inst.ID, "redis-cli", "-h", b.addr, "EVAL", fill, "0", strconv.Itoa(from), strconv.Itoa(n)); err != nil {
			return err
		}
	}
	out, err := b.s.ExecIn(ctx, b.inst.ID, "redis-cli", "-h", b.addr, "INFO", "memory")
	if err != nil {
		return err
	}
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "used_memory_human:"); ok {
			fmt.Printf("Dataset: %d keys of 1000-byte values, %s used by the engine (`cache.m5.large`, Redis OSS %s).\n\n", b.keys, v, redisVersion())
		}
	}
	return nil
}

func redisVersion() string {
	out, _ := exec.Command("redis-server", "--version").Output()
	for _, f := range strings.Fields(string(out)) {
		if v, ok := strings.CutPrefix(f, "v="); ok {
			return v
		}
	}
	return "?"
}

// waitCluster waits until a cluster is available and returns its node's
// address.
func (b *bench) waitCluster(ctx context.Context, id string) (string, error) {
	for {
		out, err := b.s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return "", err
		}
		if c := out.CacheClusters[0]; aws.ToString(c.CacheClusterStatus) == "available" {
			return aws.ToString(c.CacheNodes[0].Endpoint.Address), nil
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			return "", err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

type sample struct{ product, hand time.Duration }

func (b *bench) measure(ctx context.Context) error {
	var snaps, restores []sample
	for i := 1; i <= b.o.runs; i++ {
		name := fmt.Sprintf("bench-%d", i)
		p, err := b.snapshot(ctx, name)
		if err != nil {
			return err
		}
		if b.hand == nil {
			if b.hand, err = startServer(ctx, b.work, b.file); err != nil {
				return err
			}
			defer b.hand.stop()
		}
		h, err := b.snapshotByHand(ctx)
		if err != nil {
			return err
		}
		snaps = append(snaps, sample{p, h})
		log.Printf("snapshot %d: product %s, by hand %s (%d bytes)", i, p, h, b.bytes)
		if p, err = b.restore(ctx, fmt.Sprintf("dst-%d", i), name); err != nil {
			return err
		}
		if h, err = b.restoreByHand(ctx); err != nil {
			return err
		}
		restores = append(restores, sample{p, h})
		log.Printf("restore %d: product %s, by hand %s", i, p, h)
	}
	fmt.Printf("RDB: %.1f MiB. Medians of %d runs (all runs below).\n\n", float64(b.bytes)/(1<<20), b.o.runs)
	fmt.Printf("| | product | by hand | product MB/s | by hand MB/s | ratio |\n|---|---|---|---|---|---|\n")
	b.row("snapshot (CreateSnapshot → available; `redis-cli --rdb` + `cp` + `sync`)", snaps)
	b.row("restore (CreateCacheCluster SnapshotName → available; `cp` + `redis-server` until PING)", restores)
	fmt.Printf("\nAll runs (product / by hand):\n\n")
	for i := range snaps {
		fmt.Printf("- run %d: snapshot %s / %s, restore %s / %s\n", i+1, snaps[i].product.Round(time.Millisecond), snaps[i].hand.Round(time.Millisecond),
			restores[i].product.Round(time.Millisecond), restores[i].hand.Round(time.Millisecond))
	}
	return nil
}

func (b *bench) row(what string, s []sample) {
	p := median(s, func(x sample) time.Duration { return x.product })
	h := median(s, func(x sample) time.Duration { return x.hand })
	mbps := func(d time.Duration) float64 { return float64(b.bytes) / 1e6 / d.Seconds() }
	fmt.Printf("| %s | %s | %s | %.0f | %.0f | %.2f |\n", what, p.Round(time.Millisecond), h.Round(time.Millisecond), mbps(p), mbps(h), mbps(p)/mbps(h))
}

func median(s []sample, f func(sample) time.Duration) time.Duration {
	var d []time.Duration
	for _, x := range s {
		d = append(d, f(x))
	}
	slices.Sort(d)
	return d[len(d)/2]
}

// snapshot times CreateSnapshot until the snapshot is available, and
// reads the RDB's size from the snapshot store.
func (b *bench) snapshot(ctx context.Context, name string) (time.Duration, error) {
	t0 := time.Now()
	if _, err := b.s.EC.CreateSnapshot(ctx, &elasticache.CreateSnapshotInput{CacheClusterId: aws.String("src"), SnapshotName: aws.String(name)}); err != nil {
		return 0, err
	}
	for {
		out, err := b.s.EC.DescribeSnapshots(ctx, &elasticache.DescribeSnapshotsInput{SnapshotName: aws.String(name)})
		if err != nil {
			return 0, err
		}
		if aws.ToString(out.Snapshots[0].SnapshotStatus) == "available" {
			break
		}
		if err := sleep(ctx, 10*time.Millisecond); err != nil {
			return 0, err
		}
	}
	took := time.Since(t0)
	files, _ := filepath.Glob(filepath.Join(b.s.Dir, "snapshots", "*."+name+".*.rdb"))
	if len(files) != 1 {
		return 0, fmt.Errorf("snapshot %s: files %q in the store", name, files)
	}
	fi, err := os.Stat(files[0])
	if err != nil {
		return 0, err
	}
	b.bytes, b.file = fi.Size(), files[0]
	return took, nil
}

// snapshotByHand times `redis-cli --rdb` from the by-hand server, then cp
// and sync of the file, as an operator would keep a copy.
func (b *bench) snapshotByHand(ctx context.Context) (time.Duration, error) {
	rdb, cp := filepath.Join(b.work, "hand.rdb"), filepath.Join(b.work, "kept.rdb")
	os.Remove(rdb)
	os.Remove(cp)
	t0 := time.Now()
	if out, err := exec.CommandContext(ctx, "redis-cli", "-p", strconv.Itoa(b.hand.port), "--rdb", rdb).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("redis-cli --rdb: %w: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "cp", rdb, cp).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("cp: %w: %s", err, out)
	}
	if out, err := exec.CommandContext(ctx, "sync", cp).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sync: %w: %s", err, out)
	}
	return time.Since(t0), nil
}

// restore times CreateCacheCluster from the snapshot until the cluster is
// available, checks it has every key and deletes it.
func (b *bench) restore(ctx context.Context, id, snapshot string) (time.Duration, error) {
	t0 := time.Now()
	if _, err := b.s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{CacheClusterId: aws.String(id), SnapshotName: aws.String(snapshot)}); err != nil {
		return 0, err
	}
	addr, err := b.waitCluster(ctx, id)
	if err != nil {
		return 0, err
	}
	took := time.Since(t0)
	out, err := b.s.ExecIn(ctx, b.inst.ID, "redis-cli", "-h", addr, "DBSIZE")
	if err != nil {
		return 0, err
	}
	if n, _ := strconv.Atoi(strings.TrimSpace(string(out))); n != b.keys {
		return 0, fmt.Errorf("restored cluster %s has %d keys, want %d", id, n, b.keys)
	}
	if _, err := b.s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)}); err != nil {
		return 0, err
	}
	return took, nil
}

// restoreByHand times cp of the hand-made RDB into a fresh directory and
// a redis-server started on it until it answers PING (loaded).
func (b *bench) restoreByHand(ctx context.Context) (time.Duration, error) {
	t0 := time.Now()
	srv, err := startServer(ctx, b.work, filepath.Join(b.work, "kept.rdb"))
	if err != nil {
		return 0, err
	}
	took := time.Since(t0)
	srv.stop()
	return took, nil
}
