// Command crash is the crash campaign of issue 21: it runs `cachalot serve`
// (as root, namespaces network mode) on a fresh data dir, drives a seeded
// random workload of writes through aws-sdk-go-v2 — cache clusters (Redis
// and Memcached, created, modified, deleted), replication groups (created,
// failed over with TestFailover, deleted: workload_rg.go), security groups and their
// rules, instances, IAM users and policies — and kills serve with SIGKILL
// at a random point of every run, while writes are in flight. After each
// restart it waits for convergence and checks:
//
//   - every acknowledged write is there (a create, or the later
//     acknowledged delete), and a call in flight at the kill left the
//     state before it or after it, nothing in between (model.go);
//   - nothing exists that the campaign never asked for;
//   - the kernel matches the desired state read through the API: the
//     installation's namespaces, links, addresses, routes, nft tables,
//     chains, verdict maps, sets and their members, rules, and one engine
//     process per cache node in the node's namespace (kernel.go): nothing
//     missing, nothing orphaned;
//   - every replication group is available again with exactly one
//     primary among its members;
//   - `cachalot teardown` while serve runs is refused, and undoes nothing.
//
// Then it kills a Redis node's engine repeatedly and checks the
// supervisor brings it back each time, no sooner than its backoff, with
// the events DescribeEvents shows (engines.go). It prints a Markdown report
// on stdout, progress on stderr, and exits 1 on any violation.
//
// Everything is removed at the end (serve stopped, `cachalot teardown`,
// data dir deleted unless -keep or a violation), and the campaign checks
// that teardown left no namespace or engine of the installation.
//
// Nothing connects to a VPC address from the host's network namespace:
// the only client of an engine, redis-cli, runs inside the node's own
// namespace.
//
//	make build && go run ./bench/crash [-runs 20] [-ops 1000] [-seed N]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (make build)")
	flag.IntVar(&o.runs, "runs", 20, "runs, each ending in a kill -9 of serve")
	flag.IntVar(&o.ops, "ops", 1000, "writes over the whole campaign")
	flag.IntVar(&o.workers, "workers", 3, "concurrent writers")
	flag.Uint64Var(&o.seed, "seed", 0, "seed of the workload (0: from the clock; printed)")
	flag.IntVar(&o.engineKills, "engine-kills", 6, "SIGKILLs of one engine in a row; 0 skips")
	flag.DurationVar(&o.converge, "converge", 3*time.Minute, "how long convergence may take after a restart")
	flag.BoolVar(&o.keep, "keep", false, "keep the data dir")
	flag.Parse()
	if o.seed == 0 {
		o.seed = uint64(time.Now().UnixNano())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	c, err := runCampaign(ctx, o, os.Stdout)
	if err != nil {
		log.Print(err)
		os.Exit(2)
	}
	if len(c.violations) > 0 {
		os.Exit(1)
	}
}

// runCampaign runs a whole campaign, writes the report to out and returns
// the campaign (its violations); an error means the campaign itself could
// not run.
func runCampaign(ctx context.Context, o options, out io.Writer) (*campaign, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the crash campaign needs root (namespaces network mode)")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, err
	}
	o.bin = bin
	tmp, err := os.MkdirTemp("", "cachalot-crash-")
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(o.seed, 99))
	account := fmt.Sprintf("%012d", 100_000_000_000+rng.Int64N(899_999_999_999))
	s, err := newServer(o.bin, filepath.Join(tmp, "data"), account)
	if err != nil {
		return nil, err
	}
	log.Printf("crash campaign: seed %d, %d runs, %d writes, data dir %s, prefix %s, account %s",
		o.seed, o.runs, o.ops, s.dir, installPrefix(s.dir), account)
	c := newCampaign(o, s)
	t0 := time.Now()
	err = s.start(ctx)
	if err == nil {
		err = c.setup(ctx)
	}
	if err == nil {
		err = c.run(ctx)
	}
	elapsed := time.Since(t0)
	c.cleanup(context.WithoutCancel(ctx), tmp, err != nil)
	c.report(out, elapsed)
	if err != nil {
		return c, err
	}
	return c, nil
}

// cleanup stops serve, tears the installation down and checks nothing of
// it is left.
func (c *campaign) cleanup(ctx context.Context, tmp string, failed bool) {
	if err := c.s.stop(); err != nil {
		log.Print(err)
	}
	if out, err := c.s.teardown(ctx); err != nil {
		c.violations = append(c.violations, violation{"teardown", "after serve stopped", fmt.Sprintf("%v: %s", err, out)})
	}
	left, err := observeKernel(ctx, c.prefix, c.s.dir)
	if err != nil {
		log.Print(err)
	}
	for f := range left {
		c.violations = append(c.violations, violation{"teardown-left", f, "left after cachalot teardown"})
	}
	if c.o.keep || failed || len(c.violations) > 0 {
		log.Printf("data dir and serve log kept: %s", tmp)
		return
	}
	os.RemoveAll(tmp)
}
