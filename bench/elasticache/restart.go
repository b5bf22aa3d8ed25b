package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"os/exec"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// convergeAfterRestart measures how long the service takes to converge n
// single-node Redis clusters after a restart, two ways:
//
//   - warm: `cachalot serve` is killed (SIGKILL) while its engines run and
//     started again on the same data dir; the clock runs from the exec
//     until a cluster created right after the first answered call is
//     connectable from the instance — the controllers' full run over the
//     n existing clusters comes first, so this is "how long until the
//     service does new work again";
//   - cold: `cachalot serve` is killed and `cachalot teardown` removes
//     every engine and kernel object (as a machine reboot would), then
//     serve starts on the same data dir; the clock runs until every one
//     of the n nodes answers PING from inside the instance's namespace.
func convergeAfterRestart(ctx context.Context, s *server, inst instance, pr **prober, self string, o options) error {
	n := o.restart
	fmt.Printf("## 4. Converging %d clusters after a restart\n\n", n)
	t0 := time.Now()
	var ids []string
	for i := range n {
		id := fmt.Sprintf("rst-%04d", i)
		if _, err := s.ec.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
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
	var warm, cold []time.Duration
	for round := range o.restartRounds {
		d, err := warmRestart(ctx, s, *pr, round, o)
		if err != nil {
			return fmt.Errorf("warm restart %d: %w", round, err)
		}
		warm = append(warm, d)
		log.Printf("restart: warm %d: %v", round, d.Round(time.Millisecond))
		d, err = coldRestart(ctx, s, inst, pr, self, addrs)
		if err != nil {
			return fmt.Errorf("cold restart %d: %w", round, err)
		}
		cold = append(cold, d)
		log.Printf("restart: cold %d: %v", round, d.Round(time.Millisecond))
	}
	w, c := stats(warm), stats(cold)
	fmt.Printf("%d single-node Redis clusters, %d rounds. **warm**: `kill -9` of serve (engines keep running), restart, "+
		"until a cluster created after the first answered call is connectable from the instance. **cold**: `kill -9` of serve and "+
		"`cachalot teardown` (engines and namespaces gone, store kept), restart, until all %d nodes answer PING from the instance.\n\n", n, o.restartRounds, n)
	fmt.Printf("| restart | n | p50 | max | mean |\n|---|---|---|---|---|\n")
	fmt.Printf("| warm | %d | %s | %s | %s |\n", len(warm), msf(w.p50), msf(w.max), msf(w.mean))
	fmt.Printf("| cold | %d | %s | %s | %s |\n\n", len(cold), msf(c.p50), msf(c.max), msf(c.mean))
	return nil
}

// clusterEndpoints returns host:port of every node of the clusters.
func clusterEndpoints(ctx context.Context, s *server, ids []string) ([]string, error) {
	var addrs []string
	for _, id := range ids {
		d, err := s.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err != nil {
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		addrs = append(addrs, endpoints(d.CacheClusters[0])...)
	}
	return addrs, nil
}

func warmRestart(ctx context.Context, s *server, pr *prober, round int, o options) (time.Duration, error) {
	if err := s.kill(); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := s.restart(ctx); err != nil {
		return 0, err
	}
	id := fmt.Sprintf("rsw-%03d", round)
	lc, err := createOne(ctx, s, pr, kinds[0], id, o.pollEvery)
	if err != nil {
		return 0, err
	}
	// createOne measures from its create call; the figure runs from the exec.
	return lc.issuedAt.Sub(t0) + lc.connectable, nil
}

func coldRestart(ctx context.Context, s *server, inst instance, pr **prober, self string, addrs []string) (time.Duration, error) {
	if err := s.kill(); err != nil {
		return 0, err
	}
	(*pr).close()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	out, err := exec.CommandContext(tctx, s.bin, "teardown", "--data-dir", s.dir).CombinedOutput()
	cancel()
	if err != nil {
		return 0, fmt.Errorf("teardown: %w: %s", err, out)
	}
	if pids := nodePIDs(s.account + "."); len(pids) > 0 {
		return 0, fmt.Errorf("engines left after teardown: %v", pids)
	}
	t0 := time.Now()
	if err := s.restart(ctx); err != nil {
		return 0, err
	}
	var p *prober
	for attempt := 0; ; attempt++ {
		if p, err = startProber(ctx, s, inst.id, self); err == nil {
			break
		}
		if attempt == 600 || ctx.Err() != nil {
			return 0, fmt.Errorf("prober after restart: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
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

// kill stops serve with SIGKILL, as a crash would.
func (s *server) kill() error {
	if s.cmd.Process == nil {
		return errors.New("serve not running")
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	return nil
}

// restart starts serve again on the same data dir, listen address and
// account, and waits until it answers.
func (s *server) restart(ctx context.Context) error {
	logf, err := os.OpenFile(s.logPath, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Env, cmd.Stdout, cmd.Stderr = s.cmd.Env, logf, logf
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart serve: %w", err)
	}
	s.cmd = cmd
	return s.waitAnswering(ctx)
}
