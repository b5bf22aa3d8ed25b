package main

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

// meminfo fields whose change the memory figures report.
var memFields = []string{"MemAvailable", "Slab", "SUnreclaim", "Percpu", "PageTables", "KernelStack"}

func idleMemory(ctx context.Context, s *cachalotproc.Server, o options) error {
	fmt.Printf("## 3. Resident memory of idle Redis nodes\n\n")
	n := o.idle
	before := meminfoMedian()
	srvBefore := statusKB(s.PID(), "VmRSS:")
	nsBefore := countNS(s)
	t0 := time.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("idle-%04d", i)
		_, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(id), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
		})
		if err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		ids = append(ids, id)
	}
	callsDone := time.Since(t0)
	deletePending := true
	defer func() {
		if !deletePending {
			return
		}
		// On failure, still ask for deletion; teardown removes the rest.
		for _, id := range ids {
			_, _ = s.EC.DeleteCacheCluster(context.Background(), &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)})
		}
	}()
	if err := waitAllAvailable(ctx, s, "idle-", n, 10*time.Minute); err != nil {
		return err
	}
	allUp := time.Since(t0)
	log.Printf("idle memory: %d clusters available in %v; settling 3 s", n, allUp.Round(time.Millisecond))
	time.Sleep(3 * time.Second)

	pids := cachalotproc.NodePIDs(s.Account + "." + cachalotproc.Region + ".idle-")
	if len(pids) != n {
		return fmt.Errorf("found %d redis-server processes titled cachalot-node=%s.%s.idle-…, want %d", len(pids), s.Account, cachalotproc.Region, n)
	}
	var rss, anon, pss, pssAnon int64
	for _, pid := range pids {
		rss += statusKB(pid, "VmRSS:")
		anon += statusKB(pid, "RssAnon:")
		pss += rollupKB(pid, "Pss:")
		pssAnon += rollupKB(pid, "Pss_Anon:")
	}
	after := meminfoMedian()
	srvAfter := statusKB(s.PID(), "VmRSS:")
	nsAfter := countNS(s)

	const host = 24 << 30
	per := func(total int64) int64 { return total / int64(n) }
	drop := before["MemAvailable"] - after["MemAvailable"]
	kernel := int64(0)
	for _, f := range []string{"Slab", "Percpu", "PageTables", "KernelStack"} {
		kernel += after[f] - before[f]
	}
	srvDelta := srvAfter - srvBefore
	netEst := drop - pss - srvDelta

	fmt.Printf("%d single-node Redis clusters (`cache.t3.micro`, default security group) created through the API one after another "+
		"(the %d CreateCacheCluster calls took %v; all `available` after %v), then measured 3 s later. "+
		"Processes found by `cachalot-node=%s.%s.idle-` in their title (this run's random account id). "+
		"Namespaces of the installation: %d before, %d after. /proc/meminfo is read 5 times, 200 ms apart, before and after; medians.\n\n",
		n, n, callsDone.Round(time.Millisecond), allUp.Round(time.Millisecond), s.Account, cachalotproc.Region, nsBefore, nsAfter)
	fmt.Printf("| per idle node | value | idle nodes per 24 GiB |\n|---|---|---|\n")
	rows := []struct {
		name string
		v    int64
	}{
		{"redis-server RSS (VmRSS)", per(rss)},
		{"of which anonymous (RssAnon)", per(anon)},
		{"redis-server PSS (smaps_rollup Pss)", per(pss)},
		{"of which anonymous (Pss_Anon)", per(pssAnon)},
		{"kernel: Slab+Percpu+PageTables+KernelStack growth", per(kernel)},
		{"  of which Percpu", per(after["Percpu"] - before["Percpu"])},
		{"  of which Slab (SUnreclaim part)", per(after["Slab"] - before["Slab"])},
		{"cachalot serve RSS growth", per(srvDelta)},
		{"**MemAvailable drop** (everything: processes, namespaces, veths, nft, server)", per(drop)},
		{"MemAvailable drop − PSS − serve growth (≈ namespace + network overhead)", per(netEst)},
	}
	for _, r := range rows {
		if strings.Contains(r.name, "SUnreclaim") {
			fmt.Printf("| %s | %s (%s) | |\n", r.name, mibf(r.v), mibf(per(after["SUnreclaim"]-before["SUnreclaim"])))
			continue
		}
		fit := ""
		if r.v > 0 && !strings.HasPrefix(r.name, "  ") && !strings.HasPrefix(r.name, "of which") {
			fit = strconv.FormatInt(host/r.v, 10)
		}
		fmt.Printf("| %s | %s | %s |\n", r.name, mibf(r.v), fit)
	}
	full := per(pss) + per(kernel) + max(per(srvDelta), 0)
	fmt.Printf("| PSS + kernel growth + serve growth | %s | %d |\n\n", mibf(full), host/max(full, 1))
	fmt.Printf("meminfo before → after (MiB): %s. cachalot serve VmRSS %s → %s.\n\n", meminfoDiff(before, after), mibf(srvBefore), mibf(srvAfter))

	t1 := time.Now()
	for _, id := range ids {
		if _, err := s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)}); err != nil {
			return fmt.Errorf("delete %s: %w", id, err)
		}
	}
	deletePending = false
	if err := waitGone(ctx, s, ids, 100*time.Millisecond, 10*time.Minute); err != nil {
		return err
	}
	gone := time.Since(t1)
	time.Sleep(2 * time.Second)
	back := meminfoMedian()
	fmt.Printf("Deleted all %d through the API in %v (until every Describe says CacheClusterNotFound); %d engine processes of the run left, %d namespaces. 2 s later, MiB: %s (before creation → after deletion).\n\n",
		n, gone.Round(time.Millisecond), len(cachalotproc.NodePIDs(s.Account+"."+cachalotproc.Region+".idle-")), countNS(s), meminfoDiff(before, back))
	return nil
}

