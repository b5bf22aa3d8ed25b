package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// adoptions counts serve's "engine node adopted" lines for the run's
// nodes written past offset of its log.
func adoptions(path string, offset int64) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return 0, err
	}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, `msg="engine node adopted"`) && strings.Contains(l, idPrefix) {
			n++
		}
	}
	return n, sc.Err()
}

// warmRestart kills serve (its engines keep running), starts it again on
// the same data dir and measures: until it answers; until its log shows
// every node re-adopted; until a cluster created right after it answered
// is available; until every node answers PING from the instance.
func (b *bench) warmRestart(ctx context.Context) error {
	n := len(b.addrs)
	fi, err := os.Stat(b.s.LogPath)
	if err != nil {
		return err
	}
	if err := b.s.Kill(); err != nil {
		return err
	}
	t0 := time.Now()
	if err := b.s.Restart(ctx); err != nil {
		return err
	}
	answering := time.Since(t0)
	id := idPrefix + "after-restart"
	if _, err := b.s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	}); err != nil {
		return fmt.Errorf("create after restart: %w", err)
	}
	b.created(id)
	var adopted time.Duration
	var seen int
	deadline := t0.Add(b.o.waitTimeout)
	for adopted == 0 {
		if seen, err = adoptions(b.s.LogPath, fi.Size()); err != nil {
			return err
		}
		if seen >= n {
			adopted = time.Since(t0)
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d nodes re-adopted after %v (serve's --log-level must be info or debug)", seen, n, b.o.waitTimeout)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	newAvail, _, err := b.waitAvailable(ctx, id, t0, b.o.waitTimeout)
	if err != nil {
		return err
	}
	t1 := time.Now()
	if _, err := b.pr.check(b.allAddrs(), 5*time.Minute); err != nil {
		return err
	}
	check := time.Since(t1)
	st, err := b.statuses(ctx, false)
	if err != nil {
		return err
	}
	log.Printf("restart: answering %v, %d re-adopted %v, new cluster available %v", answering.Round(time.Millisecond), n, adopted.Round(time.Millisecond), newAvail.Round(time.Millisecond))
	fmt.Printf("## 6. Warm restart of serve with %d nodes (kill -9; the engines keep running)\n\n", n)
	fmt.Printf("| from the restart's exec until | time |\n|---|---|\n")
	fmt.Printf("| serve answers a signed call | %s |\n", dur(answering))
	fmt.Printf("| **serve's log shows all %d nodes re-adopted** | **%s** |\n", n, dur(adopted))
	fmt.Printf("| a cluster created right after it answered is available | %s |\n", dur(newAvail))
	fmt.Printf("\nAfterwards every one of the %d nodes answered PING from the instance (the check took %s); Describe: %s.\n\n", n, dur(check), statusString(st))
	return nil
}

// coldRestart kills serve and tears the installation down (engines and
// namespaces gone, store kept: a reboot), starts serve again and measures
// until every node answers PING from the instance.
func (b *bench) coldRestart(ctx context.Context) error {
	n := len(b.addrs)
	if err := b.s.Kill(); err != nil {
		return err
	}
	b.pr.close()
	tctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	t := time.Now()
	out, err := exec.CommandContext(tctx, b.s.Bin, "teardown", "--data-dir", b.s.Dir).CombinedOutput()
	cancel()
	if err != nil {
		return fmt.Errorf("teardown: %w: %s", err, out)
	}
	teardown := time.Since(t)
	if left := len(b.enginePIDs()); left > 0 {
		return fmt.Errorf("%d engines left after teardown", left)
	}
	t0 := time.Now()
	if err := b.s.Restart(ctx); err != nil {
		return err
	}
	answering := time.Since(t0)
	for attempt := 0; ; attempt++ {
		if b.pr, err = startProber(ctx, b.s, b.inst.ID, b.self); err == nil {
			break
		}
		if attempt == 600 || ctx.Err() != nil {
			return fmt.Errorf("prober after restart: %w", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	prober := time.Since(t0)
	if _, err := b.pr.check(b.allAddrs(), b.o.coldTimeout); err != nil {
		return err
	}
	all := time.Since(t0)
	fmt.Printf("## 6b. Cold restart with %d nodes (kill -9 of serve, `cachalot teardown` in %s, serve started again)\n\n", n, dur(teardown))
	fmt.Printf("| from the restart's exec until | time |\n|---|---|\n")
	fmt.Printf("| serve answers | %s |\n| the instance's namespace is back (prober started) | %s |\n| **all %d nodes answer PING from the instance** | **%s** (%.1f nodes/s) |\n\n",
		dur(answering), dur(prober), n, dur(all), float64(n)/all.Seconds())
	return nil
}

// deleteTimed deletes every cluster of the run through the API and waits
// until Describe lists none.
func (b *bench) deleteTimed(ctx context.Context) error {
	ids := b.clusterIDs()
	t0 := time.Now()
	failed := parallel(ctx, b.o.workers, ids, func(ctx context.Context, id string) error {
		_, err := b.s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)})
		return err
	})
	if failed > 0 {
		return fmt.Errorf("%d DeleteCacheCluster calls failed", failed)
	}
	calls := time.Since(t0)
	b.mu.Lock()
	b.ids = nil
	b.mu.Unlock()
	deadline := t0.Add(b.o.deleteBudget)
	left := len(ids)
	for {
		cs, err := b.describeAll(ctx, false)
		if err == nil {
			if left = len(cs); left == 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			fmt.Printf("## 7. Deletion\n\n%d DeleteCacheCluster calls answered in %s; after the budget of %v, %d clusters were still listed (teardown removes them).\n\n",
				len(ids), dur(calls), b.o.deleteBudget, left)
			return nil
		}
		if err := sleepCtx(ctx, time.Second); err != nil {
			return err
		}
	}
	gone := time.Since(t0)
	if err := sleepCtx(ctx, 3*time.Second); err != nil {
		return err
	}
	after := meminfo()
	fmt.Printf("## 7. Deletion\n\n%d DeleteCacheCluster calls answered in %s; Describe listed none after %s. 3 s later: %d engine processes of the run, "+
		"%d namespaces of the installation (%d before creation); MemAvailable %s (%s before creation), Slab %s (%s).\n\n",
		len(ids), dur(calls), dur(gone), len(b.enginePIDs()), b.countNS(), b.base.ns,
		mib(after["MemAvailable"]), mib(b.base.mem["MemAvailable"]), mib(after["Slab"]), mib(b.base.mem["Slab"]))
	return nil
}
