package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsec2 "github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"
	ectypes "github.com/aws/aws-sdk-go-v2/service/elasticache/types"
)

// options of a campaign.
type options struct {
	bin         string
	runs, ops   int
	workers     int
	seed        uint64
	engineKills int
	converge    time.Duration // how long convergence may take after a restart
	keep        bool
}

// runReport is one run's figures.
type runReport struct {
	n, ops, acked, killAfter int
	inFlight, applied        int
	converge                 time.Duration
	facts                    int
	violations               int
	teardownRefused          bool
}

// campaign is the state of one campaign.
type campaign struct {
	o       options
	s       *server
	prefix  string
	m       *model
	workers []*worker
	c       counters
	rng     *rand.Rand

	runs       []runReport
	violations []violation
	checks     int // checkpoints passed through
	engine     *engineReport
}

func newCampaign(o options, s *server) *campaign {
	return &campaign{o: o, s: s, prefix: installPrefix(s.dir), m: newModel(), rng: rand.New(rand.NewPCG(o.seed, 0))}
}

// setup finds the installed engines and the default group, and makes the
// workers.
func (c *campaign) setup(ctx context.Context) error {
	versions, err := c.s.ec.DescribeCacheEngineVersions(ctx, &elasticache.DescribeCacheEngineVersionsInput{})
	if err != nil {
		return fmt.Errorf("describe cache engine versions: %w", err)
	}
	seen := map[string]bool{}
	var engines []string
	for _, v := range versions.CacheEngineVersions {
		e := aws.ToString(v.Engine)
		if (e == "redis" || e == "memcached") && !seen[e] {
			seen[e] = true
			engines = append(engines, e)
		}
	}
	if len(engines) == 0 {
		log.Printf("no redis-server or memcached installed: the campaign creates no cache clusters")
	}
	sgs, err := c.s.ec2.DescribeSecurityGroups(ctx, &awsec2.DescribeSecurityGroupsInput{
		Filters: []ec2types.Filter{{Name: aws.String("group-name"), Values: []string{"default"}}},
	})
	if err != nil || len(sgs.SecurityGroups) != 1 {
		return fmt.Errorf("the default security group: %v (%d found)", err, len(sgs.SecurityGroups))
	}
	for i := range c.o.workers {
		c.workers = append(c.workers, &worker{
			n: i + 1, s: c.s, m: c.m, rng: rand.New(rand.NewPCG(c.o.seed, uint64(i+1))), engines: engines,
			account: c.s.account, defSG: aws.ToString(sgs.SecurityGroups[0].GroupId), c: &c.c,
		})
	}
	return nil
}

// run executes the campaign: per run, writes until a random point, kill -9
// of serve while writes are in flight, restart, checkpoint, and the rest
// of the run's writes; then a final checkpoint and the engine kill loop.
func (c *campaign) run(ctx context.Context) error {
	perRun := (c.o.ops + c.o.runs - 1) / c.o.runs
	for n := 1; n <= c.o.runs; n++ {
		r := runReport{n: n}
		before := c.c.ops.Load()
		acked := c.c.acked.Load()
		// A teardown while serve runs must be refused, leaving all in place
		// (the checkpoint below finds everything still there).
		out, err := c.s.teardown(ctx)
		r.teardownRefused = err != nil && strings.Contains(string(out), "teardown refused")
		if !r.teardownRefused {
			c.violations = append(c.violations, violation{"teardown", fmt.Sprintf("run %d", n), fmt.Sprintf("teardown while serve runs: %v: %s", err, out)})
		}
		r.killAfter = 1 + c.rng.IntN(perRun)
		// Half the kills land within 20 ms of the last write sent (writes in
		// flight), half up to 1.5 s later (controllers at work: interfaces,
		// namespaces, engines being made or removed).
		jitter := time.Duration(c.rng.IntN(20_000)) * time.Microsecond
		if c.rng.IntN(2) == 0 {
			jitter = time.Duration(c.rng.IntN(1_500)) * time.Millisecond
		}
		c.writes(ctx, r.killAfter, func() {
			time.Sleep(jitter)
			c.s.kill()
		})
		c.s.kill() // if the writes ended first
		t0 := time.Now()
		if err := c.s.start(ctx); err != nil {
			return fmt.Errorf("run %d: restart: %w", n, err)
		}
		cr, err := c.checkpoint(ctx, fmt.Sprintf("run %d", n))
		if err != nil {
			return err
		}
		r.converge, r.facts, r.violations = time.Since(t0), cr.facts, cr.violations
		r.inFlight, r.applied = cr.inFlight, cr.applied
		if rest := perRun - int(c.c.ops.Load()-before); rest > 0 {
			c.writes(ctx, rest, nil)
		}
		r.ops, r.acked = int(c.c.ops.Load()-before), int(c.c.acked.Load()-acked)
		c.runs = append(c.runs, r)
		log.Printf("run %d: %d writes (%d acknowledged), killed after %d, %d in flight (%d applied), converged and checked in %v, %d violations",
			n, r.ops, r.acked, r.killAfter, r.inFlight, r.applied, r.converge.Round(time.Millisecond), r.violations)
	}
	if _, err := c.checkpoint(ctx, "final"); err != nil {
		return err
	}
	if c.o.engineKills > 0 && len(c.workers) > 0 && containsEngine(c.workers[0].engines, "redis") {
		er, err := c.engineLoop(ctx)
		if err != nil {
			return fmt.Errorf("engine kill loop: %w", err)
		}
		c.engine = er
		if _, err := c.checkpoint(ctx, "after the engine kill loop"); err != nil {
			return err
		}
	}
	return nil
}