func waitAllAvailable(ctx context.Context, s *cachalotproc.Server, prefix string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	lastLog := time.Now()
	for {
		avail, total := 0, 0
		p := elasticache.NewDescribeCacheClustersPaginator(s.EC, &elasticache.DescribeCacheClustersInput{MaxRecords: aws.Int32(100)})
		var err error
		for p.HasMorePages() && err == nil {
			var page *elasticache.DescribeCacheClustersOutput
			page, err = p.NextPage(ctx)
			if err != nil {
				break
			}
			for _, c := range page.CacheClusters {
				if strings.HasPrefix(aws.ToString(c.CacheClusterId), prefix) {
					total++
					if aws.ToString(c.CacheClusterStatus) == "available" {
						avail++
					}
				}
			}
		}
		if err == nil && total == n && avail == n {
			return nil
		}
		if time.Since(lastLog) > 10*time.Second {
			log.Printf("%s*: %d/%d available (load %s)", prefix, avail, n, hostinfo.LoadAvg())
			lastLog = time.Now()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d clusters available after %v (last error %v): %w", avail, n, timeout, err, errTimeout)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func countNS(s *cachalotproc.Server) int {
	nss, _ := filepath.Glob("/run/netns/" + cachalotproc.InstallPrefix(s.Dir) + "-*")
	return len(nss)
}

// statusKB and rollupKB return a "Key: N kB" figure in bytes.
func statusKB(pid int, key string) int64 { return fileKB(fmt.Sprintf("/proc/%d/status", pid), key) }
func rollupKB(pid int, key string) int64 {
	return fileKB(fmt.Sprintf("/proc/%d/smaps_rollup", pid), key)
}

func fileKB(path, key string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// meminfoMedian reads memFields of /proc/meminfo five times, 200 ms apart,
// and returns the medians, in bytes.
func meminfoMedian() map[string]int64 {
	samples := map[string][]int64{}
	for i := range 5 {
		if i > 0 {
			time.Sleep(200 * time.Millisecond)
		}
		for _, f := range memFields {
			samples[f] = append(samples[f], fileKB("/proc/meminfo", f+":"))
		}
	}
	out := map[string]int64{}
	for f, v := range samples {
		slices.Sort(v)
		out[f] = v[len(v)/2]
	}
	return out
}

func meminfoDiff(a, b map[string]int64) string {
	var parts []string
	for _, f := range memFields {
		parts = append(parts, fmt.Sprintf("%s %.0f → %.0f", f, float64(a[f])/(1<<20), float64(b[f])/(1<<20)))
	}
	return strings.Join(parts, ", ")
}

func mibf(b int64) string { return fmt.Sprintf("%.2f MiB", float64(b)/(1<<20)) }
