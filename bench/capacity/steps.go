package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

// idPrefix names the run's clusters.
const idPrefix = "cap-"

// baseline is the machine before any node exists.
type baseline struct {
	mem      map[string]int64
	srv      procMem
	ns       int
	busyFrac float64 // machine busy fraction (0..CPUs) over o.baseline
}

// createAll creates o.n single-node Redis clusters with o.workers callers
// and waits until every one is available. A create error or the memory
// guard stops creation; what was created is measured.
func (b *bench) createAll(ctx context.Context) error {
	b.base.ns = b.countNS()
	b.base.mem = meminfo()
	b.base.srv = memOf([]int{b.s.PID()})
	b.base.busyFrac = machineBusy(ctx, b.o.baseline)
	log.Printf("baseline: machine busy %.2f CPUs over %v (others' load), MemAvailable %s", b.base.busyFrac, b.o.baseline, mib(b.base.mem["MemAvailable"]))

	ids := make([]string, b.o.n)
	for i := range ids {
		ids[i] = fmt.Sprintf("%s%05d", idPrefix, i)
	}
	cctx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		select {
		case <-b.guard.low:
			stop()
		case <-cctx.Done():
		}
	}()
	var (
		errMu    sync.Mutex
		firstErr error
		calls    time.Duration
		batches  []string
		timeline []string
		statuses map[string]int
		budget   bool
	)
	batch := b.o.batch
	if batch <= 0 {
		batch = len(ids)
	}
	t0 := time.Now()
	for lo := 0; lo < len(ids) && cctx.Err() == nil; lo += batch {
		if lo > 0 && time.Since(t0) > b.o.createBudget {
			budget = true
			break
		}
		tb := time.Now()
		parallel(cctx, b.o.workers, ids[lo:min(lo+batch, len(ids))], func(ctx context.Context, id string) error {
			_, err := b.s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
				CacheClusterId: aws.String(id), Engine: aws.String("redis"),
				CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
			})
			if err != nil {
				if ctx.Err() == nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					stop()
				}
				return err
			}
			b.created(id)
			return nil
		})
		calls += time.Since(tb)
		n := len(b.clusterIDs())
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if n == 0 {
			return fmt.Errorf("no cluster created: %w", firstErr)
		}
		var tl []string
		var err error
		if tl, statuses, err = b.waitSettled(ctx, n, t0); err != nil {
			return err
		}
		timeline = append(timeline, tl...)
		d := time.Since(tb)
		avail, load := mib(meminfo()["MemAvailable"]), hostinfo.LoadAvg()
		batches = append(batches, fmt.Sprintf("| %d → %d | %s | %.1f | %s | %s |", lo, n, dur(d), float64(n-lo)/d.Seconds(), avail, strings.Fields(load)[0]))
		log.Printf("create: %d available after %v (this batch of %d: %v, %.1f nodes/s; load %s, MemAvailable %s)",
			n, time.Since(t0).Round(time.Second), n-lo, d.Round(time.Millisecond), float64(n-lo)/d.Seconds(), load, avail)
	}
	n := len(b.clusterIDs())
	allUp := time.Since(t0)
	fmt.Printf("## 1. Creation\n\n")
	fmt.Printf("%d of %d single-node Redis clusters (`cache.t3.micro`, default engine version, no security group given: the default VPC's default group) "+
		"created through CreateCacheCluster by %d concurrent callers, in batches of %d: each batch's calls, then a wait until none is `creating`.\n\n", n, b.o.n, b.o.workers, batch)
	if firstErr != nil {
		fmt.Printf("**Creation stopped at the first refused call:** `%v`\n\n", firstErr)
	}
	if b.guard.tripped() {
		fmt.Printf("**Creation stopped by the memory guard** (MemAvailable < %s at %s).\n\n", mib(b.o.minAvailable), b.guard.at.UTC().Format(time.TimeOnly))
	}
	if budget {
		fmt.Printf("**Creation stopped by the time budget** (-create-budget %v: no batch begun after it).\n\n", b.o.createBudget)
	}
	fmt.Printf("| measure | value |\n|---|---|\n")
	fmt.Printf("| %d CreateCacheCluster calls answered (sum over the batches) | %s (%.0f calls/s) |\n", n, dur(calls), float64(n)/calls.Seconds())
	fmt.Printf("| **all %d available** (from the first call) | **%s** (%.1f nodes/s) |\n", n, dur(allUp), float64(n)/allUp.Seconds())
	fmt.Printf("| final statuses | %s |\n\n", statusString(statuses))
	fmt.Printf("| batch (clusters before → after) | calls + until settled | nodes/s | MemAvailable after | load (1 min) |\n|---|---|---|---|---|\n%s\n\n", strings.Join(batches, "\n"))
	if len(timeline) > 0 && batch >= len(ids) {
		fmt.Printf("Available over time (from the first call): %s.\n\n", strings.Join(timeline, ", "))
	}
	return nil
}