func containsEngine(es []string, e string) bool {
	for _, x := range es {
		if x == e {
			return true
		}
	}
	return false
}

// writes lets the workers issue n writes between them (fewer if serve is
// killed); with kill set, kill runs once the n-th write has been issued,
// while the workers go on, so that writes are in flight when it lands.
func (c *campaign) writes(ctx context.Context, n int, kill func()) {
	var issued atomic.Int64
	var killing atomic.Bool
	var wg sync.WaitGroup
	for _, w := range c.workers {
		w.stopped = false
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !killing.Load() {
				i := issued.Add(1)
				if i > int64(n) && kill == nil {
					return
				}
				if i == int64(n) && kill != nil {
					killing.Store(true)
					wg.Add(1)
					go func() { defer wg.Done(); kill() }()
				}
				if !w.step(ctx) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// checkResult of one checkpoint.
type checkpointResult struct {
	inFlight, applied, facts, violations int
}

// checkpoint waits for convergence, checks the model against the API and
// the kernel against the desired state, and records violations.
func (c *campaign) checkpoint(ctx context.Context, name string) (checkpointResult, error) {
	c.checks++
	var res checkpointResult
	add := func(vs ...violation) {
		for _, v := range vs {
			v.what = name + ": " + v.what
			c.violations = append(c.violations, v)
			log.Printf("VIOLATION %s", v)
		}
		res.violations += len(vs)
	}
	clusters, err := waitConverged(ctx, c.s, c.o.converge)
	if err != nil {
		add(violation{"not-converged", "cache clusters", err.Error()})
		clusters, err = describeAll(ctx, c.s)
		if err != nil {
			return res, err
		}
	}
	if err := waitGroupsConverged(ctx, c.s, c.o.converge); err != nil {
		add(violation{"not-converged", "replication groups", err.Error()})
	}
	obs, err := observe(ctx, c.s, clusters)
	if err != nil {
		return res, fmt.Errorf("%s: observe: %w", name, err)
	}
	cr := c.m.check(obs.states)
	res.inFlight, res.applied = cr.inFlight, cr.applied
	add(cr.violations...)
	add(obs.net.problems...)
	want := expectedKernel(c.prefix, obs.net)
	res.facts = len(want)
	var missing, orphaned []string
	// The network and engines follow the store within seconds; a minute
	// bounds how long a checkpoint waits on a diff that stays.
	deadline := time.Now().Add(min(c.o.converge, time.Minute))
	for {
		got, err := observeKernel(ctx, c.prefix, c.s.dir)
		if err != nil {
			return res, fmt.Errorf("%s: observe kernel: %w", name, err)
		}
		missing, orphaned = diffFacts(want, got)
		if len(missing)+len(orphaned) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	add(kernelViolations(missing, orphaned)...)
	return res, nil
}

func describeAll(ctx context.Context, s *server) ([]ectypes.CacheCluster, error) {
	out, err := s.ec.DescribeCacheClusters(ctx, &elasticache.DescribeCacheClustersInput{ShowCacheNodeInfo: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return out.CacheClusters, nil
}
