// Command serverless measures issue 15's creation figure through the real
// product: it starts `cachalot serve` (as root, namespaces network mode)
// with a fresh data dir and, through aws-sdk-go-v2 and real engines,
// creates a serverless cache (Redis OSS 7) until DescribeServerlessCaches
// says available — its primary on 6379 and replica on 6380 in one Redis
// Cluster with all slots, the replica's link up, cluster_state:ok on both —
// then deletes it until ServerlessCacheNotFoundFault, -creations times.
//
// It prints a Markdown report on stdout and progress on stderr. Everything
// started is removed on exit. Usage (as root):
//
//	go build -o bin/cachalot ./cmd/cachalot
//	go run ./bench/serverless [-creations 10] > out.md
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticache"

	"github.com/cachalot-dev/cachalot/bench/internal/cachalotproc"
	"github.com/cachalot-dev/cachalot/bench/internal/hostinfo"
)

type options struct {
	bin       string
	creations int
	poll      time.Duration
	keep      bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "cachalot", "bin/cachalot", "cachalot binary (build it first)")
	flag.IntVar(&o.creations, "creations", 10, "serverless caches created and deleted")
	flag.DurationVar(&o.poll, "poll", 5*time.Millisecond, "DescribeServerlessCaches polling interval")
	flag.BoolVar(&o.keep, "keep-data-dir", false, "keep the data dir (for the server log) after the run")
	flag.Parse()
	cachalotproc.Main(func(ctx context.Context) error { return run(ctx, o) })
}

func run(ctx context.Context, o options) error {
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	fmt.Printf("# Serverless caches through the product: figures of issue 15\n\n")
	fmt.Printf("Generated %s on %s, %d CPUs shared with other work, load %s, by:\n\n", time.Now().UTC().Format(time.RFC3339), hostinfo.Describe(), hostinfo.CPUs(), hostinfo.LoadAvg())
	fmt.Printf("    go build -o bin/cachalot ./cmd/cachalot && go run ./bench/serverless -creations %d\n\n", o.creations)
	srv, err := cachalotproc.Start(ctx, bin, cachalotproc.Options{
		DirPrefix: "cachalot-slbench-", Key: "AKIASLBENCHBENCHBNCH", Secret: "slbench-secret", LogLevel: "warn",
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.Close(o.keep); err != nil {
			log.Printf("cleanup: %v", err)
		}
	}()
	log.Printf("serving on %s", srv.URL)
	var available, deleted []time.Duration
	for i := range o.creations {
		name := fmt.Sprintf("bench-%02d", i)
		t0 := time.Now()
		if _, err := srv.EC.CreateServerlessCache(ctx, &elasticache.CreateServerlessCacheInput{ServerlessCacheName: aws.String(name), Engine: aws.String("redis")}); err != nil {
			return fmt.Errorf("create %s: %w", name, err)
		}
		if err := wait(ctx, srv, name, "available", o.poll); err != nil {
			return err
		}
		available = append(available, time.Since(t0))
		t1 := time.Now()
		if _, err := srv.EC.DeleteServerlessCache(ctx, &elasticache.DeleteServerlessCacheInput{ServerlessCacheName: aws.String(name)}); err != nil {
			return fmt.Errorf("delete %s: %w", name, err)
		}
		if err := wait(ctx, srv, name, "deleted", o.poll); err != nil {
			return err
		}
		deleted = append(deleted, time.Since(t1))
		log.Printf("%s: available after %s, deleted after %s", name, available[i].Round(time.Millisecond), deleted[i].Round(time.Millisecond))
	}
	fmt.Printf("## Create → available\n\n")
	fmt.Printf("CreateServerlessCache (Engine redis, defaults: the default VPC's subnets and group) until DescribeServerlessCaches says "+
		"`available`, polled every %v; then DeleteServerlessCache until ServerlessCacheNotFoundFault. Goal: create p50 < 500 ms "+
		"(ElastiCache: about a minute).\n\n", o.poll)
	fmt.Printf("| measure | p50 | max | n |\n|---|---|---|---|\n")
	fmt.Printf("| create → available %s\n| delete → gone %s\n\n", summary(available), summary(deleted))
	fmt.Printf("Load average at the end: %s.\n", hostinfo.LoadAvg())
	return nil
}

// wait polls the cache until it has status want ("deleted": gone).
func wait(ctx context.Context, s *cachalotproc.Server, name, want string, poll time.Duration) error {
	t0 := time.Now()
	for {
		out, err := s.EC.DescribeServerlessCaches(ctx, &elasticache.DescribeServerlessCachesInput{ServerlessCacheName: aws.String(name)})
		if want == "deleted" && err != nil && strings.Contains(err.Error(), "ServerlessCacheNotFoundFault") {
			return nil
		}
		if err != nil {
			return fmt.Errorf("describe %s: %w", name, err)
		}
		if st := aws.ToString(out.ServerlessCaches[0].Status); st == want {
			return nil
		} else if time.Since(t0) > 2*time.Minute || ctx.Err() != nil {
			return fmt.Errorf("%s is %s after 2 minutes, want %s", name, st, want)
		}
		time.Sleep(poll)
	}
}

func summary(ds []time.Duration) string {
	if len(ds) == 0 {
		return "| – | – | 0 |"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("| %s | %s | %d |", ms(s[len(s)/2]), ms(s[len(s)-1]), len(s))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000) }
