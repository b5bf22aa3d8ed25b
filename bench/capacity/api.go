package main

import (
	"context"
	"fmt"
	"log"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
)

// pct returns the p-th percentile (0..100) of ds, nearest rank.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p/100*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// timed calls f k times, one after another, and returns the latencies
// of the calls that succeeded and how many failed (more than a tenth
// failing is an error).
func (b *bench) timed(ctx context.Context, k int, f func(i int) error) ([]time.Duration, int, error) {
	var ds []time.Duration
	failed := 0
	for i := range k {
		t0 := time.Now()
		if err := f(i); err != nil {
			if ctx.Err() != nil {
				return nil, 0, ctx.Err()
			}
			b.flaky(err, 0)
			if failed++; failed > k/10 {
				return nil, failed, err
			}
			continue
		}
		ds = append(ds, time.Since(t0))
	}
	return ds, failed, nil
}

// apiLatency measures the API with every node present: Describe (first
// page, one by id, every page) and one more CreateCacheCluster.
func (b *bench) apiLatency(ctx context.Context) error {
	ids := b.clusterIDs()
	n := len(ids)
	firstPage, fp, err := b.timed(ctx, b.o.describes, func(int) error {
		_, err := b.s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{MaxRecords: aws.Int32(100)})
		return err
	})
	if err != nil {
		return fmt.Errorf("describe first page: %w", err)
	}
	byID, fi, err := b.timed(ctx, b.o.describes, func(i int) error {
		_, err := b.s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{
			CacheClusterId: aws.String(ids[i*7919%n]), ShowCacheNodeInfo: aws.Bool(true)})
		return err
	})
	if err != nil {
		return fmt.Errorf("describe by id: %w", err)
	}
	everyPage, fe, err := b.timed(ctx, 5, func(int) error {
		_, err := b.describeAll(ctx, true)
		return err
	})
	if err != nil {
		return fmt.Errorf("describe every page: %w", err)
	}
	// One more cluster: call, available, connectable.
	id := idPrefix + "extra"
	t0 := time.Now()
	if _, err := b.s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String("redis"),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(1),
	}); err != nil {
		return fmt.Errorf("create one more: %w", err)
	}
	call := time.Since(t0)
	b.created(id)
	avail, addr, err := b.waitAvailable(ctx, id, t0, 5*time.Minute)
	if err != nil {
		return err
	}
	if _, err := b.pr.check([]string{addr}, time.Minute); err != nil {
		return err
	}
	conn := time.Since(t0)
	log.Printf("api: one more cluster available after %v, connectable after %v", avail.Round(time.Millisecond), conn.Round(time.Millisecond))

	fmt.Printf("## 5. API latency with %d clusters present (calls one after another)\n\n", n)
	fmt.Printf("| call | n ok | failed | p50 | p99 | max |\n|---|---|---|---|---|---|\n")
	for _, r := range []struct {
		name   string
		ds     []time.Duration
		failed int
	}{
		{"DescribeCacheClusters, first page (MaxRecords 100)", firstPage, fp},
		{"DescribeCacheClusters of one cluster, ShowCacheNodeInfo", byID, fi},
		{fmt.Sprintf("DescribeCacheClusters, all %d pages of 100, ShowCacheNodeInfo", (n+99)/100), everyPage, fe},
	} {
		fmt.Printf("| %s | %d | %d | %s | %s | %s |\n", r.name, len(r.ds), r.failed, dur(pct(r.ds, 50)), dur(pct(r.ds, 99)), dur(slices.Max(r.ds)))
	}
	fmt.Printf("\nOne more CreateCacheCluster: the call answered in %s, the cluster was available after %s and answered PING from the instance after %s "+
		"(polling Describe every 5 ms, then one connect check).\n\n", dur(call), dur(avail), dur(conn))
	return nil
}

// waitAvailable polls one cluster every 5 ms until it is available and
// returns the time since t0 (the caller's create) and its endpoint.
func (b *bench) waitAvailable(ctx context.Context, id string, t0 time.Time, timeout time.Duration) (time.Duration, string, error) {
	for {
		d, err := b.s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
		if err == nil && len(d.CacheClusters) == 1 && aws.ToString(d.CacheClusters[0].CacheClusterStatus) == "available" {
			c := d.CacheClusters[0]
			if len(c.CacheNodes) == 1 && c.CacheNodes[0].Endpoint != nil {
				ep := c.CacheNodes[0].Endpoint
				return time.Since(t0), fmt.Sprintf("%s:%d", aws.ToString(ep.Address), aws.ToInt32(ep.Port)), nil
			}
		}
		if time.Since(t0) > timeout {
			return 0, "", fmt.Errorf("%s not available after %v (%v)", id, timeout, err)
		}
		if err := sleepCtx(ctx, 5*time.Millisecond); err != nil {
			return 0, "", err
		}
	}
}
