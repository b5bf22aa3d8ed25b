package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
	"github.com/aws/smithy-go"
	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
)

type clusterKind struct {
	name, short, engine string
	nodes               int
}

var kinds = []clusterKind{
	{name: "Redis, 1 node", short: "r", engine: "redis", nodes: 1},
	{name: "Memcached, 3 nodes", short: "m", engine: "memcached", nodes: 3},
}

// lifecycle is one create/delete cycle; every duration is since the
// CreateCacheCluster call was issued (delete: since DeleteCacheCluster).
type lifecycle struct {
	issuedAt    time.Time     // when CreateCacheCluster was issued
	call        time.Duration // CreateCacheCluster returned
	endpoints   time.Duration // DescribeCacheClusters first showed every node's endpoint
	connectable time.Duration // every node answered inside the instance's namespace
	available   time.Duration // DescribeCacheClusters first said "available"
	deleted     time.Duration // DeleteCacheCluster until DescribeCacheClusters says CacheClusterNotFound
	polls       int
	nodes       []reached // per node, as the prober saw it
}

func createToConnectable(ctx context.Context, s *cachalotproc.Server, pr *prober, o options) error {
	fmt.Printf("## 1. Create to connectable\n\n")
	fmt.Printf("%d create/delete cycles per kind, interleaved (Redis, Memcached, Memcached, Redis, …), each on a VPC holding only the client instance. "+
		"Clock starts when CreateCacheCluster is issued (aws-sdk-go-v2, `cache.t3.micro`, no security groups: the default group). "+
		"The benchmark then polls DescribeCacheClusters(ShowCacheNodeInfo) every %v; as soon as every node's endpoint is listed it hands the "+
		"addresses to the prober, a copy of this program started once inside the instance's network namespace (`cachalot exec --instance i-… -- bench -probe`), "+
		"which retries each node every %v (TCP connect, timeout %v, then `PING` → `+PONG` or `version` → `VERSION`, timeout %v) and answers when all did: "+
		"that is **connectable**. Polling continues until the cluster is `available`. Then DeleteCacheCluster and poll until CacheClusterNotFound "+
		"(**deleted**). The prober stays up, so a probe costs no process start or API call.\n\n",
		o.creations, o.pollEvery, probeEvery, dialTimeout, replyTimeout)
	res := map[string][]lifecycle{}
	for i := range o.creations {
		order := slices.Clone(kinds)
		if i%2 == 1 {
			slices.Reverse(order)
		}
		for _, k := range order {
			id := fmt.Sprintf("lat-%s-%03d", k.short, i)
			lc, err := createOne(ctx, s, pr, k, id, o.pollEvery, o.createTimeout)
			if err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
			res[k.name] = append(res[k.name], lc)
		}
		if i%5 == 4 {
			log.Printf("create-to-connectable: %d/%d cycles", i+1, o.creations)
		}
	}
	fmt.Printf("| cluster | n | measure | p50 | p99 | max | mean |\n|---|---|---|---|---|---|---|\n")
	for _, k := range kinds {
		lcs := res[k.name]
		for _, m := range []struct {
			name string
			get  func(lifecycle) time.Duration
		}{
			{"CreateCacheCluster call returned", func(l lifecycle) time.Duration { return l.call }},
			{"endpoints listed by Describe", func(l lifecycle) time.Duration { return l.endpoints }},
			{"**connectable** (every node answered from the instance)", func(l lifecycle) time.Duration { return l.connectable }},
			{"Describe says `available`", func(l lifecycle) time.Duration { return l.available }},
			{"delete until CacheClusterNotFound", func(l lifecycle) time.Duration { return l.deleted }},
		} {
			ds := make([]time.Duration, len(lcs))
			for i, l := range lcs {
				ds[i] = m.get(l)
			}
			st := stats(ds)
			fmt.Printf("| %s | %d | %s | %s | %s | %s | %s |\n", k.name, len(ds), m.name, msf(st.p50), msf(st.p99), msf(st.max), msf(st.mean))
		}
	}
	fmt.Println()
	for _, k := range kinds {
		lcs := res[k.name]
		var conn, avail []string
		polls := 0
		for _, l := range lcs {
			conn = append(conn, fmt.Sprintf("%.0f", ms(l.connectable)))
			avail = append(avail, fmt.Sprintf("%.0f", ms(l.available)))
			polls += l.polls
		}
		c := stats(collect(lcs, func(l lifecycle) time.Duration { return l.connectable }))
		verdict := "met"
		if c.p50 >= 250*time.Millisecond {
			verdict = "NOT met"
		}
		fmt.Printf("- %s: goal p50 connectable < 250 ms **%s** (p50 %s). Connectable, ms, in order: %s. Available, ms: %s. Describe calls per cycle: %.1f.\n",
			k.name, verdict, msf(c.p50), strings.Join(conn, " "), strings.Join(avail, " "), float64(polls)/float64(len(lcs)))
	}
	fmt.Printf("\n(p99 of %d samples is their maximum but one at most; read it as \"worst seen\".)\n\n", o.creations)
	fmt.Printf("Slow cycles (connectable ≥ 250 ms or more than 100 ms after `available`), per node as the prober saw it (time since the addresses were handed over / attempts / failed attempts by stage-class):\n\n")
	slow := 0
	for _, k := range kinds {
		for i, l := range res[k.name] {
			if l.connectable < 250*time.Millisecond && l.connectable < l.available+100*time.Millisecond {
				continue
			}
			slow++
			var nodes []string
			for _, n := range l.nodes {
				nodes = append(nodes, n.String())
			}
			fmt.Printf("- %s cycle %d: endpoints %s, connectable %s, available %s; nodes: %s\n", k.name, i, msf(l.endpoints), msf(l.connectable), msf(l.available), strings.Join(nodes, "; "))
		}
	}
	if slow == 0 {
		fmt.Printf("- none\n")
	}
	fmt.Println()
	return nil
}