// waitSettled polls DescribeCacheClusters until no cluster of the run is
// creating; it returns "t: k available" marks at every tenth of n.
func (b *bench) waitSettled(ctx context.Context, n int, t0 time.Time) ([]string, map[string]int, error) {
	deadline := time.Now().Add(b.o.waitTimeout)
	var timeline []string
	nextMark := 1
	lastLog := time.Now()
	for {
		st, err := b.statuses(ctx, false)
		if err == nil {
			avail := st["available"]
			if nextMark <= 10 && avail*10 >= nextMark*n {
				timeline = append(timeline, fmt.Sprintf("%s: %d", dur(time.Since(t0)), avail))
				for nextMark <= 10 && avail*10 >= nextMark*n {
					nextMark++
				}
			}
			if total(st) == n && st["creating"] == 0 {
				return timeline, st, nil
			}
			if time.Since(lastLog) > 10*time.Second {
				log.Printf("create: %s after %v (load %s, MemAvailable %s)", statusString(st), time.Since(t0).Round(time.Second), hostinfo.LoadAvg(), mib(meminfo()["MemAvailable"]))
				lastLog = time.Now()
			}
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("clusters not settled after %v (last %v, %v)", b.o.waitTimeout, st, err)
		}
		// Every page of 100 is a call: poll less often as n grows.
		select {
		case <-time.After(500*time.Millisecond + time.Duration(n)*time.Millisecond):
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
}

// statuses counts the run's clusters by status (every page of 100).
func (b *bench) statuses(ctx context.Context, nodeInfo bool) (map[string]int, error) {
	cs, err := b.describeAll(ctx, nodeInfo)
	if err != nil {
		return nil, err
	}
	st := map[string]int{}
	for _, c := range cs {
		st[aws.ToString(c.CacheClusterStatus)]++
	}
	return st, nil
}

// describeAll lists the run's clusters, every page of 100. A page whose
// call fails is asked again, up to 3 times (see bench.flaky).
func (b *bench) describeAll(ctx context.Context, nodeInfo bool) ([]ectypes.CacheCluster, error) {
	var out []ectypes.CacheCluster
	var marker *string
	for {
		var page *elasticache.DescribeCacheClustersOutput
		var err error
		for attempt := range 3 {
			page, err = b.s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{
				MaxRecords: aws.Int32(100), ShowCacheNodeInfo: aws.Bool(nodeInfo), Marker: marker,
			})
			if err == nil || ctx.Err() != nil {
				break
			}
			b.flaky(err, attempt)
		}
		if err != nil {
			return nil, err
		}
		for _, c := range page.CacheClusters {
			if strings.HasPrefix(aws.ToString(c.CacheClusterId), idPrefix) {
				out = append(out, c)
			}
		}
		if marker = page.Marker; aws.ToString(marker) == "" {
			return out, nil
		}
	}
}

func total(m map[string]int) int {
	t := 0
	for _, v := range m {
		t += v
	}
	return t
}

func statusString(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// enginePIDs are the run's engine processes (cachalot-node=<account>.<region>.cap-… in their title).
func (b *bench) enginePIDs() []int {
	return cachalotproc.NodePIDs(b.s.Account + "." + cachalotproc.Region + "." + idPrefix)
}

func (b *bench) countNS() int {
	nss, _ := filepath.Glob("/run/netns/" + cachalotproc.InstallPrefix(b.s.Dir) + "-*")
	return len(nss)
}

// memory measures the engines, the daemon and the kernel 10 s after every
// cluster settled.
func (b *bench) memory(ctx context.Context) error {
	if err := sleepCtx(ctx, 10*time.Second); err != nil {
		return err
	}
	b.engines = b.enginePIDs()
	n := len(b.engines)
	if n == 0 {
		return errors.New("no engine process found")
	}
	em := memOf(b.engines)
	srv := memOf([]int{b.s.PID()})
	after := meminfo()
	ns := b.countNS()
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", b.s.PID()))
	per := func(v int64) string { return kib(v / int64(n)) }
	fmt.Printf("## 2. Memory (%d engine processes, 10 s after the last cluster settled)\n\n", n)
	fmt.Printf("| what | total | per node |\n|---|---|---|\n")
	fmt.Printf("| engines' RSS (smaps_rollup Rss) | %s | %s |\n", mib(em.rss), per(em.rss))
	fmt.Printf("| **engines' PSS** (smaps_rollup Pss) | %s | **%s** |\n", mib(em.pss), per(em.pss))
	fmt.Printf("| of which anonymous (Pss_Anon) | %s | %s |\n", mib(em.pssAnon), per(em.pssAnon))
	fmt.Printf("| engines' threads | %d | %.1f |\n", em.threads, float64(em.threads)/float64(n))
	fmt.Printf("| daemon RSS (%s → %s) | +%s | %s |\n", mib(b.base.srv.rss), mib(srv.rss), mib(srv.rss-b.base.srv.rss), per(srv.rss-b.base.srv.rss))
	fmt.Printf("| daemon PSS (%s → %s) | +%s | %s |\n", mib(b.base.srv.pss), mib(srv.pss), mib(srv.pss-b.base.srv.pss), per(srv.pss-b.base.srv.pss))
	fmt.Printf("| daemon threads, open files | %d, %d | |\n", srv.threads, len(fds))
	var kernel int64
	for _, f := range meminfoFields[1:] {
		d := after[f] - b.base.mem[f]
		what := "kernel"
		if kernelField(f) {
			kernel += d
		} else if f != "SUnreclaim" {
			what = "meminfo, for reference:"
		}
		fmt.Printf("| %s %s (%s → %s) | %+.1f MiB | %s |\n", what, f, mib(b.base.mem[f]), mib(after[f]), float64(d)/(1<<20), per(d))
	}
	fmt.Printf("| **kernel: Slab + Percpu + PageTables + KernelStack + VmallocUsed** | %s | **%s** |\n", mib(kernel), per(kernel))
	drop := b.base.mem["MemAvailable"] - after["MemAvailable"]
	fmt.Printf("| MemAvailable drop (%s → %s; whole machine, other work included) | %s | %s |\n", mib(b.base.mem["MemAvailable"]), mib(after["MemAvailable"]), mib(drop), per(drop))
	full := em.pss + kernel + max(srv.pss-b.base.srv.pss, 0)
	fmt.Printf("| **engines' PSS + kernel + daemon growth** | %s | **%s** |\n", mib(full), per(full))
	fmt.Printf("| namespaces of the installation | %d → %d | |\n\n", b.base.ns, ns)
	const host = 24 << 30
	fmt.Printf("At that cost per node, 24 GiB holds %d idle nodes (by PSS + kernel + daemon) or %d (by MemAvailable drop); "+
		"lowest MemAvailable seen so far: %s.\n\n", host/max(full/int64(n), 1), host/max(drop/int64(n), 1), mib(b.guard.lowestSeen()))
	return nil
}

// machineBusy returns the machine's busy CPUs (0..CPUs) averaged over d.
func machineBusy(ctx context.Context, d time.Duration) float64 {
	b0, t0 := machineCPU()
	if sleepCtx(ctx, d) != nil {
		return 0
	}
	b1, t1 := machineCPU()
	return float64(b1-b0) / float64(max(t1-t0, 1)) * float64(hostinfo.CPUs())
}

// idleCPU measures the engines' and the daemon's CPU over o.idle with no
// client, and the machine's.
func (b *bench) idleCPU(ctx context.Context) error {
	n := len(b.engines)
	e0, s0 := cpuTicks(b.engines), cpuTicks([]int{b.s.PID()})
	mb0, mt0 := machineCPU()
	t0 := time.Now()
	if err := sleepCtx(ctx, b.o.idle); err != nil {
		return err
	}
	e1, s1 := cpuTicks(b.engines), cpuTicks([]int{b.s.PID()})
	mb1, mt1 := machineCPU()
	el := time.Since(t0)
	eng, srv := ticksDur(e1-e0), ticksDur(s1-s0)
	machine := float64(mb1-mb0) / float64(max(mt1-mt0, 1)) * float64(hostinfo.CPUs())
	frac := func(d time.Duration) float64 { return d.Seconds() / el.Seconds() }
	fmt.Printf("## 3. Idle CPU (%v, no client; utime+stime from /proc/<pid>/stat, %d ticks/s)\n\n", el.Round(time.Second), clockTick)
	fmt.Printf("| what | CPU time | cores busy | per node | at 2,000 nodes |\n|---|---|---|---|---|\n")
	fmt.Printf("| **%d engines** | %s | %.3f | **%.3f ms/s** (%.3f %% of a core) | %.2f cores |\n", n, dur(eng), frac(eng),
		1000*frac(eng)/float64(n), 100*frac(eng)/float64(n), 2000*frac(eng)/float64(n))
	fmt.Printf("| daemon | %s | %.3f | %.3f ms/s | %.2f cores |\n", dur(srv), frac(srv), 1000*frac(srv)/float64(n), 2000*frac(srv)/float64(n))
	fmt.Printf("| machine (/proc/stat, everything: other helpers too) | | %.2f of %d | | |\n", machine, hostinfo.CPUs())
	fmt.Printf("| machine before any node existed (%v) | | %.2f of %d | | |\n\n", b.o.baseline, b.base.busyFrac, hostinfo.CPUs())
	return nil
}

func (b *bench) loadAddrs(ctx context.Context) error {
	cs, err := b.describeAll(ctx, true)
	if err != nil {
		return err
	}
	b.addrs = map[string]string{}
	for _, c := range cs {
		for _, nd := range c.CacheNodes {
			if nd.Endpoint != nil && nd.Endpoint.Address != nil && nd.Endpoint.Port != nil {
				b.addrs[aws.ToString(c.CacheClusterId)] = fmt.Sprintf("%s:%d", *nd.Endpoint.Address, *nd.Endpoint.Port)
			}
		}
	}
	return nil
}

func (b *bench) allAddrs() []string {
	var out []string
	for _, id := range slices.Sorted(maps.Keys(b.addrs)) {
		out = append(out, b.addrs[id])
	}
	return out
}

// connectSample PINGs an evenly spread sample of the nodes from the
// instance.
func (b *bench) connectSample(ctx context.Context) error {
	if err := b.loadAddrs(ctx); err != nil {
		return err
	}
	all := b.allAddrs()
	k := min(b.o.sample, len(all))
	var sample []string
	for i := range k {
		sample = append(sample, all[i*len(all)/k])
	}
	t0 := time.Now()
	slowest, err := b.pr.check(sample, time.Minute)
	if err != nil {
		return err
	}
	fmt.Printf("## 4. Connect check\n\n%d of the %d nodes (every %d-th, by cluster id) answered PING with +PONG from inside the instance's namespace, "+
		"through the VPC router: all in %s (slowest %s).\n\n", k, len(all), max(len(all)/k, 1), dur(time.Since(t0)), dur(slowest))
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func dur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}
