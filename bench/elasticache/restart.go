package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

// convergeAfterRestart measures how long the service takes to converge n
// single-node Redis clusters after a restart, two ways:
//
//   - warm: `cachalot serve` is killed (SIGKILL) while its engines run and
//     started again on the same data dir; the clock runs from the exec
//     until a cluster created right after the first answered call is
//     connectable from the instance — the controllers' full run over the
//     n existing clusters comes first, so this is "how long until the
//     service does new work again". Besides, from serve's log (its
//     "engine node adopted" lines, logged at info), until the last of the
//     n nodes is re-adopted: how long the restart takes to converge;
//   - cold: `cachalot serve` is killed and `cachalot teardown` removes
//     every engine and kernel object (as a machine reboot would), then
//     serve starts on the same data dir; the clock runs until every one
//     of the n nodes answers PING from inside the instance's namespace.
func convergeAfterRestart(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, pr **prober, self string, o options) error {
	n := o.restart
	fmt.Printf("## 4. Converging %d clusters after a restart\n\n", n)
	t0 := time.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("rst-%04d", i)
		if _, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
			CacheClusterId: aws.String(id), Engine: aws.String("redis"),
			CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
		}); err != nil {
			return fmt.Errorf("create %s: %w", id, err)
		}
		ids = append(ids, id)
	}
	if err := waitAllAvailable(ctx, s, "rst-", n, 10*time.Minute); err != nil {
		return err
	}
	log.Printf("restart: %d clusters available in %v", n, time.Since(t0).Round(time.Millisecond))
	addrs, err := clusterEndpoints(ctx, s, ids)
	if err != nil {
		return err
	}
	var warm, adopted, cold []time.Duration
	for round := range o.restartRounds {
		d, a, err := warmRestart(ctx, s, *pr, round, o)
		if err != nil {
			return fmt.Errorf("warm restart %d: %w", round, err)
		}
		warm = append(warm, d)
		if a > 0 {
			adopted = append(adopted, a)
		}
		log.Printf("restart: warm %d: new cluster connectable after %v, %d nodes re-adopted after %v", round, d.Round(time.Millisecond), n, a.Round(time.Millisecond))
		d, err = coldRestart(ctx, s, inst, pr, self, addrs)
		if err != nil {
			return fmt.Errorf("cold restart %d: %w", round, err)
		}
		cold = append(cold, d)
		log.Printf("restart: cold %d: %v", round, d.Round(time.Millisecond))
	}
	fmt.Printf("%d single-node Redis clusters, %d rounds. **warm**: `kill -9` of serve (engines keep running), restart, "+
		"until a cluster created after the first answered call is connectable from the instance; **warm, re-adopted**: the same "+
		"restart, until serve logs the last of the %d nodes re-adopted (needs -serve-log-level info or debug). **cold**: `kill -9` of serve and "+
		"`cachalot teardown` (engines and namespaces gone, store kept), restart, until all %d nodes answer PING from the instance.\n\n", n, o.restartRounds, n, n)
	fmt.Printf("| restart | n | p50 | max | mean |\n|---|---|---|---|---|\n")
	for _, r := range []struct {
		name string
		ds   []time.Duration
	}{{"warm", warm}, {"warm, re-adopted", adopted}, {"cold", cold}} {
		if len(r.ds) == 0 {
			fmt.Printf("| %s | 0 | | | |\n", r.name)
			continue
		}
		st := stats(r.ds)
		fmt.Printf("| %s | %d | %s | %s | %s |\n", r.name, len(r.ds), msf(st.p50), msf(st.max), msf(st.mean))
	}
	fmt.Println()
	return nil
}

// clusterEndpoints returns host:port of every node of the clusters.
func clusterEndpoints(ctx context.Context, s *cachalotproc.Server, ids []string) ([]string, error) {
	var addrs []string
	for _, id := range ids {
		d, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		addrs = append(addrs, endpoints(d.CacheClusters[0])...)
	}
	return addrs, nil
}

// warmRestart returns how long after the exec a new cluster was
// connectable, and when serve had logged the re-adoption of all o.restart
// nodes (0 if its log does not show them all).
func warmRestart(ctx context.Context, s *cachalotproc.Server, pr *prober, round int, o options) (connectable, adopted time.Duration, err error) {
	if err := s.Kill(); err != nil {
		return 0, 0, err
	}
	logAt, err := fileSize(s.LogPath)
	if err != nil {
		return 0, 0, err
	}
	t0 := time.Now()
	if err := s.Restart(ctx); err != nil {
		return 0, 0, err
	}
	id := fmt.Sprintf("rsw-%03d", round)
	lc, err := createOne(ctx, s, pr, kinds[0], id, o.pollEvery, o.createTimeout)
	if err != nil {
		return 0, 0, err
	}
	// createOne measures from its create call; the figure runs from the exec.
	connectable = lc.issuedAt.Sub(t0) + lc.connectable
	times, err := adoptionTimes(s.LogPath, logAt)
	if err != nil {
		return 0, 0, err
	}
	if len(times) >= o.restart {
		adopted = times[o.restart-1].Sub(t0)
	}
	return connectable, adopted, nil
}

func fileSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// adoptionTimes returns, in order, the times of the "engine node adopted"
// lines of serve's log written past offset (slog's text format, times in
// milliseconds).
func adoptionTimes(path string, offset int64) ([]time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	var out []time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.Contains(line, `msg="engine node adopted"`) {
			continue
		}
		ts, ok := strings.CutPrefix(strings.Fields(line)[0], "time=")
		if !ok {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			return nil, fmt.Errorf("serve log: %w", err)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out, sc.Err()
}

func coldRestart(ctx context.Context, s *cachalotproc.Server, inst cachalotproc.Instance, pr **prober, self string, addrs []string) (time.Duration, error) {
	if err := s.Kill(); err != nil {
		return 0, err
	}
	(*pr).close()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	out, err := exec.CommandContext(tctx, s.Bin, "teardown", "--data-dir", s.Dir).CombinedOutput()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("teardown: %w: %s", err, out)
	}
	if pids := cachalotproc.NodePIDs(s.Account + "."); len(pids) > 0 {
		return 0, fmt.Errorf("engines left after teardown: %v", pids)
	}
	t0 := time.Now()
	if err := s.Restart(ctx); err != nil {
		return 0, err
	}
	p, err := startProber(ctx, s, inst.ID, self, 600, 20*time.Millisecond)
	if err != nil {
		return 0, fmt.Errorf("prober after restart: %w", err)
	}
	*pr = p
	// One probe waits up to probeTimeout; a cold start of every engine on a
	// loaded machine may take longer, so probe again until a deadline.
	deadline := t0.Add(10 * time.Minute)
	for {
		_, err := p.probe("redis", addrs)
		if err == nil {
			return time.Since(t0), nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, err
		}
		log.Printf("restart: cold: not all nodes answer yet after %v", time.Since(t0).Round(time.Second))
	}
}