type probeResult struct {
	at    time.Duration
	nodes []reached
	err   error
}

func createOne(ctx context.Context, s *cachalotproc.Server, pr *prober, k clusterKind, id string, every, timeout time.Duration) (lifecycle, error) {
	var lc lifecycle
	t0 := time.Now()
	lc.issuedAt = t0
	_, err := s.EC.CreateCacheCluster(ctx, &elasticache.CreateCacheClusterInput{
		CacheClusterId: aws.String(id), Engine: aws.String(k.engine),
		CacheNodeType: aws.String("cache.t3.micro"), NumCacheNodes: aws.Int32(int32(k.nodes)),
	})
	if err != nil {
		return lc, fmt.Errorf("create: %w", err)
	}
	lc.call = time.Since(t0)
	connCh := make(chan probeResult, 1)
	probed := false
	deadline := t0.Add(timeout)
	for lc.available == 0 || lc.connectable == 0 {
		if lc.available == 0 {
			lc.polls++
			d, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id), ShowCacheNodeInfo: aws.Bool(true)})
			if err == nil && len(d.CacheClusters) == 1 {
				c := d.CacheClusters[0]
				if !probed {
					if addrs := endpoints(c); len(addrs) == k.nodes {
						lc.endpoints = time.Since(t0)
						probed = true
						go func() {
							rs, err := pr.probe(k.engine, addrs)
							connCh <- probeResult{at: time.Since(t0), nodes: rs, err: err}
						}()
					}
				}
				switch st := aws.ToString(c.CacheClusterStatus); st {
				case "available":
					lc.available = time.Since(t0)
					if !probed {
						return lc, fmt.Errorf("available without %d endpoints", k.nodes)
					}
				case "creating":
				default:
					return lc, fmt.Errorf("status %s while creating", st)
				}
			} else if ctx.Err() != nil {
				return lc, ctx.Err()
			}
		}
		select {
		case r := <-connCh:
			if r.err != nil {
				return lc, r.err
			}
			lc.connectable, lc.nodes = r.at, r.nodes
		case <-time.After(every):
		case <-ctx.Done():
			return lc, ctx.Err()
		}
		if time.Now().After(deadline) {
			return lc, fmt.Errorf("not available and connectable in %v: %w", timeout, errTimeout)
		}
	}
	t1 := time.Now()
	if _, err := s.EC.DeleteCacheCluster(ctx, &elasticache.DeleteCacheClusterInput{CacheClusterId: aws.String(id)}); err != nil {
		return lc, fmt.Errorf("delete: %w", err)
	}
	if err := waitGone(ctx, s, []string{id}, every, 60*time.Second); err != nil {
		return lc, err
	}
	lc.deleted = time.Since(t1)
	return lc, nil
}

func endpoints(c ectypes.CacheCluster) []string {
	var addrs []string
	for _, n := range c.CacheNodes {
		if n.Endpoint != nil && n.Endpoint.Address != nil && n.Endpoint.Port != nil {
			addrs = append(addrs, fmt.Sprintf("%s:%d", *n.Endpoint.Address, *n.Endpoint.Port))
		}
	}
	return addrs
}

// waitGone polls until DescribeCacheClusters says CacheClusterNotFound for
// every id.
func waitGone(ctx context.Context, s *cachalotproc.Server, ids []string, every, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	left := slices.Clone(ids)
	for len(left) > 0 {
		id := left[0]
		_, err := s.EC.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{CacheClusterId: aws.String(id)})
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "CacheClusterNotFound" {
			left = left[1:]
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d clusters (first %s) not deleted in %v (last: %v): %w", len(left), id, timeout, err, errTimeout)
		}
		select {
		case <-time.After(every):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

type summary struct{ p50, p99, max, mean time.Duration }

func stats(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return summary{p50: s[len(s)/2], p99: s[min(len(s)-1, len(s)*99/100)], max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

func collect(lcs []lifecycle, f func(lifecycle) time.Duration) []time.Duration {
	out := make([]time.Duration, len(lcs))
	for i, l := range lcs {
		out[i] = f(l)
	}
	return out
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
func msf(d time.Duration) string { return fmt.Sprintf("%.1f ms", ms(d)) }
